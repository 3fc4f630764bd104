//! The processors by name on OpenCL arrays, with the same names, options, defaults and option
//! errors as the CPU processors (`stackbridge_kernels::dispatch::Op`). The result is a new array
//! in the same device's memory, of the input's memory type.

use crate::buffer::ClBuf;
use crate::proc::{self, Ctx};
use crate::runtime::device;
use stackbridge_core::{ops, DType, Device, HostArray, SbError, SbResult};
use stackbridge_kernels::dispatch::{check_mask, count_params, Op};
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
  let dt = input.dtype;
  // Temporaries the kernels read: kept alive until the queue has finished with them.
  let mut keep: Vec<ClBuf> = Vec::new();
  match &op {
    Op::Normalize { per_slice, params } => proc::normalize::normalize(&ctx, &src, input, dims, *per_slice, params, &dst)?,
    Op::Tophat(tp) => proc::tophat::tophat(&ctx, &src, dims, dt, tp, &dst)?,
    Op::Projection(method) => proc::projection::project(&ctx, &src, dims, dt, *method, &dst)?,
    Op::Sharpen { radius, amount } => proc::filters::sharpen(&ctx, &src, dims, dt, *radius, *amount, &dst)?,
    Op::Composite { weights } => proc::projection::composite(&ctx, &src, dims, dt, weights.as_deref(), &dst)?,
    Op::ApplyMask => {
      let mask = aux.ok_or_else(|| SbError::invalid("applyMask needs a mask array"))?;
      check_mask(mask, dims, &input.shape)?;
      // The mask may live anywhere host-addressable; the kernel reads a float32 copy on the device.
      let m32 = ops::astype(mask, DType::F32)?;
      let mut mbuf = ClBuf::temp::<f32>(dev, m32.numel().max(1))?;
      mbuf.write(dev, &ctx.q, m32.pin()?.as_slice::<f32>())?;
      proc::pointwise::apply_mask(&ctx, &src, dims, dt, &mbuf, mask.shape.len() == 3, &dst)?;
      keep.push(mbuf);
    }
    Op::Equalize(ep) => proc::normalize::equalize(&ctx, &src, input, dims, ep, &dst)?,
    Op::SpatialBin { bin, method } => proc::pointwise::spatial_bin(&ctx, &src, dims, dt, *bin, *method, &dst)?,
    Op::Crop { start, size } => proc::pointwise::crop(&ctx, &src, dims, dt, *start, *size, &dst)?,
    Op::Gaussian { sigma } => proc::filters::gaussian(&ctx, &src, dims, dt, *sigma, &dst)?,
  }
  ctx.complete(&dst)?;
  drop(keep);
  let out = HostArray { readonly: input.memory_type.is_immutable(), ..out };
  Ok(Run { array: out, queue: ctx.q.id, device: dev.id(), micros: t0.elapsed().as_secs_f64() * 1e6 })
}

/// `countCellsSingleChannel` on an OpenCL stack: the per-slice results as JSON and the optional
/// int32 masks (in the device's memory, the input's memory type).
pub fn run_count_cells(input: &HostArray, options: &str) -> SbResult<(String, Option<HostArray>, u64)> {
  let dims = Dims::from_shape(&input.shape).map_err(|e| e.with("processor", "countCellsSingleChannel"))?;
  let params = count_params(options)?;
  let dev = device(device_of(input, "countCellsSingleChannel")?)?;
  let ctx = Ctx::new(dev)?;
  let (results, masks) = proc::count::count_cells(&ctx, input, dims, &params)?;
  let json = serde_json::to_string(&results).map_err(|e| SbError::invalid(format!("cannot serialise the results: {e}")))?;
  let masks = match masks {
    None => None,
    Some(m) => {
      let out = input.alloc_like(vec![dims.z, dims.h, dims.w], DType::I32, input.memory_type, false)?;
      out.pin()?.as_mut_slice::<i32>().copy_from_slice(&m);
      Some(out)
    }
  };
  Ok((json, masks, ctx.q.id))
}
