//! Host engine kernels: the copy against the machine's memcpy, casts and OpenHCS scaling.
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use stackbridge_core::{ops, DType, HostArray, MemoryType};

fn host_ops(c: &mut Criterion) {
  let n = 16 << 20; // 16 Mi elements
  let a = HostArray::alloc(vec![n], DType::F32, MemoryType::Numpy, true).unwrap();
  let src = vec![1u8; n * 4];
  let mut dst = vec![0u8; n * 4];
  let mut g = c.benchmark_group("host");
  g.throughput(Throughput::Bytes((n * 4) as u64));
  g.sample_size(10);
  g.bench_function(BenchmarkId::new("std_memcpy", "64MiB"), |b| b.iter(|| dst.copy_from_slice(&src)));
  g.bench_function(BenchmarkId::new("par_copy", "64MiB"), |b| b.iter(|| ops::par_copy(&mut dst, &src)));
  g.bench_function(BenchmarkId::new("astype_f32_u16", "64MiB"), |b| b.iter(|| ops::astype(&a, DType::U16).unwrap()));
  g.bench_function(BenchmarkId::new("scale_f32_u16", "64MiB"), |b| b.iter(|| ops::scale_to_dtype(&a, DType::U16).unwrap()));
  g.finish();
}

criterion_group!(benches, host_ops);
criterion_main!(benches);
