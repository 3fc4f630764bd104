//! Compiled kernel programs for one device: NVRTC once per (program, defines) variant, cached in
//! memory for the process and on disk across processes (so a machine with a cached image needs no
//! NVRTC at all). The target is CUBIN for the device's own architecture where this NVRTC supports
//! it — machine code, loaded by any driver new enough for the device — and otherwise PTX for the
//! newest architecture NVRTC knows below the device's, which the driver JIT-compiles (and rejects
//! when NVRTC is newer than the driver: such a machine needs an NVRTC no newer than its driver).
//!
//! The disk cache lives in `$STACKBRIDGE_CACHE_DIR`, else `$XDG_CACHE_HOME/stackbridge/cuda`, else
//! `~/.cache/stackbridge/cuda`. A file is named by a hash of its key and starts with the key itself
//! (program, defines, target, NVRTC version, a hash of the source), which a reader compares before
//! using the image; files are written under a temporary name and renamed, so concurrent processes
//! never read a half-written one. A cache that cannot be written is skipped silently (it is a cache).

use crate::nvrtc::{self, Target};
use stackbridge_core::{SbError, SbResult};
use std::ffi::c_int;
use std::path::PathBuf;
use std::sync::OnceLock;

/// The architectures (e.g. 90 for sm_90) the loaded NVRTC compiles for.
pub fn supported_archs() -> SbResult<Vec<i32>> {
  static ARCHS: OnceLock<Result<Vec<i32>, String>> = OnceLock::new();
  ARCHS
    .get_or_init(|| {
      nvrtc::version()?;
      use cudarc::nvrtc::sys;
      let mut n: c_int = 0;
      // SAFETY: writes one int, then `n` ints into a buffer of that size.
      unsafe {
        if sys::nvrtcGetNumSupportedArchs(&mut n) != sys::nvrtcResult::NVRTC_SUCCESS {
          return Err("nvrtcGetNumSupportedArchs failed".into());
        }
        let mut archs = vec![0 as c_int; n.max(0) as usize];
        if n > 0 && sys::nvrtcGetSupportedArchs(archs.as_mut_ptr()) != sys::nvrtcResult::NVRTC_SUCCESS {
          return Err("nvrtcGetSupportedArchs failed".into());
        }
        Ok(archs)
      }
    })
    .clone()
    .map_err(SbError::gpu_unavailable)
}

/// What to build for a device of compute capability `cc` (e.g. 90), given NVRTC's architectures.
pub fn target_for(cc: i32, archs: &[i32]) -> SbResult<Target> {
  if archs.contains(&cc) {
    return Ok(Target::Cubin(cc as u32));
  }
  match archs.iter().copied().filter(|&a| a <= cc).max() {
    Some(a) => Ok(Target::Ptx(a as u32)),
    None => Err(SbError::gpu_unavailable(format!(
      "this NVRTC compiles for architectures {archs:?}, none of which runs on a device of compute capability {}.{}",
      cc / 10,
      cc % 10
    ))),
  }
}

/// The bytes `cuModuleLoadData` takes for a compiled image (PTX text must end in a NUL).
pub fn loadable(mut image: Vec<u8>, target: Target) -> Vec<u8> {
  if matches!(target, Target::Ptx(_)) && image.last() != Some(&0) {
    image.push(0);
  }
  image
}

/// FNV-1a, 64 bits: a stable hash for file names and source fingerprints (std's hasher may change
/// between Rust releases, which would orphan every cached file).
fn fnv1a(bytes: &[u8]) -> u64 {
  bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3))
}

fn cache_dir() -> Option<PathBuf> {
  let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
  env("STACKBRIDGE_CACHE_DIR").or_else(|| env("XDG_CACHE_HOME").map(|d| d.join("stackbridge/cuda"))).or_else(|| env("HOME").map(|h| h.join(".cache/stackbridge/cuda")))
}

/// The key a cached image is stored under: everything the image depends on.
fn key(name: &str, defines: &str, target: Target) -> SbResult<String> {
  let source = stackbridge_gpu_kernels::source(name).ok_or_else(|| SbError::invalid(format!("no kernel program named {name:?}")))?;
  let (major, minor) = nvrtc::version().unwrap_or((0, 0));
  let opts = nvrtc::options(defines, target).join(" ");
  Ok(format!("stackbridge-cuda-image v1\n{name}\n{opts}\nnvrtc {major}.{minor}\nsource {:016x}\n", fnv1a(source.as_bytes())))
}

fn read_cached(path: &PathBuf, key: &str) -> Option<Vec<u8>> {
  let bytes = std::fs::read(path).ok()?;
  bytes.strip_prefix(key.as_bytes()).map(<[u8]>::to_vec)
}

fn write_cached(path: &PathBuf, key: &str, image: &[u8]) {
  let Some(dir) = path.parent() else { return };
  if std::fs::create_dir_all(dir).is_err() {
    return;
  }
  let tmp = dir.join(format!(".{}.{}.tmp", path.file_name().and_then(|n| n.to_str()).unwrap_or("image"), std::process::id()));
  let mut data = key.as_bytes().to_vec();
  data.extend_from_slice(image);
  if std::fs::write(&tmp, &data).is_ok() && std::fs::rename(&tmp, path).is_err() {
    let _ = std::fs::remove_file(&tmp);
  }
}

/// The loadable image of (`name`, `defines`) for `target`: from the disk cache, else compiled by
/// NVRTC (and cached). `KernelCompileError` when NVRTC refuses the source; `GpuUnavailableError`
/// when it is needed and missing.
pub fn image(name: &str, defines: &str, target: Target) -> SbResult<Vec<u8>> {
  image_in(cache_dir(), name, defines, target)
}

fn image_in(dir: Option<PathBuf>, name: &str, defines: &str, target: Target) -> SbResult<Vec<u8>> {
  let k = key(name, defines, target)?;
  let path = dir.map(|d| d.join(format!("{:016x}.{}", fnv1a(k.as_bytes()), if matches!(target, Target::Ptx(_)) { "ptx" } else { "cubin" })));
  if let Some(img) = path.as_ref().and_then(|p| read_cached(p, &k)) {
    return Ok(img);
  }
  let compiled = nvrtc::compile(name, defines, target)?;
  let img = loadable(compiled.image, target);
  if let Some(p) = &path {
    write_cached(p, &k, &img);
  }
  Ok(img)
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn cubin_for_a_supported_arch_else_ptx_below_it() {
    let archs = [75, 80, 86, 89, 90, 100, 120];
    assert_eq!(target_for(90, &archs).unwrap(), Target::Cubin(90));
    // A device newer than NVRTC knows: PTX for the newest architecture below it.
    assert_eq!(target_for(121, &archs).unwrap(), Target::Ptx(120));
    assert_eq!(target_for(87, &archs).unwrap(), Target::Ptx(86));
    assert_eq!(target_for(70, &archs).unwrap_err().code, stackbridge_core::ErrorCode::GpuUnavailable);
  }

  #[test]
  fn ptx_images_end_in_a_nul_cubins_are_untouched() {
    assert_eq!(loadable(b".version 9.0".to_vec(), Target::Ptx(90)).last(), Some(&0));
    assert_eq!(loadable(vec![0x7f, b'E'], Target::Cubin(90)), vec![0x7f, b'E']);
  }

  #[test]
  fn the_cache_returns_an_image_only_under_its_own_key() {
    let dir = std::env::temp_dir().join(format!("sb-cuda-cache-test-{}", std::process::id()));
    let path = dir.join("x.cubin");
    write_cached(&path, "key A\n", b"IMAGE");
    assert_eq!(read_cached(&path, "key A\n").as_deref(), Some(&b"IMAGE"[..]));
    assert_eq!(read_cached(&path, "key B\n"), None);
    let _ = std::fs::remove_dir_all(dir);
  }

  #[test]
  fn an_image_is_compiled_once_then_read_from_the_disk_cache() {
    if nvrtc::version().is_err() {
      assert!(std::env::var("STACKBRIDGE_REQUIRE_NVRTC").as_deref() != Ok("1"), "STACKBRIDGE_REQUIRE_NVRTC=1 but no NVRTC");
      eprintln!("SKIPPED an_image_is_compiled_once: no NVRTC");
      return;
    }
    let dir = std::env::temp_dir().join(format!("sb-cuda-image-test-{}", std::process::id()));
    let defines = stackbridge_gpu_kernels::type_defines("T_IN", "ushort", false);
    let first = image_in(Some(dir.clone()), "elementwise", &defines, Target::Ptx(90)).unwrap();
    assert!(first.starts_with(b"//") && first.ends_with(&[0]), "NUL-terminated PTX text");
    let files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(files.len(), 1, "{files:?}");
    // Tamper with the cached image (same key): the next call must return the cached bytes, not recompile.
    let k = key("elementwise", &defines, Target::Ptx(90)).unwrap();
    write_cached(&files[0], &k, b"CACHED\0");
    assert_eq!(image_in(Some(dir.clone()), "elementwise", &defines, Target::Ptx(90)).unwrap(), b"CACHED\0");
    // Another variant has another key and file.
    let other = image_in(Some(dir.clone()), "elementwise", &stackbridge_gpu_kernels::type_defines("T_IN", "float", true), Target::Ptx(90)).unwrap();
    assert_ne!(other, first);
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 2);
    let _ = std::fs::remove_dir_all(dir);
  }

  #[test]
  fn fnv1a_is_the_published_function() {
    // Test vectors of the FNV reference (draft-eastlake-fnv): "" and "a".
    assert_eq!(fnv1a(b""), 0xcbf29ce484222325);
    assert_eq!(fnv1a(b"a"), 0xaf63dc4c8601ec8c);
  }
}
