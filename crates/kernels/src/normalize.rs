//! Percentile contrast stretching to uint16 (DESIGN §7 `stackPercentileNormalize`, `percentileNormalize`).
//!
//! Oracle (OpenHCS `percentile_normalize_core` on numpy, with a uint16 result):
//! ```python
//! pl, ph = np.percentile(stack, [low, high])            # f64
//! if pl == ph: out = np.full(stack.shape, target_min).astype(np.uint16)
//! else: out = ((np.clip(stack, pl, ph) - pl) * (target_max - target_min) / (ph - pl) + target_min).astype(np.uint16)
//! ```
//! evaluated in f64 in exactly that order and cast by truncation toward zero (saturating, NaN → 0).
//! u8 / u16 / i16 inputs go through a lookup table over every possible input value: one parallel counting
//! pass for the percentiles (`percentile::bracketed_order_stats`, exact) and one gather pass.

use crate::image::{check_range, Dims};
use crate::percentile::{lut_bits, lut_index, lut_value, percentiles};
use rayon::prelude::*;
use stackbridge_core::cpu::Kernel;
use stackbridge_core::cpu_run;
use stackbridge_core::{DType, Element, SbError, SbResult};

#[derive(Clone, Debug, PartialEq)]
pub struct NormalizeParams {
  pub low_percentile: f64,
  pub high_percentile: f64,
  pub target_min: f64,
  pub target_max: f64,
}

impl Default for NormalizeParams {
  fn default() -> Self {
    NormalizeParams {
      low_percentile: 1.0,
      high_percentile: 99.0,
      target_min: 0.0,
      target_max: 65535.0,
    }
  }
}

impl NormalizeParams {
  /// Percentiles in `[0, 100]` (low > high is allowed, as in numpy / OpenHCS), finite targets.
  pub fn validate(&self) -> SbResult<()> {
    check_range("lowPercentile", self.low_percentile, 0.0, 100.0)?;
    check_range("highPercentile", self.high_percentile, 0.0, 100.0)?;
    for (name, v) in [("targetMin", self.target_min), ("targetMax", self.target_max)] {
      if !v.is_finite() {
        return Err(SbError::invalid(format!("{name} must be a finite number, got {v}")).with(name, v));
      }
    }
    Ok(())
  }
}

/// The per-value map once `pl` and `ph` are known.
#[derive(Clone, Copy, Debug)]
pub struct Stretch {
  pl: f64,
  ph: f64,
  tmin: f64,
  range: f64,
  den: f64,
  flat: bool,
}

impl Stretch {
  pub fn new(pl: f64, ph: f64, p: &NormalizeParams) -> Stretch {
    Stretch {
      pl,
      ph,
      tmin: p.target_min,
      range: p.target_max - p.target_min,
      den: ph - pl,
      // `if p_high == p_low` (false for NaN percentiles, as in numpy)
      flat: pl == ph,
    }
  }

  /// `((clip(x, pl, ph) - pl) * (tmax - tmin) / (ph - pl) + tmin).astype(uint16)`.
  #[inline(always)]
  pub fn apply(&self, x: f64) -> u16 {
    if self.flat {
      return u16::from_f64(self.tmin);
    }
    u16::from_f64((np_clip(x, self.pl, self.ph) - self.pl) * self.range / self.den + self.tmin)
  }
}

/// `np.clip(x, lo, hi)` = `minimum(maximum(x, lo), hi)` with numpy's NaN propagation (lo > hi gives hi).
#[inline(always)]
fn np_clip(x: f64, lo: f64, hi: f64) -> f64 {
  let m = if x.is_nan() || x >= lo { x } else { lo };
  if m.is_nan() || m <= hi {
    m
  } else {
    hi
  }
}

/// Elements per parallel work item of the gather / map passes.
const MAP_CHUNK: usize = 1 << 15;

/// Normalizes `src` into `out` with the stretch `s`; `use_lut` (u8 / u16 / i16) selects the table path.
fn apply_stretch<T: Element>(src: &[T], s: &Stretch, use_lut: bool, out: &mut [u16]) {
  if use_lut {
    match lut_bits(T::DTYPE) {
      Some(8) => gather::<T, 256>(src, s, out),
      _ => gather::<T, 65536>(src, s, out),
    }
  } else {
    out
      .par_chunks_mut(MAP_CHUNK)
      .zip(src.par_chunks(MAP_CHUNK))
      .for_each(|(o, x)| {
        cpu_run!(Kernel::NormalizeMap, {
          for (o, &x) in o.iter_mut().zip(x) {
            *o = s.apply(x.to_f64());
          }
        })
      });
  }
}

/// The stretch of every value of a u8 / u16 / i16 `dtype`, by table index (`percentile::lut_index`).
pub fn stretch_table(dtype: DType, s: &Stretch) -> Vec<u16> {
  let n = 1usize << lut_bits(dtype).unwrap_or(16);
  (0..n).map(|i| s.apply(lut_value(dtype, i))).collect()
}

/// Builds the table over every value of T, then one parallel gather pass.
fn gather<T: Element, const N: usize>(src: &[T], s: &Stretch, out: &mut [u16]) {
  let lut: Box<[u16; N]> = stretch_table(T::DTYPE, s).into_boxed_slice().try_into().expect("length N");
  let lut = &*lut;
  let run = |o: &mut [u16], x: &[T]| {
    cpu_run!(Kernel::NormalizeMap, {
      for (o, &x) in o.iter_mut().zip(x) {
        // lut_index is masked to the table size: no bounds check in this loop.
        *o = lut[lut_index(x) & (N - 1)];
      }
    })
  };
  if src.len() <= MAP_CHUNK {
    run(out, src);
  } else {
    out
      .par_chunks_mut(MAP_CHUNK)
      .zip(src.par_chunks(MAP_CHUNK))
      .for_each(|(o, x)| run(o, x));
  }
}

/// Percentile-normalizes one block (the whole stack or one slice) that is known to be non-empty.
fn normalize_block<T: Element>(src: &[T], p: &NormalizeParams, out: &mut [u16]) -> SbResult<()> {
  let qs = [p.low_percentile, p.high_percentile];
  // u8 / u16 / i16: the bracketed counting pass (or the full histogram), then the table.
  let use_lut = lut_bits(T::DTYPE).is_some();
  let pcts = percentiles(src, &qs)?;
  let s = Stretch::new(pcts[0], pcts[1], p);
  if s.flat {
    out
      .par_chunks_mut(MAP_CHUNK)
      .for_each(|o| o.fill(u16::from_f64(p.target_min)));
  } else {
    apply_stretch(src, &s, use_lut, out);
  }
  Ok(())
}

fn check_io(src_len: usize, out_len: usize, dims: Dims, p: &NormalizeParams, what: &str) -> SbResult<()> {
  dims.check_len(src_len, what)?;
  dims.check_len(out_len, &format!("{what} output"))?;
  p.validate()?;
  dims.require_nonempty(what)
}

/// DESIGN §7 `stackPercentileNormalize`: the percentiles of the WHOLE stack, then the stretch to uint16
/// (see the module doc for the exact numpy expression). `out` has `dims.len()` elements.
pub fn stack_percentile_normalize<T: Element>(
  src: &[T],
  dims: Dims,
  p: &NormalizeParams,
  out: &mut [u16],
) -> SbResult<()> {
  check_io(src.len(), out.len(), dims, p, "stackPercentileNormalize input")?;
  normalize_block(src, p, out)
}

/// DESIGN §7 `percentileNormalize`: the same stretch with the percentiles of each Z slice separately.
pub fn percentile_normalize<T: Element>(src: &[T], dims: Dims, p: &NormalizeParams, out: &mut [u16]) -> SbResult<()> {
  check_io(src.len(), out.len(), dims, p, "percentileNormalize input")?;
  let plane = dims.plane();
  // Slices in parallel (each slice's own passes are parallel too; rayon nests them).
  src
    .par_chunks_exact(plane)
    .zip(out.par_chunks_exact_mut(plane))
    .try_for_each(|(s, o)| normalize_block(s, p, o))
}

#[cfg(test)]
mod tests {
  use super::*;
  use stackbridge_core::ErrorCode;

  /// Plain per-element reference: sorted percentiles and the formula, no LUT.
  fn reference<T: Element>(src: &[T], p: &NormalizeParams) -> Vec<u16> {
    let mut s: Vec<f64> = src.iter().map(|v| v.to_f64()).collect();
    s.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let pct = |q: f64| {
      let idx = (s.len() - 1) as f64 * (q / 100.0);
      let lo = idx.floor() as usize;
      let hi = (lo + 1).min(s.len() - 1);
      let g = idx - lo as f64;
      let (a, b) = (s[lo], s[hi]);
      if g >= 0.5 {
        b - (b - a) * (1.0 - g)
      } else {
        a + (b - a) * g
      }
    };
    let (pl, ph) = (pct(p.low_percentile), pct(p.high_percentile));
    src
      .iter()
      .map(|v| {
        if pl == ph {
          return p.target_min as u16;
        }
        let c = v.to_f64().max(pl).min(ph);
        ((c - pl) * (p.target_max - p.target_min) / (ph - pl) + p.target_min) as u16
      })
      .collect()
  }

  #[test]
  fn tiny_stack_by_hand() {
    // [0, 10, 20, 30, 40] with low 25, high 75: pl = 10, ph = 30; tmax 100:
    // 0 -> clip 10 -> 0; 10 -> 0; 20 -> 50; 30 -> 100; 40 -> clip 30 -> 100.
    let src = [0u16, 10, 20, 30, 40, 20];
    let p = NormalizeParams {
      low_percentile: 25.0,
      high_percentile: 75.0,
      target_min: 0.0,
      target_max: 100.0,
    };
    // six values sorted [0,10,20,20,30,40]: index 1.25 -> 10 + 10*0.25 = 12.5; index 3.75 -> 30 - 10*0.25 = 27.5
    // x=20 -> (20-12.5)*100/15 = 50 ; x=0 -> 0 ; x=40 -> 100 ; x=10 -> 0 ; x=30 -> 100
    let mut out = [0u16; 6];
    stack_percentile_normalize(&src, Dims::new(1, 2, 3), &p, &mut out).unwrap();
    assert_eq!(out, [0, 0, 50, 100, 100, 50]);
    // Truncation, not rounding: target 0..99 -> 20 maps to 7.5 * 99 / 15 = 49.5 -> 49.
    let p2 = NormalizeParams {
      target_max: 99.0,
      ..p.clone()
    };
    stack_percentile_normalize(&src, Dims::new(1, 2, 3), &p2, &mut out).unwrap();
    assert_eq!(out, [0, 0, 49, 99, 99, 49]);
    // float input takes the per-element path and must agree
    let f: Vec<f32> = src.iter().map(|&v| v as f32).collect();
    let mut of = [0u16; 6];
    stack_percentile_normalize(&f, Dims::new(1, 2, 3), &p2, &mut of).unwrap();
    assert_eq!(of, out);
  }

  #[test]
  fn flat_stack_gives_target_min() {
    let src = [5i16; 12];
    let p = NormalizeParams {
      target_min: 123.9,
      ..Default::default()
    };
    let mut out = [0u16; 12];
    stack_percentile_normalize(&src, Dims::new(2, 2, 3), &p, &mut out).unwrap();
    assert!(out.iter().all(|&v| v == 123));
    percentile_normalize(&src, Dims::new(2, 2, 3), &p, &mut out).unwrap();
    assert!(out.iter().all(|&v| v == 123));
  }

  #[test]
  fn per_slice_uses_each_slice() {
    // slice 0 = [0..4) -> stretched alone; slice 1 = constant 9 -> target_min.
    let src = [0u8, 1, 2, 3, 9, 9, 9, 9];
    let p = NormalizeParams {
      low_percentile: 0.0,
      high_percentile: 100.0,
      target_min: 0.0,
      target_max: 300.0,
    };
    let mut out = [0u16; 8];
    percentile_normalize(&src, Dims::new(2, 2, 2), &p, &mut out).unwrap();
    assert_eq!(out, [0, 100, 200, 300, 0, 0, 0, 0]);
  }

  #[test]
  fn matches_plain_reference_all_dtypes() {
    let mut seed = 77u64;
    let mut next = || {
      seed ^= seed << 13;
      seed ^= seed >> 7;
      seed ^= seed << 17;
      seed
    };
    let dims = Dims::new(3, 70, 90);
    let raw: Vec<u64> = (0..dims.len()).map(|_| next()).collect();
    let p = NormalizeParams::default();
    let q = NormalizeParams {
      low_percentile: 2.5,
      high_percentile: 97.5,
      target_min: 10.0,
      target_max: 1000.0,
    };
    macro_rules! check {
      ($t:ty, $conv:expr) => {{
        let src: Vec<$t> = raw.iter().map($conv).collect();
        for prm in [&p, &q] {
          let mut out = vec![0u16; dims.len()];
          stack_percentile_normalize(&src, dims, prm, &mut out).unwrap();
          assert_eq!(out, reference(&src, prm), "{}", stringify!($t));
          percentile_normalize(&src, dims, prm, &mut out).unwrap();
          for (z, o) in out.chunks(dims.plane()).enumerate() {
            let s = &src[z * dims.plane()..(z + 1) * dims.plane()];
            assert_eq!(o, &reference(s, prm)[..], "{} slice {z}", stringify!($t));
          }
        }
      }};
    }
    check!(u8, |&v| v as u8);
    check!(u16, |&v| (v % 4096) as u16);
    check!(i16, |&v| v as i16);
    check!(i32, |&v| (v as i32) >> 8);
    check!(f32, |&v| (v % 100_000) as f32 / 3.0);
    check!(f64, |&v| (v % 100_000) as f64 / 7.0 - 1000.0);
  }

  #[test]
  fn low_above_high_is_allowed_like_numpy() {
    // np.clip(x, lo, hi) with lo > hi gives hi everywhere -> (ph - pl) * r / (ph - pl) + tmin = tmax
    let src = [0u16, 10, 20, 30];
    let p = NormalizeParams {
      low_percentile: 100.0,
      high_percentile: 0.0,
      target_min: 0.0,
      target_max: 500.0,
    };
    let mut out = [0u16; 4];
    stack_percentile_normalize(&src, Dims::new(1, 1, 4), &p, &mut out).unwrap();
    assert_eq!(out, [500; 4]);
  }

  #[test]
  fn nan_stack_gives_zeros() {
    // numpy: percentiles are NaN, so every value becomes NaN and the uint16 cast gives 0 here.
    let src = [1.0f32, f32::NAN, 3.0, 4.0];
    let mut out = [7u16; 4];
    stack_percentile_normalize(&src, Dims::new(1, 2, 2), &NormalizeParams::default(), &mut out).unwrap();
    assert_eq!(out, [0; 4]);
  }

  #[test]
  fn errors() {
    let src = [1u16; 4];
    let mut out = [0u16; 4];
    let d = Dims::new(1, 2, 2);
    let bad = |p: NormalizeParams| {
      stack_percentile_normalize(&src, d, &p, &mut [0u16; 4])
        .unwrap_err()
        .code
    };
    assert_eq!(
      bad(NormalizeParams {
        low_percentile: -1.0,
        ..Default::default()
      }),
      ErrorCode::InvalidArgument
    );
    assert_eq!(
      bad(NormalizeParams {
        high_percentile: f64::NAN,
        ..Default::default()
      }),
      ErrorCode::InvalidArgument
    );
    assert_eq!(
      bad(NormalizeParams {
        target_max: f64::INFINITY,
        ..Default::default()
      }),
      ErrorCode::InvalidArgument
    );
    let p = NormalizeParams::default();
    assert_eq!(
      stack_percentile_normalize(&src[..3], d, &p, &mut out).unwrap_err().code,
      ErrorCode::InvalidArgument
    );
    assert_eq!(
      percentile_normalize(&src, d, &p, &mut out[..3]).unwrap_err().code,
      ErrorCode::InvalidArgument
    );
    let e = stack_percentile_normalize::<u16>(&[], Dims::new(0, 2, 2), &p, &mut []).unwrap_err();
    assert_eq!(e.code, ErrorCode::Dimension);
  }
}
