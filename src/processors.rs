//! The processors of DESIGN §7 on worker threads: `stackbridge-kernels` for host arrays, the
//! OpenCL kernels of `stackbridge-opencl` for arrays on an OpenCL device (same names, options and
//! errors; the array's device decides).

use crate::array::NativeArray;
use crate::cancel::{cancel_of, CancelToken};
use crate::errors::guard;
use napi::bindgen_prelude::*;
use napi_derive::napi;
use stackbridge_core::{Cancel, Device, HostArray, SbError, SbResult};
use stackbridge_kernels::dispatch;
use std::time::Instant;

#[napi(object, object_from_js = false)]
pub struct ProcessorRun {
  pub array: NativeArray,
  /// Where the kernels ran: `cpu` or `opencl:N`.
  pub device: String,
  /// The OpenCL command queue used (one per engine thread per device); absent on the host.
  pub queue: Option<f64>,
  pub micros: f64,
}

pub struct Ran {
  array: HostArray,
  device: Device,
  queue: Option<u64>,
  micros: f64,
}

fn unsupported(a: &HostArray, what: &str) -> SbError {
  SbError::gpu_unavailable(format!("{what}: no kernels for {} in this build", a.device())).with("device", a.device().to_string())
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
      match self.input.device() {
        Device::Host => {
          let array = dispatch::run_processor_cancellable(&self.name, &self.input, &self.options, self.aux.as_ref(), &self.cancel)?;
          Ok(Ran { array, device: Device::Host, queue: None, micros: t0.elapsed().as_secs_f64() * 1e6 })
        }
        Device::OpenCl(_) => {
          // The OpenCL kernels run as one enqueue: the flag is checked before and after it.
          self.cancel.check()?;
          let r = stackbridge_opencl::dispatch::run_processor(&self.name, &self.input, &self.options, self.aux.as_ref())?;
          self.cancel.check()?;
          Ok(Ran { array: r.array, device: r.device, queue: Some(r.queue), micros: r.micros })
        }
        _ => Err(unsupported(&self.input, &self.name)),
      }
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
      match self.input.device() {
        Device::Host => dispatch::run_count_cells_cancellable(&self.input, &self.options, &self.cancel).map(|(r, m)| (r, m, None)),
        Device::OpenCl(_) => {
          self.cancel.check()?;
          let r = stackbridge_opencl::dispatch::run_count_cells(&self.input, &self.options).map(|(r, m, q)| (r, m, Some(q)))?;
          self.cancel.check()?;
          Ok(r)
        }
        _ => Err(unsupported(&self.input, "countCellsSingleChannel")),
      }
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
