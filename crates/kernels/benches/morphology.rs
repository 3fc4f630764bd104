//! Benchmarks of the flat-disk morphology and the `tophat` processor (DESIGN §7).
//!
//! `cargo bench -p stackbridge-kernels --bench morphology`. Each group has a plain copy of the same
//! data as the memory-bandwidth floor.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use stackbridge_kernels::morphology::white_tophat_disk;
use stackbridge_kernels::tophat::{tophat, TophatParams};
use stackbridge_kernels::Dims;

/// A microscopy-like u16 image: smooth background, noise and sparse bright spots (deterministic).
fn image(z: usize, h: usize, w: usize) -> Vec<u16> {
  let mut s: u64 = 0x2545_F491_4F6C_DD1D;
  let mut out = Vec::with_capacity(z * h * w);
  for _ in 0..z {
    for y in 0..h {
      for x in 0..w {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        let bg = 1000.0 + 400.0 * ((x as f64 / 97.0).sin() * (y as f64 / 131.0).cos());
        let spot = if s % 1000 == 0 { 20000.0 } else { 0.0 };
        out.push((bg + (s >> 40) as f64 % 200.0 + spot) as u16);
      }
    }
  }
  out
}

fn bench_white_tophat(c: &mut Criterion) {
  let (h, w) = (1024, 1024);
  let src = image(1, h, w);
  let mut out = vec![0u16; h * w];
  let mut g = c.benchmark_group("white_tophat_disk_1024x1024_u16");
  g.sample_size(10);
  g.throughput(Throughput::Bytes((h * w * 2) as u64));
  g.bench_function("r50", |b| b.iter(|| white_tophat_disk(black_box(&src), h, w, 50, &mut out)));
  g.bench_function("memcpy_floor", |b| b.iter(|| out.copy_from_slice(black_box(&src))));
  g.finish();
}

fn bench_tophat(c: &mut Criterion) {
  let p = TophatParams::default();
  for z in [1, 10] {
    let dims = Dims::new(z, 2048, 2048);
    let src = image(z, dims.h, dims.w);
    let mut out = vec![0u16; dims.len()];
    let mut g = c.benchmark_group(format!("tophat_defaults_{z}x2048x2048_u16"));
    g.sample_size(10);
    g.throughput(Throughput::Bytes((dims.len() * 2) as u64));
    g.bench_function("r50_f4", |b| b.iter(|| tophat(black_box(&src), dims, &p, &mut out).unwrap()));
    g.bench_function("memcpy_floor", |b| b.iter(|| out.copy_from_slice(black_box(&src))));
    g.finish();
  }
}

criterion_group!(benches, bench_white_tophat, bench_tophat);
criterion_main!(benches);
