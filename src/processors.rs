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
  /// Absent: the input stack is the result, unchanged (measurements).
  pub array: Option<NativeArray>,
  /// The special output, JSON.
  pub special: Option<String>,
  /// The device ran the operation on the host (DESIGN §12: no device kernels for it).
  pub on_host: bool,
  /// Where the kernels ran: `cpu`, `cuda:N` or `opencl:N`.
  pub device: String,
  /// The stream (CUDA) or command queue (OpenCL) used: one per engine thread per device; absent on the host.
  pub queue: Option<f64>,
  pub micros: f64,
}

pub struct Ran {
  array: Option<HostArray>,
  special: Option<String>,
  on_host: bool,
  device: Device,
  queue: Option<u64>,
  micros: f64,
}

pub struct ProcessorJob {
  name: String,
  input: HostArray,
  options: String,
  aux: Vec<Option<HostArray>>,
  cancel: Cancel,
}

impl Task for ProcessorJob {
  type Output = Ran;
  type JsValue = ProcessorRun;

  fn compute(&mut self) -> Result<Ran> {
    guard(|| -> SbResult<Ran> {
      let t0 = Instant::now();
      let device = self.input.device();
      let call = ProcessorCall { name: &self.name, input: &self.input, options: &self.options, aux: &self.aux, cancel: &self.cancel };
      let out = backend::device(device)?.run_processor(&call)?;
      Ok(Ran { array: out.array, special: out.special, on_host: out.on_host, device, queue: out.stream, micros: t0.elapsed().as_secs_f64() * 1e6 })
    })
  }

  fn resolve(&mut self, _env: Env, r: Ran) -> Result<ProcessorRun> {
    Ok(ProcessorRun {
      array: r.array.map(NativeArray::fresh),
      special: r.special,
      on_host: r.on_host,
      device: r.device.to_string(),
      queue: r.queue.map(|q| q as f64),
      micros: r.micros,
    })
  }
}

/// Runs processor `name` on a stack with JSON `options`; `aux` are its further arrays in the order
/// of `processorTable()[name].arrays` (`null` for an optional one not given); `cancel` stops it
/// between slices (it then rejects with `SB_ABORTED`).
#[napi(ts_return_type = "Promise<ProcessorRun>")]
pub fn run_processor(name: String, input: &NativeArray, options: String, aux: Vec<Option<&NativeArray>>, cancel: Option<&CancelToken>) -> Result<AsyncTask<ProcessorJob>> {
  guard(|| {
    let input = input.alive()?.for_work()?;
    let aux = aux.into_iter().map(|m| m.map(|m| m.alive()?.for_work()).transpose()).collect::<SbResult<Vec<_>>>()?;
    Ok(AsyncTask::new(ProcessorJob { name, input, options, aux, cancel: cancel_of(cancel) }))
  })
}

#[napi(object, object_from_js = false)]
pub struct ProcessorEntry {
  pub name: String,
  /// Works per Z slice (OOM recovery may split it along Z).
  pub separable: bool,
  /// The arrays it takes after the stack; a name ending in `?` is optional, passed as that option.
  pub arrays: Vec<String>,
  /// The result has the input's dtype.
  pub keeps_dtype: bool,
  /// The name of its special output, if any.
  pub special: Option<String>,
}

/// Every processor (DESIGN §7 and the set of §12): the single table the TypeScript families are built from.
#[napi]
pub fn processor_table() -> Vec<ProcessorEntry> {
  dispatch::processor_table()
    .into_iter()
    .map(|p| ProcessorEntry {
      name: p.name.into(),
      separable: p.separable,
      arrays: p.arrays.into_iter().map(String::from).collect(),
      keeps_dtype: p.keeps_dtype,
      special: p.special.map(String::from),
    })
    .collect()
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
