//! Discovery of every OpenCL platform and device, one context per device, programs compiled once
//! per device and cached, and one command queue per engine thread per device (DESIGN §4).

use crate::error::cl_error;
use opencl3::command_queue::CommandQueue;
use opencl3::context::Context;
use opencl3::device::{Device as ClDeviceId, CL_DEVICE_TYPE_ACCELERATOR, CL_DEVICE_TYPE_ALL, CL_DEVICE_TYPE_CPU, CL_DEVICE_TYPE_GPU};
use opencl3::program::Program;
use stackbridge_core::alloc::{allocator_for, register_allocator, CachingAllocator};
use stackbridge_core::{Device, ErrorCode, SbError, SbResult};
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// One OpenCL device the engine can use.
pub struct ClDevice {
  /// The `N` of `opencl:N`.
  pub index: u32,
  pub name: String,
  pub vendor: String,
  pub platform: String,
  /// `gpu`, `cpu`, `accelerator` or `other`.
  pub kind: &'static str,
  pub global_mem: u64,
  pub max_alloc: u64,
  /// The device reads and writes host memory in place (PoCL, integrated GPUs).
  pub shares_host: bool,
  /// Arrays live in device memory of their own (`memory.rs`): a device that does not share host
  /// memory, or `STACKBRIDGE_OPENCL_RESIDENT=1`.
  pub resident: bool,
  /// `CL_DEVICE_MEM_BASE_ADDR_ALIGN` in bytes: where a sub-buffer may start.
  pub base_align: usize,
  pub fp64: bool,
  pub(crate) context: Context,
  programs: Mutex<HashMap<String, Arc<Program>>>,
  lost: AtomicBool,
}

impl ClDevice {
  pub fn id(&self) -> Device {
    Device::OpenCl(self.index)
  }

  pub fn label(&self) -> String {
    self.id().to_string()
  }

  /// `DeviceLostError` once the device has reported itself lost.
  pub fn check_alive(&self) -> SbResult<()> {
    if self.lost.load(Ordering::Relaxed) {
      return Err(SbError::new(ErrorCode::DeviceLost, format!("OpenCL device {} was lost earlier in this process", self.label())).with("device", self.label()));
    }
    Ok(())
  }

  /// Marks the device lost when `e` says so, and passes `e` on.
  pub fn note(&self, e: SbError) -> SbError {
    if e.code == ErrorCode::DeviceLost {
      self.lost.store(true, Ordering::Relaxed);
    }
    e
  }

  /// The typed error for a failed OpenCL call on this device.
  pub fn fail(&self, code: i32, what: &str, requested: u64) -> SbError {
    self.note(cl_error(code, what, &self.label(), requested))
  }

  /// Program `name` of stackbridge-gpu-kernels built with `defines` (e.g. `-D T_IN=ushort`),
  /// compiled on first use and cached for the process. A build failure is `KernelCompileError`
  /// with the driver's log.
  pub fn program(&self, name: &str, defines: &str) -> SbResult<Arc<Program>> {
    self.check_alive()?;
    let key = format!("{name}|{defines}");
    let mut cache = self.programs.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(p) = cache.get(&key) {
      return Ok(p.clone());
    }
    let src = stackbridge_gpu_kernels::source(name).ok_or_else(|| SbError::invalid(format!("no device program named {name:?}")))?;
    let fp64 = if self.fp64 { " -D SB_HAS_FP64=1" } else { "" };
    let options = format!("-cl-std=CL1.2{fp64} {defines}");
    let program = Program::create_and_build_from_source(&self.context, &src, &options).map_err(|log| {
      SbError::new(ErrorCode::KernelCompile, format!("OpenCL program {name:?} failed to build on {} ({})", self.label(), self.name))
        .with("log", log)
        .with("device", self.label())
        .with("program", name)
    })?;
    let p = Arc::new(program);
    cache.insert(key, p.clone());
    Ok(p)
  }

  /// How many (program, defines) variants are compiled on this device.
  pub fn cached_programs(&self) -> usize {
    self.programs.lock().unwrap_or_else(|p| p.into_inner()).len()
  }
}

fn kind_of(t: u64) -> &'static str {
  if t & CL_DEVICE_TYPE_GPU != 0 {
    "gpu"
  } else if t & CL_DEVICE_TYPE_CPU != 0 {
    "cpu"
  } else if t & CL_DEVICE_TYPE_ACCELERATOR != 0 {
    "accelerator"
  } else {
    "other"
  }
}

fn discover() -> SbResult<Vec<ClDevice>> {
  let platforms = match opencl3::platform::get_platforms() {
    Ok(p) => p,
    // No loader, or a loader without any ICD (-1001): no OpenCL devices, not an error.
    Err(_) => return Ok(Vec::new()),
  };
  let mut found = Vec::new();
  for platform in platforms {
    let pname = platform.name().unwrap_or_default();
    let Ok(ids) = platform.get_devices(CL_DEVICE_TYPE_ALL) else { continue };
    for id in ids {
      let d = ClDeviceId::new(id);
      if !d.available().unwrap_or(false) {
        continue;
      }
      let t = d.dev_type().unwrap_or(0);
      let kind = kind_of(t);
      let Ok(context) = Context::from_device(&d) else { continue };
      let exts = d.extensions().unwrap_or_default();
      found.push(ClDevice {
        index: 0,
        name: d.name().unwrap_or_default().trim().to_string(),
        vendor: d.vendor().unwrap_or_default().trim().to_string(),
        platform: pname.trim().to_string(),
        kind,
        global_mem: d.global_mem_size().unwrap_or(0),
        max_alloc: d.max_mem_alloc_size().unwrap_or(0),
        // CL_DEVICE_HOST_UNIFIED_MEMORY is deprecated in 2.0 but still reported; a CPU device
        // shares host memory by definition.
        shares_host: kind == "cpu" || d.host_unified_memory().unwrap_or(false),
        resident: false,
        base_align: (d.mem_base_addr_align().unwrap_or(1024) as usize / 8).max(1),
        fp64: exts.split_whitespace().any(|e| e == "cl_khr_fp64"),
        context,
        programs: Mutex::new(HashMap::new()),
        lost: AtomicBool::new(false),
      });
    }
  }
  // A GPU is preferred (DESIGN §1): GPUs first, then the rest, each in platform order.
  found.sort_by_key(|d| if d.kind == "gpu" { 0 } else { 1 });
  for (i, d) in found.iter_mut().enumerate() {
    d.index = i as u32;
    d.resident = crate::memory::resident(d.shares_host);
    let id = Device::OpenCl(i as u32);
    let alloc = if d.resident {
      // SAFETY: a new reference to the device's live context, released by the Context's drop.
      unsafe { opencl3::context::context::retain_context(d.context.get()) }.map_err(|e| d.fail(e, "clRetainContext", 0))?;
      let ctx = Context::new(d.context.get(), d.context.devices());
      register_allocator(CachingAllocator::new(id, Box::new(crate::memory::ResidentMemory::new(ctx, id.to_string(), d.base_align)?)))
    } else {
      allocator_for(id)?
    };
    alloc.set_total(d.global_mem);
  }
  Ok(found)
}

/// Every usable OpenCL device (empty without a runtime). Discovered once per process.
pub fn devices() -> &'static [ClDevice] {
  static DEVICES: OnceLock<Vec<ClDevice>> = OnceLock::new();
  DEVICES.get_or_init(|| discover().unwrap_or_default())
}

/// Device `opencl:n`: `GpuUnavailableError` without any, `InvalidDeviceError` out of range.
pub fn device(n: u32) -> SbResult<&'static ClDevice> {
  let all = devices();
  if all.is_empty() {
    return Err(SbError::gpu_unavailable("no OpenCL device is available (install an OpenCL driver, e.g. pocl-opencl-icd)").with("device", format!("opencl:{n}")));
  }
  all.get(n as usize).ok_or_else(|| {
    SbError::new(ErrorCode::InvalidDevice, format!("no device opencl:{n}: {} OpenCL device(s) present", all.len())).with("device", format!("opencl:{n}"))
  })
}

/// (free, limit) of an `opencl:N` allocator, for out-of-memory errors raised by the driver.
pub fn free_and_limit(device: &str) -> (u64, Option<u64>) {
  match Device::parse(device).ok().and_then(|d| allocator_for(d).ok()) {
    Some(a) => (a.capacity().1, a.stats().limit_bytes),
    None => (0, None),
  }
}

/// One engine thread's command queue on one device.
pub struct Queue {
  pub id: u64,
  pub device: u32,
  pub(crate) queue: CommandQueue,
  launches: Arc<AtomicU64>,
}

impl Queue {
  pub(crate) fn launched(&self) {
    self.launches.fetch_add(1, Ordering::Relaxed);
  }
}

/// Statistics of one command queue (which engine thread, how many kernel launches).
#[derive(Clone, Debug)]
pub struct QueueStats {
  pub id: u64,
  pub device: u32,
  pub thread: String,
  pub launches: u64,
}

struct QueueRecord {
  id: u64,
  device: u32,
  thread: String,
  launches: Arc<AtomicU64>,
}

fn registry() -> &'static Mutex<Vec<QueueRecord>> {
  static QUEUES: OnceLock<Mutex<Vec<QueueRecord>>> = OnceLock::new();
  QUEUES.get_or_init(Default::default)
}

thread_local! {
  static THREAD_QUEUES: RefCell<HashMap<u32, Arc<Queue>>> = RefCell::new(HashMap::new());
}

/// The calling thread's command queue on `dev` (created on first use: the thread-local stream
/// model, so concurrent pipelines on different engine threads never share a queue).
pub fn queue(dev: &ClDevice) -> SbResult<Arc<Queue>> {
  dev.check_alive()?;
  THREAD_QUEUES.with(|q| {
    if let Some(existing) = q.borrow().get(&dev.index) {
      return Ok(existing.clone());
    }
    #[allow(deprecated)] // clCreateCommandQueue: the OpenCL 1.2 entry point PoCL and every driver have
    let cq = CommandQueue::create_default(&dev.context, 0).map_err(|e| dev.fail(e.0, "clCreateCommandQueue", 0))?;
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    let launches = Arc::new(AtomicU64::new(0));
    let thread = std::thread::current().name().map(str::to_string).unwrap_or_else(|| format!("{:?}", std::thread::current().id()));
    registry().lock().unwrap_or_else(|p| p.into_inner()).push(QueueRecord { id, device: dev.index, thread, launches: launches.clone() });
    let queue = Arc::new(Queue { id, device: dev.index, queue: cq, launches });
    q.borrow_mut().insert(dev.index, queue.clone());
    Ok(queue)
  })
}

/// Every command queue created so far on `device`.
pub fn queue_stats(device: u32) -> Vec<QueueStats> {
  registry()
    .lock()
    .unwrap_or_else(|p| p.into_inner())
    .iter()
    .filter(|r| r.device == device)
    .map(|r| QueueStats { id: r.id, device: r.device, thread: r.thread.clone(), launches: r.launches.load(Ordering::Relaxed) })
    .collect()
}
