//! Projections along Z and the weighted composite on OpenCL.

use super::Ctx;
use crate::buffer::ClBuf;
use stackbridge_core::{DType, SbResult};
use stackbridge_kernels::projection::ProjectionMethod;
use stackbridge_kernels::Dims;

/// `createProjection` → `[1, h, w]` `out` of the input dtype.
pub fn project(ctx: &Ctx, src: &ClBuf, dims: Dims, dtype: DType, method: ProjectionMethod, out: &ClBuf) -> SbResult<()> {
  let _ = (ctx, src, dims, dtype, method, out);
  Err(stackbridge_core::SbError::invalid("createProjection has no OpenCL kernel yet"))
}

/// `createComposite` → `[1, h, w]` `out` of the input dtype.
pub fn composite(ctx: &Ctx, src: &ClBuf, dims: Dims, dtype: DType, weights: Option<&[f64]>, out: &ClBuf) -> SbResult<()> {
  let _ = (ctx, src, dims, dtype, weights, out);
  Err(stackbridge_core::SbError::invalid("createComposite has no OpenCL kernel yet"))
}
