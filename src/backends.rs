//! The devices this process installs behind the backend traits (stackbridge_core::backend): the
//! host, CUDA (the real driver's devices, or the test-only fake devices when
//! `STACKBRIDGE_FAKE_CUDA=N` is set) and every OpenCL device. Discovery runs on first use.

use stackbridge_core::backend::BackendDevice;
use std::sync::Arc;

pub fn discover() -> Vec<Arc<dyn BackendDevice>> {
  let mut all: Vec<Arc<dyn BackendDevice>> = vec![Arc::new(stackbridge_kernels::backend::HostDevice)];
  let fake = stackbridge_fake::from_env();
  if fake.is_empty() {
    all.extend(stackbridge_cuda::backend::backend_devices());
  } else {
    all.extend(fake.into_iter().map(|d| d as Arc<dyn BackendDevice>));
  }
  all.extend(stackbridge_opencl::backend::backend_devices());
  all
}
