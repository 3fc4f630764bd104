//! Gaussian filtering, unsharp masking and the disk median on OpenCL, plus the float32 building
//! blocks cell counting uses.

use super::Ctx;
use crate::buffer::ClBuf;
use stackbridge_core::{DType, SbResult};
use stackbridge_kernels::gaussian::BorderMode;
use stackbridge_kernels::Dims;

/// `gaussian` (scipy.ndimage.gaussian_filter per slice, reflect, truncate 4) → `out` of `dtype`.
pub fn gaussian(ctx: &Ctx, src: &ClBuf, dims: Dims, dtype: DType, sigma: f64, out: &ClBuf) -> SbResult<()> {
  let _ = (ctx, src, dims, dtype, sigma, out);
  Err(stackbridge_core::SbError::invalid("gaussian has no OpenCL kernel yet"))
}

/// `sharpen` → `out` of `dtype`.
pub fn sharpen(ctx: &Ctx, src: &ClBuf, dims: Dims, dtype: DType, radius: f64, amount: f64, out: &ClBuf) -> SbResult<()> {
  let _ = (ctx, src, dims, dtype, radius, amount, out);
  Err(stackbridge_core::SbError::invalid("sharpen has no OpenCL kernel yet"))
}

/// Per slice of a float32 stack: `gaussian_plane_f32` of stackbridge-kernels.
pub fn gaussian_f32(ctx: &Ctx, src: &ClBuf, dims: Dims, sigma: f64, mode: BorderMode, out: &ClBuf) -> SbResult<()> {
  let _ = (ctx, src, dims, sigma, mode, out);
  Err(stackbridge_core::SbError::invalid("gaussian_f32 has no OpenCL kernel yet"))
}

/// Per slice of a float32 stack: `gaussian_laplace_plane_f32` of stackbridge-kernels.
pub fn gaussian_laplace_f32(ctx: &Ctx, src: &ClBuf, dims: Dims, sigma: f64, out: &ClBuf) -> SbResult<()> {
  let _ = (ctx, src, dims, sigma, out);
  Err(stackbridge_core::SbError::invalid("gaussian_laplace_f32 has no OpenCL kernel yet"))
}

/// Per slice of a float32 stack: `median_disk_plane_f32` of stackbridge-kernels (skimage median, disk(r)).
pub fn median_disk_f32(ctx: &Ctx, src: &ClBuf, dims: Dims, radius: usize, out: &ClBuf) -> SbResult<()> {
  let _ = (ctx, src, dims, radius, out);
  Err(stackbridge_core::SbError::invalid("median_disk_f32 has no OpenCL kernel yet"))
}
