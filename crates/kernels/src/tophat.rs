//! `tophat`: white top-hat background subtraction with a flat disk, per slice (DESIGN §7).
//!
//! Oracle (OpenHCS's numpy `tophat`, per Z slice):
//! ```python
//! small = skimage.transform.resize(slice, (H // f, W // f), anti_aliasing=True, preserve_range=True)
//! tophat_small = skimage.morphology.white_tophat(small, skimage.morphology.disk(selem_radius // f))
//! background_small = small - tophat_small              # = the opening, up to rounding
//! background = skimage.transform.resize(background_small, (H, W), order=1, preserve_range=True)
//! out = np.maximum(slice - background, 0).astype(slice.dtype)
//! ```
//! computed in skimage's working type (float32 for float32 stacks, float64 otherwise) with the
//! same operations in the same order (see `resize`), so the result matches skimage bit for bit
//! whenever the Gaussian weights do (dimensions divisible by f = 2, 3, 4, 6, 7, 8 ...); otherwise a
//! pixel can differ by one grey level where `slice - background` lies within a few ulp of an
//! integer. `downsample_factor == 1` is the exact full-resolution
//! `skimage.morphology.white_tophat(slice, disk(selem_radius))`, computed in the input dtype.
//!
//! Slices run in parallel, and so do the rows inside each stage of a slice.

use rayon::prelude::*;

use crate::image::Dims;
use crate::morphology::{open_disk, white_tophat_disk};
use crate::resize::{resize_linear, Real, Upsampler};
use stackbridge_core::cpu::Kernel;
use stackbridge_core::cpu_run;
use crate::{DType, Element, SbError, SbResult};

#[derive(Clone, Debug, PartialEq)]
pub struct TophatParams {
  pub selem_radius: usize,
  pub downsample_factor: usize,
  /// Spline order of the background's upsampling: 1 (linear, DESIGN §7's default) or 0 (nearest,
  /// OpenHCS 0.8.6's default).
  pub upsample_order: usize,
}

impl Default for TophatParams {
  fn default() -> Self {
    TophatParams {
      selem_radius: 50,
      downsample_factor: 4,
      upsample_order: 1,
    }
  }
}

/// `upsampleOrder` is 0 (nearest) or 1 (linear).
pub fn check_order(p: &TophatParams) -> SbResult<()> {
  if p.upsample_order > 1 {
    return Err(
      SbError::invalid(format!("tophat: upsampleOrder must be 0 (nearest) or 1 (linear), got {}", p.upsample_order)).with("upsampleOrder", p.upsample_order),
    );
  }
  Ok(())
}

/// Validates `p` against the slice shape.
pub fn check(dims: Dims, p: &TophatParams) -> SbResult<()> {
  check_order(p)?;
  let f = p.downsample_factor;
  if f == 0 {
    return Err(SbError::invalid("tophat: downsampleFactor must be at least 1, got 0").with("downsampleFactor", 0));
  }
  if dims.h / f == 0 || dims.w / f == 0 {
    return Err(
      SbError::invalid(format!(
        "tophat: downsampleFactor {f} leaves no pixels of a {}x{} slice (H // f and W // f must be at least 1)",
        dims.h, dims.w
      ))
      .with("downsampleFactor", f)
      .with("height", dims.h)
      .with("width", dims.w),
    );
  }
  Ok(())
}

/// Errors (InvalidArgument): downsample_factor == 0; H/f or W/f == 0. selem_radius 0 is allowed (disk(0) = one pixel -> output 0 at f=1).
/// Radius larger than the image is allowed (exact result: opening over the clipped windows).
///
/// `src` and `out` are `dims` stacks (`InvalidArgument` otherwise).
pub fn tophat<T: Element>(src: &[T], dims: Dims, p: &TophatParams, out: &mut [T]) -> SbResult<()> {
  dims.check_len(src.len(), "tophat input")?;
  dims.check_len(out.len(), "tophat output")?;
  check(dims, p)?;
  if dims.is_empty() {
    return Ok(());
  }
  let plane = dims.plane();
  src
    .par_chunks(plane)
    .zip(out.par_chunks_mut(plane))
    .for_each(|(s, o)| match T::DTYPE {
      DType::F32 => tophat_slice::<T, f32>(s, dims.h, dims.w, p, o),
      _ => tophat_slice::<T, f64>(s, dims.h, dims.w, p, o),
    });
  Ok(())
}

/// One slice, working type `S` (skimage's: f32 for f32 input, f64 otherwise).
fn tophat_slice<T: Element, S: Real>(src: &[T], h: usize, w: usize, p: &TophatParams, out: &mut [T]) {
  let f = p.downsample_factor;
  if f == 1 {
    white_tophat_disk(src, h, w, p.selem_radius, out);
    return;
  }
  let (hs, ws, r) = (h / f, w / f, p.selem_radius / f);
  let zero = S::from_f64(0.0);
  let mut small = vec![zero; hs * ws];
  resize_linear(src, h, w, hs, ws, true, &mut small);
  let mut background = vec![zero; hs * ws];
  open_disk(&small, hs, ws, r, &mut background);
  // OpenHCS computes `small - (small - opening)`, which can differ from the opening by rounding.
  for (b, &s) in background.iter_mut().zip(&small) {
    let tophat = S::from_f64(s.to_f64() - b.to_f64());
    *b = S::from_f64(s.to_f64() - tophat.to_f64());
  }
  subtract_upsampled(src, h, w, &background, hs, ws, p.upsample_order, out);
}

/// `out = max(src - resize(background, (h, w), order), 0).astype(T)`, one row at a time.
#[allow(clippy::too_many_arguments)]
fn subtract_upsampled<T: Element, S: Real>(src: &[T], h: usize, w: usize, background: &[S], hs: usize, ws: usize, order: usize, out: &mut [T]) {
  let up = Upsampler::with_order(background, hs, ws, h, w, order);
  out.par_chunks_mut(w).zip(src.par_chunks(w)).enumerate().for_each_init(
    || vec![0.0f64; w],
    |bg, (y, (orow, srow))| {
      cpu_run!(Kernel::Resize, {
        up.row(y, bg);
        for ((o, &s), &b) in orow.iter_mut().zip(srow).zip(bg.iter()) {
          // slice - background in the working type (f32 - f32 for float32, else f64), then
          // np.maximum(., 0) (NaN stays NaN) and astype (truncation).
          let d = S::from_f64(s.to_f64() - b).to_f64();
          *o = cast_nonnegative::<T>(if d < 0.0 { 0.0 } else { d });
        }
      })
    },
  );
}

/// `T::from_f64(v)` for `v >= 0` or NaN. For the narrow integer types the value is saturated in
/// f64 and converted through i32, which vectorises (a direct saturating f64 -> u16 cast does not);
/// the result is the same: truncation toward zero, saturation at the type's maximum, NaN -> 0.
#[inline(always)]
fn cast_nonnegative<T: Element>(v: f64) -> T {
  let max = match T::DTYPE {
    DType::U8 => u8::MAX as f64,
    DType::U16 => u16::MAX as f64,
    DType::I16 => i16::MAX as f64,
    _ => return T::from_f64(v),
  };
  // NaN fails `v >= 0.0` and becomes 0, like `from_f64`.
  let v = if v > max {
    max
  } else if v >= 0.0 {
    v
  } else {
    0.0
  };
  // SAFETY: `v` is finite and in `[0, max]` with `max <= 65535`, so it fits an i32: the unchecked
  // conversion is defined (and, unlike the saturating `as`, vectorises to `vcvttpd2dq`).
  let i: i32 = unsafe { v.to_int_unchecked() };
  T::from_i64_wrapping(i as i64)
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::ErrorCode;

  fn noise(n: usize, seed: u64, modulus: u64) -> Vec<u64> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
      .map(|_| {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s % modulus
      })
      .collect()
  }

  fn run<T: Element>(src: &[T], dims: Dims, r: usize, f: usize) -> SbResult<Vec<T>> {
    let mut out = vec![T::from_f64(0.0); src.len()];
    tophat(
      src,
      dims,
      &TophatParams {
        selem_radius: r,
        downsample_factor: f,
        upsample_order: 1,
      },
      &mut out,
    )?;
    Ok(out)
  }

  /// The 12x16 test image of `matches_openhcs_literal`: `(i * 7919) % 1000 + 200 * (x > 8)`.
  fn sawtooth() -> Vec<u16> {
    (0..12 * 16)
      .map(|i| ((i * 7919) % 1000 + if i % 16 > 8 { 200 } else { 0 }) as u16)
      .collect()
  }

  #[test]
  fn matches_openhcs_literal() {
    // OpenHCS's numpy tophat (the module doc's snippet) on `sawtooth()` as a [1, 12, 16] uint16
    // stack with (selem_radius, downsample_factor) = (8, 2) and (9, 3), printed by the scratch
    // script; f = 3 has non-integer factors (12 / 4, 16 / 5).
    let src = sawtooth();
    #[rustfmt::skip]
    let f2: [u16; 192] = [
      0, 584, 496, 412, 331, 240, 139, 19, 0, 0, 0, 0, 0, 644, 563, 482,
      369, 288, 200, 116, 35, 0, 0, 0, 0, 672, 591, 510, 429, 348, 267, 186,
      95, 14, 0, 0, 0, 0, 488, 367, 267, 376, 295, 214, 133, 52, 0, 0,
      0, 0, 616, 524, 443, 328, 178, 58, 0, 80, 0, 0, 0, 0, 675, 594,
      487, 406, 314, 228, 147, 42, 0, 0, 0, 0, 0, 622, 541, 460, 379, 298,
      182, 101, 15, 0, 0, 0, 0, 524, 394, 488, 407, 326, 245, 164, 83, 2,
      0, 0, 0, 633, 547, 458, 368, 250, 105, 192, 111, 30, 0, 0, 0, 0,
      591, 510, 425, 338, 249, 163, 82, 0, 0, 0, 0, 0, 653, 572, 491, 410,
      296, 215, 133, 46, 0, 0, 0, 0, 564, 647, 535, 438, 357, 276, 195, 114,
      0, 0, 0, 0, 0, 571, 490, 398, 295, 383, 263, 163, 82, 0, 0, 0,
      0, 619, 529, 442, 358, 275, 194, 110, 21, 120, 6, 0, 0, 731, 619, 538,
      404, 323, 233, 146, 62, 0, 0, 0, 0, 0, 710, 613, 532, 435, 323, 242,
    ];
    #[rustfmt::skip]
    let f3: [u16; 192] = [
      0, 441, 371, 304, 236, 148, 52, 0, 0, 0, 0, 0, 0, 660, 578, 498,
      247, 146, 81, 20, 0, 0, 0, 0, 0, 691, 610, 529, 447, 364, 282, 202,
      0, 0, 0, 0, 0, 0, 460, 364, 275, 394, 313, 232, 150, 68, 0, 0,
      0, 0, 477, 403, 329, 243, 153, 63, 0, 96, 15, 0, 0, 0, 690, 609,
      337, 256, 175, 94, 13, 0, 0, 0, 0, 0, 0, 637, 556, 475, 394, 313,
      41, 0, 0, 0, 0, 0, 0, 466, 384, 503, 422, 341, 260, 179, 98, 17,
      0, 0, 0, 500, 418, 336, 253, 170, 88, 207, 126, 45, 0, 0, 0, 0,
      447, 368, 286, 203, 121, 38, 0, 0, 0, 0, 0, 0, 668, 587, 506, 425,
      151, 72, 0, 0, 0, 0, 0, 0, 496, 615, 534, 453, 372, 291, 210, 129,
      0, 0, 0, 0, 0, 444, 363, 281, 200, 319, 238, 157, 76, 0, 0, 0,
      0, 480, 397, 313, 229, 147, 66, 0, 0, 23, 0, 0, 0, 699, 618, 537,
      262, 184, 101, 18, 0, 0, 0, 0, 0, 0, 646, 565, 484, 403, 322, 241,
    ];
    assert_eq!(run(&src, Dims::new(1, 12, 16), 8, 2).unwrap(), f2);
    assert_eq!(run(&src, Dims::new(1, 12, 16), 9, 3).unwrap(), f3);
  }

  #[test]
  fn factor_one_is_the_exact_white_tophat() {
    let (h, w) = (37, 29);
    let src: Vec<u16> = noise(h * w, 5, 4000).into_iter().map(|v| v as u16).collect();
    for r in [0, 1, 5, 12, 100] {
      let got = run(&src, Dims::new(1, h, w), r, 1).unwrap();
      let mut expected = vec![0u16; h * w];
      white_tophat_disk(&src, h, w, r, &mut expected);
      assert_eq!(got, expected, "r={r}");
    }
    // disk(0) is one pixel: the opening is the image, the top-hat is zero.
    assert!(run(&src, Dims::new(1, h, w), 0, 1).unwrap().iter().all(|&v| v == 0));
  }

  #[test]
  fn stack_equals_per_slice() {
    let (z, h, w) = (3, 40, 52);
    let src: Vec<u16> = noise(z * h * w, 9, 60000).into_iter().map(|v| v as u16).collect();
    for f in [1, 2, 4] {
      let all = run(&src, Dims::new(z, h, w), 20, f).unwrap();
      for k in 0..z {
        let one = run(&src[k * h * w..(k + 1) * h * w], Dims::new(1, h, w), 20, f).unwrap();
        assert_eq!(&all[k * h * w..(k + 1) * h * w], &one[..], "slice {k} f={f}");
      }
    }
  }

  #[test]
  fn constant_image_has_zero_tophat() {
    // Every stage preserves a constant exactly (kernel weights sum to 1 within rounding and the
    // clip to the input range restores the constant), so slice - background == 0.
    for (h, w, f) in [(16, 16, 4), (17, 23, 3), (9, 9, 2)] {
      let src = vec![1234u16; h * w];
      assert!(run(&src, Dims::new(1, h, w), 8, f).unwrap().iter().all(|&v| v == 0));
    }
  }

  #[test]
  fn bright_spot_on_flat_background() {
    // A flat background of 100 with a small 300-high square: the opening (radius larger than the
    // spot) removes the spot, so the output is the spot over zero, up to the blur that the
    // downsampling spreads into the background estimate.
    let (h, w) = (64, 64);
    let mut src = vec![100u16; h * w];
    for y in 30..33 {
      for x in 30..33 {
        src[y * w + x] = 400;
      }
    }
    let exact = run(&src, Dims::new(1, h, w), 8, 1).unwrap();
    for (i, &v) in exact.iter().enumerate() {
      assert_eq!(v, if src[i] == 400 { 300 } else { 0 });
    }
    let approx = run(&src, Dims::new(1, h, w), 16, 4).unwrap();
    assert!(approx
      .iter()
      .zip(&src)
      .all(|(&v, &s)| if s == 100 { v == 0 } else { v > 250 && v <= 300 }));
  }

  #[test]
  fn float_inputs_and_other_dtypes_run() {
    let (h, w) = (24, 20);
    let base = noise(h * w, 11, 1000);
    let f32s: Vec<f32> = base.iter().map(|&v| v as f32 * 0.5).collect();
    let out = run(&f32s, Dims::new(1, h, w), 8, 2).unwrap();
    assert!(out.iter().all(|v| *v >= 0.0 && v.is_finite()));
    let i16s: Vec<i16> = base.iter().map(|&v| v as i16 - 500).collect();
    let out = run(&i16s, Dims::new(1, h, w), 8, 2).unwrap();
    assert!(out.iter().all(|&v| v >= 0));
    let u8s: Vec<u8> = base.iter().map(|&v| (v % 256) as u8).collect();
    let exact = run(&u8s, Dims::new(1, h, w), 3, 1).unwrap();
    let mut expected = vec![0u8; h * w];
    white_tophat_disk(&u8s, h, w, 3, &mut expected);
    assert_eq!(exact, expected);
  }

  #[test]
  fn errors() {
    let src = vec![0u16; 2 * 8 * 6];
    let dims = Dims::new(2, 8, 6);
    let e = run(&src, dims, 5, 0).unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidArgument);
    let e = run(&src, dims, 5, 7).unwrap_err(); // W // 7 == 0
    assert_eq!(e.code, ErrorCode::InvalidArgument);
    let e = run(&src, Dims::new(1, 0, 5), 5, 1).unwrap_err(); // empty plane
    assert_eq!(e.code, ErrorCode::InvalidArgument);
    let mut out = vec![0u16; 5];
    let e = tophat(&src, dims, &TophatParams::default(), &mut out).unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidArgument);
    // Huge radius: allowed, exact (global minimum of each slice as background).
    assert!(run(&src, dims, usize::MAX, 1).is_ok());
    assert!(run(&src, dims, 1 << 40, 2).is_ok());
    // No slices: nothing to do.
    assert!(run::<u16>(&[], Dims::new(0, 8, 6), 5, 2).is_ok());
  }

  #[test]
  fn narrow_cast_matches_from_f64() {
    for v in [
      0.0,
      0.4,
      1.0,
      2.999,
      255.0,
      255.9,
      256.0,
      300.5,
      32767.9,
      40000.0,
      65535.5,
      70000.0,
      1e300,
      f64::INFINITY,
      f64::NAN,
    ] {
      assert_eq!(cast_nonnegative::<u8>(v), u8::from_f64(v), "{v}");
      assert_eq!(cast_nonnegative::<u16>(v), u16::from_f64(v), "{v}");
      assert_eq!(cast_nonnegative::<i16>(v), i16::from_f64(v), "{v}");
      assert_eq!(cast_nonnegative::<i32>(v), i32::from_f64(v), "{v}");
      assert_eq!(cast_nonnegative::<f32>(v).to_bits(), f32::from_f64(v).to_bits(), "{v}");
    }
  }

  #[test]
  fn defaults_are_50_and_4() {
    let p = TophatParams::default();
    assert_eq!((p.selem_radius, p.downsample_factor), (50, 4));
  }
}
