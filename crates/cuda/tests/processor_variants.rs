//! The NVRTC check (`nvrtc_compile.rs`) compiles `stackbridge_gpu_kernels::variants()`; this test
//! shows that list holds every (program, defines) variant the processors ever ask a device for, and
//! that each kernel they launch is in its program. The processors' host-side code is one generic
//! orchestration (stackbridge-gpu) for OpenCL and CUDA, so it is recorded here by running every
//! processor, every option branch and every element type on the OpenCL domain (PoCL in CI) through
//! a `Gpu` that passes each call on and notes it — what the CUDA domain would be asked to compile
//! and launch is exactly this. Skips without OpenCL unless STACKBRIDGE_REQUIRE_OPENCL=1.

use stackbridge_core::{Cancel, DType, Device, Element, HostArray, MemoryType, SbResult};
use stackbridge_gpu::{dispatch, Arg, Gpu};
use stackbridge_opencl::gpu::Ctx;

mod common;
use common::{stack, CALLS, COUNTS};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

/// A program as the recorder hands it out: the inner one and what it was built from.
struct Named<P> {
  inner: Arc<P>,
  name: String,
  defines: String,
}

/// Passes every call to `inner` and records (program, defines, kernel) of each launch.
struct Recorder<'a, C: Gpu> {
  inner: &'a C,
  launched: Mutex<BTreeSet<(String, String, String)>>,
}

impl<C: Gpu> Gpu for Recorder<'_, C> {
  type Buf = C::Buf;
  type Program = Named<C::Program>;
  fn device(&self) -> Device {
    self.inner.device()
  }
  fn name(&self) -> &str {
    self.inner.name()
  }
  fn fp64(&self) -> bool {
    // The CUDA domain's answer (every CUDA 13 architecture has fp64); PoCL has it too.
    assert!(self.inner.fp64(), "this recording needs an OpenCL device with fp64, as CUDA devices have");
    true
  }
  fn queue_id(&self) -> u64 {
    self.inner.queue_id()
  }
  fn temp_memory_type(&self) -> MemoryType {
    self.inner.temp_memory_type()
  }
  fn program(&self, name: &str, defines: &str) -> SbResult<Arc<Self::Program>> {
    Ok(Arc::new(Named { inner: self.inner.program(name, defines)?, name: name.into(), defines: defines.into() }))
  }
  fn launch(&self, p: &Self::Program, kernel: &str, global: &[usize], args: &[Arg<'_, C::Buf>]) -> SbResult<()> {
    self.launched.lock().unwrap().insert((p.name.clone(), p.defines.clone(), kernel.into()));
    self.inner.launch(&p.inner, kernel, global, args)
  }
  fn finish(&self) -> SbResult<()> {
    self.inner.finish()
  }
  fn wrap(&self, a: &HostArray) -> SbResult<C::Buf> {
    self.inner.wrap(a)
  }
  fn write<T: Element>(&self, b: &mut C::Buf, d: &[T]) -> SbResult<()> {
    self.inner.write(b, d)
  }
  fn read<T: Element>(&self, b: &C::Buf) -> SbResult<Vec<T>> {
    self.inner.read(b)
  }
  fn complete(&self, b: &C::Buf) -> SbResult<()> {
    self.inner.complete(b)
  }
}

#[test]
fn the_nvrtc_check_covers_every_variant_and_kernel_the_processors_use() {
  let Some(dev) = stackbridge_opencl::devices().first() else {
    assert!(std::env::var("STACKBRIDGE_REQUIRE_OPENCL").as_deref() != Ok("1"), "STACKBRIDGE_REQUIRE_OPENCL=1 but no OpenCL device");
    eprintln!("SKIPPED: no OpenCL device to record the processors' launches on");
    return;
  };
  let ctx = Ctx::new(dev).unwrap();
  let rec = Recorder { inner: &ctx, launched: Mutex::new(BTreeSet::new()) };
  let none = Cancel::none();
  for dtype in [DType::U8, DType::U16, DType::I16, DType::I32, DType::F32, DType::F64] {
    let input = stack(dev.id(), MemoryType::Pyclesperanto, dtype, [3, 36, 44]);
    let mask = stack(dev.id(), MemoryType::Pyclesperanto, DType::F32, [1, 36, 44]).reshape(vec![36, 44]).unwrap();
    for (name, options) in CALLS {
      let aux = (*name == "applyMask").then_some(&mask);
      dispatch::run_processor(&rec, name, &input, options, aux, &none).unwrap_or_else(|e| panic!("{name} {options} on {dtype:?}: {e:?}"));
    }
    for options in COUNTS {
      dispatch::run_count_cells(&rec, &input, options).unwrap_or_else(|e| panic!("count {options} on {dtype:?}: {e:?}"));
    }
  }
  let launched = rec.launched.into_inner().unwrap();
  let variants: BTreeSet<(String, String)> = stackbridge_gpu_kernels::variants().into_iter().map(|(p, d)| (p.to_string(), d)).collect();
  let missing: Vec<_> = launched.iter().filter(|(p, d, _)| !variants.contains(&(p.clone(), d.clone()))).collect();
  assert!(missing.is_empty(), "variants the NVRTC check does not compile: {missing:#?}");
  for (p, d, k) in &launched {
    let program = dev.program(p, d).unwrap();
    let names = program.kernel_names();
    assert!(names.split(';').any(|n| n == k), "{k} is not a kernel of {p} [{d}]: {names}");
  }
  let programs: BTreeSet<&str> = launched.iter().map(|(p, _, _)| p.as_str()).collect();
  let kernels: BTreeSet<(&str, &str)> = launched.iter().map(|(p, _, k)| (p.as_str(), k.as_str())).collect();
  assert!(programs.len() >= 6, "only {programs:?} were used");
  eprintln!("{} (program, defines, kernel) launches over {} programs and {} kernels, all in the NVRTC check", launched.len(), programs.len(), kernels.len());
}
