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
  let data: Vec<T> = values.iter().take(a.numel()).map(|&v| T::from_f64(v)).collect();
  if a.storage.block().unwrap().host_addressable() {
    let p = a.pin().unwrap();
    p.as_mut_slice::<T>().copy_from_slice(&data);
  } else {
    // Device memory that is not host-addressable (STACKBRIDGE_OPENCL_RESIDENT=1): written through the queue.
    use stackbridge_gpu::Gpu;
    let ctx = stackbridge_opencl::gpu::Ctx::new(cl_of(&a)).unwrap();
    let mut buf = ctx.wrap(&a).unwrap();
    ctx.write(&mut buf, &data).unwrap();
    ctx.finish().unwrap();
  }
  a
}

/// The OpenCL device `a` lives on.
pub fn cl_of(a: &HostArray) -> &'static ClDevice {
  devices().iter().find(|d| d.id() == a.device()).expect("an OpenCL array")
}

/// The same data as a host array and as an array on `dev`.
pub fn pair<T: Element>(dev: &ClDevice, shape: [usize; 3], values: &[f64]) -> (HostArray, HostArray) {
  (stack_on::<T>(stackbridge_core::Device::Host, shape, values), stack_on::<T>(dev.id(), shape, values))
}

/// The elements of `a` as f64.
pub fn values(a: &HostArray) -> Vec<f64> {
  if !a.storage.block().unwrap().host_addressable() {
    use stackbridge_gpu::Gpu;
    let ctx = stackbridge_opencl::gpu::Ctx::new(cl_of(a)).unwrap();
    let buf = ctx.wrap(a).unwrap();
    return stackbridge_core::with_dtype!(a.dtype, T => ctx.read::<T>(&buf).unwrap().iter().take(a.numel()).map(|v| v.to_f64()).collect());
  }
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

/// One set operation (DESIGN §12) run on the CPU and on OpenCL: the two results and whether the
/// OpenCL run fell back to the host.
pub struct SetRun {
  pub cpu: Option<HostArray>,
  pub cl: Option<HostArray>,
  pub cpu_special: Option<String>,
  pub cl_special: Option<String>,
  pub on_host: bool,
}

/// Runs set operation `name` with `options` on the CPU (`host`, the host halves of `aux`) and on
/// OpenCL (`on_cl`, the device halves), through the dispatch the binding uses.
pub fn set_run(name: &str, host: &HostArray, on_cl: &HostArray, aux: &[(HostArray, HostArray)], options: &str) -> Result<SetRun, (stackbridge_core::SbError, stackbridge_core::SbError)> {
  use stackbridge_core::Cancel;
  let dev = stackbridge_opencl::devices().iter().find(|d| d.id() == on_cl.device()).expect("an OpenCL array");
  let ctx = stackbridge_opencl::gpu::Ctx::new(dev).unwrap();
  let aux_h: Vec<Option<HostArray>> = aux.iter().map(|a| Some(a.0.clone())).collect();
  let aux_c: Vec<Option<HostArray>> = aux.iter().map(|a| Some(a.1.clone())).collect();
  let cpu = stackbridge_kernels::dispatch::run_named(name, host, options, &aux_h, &Cancel::none());
  let cl = stackbridge_gpu::dispatch::run_named(&ctx, name, on_cl, options, &aux_c, &Cancel::none());
  match (cpu, cl) {
    (Ok(a), Ok(b)) => Ok(SetRun { cpu: a.array, cl: b.array, cpu_special: a.special, cl_special: b.special, on_host: b.on_host }),
    (Err(a), Err(b)) => Err((a, b)),
    (a, b) => panic!("{name} {options}: the CPU and OpenCL disagree on success: cpu {:?}, opencl {:?}", a.err(), b.err()),
  }
}

/// Asserts that `name` has a device kernel for `host`'s dtype on OpenCL and that its result equals
/// the CPU's: same shape and dtype, exactly for integer results (the device has fp64), within
/// `float_tol` (absolute, or relative to values above 1) for float results; the same errors where
/// the CPU refuses. Returns the maximum difference found.
pub fn assert_set_equivalent(name: &str, host: &HostArray, on_cl: &HostArray, aux: &[(HostArray, HostArray)], options: &str, float_tol: f64) -> f64 {
  let dev = stackbridge_opencl::devices().iter().find(|d| d.id() == on_cl.device()).expect("an OpenCL array");
  assert!(
    stackbridge_gpu::proc::set::lookup::<stackbridge_opencl::gpu::Ctx>(name, host.dtype).is_some(),
    "{name} has no device kernel for {}",
    host.dtype.name()
  );
  let run = match set_run(name, host, on_cl, aux, options) {
    Ok(r) => r,
    Err((a, b)) => {
      assert_eq!(a.code, b.code, "{name} {options}: error codes {} vs {}", a.message, b.message);
      return 0.0;
    }
  };
  assert!(!run.on_host, "{name} {options} ({}) ran on the host", host.dtype.name());
  assert_eq!(run.cpu_special, run.cl_special, "{name} {options}: special output");
  let (Some(cpu), Some(cl)) = (run.cpu, run.cl) else {
    return 0.0;
  };
  assert_eq!(cl.shape, cpu.shape, "{name} {options}: shape");
  assert_eq!(cl.dtype, cpu.dtype, "{name} {options}: dtype");
  assert_eq!(cl.device(), dev.id());
  let exact = !cpu.dtype.is_float() && dev.fp64;
  let (a, b) = (values(&cpu), values(&cl));
  let mut worst = 0.0f64;
  for (i, (x, y)) in a.iter().zip(&b).enumerate() {
    if x.is_nan() || y.is_nan() {
      assert!(x.is_nan() && y.is_nan(), "{name} {options} ({}): element {i}: cpu {x} vs opencl {y}", host.dtype.name());
      continue;
    }
    if x == y {
      continue;
    }
    let d = (x - y).abs() / x.abs().max(1.0);
    worst = worst.max(d);
    assert!(!exact && d <= float_tol, "{name} {options} ({}): element {i} of {:?}: cpu {x} vs opencl {y}", host.dtype.name(), cpu.shape);
  }
  worst
}

/// Odd and tiny shapes for the set sweeps.
pub const SET_SHAPES: [[usize; 3]; 6] = [[1, 1, 1], [1, 3, 5], [2, 5, 3], [1, 9, 1], [2, 17, 23], [3, 40, 33]];

/// A value range that exercises each dtype.
pub fn set_range(dt: DType) -> (f64, f64) {
  match dt {
    DType::U8 => (0.0, 256.0),
    DType::U16 => (0.0, 65536.0),
    DType::I16 => (-32768.0, 32768.0),
    DType::I32 => (-2.0e9, 2.0e9),
    DType::U32 => (0.0, 4.2e9),
    DType::F32 | DType::F64 => (-1000.0, 1000.0),
  }
}

/// `name` with each of `options` over every shape and dtype `accepts` takes.
pub fn sweep(name: &str, options: &[&str], accepts: impl Fn(DType) -> bool, float_tol: f64) {
  let Some(dev) = cl() else { return };
  for (si, shape) in SET_SHAPES.iter().enumerate() {
    for dt in dtypes().into_iter().filter(|&d| accepts(d)) {
      let (lo, hi) = set_range(dt);
      let v = noise(shape.iter().product(), 7 + si as u64, lo, hi);
      stackbridge_core::with_dtype!(dt, T => {
        let (h, c) = pair::<T>(dev, *shape, &v);
        for o in options {
          assert_set_equivalent(name, &h, &c, &[], o, float_tol);
        }
      });
    }
  }
}

