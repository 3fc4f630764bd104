//! Set operations: geometry (DESIGN §12): `rescale`, `resize`, `rotate`, `translate`,
//! `affineTransform`, each per Z slice.
//!
//! Every operation returns the input dtype: the oracle's float result, for integer dtypes rounded
//! half to even (`np.rint`) and clipped to the dtype range, for float32 cast (`astype(float32)`).
//! Integer images are interpolated on their values as given (no `img_as_float` scaling).
//!
//! Spline orders 0 (nearest), 1 (linear) and 3 (cubic: scipy's B-spline with its prefilter for
//! `resize` / `rescale` / `translate` / `affineTransform`, skimage's `_warp_fast` Catmull-Rom
//! bicubic for `rotate`, as each oracle computes it) are implemented. Our default order is 1 everywhere,
//! also for `translate` / `affineTransform`, where scipy's default is 3.

use super::{slices, Call, Output, SetOp};
use crate::image::Dims;
use crate::params::Params;
use crate::resize::{antialias_sigma, clip, finite_range, gaussian_half_kernel, mirror_index, resize_linear, LinearAxis, Real};
use rayon::prelude::*;
use serde_json::Value;
use stackbridge_core::{with_dtype, DType, Element, SbError, SbResult};

pub const OPS: &[SetOp] = &[
  SetOp { name: "rescale", separable: true, arrays: &[], keeps_dtype: true, special: None, run: run_rescale },
  SetOp { name: "resize", separable: true, arrays: &[], keeps_dtype: true, special: None, run: run_resize },
  SetOp { name: "rotate", separable: true, arrays: &[], keeps_dtype: true, special: None, run: run_rotate },
  SetOp { name: "translate", separable: true, arrays: &[], keeps_dtype: true, special: None, run: run_translate },
  SetOp { name: "affineTransform", separable: true, arrays: &[], keeps_dtype: true, special: None, run: run_affine },
];

// ---------------------------------------------------------------------------------------------
// Shared pieces

fn invalid(name: &str, option: &str, msg: String) -> SbError {
  SbError::invalid(format!("{name}: {msg}")).with("processor", name).with("option", option)
}

/// The `order` option: 0, 1 or 3 (default 1).
pub fn read_order(name: &str, p: &Params) -> SbResult<usize> {
  match p.usize("order", 1) {
    Ok(o @ (0 | 1 | 3)) => Ok(o),
    _ => Err(invalid(name, "order", "option order must be 0, 1 or 3".into())),
  }
}

/// A `[h, w]` list option of positive integers.
fn read_shape(name: &str, p: &Params, key: &str) -> SbResult<Option<(usize, usize)>> {
  let Some(v) = p.f64_list(key)? else { return Ok(None) };
  let ok = |x: f64| x >= 1.0 && x.fract() == 0.0 && x <= (1u64 << 31) as f64;
  match v.as_slice() {
    [h, w] if ok(*h) && ok(*w) => Ok(Some((*h as usize, *w as usize))),
    _ => Err(invalid(name, key, format!("option {key} must be [h, w] of two positive integers, got {v:?}"))),
  }
}

/// `DimensionError` for slices without pixels (Z = 0 is fine: nothing runs).
fn check_plane(c: &Call, d: Dims) -> SbResult<()> {
  if d.z > 0 && d.plane() == 0 {
    return Err(SbError::dimension(format!("{}: slices of {}x{} have no pixels", c.name, d.h, d.w)).with("processor", c.name));
  }
  Ok(())
}

/// The inclusive value range of an integer dtype (float dtypes: unbounded).
fn dtype_range(d: DType) -> (f64, f64) {
  match d {
    DType::U8 => (0.0, u8::MAX as f64),
    DType::U16 => (0.0, u16::MAX as f64),
    DType::I16 => (i16::MIN as f64, i16::MAX as f64),
    DType::I32 => (i32::MIN as f64, i32::MAX as f64),
    _ => (f64::NEG_INFINITY, f64::INFINITY),
  }
}

/// The result value in the input dtype: integers `np.rint` then clipped to the dtype range,
/// float32 cast (round to nearest), float64 unchanged.
#[inline(always)]
fn store<T: Element>(v: f64) -> T {
  if T::DTYPE.is_float() {
    T::from_f64(v)
  } else {
    let (lo, hi) = dtype_range(T::DTYPE);
    T::from_f64(v.round_ties_even().clamp(lo, hi))
  }
}

/// Allocates the `[Z, oh, ow]` result in the input dtype and runs `$body` on every Z slice
/// (`$src` → `$dst`, `$T` its element type).
macro_rules! run_slices {
  ($c:expr, $d:expr, $oh:expr, $ow:expr, |$T:ident, $src:ident, $dst:ident| $body:expr) => {{
    let (c, d, oh, ow): (&Call, Dims, usize, usize) = ($c, $d, $oh, $ow);
    let out = c.alloc(Dims::new(d.z, oh, ow), c.input.dtype)?;
    {
      let src = c.input.pin()?;
      let pinned = out.pin()?;
      with_dtype!(c.input.dtype, $T => {
        let s = src.as_slice::<$T>();
        let o = pinned.as_mut_slice::<$T>();
        slices(c.cancel, d.z, s, d.plane(), o, oh * ow, |_, $src: &[$T], $dst: &mut [$T]| {
          $body;
          Ok(())
        })?;
      });
    }
    Ok(Output::array(out))
  }};
}

// ---------------------------------------------------------------------------------------------
// rescale / resize

/// `skimage.transform.rescale(slice, factor, order=order, preserve_range=True,
/// anti_aliasing=antiAliasing, mode='reflect', channel_axis=None)` per Z slice: the output slice
/// is `max(round(h * fy), 1) x max(round(w * fx), 1)` (numpy's round, half to even), then as
/// [`run_resize`].
fn run_rescale(c: &Call) -> SbResult<Output> {
  run_resize_setup(c)
}

/// The options of `rescale` / `resize` resolved for the input stack: the output slice shape, the
/// spline order and whether the slices are anti-aliased first (shared with the device kernels).
#[derive(Clone, Copy, Debug)]
pub struct ResizeSetup {
  pub dims: Dims,
  pub oh: usize,
  pub ow: usize,
  pub order: usize,
  pub aa: bool,
}

/// [`ResizeSetup`] of a `rescale` or `resize` call (its option checks and typed errors).
pub fn resize_setup(c: &Call) -> SbResult<ResizeSetup> {
  if c.name == "resize" {
    let p = c.params(&["shape", "order", "antiAliasing"])?;
    let (oh, ow) = read_shape(c.name, &p, "shape")?.ok_or_else(|| invalid(c.name, "shape", "option shape [h, w] is required".into()))?;
    return resize_setup_of(c, &p, c.dims()?, oh, ow);
  }
  let p = c.params(&["factor", "order", "antiAliasing"])?;
  let raw: Value = serde_json::from_str(c.options).unwrap_or(Value::Null);
  let factor = if raw.get("factor").is_some_and(|v| v.is_array()) {
    p.f64_list("factor")?.unwrap_or_default()
  } else {
    match p.f64("factor", f64::NAN)? {
      f if f.is_nan() => return Err(invalid(c.name, "factor", "option factor (a number > 0 or [fy, fx]) is required".into())),
      f => vec![f, f],
    }
  };
  let [fy, fx] = factor[..] else {
    return Err(invalid(c.name, "factor", format!("option factor must be a number or [fy, fx], got {factor:?}")));
  };
  if !(fy > 0.0 && fx > 0.0) {
    return Err(invalid(c.name, "factor", format!("option factor must be > 0, got {factor:?}")));
  }
  let d = c.dims()?;
  let out_len = |n: usize, f: f64| -> SbResult<usize> {
    let v = (n as f64 * f).round_ties_even().max(1.0);
    if v > (1u64 << 31) as f64 {
      return Err(invalid(c.name, "factor", format!("option factor {f} makes an axis of {v} pixels")));
    }
    Ok(v as usize)
  };
  let (oh, ow) = (out_len(d.h, fy)?, out_len(d.w, fx)?);
  resize_setup_of(c, &p, d, oh, ow)
}

/// `skimage.transform.resize(slice, shape, order=order, mode='reflect', preserve_range=True,
/// anti_aliasing=antiAliasing)` per Z slice (scikit-image 0.26, scipy 1.17).
///
/// `antiAliasing` defaults to skimage's: true when an axis shrinks, except for order 0 on
/// integer input. With anti-aliasing, `gaussian_filter(sigma = max(0, (in/out - 1) / 2),
/// mode='mirror')` first (float32 slices stay float32, the rest work in float64); then
/// `ndi.zoom(grid_mode=True, mode='mirror')` of that order; then the result is clipped to the
/// slice's `[nanmin, nanmax]`. NaN spreads through the Gaussian and the interpolation as in
/// scipy (a NaN tap poisons its output even with weight 0). Order 0 with `antiAliasing: true`
/// on integer input is refused (skimage would filter in the integer dtype). Order 3 is scipy's
/// cubic B-spline: `spline_filter(mode='mirror')` of the (filtered) slice in float64, then the
/// 4x4 taps of the zoom.
fn run_resize(c: &Call) -> SbResult<Output> {
  run_resize_setup(c)
}

fn run_resize_setup(c: &Call) -> SbResult<Output> {
  let s = resize_setup(c)?;
  let (d, oh, ow, order, aa) = (s.dims, s.oh, s.ow, s.order, s.aa);
  run_slices!(c, d, oh, ow, |T, src, dst| resize_plane::<T>(src, d.h, d.w, oh, ow, order, aa, dst))
}

fn resize_setup_of(c: &Call, p: &Params, d: Dims, oh: usize, ow: usize) -> SbResult<ResizeSetup> {
  let order = read_order(c.name, p)?;
  check_plane(c, d)?;
  let float = c.input.dtype.is_float();
  let default_aa = !(order == 0 && !float) && (oh < d.h || ow < d.w);
  let aa = p.bool("antiAliasing", default_aa)?;
  if aa && order == 0 && !float {
    return Err(invalid(c.name, "antiAliasing", "antiAliasing with order 0 needs float input".into()));
  }
  Ok(ResizeSetup { dims: d, oh, ow, order, aa })
}

fn resize_plane<T: Element>(src: &[T], h: usize, w: usize, oh: usize, ow: usize, order: usize, aa: bool, out: &mut [T]) {
  if T::DTYPE == DType::F32 {
    resize_plane_s::<T, f32>(src, h, w, oh, ow, order, aa, out)
  } else {
    resize_plane_s::<T, f64>(src, h, w, oh, ow, order, aa, out)
  }
}

/// One slice of [`run_resize`] in working type `S` (float32 for float32 input, else float64).
fn resize_plane_s<T: Element, S: Real>(src: &[T], h: usize, w: usize, oh: usize, ow: usize, order: usize, aa: bool, out: &mut [T]) {
  if order == 1 {
    let mut tmp = vec![S::from_f64(0.0); oh * ow];
    resize_linear::<T, S>(src, h, w, oh, ow, aa, &mut tmp);
    out.par_iter_mut().zip(&tmp).for_each(|(o, &v)| *o = store(v.to_f64()));
    return;
  }
  if order == 3 {
    // The (filtered) slice in S, its float64 spline coefficients, the cubic zoom stored in S, clipped.
    let (lo, hi) = finite_range(src);
    let filtered: Vec<S> = if aa {
      gaussian_mirror::<T, S>(src, h, w, antialias_sigma(h, oh), antialias_sigma(w, ow))
    } else {
      src.iter().map(|v| S::from_f64(v.to_f64())).collect()
    };
    let coef = spline_coefficients(&filtered, h, w);
    let (ay, ax) = (CubicAxis::zoom(h, oh), CubicAxis::zoom(w, ow));
    out.par_chunks_mut(ow).enumerate().for_each(|(o, row)| {
      for (p, d) in row.iter_mut().enumerate() {
        let t = cubic_sum(&coef, w, &ay.idx[o], &ay.wt[o], &ax.idx[p], &ax.wt[p]);
        *d = store(clip(S::from_f64(t).to_f64(), lo, hi));
      }
    });
    return;
  }
  // Order 0: nearest of the (optionally filtered) slice, then skimage's clip.
  let (lo, hi) = finite_range(src);
  let (ay, ax) = (LinearAxis::nearest(h, oh).i0, LinearAxis::nearest(w, ow).i0);
  let pick = |plane: &(dyn Fn(usize) -> f64 + Sync), out: &mut [T]| {
    out.par_chunks_mut(ow).enumerate().for_each(|(o, row)| {
      let base = ay[o] * w;
      for (d, &x) in row.iter_mut().zip(&ax) {
        *d = store(clip(plane(base + x), lo, hi));
      }
    })
  };
  if aa {
    let filtered = gaussian_mirror::<T, S>(src, h, w, antialias_sigma(h, oh), antialias_sigma(w, ow));
    pick(&|i| filtered[i].to_f64(), out);
  } else {
    pick(&|i| src[i].to_f64(), out);
  }
}

/// `ndi.gaussian_filter(src, (sy, sx), mode='mirror', truncate=4)` with each pass stored in `S`
/// (axis 0 first; an axis without sigma is skipped), in scipy's symmetric-kernel order
/// `x[0]*k[0] + sum over j = r..1 of (x[-j] + x[+j]) * k[j]`.
fn gaussian_mirror<T: Element, S: Real>(src: &[T], h: usize, w: usize, sy: Option<f64>, sx: Option<f64>) -> Vec<S> {
  let mut a: Vec<S> = src.par_iter().map(|v| S::from_f64(v.to_f64())).collect();
  if let Some(s) = sy {
    let k = gaussian_half_kernel(s);
    let r = k.len() as isize - 1;
    let mut b = vec![S::from_f64(0.0); h * w];
    b.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
      for (x, o) in row.iter_mut().enumerate() {
        let at = |dy: isize| a[mirror_index(y as isize + dy, h) * w + x].to_f64();
        let mut acc = at(0) * k[0];
        for j in (1..=r).rev() {
          acc += (at(-j) + at(j)) * k[j as usize];
        }
        *o = S::from_f64(acc);
      }
    });
    a = b;
  }
  if let Some(s) = sx {
    let k = gaussian_half_kernel(s);
    let r = k.len() as isize - 1;
    let mut b = vec![S::from_f64(0.0); h * w];
    b.par_chunks_mut(w).zip(a.par_chunks(w)).for_each(|(row, line)| {
      for (x, o) in row.iter_mut().enumerate() {
        let at = |dx: isize| line[mirror_index(x as isize + dx, w)].to_f64();
        let mut acc = at(0) * k[0];
        for j in (1..=r).rev() {
          acc += (at(-j) + at(j)) * k[j as usize];
        }
        *o = S::from_f64(acc);
      }
    });
    a = b;
  }
  a
}

// ---------------------------------------------------------------------------------------------
// Order 3: scipy.ndimage's cubic B-spline (ni_splines.c, ni_interpolation.c)

/// scipy's pole of the cubic B-spline prefilter, `sqrt(3) - 2`.
const CUBIC_POLE: f64 = -0.267949192431122706472553658494127633;

/// `apply_filter(line, len, [z], 1, mode)` of scipy's ni_splines.c for the modes mirror and
/// constant (both use the mirror initialisation): gain, causal and anti-causal passes in float64.
fn spline_filter_line(c: &mut [f64]) {
  let n = c.len();
  if n <= 1 {
    return;
  }
  let z = CUBIC_POLE;
  let gain = (1.0 - z) * (1.0 - 1.0 / z);
  for v in c.iter_mut() {
    *v *= gain;
  }
  // _init_causal_mirror
  let z_n_1 = z.powf((n - 1) as f64);
  let mut z_i = z;
  c[0] += z_n_1 * c[n - 1];
  for i in 1..n - 1 {
    c[0] += z_i * (c[i] + z_n_1 * c[n - 1 - i]);
    z_i *= z;
  }
  c[0] /= 1.0 - z_n_1 * z_n_1;
  for i in 1..n {
    c[i] += z * c[i - 1];
  }
  // _init_anticausal_mirror
  c[n - 1] = (z * c[n - 2] + c[n - 1]) * z / (z * z - 1.0);
  for i in (0..n - 1).rev() {
    c[i] = z * (c[i + 1] - c[i]);
  }
}

/// `ndi.spline_filter(plane, order=3, output=float64, mode='mirror' | 'constant')`: axis 0, then axis 1.
fn spline_coefficients<S: Element>(src: &[S], h: usize, w: usize) -> Vec<f64> {
  let mut a: Vec<f64> = src.iter().map(|v| v.to_f64()).collect();
  if h > 1 {
    let mut cols: Vec<Vec<f64>> = (0..w).into_par_iter().map(|x| (0..h).map(|y| a[y * w + x]).collect()).collect();
    cols.par_iter_mut().for_each(|col| spline_filter_line(col));
    for (x, col) in cols.iter().enumerate() {
      for (y, &v) in col.iter().enumerate() {
        a[y * w + x] = v;
      }
    }
  }
  if w > 1 {
    a.par_chunks_mut(w).for_each(spline_filter_line);
  }
  a
}

/// scipy's `get_spline_interpolation_weights(x, 3)` for the 4 taps starting at `floor(x) - 1`.
#[inline(always)]
fn cubic_weights(x: f64) -> [f64; 4] {
  let x = x - x.floor();
  let (y, z) = (x, 1.0 - x);
  let w1 = (y * y * (y - 2.0) * 3.0 + 4.0) / 6.0;
  let w2 = (z * z * (z - 2.0) * 3.0 + 4.0) / 6.0;
  let w0 = z * z * z / 6.0;
  let mut w3 = 1.0;
  w3 -= w0;
  w3 -= w1;
  w3 -= w2;
  [w0, w1, w2, w3]
}

/// The 4 taps (mirrored into `[0, n)`, scipy's spline boundary for mirror and constant) and their
/// weights at coordinate `c` (already inside `[0, n - 1]` or mapped there).
#[inline(always)]
fn cubic_taps(c: f64, n: usize) -> ([usize; 4], [f64; 4]) {
  let start = c.floor() as isize - 1;
  let idx = [0, 1, 2, 3].map(|k| mirror_index(start + k as isize, n));
  (idx, cubic_weights(c))
}

/// One axis of `ndi.zoom(order=3, mode='mirror', grid_mode=True)`.
struct CubicAxis {
  idx: Vec<[usize; 4]>,
  wt: Vec<[f64; 4]>,
}

impl CubicAxis {
  fn zoom(n_in: usize, n_out: usize) -> CubicAxis {
    let zoom = n_in as f64 / n_out as f64;
    let (idx, wt) = (0..n_out).map(|o| cubic_taps(crate::resize::map_coordinate((o as f64 + 0.5) * zoom - 0.5, n_in), n_in)).unzip();
    CubicAxis { idx, wt }
  }
}

/// scipy's 16-tap sum `t += c[iy][ix] * wy * wx`, rows outer.
#[inline(always)]
fn cubic_sum(coef: &[f64], w: usize, iy: &[usize; 4], wy: &[f64; 4], ix: &[usize; 4], wx: &[f64; 4]) -> f64 {
  let mut t = 0.0;
  for i in 0..4 {
    let row = &coef[iy[i] * w..];
    for j in 0..4 {
      let mut coeff = row[ix[j]];
      coeff *= wy[i];
      coeff *= wx[j];
      t += coeff;
    }
  }
  t
}

// ---------------------------------------------------------------------------------------------
// rotate

/// `skimage.transform.rotate(slice, angle, resize=resize, order=order, mode='constant',
/// cval=cval, preserve_range=True)` per Z slice: counter-clockwise by `angle` degrees about the
/// slice centre `((w - 1) / 2, (h - 1) / 2)`; with `resize: true` the output grows to hold the
/// whole rotated slice (skimage's corner arithmetic and `np.around`).
///
/// Order 1 is skimage's `_warp_fast` bilinear (coordinates and row blends in float32 for
/// float32 slices, float64 otherwise; pixels outside the slice read `cval`); order 0 is
/// `ndi.map_coordinates(order=0, mode='grid-constant')` (skimage's translation of 'constant')
/// on float64 coordinates: the nearest pixel `floor(c + 0.5)`, `cval` when that lies outside. The result is clipped as
/// skimage's `_clip_warp_output` does (to the slice's `[nanmin, nanmax]`, widened to `cval` when
/// `cval` lies outside it and inside the output's range). NaN pixels spread to every output that
/// reads them (also with weight 0). The transform matrices are composed with fused multiply-adds
/// in the order OpenBLAS's `dgemm` uses, as numpy's `@` does on x86-64 with FMA, so the
/// coordinates match skimage's bit for bit there (90° and 180° are exact permutations up to the
/// float rounding of `cos(90°) ≈ 6e-17`). Integer slices with order 0 and a non-integer `cval`
/// get `rint(cval)` (skimage rounds it half away from zero).
fn run_rotate(c: &Call) -> SbResult<Output> {
  let r = rotate_setup(c)?;
  let (d, oh, ow, order, cval, m) = (r.dims, r.oh, r.ow, r.order, r.cval, r.m);
  run_slices!(c, d, oh, ow, |T, src, dst| rotate_plane::<T>(src, d.h, d.w, oh, ow, &m, order, cval, dst))
}

/// The options of `rotate` resolved for the input stack: skimage's output → input matrix (in
/// `(x, y)`), the output slice shape, order and `cval` (shared with the device kernels).
#[derive(Clone, Copy, Debug)]
pub struct RotateSetup {
  pub dims: Dims,
  pub m: [[f64; 3]; 3],
  pub oh: usize,
  pub ow: usize,
  pub order: usize,
  pub cval: f64,
}

/// [`RotateSetup`] of a `rotate` call (its option checks and typed errors).
pub fn rotate_setup(c: &Call) -> SbResult<RotateSetup> {
  let p = c.params(&["angle", "order", "resize", "cval"])?;
  let angle = p.f64("angle", 0.0)?;
  let order = read_order(c.name, &p)?;
  let grow = p.bool("resize", false)?;
  let cval = p.f64("cval", 0.0)?;
  let d = c.dims()?;
  check_plane(c, d)?;
  let m = rotation_matrix(d.h, d.w, angle, grow);
  let (oh, ow) = if grow { m.1 } else { (d.h, d.w) };
  if grow && d.z > 0 && (oh == 0 || ow == 0) {
    return Err(SbError::dimension(format!("rotate: resized output {oh}x{ow} is empty")));
  }
  Ok(RotateSetup { dims: d, m: m.0, oh, ow, order, cval })
}

/// The `cval` order 0 reads for a slice of `dtype` (in the working type: float32 for float32):
/// integer slices get `rint(cval)` clipped to the dtype range.
pub fn rotate_order0_cval(dtype: DType, cval: f64) -> f64 {
  let (tlo, thi) = dtype_range(dtype);
  let v = if dtype.is_float() { cval } else { cval.round_ties_even().clamp(tlo, thi) };
  if dtype == DType::F32 {
    v as f32 as f64
  } else {
    v
  }
}

/// `fma(a, b, c)` as OpenBLAS's kernels compute it (x86-64 with FMA).
#[inline(always)]
fn fma(a: f64, b: f64, c: f64) -> f64 {
  a.mul_add(b, c)
}

/// `A @ B` of 3x3 matrices as numpy's BLAS-backed matmul: `acc = a0*b0; acc = fma(a1, b1, acc);
/// acc = fma(a2, b2, acc)`.
fn matmul3(a: &[[f64; 3]; 3], b: &[[f64; 3]; 3]) -> [[f64; 3]; 3] {
  let mut r = [[0.0; 3]; 3];
  for i in 0..3 {
    for j in 0..3 {
      r[i][j] = fma(a[i][2], b[2][j], fma(a[i][1], b[1][j], a[i][0] * b[0][j]));
    }
  }
  r
}

fn translation(tx: f64, ty: f64) -> [[f64; 3]; 3] {
  [[1.0, 0.0, tx], [0.0, 1.0, ty], [0.0, 0.0, 1.0]]
}

/// skimage's rotate matrix (output `(x, y)` → input `(x, y)`) and, with `grow`, its output shape.
fn rotation_matrix(rows: usize, cols: usize, angle: f64, grow: bool) -> ([[f64; 3]; 3], (usize, usize)) {
  let (cx, cy) = (cols as f64 / 2.0 - 0.5, rows as f64 / 2.0 - 0.5);
  let a = angle * (std::f64::consts::PI / 180.0);
  let (cos, sin) = (a.cos(), a.sin());
  let rot = [[cos, -sin, 0.0], [sin, cos, 0.0], [0.0, 0.0, 1.0]];
  // tform3 + tform2 + tform1 = T(c) @ (R @ T(-c)).
  let mut m = matmul3(&translation(cx, cy), &matmul3(&rot, &translation(-cx, -cy)));
  let mut shape = (rows, cols);
  if grow {
    // The corners through the inverse transform (an exact inverse of the rigid motion; skimage
    // uses np.linalg.inv, equal up to rounding).
    let det = m[0][0] * m[1][1] - m[0][1] * m[1][0];
    let inv = |x: f64, y: f64| {
      let (u, v) = (x - m[0][2], y - m[1][2]);
      ((m[1][1] * u - m[0][1] * v) / det, (-m[1][0] * u + m[0][0] * v) / det)
    };
    let (r1, c1) = (rows as f64 - 1.0, cols as f64 - 1.0);
    let corners = [inv(0.0, 0.0), inv(0.0, r1), inv(c1, r1), inv(c1, 0.0)];
    let fold = |f: fn(f64, f64) -> f64, sel: fn(&(f64, f64)) -> f64| corners.iter().map(sel).reduce(f).unwrap();
    let (minc, minr) = (fold(f64::min, |p| p.0), fold(f64::min, |p| p.1));
    let (maxc, maxr) = (fold(f64::max, |p| p.0), fold(f64::max, |p| p.1));
    let out_rows = (maxr - minr + 1.0).round_ties_even().max(0.0);
    let out_cols = (maxc - minc + 1.0).round_ties_even().max(0.0);
    shape = (out_rows as usize, out_cols as usize);
    // tform4 + tform = tform @ T(minc, minr).
    m = matmul3(&m, &translation(minc, minr));
  }
  m[2] = [0.0, 0.0, 1.0];
  (m, shape)
}

#[allow(clippy::too_many_arguments)]
fn rotate_plane<T: Element>(src: &[T], h: usize, w: usize, oh: usize, ow: usize, m: &[[f64; 3]; 3], order: usize, cval: f64, out: &mut [T]) {
  if T::DTYPE == DType::F32 {
    rotate_plane_s::<T, f32>(src, h, w, oh, ow, m, order, cval, out)
  } else {
    rotate_plane_s::<T, f64>(src, h, w, oh, ow, m, order, cval, out)
  }
}

/// Float arithmetic in the working type of skimage's `_warp_fast` (`np_floats`).
trait Warp: Real + std::ops::Add<Output = Self> + std::ops::Sub<Output = Self> + std::ops::Mul<Output = Self> {
  fn floor(self) -> Self;
  fn ceil(self) -> Self;
}
impl Warp for f32 {
  fn floor(self) -> f32 {
    f32::floor(self)
  }
  fn ceil(self) -> f32 {
    f32::ceil(self)
  }
}
impl Warp for f64 {
  fn floor(self) -> f64 {
    f64::floor(self)
  }
  fn ceil(self) -> f64 {
    f64::ceil(self)
  }
}

#[allow(clippy::too_many_arguments)]
fn rotate_plane_s<T: Element, S: Warp>(src: &[T], h: usize, w: usize, oh: usize, ow: usize, m: &[[f64; 3]; 3], order: usize, cval: f64, out: &mut [T]) {
  let mut tmp = vec![0.0f64; oh * ow];
  if order == 3 {
    // _warp_fast's bicubic (Catmull-Rom) in S: coordinates as for order 1, pixels outside read cval.
    let hs: Vec<S> = [m[0][0], m[0][1], m[0][2], m[1][0], m[1][1], m[1][2]].iter().map(|&v| S::from_f64(v)).collect();
    let metric = hs[1].to_f64() == 0.0 && hs[3].to_f64() == 0.0;
    let cv = S::from_f64(cval);
    let px = |r: i64, c: i64| -> S {
      if r < 0 || r >= h as i64 || c < 0 || c >= w as i64 {
        cv
      } else {
        S::from_f64(src[r as usize * w + c as usize].to_f64())
      }
    };
    let k = |v: f64| S::from_f64(v);
    let cubic = |x: S, f: [S; 4]| -> S {
      f[1] + k(0.5) * x * (f[2] - f[0] + x * (k(2.0) * f[0] - k(5.0) * f[1] + k(4.0) * f[2] - f[3] + x * (k(3.0) * (f[1] - f[2]) + f[3] - f[0])))
    };
    tmp.par_chunks_mut(ow.max(1)).enumerate().for_each(|(tr, row)| {
      let y = S::from_f64(tr as f64);
      for (tc, o) in row.iter_mut().enumerate() {
        let x = S::from_f64(tc as f64);
        let (c, r) = if metric {
          (hs[0] * x + hs[2], hs[4] * y + hs[5])
        } else {
          (hs[0] * x + hs[1] * y + hs[2], hs[3] * x + hs[4] * y + hs[5])
        };
        let (r0, c0) = (r.floor().to_f64() as i64, c.floor().to_f64() as i64);
        let xr = r - S::from_f64(r0 as f64);
        let xc = c - S::from_f64(c0 as f64);
        let mut fr = [S::from_f64(0.0); 4];
        for (pr, f) in fr.iter_mut().enumerate() {
          let rr = r0 - 1 + pr as i64;
          *f = cubic(xc, [0, 1, 2, 3].map(|pc| px(rr, c0 - 1 + pc)));
        }
        *o = cubic(xr, fr).to_f64();
      }
    });
  } else if order == 1 {
    // _warp_fast: the matrix cast to S, coordinates and the row blends in S, the column blend
    // in float64 (its `top` / `bottom` are float64_t).
    let hs: Vec<S> = [m[0][0], m[0][1], m[0][2], m[1][0], m[1][1], m[1][2]].iter().map(|&v| S::from_f64(v)).collect();
    let metric = hs[1].to_f64() == 0.0 && hs[3].to_f64() == 0.0;
    let cv = S::from_f64(cval);
    let one = S::from_f64(1.0);
    let px = |r: i64, c: i64| -> S {
      if r < 0 || r >= h as i64 || c < 0 || c >= w as i64 {
        cv
      } else {
        S::from_f64(src[r as usize * w + c as usize].to_f64())
      }
    };
    tmp.par_chunks_mut(ow.max(1)).enumerate().for_each(|(tr, row)| {
      let y = S::from_f64(tr as f64);
      for (tc, o) in row.iter_mut().enumerate() {
        let x = S::from_f64(tc as f64);
        let (c, r) = if metric {
          (hs[0] * x + hs[2], hs[4] * y + hs[5])
        } else {
          (hs[0] * x + hs[1] * y + hs[2], hs[3] * x + hs[4] * y + hs[5])
        };
        let (minr, minc) = (r.floor().to_f64() as i64, c.floor().to_f64() as i64);
        let (maxr, maxc) = (r.ceil().to_f64() as i64, c.ceil().to_f64() as i64);
        let dr = r - S::from_f64(minr as f64);
        let dc = c - S::from_f64(minc as f64);
        let top = ((one - dc) * px(minr, minc) + dc * px(minr, maxc)).to_f64();
        let bottom = ((one - dc) * px(maxr, minc) + dc * px(maxr, maxc)).to_f64();
        *o = S::from_f64((one - dr).to_f64() * top + dr.to_f64() * bottom).to_f64();
      }
    });
  } else {
    // warp_coords + ndi.map_coordinates(order=0, mode='grid-constant'): float64 coordinates as
    // numpy's `points @ M.T` (BLAS, fused) gives them; the input stays in its dtype.
      let cv = rotate_order0_cval(T::DTYPE, cval);
    tmp.par_chunks_mut(ow.max(1)).enumerate().for_each(|(tr, row)| {
      let y = tr as f64;
      for (tc, o) in row.iter_mut().enumerate() {
        let x = tc as f64;
        let cx = fma(1.0, m[0][2], fma(y, m[0][1], x * m[0][0]));
        let cy = fma(1.0, m[1][2], fma(y, m[1][1], x * m[1][0]));
        *o = match (grid_nearest(cy, h), grid_nearest(cx, w)) {
          (Some(i), Some(j)) => src[i * w + j].to_f64(),
          _ => cv,
        };
      }
    });
  }
  // _clip_warp_output(image, warped, 'constant', cval, clip=True).
  let has_nan = src.iter().any(|v| v.to_f64().is_nan());
  let (mut lo, mut hi) = finite_range(src);
  let (olo, ohi) = if has_nan {
    finite_range(&tmp)
  } else {
    tmp.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)))
  };
  // skimage casts cval to the image's (working) dtype before widening the range.
  let cv = S::from_f64(cval).to_f64();
  if !(lo <= cval && cval <= hi) && olo <= cval && cval <= ohi {
    lo = lo.min(cv);
    hi = hi.max(cv);
  }
  let all_nan = lo.is_nan();
  out.par_iter_mut().zip(&tmp).for_each(|(o, &v)| *o = store(if all_nan { f64::NAN } else { S::from_f64(clip(v, lo, hi)).to_f64() }));
}

// ---------------------------------------------------------------------------------------------
// translate / affineTransform (scipy.ndimage, mode 'constant')

/// scipy's order-0 tap along one axis for mode 'constant': `None` (cval) outside `[0, n - 1]`,
/// else `floor(c + 0.5)` (mirrored into range, as its spline boundary does).
#[inline(always)]
fn nearest_tap(c: f64, n: usize) -> Option<usize> {
  if !(c >= 0.0 && c <= (n - 1) as f64) {
    return None;
  }
  Some(mirror_index((c + 0.5).floor() as isize, n))
}

/// scipy's order-0 tap for mode 'grid-constant' (what skimage's 'constant' becomes):
/// `floor(c + 0.5)` when that index lies in `[0, n)`, else `None` (cval).
#[inline(always)]
fn grid_nearest(c: f64, n: usize) -> Option<usize> {
  let s = (c + 0.5).floor();
  (s >= 0.0 && s < n as f64).then_some(s as usize)
}

/// scipy's order-1 taps along one axis for mode 'constant': `None` outside `[0, n - 1]`, else
/// `(i0, i1, w0, w1)` with `w0 = 1 - (c - floor(c))`, `w1 = 1 - w0` and `i1` mirrored.
#[inline(always)]
fn linear_taps(c: f64, n: usize) -> Option<(usize, usize, f64, f64)> {
  if !(c >= 0.0 && c <= (n - 1) as f64) {
    return None;
  }
  let f = c.floor();
  let w0 = 1.0 - (c - f);
  let s = f as isize;
  Some((mirror_index(s, n), mirror_index(s + 1, n), w0, 1.0 - w0))
}

/// `scipy.ndimage.shift(slice.astype(float64), shift, order=order, mode='constant', cval=cval)`
/// per Z slice: output `(y, x)` reads input `(y - dy, x - dx)`; a coordinate outside
/// `[0, n - 1]` on either axis gives `cval` (scipy's 'constant', not 'grid-constant'). NaN pixels
/// spread to every output that reads them (also with weight 0).
fn run_translate(c: &Call) -> SbResult<Output> {
  run_affine(c)
}

/// The options of `translate` / `affineTransform` resolved for the input stack: the output → input
/// map and the output slice shape (shared with the device kernels).
pub fn affine_setup(c: &Call) -> SbResult<(Affine, Dims, usize, usize)> {
  if c.name == "translate" {
    let p = c.params(&["shift", "order", "cval"])?;
    let shift = p.f64_list("shift")?.ok_or_else(|| invalid(c.name, "shift", "option shift [dy, dx] is required".into()))?;
    let [dy, dx] = shift[..] else {
      return Err(invalid(c.name, "shift", format!("option shift must be [dy, dx], got {shift:?}")));
    };
    let order = read_order(c.name, &p)?;
    let cval = p.f64("cval", 0.0)?;
    let d = c.dims()?;
    check_plane(c, d)?;
    // scipy's zoom_shift: coordinate k + (-shift) per axis — the same value the affine path gives
    // with the identity matrix and offset -shift.
    return Ok((Affine { m: [1.0, 0.0, 0.0, 1.0], off: [-dy, -dx], order, cval }, d, d.h, d.w));
  }
  let p = c.params(&["matrix", "order", "outputShape", "cval"])?;
  let mat = p.f64_list("matrix")?.ok_or_else(|| invalid(c.name, "matrix", "option matrix (6 or 9 numbers) is required".into()))?;
  if mat.len() != 6 && mat.len() != 9 {
    return Err(invalid(c.name, "matrix", format!("option matrix must have 6 (2x3) or 9 (3x3) numbers, got {}", mat.len())));
  }
  if mat.len() == 9 && mat[6..] != [0.0, 0.0, 1.0] {
    return Err(invalid(c.name, "matrix", format!("a 3x3 matrix must end in the row [0, 0, 1], got {:?}", &mat[6..])));
  }
  let order = read_order(c.name, &p)?;
  let cval = p.f64("cval", 0.0)?;
  let d = c.dims()?;
  let (oh, ow) = read_shape(c.name, &p, "outputShape")?.unwrap_or((d.h, d.w));
  check_plane(c, d)?;
  Ok((Affine { m: [mat[0], mat[1], mat[3], mat[4]], off: [mat[2], mat[5]], order, cval }, d, oh, ow))
}

/// `scipy.ndimage.affine_transform(slice.astype(float64), matrix, order=order,
/// output_shape=outputShape, mode='constant', cval=cval)` per Z slice: `matrix` maps output
/// `(y, x, 1)` to input coordinates (row-major 2x3, or 3x3 whose last row must be `[0, 0, 1]`),
/// each coordinate summed as scipy's C loop does (`offset + y * m0 + x * m1`). A singular matrix
/// is fine (it is the output → input map). Border, NaN and order as [`run_translate`].
fn run_affine(c: &Call) -> SbResult<Output> {
  let (a, d, oh, ow) = affine_setup(c)?;
  run_slices!(c, d, oh, ow, |T, src, dst| a.plane::<T>(src, d.h, d.w, oh, ow, dst))
}

/// An output → input affine map with scipy's 'constant' sampling.
pub struct Affine {
  /// `[m00, m01, m10, m11]` in (y, x).
  pub m: [f64; 4],
  pub off: [f64; 2],
  pub order: usize,
  pub cval: f64,
}

impl Affine {
  fn plane<T: Element>(&self, src: &[T], h: usize, w: usize, _oh: usize, ow: usize, out: &mut [T]) {
    let [m00, m01, m10, m11] = self.m;
    if self.order == 3 {
      // spline_filter(mode='constant': the mirror initialisation) in float64, then the 4x4 taps of
      // the coordinates inside [0, n - 1] on both axes (mirrored), cval elsewhere.
      let coef = spline_coefficients(src, h, w);
      out.par_chunks_mut(ow.max(1)).enumerate().for_each(|(oy, row)| {
        let y = oy as f64;
        for (ox, o) in row.iter_mut().enumerate() {
          let x = ox as f64;
          let (cy, cx) = (self.off[0] + y * m00 + x * m01, self.off[1] + y * m10 + x * m11);
          let inside = |c: f64, n: usize| c >= 0.0 && c <= (n - 1) as f64;
          *o = store(if inside(cy, h) && inside(cx, w) {
            let ((iy, wy), (ix, wx)) = (cubic_taps(cy, h), cubic_taps(cx, w));
            cubic_sum(&coef, w, &iy, &wy, &ix, &wx)
          } else {
            self.cval
          });
        }
      });
      return;
    }
    let v = |i: usize, j: usize| src[i * w + j].to_f64();
    out.par_chunks_mut(ow.max(1)).enumerate().for_each(|(oy, row)| {
      let y = oy as f64;
      for (ox, o) in row.iter_mut().enumerate() {
        let x = ox as f64;
        let (cy, cx) = (self.off[0] + y * m00 + x * m01, self.off[1] + y * m10 + x * m11);
        let t = if self.order == 0 {
          match (nearest_tap(cy, h), nearest_tap(cx, w)) {
            (Some(i), Some(j)) => 0.0 + v(i, j),
            _ => self.cval,
          }
        } else {
          match (linear_taps(cy, h), linear_taps(cx, w)) {
            (Some((i0, i1, a0, a1)), Some((j0, j1, b0, b1))) => {
              let mut t = 0.0;
              t += v(i0, j0) * a0 * b0;
              t += v(i0, j1) * a0 * b1;
              t += v(i1, j0) * a1 * b0;
              t += v(i1, j1) * a1 * b1;
              t
            }
            _ => self.cval,
          }
        };
        *o = store(t);
      }
    });
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use stackbridge_core::{Cancel, ErrorCode, HostArray, MemoryType};

  fn stack<T: Element>(shape: [usize; 3], v: &[T]) -> HostArray {
    let a = HostArray::alloc(shape.to_vec(), T::DTYPE, MemoryType::Numpy, false).unwrap();
    a.pin().unwrap().as_mut_slice::<T>().copy_from_slice(v);
    a
  }

  fn run(name: &str, a: &HostArray, opts: &str) -> SbResult<HostArray> {
    let op = super::super::find(name).unwrap();
    super::super::run(op, a, &[], opts, &Cancel::none()).map(|o| o.array.unwrap())
  }

  fn vals<T: Element>(a: &HostArray) -> Vec<T> {
    a.pin().unwrap().as_slice::<T>().to_vec()
  }

  #[test]
  fn option_errors_are_typed() {
    let a = stack::<u8>([1, 2, 3], &[1, 2, 3, 4, 5, 6]);
    let bad = [
      ("rescale", r#"{}"#),
      ("rescale", r#"{"factor": 0}"#),
      ("rescale", r#"{"factor": [1, 2, 3]}"#),
      ("rescale", r#"{"factor": -1}"#),
      ("rescale", r#"{"factor": 2, "order": 2}"#),
      ("rescale", r#"{"factor": 0.5, "order": 0, "antiAliasing": true}"#),
      ("resize", r#"{}"#),
      ("resize", r#"{"shape": [2]}"#),
      ("resize", r#"{"shape": [0, 2]}"#),
      ("resize", r#"{"shape": [1.5, 2]}"#),
      ("resize", r#"{"shape": [2, 2], "antiAliasing": 1}"#),
      ("rotate", r#"{"angle": "x"}"#),
      ("rotate", r#"{"order": 4}"#),
      ("rotate", r#"{"typo": 1}"#),
      ("translate", r#"{}"#),
      ("translate", r#"{"shift": [1]}"#),
      ("translate", r#"{"shift": [1, "a"]}"#),
      ("affineTransform", r#"{}"#),
      ("affineTransform", r#"{"matrix": [1, 0, 0, 1]}"#),
      ("affineTransform", r#"{"matrix": [1, 0, 0, 0, 1, 0, 0, 1, 1]}"#),
      ("affineTransform", r#"{"matrix": [1, 0, 0, 0, 1, 0], "outputShape": [3, -1]}"#),
    ];
    for (name, opts) in bad {
      let e = run(name, &a, opts).err().unwrap_or_else(|| panic!("{name} {opts} should fail"));
      assert_eq!(e.code, ErrorCode::InvalidArgument, "{name} {opts}: {e:?}");
    }
    let e = run("rotate", &a, r#"{"order": 2}"#).err().unwrap();
    assert!(format!("{e:?}").contains("must be 0, 1 or 3"));
  }

  #[test]
  fn empty_and_tiny_stacks() {
    let empty = stack::<u16>([0, 4, 5], &[]);
    assert_eq!(run("rescale", &empty, r#"{"factor": 2}"#).unwrap().shape, vec![0, 8, 10]);
    assert_eq!(run("resize", &empty, r#"{"shape": [3, 3]}"#).unwrap().shape, vec![0, 3, 3]);
    assert_eq!(run("rotate", &empty, r#"{"angle": 30}"#).unwrap().shape, vec![0, 4, 5]);
    assert_eq!(run("translate", &empty, r#"{"shift": [1, 1]}"#).unwrap().shape, vec![0, 4, 5]);
    let flat = stack::<u16>([2, 0, 5], &[]);
    assert_eq!(run("rotate", &flat, r#"{}"#).err().unwrap().code, ErrorCode::Dimension);
    let one = stack::<f32>([1, 1, 1], &[7.0]);
    assert_eq!(vals::<f32>(&run("resize", &one, r#"{"shape": [3, 3]}"#).unwrap()), vec![7.0; 9]);
    assert_eq!(vals::<f32>(&run("rotate", &one, r#"{"angle": 45}"#).unwrap()), vec![7.0]);
    assert_eq!(vals::<f32>(&run("translate", &one, r#"{"shift": [0, 0]}"#).unwrap()), vec![7.0]);
    assert_eq!(vals::<f32>(&run("translate", &one, r#"{"shift": [0.5, 0]}"#).unwrap()), vec![0.0]);
  }

  #[test]
  fn rotate_90_is_a_permutation_and_integers_round_half_even() {
    let v: Vec<i16> = (0..9).map(|i| i * 100 - 300).collect();
    let a = stack::<i16>([1, 3, 3], &v);
    // Counter-clockwise: the top row becomes the left column, read bottom-up.
    assert_eq!(vals::<i16>(&run("rotate", &a, r#"{"angle": 90}"#).unwrap()), vec![-100, 200, 500, -200, 100, 400, -300, 0, 300]);
    assert_eq!(store::<u8>(2.5), 2);
    assert_eq!(store::<u8>(3.5), 4);
    assert_eq!(store::<u8>(-3.0), 0);
    assert_eq!(store::<i16>(40000.0), i16::MAX);
  }

  /// Timing on a 4x1024x1024 uint16 stack: `cargo test --release --lib set::geometry::tests::timing -- --ignored --nocapture`.
  #[test]
  #[ignore]
  fn timing() {
    let v: Vec<u16> = (0..4 * 1024 * 1024u32).map(|i| (i.wrapping_mul(2654435761) >> 20) as u16).collect();
    let a = stack::<u16>([4, 1024, 1024], &v);
    for (name, opts) in [
      ("rescale", r#"{"factor": 0.5}"#),
      ("rescale", r#"{"factor": 2}"#),
      ("resize", r#"{"shape": [700, 900], "order": 0}"#),
      ("rotate", r#"{"angle": 30}"#),
      ("rotate", r#"{"angle": 30, "order": 0}"#),
      ("translate", r#"{"shift": [1.3, -2.7]}"#),
      ("affineTransform", r#"{"matrix": [1.0, 0.3, -2.0, 0.1, 0.9, 1.5]}"#),
    ] {
      run(name, &a, opts).unwrap();
      let t = std::time::Instant::now();
      for _ in 0..3 {
        run(name, &a, opts).unwrap();
      }
      eprintln!("{name} {opts}: {:.1} ms", t.elapsed().as_secs_f64() * 1000.0 / 3.0);
    }
  }
}
