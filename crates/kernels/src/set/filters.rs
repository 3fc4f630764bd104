//! Set operations: filters (DESIGN §12) — `differenceOfGaussian`, `sobel`, `laplace`,
//! `subtractGaussianBackground`, `rollingBall`, `rescaleIntensity`.
//!
//! Every filter works on the values as given: where scikit-image rescales integer images to
//! `[0, 1]` (`img_as_float`) we convert with `astype(float64)` instead, so a uint16 edge map is in
//! grey levels, not fractions of 65535. The float arithmetic follows the oracle's order of
//! operations (scipy's `NI_Correlate` / `NI_Correlate1D` loops, skimage's Cython rolling-ball loop),
//! so float results are the oracle's up to last-bit differences of Gaussian taps and integer
//! results are identical.

use super::{slices, Call, Output, SetOp};
use crate::gaussian::{border_index, check_sigma, gaussian_plane, BorderMode};
use crate::image::Dims;
use rayon::prelude::*;
use serde_json::Value;
use stackbridge_core::cpu::Kernel;
use stackbridge_core::{cpu_run, with_dtype, DType, Element, SbError, SbResult};

pub const OPS: &[SetOp] = &[
  SetOp { name: "differenceOfGaussian", separable: true, arrays: &[], keeps_dtype: false, special: None, run: run_dog },
  SetOp { name: "sobel", separable: true, arrays: &[], keeps_dtype: false, special: None, run: run_sobel },
  SetOp { name: "laplace", separable: true, arrays: &[], keeps_dtype: false, special: None, run: run_laplace },
  SetOp { name: "subtractGaussianBackground", separable: true, arrays: &[], keeps_dtype: true, special: None, run: run_subtract_background },
  SetOp { name: "rollingBall", separable: true, arrays: &[], keeps_dtype: true, special: None, run: run_rolling_ball },
  // The 'image' input range is the whole stack's min / max, so slices are not independent.
  SetOp { name: "rescaleIntensity", separable: false, arrays: &[], keeps_dtype: true, special: None, run: run_rescale },
];

// ------------------------------------------------------------------------------------------------
// Plumbing

/// Runs `plane(input slice, output slice)` on every Z slice of the call's stack into a new stack of
/// `out_dtype`, `T` bound to the input's element type and `O` to `out_dtype`'s.
macro_rules! per_slice {
  ($call:expr, $dims:expr, $out_dtype:expr, |$T:ident, $O:ident, $s:ident, $o:ident| $body:expr) => {{
    let call: &Call = $call;
    let dims: Dims = $dims;
    let out = call.alloc(dims, $out_dtype)?;
    {
      let src = call.input.pin()?;
      let dst = out.pin()?;
      with_dtype!(call.input.dtype, $T => {
        with_dtype!(out.dtype, $O => {
          let plane = dims.plane();
          slices(call.cancel, dims.z, src.as_slice::<$T>(), plane, dst.as_mut_slice::<$O>(), plane, |_, $s: &[$T], $o: &mut [$O]| {
            $body;
            Ok(())
          })?;
        })
      });
    }
    Ok(Output::array(out))
  }};
}

/// Rows per parallel band of a plane `h` rows high: a few bands per thread, at least 8 rows.
fn band_rows(h: usize) -> usize {
  h.div_ceil(4 * rayon::current_num_threads().max(1)).clamp(8, 64)
}

/// Plane rows `lo..hi` (each reflected into the plane, `'reflect'` as scipy) converted to f64 with
/// one reflected sample on each side: row `k` starts at `buf[k * (w + 2)]`, sample `x` at `+ x + 1`.
fn padded_rows_f64<T: Element>(src: &[T], h: usize, w: usize, lo: isize, hi: isize, buf: &mut Vec<f64>) {
  buf.clear();
  for y in lo..hi {
    let row = &src[border_index(y, h, BorderMode::Reflect) * w..][..w];
    buf.push(row[border_index(-1, w, BorderMode::Reflect)].to_f64());
    buf.extend(row.iter().map(|v| v.to_f64()));
    buf.push(row[border_index(w as isize, w, BorderMode::Reflect)].to_f64());
  }
}

/// Runs a 3 × 3 stencil over an `h × w` plane: `row(up, mid, down, out_row)` gets the three padded
/// f64 rows (`w + 2` samples each, reflect borders) around each output row. Parallel over bands.
fn stencil3<T: Element, O: Send>(src: &[T], h: usize, w: usize, out: &mut [O], row: impl Fn(&[f64], &[f64], &[f64], &mut [O]) + Sync) {
  if h == 0 || w == 0 || src.len() != h * w || out.len() != h * w {
    return;
  }
  let band = band_rows(h);
  out.par_chunks_mut(band * w).enumerate().for_each(|(b, ob)| {
    let y0 = b * band;
    let n = ob.len() / w;
    let mut buf = Vec::with_capacity((n + 2) * (w + 2));
    padded_rows_f64(src, h, w, y0 as isize - 1, (y0 + n + 1) as isize, &mut buf);
    let pw = w + 2;
    for (i, orow) in ob.chunks_exact_mut(w).enumerate() {
      row(&buf[i * pw..][..pw], &buf[(i + 1) * pw..][..pw], &buf[(i + 2) * pw..][..pw], orow);
    }
  });
}

// ------------------------------------------------------------------------------------------------
// sobel, laplace

/// `np.sqrt(2, dtype=float64)`: skimage divides the magnitude by `sqrt(ndim)`.
const SQRT_2: f64 = std::f64::consts::SQRT_2;

/// One row of `skimage.filters.sobel(x.astype(float64))`: `up`/`mid`/`dn` are the padded rows
/// around it. skimage convolves with `[1, 0, -1] ⊗ [1, 2, 1] / 4` per axis through
/// `scipy.ndimage.convolve`, whose `NI_Correlate` sums the non-zero taps of the flipped kernel in
/// raster order from `0.0`; the taps are powers of two, so every product is exact and only the
/// order of the additions matters, which this reproduces.
#[inline(always)]
fn sobel_row(up: &[f64], mid: &[f64], dn: &[f64], out: &mut [f32]) {
  let w = out.len();
  let (u0, u1, u2) = (&up[..w], &up[1..w + 1], &up[2..w + 2]);
  let (m0, m2) = (&mid[..w], &mid[2..w + 2]);
  let (d0, d1, d2) = (&dn[..w], &dn[1..w + 1], &dn[2..w + 2]);
  for x in 0..w {
    // Axis 0 (rows): correlation taps -¼ -½ -¼ on the row above, ¼ ½ ¼ below.
    let gy = -0.25 * u0[x] + -0.5 * u1[x] + -0.25 * u2[x] + 0.25 * d0[x] + 0.5 * d1[x] + 0.25 * d2[x];
    // Axis 1 (columns): -¼ ¼ / -½ ½ / -¼ ¼ at x - 1, x + 1, row by row.
    let gx = -0.25 * u0[x] + 0.25 * u2[x] + -0.5 * m0[x] + 0.5 * m2[x] + -0.25 * d0[x] + 0.25 * d2[x];
    // output = 0 + gy², then += gx² (axis 0 first); sqrt(output) / sqrt(2).
    out[x] = ((gy * gy + gx * gx).sqrt() / SQRT_2) as f32;
  }
}

/// `skimage.filters.sobel(plane.astype(float64))` (mode `'reflect'`, the magnitude
/// `sqrt((g₀² + g₁²) / 2)` computed as skimage does, `sqrt(Σ) / sqrt(2)`) as float32, on the
/// values as given (no `img_as_float` rescaling of integers). NaN and ±inf propagate through the
/// non-zero taps as in scipy (a pixel's own value has weight 0 in both kernels). Precondition:
/// `src.len() == out.len() == h * w`.
pub fn sobel_plane<T: Element>(src: &[T], h: usize, w: usize, out: &mut [f32]) {
  stencil3(src, h, w, out, |u, m, d, o| cpu_run!(Kernel::Gaussian, sobel_row(u, m, d, o)));
}

/// One row of `scipy.ndimage.laplace`: per axis `correlate1d(·, [1, -2, 1])`, which scipy's
/// symmetric path computes as `x₀·(−2) + (x₋₁ + x₁)·1`; the axis-1 result is added to the axis-0 one.
#[inline(always)]
fn laplace_row(up: &[f64], mid: &[f64], dn: &[f64], out: &mut [f32]) {
  let w = out.len();
  let (m0, m1, m2) = (&mid[..w], &mid[1..w + 1], &mid[2..w + 2]);
  let (u1, d1) = (&up[1..w + 1], &dn[1..w + 1]);
  for x in 0..w {
    let c = m1[x] * -2.0;
    let d2y = c + (u1[x] + d1[x]);
    let d2x = c + (m0[x] + m2[x]);
    out[x] = (d2y + d2x) as f32;
  }
}

/// `scipy.ndimage.laplace(plane.astype(float64), mode='reflect')` as float32 (scipy's arithmetic in
/// f64, rounded once). NaN / inf propagate as in scipy. Precondition as [`sobel_plane`].
pub fn laplace_plane<T: Element>(src: &[T], h: usize, w: usize, out: &mut [f32]) {
  stencil3(src, h, w, out, |u, m, d, o| cpu_run!(Kernel::Gaussian, laplace_row(u, m, d, o)));
}

fn run_sobel(call: &Call) -> SbResult<Output> {
  call.params(&[])?;
  let dims = call.dims()?;
  per_slice!(call, dims, DType::F32, |T, O, s, o| sobel_plane::<T>(s, dims.h, dims.w, cast_out::<O, f32>(o)))
}

fn run_laplace(call: &Call) -> SbResult<Output> {
  call.params(&[])?;
  let dims = call.dims()?;
  per_slice!(call, dims, DType::F32, |T, O, s, o| laplace_plane::<T>(s, dims.h, dims.w, cast_out::<O, f32>(o)))
}

/// `o` as a slice of `U`, which it is (the macro binds `O` to the output dtype's type, `U`).
fn cast_out<O: Element, U: Element>(o: &mut [O]) -> &mut [U] {
  assert_eq!(O::DTYPE, U::DTYPE, "output dtype");
  // SAFETY: same element type (checked just above).
  unsafe { std::slice::from_raw_parts_mut(o.as_mut_ptr() as *mut U, o.len()) }
}

// ------------------------------------------------------------------------------------------------
// differenceOfGaussian, subtractGaussianBackground

/// A Gaussian sigma option: finite, ≥ 0, with a kernel that fits (as the `gaussian` processor).
fn sigma_option(p: &crate::params::Params, key: &str, default: f64, name: &str) -> SbResult<f64> {
  let s = p.f64(key, default)?;
  check_sigma(s).map_err(|e| SbError::invalid(format!("{name}: option {key}: {}", e.message)).with("option", key))?;
  Ok(s)
}

/// `plane.astype(float64)` and `scipy.ndimage.gaussian_filter(·, sigma)` of it (reflect, truncate 4).
fn gaussian_f64(x64: &[f64], h: usize, w: usize, sigma: f64) -> Vec<f64> {
  let mut g = vec![0.0; x64.len()];
  gaussian_plane::<f64>(x64, h, w, sigma, BorderMode::Reflect, &mut g);
  g
}

fn to_f64<T: Element>(src: &[T]) -> Vec<f64> {
  let mut v = vec![0.0; src.len()];
  v.par_chunks_mut(1 << 16).zip(src.par_chunks(1 << 16)).for_each(|(o, s)| o.iter_mut().zip(s).for_each(|(o, s)| *o = s.to_f64()));
  v
}

/// `gaussian_filter(x, sigma1) − gaussian_filter(x, sigma2)` with `x = plane.astype(float64)`
/// (scipy, mode `'reflect'`, truncate 4, each filter in f64 as [`gaussian_plane`]), the difference
/// in f64 rounded to float32. A sigma of 0 is the identity (scipy skips the axis). NaN spreads over
/// each kernel's support, as in scipy. Precondition: `src.len() == out.len() == h * w`.
pub fn difference_of_gaussian_plane<T: Element>(src: &[T], h: usize, w: usize, sigma1: f64, sigma2: f64, out: &mut [f32]) {
  if src.is_empty() || src.len() != h * w || out.len() != src.len() {
    return;
  }
  let x = to_f64(src);
  let (g1, g2) = (gaussian_f64(&x, h, w, sigma1), gaussian_f64(&x, h, w, sigma2));
  out.par_iter_mut().zip(g1.par_iter().zip(&g2)).for_each(|(o, (a, b))| *o = (a - b) as f32);
}

/// `x − gaussian_filter(x, sigma)` clipped at 0, `x = plane.astype(float64)` (scipy, reflect,
/// truncate 4), in f64, then cast to `T`: for integers `np.clip(v, 0, iinfo(T).max).astype(T)`
/// (truncation toward zero; the upper clip only matters for signed types, whose difference can
/// exceed the dtype), for float32 rounding to nearest, for float64 exact. NaN stays NaN (as
/// `np.maximum(v, 0)`); a NaN pixel spreads over the kernel's support as in scipy.
pub fn subtract_gaussian_background_plane<T: Element>(src: &[T], h: usize, w: usize, sigma: f64, out: &mut [T]) {
  if src.is_empty() || src.len() != h * w || out.len() != src.len() {
    return;
  }
  let x = to_f64(src);
  let g = gaussian_f64(&x, h, w, sigma);
  out.par_iter_mut().zip(x.par_iter().zip(&g)).for_each(|(o, (a, b))| {
    let v = a - b;
    // `as` saturates and truncates (the clip and astype above); NaN only reaches float types.
    *o = T::from_f64(if v < 0.0 { 0.0 } else { v });
  });
}

/// `differenceOfGaussian`'s `{ sigma1 = 1, sigma2 = 2 }` (also the device kernels' parser).
pub fn dog_options(call: &Call) -> SbResult<(f64, f64)> {
  let p = call.params(&["sigma1", "sigma2"])?;
  Ok((sigma_option(&p, "sigma1", 1.0, call.name)?, sigma_option(&p, "sigma2", 2.0, call.name)?))
}

/// `subtractGaussianBackground`'s `{ sigma = 10 }` (also the device kernels' parser).
pub fn background_options(call: &Call) -> SbResult<f64> {
  let p = call.params(&["sigma"])?;
  sigma_option(&p, "sigma", 10.0, call.name)
}

fn run_dog(call: &Call) -> SbResult<Output> {
  let (s1, s2) = dog_options(call)?;
  let dims = call.dims()?;
  per_slice!(call, dims, DType::F32, |T, O, s, o| difference_of_gaussian_plane::<T>(s, dims.h, dims.w, s1, s2, cast_out::<O, f32>(o)))
}

fn run_subtract_background(call: &Call) -> SbResult<Output> {
  let sigma = background_options(call)?;
  let dims = call.dims()?;
  per_slice!(call, dims, call.input.dtype, |T, O, s, o| subtract_gaussian_background_plane::<T>(s, dims.h, dims.w, sigma, cast_out::<O, T>(o)))
}

// ------------------------------------------------------------------------------------------------
// rollingBall

/// The largest ball radius accepted: the brute-force cost grows with r², and beyond this a slice
/// would take minutes (the ball's table alone is small).
pub const MAX_BALL_RADIUS: f64 = 1024.0;

/// The float type skimage computes the rolling ball in: float32 for float32 images, else float64.
trait BallReal: Copy + Send + Sync + PartialOrd + std::ops::Add<Output = Self> + 'static {
  const INF: Self;
  fn of_f64(v: f64) -> Self;
  /// `center − k` as skimage computes `intensity_difference` (in the image's float type).
  fn diff(center: f64, k: f64) -> Self;
}
impl BallReal for f64 {
  const INF: f64 = f64::INFINITY;
  fn of_f64(v: f64) -> f64 {
    v
  }
  fn diff(center: f64, k: f64) -> f64 {
    center - k
  }
}
impl BallReal for f32 {
  const INF: f32 = f32::INFINITY;
  fn of_f64(v: f64) -> f32 {
    v as f32
  }
  fn diff(center: f64, k: f64) -> f32 {
    // kernel.astype(float32), then the subtraction in float32.
    center as f32 - k as f32
  }
}

/// skimage's `ball_kernel(radius, 2)` as intensity differences, one quadrant (the ball is
/// symmetric in both axes): `rows[dy][dx]` for `dx` up to the chord's half width is
/// `k(0, 0) − k(dy, dx)`, `k = sqrt(max(r² − dy² − dx², 0))`, for the offsets with
/// `sqrt(dy² + dx²) ≤ r` (the others are `inf` in skimage and never win the minimum).
struct Ball<A> {
  rows: Vec<Vec<A>>,
}

impl<A: BallReal> Ball<A> {
  fn new(radius: f64) -> Ball<A> {
    let big_r = radius.ceil() as usize;
    let r2 = radius * radius;
    let center = (r2 - 0.0f64).max(0.0).sqrt();
    let rows = (0..=big_r)
      .map(|dy| {
        (0..=big_r)
          .map(|dx| ((dy * dy + dx * dx) as f64, dx))
          .take_while(|&(s, _)| s.sqrt() <= radius)
          .map(|(s, _)| A::diff(center, (r2 - s).max(0.0).sqrt()))
          .collect::<Vec<A>>()
      })
      .filter(|r| !r.is_empty())
      .collect();
    Ball { rows }
  }

  /// Rows above / below the centre the ball reaches.
  fn reach(&self) -> usize {
    self.rows.len() - 1
  }
}

/// Output columns per register block of the rolling ball.
const BL: usize = 32;

/// `s[at..at + L]` as an array; the caller guarantees the range is inside `s` (checked once per
/// plane in [`rolling_ball_plane`]: per-access checks in the inner loop cost more than the work).
#[inline(always)]
fn lanes<const L: usize, A>(s: &[A], at: usize) -> &[A; L] {
  debug_assert!(at + L <= s.len());
  // SAFETY: see above.
  unsafe { &*(s.as_ptr().add(at) as *const [A; L]) }
}

/// The background of one output row `y`: `bg[x] = min over the ball of (f[y+dy][x+dx] + diff)` on
/// the padded plane `pad` (`reach` rows / columns of +inf around the image, NaN already +inf, row
/// stride `pw`), for `x < out.len()` rounded up to [`BL`]; written into `out` (length a multiple of BL).
#[inline(always)]
fn ball_row<A: BallReal>(pad: &[A], pw: usize, ball: &Ball<A>, y: usize, out: &mut [A]) {
  let rr = ball.reach();
  let min = |a: A, b: A| if b < a { b } else { a };
  for x0 in (0..out.len()).step_by(BL) {
    let mut acc = [A::INF; BL];
    for (dy, diffs) in ball.rows.iter().enumerate() {
      let up = (y + rr - dy) * pw + x0 + rr;
      let dn = (y + rr + dy) * pw + x0 + rr;
      for (dx, &d) in diffs.iter().enumerate() {
        // The four mirror offsets (±dy, ±dx) share `d`; min(a, b) + d rounds as min(a + d, b + d).
        let (a, b) = (lanes::<BL, A>(pad, up - dx), lanes::<BL, A>(pad, up + dx));
        let (c, e) = (lanes::<BL, A>(pad, dn - dx), lanes::<BL, A>(pad, dn + dx));
        for l in 0..BL {
          let m = min(min(a[l], b[l]), min(c[l], e[l]));
          acc[l] = min(acc[l], m + d);
        }
      }
    }
    out[x0..x0 + BL].copy_from_slice(&acc);
  }
}

/// The background `skimage.restoration.rolling_ball(plane, radius=radius)` estimates, in skimage's
/// float type `A` (float32 for float32 planes, else float64), into `bg` (`h * w`).
///
/// skimage pads with +inf and takes, per pixel, the minimum of `f(p + o) + (k(0) − k(o))` over the
/// ball's offsets `o` (`k` = `sqrt(r² − |o|²)`) in its float type. The same candidates are
/// compared here, four mirror offsets at a time, so the minimum is bit-identical. NaN: skimage's
/// default (`nansafe=False`) loop never takes a NaN candidate (`min > NaN` is false), which is
/// what reading NaN as +inf does; a pixel whose whole ball is NaN gets +inf, as in skimage.
/// Brute force over the ball (O(r²) per pixel, as skimage) but vectorised over 32 columns and
/// parallel over rows.
fn rolling_ball_background<T: Element, A: BallReal>(src: &[T], h: usize, w: usize, ball: &Ball<A>, bg: &mut [A]) {
  let rr = ball.reach();
  let wr = w.next_multiple_of(BL);
  let pw = wr + 2 * rr;
  let ph = h + 2 * rr;
  let mut pad = vec![A::INF; ph * pw];
  pad[rr * pw..(rr + h) * pw].par_chunks_mut(pw).zip(src.par_chunks(w)).for_each(|(p, s)| {
    for (o, v) in p[rr..rr + w].iter_mut().zip(s) {
      let f = v.to_f64();
      *o = if f.is_nan() { A::INF } else { A::of_f64(f) };
    }
  });
  // Every block `ball_row` reads is inside `pad`: rows y ± dy ∈ [0, ph), columns x0 + rr ± dx + BL ≤ pw.
  assert!(pad.len() == ph * pw && ball.rows.iter().all(|r| r.len() <= rr + 1));
  bg.par_chunks_mut(w).enumerate().for_each_init(
    || vec![A::INF; wr],
    |row, (y, out)| {
      cpu_run!(Kernel::Morphology, ball_row(&pad, pw, ball, y, row));
      out.copy_from_slice(&row[..w]);
    },
  );
}

/// `rollingBall` on one plane: `skimage.restoration.rolling_ball(plane, radius=radius)` — the
/// background cast to `T` as skimage does (`astype`: truncation toward zero for integers) — or,
/// unless `return_background`, the plane minus it: for integers exact and saturated to the dtype
/// (numpy's `image - background` could only wrap for signed types with a background far below a
/// pixel; we saturate), for floats in the float type (NaN pixels stay NaN). See
/// [`rolling_ball_background`] for the arithmetic and NaN rule. Precondition as [`sobel_plane`].
pub fn rolling_ball_plane<T: Element>(src: &[T], h: usize, w: usize, radius: f64, return_background: bool, out: &mut [T]) {
  if src.is_empty() || src.len() != h * w || out.len() != src.len() {
    return;
  }
  fn finish<T: Element, A: BallReal + Into<f64>>(src: &[T], bg: &[A], return_background: bool, out: &mut [T]) {
    out.par_iter_mut().zip(src.par_iter().zip(bg)).for_each(|(o, (&x, &b))| {
      let b = T::from_f64(b.into());
      *o = if return_background {
        b
      } else if T::DTYPE.is_float() {
        T::from_f64(x.to_f64() - b.to_f64())
      } else {
        T::from_f64((x.to_i64() - b.to_i64()) as f64)
      };
    });
  }
  if T::DTYPE == DType::F32 {
    let ball = Ball::<f32>::new(radius);
    let mut bg = vec![0.0f32; h * w];
    rolling_ball_background(src, h, w, &ball, &mut bg);
    finish(src, &bg, return_background, out);
  } else {
    let ball = Ball::<f64>::new(radius);
    let mut bg = vec![0.0f64; h * w];
    rolling_ball_background(src, h, w, &ball, &mut bg);
    finish(src, &bg, return_background, out);
  }
}

fn run_rolling_ball(call: &Call) -> SbResult<Output> {
  let p = call.params(&["radius", "returnBackground"])?;
  let radius = p.f64("radius", 50.0)?;
  if !(0.0..=MAX_BALL_RADIUS).contains(&radius) {
    return Err(SbError::invalid(format!("{}: option radius must be in [0, {MAX_BALL_RADIUS}], got {radius}", call.name)).with("option", "radius"));
  }
  let return_background = p.bool("returnBackground", false)?;
  let dims = call.dims()?;
  per_slice!(call, dims, call.input.dtype, |T, O, s, o| rolling_ball_plane::<T>(s, dims.h, dims.w, radius, return_background, cast_out::<O, T>(o)))
}

// ------------------------------------------------------------------------------------------------
// rescaleIntensity

/// An intensity range option of `rescaleIntensity`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Range {
  /// The stack's min / max (`in_range='image'`).
  Image,
  /// The dtype's limits: integer limits, `(-1, 1)` for floats (skimage's `dtype_range`).
  Dtype,
  Explicit(f64, f64),
}

/// Reads option `key` of `rescaleIntensity`: one of `names` or `[lo, hi]` (finite, `lo ≤ hi`
/// unless `ordered` is false).
fn range_option(call: &Call, key: &str, names: &[&str], default: Range, ordered: bool) -> SbResult<Range> {
  let value: Value = if call.options.trim().is_empty() { Value::Null } else { serde_json::from_str(call.options).unwrap_or(Value::Null) };
  let want = format!("{} or [lo, hi] (finite numbers{})", names.iter().map(|n| format!("'{n}'")).collect::<Vec<_>>().join(" | "), if ordered { ", lo ≤ hi" } else { "" });
  let bad = |got: &Value| SbError::invalid(format!("{}: option {key} must be {want}, got {got}", call.name)).with("option", key);
  match value.get(key) {
    None | Some(Value::Null) => Ok(default),
    Some(Value::String(s)) if names.contains(&s.as_str()) => Ok(if s == "image" { Range::Image } else { Range::Dtype }),
    Some(v @ Value::Array(items)) => {
      let xs: Vec<f64> = items.iter().filter_map(|x| x.as_f64().filter(|x| x.is_finite())).collect();
      match (items.len(), xs.as_slice()) {
        (2, &[lo, hi]) if !ordered || lo <= hi => Ok(Range::Explicit(lo, hi)),
        _ => Err(bad(v)),
      }
    }
    Some(v) => Err(bad(v)),
  }
}

/// skimage's `dtype_range` of `dtype` (floats: `(-1, 1)`).
fn dtype_range(dtype: DType) -> (f64, f64) {
  match dtype {
    DType::U8 => (0.0, 255.0),
    DType::U16 => (0.0, 65535.0),
    DType::I16 => (-32768.0, 32767.0),
    DType::I32 => (-2147483648.0, 2147483647.0),
    DType::U32 => (0.0, 4294967295.0),
    DType::F32 | DType::F64 => (-1.0, 1.0),
  }
}

/// The stack's min and max as `np.min` / `np.max` give them (NaN if any element is NaN).
fn min_max<T: Element>(src: &[T]) -> (f64, f64) {
  src
    .par_chunks(1 << 16)
    .map(|c| {
      c.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        let v = v.to_f64();
        if v.is_nan() || lo.is_nan() {
          (f64::NAN, f64::NAN)
        } else {
          (lo.min(v), hi.max(v))
        }
      })
    })
    .reduce(
      || (f64::INFINITY, f64::NEG_INFINITY),
      |a, b| if a.0.is_nan() || b.0.is_nan() { (f64::NAN, f64::NAN) } else { (a.0.min(b.0), a.1.max(b.1)) },
    )
}

/// `np.clip(v, lo, hi)`: NaN stays NaN.
#[inline(always)]
fn clip<F: PartialOrd + Copy>(v: F, lo: F, hi: F) -> F {
  if v < lo {
    lo
  } else if v > hi {
    hi
  } else {
    v
  }
}

/// The resolved levels of `rescaleIntensity` (skimage's `imin, imax, omin, omax`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Levels {
  pub imin: f64,
  pub imax: f64,
  pub omin: f64,
  pub omax: f64,
}

impl Levels {
  /// skimage's resolution: `in_range` from the stack (`min_max`), the dtype or the pair; the
  /// output range `'dtype'` is the dtype's limits with its minimum replaced by 0 when `imin ≥ 0`.
  pub fn resolve(dtype: DType, input: Range, output: Range, min_max: impl FnOnce() -> (f64, f64)) -> Levels {
    let (imin, imax) = match input {
      Range::Image => min_max(),
      Range::Dtype => dtype_range(dtype),
      Range::Explicit(lo, hi) => (lo, hi),
    };
    let (omin, omax) = match output {
      Range::Explicit(lo, hi) => (lo, hi),
      _ => {
        let (lo, hi) = dtype_range(dtype);
        (if imin >= 0.0 { 0.0 } else { lo }, hi)
      }
    };
    Levels { imin, imax, omin, omax }
  }
}

/// `skimage.exposure.rescale_intensity(stack, in_range, out_range)` on the whole stack, kept in
/// the input dtype. skimage's arithmetic: `v = clip(x, imin, imax)`, then
/// `(v − imin) / (imax − imin) · (omax − omin) + omin` (or `clip(v, omin, omax)` when
/// `imin == imax`), in float64 for integer and float64 stacks and in float32 for float32 stacks
/// (numpy 2 keeps float32 against Python-float levels, which it rounds to float32; the level
/// differences are taken in float64 first, as skimage's Python does). skimage returns float for a
/// numeric `out_range`; we cast the float result to the input dtype: for integers saturated to the
/// dtype's range and truncated toward zero (numpy's `astype`, which is also what skimage does for
/// `out_range='dtype'`), floats unchanged. NaN: `'image'` takes `np.min` / `np.max`, which are NaN
/// when any pixel is, so the whole result is NaN as skimage's (pass `inRange` to avoid it); with
/// explicit levels a NaN pixel stays NaN.
pub fn rescale_intensity<T: Element>(src: &[T], lv: Levels, out: &mut [T]) {
  let Levels { imin, imax, omin, omax } = lv;
  if T::DTYPE == DType::F32 {
    let (lo, hi) = (imin as f32, imax as f32);
    let (span, ospan, o0) = ((imax - imin) as f32, (omax - omin) as f32, omin as f32);
    let (olo, ohi) = (omin as f32, omax as f32);
    out.par_chunks_mut(1 << 16).zip(src.par_chunks(1 << 16)).for_each(|(o, s)| {
      for (o, x) in o.iter_mut().zip(s) {
        let v = clip(x.to_f64() as f32, lo, hi);
        let r = if imin != imax { (v - lo) / span * ospan + o0 } else { clip(v, olo, ohi) };
        *o = T::from_f64(r as f64);
      }
    });
  } else {
    let (span, ospan) = (imax - imin, omax - omin);
    out.par_chunks_mut(1 << 16).zip(src.par_chunks(1 << 16)).for_each(|(o, s)| {
      for (o, x) in o.iter_mut().zip(s) {
        let v = clip(x.to_f64(), imin, imax);
        let r = if imin != imax { (v - imin) / span * ospan + omin } else { clip(v, omin, omax) };
        *o = T::from_f64(r);
      }
    });
  }
}

fn run_rescale(call: &Call) -> SbResult<Output> {
  call.params(&["inRange", "outRange"])?;
  let input = range_option(call, "inRange", &["image", "dtype"], Range::Image, true)?;
  // A reversed output range inverts the intensities, which skimage allows.
  let output = range_option(call, "outRange", &["dtype"], Range::Dtype, false)?;
  let dims = call.dims()?;
  let out = call.alloc(dims, call.input.dtype)?;
  if dims.is_empty() {
    return Ok(Output::array(out));
  }
  call.cancel.check()?;
  {
    let src = call.input.pin()?;
    let dst = out.pin()?;
    with_dtype!(call.input.dtype, T => {
      let s = src.as_slice::<T>();
      let lv = Levels::resolve(T::DTYPE, input, output, || min_max(s));
      rescale_intensity(s, lv, dst.as_mut_slice::<T>());
    });
  }
  Ok(Output::array(out))
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::dispatch::run_named;
  use stackbridge_core::{Cancel, ErrorCode, HostArray, MemoryType};

  fn stack<T: Element>(shape: [usize; 3], f: impl Fn(usize) -> f64) -> HostArray {
    let a = HostArray::alloc(shape.to_vec(), T::DTYPE, MemoryType::Numpy, false).unwrap();
    for (i, v) in a.pin().unwrap().as_mut_slice::<T>().iter_mut().enumerate() {
      *v = T::from_f64(f(i));
    }
    a
  }

  fn vals(a: &HostArray) -> Vec<f64> {
    let p = a.pin().unwrap();
    with_dtype!(a.dtype, T => p.as_slice::<T>().iter().map(|v| v.to_f64()).collect())
  }

  fn run(name: &str, a: &HostArray, opts: &str) -> SbResult<HostArray> {
    run_named(name, a, opts, &[], &Cancel::none()).map(|o| o.array.unwrap())
  }

  #[test]
  fn option_errors_are_typed() {
    let a = stack::<u16>([1, 4, 5], |i| i as f64);
    for (name, opts) in [
      ("sobel", r#"{"x": 1}"#),
      ("differenceOfGaussian", r#"{"sigma1": -1}"#),
      ("differenceOfGaussian", r#"{"sigma2": "a"}"#),
      ("differenceOfGaussian", r#"{"sigma1": 1e9}"#),
      ("subtractGaussianBackground", r#"{"sigma": -0.5}"#),
      ("rollingBall", r#"{"radius": -1}"#),
      ("rollingBall", r#"{"radius": 5000}"#),
      ("rollingBall", r#"{"returnBackground": 1}"#),
      ("rescaleIntensity", r#"{"inRange": "foo"}"#),
      ("rescaleIntensity", r#"{"inRange": [5, 3]}"#),
      ("rescaleIntensity", r#"{"inRange": [1]}"#),
      ("rescaleIntensity", r#"{"inRange": [1, "a"]}"#),
      ("rescaleIntensity", r#"{"outRange": "image"}"#),
      ("rescaleIntensity", r#"{"outRange": 3}"#),
      ("rescaleIntensity", r#"{"typo": 3}"#),
    ] {
      let e = run(name, &a, opts).err().unwrap_or_else(|| panic!("{name} {opts} accepted"));
      assert_eq!(e.code, ErrorCode::InvalidArgument, "{name} {opts}: {e:?}");
    }
    // A reversed output range is allowed (inversion), as in skimage.
    let inv = run("rescaleIntensity", &a, r#"{"outRange": [100, 0]}"#).unwrap();
    assert_eq!(vals(&inv)[0], 100.0);
    assert_eq!(vals(&inv)[19], 0.0);
  }

  #[test]
  fn empty_and_tiny_stacks() {
    for shape in [[0, 3, 4], [2, 0, 3], [2, 3, 0], [1, 1, 1], [1, 1, 7], [1, 7, 1], [1, 2, 3]] {
      let a = stack::<u16>(shape, |i| (i * 37 % 11) as f64);
      for name in ["differenceOfGaussian", "sobel", "laplace", "subtractGaussianBackground", "rollingBall", "rescaleIntensity"] {
        let o = run(name, &a, r#"{}"#).unwrap_or_else(|e| panic!("{name} {shape:?}: {e:?}"));
        assert_eq!(o.shape, shape.to_vec(), "{name}");
      }
    }
    let bad = HostArray::alloc(vec![3, 4], DType::U8, MemoryType::Numpy, false).unwrap();
    assert_eq!(run("sobel", &bad, "{}").unwrap_err().code, ErrorCode::Dimension);
  }

  #[test]
  fn rolling_ball_matches_brute_force() {
    // The textbook loop (skimage's apply_kernel over the full ball, +inf padding) on odd shapes.
    for (h, w, radius) in [(9usize, 13usize, 3.0f64), (5, 40, 2.5), (30, 7, 6.0), (4, 4, 10.0), (1, 1, 2.0)] {
      let src: Vec<f64> = (0..h * w).map(|i| ((i * 7919) % 1013) as f64 * 0.37 + if i % 17 == 0 { f64::NAN } else { 0.0 }).collect();
      let rr = radius.ceil() as isize;
      let mut want = vec![0.0; h * w];
      for y in 0..h as isize {
        for x in 0..w as isize {
          let mut m = f64::INFINITY;
          for dy in -rr..=rr {
            for dx in -rr..=rr {
              let s = (dy * dy + dx * dx) as f64;
              if s.sqrt() > radius || y + dy < 0 || x + dx < 0 || y + dy >= h as isize || x + dx >= w as isize {
                continue;
              }
              let t = src[((y + dy) * w as isize + x + dx) as usize] + ((radius * radius - 0.0).sqrt() - (radius * radius - s).max(0.0).sqrt());
              if m > t {
                m = t;
              }
            }
          }
          want[(y * w as isize + x) as usize] = m;
        }
      }
      let mut got = vec![0.0; h * w];
      rolling_ball_plane(&src, h, w, radius, true, &mut got);
      for i in 0..h * w {
        assert!(got[i] == want[i] || (got[i].is_nan() && want[i].is_nan()), "{h}x{w} r{radius} at {i}: {} vs {}", got[i], want[i]);
      }
    }
  }

  #[test]
  fn sobel_and_laplace_of_a_ramp() {
    // x-ramp of slope 2: the central difference is 4 → sobel 4 / sqrt(2), laplace 0.
    let a = stack::<i16>([1, 5, 6], |i| (i % 6) as f64 * 2.0);
    let s = vals(&run("sobel", &a, "{}").unwrap());
    assert!((s[6 + 2] - (4.0f64 / 2.0f64.sqrt()) as f32 as f64).abs() < 1e-6);
    let l = vals(&run("laplace", &a, "{}").unwrap());
    assert_eq!(l[6 + 2], 0.0);
  }

  #[test]
  #[ignore]
  fn time_bench_ops() {
    let a = stack::<u16>([4, 1024, 1024], |i| ((i as u64).wrapping_mul(2654435761) >> 16) as u16 as f64);
    for (name, opts) in [("sobel", "{}"), ("rollingBall", r#"{"radius": 25}"#), ("laplace", "{}"), ("differenceOfGaussian", "{}"), ("subtractGaussianBackground", "{}"), ("rescaleIntensity", "{}")] {
      run(name, &a, opts).unwrap();
      let t = std::time::Instant::now();
      let n = if name == "rollingBall" { 1 } else { 5 };
      for _ in 0..n {
        run(name, &a, opts).unwrap();
      }
      eprintln!("{name}: {:.1} ms", t.elapsed().as_secs_f64() * 1e3 / n as f64);
    }
  }
}
