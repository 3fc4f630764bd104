//! Host array operations the engine itself needs: copies, dtype casts (numpy `astype`), OpenHCS's
//! min–max dtype scaling, and concatenation along Z. Large arrays are processed in parallel.

use crate::array::HostArray;
use crate::cpu::Kernel;
use crate::cpu_run;
use crate::dtype::{DType, Element};
use crate::error::{SbError, SbResult};
use crate::memory_type::MemoryType;
use crate::with_dtype;
use rayon::prelude::*;

/// Below this many elements, threads cost more than they save.
const PAR_MIN: usize = 1 << 16;
const CHUNK: usize = 1 << 15;

/// Parallel byte copy (a single thread cannot saturate memory bandwidth on most machines).
pub fn par_copy(dst: &mut [u8], src: &[u8]) {
  assert_eq!(dst.len(), src.len());
  if src.len() < PAR_MIN * 4 {
    dst.copy_from_slice(src);
  } else {
    dst.par_chunks_mut(1 << 20).zip(src.par_chunks(1 << 20)).for_each(|(d, s)| d.copy_from_slice(s));
  }
}

#[inline(always)]
fn cast<S: Element, D: Element>(v: S) -> D {
  if S::DTYPE.is_float() || D::DTYPE.is_float() {
    D::from_f64(v.to_f64())
  } else {
    D::from_i64_wrapping(v.to_i64())
  }
}

fn map_into<S: Element, D: Element>(src: &[S], dst: &mut [D], f: impl Fn(S) -> D + Sync + Send) {
  // Each chunk runs compiled for the CPU's level (crate::cpu).
  let chunk = |d: &mut [D], s: &[S]| {
    cpu_run!(Kernel::Cast, {
      for (d, &s) in d.iter_mut().zip(s) {
        *d = f(s);
      }
    })
  };
  if src.len() < PAR_MIN {
    chunk(dst, src);
  } else {
    dst.par_chunks_mut(CHUNK).zip(src.par_chunks(CHUNK)).for_each(|(d, s)| chunk(d, s));
  }
}

/// Converts raw elements of `src_dtype` into `dst` (a fresh array's memory of `dst_dtype`).
pub fn cast_bytes_into(src: &[u8], src_dtype: DType, dst: &mut [u8], dst_dtype: DType) -> SbResult<()> {
  if !src.len().is_multiple_of(src_dtype.size()) || src.len() / src_dtype.size() != dst.len() / dst_dtype.size() {
    return Err(SbError::invalid("element counts differ"));
  }
  if src_dtype == dst_dtype {
    par_copy(dst, src);
    return Ok(());
  }
  // Typed views need aligned input; JS TypedArrays always are, but keep a safe fallback.
  let aligned: std::borrow::Cow<[u8]> =
    if (src.as_ptr() as usize).is_multiple_of(src_dtype.size()) { src.into() } else { src.to_vec().into() };
  with_dtype!(src_dtype, S => {
    let s: &[S] = unsafe { std::slice::from_raw_parts(aligned.as_ptr() as *const S, aligned.len() / src_dtype.size()) };
    with_dtype!(dst_dtype, D => {
      let d: &mut [D] = unsafe { std::slice::from_raw_parts_mut(dst.as_mut_ptr() as *mut D, dst.len() / dst_dtype.size()) };
      map_into(s, d, cast::<S, D>);
    })
  });
  Ok(())
}

/// numpy `astype`: a new array of `dtype` (a copy even when the dtype is the same).
pub fn astype(a: &HostArray, dtype: DType) -> SbResult<HostArray> {
  let out = a.alloc_like(a.shape.clone(), dtype, a.memory_type, false)?;
  cast_bytes_into(a.pin()?.bytes(), a.dtype, out.pin()?.as_mut_bytes(), dtype)?;
  Ok(out)
}

/// Float types whose arithmetic runs in their own precision, as numpy does.
trait Float: Element + std::ops::Sub<Output = Self> + std::ops::Div<Output = Self> + std::ops::Mul<Output = Self> {
  fn lit(v: f64) -> Self;
  fn is_nan(self) -> bool;
}
impl Float for f32 {
  fn lit(v: f64) -> Self {
    v as f32
  }
  fn is_nan(self) -> bool {
    f32::is_nan(self)
  }
}
impl Float for f64 {
  fn lit(v: f64) -> Self {
    v
  }
  fn is_nan(self) -> bool {
    f64::is_nan(self)
  }
}

/// (min, max, any NaN) of one chunk.
#[inline(always)]
fn min_max_part<F: Float>(c: &[F]) -> (F, F, bool) {
  let (mut lo, mut hi, mut nan) = (c[0], c[0], false);
  for &v in c {
    nan |= v.is_nan();
    if v < lo {
      lo = v;
    }
    if v > hi {
      hi = v;
    }
  }
  (lo, hi, nan)
}

/// (min, max) in one parallel pass; None when empty or when any value is NaN (numpy's min/max
/// are then NaN, so OpenHCS's `max > min` test fails and it falls back to `astype`).
fn min_max<F: Float>(s: &[F]) -> Option<(F, F)> {
  let (lo, hi, nan) = s.par_chunks(CHUNK).map(|c| cpu_run!(Kernel::Cast, min_max_part(c))).reduce_with(|a, b| {
    (if b.0 < a.0 { b.0 } else { a.0 }, if b.1 > a.1 { b.1 } else { a.1 }, a.2 || b.2)
  })?;
  if nan {
    None
  } else {
    Some((lo, hi))
  }
}

fn scale_float<F: Float, D: Element>(src: &[F], dst: &mut [D], dtype: DType) -> bool {
  let Some((lo, hi)) = min_max(src) else { return false };
  // Constant (or NaN) range: nothing to stretch.
  if hi.partial_cmp(&lo) != Some(std::cmp::Ordering::Greater) {
    return false;
  }
  // OpenHCS `_scale_and_convert_numpy`: (x - min) / (max - min) * range (+ offset), then astype.
  let (mul, off) = match dtype {
    DType::U8 => (255.0, 0.0),
    DType::U16 => (65535.0, 0.0),
    DType::I16 => (65535.0, 32768.0),
    DType::I32 => (4294967295.0, 2147483648.0),
    DType::U32 => (4294967295.0, 0.0),
    DType::F32 | DType::F64 => return false,
  };
  let (range, m, o) = (hi - lo, F::lit(mul), F::lit(off));
  map_into(src, dst, |x| {
    let scaled = (x - lo) / range * m;
    let v = if off != 0.0 { scaled - o } else { scaled };
    D::from_f64(v.to_f64())
  });
  true
}

/// OpenHCS's dtype conversion of a function result: a float result going to an integer dtype is
/// min–max stretched over that dtype's range; a constant image and every other pair is `astype`.
pub fn scale_to_dtype(a: &HostArray, dtype: DType) -> SbResult<HostArray> {
  if !a.dtype.is_float() || dtype.is_float() {
    return astype(a, dtype);
  }
  let out = a.alloc_like(a.shape.clone(), dtype, a.memory_type, false)?;
  let (src, dst) = (a.pin()?, out.pin()?);
  let done = match a.dtype {
    DType::F32 => with_dtype!(dtype, D => scale_float::<f32, D>(src.as_slice::<f32>(), dst.as_mut_slice::<D>(), dtype)),
    DType::F64 => with_dtype!(dtype, D => scale_float::<f64, D>(src.as_slice::<f64>(), dst.as_mut_slice::<D>(), dtype)),
    _ => unreachable!("checked above"),
  };
  if done {
    Ok(out)
  } else {
    drop((src, dst, out));
    astype(a, dtype)
  }
}

/// Concatenation along axis 0. All parts share dtype and trailing dimensions; the result has the
/// first part's memory type.
pub fn concat_axis0(parts: &[HostArray]) -> SbResult<HostArray> {
  let first = parts.first().ok_or_else(|| SbError::invalid("cannot concatenate an empty list"))?;
  if first.shape.is_empty() {
    return Err(SbError::dimension("cannot concatenate 0-dimensional arrays"));
  }
  let tail = &first.shape[1..];
  let mut z = 0usize;
  for (i, p) in parts.iter().enumerate() {
    if p.dtype != first.dtype {
      return Err(SbError::dtype(format!("part {i} has dtype {} but part 0 has {}", p.dtype.name(), first.dtype.name())));
    }
    if p.shape.len() != first.shape.len() || &p.shape[1..] != tail {
      return Err(SbError::dimension(format!("part {i} has shape {:?}, incompatible with {:?}", p.shape, first.shape)));
    }
    z += p.shape[0];
  }
  let mut shape = first.shape.clone();
  shape[0] = z;
  let out = first.alloc_like(shape, first.dtype, first.memory_type, false)?;
  let dst = out.pin()?;
  let bytes = dst.as_mut_bytes();
  let mut at = 0;
  for p in parts {
    let src = p.pin()?;
    let n = src.bytes().len();
    par_copy(&mut bytes[at..at + n], src.bytes());
    at += n;
  }
  Ok(out)
}

/// Stacks 2D slices of equal shape and dtype into `[Z, Y, X]` (OpenHCS `stack_slices` checks).
pub fn stack_2d(slices: &[HostArray], memory_type: MemoryType) -> SbResult<HostArray> {
  if slices.is_empty() {
    return Err(SbError::invalid("Cannot stack empty list of slices"));
  }
  for (i, s) in slices.iter().enumerate() {
    if s.shape.len() != 2 {
      return Err(SbError::dimension(format!("Slice at index {i} is not a 2D array. All slices must be 2D, got shape {:?}", s.shape)));
    }
  }
  for (i, s) in slices.iter().enumerate() {
    if s.shape != slices[0].shape {
      return Err(SbError::dimension(format!("Slice at index {i} has shape {:?}, expected {:?} like slice 0", s.shape, slices[0].shape)));
    }
  }
  let parts: Vec<HostArray> = slices.iter().map(|s| s.reshape(vec![1, s.shape[0], s.shape[1]])).collect::<SbResult<_>>()?;
  let out = concat_axis0(&parts)?;
  Ok(HostArray { memory_type, readonly: memory_type.is_immutable(), ..out })
}

#[cfg(test)]
mod tests {
  use super::*;

  fn host<T: Element>(vals: &[T], shape: Vec<usize>) -> HostArray {
    let a = HostArray::alloc(shape, T::DTYPE, MemoryType::Numpy, false).unwrap();
    a.pin().unwrap().as_mut_slice::<T>().copy_from_slice(vals);
    a
  }

  #[test]
  fn openhcs_scaling_examples() {
    // float [0, 2, 4, 6]: normalized [0, 1/3, 2/3, 1] -> * 255 = [0, 85, 170, 255]
    let a = host::<f32>(&[0.0, 2.0, 4.0, 6.0], vec![1, 2, 2]);
    let u8s = scale_to_dtype(&a, DType::U8).unwrap();
    assert_eq!(u8s.pin().unwrap().as_slice::<u8>(), &[0, 85, 170, 255]);
    // * 65535 = [0, 21845, 43690, 65535]
    let u16s = scale_to_dtype(&a, DType::U16).unwrap();
    assert_eq!(u16s.pin().unwrap().as_slice::<u16>(), &[0, 21845, 43690, 65535]);
    // int16: * 65535 - 32768 = [-32768, -10923, 10922, 32767] (f32 arithmetic, then truncation)
    let i16s = scale_to_dtype(&a, DType::I16).unwrap();
    assert_eq!(i16s.pin().unwrap().as_slice::<i16>(), &[-32768, -10923, 10922, 32767]);
  }

  #[test]
  fn constant_and_int_results_are_plain_casts() {
    let c = host::<f64>(&[3.7, 3.7], vec![1, 1, 2]);
    assert_eq!(scale_to_dtype(&c, DType::U8).unwrap().pin().unwrap().as_slice::<u8>(), &[3, 3]);
    let i = host::<i32>(&[300, -1], vec![1, 1, 2]);
    assert_eq!(scale_to_dtype(&i, DType::U8).unwrap().pin().unwrap().as_slice::<u8>(), &[44, 255]);
  }

  #[test]
  fn concat_and_stack() {
    let a = host::<u8>(&[1, 2], vec![1, 1, 2]);
    let b = host::<u8>(&[3, 4, 5, 6], vec![2, 1, 2]);
    let c = concat_axis0(&[a.clone(), b]).unwrap();
    assert_eq!(c.shape, vec![3, 1, 2]);
    assert_eq!(c.pin().unwrap().as_slice::<u8>(), &[1, 2, 3, 4, 5, 6]);
    let bad = host::<u16>(&[1, 2], vec![1, 1, 2]);
    assert!(concat_axis0(&[a, bad]).is_err());
    let s0 = host::<u8>(&[1, 2], vec![1, 2]);
    let s1 = host::<u8>(&[3], vec![1, 1]);
    assert_eq!(stack_2d(&[s0.clone(), s1], MemoryType::Numpy).unwrap_err().code, crate::error::ErrorCode::Dimension);
    assert_eq!(stack_2d(&[s0.clone(), s0], MemoryType::Jax).unwrap().shape, vec![2, 1, 2]);
  }

  #[test]
  fn big_parallel_cast_matches_serial() {
    let n = 200_000;
    let v: Vec<i32> = (0..n as i32).map(|i| i * 7 - 3000).collect();
    let a = host::<i32>(&v, vec![n]);
    let f = astype(&a, DType::F32).unwrap();
    let back = astype(&f, DType::I32).unwrap();
    assert_eq!(back.pin().unwrap().as_slice::<i32>(), &v[..]);
  }
}
