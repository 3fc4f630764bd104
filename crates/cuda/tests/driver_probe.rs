//! The driver probe in child processes (the probe is once per process): no libcuda → `Absent` with a
//! reason (→ GpuUnavailableError); a libcuda whose cuInit answers CUDA_ERROR_NO_DEVICE (a tiny fake
//! built here with the C compiler) → a driver with no devices. Never a panic.

use std::path::PathBuf;
use std::process::Command;

use stackbridge_cuda::{probe_now, require_device, Driver};

const CHILD: &str = "STACKBRIDGE_PROBE_CHILD";

/// Runs in the child: prints what the probe found.
#[test]
fn probe_child() {
  if std::env::var(CHILD).is_err() {
    return;
  }
  let line = match probe_now() {
    Driver::Absent(reason) => format!("absent|{reason}"),
    Driver::Present { version, devices } => format!("present|{version}|{}", devices.len()),
  };
  let err = require_device(0).err().map(|e| format!("{:?}|{}", e.code, e.message)).unwrap_or_default();
  println!("\nPROBE {line}\nREQUIRE {err}");
}

fn run_child(ld_library_path: &str) -> (String, String) {
  let out = Command::new(std::env::current_exe().unwrap())
    .args(["--exact", "probe_child", "--nocapture", "--test-threads=1"])
    .env(CHILD, "1")
    .env("LD_LIBRARY_PATH", ld_library_path)
    .output()
    .expect("the test binary runs");
  let stdout = String::from_utf8_lossy(&out.stdout).to_string();
  assert!(out.status.success(), "child failed: {stdout}{}", String::from_utf8_lossy(&out.stderr));
  let get = |key: &str| stdout.lines().find_map(|l| l.strip_prefix(key)).unwrap_or_default().trim().to_string();
  (get("PROBE "), get("REQUIRE "))
}

#[test]
fn without_libcuda_the_probe_reports_why_and_require_is_gpu_unavailable() {
  // SAFETY: only tries to dlopen.
  if unsafe { cudarc::driver::sys::is_culib_present() } {
    eprintln!("SKIPPED without_libcuda: this machine has a CUDA driver on its default library path");
    return;
  }
  let (probe, require) = run_child("");
  assert!(probe.starts_with("absent|no CUDA driver"), "{probe}");
  assert!(require.starts_with("GpuUnavailable|no CUDA driver"), "{require}");
}

#[test]
fn a_driver_without_devices_lists_none() {
  let dir = fake_libcuda();
  let (probe, require) = run_child(dir.to_str().unwrap());
  assert_eq!(probe, "present|13000|0");
  assert!(require.starts_with("GpuUnavailable|the CUDA driver is installed but reports no CUDA device"), "{require}");
}

/// The fake libcuda of tests/fake_libcuda.c, built into a temporary directory.
fn fake_libcuda() -> PathBuf {
  let dir = std::env::temp_dir().join(format!("sb-fake-libcuda-{}", std::process::id()));
  std::fs::create_dir_all(&dir).unwrap();
  let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fake_libcuda.c");
  let lib = dir.join("libcuda.so.1");
  let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
  let status = Command::new(cc).args(["-shared", "-fPIC", "-o"]).arg(&lib).arg(&src).status().expect("a C compiler");
  assert!(status.success(), "building the fake libcuda failed");
  // cudarc tries libcuda.so before libcuda.so.1: the fake must win on a machine with a real driver too.
  let _ = std::fs::remove_file(dir.join("libcuda.so"));
  std::os::unix::fs::symlink(&lib, dir.join("libcuda.so")).unwrap();
  dir
}
