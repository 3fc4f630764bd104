//! Device buffers. Every OpenCL array and temporary lives in memory from its device's caching
//! allocator (stackbridge-core `allocator_for(opencl:N)`: statistics, `emptyCache`, limit). On a
//! device that shares host memory (PoCL, integrated GPUs) that is host memory, handed to the driver
//! with `CL_MEM_USE_HOST_PTR`, and kernels work in place; elsewhere it is device-resident
//! (`memory.rs`): the block is a `cl_mem`, and a view into it a sub-buffer (see docs/ARCHITECTURE.md).

use crate::runtime::{ClDevice, Queue};
use opencl3::memory::{retain_mem_object, Buffer, ClMem, CL_MEM_READ_WRITE, CL_MEM_USE_HOST_PTR};
use opencl3::types::{cl_mem, CL_BLOCKING};
use stackbridge_core::alloc::Block;
use stackbridge_core::array::Pinned;
use stackbridge_core::{ErrorCode, Element, HostArray, SbError, SbResult};
use std::ffi::c_void;
use std::ptr;
use std::sync::{Arc, Mutex};

/// What keeps a buffer's memory alive as long as the driver can see it (held for its drop).
#[allow(dead_code)]
enum Keep {
  /// Host memory under a `CL_MEM_USE_HOST_PTR` buffer.
  Host(Pinned),
  /// A resident block (the buffer is a new reference to it, or a sub-buffer of it).
  Resident(Arc<Block>),
  /// A resident view whose start is not aligned for a sub-buffer: the buffer is a device-side copy.
  Copy(HostArray),
}

/// A cl_mem over an array's memory, keeping that memory alive.
pub struct ClBuf {
  mem: Buffer<u8>,
  _keep: Keep,
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
  /// The device's view of `array`'s memory: no copy on a device that shares host memory, nor for
  /// a resident array or an aligned view of one; a resident view at an unaligned start (a Z-slice
  /// of an odd-sized stack) is copied on the device into a fresh buffer on `q` — read-only then.
  pub fn wrap(dev: &ClDevice, q: &Queue, array: &HostArray) -> SbResult<ClBuf> {
    let block = array.storage.block()?;
    let bytes = array.nbytes();
    let (off, keep) = if block.host_addressable() {
      let pin = array.pin()?;
      (pin.bytes().as_ptr() as usize, Keep::Host(pin))
    } else {
      if block.device() != dev.id() {
        return Err(SbError::new(ErrorCode::DeviceMismatch, format!("an array on {} given to {}", block.device(), dev.label())).with("device", dev.label()));
      }
      (array.byte_offset(), Keep::Resident(block.clone()))
    };
    if bytes == 0 {
      // clCreateBuffer refuses size 0; kernels never touch an empty array's buffer.
      let mem = unsafe { Buffer::<u8>::create(&dev.context, CL_MEM_READ_WRITE, 64, ptr::null_mut()) }.map_err(|e| dev.fail(e.0, "clCreateBuffer", 64))?;
      return Ok(ClBuf { mem, _keep: keep, bytes: 0, used_on: Mutex::new(None) });
    }
    let mem = match keep {
      Keep::Host(_) => unsafe { Buffer::<u8>::create(&dev.context, CL_MEM_READ_WRITE | CL_MEM_USE_HOST_PTR, bytes, off as *mut c_void) }
        .map_err(|e| dev.fail(e.0, "clCreateBuffer", bytes as u64))?,
      _ if off == 0 => {
        // SAFETY: a new reference to the block's live buffer, released by the Buffer's drop.
        unsafe { retain_mem_object(block.addr() as cl_mem) }.map_err(|e| dev.fail(e, "clRetainMemObject", 0))?;
        Buffer::new(block.addr() as cl_mem)
      }
      _ if off % dev.base_align == 0 => {
        // SAFETY: the region lies inside the block (the array's own range).
        unsafe { crate::memory::borrowed(block.addr()).create_sub_buffer(CL_MEM_READ_WRITE, off, bytes) }.map_err(|e| dev.fail(e.0, "clCreateSubBuffer", 0))?
      }
      _ => {
        let copy = HostArray::alloc_on(dev.id(), array.shape.clone(), array.dtype, array.memory_type, false)?;
        let dst = copy.storage.block()?;
        crate::memory::copy(&q.queue, dst.addr(), 0, block.addr(), off, bytes).map_err(|e| dev.fail(e, "clEnqueueCopyBuffer", 0))?;
        // SAFETY: as above, for the copy's block.
        unsafe { retain_mem_object(dst.addr() as cl_mem) }.map_err(|e| dev.fail(e, "clRetainMemObject", 0))?;
        let mem = Buffer::new(dst.addr() as cl_mem);
        return Ok(ClBuf { mem, _keep: Keep::Copy(copy), bytes, used_on: Mutex::new(None) });
      }
    };
    Ok(ClBuf { mem, _keep: keep, bytes, used_on: Mutex::new(None) })
  }

  /// The buffer is over host memory (kernel writes need a map to become visible there).
  fn over_host(&self) -> bool {
    matches!(self._keep, Keep::Host(_))
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
    if self.bytes == 0 || !self.over_host() {
      return q.queue.finish().map_err(|e| dev.fail(e.0, "clFinish", 0));
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
