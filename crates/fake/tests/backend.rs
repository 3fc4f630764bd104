//! The backend traits on the fake device: transfers, the budget, stream ordering by events, device
//! moves and processors, against the host backend as the oracle.

use stackbridge_core::backend::{self, BackendDevice, ProcessorCall};
use stackbridge_core::{Cancel, DType, Device, ErrorCode, HostArray, MemoryType};
use stackbridge_fake::FakeDevice;
use stackbridge_kernels::backend::HostDevice;
use std::sync::{Arc, OnceLock};

const CARD: usize = 64 << 20;

/// The process's devices: the host and three fake cards of 64 MiB (cuda:2 only for the budget test,
/// which counts bytes while other tests run in parallel).
fn fakes() -> &'static [Arc<FakeDevice>] {
  static FAKES: OnceLock<Vec<Arc<FakeDevice>>> = OnceLock::new();
  let f = FAKES.get_or_init(|| stackbridge_fake::devices(3, CARD));
  backend::install(|| {
    let mut all: Vec<Arc<dyn BackendDevice>> = vec![Arc::new(HostDevice)];
    all.extend(f.iter().map(|d| d.clone() as Arc<dyn BackendDevice>));
    all
  });
  f
}

fn ramp(shape: Vec<usize>) -> HostArray {
  let a = HostArray::alloc(shape, DType::U16, MemoryType::Numpy, false).unwrap();
  for (i, v) in a.pin().unwrap().as_mut_slice::<u16>().iter_mut().enumerate() {
    *v = (i * 7919 % 65521) as u16;
  }
  a
}

fn host_bytes(a: &HostArray) -> Vec<u8> {
  let h = backend::transfer(a, Device::Host, MemoryType::Numpy, &Cancel::none()).unwrap();
  h.pin().unwrap().bytes().to_vec()
}

#[test]
fn transfers_round_trip_and_device_memory_is_not_host_addressable() {
  fakes();
  let a = ramp(vec![3, 64, 50]);
  let d = backend::transfer(&a, Device::Cuda(0), MemoryType::Cupy, &Cancel::none()).unwrap();
  assert_eq!(d.device(), Device::Cuda(0));
  let Err(e) = d.pin() else { panic!("device memory was pinned on the host") };
  assert_eq!(e.code, ErrorCode::InvalidArgument);
  assert!(e.message.contains("not host-addressable"), "{}", e.message);
  assert_eq!(host_bytes(&d), a.pin().unwrap().bytes());
  // A view (a Z slice) transfers only its own bytes.
  let s = d.slice_axis0(1, 2).unwrap();
  assert_eq!(host_bytes(&s), &a.pin().unwrap().bytes()[64 * 50 * 2..2 * 64 * 50 * 2]);
}

#[test]
fn the_budget_fails_like_a_full_card_with_the_numbers() {
  let f = &fakes()[2];
  let a = f.allocator();
  a.empty_cache();
  let before = a.stats().allocated_bytes;
  let big = HostArray::alloc_on(Device::Cuda(2), vec![40 << 20], DType::U8, MemoryType::Cupy, false).unwrap();
  let e = HostArray::alloc_on(Device::Cuda(2), vec![40 << 20], DType::U8, MemoryType::Cupy, false).unwrap_err();
  assert_eq!(e.code, ErrorCode::OutOfMemory);
  assert_eq!(e.details["device"], "cuda:2");
  assert_eq!(e.details["requestedBytes"], 40u64 << 20);
  let free = e.details["freeBytes"].as_u64().unwrap();
  assert!(free < 40 << 20 && free as usize <= CARD - (40 << 20), "free {free}");
  drop(big);
  // Freed to the cache, then reused: allocating again succeeds and counts a hit.
  let again = HostArray::alloc_on(Device::Cuda(2), vec![40 << 20], DType::U8, MemoryType::Cupy, false).unwrap();
  assert!(a.stats().cache_hits >= 1);
  drop(again);
  a.empty_cache();
  assert_eq!(a.stats().allocated_bytes, before);
  assert_eq!(a.stats().cached_bytes, 0);
  assert_eq!(a.capacity(), (CARD as u64, (CARD as u64) - before));
}

#[test]
fn another_stream_waits_on_the_event_of_the_last_write() {
  let f = fakes()[0].clone();
  let a = ramp(vec![2, 32, 32]);
  let d = backend::transfer(&a, Device::Cuda(0), MemoryType::Cupy, &Cancel::none()).unwrap();
  let run = |x: &HostArray| {
    let call = ProcessorCall { name: "gaussian", input: x, options: r#"{"sigma":1}"#, aux: &[], cancel: &Cancel::none() };
    f.run_processor(&call).unwrap()
  };
  // Thread 1 writes `g` on its stream; thread 2 reads it on another.
  let (g, s1) = std::thread::scope(|s| s.spawn(|| { let o = run(&d); (o.array.unwrap(), o.stream.unwrap()) }).join().unwrap());
  let s2 = std::thread::scope(|s| s.spawn(|| run(&g).stream.unwrap()).join().unwrap());
  assert_ne!(s1, s2, "each engine thread has its own stream");
  let log = f.log();
  let rec = log.iter().rposition(|o| o.kind == "record" && o.stream == s1).expect("the write was recorded");
  let event = &log[rec].detail;
  let wait = log.iter().position(|o| o.kind == "wait" && o.stream == s2 && &o.detail == event).expect("stream 2 waited on it");
  let launch = log.iter().rposition(|o| o.kind == "launch" && o.stream == s2).unwrap();
  assert!(rec < wait && wait < launch, "record {rec} < wait {wait} < launch {launch}: {log:?}");
  // The same stream never waits on itself.
  let again = std::thread::scope(|s| s.spawn(|| { let o = run(&g); let o2 = run(o.array.as_ref().unwrap()); (o.stream, o2.stream) }).join().unwrap());
  assert_eq!(again.0, again.1);
  // And the results equal the host backend's (the oracle).
  let host = |x: &HostArray| {
    let call = ProcessorCall { name: "gaussian", input: x, options: r#"{"sigma":1}"#, aux: &[], cancel: &Cancel::none() };
    HostDevice.run_processor(&call).unwrap().array.unwrap()
  };
  assert_eq!(host_bytes(&g), host(&a).pin().unwrap().bytes());
}

#[test]
fn a_device_move_is_a_peer_copy() {
  let fs = fakes();
  let a = ramp(vec![1, 16, 16]);
  let d0 = backend::transfer(&a, Device::Cuda(0), MemoryType::Torch, &Cancel::none()).unwrap();
  let d1 = backend::transfer(&d0, Device::Cuda(1), MemoryType::Torch, &Cancel::none()).unwrap();
  assert_eq!(d1.device(), Device::Cuda(1));
  assert!(fs[1].log().iter().any(|o| o.kind == "peer-copy" && o.detail == "cuda:0"));
  assert_eq!(host_bytes(&d1), a.pin().unwrap().bytes());
}

#[test]
fn cancelled_transfers_free_what_they_allocated() {
  let f = &fakes()[0];
  let a = ramp(vec![1, 16, 16]);
  let cancel = Cancel::new();
  cancel.cancel();
  let before = f.allocator().stats().allocated_bytes;
  let e = backend::transfer(&a, Device::Cuda(0), MemoryType::Cupy, &cancel).unwrap_err();
  assert_eq!(e.code, ErrorCode::Aborted);
  assert_eq!(f.allocator().stats().allocated_bytes, before);
}
