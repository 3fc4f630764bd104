//! Bilinear resize with scikit-image's semantics, reproducing its floating-point operations.
//!
//! Oracle: `skimage.transform.resize(image, (oh, ow), order=1, mode='reflect', preserve_range=True,
//! anti_aliasing=...)` (scikit-image 0.26, scipy 1.17), which is
//!
//! 1. with anti-aliasing, `ndi.gaussian_filter(image, sigma, mode='mirror')` with, per axis,
//!    `sigma = max(0, (in/out - 1) / 2)` (axes with sigma <= 1e-15 are skipped), truncate 4, i.e.
//!    a `2 * int(4 * sigma + 0.5) + 1`-tap kernel `exp(-x^2 / (2 sigma^2))` normalised by numpy's
//!    pairwise sum; axis 0 first, each pass stored in the working dtype;
//! 2. `ndi.zoom(filtered, out/in, order=1, mode='mirror', grid_mode=True)`: input coordinate
//!    `(o + 0.5) * (in / out) - 0.5`, mirrored into range, linear weights `w0 = 1 - frac`,
//!    `w1 = 1 - w0`, the four corners summed in the order (y0,x0), (y0,x1), (y1,x0), (y1,x1) as
//!    `value * wy * wx`;
//! 3. the result clipped to the input's `[min, max]`.
//!
//! The working dtype `S` is what skimage uses: `float32` for float32 input, `float64` otherwise.
//! Arithmetic is done in f64 in the same order as scipy's C loops (its symmetric-kernel
//! correlation `x[0]*w[0] + sum_j (x[-j] + x[+j]) * w[j]`, outermost taps first; no FMA), so the
//! results are bit-identical to skimage's whenever libm's `exp` gives the same kernel weights as
//! numpy's (SVML) `exp`: checked for per-axis ratios in/out of 2, 3, 4, 6, 7, 8, 15, 16. For other
//! ratios (5, 9-14, most non-integer ones) numpy's `exp` is 1 ulp off the correctly rounded value
//! in a few weights (libm's is correctly rounded there) and outputs differ by ~1e-15 relative.
//! The vertical Gaussian is computed only for the rows the zoom samples (two per output row);
//! the horizontal pass of those rows is computed for every column (it vectorises).

use rayon::prelude::*;

use crate::Element;
use stackbridge_core::cpu::Kernel;
use stackbridge_core::cpu_run;

/// The working float type of a resize (`f32` or `f64`).
pub trait Real: Element {}
impl Real for f32 {}
impl Real for f64 {}

/// scipy.ndimage's `mirror` boundary for an integer index (`d c b | a b c d | c b a`), folded as
/// often as needed (its `map_coordinate` / edge-offset code for `NI_EXTEND_MIRROR`).
#[inline(always)]
pub fn mirror_index(i: isize, n: usize) -> usize {
  if n <= 1 {
    return 0;
  }
  let len = n as isize;
  let s2 = 2 * len - 2;
  let mut i = i;
  if i < 0 {
    i += s2 * (-i / s2);
    i = if i <= 1 - len { i + s2 } else { -i };
  } else if i >= len {
    i -= s2 * (i / s2);
    if i >= len {
      i = s2 - i;
    }
  }
  i as usize
}

/// `np.sum` of a float64 array: numpy's pairwise summation (8 accumulators up to 128 elements).
fn numpy_sum(a: &[f64]) -> f64 {
  let n = a.len();
  if n < 8 {
    a.iter().fold(0.0, |s, &v| s + v)
  } else if n <= 128 {
    let mut r = [0.0f64; 8];
    r.copy_from_slice(&a[..8]);
    let mut i = 8;
    while i < n - n % 8 {
      for j in 0..8 {
        r[j] += a[i + j];
      }
      i += 8;
    }
    let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for &v in &a[i..] {
      res += v;
    }
    res
  } else {
    let mut n2 = n / 2;
    n2 -= n2 % 8;
    numpy_sum(&a[..n2]) + numpy_sum(&a[n2..])
  }
}

/// scipy's `_gaussian_kernel1d(sigma, 0, int(4 * sigma + 0.5))`: returns the weights for offsets
/// `0..=radius` (the kernel is symmetric).
pub fn gaussian_half_kernel(sigma: f64) -> Vec<f64> {
  let radius = (4.0 * sigma + 0.5) as usize;
  let c = -0.5 / (sigma * sigma);
  let r = radius as i64;
  let phi: Vec<f64> = (-r..=r).map(|x| (c * (x * x) as f64).exp()).collect();
  let sum = numpy_sum(&phi);
  phi[radius..].iter().map(|&v| v / sum).collect()
}

/// The anti-aliasing sigma of one axis: `max(0, (in / out - 1) / 2)`, or `None` when scipy skips
/// the axis (sigma <= 1e-15).
pub fn antialias_sigma(n_in: usize, n_out: usize) -> Option<f64> {
  let s = ((n_in as f64 / n_out as f64 - 1.0) / 2.0).max(0.0);
  (s > 1e-15).then_some(s)
}

/// One axis of `ndi.zoom(order=1, mode='mirror', grid_mode=True)`: output sample `o` reads input
/// `i0[o]` with weight `w0[o]` and `i1[o]` with weight `w1[o]`.
#[derive(Clone, Debug)]
pub struct LinearAxis {
  pub i0: Vec<usize>,
  pub i1: Vec<usize>,
  pub w0: Vec<f64>,
  pub w1: Vec<f64>,
}

impl LinearAxis {
  pub fn new(n_in: usize, n_out: usize) -> LinearAxis {
    let zoom = n_in as f64 / n_out as f64;
    let mut ax = LinearAxis {
      i0: vec![],
      i1: vec![],
      w0: vec![],
      w1: vec![],
    };
    for o in 0..n_out {
      let cc = map_coordinate((o as f64 + 0.5) * zoom - 0.5, n_in);
      let start = cc.floor();
      let x = cc - start;
      let w0 = 1.0 - x;
      let start = start as isize;
      ax.i0.push(mirror_index(start, n_in));
      ax.i1.push(mirror_index(start + 1, n_in));
      ax.w0.push(w0);
      ax.w1.push(1.0 - w0);
    }
    ax
  }
}

impl LinearAxis {
  /// `ndi.zoom(order=0, mode='mirror', grid_mode=True)` written as a linear axis: sample `o` reads
  /// input `floor(cc + 0.5)` (scipy's nearest for even orders) with weight 1, and the same input
  /// with weight 0, so the order-1 code (CPU and device) upsamples by nearest unchanged.
  pub fn nearest(n_in: usize, n_out: usize) -> LinearAxis {
    let zoom = n_in as f64 / n_out as f64;
    let i0: Vec<usize> = (0..n_out)
      .map(|o| mirror_index((map_coordinate((o as f64 + 0.5) * zoom - 0.5, n_in) + 0.5).floor() as isize, n_in))
      .collect();
    LinearAxis { i1: i0.clone(), i0, w0: vec![1.0; n_out], w1: vec![0.0; n_out] }
  }

  /// The axis of `ndi.zoom` of spline order 0 (nearest) or 1 (linear); other orders are refused.
  pub fn of_order(order: usize, n_in: usize, n_out: usize) -> LinearAxis {
    match order {
      0 => LinearAxis::nearest(n_in, n_out),
      1 => LinearAxis::new(n_in, n_out),
      _ => unreachable!("upsampling order {order} is checked when the options are read"),
    }
  }
}

/// scipy's `map_coordinate(in, len, NI_EXTEND_MIRROR)` for a coordinate outside `[0, len - 1]`.
pub fn map_coordinate(c: f64, len: usize) -> f64 {
  let l = len as f64;
  if c < 0.0 {
    if len <= 1 {
      return 0.0;
    }
    let sz2 = (2 * len - 2) as f64;
    let c = sz2 * ((-c / sz2) as i64) as f64 + c;
    if c <= 1.0 - l {
      c + sz2
    } else {
      -c
    }
  } else if c > l - 1.0 {
    if len <= 1 {
      return 0.0;
    }
    let sz2 = (2 * len - 2) as f64;
    let c = c - sz2 * ((c / sz2) as i64) as f64;
    if c >= l {
      sz2 - c
    } else {
      c
    }
  } else {
    c
  }
}

/// `[min, max]` of a plane as f64, ignoring NaN (skimage's `_clip_warp_output` bounds; NaN when
/// every value is NaN). Folded in `T` so integer planes vectorise.
pub fn finite_range<T: Element>(src: &[T]) -> (f64, f64) {
  // Start at the first non-NaN value; a NaN never wins a comparison afterwards.
  #[allow(clippy::eq_op)]
  let Some(i) = src.iter().position(|v| v == v) else {
    return (f64::NAN, f64::NAN);
  };
  let first = src[i];
  let (lo, hi) = src[i..].iter().fold((first, first), |(lo, hi), &v| {
    (if v < lo { v } else { lo }, if v > hi { v } else { hi })
  });
  (lo.to_f64(), hi.to_f64())
}

/// `np.clip(v, lo, hi)` (NaN passes through).
#[inline(always)]
pub fn clip(v: f64, lo: f64, hi: f64) -> f64 {
  if v < lo {
    lo
  } else if v > hi {
    hi
  } else {
    v
  }
}

/// Pixels per register block of the Gaussian passes.
const TAP_BLOCK: usize = 64;

/// `out[x] = S(c[x] * k[0] + sum over j = r..1 of (lo_j[x] + hi_j[x]) * k[j])`: scipy's
/// symmetric-kernel correlation (`pairs[i]` is the pair at offset `j = r - i`, outermost first),
/// with each block of accumulators kept in registers across the taps.
#[inline(always)]
fn symmetric_taps<V: Element, S: Real>(center: &[V], pairs: &[(&[V], &[V])], k: &[f64], out: &mut [S]) {
  let n = out.len();
  let r = pairs.len();
  let one = |x: usize| {
    let mut a = center[x].to_f64() * k[0];
    for (i, (l, h)) in pairs.iter().enumerate() {
      a += (l[x].to_f64() + h[x].to_f64()) * k[r - i];
    }
    a
  };
  let full = n / TAP_BLOCK * TAP_BLOCK;
  for bx in (0..full).step_by(TAP_BLOCK) {
    let c: &[V; TAP_BLOCK] = center[bx..bx + TAP_BLOCK].try_into().unwrap();
    let mut a = [0.0f64; TAP_BLOCK];
    for i in 0..TAP_BLOCK {
      a[i] = c[i].to_f64() * k[0];
    }
    for (i, (l, h)) in pairs.iter().enumerate() {
      let (l, h): (&[V; TAP_BLOCK], &[V; TAP_BLOCK]) =
        (l[bx..bx + TAP_BLOCK].try_into().unwrap(), h[bx..bx + TAP_BLOCK].try_into().unwrap());
      let kj = k[r - i];
      for x in 0..TAP_BLOCK {
        a[x] += (l[x].to_f64() + h[x].to_f64()) * kj;
      }
    }
    for (o, &v) in out[bx..bx + TAP_BLOCK].iter_mut().zip(&a) {
      *o = S::from_f64(v);
    }
  }
  for (x, o) in out.iter_mut().enumerate().skip(full) {
    *o = S::from_f64(one(x));
  }
}

/// Row `y` of `gaussian_filter1d(axis=0, mode='mirror')` of the plane, stored as `S`.
#[inline(always)]
fn gaussian_v<T: Element, S: Real>(src: &[T], h: usize, w: usize, y: usize, k: &[f64], out: &mut [S]) {
  let row = |i: isize| {
    let r = mirror_index(i, h);
    &src[r * w..(r + 1) * w]
  };
  let (y, r) = (y as isize, k.len() as isize - 1);
  let pairs: Vec<(&[T], &[T])> = (1..=r).rev().map(|j| (row(y - j), row(y + j))).collect();
  symmetric_taps(row(y), &pairs, k, out);
}

/// `gaussian_filter1d(axis=1, mode='mirror')` of one row `v` in place (stored as `S`); `pad` is
/// scratch. Computed for every column (vectorised) although the zoom reads only some.
#[inline(always)]
fn gaussian_h<S: Real>(v: &mut [S], k: &[f64], pad: &mut Vec<f64>) {
  let (w, r) = (v.len(), k.len() - 1);
  pad.clear();
  let edge = |i: usize| v[mirror_index(i as isize - r as isize, w)].to_f64();
  pad.extend((0..r).map(edge));
  pad.extend(v.iter().map(|x| x.to_f64()));
  pad.extend((r + w..w + 2 * r).map(edge));
  let pairs: Vec<(&[f64], &[f64])> = (1..=r).rev().map(|j| (&pad[r - j..r - j + w], &pad[r + j..r + j + w])).collect();
  symmetric_taps(&pad[r..r + w], &pairs, k, v);
}

/// `skimage.transform.resize(src, (oh, ow), order=1, mode='reflect', preserve_range=True,
/// anti_aliasing=anti_aliasing)` of an `h x w` plane into `out` (`oh * ow`), in working type `S`.
///
/// Panics when a length does not match its shape (a caller bug). Empty shapes are a no-op.
pub fn resize_linear<T: Element, S: Real>(src: &[T], h: usize, w: usize, oh: usize, ow: usize, anti_aliasing: bool, out: &mut [S]) {
  assert_eq!(src.len(), h * w, "resize: src has {} elements, expected {h}x{w}", src.len());
  assert_eq!(out.len(), oh * ow, "resize: out has {} elements, expected {oh}x{ow}", out.len());
  if h == 0 || w == 0 || oh == 0 || ow == 0 {
    return;
  }
  let (lo, hi) = finite_range(src);
  let (ay, ax) = (LinearAxis::new(h, oh), LinearAxis::new(w, ow));
  let (sy, sx) = if anti_aliasing {
    (antialias_sigma(h, oh), antialias_sigma(w, ow))
  } else {
    (None, None)
  };
  let ky = sy.map(gaussian_half_kernel);
  let kx = sx.map(gaussian_half_kernel);
  let zero = S::from_f64(0.0);
  out.par_chunks_mut(ow).enumerate().for_each_init(
    || (vec![zero; w], vec![zero; w], Vec::new()),
    |(r0, r1, pad), (o, orow)| cpu_run!(Kernel::Resize, {
      // The two filtered input rows this output row interpolates (the zoom's input dtype is S).
      for (y, r) in [(ay.i0[o], &mut *r0), (ay.i1[o], &mut *r1)] {
        match &ky {
          Some(k) => gaussian_v(src, h, w, y, k, r),
          None => {
            for (d, &s) in r.iter_mut().zip(&src[y * w..(y + 1) * w]) {
              *d = S::from_f64(s.to_f64());
            }
          }
        }
        if let Some(k) = &kx {
          gaussian_h(r, k, pad);
        }
      }
      let (a0, a1) = (ay.w0[o], ay.w1[o]);
      for (p, d) in orow.iter_mut().enumerate() {
        let (x0, x1, b0, b1) = (ax.i0[p], ax.i1[p], ax.w0[p], ax.w1[p]);
        let mut t = r0[x0].to_f64() * a0 * b0;
        t += r0[x1].to_f64() * a0 * b1;
        t += r1[x0].to_f64() * a1 * b0;
        t += r1[x1].to_f64() * a1 * b1;
        *d = S::from_f64(clip(S::from_f64(t).to_f64(), lo, hi));
      }
    }),
  );
}

/// Bilinear upsampling (no anti-aliasing) one output row at a time, for callers that consume
/// the rows directly (the top-hat fuses it with its subtraction).
///
/// Row `y` equals row `y` of `skimage.transform.resize(src, (h, w), order=1, mode='reflect',
/// preserve_range=True, anti_aliasing=False)` (rounded to the working type `S`, clipped), as f64.
pub struct Upsampler<'a, S> {
  src: &'a [S],
  ws: usize,
  ay: LinearAxis,
  /// Output columns grouped in runs that read the same two source columns:
  /// `(i0, i1, start, end)`, with the per-column weights alongside.
  runs: Vec<(usize, usize, usize, usize)>,
  bx0: Vec<f64>,
  bx1: Vec<f64>,
  /// skimage's clip bounds: the source's `[min, max]`.
  pub lo: f64,
  pub hi: f64,
}

impl<'a, S: Real> Upsampler<'a, S> {
  pub fn new(src: &'a [S], hs: usize, ws: usize, h: usize, w: usize) -> Self {
    Upsampler::with_order(src, hs, ws, h, w, 1)
  }

  /// `resize(src, (h, w), order=order)` for order 0 (nearest) or 1 (linear).
  pub fn with_order(src: &'a [S], hs: usize, ws: usize, h: usize, w: usize, order: usize) -> Self {
    assert_eq!(src.len(), hs * ws, "upsample: src has {} elements, expected {hs}x{ws}", src.len());
    let (lo, hi) = finite_range(src);
    let ax = LinearAxis::of_order(order, ws, w);
    let mut runs: Vec<(usize, usize, usize, usize)> = Vec::new();
    for p in 0..w {
      match runs.last_mut() {
        Some(run) if run.0 == ax.i0[p] && run.1 == ax.i1[p] => run.3 = p + 1,
        _ => runs.push((ax.i0[p], ax.i1[p], p, p + 1)),
      }
    }
    Upsampler {
      src,
      ws,
      ay: LinearAxis::of_order(order, hs, h),
      runs,
      bx0: ax.w0,
      bx1: ax.w1,
      lo,
      hi,
    }
  }

  /// Output row `y` into `row` (its length is the output width).
  #[inline(always)]
  pub fn row(&self, y: usize, row: &mut [f64]) {
    let ws = self.ws;
    let (y0, y1, a0, a1) = (self.ay.i0[y], self.ay.i1[y], self.ay.w0[y], self.ay.w1[y]);
    let (r0, r1) = (&self.src[y0 * ws..(y0 + 1) * ws], &self.src[y1 * ws..(y1 + 1) * ws]);
    for &(i0, i1, start, end) in &self.runs {
      // The corner terms are (value * wy) * wx, summed in scipy's order.
      let (c00, c01) = (r0[i0].to_f64() * a0, r0[i1].to_f64() * a0);
      let (c10, c11) = (r1[i0].to_f64() * a1, r1[i1].to_f64() * a1);
      let dst = &mut row[start..end];
      for ((d, &b0), &b1) in dst.iter_mut().zip(&self.bx0[start..end]).zip(&self.bx1[start..end]) {
        let mut t = c00 * b0;
        t += c01 * b1;
        t += c10 * b0;
        t += c11 * b1;
        *d = clip(S::from_f64(t).to_f64(), self.lo, self.hi);
      }
    }
  }
}

/// `skimage.transform.resize(src, (h // f, w // f), anti_aliasing=True, preserve_range=True,
/// order=1)` of a float32 plane (float32 result, as skimage's), into `out` (`(h/f) * (w/f)`).
/// `f == 0` or an empty result is a no-op.
pub fn downsample_antialiased(src: &[f32], h: usize, w: usize, f: usize, out: &mut [f32]) {
  if f == 0 {
    return;
  }
  resize_linear(src, h, w, h / f, w / f, true, out);
}

/// `skimage.transform.resize(src, (h, w), order=1, preserve_range=True)` of an `hs x ws` float32
/// plane with `h >= hs`, `w >= ws` (upsampling: no anti-aliasing), into `out` (`h * w`).
pub fn upsample_linear(src: &[f32], hs: usize, ws: usize, h: usize, w: usize, out: &mut [f32]) {
  resize_linear(src, hs, ws, h, w, false, out);
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn mirror_index_folds_like_ndimage() {
    // 'mirror' for n = 4, period 6: ... 1 0 1 2 3 2 1 | 0 1 2 3 | 2 1 0 1 2 3 2 ... (i = -7..=10)
    let got: Vec<usize> = (-7..11).map(|i| mirror_index(i, 4)).collect();
    assert_eq!(got, vec![1, 0, 1, 2, 3, 2, 1, 0, 1, 2, 3, 2, 1, 0, 1, 2, 3, 2]);
    assert_eq!(mirror_index(-5, 1), 0);
  }

  #[test]
  fn numpy_sum_is_pairwise() {
    // Pairwise and sequential sums differ on this input; numpy gives the pairwise one:
    // np.sum(np.array([1.0] + [1e-16] * 15)) == 1.0000000000000016 (the tiny terms are summed
    // in 8 accumulators first), whereas left-to-right summation gives exactly 1.0.
    let mut a = vec![1e-16; 16];
    a[0] = 1.0;
    let seq = a.iter().fold(0.0, |s, &v| s + v);
    assert_eq!(seq, 1.0);
    assert_eq!(numpy_sum(&a), 1.0000000000000016);
  }

  #[test]
  fn gaussian_kernel_matches_scipy() {
    // scipy.ndimage._filters._gaussian_kernel1d(1.5, 0, 6)[6:] (sigma of a 4x downsample).
    let k = gaussian_half_kernel(1.5);
    let expected = [
      0.2659642571610709,
      0.212967528547854,
      0.1093411749545305,
      0.03599434807370883,
      0.007597402196596929,
      0.001028196578138909,
      8.922106863539231e-05,
    ];
    assert_eq!(k, expected);
  }

  #[test]
  fn linear_axis_matches_zoom_grid_mode() {
    // Downsampling 8 -> 2: coordinates (o + 0.5) * 4 - 0.5 = 1.5, 5.5.
    let a = LinearAxis::new(8, 2);
    assert_eq!(
      (a.i0.clone(), a.i1.clone(), a.w0.clone(), a.w1.clone()),
      (vec![1, 5], vec![2, 6], vec![0.5, 0.5], vec![0.5, 0.5])
    );
    // Upsampling 2 -> 8: coordinate -0.375 mirrors to 0.375; 1.375 lies past the last sample
    // and reads its mirror image (index 0).
    let a = LinearAxis::new(2, 8);
    assert_eq!((a.i0[0], a.i1[0], a.w0[0]), (0, 1, 0.625));
    assert_eq!((a.i0[7], a.i1[7], a.w0[7]), (1, 0, 0.625));
  }

  #[test]
  fn nearest_axis_rounds_the_grid_mode_coordinate() {
    // 2 -> 8: coordinates (o + 0.5) / 4 - 0.5 = -0.375, -0.125, 0.125, 0.375, 0.625, ..., 1.375,
    // each rounded (floor(c + 0.5)) after the mirror (-0.375 -> 0.375): four 0s, four 1s.
    let a = LinearAxis::nearest(2, 8);
    assert_eq!(a.i0, vec![0, 0, 0, 0, 1, 1, 1, 1]);
    assert_eq!(a.i1, a.i0);
    assert_eq!((a.w0[3], a.w1[3]), (1.0, 0.0));
    // 3 -> 8: (o + 0.5) * 0.375 - 0.5 = -0.3125, 0.0625, 0.4375, 0.8125, 1.1875, 1.5625, 1.9375, 2.3125.
    assert_eq!(LinearAxis::nearest(3, 8).i0, vec![0, 0, 0, 1, 1, 2, 2, 2]);
  }

  /// Exact comparison of a float32 result with values printed by Python as `float(v)`.
  fn assert_f32_exact(got: &[f32], expected: &[f64]) {
    let got: Vec<f64> = got.iter().map(|&v| v as f64).collect();
    assert_eq!(got, expected);
  }

  // Literal outputs of skimage 0.26 (scratch script), printed with `[float(v) for v in r.ravel()]`:
  //   img = ((np.arange(64) * 37) % 101).astype(np.float32).reshape(8, 8)
  //   resize(img, (2, 2), anti_aliasing=True, preserve_range=True, order=1)
  //   img2 = ((np.arange(35) * 37) % 101).astype(np.float32).reshape(5, 7)
  //   resize(img2, (2, 3), anti_aliasing=True, preserve_range=True, order=1)   # factors 2.5, 7/3
  //   resize(np.array([[0, 10], [20, 40]], np.float32), (3, 5), order=1, preserve_range=True)
  #[test]
  fn downsample_matches_skimage_literal() {
    let img: Vec<f32> = (0..64).map(|i| ((i * 37) % 101) as f32).collect();
    let mut out = vec![0.0f32; 4];
    downsample_antialiased(&img, 8, 8, 4, &mut out);
    assert_f32_exact(&out, &[48.32166290283203, 47.641326904296875, 50.71314239501953, 52.00308609008789]);
    let img2: Vec<f32> = (0..35).map(|i| ((i * 37) % 101) as f32).collect();
    let mut out = vec![0.0f32; 6];
    downsample_antialiased(&img2, 5, 7, 2, &mut out);
    assert_f32_exact(
      &out,
      &[
        54.52397918701172,
        41.745704650878906,
        54.556480407714844,
        41.505619049072266,
        55.52972412109375,
        52.908809661865234,
      ],
    );
  }

  #[test]
  fn upsample_matches_skimage_literal() {
    let src = [0.0f32, 10.0, 20.0, 40.0];
    let mut out = vec![0.0f32; 15];
    upsample_linear(&src, 2, 2, 3, 5, &mut out);
    #[rustfmt::skip]
    let expected = [
      6.833333492279053, 4.5, 9.166666984558105, 13.833333015441895, 11.5,
      14.5, 11.5, 17.5, 23.5, 20.5,
      22.16666603088379, 18.5, 25.83333396911621, 33.16666793823242, 29.5,
    ];
    assert_f32_exact(&out, &expected);
  }

  #[test]
  fn empty_and_degenerate_shapes_do_not_panic() {
    let mut out: Vec<f32> = vec![];
    downsample_antialiased(&[1.0, 2.0, 3.0], 1, 3, 2, &mut out);
    downsample_antialiased(&[1.0, 2.0, 3.0], 1, 3, 0, &mut out);
    let mut out = vec![0.0f32; 6];
    upsample_linear(&[5.0], 1, 1, 2, 3, &mut out);
    assert!(out.iter().all(|&v| v == 5.0));
  }
}
