//! The caching allocator (DESIGN §4, §11): one per device, over that device's raw memory
//! (`RawMemory`: aligned host blocks, a budget of host memory for the fake device, `cuMemAlloc` on
//! CUDA). It rounds sizes, keeps freed blocks in a cache keyed by rounded size, counts statistics,
//! empties its cache on request and enforces an optional limit that fails exactly like a device
//! running out of memory. The raw side stays separate from this policy (after cubecl's
//! `ComputeStorage`/`MemoryPool` split), so every backend gets the same behaviour.

use crate::error::{SbError, SbResult};
use crate::memory_type::Device;
use std::alloc::{alloc, alloc_zeroed, dealloc, Layout};
use std::collections::HashMap;
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

/// A device's raw memory: what the caching allocator asks for and gives back. Addresses are
/// integers because device memory (a `CUdeviceptr`) is not a host pointer.
pub trait RawMemory: Send + Sync {
  /// `bytes` (already rounded) of memory, zeroed when asked; `Ok(None)` when the memory is
  /// exhausted (the allocator then empties its cache and retries once); `Err` for other failures.
  fn alloc(&self, bytes: usize, zeroed: bool) -> SbResult<Option<usize>>;
  /// Gives back a block `alloc` returned, with the same size.
  fn free(&self, addr: usize, bytes: usize);
  /// Zeroes a block (a cached one handed out again as zeroed).
  fn zero(&self, addr: usize, bytes: usize) -> SbResult<()>;
  fn align(&self) -> usize;
  /// Whether the host can read and write the memory at its address (host, OpenCL blocks).
  fn host_addressable(&self) -> bool;
  /// (total, free) bytes of the memory itself, where it is a device's own; `None` for host RAM.
  fn device_memory(&self) -> Option<(u64, u64)> {
    None
  }
}

/// Aligned blocks of host memory (the host, and OpenCL devices' `USE_HOST_PTR` buffers).
pub struct HostMemory {
  align: usize,
}

impl HostMemory {
  pub fn new(align: usize) -> HostMemory {
    HostMemory { align }
  }
}

impl RawMemory for HostMemory {
  fn alloc(&self, bytes: usize, zeroed: bool) -> SbResult<Option<usize>> {
    let layout = Layout::from_size_align(bytes, self.align).map_err(|_| SbError::invalid(format!("allocation of {bytes} B is too large")))?;
    // SAFETY: layout has a non-zero size (round_size never returns 0).
    let p = unsafe { if zeroed { alloc_zeroed(layout) } else { alloc(layout) } };
    Ok((!p.is_null()).then_some(p as usize))
  }
  fn free(&self, addr: usize, bytes: usize) {
    // SAFETY: allocated by `alloc` with this exact layout.
    unsafe { dealloc(addr as *mut u8, Layout::from_size_align_unchecked(bytes, self.align)) };
  }
  fn zero(&self, addr: usize, bytes: usize) -> SbResult<()> {
    // SAFETY: a live block of `bytes` owned by the allocator.
    unsafe { std::ptr::write_bytes(addr as *mut u8, 0, bytes) };
    Ok(())
  }
  fn align(&self) -> usize {
    self.align
  }
  fn host_addressable(&self) -> bool {
    true
  }
}

#[derive(Default)]
struct State {
  stats: MemoryStats,
  cache: HashMap<usize, Vec<usize>>,
}

/// The caching allocator of one device.
pub struct CachingAllocator {
  state: Mutex<State>,
  device: Device,
  raw: Box<dyn RawMemory>,
  /// The device's memory size when it is not the machine's (an OpenCL device's global memory).
  total: Mutex<Option<u64>>,
}

/// An allocation from a `CachingAllocator` (returned to its cache on drop), or memory another
/// library owns (a DLPack import).
pub struct Block {
  addr: usize,
  /// Rounded capacity in bytes (what the allocator accounts).
  capacity: usize,
  /// Bytes requested.
  len: usize,
  owner: &'static CachingAllocator,
  /// Memory another library owns: dropping this releases it there, and the allocator never sees
  /// it.
  foreign: Option<Box<dyn Send + Sync>>,
  /// The stream that last wrote the block and its event there (device memory whose work is
  /// asynchronous): another stream waits on it before use.
  last_write: Mutex<Option<WriteMark>>,
}

/// Where device memory was last written: a stream and the event recorded on it after the write.
#[derive(Clone)]
pub struct WriteMark {
  pub stream: u64,
  /// The backend's event object (downcast by the backend that recorded it).
  pub event: std::sync::Arc<dyn std::any::Any + Send + Sync>,
}

// SAFETY: the block is plain memory; concurrent access is governed by the arrays using it, as with
// numpy or torch buffers.
unsafe impl Send for Block {}
unsafe impl Sync for Block {}

impl std::fmt::Debug for Block {
  fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    write!(f, "Block({} B on {})", self.len, self.owner.device)
  }
}

impl Block {
  pub fn len(&self) -> usize {
    self.len
  }
  pub fn is_empty(&self) -> bool {
    self.len == 0
  }
  /// The host pointer of host-addressable memory (for device memory, its address as an integer).
  pub fn as_ptr(&self) -> *mut u8 {
    self.addr as *mut u8
  }
  /// The address in the device's address space (a host pointer or a `CUdeviceptr`).
  pub fn addr(&self) -> usize {
    self.addr
  }
  pub fn device(&self) -> Device {
    self.owner.device
  }
  pub fn host_addressable(&self) -> bool {
    self.owner.raw.host_addressable()
  }

  /// The last write's mark, if any stream has recorded one.
  pub fn last_write(&self) -> Option<WriteMark> {
    self.last_write.lock().unwrap_or_else(|p| p.into_inner()).clone()
  }

  /// Records that `mark`'s stream wrote the block (after the write was enqueued).
  pub fn set_last_write(&self, mark: WriteMark) {
    *self.last_write.lock().unwrap_or_else(|p| p.into_inner()) = Some(mark);
  }

  /// `len` bytes at `ptr` owned by someone else; `keeper` is dropped (releasing them) when the last
  /// array over the block goes.
  ///
  /// # Safety
  /// `ptr` must stay valid for reads (and writes, unless every array over it is read-only) of `len`
  /// bytes until `keeper` is dropped.
  pub unsafe fn foreign(ptr: std::ptr::NonNull<u8>, len: usize, keeper: Box<dyn Send + Sync>) -> Block {
    Block::foreign_on(host_allocator(), ptr.as_ptr() as usize, len, keeper)
  }

  /// Foreign memory at `addr` in the address space of `owner`'s device (a CUDA DLPack import, or
  /// a host view of a fake device's block).
  ///
  /// # Safety
  /// As `foreign`, in that device's address space.
  pub unsafe fn foreign_on(owner: &'static CachingAllocator, addr: usize, len: usize, keeper: Box<dyn Send + Sync>) -> Block {
    Block { addr, capacity: len, len, owner, foreign: Some(keeper), last_write: Mutex::new(None) }
  }
}

impl Drop for Block {
  fn drop(&mut self) {
    if let Some(keeper) = self.foreign.take() {
      drop(keeper);
      return;
    }
    self.owner.release(self.addr, self.capacity);
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

impl CachingAllocator {
  /// The allocator of `device` over `raw`.
  pub fn new(device: Device, raw: Box<dyn RawMemory>) -> Self {
    CachingAllocator { state: Mutex::new(State::default()), device, raw, total: Mutex::new(None) }
  }

  /// An allocator of host memory for `device` (page-aligned blocks for devices other than the host).
  pub fn host_memory_for(device: Device) -> Self {
    let align = if device == Device::Host { ALIGN } else { DEVICE_ALIGN };
    CachingAllocator::new(device, Box::new(HostMemory::new(align)))
  }

  pub fn device(&self) -> Device {
    self.device
  }

  pub fn host_addressable(&self) -> bool {
    self.raw.host_addressable()
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
  pub fn allocate(&'static self, bytes: usize, zeroed: bool) -> SbResult<Block> {
    let cap = round_size(bytes, self.raw.align());
    let dev = self.device.to_string();
    let mut st = self.lock();
    st.stats.allocations += 1;
    if let Some(addr) = st.cache.get_mut(&cap).and_then(|v| v.pop()) {
      st.stats.cached_bytes -= cap as u64;
      st.stats.cache_hits += 1;
      Self::account(&mut st, cap);
      drop(st);
      let block = Block { addr, capacity: cap, len: bytes, owner: self, foreign: None, last_write: Mutex::new(None) };
      if zeroed {
        self.raw.zero(addr, cap)?;
      }
      return Ok(block);
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
    let mut got = self.raw.alloc(cap, zeroed)?;
    if got.is_none() {
      // The memory is exhausted: give back what the cache holds and try once more.
      self.free_cache(&mut st);
      got = self.raw.alloc(cap, zeroed)?;
    }
    let Some(addr) = got else {
      let free = match self.raw.device_memory() {
        Some((_, free)) => free,
        None => system_memory().1,
      };
      return Err(SbError::out_of_memory(&dev, cap as u64, free, st.stats.limit_bytes));
    };
    Self::account(&mut st, cap);
    Ok(Block { addr, capacity: cap, len: bytes, owner: self, foreign: None, last_write: Mutex::new(None) })
  }

  fn account(st: &mut State, cap: usize) {
    st.stats.allocated_bytes += cap as u64;
    st.stats.peak_allocated_bytes = st.stats.peak_allocated_bytes.max(st.stats.allocated_bytes);
  }

  fn release(&self, addr: usize, cap: usize) {
    let mut st = self.lock();
    st.stats.allocated_bytes -= cap as u64;
    let fits_limit = st.stats.limit_bytes.is_none_or(|l| st.stats.allocated_bytes + st.stats.cached_bytes + cap as u64 <= l);
    if st.stats.cached_bytes as usize + cap <= MAX_CACHED && fits_limit {
      st.stats.cached_bytes += cap as u64;
      st.cache.entry(cap).or_default().push(addr);
    } else {
      drop(st);
      self.raw.free(addr, cap);
    }
  }

  fn free_cache(&self, st: &mut State) {
    for (cap, blocks) in st.cache.drain() {
      for addr in blocks {
        self.raw.free(addr, cap);
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
        if let Some((total, free)) = self.raw.device_memory() {
          // The device's own count already excludes what the cache holds.
          return (total, free + st.stats.cached_bytes);
        }
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

/// The process-wide host allocator.
pub fn host_allocator() -> &'static CachingAllocator {
  static HOST: OnceLock<CachingAllocator> = OnceLock::new();
  HOST.get_or_init(|| CachingAllocator::host_memory_for(Device::Host))
}

fn registry() -> MutexGuard<'static, HashMap<Device, &'static CachingAllocator>> {
  static DEVICES: OnceLock<Mutex<HashMap<Device, &'static CachingAllocator>>> = OnceLock::new();
  DEVICES.get_or_init(Default::default).lock().unwrap_or_else(|p| p.into_inner())
}

/// Makes `allocator` the one of its device for the rest of the process (a backend does this when
/// it discovers the device; allocators live as long as the process, as a device's memory does).
pub fn register_allocator(allocator: CachingAllocator) -> &'static CachingAllocator {
  let a: &'static CachingAllocator = Box::leak(Box::new(allocator));
  registry().insert(a.device, a);
  a
}

/// The allocator of `device`: the host's, a registered one, or for an OpenCL device one over host
/// memory created on first use.
pub fn allocator_for(device: Device) -> SbResult<&'static CachingAllocator> {
  if device == Device::Host {
    return Ok(host_allocator());
  }
  let mut map = registry();
  if let Some(a) = map.get(&device) {
    return Ok(a);
  }
  match device {
    Device::OpenCl(_) => Ok(*map.entry(device).or_insert_with(|| Box::leak(Box::new(CachingAllocator::host_memory_for(device))))),
    other => Err(SbError::gpu_unavailable(format!("no memory allocator for {other}: the device is not available")).with("device", other.to_string())),
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  fn fresh() -> &'static CachingAllocator {
    Box::leak(Box::new(CachingAllocator::host_memory_for(Device::Host)))
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
