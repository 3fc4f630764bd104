//! The CUDA driver probe: done once per process, cached, and never a panic.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::OnceLock;

use cudarc::driver::{result, sys};
use stackbridge_core::error::{SbError, SbResult};

/// One CUDA device as `devices()` reports it.
#[derive(Clone, Debug, PartialEq)]
pub struct CudaDeviceInfo {
  pub ordinal: usize,
  pub name: String,
  pub total_memory: u64,
  /// (major, minor), e.g. (9, 0) for an H100/H200.
  pub compute_capability: (i32, i32),
}

/// What the probe found.
#[derive(Clone, Debug, PartialEq)]
pub enum Driver {
  /// No usable driver; the reason is what `GpuUnavailableError` says.
  Absent(String),
  /// A driver (its `cuDriverGetVersion`, e.g. 13000) and its devices, possibly none.
  Present { version: i32, devices: Vec<CudaDeviceInfo> },
}

static PROBE: OnceLock<Driver> = OnceLock::new();

/// The driver and its devices, probed on first use.
pub fn probe() -> &'static Driver {
  PROBE.get_or_init(probe_now)
}

/// The CUDA devices (empty without a driver, or with a driver but no device).
pub fn devices() -> &'static [CudaDeviceInfo] {
  match probe() {
    Driver::Present { devices, .. } => devices,
    Driver::Absent(_) => &[],
  }
}

/// Device `ordinal`, or the typed error a caller gets: `GpuUnavailableError` without a driver or
/// without devices (with the reason), `InvalidDeviceError` for an ordinal out of range.
pub fn require_device(ordinal: usize) -> SbResult<&'static CudaDeviceInfo> {
  match probe() {
    Driver::Absent(reason) => Err(SbError::gpu_unavailable(reason.clone())),
    Driver::Present { devices, .. } if devices.is_empty() => {
      Err(SbError::gpu_unavailable("the CUDA driver is installed but reports no CUDA device"))
    }
    Driver::Present { devices, .. } => devices.get(ordinal).ok_or_else(|| {
      SbError::new(
        stackbridge_core::error::ErrorCode::InvalidDevice,
        format!("cuda:{ordinal} does not exist ({} CUDA device(s): cuda:0..cuda:{})", devices.len(), devices.len() - 1),
      )
    }),
  }
}

/// Probes without caching (tests run it in child processes with a chosen `LD_LIBRARY_PATH`).
pub fn probe_now() -> Driver {
  // SAFETY: only tries to dlopen the candidate library names.
  if !unsafe { sys::is_culib_present() } {
    return Driver::Absent("no CUDA driver: libcuda.so.1 was not found (install the NVIDIA driver)".into());
  }
  match catch_unwind(AssertUnwindSafe(probe_driver)) {
    Ok(driver) => driver,
    Err(_) => Driver::Absent("the CUDA driver library is present but could not be used (a required entry point is missing)".into()),
  }
}

fn probe_driver() -> Driver {
  match result::init() {
    Ok(()) => {}
    // A driver without a device (a container without the GPU passed in, a fake libcuda): no devices.
    Err(result::DriverError(sys::cudaError_enum::CUDA_ERROR_NO_DEVICE)) => return Driver::Present { version: driver_version(), devices: vec![] },
    Err(e) => return Driver::Absent(format!("the CUDA driver failed to initialise: {}", describe(&e))),
  }
  let version = driver_version();
  let count = match result::device::get_count() {
    Ok(n) => n.max(0) as usize,
    Err(e) => return Driver::Absent(format!("the CUDA driver cannot count devices: {}", describe(&e))),
  };
  let mut devices = Vec::with_capacity(count);
  for ordinal in 0..count {
    match device_info(ordinal) {
      Ok(info) => devices.push(info),
      Err(e) => return Driver::Absent(format!("cuda:{ordinal} cannot be queried: {}", describe(&e))),
    }
  }
  Driver::Present { version, devices }
}

fn device_info(ordinal: usize) -> Result<CudaDeviceInfo, result::DriverError> {
  let dev = result::device::get(ordinal as i32)?;
  let name = result::device::get_name(dev)?;
  // SAFETY: `dev` is a device handle the driver just returned.
  let (total, major, minor) = unsafe {
    (
      result::device::total_mem(dev)?,
      result::device::get_attribute(dev, sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR)?,
      result::device::get_attribute(dev, sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR)?,
    )
  };
  Ok(CudaDeviceInfo { ordinal, name, total_memory: total as u64, compute_capability: (major, minor) })
}

/// `cuDriverGetVersion`, 0 where the entry point is missing.
fn driver_version() -> i32 {
  let mut v = 0;
  // SAFETY: writes one int.
  let ok = catch_unwind(AssertUnwindSafe(|| unsafe { sys::cuDriverGetVersion(&mut v) })).is_ok();
  if ok { v } else { 0 }
}

/// The driver's own name for an error code (`CUDA_ERROR_…`), without calling into a driver that may
/// lack `cuGetErrorName`.
fn describe(e: &result::DriverError) -> String {
  format!("{:?}", e.0)
}
