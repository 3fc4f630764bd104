//! OpenCL status codes as the engine's typed errors (DESIGN §3).

use stackbridge_core::{ErrorCode, SbError};

/// What cl3 answers when libOpenCL cannot be loaded at all.
pub const RUNTIME_LOAD_FAILED: i32 = -2000;
const CL_DEVICE_NOT_AVAILABLE: i32 = -2;
const CL_MEM_OBJECT_ALLOCATION_FAILURE: i32 = -4;
const CL_OUT_OF_RESOURCES: i32 = -5;
const CL_OUT_OF_HOST_MEMORY: i32 = -6;
const CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST: i32 = -14;
/// cl_khr_terminate_context / context loss reported by some drivers.
const CL_CONTEXT_TERMINATED_KHR: i32 = -1121;

/// Whether `code` means the device is gone (lost, reset, unavailable).
pub fn is_device_lost(code: i32) -> bool {
  matches!(code, CL_DEVICE_NOT_AVAILABLE | CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST | CL_CONTEXT_TERMINATED_KHR)
}

/// Whether `code` is the driver running out of memory.
pub fn is_out_of_memory(code: i32) -> bool {
  matches!(code, CL_MEM_OBJECT_ALLOCATION_FAILURE | CL_OUT_OF_RESOURCES | CL_OUT_OF_HOST_MEMORY)
}

/// The typed error for status `code` of `what` on `device` (`opencl:N`). An out-of-memory status
/// carries the request and the allocator's numbers, exactly as the allocator's own limit does.
pub fn cl_error(code: i32, what: &str, device: &str, requested: u64) -> SbError {
  if is_out_of_memory(code) {
    let (free, limit) = crate::runtime::free_and_limit(device);
    return SbError::out_of_memory(device, requested, free, limit).with("clStatus", code).with("operation", what);
  }
  if code == RUNTIME_LOAD_FAILED {
    return SbError::gpu_unavailable("no OpenCL runtime could be loaded (libOpenCL.so.1); install an ICD loader and a driver such as pocl-opencl-icd");
  }
  let e = if is_device_lost(code) {
    SbError::new(ErrorCode::DeviceLost, format!("OpenCL device {device} was lost during {what} (status {code})"))
  } else {
    SbError::new(ErrorCode::Device, format!("OpenCL {what} failed on {device} with status {code}"))
  };
  e.with("device", device).with("clStatus", code).with("operation", what)
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn driver_statuses_map_to_typed_errors() {
    for code in [-4, -5, -6] {
      let e = cl_error(code, "clCreateBuffer", "opencl:7", 1024);
      assert_eq!(e.code, ErrorCode::OutOfMemory, "{code}");
      assert_eq!(e.details["requestedBytes"], 1024);
      assert_eq!(e.details["device"], "opencl:7");
    }
    assert_eq!(cl_error(-2, "launch", "opencl:0", 0).code, ErrorCode::DeviceLost);
    assert_eq!(cl_error(-14, "finish", "opencl:0", 0).code, ErrorCode::DeviceLost);
    assert_eq!(cl_error(RUNTIME_LOAD_FAILED, "discovery", "opencl:0", 0).code, ErrorCode::GpuUnavailable);
    assert_eq!(cl_error(-30, "launch", "opencl:0", 0).code, ErrorCode::Device);
  }
}
