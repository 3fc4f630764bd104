//! The processors by name on OpenCL arrays: stackbridge-gpu's orchestration on this thread's
//! queue of the input's device.

use crate::gpu::Ctx;
use crate::runtime::device;
use stackbridge_core::{Cancel, Device, HostArray, SbError, SbResult};
use stackbridge_gpu::{dispatch, Gpu};
use std::time::Instant;

/// A processor's result and where it ran.
pub struct Run {
  pub array: HostArray,
  /// The command queue (one per engine thread per device) the kernels were enqueued on.
  pub queue: u64,
  pub device: Device,
  pub micros: f64,
}

/// The OpenCL device an array lives on (`InvalidArgumentError` for any other).
pub fn device_of(a: &HostArray, what: &str) -> SbResult<u32> {
  match a.device() {
    Device::OpenCl(n) => Ok(n),
    other => Err(SbError::invalid(format!("{what} is on {other}; the OpenCL processors take arrays on an opencl device")).with("device", other.to_string())),
  }
}

/// Runs processor `name` on `input` (an array on an OpenCL device). `aux` is `applyMask`'s mask.
pub fn run_processor(name: &str, input: &HostArray, options: &str, aux: Option<&HostArray>) -> SbResult<Run> {
  let t0 = Instant::now();
  let dev = device(device_of(input, name)?)?;
  let ctx = Ctx::new(dev)?;
  let array = dispatch::run_processor(&ctx, name, input, options, aux, &Cancel::none())?;
  Ok(Run { array, queue: ctx.queue_id(), device: dev.id(), micros: t0.elapsed().as_secs_f64() * 1e6 })
}

/// `countCellsSingleChannel` on an OpenCL stack: the per-slice results as JSON, the optional
/// int32 masks (in the device's memory, the input's memory type) and the queue used.
pub fn run_count_cells(input: &HostArray, options: &str) -> SbResult<(String, Option<HostArray>, u64)> {
  let dev = device(device_of(input, "countCellsSingleChannel")?)?;
  let ctx = Ctx::new(dev)?;
  let (json, masks) = dispatch::run_count_cells(&ctx, input, options)?;
  Ok((json, masks, ctx.queue_id()))
}
