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
use crate::{DType, Element, SbError, SbResult};

#[derive(Clone, Debug)]
pub struct TophatParams {
  pub selem_radius: usize,
  pub downsample_factor: usize,
}

impl Default for TophatParams {
  fn default() -> Self {
    TophatParams { selem_radius: 50, downsample_factor: 4 }
  }
}

/// Validates `p` against the slice shape.
fn check(dims: Dims, p: &TophatParams) -> SbResult<()> {
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
  src.par_chunks(plane).zip(out.par_chunks_mut(plane)).for_each(|(s, o)| match T::DTYPE {
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
  subtract_upsampled(src, h, w, &background, hs, ws, out);
}

/// `out = max(src - resize(background, (h, w), order=1), 0).astype(T)`, one row at a time.
fn subtract_upsampled<T: Element, S: Real>(src: &[T], h: usize, w: usize, background: &[S], hs: usize, ws: usize, out: &mut [T]) {
  let up = Upsampler::new(background, hs, ws, h, w);
  out.par_chunks_mut(w).zip(src.par_chunks(w)).enumerate().for_each_init(
    || vec![0.0f64; w],
    |bg, (y, (orow, srow))| {
      up.row(y, bg);
      for ((o, &s), &b) in orow.iter_mut().zip(srow).zip(bg.iter()) {
        // slice - background in the working type (f32 - f32 for float32, else f64), then
        // np.maximum(., 0) (NaN stays NaN) and astype (truncation).
        let d = S::from_f64(s.to_f64() - b).to_f64();
        *o = T::from_f64(if d < 0.0 { 0.0 } else { d });
      }
    },
  );
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
    tophat(src, dims, &TophatParams { selem_radius: r, downsample_factor: f }, &mut out)?;
    Ok(out)
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
    assert!(approx.iter().zip(&src).all(|(&v, &s)| if s == 100 { v == 0 } else { v > 250 && v <= 300 }));
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
  fn defaults_are_50_and_4() {
    let p = TophatParams::default();
    assert_eq!((p.selem_radius, p.downsample_factor), (50, 4));
  }
}
