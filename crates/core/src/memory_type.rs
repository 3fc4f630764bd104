//! Memory types (the OpenHCS names) and the devices data can live on.

use crate::error::{ErrorCode, SbError, SbResult};
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MemoryType {
  Numpy,
  Cupy,
  Torch,
  Tensorflow,
  Jax,
  Pyclesperanto,
}

impl MemoryType {
  pub const ALL: [MemoryType; 6] = [
    MemoryType::Numpy,
    MemoryType::Cupy,
    MemoryType::Torch,
    MemoryType::Tensorflow,
    MemoryType::Jax,
    MemoryType::Pyclesperanto,
  ];

  pub fn parse(s: &str) -> SbResult<MemoryType> {
    Ok(match s {
      "numpy" => MemoryType::Numpy,
      "cupy" => MemoryType::Cupy,
      "torch" => MemoryType::Torch,
      "tensorflow" => MemoryType::Tensorflow,
      "jax" => MemoryType::Jax,
      "pyclesperanto" => MemoryType::Pyclesperanto,
      other => {
        return Err(
          SbError::new(
            ErrorCode::UnknownMemoryType,
            format!("unknown memory type {other:?}; expected numpy, cupy, torch, tensorflow, jax or pyclesperanto"),
          )
          .with("memoryType", other),
        )
      }
    })
  }

  pub fn name(self) -> &'static str {
    match self {
      MemoryType::Numpy => "numpy",
      MemoryType::Cupy => "cupy",
      MemoryType::Torch => "torch",
      MemoryType::Tensorflow => "tensorflow",
      MemoryType::Jax => "jax",
      MemoryType::Pyclesperanto => "pyclesperanto",
    }
  }

  /// JAX arrays are immutable; so is any zero-copy view of one.
  pub fn is_immutable(self) -> bool {
    self == MemoryType::Jax
  }
}

/// Where data lives: the storage domains of DESIGN §1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Device {
  Host,
  Cuda(u32),
  OpenCl(u32),
  /// Owned by TF.js (its backend decides where).
  Tfjs,
}

/// The storage domain of a device: conversions inside one domain are zero-copy or device moves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Domain {
  Host,
  Cuda,
  OpenCl,
  Tfjs,
}

impl Device {
  pub fn parse(s: &str) -> SbResult<Device> {
    let bad = || {
      SbError::new(ErrorCode::InvalidDevice, format!("invalid device id {s:?}; expected 'cpu', 'cuda:N' or 'opencl:N'"))
        .with("device", s)
    };
    if s == "cpu" {
      return Ok(Device::Host);
    }
    if s == "tfjs" {
      return Ok(Device::Tfjs);
    }
    let (kind, idx) = s.split_once(':').ok_or_else(bad)?;
    if idx.is_empty() || !idx.bytes().all(|b| b.is_ascii_digit()) || idx.len() > 9 {
      return Err(bad());
    }
    let n: u32 = idx.parse().map_err(|_| bad())?;
    match kind {
      "cuda" => Ok(Device::Cuda(n)),
      "opencl" => Ok(Device::OpenCl(n)),
      _ => Err(bad()),
    }
  }

  pub fn domain(self) -> Domain {
    match self {
      Device::Host => Domain::Host,
      Device::Cuda(_) => Domain::Cuda,
      Device::OpenCl(_) => Domain::OpenCl,
      Device::Tfjs => Domain::Tfjs,
    }
  }
}

impl fmt::Display for Device {
  fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match self {
      Device::Host => write!(f, "cpu"),
      Device::Cuda(n) => write!(f, "cuda:{n}"),
      Device::OpenCl(n) => write!(f, "opencl:{n}"),
      Device::Tfjs => write!(f, "tfjs"),
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn device_ids_round_trip() {
    for d in [Device::Host, Device::Cuda(0), Device::Cuda(3), Device::OpenCl(1), Device::Tfjs] {
      assert_eq!(Device::parse(&d.to_string()).unwrap(), d);
    }
    for bad in ["", "gpu", "cuda:", "cuda:-1", "cuda:1.5", "opencl:x", "cuda:99999999999"] {
      assert_eq!(Device::parse(bad).unwrap_err().code, ErrorCode::InvalidDevice, "{bad}");
    }
  }

  #[test]
  fn memory_types_round_trip() {
    for m in MemoryType::ALL {
      assert_eq!(MemoryType::parse(m.name()).unwrap(), m);
    }
    assert_eq!(MemoryType::parse("unknown").unwrap_err().code, ErrorCode::UnknownMemoryType);
  }
}
