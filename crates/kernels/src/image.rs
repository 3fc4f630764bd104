//! Stack geometry shared by every kernel.

use stackbridge_core::{SbError, SbResult};

/// The extent of a C-contiguous `[Z, Y, X]` stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dims {
  pub z: usize,
  pub h: usize,
  pub w: usize,
}

impl Dims {
  pub fn new(z: usize, h: usize, w: usize) -> Dims {
    Dims { z, h, w }
  }

  /// `DimensionError` unless `shape` is `[Z, Y, X]`.
  pub fn from_shape(shape: &[usize]) -> SbResult<Dims> {
    match shape {
      [z, h, w] => Ok(Dims::new(*z, *h, *w)),
      _ => Err(
        SbError::dimension(format!("expected a 3D [Z, Y, X] stack, got shape {shape:?} ({}D)", shape.len()))
          .with("ndim", shape.len()),
      ),
    }
  }

  pub fn plane(&self) -> usize {
    self.h * self.w
  }

  pub fn len(&self) -> usize {
    self.z * self.h * self.w
  }

  pub fn is_empty(&self) -> bool {
    self.len() == 0
  }

  /// `DimensionError` when the stack has no pixels (most processors need at least one).
  pub fn require_nonempty(&self, what: &str) -> SbResult<()> {
    if self.is_empty() {
      return Err(SbError::dimension(format!("{what} needs a non-empty stack, got [{}, {}, {}]", self.z, self.h, self.w)));
    }
    Ok(())
  }

  /// Checks that `len` elements fit this geometry (a programming error in the caller otherwise).
  pub fn check_len(&self, len: usize, what: &str) -> SbResult<()> {
    if len != self.len() {
      return Err(SbError::invalid(format!("{what} has {len} elements, expected {}", self.len())));
    }
    Ok(())
  }
}

/// `InvalidArgumentError` unless `v` is finite and within `[lo, hi]`.
pub fn check_range(name: &str, v: f64, lo: f64, hi: f64) -> SbResult<()> {
  if !v.is_finite() || v < lo || v > hi {
    return Err(SbError::invalid(format!("{name} must be a finite number in [{lo}, {hi}], got {v}")).with(name, v));
  }
  Ok(())
}

/// The value `skimage.img_as_float` divides by: the dtype's maximum for integers, 1 for floats.
pub fn dtype_scale(dtype: stackbridge_core::DType) -> f64 {
  use stackbridge_core::DType::*;
  match dtype {
    U8 => 255.0,
    U16 => 65535.0,
    I16 => 32767.0,
    I32 => 2147483647.0,
    U32 => 4294967295.0,
    F32 | F64 => 1.0,
  }
}
