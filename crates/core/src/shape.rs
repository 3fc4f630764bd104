//! Shape validation and C-order strides.

use crate::error::{SbError, SbResult};

/// The largest element count accepted (2^48): far above any real stack, far below overflow.
pub const MAX_ELEMENTS: u64 = 1 << 48;

/// Checks each dimension is a non-negative integer and the element count is sane. Dimensions come
/// from JS as f64, so NaN, fractions, negatives and huge values are all possible.
pub fn shape_from_f64(dims: &[f64]) -> SbResult<Vec<usize>> {
  if dims.len() > 32 {
    return Err(SbError::invalid(format!("too many dimensions: {}", dims.len())));
  }
  let mut out = Vec::with_capacity(dims.len());
  for (i, &d) in dims.iter().enumerate() {
    if !d.is_finite() || d < 0.0 || d.fract() != 0.0 || d > MAX_ELEMENTS as f64 {
      return Err(
        SbError::invalid(format!("dimension {i} must be a non-negative integer, got {d}"))
          .with("shape", format!("{dims:?}")),
      );
    }
    out.push(d as usize);
  }
  numel(&out)?;
  Ok(out)
}

/// Element count, or an error when it exceeds `MAX_ELEMENTS`.
pub fn numel(shape: &[usize]) -> SbResult<usize> {
  let mut n: u64 = 1;
  for &d in shape {
    n = n.checked_mul(d as u64).filter(|&v| v <= MAX_ELEMENTS).ok_or_else(|| {
      SbError::invalid(format!("shape {shape:?} has too many elements (max {MAX_ELEMENTS})"))
    })?;
  }
  Ok(n as usize)
}

pub fn c_strides(shape: &[usize]) -> Vec<usize> {
  let mut strides = vec![1usize; shape.len()];
  for i in (0..shape.len().saturating_sub(1)).rev() {
    strides[i] = strides[i + 1] * shape[i + 1];
  }
  strides
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn rejects_bad_dims() {
    for bad in [f64::NAN, -1.0, 1.5, f64::INFINITY, 1e300] {
      assert!(shape_from_f64(&[2.0, bad]).is_err(), "{bad}");
    }
    assert!(shape_from_f64(&[1e8, 1e8]).is_err()); // 1e16 elements
    assert_eq!(shape_from_f64(&[2.0, 0.0, 3.0]).unwrap(), vec![2, 0, 3]);
  }

  #[test]
  fn strides_are_c_order() {
    assert_eq!(c_strides(&[4, 3, 2]), vec![6, 2, 1]);
    assert_eq!(c_strides(&[]), Vec::<usize>::new());
  }
}
