//! The CPU processors of `stackbridge-kernels` (DESIGN §7), run on libuv worker threads.

use crate::array::NativeArray;
use crate::errors::guard;
use crate::jobs::ArrayJob;
use napi::bindgen_prelude::*;
use napi_derive::napi;
use stackbridge_core::{HostArray, SbResult};
use stackbridge_kernels::dispatch;

/// Runs processor `name` on a host stack with JSON `options`; `aux` is `applyMask`'s mask.
#[napi(ts_return_type = "Promise<NativeArray>")]
pub fn run_processor(name: String, input: &NativeArray, options: String, aux: Option<&NativeArray>) -> Result<AsyncTask<ArrayJob>> {
  guard(|| {
    let a = input.alive()?.for_work()?;
    let m = aux.map(|m| m.alive()?.for_work()).transpose()?;
    Ok(ArrayJob::new(move || dispatch::run_processor(&name, &a, &options, m.as_ref())))
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
}

pub struct CountJob {
  input: HostArray,
  options: String,
}

impl Task for CountJob {
  type Output = (String, Option<HostArray>);
  type JsValue = CountCellsOutput;

  fn compute(&mut self) -> Result<Self::Output> {
    guard(|| -> SbResult<_> { dispatch::run_count_cells(&self.input, &self.options) })
  }

  fn resolve(&mut self, _env: Env, (results, masks): Self::Output) -> Result<CountCellsOutput> {
    Ok(CountCellsOutput { results, masks: masks.map(NativeArray::fresh) })
  }
}

/// `countCellsSingleChannel` on a host stack.
#[napi(ts_return_type = "Promise<CountCellsOutput>")]
pub fn count_cells(input: &NativeArray, options: String) -> Result<AsyncTask<CountJob>> {
  guard(|| Ok(AsyncTask::new(CountJob { input: input.alive()?.for_work()?, options })))
}
