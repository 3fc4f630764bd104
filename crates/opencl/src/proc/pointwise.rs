//! Element-wise and copying processors: crop.

use super::{long, type_defines, Ctx};
use crate::buffer::ClBuf;
use stackbridge_core::{DType, SbResult};
use stackbridge_kernels::Dims;

/// `crop`: the box at `start` ([z, y, x]) of `size` ([d, h, w]); the box was checked by
/// `Op::output` (stackbridge_kernels::pointwise::crop_dims).
pub fn crop(ctx: &Ctx, src: &ClBuf, dims: Dims, dtype: DType, start: [usize; 3], size: [usize; 3], out: &ClBuf) -> SbResult<()> {
  let p = ctx.program("elementwise", &type_defines(ctx, "T_IN", dtype)?)?;
  use crate::launch::Arg::Buf;
  ctx.launch(
    &p,
    "crop3d",
    &[size[2], size[1], size[0]],
    &[Buf(src), Buf(out), long(dims.h), long(dims.w), long(start[0]), long(start[1]), long(start[2]), long(size[0]), long(size[1]), long(size[2])],
  )
}
