//! `cpuFeatures()`: the CPU level the kernels run at and the path each kernel took
//! (stackbridge-core `cpu`).

use crate::errors::guard;
use napi::bindgen_prelude::*;
use napi_derive::napi;
use stackbridge_core::cpu;

#[napi(object)]
pub struct KernelPath {
  pub kernel: String,
  /// `scalar`, `sse4`, `avx2`, `avx512` or a hand-written path; `None` until the kernel has run.
  pub path: Option<String>,
}

#[napi(object)]
pub struct CpuFeatures {
  /// The highest level this CPU supports.
  pub detected: String,
  /// The level the kernels run at (`detected`, capped by `STACKBRIDGE_CPU_LEVEL`).
  pub level: String,
  /// The raw `STACKBRIDGE_CPU_LEVEL`, when set.
  pub requested: Option<String>,
  /// The code path each dispatching kernel took the last time it ran in this process.
  pub paths: Vec<KernelPath>,
  /// The instruction set the binary itself was compiled for (`target-cpu`).
  pub compiled_for: String,
}

#[napi]
pub fn cpu_features() -> Result<CpuFeatures> {
  guard(|| {
    let compiled_for = if cfg!(target_feature = "avx512f") {
      "avx512"
    } else if cfg!(target_feature = "avx2") {
      "avx2"
    } else if cfg!(target_feature = "sse4.2") {
      "sse4"
    } else {
      "scalar"
    };
    Ok(CpuFeatures {
      detected: cpu::detected().name().into(),
      level: cpu::level().name().into(),
      requested: cpu::requested().map(String::from),
      paths: cpu::paths().into_iter().map(|(k, p)| KernelPath { kernel: k.into(), path: p.map(String::from) }).collect(),
      compiled_for: compiled_for.into(),
    })
  })
}
