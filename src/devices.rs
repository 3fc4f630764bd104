//! Devices and memory: `devices()`, `memoryInfo`, `emptyCache`, `setMemoryLimit` over the domains
//! this build has: the host and every OpenCL device. CUDA devices are listed (`stackbridge-cuda`'s probe)
//! but hold no arrays yet: the conversion matrix sees them once the CUDA executors land.

use crate::errors::guard;
use napi::bindgen_prelude::*;
use napi_derive::napi;
use stackbridge_core::alloc::{allocator_for, host_allocator, HostAllocator};
use stackbridge_core::{Device, ErrorCode, SbError, SbResult, Topology};

/// The devices of this process, as the conversion matrix sees them.
pub fn topology() -> Topology {
  Topology { cuda_devices: 0, opencl_shares_host: stackbridge_opencl::devices().iter().map(|d| d.shares_host).collect() }
}

#[napi(object)]
pub struct DeviceInfo {
  pub id: String,
  pub kind: String,
  pub name: String,
  pub total_memory: f64,
  pub shares_host_memory: bool,
  /// OpenCL: the platform (e.g. "Portable Computing Language").
  pub platform: Option<String>,
  /// OpenCL: `gpu`, `cpu`, `accelerator` or `other`.
  pub device_type: Option<String>,
  /// OpenCL: whether the device computes in double precision (cl_khr_fp64).
  pub fp64: Option<bool>,
  /// CUDA: the compute capability, e.g. "9.0".
  pub compute_capability: Option<String>,
}

/// The CUDA driver and NVRTC as this process finds them (`stackbridge info`).
#[napi(object)]
pub struct CudaRuntime {
  /// `cuDriverGetVersion` (e.g. 13000) where a driver loaded.
  pub driver_version: Option<i32>,
  /// Why there is no usable driver, where there is none.
  pub driver_unavailable: Option<String>,
  pub devices: u32,
  /// NVRTC's version ("13.0") where libnvrtc loads.
  pub nvrtc_version: Option<String>,
  pub nvrtc_unavailable: Option<String>,
}

#[napi]
pub fn cuda_runtime() -> Result<CudaRuntime> {
  guard(|| {
    let (driver_version, driver_unavailable) = match stackbridge_cuda::probe() {
      stackbridge_cuda::Driver::Present { version, .. } => (Some(*version), None),
      stackbridge_cuda::Driver::Absent(reason) => (None, Some(reason.clone())),
    };
    let (nvrtc_version, nvrtc_unavailable) = match stackbridge_cuda::nvrtc::version() {
      Ok((major, minor)) => (Some(format!("{major}.{minor}")), None),
      Err(reason) => (None, Some(reason)),
    };
    Ok(CudaRuntime { driver_version, driver_unavailable, devices: stackbridge_cuda::devices().len() as u32, nvrtc_version, nvrtc_unavailable })
  })
}

#[napi(object)]
pub struct QueueInfo {
  pub id: f64,
  pub device: String,
  pub thread: String,
  pub launches: f64,
}

#[napi(object)]
pub struct MemoryInfo {
  pub device: String,
  pub allocated_bytes: f64,
  pub cached_bytes: f64,
  pub peak_allocated_bytes: f64,
  pub limit_bytes: Option<f64>,
  pub free_bytes: f64,
  pub total_bytes: f64,
  pub allocations: f64,
  pub cache_hits: f64,
}

fn cpu_name() -> String {
  std::fs::read_to_string("/proc/cpuinfo")
    .ok()
    .and_then(|t| t.lines().find(|l| l.starts_with("model name")).and_then(|l| l.split(':').nth(1)).map(|s| s.trim().to_string()))
    .unwrap_or_else(|| "host CPU".into())
}

/// Parses an id and checks the device exists.
fn existing(id: &str) -> SbResult<Device> {
  let d = Device::parse(id)?;
  let topo = topology();
  let ok = match d {
    Device::Host => true,
    Device::Cuda(n) => n < topo.cuda_devices,
    Device::OpenCl(n) => (n as usize) < topo.opencl_shares_host.len(),
    Device::Tfjs => false,
  };
  if !ok {
    return Err(SbError::new(ErrorCode::InvalidDevice, format!("no device {id} on this machine")).with("device", id));
  }
  Ok(d)
}

#[napi]
pub fn devices() -> Result<Vec<DeviceInfo>> {
  guard(|| {
    let (total, _) = host_allocator().capacity();
    let mut out = vec![DeviceInfo {
      id: "cpu".into(),
      kind: "cpu".into(),
      name: cpu_name(),
      total_memory: total as f64,
      shares_host_memory: true,
      platform: None,
      device_type: None,
      fp64: None,
      compute_capability: None,
    }];
    for d in stackbridge_cuda::devices() {
      out.push(DeviceInfo {
        id: format!("cuda:{}", d.ordinal),
        kind: "cuda".into(),
        name: d.name.clone(),
        total_memory: d.total_memory as f64,
        shares_host_memory: false,
        platform: None,
        device_type: Some("gpu".into()),
        fp64: Some(true),
        compute_capability: Some(format!("{}.{}", d.compute_capability.0, d.compute_capability.1)),
      });
    }
    for d in stackbridge_opencl::devices() {
      out.push(DeviceInfo {
        id: d.label(),
        kind: "opencl".into(),
        name: d.name.clone(),
        total_memory: d.global_mem as f64,
        shares_host_memory: d.shares_host,
        platform: Some(d.platform.clone()),
        device_type: Some(d.kind.into()),
        fp64: Some(d.fp64),
        compute_capability: None,
      });
    }
    Ok(out)
  })
}

/// The allocators of every device (`emptyCache()` without an id empties them all).
fn all_allocators() -> SbResult<Vec<&'static HostAllocator>> {
  let mut all = vec![host_allocator()];
  for d in stackbridge_opencl::devices() {
    all.push(allocator_for(d.id())?);
  }
  Ok(all)
}

/// The command queues created on an OpenCL device (one per engine thread that used it).
#[napi]
pub fn opencl_queues(device: String) -> Result<Vec<QueueInfo>> {
  guard(|| {
    let Device::OpenCl(n) = existing(&device)? else {
      return Err(SbError::invalid(format!("{device} is not an OpenCL device")).with("device", device.clone()));
    };
    Ok(
      stackbridge_opencl::runtime::queue_stats(n)
        .into_iter()
        .map(|q| QueueInfo { id: q.id as f64, device: device.clone(), thread: q.thread, launches: q.launches as f64 })
        .collect(),
    )
  })
}

#[napi]
pub fn memory_info(device: String) -> Result<MemoryInfo> {
  guard(|| {
    let a = allocator_for(existing(&device)?)?;
    let s = a.stats();
    let (total, free) = a.capacity();
    Ok(MemoryInfo {
      device,
      allocated_bytes: s.allocated_bytes as f64,
      cached_bytes: s.cached_bytes as f64,
      peak_allocated_bytes: s.peak_allocated_bytes as f64,
      limit_bytes: s.limit_bytes.map(|l| l as f64),
      free_bytes: free as f64,
      total_bytes: total as f64,
      allocations: s.allocations as f64,
      cache_hits: s.cache_hits as f64,
    })
  })
}

#[napi]
pub fn empty_cache(device: Option<String>) -> Result<()> {
  guard(|| {
    match device {
      Some(id) => allocator_for(existing(&id)?)?.empty_cache(),
      None => all_allocators()?.into_iter().for_each(|a| a.empty_cache()),
    }
    Ok(())
  })
}

#[napi]
pub fn set_memory_limit(device: String, bytes: Option<f64>) -> Result<()> {
  guard(|| {
    let dev = existing(&device)?;
    let limit = match bytes {
      None => None,
      Some(b) if b.is_finite() && b >= 0.0 && b.fract() == 0.0 && b <= 9.0e15 => Some(b as u64),
      Some(b) => return Err(SbError::invalid(format!("memory limit must be a non-negative integer number of bytes or null, got {b}"))),
    };
    allocator_for(dev)?.set_limit(limit);
    Ok(())
  })
}

#[napi]
pub fn error_codes() -> Vec<String> {
  stackbridge_core::ErrorCode::ALL.iter().map(|c| c.as_str().to_string()).collect()
}
