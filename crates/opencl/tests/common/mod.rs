//! Shared by the OpenCL equivalence tests: the device to test on, and the CPU oracle.
#![allow(dead_code)]

use stackbridge_core::{DType, Element, HostArray, MemoryType};
use stackbridge_opencl::{devices, ClDevice};

/// The environment variable that makes OpenCL required (CI sets it): without a device the tests
/// then fail instead of skipping.
pub const REQUIRE: &str = "STACKBRIDGE_REQUIRE_OPENCL";

/// The first OpenCL device, or `None` (with the reason printed) when there is none and OpenCL is
/// not required.
pub fn cl() -> Option<&'static ClDevice> {
  match devices().first() {
    Some(d) => Some(d),
    None if std::env::var(REQUIRE).is_ok_and(|v| v == "1") => panic!("{REQUIRE}=1 but no OpenCL device was found"),
    None => {
      eprintln!("skipped: no OpenCL device on this machine (set {REQUIRE}=1 to make this a failure)");
      None
    }
  }
}

/// Deterministic pseudo-random values (xorshift) scaled into `[lo, hi)`.
pub fn noise(n: usize, seed: u64, lo: f64, hi: f64) -> Vec<f64> {
  let mut s = seed.max(1);
  (0..n)
    .map(|_| {
      s ^= s << 13;
      s ^= s >> 7;
      s ^= s << 17;
      lo + (s % 1_000_003) as f64 / 1_000_003.0 * (hi - lo)
    })
    .collect()
}

/// A `[z, h, w]` stack of `T` on `device` (host or an OpenCL device) filled from `values`.
pub fn stack_on<T: Element>(device: stackbridge_core::Device, shape: [usize; 3], values: &[f64]) -> HostArray {
  let mt = if device == stackbridge_core::Device::Host { MemoryType::Numpy } else { MemoryType::Pyclesperanto };
  let a = HostArray::alloc_on(device, shape.to_vec(), T::DTYPE, mt, false).unwrap();
  let p = a.pin().unwrap();
  for (o, v) in p.as_mut_slice::<T>().iter_mut().zip(values) {
    *o = T::from_f64(*v);
  }
  a
}

/// The same data as a host array and as an array on `dev`.
pub fn pair<T: Element>(dev: &ClDevice, shape: [usize; 3], values: &[f64]) -> (HostArray, HostArray) {
  (stack_on::<T>(stackbridge_core::Device::Host, shape, values), stack_on::<T>(dev.id(), shape, values))
}

/// The elements of `a` as f64.
pub fn values(a: &HostArray) -> Vec<f64> {
  let p = a.pin().unwrap();
  stackbridge_core::with_dtype!(a.dtype, T => p.as_slice::<T>().iter().map(|v| v.to_f64()).collect())
}

/// Runs `name` on the CPU and on OpenCL and checks: same shape and dtype, and at most
/// `max_diff` apart everywhere with at most `max_frac` of the elements differing at all.
pub fn assert_equivalent(dev: &ClDevice, name: &str, host: &HostArray, on_cl: &HostArray, options: &str, max_diff: f64, max_frac: f64) {
  let cpu = stackbridge_kernels::dispatch::run_processor(name, host, options, None).unwrap();
  let run = stackbridge_opencl::dispatch::run_processor(name, on_cl, options, None).unwrap();
  assert_eq!(run.array.shape, cpu.shape, "{name} {options}: shape");
  assert_eq!(run.array.dtype, cpu.dtype, "{name} {options}: dtype");
  assert_eq!(run.array.device(), dev.id());
  let (a, b) = (values(&cpu), values(&run.array));
  let mut differing = 0usize;
  for (i, (x, y)) in a.iter().zip(&b).enumerate() {
    let d = (x - y).abs();
    if d > 0.0 || x.is_nan() != y.is_nan() {
      differing += 1;
    }
    assert!(d <= max_diff || (x.is_nan() && y.is_nan()), "{name} {options}: element {i}: cpu {x} vs opencl {y}");
  }
  let frac = differing as f64 / a.len().max(1) as f64;
  assert!(frac <= max_frac, "{name} {options}: {differing} of {} elements differ ({frac:.4} > {max_frac})", a.len());
}

pub fn dtypes() -> [DType; 7] {
  DType::ALL
}
