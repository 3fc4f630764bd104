//! The `sharpen` processor (DESIGN §7): OpenHCS `numpy_processor.sharpen`, an unsharp mask per
//! slice followed by a min-max stretch to `[0, 65535]`. The oracle, per slice:
//!
//! ```text
//! f = slice.astype(float32) / max(slice)
//! blurred = skimage.filters.gaussian(f, sigma=radius)        # mode 'nearest', truncate 4
//! s = clip(f + amount * (f - blurred), 0, 1)
//! s = skimage.exposure.rescale_intensity(s, in_range='image', out_range=(0, 65535))
//! out = s.astype(slice.dtype)
//! ```
//!
//! numpy's type promotion is followed: `float32 / max` stays float32 for u8, u16, i16 and f32
//! slices and becomes float64 for i32 and f64 ones (a float32 array divided by an int32 / float64
//! scalar), and every later step computes in that type, the Gaussian with scipy's exact arithmetic,
//! so results are scikit-image's bit for bit (up to last-bit differences of the kernel taps).

use crate::gaussian::{gaussian_plane, kernel_radius, BorderMode};
use crate::image::Dims;
use rayon::prelude::*;
use stackbridge_core::{DType, Element, SbError, SbResult};
use std::ops::{Add, Div, Mul, Sub};

/// The working float type of one slice (f32 or f64, as numpy promotes).
trait Work: Element + Copy + Add<Output = Self> + Sub<Output = Self> + Mul<Output = Self> + Div<Output = Self> {
  fn of(v: f64) -> Self;
}

impl Work for f32 {
  fn of(v: f64) -> Self {
    v as f32
  }
}

impl Work for f64 {
  fn of(v: f64) -> Self {
    v
  }
}

/// The `sharpen` processor's options (every backend): radius finite and > 0, amount finite.
pub fn check_sharpen(radius: f64, amount: f64) -> SbResult<()> {
  if !radius.is_finite() || radius <= 0.0 {
    return Err(SbError::invalid(format!("radius must be a finite number > 0, got {radius}")).with("radius", radius));
  }
  kernel_radius(radius, 4.0)?;
  if !amount.is_finite() {
    return Err(SbError::invalid(format!("amount must be finite, got {amount}")).with("amount", amount));
  }
  Ok(())
}

/// `sharpen(stack, radius, amount)` per slice (see the module docs for the oracle).
///
/// Degenerate slices: when `max(slice)` is 0 or NaN numpy divides 0 by 0 and every value becomes
/// NaN; the output is then 0 for that slice (numpy's integer cast of NaN is undefined; for float
/// inputs numpy would return NaN). When the clipped image is constant, scikit-image returns it
/// unchanged (`rescale_intensity` with `imin == imax`), so the output is that constant cast to the
/// dtype: 1 for a constant non-zero slice, as scikit-image. Values above an integer dtype's range
/// (65535 in uint8 / int16) saturate (numpy's cast is undefined there).
///
/// Errors: `radius` must be finite and > 0 (and its kernel within `gaussian::MAX_RADIUS`),
/// `amount` finite, else `InvalidArgumentError`; lengths must match `dims`.
pub fn sharpen<T: Element>(src: &[T], dims: Dims, radius: f64, amount: f64, out: &mut [T]) -> SbResult<()> {
  dims.check_len(src.len(), "input")?;
  dims.check_len(out.len(), "output")?;
  check_sharpen(radius, amount)?;
  if dims.is_empty() {
    return Ok(());
  }
  let plane = dims.plane();
  out.par_chunks_mut(plane).zip(src.par_chunks(plane)).for_each(|(o, s)| match T::DTYPE {
    DType::I32 | DType::F64 => sharpen_slice::<T, f64>(s, dims.h, dims.w, radius, amount, o),
    _ => sharpen_slice::<T, f32>(s, dims.h, dims.w, radius, amount, o),
  });
  Ok(())
}

fn sharpen_slice<T: Element, W: Work>(src: &[T], h: usize, w: usize, radius: f64, amount: f64, out: &mut [T]) {
  // np.max propagates NaN.
  let max = src.iter().fold(f64::NEG_INFINITY, |m, v| {
    let v = v.to_f64();
    if v.is_nan() || m.is_nan() {
      f64::NAN
    } else {
      m.max(v)
    }
  });
  if max == 0.0 || max.is_nan() {
    out.iter_mut().for_each(|o| *o = T::from_f64(0.0));
    return;
  }
  // f = slice.astype(float32) / max, in W (max is exact in W: T's values fit f32 when W is f32).
  let max_w = W::of(max);
  let f: Vec<W> = src.iter().map(|v| W::of(v.to_f64() as f32 as f64) / max_w).collect();
  let mut blurred = vec![W::of(0.0); f.len()];
  gaussian_plane(&f, h, w, radius, BorderMode::Nearest, &mut blurred);
  let (zero, one, a) = (W::of(0.0), W::of(1.0), W::of(amount));
  // s = clip(f + amount * (f - blurred), 0, 1); np.clip keeps NaN. Reuse `blurred` for s.
  for (b, &fv) in blurred.iter_mut().zip(&f) {
    let v = fv + a * (fv - *b);
    *b = if v < zero {
      zero
    } else if v > one {
      one
    } else {
      v
    };
  }
  let s = blurred;
  let (mut imin, mut imax) = (f64::INFINITY, f64::NEG_INFINITY);
  let mut nan = false;
  for v in &s {
    let v = v.to_f64();
    nan |= v.is_nan();
    imin = imin.min(v);
    imax = imax.max(v);
  }
  if nan {
    // rescale_intensity broadcasts NaN to the whole image.
    out.iter_mut().for_each(|o| *o = T::from_f64(f64::NAN));
    return;
  }
  if imin != imax {
    // ((s - imin) / (imax - imin)) * (65535 - 0) + 0, each step in W (Python floats are weak).
    let (lo, span, scale) = (W::of(imin), W::of(imax - imin), W::of(65535.0));
    for (o, &v) in out.iter_mut().zip(&s) {
      *o = T::from_f64(((v - lo) / span * scale + zero).to_f64());
    }
  } else {
    // Constant: np.clip(image, 0, 65535), i.e. the image itself.
    for (o, &v) in out.iter_mut().zip(&s) {
      *o = T::from_f64(v.to_f64());
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use stackbridge_core::ErrorCode;

  // The slice of the scikit-image literals below.
  const S: [u16; 42] = [
    100, 200, 300, 400, 500, 600, 700, //
    150, 900, 350, 420, 80, 610, 720, //
    130, 210, 4000, 410, 520, 630, 740, //
    120, 220, 310, 430, 540, 3000, 760, //
    110, 230, 320, 440, 550, 660, 770, //
    100, 240, 330, 450, 560, 670, 780,
  ];

  #[test]
  fn matches_skimage_u16() {
    // The oracle in the module docs with radius=1.0, amount=1.5 on S (uint16, 6x7), computed
    // with numpy 2.4 / scikit-image 0.26.
    let expect: [u16; 42] = [
      0, 95, 1893, 5588, 8757, 10353, 12282, //
      0, 23364, 0, 2191, 0, 9691, 12186, //
      0, 0, 65535, 0, 4090, 5347, 9863, //
      0, 0, 0, 631, 2396, 65535, 7977, //
      481, 2589, 3001, 5342, 5436, 5430, 10250, //
      403, 4052, 5119, 7244, 8514, 9994, 13098,
    ];
    let mut out = [0u16; 42];
    sharpen(&S, Dims::new(1, 6, 7), 1.0, 1.5, &mut out).unwrap();
    assert_eq!(out, expect);
  }

  #[test]
  fn matches_skimage_f32() {
    // The oracle with radius=2.0, amount=0.8 on S.astype(float32) (output float32, printed with
    // numpy's shortest float32 repr).
    let expect: [f32; 42] = [
      0.0, 1303.4104, 3138.5015, 5129.7764, 7271.279, 9524.516, 11918.393, //
      528.7178, 21335.809, 3879.1025, 4958.076, 0.0, 9208.447, 12021.928, //
      0.0, 724.49896, 65535.0, 4170.3213, 6590.209, 9236.004, 12119.594, //
      0.0, 1244.1741, 2483.0483, 4788.079, 7044.865, 65535.0, 12427.833, //
      0.0, 2086.983, 3355.13, 5564.7695, 7655.3896, 10025.84, 12755.525, //
      0.0, 2947.412, 4296.595, 6484.5923, 8477.562, 10715.342, 13301.033,
    ];
    let src: Vec<f32> = S.iter().map(|&v| v as f32).collect();
    let mut out = [0f32; 42];
    sharpen(&src, Dims::new(1, 6, 7), 2.0, 0.8, &mut out).unwrap();
    for (o, e) in out.iter().zip(&expect) {
      assert_eq!(o, e, "bit-exact f32 expected");
    }
  }

  /// The oracle written plainly in f64 with a direct 2-D Gaussian (nearest border).
  fn reference(src: &[f64], h: usize, w: usize, radius: f64, amount: f64) -> Vec<f64> {
    let max = src.iter().cloned().fold(f64::MIN, f64::max);
    let f: Vec<f64> = src.iter().map(|v| v / max).collect();
    let k = crate::gaussian::kernel1d(radius, 0, 4.0);
    let r = (k.len() / 2) as isize;
    let clampi = |i: isize, n: usize| i.max(0).min(n as isize - 1) as usize;
    let mut s = vec![0.0; h * w];
    for y in 0..h {
      for x in 0..w {
        let mut b = 0.0;
        for dy in -r..=r {
          for dx in -r..=r {
            b += k[(dy + r) as usize] * k[(dx + r) as usize] * f[clampi(y as isize + dy, h) * w + clampi(x as isize + dx, w)];
          }
        }
        let v = f[y * w + x] + amount * (f[y * w + x] - b);
        s[y * w + x] = v.clamp(0.0, 1.0);
      }
    }
    let (lo, hi) = (s.iter().cloned().fold(f64::MAX, f64::min), s.iter().cloned().fold(f64::MIN, f64::max));
    s.iter().map(|v| (v - lo) / (hi - lo) * 65535.0).collect()
  }

  #[test]
  fn matches_plain_reference_per_slice() {
    let dims = Dims::new(3, 9, 13);
    let mut st = 17u64;
    let src: Vec<u16> = (0..dims.len())
      .map(|_| {
        st ^= st << 13;
        st ^= st >> 7;
        st ^= st << 17;
        (st % 5000) as u16
      })
      .collect();
    let mut out = vec![0u16; dims.len()];
    sharpen(&src, dims, 1.3, 0.7, &mut out).unwrap();
    for z in 0..dims.z {
      let p = dims.plane();
      let sl: Vec<f64> = src[z * p..(z + 1) * p].iter().map(|&v| v as f64).collect();
      let expect = reference(&sl, dims.h, dims.w, 1.3, 0.7);
      for (o, e) in out[z * p..(z + 1) * p].iter().zip(&expect) {
        // f32 arithmetic against f64: a truncation may land one lower or higher.
        assert!((*o as f64 - e.trunc()).abs() <= 1.0, "{o} vs {e}");
      }
    }
  }

  #[test]
  fn degenerate_slices() {
    let dims = Dims::new(3, 4, 5);
    let mut src = vec![0u16; dims.len()];
    src[20..40].iter_mut().for_each(|v| *v = 777); // slice 1 constant
    src[45] = 9; // slice 2 ordinary
    let mut out = vec![5u16; dims.len()];
    sharpen(&src, dims, 1.0, 1.0, &mut out).unwrap();
    assert!(out[..20].iter().all(|&v| v == 0), "all-zero slice -> 0");
    assert!(out[20..40].iter().all(|&v| v == 1), "constant slice -> 1 as scikit-image");
    assert_eq!(*out[40..].iter().max().unwrap(), 65535);
    // float NaN max: defined as zeros
    let src = [f32::NAN, 1.0, 2.0, 3.0];
    let mut out = [9f32; 4];
    sharpen(&src, Dims::new(1, 2, 2), 1.0, 1.0, &mut out).unwrap();
    assert_eq!(out, [0.0; 4]);
  }

  #[test]
  fn errors() {
    let src = vec![1u8; 12];
    let mut out = vec![0u8; 12];
    let d = Dims::new(1, 3, 4);
    for (r, a) in [(0.0, 1.0), (-1.0, 1.0), (f64::NAN, 1.0), (1.0, f64::INFINITY), (1e9, 1.0)] {
      assert_eq!(sharpen(&src, d, r, a, &mut out).unwrap_err().code, ErrorCode::InvalidArgument);
    }
    assert!(sharpen(&src[..11], d, 1.0, 1.0, &mut out).is_err());
    sharpen::<u8>(&[], Dims::new(0, 3, 4), 1.0, 1.0, &mut []).unwrap();
  }
}
