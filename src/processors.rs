//! The processors of DESIGN §7 on worker threads, run by the backend of the array's device
//! (`stackbridge_core::backend`: the CPU kernels on the host, the OpenCL kernels on an OpenCL
//! device; same names, options and errors).

use crate::array::NativeArray;
use crate::cancel::{cancel_of, CancelToken};
use crate::errors::guard;
use napi::bindgen_prelude::*;
use napi_derive::napi;
use stackbridge_core::backend::{self, ProcessorCall};
use stackbridge_core::{Cancel, Device, HostArray, SbResult};
use stackbridge_kernels::dispatch;
use std::time::Instant;

#[napi(object, object_from_js = false)]
pub struct ProcessorRun {
  pub array: NativeArray,
  /// Where the kernels ran: `cpu`, `cuda:N` or `opencl:N`.
  pub device: String,
  /// The stream (CUDA) or command queue (OpenCL) used: one per engine thread per device; absent on the host.
  pub queue: Option<f64>,
  pub micros: f64,
}

pub struct Ran {
  array: HostArray,
  device: Device,
  queue: Option<u64>,
  micros: f64,
}

pub struct ProcessorJob {
  name: String,
  input: HostArray,
  options: String,
  aux: Option<HostArray>,
  cancel: Cancel,
}

impl Task for ProcessorJob {
  type Output = Ran;
  type JsValue = ProcessorRun;

  fn compute(&mut self) -> Result<Ran> {
    guard(|| -> SbResult<Ran> {
      let t0 = Instant::now();
      let device = self.input.device();
      let call = ProcessorCall { name: &self.name, input: &self.input, options: &self.options, aux: self.aux.as_ref(), cancel: &self.cancel };
      let out = backend::device(device)?.run_processor(&call)?;
      Ok(Ran { array: out.array, device, queue: out.stream, micros: t0.elapsed().as_secs_f64() * 1e6 })
    })
  }

  fn resolve(&mut self, _env: Env, r: Ran) -> Result<ProcessorRun> {
    Ok(ProcessorRun { array: NativeArray::fresh(r.array), device: r.device.to_string(), queue: r.queue.map(|q| q as f64), micros: r.micros })
  }
}

/// Runs processor `name` on a stack with JSON `options`; `aux` is `applyMask`'s mask; `cancel`
/// stops it between slices (it then rejects with `SB_ABORTED`).
#[napi(ts_return_type = "Promise<ProcessorRun>")]
pub fn run_processor(name: String, input: &NativeArray, options: String, aux: Option<&NativeArray>, cancel: Option<&CancelToken>) -> Result<AsyncTask<ProcessorJob>> {
  guard(|| {
    let input = input.alive()?.for_work()?;
    let aux = aux.map(|m| m.alive()?.for_work()).transpose()?;
    Ok(AsyncTask::new(ProcessorJob { name, input, options, aux, cancel: cancel_of(cancel) }))
  })
}

/// Processor names and whether each is separable along Z.
#[napi]
pub fn processor_names() -> Vec<(String, bool)> {
  dispatch::PROCESSORS.iter().map(|(n, s)| (n.to_string(), *s)).collect()
}

#[napi(object, object_from_js = false)]
pub struct CountCellsOutput {
  /// The per-slice results, JSON.
  pub results: String,
  pub masks: Option<NativeArray>,
  pub device: String,
  pub queue: Option<f64>,
}

pub struct CountJob {
  input: HostArray,
  options: String,
  cancel: Cancel,
}

impl Task for CountJob {
  type Output = (String, Option<HostArray>, Option<u64>);
  type JsValue = CountCellsOutput;

  fn compute(&mut self) -> Result<Self::Output> {
    guard(|| -> SbResult<_> {
      let out = backend::device(self.input.device())?.count_cells(&self.input, &self.options, &self.cancel)?;
      Ok((out.results, out.masks, out.stream))
    })
  }

  fn resolve(&mut self, _env: Env, (results, masks, queue): Self::Output) -> Result<CountCellsOutput> {
    Ok(CountCellsOutput { results, masks: masks.map(NativeArray::fresh), device: self.input.device().to_string(), queue: queue.map(|q| q as f64) })
  }
}

/// `countCellsSingleChannel` on a stack (host or OpenCL).
#[napi(ts_return_type = "Promise<CountCellsOutput>")]
pub fn count_cells(input: &NativeArray, options: String, cancel: Option<&CancelToken>) -> Result<AsyncTask<CountJob>> {
  guard(|| Ok(AsyncTask::new(CountJob { input: input.alive()?.for_work()?, options, cancel: cancel_of(cancel) })))
}
