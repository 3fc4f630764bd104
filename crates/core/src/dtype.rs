//! Element types and their numpy-compatible casts.

use crate::error::{SbError, SbResult};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DType {
  U8,
  U16,
  I16,
  I32,
  U32,
  F32,
  F64,
}

impl DType {
  pub const ALL: [DType; 7] = [DType::U8, DType::U16, DType::I16, DType::I32, DType::U32, DType::F32, DType::F64];

  pub fn parse(s: &str) -> SbResult<DType> {
    Ok(match s {
      "uint8" => DType::U8,
      "uint16" => DType::U16,
      "int16" => DType::I16,
      "int32" => DType::I32,
      "uint32" => DType::U32,
      "float32" => DType::F32,
      "float64" => DType::F64,
      other => {
        return Err(
          SbError::dtype(format!(
            "unsupported dtype {other:?}; expected one of uint8, uint16, int16, int32, uint32, float32, float64"
          ))
          .with("dtype", other),
        )
      }
    })
  }

  pub fn name(self) -> &'static str {
    match self {
      DType::U8 => "uint8",
      DType::U16 => "uint16",
      DType::I16 => "int16",
      DType::I32 => "int32",
      DType::U32 => "uint32",
      DType::F32 => "float32",
      DType::F64 => "float64",
    }
  }

  pub fn size(self) -> usize {
    match self {
      DType::U8 => 1,
      DType::U16 | DType::I16 => 2,
      DType::I32 | DType::U32 | DType::F32 => 4,
      DType::F64 => 8,
    }
  }

  pub fn is_float(self) -> bool {
    matches!(self, DType::F32 | DType::F64)
  }
}

/// A Rust element type of one `DType`. Casts follow numpy's `astype`: integer → integer wraps
/// (two's complement truncation), float → integer truncates toward zero — where numpy's result is
/// undefined (NaN, out of range) this saturates, and NaN becomes 0.
pub trait Element: Copy + Send + Sync + 'static + PartialOrd {
  const DTYPE: DType;
  fn to_f64(self) -> f64;
  fn from_f64(v: f64) -> Self;
  /// Bit-wrapping conversion from an integer value (numpy int → int astype).
  fn from_i64_wrapping(v: i64) -> Self;
  fn to_i64(self) -> i64;
}

// One impl for all: `as` gives exactly the casts described on `Element` for every pair.
macro_rules! element {
  ($t:ty, $d:expr) => {
    impl Element for $t {
      const DTYPE: DType = $d;
      #[inline(always)]
      fn to_f64(self) -> f64 {
        self as f64
      }
      #[inline(always)]
      fn from_f64(v: f64) -> Self {
        v as $t
      }
      #[inline(always)]
      fn from_i64_wrapping(v: i64) -> Self {
        v as $t
      }
      #[inline(always)]
      fn to_i64(self) -> i64 {
        self as i64
      }
    }
  };
}
element!(u8, DType::U8);
element!(u16, DType::U16);
element!(i16, DType::I16);
element!(i32, DType::I32);
element!(u32, DType::U32);
element!(f32, DType::F32);
element!(f64, DType::F64);

/// Calls `$body` with `$T` bound to the Rust element type of `$dtype`.
#[macro_export]
macro_rules! with_dtype {
  ($dtype:expr, $T:ident => $body:expr) => {
    match $dtype {
      $crate::dtype::DType::U8 => {
        type $T = u8;
        $body
      }
      $crate::dtype::DType::U16 => {
        type $T = u16;
        $body
      }
      $crate::dtype::DType::I16 => {
        type $T = i16;
        $body
      }
      $crate::dtype::DType::I32 => {
        type $T = i32;
        $body
      }
      $crate::dtype::DType::U32 => {
        type $T = u32;
        $body
      }
      $crate::dtype::DType::F32 => {
        type $T = f32;
        $body
      }
      $crate::dtype::DType::F64 => {
        type $T = f64;
        $body
      }
    }
  };
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn parse_round_trips() {
    for d in DType::ALL {
      assert_eq!(DType::parse(d.name()).unwrap(), d);
    }
    assert_eq!(DType::parse("int8").unwrap_err().code, crate::error::ErrorCode::Dtype);
  }

  #[test]
  fn casts_match_numpy() {
    // np.array([300, -1], np.int32).astype(np.uint8) == [44, 255]
    assert_eq!(u8::from_i64_wrapping(300), 44);
    assert_eq!(u8::from_i64_wrapping(-1), 255);
    // np.float32(2.9).astype(np.uint8) == 2; np.float64(-2.7).astype(np.int16) == -2
    assert_eq!(u8::from_f64(2.9), 2);
    assert_eq!(i16::from_f64(-2.7), -2);
  }
}
