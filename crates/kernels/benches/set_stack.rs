//! The stack group of the processor set (DESIGN §12) on a 4×1024×1024 uint16 stack, through
//! `dispatch::run_named` as the binding calls it: varianceFilter, extendedDepthOfFocus, the sum
//! and argmax projections, add / divide with a second stack, addScalar, multiplyScalar, clip and
//! absolute. The numpy / scipy oracles on the same stack: see the report of the set-stack branch
//! (`uniform_filter`-based variance 130 ms, `x.astype(float32) + y.astype(float32)` 7.4 ms, …).

use criterion::{criterion_group, criterion_main, Criterion};
use stackbridge_core::{Cancel, DType, HostArray, MemoryType};
use stackbridge_kernels::dispatch::run_named;
use std::hint::black_box;

fn stack_u16(z: usize, h: usize, w: usize) -> HostArray {
  let a = HostArray::alloc(vec![z, h, w], DType::U16, MemoryType::Numpy, false).unwrap();
  let mut s = 0x9E37_79B9_7F4A_7C15u64;
  for v in a.pin().unwrap().as_mut_slice::<u16>() {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    *v = (s >> 48) as u16;
  }
  a
}

fn bench_stack(c: &mut Criterion) {
  let mut g = c.benchmark_group("set_stack");
  g.sample_size(10);
  let x = stack_u16(4, 1024, 1024);
  let y = stack_u16(4, 1024, 1024);
  let cases: [(&str, &str, bool); 10] = [
    ("varianceFilter", "{}", false),
    ("extendedDepthOfFocus", "{}", false),
    ("sumProjection", "", false),
    ("argmaxProjection", "", false),
    ("add", "", true),
    ("divide", "", true),
    ("addScalar", r#"{"scalar": 3.5}"#, false),
    ("multiplyScalar", r#"{"scalar": 1.5}"#, false),
    ("clip", r#"{"min": 100, "max": 60000}"#, false),
    ("absolute", "", false),
  ];
  for (name, options, binary) in cases {
    let aux = if binary { vec![Some(y.clone())] } else { vec![] };
    g.bench_function(format!("{name} 4x1024² u16"), |b| b.iter(|| black_box(run_named(name, &x, options, &aux, &Cancel::none()).unwrap())));
  }
  g.finish();
}

criterion_group!(benches, bench_stack);
criterion_main!(benches);
