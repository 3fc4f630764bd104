//! Array storage: one allocation shared by an array and its zero-copy views.
//!
//! The memory sits behind `Option`: `free()` takes it out (explicit dispose), after which every
//! access reports `DisposedError`. Work in flight holds a `pin()` (an `Arc` of the block), so a
//! dispose during an async operation frees the memory only when that operation ends.

use crate::alloc::{allocator_for, Block};
use crate::error::{SbError, SbResult};
use crate::memory_type::Device;
use std::sync::{Arc, RwLock};

type Slot = Arc<RwLock<Option<Arc<Block>>>>;

pub struct Storage {
  /// Shared by the views of this memory on other devices (`view_on`): freeing one frees all.
  mem: Slot,
  bytes: usize,
  device: Device,
}

impl Storage {
  /// Host memory of `bytes`, zeroed when asked.
  pub fn host(bytes: usize, zeroed: bool) -> SbResult<Arc<Storage>> {
    Storage::on(Device::Host, bytes, zeroed)
  }

  /// Memory of `bytes` from `device`'s allocator.
  pub fn on(device: Device, bytes: usize, zeroed: bool) -> SbResult<Arc<Storage>> {
    let block = allocator_for(device)?.allocate(bytes, zeroed)?;
    Ok(Arc::new(Storage { mem: Arc::new(RwLock::new(Some(Arc::new(block)))), bytes, device }))
  }

  /// A storage over a block that already exists (a DLPack import's foreign memory).
  pub fn from_block(block: Block, device: Device) -> Arc<Storage> {
    let bytes = block.len();
    Arc::new(Storage { mem: Arc::new(RwLock::new(Some(Arc::new(block)))), bytes, device })
  }

  /// The same memory seen as living on `device` (a zero-copy view of host memory by an OpenCL
  /// device that shares it). Disposing either frees both, as for any view.
  pub fn view_on(&self, device: Device) -> Arc<Storage> {
    Arc::new(Storage { mem: self.mem.clone(), bytes: self.bytes, device })
  }

  pub fn bytes(&self) -> usize {
    self.bytes
  }

  pub fn device(&self) -> Device {
    self.device
  }

  /// Keeps host-addressable memory alive for the caller's use; `DisposedError` once freed, and
  /// `InvalidArgumentError` for device memory the host cannot read (use the device's backend).
  pub fn pin(&self) -> SbResult<Arc<Block>> {
    let block = self.block()?;
    if !block.host_addressable() {
      return Err(
        SbError::invalid(format!("{} memory is not host-addressable: convert the array to numpy to read it on the host", self.device))
          .with("device", self.device.to_string()),
      );
    }
    Ok(block)
  }

  /// Keeps the memory alive, wherever it is (device code reads its address); `DisposedError`
  /// once freed.
  pub fn block(&self) -> SbResult<Arc<Block>> {
    self.mem.read().unwrap_or_else(|p| p.into_inner()).clone().ok_or_else(SbError::disposed)
  }

  /// A second storage over the same memory, for work in flight: freeing `self` (a dispose while
  /// the work runs) leaves the alias valid until the work drops it.
  pub fn alias(&self) -> SbResult<Arc<Storage>> {
    let block = self.block()?;
    Ok(Arc::new(Storage { mem: Arc::new(RwLock::new(Some(block))), bytes: self.bytes, device: self.device }))
  }

  pub fn is_freed(&self) -> bool {
    self.mem.read().unwrap_or_else(|p| p.into_inner()).is_none()
  }

  /// Releases the memory now (pins in flight keep it until they end). Idempotent.
  pub fn free(&self) {
    let taken = self.mem.write().unwrap_or_else(|p| p.into_inner()).take();
    drop(taken);
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::error::ErrorCode;

  #[test]
  fn free_is_idempotent_and_pins_survive() {
    let s = Storage::host(4096, true).unwrap();
    let pin = s.pin().unwrap();
    s.free();
    s.free();
    assert_eq!(s.pin().unwrap_err().code, ErrorCode::Disposed);
    // the pin still reads valid (zeroed) memory
    unsafe { assert_eq!(*pin.as_ptr(), 0) };
  }
}
