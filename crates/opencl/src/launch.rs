//! Kernel launches: arguments by value, sizes checked, driver statuses as typed errors.

use crate::buffer::ClBuf;
use crate::runtime::{ClDevice, Queue};
use opencl3::kernel::Kernel;
use opencl3::program::Program;
use stackbridge_core::SbResult;
use stackbridge_gpu::Arg;
use std::ptr;
use std::sync::Arc;

/// Enqueues kernel `name` of `program` over `global` work items (1 to 3 dimensions, x first).
/// Nothing is enqueued when any dimension is 0.
pub fn launch(dev: &ClDevice, q: &Arc<Queue>, program: &Program, name: &str, global: &[usize], args: &[Arg<'_, ClBuf>]) -> SbResult<()> {
  if global.contains(&0) {
    return Ok(());
  }
  let kernel = Kernel::create(program, name).map_err(|e| dev.fail(e.0, &format!("clCreateKernel({name})"), 0))?;
  for (i, a) in args.iter().enumerate() {
    let i = i as u32;
    let r = unsafe {
      match a {
        Arg::Buf(b) => {
          b.used_on(q);
          kernel.set_arg(i, &b.raw())
        }
        Arg::I64(v) => kernel.set_arg(i, v),
        Arg::I32(v) => kernel.set_arg(i, v),
        Arg::U32(v) => kernel.set_arg(i, v),
        Arg::F32(v) => kernel.set_arg(i, v),
        Arg::Acc(v) if dev.fp64 => kernel.set_arg(i, v),
        Arg::Acc(v) => kernel.set_arg(i, &(*v as f32)),
      }
    };
    r.map_err(|e| dev.fail(e.0, &format!("clSetKernelArg({name}, {i})"), 0))?;
  }
  unsafe { q.queue.enqueue_nd_range_kernel(kernel.get(), global.len() as u32, ptr::null(), global.as_ptr(), ptr::null(), &[]) }
    .map_err(|e| dev.fail(e.0, &format!("clEnqueueNDRangeKernel({name})"), 0))?;
  q.launched();
  Ok(())
}

/// Waits for everything enqueued on `q`.
pub fn finish(dev: &ClDevice, q: &Queue) -> SbResult<()> {
  q.queue.finish().map_err(|e| dev.fail(e.0, "clFinish", 0))
}
