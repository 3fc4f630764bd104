//! Exact percentiles with numpy's default `linear` method (`numpy.percentile(data, q)`), in O(N).
//!
//! Small integer dtypes (u8, u16, i16) count instead of sorting. On large inputs (≥ 2^20 elements, a CPU
//! with AVX-512BW/VBMI2, at most two value windows) a stratified sample places a narrow value window
//! around each wanted rank and one vectorised pass counts the elements below each window and
//! histograms the ~1% inside it ([`bracketed_order_stats`]); the counts prove the ranks lie inside the
//! windows, and when they do not the full parallel value histogram ([`ValueHistogram`]) is used instead,
//! so the sample only ever changes the speed, never the result. Other dtypes (i32, f32, f64) select the
//! order statistics on one copy of the data (`select_nth_unstable`), shared by all requested `q`.
//!
//! The interpolation is numpy's `_quantile` / `_lerp` written out: virtual index `(n - 1) * (q / 100)`,
//! `previous = floor(index)`, `gamma = index - previous`, and for an index at or past the last element
//! numpy's `-1` indices (both neighbours are the maximum, `gamma = index + 1`), so infinities give the
//! same NaNs numpy gives. Order statistics are converted to f64 before interpolating.

use rayon::prelude::*;
use stackbridge_core::cpu::{self, Kernel};
use stackbridge_core::cpu_run;
use stackbridge_core::{DType, Element, SbError, SbResult};
use std::cmp::Ordering;

/// Where one percentile lies between two order statistics (0-based ranks into the sorted data).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VirtualIndex {
  pub prev: usize,
  pub next: usize,
  pub gamma: f64,
}

/// numpy's `linear` virtual index for `n >= 1` elements and `q` in `[0, 100]` (`_get_indexes` + `_get_gamma`).
pub fn virtual_index(n: usize, q: f64) -> VirtualIndex {
  debug_assert!(n >= 1);
  let last = n - 1;
  // np.percentile divides q by 100 first; 'linear' then multiplies by (n - 1).
  let vi = (last as f64) * (q / 100.0);
  if vi >= last as f64 {
    // numpy sets both indices to -1 (the maximum) and leaves gamma = vi - (-1).
    VirtualIndex {
      prev: last,
      next: last,
      gamma: vi + 1.0,
    }
  } else {
    let prev = vi.floor();
    VirtualIndex {
      prev: prev as usize,
      next: prev as usize + 1,
      gamma: vi - prev,
    }
  }
}

/// numpy's `_lerp(a, b, t)`: `a + (b - a) * t`, replaced by `b - (b - a) * (1 - t)` where `t >= 0.5`.
#[inline]
pub fn lerp(a: f64, b: f64, t: f64) -> f64 {
  let diff = b - a;
  if t >= 0.5 {
    b - diff * (1.0 - t)
  } else {
    a + diff * t
  }
}

/// `InvalidArgumentError` unless every `q` is a number in `[0, 100]`.
pub fn check_percentiles(qs: &[f64]) -> SbResult<()> {
  for &q in qs {
    if !(0.0..=100.0).contains(&q) {
      return Err(SbError::invalid(format!("percentile must be a number in [0, 100], got {q}")).with("q", q));
    }
  }
  Ok(())
}

/// `numpy.percentile(data, q)` (method `'linear'`, over all elements) for each `q` in `qs`.
///
/// u8 / u16 / i16 count (bracketed pass or full value histogram), i32 / f32 / f64 select on one copy;
/// every path is exact.
/// Float data containing NaN gives NaN for every `q`, as numpy. Errors: empty `data`, or a `q` outside
/// `[0, 100]` or NaN → `InvalidArgumentError`.
pub fn percentiles<T: Element>(data: &[T], qs: &[f64]) -> SbResult<Vec<f64>> {
  if data.is_empty() {
    return Err(SbError::invalid("percentile of an empty array is undefined"));
  }
  check_percentiles(qs)?;
  if qs.is_empty() {
    return Ok(Vec::new());
  }
  if lut_bits(T::DTYPE).is_some() {
    Ok(small_int_percentiles(data, qs))
  } else {
    Ok(select_percentiles(data, qs))
  }
}

/// Percentiles of u8 / u16 / i16 data (`qs` valid, `data` non-empty): the bracketed counting pass of
/// [`bracketed_order_stats`] when it applies, else the full [`ValueHistogram`]. Both are exact.
pub fn small_int_percentiles<T: Element>(data: &[T], qs: &[f64]) -> Vec<f64> {
  let n = data.len();
  let vis: Vec<VirtualIndex> = qs.iter().map(|&q| virtual_index(n, q)).collect();
  let mut ranks: Vec<u64> = vis.iter().flat_map(|v| [v.prev as u64, v.next as u64]).collect();
  ranks.sort_unstable();
  ranks.dedup();
  let values = match bracketed_order_stats(data, &ranks) {
    Some(v) => v,
    None => match ValueHistogram::of(data) {
      Some(h) => h.order_stats(&ranks),
      None => return select_percentiles(data, qs),
    },
  };
  let at = |r: usize| values[ranks.binary_search(&(r as u64)).unwrap_or(0)];
  vis.iter().map(|v| lerp(at(v.prev), at(v.next), v.gamma)).collect()
}

/// Percentiles by selection (the path for i32 / f32 / f64; usable for any dtype). `qs` must be valid and
/// `data` non-empty. Public so tests and callers can cross-check the histogram path.
pub fn select_percentiles<T: Element>(data: &[T], qs: &[f64]) -> Vec<f64> {
  let n = data.len();
  #[allow(clippy::eq_op)] // x != x is the NaN test that also compiles for integer T
  let has_nan = T::DTYPE.is_float() && data.par_iter().any(|x| x != x);
  if has_nan {
    return vec![f64::NAN; qs.len()];
  }
  let vis: Vec<VirtualIndex> = qs.iter().map(|&q| virtual_index(n, q)).collect();
  let mut ranks: Vec<usize> = vis.iter().flat_map(|v| [v.prev, v.next]).collect();
  ranks.sort_unstable();
  ranks.dedup();

  let mut work = data.to_vec();
  let cmp = |a: &T, b: &T| a.partial_cmp(b).unwrap_or(Ordering::Equal); // no NaN left
  let mut values = Vec::with_capacity(ranks.len());
  let mut start = 0;
  for &r in &ranks {
    // Everything before `start` is <= every element from `start` on (previous selections).
    let (_, v, _) = work[start..].select_nth_unstable_by(r - start, cmp);
    values.push(v.to_f64());
    start = r + 1;
  }
  let at = |r: usize| values[ranks.binary_search(&r).unwrap_or(0)];
  vis.iter().map(|v| lerp(at(v.prev), at(v.next), v.gamma)).collect()
}

// ---------------------------------------------------------------------------------------------
// Value histograms for the small integer dtypes.

/// log2 of the number of distinct values of a dtype that gets a value histogram / lookup table.
pub fn lut_bits(dtype: DType) -> Option<u32> {
  match dtype {
    DType::U8 => Some(8),
    DType::U16 | DType::I16 => Some(16),
    _ => None,
  }
}

/// The table index of `x` for a dtype with [`lut_bits`]: `x - T::MIN` (0 for other dtypes).
/// The mask keeps the index provably inside a `1 << bits` table, so the hot loops have no bounds checks.
#[inline(always)]
pub fn lut_index<T: Element>(x: T) -> usize {
  match T::DTYPE {
    DType::U8 => (x.to_i64() as usize) & 0xFF,
    DType::U16 => (x.to_i64() as usize) & 0xFFFF,
    DType::I16 => ((x.to_i64() + 32768) as usize) & 0xFFFF,
    _ => 0,
  }
}

/// The value whose [`lut_index`] is `i`, as f64.
#[inline]
pub fn lut_value(dtype: DType, i: usize) -> f64 {
  match dtype {
    DType::I16 => i as f64 - 32768.0,
    _ => i as f64,
  }
}

/// How often each value of a u8 / u16 / i16 array occurs: `counts[lut_index(x)]`.
#[derive(Clone, Debug)]
pub struct ValueHistogram {
  pub dtype: DType,
  pub counts: Vec<u64>,
  pub total: u64,
}

/// Elements per counting step (and the size below which counting is sequential).
const COUNT_CHUNK: usize = 1 << 16;

/// Interleaved sub-histograms per worker (consecutive elements to different counters, against
/// store-to-load forwarding stalls on runs of one value). Measured on the target Zen 4: runs and
/// constant data cost nothing extra with one table, while 2 or 4 tables spill L1 on 12-bit data and
/// count 1.5x slower, so one it is; the code keeps the parameter for other CPUs.
const SUB: usize = 1;

impl ValueHistogram {
  /// Counts `data` in parallel; `None` for dtypes without a value histogram (i32, f32, f64).
  pub fn of<T: Element>(data: &[T]) -> Option<ValueHistogram> {
    let counts = match lut_bits(T::DTYPE)? {
      8 => count_values::<T, 256>(data),
      _ => count_values::<T, 65536>(data),
    };
    Some(ValueHistogram {
      dtype: T::DTYPE,
      counts,
      total: data.len() as u64,
    })
  }

  /// The `k`-th smallest element (0-based) for each `k` of the ascending `ranks`, by one prefix walk.
  pub fn order_stats(&self, ranks: &[u64]) -> Vec<f64> {
    let mut out = Vec::with_capacity(ranks.len());
    let mut cum = 0u64;
    let mut bin = 0usize;
    for &k in ranks {
      debug_assert!(k < self.total);
      // Advance to the first bin whose cumulative count exceeds k.
      while bin < self.counts.len() && cum + self.counts[bin] <= k {
        cum += self.counts[bin];
        bin += 1;
      }
      out.push(lut_value(self.dtype, bin.min(self.counts.len() - 1)));
    }
    out
  }

  /// [`percentiles`] from the histogram (`qs` must already be valid, the histogram non-empty).
  pub fn percentiles_unchecked(&self, qs: &[f64]) -> Vec<f64> {
    let n = self.total as usize;
    let vis: Vec<VirtualIndex> = qs.iter().map(|&q| virtual_index(n, q)).collect();
    let mut ranks: Vec<u64> = vis.iter().flat_map(|v| [v.prev as u64, v.next as u64]).collect();
    ranks.sort_unstable();
    ranks.dedup();
    let values = self.order_stats(&ranks);
    let at = |r: usize| values[ranks.binary_search(&(r as u64)).unwrap_or(0)];
    vis.iter().map(|v| lerp(at(v.prev), at(v.next), v.gamma)).collect()
  }
}

/// One worker's counts: [`SUB`] interleaved u32 sub-histograms, flushed into u64 totals before any
/// u32 could overflow.
struct Counter<const N: usize> {
  sub: Box<[[u32; SUB]; N]>,
  wide: Option<Vec<u64>>,
  pending: usize,
}

impl<const N: usize> Counter<N> {
  fn new() -> Self {
    let sub: Box<[[u32; SUB]; N]> = vec![[0u32; SUB]; N].into_boxed_slice().try_into().expect("length N");
    Counter {
      sub,
      wide: None,
      pending: 0,
    }
  }

  fn flush(&mut self) {
    let wide = self.wide.get_or_insert_with(|| vec![0u64; N]);
    for (w, s) in wide.iter_mut().zip(self.sub.iter_mut()) {
      *w += s.iter().map(|&c| c as u64).sum::<u64>();
      *s = [0; SUB];
    }
    self.pending = 0;
  }

  #[inline(always)]
  fn add<T: Element>(&mut self, data: &[T]) {
    for chunk in data.chunks(COUNT_CHUNK) {
      if self.pending + chunk.len() > u32::MAX as usize {
        self.flush();
      }
      self.pending += chunk.len();
      let sub = &mut *self.sub;
      let mut groups = chunk.chunks_exact(SUB);
      for g in &mut groups {
        for (k, &x) in g.iter().enumerate() {
          // lut_index is masked to N - 1 (N is the table size), so this indexing is check-free.
          sub[lut_index(x) & (N - 1)][k] += 1;
        }
      }
      for &x in groups.remainder() {
        sub[lut_index(x) & (N - 1)][0] += 1;
      }
    }
  }

  fn into_counts(mut self) -> Vec<u64> {
    self.flush();
    self.wide.take().unwrap_or_else(|| vec![0u64; N])
  }
}

fn count_values<T: Element, const N: usize>(data: &[T]) -> Vec<u64> {
  let threads = rayon::current_num_threads();
  if data.len() <= 4 * COUNT_CHUNK || threads == 1 {
    let mut c = Counter::<N>::new();
    cpu_run!(Kernel::PercentileHistogram, c.add(data));
    return c.into_counts();
  }
  // At most two work items per thread: each one zeroes, flushes and merges a whole table, so more
  // items cost more than they balance.
  let part = data.len().div_ceil(2 * threads).max(COUNT_CHUNK);
  data
    .par_chunks(part)
    .map(|p| {
      let mut c = Counter::<N>::new();
      cpu_run!(Kernel::PercentileHistogram, c.add(p));
      c.into_counts()
    })
    .reduce_with(|mut a, b| {
      a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
      a
    })
    .unwrap_or_else(|| vec![0u64; N])
}

// ---------------------------------------------------------------------------------------------
// Bracketed order statistics: a sample guesses a narrow value window around each wanted rank, then
// one vectorised pass counts the elements below each window and histograms only those inside. The
// result is exact whenever every rank falls inside its window (checked from the counts); otherwise the
// caller falls back to the full histogram, so the sample only ever affects speed.

/// Below this many elements the full histogram is as cheap as the sampling.
const BRACKET_MIN_LEN: usize = 1 << 20;
/// Sample size used to place the windows.
const SAMPLE: usize = 1 << 15;

/// A value window `[lo, lo + span]` in `lut_index` space.
#[derive(Clone, Copy, Debug)]
struct Window {
  lo: u16,
  span: u16,
}

/// Order statistics at the ascending `ranks` of u8 / u16 / i16 data by the bracketed pass, or `None`
/// when it does not apply (small data, more than two windows, no AVX-512BW) or a window missed its rank.
pub fn bracketed_order_stats<T: Element>(data: &[T], ranks: &[u64]) -> Option<Vec<f64>> {
  let n = data.len();
  if lut_bits(T::DTYPE).is_none() || n < BRACKET_MIN_LEN || ranks.is_empty() || !simd::available() {
    return None;
  }
  let windows = sample_windows(data, ranks)?;
  let (w0, w1) = (windows[0], *windows.get(1).unwrap_or(&windows[0]));
  let threads = rayon::current_num_threads();
  let part = n.div_ceil(2 * threads).max(1024);
  cpu::record_vbmi2(Kernel::PercentileHistogram);
  let tallies = data
    .par_chunks(part)
    .map(|p| {
      let mut t = Tally::new(w0, w1);
      // SAFETY: simd::available() checked above that this CPU has AVX-512BW.
      unsafe { simd::count(&mut t, p) };
      t
    })
    .reduce_with(Tally::merge)?;
  ranks
    .iter()
    .map(|&r| (0..2).find_map(|k| window_order_stat(T::DTYPE, tallies.below[k], tallies.counts(k), tallies.w[k], r)))
    .collect()
}

/// The rank-`r` value if it lies inside window `w` (`below` elements are smaller than the window).
fn window_order_stat(dtype: DType, below: u64, hist: &[u64], w: Window, r: u64) -> Option<f64> {
  if r < below {
    return None;
  }
  let mut cum = below;
  for (j, &c) in hist.iter().enumerate() {
    cum += c;
    if cum > r {
      return Some(lut_value(dtype, w.lo as usize + j));
    }
  }
  None
}

/// The `i`-th sample position of `n >= SAMPLE` elements: a pseudo-random point of the `i`-th of
/// `SAMPLE` equal strata. Random within each stratum so that periodic image structure (rows of a
/// power-of-two width, gradients across X) cannot alias with the sampling stride; fixed (splitmix64
/// of `i`) so results and timings are reproducible.
fn sample_index(i: usize, n: usize) -> usize {
  let start = (i as u128 * n as u128 / SAMPLE as u128) as usize;
  let end = ((i + 1) as u128 * n as u128 / SAMPLE as u128) as usize;
  let mut z = (i as u64).wrapping_add(0x9E3779B97F4A7C15);
  z = (z ^ (z >> 30)).wrapping_mul(0xBF58476D1CE4E5B9);
  z = (z ^ (z >> 27)).wrapping_mul(0x94D049BB133111EB);
  z ^= z >> 31;
  start + (z % (end - start).max(1) as u64) as usize
}

/// One or two windows (merged when they overlap) from a stratified sample of `SAMPLE` elements:
/// each rank's sample quantile ± 6 standard errors (plus slack), clamped to the dtype's range.
fn sample_windows<T: Element>(data: &[T], ranks: &[u64]) -> Option<Vec<Window>> {
  let n = data.len();
  // The reads are scattered cache misses, so they are issued from all workers.
  let keys: Vec<u16> = (0..SAMPLE)
    .into_par_iter()
    .with_min_len(SAMPLE / 8)
    .map(|i| lut_index(data[sample_index(i, n)]) as u16)
    .collect();
  let mut counts = vec![0u32; 65536];
  for &k in &keys {
    counts[k as usize] += 1;
  }
  // cum[v] = sample elements <= v; the k-th smallest is the first v with cum[v] > k.
  let mut run = 0u32;
  let cum: Vec<u32> = counts
    .iter()
    .map(|&c| {
      run += c;
      run
    })
    .collect();
  let sample_stat = |k: usize| -> u16 { cum.partition_point(|&c| c as usize <= k).min(65535) as u16 };
  let last = (SAMPLE - 1) as f64;
  let mut wins: Vec<(u16, u16)> = ranks
    .iter()
    .map(|&r| {
      let p = r as f64 / (n - 1) as f64;
      let delta = 6.0 * (p * (1.0 - p) / SAMPLE as f64).sqrt() + 8.0 / SAMPLE as f64;
      let lo = if p - delta <= 0.0 {
        0
      } else {
        sample_stat(((p - delta) * last).floor() as usize)
      };
      let hi = if p + delta >= 1.0 {
        u16::MAX
      } else {
        sample_stat(((p + delta) * last).ceil() as usize)
      };
      (lo, hi)
    })
    .collect();
  wins.sort_unstable();
  let mut merged: Vec<(u16, u16)> = Vec::new();
  for (lo, hi) in wins {
    match merged.last_mut() {
      Some(m) if lo <= m.1.saturating_add(1) => m.1 = m.1.max(hi),
      _ => merged.push((lo, hi)),
    }
  }
  if merged.len() > 2 {
    return None;
  }
  Some(
    merged
      .into_iter()
      .map(|(lo, hi)| Window { lo, span: hi - lo })
      .collect(),
  )
}

/// Counters padded by a cache line on both sides: the per-worker window histograms are small heap
/// blocks, and two workers' blocks sharing a line made the counting pass 3x slower (false sharing).
const PAD: usize = 8;

/// Per-worker counts of the bracketed pass: elements below each window, and one array holding both
/// window histograms, `[PAD | window 0 | PAD | window 1 | PAD]`. A key inside both windows (they are
/// identical when only one was needed) counts in window 0 only.
struct Tally {
  w: [Window; 2],
  below: [u64; 2],
  hist: Vec<u64>,
  off1: usize,
}

impl Tally {
  fn new(w0: Window, w1: Window) -> Tally {
    let off1 = PAD + w0.span as usize + 1 + PAD;
    Tally {
      w: [w0, w1],
      below: [0; 2],
      hist: vec![0u64; off1 + w1.span as usize + 1 + PAD],
      off1,
    }
  }

  fn merge(mut a: Tally, b: Tally) -> Tally {
    a.below[0] += b.below[0];
    a.below[1] += b.below[1];
    a.hist.iter_mut().zip(&b.hist).for_each(|(x, y)| *x += y);
    a
  }

  /// The histogram of window `k` without its padding.
  fn counts(&self, k: usize) -> &[u64] {
    let start = if k == 0 { PAD } else { self.off1 };
    &self.hist[start..start + self.w[k].span as usize + 1]
  }

  /// The histogram slot of an in-window key (a select, no branch).
  #[inline(always)]
  fn slot(&self, k: u16) -> usize {
    let [w0, w1] = self.w;
    let d0 = k.wrapping_sub(w0.lo) as usize;
    let d1 = k.wrapping_sub(w1.lo) as usize;
    if d0 <= w0.span as usize {
      PAD + d0
    } else {
      self.off1 + d1
    }
  }

  /// Counts one key with plain scalar code (block remainders).
  fn add_key(&mut self, k: u16) {
    let [w0, w1] = self.w;
    self.below[0] += (k < w0.lo) as u64;
    self.below[1] += (k < w1.lo) as u64;
    if k.wrapping_sub(w0.lo) <= w0.span || k.wrapping_sub(w1.lo) <= w1.span {
      let s = self.slot(k);
      self.hist[s] += 1;
    }
  }
}

/// The AVX-512 counting kernel. Portable Rust cannot express "compare 32 lanes, then keep only the
/// few matching lanes" without scanning whole blocks or building masks in 64-bit lanes, both of which
/// measured slower than the plain histogram. Here mask registers count the elements below each window
/// (popcount) and `vpcompressw` appends the in-window keys to a small buffer without branches; the
/// buffer is drained into the window histograms by a branch-free loop.
#[cfg(target_arch = "x86_64")]
mod simd {
  use super::{lut_index, Element, Tally};
  use std::arch::x86_64::*;

  /// At the AVX-512 level (`STACKBRIDGE_CPU_LEVEL` can cap it away) on a CPU with VBMI2.
  pub fn available() -> bool {
    stackbridge_core::cpu::level() >= stackbridge_core::cpu::Level::Avx512 && is_x86_feature_detected!("avx512vbmi2")
  }

  /// How far ahead of the counting loop its input is prefetched (measured: 4 KiB halves the pass's
  /// excess over a plain read on the 2-core VM; 1 KiB gets half of that).
  pub const PREFETCH_BYTES: usize = 4096;

  /// Keys buffered before a drain (plus room for one more full block).
  const BUF: usize = 2048;

  /// Adds `data` to `t`.
  ///
  /// # Safety
  /// The CPU must support AVX-512BW and AVX-512VBMI2 ([`available`]).
  #[target_feature(enable = "avx512bw,avx512vbmi2")]
  pub unsafe fn count<T: Element>(t: &mut Tally, data: &[T]) {
    let [w0, w1] = t.w;
    let lo0 = _mm512_set1_epi16(w0.lo as i16);
    let lo1 = _mm512_set1_epi16(w1.lo as i16);
    let sp0 = _mm512_set1_epi16(w0.span as i16);
    let sp1 = _mm512_set1_epi16(w1.span as i16);
    let mut keys = [0u16; 32];
    let mut buf = [0u16; BUF + 32];
    let mut len = 0usize;
    let mut it = data.chunks_exact(32);
    let ahead = PREFETCH_BYTES / std::mem::size_of::<T>().max(1);
    for blk in &mut it {
      // The pass has too many instructions per cache line for the out-of-order window alone to keep
      // enough loads in flight on a high-latency (virtualised) memory system: ask for the lines ahead.
      _mm_prefetch::<_MM_HINT_T0>(blk.as_ptr().wrapping_add(ahead).cast());
      // Keys as u16 (a plain copy for u16 data); keeps this generic over T without reinterpreting it.
      for (k, &x) in keys.iter_mut().zip(blk) {
        *k = lut_index(x) as u16;
      }
      // SAFETY: `keys` is 64 readable bytes; loadu has no alignment requirement.
      let v = unsafe { _mm512_loadu_si512(keys.as_ptr().cast()) };
      t.below[0] += _mm512_cmplt_epu16_mask(v, lo0).count_ones() as u64;
      t.below[1] += _mm512_cmplt_epu16_mask(v, lo1).count_ones() as u64;
      let inside =
        _mm512_cmple_epu16_mask(_mm512_sub_epi16(v, lo0), sp0) | _mm512_cmple_epu16_mask(_mm512_sub_epi16(v, lo1), sp1);
      // SAFETY: len <= BUF, so the 64-byte store at buf[len..len + 32] is inside `buf`.
      unsafe { _mm512_storeu_si512(buf.as_mut_ptr().add(len).cast(), _mm512_maskz_compress_epi16(inside, v)) };
      len += inside.count_ones() as usize;
      if len >= BUF {
        drain(t, &buf[..len]);
        len = 0;
      }
    }
    drain(t, &buf[..len]);
    for &x in it.remainder() {
      t.add_key(lut_index(x) as u16);
    }
  }

  /// Adds buffered in-window keys to the histograms (slot chosen by a select, not a branch).
  fn drain(t: &mut Tally, keys: &[u16]) {
    for &k in keys {
      let s = t.slot(k);
      t.hist[s] += 1;
    }
  }
}

#[cfg(not(target_arch = "x86_64"))]
mod simd {
  use super::{Element, Tally};
  pub fn available() -> bool {
    false
  }
  /// # Safety
  /// Never called: [`available`] is false on this architecture.
  pub unsafe fn count<T: Element>(_t: &mut Tally, _data: &[T]) {
    unreachable!("bracketed counting needs AVX-512BW")
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use stackbridge_core::ErrorCode;

  /// Plain reference: sort a copy, then numpy's formula.
  fn sorted_reference(data: &[f64], q: f64) -> f64 {
    let mut s = data.to_vec();
    s.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let v = virtual_index(s.len(), q);
    lerp(s[v.prev], s[v.next], v.gamma)
  }

  fn xorshift(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
  }

  #[test]
  fn numpy_hand_cases() {
    // np.percentile([1, 2, 3, 4], 25) == 1.75; 50 -> 2.5; 0 / 100 -> min / max.
    let d = [1u16, 2, 3, 4];
    assert_eq!(
      percentiles(&d, &[25.0, 50.0, 0.0, 100.0]).unwrap(),
      vec![1.75, 2.5, 1.0, 4.0]
    );
    let f = [4.0f32, 1.0, 3.0, 2.0];
    assert_eq!(
      percentiles(&f, &[25.0, 50.0, 0.0, 100.0]).unwrap(),
      vec![1.75, 2.5, 1.0, 4.0]
    );
    // n == 1: every percentile is the element.
    assert_eq!(percentiles(&[7i32], &[0.0, 33.0, 100.0]).unwrap(), vec![7.0, 7.0, 7.0]);
    assert_eq!(
      percentiles(&[-7i16], &[0.0, 33.0, 100.0]).unwrap(),
      vec![-7.0, -7.0, -7.0]
    );
    // np.percentile([10, 20, 30], 90) == 28.0 (gamma 0.8 >= 0.5: b - (b - a) * 0.2)
    assert_eq!(percentiles(&[30u8, 10, 20], &[90.0]).unwrap(), vec![28.0]);
    // np.percentile(np.arange(11), 1) == 0.1 and 99 -> 9.9 (numpy prints 0.1 and 9.9 exactly)
    let a: Vec<f64> = (0..11).map(|v| v as f64).collect();
    assert_eq!(percentiles(&a, &[1.0, 99.0]).unwrap(), vec![0.1, 9.9]);
  }

  #[test]
  fn nan_and_inf_follow_numpy() {
    // np.percentile([1., nan, 3.], 10) -> nan
    let r = percentiles(&[1.0f64, f64::NAN, 3.0], &[10.0, 100.0]).unwrap();
    assert!(r.iter().all(|v| v.is_nan()));
    // np.percentile([1., inf], 0 / 50 / 100) -> nan, nan, nan (numpy's _lerp on inf)
    let r = percentiles(&[1.0f32, f32::INFINITY], &[0.0, 50.0, 100.0]).unwrap();
    assert!(r.iter().all(|v| v.is_nan()), "{r:?}");
  }

  #[test]
  fn errors() {
    let e = percentiles::<u16>(&[], &[50.0]).unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidArgument);
    for q in [-0.5, 100.5, f64::NAN, f64::INFINITY] {
      assert_eq!(
        percentiles(&[1u16, 2], &[q]).unwrap_err().code,
        ErrorCode::InvalidArgument
      );
      assert_eq!(
        percentiles(&[1.0f32, 2.0], &[q]).unwrap_err().code,
        ErrorCode::InvalidArgument
      );
    }
    assert_eq!(percentiles(&[1u8], &[]).unwrap(), Vec::<f64>::new());
  }

  #[test]
  fn histogram_and_selection_paths_agree() {
    let mut seed = 0x9E3779B97F4A7C15u64;
    let qs = [0.0, 0.5, 1.0, 12.345, 25.0, 50.0, 75.0, 99.0, 99.99, 100.0];
    // Bigger than the sequential threshold so the parallel fold is exercised too.
    for &n in &[1usize, 2, 3, 17, 1000, 300_001] {
      let u: Vec<u16> = (0..n).map(|_| (xorshift(&mut seed) % 5000) as u16 + 100).collect();
      let hist = percentiles(&u, &qs).unwrap();
      assert_eq!(hist, select_percentiles(&u, &qs), "u16 n={n}");
      let as_i32: Vec<i32> = u.iter().map(|&v| v as i32).collect();
      let as_f32: Vec<f32> = u.iter().map(|&v| v as f32).collect();
      assert_eq!(hist, percentiles(&as_i32, &qs).unwrap(), "i32 n={n}");
      assert_eq!(hist, percentiles(&as_f32, &qs).unwrap(), "f32 n={n}");
      let as_i16: Vec<i16> = u.iter().map(|&v| v as i16 - 2600).collect();
      let shifted: Vec<f64> = hist.iter().map(|v| v - 2600.0).collect();
      let got = percentiles(&as_i16, &qs).unwrap();
      for (g, s) in got.iter().zip(&shifted) {
        assert!((g - s).abs() <= 1e-9 * s.abs().max(1.0), "i16 n={n}: {g} vs {s}");
      }
      assert_eq!(got, select_percentiles(&as_i16, &qs), "i16 paths n={n}");
      let as_u8: Vec<u8> = u.iter().map(|&v| (v % 256) as u8).collect();
      assert_eq!(
        percentiles(&as_u8, &qs).unwrap(),
        select_percentiles(&as_u8, &qs),
        "u8 n={n}"
      );
    }
  }

  #[test]
  fn brute_force_sorted_reference() {
    let mut seed = 12345u64;
    for &n in &[1usize, 2, 5, 64, 999, 20_000] {
      let f: Vec<f64> = (0..n)
        .map(|_| (xorshift(&mut seed) % 1_000_000) as f64 / 7.0 - 5e4)
        .collect();
      let i: Vec<i32> = (0..n).map(|_| xorshift(&mut seed) as i32).collect();
      let s: Vec<i16> = (0..n).map(|_| xorshift(&mut seed) as i16).collect();
      for q in [0.0, 0.1, 1.0, 33.3, 50.0, 66.6, 99.0, 99.9, 100.0] {
        assert_eq!(percentiles(&f, &[q]).unwrap()[0], sorted_reference(&f, q));
        let fi: Vec<f64> = i.iter().map(|&v| v as f64).collect();
        assert_eq!(percentiles(&i, &[q]).unwrap()[0], sorted_reference(&fi, q));
        let fs: Vec<f64> = s.iter().map(|&v| v as f64).collect();
        assert_eq!(percentiles(&s, &[q]).unwrap()[0], sorted_reference(&fs, q));
      }
    }
  }

  #[test]
  fn bracketed_pass_agrees_with_full_histogram() {
    let mut seed = 0xDEADBEEFu64;
    let n = BRACKET_MIN_LEN + 12_345;
    let qs = [0.0, 0.01, 1.0, 2.0, 50.0, 97.5, 99.0, 100.0];
    let u: Vec<u16> = (0..n).map(|_| (xorshift(&mut seed) % 3000) as u16 + 200).collect();
    let skewed: Vec<u16> = (0..n)
      .map(|_| {
        let r = xorshift(&mut seed);
        if r.is_multiple_of(50) {
          (r >> 20) as u16
        } else {
          (r % 64) as u16
        }
      })
      .collect();
    let s: Vec<i16> = (0..n).map(|_| xorshift(&mut seed) as i16).collect();
    let b: Vec<u8> = (0..n).map(|_| (xorshift(&mut seed) % 7) as u8).collect();
    let flat = vec![4242u16; n];
    fn check<T: Element>(d: &[T], qs: &[f64]) {
      for pair in qs.windows(2) {
        let h = ValueHistogram::of(d).unwrap().percentiles_unchecked(pair);
        assert_eq!(small_int_percentiles(d, pair), h, "{pair:?}");
        let ranks: Vec<u64> = {
          let mut r: Vec<u64> = pair
            .iter()
            .flat_map(|&q| {
              let v = virtual_index(d.len(), q);
              [v.prev as u64, v.next as u64]
            })
            .collect();
          r.sort_unstable();
          r.dedup();
          r
        };
        // On these inputs the sample brackets hold, so the fast path itself must answer.
        if simd::available() {
          assert!(bracketed_order_stats(d, &ranks).is_some(), "{pair:?}");
        }
      }
      assert_eq!(percentiles(d, qs).unwrap(), select_percentiles(d, qs));
    }
    check(&u, &qs);
    check(&skewed, &qs);
    check(&s, &qs);
    check(&b, &qs);
    check(&flat, &qs);
  }

  #[test]
  fn bracketed_pass_falls_back_when_the_sample_is_fooled() {
    // Make exactly the sampled elements one value, so the sample sees a constant while the data do
    // not. The fast path must notice and give up, and percentiles() must still be exact (full histogram).
    let n = SAMPLE * 32;
    let mut seed = 7u64;
    let mut d: Vec<u16> = (0..n).map(|_| (xorshift(&mut seed) % 60000) as u16).collect();
    for i in 0..SAMPLE {
      d[sample_index(i, n)] = 30000;
    }
    let qs = [1.0, 99.0];
    let ranks: Vec<u64> = qs
      .iter()
      .flat_map(|&q| {
        let v = virtual_index(n, q);
        [v.prev as u64, v.next as u64]
      })
      .collect();
    assert!(bracketed_order_stats(&d, &ranks).is_none());
    assert_eq!(percentiles(&d, &qs).unwrap(), select_percentiles(&d, &qs));
  }

  #[test]
  fn bracketed_pass_handles_periodic_rows() {
    // A gradient across X with rows of a power-of-two width: a fixed-stride sample would alias with
    // the row period and miss; the stratified random sample must bracket the ranks.
    for w in [512usize, 1024, 2048, 4096] {
      let n = BRACKET_MIN_LEN * 2;
      let mut seed = 3u64;
      let d: Vec<u16> = (0..n)
        .map(|i| (300 + (i % w) * 3000 / w) as u16 + (xorshift(&mut seed) % 64) as u16)
        .collect();
      let ranks: Vec<u64> = [1.0, 99.0]
        .iter()
        .flat_map(|&q| {
          let v = virtual_index(n, q);
          [v.prev as u64, v.next as u64]
        })
        .collect();
      let got = bracketed_order_stats(&d, &ranks);
      if simd::available() {
        assert!(got.is_some(), "w = {w}");
      }
      assert_eq!(
        percentiles(&d, &[1.0, 99.0]).unwrap(),
        select_percentiles(&d, &[1.0, 99.0])
      );
    }
  }

  #[test]
  fn virtual_index_matches_numpy() {
    // n = 4, q = 25: index 0.75 -> (0, 1, 0.75)
    assert_eq!(
      virtual_index(4, 25.0),
      VirtualIndex {
        prev: 0,
        next: 1,
        gamma: 0.75
      }
    );
    // q = 100 -> numpy's -1 indices, gamma = index + 1
    assert_eq!(
      virtual_index(4, 100.0),
      VirtualIndex {
        prev: 3,
        next: 3,
        gamma: 4.0
      }
    );
    assert_eq!(
      virtual_index(1, 50.0),
      VirtualIndex {
        prev: 0,
        next: 0,
        gamma: 1.0
      }
    );
  }
}
