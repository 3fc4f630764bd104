//! Array creation and the engine operations exposed to TS (casts, scaling, concatenation).

use crate::array::NativeArray;
use crate::errors::guard;
use crate::jobs::ArrayJob;
use crate::raw::check;
use napi::bindgen_prelude::*;
use napi::sys;
use napi_derive::napi;
use stackbridge_core::conversion::placement;
use stackbridge_core::shape::shape_from_f64;
use stackbridge_core::{backend, ops, Cancel, DType, Device, HostArray, MemoryType, SbError, SbResult};
use std::ptr;

/// Host memory types only: device kinds are reached through `convert`.
fn host_memory_type(name: &str) -> SbResult<MemoryType> {
  let mt = MemoryType::parse(name)?;
  match placement(mt, None, &crate::devices::topology())? {
    Device::Host => Ok(mt),
    other => Err(SbError::invalid(format!("{name} arrays live on {other}; create a host array and convert it"))),
  }
}

fn typed_array_dtype(t: sys::napi_typedarray_type) -> Option<DType> {
  Some(match t {
    sys::TypedarrayType::uint8_array => DType::U8,
    sys::TypedarrayType::uint16_array => DType::U16,
    sys::TypedarrayType::int16_array => DType::I16,
    sys::TypedarrayType::int32_array => DType::I32,
    sys::TypedarrayType::uint32_array => DType::U32,
    sys::TypedarrayType::float32_array => DType::F32,
    sys::TypedarrayType::float64_array => DType::F64,
    _ => return None,
  })
}

/// Reads `data` (a TypedArray or an array of numbers) into a new host array of `shape`.
unsafe fn read_into(env: sys::napi_env, data: sys::napi_value, shape: Vec<usize>, dtype: Option<DType>, mt: MemoryType) -> SbResult<HostArray> {
  let n: usize = shape.iter().product();
  let mut is_ta = false;
  check(unsafe { sys::napi_is_typedarray(env, data, &mut is_ta) }, "napi_is_typedarray")?;
  if is_ta {
    let (mut t, mut len, mut p, mut ab, mut off) = (0, 0usize, ptr::null_mut(), ptr::null_mut(), 0usize);
    check(unsafe { sys::napi_get_typedarray_info(env, data, &mut t, &mut len, &mut p, &mut ab, &mut off) }, "napi_get_typedarray_info")?;
    let src_dtype = typed_array_dtype(t).ok_or_else(|| SbError::dtype("unsupported TypedArray kind; use Uint8, Uint16, Int16, Int32, Float32 or Float64"))?;
    if len != n {
      return Err(SbError::invalid(format!("data has {len} elements but shape {shape:?} needs {n}")).with("length", len).with("expected", n));
    }
    let dtype = dtype.unwrap_or(src_dtype);
    let out = HostArray::alloc(shape, dtype, mt, false)?;
    let src: &[u8] = if len == 0 { &[] } else { unsafe { std::slice::from_raw_parts(p as *const u8, len * src_dtype.size()) } };
    ops::cast_bytes_into(src, src_dtype, out.pin()?.as_mut_bytes(), dtype)?;
    return Ok(HostArray { readonly: mt.is_immutable(), ..out });
  }
  let mut is_arr = false;
  check(unsafe { sys::napi_is_array(env, data, &mut is_arr) }, "napi_is_array")?;
  if !is_arr {
    return Err(SbError::invalid("data must be a TypedArray or an array of numbers"));
  }
  let mut len = 0u32;
  check(unsafe { sys::napi_get_array_length(env, data, &mut len) }, "napi_get_array_length")?;
  if len as usize != n {
    return Err(SbError::invalid(format!("data has {len} elements but shape {shape:?} needs {n}")).with("length", len).with("expected", n));
  }
  let mut values = Vec::with_capacity(n);
  for i in 0..len {
    let mut el = ptr::null_mut();
    check(unsafe { sys::napi_get_element(env, data, i, &mut el) }, "napi_get_element")?;
    let mut v = 0f64;
    if unsafe { sys::napi_get_value_double(env, el, &mut v) } != sys::Status::napi_ok {
      return Err(SbError::invalid(format!("data[{i}] is not a number")));
    }
    values.push(v);
  }
  let dtype = dtype.unwrap_or(DType::F64);
  let out = HostArray::alloc(shape, dtype, mt, false)?;
  let bytes = unsafe { std::slice::from_raw_parts(values.as_ptr() as *const u8, values.len() * 8) };
  ops::cast_bytes_into(bytes, DType::F64, out.pin()?.as_mut_bytes(), dtype)?;
  Ok(HostArray { readonly: mt.is_immutable(), ..out })
}

/// Where a new array of `name` lives (cupy on cuda:0, pyclesperanto on opencl:0, torch/jax on
/// cuda:0 where there is one, else the host).
fn placed(name: &str) -> SbResult<(MemoryType, Device)> {
  let mt = MemoryType::parse(name)?;
  let dev = placement(mt, None, &crate::devices::topology())?;
  if dev == Device::Tfjs {
    return Err(SbError::invalid("tensorflow tensors are made by tfjs; create a numpy array and convert it"));
  }
  Ok((mt, dev))
}

/// An array holding a copy of `data`, on the memory type's device.
#[napi]
pub fn asarray(env: Env, data: Unknown, shape: Vec<f64>, dtype: Option<String>, memory_type: String) -> Result<NativeArray> {
  guard(|| {
    let shape = shape_from_f64(&shape)?;
    let dtype = dtype.as_deref().map(DType::parse).transpose()?;
    let (mt, dev) = placed(&memory_type)?;
    let a = unsafe { read_into(env.raw(), napi::JsValue::raw(&data), shape, dtype, mt)? };
    if dev == Device::Host {
      return Ok(NativeArray::fresh(a));
    }
    // The data came from JS, so it is read on this thread anyway; its upload follows.
    Ok(NativeArray::fresh(backend::transfer(&a, dev, mt, &Cancel::none())?))
  })
}

/// A zeroed array, allocated on the memory type's device.
#[napi]
pub fn zeros(shape: Vec<f64>, dtype: String, memory_type: String) -> Result<NativeArray> {
  guard(|| {
    let shape = shape_from_f64(&shape)?;
    let dtype = DType::parse(&dtype)?;
    let (mt, dev) = placed(&memory_type)?;
    let a = HostArray::alloc_on(dev, shape, dtype, mt, true)?;
    Ok(NativeArray::fresh(HostArray { readonly: mt.is_immutable(), ..a }))
  })
}

#[napi(ts_return_type = "Promise<NativeArray>")]
pub fn astype(array: &NativeArray, dtype: String) -> Result<AsyncTask<ArrayJob>> {
  guard(|| {
    let (a, d) = (array.alive()?.for_work()?, DType::parse(&dtype)?);
    Ok(ArrayJob::new(move || ops::astype(&a, d)))
  })
}

#[napi(ts_return_type = "Promise<NativeArray>")]
pub fn scale_to_dtype(array: &NativeArray, dtype: String) -> Result<AsyncTask<ArrayJob>> {
  guard(|| {
    let (a, d) = (array.alive()?.for_work()?, DType::parse(&dtype)?);
    Ok(ArrayJob::new(move || ops::scale_to_dtype(&a, d)))
  })
}

#[napi(ts_return_type = "Promise<NativeArray>")]
pub fn copy_array(array: &NativeArray) -> Result<AsyncTask<ArrayJob>> {
  guard(|| {
    let a = array.alive()?.for_work()?;
    // On the array's own device, through its backend (a device-to-device copy for CUDA memory).
    Ok(ArrayJob::new(move || backend::transfer(&a, a.device(), a.memory_type, &Cancel::none())))
  })
}

fn collect(arrays: &[&NativeArray]) -> SbResult<Vec<HostArray>> {
  arrays.iter().map(|a| a.alive()?.for_work()).collect()
}

#[napi(ts_return_type = "Promise<NativeArray>")]
pub fn concat_z(arrays: Vec<&NativeArray>) -> Result<AsyncTask<ArrayJob>> {
  guard(|| {
    let parts = collect(&arrays)?;
    Ok(ArrayJob::new(move || ops::concat_axis0(&parts)))
  })
}

#[napi(ts_return_type = "Promise<NativeArray>")]
pub fn stack_slices(slices: Vec<&NativeArray>, memory_type: String) -> Result<AsyncTask<ArrayJob>> {
  guard(|| {
    let mt = host_memory_type(&memory_type)?;
    let parts = collect(&slices)?;
    Ok(ArrayJob::new(move || ops::stack_2d(&parts, mt)))
  })
}

/// Test hook: a panic inside an export (sync) or a worker task (async) must come back as
/// `InternalError`, with the process alive.
#[napi(ts_return_type = "Promise<NativeArray> | void")]
pub fn debug_panic(async_task: bool) -> Result<Either<AsyncTask<ArrayJob>, ()>> {
  if async_task {
    return Ok(Either::A(ArrayJob::new(|| panic!("deliberate panic in a worker task"))));
  }
  guard(|| -> SbResult<()> { panic!("deliberate panic in a synchronous export") }).map(Either::B)
}
