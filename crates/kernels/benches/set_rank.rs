//! The rank group of the processor set (DESIGN §12) on a 4×1024×1024 uint16 stack:
//! `medianFilter` disk(3) (the bench op; peer: `skimage.filters.median(slice, disk(3))` per
//! slice), and `minimumFilter` / `meanFilter` with a square for reference.

use criterion::{criterion_group, criterion_main, Criterion};
use stackbridge_core::{Cancel, DType, HostArray, MemoryType};
use stackbridge_kernels::dispatch::run_named;
use std::hint::black_box;

fn stack() -> HostArray {
  let a = HostArray::alloc(vec![4, 1024, 1024], DType::U16, MemoryType::Numpy, false).unwrap();
  let mut s = 0x9E37_79B9_7F4A_7C15u64;
  for v in a.pin().unwrap().as_mut_slice::<u16>() {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    *v = (s >> 48) as u16;
  }
  a
}

fn bench(c: &mut Criterion) {
  let a = stack();
  let mut g = c.benchmark_group("set_rank");
  g.sample_size(10);
  for (name, opts) in [
    ("medianFilter", r#"{"radius": 3}"#),
    ("minimumFilter", r#"{"radius": 3, "footprint": "square"}"#),
    ("meanFilter", r#"{"radius": 3, "footprint": "square"}"#),
  ] {
    g.bench_function(format!("{name} {opts} 4x1024x1024 u16"), |b| {
      b.iter(|| black_box(run_named(name, &a, opts, &[], &Cancel::none()).unwrap()))
    });
  }
  g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
