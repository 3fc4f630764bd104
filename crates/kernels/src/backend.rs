//! The host as a backend device (DESIGN §11): host memory from the core's caching allocator, the
//! CPU processors of this crate, copies as parallel memcpy. Work completes before each call
//! returns, so the host needs no events.

use crate::dispatch::{run_count_cells_cancellable, run_named};
use stackbridge_core::alloc::{host_allocator, CachingAllocator};
use stackbridge_core::backend::{BackendDevice, CountOutput, DeviceDescription, ProcessorCall, ProcessorOutput};
use stackbridge_core::{Cancel, Device, HostArray, SbResult};

pub struct HostDevice;

fn cpu_name() -> String {
  std::fs::read_to_string("/proc/cpuinfo")
    .ok()
    .and_then(|t| t.lines().find(|l| l.starts_with("model name")).and_then(|l| l.split(':').nth(1)).map(|s| s.trim().to_string()))
    .unwrap_or_else(|| "host CPU".into())
}

impl BackendDevice for HostDevice {
  fn id(&self) -> Device {
    Device::Host
  }
  fn describe(&self) -> DeviceDescription {
    DeviceDescription { kind: "cpu", name: cpu_name(), total_memory: host_allocator().capacity().0, shares_host: true, ..Default::default() }
  }
  fn allocator(&self) -> &'static CachingAllocator {
    host_allocator()
  }
  fn stream(&self) -> SbResult<u64> {
    Ok(0)
  }
  fn synchronize(&self) -> SbResult<()> {
    Ok(())
  }
  fn run_processor(&self, c: &ProcessorCall) -> SbResult<ProcessorOutput> {
    let out = run_named(c.name, c.input, c.options, c.aux, c.cancel)?;
    Ok(ProcessorOutput { array: out.array, stream: None, special: out.special, on_host: false })
  }
  fn count_cells(&self, input: &HostArray, options: &str, cancel: &Cancel) -> SbResult<CountOutput> {
    let (results, masks) = run_count_cells_cancellable(input, options, cancel)?;
    Ok(CountOutput { results, masks, stream: None })
  }
}
