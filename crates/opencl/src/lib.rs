//! stackbridge-opencl: the OpenCL domain behind the `pyclesperanto` memory type (DESIGN §1–4, §7).
//!
//! [`runtime`] discovers every platform's devices (GPUs first) through a dynamically loaded
//! libOpenCL, keeps one context per device, builds each program of stackbridge-gpu-kernels once
//! per device and gives every engine thread its own command queue per device. [`buffer`] wraps
//! memory from the device's caching allocator; [`launch`] runs kernels; [`dispatch`] runs the
//! processors of DESIGN §7 by name with the options of `stackbridge_kernels::dispatch::Op`.
//! Without an OpenCL runtime every entry point answers `GpuUnavailableError`.

pub mod backend;
pub mod buffer;
pub mod dispatch;
pub mod error;
pub mod launch;
pub mod proc;
pub mod runtime;

pub use runtime::{device, devices, ClDevice};
