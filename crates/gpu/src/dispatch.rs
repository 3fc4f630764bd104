//! The processors by name on any [`Gpu`], with the same names, options, defaults and option
//! errors as the CPU processors (`stackbridge_kernels::dispatch::Op`). The result is a new array
//! in the same device's memory, of the input's memory type. A domain checks that the input lives
//! on its device, makes its context for the calling thread and calls these.

use crate::{proc, Gpu};
use stackbridge_core::backend::transfer;
use stackbridge_core::{ops, Cancel, DType, Device, HostArray, MemoryType, SbError, SbResult};
use stackbridge_kernels::count::SliceResult;
use stackbridge_kernels::dispatch::{check_mask, count_params, Op};
use stackbridge_kernels::Dims;

/// Runs processor `name` — of DESIGN §7 or of the set (§12) — on `input` (an array on `ctx`'s
/// device) with its further arrays `aux`, which may live anywhere.
pub fn run_named<C: Gpu>(ctx: &C, name: &str, input: &HostArray, options: &str, aux: &[Option<HostArray>], cancel: &Cancel) -> SbResult<crate::set::SetResult> {
  if let Some(op) = stackbridge_kernels::set::find(name) {
    return crate::set::run(ctx, op, input, aux, options, cancel);
  }
  let first = stackbridge_kernels::dispatch::single_aux(name, aux)?;
  Ok(crate::set::SetResult { array: Some(run_processor(ctx, name, input, options, first, cancel)?), special: None, on_host: false })
}

/// Runs processor `name` of DESIGN §7 on `input` (an array on `ctx`'s device). `aux` is `applyMask`'s mask,
/// which may live anywhere: a mask in another device's memory is brought to the host first.
pub fn run_processor<C: Gpu>(ctx: &C, name: &str, input: &HostArray, options: &str, aux: Option<&HostArray>, cancel: &Cancel) -> SbResult<HostArray> {
  let op = Op::parse(name, options)?;
  if aux.is_some() && op != Op::ApplyMask {
    return Err(SbError::invalid(format!("{name} takes no second array")));
  }
  let dims = Dims::from_shape(&input.shape).map_err(|e| e.with("processor", name))?;
  let (out_dims, out_dtype) = op.output(dims, input.dtype)?;
  let src = ctx.wrap(input)?;
  let (out, dst) = ctx.alloc(vec![out_dims.z, out_dims.h, out_dims.w], out_dtype, input.memory_type)?;
  let dt = input.dtype;
  // Temporaries the kernels read: kept alive until the queue has finished with them.
  let mut keep: Vec<C::Buf> = Vec::new();
  match &op {
    Op::Normalize { per_slice, params } => proc::normalize::normalize(ctx, &src, input, dims, *per_slice, params, &dst)?,
    Op::Tophat(tp) => proc::tophat::tophat(ctx, &src, dims, dt, tp, &dst)?,
    Op::Projection(method) => proc::projection::project(ctx, &src, dims, dt, *method, &dst)?,
    Op::Sharpen { radius, amount } => proc::filters::sharpen(ctx, &src, dims, dt, *radius, *amount, &dst)?,
    Op::Composite { weights } => proc::projection::composite(ctx, &src, dims, dt, weights.as_deref(), &dst)?,
    Op::ApplyMask => {
      let mask = aux.ok_or_else(|| SbError::invalid("applyMask needs a mask array"))?;
      check_mask(mask, dims, &input.shape)?;
      let host_mask;
      let mask = if mask.storage.block()?.host_addressable() {
        mask
      } else {
        host_mask = transfer(mask, Device::Host, MemoryType::Numpy, cancel)?;
        &host_mask
      };
      // The kernel reads a float32 copy of the mask in the device's memory.
      let m32 = ops::astype(mask, DType::F32)?;
      let mbuf = ctx.upload(m32.pin()?.as_slice::<f32>())?;
      proc::pointwise::apply_mask(ctx, &src, dims, dt, &mbuf, mask.shape.len() == 3, &dst)?;
      keep.push(mbuf);
    }
    Op::Equalize(ep) => proc::normalize::equalize(ctx, &src, input, dims, ep, &dst)?,
    Op::SpatialBin { bin, method } => proc::pointwise::spatial_bin(ctx, &src, dims, dt, *bin, *method, &dst)?,
    Op::Crop { start, size } => proc::pointwise::crop(ctx, &src, dims, dt, *start, *size, &dst)?,
    Op::Gaussian { sigma } => proc::filters::gaussian(ctx, &src, dims, dt, *sigma, &dst)?,
  }
  ctx.complete(&dst)?;
  drop(keep);
  Ok(HostArray { readonly: input.memory_type.is_immutable(), ..out })
}

/// `countCellsSingleChannel` on a stack on `ctx`'s device: the per-slice results as JSON and the
/// optional int32 masks (in the device's memory, the input's memory type).
pub fn run_count_cells<C: Gpu>(ctx: &C, input: &HostArray, options: &str) -> SbResult<(String, Option<HostArray>)> {
  let dims = Dims::from_shape(&input.shape).map_err(|e| e.with("processor", "countCellsSingleChannel"))?;
  let params = count_params(options)?;
  let (results, masks): (Vec<SliceResult>, _) = proc::count::count_cells(ctx, input, dims, &params)?;
  let json = serde_json::to_string(&results).map_err(|e| SbError::invalid(format!("cannot serialise the results: {e}")))?;
  let masks = match masks {
    None => None,
    Some(m) => {
      let (out, mut buf) = ctx.alloc(vec![dims.z, dims.h, dims.w], DType::I32, input.memory_type)?;
      ctx.write(&mut buf, &m)?;
      ctx.complete(&buf)?;
      Some(HostArray { readonly: input.memory_type.is_immutable(), ..out })
    }
  };
  Ok((json, masks))
}
