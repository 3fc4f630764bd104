//! Device buffers. Every OpenCL array and temporary lives in memory from its device's caching
//! allocator (stackbridge-core `allocator_for(opencl:N)`: statistics, `emptyCache`, limit) and is
//! handed to the driver with `CL_MEM_USE_HOST_PTR`: on a device that shares host memory (PoCL,
//! integrated GPUs) kernels then work in place; on a discrete GPU the driver migrates the bytes at
//! launches and maps (see docs/ARCHITECTURE.md).

use crate::runtime::{ClDevice, Queue};
use opencl3::memory::{Buffer, ClMem, CL_MEM_READ_WRITE, CL_MEM_USE_HOST_PTR};
use opencl3::types::{cl_mem, CL_BLOCKING};
use stackbridge_core::array::Pinned;
use stackbridge_core::{Element, HostArray, SbResult};
use std::ffi::c_void;
use std::ptr;
use std::sync::{Arc, Mutex};

/// A cl_mem over the bytes of a host-addressable array, keeping that memory alive.
pub struct ClBuf {
  mem: Buffer<u8>,
  /// Keeps the array's memory alive as long as the driver can see it.
  _pin: Option<Pinned>,
  bytes: usize,
  /// The queue a kernel using the buffer was last enqueued on (set by `launch`).
  used_on: Mutex<Option<Arc<Queue>>>,
}

impl Drop for ClBuf {
  /// The memory goes back to the caching allocator when the buffer is dropped, where the next
  /// allocation may reuse it at once: so first wait for the queue its kernels were enqueued on —
  /// that queue, not the dropping thread's (which may have none, or another).
  fn drop(&mut self) {
    if let Some(q) = self.used_on.get_mut().unwrap_or_else(|p| p.into_inner()).take() {
      let _ = q.queue.finish();
    }
  }
}

// SAFETY: the buffer is a driver handle (thread-safe in OpenCL 1.2) plus pinned plain memory.
unsafe impl Send for ClBuf {}
unsafe impl Sync for ClBuf {}

impl ClBuf {
  /// The device's view of `array`'s memory (no copy on a device that shares host memory).
  pub fn wrap(dev: &ClDevice, array: &HostArray) -> SbResult<ClBuf> {
    let pin = array.pin()?;
    let bytes = array.nbytes();
    if bytes == 0 {
      // clCreateBuffer refuses size 0; kernels never touch an empty array's buffer.
      let mem = unsafe { Buffer::<u8>::create(&dev.context, CL_MEM_READ_WRITE, 64, ptr::null_mut()) }.map_err(|e| dev.fail(e.0, "clCreateBuffer", 64))?;
      return Ok(ClBuf { mem, _pin: Some(pin), bytes: 0, used_on: Mutex::new(None) });
    }
    let host = pin.bytes().as_ptr() as *mut c_void;
    let mem = unsafe { Buffer::<u8>::create(&dev.context, CL_MEM_READ_WRITE | CL_MEM_USE_HOST_PTR, bytes, host) }
      .map_err(|e| dev.fail(e.0, "clCreateBuffer", bytes as u64))?;
    Ok(ClBuf { mem, _pin: Some(pin), bytes, used_on: Mutex::new(None) })
  }

  pub fn bytes(&self) -> usize {
    self.bytes
  }

  /// Records that a kernel reading or writing the buffer was enqueued on `q`.
  pub(crate) fn used_on(&self, q: &Arc<Queue>) {
    *self.used_on.lock().unwrap_or_else(|p| p.into_inner()) = Some(q.clone());
  }

  pub(crate) fn raw(&self) -> cl_mem {
    self.mem.get()
  }

  /// Makes the kernels' writes visible in host memory (blocking map + unmap: free on a device
  /// that shares host memory, the device-to-host copy on a discrete one).
  pub fn sync_to_host(&self, dev: &ClDevice, q: &Queue) -> SbResult<()> {
    if self.bytes == 0 {
      return Ok(());
    }
    let mut mapped: cl_mem = ptr::null_mut();
    unsafe {
      q.queue
        .enqueue_map_buffer(&self.mem, CL_BLOCKING, opencl3::memory::CL_MAP_READ, 0, self.bytes, &mut mapped, &[])
        .map_err(|e| dev.fail(e.0, "clEnqueueMapBuffer", 0))?;
      q.queue.enqueue_unmap_mem_object(self.mem.get(), mapped, &[]).map_err(|e| dev.fail(e.0, "clEnqueueUnmapMemObject", 0))?;
    }
    q.queue.finish().map_err(|e| dev.fail(e.0, "clFinish", 0))
  }

  /// Reads the buffer into a Vec (small results: histograms, counts).
  pub fn read<T: Element>(&self, dev: &ClDevice, q: &Queue) -> SbResult<Vec<T>> {
    let n = self.bytes / std::mem::size_of::<T>();
    let mut out = vec![T::from_f64(0.0); n];
    if n > 0 {
      let dst = unsafe { std::slice::from_raw_parts_mut(out.as_mut_ptr() as *mut u8, self.bytes) };
      unsafe { q.queue.enqueue_read_buffer(&self.mem, CL_BLOCKING, 0, dst, &[]) }.map_err(|e| dev.fail(e.0, "clEnqueueReadBuffer", 0))?;
    }
    Ok(out)
  }

  /// Writes `data` to the start of the buffer (small inputs: lookup tables, weights).
  pub fn write<T: Element>(&mut self, dev: &ClDevice, q: &Queue, data: &[T]) -> SbResult<()> {
    let bytes = std::mem::size_of_val(data).min(self.bytes);
    if bytes > 0 {
      let src = unsafe { std::slice::from_raw_parts(data.as_ptr() as *const u8, bytes) };
      unsafe { q.queue.enqueue_write_buffer(&mut self.mem, CL_BLOCKING, 0, src, &[]) }.map_err(|e| dev.fail(e.0, "clEnqueueWriteBuffer", 0))?;
    }
    Ok(())
  }
}
