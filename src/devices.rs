//! Devices and memory: `devices()`, `memoryInfo`, `emptyCache`, `setMemoryLimit` over every
//! installed backend device (`stackbridge_core::backend`: the host, CUDA — or the fake devices in
//! tests — and OpenCL).

use crate::errors::guard;
use napi::bindgen_prelude::*;
use napi_derive::napi;
use stackbridge_core::backend::{self, BackendDevice};
use stackbridge_core::{Device, SbError, SbResult, Topology};
use std::sync::Arc;

/// The devices of this process, as the conversion matrix sees them.
pub fn topology() -> Topology {
  backend::topology()
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

/// Parses an id and finds the device (`InvalidDeviceError` when this machine has none such).
fn existing(id: &str) -> SbResult<&'static Arc<dyn BackendDevice>> {
  backend::device(Device::parse(id)?)
}

#[napi]
pub fn devices() -> Result<Vec<DeviceInfo>> {
  guard(|| {
    Ok(
      backend::all()
        .iter()
        .map(|d| {
          let x = d.describe();
          DeviceInfo {
            id: d.id().to_string(),
            kind: x.kind.into(),
            name: x.name,
            total_memory: x.total_memory as f64,
            shares_host_memory: x.shares_host,
            platform: x.platform,
            device_type: x.device_type,
            fp64: x.fp64,
            compute_capability: x.compute_capability,
          }
        })
        .collect(),
    )
  })
}

/// The command queues created on an OpenCL device (one per engine thread that used it).
#[napi]
pub fn opencl_queues(device: String) -> Result<Vec<QueueInfo>> {
  guard(|| {
    let Device::OpenCl(n) = existing(&device)?.id() else {
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
    let a = existing(&device)?.allocator();
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
      Some(id) => existing(&id)?.allocator().empty_cache(),
      None => backend::all().iter().for_each(|d| d.allocator().empty_cache()),
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
    dev.allocator().set_limit(limit);
    Ok(())
  })
}

#[napi]
pub fn error_codes() -> Vec<String> {
  stackbridge_core::ErrorCode::ALL.iter().map(|c| c.as_str().to_string()).collect()
}
