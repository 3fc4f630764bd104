//! Z projections (DESIGN §7 `createProjection`): a `[Z, Y, X]` stack to one `[1, Y, X]` plane.
//!
//! Oracles, each followed by `.astype(T)` (truncation toward zero for integer T):
//! `np.max(stack, axis=0)`, `np.min(stack, axis=0)` (NaN propagates), `np.mean(stack, axis=0)`,
//! `np.median(stack, axis=0)` and `np.std(stack, axis=0)` (population, ddof = 0).
//! numpy accumulates an axis-0 reduction slice by slice, in f64 for integer stacks and in the stack's
//! own precision for float stacks; this module does the same (f32 arithmetic is emulated exactly by
//! rounding each f64 operation to f32, which is exact for +, -, *, / and sqrt), so results are bit-equal.

use crate::image::Dims;
use rayon::prelude::*;
use stackbridge_core::cpu::Kernel;
use stackbridge_core::cpu_run;
use stackbridge_core::{DType, Element, SbError, SbResult};
use std::cmp::Ordering;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProjectionMethod {
  Max,
  Mean,
  Min,
  Median,
  Std,
}

const METHOD_NAMES: [&str; 5] = [
  "max_projection",
  "mean_projection",
  "min_projection",
  "median_projection",
  "std_projection",
];

impl ProjectionMethod {
  pub fn parse(s: &str) -> SbResult<Self> {
    Ok(match s {
      "max_projection" => ProjectionMethod::Max,
      "mean_projection" => ProjectionMethod::Mean,
      "min_projection" => ProjectionMethod::Min,
      "median_projection" => ProjectionMethod::Median,
      "std_projection" => ProjectionMethod::Std,
      other => {
        return Err(
          SbError::invalid(format!(
            "unknown projection method {other:?}; valid methods: {}",
            METHOD_NAMES.join(", ")
          ))
          .with("method", other),
        )
      }
    })
  }

  pub fn name(self) -> &'static str {
    match self {
      ProjectionMethod::Max => METHOD_NAMES[0],
      ProjectionMethod::Mean => METHOD_NAMES[1],
      ProjectionMethod::Min => METHOD_NAMES[2],
      ProjectionMethod::Median => METHOD_NAMES[3],
      ProjectionMethod::Std => METHOD_NAMES[4],
    }
  }
}

/// Rounds an f64 intermediate to the precision numpy computes in for element type T:
/// f32 for float32 stacks, f64 otherwise (constant-folded per T).
#[inline(always)]
pub(crate) fn round_as<T: Element>(v: f64) -> f64 {
  if T::DTYPE == DType::F32 {
    v as f32 as f64
  } else {
    v
  }
}

/// Projects `src` (`dims`) along Z into `out` (`dims.h * dims.w` elements, a `[1, Y, X]` result).
/// Errors: `Z == 0` → `DimensionError`; length mismatches → `InvalidArgumentError`.
pub fn project<T: Element>(src: &[T], dims: Dims, method: ProjectionMethod, out: &mut [T]) -> SbResult<()> {
  dims.check_len(src.len(), "projection input")?;
  if dims.z == 0 {
    return Err(SbError::dimension(format!("{} needs at least one Z slice", method.name())).with("z", 0));
  }
  Dims::new(1, dims.h, dims.w).check_len(out.len(), "projection output")?;
  if dims.plane() == 0 {
    return Ok(());
  }
  for_row_blocks(src, dims, out, method);
  Ok(())
}

/// One block of output by `method`. Called by direct, always-inlined calls inside `cpu_run!`'s
/// body, so each level's copy is compiled with that level's features: passing the row function as
/// an `impl Fn` instead left one shared `Fn::call` shim compiled at the baseline (SSE) level.
#[inline(always)]
fn project_rows<T: Element>(method: ProjectionMethod, c: &Column<T>, out: &mut [T]) {
  match method {
    ProjectionMethod::Max => max_rows(c, out),
    ProjectionMethod::Min => min_rows(c, out),
    ProjectionMethod::Mean => mean_rows(c, out),
    ProjectionMethod::Std => std_rows(c, out),
    ProjectionMethod::Median => median_rows(c, out),
  }
}

/// The Z inputs of one block of output: `zrow(z)` is the part of slice z above that block.
struct Column<'a, T> {
  src: &'a [T],
  plane: usize,
  start: usize,
  len: usize,
  z: usize,
}

impl<'a, T> Column<'a, T> {
  #[inline]
  fn zrow(&self, z: usize) -> &'a [T] {
    &self.src[z * self.plane + self.start..][..self.len]
  }
}

/// Pixels per work item: runs of 16 KiB (uint16) per slice are long enough for the hardware
/// prefetcher to train on each of the Z streams (10–13 % faster median and mean than 2048 on a
/// 10×2048² uint16 stack, `cargo bench --bench normalize`), and an f64 accumulator row (64 KiB)
/// stays in L2.
const BLOCK: usize = 8192;

/// Runs `method` in parallel over contiguous blocks of the output plane (a projection treats every
/// pixel alike, so blocks need not be whole rows).
fn for_row_blocks<T: Element>(src: &[T], dims: Dims, out: &mut [T], method: ProjectionMethod) {
  out.par_chunks_mut(BLOCK).enumerate().for_each(|(b, o)| {
    let col = Column {
      src,
      plane: dims.plane(),
      start: b * BLOCK,
      len: o.len(),
      z: dims.z,
    };
    cpu_run!(Kernel::Projection, project_rows(method, &col, o));
  });
}

// NaN-propagating max / min (np.maximum / np.minimum): keep the accumulator while it is NaN, take a NaN x.
// `a != a` is the NaN test; for integer T it is constant false and these are plain max / min.
#[allow(clippy::eq_op)]
#[inline(always)]
fn np_max<T: Element>(acc: T, x: T) -> T {
  if acc != acc || x <= acc {
    acc
  } else {
    x
  }
}

#[allow(clippy::eq_op)]
#[inline(always)]
fn np_min<T: Element>(acc: T, x: T) -> T {
  if acc != acc || x >= acc {
    acc
  } else {
    x
  }
}

#[inline(always)]
fn max_rows<T: Element>(c: &Column<T>, out: &mut [T]) {
  out.copy_from_slice(c.zrow(0));
  for z in 1..c.z {
    for (o, &x) in out.iter_mut().zip(c.zrow(z)) {
      *o = np_max(*o, x);
    }
  }
}

#[inline(always)]
fn min_rows<T: Element>(c: &Column<T>, out: &mut [T]) {
  out.copy_from_slice(c.zrow(0));
  for z in 1..c.z {
    for (o, &x) in out.iter_mut().zip(c.zrow(z)) {
      *o = np_min(*o, x);
    }
  }
}

/// Sum over z (slice by slice, numpy's order) divided by Z, in T's numpy precision.
#[inline(always)]
fn mean_into<T: Element>(c: &Column<T>, acc: &mut [f64]) {
  for (a, &x) in acc.iter_mut().zip(c.zrow(0)) {
    *a = x.to_f64();
  }
  for z in 1..c.z {
    for (a, &x) in acc.iter_mut().zip(c.zrow(z)) {
      *a = round_as::<T>(*a + x.to_f64());
    }
  }
  let n = c.z as f64;
  for a in acc.iter_mut() {
    *a = round_as::<T>(*a / n);
  }
}

#[inline(always)]
fn mean_rows<T: Element>(c: &Column<T>, out: &mut [T]) {
  let mut acc = vec![0f64; out.len()];
  mean_into(c, &mut acc);
  for (o, &a) in out.iter_mut().zip(&acc) {
    *o = T::from_f64(a);
  }
}

/// numpy `_var` then sqrt: mean, squared deviations summed slice by slice, / Z (ddof 0).
#[inline(always)]
fn std_rows<T: Element>(c: &Column<T>, out: &mut [T]) {
  let mut mean = vec![0f64; out.len()];
  mean_into(c, &mut mean);
  let mut acc = vec![0f64; out.len()];
  for z in 0..c.z {
    for ((a, &m), &x) in acc.iter_mut().zip(&mean).zip(c.zrow(z)) {
      let d = round_as::<T>(x.to_f64() - m);
      let sq = round_as::<T>(d * d);
      *a = if z == 0 { sq } else { round_as::<T>(*a + sq) };
    }
  }
  let n = c.z as f64;
  for (o, &a) in out.iter_mut().zip(&acc) {
    *o = T::from_f64(round_as::<T>(round_as::<T>(a / n).sqrt()));
  }
}

// ---------------------------------------------------------------------------------------------
// Median.

/// Largest Z that uses the sorting network (above it, per-pixel selection is cheaper).
const NETWORK_MAX_Z: usize = 48;

/// Batcher's odd-even merge sort comparators for `n` inputs (each `(i, j)`, `i < j`, puts the smaller
/// value at `i`). Generated for arbitrary n by leaving out comparators that reach past n, which is
/// the same as padding with +inf.
pub fn batcher_network(n: usize) -> Vec<(usize, usize)> {
  let mut comps = Vec::new();
  let mut p = 1;
  while p < n {
    let mut k = p;
    while k >= 1 {
      let mut j = k % p;
      while j + k < n {
        for i in 0..k.min(n - j - k) {
          if (i + j) / (2 * p) == (i + j + k) / (2 * p) {
            comps.push((i + j, i + j + k));
          }
        }
        j += 2 * k;
      }
      k /= 2;
    }
    p *= 2;
  }
  comps
}

/// The comparators of `batcher_network(n)` that can influence the output positions `keep`.
pub fn pruned_network(n: usize, keep: &[usize]) -> Vec<(usize, usize)> {
  let mut needed = vec![false; n];
  for &k in keep {
    needed[k] = true;
  }
  let mut kept: Vec<(usize, usize)> = Vec::new();
  for &(i, j) in batcher_network(n).iter().rev() {
    if needed[i] || needed[j] {
      needed[i] = true;
      needed[j] = true;
      kept.push((i, j));
    }
  }
  kept.reverse();
  kept
}

/// The median of sorted middle values `lo <= hi` as numpy: for even Z, `np.mean([lo, hi])` in T's precision.
#[inline(always)]
fn median_of<T: Element>(lo: T, hi: T, even: bool) -> T {
  if even && !T::DTYPE.is_float() {
    // Integer T (at most 32 bits): lo + hi is exact in f64 and in i64, and `as` truncates the f64
    // half toward zero exactly as i64 division does — the same value without the scalar f64 casts.
    T::from_i64_wrapping((lo.to_i64() + hi.to_i64()) / 2)
  } else if even {
    T::from_f64(round_as::<T>(round_as::<T>(lo.to_f64() + hi.to_f64()) / 2.0))
  } else {
    hi
  }
}

#[inline(always)]
fn median_rows<T: Element>(c: &Column<T>, out: &mut [T]) {
  if c.z <= NETWORK_MAX_Z {
    median_rows_network(c, out)
  } else {
    median_rows_select(c, out)
  }
}

/// Median by a comparator network applied across a strip of X lanes at once (vectorises: each
/// comparator is an elementwise min / max of two rows of the strip buffer).
#[inline(always)]
fn median_rows_network<T: Element>(c: &Column<T>, out: &mut [T]) {
  let z = c.z;
  let mid = z / 2;
  let even = z.is_multiple_of(2);
  let keep: Vec<usize> = if even { vec![mid - 1, mid] } else { vec![mid] };
  let net = pruned_network(z, &keep);
  // Strip width: keep Z rows of the strip within ~16 KiB of L1.
  let lane = (16384 / (z * std::mem::size_of::<T>())).clamp(16, 1024) & !15;
  let mut buf = vec![src_zero::<T>(c); z * lane];
  let mut nan = vec![false; lane];
  let mut x0 = 0;
  while x0 < c.len {
    let bw = lane.min(c.len - x0);
    for zi in 0..z {
      buf[zi * lane..zi * lane + bw].copy_from_slice(&c.zrow(zi)[x0..x0 + bw]);
    }
    for &(i, j) in &net {
      // i < j: split so both rows can be borrowed.
      let (head, tail) = buf.split_at_mut(j * lane);
      let a = &mut head[i * lane..i * lane + bw];
      let b = &mut tail[..bw];
      for (a, b) in a.iter_mut().zip(b.iter_mut()) {
        let (x, y) = (*a, *b);
        let lt = y < x;
        *a = if lt { y } else { x };
        *b = if lt { x } else { y };
      }
    }
    let o = &mut out[x0..x0 + bw];
    let hi = &buf[mid * lane..mid * lane + bw];
    if even {
      let lo = &buf[(mid - 1) * lane..(mid - 1) * lane + bw];
      for ((o, &l), &h) in o.iter_mut().zip(lo).zip(hi) {
        *o = median_of(l, h, true);
      }
    } else {
      o.copy_from_slice(hi);
    }
    if T::DTYPE.is_float() {
      // np.median gives NaN for any column holding a NaN (comparisons above ignore them).
      nan[..bw].fill(false);
      for zi in 0..z {
        #[allow(clippy::eq_op)]
        for (f, &v) in nan[..bw].iter_mut().zip(&c.zrow(zi)[x0..x0 + bw]) {
          *f |= v != v;
        }
      }
      for (o, &f) in o.iter_mut().zip(&nan[..bw]) {
        if f {
          *o = T::from_f64(f64::NAN);
        }
      }
    }
    x0 += bw;
  }
}

/// Any value of T to initialise buffers with (T has no Default).
fn src_zero<T: Element>(c: &Column<T>) -> T {
  c.zrow(0).first().copied().unwrap_or_else(|| T::from_f64(0.0))
}

/// Median for large Z: gather each pixel's Z values and select the middle one(s).
#[inline(always)]
fn median_rows_select<T: Element>(c: &Column<T>, out: &mut [T]) {
  let z = c.z;
  let mid = z / 2;
  let even = z.is_multiple_of(2);
  let rows: Vec<&[T]> = (0..z).map(|zi| c.zrow(zi)).collect();
  let mut col = Vec::with_capacity(z);
  for (x, o) in out.iter_mut().enumerate() {
    col.clear();
    col.extend(rows.iter().map(|r| r[x]));
    #[allow(clippy::eq_op)]
    if T::DTYPE.is_float() && col.iter().any(|v| v != v) {
      *o = T::from_f64(f64::NAN);
      continue;
    }
    let cmp = |a: &T, b: &T| a.partial_cmp(b).unwrap_or(Ordering::Equal);
    let (left, hi, _) = col.select_nth_unstable_by(mid, cmp);
    let hi = *hi;
    let lo = if even {
      left.iter().copied().fold(left[0], |m, v| if v > m { v } else { m })
    } else {
      hi
    };
    *o = median_of(lo, hi, even);
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use stackbridge_core::ErrorCode;

  fn xorshift(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
  }

  /// Naive per-pixel reference: gather the column, sort it, apply numpy's definitions in f64.
  fn naive<T: Element>(src: &[T], d: Dims, m: ProjectionMethod) -> Vec<f64> {
    (0..d.plane())
      .map(|p| {
        let mut col: Vec<f64> = (0..d.z).map(|z| src[z * d.plane() + p].to_f64()).collect();
        let n = col.len() as f64;
        match m {
          ProjectionMethod::Max => col.iter().cloned().fold(f64::MIN, f64::max),
          ProjectionMethod::Min => col.iter().cloned().fold(f64::MAX, f64::min),
          ProjectionMethod::Mean => col.iter().sum::<f64>() / n,
          ProjectionMethod::Std => {
            let mean = col.iter().sum::<f64>() / n;
            (col.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n).sqrt()
          }
          ProjectionMethod::Median => {
            col.sort_by(|a, b| a.partial_cmp(b).unwrap());
            let k = col.len() / 2;
            if col.len().is_multiple_of(2) {
              (col[k - 1] + col[k]) / 2.0
            } else {
              col[k]
            }
          }
        }
      })
      .collect()
  }

  fn run<T: Element>(src: &[T], d: Dims, m: ProjectionMethod) -> Vec<T> {
    let mut out = vec![src[0]; d.plane()];
    project(src, d, m, &mut out).unwrap();
    out
  }

  #[test]
  fn batcher_network_sorts_every_size() {
    let mut seed = 5u64;
    for n in 1..=70 {
      let net = batcher_network(n);
      for _ in 0..50 {
        let mut v: Vec<u64> = (0..n).map(|_| xorshift(&mut seed) % 10).collect();
        let mut s = v.clone();
        s.sort();
        for &(i, j) in &net {
          assert!(i < j && j < n);
          if v[j] < v[i] {
            v.swap(i, j);
          }
        }
        assert_eq!(v, s, "n = {n}");
      }
    }
    // 0-1 principle, exhaustive for small n
    for n in 1..=12 {
      let net = batcher_network(n);
      for bits in 0u32..(1 << n) {
        let mut v: Vec<u32> = (0..n).map(|i| (bits >> i) & 1).collect();
        for &(i, j) in &net {
          if v[j] < v[i] {
            v.swap(i, j);
          }
        }
        assert!(v.windows(2).all(|w| w[0] <= w[1]), "n = {n} bits = {bits:b}");
      }
    }
  }

  #[test]
  fn projections_match_naive_loop() {
    let mut seed = 99u64;
    for &(z, h, w) in &[
      (1, 3, 5),
      (2, 4, 4),
      (3, 5, 7),
      (10, 9, 70),
      (13, 3, 40),
      (48, 2, 33),
      (49, 3, 5),
      (64, 2, 9),
      // Planes over BLOCK pixels, not a multiple of it: several work items and a short last one.
      (4, 7, 2500),
      (10, 3, 3001),
    ] {
      let d = Dims::new(z, h, w);
      let raw: Vec<u64> = (0..d.len()).map(|_| xorshift(&mut seed)).collect();
      let u: Vec<u16> = raw.iter().map(|&v| v as u16).collect();
      let i: Vec<i16> = raw.iter().map(|&v| v as i16).collect();
      let f: Vec<f64> = raw.iter().map(|&v| (v % 1_000_000) as f64 / 64.0 - 5000.0).collect();
      let i32s: Vec<i32> = raw.iter().map(|&v| v as i32).collect();
      for m in [
        ProjectionMethod::Max,
        ProjectionMethod::Min,
        ProjectionMethod::Mean,
        ProjectionMethod::Median,
        ProjectionMethod::Std,
      ] {
        let want = naive(&u, d, m);
        assert_eq!(
          run(&u, d, m),
          want.iter().map(|&v| u16::from_f64(v)).collect::<Vec<_>>(),
          "u16 {m:?} {d:?}"
        );
        let want = naive(&i, d, m);
        assert_eq!(
          run(&i, d, m),
          want.iter().map(|&v| i16::from_f64(v)).collect::<Vec<_>>(),
          "i16 {m:?} {d:?}"
        );
        let want = naive(&i32s, d, m);
        let got = run(&i32s, d, m);
        if m == ProjectionMethod::Std {
          // f64 sums of big i32 values: the naive sum order differs only in the last bits.
          for (g, w) in got.iter().zip(&want) {
            assert!((*g as f64 - w).abs() <= 1.0, "i32 std {g} vs {w}");
          }
        } else {
          assert_eq!(
            got,
            want.iter().map(|&v| i32::from_f64(v)).collect::<Vec<_>>(),
            "i32 {m:?} {d:?}"
          );
        }
        // f64: same formulas in f64; the naive code sums in the same order (z ascending).
        let want = naive(&f, d, m);
        let got = run(&f, d, m);
        for (g, w) in got.iter().zip(&want) {
          assert!((g - w).abs() <= 1e-9 * w.abs().max(1.0), "f64 {m:?} {d:?}: {g} vs {w}");
        }
      }
    }
  }

  #[test]
  fn hand_cases() {
    // stack [[1, 8], [4, 2], [7, 5], [2, 9]] (Z=4, 1x2):
    // max [7, 9]; min [1, 2]; mean [3.5, 6] -> [3, 6]; median [(2+4)/2, (5+8)/2] = [3, 6.5] -> [3, 6]
    // std: col0 mean 3.5, dev^2 = 6.25+0.25+12.25+2.25 = 21 / 4 = 5.25 -> 2.29 -> 2
    let s = [1u8, 8, 4, 2, 7, 5, 2, 9];
    let d = Dims::new(4, 1, 2);
    assert_eq!(run(&s, d, ProjectionMethod::Max), [7, 9]);
    assert_eq!(run(&s, d, ProjectionMethod::Min), [1, 2]);
    assert_eq!(run(&s, d, ProjectionMethod::Mean), [3, 6]);
    assert_eq!(run(&s, d, ProjectionMethod::Median), [3, 6]);
    assert_eq!(run(&s, d, ProjectionMethod::Std), [2, 2]);
    // float median keeps the half
    let f: Vec<f32> = s.iter().map(|&v| v as f32).collect();
    assert_eq!(run(&f, d, ProjectionMethod::Median), [3.0, 6.5]);
    // negative means truncate toward zero (np.float64(-1.5).astype(int16) == -1)
    let n = [-1i16, -2];
    assert_eq!(run(&n, Dims::new(2, 1, 1), ProjectionMethod::Mean), [-1]);
    assert_eq!(run(&n, Dims::new(2, 1, 1), ProjectionMethod::Median), [-1]);
  }

  #[test]
  fn float32_matches_numpy_precision() {
    // np.mean(np.array([[16777216], [1], [1]], np.float32), axis=0): f32 sums 16777216+1 -> 16777216,
    // again -> 16777216, / 3 -> 5592405.5 (f32: 5592405.5); f64 would give 5592406.0.
    let s = [16777216.0f32, 1.0, 1.0];
    assert_eq!(run(&s, Dims::new(3, 1, 1), ProjectionMethod::Mean), [5592405.5]);
  }

  #[test]
  fn nan_propagates_like_numpy() {
    let s = [1.0f64, f64::NAN, 3.0, 4.0, 5.0, 0.0];
    let d = Dims::new(3, 1, 2);
    for m in [
      ProjectionMethod::Max,
      ProjectionMethod::Min,
      ProjectionMethod::Mean,
      ProjectionMethod::Median,
      ProjectionMethod::Std,
    ] {
      let r = run(&s, d, m);
      assert!(r[1].is_nan(), "{m:?}");
      assert!(!r[0].is_nan(), "{m:?}");
    }
    // NaN first in the column too
    let s = [f64::NAN, 2.0, 1.0, 3.0];
    let d = Dims::new(2, 1, 2);
    assert!(run(&s, d, ProjectionMethod::Max)[0].is_nan());
    assert!(run(&s, d, ProjectionMethod::Min)[0].is_nan());
    // large-Z selection path
    let mut big = vec![1.0f32; 60];
    big[31] = f32::NAN;
    assert!(run(&big, Dims::new(60, 1, 1), ProjectionMethod::Median)[0].is_nan());
  }

  #[test]
  fn parse_and_errors() {
    for m in [
      ProjectionMethod::Max,
      ProjectionMethod::Mean,
      ProjectionMethod::Min,
      ProjectionMethod::Median,
      ProjectionMethod::Std,
    ] {
      assert_eq!(ProjectionMethod::parse(m.name()).unwrap(), m);
    }
    let e = ProjectionMethod::parse("sum_projection").unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidArgument);
    assert!(e.message.contains("median_projection"));
    let mut out = [0u16; 4];
    assert_eq!(
      project::<u16>(&[], Dims::new(0, 2, 2), ProjectionMethod::Max, &mut out)
        .unwrap_err()
        .code,
      ErrorCode::Dimension
    );
    assert_eq!(
      project(&[0u16; 8], Dims::new(2, 2, 2), ProjectionMethod::Max, &mut out[..3])
        .unwrap_err()
        .code,
      ErrorCode::InvalidArgument
    );
    assert_eq!(
      project(&[0u16; 7], Dims::new(2, 2, 2), ProjectionMethod::Max, &mut out)
        .unwrap_err()
        .code,
      ErrorCode::InvalidArgument
    );
    // empty plane is fine
    project::<u16>(&[], Dims::new(3, 0, 5), ProjectionMethod::Median, &mut []).unwrap();
  }
}
