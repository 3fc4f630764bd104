//! Devices and memory: `devices()`, `memoryInfo`, `emptyCache`, `setMemoryLimit` over the domains
//! this build has (the host; CUDA and OpenCL register here when their domains land).

use crate::errors::guard;
use napi::bindgen_prelude::*;
use napi_derive::napi;
use stackbridge_core::alloc::host_allocator;
use stackbridge_core::{Device, ErrorCode, SbError, SbResult, Topology};

/// The devices of this process, as the conversion matrix sees them.
pub fn topology() -> Topology {
  Topology::default()
}

#[napi(object)]
pub struct DeviceInfo {
  pub id: String,
  pub kind: String,
  pub name: String,
  pub total_memory: f64,
  pub shares_host_memory: bool,
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
    Ok(vec![DeviceInfo { id: "cpu".into(), kind: "cpu".into(), name: cpu_name(), total_memory: total as f64, shares_host_memory: true }])
  })
}

#[napi]
pub fn memory_info(device: String) -> Result<MemoryInfo> {
  guard(|| {
    existing(&device)?;
    let a = host_allocator();
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
    if let Some(id) = device {
      existing(&id)?;
    }
    host_allocator().empty_cache();
    Ok(())
  })
}

#[napi]
pub fn set_memory_limit(device: String, bytes: Option<f64>) -> Result<()> {
  guard(|| {
    existing(&device)?;
    let limit = match bytes {
      None => None,
      Some(b) if b.is_finite() && b >= 0.0 && b.fract() == 0.0 && b <= 9.0e15 => Some(b as u64),
      Some(b) => return Err(SbError::invalid(format!("memory limit must be a non-negative integer number of bytes or null, got {b}"))),
    };
    host_allocator().set_limit(limit);
    Ok(())
  })
}

#[napi]
pub fn error_codes() -> Vec<String> {
  stackbridge_core::ErrorCode::ALL.iter().map(|c| c.as_str().to_string()).collect()
}
