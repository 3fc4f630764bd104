//! Gaussian filtering, unsharp masking and the disk median, plus the float32 building
//! blocks cell counting uses.
//!
//! Kernel taps and disk shapes are computed on the host with stackbridge-kernels' own functions
//! (`gaussian::kernel1d`, `median::half_width`) and uploaded; every pass over the data runs on the
//! device (program "filters"). The Gaussian follows scipy's arithmetic as the CPU does: each axis
//! pass in `acc_t` (double where the device has fp64) in `NI_Correlate1D`'s symmetric order, its
//! result stored in the element type, so on a device with fp64 the results are the CPU's bit for bit.

use crate::{long, type_defines, Gpu};
use crate::Arg::{Acc, Buf, I32};
use stackbridge_core::{with_dtype, DType, Element, SbResult};
use stackbridge_kernels::gaussian::{check_sigma, kernel1d, BorderMode};
use stackbridge_kernels::sharpen::check_sharpen;
use stackbridge_kernels::Dims;
use std::sync::Arc;

/// Elements per work item of the per-slice reductions (max, min / max / NaN).
const CHUNK: usize = 4096;
/// The largest disk (in samples) the private-memory median kernel takes (`SB_MEDIAN_PRIVATE`).
const MEDIAN_PRIVATE: usize = 317;

fn mode_code(m: BorderMode) -> i32 {
  match m {
    BorderMode::Reflect => 0,
    BorderMode::Mirror => 1,
    BorderMode::Nearest => 2,
  }
}

/// The "filters" program for element type `dtype` and sharpen's working type `work`.
pub(crate) fn program<C: Gpu>(ctx: &C, dtype: DType, work: DType) -> SbResult<Arc<C::Program>> {
  let defines = format!("{} -D W={}", type_defines(ctx, "T_IN", dtype)?, ctx.kernel_type(work)?);
  ctx.program("filters", &defines)
}

/// The bounds of an integer dtype (±infinity for float types), as `acc_t` kernel arguments.
fn bounds(dtype: DType) -> (f64, f64) {
  with_dtype!(dtype, T => (T::from_f64(f64::NEG_INFINITY).to_f64(), T::from_f64(f64::INFINITY).to_f64()))
}

pub(crate) fn copy<C: Gpu>(ctx: &C, p: &C::Program, src: &C::Buf, n: usize, out: &C::Buf) -> SbResult<()> {
  ctx.launch(p, "copy_t", &[n], &[Buf(src), Buf(out), long(n)])
}

fn grid(dims: Dims) -> [usize; 3] {
  [dims.w, dims.h, dims.z]
}

/// `gaussian_plane::<T>` of stackbridge-kernels per slice (scipy's arithmetic, border `mode`) of
/// `src` (element type `dtype`, program `p` built for it) into `out`; `tmp` holds the axis-0 pass.
#[allow(clippy::too_many_arguments)]
fn gauss_exact<C: Gpu>(
  ctx: &C, p: &C::Program, src: &C::Buf, tmp: &C::Buf, dims: Dims, dtype: DType, sigma: f64, mode: BorderMode, out: &C::Buf,
) -> SbResult<()> {
  if dims.is_empty() {
    return Ok(());
  }
  if !(sigma.is_finite() && sigma > 1e-15) {
    return copy(ctx, p, src, dims.len(), out);
  }
  let k = kernel1d(sigma, 0, 4.0);
  let r = k.len() / 2;
  let taps = ctx.upload_acc(&k[r..])?;
  let (lo, hi) = bounds(dtype);
  for (kernel, a, b) in [("gauss_v", src, tmp), ("gauss_h", tmp, out)] {
    let args = [Buf(a), Buf(b), Buf(&taps), long(r), long(dims.h), long(dims.w), long(dims.z), I32(mode_code(mode)), Acc(lo), Acc(hi)];
    ctx.launch(p, kernel, &grid(dims), &args)?;
  }
  Ok(())
}

/// `gaussian` (scipy.ndimage.gaussian_filter per slice, reflect, truncate 4) → `out` of `dtype`.
pub fn gaussian<C: Gpu>(ctx: &C, src: &C::Buf, dims: Dims, dtype: DType, sigma: f64, out: &C::Buf) -> SbResult<()> {
  check_sigma(sigma)?;
  if dims.is_empty() {
    return Ok(());
  }
  let p = program(ctx, dtype, DType::F32)?;
  let tmp = ctx.temp(dtype, dims.len())?;
  gauss_exact(ctx, &p, src, &tmp, dims, dtype, sigma, BorderMode::Reflect, out)?;
  ctx.finish()
}

/// Per-slice `(max, …)` of `src` with NaN propagation (np.max), reduced on the device in chunks.
fn slice_max<C: Gpu>(ctx: &C, p: &C::Program, src: &C::Buf, dims: Dims) -> SbResult<Vec<f64>> {
  let plane = dims.plane();
  let nchunks = plane.div_ceil(CHUNK);
  let part = ctx.temp_acc(dims.z * nchunks)?;
  ctx.launch(
    p,
    "slice_max_partial",
    &[nchunks, dims.z],
    &[Buf(src), Buf(&part), long(plane), long(CHUNK), long(nchunks), long(dims.z), Acc(f64::NEG_INFINITY)],
  )?;
  ctx.finish()?;
  let v = ctx.read_acc(&part)?;
  Ok(
    v.chunks(nchunks)
      .map(|c| c.iter().fold(f64::NEG_INFINITY, |m, &x| if x.is_nan() || m.is_nan() { f64::NAN } else { m.max(x) }))
      .collect(),
  )
}

/// Per-slice (min, max ignoring NaN, any NaN) of the W array `src`.
fn slice_minmax<C: Gpu>(ctx: &C, p: &C::Program, src: &C::Buf, dims: Dims) -> SbResult<Vec<(f64, f64, bool)>> {
  let plane = dims.plane();
  let nchunks = plane.div_ceil(CHUNK);
  let part = ctx.temp_acc(3 * dims.z * nchunks)?;
  ctx.launch(
    p,
    "slice_minmax_partial",
    &[nchunks, dims.z],
    &[Buf(src), Buf(&part), long(plane), long(CHUNK), long(nchunks), long(dims.z), Acc(f64::INFINITY)],
  )?;
  ctx.finish()?;
  let v = ctx.read_acc(&part)?;
  Ok(
    v.chunks(3 * nchunks)
      .map(|c| {
        c.chunks(3).fold((f64::INFINITY, f64::NEG_INFINITY, false), |(lo, hi, nan), e| (lo.min(e[0]), hi.max(e[1]), nan || e[2] != 0.0))
      })
      .collect(),
  )
}

/// `sharpen` → `out` of `dtype`.
pub fn sharpen<C: Gpu>(ctx: &C, src: &C::Buf, dims: Dims, dtype: DType, radius: f64, amount: f64, out: &C::Buf) -> SbResult<()> {
  check_sharpen(radius, amount)?;
  if dims.is_empty() {
    return Ok(());
  }
  // numpy's promotion: float32 / max stays float32 except for int32 and float64 slices.
  let work = if matches!(dtype, DType::I32 | DType::F64) && ctx.fp64() { DType::F64 } else { DType::F32 };
  let to_w = |v: f64| if work == DType::F64 { v } else { v as f32 as f64 };
  let p_in = program(ctx, dtype, work)?;
  let p_w = program(ctx, work, work)?;
  let n = dims.len();
  let plane = dims.plane();

  let maxes = slice_max(ctx, &p_in, src, dims)?;
  let degenerate: Vec<bool> = maxes.iter().map(|&m| m == 0.0 || m.is_nan()).collect();
  // max is exact in W (T's values fit f32 when W is f32); a degenerate slice divides by 1 (its
  // output is zeros anyway).
  let mx: Vec<f64> = maxes.iter().zip(&degenerate).map(|(&m, &d)| if d { 1.0 } else { to_w(m) }).collect();
  let mx_buf = ctx.upload_acc(&mx)?;
  let f = ctx.temp(work, n)?;
  ctx.launch(&p_in, "sharpen_f", &[n], &[Buf(src), Buf(&f), Buf(&mx_buf), long(plane), long(n)])?;

  // blurred = gaussian_plane::<W>(f, radius, nearest), then s = clip(f + amount (f - blurred)).
  let tmp = ctx.temp(work, n)?;
  let s = ctx.temp(work, n)?;
  gauss_exact(ctx, &p_w, &f, &tmp, dims, work, radius, BorderMode::Nearest, &s)?;
  ctx.launch(&p_w, "sharpen_s", &[n], &[Buf(&f), Buf(&s), long(n), Acc(to_w(amount))])?;

  // rescale_intensity(s, in_range='image', out_range=(0, 65535)) per slice.
  let mm = slice_minmax(ctx, &p_w, &s, dims)?;
  let mut prm = Vec::with_capacity(3 * dims.z);
  for (&(imin, imax, nan), &deg) in mm.iter().zip(&degenerate) {
    prm.extend_from_slice(&if deg {
      [0.0, 0.0, 0.0]
    } else if nan {
      [0.0, f64::NAN, 0.0]
    } else if imin != imax {
      [1.0, to_w(imin), to_w(imax - imin)]
    } else {
      [2.0, 0.0, 0.0]
    });
  }
  let prm_buf = ctx.upload_acc(&prm)?;
  ctx.launch(&p_in, "sharpen_out", &[n], &[Buf(&s), Buf(out), Buf(&prm_buf), long(plane), long(n)])?;
  ctx.finish()
}

/// Per slice of a float32 stack: `gaussian_plane_f32` of stackbridge-kernels.
pub fn gaussian_f32<C: Gpu>(ctx: &C, src: &C::Buf, dims: Dims, sigma: f64, mode: BorderMode, out: &C::Buf) -> SbResult<()> {
  if dims.is_empty() {
    return Ok(());
  }
  let p = program(ctx, DType::F32, DType::F32)?;
  let tmp = ctx.temp(DType::F32, dims.len())?;
  gauss_exact(ctx, &p, src, &tmp, dims, DType::F32, sigma, mode, out)?;
  ctx.finish()
}

/// Per slice of a float32 stack: `median_disk_plane_f32` of stackbridge-kernels (skimage median, disk(r)).
pub fn median_disk_f32<C: Gpu>(ctx: &C, src: &C::Buf, dims: Dims, radius: usize, out: &C::Buf) -> SbResult<()> {
  if dims.is_empty() {
    return Ok(());
  }
  let p = program(ctx, DType::F32, DType::F32)?;
  let r = radius.min(1 << 14);
  match r {
    0 => copy(ctx, &p, src, dims.len(), out)?,
    1 => ctx.launch(&p, "median_cross", &grid(dims), &[Buf(src), Buf(out), long(dims.h), long(dims.w), long(dims.z)])?,
    r => {
      let hws: Vec<i32> = (0..=r).map(|d| stackbridge_kernels::median::half_width(r, d) as i32).collect();
      let count: usize = hws.iter().enumerate().map(|(d, &hw)| (2 * hw as usize + 1) * if d == 0 { 1 } else { 2 }).sum();
      let k = count / 2;
      let hw_buf = ctx.upload::<i32>(&hws)?;
      let kernel = if count <= MEDIAN_PRIVATE { "median_small" } else { "median_large" };
      ctx.launch(&p, kernel, &grid(dims), &[Buf(src), Buf(out), Buf(&hw_buf), long(r), long(k), long(dims.h), long(dims.w), long(dims.z)])?;
      return ctx.finish();
    }
  }
  ctx.finish()
}
