//! The CUDA backend device on a real GPU: host ↔ device transfers through the pinned staging buffer
//! (larger than one staging chunk, from a view's offset), device-to-device copies, write events and
//! the caching allocator's accounting; every processor and cell counting bit-identical to the CPU's.
//! Skips with a printed reason without a CUDA device, unless
//! STACKBRIDGE_REQUIRE_CUDA=1 (scripts/gpu-check), which makes it fail.

use stackbridge_core::backend::{self, BackendDevice};
use stackbridge_core::{Cancel, DType, Device, HostArray, MemoryType};
use std::sync::Arc;

fn cuda_or_skip() -> bool {
  // Discovery once per process (inside `install`): each test asking again would register a second
  // allocator per device.
  let all = backend::install(|| {
    let mut all: Vec<Arc<dyn BackendDevice>> = vec![Arc::new(stackbridge_kernels::backend::HostDevice)];
    all.extend(stackbridge_cuda::backend::backend_devices());
    all
  });
  let have = all.iter().any(|d| matches!(d.id(), Device::Cuda(_)));
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

mod common;

/// `a`'s bytes on the host (a transfer from device memory).
fn host_bytes(a: &HostArray) -> Vec<u8> {
  let h = backend::transfer(a, Device::Host, MemoryType::Numpy, &Cancel::none()).unwrap();
  h.pin().unwrap().bytes().to_vec()
}

#[test]
fn every_processor_on_cuda_equals_the_cpu_processor_bit_for_bit() {
  if !cuda_or_skip() {
    return;
  }
  let dev = backend::device(Device::Cuda(0)).unwrap();
  let none = Cancel::none();
  for dtype in [DType::U8, DType::U16, DType::I16, DType::I32, DType::F32, DType::F64] {
    let host = common::stack(Device::Host, MemoryType::Numpy, dtype, [3, 36, 44]);
    let mask = common::stack(Device::Host, MemoryType::Numpy, DType::F32, [1, 36, 44]).reshape(vec![36, 44]).unwrap();
    let on_gpu = backend::transfer(&host, Device::Cuda(0), MemoryType::Cupy, &none).unwrap();
    for (name, options) in common::CALLS {
      let aux = (*name == "applyMask").then_some(&mask);
      let want = stackbridge_kernels::dispatch::run_processor(name, &host, options, aux).unwrap();
      let further = [aux.cloned()];
      let call = backend::ProcessorCall { name, input: &on_gpu, options, aux: if aux.is_some() { &further } else { &[] }, cancel: &none };
      let got = dev.run_processor(&call).unwrap_or_else(|e| panic!("{name} {options} on {dtype:?}: {e:?}")).array.expect("an array");
      assert_eq!(got.device(), Device::Cuda(0));
      assert_eq!((&got.shape, got.dtype), (&want.shape, want.dtype), "{name} {options} on {dtype:?}");
      // CUDA devices have fp64 and the kernels run with --fmad=false: the CPU's arithmetic, exactly.
      assert!(host_bytes(&got) == want.pin().unwrap().bytes(), "{name} {options} on {dtype:?} differs from the CPU");
    }
    for options in common::COUNTS {
      let (want, want_masks) = stackbridge_kernels::dispatch::run_count_cells(&host, options).unwrap();
      let got = dev.count_cells(&on_gpu, options, &none).unwrap();
      assert_eq!(got.results, want, "count {options} on {dtype:?}");
      assert_eq!(got.masks.as_ref().map(host_bytes), want_masks.map(|m| m.pin().unwrap().bytes().to_vec()), "masks {options} on {dtype:?}");
    }
  }
}
