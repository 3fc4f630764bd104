//! OpenCL devices as backend devices (DESIGN §11). Arrays live in memory from the device's caching
//! allocator, wrapped with `CL_MEM_USE_HOST_PTR` (zero-copy where the device shares host memory,
//! as PoCL does), so copies in and out are host copies; kernels run on the calling thread's
//! command queue and each processor finishes its queue before it returns.

use crate::dispatch;
use crate::gpu::Ctx;
use stackbridge_gpu::Gpu;
use crate::runtime::{devices, queue, ClDevice};
use stackbridge_core::alloc::{allocator_for, CachingAllocator};
use stackbridge_core::backend::{BackendDevice, CountOutput, DeviceDescription, ProcessorCall, ProcessorOutput};
use stackbridge_core::{Cancel, Device, HostArray, SbResult};
use std::sync::Arc;

pub struct OpenClDevice {
  dev: &'static ClDevice,
  allocator: &'static CachingAllocator,
}

/// Every OpenCL device of this machine (none without an OpenCL runtime).
pub fn backend_devices() -> Vec<Arc<dyn BackendDevice>> {
  devices()
    .iter()
    .filter_map(|dev| Some(Arc::new(OpenClDevice { dev, allocator: allocator_for(dev.id()).ok()? }) as Arc<dyn BackendDevice>))
    .collect()
}

impl BackendDevice for OpenClDevice {
  fn id(&self) -> Device {
    self.dev.id()
  }
  fn describe(&self) -> DeviceDescription {
    let d = self.dev;
    DeviceDescription {
      kind: "opencl",
      name: d.name.clone(),
      total_memory: d.global_mem,
      shares_host: d.shares_host,
      platform: Some(d.platform.clone()),
      device_type: Some(d.kind.into()),
      fp64: Some(d.fp64),
      compute_capability: None,
    }
  }
  fn allocator(&self) -> &'static CachingAllocator {
    self.allocator
  }
  fn check_alive(&self) -> SbResult<()> {
    self.dev.check_alive()
  }
  fn stream(&self) -> SbResult<u64> {
    Ok(queue(self.dev)?.id)
  }
  fn synchronize(&self) -> SbResult<()> {
    let q = queue(self.dev)?;
    crate::launch::finish(self.dev, &q)
  }
  fn run_processor(&self, c: &ProcessorCall) -> SbResult<ProcessorOutput> {
    // The OpenCL kernels run as one enqueue: the flag is checked before and after it.
    c.cancel.check()?;
    dispatch::device_of(c.input, c.name)?;
    let ctx = Ctx::new(self.dev)?;
    let array = stackbridge_gpu::dispatch::run_processor(&ctx, c.name, c.input, c.options, c.aux, c.cancel)?;
    c.cancel.check()?;
    Ok(ProcessorOutput { array, stream: Some(ctx.queue_id()) })
  }
  fn count_cells(&self, input: &HostArray, options: &str, cancel: &Cancel) -> SbResult<CountOutput> {
    cancel.check()?;
    let (results, masks, q) = dispatch::run_count_cells(input, options)?;
    cancel.check()?;
    Ok(CountOutput { results, masks, stream: Some(q) })
  }
}
