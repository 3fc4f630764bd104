//! The processors of DESIGN §7 on OpenCL. Each module runs one family of kernels of
//! stackbridge-gpu-kernels; host-side steps are only bookkeeping on small data (histograms,
//! percentiles, lookup tables, blob pruning) and reuse stackbridge-kernels' code for it.

pub mod count;
pub mod filters;
pub mod normalize;
pub mod pointwise;
pub mod projection;
pub mod tophat;

use crate::buffer::{upload, ClBuf};
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

  /// The element type of the kernels' `acc_t`: float64 where the device has fp64, else float32.
  pub fn acc_dtype(&self) -> DType {
    if self.dev.fp64 {
      DType::F64
    } else {
      DType::F32
    }
  }

  /// A temporary of `n` elements of `dtype`.
  pub fn temp(&self, dtype: DType, n: usize) -> SbResult<ClBuf> {
    ClBuf::temp_of(self.dev, dtype, n)
  }

  /// A temporary of `n` `acc_t` values.
  pub fn temp_acc(&self, n: usize) -> SbResult<ClBuf> {
    self.temp(self.acc_dtype(), n)
  }

  /// `data` uploaded as `acc_t` (rounded to float32 on a device without fp64).
  pub fn upload_acc(&self, data: &[f64]) -> SbResult<ClBuf> {
    if self.dev.fp64 {
      upload(self.dev, &self.q, data)
    } else {
      upload(self.dev, &self.q, &data.iter().map(|&x| x as f32).collect::<Vec<f32>>())
    }
  }

  /// An `acc_t` buffer read back as f64.
  pub fn read_acc(&self, b: &ClBuf) -> SbResult<Vec<f64>> {
    if self.dev.fp64 {
      b.read::<f64>(self.dev, &self.q)
    } else {
      Ok(b.read::<f32>(self.dev, &self.q)?.into_iter().map(f64::from).collect())
    }
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

/// `-D T_IN=… -D T_IN_IS_FLOAT=0|1` defines for one element type (the format every domain shares).
pub fn type_defines(ctx: &Ctx, macro_name: &str, dtype: DType) -> SbResult<String> {
  let t = ctx.cl_type(dtype)?;
  Ok(stackbridge_gpu_kernels::type_defines(macro_name, t, matches!(dtype, DType::F32 | DType::F64)))
}

/// `i64` for kernel size arguments.
pub fn long(n: usize) -> Arg<'static> {
  Arg::I64(n as i64)
}
