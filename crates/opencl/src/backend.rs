//! OpenCL devices as backend devices (DESIGN §11). Arrays live in memory from the device's caching
//! allocator: host memory wrapped with `CL_MEM_USE_HOST_PTR` where the device shares host memory
//! (zero-copy, as on PoCL; copies in and out are host copies), else device-resident `cl_mem`
//! blocks (`memory.rs`; copies are `clEnqueue{Write,Read,Copy}Buffer` on the calling thread's
//! queue). Kernels run on the calling thread's command queue and each processor finishes its queue
//! before it returns.

use crate::dispatch;
use crate::gpu::Ctx;
use stackbridge_gpu::Gpu;
use crate::memory;
use crate::runtime::{devices, queue, ClDevice};
use stackbridge_core::alloc::{allocator_for, Block, CachingAllocator};
use stackbridge_core::backend::{self, host_copy_device, host_download, host_upload, BackendDevice, CountOutput, DeviceDescription, ProcessorCall, ProcessorOutput};
use stackbridge_core::{Cancel, Device, HostArray, SbError, SbResult};
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
      // Whether arrays on it are host memory it works in (zero-copy from numpy), not merely whether
      // the hardware could: a device-resident one answers false.
      shares_host: !d.resident,
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
  fn upload(&self, dst: &Block, offset: usize, src: &[u8]) -> SbResult<()> {
    if dst.host_addressable() {
      return host_upload(dst, offset, src);
    }
    in_block(dst, offset, src.len())?;
    memory::write(&queue(self.dev)?.queue, dst.addr(), offset, src).map_err(|e| self.dev.fail(e, "clEnqueueWriteBuffer", 0))
  }
  fn download(&self, src: &Block, offset: usize, dst: &mut [u8]) -> SbResult<()> {
    if src.host_addressable() {
      return host_download(src, offset, dst);
    }
    in_block(src, offset, dst.len())?;
    memory::read(&queue(self.dev)?.queue, src.addr(), offset, dst).map_err(|e| self.dev.fail(e, "clEnqueueReadBuffer", 0))
  }
  fn copy_device(&self, dst: &Block, dst_offset: usize, src: &Block, src_offset: usize, bytes: usize) -> SbResult<()> {
    match (dst.host_addressable(), src.host_addressable()) {
      (true, true) => host_copy_device(dst, dst_offset, src, src_offset, bytes),
      (false, false) if src.device() == dst.device() => {
        in_block(dst, dst_offset, bytes)?;
        in_block(src, src_offset, bytes)?;
        memory::copy(&queue(self.dev)?.queue, dst.addr(), dst_offset, src.addr(), src_offset, bytes).map_err(|e| self.dev.fail(e, "clEnqueueCopyBuffer", 0))
      }
      // Another OpenCL device (another context), or one side in host memory: through the host.
      _ => {
        let mut staging = vec![0u8; bytes];
        backend::device(src.device())?.download(src, src_offset, &mut staging)?;
        self.upload(dst, dst_offset, &staging)
      }
    }
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
    let out = stackbridge_gpu::dispatch::run_named(&ctx, c.name, c.input, c.options, c.aux, c.cancel)?;
    c.cancel.check()?;
    Ok(ProcessorOutput { array: out.array, stream: Some(ctx.queue_id()), special: out.special, on_host: out.on_host })
  }
  fn count_cells(&self, input: &HostArray, options: &str, cancel: &Cancel) -> SbResult<CountOutput> {
    cancel.check()?;
    let (results, masks, q) = dispatch::run_count_cells(input, options)?;
    cancel.check()?;
    Ok(CountOutput { results, masks, stream: Some(q) })
  }
}

/// `InvalidArgumentError` for a copy outside `b` (never a driver call over a wrong range).
fn in_block(b: &Block, offset: usize, bytes: usize) -> SbResult<()> {
  if offset.checked_add(bytes).is_none_or(|end| end > b.len()) {
    return Err(SbError::invalid(format!("copy of {bytes} B at {offset} is outside a block of {} B", b.len())));
  }
  Ok(())
}
