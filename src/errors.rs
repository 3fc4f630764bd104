//! Engine errors → JS errors. The message is the JSON that `translateNativeError` (ts/errors.ts)
//! turns back into the typed class with the same code.

use napi::Status;
use stackbridge_core::{ErrorCode, SbError, SbResult};
use std::panic::{catch_unwind, AssertUnwindSafe};

pub fn to_napi(e: SbError) -> napi::Error {
  napi::Error::new(Status::GenericFailure, e.to_json())
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
  p.downcast_ref::<&str>()
    .map(|s| s.to_string())
    .or_else(|| p.downcast_ref::<String>().cloned())
    .unwrap_or_else(|| "unknown panic".into())
}

/// Runs `f`, turning engine errors and panics into typed errors.
pub fn catch<T>(f: impl FnOnce() -> SbResult<T>) -> SbResult<T> {
  match catch_unwind(AssertUnwindSafe(f)) {
    Ok(r) => r,
    Err(p) => Err(SbError::new(ErrorCode::Internal, format!("internal error in stackbridge (caught panic: {})", panic_message(&*p)))),
  }
}

/// `catch` for an export: the result as a napi result.
pub fn guard<T>(f: impl FnOnce() -> SbResult<T>) -> napi::Result<T> {
  catch(f).map_err(to_napi)
}
