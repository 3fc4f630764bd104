//! The binary morphology of the set (`stackbridge_kernels::set::binary`) on the device: the mask
//! `x != 0` (program "set_binary"), then the top-hat's exact clipped erosion / dilation
//! ("morphology", `erode_dilate`) on it as uint8. On a 0/1 image the clipped dilation equals
//! scipy's with `border_value=0` (outside pixels are 0 and never win a max); the clipped erosion
//! differs only where the footprint leaves the image, which scipy erodes: the band of width
//! `radius` along the edges, cleared after each erosion (`sb_clear_border`).

use super::{finish, result};
use crate::proc::tophat::erode_dilate;
use crate::set::DeviceRun;
use crate::Arg::Buf;
use crate::{long, type_defines, Gpu};
use stackbridge_core::{DType, SbResult};
use stackbridge_kernels::set::{Call, Output};

/// The device implementation of `name` for an input of `dtype`, if it has one.
pub fn lookup<C: Gpu>(name: &str, _dtype: DType) -> Option<DeviceRun<C>> {
  Some(match name {
    "binaryDilation" | "binaryErosion" | "binaryOpening" | "binaryClosing" => morph::<C>,
    _ => return None,
  })
}

/// The "set_binary" program for kernels over `dtype` elements.
pub(super) fn program<C: Gpu>(ctx: &C, dtype: DType) -> SbResult<std::sync::Arc<C::Program>> {
  ctx.program("set_binary", &type_defines(ctx, "T_IN", dtype)?)
}

/// `mask[i] = c.input[i] != 0` as uint8 0/1 (NaN nonzero, -0.0 zero) for a non-empty input.
pub(super) fn mask<C: Gpu>(ctx: &C, c: &Call, n: usize, mask: &C::Buf) -> SbResult<()> {
  let src = ctx.wrap(c.input)?;
  if c.input.dtype == DType::F64 && !ctx.fp64() {
    // float64 without fp64: its bits.
    return ctx.launch(&*program(ctx, DType::U8)?, "sb_mask_f64_bits", &[n], &[Buf(&src), Buf(mask), long(n)]);
  }
  ctx.launch(&*program(ctx, c.input.dtype)?, "sb_mask", &[n], &[Buf(&src), Buf(mask), long(n)])
}

/// `binaryDilation` / `binaryErosion` / `binaryOpening` / `binaryClosing` → uint8.
fn morph<C: Gpu>(ctx: &C, c: &Call) -> SbResult<Option<Output>> {
  let (r, square) = stackbridge_kernels::set::binary::morph_options(c)?;
  let dims = c.dims()?;
  let (out, dst) = result(ctx, c, dims, DType::U8)?;
  if dims.is_empty() {
    return finish(ctx, out, &dst);
  }
  let n = dims.len();
  let m = ctx.temp(DType::U8, n)?;
  mask(ctx, c, n, &m)?;
  let p = program(ctx, DType::U8)?;
  let clear = |b: &C::Buf| ctx.launch(&p, "sb_clear_border", &[dims.w, dims.h, dims.z], &[Buf(b), long(dims.h), long(dims.w), long(dims.z), long(r)]);
  let step = |src: &C::Buf, dst: &C::Buf, dilate: bool| -> SbResult<()> {
    erode_dilate(ctx, src, dims, DType::U8, r, square, dilate, dst)?;
    if !dilate {
      clear(dst)?;
    }
    Ok(())
  };
  match c.name {
    "binaryDilation" => step(&m, &dst, true)?,
    "binaryErosion" => step(&m, &dst, false)?,
    name => {
      let tmp = ctx.temp(DType::U8, n)?;
      let closing = name == "binaryClosing";
      step(&m, &tmp, closing)?;
      step(&tmp, &dst, !closing)?;
      ctx.finish()?;
    }
  }
  finish(ctx, out, &dst)
}
