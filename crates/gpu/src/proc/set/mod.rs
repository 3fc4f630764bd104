//! Device kernels of the processor set (DESIGN §12), one module per group of `stackbridge_kernels::set`:
//! each entry runs one operation with the same options, checks and results as its CPU
//! implementation (bit for bit for integer results where the device has fp64; floats within the
//! golden case's tolerance). An operation or dtype no module lists runs on the host (`crate::set`),
//! recorded in the trace as `onHost`.

mod binary;
mod filters;
mod geometry;
mod labels;
mod rank;
mod stack;

use crate::set::DeviceRun;
use crate::Gpu;
use stackbridge_core::{DType, HostArray, SbResult};
use stackbridge_kernels::set::{Call, Output};
use stackbridge_kernels::Dims;

/// The device implementation of `name` for an input of `dtype`, if it has one.
pub fn lookup<C: Gpu>(name: &str, dtype: DType) -> Option<DeviceRun<C>> {
  stack::lookup(name, dtype)
    .or_else(|| rank::lookup(name, dtype))
    .or_else(|| filters::lookup(name, dtype))
    .or_else(|| binary::lookup(name, dtype))
    .or_else(|| labels::lookup(name, dtype))
    .or_else(|| geometry::lookup(name, dtype))
}

/// A result array of `dims` and `dtype` on the device, in the input's memory type.
pub(crate) fn result<C: Gpu>(ctx: &C, c: &Call, dims: Dims, dtype: DType) -> SbResult<(HostArray, C::Buf)> {
  let (a, b) = ctx.alloc(vec![dims.z, dims.h, dims.w], dtype, c.input.memory_type)?;
  Ok((HostArray { readonly: c.input.memory_type.is_immutable(), ..a }, b))
}

/// Waits for the kernels that wrote `buf` (the array `out`) and returns it.
pub(crate) fn finish<C: Gpu>(ctx: &C, out: HostArray, buf: &C::Buf) -> SbResult<Option<Output>> {
  ctx.complete(buf)?;
  Ok(Some(Output::array(out)))
}
