//! stackbridge-opencl: the OpenCL domain behind the `pyclesperanto` memory type (DESIGN §1–4, §7).
//!
//! [`runtime`] discovers every platform's devices (GPUs first) through a dynamically loaded
//! libOpenCL, keeps one context per device, builds each program of stackbridge-gpu-kernels once
//! per device and gives every engine thread its own command queue per device. [`buffer`] wraps
//! memory from the device's caching allocator: host memory on a device that shares it, device
//! memory of its own ([`memory`]) otherwise; [`launch`] runs kernels; [`gpu`] implements
//! stackbridge-gpu's `Gpu` trait over them, so the processors of DESIGN §7 ([`dispatch`]) are
//! stackbridge-gpu's orchestration, the same code CUDA runs. Without an OpenCL runtime every
//! entry point answers `GpuUnavailableError`.

pub mod backend;
pub mod buffer;
pub mod dispatch;
pub mod error;
pub mod gpu;
pub mod launch;
pub mod memory;
pub mod runtime;

pub use runtime::{device, devices, ClDevice};
