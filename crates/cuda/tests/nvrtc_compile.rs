//! Every kernel variant of stackbridge-gpu-kernels compiles through NVRTC as CUDA C++, for sm_90
//! (CUBIN, ptxas's report checked for register spills) and compute_90 (PTX). Needs libnvrtc (CI
//! fetches the nvidia-cuda-nvrtc 13.0 wheel); without it the test says so and skips, unless
//! STACKBRIDGE_REQUIRE_NVRTC=1 (CI), which makes a missing NVRTC a failure.

use std::sync::Mutex;

use stackbridge_cuda::nvrtc::{self, Target};

#[test]
fn every_kernel_variant_compiles_for_sm_90_and_compute_90_without_spills() {
  let version = match nvrtc::version() {
    Ok(v) => v,
    Err(reason) => {
      assert!(std::env::var("STACKBRIDGE_REQUIRE_NVRTC").as_deref() != Ok("1"), "STACKBRIDGE_REQUIRE_NVRTC=1 but {reason}");
      eprintln!("SKIPPED every_kernel_variant_compiles: {reason}");
      return;
    }
  };
  let jobs: Vec<(&str, String, Target)> = stackbridge_gpu_kernels::variants()
    .into_iter()
    .flat_map(|(p, d)| [Target::Cubin(90), Target::Ptx(90)].map(|t| (p, d.clone(), t)))
    .collect();
  let failures = Mutex::new(Vec::new());
  let next = Mutex::new(0usize);
  let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
  std::thread::scope(|s| {
    for _ in 0..workers {
      s.spawn(|| loop {
        let i = {
          let mut n = next.lock().unwrap();
          *n += 1;
          *n - 1
        };
        let Some((program, defines, target)) = jobs.get(i) else { break };
        match nvrtc::compile(program, defines, *target) {
          // A CUBIN is an ELF image; a PTX module names its kernels as `.entry`: the same set as OpenCL's build.
          Ok(c) if !image_is_complete(program, defines, &c.image, *target) => {
            failures.lock().unwrap().push(format!("{program} [{defines}] {target:?}: not a complete image ({} bytes)", c.image.len()))
          }
          // The spill check must not pass vacuously: ptxas's -v report has to be in the log.
          Ok(c) if matches!(target, Target::Cubin(_)) && !c.log.contains("bytes spill stores") => {
            failures.lock().unwrap().push(format!("{program} [{defines}] {target:?}: no ptxas report in the log:\n{}", c.log))
          }
          Ok(c) if c.spilled_bytes > 0 => {
            failures.lock().unwrap().push(format!("{program} [{defines}] {target:?}: {} bytes of register spills\n{}", c.spilled_bytes, c.log))
          }
          Ok(_) => {}
          Err(e) => failures.lock().unwrap().push(format!("{program} [{defines}] {target:?}: {} {}", e.message, e.details.get("log").map(|l| l.to_string()).unwrap_or_default())),
        }
      });
    }
  });
  let failures = failures.into_inner().unwrap();
  assert!(failures.is_empty(), "{} of {} compilations failed:\n{}", failures.len(), jobs.len(), failures.join("\n\n"));
  eprintln!("NVRTC {}.{}: {} kernel variants compiled for sm_90 and compute_90, no spills", version.0, version.1, jobs.len() / 2);
}

fn image_is_complete(program: &str, defines: &str, image: &[u8], target: Target) -> bool {
  match target {
    Target::Cubin(_) => image.starts_with(b"\x7fELF"),
    Target::Ptx(_) => {
      let ptx = String::from_utf8_lossy(image);
      let mut entries: Vec<String> = ptx.lines().filter_map(|l| l.split(".entry ").nth(1)).map(|n| n.trim_end_matches(['(', ' ']).to_string()).collect();
      entries.sort();
      match opencl_kernel_names(program, defines) {
        Some(expected) => entries == expected,
        None => !entries.is_empty(),
      }
    }
  }
}

/// The kernels the same variant defines when the OpenCL domain builds it, sorted; `None` without an
/// OpenCL device (then a PTX only has to define some kernel).
fn opencl_kernel_names(program: &str, defines: &str) -> Option<Vec<String>> {
  let dev = stackbridge_opencl::runtime::devices().first()?;
  if defines.contains("double") && !dev.fp64 {
    return None;
  }
  let prog = dev.program(program, defines).ok()?;
  let mut names: Vec<String> = prog.kernel_names().split(';').filter(|s| !s.is_empty()).map(str::to_string).collect();
  names.sort();
  Some(names)
}

#[test]
fn a_compile_error_is_a_kernel_compile_error_with_the_log() {
  if nvrtc::version().is_err() {
    eprintln!("SKIPPED a_compile_error_is_a_kernel_compile_error: no NVRTC");
    return;
  }
  // T_IN undefined: the element helpers do not compile.
  let e = nvrtc::compile("elementwise", "-D T_IN=not_a_type -D T_IN_IS_FLOAT=0", Target::Ptx(90)).unwrap_err();
  assert_eq!(e.code, stackbridge_core::error::ErrorCode::KernelCompile);
  assert!(e.details.get("log").is_some_and(|l| l.to_string().contains("not_a_type")), "{:?}", e.details);
}
