//! napi glue only: exposes the engine of `crates/core` to JavaScript. Every export runs inside
//! `guard`, so engine errors arrive as typed JSON errors and a panic never crosses into Node.

#![deny(clippy::all)]

mod array;
mod convert;
mod devices;
mod errors;
mod jobs;
mod ops;
mod raw;

pub use array::NativeArray;
