//! Run-time CPU dispatch. The binary is built for baseline x86-64-v2 (`.cargo/config.toml`); the
//! hot kernels run their inner loops through [`cpu_run!`], which calls them inside a function compiled
//! for the best instruction set this CPU has (AVX2+FMA, AVX-512), so the compiler vectorises the
//! same Rust source for that level. The level is decided once: the detected features, capped by
//! `STACKBRIDGE_CPU_LEVEL=scalar|sse4|avx2|avx512` (an unknown value caps at `scalar`) and by
//! [`set_cap`] (tests). Every level computes bit-identical results: the kernels use no reassociated
//! float arithmetic, and their multiply-adds are written as `mul_add` (always fused) or as a
//! separate multiply and add (never fused), whatever the level.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::OnceLock;

/// An instruction-set level, lowest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
  /// The baseline code, no level-specific function (what a CPU below x86-64-v2 would run).
  Scalar = 0,
  /// x86-64-v2 (SSE4.2, POPCNT): the baseline the binary is compiled for; the same code as `Scalar`.
  Sse4 = 1,
  /// x86-64-v3: AVX2, FMA, BMI1/2, LZCNT, F16C, MOVBE.
  Avx2 = 2,
  /// x86-64-v4: AVX-512 F/BW/CD/DQ/VL on top of `Avx2`.
  Avx512 = 3,
}

impl Level {
  pub const ALL: [Level; 4] = [Level::Scalar, Level::Sse4, Level::Avx2, Level::Avx512];

  pub fn name(self) -> &'static str {
    match self {
      Level::Scalar => "scalar",
      Level::Sse4 => "sse4",
      Level::Avx2 => "avx2",
      Level::Avx512 => "avx512",
    }
  }

  pub fn parse(s: &str) -> Option<Level> {
    Level::ALL.into_iter().find(|l| l.name() == s.trim().to_ascii_lowercase())
  }

  fn from_u8(v: u8) -> Level {
    Level::ALL[(v as usize).min(3)]
  }
}

/// The environment variable that caps the level.
pub const ENV: &str = "STACKBRIDGE_CPU_LEVEL";

/// The highest level this CPU (and OS, for the AVX state) supports.
pub fn detected() -> Level {
  static D: OnceLock<Level> = OnceLock::new();
  *D.get_or_init(detect)
}

#[cfg(target_arch = "x86_64")]
fn detect() -> Level {
  use std::arch::is_x86_feature_detected as has;
  let v2 = has!("sse4.2") && has!("popcnt") && has!("ssse3");
  let v3 = v2 && has!("avx2") && has!("fma") && has!("bmi1") && has!("bmi2") && has!("lzcnt") && has!("f16c") && has!("movbe");
  let v4 = v3 && has!("avx512f") && has!("avx512bw") && has!("avx512cd") && has!("avx512dq") && has!("avx512vl");
  if v4 {
    Level::Avx512
  } else if v3 {
    Level::Avx2
  } else if v2 {
    Level::Sse4
  } else {
    Level::Scalar
  }
}

#[cfg(not(target_arch = "x86_64"))]
fn detect() -> Level {
  Level::Scalar
}

/// What `STACKBRIDGE_CPU_LEVEL` asked for (read once): `None` when unset or empty.
pub fn requested() -> Option<&'static str> {
  static R: OnceLock<Option<String>> = OnceLock::new();
  R.get_or_init(|| std::env::var(ENV).ok().filter(|s| !s.trim().is_empty())).as_deref()
}

fn env_cap() -> Level {
  static C: OnceLock<Level> = OnceLock::new();
  *C.get_or_init(|| requested().map_or(Level::Avx512, |s| Level::parse(s).unwrap_or(Level::Scalar)))
}

/// The programmatic cap (`NO_CAP` = none).
static CAP: AtomicU8 = AtomicU8::new(NO_CAP);
const NO_CAP: u8 = u8::MAX;

/// Caps the level for the whole process (`None` lifts the cap; the environment's cap still holds);
/// returns the level now in effect. For tests and benchmarks that compare the paths.
pub fn set_cap(cap: Option<Level>) -> Level {
  CAP.store(cap.map_or(NO_CAP, |l| l as u8), Ordering::Relaxed);
  level()
}

/// The level the kernels run at: detected, capped by the environment and by [`set_cap`].
#[inline]
pub fn level() -> Level {
  let cap = CAP.load(Ordering::Relaxed);
  let l = detected().min(env_cap());
  if cap == NO_CAP {
    l
  } else {
    l.min(Level::from_u8(cap))
  }
}

/// The kernels that dispatch, for [`paths`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
  /// The percentile histogram / bracketed counting pass (8/16-bit data).
  PercentileHistogram,
  /// Percentile normalisation's table / map pass.
  NormalizeMap,
  /// Morphology min/max (erosion / dilation chords).
  Morphology,
  /// Gaussian separable passes (also LoG / sharpen).
  Gaussian,
  /// Projections along Z.
  Projection,
  /// dtype casts (`astype`, scaling).
  Cast,
  /// Pointwise `applyMask`.
  ApplyMask,
  /// skimage-style resize (anti-aliased downsampling, bilinear upsampling) of the top-hat.
  Resize,
}

impl Kernel {
  pub const ALL: [Kernel; 8] = [
    Kernel::PercentileHistogram,
    Kernel::NormalizeMap,
    Kernel::Morphology,
    Kernel::Gaussian,
    Kernel::Projection,
    Kernel::Cast,
    Kernel::ApplyMask,
    Kernel::Resize,
  ];

  pub fn name(self) -> &'static str {
    match self {
      Kernel::PercentileHistogram => "percentileHistogram",
      Kernel::NormalizeMap => "normalizeMap",
      Kernel::Morphology => "morphology",
      Kernel::Gaussian => "gaussian",
      Kernel::Projection => "projection",
      Kernel::Cast => "cast",
      Kernel::ApplyMask => "applyMask",
      Kernel::Resize => "resize",
    }
  }
}

/// The path each kernel took last (`label index + 1`; 0 = not run yet).
static TAKEN: [AtomicU8; Kernel::ALL.len()] = [const { AtomicU8::new(0) }; Kernel::ALL.len()];

/// Labels a kernel can record: the levels, then hand-written paths.
const LABELS: [&str; 5] = ["scalar", "sse4", "avx2", "avx512", "avx512-vbmi2 (vpcompressw)"];

/// Records that `k` ran its hand-written AVX-512 VBMI2 kernel (the percentile counting pass).
pub fn record_vbmi2(k: Kernel) {
  TAKEN[k as usize].store(LABELS.len() as u8, Ordering::Relaxed);
}

fn record(k: Kernel, l: Level) {
  let v = l as u8 + 1;
  // Only write when it changes: the slot is read by every worker thread on every call.
  if TAKEN[k as usize].load(Ordering::Relaxed) != v {
    TAKEN[k as usize].store(v, Ordering::Relaxed);
  }
}

/// Which path each kernel took the last time it ran (`None`: not run in this process yet).
pub fn paths() -> Vec<(&'static str, Option<&'static str>)> {
  Kernel::ALL
    .iter()
    .map(|&k| {
      let v = TAKEN[k as usize].load(Ordering::Relaxed) as usize;
      (k.name(), (v > 0).then(|| LABELS[v - 1]))
    })
    .collect()
}

/// Runs the expression `$body` compiled for the current [`level`] and records the level as kernel
/// `$k`'s path: `cpu_run!(Kernel::Gaussian, { ... })`. The body is expanded once per level, each in
/// its own closure with a single call site inside a `#[target_feature]` function, so the compiler
/// inlines it there (as it would not inline one closure shared by every level); the functions it
/// calls must be `#[inline(always)]` to be compiled for the level too.
#[macro_export]
macro_rules! cpu_run {
  ($k:expr, $body:expr) => {{
    match $crate::cpu::enter($k) {
      #[cfg(target_arch = "x86_64")]
      $crate::cpu::Level::Avx512 => {
        let f = || $body;
        // SAFETY: `enter` never returns a level above `detected()`: the CPU has its features.
        unsafe { $crate::cpu::at_avx512(f) }
      }
      #[cfg(target_arch = "x86_64")]
      $crate::cpu::Level::Avx2 => {
        let f = || $body;
        // SAFETY: as above.
        unsafe { $crate::cpu::at_avx2(f) }
      }
      _ => $body,
    }
  }};
}

/// The current [`level`], recorded as `k`'s path ([`cpu_run!`]'s first step).
#[inline(always)]
pub fn enter(k: Kernel) -> Level {
  let l = level();
  record(k, l);
  l
}

/// Calls `f` in a function compiled for x86-64-v3 (see [`cpu_run!`]).
///
/// # Safety
/// The CPU must have AVX2, FMA, BMI1/2, LZCNT, F16C and MOVBE (`detected() >= Level::Avx2`).
#[doc(hidden)]
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx,avx2,fma,bmi1,bmi2,lzcnt,f16c,movbe,popcnt,sse4.2")]
pub unsafe fn at_avx2<R>(f: impl FnOnce() -> R) -> R {
  f()
}

/// Calls `f` in a function compiled for x86-64-v4 (see [`cpu_run!`]).
///
/// # Safety
/// The CPU must have `Level::Avx512`'s features (`detected() >= Level::Avx512`).
#[doc(hidden)]
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx,avx2,fma,bmi1,bmi2,lzcnt,f16c,movbe,popcnt,sse4.2,avx512f,avx512bw,avx512cd,avx512dq,avx512vl")]
pub unsafe fn at_avx512<R>(f: impl FnOnce() -> R) -> R {
  f()
}

/// Runs `f` once at every level this CPU has (lowest first) with the process-wide cap set, and
/// returns the results; the cap is lifted afterwards. Calls are serialised, so that two tests
/// comparing levels do not interleave their caps.
pub fn at_every_level<R>(mut f: impl FnMut(Level) -> R) -> Vec<(Level, R)> {
  static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
  let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
  let out = Level::ALL
    .into_iter()
    .filter(|&l| l <= detected())
    .map(|l| {
      set_cap(Some(l));
      (l, f(l))
    })
    .collect();
  set_cap(None);
  out
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn names_round_trip() {
    for l in Level::ALL {
      assert_eq!(Level::parse(l.name()), Some(l));
    }
    assert_eq!(Level::parse(" AVX2 "), Some(Level::Avx2));
    assert_eq!(Level::parse("avx3"), None);
  }

  #[test]
  fn cap_lowers_the_level_and_is_recorded() {
    let seen = at_every_level(|l| {
      assert_eq!(level(), l.min(env_cap()));
      crate::cpu_run!(Kernel::Cast, level())
    });
    assert!(!seen.is_empty());
    for (l, ran) in seen {
      assert_eq!(ran, l.min(env_cap()));
    }
    let p = paths();
    assert!(p.iter().any(|&(k, v)| k == "cast" && v.is_some()));
  }

  #[test]
  #[cfg(target_arch = "x86_64")]
  fn detection_agrees_with_the_features() {
    let d = detected();
    assert!(d >= Level::Sse4, "a x86-64-v2 build runs on SSE4.2 CPUs only");
    assert_eq!(d >= Level::Avx2, std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma"));
  }
}
