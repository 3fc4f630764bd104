//! The processors by name on OpenCL arrays, with the same names, options, defaults and option
//! errors as the CPU processors (`stackbridge_kernels::dispatch::Op`). The result is a new array
//! in the same device's memory, of the input's memory type.

use crate::buffer::ClBuf;
use crate::proc::{self, Ctx};
use crate::runtime::device;
use stackbridge_core::{Device, HostArray, SbError, SbResult};
use stackbridge_kernels::dispatch::Op;
use stackbridge_kernels::Dims;
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
  let op = Op::parse(name, options)?;
  if aux.is_some() && op != Op::ApplyMask {
    return Err(SbError::invalid(format!("{name} takes no second array")));
  }
  let n = device_of(input, name)?;
  let dev = device(n)?;
  let dims = Dims::from_shape(&input.shape).map_err(|e| e.with("processor", name))?;
  let (out_dims, out_dtype) = op.output(dims, input.dtype)?;
  let ctx = Ctx::new(dev)?;
  let src = ClBuf::wrap(dev, input)?;
  let (out, dst) = ClBuf::alloc(dev, vec![out_dims.z, out_dims.h, out_dims.w], out_dtype, input.memory_type)?;
  match &op {
    Op::Crop { start, size } => proc::pointwise::crop(&ctx, &src, dims, input.dtype, *start, *size, &dst)?,
    _ => return Err(SbError::invalid(format!("{name} has no OpenCL kernel yet")).with("processor", name)),
  }
  ctx.complete(&dst)?;
  let out = HostArray { readonly: input.memory_type.is_immutable(), ..out };
  Ok(Run { array: out, queue: ctx.q.id, device: dev.id(), micros: t0.elapsed().as_secs_f64() * 1e6 })
}
