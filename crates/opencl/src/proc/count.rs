//! `countCellsSingleChannel` on OpenCL: scaling, preprocessing and detection on the device,
//! bookkeeping (blob pruning, region properties, results) on the host with stackbridge-kernels.

use super::Ctx;
use stackbridge_core::{HostArray, SbResult};
use stackbridge_kernels::count::{CountParams, SliceResult};
use stackbridge_kernels::Dims;

/// Per-slice results and the optional int32 masks (as `stackbridge_kernels::count::count_cells`).
pub fn count_cells(ctx: &Ctx, input: &HostArray, dims: Dims, p: &CountParams) -> SbResult<(Vec<SliceResult>, Option<Vec<i32>>)> {
  let _ = (ctx, input, dims, p);
  Err(stackbridge_core::SbError::invalid("countCellsSingleChannel has no OpenCL kernel yet"))
}
