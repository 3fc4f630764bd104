//! The filters of the processor set (DESIGN §12) on a 4×1024×1024 uint16 stack, through
//! `dispatch::run_named` as the binding calls them: `sobel` and `rollingBall` (radius 25).
//! Peers (the venv's scikit-image 0.26, per slice): `skimage.filters.sobel(x.astype(float64))`
//! and `skimage.restoration.rolling_ball(x, radius=25)`.

use criterion::{criterion_group, criterion_main, Criterion};
use stackbridge_core::{Cancel, DType, HostArray, MemoryType};
use stackbridge_kernels::dispatch::run_named;
use std::hint::black_box;

/// A 4×1024×1024 uint16 stack: smooth structure plus xorshift noise.
fn stack() -> HostArray {
  let a = HostArray::alloc(vec![4, 1024, 1024], DType::U16, MemoryType::Numpy, false).unwrap();
  let mut s = 0x9E37_79B9_7F4A_7C15u64;
  for (i, v) in a.pin().unwrap().as_mut_slice::<u16>().iter_mut().enumerate() {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    let (y, x) = ((i / 1024) % 1024, i % 1024);
    let smooth = 20000.0 + 15000.0 * ((y as f64 / 90.0).sin() * (x as f64 / 70.0).cos());
    *v = (smooth + (s >> 52) as f64 * 4.0) as u16;
  }
  a
}

fn bench_set_filters(c: &mut Criterion) {
  let input = stack();
  let mut g = c.benchmark_group("set_filters");
  g.sample_size(10);
  for (name, opts) in [("sobel", "{}"), ("rollingBall", r#"{"radius":25}"#)] {
    g.bench_function(format!("{name} 4x1024x1024 u16"), |b| {
      b.iter(|| black_box(run_named(name, &input, opts, &[], &Cancel::none()).unwrap()))
    });
  }
  g.finish();
}

criterion_group!(benches, bench_set_filters);
criterion_main!(benches);
