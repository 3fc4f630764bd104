//! stackbridge-gpu: the processors of DESIGN §7 on any device that runs the kernel sources of
//! stackbridge-gpu-kernels, written once. A domain (OpenCL, CUDA) implements [`Gpu`] — programs,
//! launches, buffers, small reads and writes — for one processor call on the calling thread's
//! queue or stream; [`dispatch`] and [`proc`] do the rest: option parsing, output allocation, the
//! host-side bookkeeping on small data (histograms, percentiles, lookup tables, blob pruning, with
//! stackbridge-kernels' own code) and the kernel sequence. The same orchestration therefore gives
//! the same results on every domain (bit for bit where the device has fp64).

pub mod dispatch;
pub mod proc;
pub mod set;

use stackbridge_core::{DType, Device, Element, HostArray, MemoryType, SbError, SbResult};
use std::sync::Arc;

/// One kernel argument (`B`: the domain's buffer type).
pub enum Arg<'a, B> {
  Buf(&'a B),
  I64(i64),
  I32(i32),
  U32(u32),
  F32(f32),
  /// A floating-point value passed as the kernels' `acc_t`: double where the device has fp64.
  Acc(f64),
}

/// One processor call's view of a device: the calling thread's queue (OpenCL) or stream (CUDA)
/// on it. Work is enqueued in order; reads block until what was enqueued before them is done.
pub trait Gpu: Sync {
  /// A device buffer: an array's memory or a temporary, alive as long as the value.
  type Buf: Send + Sync;
  /// A compiled (program, defines) variant.
  type Program: Send + Sync;

  fn device(&self) -> Device;
  /// The device's name, for error messages.
  fn name(&self) -> &str;
  /// The device computes in double precision (the kernels' `acc_t` is double).
  fn fp64(&self) -> bool;
  /// The queue or stream id the call runs on (reported to the trace).
  fn queue_id(&self) -> u64;
  /// The memory type temporaries are tagged with (the domain's native kind).
  fn temp_memory_type(&self) -> MemoryType;

  /// Program `name` of stackbridge-gpu-kernels built with `defines` (cached per device).
  fn program(&self, name: &str, defines: &str) -> SbResult<Arc<Self::Program>>;
  /// Enqueues kernel `kernel` of `program` over `global` work items (1 to 3 dimensions, x first);
  /// nothing when any dimension is 0.
  fn launch(&self, program: &Self::Program, kernel: &str, global: &[usize], args: &[Arg<'_, Self::Buf>]) -> SbResult<()>;
  /// Waits for everything enqueued.
  fn finish(&self) -> SbResult<()>;

  /// The device's view of `array`'s memory (no copy: the array lives on this device).
  fn wrap(&self, array: &HostArray) -> SbResult<Self::Buf>;
  /// Blocking write of `data` to the start of `buf` (small inputs: tables, weights).
  fn write<T: Element>(&self, buf: &mut Self::Buf, data: &[T]) -> SbResult<()>;
  /// Blocking read of the whole of `buf` (small results, or a download).
  fn read<T: Element>(&self, buf: &Self::Buf) -> SbResult<Vec<T>>;
  /// Waits for the queue and makes the kernels' writes of `out` visible to its memory's owner.
  fn complete(&self, out: &Self::Buf) -> SbResult<()>;

  /// A new array of `shape` in the device's memory and its buffer (a kernel's output, or a
  /// temporary). Over the device's memory limit this is `OutOfMemoryError`.
  fn alloc(&self, shape: Vec<usize>, dtype: DType, memory_type: MemoryType) -> SbResult<(HostArray, Self::Buf)> {
    let a = HostArray::alloc_on(self.device(), shape, dtype, memory_type, false)?;
    let b = self.wrap(&a)?;
    Ok((a, b))
  }

  /// A temporary of `n` elements of `dtype` (at least one, so empty stacks still get a buffer).
  fn temp(&self, dtype: DType, n: usize) -> SbResult<Self::Buf> {
    Ok(self.alloc(vec![n.max(1)], dtype, self.temp_memory_type())?.1)
  }

  /// A buffer holding `data`.
  fn upload<T: Element>(&self, data: &[T]) -> SbResult<Self::Buf> {
    let mut b = self.temp(T::DTYPE, data.len())?;
    self.write(&mut b, data)?;
    Ok(b)
  }

  /// Runs `f` over the elements of `array` (whose device view is `buf`) on the host: in place where
  /// its memory is host-addressable, over a downloaded copy otherwise.
  fn with_host<T: Element, R>(&self, array: &HostArray, buf: &Self::Buf, f: impl FnOnce(&[T]) -> R) -> SbResult<R> {
    self.complete(buf)?;
    if array.storage.block()?.host_addressable() {
      let pin = array.pin()?;
      Ok(f(pin.as_slice::<T>()))
    } else {
      let all = self.read::<T>(buf)?;
      Ok(f(&all[..array.numel().min(all.len())]))
    }
  }

  /// The element type of the kernels' `acc_t`: float64 where the device has fp64, else float32.
  fn acc_dtype(&self) -> DType {
    if self.fp64() {
      DType::F64
    } else {
      DType::F32
    }
  }

  /// A temporary of `n` `acc_t` values.
  fn temp_acc(&self, n: usize) -> SbResult<Self::Buf> {
    self.temp(self.acc_dtype(), n)
  }

  /// `data` uploaded as `acc_t` (rounded to float32 on a device without fp64).
  fn upload_acc(&self, data: &[f64]) -> SbResult<Self::Buf> {
    if self.fp64() {
      self.upload(data)
    } else {
      self.upload(&data.iter().map(|&x| x as f32).collect::<Vec<f32>>())
    }
  }

  /// An `acc_t` buffer read back as f64.
  fn read_acc(&self, b: &Self::Buf) -> SbResult<Vec<f64>> {
    if self.fp64() {
      self.read::<f64>(b)
    } else {
      Ok(self.read::<f32>(b)?.into_iter().map(f64::from).collect())
    }
  }

  /// The kernel type name of `dtype` (float64 needs fp64: `DtypeError` otherwise).
  fn kernel_type(&self, dtype: DType) -> SbResult<&'static str> {
    if dtype == DType::F64 && !self.fp64() {
      return Err(SbError::dtype(format!("float64 needs double precision, which {} ({}) lacks", self.device(), self.name())));
    }
    Ok(kernel_type(dtype))
  }
}

/// Kernel type names of the engine dtypes (OpenCL C built-ins; `portability.h` typedefs them for CUDA).
pub fn kernel_type(dtype: DType) -> &'static str {
  match dtype {
    DType::U8 => "uchar",
    DType::U16 => "ushort",
    DType::I16 => "short",
    DType::I32 => "int",
    DType::U32 => "uint",
    DType::F32 => "float",
    DType::F64 => "double",
  }
}

/// `-D T_IN=… -D T_IN_IS_FLOAT=0|1` defines for one element type (the format every domain shares).
pub fn type_defines<C: Gpu>(ctx: &C, macro_name: &str, dtype: DType) -> SbResult<String> {
  let t = ctx.kernel_type(dtype)?;
  Ok(stackbridge_gpu_kernels::type_defines(macro_name, t, matches!(dtype, DType::F32 | DType::F64)))
}

/// `i64` for kernel size arguments (the kernels' `long`).
pub fn long<'a, B>(n: usize) -> Arg<'a, B> {
  Arg::I64(n as i64)
}
