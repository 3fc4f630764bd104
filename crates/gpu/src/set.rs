//! The processor set (DESIGN §12) on a GPU domain. An operation with device kernels (listed in
//! [`device_run`]) runs them on the calling thread's queue or stream; any other runs the CPU
//! implementation of stackbridge-kernels on the host: over the device's own memory where it is
//! host-addressable (OpenCL on a CPU, or a GPU sharing host memory), after the queue has finished,
//! else with its arrays transferred to the host and the result back. Either way `on_host` says so
//! and the trace records it (ARCHITECTURE.md lists which operations run where).

use crate::Gpu;
use stackbridge_core::backend::transfer;
use stackbridge_core::{Cancel, Device, HostArray, MemoryType, SbResult};
use stackbridge_kernels::set::{self, Call, Output, SetOp};

/// A set operation's result on the device.
pub struct SetResult {
  pub array: Option<HostArray>,
  pub special: Option<String>,
  pub on_host: bool,
}

/// A device implementation: the same contract as `SetOp::run`, on `ctx`'s device; `Ok(None)` when
/// these options have no device kernel (e.g. geometry's order 3), so the call takes the host path.
pub type DeviceRun<C> = fn(&C, &Call) -> SbResult<Option<Output>>;


/// Runs `op` for an input on `ctx`'s device; `aux` may live anywhere (brought to the input's device
/// or the host as the implementation needs).
pub fn run<C: Gpu>(ctx: &C, op: &'static SetOp, input: &HostArray, aux: &[Option<HostArray>], options: &str, cancel: &Cancel) -> SbResult<SetResult> {
  if let Some(f) = crate::proc::set::lookup::<C>(op.name, input.dtype) {
    let here: Vec<Option<HostArray>> = aux.iter().map(|a| a.as_ref().map(|a| on_device_of(a, input.device(), cancel)).transpose()).collect::<SbResult<_>>()?;
    if let Some(out) = f(ctx, &Call { name: op.name, input, aux: &here, options, cancel })? {
      return Ok(SetResult { array: out.array, special: out.special, on_host: false });
    }
  }
  // Work enqueued before (e.g. the kernels that wrote the input) must be done before the CPU reads.
  ctx.finish()?;
  let host_addressable = |a: &HostArray| -> SbResult<bool> { Ok(a.storage.block()?.host_addressable()) };
  if host_addressable(input)? {
    // The CPU reads and writes the device's memory in place: the result is allocated like the input.
    let aux: Vec<Option<HostArray>> = aux.iter().map(|a| a.as_ref().map(|a| host_view(a, cancel)).transpose()).collect::<SbResult<_>>()?;
    let out = set::run(op, input, &aux, options, cancel)?;
    return Ok(SetResult { array: out.array, special: out.special, on_host: true });
  }
  let host_in = transfer(input, Device::Host, MemoryType::Numpy, cancel)?;
  let aux: Vec<Option<HostArray>> = aux.iter().map(|a| a.as_ref().map(|a| host_view(a, cancel)).transpose()).collect::<SbResult<_>>()?;
  let out = set::run(op, &host_in, &aux, options, cancel)?;
  let array = out.array.map(|a| transfer(&a, input.device(), input.memory_type, cancel)).transpose()?;
  Ok(SetResult { array, special: out.special, on_host: true })
}

/// `a` readable by the CPU: as is where its memory is host-addressable, else a host copy.
fn host_view(a: &HostArray, cancel: &Cancel) -> SbResult<HostArray> {
  if a.storage.block()?.host_addressable() {
    Ok(a.clone())
  } else {
    transfer(a, Device::Host, MemoryType::Numpy, cancel)
  }
}

/// `a` on `device` (a further array from elsewhere is copied there).
fn on_device_of(a: &HostArray, device: Device, cancel: &Cancel) -> SbResult<HostArray> {
  if a.device() == device {
    Ok(a.clone())
  } else {
    transfer(a, device, a.memory_type, cancel)
  }
}
