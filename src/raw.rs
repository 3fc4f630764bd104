//! Raw napi values for results whose JS type depends on data (a TypedArray of the array's dtype).

use napi::bindgen_prelude::{ToNapiValue, TypeName, ValueType};
use napi::sys;
use stackbridge_core::{DType, SbError, SbResult};
use std::ptr;

pub struct Raw(pub sys::napi_value);

impl TypeName for Raw {
  fn type_name() -> &'static str {
    "unknown"
  }
  fn value_type() -> ValueType {
    ValueType::Unknown
  }
}

impl ToNapiValue for Raw {
  unsafe fn to_napi_value(_env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
    Ok(val.0)
  }
}

pub fn check(status: sys::napi_status, what: &str) -> SbResult<()> {
  if status == sys::Status::napi_ok {
    Ok(())
  } else {
    Err(SbError::invalid(format!("{what} failed (napi status {status})")))
  }
}

pub fn typedarray_type(d: DType) -> sys::napi_typedarray_type {
  match d {
    DType::U8 => sys::TypedarrayType::uint8_array,
    DType::U16 => sys::TypedarrayType::uint16_array,
    DType::I16 => sys::TypedarrayType::int16_array,
    DType::I32 => sys::TypedarrayType::int32_array,
    DType::U32 => sys::TypedarrayType::uint32_array,
    DType::F32 => sys::TypedarrayType::float32_array,
    DType::F64 => sys::TypedarrayType::float64_array,
  }
}

/// The largest TypedArray length V8 accepts on 64-bit platforms.
const MAX_TYPEDARRAY_LEN: usize = (1usize << 32) - 1;

/// A TypedArray of `dtype` over `ab` at `byte_offset`.
pub unsafe fn typed_array(env: sys::napi_env, ab: sys::napi_value, dtype: DType, len: usize, byte_offset: usize) -> SbResult<sys::napi_value> {
  if len > MAX_TYPEDARRAY_LEN {
    return Err(SbError::invalid(format!("{len} elements exceed the largest TypedArray V8 supports; use sliceZ() to view parts")));
  }
  let mut out = ptr::null_mut();
  check(unsafe { sys::napi_create_typedarray(env, typedarray_type(dtype), len, ab, byte_offset, &mut out) }, "napi_create_typedarray")?;
  Ok(out)
}

unsafe extern "C" fn drop_vec(_env: sys::napi_env, _data: *mut std::ffi::c_void, hint: *mut std::ffi::c_void) {
  drop(unsafe { Box::from_raw(hint as *mut Vec<u64>) });
}

/// A JS-owned TypedArray holding `bytes` (moved, 8-byte aligned so every dtype can view it).
pub unsafe fn owned_typed_array(env: sys::napi_env, words: Vec<u64>, nbytes: usize, dtype: DType) -> SbResult<sys::napi_value> {
  if nbytes == 0 {
    let mut ab = ptr::null_mut();
    let mut p = ptr::null_mut();
    check(unsafe { sys::napi_create_arraybuffer(env, 0, &mut p, &mut ab) }, "napi_create_arraybuffer")?;
    return unsafe { typed_array(env, ab, dtype, 0, 0) };
  }
  let mut boxed = Box::new(words);
  let data = if boxed.is_empty() { ptr::NonNull::<u64>::dangling().as_ptr() } else { boxed.as_mut_ptr() };
  let hint = Box::into_raw(boxed);
  let mut ab = ptr::null_mut();
  let st = unsafe { sys::napi_create_external_arraybuffer(env, data.cast(), nbytes, Some(drop_vec), hint.cast(), &mut ab) };
  if st != sys::Status::napi_ok {
    drop(unsafe { Box::from_raw(hint) });
    return Err(SbError::invalid("napi_create_external_arraybuffer failed"));
  }
  unsafe { typed_array(env, ab, dtype, nbytes / dtype.size(), 0) }
}
