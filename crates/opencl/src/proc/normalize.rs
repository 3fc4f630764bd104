//! Percentile normalisation and histogram equalisation on OpenCL (histogram on the device,
//! percentiles / CDF on the host, lookup-table or formula map on the device).

use super::Ctx;
use crate::buffer::ClBuf;
use stackbridge_core::{HostArray, SbResult};
use stackbridge_kernels::normalize::NormalizeParams;
use stackbridge_kernels::pointwise::EqualizeParams;
use stackbridge_kernels::Dims;

/// `stackPercentileNormalize` (`per_slice` false) / `percentileNormalize` (true) → uint16 `out`.
/// `input` is the host-addressable array behind `src`.
pub fn normalize(ctx: &Ctx, src: &ClBuf, input: &HostArray, dims: Dims, per_slice: bool, p: &NormalizeParams, out: &ClBuf) -> SbResult<()> {
  let _ = (ctx, src, input, dims, per_slice, p, out);
  Err(stackbridge_core::SbError::invalid("normalize has no OpenCL kernel yet"))
}

/// `stackEqualizeHistogram` → `out` of the input dtype.
pub fn equalize(ctx: &Ctx, src: &ClBuf, input: &HostArray, dims: Dims, p: &EqualizeParams, out: &ClBuf) -> SbResult<()> {
  let _ = (ctx, src, input, dims, p, out);
  Err(stackbridge_core::SbError::invalid("stackEqualizeHistogram has no OpenCL kernel yet"))
}
