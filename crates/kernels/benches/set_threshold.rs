//! thresholdOtsu on a 4×1024×1024 uint16 stack (DESIGN §12 bench op), through the set table as
//! the binding calls it. Oracle for comparison: per slice `skimage.filters.threshold_otsu(s)` and
//! `s > t` (scikit-image 0.26).

use criterion::{criterion_group, criterion_main, Criterion};
use stackbridge_core::{Cancel, DType, HostArray, MemoryType};
use stackbridge_kernels::set;

fn stack() -> HostArray {
  let (z, h, w) = (4, 1024, 1024);
  let a = HostArray::alloc(vec![z, h, w], DType::U16, MemoryType::Numpy, false).unwrap();
  let mut x = 0x9e37_79b9_7f4a_7c15u64;
  for (i, v) in a.pin().unwrap().as_mut_slice::<u16>().iter_mut().enumerate() {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    // Two populations (bright bands on a dim background) with noise.
    *v = (x % 2000) as u16 + if (i / w) % 64 < 20 { 20000 } else { 1000 };
  }
  a
}

fn bench(c: &mut Criterion) {
  let a = stack();
  let op = set::find("thresholdOtsu").unwrap();
  c.bench_function("thresholdOtsu 4x1024x1024 u16", |b| b.iter(|| set::run(op, &a, &[], "", &Cancel::none()).unwrap()));
}

criterion_group!(benches, bench);
criterion_main!(benches);
