//! Projections along Z and the weighted composite.

use crate::{long, type_defines, Gpu};
use crate::Arg::Buf;
use stackbridge_core::{DType, SbError, SbResult};
use stackbridge_kernels::pointwise::composite_weights;
use stackbridge_kernels::projection::ProjectionMethod;
use stackbridge_kernels::Dims;

/// `createProjection` → `[1, h, w]` `out` of the input dtype.
pub fn project<C: Gpu>(ctx: &C, src: &C::Buf, dims: Dims, dtype: DType, method: ProjectionMethod, out: &C::Buf) -> SbResult<()> {
  if dims.z == 0 {
    return Err(SbError::dimension(format!("{} needs at least one Z slice", method.name())).with("z", 0));
  }
  let plane = dims.plane();
  if plane == 0 {
    return Ok(());
  }
  let p = ctx.program("projection", &type_defines(ctx, "T_IN", dtype)?)?;
  let kernel = match method {
    ProjectionMethod::Max => "project_max",
    ProjectionMethod::Min => "project_min",
    ProjectionMethod::Mean => "project_mean",
    ProjectionMethod::Median => "project_median",
    ProjectionMethod::Std => "project_std",
  };
  ctx.launch(&p, kernel, &[plane], &[Buf(src), Buf(out), long(dims.z), long(plane)])
}

/// `createComposite` → `[1, h, w]` `out` of the input dtype.
pub fn composite<C: Gpu>(ctx: &C, src: &C::Buf, dims: Dims, dtype: DType, weights: Option<&[f64]>, out: &C::Buf) -> SbResult<()> {
  if dims.z == 0 {
    return Err(SbError::dimension("createComposite needs at least one Z slice").with("z", 0));
  }
  // The CPU's weight checks and normalisation (float32 weights summing to ~1).
  let w = composite_weights(dims.z, weights)?;
  let plane = dims.plane();
  if plane == 0 {
    return Ok(());
  }
  let p = ctx.program("projection", &type_defines(ctx, "T_IN", dtype)?)?;
  let wbuf = ctx.upload::<f32>(&w)?;
  // `wbuf` must outlive the launch: an OpenCL buffer waits for its queue when it drops; CUDA calls
  // synchronise their stream before their temporaries go.
  ctx.launch(&p, "composite", &[plane], &[Buf(src), Buf(out), Buf(&wbuf), long(dims.z), long(plane)])
}
