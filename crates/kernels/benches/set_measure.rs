//! Set measure (DESIGN §12): `regionprops` on a 4×1024×1024 uint16 stack of Gaussian spots on a
//! noise floor, labels from thresholding it (`x > 0.2 · 65535`, 8-connectivity, as
//! `skimage.measure.label`), intensity = the stack; also `peakLocalMax` (minDistance 3) and
//! `distanceTransform` of the mask. Peer: `skimage.measure.regionprops_table` with the same
//! properties per slice (see the report in the commit / ARCHITECTURE).

use criterion::{criterion_group, criterion_main, Criterion};
use stackbridge_core::{Cancel, HostArray, MemoryType};
use stackbridge_kernels::dispatch::run_named;
use stackbridge_kernels::segment::{label, Connectivity};
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

/// `count` Gaussian spots (sigma 1.5..5, amplitude 0.3..0.8) on a 0.04..0.06 floor, as uint16.
fn spots_u16(n: usize, count: usize, seed: u64) -> Vec<u16> {
  let mut r = XorShift(seed);
  let mut img: Vec<f64> = (0..n * n).map(|_| 0.04 + 0.02 * r.unit()).collect();
  for _ in 0..count {
    let cy = 10.0 + r.unit() * (n as f64 - 20.0);
    let cx = 10.0 + r.unit() * (n as f64 - 20.0);
    let s = 1.5 + 3.5 * r.unit();
    let a = 0.3 + 0.5 * r.unit();
    let ext = (4.0 * s).ceil() as isize + 1;
    for y in (cy as isize - ext).max(0)..(cy as isize + ext).min(n as isize) {
      for x in (cx as isize - ext).max(0)..(cx as isize + ext).min(n as isize) {
        let d2 = (y as f64 - cy).powi(2) + (x as f64 - cx).powi(2);
        img[y as usize * n + x as usize] += a * (-d2 / (2.0 * s * s)).exp();
      }
    }
  }
  img.iter().map(|&v| (v.clamp(0.0, 1.0) * 65535.0) as u16).collect()
}

fn host<T: stackbridge_core::Element>(shape: Vec<usize>, v: &[T]) -> HostArray {
  let a = HostArray::alloc(shape, T::DTYPE, MemoryType::Numpy, false).unwrap();
  a.pin().unwrap().as_mut_slice::<T>().copy_from_slice(v);
  a
}

fn bench(c: &mut Criterion) {
  let (z, n) = (4usize, 1024usize);
  let mut stack = Vec::with_capacity(z * n * n);
  let mut labels = Vec::with_capacity(z * n * n);
  for k in 0..z {
    let s = spots_u16(n, 600, 11 + k as u64);
    let mask: Vec<bool> = s.iter().map(|&v| v as f64 > 0.2 * 65535.0).collect();
    let (l, _) = label(&mask, n, n, Connectivity::Eight);
    labels.extend(l.iter().map(|&v| v as i32));
    stack.extend(s);
  }
  let inten = host(vec![z, n, n], &stack);
  let lab = host(vec![z, n, n], &labels);
  let mut g = c.benchmark_group("set_measure");
  g.sample_size(10);
  g.bench_function("regionprops 4x1024x1024 u16", |b| {
    b.iter(|| black_box(run_named("regionprops", &lab, "{}", &[Some(inten.clone())], &Cancel::none()).unwrap()))
  });
  g.bench_function("peakLocalMax md3 4x1024x1024 u16", |b| {
    b.iter(|| black_box(run_named("peakLocalMax", &inten, r#"{"minDistance":3}"#, &[], &Cancel::none()).unwrap()))
  });
  g.bench_function("distanceTransform 4x1024x1024 i32 labels", |b| {
    b.iter(|| black_box(run_named("distanceTransform", &lab, "{}", &[], &Cancel::none()).unwrap()))
  });
  g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
