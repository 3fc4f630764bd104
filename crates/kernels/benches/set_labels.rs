//! The label operations of the processor set (DESIGN §12) on a 4×1024×1024 uint16 stack:
//! `connectedComponentsLabeling` (connectivity 1 and 2) of the stack thresholded at its mean, and
//! `voronoiOtsuLabeling` at its defaults. Peers (timed in the venv on a stack of the same kind):
//! `skimage.measure.label` per slice and the scikit-image recipe of voronoi-otsu-labeling.

use criterion::{criterion_group, criterion_main, Criterion};
use stackbridge_core::{Cancel, HostArray, MemoryType};
use stackbridge_kernels::dispatch::run_named;
use std::hint::black_box;

struct XorShift(u64);

impl XorShift {
  fn next(&mut self) -> u64 {
    self.0 ^= self.0 << 13;
    self.0 ^= self.0 >> 7;
    self.0 ^= self.0 << 17;
    self.0
  }

  fn unit(&mut self) -> f64 {
    (self.next() >> 11) as f64 / (1u64 << 53) as f64
  }
}

/// 400 Gaussian spots (sigma 5) per slice, 0.8 of the range, plus 0.2 uniform noise, as uint16
/// (the scikit-image timing script's stack: the same statistics, not the same pixels).
fn spots_u16(z: usize, n: usize, seed: u64) -> Vec<u16> {
  let mut r = XorShift(seed);
  let mut out = Vec::with_capacity(z * n * n);
  for _ in 0..z {
    let mut img = vec![0f64; n * n];
    for _ in 0..400 {
      let (cy, cx) = (r.unit() * n as f64, r.unit() * n as f64);
      for y in (cy as isize - 21).max(0)..(cy as isize + 22).min(n as isize) {
        for x in (cx as isize - 21).max(0)..(cx as isize + 22).min(n as isize) {
          let d2 = (y as f64 - cy).powi(2) + (x as f64 - cx).powi(2);
          img[y as usize * n + x as usize] += (-d2 / 50.0).exp();
        }
      }
    }
    let max = img.iter().cloned().fold(0.0, f64::max);
    out.extend(img.iter().map(|v| ((v / max * 0.8 + 0.2 * r.unit()) * 60000.0) as u16));
  }
  out
}

fn host<T: stackbridge_core::Element>(shape: [usize; 3], v: &[T]) -> HostArray {
  let a = HostArray::alloc(shape.to_vec(), T::DTYPE, MemoryType::Numpy, false).unwrap();
  a.pin().unwrap().as_mut_slice::<T>().copy_from_slice(v);
  a
}

fn bench_labels(c: &mut Criterion) {
  let (z, n) = (4, 1024);
  let v = spots_u16(z, n, 7);
  let mean = v.iter().map(|&x| x as f64).sum::<f64>() / v.len() as f64;
  let stack = host([z, n, n], &v);
  let binary = host([z, n, n], &v.iter().map(|&x| (x as f64 > mean) as u8).collect::<Vec<u8>>());
  let mut g = c.benchmark_group("set_labels");
  g.sample_size(10);
  for conn in [1, 2] {
    let opts = format!(r#"{{"connectivity": {conn}}}"#);
    g.bench_function(format!("connectedComponentsLabeling_c{conn}/4x1024x1024"), |b| {
      b.iter(|| run_named("connectedComponentsLabeling", black_box(&binary), &opts, &[], &Cancel::none()).unwrap())
    });
  }
  g.bench_function("voronoiOtsuLabeling/4x1024x1024_u16", |b| {
    b.iter(|| run_named("voronoiOtsuLabeling", black_box(&stack), "{}", &[], &Cancel::none()).unwrap())
  });
  g.finish();
}

criterion_group!(benches, bench_labels);
criterion_main!(benches);
