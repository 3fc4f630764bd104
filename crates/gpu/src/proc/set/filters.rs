//! `sobel`, `laplace`, `differenceOfGaussian`, `subtractGaussianBackground` (set::filters) and
//! `clip` (set::stack) on the device (program "set_filters"; the Gaussians are the "filters"
//! program's, `proc::filters::gaussian` in float64), equal to the CPU bit for bit on a device with
//! fp64 — the same f64 operations in the same order, the same casts.

use crate::set::DeviceRun;
use crate::Arg::{Acc, Buf};
use crate::{long, type_defines, Gpu};
use stackbridge_core::{with_dtype, DType, SbResult};
use super::rank::need_fp64;
use super::{finish, result};
use stackbridge_kernels::set::{Call, Output};
use std::sync::Arc;

/// The device implementation of `name` for an input of `dtype`, if it has one.
pub fn lookup<C: Gpu>(name: &str, _dtype: DType) -> Option<DeviceRun<C>> {
  Some(match name {
    "sobel" | "laplace" => stencil::<C>,
    "clip" => clip::<C>,
    "differenceOfGaussian" => dog::<C>,
    "subtractGaussianBackground" => subtract_background::<C>,
    _ => return None,
  })
}

fn program<C: Gpu>(ctx: &C, dtype: DType) -> SbResult<Arc<C::Program>> {
  ctx.program("set_filters", &type_defines(ctx, "T_IN", dtype)?)
}

/// `sobel` / `laplace`: the 3 × 3 stencils of the values as given, reflect borders, to float32.
fn stencil<C: Gpu>(ctx: &C, c: &Call) -> SbResult<Option<Output>> {
  c.params(&[])?;
  let dims = c.dims()?;
  need_fp64(ctx, c)?;
  let (out, dst) = result(ctx, c, dims, DType::F32)?;
  if !dims.is_empty() {
    let src = ctx.wrap(c.input)?;
    let p = program(ctx, c.input.dtype)?;
    let grid = [dims.w, dims.h, dims.z];
    let (h, w, z) = (long(dims.h), long(dims.w), long(dims.z));
    if c.name == "sobel" {
      ctx.launch(&p, "sf_sobel", &grid, &[Buf(&src), Buf(&dst), h, w, z, Acc(std::f64::consts::SQRT_2)])?;
    } else {
      ctx.launch(&p, "sf_laplace", &grid, &[Buf(&src), Buf(&dst), h, w, z])?;
    }
  }
  finish(ctx, out, &dst)
}

/// `clip`: the bounds converted to the dtype on the host (`clip_bound`, as the CPU), uploaded in it.
fn clip<C: Gpu>(ctx: &C, c: &Call) -> SbResult<Option<Output>> {
  use stackbridge_kernels::set::stack::{clip_bound, clip_options};
  let (lo, hi) = clip_options(c)?;
  let dims = c.dims()?;
  let dt = c.input.dtype;
  let (out, dst) = result(ctx, c, dims, dt)?;
  let n = dims.len();
  if n > 0 {
    let src = ctx.wrap(c.input)?;
    let bounds = with_dtype!(dt, T => ctx.upload::<T>(&[clip_bound::<T>(lo), clip_bound::<T>(hi)])?);
    ctx.launch(&*program(ctx, dt)?, "sf_clip", &[n], &[Buf(&src), Buf(&dst), Buf(&bounds), long(n)])?;
    ctx.finish()?;
  }
  finish(ctx, out, &dst)
}

/// `x.astype(float64)` on the device.
fn to_f64<C: Gpu>(ctx: &C, p: &C::Program, src: &C::Buf, n: usize) -> SbResult<C::Buf> {
  let x = ctx.temp(DType::F64, n)?;
  ctx.launch(p, "sf_to_acc", &[n], &[Buf(src), Buf(&x), long(n)])?;
  Ok(x)
}

/// `differenceOfGaussian`: two float64 Gaussians (reflect, truncate 4) of `x.astype(float64)`, the
/// difference rounded to float32.
fn dog<C: Gpu>(ctx: &C, c: &Call) -> SbResult<Option<Output>> {
  let (s1, s2) = stackbridge_kernels::set::filters::dog_options(c)?;
  let dims = c.dims()?;
  need_fp64(ctx, c)?;
  let (out, dst) = result(ctx, c, dims, DType::F32)?;
  let n = dims.len();
  if n > 0 {
    let src = ctx.wrap(c.input)?;
    let p = program(ctx, c.input.dtype)?;
    let x = to_f64(ctx, &p, &src, n)?;
    let (g1, g2) = (ctx.temp(DType::F64, n)?, ctx.temp(DType::F64, n)?);
    crate::proc::filters::gaussian(ctx, &x, dims, DType::F64, s1, &g1)?;
    crate::proc::filters::gaussian(ctx, &x, dims, DType::F64, s2, &g2)?;
    ctx.launch(&p, "sf_dog", &[n], &[Buf(&g1), Buf(&g2), Buf(&dst), long(n)])?;
    ctx.finish()?;
  }
  finish(ctx, out, &dst)
}

/// `subtractGaussianBackground`: `x − gaussian(x)` in float64, clipped at 0, cast to the dtype.
fn subtract_background<C: Gpu>(ctx: &C, c: &Call) -> SbResult<Option<Output>> {
  let sigma = stackbridge_kernels::set::filters::background_options(c)?;
  let dims = c.dims()?;
  need_fp64(ctx, c)?;
  let dt = c.input.dtype;
  let (out, dst) = result(ctx, c, dims, dt)?;
  let n = dims.len();
  if n > 0 {
    let src = ctx.wrap(c.input)?;
    let p = program(ctx, dt)?;
    let x = to_f64(ctx, &p, &src, n)?;
    let g = ctx.temp(DType::F64, n)?;
    crate::proc::filters::gaussian(ctx, &x, dims, DType::F64, sigma, &g)?;
    ctx.launch(&p, "sf_subtract_background", &[n], &[Buf(&src), Buf(&g), Buf(&dst), long(n)])?;
    ctx.finish()?;
  }
  finish(ctx, out, &dst)
}
