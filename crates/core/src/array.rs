//! `HostArray`: the engine-side description of an array (storage + dtype + shape + memory type).
//! Arrays are C-contiguous; views are contiguous ranges of their storage (an element offset).

use crate::alloc::Block;
use crate::dtype::{DType, Element};
use crate::error::{SbError, SbResult};
use crate::memory_type::{Device, MemoryType};
use crate::shape::{c_strides, numel};
use crate::storage::Storage;
use std::sync::Arc;

#[derive(Clone)]
pub struct HostArray {
  pub storage: Arc<Storage>,
  pub dtype: DType,
  pub shape: Vec<usize>,
  /// Offset of the first element in the storage, in elements.
  pub offset: usize,
  pub memory_type: MemoryType,
  pub readonly: bool,
}

/// Memory of an array held alive for the duration of an operation.
pub struct Pinned {
  block: Arc<Block>,
  byte_offset: usize,
  nbytes: usize,
}

impl Pinned {
  pub fn bytes(&self) -> &[u8] {
    // SAFETY: the block outlives self and covers [byte_offset, byte_offset + nbytes).
    unsafe { std::slice::from_raw_parts(self.block.as_ptr().add(self.byte_offset), self.nbytes) }
  }

  pub fn as_slice<T: Element>(&self) -> &[T] {
    debug_assert_eq!(self.byte_offset % std::mem::size_of::<T>(), 0);
    // SAFETY: the block is 64-byte aligned and offsets are multiples of the element size.
    unsafe {
      std::slice::from_raw_parts(self.block.as_ptr().add(self.byte_offset) as *const T, self.nbytes / std::mem::size_of::<T>())
    }
  }

  /// Mutable access. Only for arrays an operation has just created and not yet shared.
  #[allow(clippy::mut_from_ref)]
  pub fn as_mut_slice<T: Element>(&self) -> &mut [T] {
    // SAFETY: as `as_slice`; callers only write into fresh outputs nobody else can see yet.
    unsafe {
      std::slice::from_raw_parts_mut(self.block.as_ptr().add(self.byte_offset) as *mut T, self.nbytes / std::mem::size_of::<T>())
    }
  }

  #[allow(clippy::mut_from_ref)]
  pub fn as_mut_bytes(&self) -> &mut [u8] {
    // SAFETY: see `as_mut_slice`.
    unsafe { std::slice::from_raw_parts_mut(self.block.as_ptr().add(self.byte_offset), self.nbytes) }
  }

  /// Raw pointer to the first byte (for handing to JS as an external buffer).
  pub fn block(&self) -> &Arc<Block> {
    &self.block
  }
}

impl std::fmt::Debug for HostArray {
  fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    write!(f, "HostArray({:?}, {}, {})", self.shape, self.dtype.name(), self.memory_type.name())
  }
}

impl HostArray {
  /// A new host array of `shape` (zeroed when asked).
  pub fn alloc(shape: Vec<usize>, dtype: DType, memory_type: MemoryType, zeroed: bool) -> SbResult<HostArray> {
    HostArray::alloc_on(Device::Host, shape, dtype, memory_type, zeroed)
  }

  /// A new array in `device`'s host-addressable memory (the host, or an OpenCL device).
  pub fn alloc_on(device: Device, shape: Vec<usize>, dtype: DType, memory_type: MemoryType, zeroed: bool) -> SbResult<HostArray> {
    let n = numel(&shape)?;
    let bytes = n.checked_mul(dtype.size()).ok_or_else(|| SbError::invalid("array too large"))?;
    let storage = Storage::on(device, bytes, zeroed)?;
    Ok(HostArray { storage, dtype, shape, offset: 0, memory_type, readonly: false })
  }

  pub fn numel(&self) -> usize {
    self.shape.iter().product()
  }

  pub fn nbytes(&self) -> usize {
    self.numel() * self.dtype.size()
  }

  pub fn byte_offset(&self) -> usize {
    self.offset * self.dtype.size()
  }

  pub fn strides(&self) -> Vec<usize> {
    c_strides(&self.shape)
  }

  pub fn device(&self) -> Device {
    self.storage.device()
  }

  pub fn pin(&self) -> SbResult<Pinned> {
    let block = self.storage.pin()?;
    Ok(Pinned { block, byte_offset: self.byte_offset(), nbytes: self.nbytes() })
  }

  /// A new array like `self` lives (same device), of another shape, dtype and memory type.
  pub fn alloc_like(&self, shape: Vec<usize>, dtype: DType, memory_type: MemoryType, zeroed: bool) -> SbResult<HostArray> {
    HostArray::alloc_on(self.device(), shape, dtype, memory_type, zeroed)
  }

  /// A zero-copy view of the same memory as `memory_type` on `device` (host memory an OpenCL
  /// device shares, or back).
  pub fn view_on(&self, memory_type: MemoryType, device: Device) -> HostArray {
    HostArray { storage: self.storage.view_on(device), ..self.view_as(memory_type) }
  }

  /// A zero-copy view as another memory type. Views of immutable data stay read-only.
  pub fn view_as(&self, memory_type: MemoryType) -> HostArray {
    HostArray { memory_type, readonly: self.readonly || memory_type.is_immutable(), ..self.clone() }
  }

  /// Zero-copy view of `[start, end)` along axis 0.
  pub fn slice_axis0(&self, start: usize, end: usize) -> SbResult<HostArray> {
    let Some(&n0) = self.shape.first() else {
      return Err(SbError::dimension("cannot slice a 0-dimensional array"));
    };
    if start > end || end > n0 {
      return Err(SbError::invalid(format!("slice [{start}, {end}) out of range for axis 0 of length {n0}")));
    }
    let plane: usize = self.shape[1..].iter().product();
    let mut shape = self.shape.clone();
    shape[0] = end - start;
    Ok(HostArray { shape, offset: self.offset + start * plane, ..self.clone() })
  }

  /// Zero-copy view with another shape of the same element count.
  pub fn reshape(&self, shape: Vec<usize>) -> SbResult<HostArray> {
    if numel(&shape)? != self.numel() {
      return Err(SbError::invalid(format!("cannot reshape {:?} ({} elements) to {:?}", self.shape, self.numel(), shape)));
    }
    Ok(HostArray { shape, ..self.clone() })
  }

  /// The same array over an alias of its storage (see `Storage::alias`), for async work.
  pub fn for_work(&self) -> SbResult<HostArray> {
    Ok(HostArray { storage: self.storage.alias()?, ..self.clone() })
  }

  pub fn shares_memory_with(&self, other: &HostArray) -> bool {
    Arc::ptr_eq(&self.storage, &other.storage)
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn slices_and_views_share_memory() {
    let a = HostArray::alloc(vec![4, 2, 3], DType::U16, MemoryType::Numpy, true).unwrap();
    let s = a.slice_axis0(1, 3).unwrap();
    assert_eq!(s.shape, vec![2, 2, 3]);
    assert_eq!(s.offset, 6);
    s.pin().unwrap().as_mut_slice::<u16>()[0] = 7;
    assert_eq!(a.pin().unwrap().as_slice::<u16>()[6], 7);
    let j = a.view_as(MemoryType::Jax);
    assert!(j.readonly && j.shares_memory_with(&a));
    assert!(j.view_as(MemoryType::Numpy).readonly, "a view of a jax array stays read-only");
    assert!(a.slice_axis0(3, 5).is_err());
    assert!(a.reshape(vec![5, 5]).is_err());
  }
}
