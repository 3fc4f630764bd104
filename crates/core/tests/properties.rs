//! Property tests of the host engine invariants: splitting along Z and concatenating gives the
//! original back; widening casts are exact and narrowing them back restores the values; the
//! OpenHCS stretch maps the minimum to the bottom of the integer range and the maximum to the top.

use proptest::prelude::*;
use stackbridge_core::{ops, DType, Element, HostArray, MemoryType};

fn host<T: Element>(vals: &[T], shape: Vec<usize>) -> HostArray {
  let a = HostArray::alloc(shape, T::DTYPE, MemoryType::Numpy, false).unwrap();
  a.pin().unwrap().as_mut_slice::<T>().copy_from_slice(vals);
  a
}

proptest! {
  #[test]
  fn split_then_concat_is_identity(z in 1usize..9, y in 1usize..6, x in 1usize..6, cut in 0usize..9, seed in any::<u16>()) {
    let n = z * y * x;
    let vals: Vec<u16> = (0..n).map(|i| (i as u16).wrapping_mul(31).wrapping_add(seed)).collect();
    let a = host(&vals, vec![z, y, x]);
    let cut = cut.min(z);
    let parts = [a.slice_axis0(0, cut).unwrap(), a.slice_axis0(cut, z).unwrap()];
    let nonempty: Vec<HostArray> = parts.into_iter().filter(|p| p.shape[0] > 0).collect();
    let back = ops::concat_axis0(&nonempty).unwrap();
    prop_assert_eq!(&back.shape, &vec![z, y, x]);
    prop_assert_eq!(back.pin().unwrap().as_slice::<u16>().to_vec(), vals);
  }

  #[test]
  fn widening_round_trips_exactly(vals in prop::collection::vec(any::<i16>(), 1..64)) {
    let a = host(&vals, vec![vals.len()]);
    let wide = ops::astype(&a, DType::I32).unwrap();
    let f = ops::astype(&wide, DType::F64).unwrap();
    let back = ops::astype(&f, DType::I16).unwrap();
    prop_assert_eq!(back.pin().unwrap().as_slice::<i16>().to_vec(), vals);
  }

  #[test]
  fn stretch_hits_both_ends_of_the_range(vals in prop::collection::vec(-1e6f64..1e6, 2..64)) {
    let a = host(&vals, vec![1, 1, vals.len()]);
    let lo = vals.iter().cloned().fold(f64::INFINITY, f64::min);
    let hi = vals.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    prop_assume!(hi > lo);
    let s = ops::scale_to_dtype(&a, DType::U16).unwrap();
    let out = s.pin().unwrap().as_slice::<u16>().to_vec();
    for (v, o) in vals.iter().zip(&out) {
      // independent f64 computation of (v - lo) / (hi - lo) * 65535, truncated
      let expected = ((v - lo) / (hi - lo) * 65535.0) as u16;
      prop_assert_eq!(*o, expected);
      if *v == lo { prop_assert_eq!(*o, 0); }
      if *v == hi { prop_assert_eq!(*o, 65535); }
    }
  }
}
