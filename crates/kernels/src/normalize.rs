//! Percentile contrast stretching to uint16 (DESIGN §7 `stackPercentileNormalize`, `percentileNormalize`).
//!
//! Oracle (OpenHCS `percentile_normalize_core` on numpy, with a uint16 result):
//! ```python
//! pl, ph = np.percentile(stack, [low, high])            # f64
//! if pl == ph: out = np.full(stack.shape, target_min).astype(np.uint16)
//! else: out = ((np.clip(stack, pl, ph) - pl) * (target_max - target_min) / (ph - pl) + target_min).astype(np.uint16)
//! ```
//! evaluated in f64 in exactly that order and cast by truncation toward zero (saturating, NaN → 0).
//! u8 / u16 / i16 inputs go through a lookup table over every possible input value: one parallel counting
//! pass for the percentiles (`percentile::bracketed_order_stats`, exact) and one gather pass.

use crate::image::{check_range, Dims};
use crate::percentile::{lut_bits, lut_index, lut_value, percentiles};
use rayon::prelude::*;
use stackbridge_core::cpu::{self, Kernel, Level};
use stackbridge_core::cpu_run;
use stackbridge_core::{DType, Element, SbError, SbResult};

#[derive(Clone, Debug, PartialEq)]
pub struct NormalizeParams {
  pub low_percentile: f64,
  pub high_percentile: f64,
  pub target_min: f64,
  pub target_max: f64,
}

impl Default for NormalizeParams {
  fn default() -> Self {
    NormalizeParams {
      low_percentile: 1.0,
      high_percentile: 99.0,
      target_min: 0.0,
      target_max: 65535.0,
    }
  }
}

impl NormalizeParams {
  /// Percentiles in `[0, 100]` (low > high is allowed, as in numpy / OpenHCS), finite targets.
  pub fn validate(&self) -> SbResult<()> {
    check_range("lowPercentile", self.low_percentile, 0.0, 100.0)?;
    check_range("highPercentile", self.high_percentile, 0.0, 100.0)?;
    for (name, v) in [("targetMin", self.target_min), ("targetMax", self.target_max)] {
      if !v.is_finite() {
        return Err(SbError::invalid(format!("{name} must be a finite number, got {v}")).with(name, v));
      }
    }
    Ok(())
  }
}

/// The per-value map once `pl` and `ph` are known.
#[derive(Clone, Copy, Debug)]
pub struct Stretch {
  pl: f64,
  ph: f64,
  tmin: f64,
  range: f64,
  den: f64,
  flat: bool,
}

impl Stretch {
  pub fn new(pl: f64, ph: f64, p: &NormalizeParams) -> Stretch {
    Stretch {
      pl,
      ph,
      tmin: p.target_min,
      range: p.target_max - p.target_min,
      den: ph - pl,
      // `if p_high == p_low` (false for NaN percentiles, as in numpy)
      flat: pl == ph,
    }
  }

  /// `((clip(x, pl, ph) - pl) * (tmax - tmin) / (ph - pl) + tmin).astype(uint16)`.
  #[inline(always)]
  pub fn apply(&self, x: f64) -> u16 {
    if self.flat {
      return u16::from_f64(self.tmin);
    }
    u16::from_f64((np_clip(x, self.pl, self.ph) - self.pl) * self.range / self.den + self.tmin)
  }
}

/// `np.clip(x, lo, hi)` = `minimum(maximum(x, lo), hi)` with numpy's NaN propagation (lo > hi gives hi).
#[inline(always)]
fn np_clip(x: f64, lo: f64, hi: f64) -> f64 {
  let m = if x.is_nan() || x >= lo { x } else { lo };
  if m.is_nan() || m <= hi {
    m
  } else {
    hi
  }
}

/// Elements per parallel work item of the gather / map passes.
const MAP_CHUNK: usize = 1 << 15;

/// Normalizes `src` into `out` with the stretch `s`; `use_lut` (u8 / u16 / i16) selects the table path.
fn apply_stretch<T: Element>(src: &[T], s: &Stretch, use_lut: bool, out: &mut [u16]) {
  if use_lut {
    match lut_bits(T::DTYPE) {
      Some(8) => gather::<T, 256>(src, s, out),
      _ => gather::<T, 65536>(src, s, out),
    }
  } else {
    out
      .par_chunks_mut(MAP_CHUNK)
      .zip(src.par_chunks(MAP_CHUNK))
      .for_each(|(o, x)| {
        cpu_run!(Kernel::NormalizeMap, {
          for (o, &x) in o.iter_mut().zip(x) {
            *o = s.apply(x.to_f64());
          }
        })
      });
  }
}

/// The stretch of every value of a u8 / u16 / i16 `dtype`, by table index (`percentile::lut_index`).
pub fn stretch_table(dtype: DType, s: &Stretch) -> Vec<u16> {
  let n = 1usize << lut_bits(dtype).unwrap_or(16);
  (0..n).map(|i| s.apply(lut_value(dtype, i))).collect()
}

/// Builds the table over every value of T, then one parallel pass: for 16-bit data on an AVX2 /
/// AVX-512 CPU the table's verified affine form ([`Affine`]), else a gather from the table.
fn gather<T: Element, const N: usize>(src: &[T], s: &Stretch, out: &mut [u16]) {
  let table = stretch_table(T::DTYPE, s);
  let level = cpu::level();
  if N == 65536 {
    if let Some(a) = Affine::verified(T::DTYPE, s, &table, level) {
      // SAFETY: N == 65536 means T is u16 or i16 (lut_bits), two bytes with every bit pattern valid.
      let keys = unsafe { std::slice::from_raw_parts(src.as_ptr().cast::<u16>(), src.len()) };
      cpu::enter(Kernel::NormalizeMap);
      let run = |o: &mut [u16], x: &[u16]| {
        let done = a.run(level, x, o);
        // The few elements past the last vector block: the table (equal to the affine form on every value).
        for (o, &x) in o[done..].iter_mut().zip(&x[done..]) {
          *o = table[a.index(x)];
        }
      };
      if src.len() <= MAP_CHUNK {
        run(out, keys);
      } else {
        out
          .par_chunks_mut(MAP_CHUNK)
          .zip(keys.par_chunks(MAP_CHUNK))
          .for_each(|(o, x)| run(o, x));
      }
      return;
    }
  }
  let lut: Box<[u16; N]> = table.into_boxed_slice().try_into().expect("length N");
  let lut = &*lut;
  let run = |o: &mut [u16], x: &[T]| {
    cpu_run!(Kernel::NormalizeMap, {
      for (o, &x) in o.iter_mut().zip(x) {
        // lut_index is masked to the table size: no bounds check in this loop.
        *o = lut[lut_index(x) & (N - 1)];
      }
    })
  };
  if src.len() <= MAP_CHUNK {
    run(out, src);
  } else {
    out
      .par_chunks_mut(MAP_CHUNK)
      .zip(src.par_chunks(MAP_CHUNK))
      .for_each(|(o, x)| run(o, x));
  }
}

/// The stretch of 16-bit data as vector arithmetic instead of a table gather (a gather is about one
/// element per cycle; vector gathers are slower still on current Intel cores): `y = clamp(trunc(fma(x,
/// scale, offset)), lo, hi)` in f64, 8 or 16 lanes. The form is only an approximation of the exact
/// expression (`Stretch::apply`), so it is used only after it has been run on every one of the 65536
/// possible input values and found equal to the exact table on all of them ([`Affine::verified`]):
/// the result is then the table's, bit for bit, whatever the data. When no candidate offset passes
/// (a value within ~1e-9 of an integer boundary, or extreme targets), the table gather is used.
#[derive(Clone, Copy, Debug)]
struct Affine {
  scale: f64,
  offset: f64,
  lo: i32,
  hi: i32,
  /// i16 data (sign-extended keys, table index `x + 32768`); else u16.
  signed: bool,
}

impl Affine {
  /// The first candidate whose vector kernel at `level` reproduces `table` on every input value, or
  /// `None` (below AVX2, or no candidate matches).
  fn verified(dtype: DType, s: &Stretch, table: &[u16], level: Level) -> Option<Affine> {
    if level < Level::Avx2 || table.len() != 65536 || !matches!(dtype, DType::U16 | DType::I16) {
      return None;
    }
    let scale = s.range / s.den;
    let offset = s.tmin - s.pl * scale;
    if !scale.is_finite() || !offset.is_finite() {
      return None;
    }
    let signed = dtype == DType::I16;
    let (lo, hi) = table.iter().fold((u16::MAX, 0u16), |(a, b), &v| (a.min(v), b.max(v)));
    // Every input value, in table order (raw bits: i16 values reinterpreted as u16).
    let keys: Vec<u16> = (0..65536u32)
      .map(|i| if signed { (i as u16) ^ 0x8000 } else { i as u16 })
      .collect();
    let mut got = vec![0u16; 65536];
    // The exact expression rounds several times; the fused form can land a hair below an integer the
    // exact one hits (e.g. x = ph giving exactly targetMax), so a slightly raised offset is tried too.
    let m = s.tmin.abs().max((s.tmin + s.range).abs()).max(1.0);
    for nudge in [0.0, m * 2f64.powi(-36), m * 2f64.powi(-30)] {
      let a = Affine {
        scale,
        offset: offset + nudge,
        lo: lo as i32,
        hi: hi as i32,
        signed,
      };
      if a.run(level, &keys, &mut got) == keys.len() && got == table {
        return Some(a);
      }
    }
    None
  }

  /// The table index of a raw key.
  #[inline(always)]
  fn index(&self, x: u16) -> usize {
    (if self.signed { x ^ 0x8000 } else { x }) as usize
  }

  /// Maps the whole vector blocks of `x` into `o` at `level` (AVX2 or above); returns how many
  /// elements it wrote (a prefix; the rest is left to the caller).
  fn run(&self, level: Level, x: &[u16], o: &mut [u16]) -> usize {
    simd::affine(self, level, x, o)
  }
}

#[cfg(target_arch = "x86_64")]
mod simd {
  use super::Affine;
  use stackbridge_core::cpu::Level;
  use std::arch::x86_64::*;

  /// Elements of input prefetched ahead of the map loop (4 KiB).
  const AHEAD: usize = 2048;

  pub fn affine(a: &Affine, level: Level, x: &[u16], o: &mut [u16]) -> usize {
    let n = x.len().min(o.len());
    // SAFETY: the level never exceeds what the CPU has (cpu::level is capped by detection).
    unsafe {
      match (level >= Level::Avx512, a.signed) {
        (true, false) => avx512::<false>(a, &x[..n], &mut o[..n]),
        (true, true) => avx512::<true>(a, &x[..n], &mut o[..n]),
        (false, false) if level >= Level::Avx2 => avx2::<false>(a, &x[..n], &mut o[..n]),
        (false, true) if level >= Level::Avx2 => avx2::<true>(a, &x[..n], &mut o[..n]),
        _ => 0,
      }
    }
  }

  /// # Safety
  /// AVX-512F/BW/DQ and FMA; `x.len() == o.len()`.
  #[target_feature(enable = "avx2,fma,avx512f,avx512bw,avx512dq,avx512vl")]
  unsafe fn avx512<const SIGNED: bool>(a: &Affine, x: &[u16], o: &mut [u16]) -> usize {
    let (s, off) = (_mm512_set1_pd(a.scale), _mm512_set1_pd(a.offset));
    let (lo, hi) = (_mm512_set1_epi32(a.lo), _mm512_set1_epi32(a.hi));
    let n = x.len() / 16 * 16;
    let (xp, op) = (x.as_ptr(), o.as_mut_ptr());
    let mut i = 0;
    while i < n {
      // The loads are far apart in instructions; ask for the lines ahead (see percentile's counting pass).
      if i % 32 == 0 {
        _mm_prefetch::<_MM_HINT_T0>(xp.wrapping_add(i + AHEAD).cast());
      }
      // SAFETY: i + 16 <= n <= x.len() == o.len().
      let raw = unsafe { _mm256_loadu_si256(xp.add(i).cast()) };
      let v = if SIGNED { _mm512_cvtepi16_epi32(raw) } else { _mm512_cvtepu16_epi32(raw) };
      let f0 = _mm512_cvtepi32_pd(_mm512_castsi512_si256(v));
      let f1 = _mm512_cvtepi32_pd(_mm512_extracti64x4_epi64::<1>(v));
      let y0 = _mm512_cvttpd_epi32(_mm512_fmadd_pd(f0, s, off));
      let y1 = _mm512_cvttpd_epi32(_mm512_fmadd_pd(f1, s, off));
      let y = _mm512_inserti64x4::<1>(_mm512_castsi256_si512(y0), y1);
      let y = _mm512_min_epi32(_mm512_max_epi32(y, lo), hi);
      unsafe { _mm256_storeu_si256(op.add(i).cast(), _mm512_cvtepi32_epi16(y)) };
      i += 16;
    }
    n
  }

  /// # Safety
  /// AVX2 and FMA; `x.len() == o.len()`.
  #[target_feature(enable = "avx2,fma,sse4.1")]
  unsafe fn avx2<const SIGNED: bool>(a: &Affine, x: &[u16], o: &mut [u16]) -> usize {
    let (s, off) = (_mm256_set1_pd(a.scale), _mm256_set1_pd(a.offset));
    let (lo, hi) = (_mm_set1_epi32(a.lo), _mm_set1_epi32(a.hi));
    let n = x.len() / 8 * 8;
    let (xp, op) = (x.as_ptr(), o.as_mut_ptr());
    let mut i = 0;
    while i < n {
      if i % 32 == 0 {
        _mm_prefetch::<_MM_HINT_T0>(xp.wrapping_add(i + AHEAD).cast());
      }
      // SAFETY: i + 8 <= n <= x.len() == o.len().
      let raw = unsafe { _mm_loadu_si128(xp.add(i).cast()) };
      let v = if SIGNED { _mm256_cvtepi16_epi32(raw) } else { _mm256_cvtepu16_epi32(raw) };
      let f0 = _mm256_cvtepi32_pd(_mm256_castsi256_si128(v));
      let f1 = _mm256_cvtepi32_pd(_mm256_extracti128_si256::<1>(v));
      let y0 = _mm_min_epi32(_mm_max_epi32(_mm256_cvttpd_epi32(_mm256_fmadd_pd(f0, s, off)), lo), hi);
      let y1 = _mm_min_epi32(_mm_max_epi32(_mm256_cvttpd_epi32(_mm256_fmadd_pd(f1, s, off)), lo), hi);
      // y0, y1 are in [0, 65535]: the unsigned-saturating pack is exact.
      unsafe { _mm_storeu_si128(op.add(i).cast(), _mm_packus_epi32(y0, y1)) };
      i += 8;
    }
    n
  }
}

#[cfg(not(target_arch = "x86_64"))]
mod simd {
  use super::Affine;
  use stackbridge_core::cpu::Level;
  pub fn affine(_a: &Affine, _level: Level, _x: &[u16], _o: &mut [u16]) -> usize {
    0
  }
}

/// Percentile-normalizes one block (the whole stack or one slice) that is known to be non-empty.
fn normalize_block<T: Element>(src: &[T], p: &NormalizeParams, out: &mut [u16]) -> SbResult<()> {
  let qs = [p.low_percentile, p.high_percentile];
  // u8 / u16 / i16: the bracketed counting pass (or the full histogram), then the table.
  let use_lut = lut_bits(T::DTYPE).is_some();
  let pcts = percentiles(src, &qs)?;
  let s = Stretch::new(pcts[0], pcts[1], p);
  if s.flat {
    out
      .par_chunks_mut(MAP_CHUNK)
      .for_each(|o| o.fill(u16::from_f64(p.target_min)));
  } else {
    apply_stretch(src, &s, use_lut, out);
  }
  Ok(())
}

fn check_io(src_len: usize, out_len: usize, dims: Dims, p: &NormalizeParams, what: &str) -> SbResult<()> {
  dims.check_len(src_len, what)?;
  dims.check_len(out_len, &format!("{what} output"))?;
  p.validate()?;
  dims.require_nonempty(what)
}

/// DESIGN §7 `stackPercentileNormalize`: the percentiles of the WHOLE stack, then the stretch to uint16
/// (see the module doc for the exact numpy expression). `out` has `dims.len()` elements.
pub fn stack_percentile_normalize<T: Element>(
  src: &[T],
  dims: Dims,
  p: &NormalizeParams,
  out: &mut [u16],
) -> SbResult<()> {
  check_io(src.len(), out.len(), dims, p, "stackPercentileNormalize input")?;
  normalize_block(src, p, out)
}

/// DESIGN §7 `percentileNormalize`: the same stretch with the percentiles of each Z slice separately.
pub fn percentile_normalize<T: Element>(src: &[T], dims: Dims, p: &NormalizeParams, out: &mut [u16]) -> SbResult<()> {
  check_io(src.len(), out.len(), dims, p, "percentileNormalize input")?;
  let plane = dims.plane();
  // Slices in parallel (each slice's own passes are parallel too; rayon nests them).
  src
    .par_chunks_exact(plane)
    .zip(out.par_chunks_exact_mut(plane))
    .try_for_each(|(s, o)| normalize_block(s, p, o))
}

#[cfg(test)]
mod tests {
  use super::*;
  use stackbridge_core::ErrorCode;

  /// Plain per-element reference: sorted percentiles and the formula, no LUT.
  fn reference<T: Element>(src: &[T], p: &NormalizeParams) -> Vec<u16> {
    let mut s: Vec<f64> = src.iter().map(|v| v.to_f64()).collect();
    s.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let pct = |q: f64| {
      let idx = (s.len() - 1) as f64 * (q / 100.0);
      let lo = idx.floor() as usize;
      let hi = (lo + 1).min(s.len() - 1);
      let g = idx - lo as f64;
      let (a, b) = (s[lo], s[hi]);
      if g >= 0.5 {
        b - (b - a) * (1.0 - g)
      } else {
        a + (b - a) * g
      }
    };
    let (pl, ph) = (pct(p.low_percentile), pct(p.high_percentile));
    src
      .iter()
      .map(|v| {
        if pl == ph {
          return p.target_min as u16;
        }
        let c = v.to_f64().max(pl).min(ph);
        ((c - pl) * (p.target_max - p.target_min) / (ph - pl) + p.target_min) as u16
      })
      .collect()
  }

  #[test]
  fn tiny_stack_by_hand() {
    // [0, 10, 20, 30, 40] with low 25, high 75: pl = 10, ph = 30; tmax 100:
    // 0 -> clip 10 -> 0; 10 -> 0; 20 -> 50; 30 -> 100; 40 -> clip 30 -> 100.
    let src = [0u16, 10, 20, 30, 40, 20];
    let p = NormalizeParams {
      low_percentile: 25.0,
      high_percentile: 75.0,
      target_min: 0.0,
      target_max: 100.0,
    };
    // six values sorted [0,10,20,20,30,40]: index 1.25 -> 10 + 10*0.25 = 12.5; index 3.75 -> 30 - 10*0.25 = 27.5
    // x=20 -> (20-12.5)*100/15 = 50 ; x=0 -> 0 ; x=40 -> 100 ; x=10 -> 0 ; x=30 -> 100
    let mut out = [0u16; 6];
    stack_percentile_normalize(&src, Dims::new(1, 2, 3), &p, &mut out).unwrap();
    assert_eq!(out, [0, 0, 50, 100, 100, 50]);
    // Truncation, not rounding: target 0..99 -> 20 maps to 7.5 * 99 / 15 = 49.5 -> 49.
    let p2 = NormalizeParams {
      target_max: 99.0,
      ..p.clone()
    };
    stack_percentile_normalize(&src, Dims::new(1, 2, 3), &p2, &mut out).unwrap();
    assert_eq!(out, [0, 0, 49, 99, 99, 49]);
    // float input takes the per-element path and must agree
    let f: Vec<f32> = src.iter().map(|&v| v as f32).collect();
    let mut of = [0u16; 6];
    stack_percentile_normalize(&f, Dims::new(1, 2, 3), &p2, &mut of).unwrap();
    assert_eq!(of, out);
  }

  #[test]
  fn flat_stack_gives_target_min() {
    let src = [5i16; 12];
    let p = NormalizeParams {
      target_min: 123.9,
      ..Default::default()
    };
    let mut out = [0u16; 12];
    stack_percentile_normalize(&src, Dims::new(2, 2, 3), &p, &mut out).unwrap();
    assert!(out.iter().all(|&v| v == 123));
    percentile_normalize(&src, Dims::new(2, 2, 3), &p, &mut out).unwrap();
    assert!(out.iter().all(|&v| v == 123));
  }

  #[test]
  fn per_slice_uses_each_slice() {
    // slice 0 = [0..4) -> stretched alone; slice 1 = constant 9 -> target_min.
    let src = [0u8, 1, 2, 3, 9, 9, 9, 9];
    let p = NormalizeParams {
      low_percentile: 0.0,
      high_percentile: 100.0,
      target_min: 0.0,
      target_max: 300.0,
    };
    let mut out = [0u16; 8];
    percentile_normalize(&src, Dims::new(2, 2, 2), &p, &mut out).unwrap();
    assert_eq!(out, [0, 100, 200, 300, 0, 0, 0, 0]);
  }

  #[test]
  fn matches_plain_reference_all_dtypes() {
    let mut seed = 77u64;
    let mut next = || {
      seed ^= seed << 13;
      seed ^= seed >> 7;
      seed ^= seed << 17;
      seed
    };
    let dims = Dims::new(3, 70, 90);
    let raw: Vec<u64> = (0..dims.len()).map(|_| next()).collect();
    let p = NormalizeParams::default();
    let q = NormalizeParams {
      low_percentile: 2.5,
      high_percentile: 97.5,
      target_min: 10.0,
      target_max: 1000.0,
    };
    macro_rules! check {
      ($t:ty, $conv:expr) => {{
        let src: Vec<$t> = raw.iter().map($conv).collect();
        for prm in [&p, &q] {
          let mut out = vec![0u16; dims.len()];
          stack_percentile_normalize(&src, dims, prm, &mut out).unwrap();
          assert_eq!(out, reference(&src, prm), "{}", stringify!($t));
          percentile_normalize(&src, dims, prm, &mut out).unwrap();
          for (z, o) in out.chunks(dims.plane()).enumerate() {
            let s = &src[z * dims.plane()..(z + 1) * dims.plane()];
            assert_eq!(o, &reference(s, prm)[..], "{} slice {z}", stringify!($t));
          }
        }
      }};
    }
    check!(u8, |&v| v as u8);
    check!(u16, |&v| (v % 4096) as u16);
    check!(i16, |&v| v as i16);
    check!(i32, |&v| (v as i32) >> 8);
    check!(f32, |&v| (v % 100_000) as f32 / 3.0);
    check!(f64, |&v| (v % 100_000) as f64 / 7.0 - 1000.0);
  }

  #[test]
  fn affine_map_equals_the_table_at_every_level() {
    // The vector form of the map is used only where it reproduces the exact table on every value;
    // check that it is taken for ordinary parameters and that the output is the table's at every level.
    let mut seed = 99u64;
    let mut next = || {
      seed ^= seed << 13;
      seed ^= seed >> 7;
      seed ^= seed << 17;
      seed
    };
    let dims = Dims::new(2, 33, 101); // not a multiple of the vector width: the tail takes the table
    let raw: Vec<u64> = (0..dims.len()).map(|_| next()).collect();
    let u: Vec<u16> = raw.iter().map(|&v| (v % 3000) as u16 + 400).collect();
    let wide: Vec<u16> = raw.iter().map(|&v| v as u16).collect();
    let s: Vec<i16> = raw.iter().map(|&v| (v % 5000) as i16 - 2500).collect();
    let params = [
      NormalizeParams::default(),
      NormalizeParams { low_percentile: 0.0, high_percentile: 100.0, ..Default::default() },
      NormalizeParams { low_percentile: 2.5, high_percentile: 97.5, target_min: 10.0, target_max: 1000.0 },
      NormalizeParams { low_percentile: 90.0, high_percentile: 10.0, target_min: 0.0, target_max: 65535.0 },
      NormalizeParams { low_percentile: 5.0, high_percentile: 95.0, target_min: 65535.0, target_max: 0.0 },
      NormalizeParams { low_percentile: 5.0, high_percentile: 95.0, target_min: -5000.5, target_max: 90000.25 },
      NormalizeParams { low_percentile: 1.0, high_percentile: 99.0, target_min: 0.0, target_max: 1e300 },
    ];
    let mut fast = 0;
    stackbridge_core::cpu::at_every_level(|level| {
      for p in &params {
        let mut out = vec![0u16; dims.len()];
        for data in [&u, &wide] {
          stack_percentile_normalize(data, dims, p, &mut out).unwrap();
          assert_eq!(out, reference(data, p), "u16 {p:?} at {level:?}");
          let pc = percentiles(data, &[p.low_percentile, p.high_percentile]).unwrap();
          let st = Stretch::new(pc[0], pc[1], p);
          let table = stretch_table(DType::U16, &st);
          if let Some(a) = Affine::verified(DType::U16, &st, &table, level) {
            fast += 1;
            let mut o = vec![0u16; data.len()];
            let done = a.run(level, data, &mut o);
            assert!(done <= data.len() && data.len() - done < 16, "{done} of {}", data.len());
            for (k, (&x, &y)) in data[..done].iter().zip(&o[..done]).enumerate() {
              assert_eq!(y, table[x as usize], "element {k}");
            }
          }
        }
        stack_percentile_normalize(&s, dims, p, &mut out).unwrap();
        assert_eq!(out, reference(&s, p), "i16 {p:?} at {level:?}");
        percentile_normalize(&s, dims, p, &mut out).unwrap();
        for (z, o) in out.chunks(dims.plane()).enumerate() {
          assert_eq!(o, &reference(&s[z * dims.plane()..(z + 1) * dims.plane()], p)[..], "i16 slice {z} at {level:?}");
        }
      }
    });
    if stackbridge_core::cpu::detected() >= Level::Avx2 && stackbridge_core::cpu::level() >= Level::Avx2 {
      assert!(fast >= params.len(), "the affine form was verified only {fast} times");
    }
  }

  #[test]
  fn low_above_high_is_allowed_like_numpy() {
    // np.clip(x, lo, hi) with lo > hi gives hi everywhere -> (ph - pl) * r / (ph - pl) + tmin = tmax
    let src = [0u16, 10, 20, 30];
    let p = NormalizeParams {
      low_percentile: 100.0,
      high_percentile: 0.0,
      target_min: 0.0,
      target_max: 500.0,
    };
    let mut out = [0u16; 4];
    stack_percentile_normalize(&src, Dims::new(1, 1, 4), &p, &mut out).unwrap();
    assert_eq!(out, [500; 4]);
  }

  #[test]
  fn nan_stack_gives_zeros() {
    // numpy: percentiles are NaN, so every value becomes NaN and the uint16 cast gives 0 here.
    let src = [1.0f32, f32::NAN, 3.0, 4.0];
    let mut out = [7u16; 4];
    stack_percentile_normalize(&src, Dims::new(1, 2, 2), &NormalizeParams::default(), &mut out).unwrap();
    assert_eq!(out, [0; 4]);
  }

  #[test]
  fn errors() {
    let src = [1u16; 4];
    let mut out = [0u16; 4];
    let d = Dims::new(1, 2, 2);
    let bad = |p: NormalizeParams| {
      stack_percentile_normalize(&src, d, &p, &mut [0u16; 4])
        .unwrap_err()
        .code
    };
    assert_eq!(
      bad(NormalizeParams {
        low_percentile: -1.0,
        ..Default::default()
      }),
      ErrorCode::InvalidArgument
    );
    assert_eq!(
      bad(NormalizeParams {
        high_percentile: f64::NAN,
        ..Default::default()
      }),
      ErrorCode::InvalidArgument
    );
    assert_eq!(
      bad(NormalizeParams {
        target_max: f64::INFINITY,
        ..Default::default()
      }),
      ErrorCode::InvalidArgument
    );
    let p = NormalizeParams::default();
    assert_eq!(
      stack_percentile_normalize(&src[..3], d, &p, &mut out).unwrap_err().code,
      ErrorCode::InvalidArgument
    );
    assert_eq!(
      percentile_normalize(&src, d, &p, &mut out[..3]).unwrap_err().code,
      ErrorCode::InvalidArgument
    );
    let e = stack_percentile_normalize::<u16>(&[], Dims::new(0, 2, 2), &p, &mut []).unwrap_err();
    assert_eq!(e.code, ErrorCode::Dimension);
  }
}
