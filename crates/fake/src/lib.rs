//! The fake device (DESIGN §11): an in-process stand-in for a CUDA card, for tests on machines
//! without one. Its memory is host memory behind a byte budget that fails exactly like a full
//! card, and it is **not host-addressable** to the rest of the engine (host code must go through
//! `upload`/`download`, as for real device memory). Every stream operation is logged with its
//! stream id (upload, download, copy, launch, record, wait), so tests can check stream ordering;
//! several instances test device moves. Its processors are the CPU kernels run on the device's
//! bytes, holding a device scratch of the output's size meanwhile. The binding installs fake devices as `cuda:0..N-1` only when `STACKBRIDGE_FAKE_CUDA=N`
//! is set; it is never used otherwise.

use stackbridge_core::alloc::{register_allocator, Block, CachingAllocator, RawMemory, WriteMark};
use stackbridge_core::array::HostArray;
use stackbridge_core::backend::{mark_written, order_before_use, BackendDevice, CountOutput, DeviceDescription, Event, ProcessorCall, ProcessorOutput};
use stackbridge_core::storage::Storage;
use stackbridge_core::{Cancel, Device, SbError, SbResult};
use stackbridge_kernels::dispatch::{run_count_cells_cancellable, run_named};
use std::alloc::{alloc, alloc_zeroed, dealloc, Layout};
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

const ALIGN: usize = 256;

/// Host memory under a budget: what the card has.
struct BudgetMemory {
  total: usize,
  used: AtomicUsize,
}

impl RawMemory for BudgetMemory {
  fn alloc(&self, bytes: usize, zeroed: bool) -> SbResult<Option<usize>> {
    let prev = self.used.fetch_add(bytes, Ordering::SeqCst);
    if prev + bytes > self.total {
      self.used.fetch_sub(bytes, Ordering::SeqCst);
      return Ok(None);
    }
    let layout = Layout::from_size_align(bytes, ALIGN).map_err(|_| SbError::invalid("allocation too large"))?;
    // SAFETY: non-zero size.
    let p = unsafe { if zeroed { alloc_zeroed(layout) } else { alloc(layout) } };
    if p.is_null() {
      self.used.fetch_sub(bytes, Ordering::SeqCst);
      return Ok(None);
    }
    Ok(Some(p as usize))
  }
  fn free(&self, addr: usize, bytes: usize) {
    // SAFETY: allocated by `alloc` with this layout.
    unsafe { dealloc(addr as *mut u8, Layout::from_size_align_unchecked(bytes, ALIGN)) };
    self.used.fetch_sub(bytes, Ordering::SeqCst);
  }
  fn zero(&self, addr: usize, bytes: usize) -> SbResult<()> {
    // SAFETY: a live block of `bytes`.
    unsafe { std::ptr::write_bytes(addr as *mut u8, 0, bytes) };
    Ok(())
  }
  fn align(&self) -> usize {
    ALIGN
  }
  fn host_addressable(&self) -> bool {
    false
  }
  fn device_memory(&self) -> Option<(u64, u64)> {
    Some((self.total as u64, (self.total - self.used.load(Ordering::SeqCst).min(self.total)) as u64))
  }
}

/// One logged stream operation.
#[derive(Clone, Debug, PartialEq)]
pub struct Op {
  /// `upload`, `download`, `copy`, `peer-copy`, `launch`, `record`, `wait`, `sync`.
  pub kind: &'static str,
  pub stream: u64,
  /// The processor for a launch, the event id for record / wait, the source device for a peer copy.
  pub detail: String,
}

pub struct FakeDevice {
  index: u32,
  allocator: &'static CachingAllocator,
  log: Mutex<Vec<Op>>,
}

static STREAMS: AtomicU64 = AtomicU64::new(1);
static EVENTS: AtomicU64 = AtomicU64::new(1);

thread_local! {
  /// This thread's stream on each fake device (created on first use, as CUDA streams are).
  static THREAD_STREAMS: RefCell<HashMap<u32, u64>> = RefCell::new(HashMap::new());
}

/// `n` fake devices `cuda:0..n-1` of `memory` bytes each (their allocators registered with core).
pub fn devices(n: u32, memory: usize) -> Vec<Arc<FakeDevice>> {
  (0..n)
    .map(|index| {
      let raw = BudgetMemory { total: memory, used: AtomicUsize::new(0) };
      let allocator = register_allocator(CachingAllocator::new(Device::Cuda(index), Box::new(raw)));
      Arc::new(FakeDevice { index, allocator, log: Mutex::new(Vec::new()) })
    })
    .collect()
}

/// The fake devices asked for by `STACKBRIDGE_FAKE_CUDA=N` (`STACKBRIDGE_FAKE_CUDA_MEMORY` bytes
/// each, default 1 GiB); none when unset.
pub fn from_env() -> Vec<Arc<FakeDevice>> {
  let n = std::env::var("STACKBRIDGE_FAKE_CUDA").ok().and_then(|v| v.parse::<u32>().ok()).unwrap_or(0);
  let memory = std::env::var("STACKBRIDGE_FAKE_CUDA_MEMORY").ok().and_then(|v| v.parse::<usize>().ok()).unwrap_or(1 << 30);
  devices(n.min(8), memory)
}

/// A host view of a fake device's block, keeping the block alive (the fake's "kernels" read it).
fn host_view(a: &HostArray) -> SbResult<HostArray> {
  if a.storage.block()?.host_addressable() {
    return Ok(a.clone());
  }
  let block = a.storage.block()?;
  let (addr, len) = (block.addr(), block.len());
  // SAFETY: the fake's memory is host memory; `block` (the keeper) keeps it valid.
  let view = unsafe { Block::foreign(std::ptr::NonNull::new(addr as *mut u8).expect("a live block"), len, Box::new(block)) };
  Ok(HostArray { storage: Storage::from_block(view, Device::Host), ..a.clone() })
}

impl FakeDevice {
  /// The operations logged so far.
  pub fn log(&self) -> Vec<Op> {
    self.log.lock().unwrap_or_else(|p| p.into_inner()).clone()
  }

  fn push(&self, kind: &'static str, stream: u64, detail: impl Into<String>) {
    self.log.lock().unwrap_or_else(|p| p.into_inner()).push(Op { kind, stream, detail: detail.into() });
  }

  /// A host array's copy into this device (the "kernel's" output).
  fn to_device(&self, host: HostArray, stream: u64) -> SbResult<HostArray> {
    let out = HostArray::alloc_on(self.id(), host.shape.clone(), host.dtype, host.memory_type, false)?;
    let block = out.storage.block()?;
    self.upload(&block, 0, host.pin()?.bytes())?;
    mark_written(self, stream, &block)?;
    Ok(HostArray { readonly: host.readonly, ..out })
  }

  fn check_block(&self, b: &Block) -> SbResult<()> {
    if b.device() != self.id() {
      return Err(SbError::invalid(format!("{} memory given to {}", b.device(), self.id())));
    }
    Ok(())
  }
}

impl BackendDevice for FakeDevice {
  fn id(&self) -> Device {
    Device::Cuda(self.index)
  }
  fn describe(&self) -> DeviceDescription {
    DeviceDescription {
      kind: "cuda",
      name: format!("stackbridge fake CUDA device {} (host memory, tests only)", self.index),
      total_memory: self.allocator.capacity().0,
      shares_host: false,
      device_type: Some("gpu".into()),
      fp64: Some(true),
      compute_capability: Some("0.0".into()),
      platform: None,
    }
  }
  fn allocator(&self) -> &'static CachingAllocator {
    self.allocator
  }
  fn stream(&self) -> SbResult<u64> {
    Ok(THREAD_STREAMS.with(|s| *s.borrow_mut().entry(self.index).or_insert_with(|| STREAMS.fetch_add(1, Ordering::Relaxed))))
  }
  fn upload(&self, dst: &Block, offset: usize, src: &[u8]) -> SbResult<()> {
    self.check_block(dst)?;
    let s = self.stream()?;
    // SAFETY: fake device memory is host memory; callers keep ranges in bounds.
    unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), (dst.addr() + offset) as *mut u8, src.len()) };
    self.push("upload", s, format!("{} B", src.len()));
    Ok(())
  }
  fn download(&self, src: &Block, offset: usize, dst: &mut [u8]) -> SbResult<()> {
    self.check_block(src)?;
    let s = self.stream()?;
    // SAFETY: as `upload`.
    unsafe { std::ptr::copy_nonoverlapping((src.addr() + offset) as *const u8, dst.as_mut_ptr(), dst.len()) };
    self.push("download", s, format!("{} B", dst.len()));
    Ok(())
  }
  fn copy_device(&self, dst: &Block, dst_offset: usize, src: &Block, src_offset: usize, bytes: usize) -> SbResult<()> {
    self.check_block(dst)?;
    let s = self.stream()?;
    // SAFETY: both are fake device memory (host memory), ranges in bounds.
    unsafe { std::ptr::copy_nonoverlapping((src.addr() + src_offset) as *const u8, (dst.addr() + dst_offset) as *mut u8, bytes) };
    let kind = if src.device() == self.id() { "copy" } else { "peer-copy" };
    self.push(kind, s, src.device().to_string());
    Ok(())
  }
  fn synchronize(&self) -> SbResult<()> {
    self.push("sync", 0, "");
    Ok(())
  }
  fn record(&self, stream: u64) -> SbResult<Option<Event>> {
    let id = EVENTS.fetch_add(1, Ordering::Relaxed);
    self.push("record", stream, id.to_string());
    Ok(Some(Arc::new(id)))
  }
  fn wait(&self, stream: u64, mark: &WriteMark) -> SbResult<()> {
    let id = mark.event.downcast_ref::<u64>().copied().unwrap_or(0);
    self.push("wait", stream, id.to_string());
    Ok(())
  }
  fn run_processor(&self, c: &ProcessorCall) -> SbResult<ProcessorOutput> {
    let stream = order_before_use(self, &*c.input.storage.block()?)?;
    let aux: Vec<Option<HostArray>> = c.aux.iter().map(|a| a.as_ref().map(host_view).transpose()).collect::<SbResult<_>>()?;
    let host = run_named(c.name, &host_view(c.input)?, c.options, &aux, c.cancel)?;
    // A device kernel works in device memory: hold a scratch of the output's size while it "runs"
    // (as the real kernels' intermediate passes do), so the budget sees what a card would.
    let array = match host.array {
      Some(a) => {
        let scratch = self.allocator.allocate(a.nbytes(), false)?;
        let out = self.to_device(a, stream)?;
        drop(scratch);
        Some(out)
      }
      None => None,
    };
    self.push("launch", stream, c.name);
    Ok(ProcessorOutput { array, stream: Some(stream), special: host.special, on_host: false })
  }
  fn count_cells(&self, input: &HostArray, options: &str, cancel: &Cancel) -> SbResult<CountOutput> {
    let stream = order_before_use(self, &*input.storage.block()?)?;
    let (results, masks) = run_count_cells_cancellable(&host_view(input)?, options, cancel)?;
    self.push("launch", stream, "countCellsSingleChannel");
    let masks = masks.map(|m| self.to_device(m, stream)).transpose()?;
    Ok(CountOutput { results, masks, stream: Some(stream) })
  }
}
