//! `CancelToken`: the JS side of a `stackbridge_core::Cancel`. TS raises it when an operation's
//! `AbortSignal` aborts and polls its counters for `onProgress`; the worker thread checks it
//! between slices or tiles.

use napi_derive::napi;
use stackbridge_core::Cancel;

#[napi]
pub struct CancelToken {
  inner: Cancel,
}

#[napi]
impl CancelToken {
  #[napi(constructor)]
  #[allow(clippy::new_without_default)]
  pub fn new() -> CancelToken {
    CancelToken { inner: Cancel::new() }
  }

  /// Raises the flag: the operation stops at its next check and rejects with `AbortError`.
  #[napi]
  pub fn cancel(&self) {
    self.inner.cancel();
  }

  /// Units (slices, tiles, bytes) done so far.
  #[napi(getter)]
  pub fn done(&self) -> f64 {
    self.inner.progress().0 as f64
  }

  /// Units the operation will do (0 until it starts).
  #[napi(getter)]
  pub fn total(&self) -> f64 {
    self.inner.progress().1 as f64
  }
}

/// The flag behind an optional token (none: an operation nobody cancels).
pub fn cancel_of(token: Option<&CancelToken>) -> Cancel {
  token.map_or_else(Cancel::none, |t| t.inner.clone())
}
