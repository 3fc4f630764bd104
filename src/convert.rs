//! The conversion matrix at the binding: plans with `stackbridge_core::conversion`; zero-copy edges
//! are new handles over the same storage, and edges that copy run through the devices' backends
//! (`stackbridge_core::backend::transfer`), also as worker-thread tasks (`convertAsync`), so the
//! event loop never waits for a copy.

use crate::array::NativeArray;
use crate::cancel::{cancel_of, CancelToken};
use crate::devices::topology;
use crate::errors::guard;
use napi::bindgen_prelude::*;
use napi_derive::napi;
use stackbridge_core::conversion::{plan, placement as place, ConversionKind, ConvertOptions, Plan};
use stackbridge_core::{backend, Cancel, Device, ErrorCode, HostArray, MemoryType, SbError, SbResult};
use std::time::Instant;

#[napi(object, object_from_js = false)]
pub struct Conversion {
  /// `null` for identity: the caller keeps its own object.
  pub array: Option<NativeArray>,
  pub kind: String,
  pub bytes: f64,
  pub micros: f64,
  pub source_device: String,
  pub target_device: String,
  /// The edge copies and `deferCopy` was set: nothing was done, run `convertAsync` for it.
  pub deferred: bool,
}

#[napi(object)]
pub struct ConversionPlan {
  pub kind: String,
  pub source_device: String,
  pub target_device: String,
}

/// gpuId from JS: absent, or a non-negative integer.
pub fn gpu_id(v: Option<f64>) -> SbResult<Option<u32>> {
  match v {
    None => Ok(None),
    Some(x) if x.is_finite() && x >= 0.0 && x.fract() == 0.0 && x <= u32::MAX as f64 => Ok(Some(x as u32)),
    Some(x) => Err(SbError::new(ErrorCode::InvalidDevice, format!("gpuId must be a non-negative integer, got {x}")).with("gpuId", x)),
  }
}

fn options(gpu: Option<f64>, allow_cpu_roundtrip: bool, strict_device: bool) -> SbResult<ConvertOptions> {
  Ok(ConvertOptions { gpu_id: gpu_id(gpu)?, allow_cpu_roundtrip, strict_device, dtype: None })
}

/// Whether executing `kind` to `target` copies data (and so belongs on a worker thread).
fn copies(kind: ConversionKind, target: Device) -> bool {
  matches!(kind, ConversionKind::Transfer | ConversionKind::DeviceMove | ConversionKind::CpuRoundtrip) && target != Device::Tfjs
}

/// Executes `p` for `src`. The result shares `src`'s storage when zero-copy; edges that copy go
/// through the two devices' backends (`backend::transfer`).
fn execute(src: &NativeArray, a: &HostArray, target: MemoryType, p: &Plan) -> SbResult<Option<NativeArray>> {
  match (p.kind, p.target) {
    (ConversionKind::Identity, _) => Ok(None),
    // tfjs tensors are JS objects: ts/convert.ts converts them, never the binding.
    (_, Device::Tfjs) => Err(
      SbError::new(ErrorCode::UnsupportedConversion, "tensorflow edges are converted in TypeScript").with("targetType", target.name()),
    ),
    // A new handle over the same allocation (cupy ↔ torch ↔ jax on one device, numpy ↔ torch).
    (ConversionKind::ZeroCopy, dev) if dev == a.device() => Ok(Some(src.view(a.view_as(target)))),
    // Host memory an OpenCL device shares: the same bytes, now seen as living on that device.
    (ConversionKind::ZeroCopy, dev) => Ok(Some(src.view(a.view_on(target, dev)))),
    (kind, dev) if copies(kind, dev) => Ok(Some(NativeArray::fresh(backend::transfer(a, dev, target, &Cancel::none())?))),
    (kind, dev) => Err(SbError::new(ErrorCode::UnsupportedConversion, format!("no executor for a {} to {dev}", kind.name())).with("device", dev.to_string())),
  }
}

fn run(array: &NativeArray, target_type: &str, o: ConvertOptions, defer_copy: bool) -> SbResult<Conversion> {
  let t0 = Instant::now();
  let a = array.alive()?;
  let target = MemoryType::parse(target_type)?;
  let p = plan(a.memory_type, a.device(), target, ConvertOptions { dtype: Some(a.dtype), ..o }, &topology())?;
  let deferred = defer_copy && copies(p.kind, p.target);
  let out = if deferred { None } else { execute(array, a, target, &p)? };
  Ok(Conversion {
    deferred,
    array: out,
    kind: p.kind.name().into(),
    bytes: a.nbytes() as f64,
    micros: t0.elapsed().as_secs_f64() * 1e6,
    source_device: p.source.to_string(),
    target_device: p.target.to_string(),
  })
}

/// Converts `array` to `target_type` on the calling thread. With `defer_copy`, an edge that copies
/// is only planned (`deferred: true`) so the caller can run it as `convertAsync`: one native call
/// for the O(1) edges, and copies never on the event loop.
#[napi]
pub fn convert_sync(
  array: &NativeArray,
  target_type: String,
  gpu_id: Option<f64>,
  allow_cpu_roundtrip: bool,
  strict_device: bool,
  defer_copy: Option<bool>,
) -> Result<Conversion> {
  guard(|| run(array, &target_type, options(gpu_id, allow_cpu_roundtrip, strict_device)?, defer_copy.unwrap_or(false)))
}

/// A conversion that copies, run on a worker thread.
pub struct ConvertJob {
  input: HostArray,
  target: MemoryType,
  plan: Plan,
  cancel: Cancel,
}

impl Task for ConvertJob {
  type Output = (HostArray, f64);
  type JsValue = Conversion;

  fn compute(&mut self) -> Result<Self::Output> {
    let t0 = Instant::now();
    guard(|| Ok((backend::transfer(&self.input, self.plan.target, self.target, &self.cancel)?, t0.elapsed().as_secs_f64() * 1e6)))
  }

  fn resolve(&mut self, _env: Env, (out, micros): Self::Output) -> Result<Conversion> {
    Ok(Conversion {
      array: Some(NativeArray::fresh(out)),
      kind: self.plan.kind.name().into(),
      bytes: self.input.nbytes() as f64,
      micros,
      source_device: self.plan.source.to_string(),
      target_device: self.plan.target.to_string(),
      deferred: false,
    })
  }
}

/// Converts `array` to `target_type`; edges that copy run on a worker thread, the O(1) ones
/// (identity, zero-copy) resolve at once.
#[napi(ts_return_type = "Promise<Conversion>")]
pub fn convert_async(
  array: &NativeArray,
  target_type: String,
  gpu_id: Option<f64>,
  allow_cpu_roundtrip: bool,
  strict_device: bool,
  cancel: Option<&CancelToken>,
) -> Result<AsyncTask<ConvertJob>> {
  guard(|| {
    let a = array.alive()?;
    let target = MemoryType::parse(&target_type)?;
    let o = options(gpu_id, allow_cpu_roundtrip, strict_device)?;
    let p = plan(a.memory_type, a.device(), target, ConvertOptions { dtype: Some(a.dtype), ..o }, &topology())?;
    if !copies(p.kind, p.target) {
      return Err(SbError::invalid(format!("a {} conversion does not copy; use convertSync", p.kind.name())));
    }
    Ok(AsyncTask::new(ConvertJob { input: a.for_work()?, target, plan: p, cancel: cancel_of(cancel) }))
  })
}

/// The plan for converting `source_type` data on `source_device` (no data needed).
#[napi]
pub fn plan_conversion(source_type: String, source_device: String, target_type: String, gpu_id: Option<f64>, allow_cpu_roundtrip: bool, strict_device: bool) -> Result<ConversionPlan> {
  guard(|| {
    let src = MemoryType::parse(&source_type)?;
    let dev = Device::parse(&source_device)?;
    let dst = MemoryType::parse(&target_type)?;
    let p = plan(src, dev, dst, options(gpu_id, allow_cpu_roundtrip, strict_device)?, &topology())?;
    Ok(ConversionPlan { kind: p.kind.name().into(), source_device: p.source.to_string(), target_device: p.target.to_string() })
  })
}

/// Where data of `memory_type` lives for `gpu_id` on this machine.
#[napi]
pub fn placement(memory_type: String, gpu_id: Option<f64>) -> Result<String> {
  guard(|| Ok(place(MemoryType::parse(&memory_type)?, self::gpu_id(gpu_id)?, &topology())?.to_string()))
}
