//! The backend traits (DESIGN §11): one model for every domain, after candle's `BackendDevice` and
//! clesperanto's `Backend`. A device allocates through its caching allocator, copies host↔device and
//! device↔device, orders work on the calling thread's stream (or queue) and runs the processors by
//! name. The host, OpenCL, CUDA and the test-only fake device implement it; the binding installs
//! them once (`install`) and dispatches conversions and processors through `device(id)` — adding a
//! domain is one more implementation, with no match arm in the binding.

use crate::alloc::{Block, CachingAllocator, WriteMark};
use crate::array::HostArray;
use crate::cancel::Cancel;
use crate::conversion::Topology;
use crate::error::{ErrorCode, SbError, SbResult};
use crate::memory_type::{Device, Domain, MemoryType};
use std::any::Any;
use std::sync::{Arc, OnceLock};

/// What `devices()` reports about a device.
#[derive(Clone, Debug, Default)]
pub struct DeviceDescription {
  /// `cpu`, `cuda` or `opencl`.
  pub kind: &'static str,
  pub name: String,
  pub total_memory: u64,
  pub shares_host: bool,
  /// OpenCL: the platform.
  pub platform: Option<String>,
  /// `gpu`, `cpu`, `accelerator` or `other`.
  pub device_type: Option<String>,
  pub fp64: Option<bool>,
  /// CUDA: e.g. "9.0".
  pub compute_capability: Option<String>,
}

/// One processor call: its registry name, the input, JSON options, the further arrays
/// (`applyMask`'s mask, `watershed`'s markers and mask, ...; an optional one may be `None`), the abort flag.
pub struct ProcessorCall<'a> {
  pub name: &'a str,
  pub input: &'a HostArray,
  pub options: &'a str,
  pub aux: &'a [Option<HostArray>],
  pub cancel: &'a Cancel,
}

impl ProcessorCall<'_> {
  /// The first further array (the one a processor of DESIGN §7 may take).
  pub fn first_aux(&self) -> Option<&HostArray> {
    self.aux.first().and_then(|a| a.as_ref())
  }
}

/// A processor's result (on the input's device) and the stream or queue it ran on.
pub struct ProcessorOutput {
  /// `None`: the input stack is the result, unchanged (measurements).
  pub array: Option<HostArray>,
  pub stream: Option<u64>,
  /// The special output, JSON (thresholds, a regions table, peaks).
  pub special: Option<String>,
  /// The device ran it on the host (its arrays transferred there and back; DESIGN §12).
  pub on_host: bool,
}

impl ProcessorOutput {
  /// A result array made on the device.
  pub fn array(array: HostArray, stream: Option<u64>) -> ProcessorOutput {
    ProcessorOutput { array: Some(array), stream, special: None, on_host: false }
  }
}

/// `countCellsSingleChannel`'s per-slice results (JSON), its int32 masks when asked, the stream used.
pub struct CountOutput {
  pub results: String,
  pub masks: Option<HostArray>,
  pub stream: Option<u64>,
}

/// An event a backend recorded on a stream (downcast by that backend).
pub type Event = Arc<dyn Any + Send + Sync>;

/// One device of one domain.
pub trait BackendDevice: Send + Sync {
  fn id(&self) -> Device;
  fn describe(&self) -> DeviceDescription;
  /// The device's caching allocator (stats, limit, `empty_cache`).
  fn allocator(&self) -> &'static CachingAllocator;
  /// `DeviceLostError` once the device has failed.
  fn check_alive(&self) -> SbResult<()> {
    Ok(())
  }
  /// The calling thread's stream (CUDA) or queue (OpenCL) on this device, created on first use;
  /// 0 on the host.
  fn stream(&self) -> SbResult<u64>;
  /// Copies host bytes into device memory at `offset` bytes of `dst`; done when it returns (the
  /// source is the caller's memory). The default is for host-addressable memory (the host, OpenCL
  /// buffers over host memory); devices with memory of their own override it.
  fn upload(&self, dst: &Block, offset: usize, src: &[u8]) -> SbResult<()> {
    host_upload(dst, offset, src)
  }
  /// Copies device memory from `offset` bytes of `src` into host bytes; done when it returns.
  /// Default: host-addressable memory, as `upload`.
  fn download(&self, src: &Block, offset: usize, dst: &mut [u8]) -> SbResult<()> {
    host_download(src, offset, dst)
  }
  /// Copies `bytes` from `src` (this device, or another device of the same domain: a peer copy)
  /// into `dst` on this device; done when it returns. Default: host-addressable memory.
  fn copy_device(&self, dst: &Block, dst_offset: usize, src: &Block, src_offset: usize, bytes: usize) -> SbResult<()> {
    host_copy_device(dst, dst_offset, src, src_offset, bytes)
  }
  /// Waits for everything enqueued on the device.
  fn synchronize(&self) -> SbResult<()>;
  /// Records an event on `stream` after the work enqueued so far (`None` where work completes
  /// before the call returns, as on the host).
  fn record(&self, _stream: u64) -> SbResult<Option<Event>> {
    Ok(None)
  }
  /// Makes `stream` wait for `mark`'s event before its later work.
  fn wait(&self, _stream: u64, _mark: &WriteMark) -> SbResult<()> {
    Ok(())
  }
  fn run_processor(&self, call: &ProcessorCall) -> SbResult<ProcessorOutput>;
  fn count_cells(&self, input: &HostArray, options: &str, cancel: &Cancel) -> SbResult<CountOutput>;
}

/// Before the calling thread's stream on `dev` uses `block`: if another stream wrote it last, wait
/// for that write's event (DESIGN §11, streams).
pub fn order_before_use(dev: &dyn BackendDevice, block: &Block) -> SbResult<u64> {
  let stream = dev.stream()?;
  if let Some(mark) = block.last_write() {
    if mark.stream != stream {
      dev.wait(stream, &mark)?;
    }
  }
  Ok(stream)
}

/// After `stream` on `dev` enqueued a write of `block`: record where it was written.
pub fn mark_written(dev: &dyn BackendDevice, stream: u64, block: &Block) -> SbResult<()> {
  if let Some(event) = dev.record(stream)? {
    block.set_last_write(WriteMark { stream, event });
  }
  Ok(())
}

/// `BackendDevice::upload`'s default, for host-addressable memory (a backend whose devices have
/// both kinds calls it for the host-addressable one).
pub fn host_upload(dst: &Block, offset: usize, src: &[u8]) -> SbResult<()> {
  let d = host_range(dst, offset, src.len())?;
  // SAFETY: `host_range` checked that dst is host memory covering the range.
  unsafe { host_copy(d, src.as_ptr(), src.len()) };
  Ok(())
}

/// `BackendDevice::download`'s default, as `host_upload`.
pub fn host_download(src: &Block, offset: usize, dst: &mut [u8]) -> SbResult<()> {
  let s = host_range(src, offset, dst.len())?;
  // SAFETY: as `host_upload`.
  unsafe { host_copy(dst.as_mut_ptr(), s, dst.len()) };
  Ok(())
}

/// `BackendDevice::copy_device`'s default, as `host_upload`.
pub fn host_copy_device(dst: &Block, dst_offset: usize, src: &Block, src_offset: usize, bytes: usize) -> SbResult<()> {
  let (d, s) = (host_range(dst, dst_offset, bytes)?, host_range(src, src_offset, bytes)?);
  // SAFETY: as `host_upload`.
  unsafe { host_copy(d, s, bytes) };
  Ok(())
}

/// The host pointer of `[offset, offset + bytes)` of a host-addressable block (the default copies'
/// check: device memory, or a range past the block, is an error, never a wild copy).
fn host_range(b: &Block, offset: usize, bytes: usize) -> SbResult<*mut u8> {
  if !b.host_addressable() {
    return Err(SbError::invalid(format!("{} memory is not host-addressable: its backend must copy it", b.device())));
  }
  if offset.checked_add(bytes).is_none_or(|end| end > b.len()) {
    return Err(SbError::invalid(format!("copy of {bytes} B at {offset} is outside a block of {} B", b.len())));
  }
  // SAFETY: in bounds, checked above.
  Ok(unsafe { b.as_ptr().add(offset) })
}

/// Parallel copy between host memories.
///
/// # Safety
/// `dst` must be writable and `src` readable for `bytes` bytes, not overlapping.
unsafe fn host_copy(dst: *mut u8, src: *const u8, bytes: usize) {
  let (d, s) = unsafe { (std::slice::from_raw_parts_mut(dst, bytes), std::slice::from_raw_parts(src, bytes)) };
  crate::ops::par_copy(d, s);
}

static REGISTRY: OnceLock<Vec<Arc<dyn BackendDevice>>> = OnceLock::new();
static DISCOVERY: OnceLock<fn() -> Vec<Arc<dyn BackendDevice>>> = OnceLock::new();

/// Names the function that finds the process's devices, run on first use (the binding sets it
/// when it loads; discovery itself — driver probes — waits until a device is needed).
pub fn set_discovery(discover: fn() -> Vec<Arc<dyn BackendDevice>>) {
  let _ = DISCOVERY.set(discover);
}

/// Installs the process's devices now (tests; later calls keep the first set).
pub fn install(discover: impl FnOnce() -> Vec<Arc<dyn BackendDevice>>) -> &'static [Arc<dyn BackendDevice>] {
  REGISTRY.get_or_init(discover)
}

/// Every device of this process (the host first), discovered on first use.
pub fn all() -> &'static [Arc<dyn BackendDevice>] {
  REGISTRY.get_or_init(|| DISCOVERY.get().map(|f| f()).unwrap_or_default())
}

/// The installed device `id`; `InvalidDeviceError` when this machine has none such.
pub fn device(id: Device) -> SbResult<&'static Arc<dyn BackendDevice>> {
  all()
    .iter()
    .find(|d| d.id() == id)
    .ok_or_else(|| SbError::new(ErrorCode::InvalidDevice, format!("no device {id} on this machine")).with("device", id.to_string()))
}

/// The devices as the conversion matrix sees them.
pub fn topology() -> Topology {
  let of = |domain: Domain| all().iter().filter(move |d| d.id().domain() == domain);
  Topology {
    cuda_devices: of(Domain::Cuda).count() as u32,
    opencl_shares_host: of(Domain::OpenCl).map(|d| d.allocator().host_addressable()).collect(),
  }
}

/// Bytes one cancellation check covers in a copy (a few milliseconds of memory bandwidth).
const COPY_TILE: usize = 16 << 20;

/// A copy of `a` as `memory_type` in `target`'s memory: every transfer, device move and CPU
/// roundtrip of the conversion matrix, through the two devices' backends. `cancel` is checked
/// between 16 MiB tiles; an abort drops (frees) the partial copy.
pub fn transfer(a: &HostArray, target: Device, memory_type: MemoryType, cancel: &Cancel) -> SbResult<HostArray> {
  cancel.check()?;
  let (src_dev, dst_dev) = (device(a.device())?, device(target)?);
  src_dev.check_alive()?;
  dst_dev.check_alive()?;
  let out = HostArray::alloc_on(target, a.shape.clone(), a.dtype, memory_type, false)?;
  let (src, dst) = (a.storage.block()?, out.storage.block()?);
  let (s0, n) = (a.byte_offset(), a.nbytes());
  match (src.host_addressable(), dst.host_addressable()) {
    (true, true) => cancel.for_ranges(n, COPY_TILE, |i, j| {
      // SAFETY: both blocks are host memory covering these ranges; `out` is fresh.
      unsafe { host_copy(dst.as_ptr().add(i), src.as_ptr().add(s0 + i), j - i) };
      Ok(())
    })?,
    (true, false) => {
      order_before_use(dst_dev.as_ref(), &dst)?;
      cancel.for_ranges(n, COPY_TILE, |i, j| {
        // SAFETY: src is host memory covering [s0 + i, s0 + j).
        let s = unsafe { std::slice::from_raw_parts(src.as_ptr().add(s0 + i), j - i) };
        dst_dev.upload(&dst, i, s)
      })?
    }
    (false, true) => {
      order_before_use(src_dev.as_ref(), &src)?;
      cancel.for_ranges(n, COPY_TILE, |i, j| {
        // SAFETY: dst is fresh host memory covering [i, j).
        let d = unsafe { std::slice::from_raw_parts_mut(dst.as_ptr().add(i), j - i) };
        src_dev.download(&src, s0 + i, d)
      })?
    }
    (false, false) if a.device().domain() == target.domain() => {
      order_before_use(src_dev.as_ref(), &src)?;
      cancel.for_ranges(n, COPY_TILE, |i, j| dst_dev.copy_device(&dst, i, &src, s0 + i, j - i))?
    }
    // Two device domains (CUDA and a discrete OpenCL device): through host memory, tile by tile.
    (false, false) => {
      order_before_use(src_dev.as_ref(), &src)?;
      let mut staging = vec![0u8; COPY_TILE.min(n)];
      cancel.for_ranges(n, COPY_TILE, |i, j| {
        src_dev.download(&src, s0 + i, &mut staging[..j - i])?;
        dst_dev.upload(&dst, i, &staging[..j - i])
      })?
    }
  }
  Ok(HostArray { readonly: memory_type.is_immutable(), ..out })
}
