//! napi glue only: exposes the engine of `crates/core` to JavaScript. Every export runs inside
//! `guard`, so engine errors arrive as typed JSON errors and a panic never crosses into Node.

#![deny(clippy::all)]

mod array;
mod backends;
mod cancel;
mod convert;
mod cpu;
mod devices;
mod dlpack;
mod errors;
mod io;
mod jobs;
mod ops;
mod processors;
mod raw;

pub use array::NativeArray;

/// Panics are caught at every export and reported as `InternalError`; print one line for them
/// instead of Rust's default multi-line report (set STACKBRIDGE_BACKTRACE=1 for the full one).
#[napi_derive::module_init]
fn init() {
  // Only names the discovery; driver probes wait until a device is needed.
  stackbridge_core::backend::set_discovery(backends::discover);
  if std::env::var_os("STACKBRIDGE_BACKTRACE").is_none() {
    std::panic::set_hook(Box::new(|info| eprintln!("stackbridge: caught panic: {info}")));
  }
}
