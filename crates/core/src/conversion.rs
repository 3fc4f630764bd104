//! The conversion matrix of DESIGN §2: where each memory type lives and which kind of conversion
//! (identity, zero-copy, transfer, device-move, cpu-roundtrip) takes data from one kind to another.
//! It is pure: the device topology is an argument, so every cell is tested here for machines with
//! and without CUDA or OpenCL devices.

use crate::dtype::DType;
use crate::error::{ErrorCode, SbError, SbResult};
use crate::memory_type::{Device, Domain, MemoryType};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConversionKind {
  Identity,
  ZeroCopy,
  Transfer,
  DeviceMove,
  CpuRoundtrip,
}

impl ConversionKind {
  pub fn name(self) -> &'static str {
    match self {
      ConversionKind::Identity => "identity",
      ConversionKind::ZeroCopy => "zero-copy",
      ConversionKind::Transfer => "transfer",
      ConversionKind::DeviceMove => "device-move",
      ConversionKind::CpuRoundtrip => "cpu-roundtrip",
    }
  }
}

/// The devices this process can use.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Topology {
  pub cuda_devices: u32,
  /// One entry per OpenCL device: whether it shares host memory (PoCL, integrated GPUs).
  pub opencl_shares_host: Vec<bool>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
  pub kind: ConversionKind,
  pub source: Device,
  pub target: Device,
}

/// Options of one conversion.
#[derive(Clone, Copy, Debug, Default)]
pub struct ConvertOptions {
  pub gpu_id: Option<u32>,
  pub allow_cpu_roundtrip: bool,
  pub strict_device: bool,
  /// The element type, for the tfjs edge (zero-copy only for float32 / int32).
  pub dtype: Option<DType>,
}

fn check_index(domain: &str, id: u32, count: u32) -> SbResult<u32> {
  if id >= count {
    return Err(
      SbError::new(ErrorCode::InvalidDevice, format!("gpuId {id} is out of range: {count} {domain} device(s) present"))
        .with("device", format!("{domain}:{id}"))
        .with("gpuId", id),
    );
  }
  Ok(id)
}

/// The device where data of `memory_type` lives for `gpu_id` on this topology.
pub fn placement(memory_type: MemoryType, gpu_id: Option<u32>, topo: &Topology) -> SbResult<Device> {
  let cuda = |strict: bool| -> SbResult<Device> {
    if topo.cuda_devices == 0 {
      if strict {
        return Err(
          SbError::gpu_unavailable(format!("{} needs a CUDA device and none is available", memory_type.name()))
            .with("memoryType", memory_type.name()),
        );
      }
      // torch and jax fall back to the host, as they do on a CPU-only machine.
      return Ok(Device::Host);
    }
    Ok(Device::Cuda(check_index("cuda", gpu_id.unwrap_or(0), topo.cuda_devices)?))
  };
  match memory_type {
    MemoryType::Numpy => Ok(Device::Host),
    MemoryType::Tensorflow => Ok(Device::Tfjs),
    MemoryType::Cupy => cuda(true),
    MemoryType::Torch | MemoryType::Jax => cuda(false),
    MemoryType::Pyclesperanto => {
      let n = topo.opencl_shares_host.len() as u32;
      if n == 0 {
        return Err(
          SbError::gpu_unavailable("pyclesperanto needs an OpenCL device and none is available")
            .with("memoryType", "pyclesperanto"),
        );
      }
      Ok(Device::OpenCl(check_index("opencl", gpu_id.unwrap_or(0), n)?))
    }
  }
}

/// Plans converting `src_type` data on `src_dev` into `dst_type`.
pub fn plan(src_type: MemoryType, src_dev: Device, dst_type: MemoryType, opts: ConvertOptions, topo: &Topology) -> SbResult<Plan> {
  let mut target = placement(dst_type, opts.gpu_id, topo)?;
  // Without an explicit gpuId, data already in the target's domain stays on its device.
  if opts.gpu_id.is_none() && target.domain() == src_dev.domain() {
    target = src_dev;
  }
  let kind = classify(src_type, src_dev, dst_type, target, opts, topo)?;
  Ok(Plan { kind, source: src_dev, target })
}

fn classify(
  src_type: MemoryType,
  src: Device,
  dst_type: MemoryType,
  dst: Device,
  opts: ConvertOptions,
  topo: &Topology,
) -> SbResult<ConversionKind> {
  use ConversionKind::*;
  use Domain as D;
  if src.domain() == dst.domain() {
    if src == dst {
      return Ok(if src_type == dst_type { Identity } else { ZeroCopy });
    }
    if opts.strict_device {
      return Err(
        SbError::new(ErrorCode::DeviceMismatch, format!("input is on {src} but {} was requested (strictDevice)", dst))
          .with("device", src.to_string())
          .with("expectedDevice", dst.to_string()),
      );
    }
    return Ok(DeviceMove);
  }
  let shares_host = |d: Device| match d {
    Device::OpenCl(n) => topo.opencl_shares_host.get(n as usize).copied().unwrap_or(false),
    _ => false,
  };
  Ok(match (src.domain(), dst.domain()) {
    (D::Host, D::Cuda) | (D::Cuda, D::Host) => Transfer,
    (D::Host, D::OpenCl) => if shares_host(dst) { ZeroCopy } else { Transfer },
    // DESIGN §2's pyclesperanto row: always a copy out, so the device memory can be released.
    (D::OpenCl, D::Host) => Transfer,
    (D::Host, D::Tfjs) => match opts.dtype {
      Some(DType::F32) | Some(DType::I32) => ZeroCopy,
      _ => Transfer,
    },
    (D::Tfjs, D::Host) => Transfer,
    _ => {
      if !opts.allow_cpu_roundtrip {
        return Err(
          SbError::new(
            ErrorCode::CpuRoundtripRequired,
            format!(
              "converting {} on {src} to {} on {dst} goes through host memory; pass allowCpuRoundtrip: true to allow it",
              src_type.name(),
              dst_type.name()
            ),
          )
          .with("sourceType", src_type.name())
          .with("targetType", dst_type.name())
          .with("method", "cpu-roundtrip")
          .with("reason", "no direct path between these device domains"),
        );
      }
      CpuRoundtrip
    }
  })
}

#[cfg(test)]
mod tests {
  use super::*;
  use ConversionKind::*;
  use MemoryType::*;

  fn cpu_only() -> Topology {
    Topology::default()
  }
  fn gpu_box() -> Topology {
    Topology { cuda_devices: 2, opencl_shares_host: vec![false, true] }
  }
  fn kind(s: MemoryType, sd: Device, d: MemoryType, o: ConvertOptions, t: &Topology) -> SbResult<ConversionKind> {
    plan(s, sd, d, o, t).map(|p| p.kind)
  }
  const O: ConvertOptions = ConvertOptions { gpu_id: None, allow_cpu_roundtrip: false, strict_device: false, dtype: None };
  const RT: ConvertOptions = ConvertOptions { gpu_id: None, allow_cpu_roundtrip: true, strict_device: false, dtype: None };

  #[test]
  fn host_row_on_a_cpu_only_machine() {
    let t = cpu_only();
    assert_eq!(kind(Numpy, Device::Host, Numpy, O, &t).unwrap(), Identity);
    assert_eq!(kind(Numpy, Device::Host, Torch, O, &t).unwrap(), ZeroCopy);
    assert_eq!(kind(Numpy, Device::Host, Jax, O, &t).unwrap(), ZeroCopy);
    assert_eq!(kind(Torch, Device::Host, Jax, O, &t).unwrap(), ZeroCopy);
    assert_eq!(kind(Jax, Device::Host, Numpy, O, &t).unwrap(), ZeroCopy);
    assert_eq!(plan(Numpy, Device::Host, Cupy, O, &t).unwrap_err().code, ErrorCode::GpuUnavailable);
    assert_eq!(plan(Numpy, Device::Host, Pyclesperanto, O, &t).unwrap_err().code, ErrorCode::GpuUnavailable);
    let f32o = ConvertOptions { dtype: Some(DType::F32), ..O };
    let u16o = ConvertOptions { dtype: Some(DType::U16), ..O };
    assert_eq!(kind(Numpy, Device::Host, Tensorflow, f32o, &t).unwrap(), ZeroCopy);
    assert_eq!(kind(Numpy, Device::Host, Tensorflow, u16o, &t).unwrap(), Transfer);
    assert_eq!(kind(Tensorflow, Device::Tfjs, Numpy, O, &t).unwrap(), Transfer);
  }

  #[test]
  fn gpu_rows() {
    let t = gpu_box();
    assert_eq!(kind(Numpy, Device::Host, Torch, O, &t).unwrap(), Transfer);
    assert_eq!(kind(Numpy, Device::Host, Cupy, O, &t).unwrap(), Transfer);
    assert_eq!(kind(Torch, Device::Cuda(1), Cupy, O, &t).unwrap(), ZeroCopy);
    assert_eq!(plan(Torch, Device::Cuda(1), Cupy, O, &t).unwrap().target, Device::Cuda(1));
    let to0 = ConvertOptions { gpu_id: Some(0), ..O };
    assert_eq!(kind(Cupy, Device::Cuda(1), Cupy, to0, &t).unwrap(), DeviceMove);
    let strict = ConvertOptions { gpu_id: Some(0), strict_device: true, ..O };
    assert_eq!(plan(Cupy, Device::Cuda(1), Jax, strict, &t).unwrap_err().code, ErrorCode::DeviceMismatch);
    assert_eq!(kind(Cupy, Device::Cuda(0), Numpy, O, &t).unwrap(), Transfer);
    // CUDA <-> OpenCL and CUDA <-> tfjs only through the host, and only when allowed
    let e = plan(Cupy, Device::Cuda(0), Pyclesperanto, O, &t).unwrap_err();
    assert_eq!(e.code, ErrorCode::CpuRoundtripRequired);
    assert_eq!(e.details["method"], "cpu-roundtrip");
    assert_eq!(kind(Cupy, Device::Cuda(0), Pyclesperanto, RT, &t).unwrap(), CpuRoundtrip);
    assert_eq!(kind(Torch, Device::Cuda(0), Tensorflow, RT, &t).unwrap(), CpuRoundtrip);
    assert_eq!(kind(Pyclesperanto, Device::OpenCl(0), Cupy, RT, &t).unwrap(), CpuRoundtrip);
    assert_eq!(kind(Pyclesperanto, Device::OpenCl(0), Tensorflow, RT, &t).unwrap(), CpuRoundtrip);
    assert_eq!(kind(Tensorflow, Device::Tfjs, Pyclesperanto, RT, &t).unwrap(), CpuRoundtrip);
    // host -> OpenCL: zero-copy when the device shares host memory; OpenCL -> host: a transfer
    assert_eq!(kind(Numpy, Device::Host, Pyclesperanto, O, &t).unwrap(), Transfer);
    assert_eq!(kind(Numpy, Device::Host, Pyclesperanto, ConvertOptions { gpu_id: Some(1), ..O }, &t).unwrap(), ZeroCopy);
    assert_eq!(kind(Pyclesperanto, Device::OpenCl(0), Numpy, O, &t).unwrap(), Transfer);
    assert_eq!(kind(Pyclesperanto, Device::OpenCl(1), Numpy, O, &t).unwrap(), Transfer);
    assert_eq!(kind(Pyclesperanto, Device::OpenCl(0), Pyclesperanto, ConvertOptions { gpu_id: Some(1), ..O }, &t).unwrap(), DeviceMove);
    assert_eq!(kind(Pyclesperanto, Device::OpenCl(1), Pyclesperanto, O, &t).unwrap(), Identity);
  }

  #[test]
  fn gpu_ids_are_range_checked() {
    let t = gpu_box();
    let bad = ConvertOptions { gpu_id: Some(2), ..O };
    assert_eq!(plan(Numpy, Device::Host, Cupy, bad, &t).unwrap_err().code, ErrorCode::InvalidDevice);
    assert_eq!(plan(Numpy, Device::Host, Pyclesperanto, bad, &t).unwrap_err().code, ErrorCode::InvalidDevice);
    // numpy ignores gpuId; torch on a CPU-only machine too (it lives on the host there)
    assert_eq!(kind(Numpy, Device::Host, Numpy, bad, &t).unwrap(), Identity);
    assert_eq!(kind(Numpy, Device::Host, Torch, bad, &cpu_only()).unwrap(), ZeroCopy);
  }
}
