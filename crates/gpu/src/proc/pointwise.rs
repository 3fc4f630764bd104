//! Element-wise and copying processors: crop, applyMask, spatialBin2d.

use crate::{long, type_defines, Gpu};
use stackbridge_core::{DType, SbResult};
use stackbridge_kernels::Dims;

/// `crop`: the box at `start` ([z, y, x]) of `size` ([d, h, w]); the box was checked by
/// `Op::output` (stackbridge_kernels::pointwise::crop_dims).
pub fn crop<C: Gpu>(ctx: &C, src: &C::Buf, dims: Dims, dtype: DType, start: [usize; 3], size: [usize; 3], out: &C::Buf) -> SbResult<()> {
  let p = ctx.program("elementwise", &type_defines(ctx, "T_IN", dtype)?)?;
  use crate::Arg::Buf;
  ctx.launch(
    &p,
    "crop3d",
    &[size[2], size[1], size[0]],
    &[Buf(src), Buf(out), long(dims.h), long(dims.w), long(start[0]), long(start[1]), long(start[2]), long(size[0]), long(size[1]), long(size[2])],
  )
}

/// `applyMask`: `mask` is float32, `[h, w]` (`mask_is_stack` false) or `[z, h, w]`.
pub fn apply_mask<C: Gpu>(ctx: &C, src: &C::Buf, dims: Dims, dtype: DType, mask: &C::Buf, mask_is_stack: bool, out: &C::Buf) -> SbResult<()> {
  use crate::Arg::Buf;
  if dims.is_empty() {
    return Ok(());
  }
  let p = ctx.program("elementwise", &type_defines(ctx, "T_IN", dtype)?)?;
  let (period, reps) = if mask_is_stack { (dims.len(), 1) } else { (dims.plane(), dims.z) };
  ctx.launch(&p, "apply_mask", &[period, reps], &[Buf(src), Buf(out), Buf(mask), long(period), long(reps)])
}

/// `spatialBin2d` → `[z, h/bin, w/bin]` `out` of `dtype`.
pub fn spatial_bin<C: Gpu>(ctx: &C, src: &C::Buf, dims: Dims, dtype: DType, bin: usize, method: stackbridge_kernels::pointwise::BinMethod, out: &C::Buf) -> SbResult<()> {
  use crate::Arg::{Buf, I32};
  use stackbridge_kernels::pointwise::{spatial_bin_dims, BinMethod};
  let od = spatial_bin_dims(dims, bin)?;
  if od.is_empty() {
    return Ok(());
  }
  let p = ctx.program("elementwise", &type_defines(ctx, "T_IN", dtype)?)?;
  let m = match method {
    BinMethod::Mean => 0,
    BinMethod::Sum => 1,
    BinMethod::Max => 2,
    BinMethod::Min => 3,
  };
  ctx.launch(
    &p,
    "spatial_bin",
    &[od.w, od.h, od.z],
    &[Buf(src), Buf(out), long(dims.h), long(dims.w), long(od.z), long(od.h), long(od.w), long(bin), I32(m)],
  )
}
