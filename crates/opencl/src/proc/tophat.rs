//! The tophat processor on OpenCL: anti-aliased downsampling, flat-disk opening, order-1
//! upsampling, subtraction (and the exact full-resolution top-hat for downsampleFactor 1).

use super::Ctx;
use crate::buffer::ClBuf;
use stackbridge_core::{DType, SbResult};
use stackbridge_kernels::tophat::TophatParams;
use stackbridge_kernels::Dims;

/// `tophat` → `out` of `dtype`.
pub fn tophat(ctx: &Ctx, src: &ClBuf, dims: Dims, dtype: DType, p: &TophatParams, out: &ClBuf) -> SbResult<()> {
  let _ = (ctx, src, dims, dtype, p, out);
  Err(stackbridge_core::SbError::invalid("tophat has no OpenCL kernel yet"))
}
