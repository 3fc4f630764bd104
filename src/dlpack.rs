//! DLPack capsules for JS (`toDlpack` / `fromDlpack`): engine memory shared with other native code,
//! zero-copy. The conversion itself is core's (`stackbridge_core::dlpack`); this is the JS handle.
//!
//! A capsule is a napi External whose data pointer is a `DlpackSlot` — `{ DLManagedTensorVersioned*
//! tensor }`, C layout — type-tagged with `DLPACK_TAG` (napi_type_tag_object). Another addon consumes it
//! with napi_check_object_type_tag + napi_get_value_external, then takes ownership by swapping
//! `tensor` to NULL (atomically). A capsule nobody consumed deletes its tensor when it is collected.

use std::ffi::c_void;
use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};

use crate::array::NativeArray;
use crate::errors::guard;
use crate::raw::{check, Raw};
use dlpark::ffi::DLManagedTensorVersioned;
use napi::bindgen_prelude::*;
use napi::sys;
use napi_derive::napi;
use stackbridge_core::dlpack::{export, import, importable, Tensor};
use stackbridge_core::{MemoryType, SbError, SbResult};

/// The capsule's payload: what other addons read through `napi_get_value_external`.
#[repr(C)]
pub struct DlpackSlot {
  tensor: AtomicPtr<DLManagedTensorVersioned>,
}

/// The type tag of stackbridge DLPack capsules: lower 0x5b1c0f0ed1bac801, upper 0x737461636b627264.
pub const DLPACK_TAG: sys::napi_type_tag = sys::napi_type_tag { lower: 0x5b1c_0f0e_d1ba_c801, upper: 0x7374_6163_6b62_7264 };

unsafe extern "C" fn finalize_slot(_env: sys::napi_env, data: *mut c_void, _hint: *mut c_void) {
  let slot = unsafe { Box::from_raw(data as *mut DlpackSlot) };
  let raw = slot.tensor.swap(ptr::null_mut(), Ordering::AcqRel);
  if !raw.is_null() {
    // SAFETY: the slot owned this tensor (nobody took it): dropping runs its deleter once.
    drop(unsafe { Tensor::from_raw(raw) });
  }
}

/// `array` as a DLPack capsule over the same memory (host arrays; read-only flag for read-only arrays).
#[napi(ts_return_type = "object")]
pub fn to_dlpack(env: Env, array: &NativeArray) -> Result<Raw> {
  guard(|| {
    let tensor = export(array.alive()?)?;
    let slot = Box::into_raw(Box::new(DlpackSlot { tensor: AtomicPtr::new(tensor.into_raw()) }));
    let mut out = ptr::null_mut();
    // SAFETY: the finalizer owns `slot` from here on.
    unsafe {
      if let Err(e) = check(sys::napi_create_external(env.raw(), slot as *mut c_void, Some(finalize_slot), ptr::null_mut(), &mut out), "napi_create_external") {
        finalize_slot(env.raw(), slot as *mut c_void, ptr::null_mut());
        return Err(e);
      }
      check(sys::napi_type_tag_object(env.raw(), out, &DLPACK_TAG), "napi_type_tag_object")?;
    }
    Ok(Raw(out))
  })
}

/// The tensor of a capsule, taken out of it (a capsule is consumed once) when it can be imported
/// as `mt`; refused otherwise, with the capsule left as it was.
unsafe fn take(env: sys::napi_env, capsule: sys::napi_value, mt: MemoryType) -> SbResult<Tensor> {
  let mut kind = 0;
  check(unsafe { sys::napi_typeof(env, capsule, &mut kind) }, "napi_typeof")?;
  let mut tagged = false;
  if kind == sys::ValueType::napi_external {
    check(unsafe { sys::napi_check_object_type_tag(env, capsule, &DLPACK_TAG, &mut tagged) }, "napi_check_object_type_tag")?;
  }
  if !tagged {
    return Err(SbError::invalid("fromDlpack expects a DLPack capsule made by toDlpack (or an External tagged as one)"));
  }
  let mut data = ptr::null_mut();
  check(unsafe { sys::napi_get_value_external(env, capsule, &mut data) }, "napi_get_value_external")?;
  let slot = unsafe { &*(data as *const DlpackSlot) };
  let peek = slot.tensor.load(Ordering::Acquire);
  if !peek.is_null() {
    // SAFETY: a tensor still in the slot is alive (its owner is the slot).
    importable(unsafe { (*peek).dl_tensor.device }, mt)?;
  }
  let raw = slot.tensor.swap(ptr::null_mut(), Ordering::AcqRel);
  if raw.is_null() {
    return Err(SbError::invalid("this DLPack capsule was already consumed"));
  }
  // SAFETY: the slot held the only owner of `raw`; it is now ours.
  unsafe { Tensor::from_raw(raw) }.map_err(|e| SbError::invalid(format!("not a usable DLPack tensor: {e}")))
}

/// A zero-copy engine array over a capsule's memory (host: numpy/torch/jax; CUDA: cupy/torch/jax).
#[napi]
pub fn from_dlpack(env: Env, capsule: Unknown, memory_type: String) -> Result<NativeArray> {
  guard(|| {
    let mt = MemoryType::parse(&memory_type)?;
    // SAFETY: `capsule` is a live value of this env.
    let tensor = unsafe { take(env.raw(), napi::JsValue::raw(&capsule), mt)? };
    Ok(NativeArray::fresh(import(tensor, mt)?))
  })
}
