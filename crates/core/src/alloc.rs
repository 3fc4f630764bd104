//! The caching allocator (DESIGN §4): aligned blocks, a cache of freed blocks keyed by rounded
//! size, statistics, `empty_cache` and an optional limit that fails exactly like a device running
//! out of memory. One instance per device whose memory the host can address: the host itself, and
//! each OpenCL device (its buffers wrap these blocks with `CL_MEM_USE_HOST_PTR`, see
//! stackbridge-opencl).

use crate::error::{SbError, SbResult};
use crate::memory_type::Device;
use std::alloc::{alloc, alloc_zeroed, dealloc, Layout};
use std::collections::HashMap;
use std::ptr::NonNull;
use std::sync::{Mutex, MutexGuard, OnceLock};

const ALIGN: usize = 64;
/// OpenCL devices get page-aligned blocks: drivers use such host pointers in place.
const DEVICE_ALIGN: usize = 4096;
/// Blocks larger than this are rounded to 2 MiB so that near sizes share cache entries.
const LARGE: usize = 1 << 20;
/// The cache never holds more than this; beyond it freed blocks go back to the system.
const MAX_CACHED: usize = 4 << 30;

fn round_size(bytes: usize, align: usize) -> usize {
  let b = bytes.max(align);
  if b <= LARGE {
    b.div_ceil(512.max(align)) * 512.max(align)
  } else {
    b.div_ceil(2 << 20) * (2 << 20)
  }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct MemoryStats {
  pub allocated_bytes: u64,
  pub cached_bytes: u64,
  pub peak_allocated_bytes: u64,
  pub limit_bytes: Option<u64>,
  pub allocations: u64,
  pub cache_hits: u64,
}

struct RawBlock(NonNull<u8>);
// SAFETY: a RawBlock is an exclusively owned heap allocation.
unsafe impl Send for RawBlock {}

#[derive(Default)]
struct State {
  stats: MemoryStats,
  cache: HashMap<usize, Vec<RawBlock>>,
}

/// A caching allocator for one domain's host memory.
pub struct HostAllocator {
  state: Mutex<State>,
  device: Device,
  align: usize,
  /// The device's memory size when it is not the machine's (an OpenCL device's global memory).
  total: Mutex<Option<u64>>,
}

/// An allocation from a `HostAllocator`; returned to its cache on drop.
pub struct HostBlock {
  ptr: NonNull<u8>,
  /// Rounded capacity in bytes (what the allocator accounts).
  capacity: usize,
  /// Bytes requested.
  len: usize,
  owner: &'static HostAllocator,
  /// Memory another library owns (a DLPack import): dropping this releases it there, and the
  /// allocator never sees it.
  foreign: Option<Box<dyn Send + Sync>>,
}

// SAFETY: the block is plain memory; concurrent access is governed by the arrays using it, as with
// numpy or torch buffers.
unsafe impl Send for HostBlock {}
unsafe impl Sync for HostBlock {}

impl std::fmt::Debug for HostBlock {
  fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    write!(f, "HostBlock({} B)", self.len)
  }
}

impl HostBlock {
  pub fn len(&self) -> usize {
    self.len
  }
  pub fn is_empty(&self) -> bool {
    self.len == 0
  }
  pub fn as_ptr(&self) -> *mut u8 {
    self.ptr.as_ptr()
  }
}

impl HostBlock {
  /// `len` bytes at `ptr` owned by someone else; `keeper` is dropped (releasing them) when the last
  /// array over the block goes.
  ///
  /// # Safety
  /// `ptr` must stay valid for reads (and writes, unless every array over it is read-only) of `len`
  /// bytes until `keeper` is dropped.
  pub unsafe fn foreign(ptr: NonNull<u8>, len: usize, keeper: Box<dyn Send + Sync>) -> HostBlock {
    HostBlock { ptr, capacity: len, len, owner: host_allocator(), foreign: Some(keeper) }
  }
}

impl Drop for HostBlock {
  fn drop(&mut self) {
    if let Some(keeper) = self.foreign.take() {
      drop(keeper);
      return;
    }
    self.owner.release(self.ptr, self.capacity);
  }
}

fn system_memory() -> (u64, u64) {
  // (total, available) from /proc/meminfo; zeros where it cannot be read.
  let text = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
  let field = |name: &str| -> u64 {
    text
      .lines()
      .find(|l| l.starts_with(name))
      .and_then(|l| l.split_whitespace().nth(1))
      .and_then(|v| v.parse::<u64>().ok())
      .map(|kib| kib * 1024)
      .unwrap_or(0)
  };
  (field("MemTotal:"), field("MemAvailable:"))
}

impl HostAllocator {
  pub fn new() -> Self {
    Self::for_device(Device::Host)
  }

  /// An allocator for `device`'s memory (page-aligned blocks for devices other than the host).
  pub fn for_device(device: Device) -> Self {
    let align = if device == Device::Host { ALIGN } else { DEVICE_ALIGN };
    HostAllocator { state: Mutex::new(State::default()), device, align, total: Mutex::new(None) }
  }

  pub fn device(&self) -> Device {
    self.device
  }

  /// Records the device's own memory size (reported by `capacity` when no limit is set).
  pub fn set_total(&self, total: u64) {
    *self.total.lock().unwrap_or_else(|p| p.into_inner()) = Some(total);
  }

  fn lock(&self) -> MutexGuard<'_, State> {
    // A panic while holding the lock cannot leave the bookkeeping half-written in a way that
    // matters more than losing the process, so recover from poisoning.
    self.state.lock().unwrap_or_else(|p| p.into_inner())
  }

  /// Allocates `bytes` (zeroed when asked). Over the limit, the cache is released and the request
  /// retried once, then it fails with `OutOfMemoryError`, as a device allocator does.
  pub fn allocate(&'static self, bytes: usize, zeroed: bool) -> SbResult<HostBlock> {
    let cap = round_size(bytes, self.align);
    let align = self.align;
    let dev = self.device.to_string();
    let mut st = self.lock();
    st.stats.allocations += 1;
    if let Some(raw) = st.cache.get_mut(&cap).and_then(|v| v.pop()) {
      st.stats.cached_bytes -= cap as u64;
      st.stats.cache_hits += 1;
      Self::account(&mut st, cap);
      drop(st);
      if zeroed {
        // SAFETY: raw is a live allocation of `cap` bytes owned by us.
        unsafe { std::ptr::write_bytes(raw.0.as_ptr(), 0, cap) };
      }
      return Ok(HostBlock { ptr: raw.0, capacity: cap, len: bytes, owner: self, foreign: None });
    }
    if let Some(limit) = st.stats.limit_bytes {
      if st.stats.allocated_bytes + st.stats.cached_bytes + cap as u64 > limit {
        self.free_cache(&mut st);
        if st.stats.allocated_bytes + cap as u64 > limit {
          let free = limit.saturating_sub(st.stats.allocated_bytes);
          // Report what the allocator needed (the request rounded to its block size), so the
          // numbers explain the failure.
          return Err(SbError::out_of_memory(&dev, cap as u64, free, Some(limit)));
        }
      }
    }
    let layout = Layout::from_size_align(cap, align).map_err(|_| SbError::invalid(format!("allocation of {bytes} B is too large")))?;
    // SAFETY: layout has a non-zero size.
    let mut p = unsafe { if zeroed { alloc_zeroed(layout) } else { alloc(layout) } };
    if p.is_null() {
      // The system refused: give back what the cache holds and try once more.
      self.free_cache(&mut st);
      p = unsafe { if zeroed { alloc_zeroed(layout) } else { alloc(layout) } };
    }
    let Some(ptr) = NonNull::new(p) else {
      let (_, avail) = system_memory();
      return Err(SbError::out_of_memory(&dev, bytes as u64, avail, st.stats.limit_bytes));
    };
    Self::account(&mut st, cap);
    Ok(HostBlock { ptr, capacity: cap, len: bytes, owner: self, foreign: None })
  }

  fn account(st: &mut State, cap: usize) {
    st.stats.allocated_bytes += cap as u64;
    st.stats.peak_allocated_bytes = st.stats.peak_allocated_bytes.max(st.stats.allocated_bytes);
  }

  fn release(&self, ptr: NonNull<u8>, cap: usize) {
    let mut st = self.lock();
    st.stats.allocated_bytes -= cap as u64;
    let fits_limit = st.stats.limit_bytes.is_none_or(|l| st.stats.allocated_bytes + st.stats.cached_bytes + cap as u64 <= l);
    if st.stats.cached_bytes as usize + cap <= MAX_CACHED && fits_limit {
      st.stats.cached_bytes += cap as u64;
      st.cache.entry(cap).or_default().push(RawBlock(ptr));
    } else {
      drop(st);
      // SAFETY: allocated with this exact layout.
      unsafe { dealloc(ptr.as_ptr(), Layout::from_size_align_unchecked(cap, self.align)) };
    }
  }

  fn free_cache(&self, st: &mut State) {
    for (cap, blocks) in st.cache.drain() {
      for b in blocks {
        // SAFETY: each cached block was allocated with (cap, self.align).
        unsafe { dealloc(b.0.as_ptr(), Layout::from_size_align_unchecked(cap, self.align)) };
      }
    }
    st.stats.cached_bytes = 0;
  }

  /// Returns every cached block to the system.
  pub fn empty_cache(&self) {
    self.free_cache(&mut self.lock());
  }

  /// Sets (or clears) the limit. Cached blocks above a new limit are released.
  pub fn set_limit(&self, limit: Option<u64>) {
    let mut st = self.lock();
    st.stats.limit_bytes = limit;
    if let Some(l) = limit {
      if st.stats.allocated_bytes + st.stats.cached_bytes > l {
        self.free_cache(&mut st);
      }
    }
  }

  pub fn stats(&self) -> MemoryStats {
    self.lock().stats.clone()
  }

  /// (total, free) bytes as a device would report them: the limit when one is set.
  pub fn capacity(&self) -> (u64, u64) {
    let st = self.lock();
    match st.stats.limit_bytes {
      Some(l) => (l, l.saturating_sub(st.stats.allocated_bytes + st.stats.cached_bytes)),
      None => {
        let (total, avail) = system_memory();
        match *self.total.lock().unwrap_or_else(|p| p.into_inner()) {
          // A device of its own size: what it holds is all that is not free.
          Some(t) => (t, t.saturating_sub(st.stats.allocated_bytes)),
          None => (total, avail + st.stats.cached_bytes),
        }
      }
    }
  }
}

impl Default for HostAllocator {
  fn default() -> Self {
    Self::new()
  }
}

/// The process-wide host allocator.
pub fn host_allocator() -> &'static HostAllocator {
  static HOST: OnceLock<HostAllocator> = OnceLock::new();
  HOST.get_or_init(HostAllocator::new)
}

/// The allocator of `device` (created on first use and kept for the process, as a device's is).
/// CUDA memory is not host-addressable and never comes from here.
pub fn allocator_for(device: Device) -> SbResult<&'static HostAllocator> {
  match device {
    Device::Host => Ok(host_allocator()),
    Device::OpenCl(_) => {
      static DEVICES: OnceLock<Mutex<HashMap<Device, &'static HostAllocator>>> = OnceLock::new();
      let mut map = DEVICES.get_or_init(Default::default).lock().unwrap_or_else(|p| p.into_inner());
      Ok(*map.entry(device).or_insert_with(|| Box::leak(Box::new(HostAllocator::for_device(device)))))
    }
    other => Err(SbError::invalid(format!("{other} memory is not allocated by the host-addressable allocator"))),
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  fn fresh() -> &'static HostAllocator {
    Box::leak(Box::new(HostAllocator::new()))
  }

  #[test]
  fn reuses_cached_blocks_and_counts() {
    let a = fresh();
    let b = a.allocate(1000, true).unwrap();
    assert_eq!(b.as_ptr() as usize % ALIGN, 0);
    let p = b.as_ptr();
    drop(b);
    assert_eq!(a.stats().allocated_bytes, 0);
    assert_eq!(a.stats().cached_bytes, 1024);
    let b2 = a.allocate(1000, true).unwrap();
    assert_eq!(b2.as_ptr(), p);
    assert_eq!(a.stats().cache_hits, 1);
    // zeroed on reuse
    unsafe { assert!(std::slice::from_raw_parts(b2.as_ptr(), 1000).iter().all(|&x| x == 0)) };
  }

  #[test]
  fn limit_fails_like_a_device() {
    let a = fresh();
    a.set_limit(Some(4096));
    let _x = a.allocate(3000, false).unwrap(); // 3072 B
    let e = a.allocate(2000, false).unwrap_err(); // 2048 B more > 4096
    assert_eq!(e.code, crate::error::ErrorCode::OutOfMemory);
    assert_eq!(e.details["requestedBytes"], 2048); // rounded to the 512 B block size
    assert_eq!(e.details["freeBytes"], 1024);
    assert_eq!(e.details["limitBytes"], 4096);
  }

  #[test]
  fn cache_is_released_before_failing() {
    let a = fresh();
    a.set_limit(Some(8192));
    drop(a.allocate(4096, false).unwrap());
    assert_eq!(a.stats().cached_bytes, 4096);
    // 6000 -> 6144 B; fits only once the cached 4096 B are returned
    let _y = a.allocate(6000, false).unwrap();
    assert_eq!(a.stats().cached_bytes, 0);
  }

  #[test]
  fn empty_cache_releases() {
    let a = fresh();
    drop(a.allocate(10, false).unwrap());
    assert!(a.stats().cached_bytes > 0);
    a.empty_cache();
    assert_eq!(a.stats().cached_bytes, 0);
  }
}
