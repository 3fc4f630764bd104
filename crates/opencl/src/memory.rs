//! Device-resident memory for OpenCL devices that do not share host memory (discrete GPUs): each
//! block of the device's caching allocator is its own `cl_mem` (`CL_MEM_READ_WRITE`, no host
//! pointer), and the block's address *is* that handle. Arrays then stay on the device between
//! processors (no copy per processor boundary); host code reaches them only through the backend's
//! `upload` / `download` (`clEnqueueWriteBuffer` / `clEnqueueReadBuffer`). On a device that shares
//! host memory (PoCL, integrated GPUs) arrays stay host memory wrapped with `CL_MEM_USE_HOST_PTR`,
//! which is zero-copy; `STACKBRIDGE_OPENCL_RESIDENT=1` forces this module's memory there too, so
//! the discrete-GPU path runs in CI on PoCL.

use crate::error::is_out_of_memory;
use opencl3::command_queue::CommandQueue;
use opencl3::context::Context;
use opencl3::memory::{create_buffer, release_mem_object, Buffer, CL_MEM_READ_WRITE};
use opencl3::types::{cl_mem, CL_BLOCKING};
use stackbridge_core::alloc::RawMemory;
use stackbridge_core::{ErrorCode, SbError, SbResult};
use std::ptr;
use std::sync::Mutex;

/// Whether arrays on a device are device-resident: it does not share host memory, or the
/// environment asks for it (testing).
pub fn resident(shares_host: bool) -> bool {
  !shares_host || std::env::var("STACKBRIDGE_OPENCL_RESIDENT").is_ok_and(|v| v == "1")
}

/// The `cl_mem` a resident block's address holds, borrowed: wrapped without taking ownership.
pub(crate) fn borrowed(addr: usize) -> std::mem::ManuallyDrop<Buffer<u8>> {
  std::mem::ManuallyDrop::new(Buffer::new(addr as cl_mem))
}

/// One device's `cl_mem` blocks. Zeroing uses a queue of its own (allocation can happen on any
/// thread, before that thread has an engine queue).
pub struct ResidentMemory {
  context: Context,
  queue: Mutex<CommandQueue>,
  label: String,
  align: usize,
}

// SAFETY: OpenCL 1.2 handles are thread-safe; the queue is used under its mutex.
unsafe impl Send for ResidentMemory {}
unsafe impl Sync for ResidentMemory {}

impl ResidentMemory {
  /// Memory of the device of `context` (a new reference to it), labelled `opencl:N`; `align` is
  /// `CL_DEVICE_MEM_BASE_ADDR_ALIGN` in bytes (sub-buffers must start on it).
  pub fn new(context: Context, label: String, align: usize) -> SbResult<ResidentMemory> {
    #[allow(deprecated)] // clCreateCommandQueue: the OpenCL 1.2 entry point every driver has
    let queue = CommandQueue::create_default(&context, 0).map_err(|e| fail(e.0, "clCreateCommandQueue", &label))?;
    Ok(ResidentMemory { context, queue: Mutex::new(queue), label, align })
  }

  fn fill_zero(&self, addr: usize, bytes: usize) -> SbResult<()> {
    let q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
    let mut buf = borrowed(addr);
    // SAFETY: the block is a live buffer of at least `bytes`.
    unsafe { q.enqueue_fill_buffer(&mut *buf, &[0u8], 0, bytes, &[]) }.map_err(|e| fail(e.0, "clEnqueueFillBuffer", &self.label))?;
    q.finish().map_err(|e| fail(e.0, "clFinish", &self.label))
  }
}

/// A driver error here (the allocator's lock is held: no lookups of its numbers).
fn fail(code: i32, what: &str, label: &str) -> SbError {
  let kind = if crate::error::is_device_lost(code) { ErrorCode::DeviceLost } else { ErrorCode::Device };
  SbError::new(kind, format!("OpenCL {what} failed on {label} with status {code}")).with("device", label).with("clStatus", code)
}

impl RawMemory for ResidentMemory {
  fn alloc(&self, bytes: usize, zeroed: bool) -> SbResult<Option<usize>> {
    // SAFETY: a new buffer without a host pointer.
    let mem = match unsafe { create_buffer(self.context.get(), CL_MEM_READ_WRITE, bytes.max(1), ptr::null_mut()) } {
      Ok(m) => m,
      // The device is full: the caching allocator empties its cache, retries, then reports it.
      Err(code) if is_out_of_memory(code) => return Ok(None),
      Err(code) => return Err(fail(code, "clCreateBuffer", &self.label)),
    };
    if zeroed {
      if let Err(e) = self.fill_zero(mem as usize, bytes) {
        // SAFETY: the buffer was created above and is not used anywhere.
        let _ = unsafe { release_mem_object(mem) };
        return Err(e);
      }
    }
    Ok(Some(mem as usize))
  }
  fn free(&self, addr: usize, _bytes: usize) {
    // Every operation finished its queue before returning, and a ClBuf finishes its last queue
    // when dropped: the buffer is idle. The release is the allocation's last reference.
    // SAFETY: `addr` came from `alloc` and is released once (the allocator frees a block once).
    let _ = unsafe { release_mem_object(addr as cl_mem) };
  }
  fn zero(&self, addr: usize, bytes: usize) -> SbResult<()> {
    self.fill_zero(addr, bytes)
  }
  fn align(&self) -> usize {
    self.align.max(64)
  }
  fn host_addressable(&self) -> bool {
    false
  }
}

/// Blocking copies between host bytes and a resident block at `offset`, on `q`.
pub(crate) fn write(q: &CommandQueue, addr: usize, offset: usize, src: &[u8]) -> Result<(), i32> {
  let mut buf = borrowed(addr);
  // SAFETY: the caller checked the range; the call blocks until `src` has been read.
  unsafe { q.enqueue_write_buffer(&mut *buf, CL_BLOCKING, offset, src, &[]) }.map(|_| ()).map_err(|e| e.0)
}

pub(crate) fn read(q: &CommandQueue, addr: usize, offset: usize, dst: &mut [u8]) -> Result<(), i32> {
  let buf = borrowed(addr);
  // SAFETY: as `write`.
  unsafe { q.enqueue_read_buffer(&*buf, CL_BLOCKING, offset, dst, &[]) }.map(|_| ()).map_err(|e| e.0)
}

/// Copies `bytes` between two resident blocks of one context, on `q`, and waits.
pub(crate) fn copy(q: &CommandQueue, dst: usize, dst_offset: usize, src: usize, src_offset: usize, bytes: usize) -> Result<(), i32> {
  let (s, mut d) = (borrowed(src), borrowed(dst));
  // SAFETY: both are live buffers covering the ranges (checked by the caller).
  unsafe { q.enqueue_copy_buffer(&*s, &mut *d, src_offset, dst_offset, bytes, &[]) }.map_err(|e| e.0)?;
  q.finish().map_err(|e| e.0)
}
