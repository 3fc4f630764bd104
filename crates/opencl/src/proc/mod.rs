//! The processors of DESIGN §7 on OpenCL. Each module runs one family of kernels of
//! stackbridge-gpu-kernels; host-side steps are only bookkeeping on small data (histograms,
//! percentiles, lookup tables, blob pruning) and reuse stackbridge-kernels' code for it.

pub mod count;
pub mod filters;
pub mod normalize;
pub mod pointwise;
pub mod projection;
pub mod tophat;

use crate::buffer::ClBuf;
use crate::launch::{finish, launch, Arg};
use crate::runtime::{queue, ClDevice, Queue};
use opencl3::program::Program;
use stackbridge_core::{DType, SbError, SbResult};
use std::sync::Arc;

/// One processor run: the device and the calling thread's queue on it.
pub struct Ctx<'d> {
  pub dev: &'d ClDevice,
  pub q: Arc<Queue>,
}

impl<'d> Ctx<'d> {
  pub fn new(dev: &'d ClDevice) -> SbResult<Ctx<'d>> {
    Ok(Ctx { dev, q: queue(dev)? })
  }

  /// Program `name` built with `defines` (cached per device).
  pub fn program(&self, name: &str, defines: &str) -> SbResult<Arc<Program>> {
    self.dev.program(name, defines)
  }

  /// Enqueues kernel `kernel` of `program` over `global` (x first).
  pub fn launch(&self, program: &Program, kernel: &str, global: &[usize], args: &[Arg]) -> SbResult<()> {
    launch(self.dev, &self.q, program, kernel, global, args)
  }

  pub fn finish(&self) -> SbResult<()> {
    finish(self.dev, &self.q)
  }

  /// Waits for the queue and makes `out`'s device writes visible in host memory.
  pub fn complete(&self, out: &ClBuf) -> SbResult<()> {
    self.finish()?;
    out.sync_to_host(self.dev, &self.q)
  }

  /// The OpenCL C name of `dtype` (float64 needs cl_khr_fp64: `DtypeError` otherwise).
  pub fn cl_type(&self, dtype: DType) -> SbResult<&'static str> {
    if dtype == DType::F64 && !self.dev.fp64 {
      return Err(SbError::dtype(format!("float64 needs cl_khr_fp64, which {} ({}) lacks", self.dev.label(), self.dev.name)));
    }
    Ok(cl_type(dtype))
  }
}

/// OpenCL C type names of the engine dtypes.
pub fn cl_type(dtype: DType) -> &'static str {
  match dtype {
    DType::U8 => "uchar",
    DType::U16 => "ushort",
    DType::I16 => "short",
    DType::I32 => "int",
    DType::F32 => "float",
    DType::F64 => "double",
  }
}

/// `-D T_IN=… -D T_IN_IS_FLOAT=0|1 -D T_IN_MAX=…` style defines for one element type.
pub fn type_defines(ctx: &Ctx, macro_name: &str, dtype: DType) -> SbResult<String> {
  let t = ctx.cl_type(dtype)?;
  let is_float = matches!(dtype, DType::F32 | DType::F64) as u8;
  Ok(format!("-D {macro_name}={t} -D {macro_name}_IS_FLOAT={is_float}"))
}

/// `i64` for kernel size arguments.
pub fn long(n: usize) -> Arg<'static> {
  Arg::I64(n as i64)
}
