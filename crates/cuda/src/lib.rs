//! stackbridge-cuda, pure Rust (no napi): the CUDA domain's foundations. `probe` finds the driver and
//! lists devices without ever panicking (cudarc panics without libcuda, so it is probed first and every
//! driver call runs under `catch_unwind`); `nvrtc` compiles the kernel sources shared with OpenCL
//! (`stackbridge-gpu-kernels`) as CUDA C++ with `--fmad=false`, so device results can equal the CPU's;
//! `programs` picks the image (CUBIN or PTX) for a device and caches it; `backend` is the backend
//! device (context, streams, memory, transfers) and `gpu` its `stackbridge_gpu::Gpu`, through which
//! every processor runs with the same orchestration as on OpenCL.

pub mod backend;
pub mod gpu;
pub mod nvrtc;
pub mod probe;
pub mod programs;

pub use probe::{devices, probe, probe_now, require_device, CudaDeviceInfo, Driver};
