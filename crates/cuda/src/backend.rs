//! CUDA devices as backend devices (DESIGN §11), on cudarc's driver API loaded at run time. One
//! (primary) context per device; each engine thread gets its own stream per device (a `fork` of
//! the context's stream, on first use); an array remembers the event of its last write and another
//! stream waits on it; memory is `cuMemAlloc` blocks under the core's caching allocator (stats,
//! limit, `empty_cache`); transfers go through a pinned staging buffer per thread. Every driver
//! call runs under `catch_unwind`, and driver errors become typed errors:
//! `CUDA_ERROR_OUT_OF_MEMORY` → `OutOfMemoryError` (through the allocator, with the numbers),
//! launch failures and illegal addresses → `DeviceLostError` for that device.
//!
//! The processors are stackbridge-gpu's, run through [`crate::gpu::CudaCtx`] on the calling
//! thread's stream: the same host-side orchestration and kernel sources as on OpenCL.

use crate::gpu::{CudaCtx, CudaProgram};
use stackbridge_gpu::Gpu;
use crate::probe::{probe, CudaDeviceInfo, Driver};
use crate::programs;
use cudarc::driver::{result, sys, CudaContext, CudaEvent, CudaStream};
use stackbridge_core::alloc::{register_allocator, Block, CachingAllocator, RawMemory, WriteMark};
use stackbridge_core::backend::{mark_written, order_before_use, BackendDevice, CountOutput, DeviceDescription, Event, ProcessorCall, ProcessorOutput};
use stackbridge_core::{Cancel, Device, ErrorCode, HostArray, SbError, SbResult};
use std::cell::RefCell;
use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// Runs a driver call, turning a panic inside cudarc into a typed error.
fn guarded<T>(what: &str, device: &str, f: impl FnOnce() -> Result<T, result::DriverError>) -> SbResult<T> {
  match catch_unwind(AssertUnwindSafe(f)) {
    Ok(Ok(v)) => Ok(v),
    Ok(Err(e)) => Err(driver_error(&e, what, device)),
    Err(_) => Err(SbError::gpu_unavailable(format!("{what} on {device}: the CUDA driver library could not be used")).with("device", device)),
  }
}

/// The typed error for a failed driver call.
pub fn driver_error(e: &result::DriverError, what: &str, device: &str) -> SbError {
  use sys::cudaError_enum as E;
  let code = format!("{:?}", e.0);
  let kind = match e.0 {
    E::CUDA_ERROR_OUT_OF_MEMORY => ErrorCode::OutOfMemory,
    E::CUDA_ERROR_ILLEGAL_ADDRESS
    | E::CUDA_ERROR_LAUNCH_FAILED
    | E::CUDA_ERROR_HARDWARE_STACK_ERROR
    | E::CUDA_ERROR_ILLEGAL_INSTRUCTION
    | E::CUDA_ERROR_MISALIGNED_ADDRESS
    | E::CUDA_ERROR_INVALID_ADDRESS_SPACE
    | E::CUDA_ERROR_INVALID_PC
    | E::CUDA_ERROR_ECC_UNCORRECTABLE
    | E::CUDA_ERROR_DEVICE_UNAVAILABLE
    | E::CUDA_ERROR_CONTEXT_IS_DESTROYED => ErrorCode::DeviceLost,
    E::CUDA_ERROR_NOT_INITIALIZED | E::CUDA_ERROR_NO_DEVICE | E::CUDA_ERROR_INVALID_DEVICE => ErrorCode::GpuUnavailable,
    _ => ErrorCode::Internal,
  };
  SbError::new(kind, format!("{what} failed on {device}: {code}")).with("device", device).with("driverError", code)
}

/// `cuMemAlloc` memory of one device.
struct DeviceMemory {
  ctx: Arc<CudaContext>,
  label: String,
}

impl RawMemory for DeviceMemory {
  fn alloc(&self, bytes: usize, zeroed: bool) -> SbResult<Option<usize>> {
    let r = guarded("cuMemAlloc", &self.label, || {
      self.ctx.bind_to_thread()?;
      // SAFETY: a fresh allocation; zeroed below when asked.
      let p = unsafe { result::malloc_sync(bytes) }?;
      if zeroed {
        unsafe { result::memset_d8_sync(p, 0, bytes) }?;
      }
      Ok(p)
    });
    match r {
      Ok(p) => Ok(Some(p as usize)),
      // The card is full: the caching allocator empties its cache, retries, then reports it.
      Err(e) if e.code == ErrorCode::OutOfMemory => Ok(None),
      Err(e) => Err(e),
    }
  }
  fn free(&self, addr: usize, _bytes: usize) {
    // Every operation synchronised its stream before returning, so the block is idle.
    let _ = guarded("cuMemFree", &self.label, || {
      self.ctx.bind_to_thread()?;
      unsafe { result::free_sync(addr as sys::CUdeviceptr) }
    });
  }
  fn zero(&self, addr: usize, bytes: usize) -> SbResult<()> {
    guarded("cuMemsetD8", &self.label, || {
      self.ctx.bind_to_thread()?;
      unsafe { result::memset_d8_sync(addr as sys::CUdeviceptr, 0, bytes) }
    })
  }
  fn align(&self) -> usize {
    256
  }
  fn host_addressable(&self) -> bool {
    false
  }
  fn device_memory(&self) -> Option<(u64, u64)> {
    guarded("cuMemGetInfo", &self.label, || {
      self.ctx.bind_to_thread()?;
      result::mem_get_info()
    })
    .ok()
    .map(|(free, total)| (total as u64, free as u64))
  }
}

/// Page-locked host memory for transfers (one per engine thread per device).
struct Staging {
  ptr: *mut u8,
  bytes: usize,
}

impl Drop for Staging {
  fn drop(&mut self) {
    let _ = catch_unwind(|| unsafe { result::free_host(self.ptr.cast()) });
  }
}

const STAGING: usize = 8 << 20;

struct ThreadStream {
  id: u64,
  stream: Arc<CudaStream>,
  staging: Option<Staging>,
}

thread_local! {
  static STREAMS: RefCell<HashMap<usize, ThreadStream>> = RefCell::new(HashMap::new());
}

static STREAM_IDS: AtomicU64 = AtomicU64::new(1);

pub struct CudaDevice {
  info: CudaDeviceInfo,
  ctx: Arc<CudaContext>,
  allocator: &'static CachingAllocator,
  lost: AtomicBool,
  label: String,
  /// Loaded kernel programs by (program, defines).
  programs: Mutex<HashMap<(String, String), Arc<CudaProgram>>>,
}

/// Each device's primary context, made once by `backend_devices` (peer copies name the source's).
static CONTEXTS: OnceLock<Mutex<HashMap<usize, Arc<CudaContext>>>> = OnceLock::new();

fn context(ordinal: usize) -> Option<Arc<CudaContext>> {
  CONTEXTS.get_or_init(Default::default).lock().unwrap_or_else(|p| p.into_inner()).get(&ordinal).cloned()
}

/// The CUDA devices of this machine (none without a driver, or when a context cannot be made).
pub fn backend_devices() -> Vec<Arc<dyn BackendDevice>> {
  let Driver::Present { devices, .. } = probe() else { return vec![] };
  devices
    .iter()
    .filter_map(|info| {
      let label = format!("cuda:{}", info.ordinal);
      let ctx = guarded("cuDevicePrimaryCtxRetain", &label, || CudaContext::new(info.ordinal)).ok()?;
      CONTEXTS.get_or_init(Default::default).lock().unwrap_or_else(|p| p.into_inner()).insert(info.ordinal, ctx.clone());
      let allocator = register_allocator(CachingAllocator::new(Device::Cuda(info.ordinal as u32), Box::new(DeviceMemory { ctx: ctx.clone(), label: label.clone() })));
      Some(Arc::new(CudaDevice { info: info.clone(), ctx, allocator, lost: AtomicBool::new(false), label, programs: Mutex::new(HashMap::new()) }) as Arc<dyn BackendDevice>)
    })
    .collect()
}

impl CudaDevice {
  pub fn ordinal(&self) -> usize {
    self.info.ordinal
  }
  pub fn name(&self) -> &str {
    &self.info.name
  }
  pub(crate) fn context(&self) -> &Arc<CudaContext> {
    &self.ctx
  }

  /// This thread's stream on the device and its id.
  pub(crate) fn thread_stream(&self) -> SbResult<(Arc<CudaStream>, u64)> {
    self.with_stream(|ts| Ok((ts.stream.clone(), ts.id)))
  }

  /// Program `name` built with `defines` for this device, loaded by `load` from its image on first
  /// use (NVRTC, or the disk cache), then kept for the process.
  pub(crate) fn program(&self, name: &str, defines: &str, load: impl FnOnce(Vec<u8>) -> SbResult<CudaProgram>) -> SbResult<Arc<CudaProgram>> {
    self.check_alive()?;
    let key = (name.to_string(), defines.to_string());
    // Held while compiling: two threads asking for one variant compile it once.
    let mut cache = self.programs.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(p) = cache.get(&key) {
      return Ok(p.clone());
    }
    let (major, minor) = self.info.compute_capability;
    let target = programs::target_for(major * 10 + minor, &programs::supported_archs()?)?;
    let image = programs::image(name, defines, target).map_err(|e| e.with("device", self.label.clone()))?;
    let p = Arc::new(load(image).map_err(|e| self.note(e))?);
    cache.insert(key, p.clone());
    Ok(p)
  }

  /// Runs `f` with a context on this thread's stream, after the stream has waited for the last
  /// writes of `inputs`; the output's block is marked as written by this stream.
  fn on_stream<T>(&self, inputs: &[&HostArray], cancel: &Cancel, f: impl FnOnce(&CudaCtx) -> SbResult<T>, out: impl Fn(&T) -> Option<&HostArray>) -> SbResult<(T, u64)> {
    cancel.check()?;
    for a in inputs {
      let block = a.storage.block()?;
      if block.device() == self.id() {
        order_before_use(self, &block)?;
      }
    }
    let ctx = CudaCtx::new(self)?;
    let r = f(&ctx).map_err(|e| self.note(e))?;
    if let Some(o) = out(&r) {
      mark_written(self, ctx.queue_id(), o.storage.block()?.as_ref())?;
    }
    cancel.check()?;
    Ok((r, ctx.queue_id()))
  }
  /// Runs `f` with this thread's stream (and staging buffer) on the device.
  fn with_stream<T>(&self, f: impl FnOnce(&mut ThreadStream) -> SbResult<T>) -> SbResult<T> {
    self.check_alive()?;
    STREAMS.with(|m| {
      let mut m = m.borrow_mut();
      if !m.contains_key(&self.info.ordinal) {
        let stream = guarded("cuStreamCreate", &self.label, || self.ctx.default_stream().fork())?;
        m.insert(self.info.ordinal, ThreadStream { id: STREAM_IDS.fetch_add(1, Ordering::Relaxed), stream, staging: None });
      }
      let ts = m.get_mut(&self.info.ordinal).expect("inserted above");
      f(ts).map_err(|e| self.note(e))
    })
  }

  /// Marks the device lost when `e` says so.
  fn note(&self, e: SbError) -> SbError {
    if e.code == ErrorCode::DeviceLost {
      self.lost.store(true, Ordering::Relaxed);
    }
    e
  }

  pub(crate) fn call<T>(&self, what: &str, f: impl FnOnce() -> Result<T, result::DriverError>) -> SbResult<T> {
    guarded(what, &self.label, || {
      self.ctx.bind_to_thread()?;
      f()
    })
  }

  /// Moves `bytes` between host memory and the device through the thread's pinned staging buffer,
  /// `STAGING` bytes at a time; `step(staging, done, n, stream)` enqueues one chunk's copy.
  fn staged(&self, bytes: usize, mut step: impl FnMut(*mut u8, usize, usize, sys::CUstream) -> Result<(), result::DriverError>) -> SbResult<()> {
    self.with_stream(|ts| {
      if ts.staging.is_none() {
        let ptr = self.call("cuMemHostAlloc", || unsafe { result::malloc_host(STAGING, 0) })?;
        ts.staging = Some(Staging { ptr: ptr.cast(), bytes: STAGING });
      }
      let st = ts.staging.as_ref().expect("allocated above");
      let mut done = 0;
      while done < bytes {
        let n = (bytes - done).min(st.bytes);
        self.call("cuMemcpyAsync", || {
          step(st.ptr, done, n, ts.stream.cu_stream())?;
          ts.stream.synchronize()
        })?;
        done += n;
      }
      Ok(())
    })
  }
}

impl BackendDevice for CudaDevice {
  fn id(&self) -> Device {
    Device::Cuda(self.info.ordinal as u32)
  }
  fn describe(&self) -> DeviceDescription {
    DeviceDescription {
      kind: "cuda",
      name: self.info.name.clone(),
      total_memory: self.info.total_memory,
      shares_host: false,
      device_type: Some("gpu".into()),
      fp64: Some(true),
      compute_capability: Some(format!("{}.{}", self.info.compute_capability.0, self.info.compute_capability.1)),
      platform: None,
    }
  }
  fn allocator(&self) -> &'static CachingAllocator {
    self.allocator
  }
  fn check_alive(&self) -> SbResult<()> {
    if self.lost.load(Ordering::Relaxed) {
      return Err(SbError::new(ErrorCode::DeviceLost, format!("CUDA device {} was lost earlier in this process", self.label)).with("device", self.label.clone()));
    }
    Ok(())
  }
  fn stream(&self) -> SbResult<u64> {
    self.with_stream(|ts| Ok(ts.id))
  }
  fn upload(&self, dst: &Block, offset: usize, src: &[u8]) -> SbResult<()> {
    let base = (dst.addr() + offset) as sys::CUdeviceptr;
    self.staged(src.len(), |staging, done, n, stream| unsafe {
      std::ptr::copy_nonoverlapping(src.as_ptr().add(done), staging, n);
      result::memcpy_htod_async(base + done as u64, std::slice::from_raw_parts(staging, n), stream)
    })
  }
  fn download(&self, src: &Block, offset: usize, dst: &mut [u8]) -> SbResult<()> {
    let base = (src.addr() + offset) as sys::CUdeviceptr;
    let out = dst.as_mut_ptr();
    let mut pending: Option<(usize, usize)> = None;
    // Each chunk lands in staging and is copied out once the stream has finished it.
    let r = self.staged(dst.len(), |staging, done, n, stream| unsafe {
      if let Some((d, m)) = pending.take() {
        std::ptr::copy_nonoverlapping(staging, out.add(d), m);
      }
      result::memcpy_dtoh_async(std::slice::from_raw_parts_mut(staging, n), base + done as u64, stream)?;
      pending = Some((done, n));
      Ok(())
    });
    r?;
    if let Some((d, m)) = pending {
      self.with_stream(|ts| {
        let st = ts.staging.as_ref().expect("staging exists after a copy");
        unsafe { std::ptr::copy_nonoverlapping(st.ptr, out.add(d), m) };
        Ok(())
      })?;
    }
    Ok(())
  }
  fn copy_device(&self, dst: &Block, dst_offset: usize, src: &Block, src_offset: usize, bytes: usize) -> SbResult<()> {
    let (d, s) = ((dst.addr() + dst_offset) as sys::CUdeviceptr, (src.addr() + src_offset) as sys::CUdeviceptr);
    let src_ctx = match src.device() {
      Device::Cuda(n) if n as usize != self.info.ordinal => Some(context(n as usize).ok_or_else(|| {
        SbError::new(ErrorCode::InvalidDevice, format!("no context for cuda:{n} in this process")).with("device", format!("cuda:{n}"))
      })?),
      _ => None,
    };
    self.with_stream(|ts| {
      self.call("cuMemcpyPeerAsync", || {
        match &src_ctx {
          // A device move: a peer copy (through host memory where the driver has no peer access).
          Some(sc) => unsafe { result::memcpy_peer_async(self.ctx.cu_ctx(), d, sc.cu_ctx(), s, bytes, ts.stream.cu_stream()) }?,
          None => unsafe { result::memcpy_dtod_async(d, s, bytes, ts.stream.cu_stream()) }?,
        }
        ts.stream.synchronize()
      })
    })
  }
  fn synchronize(&self) -> SbResult<()> {
    self.call("cuCtxSynchronize", || self.ctx.synchronize())
  }
  fn record(&self, _stream: u64) -> SbResult<Option<Event>> {
    self.with_stream(|ts| {
      let ev = self.call("cuEventRecord", || ts.stream.record_event(None))?;
      Ok(Some(Arc::new(ev) as Event))
    })
  }
  fn wait(&self, _stream: u64, mark: &WriteMark) -> SbResult<()> {
    let Some(ev) = mark.event.downcast_ref::<CudaEvent>() else { return Ok(()) };
    self.with_stream(|ts| self.call("cuStreamWaitEvent", || ts.stream.wait(ev)))
  }
  fn run_processor(&self, c: &ProcessorCall) -> SbResult<ProcessorOutput> {
    let inputs: Vec<&HostArray> = std::iter::once(c.input).chain(c.aux.iter().flatten()).collect();
    let (out, stream) =
      self.on_stream(&inputs, c.cancel, |ctx| stackbridge_gpu::dispatch::run_named(ctx, c.name, c.input, c.options, c.aux, c.cancel), |o| o.array.as_ref())?;
    Ok(ProcessorOutput { array: out.array, stream: Some(stream), special: out.special, on_host: out.on_host })
  }
  fn count_cells(&self, input: &HostArray, options: &str, cancel: &Cancel) -> SbResult<CountOutput> {
    let ((results, masks), stream) =
      self.on_stream(&[input], cancel, |ctx| stackbridge_gpu::dispatch::run_count_cells(ctx, input, options), |(_, m)| m.as_ref())?;
    Ok(CountOutput { results, masks, stream: Some(stream) })
  }
}
