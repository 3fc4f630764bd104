//! Typed errors with stable codes. The TypeScript classes in `ts/errors.ts` use exactly these codes.

use serde_json::{Map, Value};
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
  MemoryConversion,
  CpuRoundtripRequired,
  UnsupportedConversion,
  UnknownMemoryType,
  Device,
  GpuUnavailable,
  InvalidDevice,
  DeviceMismatch,
  DeviceLost,
  MemoryTypeUnavailable,
  OutOfMemory,
  Dimension,
  Dtype,
  InvalidArgument,
  KernelCompile,
  Disposed,
  Pipeline,
  Contract,
  Aborted,
  ImageFormat,
  PlateLayout,
  Internal,
}

impl ErrorCode {
  pub const ALL: [ErrorCode; 22] = [
    ErrorCode::MemoryConversion,
    ErrorCode::CpuRoundtripRequired,
    ErrorCode::UnsupportedConversion,
    ErrorCode::UnknownMemoryType,
    ErrorCode::Device,
    ErrorCode::GpuUnavailable,
    ErrorCode::InvalidDevice,
    ErrorCode::DeviceMismatch,
    ErrorCode::DeviceLost,
    ErrorCode::MemoryTypeUnavailable,
    ErrorCode::OutOfMemory,
    ErrorCode::Dimension,
    ErrorCode::Dtype,
    ErrorCode::InvalidArgument,
    ErrorCode::KernelCompile,
    ErrorCode::Disposed,
    ErrorCode::Pipeline,
    ErrorCode::Contract,
    ErrorCode::Aborted,
    ErrorCode::ImageFormat,
    ErrorCode::PlateLayout,
    ErrorCode::Internal,
  ];

  pub fn as_str(self) -> &'static str {
    match self {
      ErrorCode::MemoryConversion => "SB_MEMORY_CONVERSION",
      ErrorCode::CpuRoundtripRequired => "SB_CPU_ROUNDTRIP_REQUIRED",
      ErrorCode::UnsupportedConversion => "SB_UNSUPPORTED_CONVERSION",
      ErrorCode::UnknownMemoryType => "SB_UNKNOWN_MEMORY_TYPE",
      ErrorCode::Device => "SB_DEVICE",
      ErrorCode::GpuUnavailable => "SB_GPU_UNAVAILABLE",
      ErrorCode::InvalidDevice => "SB_INVALID_DEVICE",
      ErrorCode::DeviceMismatch => "SB_DEVICE_MISMATCH",
      ErrorCode::DeviceLost => "SB_DEVICE_LOST",
      ErrorCode::MemoryTypeUnavailable => "SB_MEMORY_TYPE_UNAVAILABLE",
      ErrorCode::OutOfMemory => "SB_OUT_OF_MEMORY",
      ErrorCode::Dimension => "SB_DIMENSION",
      ErrorCode::Dtype => "SB_DTYPE",
      ErrorCode::InvalidArgument => "SB_INVALID_ARGUMENT",
      ErrorCode::KernelCompile => "SB_KERNEL_COMPILE",
      ErrorCode::Disposed => "SB_DISPOSED",
      ErrorCode::Pipeline => "SB_PIPELINE",
      ErrorCode::Contract => "SB_CONTRACT",
      ErrorCode::Aborted => "SB_ABORTED",
      ErrorCode::ImageFormat => "SB_IMAGE_FORMAT",
      ErrorCode::PlateLayout => "SB_PLATE_LAYOUT",
      ErrorCode::Internal => "SB_INTERNAL",
    }
  }
}

/// An engine error: a code, a message for people and structured details for programs.
#[derive(Clone, Debug, PartialEq)]
pub struct SbError {
  pub code: ErrorCode,
  pub message: String,
  pub details: Map<String, Value>,
}

pub type SbResult<T> = Result<T, SbError>;

impl SbError {
  pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
    SbError { code, message: message.into(), details: Map::new() }
  }

  pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
    self.details.insert(key.to_owned(), value.into());
    self
  }

  pub fn invalid(message: impl Into<String>) -> Self {
    Self::new(ErrorCode::InvalidArgument, message)
  }

  pub fn dtype(message: impl Into<String>) -> Self {
    Self::new(ErrorCode::Dtype, message)
  }

  pub fn dimension(message: impl Into<String>) -> Self {
    Self::new(ErrorCode::Dimension, message)
  }

  /// The operation's cancellation flag was raised (JS: an aborted `signal`).
  pub fn aborted() -> Self {
    Self::new(ErrorCode::Aborted, "The operation was aborted")
  }

  /// A file that cannot be read as an image: `path` names it, the message says what is wrong.
  pub fn image_format(path: &str, problem: impl std::fmt::Display) -> Self {
    Self::new(ErrorCode::ImageFormat, format!("{path}: {problem}")).with("path", path)
  }

  pub fn disposed() -> Self {
    Self::new(ErrorCode::Disposed, "NDArray has been disposed")
  }

  pub fn gpu_unavailable(message: impl Into<String>) -> Self {
    Self::new(ErrorCode::GpuUnavailable, message)
  }

  /// Out of memory on `device`, with the numbers DESIGN §3 requires.
  pub fn out_of_memory(device: &str, requested: u64, free: u64, limit: Option<u64>) -> Self {
    let limit_txt = limit.map(|l| format!(", limit {l} B")).unwrap_or_default();
    Self::new(
      ErrorCode::OutOfMemory,
      format!("out of memory on {device}: requested {requested} B, free {free} B{limit_txt}"),
    )
    .with("device", device)
    .with("requestedBytes", requested)
    .with("freeBytes", free)
    .with("limitBytes", limit.map(Value::from).unwrap_or(Value::Null))
  }

  /// The wire form read by `translateNativeError` in ts/errors.ts.
  pub fn to_json(&self) -> String {
    let mut m = Map::new();
    m.insert("sb".into(), Value::from(self.code.as_str()));
    m.insert("message".into(), Value::from(self.message.clone()));
    m.insert("details".into(), Value::Object(self.details.clone()));
    Value::Object(m).to_string()
  }
}

impl fmt::Display for SbError {
  fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    write!(f, "[{}] {}", self.code.as_str(), self.message)
  }
}

impl std::error::Error for SbError {}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn codes_are_unique_and_prefixed() {
    let mut seen = std::collections::HashSet::new();
    for c in ErrorCode::ALL {
      assert!(c.as_str().starts_with("SB_"));
      assert!(seen.insert(c.as_str()));
    }
  }

  #[test]
  fn oom_carries_numbers_in_json() {
    let e = SbError::out_of_memory("cpu", 100, 40, Some(64));
    let v: Value = serde_json::from_str(&e.to_json()).unwrap();
    assert_eq!(v["sb"], "SB_OUT_OF_MEMORY");
    assert_eq!(v["details"]["requestedBytes"], 100);
    assert_eq!(v["details"]["freeBytes"], 40);
    assert_eq!(v["details"]["limitBytes"], 64);
  }
}
