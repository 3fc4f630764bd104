//! `NativeArray`: the JS handle of an engine array.
//!
//! Memory lifetime across JS: all handles over one storage (an array, its views, its zero-copy
//! conversions) share a `Shared` that counts the live handles and owns at most one external
//! ArrayBuffer over the storage (V8 must not see two external buffers over the same memory).
//! `.data()` views that ArrayBuffer. When the last handle is disposed, the ArrayBuffer is detached
//! (every TypedArray over it becomes length 0) and only then is the memory freed, so JS can never
//! read freed memory. When the last handle is garbage-collected instead, the ArrayBuffer is left to
//! the GC and keeps the memory alive until it is collected too.

use crate::errors::{catch, guard};
use crate::raw::{check, owned_typed_array, typed_array, Raw};
use napi::bindgen_prelude::*;
use napi::sys;
use napi_derive::napi;
use stackbridge_core::alloc::Block;
use stackbridge_core::{Device, HostArray, SbError, SbResult};
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

type PinSlot = Arc<Mutex<Option<Arc<Block>>>>;

struct ArrayBufferRef {
  reference: usize, // napi_ref, used on the JS thread only
  pin: PinSlot,
}

struct Shared {
  live: AtomicUsize,
  ab: Mutex<Option<ArrayBufferRef>>,
}

impl Shared {
  fn new() -> Arc<Shared> {
    Arc::new(Shared { live: AtomicUsize::new(0), ab: Mutex::new(None) })
  }
}

#[napi(custom_finalize)]
pub struct NativeArray {
  inner: HostArray,
  /// Set by the first `dispose()`. A flag, not a `take()`, so `dispose` needs only `&self`: napi-rs
  /// refuses a `&mut` borrow while an async operation on the same handle still holds its `&` borrow,
  /// and dispose must never throw (the operation keeps its alias and completes).
  released: std::cell::Cell<bool>,
  shared: Arc<Shared>,
}

unsafe extern "C" fn release_pin(_env: sys::napi_env, _data: *mut std::ffi::c_void, hint: *mut std::ffi::c_void) {
  let slot = unsafe { Box::from_raw(hint as *mut PinSlot) };
  slot.lock().unwrap_or_else(|p| p.into_inner()).take();
}

impl NativeArray {
  /// A handle over a new storage.
  pub fn fresh(a: HostArray) -> NativeArray {
    NativeArray::with_shared(a, Shared::new())
  }

  /// A handle over the storage of an existing handle (a view).
  fn with_shared(a: HostArray, shared: Arc<Shared>) -> NativeArray {
    shared.live.fetch_add(1, Ordering::SeqCst);
    NativeArray { inner: a, released: std::cell::Cell::new(false), shared }
  }

  pub fn view(&self, a: HostArray) -> NativeArray {
    NativeArray::with_shared(a, self.shared.clone())
  }

  pub fn alive(&self) -> SbResult<&HostArray> {
    let a = &self.inner;
    if self.released.get() || a.storage.is_freed() {
      return Err(SbError::disposed());
    }
    Ok(a)
  }

  /// Drops this handle's hold; the last one frees (explicit) or hands the memory to the GC.
  fn release(&self, env: sys::napi_env, explicit: bool) {
    if self.released.replace(true) {
      return;
    }
    let arr = &self.inner;
    if self.shared.live.fetch_sub(1, Ordering::SeqCst) != 1 {
      return;
    }
    let ab = self.shared.ab.lock().unwrap_or_else(|p| p.into_inner()).take();
    if let Some(ab) = ab {
      let r = ab.reference as sys::napi_ref;
      unsafe {
        if explicit {
          let mut value = ptr::null_mut();
          if sys::napi_get_reference_value(env, r, &mut value) == sys::Status::napi_ok && !value.is_null() {
            sys::napi_detach_arraybuffer(env, value);
          }
          ab.pin.lock().unwrap_or_else(|p| p.into_inner()).take();
        }
        sys::napi_delete_reference(env, r);
      }
    }
    if explicit {
      arr.storage.free();
    }
  }

  unsafe fn data_raw(&self, env: sys::napi_env) -> SbResult<sys::napi_value> {
    let a = self.alive()?;
    if a.device() != Device::Host {
      return Err(SbError::invalid(format!("data lives on {}; use toTypedArray() to copy it to the host", a.device())));
    }
    let mut guard = self.shared.ab.lock().unwrap_or_else(|p| p.into_inner());
    let mut ab = ptr::null_mut();
    if let Some(r) = guard.as_ref() {
      check(unsafe { sys::napi_get_reference_value(env, r.reference as sys::napi_ref, &mut ab) }, "napi_get_reference_value")?;
    }
    if ab.is_null() {
      let block = a.storage.pin()?;
      let len = a.storage.bytes();
      let slot: PinSlot = Arc::new(Mutex::new(Some(block.clone())));
      let hint = Box::into_raw(Box::new(slot.clone()));
      let st = unsafe { sys::napi_create_external_arraybuffer(env, block.as_ptr().cast(), len, Some(release_pin), hint.cast(), &mut ab) };
      if st != sys::Status::napi_ok {
        drop(unsafe { Box::from_raw(hint) });
        return Err(SbError::invalid(format!("cannot expose host memory to JS (napi status {st})")));
      }
      let mut reference = ptr::null_mut();
      check(unsafe { sys::napi_create_reference(env, ab, 1, &mut reference) }, "napi_create_reference")?;
      *guard = Some(ArrayBufferRef { reference: reference as usize, pin: slot });
    }
    unsafe { typed_array(env, ab, a.dtype, a.numel(), a.byte_offset()) }
  }
}

impl ObjectFinalize for NativeArray {
  fn finalize(self, env: Env) -> Result<()> {
    self.release(env.raw(), false);
    Ok(())
  }
}

fn dims(v: &[usize]) -> Vec<f64> {
  v.iter().map(|&d| d as f64).collect()
}

fn index(v: f64, what: &str) -> SbResult<usize> {
  if !v.is_finite() || v < 0.0 || v.fract() != 0.0 || v > 9.0e15 {
    return Err(SbError::invalid(format!("{what} must be a non-negative integer, got {v}")));
  }
  Ok(v as usize)
}

#[napi]
impl NativeArray {
  #[napi(getter)]
  pub fn dtype(&self) -> Result<String> {
    guard(|| Ok(self.alive()?.dtype.name().to_string()))
  }

  #[napi(getter)]
  pub fn shape(&self) -> Result<Vec<f64>> {
    guard(|| Ok(dims(&self.alive()?.shape)))
  }

  #[napi(getter)]
  pub fn strides(&self) -> Result<Vec<f64>> {
    guard(|| Ok(dims(&self.alive()?.strides())))
  }

  #[napi(getter)]
  pub fn memory_type(&self) -> Result<String> {
    guard(|| Ok(self.alive()?.memory_type.name().to_string()))
  }

  #[napi(getter)]
  pub fn device(&self) -> Result<String> {
    guard(|| Ok(self.alive()?.device().to_string()))
  }

  #[napi(getter)]
  pub fn readonly(&self) -> Result<bool> {
    guard(|| Ok(self.alive()?.readonly))
  }

  #[napi(getter)]
  pub fn disposed(&self) -> bool {
    self.alive().is_err()
  }

  #[napi(getter)]
  pub fn size(&self) -> Result<f64> {
    guard(|| Ok(self.alive()?.numel() as f64))
  }

  #[napi(getter)]
  pub fn nbytes(&self) -> Result<f64> {
    guard(|| Ok(self.alive()?.nbytes() as f64))
  }

  /// Zero-copy TypedArray view (host only).
  #[napi(ts_return_type = "Uint8Array | Uint16Array | Int16Array | Int32Array | Float32Array | Float64Array")]
  pub fn data(&self, env: Env) -> Result<Raw> {
    guard(|| unsafe { self.data_raw(env.raw()) }.map(Raw))
  }

  /// A JS-owned copy of the elements, taken on a worker thread.
  #[napi(ts_return_type = "Promise<Uint8Array | Uint16Array | Int16Array | Int32Array | Float32Array | Float64Array>")]
  pub fn to_typed_array(&self) -> Result<AsyncTask<ToTypedArray>> {
    guard(|| Ok(AsyncTask::new(ToTypedArray { array: self.alive()?.for_work()? })))
  }

  #[napi]
  pub fn dispose(&self, env: Env) {
    let _ = catch(|| {
      self.release(env.raw(), true);
      Ok(())
    });
  }

  #[napi]
  pub fn slice_z(&self, start: f64, end: f64) -> Result<NativeArray> {
    guard(|| {
      let a = self.alive()?;
      let v = a.slice_axis0(index(start, "start")?, index(end, "end")?)?;
      Ok(self.view(v))
    })
  }

  #[napi]
  pub fn reshape(&self, shape: Vec<f64>) -> Result<NativeArray> {
    guard(|| {
      let s = stackbridge_core::shape::shape_from_f64(&shape)?;
      Ok(self.view(self.alive()?.reshape(s)?))
    })
  }

  #[napi]
  pub fn shares_memory_with(&self, other: &NativeArray) -> Result<bool> {
    guard(|| Ok(self.alive()?.shares_memory_with(other.alive()?)))
  }
}

pub struct ToTypedArray {
  array: HostArray,
}

impl Task for ToTypedArray {
  type Output = Vec<u64>;
  type JsValue = Raw;

  fn compute(&mut self) -> Result<Self::Output> {
    guard(|| {
      let a = &self.array;
      let block = a.storage.block()?;
      let n = a.nbytes();
      let mut words = vec![0u64; n.div_ceil(8)];
      // SAFETY: words has at least n bytes.
      let dst = unsafe { std::slice::from_raw_parts_mut(words.as_mut_ptr() as *mut u8, n) };
      if block.host_addressable() {
        stackbridge_core::ops::par_copy(dst, a.pin()?.bytes());
      } else {
        // Device memory: the device's backend copies it out (after the stream that wrote it).
        let dev = stackbridge_core::backend::device(a.device())?;
        stackbridge_core::backend::order_before_use(dev.as_ref(), &block)?;
        dev.download(&block, a.byte_offset(), dst)?;
      }
      Ok(words)
    })
  }

  fn resolve(&mut self, env: Env, output: Self::Output) -> Result<Self::JsValue> {
    let (nbytes, dtype) = (self.array.nbytes(), self.array.dtype);
    guard(|| unsafe { owned_typed_array(env.raw(), output, nbytes, dtype) }.map(Raw))
  }
}
