//! The CUDA backend device on a real GPU: host ↔ device transfers through the pinned staging buffer
//! (larger than one staging chunk, from a view's offset), device-to-device copies, write events and
//! the caching allocator's accounting. Skips with a printed reason without a CUDA device, unless
//! STACKBRIDGE_REQUIRE_CUDA=1 (scripts/gpu-check), which makes it fail.

use stackbridge_core::backend::{self, BackendDevice};
use stackbridge_core::{Cancel, DType, Device, HostArray, MemoryType};
use std::sync::Arc;

fn cuda_or_skip() -> bool {
  let devs = stackbridge_cuda::backend::backend_devices();
  let have = !devs.is_empty();
  backend::install(move || {
    let mut all: Vec<Arc<dyn BackendDevice>> = vec![Arc::new(stackbridge_kernels::backend::HostDevice)];
    all.extend(devs);
    all
  });
  if !have {
    assert!(std::env::var("STACKBRIDGE_REQUIRE_CUDA").as_deref() != Ok("1"), "STACKBRIDGE_REQUIRE_CUDA=1 but no CUDA device");
    eprintln!("SKIPPED: no CUDA device ({:?})", stackbridge_cuda::probe());
  }
  have
}

#[test]
fn transfers_and_device_copies_keep_every_byte() {
  if !cuda_or_skip() {
    return;
  }
  let n = 3 * 1024 * 1024 * 3; // 18 MiB of u16: more than two 8 MiB staging chunks
  let a = HostArray::alloc(vec![3, 3 * 1024, 1024], DType::U16, MemoryType::Numpy, false).unwrap();
  for (i, v) in a.pin().unwrap().as_mut_slice::<u16>().iter_mut().enumerate() {
    *v = (i * 7919 % 65521) as u16;
  }
  let none = Cancel::none();
  let d = backend::transfer(&a, Device::Cuda(0), MemoryType::Cupy, &none).unwrap();
  assert!(d.pin().is_err(), "device memory is not host-addressable");
  let d2 = backend::transfer(&d, Device::Cuda(0), MemoryType::Cupy, &none).unwrap();
  let back = backend::transfer(&d2.slice_axis0(1, 3).unwrap(), Device::Host, MemoryType::Numpy, &none).unwrap();
  assert_eq!(back.pin().unwrap().bytes(), &a.pin().unwrap().bytes()[n / 3 * 2..]);
  let alloc = backend::device(Device::Cuda(0)).unwrap().allocator();
  assert!(alloc.stats().allocated_bytes >= 2 * (n as u64) * 2);
  let (total, free) = alloc.capacity();
  assert!(total > 0 && free <= total);
}
