//! The OpenCL runtime itself: programs compiled once per device and cached, one command queue per
//! thread per device, build failures as KernelCompileError with the driver's log, and the device
//! allocator's limit failing like the device. (Its own test binary: the limit is process-wide.)
mod common;
use common::*;
use stackbridge_core::alloc::allocator_for;
use stackbridge_core::{DType, ErrorCode};
use stackbridge_opencl::dispatch::run_processor;
use stackbridge_opencl::runtime::{queue, queue_stats};

#[test]
fn programs_are_built_once_per_device() {
  let Some(dev) = cl() else { return };
  let v = noise(2 * 8 * 9, 3, 0.0, 100.0);
  let a = stack_on::<u16>(dev.id(), [2, 8, 9], &v);
  run_processor("crop", &a, r#"{"depth":1,"height":3,"width":3}"#, None).unwrap();
  let after_first = dev.cached_programs();
  for _ in 0..3 {
    run_processor("crop", &a, r#"{"depth":2,"height":4,"width":5}"#, None).unwrap();
  }
  assert_eq!(dev.cached_programs(), after_first, "the same program variant is not rebuilt");
  let p1 = dev.program("elementwise", "-D T_IN=ushort -D T_IN_IS_FLOAT=0").unwrap();
  let p2 = dev.program("elementwise", "-D T_IN=ushort -D T_IN_IS_FLOAT=0").unwrap();
  assert!(std::sync::Arc::ptr_eq(&p1, &p2));
}

#[test]
fn a_failing_build_is_kernel_compile_error_with_the_log() {
  let Some(dev) = cl() else { return };
  let e = dev.program("elementwise", "-D T_IN=no_such_type").unwrap_err();
  assert_eq!(e.code, ErrorCode::KernelCompile);
  assert!(!e.details["log"].as_str().unwrap_or("").is_empty(), "the driver's build log is carried");
  assert_eq!(dev.program("no-such-program", "").unwrap_err().code, ErrorCode::InvalidArgument);
}

#[test]
fn each_thread_has_its_own_queue() {
  let Some(dev) = cl() else { return };
  let here = queue(dev).unwrap().id;
  assert_eq!(queue(dev).unwrap().id, here, "the same thread keeps its queue");
  let other = std::thread::spawn(move || queue(dev).unwrap().id).join().unwrap();
  assert_ne!(other, here);
  let ids: Vec<u64> = queue_stats(dev.index).iter().map(|q| q.id).collect();
  assert!(ids.contains(&here) && ids.contains(&other));
}

#[test]
fn the_device_limit_fails_like_the_device() {
  let Some(dev) = cl() else { return };
  let v = noise(4 * 64 * 64, 5, 0.0, 1000.0);
  let a = stack_on::<f32>(dev.id(), [4, 64, 64], &v);
  let alloc = allocator_for(dev.id()).unwrap();
  alloc.empty_cache();
  let held = alloc.stats().allocated_bytes;
  alloc.set_limit(Some(held + 4096));
  let e = run_processor("gaussian", &a, r#"{"sigma":1}"#, None).err().expect("over the limit");
  alloc.set_limit(None);
  assert_eq!(e.code, ErrorCode::OutOfMemory);
  assert_eq!(e.details["device"], dev.label());
  assert_eq!(e.details["limitBytes"], held + 4096);
  assert!(e.details["requestedBytes"].as_u64().unwrap() >= 4 * 64 * 64 * 4);
  // and with the limit gone the same call succeeds
  assert_eq!(run_processor("gaussian", &a, r#"{"sigma":1}"#, None).unwrap().array.dtype, DType::F32);
}
