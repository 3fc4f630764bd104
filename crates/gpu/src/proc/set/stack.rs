//! The element-wise and stack operations (program "set") and the footprint min / max filters
//! ("morphology" — the top-hat's exact clipped erosion and dilation — for the minimum / maximum
//! filters and the grey-scale opening, closing and black top-hat).

use crate::set::DeviceRun;
use crate::Arg::{Acc, Buf, I32};
use crate::{long, type_defines, Gpu};
use stackbridge_core::{DType, HostArray, SbError, SbResult};
use super::{finish, result};
use stackbridge_kernels::set::{Call, Output};
use stackbridge_kernels::Dims;

/// The device implementation of `name` for an input of `dtype`, if it has one.
pub fn lookup<C: Gpu>(name: &str, dtype: DType) -> Option<DeviceRun<C>> {
  Some(match name {
    "add" | "subtract" | "multiply" | "divide" => binary::<C>,
    "addScalar" | "multiplyScalar" => scalar::<C>,
    "absolute" => absolute::<C>,
    "sumProjection" => sum_projection::<C>,
    "argmaxProjection" => argmax_projection::<C>,
    // Float footprint filters ignore NaN samples on the CPU (set::rank); the device's extrema
    // propagate them, so float stacks take the host path.
    "minimumFilter" | "maximumFilter" | "opening" | "closing" | "blackTophat" if !dtype.is_float() => morphology::<C>,
    _ => return None,
  })
}

fn program<C: Gpu>(ctx: &C, dtype: DType) -> SbResult<std::sync::Arc<C::Program>> {
  ctx.program("set", &type_defines(ctx, "T_IN", dtype)?)
}

/// `add` / `subtract` / `multiply` / `divide`: float32 of both operands, the other broadcast over Z
/// when it is one slice (shapes checked by the CPU's `stack::other_period`).
fn binary<C: Gpu>(ctx: &C, c: &Call) -> SbResult<Option<Output>> {
  c.params(&[])?;
  let dims = c.dims()?;
  let other = c.required(0);
  let one_slice = stackbridge_kernels::set::stack::check_other(c.name, &c.input.shape, &other.shape)?;
  let period = if one_slice { dims.plane() } else { dims.len() };
  let op = match c.name {
    "add" => 0,
    "subtract" => 1,
    "multiply" => 2,
    _ => 3,
  };
  let (out, dst) = result(ctx, c, dims, DType::F32)?;
  let n = dims.len();
  if n > 0 {
    let a = as_f32(ctx, c.input, n)?;
    let b = as_f32(ctx, other, other.numel())?;
    let p = program(ctx, DType::F32)?;
    ctx.launch(&p, "set_binary", &[n], &[Buf(&a), Buf(&b), Buf(&dst), long(n), long(period), I32(op)])?;
  }
  finish(ctx, out, &dst)
}

/// `a` as float32 on the device: its own memory when it is float32, else a converted temporary.
fn as_f32<C: Gpu>(ctx: &C, a: &HostArray, n: usize) -> SbResult<C::Buf> {
  let src = ctx.wrap(a)?;
  if a.dtype == DType::F32 {
    return Ok(src);
  }
  let dst = ctx.temp(DType::F32, n)?;
  ctx.launch(&*program(ctx, a.dtype)?, "set_to_f32", &[n], &[Buf(&src), Buf(&dst), long(n)])?;
  Ok(dst)
}

/// `addScalar` / `multiplyScalar` in float64, rounded half to even and saturated for integers.
fn scalar<C: Gpu>(ctx: &C, c: &Call) -> SbResult<Option<Output>> {
  if !ctx.fp64() {
    return Err(SbError::dtype(format!("{} needs double precision on the device, which {} lacks", c.name, ctx.name())));
  }
  let s = stackbridge_kernels::set::stack::scalar_option(c)?;
  let dims = c.dims()?;
  let (out, dst) = result(ctx, c, dims, c.input.dtype)?;
  let n = dims.len();
  if n > 0 {
    let src = ctx.wrap(c.input)?;
    let op = if c.name == "addScalar" { 0 } else { 1 };
    ctx.launch(&*program(ctx, c.input.dtype)?, "set_scalar", &[n], &[Buf(&src), Buf(&dst), long(n), Acc(s), I32(op)])?;
  }
  finish(ctx, out, &dst)
}

fn absolute<C: Gpu>(ctx: &C, c: &Call) -> SbResult<Option<Output>> {
  c.params(&[])?;
  let dims = c.dims()?;
  let (out, dst) = result(ctx, c, dims, c.input.dtype)?;
  let n = dims.len();
  if n > 0 {
    let src = ctx.wrap(c.input)?;
    ctx.launch(&*program(ctx, c.input.dtype)?, "set_absolute", &[n], &[Buf(&src), Buf(&dst), long(n)])?;
  }
  finish(ctx, out, &dst)
}

fn projection<C: Gpu>(ctx: &C, c: &Call, kernel: &str, dtype: DType) -> SbResult<Option<Output>> {
  c.params(&[])?;
  let dims = c.dims()?;
  if dims.z == 0 && dtype != DType::F32 {
    // argmax of no slice (the sum of none is 0), as the CPU says.
    return Err(SbError::dimension(format!("{} needs at least one Z slice", c.name)).with("processor", c.name).with("z", 0));
  }
  let (out, dst) = result(ctx, c, Dims::new(1, dims.h, dims.w), dtype)?;
  let src = ctx.wrap(c.input)?;
  if dims.plane() > 0 {
    ctx.launch(&*program(ctx, c.input.dtype)?, kernel, &[dims.plane()], &[Buf(&src), Buf(&dst), long(dims.z), long(dims.plane())])?;
  }
  finish(ctx, out, &dst)
}

fn sum_projection<C: Gpu>(ctx: &C, c: &Call) -> SbResult<Option<Output>> {
  projection(ctx, c, "set_sum_projection", DType::F32)
}

fn argmax_projection<C: Gpu>(ctx: &C, c: &Call) -> SbResult<Option<Output>> {
  // The kernel writes non-negative int indices: the same bits as the uint32 result.
  projection(ctx, c, "set_argmax_projection", DType::U32)
}

/// The footprint filters: erosion / dilation by the clipped disk or square, composed for the
/// opening, closing and black top-hat (closing − image).
fn morphology<C: Gpu>(ctx: &C, c: &Call) -> SbResult<Option<Output>> {
  use crate::proc::tophat::erode_dilate;
  let fp = stackbridge_kernels::set::rank::footprint_options(c)?;
  let (radius, square) = (fp.radius, fp.shape == stackbridge_kernels::set::rank::Shape::Square);
  let dims = c.dims()?;
  let dt = c.input.dtype;
  let (out, dst) = result(ctx, c, dims, dt)?;
  if !dims.is_empty() {
    let src = ctx.wrap(c.input)?;
    match c.name {
      "minimumFilter" => erode_dilate(ctx, &src, dims, dt, radius, square, false, &dst)?,
      "maximumFilter" => erode_dilate(ctx, &src, dims, dt, radius, square, true, &dst)?,
      _ => {
        let tmp = ctx.temp(dt, dims.len())?;
        let first_max = c.name != "opening";
        erode_dilate(ctx, &src, dims, dt, radius, square, first_max, &tmp)?;
        erode_dilate(ctx, &tmp, dims, dt, radius, square, !first_max, &dst)?;
        if c.name == "blackTophat" {
          // dst = closing − image, written over the closing.
          let n = dims.len();
          ctx.launch(&*program(ctx, dt)?, "set_difference", &[n], &[Buf(&dst), Buf(&src), Buf(&dst), long(n)])?;
        }
        ctx.finish()?;
      }
    }
  }
  finish(ctx, out, &dst)
}
