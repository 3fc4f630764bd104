//! The CUDA domain's [`Gpu`]: one processor call on the calling thread's stream of a device. The
//! processors themselves are stackbridge-gpu's, shared with OpenCL; this module gives them
//! programs (NVRTC images from `programs`, loaded once per device), launches and buffers.

use crate::backend::CudaDevice;
use cudarc::driver::{result, sys, CudaFunction, CudaModule, CudaStream, LaunchConfig, PushKernelArg};
use stackbridge_core::alloc::Block;
use stackbridge_core::{Device, Element, ErrorCode, HostArray, MemoryType, SbError, SbResult};
use stackbridge_gpu::{Arg, Gpu};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A loaded (program, defines) variant and the functions looked up in it so far.
pub struct CudaProgram {
  module: Arc<CudaModule>,
  functions: Mutex<HashMap<String, CudaFunction>>,
}

/// Device memory a kernel reads or writes: an array's (kept alive by its block) or a temporary.
pub struct CudaBuf {
  ptr: sys::CUdeviceptr,
  bytes: usize,
  _block: Arc<Block>,
  /// The stream that last used it: dropping the buffer waits for that stream, so its memory is
  /// never handed to another stream (through the caching allocator) while a kernel still uses it.
  used_on: Mutex<Option<Arc<CudaStream>>>,
}

impl Drop for CudaBuf {
  fn drop(&mut self) {
    if let Some(s) = self.used_on.get_mut().unwrap_or_else(|p| p.into_inner()).take() {
      let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| s.synchronize()));
    }
  }
}

/// One processor run: the device and the calling thread's stream on it.
pub struct CudaCtx<'d> {
  pub dev: &'d CudaDevice,
  stream: Arc<CudaStream>,
  id: u64,
}

impl<'d> CudaCtx<'d> {
  pub fn new(dev: &'d CudaDevice) -> SbResult<CudaCtx<'d>> {
    let (stream, id) = dev.thread_stream()?;
    Ok(CudaCtx { dev, stream, id })
  }

  fn sync(&self) -> SbResult<()> {
    self.dev.call("cuStreamSynchronize", || self.stream.synchronize())
  }
}

/// A kernel argument by value, owned for the launch (the driver reads it through a pointer).
enum Value {
  Ptr(u64),
  I64(i64),
  I32(i32),
  U32(u32),
  F32(f32),
  F64(f64),
}

const BLOCK_1D: u32 = 256;
/// The driver's grid limits for y and z (x allows 2³¹ − 1 blocks).
const GRID_YZ: usize = 65_535;

/// The launch shape for `global` work items (x first): blocks of 256 threads, 32 wide where there
/// are rows, narrower where the rows would need more than the driver's 65 535 blocks in y.
pub fn launch_config(global: &[usize]) -> SbResult<LaunchConfig> {
  let too_big = || SbError::invalid(format!("a launch over {global:?} work items exceeds the CUDA grid limits"));
  let block: (u32, u32, u32) = match global.len() {
    1 => (BLOCK_1D, 1, 1),
    2 | 3 => {
      let y = global[1];
      [(32, 8), (4, 64), (1, 256), (1, 1024)].into_iter().find(|&(_, by)| y.div_ceil(by as usize) <= GRID_YZ).map(|(bx, by)| (bx, by, 1)).ok_or_else(too_big)?
    }
    _ => return Err(SbError::invalid(format!("kernels take 1 to 3 dimensions, not {}", global.len()))),
  };
  let dims = [block.0, block.1, block.2];
  let mut grid = [1u32; 3];
  for (i, &g) in global.iter().enumerate() {
    let n = g.div_ceil(dims[i] as usize);
    let limit = if i == 0 { i32::MAX as usize } else { GRID_YZ };
    if n > limit {
      return Err(too_big());
    }
    grid[i] = n as u32;
  }
  Ok(LaunchConfig { grid_dim: (grid[0], grid[1], grid[2]), block_dim: block, shared_mem_bytes: 0 })
}

impl Gpu for CudaCtx<'_> {
  type Buf = CudaBuf;
  type Program = CudaProgram;

  fn device(&self) -> Device {
    Device::Cuda(self.dev.ordinal() as u32)
  }
  fn name(&self) -> &str {
    self.dev.name()
  }
  fn fp64(&self) -> bool {
    // Every architecture CUDA 13 supports has double precision.
    true
  }
  fn queue_id(&self) -> u64 {
    self.id
  }
  fn temp_memory_type(&self) -> MemoryType {
    MemoryType::Cupy
  }

  fn program(&self, name: &str, defines: &str) -> SbResult<Arc<CudaProgram>> {
    self.dev.program(name, defines, |image| {
      let module = self.dev.call("cuModuleLoadData", || self.dev.context().load_module(cudarc::nvrtc::Ptx::from_binary(image)))?;
      Ok(CudaProgram { module, functions: Mutex::new(HashMap::new()) })
    })
  }

  fn launch(&self, program: &CudaProgram, kernel: &str, global: &[usize], args: &[Arg<'_, CudaBuf>]) -> SbResult<()> {
    if global.contains(&0) {
      return Ok(());
    }
    let cfg = launch_config(global)?;
    let f = {
      let mut fns = program.functions.lock().unwrap_or_else(|p| p.into_inner());
      match fns.get(kernel) {
        Some(f) => f.clone(),
        None => {
          let f = self.dev.call(&format!("cuModuleGetFunction({kernel})"), || program.module.load_function(kernel)).map_err(|e| {
            if e.code == ErrorCode::Internal {
              SbError::invalid(format!("kernel {kernel:?} is not in its program")).with("kernel", kernel)
            } else {
              e
            }
          })?;
          fns.insert(kernel.to_string(), f.clone());
          f
        }
      }
    };
    let values: Vec<Value> = args
      .iter()
      .map(|a| match a {
        Arg::Buf(b) => {
          *b.used_on.lock().unwrap_or_else(|p| p.into_inner()) = Some(self.stream.clone());
          Value::Ptr(b.ptr)
        }
        Arg::I64(v) => Value::I64(*v),
        Arg::I32(v) => Value::I32(*v),
        Arg::U32(v) => Value::U32(*v),
        Arg::F32(v) => Value::F32(*v),
        Arg::Acc(v) => Value::F64(*v),
      })
      .collect();
    let mut builder = self.stream.launch_builder(&f);
    for v in &values {
      match v {
        Value::Ptr(p) => builder.arg(p),
        Value::I64(x) => builder.arg(x),
        Value::I32(x) => builder.arg(x),
        Value::U32(x) => builder.arg(x),
        Value::F32(x) => builder.arg(x),
        Value::F64(x) => builder.arg(x),
      };
    }
    // SAFETY: the argument list follows the kernel's signature (the shared sources and their
    // host-side callers in stackbridge-gpu are written together and tested on OpenCL), every
    // buffer outlives the stream's use of it (see `CudaBuf`'s drop), and kernels bound-check.
    self.dev.call(&format!("cuLaunchKernel({kernel})"), || unsafe { builder.launch(cfg) }.map(|_| ()))
  }

  fn finish(&self) -> SbResult<()> {
    self.sync()
  }

  fn wrap(&self, array: &HostArray) -> SbResult<CudaBuf> {
    let block = array.storage.block()?;
    if block.device() != self.device() {
      return Err(SbError::new(ErrorCode::DeviceMismatch, format!("an array on {} given to {}", block.device(), self.device())).with("device", self.device().to_string()));
    }
    let bytes = array.nbytes();
    if array.byte_offset() + bytes > block.len() {
      return Err(SbError::invalid(format!("array of {bytes} B at {} is outside its block of {} B", array.byte_offset(), block.len())));
    }
    Ok(CudaBuf { ptr: (block.addr() + array.byte_offset()) as sys::CUdeviceptr, bytes, _block: block, used_on: Mutex::new(None) })
  }

  fn write<T: Element>(&self, buf: &mut CudaBuf, data: &[T]) -> SbResult<()> {
    if std::mem::size_of_val(data) > buf.bytes {
      return Err(SbError::invalid(format!("a write of {} B into a buffer of {} B", std::mem::size_of_val(data), buf.bytes)));
    }
    if data.is_empty() {
      return Ok(());
    }
    // SAFETY: the range was checked above; `data` lives until the synchronize below.
    self.dev.call("cuMemcpyHtoDAsync", || unsafe {
      result::memcpy_htod_async(buf.ptr, data, self.stream.cu_stream())?;
      self.stream.synchronize()
    })
  }

  fn read<T: Element>(&self, buf: &CudaBuf) -> SbResult<Vec<T>> {
    let n = buf.bytes / std::mem::size_of::<T>();
    let mut out = vec![T::from_f64(0.0); n];
    if n > 0 {
      // SAFETY: `out` covers `n` elements inside the buffer; it lives until the synchronize.
      self.dev.call("cuMemcpyDtoHAsync", || unsafe {
        result::memcpy_dtoh_async(&mut out, buf.ptr, self.stream.cu_stream())?;
        self.stream.synchronize()
      })?;
    }
    Ok(out)
  }

  fn complete(&self, _out: &CudaBuf) -> SbResult<()> {
    // Device memory has no host copy to update: the writes are visible once the stream is done.
    self.sync()
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn launches_cover_the_work_within_the_grid_limits() {
    let c = launch_config(&[1000]).unwrap();
    assert_eq!((c.grid_dim, c.block_dim), ((4, 1, 1), (256, 1, 1)));
    let c = launch_config(&[1024, 1024, 4]).unwrap();
    assert_eq!((c.grid_dim, c.block_dim), ((32, 128, 4), (32, 8, 1)));
    // 2²⁰ rows need more than 65 535 blocks of 8: taller blocks instead.
    let c = launch_config(&[3, 1 << 20]).unwrap();
    assert_eq!(c.block_dim, (4, 64, 1));
    assert!(c.grid_dim.1 as usize <= GRID_YZ && c.grid_dim.1 as usize * 64 >= 1 << 20);
    assert!(launch_config(&[1, 1, 70_000]).is_err());
    assert!(launch_config(&[1, 1, 1, 1]).is_err());
  }
}
