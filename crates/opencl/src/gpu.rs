//! The OpenCL domain's [`Gpu`]: one processor call on the calling thread's command queue of a
//! device; the processors themselves are stackbridge-gpu's, shared with CUDA.

use crate::buffer::ClBuf;
use crate::launch;
use crate::runtime::{queue, ClDevice, Queue};
use opencl3::program::Program;
use stackbridge_core::{Device, Element, HostArray, MemoryType, SbResult};
use stackbridge_gpu::{Arg, Gpu};
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
}

impl Gpu for Ctx<'_> {
  type Buf = ClBuf;
  type Program = Program;

  fn device(&self) -> Device {
    self.dev.id()
  }
  fn name(&self) -> &str {
    &self.dev.name
  }
  fn fp64(&self) -> bool {
    self.dev.fp64
  }
  fn queue_id(&self) -> u64 {
    self.q.id
  }
  fn temp_memory_type(&self) -> MemoryType {
    MemoryType::Pyclesperanto
  }
  fn program(&self, name: &str, defines: &str) -> SbResult<Arc<Program>> {
    self.dev.program(name, defines)
  }
  fn launch(&self, program: &Program, kernel: &str, global: &[usize], args: &[Arg<'_, ClBuf>]) -> SbResult<()> {
    launch::launch(self.dev, &self.q, program, kernel, global, args)
  }
  fn finish(&self) -> SbResult<()> {
    launch::finish(self.dev, &self.q)
  }
  fn wrap(&self, array: &HostArray) -> SbResult<ClBuf> {
    ClBuf::wrap(self.dev, &self.q, array)
  }
  fn write<T: Element>(&self, buf: &mut ClBuf, data: &[T]) -> SbResult<()> {
    buf.write(self.dev, &self.q, data)
  }
  fn read<T: Element>(&self, buf: &ClBuf) -> SbResult<Vec<T>> {
    buf.read(self.dev, &self.q)
  }
  fn complete(&self, out: &ClBuf) -> SbResult<()> {
    self.finish()?;
    out.sync_to_host(self.dev, &self.q)
  }
}
