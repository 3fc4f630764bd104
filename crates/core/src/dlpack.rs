//! DLPack 1.x exchange (dlpark): an engine array as a `DLManagedTensorVersioned` other native code can
//! use without a copy, and such a tensor as an engine array: host memory (kDLCPU) and CUDA device
//! memory (kDLCUDA, device id = the N of `cuda:N`).
//!
//! Export: the managed tensor's context holds a pin of the array's block, so the memory stays valid
//! until the consumer calls the deleter — on any thread (dropping a pin only returns the block to the
//! allocator's cache, which is thread-safe) — even if the array was disposed meanwhile. A read-only
//! array (jax, or a view of one) is exported with `READ_ONLY`.
//!
//! Import: the producer's deleter runs when the last engine handle over the memory goes; a tensor
//! flagged `READ_ONLY` becomes a read-only array whatever its memory type.

use std::ptr::NonNull;
use std::sync::Arc;

use dlpark::ffi::{DLDataType, DLDataTypeCode, DLDevice, DLDeviceType, DLManagedTensorVersioned};
use dlpark::metadata::Dynamic;
use dlpark::{DlpackFlags, Managed};

use crate::alloc::Block;
use crate::array::HostArray;
use crate::dtype::DType;
use crate::error::{SbError, SbResult};
use crate::memory_type::{Device, MemoryType};
use crate::storage::Storage;

/// An owned DLPack 1.x managed tensor (its deleter runs on drop unless a consumer took it).
pub type Tensor = Managed<DLManagedTensorVersioned>;

fn dl_dtype(dtype: DType) -> DLDataType {
  let (code, bits) = match dtype {
    DType::U8 => (DLDataTypeCode::UINT, 8),
    DType::U16 => (DLDataTypeCode::UINT, 16),
    DType::I16 => (DLDataTypeCode::INT, 16),
    DType::I32 => (DLDataTypeCode::INT, 32),
    DType::U32 => (DLDataTypeCode::UINT, 32),
    DType::F32 => (DLDataTypeCode::FLOAT, 32),
    DType::F64 => (DLDataTypeCode::FLOAT, 64),
  };
  DLDataType { code, bits, lanes: 1 }
}

fn engine_dtype(t: DLDataType) -> SbResult<DType> {
  Ok(match (t.code, t.bits, t.lanes) {
    (DLDataTypeCode::UINT, 8, 1) | (DLDataTypeCode::BOOL, 8, 1) => DType::U8,
    (DLDataTypeCode::UINT, 16, 1) => DType::U16,
    (DLDataTypeCode::INT, 16, 1) => DType::I16,
    (DLDataTypeCode::INT, 32, 1) => DType::I32,
    (DLDataTypeCode::UINT, 32, 1) => DType::U32,
    (DLDataTypeCode::FLOAT, 32, 1) => DType::F32,
    (DLDataTypeCode::FLOAT, 64, 1) => DType::F64,
    _ => {
      return Err(SbError::dtype(format!(
        "DLPack dtype (code {}, {} bits, {} lanes) has no engine dtype (uint8/16, int16/32, float32/64, bool)",
        t.code.0, t.bits, t.lanes
      )))
    }
  })
}

/// The context a exported tensor carries: the pinned block (the strides live in dlpark's allocation).
struct Exported {
  _block: Arc<Block>,
}

/// `array` as a DLPack tensor over the same memory.
pub fn export(array: &HostArray) -> SbResult<Tensor> {
  let device = match array.device() {
    Device::Host => DLDevice { device_type: DLDeviceType::CPU, device_id: 0 },
    // Every engine operation on a CUDA device has finished its stream when it returns, so the
    // memory is ready for a consumer on any stream.
    Device::Cuda(n) => DLDevice { device_type: DLDeviceType::CUDA, device_id: n as i32 },
    other => {
      return Err(SbError::invalid(format!(
        "toDlpack takes host and CUDA arrays; this array lives on {other}: convert it to numpy first"
      )))
    }
  };
  let block = array.storage.block()?;
  // The block outlives the tensor (it is the tensor's context); the offset is inside it.
  let data = (block.addr() + array.byte_offset()) as *mut u8;
  let shape: Vec<i64> = array.shape.iter().map(|&d| d as i64).collect();
  let prepared = Dynamic::compact(shape).prepare().map_err(|e| SbError::invalid(format!("DLPack metadata: {e}")))?;
  let mut init = prepared.initialize(Box::new(Exported { _block: block }));
  init
    .set_data(data.cast())
    .set_device(device)
    .set_dtype(dl_dtype(array.dtype))
    .set_byte_offset(0);
  if array.readonly {
    init.set_flags(DlpackFlags::READ_ONLY).map_err(|e| SbError::invalid(format!("DLPack flags: {e}")))?;
  }
  // SAFETY: data, device, dtype, shape and strides are all set and valid for the tensor's lifetime.
  Ok(unsafe { init.finish() })
}

/// Where a tensor on `dev` lives in the engine, if it can be imported as `memory_type` (checked
/// before a capsule is consumed, so a refused call leaves it to its owner).
pub fn importable(dev: DLDevice, memory_type: MemoryType) -> SbResult<Device> {
  let device = match dev.device_type {
    DLDeviceType::CPU | DLDeviceType::CUDAHOST => Device::Host,
    DLDeviceType::CUDA if dev.device_id >= 0 => Device::Cuda(dev.device_id as u32),
    _ => {
      return Err(SbError::invalid(format!(
        "fromDlpack takes host (kDLCPU) or CUDA (kDLCUDA) memory; this tensor is on device type {} id {}",
        dev.device_type.0, dev.device_id
      )))
    }
  };
  let kinds: &[MemoryType] =
    if device == Device::Host { &[MemoryType::Numpy, MemoryType::Torch, MemoryType::Jax] } else { &[MemoryType::Cupy, MemoryType::Torch, MemoryType::Jax] };
  if !kinds.contains(&memory_type) {
    let names: Vec<&str> = kinds.iter().map(|k| k.name()).collect();
    return Err(SbError::invalid(format!("a DLPack tensor on {device} imports as {}, not {}", names.join(", "), memory_type.name())));
  }
  Ok(device)
}

/// A DLPack tensor as an engine array of `memory_type`, zero-copy: host memory as numpy, torch or
/// jax on the host; CUDA memory of device N as cupy, torch or jax on `cuda:N`.
pub fn import(tensor: Tensor, memory_type: MemoryType) -> SbResult<HostArray> {
  let (ptr, bytes, dtype, shape, read_only, device) = {
    let view = tensor.validate().map_err(|e| SbError::invalid(format!("not a valid DLPack tensor: {e}")))?;
    let dev = view.device();
    let device = importable(dev, memory_type)?;
    let dtype = engine_dtype(view.dtype())?;
    if !view.is_compact().map_err(|e| SbError::invalid(format!("DLPack strides: {e}")))? {
      return Err(SbError::invalid("fromDlpack takes C-contiguous tensors (engine arrays have C strides); copy it contiguous first"));
    }
    let shape: Vec<usize> = view.shape().iter().map(|&d| d.max(0) as usize).collect();
    let bytes = view.num_bytes();
    let base = view.data_ptr() as *mut u8;
    // SAFETY: byte_offset is part of the producer's description of its own allocation.
    let ptr = unsafe { base.add(view.byte_offset() as usize) };
    if bytes > 0 && (ptr.is_null() || (ptr as usize) % dtype.size() != 0) {
      return Err(SbError::invalid(format!("DLPack data pointer {ptr:p} is not aligned to {} bytes", dtype.size())));
    }
    (ptr, bytes, dtype, shape, tensor.flags().contains(DlpackFlags::READ_ONLY), device)
  };
  let keeper = Box::new(tensor.into_deleter());
  // SAFETY: the producer keeps `bytes` at `ptr` valid until its deleter runs, which happens when the
  // block's keeper (the tensor's deleter) is dropped.
  let block = if device == Device::Host {
    unsafe { Block::foreign(NonNull::new(ptr).unwrap_or(NonNull::dangling()), bytes, keeper) }
  } else {
    // Device memory is accounted by nobody here; the device's allocator only names its owner.
    unsafe { Block::foreign_on(crate::alloc::allocator_for(device)?, ptr as usize, bytes, keeper) }
  };
  Ok(HostArray {
    storage: Storage::from_block(block, device),
    dtype,
    shape,
    offset: 0,
    memory_type,
    readonly: read_only || memory_type == MemoryType::Jax,
  })
}

#[cfg(test)]
mod tests {
  use super::*;

  fn ramp(dtype: DType, shape: Vec<usize>, memory_type: MemoryType) -> HostArray {
    let a = HostArray::alloc(shape, dtype, memory_type, true).unwrap();
    let pinned = a.pin().unwrap();
    for (i, b) in pinned.as_mut_bytes().iter_mut().enumerate() {
      *b = (i * 7 % 251) as u8;
    }
    a
  }

  #[test]
  fn export_describes_the_same_memory() {
    for dtype in DType::ALL {
      let a = ramp(dtype, vec![2, 3, 5], MemoryType::Numpy);
      let t = export(&a).unwrap();
      let v = t.validate().unwrap();
      assert_eq!(v.shape(), &[2, 3, 5]);
      assert_eq!(v.dtype(), dl_dtype(dtype));
      assert_eq!(v.device().device_type, DLDeviceType::CPU);
      assert_eq!(v.data_ptr() as usize, a.pin().unwrap().block().as_ptr() as usize + a.byte_offset());
      assert!(!t.flags().contains(DlpackFlags::READ_ONLY));
    }
  }

  #[test]
  fn round_trip_is_zero_copy_and_keeps_values() {
    let a = ramp(DType::U16, vec![1, 4, 4], MemoryType::Numpy);
    let view = a.slice_axis0(0, 1).unwrap();
    let b = import(export(&view).unwrap(), MemoryType::Torch).unwrap();
    assert_eq!(b.pin().unwrap().bytes(), a.pin().unwrap().bytes());
    // a write through the import is seen by the original: the same memory
    b.pin().unwrap().as_mut_slice::<u16>()[3] = 4242;
    assert_eq!(a.pin().unwrap().as_slice::<u16>()[3], 4242);
  }

  #[test]
  fn jax_is_read_only_both_ways() {
    let a = ramp(DType::F32, vec![1, 2, 2], MemoryType::Jax);
    let mut a = a;
    a.readonly = true;
    let t = export(&a).unwrap();
    assert!(t.flags().contains(DlpackFlags::READ_ONLY));
    // a READ_ONLY tensor imported as numpy stays read-only
    assert!(import(t, MemoryType::Numpy).unwrap().readonly);
    let n = ramp(DType::F32, vec![1, 2, 2], MemoryType::Numpy);
    assert!(import(export(&n).unwrap(), MemoryType::Jax).unwrap().readonly);
  }

  #[test]
  fn the_memory_outlives_a_disposed_array_and_returns_when_the_deleter_runs() {
    let a = ramp(DType::U8, vec![1, 64, 64], MemoryType::Numpy);
    let expected = a.pin().unwrap().bytes().to_vec();
    let t = export(&a).unwrap();
    a.storage.free();
    assert!(a.pin().is_err());
    // the consumer reads valid memory after the dispose, on another thread, and drops it there
    let got = std::thread::spawn(move || {
      let v = t.validate().unwrap();
      // SAFETY: host memory of the tensor's own size
      let bytes = unsafe { std::slice::from_raw_parts(v.data_ptr() as *const u8, v.num_bytes()) }.to_vec();
      drop(t);
      bytes
    })
    .join()
    .unwrap();
    assert_eq!(got, expected);
  }

  #[test]
  fn the_producer_deleter_runs_once_when_the_last_view_goes() {
    let a = ramp(DType::I32, vec![2, 2, 2], MemoryType::Numpy);
    let keeper = a.storage.pin().unwrap();
    let before = Arc::strong_count(&keeper);
    let b = import(export(&a).unwrap(), MemoryType::Numpy).unwrap();
    assert_eq!(Arc::strong_count(&keeper), before + 1, "the export pins the block");
    let view = b.slice_axis0(1, 2).unwrap();
    drop(b);
    assert_eq!(Arc::strong_count(&keeper), before + 1, "a view keeps the import alive");
    drop(view);
    assert_eq!(Arc::strong_count(&keeper), before, "the deleter ran and released the pin");
  }

  #[test]
  fn wrong_tensors_are_typed_errors() {
    let a = ramp(DType::U8, vec![1, 2, 2], MemoryType::Numpy);
    let e = import(export(&a).unwrap(), MemoryType::Cupy).unwrap_err();
    assert_eq!(e.code, crate::error::ErrorCode::InvalidArgument);
    a.storage.free();
    assert_eq!(export(&a).err().map(|e| e.code), Some(crate::error::ErrorCode::Disposed));
  }
}
