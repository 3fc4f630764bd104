//! NVRTC compilation of the kernel sources shared with OpenCL (`stackbridge-gpu-kernels`), as CUDA C++.
//!
//! Options are fixed where results depend on them: `--fmad=false` (no multiply-add contraction, so a
//! kernel repeats the CPU's arithmetic operation for operation), IEEE division and square root, no
//! flush-to-zero. A CUBIN target (`sm_XY`) runs NVRTC's ptxas with `-v`, whose report tells register
//! spills; a PTX target (`compute_XY`) gives PTX for drivers of other architectures.

use std::ffi::{c_char, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

use cudarc::nvrtc::{result, sys};
use stackbridge_core::error::{ErrorCode, SbError, SbResult};

/// What to compile for: a real architecture (CUBIN) or a virtual one (PTX).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
  /// `sm_XY`: machine code for compute capability X.Y.
  Cubin(u32),
  /// `compute_XY`: PTX, JIT-compiled by the driver.
  Ptx(u32),
}

impl Target {
  fn arch_option(self) -> String {
    match self {
      Target::Cubin(cc) => format!("--gpu-architecture=sm_{cc}"),
      Target::Ptx(cc) => format!("--gpu-architecture=compute_{cc}"),
    }
  }
}

/// A compiled variant.
#[derive(Debug)]
pub struct Compiled {
  /// CUBIN bytes or PTX text (without the trailing NUL).
  pub image: Vec<u8>,
  /// NVRTC's log (ptxas's `-v` report for CUBIN targets).
  pub log: String,
  /// Spill stores + loads reported by ptxas, summed over kernels (0 for PTX targets).
  pub spilled_bytes: u64,
}

/// NVRTC's version (major, minor), or why it cannot be used.
pub fn version() -> Result<(i32, i32), String> {
  // SAFETY: only tries to dlopen the candidate library names.
  if !unsafe { sys::is_culib_present() } {
    return Err("NVRTC (libnvrtc.so.13) was not found: install the nvidia-cuda-nvrtc wheel or the CUDA toolkit and put its lib directory on LD_LIBRARY_PATH".into());
  }
  let (mut major, mut minor) = (0, 0);
  // SAFETY: writes two ints.
  match catch_unwind(AssertUnwindSafe(|| unsafe { sys::nvrtcVersion(&mut major, &mut minor) })) {
    Ok(sys::nvrtcResult::NVRTC_SUCCESS) => Ok((major, minor)),
    Ok(status) => Err(format!("nvrtcVersion failed: {status:?}")),
    Err(_) => Err("libnvrtc lacks nvrtcVersion".into()),
  }
}

/// The options NVRTC gets for one variant: the fixed numerics, the target, and `defines`
/// (`-D NAME=VALUE` pairs as the OpenCL domain writes them).
pub fn options(defines: &str, target: Target) -> Vec<String> {
  let mut opts = vec![
    target.arch_option(),
    "--fmad=false".into(),
    "--prec-div=true".into(),
    "--prec-sqrt=true".into(),
    "--ftz=false".into(),
    "--std=c++17".into(),
  ];
  if matches!(target, Target::Cubin(_)) {
    opts.push("--ptxas-options=-v".into());
  }
  let mut tokens = defines.split_whitespace();
  while let Some(t) = tokens.next() {
    match t {
      "-D" => {
        if let Some(def) = tokens.next() {
          opts.push(format!("-D{def}"));
        }
      }
      other => opts.push(other.to_string()),
    }
  }
  opts
}

/// Compiles program `name` of stackbridge-gpu-kernels with `defines` for `target`. A compile error is
/// `KernelCompileError` with NVRTC's log in `details.log`; a missing NVRTC is `GpuUnavailableError`.
pub fn compile(name: &str, defines: &str, target: Target) -> SbResult<Compiled> {
  let source = stackbridge_gpu_kernels::source(name).ok_or_else(|| SbError::invalid(format!("no kernel program named {name:?}")))?;
  version().map_err(SbError::gpu_unavailable)?;
  let opts = options(defines, target);
  match catch_unwind(AssertUnwindSafe(|| compile_source(name, &source, &opts, target))) {
    Ok(r) => r,
    Err(_) => Err(SbError::gpu_unavailable("libnvrtc lacks an entry point stackbridge needs")),
  }
}

fn compile_source(name: &str, source: &str, opts: &[String], target: Target) -> SbResult<Compiled> {
  let src = CString::new(source).map_err(|_| SbError::invalid("kernel source holds a NUL byte"))?;
  let prog_name = CString::new(format!("{name}.cu")).expect("program names have no NUL");
  let prog = result::create_program(&src, Some(&prog_name)).map_err(|e| compile_error(name, opts, format!("nvrtcCreateProgram: {e:?}")))?;
  // SAFETY: `prog` is live until destroy_program below; every buffer is sized by NVRTC's own query.
  let out = unsafe {
    let compiled = result::compile_program(prog, opts);
    let log = result::get_program_log(prog).map(|l| c_chars_to_string(&l)).unwrap_or_default();
    let image = match compiled {
      Err(e) => Err(compile_error(name, opts, format!("{e:?}\n{log}"))),
      Ok(()) => match target {
        Target::Ptx(_) => result::get_ptx(prog).map(|p| c_chars_to_string(&p).into_bytes()).map_err(|e| compile_error(name, opts, format!("nvrtcGetPTX: {e:?}"))),
        Target::Cubin(_) => cubin(prog).map_err(|e| compile_error(name, opts, format!("nvrtcGetCUBIN: {e:?}"))),
      },
    };
    let _ = result::destroy_program(prog);
    image.map(|image| Compiled { spilled_bytes: spilled_bytes(&log), image, log })
  };
  out
}

/// # Safety
/// `prog` must be a compiled, live program.
unsafe fn cubin(prog: sys::nvrtcProgram) -> Result<Vec<u8>, sys::nvrtcResult> {
  let mut size = 0usize;
  let status = sys::nvrtcGetCUBINSize(prog, &mut size);
  if status != sys::nvrtcResult::NVRTC_SUCCESS {
    return Err(status);
  }
  let mut buf = vec![0u8; size];
  let status = sys::nvrtcGetCUBIN(prog, buf.as_mut_ptr() as *mut c_char);
  if status != sys::nvrtcResult::NVRTC_SUCCESS {
    return Err(status);
  }
  Ok(buf)
}

fn compile_error(name: &str, opts: &[String], log: String) -> SbError {
  SbError::new(ErrorCode::KernelCompile, format!("NVRTC could not compile kernel program {name:?} ({})", opts.join(" ")))
    .with("log", log)
    .with("program", name)
}

fn c_chars_to_string(chars: &[c_char]) -> String {
  let bytes: Vec<u8> = chars.iter().map(|&c| c as u8).take_while(|&b| b != 0).collect();
  String::from_utf8_lossy(&bytes).into_owned()
}

/// Sums ptxas's "N bytes spill stores, M bytes spill loads" lines.
pub fn spilled_bytes(log: &str) -> u64 {
  let mut total = 0;
  for line in log.lines() {
    for (key, _) in line.match_indices(" bytes spill ") {
      let before = line[..key].trim_end();
      let digits: String = before.chars().rev().take_while(|c| c.is_ascii_digit()).collect::<Vec<_>>().into_iter().rev().collect();
      total += digits.parse::<u64>().unwrap_or(0);
    }
  }
  total
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn defines_become_nvrtc_options() {
    let o = options("-D T_IN=ushort -D T_IN_IS_FLOAT=0 -D W=float", Target::Ptx(90));
    assert_eq!(o[0], "--gpu-architecture=compute_90");
    assert!(o.contains(&"--fmad=false".to_string()));
    assert!(o.ends_with(&["-DT_IN=ushort".to_string(), "-DT_IN_IS_FLOAT=0".to_string(), "-DW=float".to_string()]));
    assert!(!o.iter().any(|s| s.starts_with("--ptxas-options")));
    assert!(options("", Target::Cubin(90)).contains(&"--ptxas-options=-v".to_string()));
  }

  #[test]
  fn spills_are_read_from_the_ptxas_report() {
    let log = "ptxas info    : Function properties for k\n    0 bytes stack frame, 8 bytes spill stores, 12 bytes spill loads\nptxas info    : Used 30 registers";
    assert_eq!(spilled_bytes(log), 20);
    assert_eq!(spilled_bytes("    0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads"), 0);
  }
}
