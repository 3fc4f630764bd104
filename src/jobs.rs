//! Async engine work: runs a closure on a libuv worker thread (never the event loop), catching
//! panics, and hands the resulting array (always new memory) to JS on the main thread.

use crate::array::NativeArray;
use crate::errors::guard;
use napi::bindgen_prelude::*;
use stackbridge_core::{HostArray, SbResult};

type Work = Box<dyn FnOnce() -> SbResult<HostArray> + Send>;

pub struct ArrayJob {
  work: Option<Work>,
}

impl ArrayJob {
  pub fn new(work: impl FnOnce() -> SbResult<HostArray> + Send + 'static) -> AsyncTask<ArrayJob> {
    AsyncTask::new(ArrayJob { work: Some(Box::new(work)) })
  }
}

impl Task for ArrayJob {
  type Output = HostArray;
  type JsValue = NativeArray;

  fn compute(&mut self) -> Result<HostArray> {
    let work = self.work.take();
    guard(move || match work {
      Some(w) => w(),
      None => Err(stackbridge_core::SbError::new(stackbridge_core::ErrorCode::Internal, "job ran twice")),
    })
  }

  fn resolve(&mut self, _env: Env, output: HostArray) -> Result<NativeArray> {
    Ok(NativeArray::fresh(output))
  }
}
