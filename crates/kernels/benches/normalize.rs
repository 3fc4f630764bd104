//! Percentile normalization, percentiles and projections on a 10 × 2048 × 2048 uint16 stack, with a
//! plain parallel copy of the stack as the memory-bandwidth floor.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rayon::prelude::*;
use stackbridge_kernels::normalize::{stack_percentile_normalize, NormalizeParams};
use stackbridge_kernels::percentile::percentiles;
use stackbridge_kernels::projection::{project, ProjectionMethod};
use stackbridge_kernels::Dims;
use std::hint::black_box;

/// Microscopy-like 16-bit data: a smooth 12-bit background plus xorshift noise, a few bright spots.
fn stack(dims: Dims) -> Vec<u16> {
  let mut s = 0x2545F4914F6CDD1Du64;
  (0..dims.len())
    .map(|i| {
      s ^= s << 13;
      s ^= s >> 7;
      s ^= s << 17;
      let x = (i % dims.w) as u64;
      let base = 300 + (x * 3000 / dims.w as u64);
      let noise = s % 512;
      let spot = if s.is_multiple_of(997) { 20_000 } else { 0 };
      (base + noise + spot) as u16
    })
    .collect()
}

fn benches(c: &mut Criterion) {
  let dims = Dims::new(10, 2048, 2048);
  let src = stack(dims);
  let bytes = (dims.len() * 2) as u64;
  let mut out = vec![0u16; dims.len()];
  let mut plane = vec![0u16; dims.plane()];
  let p = NormalizeParams::default();

  let mut g = c.benchmark_group("normalize_10x2048x2048_u16");
  g.sample_size(10);
  g.throughput(Throughput::Bytes(bytes));
  g.bench_function("memcpy_floor_par_copy", |b| {
    b.iter(|| {
      out
        .par_chunks_mut(1 << 15)
        .zip(src.par_chunks(1 << 15))
        .for_each(|(o, s)| o.copy_from_slice(s));
      black_box(&out);
    })
  });
  g.bench_function("stack_percentile_normalize", |b| {
    b.iter(|| stack_percentile_normalize(black_box(&src), dims, &p, &mut out).unwrap())
  });
  g.bench_function("percentiles_1_99", |b| {
    b.iter(|| black_box(percentiles(black_box(&src), &[1.0, 99.0]).unwrap()))
  });
  g.bench_function("project_median", |b| {
    b.iter(|| project(black_box(&src), dims, ProjectionMethod::Median, &mut plane).unwrap())
  });
  g.bench_function("project_mean", |b| {
    b.iter(|| project(black_box(&src), dims, ProjectionMethod::Mean, &mut plane).unwrap())
  });
  g.finish();
}

criterion_group!(normalize, benches);
criterion_main!(normalize);
