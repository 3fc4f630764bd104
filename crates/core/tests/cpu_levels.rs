//! dtype casts and OpenHCS scaling give the same bytes at every CPU level this machine has
//! (`stackbridge_core::cpu`); a separate test binary, so the process-wide cap stays local. The
//! casts' values are checked against numpy's rules by the unit and property tests.

use stackbridge_core::cpu;
use stackbridge_core::{ops, DType, Element, HostArray, MemoryType};

fn host<T: Element>(vals: &[T]) -> HostArray {
  let a = HostArray::alloc(vec![vals.len()], T::DTYPE, MemoryType::Numpy, false).unwrap();
  a.pin().unwrap().as_mut_slice::<T>().copy_from_slice(vals);
  a
}

const ALL: [DType; 6] = [DType::U8, DType::U16, DType::I16, DType::I32, DType::F32, DType::F64];

#[test]
fn casts_and_scaling_are_bit_identical_at_every_level() {
  // Over the parallel threshold, odd length; floats include NaN, ±inf, out-of-range and halves.
  let n = 200_003;
  let mut s = 0x9e3779b97f4a7c15u64;
  let vals: Vec<f64> = (0..n)
    .map(|i| {
      s ^= s << 13;
      s ^= s >> 7;
      s ^= s << 17;
      match i % 97 {
        0 => f64::NAN,
        1 => f64::INFINITY,
        2 => f64::NEG_INFINITY,
        3 => 5e9,
        _ => (s % 2_000_000) as f64 / 8.0 - 100_000.0,
      }
    })
    .collect();
  let srcs: Vec<HostArray> = vec![
    host(&vals.iter().map(|&v| v as f32).collect::<Vec<f32>>()),
    host(&vals),
    host(&vals.iter().map(|&v| v as i32).collect::<Vec<i32>>()),
    host(&vals.iter().map(|&v| v as u16).collect::<Vec<u16>>()),
    host(&vals.iter().map(|&v| v as i16).collect::<Vec<i16>>()),
    host(&vals.iter().map(|&v| v as u8).collect::<Vec<u8>>()),
  ];
  // Finite floats for the stretch (a NaN makes it a plain astype).
  let finite: Vec<f32> = vals.iter().map(|&v| if v.is_finite() { v as f32 } else { 1.5 }).collect();
  let finite = host(&finite);
  for src in srcs.iter().chain([&finite]) {
    for to in ALL {
      let runs = cpu::at_every_level(|_| {
        let a = ops::astype(src, to).unwrap().pin().unwrap().bytes().to_vec();
        let b = ops::scale_to_dtype(src, to).unwrap().pin().unwrap().bytes().to_vec();
        (a, b)
      });
      for (l, r) in &runs[1..] {
        assert!(r == &runs[0].1, "{} → {}: level {} differs from {}", src.dtype.name(), to.name(), l.name(), runs[0].0.name());
      }
    }
  }
  assert!(cpu::paths().iter().any(|&(k, p)| k == "cast" && p.is_some()));
}
