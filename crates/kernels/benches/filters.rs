//! Filters: `gaussian` (u16, sigma 2), median disk(1), blob_log at defaults, and a plain copy as
//! the memory-bandwidth floor. Peers (measured in the project's bench/ scripts): OpenCV
//! `GaussianBlur(BORDER_REFLECT)`, `skimage.feature.blob_log`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use stackbridge_kernels::blob::{blob_log, BlobLogParams};
use stackbridge_kernels::gaussian::gaussian;
use stackbridge_kernels::median::median_disk_plane_f32;
use stackbridge_kernels::Dims;
use std::hint::black_box;

struct XorShift(u64);

impl XorShift {
  fn next(&mut self) -> u64 {
    self.0 ^= self.0 << 13;
    self.0 ^= self.0 >> 7;
    self.0 ^= self.0 << 17;
    self.0
  }

  /// Uniform in [0, 1).
  fn unit(&mut self) -> f64 {
    (self.next() >> 11) as f64 / (1u64 << 53) as f64
  }
}

fn noise_u16(n: usize, seed: u64) -> Vec<u16> {
  let mut r = XorShift(seed);
  (0..n).map(|_| (r.next() >> 48) as u16).collect()
}

/// Bright Gaussian spots (sigma 1.5..5, amplitude 0.3..0.8) on a 0.05 ± 0.01 noise floor, in [0, 1].
fn spots(n: usize, count: usize, seed: u64) -> Vec<f32> {
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
  img.iter().map(|&v| v.clamp(0.0, 1.0) as f32).collect()
}

fn bench_filters(c: &mut Criterion) {
  let mut g = c.benchmark_group("filters");
  g.sample_size(10);

  for z in [1usize, 10] {
    let dims = Dims::new(z, 2048, 2048);
    let src = noise_u16(dims.len(), 7);
    let mut out = vec![0u16; dims.len()];
    g.bench_with_input(BenchmarkId::new("gaussian_u16_sigma2", format!("{z}x2048x2048")), &dims, |b, &d| {
      b.iter(|| gaussian(black_box(&src), d, 2.0, &mut out).unwrap())
    });
    g.bench_with_input(BenchmarkId::new("copy_u16", format!("{z}x2048x2048")), &dims, |b, _| {
      b.iter(|| out.copy_from_slice(black_box(&src)))
    });
  }

  let img = spots(1024, 400, 11);
  let mut out = vec![0f32; img.len()];
  g.bench_function("median_disk1_f32/1024x1024", |b| b.iter(|| median_disk_plane_f32(black_box(&img), 1024, 1024, 1, &mut out)));
  g.bench_function("copy_f32/1024x1024", |b| b.iter(|| out.copy_from_slice(black_box(&img))));

  let p = BlobLogParams::default();
  g.bench_function("blob_log_defaults/1024x1024", |b| b.iter(|| blob_log(black_box(&img), 1024, 1024, &p).unwrap()));
  g.finish();
}

criterion_group!(benches, bench_filters);
criterion_main!(benches);
