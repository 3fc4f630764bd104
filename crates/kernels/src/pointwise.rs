//! Per-pixel and geometric processors of OpenHCS's `numpy_processor` (DESIGN §7): `create_composite`,
//! `apply_mask`, `stack_equalize_histogram`, `spatial_bin_2d`, `crop`. Each function names the numpy
//! expression it reproduces; results are bit-equal to it unless a doc comment says otherwise.

use crate::image::Dims;
use crate::percentile::{lut_bits, lut_index, lut_value, ValueHistogram};
use crate::projection::round_as;
use rayon::prelude::*;
use stackbridge_core::cpu::Kernel;
use stackbridge_core::cpu_run;
use stackbridge_core::{DType, Element, SbError, SbResult};

/// Elements per parallel work item of the elementwise passes.
const CHUNK: usize = 1 << 15;

fn check_out(dims: Dims, len: usize, what: &str) -> SbResult<()> {
  dims.check_len(len, &format!("{what} output"))
}

// ---------------------------------------------------------------------------------------------
// create_composite

/// OpenHCS `create_composite(stack, weights)`:
/// ```python
/// w = [1.0 / Z] * Z if weights is None else weights          # len must be Z
/// s = sum(w); w = np.array([wi / s for wi in w], np.float32)   # s != 0
/// out = np.sum(stack.astype(np.float32) * w[:, None, None], axis=0).astype(stack.dtype)
/// ```
/// The axis-0 sum runs slice by slice in f32 (`acc = p0; acc = acc + p1; ...`), as numpy does.
/// `sum(w)` is Python's left-to-right float sum (CPython < 3.12; 3.12+ compensates, which can differ in
/// the last bit of a weight before the f32 cast). `out` has `h * w` elements (`[1, Y, X]`).
/// Errors: Z == 0 → `DimensionError`; wrong weight count, a non-finite weight or a zero sum →
/// `InvalidArgumentError`.
pub fn create_composite<T: Element>(src: &[T], dims: Dims, weights: Option<&[f64]>, out: &mut [T]) -> SbResult<()> {
  dims.check_len(src.len(), "createComposite input")?;
  check_out(Dims::new(1, dims.h, dims.w), out.len(), "createComposite")?;
  let z = dims.z;
  if z == 0 {
    return Err(SbError::dimension("createComposite needs at least one Z slice").with("z", 0));
  }
  let wf = composite_weights(z, weights)?;
  let plane = dims.plane();
  if plane == 0 {
    return Ok(());
  }
  out.par_chunks_mut(CHUNK).enumerate().for_each(|(b, o)| {
    let start = b * CHUNK;
    let mut acc = vec![0f32; o.len()];
    for (zi, &wz) in wf.iter().enumerate() {
      let row = &src[zi * plane + start..][..o.len()];
      if zi == 0 {
        acc.iter_mut().zip(row).for_each(|(a, &x)| *a = to_f32(x) * wz);
      } else {
        acc.iter_mut().zip(row).for_each(|(a, &x)| *a += to_f32(x) * wz);
      }
    }
    o.iter_mut().zip(&acc).for_each(|(o, &a)| *o = T::from_f64(a as f64));
  });
  Ok(())
}

/// [`create_composite`]'s normalised float32 weights for `z >= 1` slices (`None`: equal weights),
/// with its weight errors (count, non-finite, zero sum).
pub fn composite_weights(z: usize, weights: Option<&[f64]>) -> SbResult<Vec<f32>> {
  let w: Vec<f64> = match weights {
    None => vec![1.0 / z as f64; z],
    Some(w) => {
      if w.len() != z {
        return Err(
          SbError::invalid(format!(
            "number of weights ({}) must match number of slices ({z})",
            w.len()
          ))
          .with("weights", w.len())
          .with("slices", z),
        );
      }
      if let Some(bad) = w.iter().find(|v| !v.is_finite()) {
        return Err(SbError::invalid(format!("weights must be finite numbers, got {bad}")));
      }
      w.to_vec()
    }
  };
  let sum = w.iter().fold(0.0f64, |a, &b| a + b);
  if sum == 0.0 {
    return Err(SbError::invalid("sum of weights cannot be zero"));
  }
  Ok(w.iter().map(|&v| (v / sum) as f32).collect())
}

/// `x.astype(np.float32)` (round to nearest).
#[inline(always)]
fn to_f32<T: Element>(x: T) -> f32 {
  x.to_f64() as f32
}

// ---------------------------------------------------------------------------------------------
// apply_mask

/// OpenHCS `apply_mask(image, mask)`: `(image.astype(np.float32) * mask.astype(np.float32)).astype(T)`.
/// `mask` is 2D (`h * w` values, applied to every slice) or 3D (`dims.len()` values); any other length →
/// `InvalidArgumentError`.
pub fn apply_mask<T: Element>(src: &[T], dims: Dims, mask: &[f32], out: &mut [T]) -> SbResult<()> {
  dims.check_len(src.len(), "applyMask input")?;
  check_out(dims, out.len(), "applyMask")?;
  let plane = dims.plane();
  if mask.len() != plane && mask.len() != dims.len() {
    return Err(
      SbError::invalid(format!(
        "mask has {} elements; expected a 2D [{}, {}] mask ({plane}) or a 3D mask like the stack ({})",
        mask.len(),
        dims.h,
        dims.w,
        dims.len()
      ))
      .with("maskLength", mask.len()),
    );
  }
  if dims.is_empty() {
    return Ok(());
  }
  let (lo, hi) = (T::from_f64(f64::NEG_INFINITY).to_f64() as f32, T::from_f64(f64::INFINITY).to_f64() as f32);
  let tile = |o: &mut [T], s: &[T], m: &[f32]| {
    // uint16 (the common microscopy case) has hand-written vector code; it writes a prefix of
    // whole vectors and the loop below finishes the rest.
    let done = if T::DTYPE == DType::U16 {
      // SAFETY: T is u16 (same size and layout).
      let (s16, o16) = unsafe { (std::slice::from_raw_parts(s.as_ptr() as *const u16, s.len()), std::slice::from_raw_parts_mut(o.as_mut_ptr() as *mut u16, o.len())) };
      mask_simd::apply_u16(s16, m, o16)
    } else {
      0
    };
    let (o, s, m) = (&mut o[done..], &s[done..], &m[done..]);
    cpu_run!(Kernel::ApplyMask, {
      for ((o, &x), &m) in o.iter_mut().zip(s).zip(m) {
        *o = mask_store::<T>(to_f32(x) * m, lo, hi);
      }
    })
  };
  if mask.len() == plane && dims.z > 1 {
    // A 2D mask: tile-major, each tile of the mask read once (from L1/L2) for every slice, so the
    // memory traffic is the stack's read and write plus one read of the mask.
    let z = dims.z;
    let optr = SyncPtr(out.as_mut_ptr());
    mask.par_chunks(MASK_TILE).enumerate().for_each(|(t, m)| {
      let t0 = t * MASK_TILE;
      for zi in 0..z {
        let at = zi * plane + t0;
        // SAFETY: tile t of slice zi is `out[at..at + m.len()]`; tiles of one slice are disjoint,
        // every task owns a distinct tile index, and `out` (checked above to hold z · plane
        // elements) outlives the parallel loop.
        let o = unsafe { std::slice::from_raw_parts_mut(optr.get().add(at), m.len()) };
        tile(o, &src[at..at + m.len()], m);
      }
    });
  } else {
    // A 3D mask (or one slice): the mask lines up with the stack element for element.
    out
      .par_chunks_mut(MASK_TILE)
      .zip(src.par_chunks(MASK_TILE))
      .enumerate()
      .for_each(|(t, (o, s))| tile(o, s, &mask[(t * MASK_TILE) % mask.len()..][..o.len()]));
  }
  Ok(())
}

/// Pixels per `apply_mask` work item (64 KiB of f32 mask).
const MASK_TILE: usize = 1 << 14;

/// `apply_mask` for uint16 in AVX-512 / AVX2: the same float32 product, the same clamp to
/// [0, 65535] with NaN → 0 and the same truncation as `mask_store`, 16 (8) pixels at a time —
/// the generic loop goes through float64 and int64 lanes and is compute-bound.
mod mask_simd {
  #[cfg(target_arch = "x86_64")]
  use stackbridge_core::cpu::{enter, Kernel, Level};

  /// Writes `o[..k] = x[..k] * m[..k]` as `mask_store` would, for the largest whole-vector
  /// prefix `k` the CPU level allows (0 below AVX2), and returns `k`.
  pub fn apply_u16(x: &[u16], m: &[f32], o: &mut [u16]) -> usize {
    let n = x.len().min(m.len()).min(o.len());
    #[cfg(target_arch = "x86_64")]
    {
      let level = enter(Kernel::ApplyMask);
      // SAFETY: the level never exceeds what the CPU has (cpu::level is capped by detection).
      unsafe {
        if level >= Level::Avx512 {
          return x86::avx512(&x[..n], &m[..n], &mut o[..n]);
        }
        if level >= Level::Avx2 {
          return x86::avx2(&x[..n], &m[..n], &mut o[..n]);
        }
      }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = n;
    0
  }

  #[cfg(target_arch = "x86_64")]
  pub(super) mod x86 {
    use std::arch::x86_64::*;

    /// # Safety
    /// AVX-512F/BW/DQ/VL; equal lengths.
    #[target_feature(enable = "avx2,avx512f,avx512bw,avx512dq,avx512vl")]
    pub unsafe fn avx512(x: &[u16], m: &[f32], o: &mut [u16]) -> usize {
      let (lo, hi) = (_mm512_set1_ps(0.0), _mm512_set1_ps(65535.0));
      let n = x.len() / 16 * 16;
      let mut i = 0;
      while i < n {
        // SAFETY: i + 16 <= n <= every length.
        unsafe {
          let v = _mm512_cvtepi32_ps(_mm512_cvtepu16_epi32(_mm256_loadu_si256(x.as_ptr().add(i).cast())));
          let p = _mm512_mul_ps(v, _mm512_loadu_ps(m.as_ptr().add(i)));
          // max(NaN, lo) is lo, and NaN lanes are zeroed below, as mask_store does.
          let c = _mm512_min_ps(_mm512_max_ps(p, lo), hi);
          let c = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask::<_CMP_ORD_Q>(p, p), c);
          _mm256_storeu_si256(o.as_mut_ptr().add(i).cast(), _mm512_cvtepi32_epi16(_mm512_cvttps_epi32(c)));
        }
        i += 16;
      }
      n
    }

    /// # Safety
    /// AVX2 and SSE4.1; equal lengths.
    #[target_feature(enable = "avx2,sse4.1")]
    pub unsafe fn avx2(x: &[u16], m: &[f32], o: &mut [u16]) -> usize {
      let (lo, hi) = (_mm256_set1_ps(0.0), _mm256_set1_ps(65535.0));
      let n = x.len() / 8 * 8;
      let mut i = 0;
      while i < n {
        // SAFETY: i + 8 <= n <= every length.
        unsafe {
          let v = _mm256_cvtepi32_ps(_mm256_cvtepu16_epi32(_mm_loadu_si128(x.as_ptr().add(i).cast())));
          let p = _mm256_mul_ps(v, _mm256_loadu_ps(m.as_ptr().add(i)));
          let c = _mm256_min_ps(_mm256_max_ps(p, lo), hi);
          let c = _mm256_and_ps(c, _mm256_cmp_ps::<_CMP_ORD_Q>(p, p));
          let y = _mm256_cvttps_epi32(c);
          // Every lane is in [0, 65535]: the unsigned saturating pack is exact.
          _mm_storeu_si128(o.as_mut_ptr().add(i).cast(), _mm_packus_epi32(_mm256_castsi256_si128(y), _mm256_extracti128_si256::<1>(y)));
        }
        i += 8;
      }
      n
    }
  }
}

/// A pointer that may cross into rayon tasks (each task writes a disjoint range through it).
#[derive(Clone, Copy)]
struct SyncPtr<T>(*mut T);
// SAFETY: only used for disjoint writes, see the call site.
unsafe impl<T> Send for SyncPtr<T> {}
unsafe impl<T> Sync for SyncPtr<T> {}
impl<T> SyncPtr<T> {
  /// A method (not field access), so closures capture the whole Sync wrapper.
  fn get(self) -> *mut T {
    self.0
  }
}

/// `v` stored as numpy's `astype(T)` of a float32: truncation toward zero, and (where numpy is
/// undefined) saturation to `[lo, hi]`, NaN → 0, as Rust's `as`. For the 8/16-bit types this is
/// a clamp in f32 and an exact conversion, which vectorises (the generic `as` does not).
#[inline(always)]
fn mask_store<T: Element>(v: f32, lo: f32, hi: f32) -> T {
  match T::DTYPE {
    DType::U8 | DType::U16 | DType::I16 => {
      let c = if v >= lo {
        if v <= hi {
          v
        } else {
          hi
        }
      } else {
        lo
      };
      #[allow(clippy::eq_op)]
      let c = if v != v { 0.0 } else { c };
      // SAFETY: c is finite and within the 16-bit range, which is to_int_unchecked's contract.
      let i: i32 = unsafe { c.to_int_unchecked() };
      T::from_i64_wrapping(i as i64)
    }
    _ => T::from_f64(v as f64),
  }
}

// ---------------------------------------------------------------------------------------------
// stack_equalize_histogram

#[derive(Clone, Debug, PartialEq)]
pub struct EqualizeParams {
  pub bins: usize,
  pub range_min: f64,
  pub range_max: f64,
}

impl Default for EqualizeParams {
  fn default() -> Self {
    EqualizeParams {
      bins: 65536,
      range_min: 0.0,
      range_max: 65535.0,
    }
  }
}

/// Largest bin count accepted (the edges and counts are held in memory: 2^24 bins is ~270 MB).
pub const MAX_EQUALIZE_BINS: usize = 1 << 24;

/// numpy's uniform-bin histogram geometry for `np.histogram(a, bins, range=(lo, hi))` on an array of T.
/// Public so the device backends assign bins and build the map exactly as here.
pub struct Bins {
  pub n: usize,
  /// `np.linspace(lo, hi, n + 1)` cast to the bin dtype (f32 for float32 stacks, else f64), held as f64.
  pub edges: Vec<f64>,
  /// `first_edge` as compared against the data (rounded to f32 for float32 stacks: NEP 50 weak scalar).
  pub lo_cmp: f64,
  pub hi_cmp: f64,
  pub denom: f64,
}

impl Bins {
  pub fn new<T: Element>(p: &EqualizeParams) -> SbResult<Bins> {
    let n = p.bins;
    let (lo, hi) = (p.range_min, p.range_max);
    // np.linspace(lo, hi, n + 1): step = delta / div; y = arange * step (or arange / div * delta when
    // step == 0); y += lo; y[-1] = hi; then astype(bin dtype).
    let div = n as f64;
    let delta = hi - lo;
    let step = delta / div;
    let mut edges: Vec<f64> = (0..=n)
      .map(|i| {
        let y = if step == 0.0 {
          i as f64 / div * delta
        } else {
          i as f64 * step
        };
        round_as::<T>(y + lo)
      })
      .collect();
    edges[n] = round_as::<T>(hi);
    if edges.windows(2).any(|e| e[0] >= e[1]) {
      return Err(
        SbError::invalid(format!(
          "too many bins for data range: cannot create {n} finite-sized bins in [{lo}, {hi}]"
        ))
        .with("bins", n),
      );
    }
    Ok(Bins {
      n,
      edges,
      lo_cmp: round_as::<T>(lo),
      hi_cmp: round_as::<T>(hi),
      denom: hi - lo,
    })
  }

  /// numpy's bin of `x` (already known to lie in the range), including its ±1 edge corrections.
  #[inline]
  pub fn index<T: Element>(&self, x: f64) -> usize {
    // (_unsigned_subtract(tmp_a, first_edge) / norm_denom) * norm_numerator: the subtraction runs in the
    // bin dtype (for float32 stacks: f32, with first_edge cast to f32), the division by the f64
    // `norm_denom` (a numpy float64 scalar, which promotes) in f64.
    let f = (round_as::<T>(x - self.lo_cmp) / self.denom) * self.n as f64;
    let mut i = f as usize; // astype(intp): truncation (f >= 0)
    if i >= self.n {
      // numpy only fixes i == n; anything larger cannot come from an in-range x.
      i = self.n - 1;
    }
    if x < self.edges[i] && i > 0 {
      i -= 1;
    }
    if x >= self.edges[i + 1] && i != self.n - 1 {
      i += 1;
    }
    i
  }

  #[inline]
  pub fn contains(&self, x: f64) -> bool {
    x >= self.lo_cmp && x <= self.hi_cmp
  }
}

/// numpy's `np.interp(x, xp, fp)` (`arr_interp` in compiled_base.c) for strictly increasing `xp`,
/// with the segment found from `guess` (any index; corrected by comparisons, so the result is exact).
#[inline]
fn np_interp(x: f64, xp: &[f64], fp: &[f64], guess: usize) -> f64 {
  let len = xp.len();
  if x.is_nan() {
    return x;
  }
  if x < xp[0] {
    return fp[0];
  }
  if x >= xp[len - 1] {
    return fp[len - 1];
  }
  // Find j with xp[j] <= x < xp[j + 1] (1 <= len - 1 here, and xp[0] <= x < xp[len - 1]).
  let mut j = guess.min(len - 2);
  while x < xp[j] {
    j -= 1;
  }
  while x >= xp[j + 1] {
    j += 1;
  }
  if xp[j] == x {
    return fp[j];
  }
  let slope = (fp[j + 1] - fp[j]) / (xp[j + 1] - xp[j]);
  let mut r = slope * (x - xp[j]) + fp[j];
  if r.is_nan() {
    r = slope * (x - xp[j + 1]) + fp[j + 1];
    if r.is_nan() && fp[j] == fp[j + 1] {
      r = fp[j];
    }
  }
  r
}

/// The dtype range numpy clips to before the integer cast (`np.iinfo(T)`); None for floats.
pub fn int_range(dtype: DType) -> Option<(f64, f64)> {
  match dtype {
    DType::U8 => Some((0.0, 255.0)),
    DType::U16 => Some((0.0, 65535.0)),
    DType::I16 => Some((-32768.0, 32767.0)),
    DType::I32 => Some((-2147483648.0, 2147483647.0)),
    DType::U32 => Some((0.0, 4294967295.0)),
    DType::F32 | DType::F64 => None,
  }
}

/// The equalization map once the cdf is known: `np.interp(x, edges[:-1], cdf)`, then clip + astype.
pub struct EqualizeMap<'a> {
  pub bins: &'a Bins,
  /// The normalised cdf, one value per bin.
  pub cdf: Vec<f64>,
  /// `np.iinfo(T)` for integer T (the clip before the cast), None for float T.
  pub clip: Option<(f64, f64)>,
}

impl<'a> EqualizeMap<'a> {
  /// The map of a stack of `dtype` whose `np.histogram` counts are `hist` (one per bin):
  /// `cdf = hist.cumsum()` normalised with numpy's int64 arithmetic,
  /// `(max * cdf) as f64 / total as f64` (integer T) or `cdf / total` (float T); unnormalised when empty.
  pub fn new(bins: &'a Bins, hist: &[u64], dtype: DType) -> EqualizeMap<'a> {
    let mut cdf = Vec::with_capacity(bins.n);
    let mut run = 0u64;
    for &c in hist {
      run += c;
      cdf.push(run);
    }
    let total = run;
    let clip = int_range(dtype);
    let cdf: Vec<f64> = match (total > 0, clip) {
      (false, _) => cdf.iter().map(|&c| c as f64).collect(),
      (true, Some((_, max))) => cdf
        .iter()
        .map(|&c| ((max as i128) * (c as i128)) as i64 as f64 / total as f64)
        .collect(),
      (true, None) => cdf.iter().map(|&c| c as f64 / total as f64).collect(),
    };
    EqualizeMap { bins, cdf, clip }
  }

  #[inline]
  pub fn apply<T: Element>(&self, x: f64) -> T {
    // The bin formula is an excellent guess for interp's segment (both are about the same edges).
    let guess = if self.bins.contains(x) {
      self.bins.index::<T>(x)
    } else {
      0
    };
    let y = np_interp(x, &self.bins.edges[..self.bins.n], &self.cdf, guess);
    match self.clip {
      // np.clip(y, iinfo.min, iinfo.max).astype(T)
      Some((lo, hi)) => T::from_f64(y.max(lo).min(hi)),
      None => T::from_f64(y),
    }
  }
}

/// OpenHCS `stack_equalize_histogram(stack, bins, range_min, range_max)`:
/// ```python
/// hist, edges = np.histogram(stack.flatten(), bins=bins, range=(range_min, range_max))
/// cdf = hist.cumsum()
/// if cdf[-1] > 0: cdf = iinfo(T).max * cdf / cdf[-1]  (integer T)  or  cdf / cdf[-1]  (float T)
/// y = np.interp(stack.flatten(), edges[:-1], cdf)
/// out = np.clip(y, iinfo.min, iinfo.max).astype(T)  (integer T)  or  y.astype(T)
/// ```
/// with numpy's exact uniform-bin assignment (its ±1 corrections at edges; values outside the range are
/// not counted; float32 stacks use float32 edges as numpy does). u8 / u16 / i16 stacks build the whole
/// map as a lookup table over every possible value (one histogram pass, one gather pass).
/// Errors: `bins == 0` or above [`MAX_EQUALIZE_BINS`], a non-finite range, `range_min >= range_max`,
/// or more bins than the range can separate → `InvalidArgumentError`.
pub fn equalize_histogram<T: Element>(src: &[T], dims: Dims, p: &EqualizeParams, out: &mut [T]) -> SbResult<()> {
  dims.check_len(src.len(), "stackEqualizeHistogram input")?;
  check_out(dims, out.len(), "stackEqualizeHistogram")?;
  check_equalize_params(p)?;
  let bins = Bins::new::<T>(p)?;
  if dims.is_empty() {
    return Ok(());
  }

  let value_hist = ValueHistogram::of(src);
  let hist: Vec<u64> = match &value_hist {
    Some(vh) => value_hist_bins::<T>(vh, &bins),
    None => bin_counts(src, &bins),
  };
  let map = EqualizeMap::new(&bins, &hist, T::DTYPE);

  match lut_bits(T::DTYPE) {
    Some(8) => gather_lut::<T, 256>(src, out, &map),
    Some(_) => gather_lut::<T, 65536>(src, out, &map),
    None => out.par_chunks_mut(CHUNK).zip(src.par_chunks(CHUNK)).for_each(|(o, s)| {
      for (o, &x) in o.iter_mut().zip(s) {
        *o = map.apply::<T>(x.to_f64());
      }
    }),
  }
  Ok(())
}

/// [`equalize_histogram`]'s parameter errors: `bins` in `[1, MAX_EQUALIZE_BINS]`, a finite range with
/// `range_min < range_max`.
pub fn check_equalize_params(p: &EqualizeParams) -> SbResult<()> {
  if p.bins == 0 || p.bins > MAX_EQUALIZE_BINS {
    return Err(
      SbError::invalid(format!("bins must be in [1, {MAX_EQUALIZE_BINS}], got {}", p.bins)).with("bins", p.bins),
    );
  }
  if !p.range_min.is_finite() || !p.range_max.is_finite() || p.range_min >= p.range_max {
    return Err(
      SbError::invalid(format!(
        "histogram range must be finite with rangeMin < rangeMax, got [{}, {}]",
        p.range_min, p.range_max
      ))
      .with("rangeMin", p.range_min)
      .with("rangeMax", p.range_max),
    );
  }
  Ok(())
}

/// The `np.histogram` bin counts of a u8 / u16 / i16 stack from its value histogram: each distinct
/// value lands in one bin, its count added there.
pub fn value_hist_bins<T: Element>(vh: &ValueHistogram, bins: &Bins) -> Vec<u64> {
  let mut h = vec![0u64; bins.n];
  for (i, &c) in vh.counts.iter().enumerate() {
    let x = lut_value(T::DTYPE, i);
    if c > 0 && bins.contains(x) {
      h[bins.index::<T>(x)] += c;
    }
  }
  h
}

/// The map of every value of a u8 / u16 / i16 dtype T, by table index (`percentile::lut_index`).
pub fn equalize_table<T: Element>(map: &EqualizeMap) -> Vec<T> {
  let n = 1usize << lut_bits(T::DTYPE).unwrap_or(16);
  (0..n).map(|i| map.apply::<T>(lut_value(T::DTYPE, i))).collect()
}

/// np.histogram counts for dtypes without a value table: per-worker bin counts, merged.
fn bin_counts<T: Element>(src: &[T], bins: &Bins) -> Vec<u64> {
  src
    .par_chunks(1 << 18)
    .fold(
      || vec![0u64; bins.n],
      |mut h, s| {
        for &x in s {
          let x = x.to_f64();
          if bins.contains(x) {
            h[bins.index::<T>(x)] += 1;
          }
        }
        h
      },
    )
    .reduce_with(|mut a, b| {
      a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
      a
    })
    .unwrap_or_else(|| vec![0u64; bins.n])
}

fn gather_lut<T: Element, const N: usize>(src: &[T], out: &mut [T], map: &EqualizeMap) {
  let table: Vec<T> = equalize_table::<T>(map);
  let table: Box<[T; N]> = table.into_boxed_slice().try_into().unwrap_or_else(|_| unreachable!());
  let table = &*table;
  out.par_chunks_mut(CHUNK).zip(src.par_chunks(CHUNK)).for_each(|(o, s)| {
    for (o, &x) in o.iter_mut().zip(s) {
      *o = table[lut_index(x) & (N - 1)];
    }
  });
}

// ---------------------------------------------------------------------------------------------
// spatial_bin_2d

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinMethod {
  Mean,
  Sum,
  Max,
  Min,
}

impl BinMethod {
  pub fn parse(s: &str) -> SbResult<Self> {
    Ok(match s {
      "mean" => BinMethod::Mean,
      "sum" => BinMethod::Sum,
      "max" => BinMethod::Max,
      "min" => BinMethod::Min,
      other => {
        return Err(
          SbError::invalid(format!(
            "unknown binning method {other:?}; expected one of mean, sum, max, min"
          ))
          .with("method", other),
        )
      }
    })
  }
}

/// Output geometry of [`spatial_bin_2d`]: `(Z, H / bin, W / bin)`.
/// `bin == 0` or a zero output height / width → `InvalidArgumentError`.
pub fn spatial_bin_dims(dims: Dims, bin: usize) -> SbResult<Dims> {
  if bin == 0 {
    return Err(SbError::invalid("bin_size must be positive").with("binSize", 0));
  }
  let (h, w) = (dims.h / bin, dims.w / bin);
  if h == 0 || w == 0 {
    return Err(
      SbError::invalid(format!(
        "bin_size {bin} is too large for image dimensions {}x{}",
        dims.h, dims.w
      ))
      .with("binSize", bin),
    );
  }
  Ok(Dims::new(dims.z, h, w))
}

/// OpenHCS `spatial_bin_2d(stack, bin_size, method)`: crop Y / X to multiples of `bin`, reduce each
/// `bin × bin` block (`reshape(Z, H', bin, W', bin)` then `np.<method>(axis=(2, 4))`) and `.astype(T)`.
/// mean: sum / count cast by truncation (integer T: exact f64 sum); sum: integer T wraps like numpy's
/// 64-bit sum cast to T; max / min: exact, NaN-propagating. Float T sums in its own precision in numpy's
/// order (each block row by numpy's pairwise sum, then the rows in sequence), so results are bit-equal.
pub fn spatial_bin_2d<T: Element>(src: &[T], dims: Dims, bin: usize, method: BinMethod, out: &mut [T]) -> SbResult<()> {
  dims.check_len(src.len(), "spatialBin2d input")?;
  let od = spatial_bin_dims(dims, bin)?;
  check_out(od, out.len(), "spatialBin2d")?;
  if od.is_empty() {
    return Ok(());
  }
  let (w, plane) = (dims.w, dims.plane());
  let count = (bin * bin) as f64;
  // One output row per work item: the `bin` input rows above it.
  out.par_chunks_mut(od.w).enumerate().for_each(|(r, o)| {
    let (z, oy) = (r / od.h, r % od.h);
    let row = |k: usize| &src[z * plane + (oy * bin + k) * w..][..od.w * bin];
    match method {
      BinMethod::Max | BinMethod::Min => {
        let pick = if method == BinMethod::Max {
          bin_max::<T>
        } else {
          bin_min::<T>
        };
        for (ox, o) in o.iter_mut().enumerate() {
          let mut acc = row(0)[ox * bin];
          for k in 0..bin {
            for &v in &row(k)[ox * bin..(ox + 1) * bin] {
              acc = pick(acc, v);
            }
          }
          *o = acc;
        }
      }
      BinMethod::Mean | BinMethod::Sum => {
        let mut acc = vec![0f64; od.w];
        let mut iacc = vec![0i64; od.w];
        let int = !T::DTYPE.is_float();
        for k in 0..bin {
          for ((a, ia), blk) in acc.iter_mut().zip(iacc.iter_mut()).zip(row(k).chunks_exact(bin)) {
            if int {
              *ia += blk.iter().map(|v| v.to_i64()).sum::<i64>();
            } else {
              *a = round_as::<T>(*a + numpy_pairwise_sum(blk));
            }
          }
        }
        for ((o, &a), &ia) in o.iter_mut().zip(&acc).zip(&iacc) {
          *o = match (method, int) {
            (BinMethod::Sum, true) => T::from_i64_wrapping(ia),
            (BinMethod::Sum, false) => T::from_f64(a),
            (_, true) => T::from_f64(ia as f64 / count),
            (_, false) => T::from_f64(round_as::<T>(a / count)),
          };
        }
      }
    }
  });
  Ok(())
}

/// numpy's `pairwise_sum` (the inner loop of `np.add.reduce` along a contiguous axis) in T's float
/// precision: sequential below 8 values, 8 interleaved accumulators up to 128, halves above.
pub fn numpy_pairwise_sum<T: Element>(a: &[T]) -> f64 {
  let n = a.len();
  if n < 8 {
    return a.iter().fold(0.0, |r, v| round_as::<T>(r + v.to_f64()));
  }
  if n <= 128 {
    let mut r = [0f64; 8];
    for (r, v) in r.iter_mut().zip(a) {
      *r = v.to_f64();
    }
    let body = n - n % 8;
    for blk in a[8..body].chunks_exact(8) {
      for (r, v) in r.iter_mut().zip(blk) {
        *r = round_as::<T>(*r + v.to_f64());
      }
    }
    let add = |x: f64, y: f64| round_as::<T>(x + y);
    let mut res = add(
      add(add(r[0], r[1]), add(r[2], r[3])),
      add(add(r[4], r[5]), add(r[6], r[7])),
    );
    for v in &a[body..] {
      res = add(res, v.to_f64());
    }
    return res;
  }
  let mut n2 = n / 2;
  n2 -= n2 % 8;
  round_as::<T>(numpy_pairwise_sum(&a[..n2]) + numpy_pairwise_sum(&a[n2..]))
}

#[allow(clippy::eq_op)]
#[inline(always)]
fn bin_max<T: Element>(acc: T, x: T) -> T {
  if acc != acc || x <= acc {
    acc
  } else {
    x
  }
}

#[allow(clippy::eq_op)]
#[inline(always)]
fn bin_min<T: Element>(acc: T, x: T) -> T {
  if acc != acc || x >= acc {
    acc
  } else {
    x
  }
}

// ---------------------------------------------------------------------------------------------
// crop

/// Geometry of [`crop`]: `start = [z, y, x]`, `size = [depth, height, width]`; sizes must be positive and
/// the region inside the stack, else `InvalidArgumentError`.
pub fn crop_dims(dims: Dims, start: [usize; 3], size: [usize; 3]) -> SbResult<Dims> {
  if size.contains(&0) {
    return Err(
      SbError::invalid(format!(
        "crop dimensions must be positive: depth={}, height={}, width={}",
        size[0], size[1], size[2]
      ))
      .with("size", size.to_vec()),
    );
  }
  let ext = [dims.z, dims.h, dims.w];
  for a in 0..3 {
    let end = start[a].checked_add(size[a]);
    if end.is_none_or(|e| e > ext[a]) {
      return Err(
        SbError::invalid(format!(
          "crop region extends beyond image bounds: image shape {ext:?}, region start {start:?} size {size:?}"
        ))
        .with("start", start.to_vec())
        .with("size", size.to_vec()),
      );
    }
  }
  Ok(Dims::new(size[0], size[1], size[2]))
}

/// OpenHCS `crop`: `stack[z:z+depth, y:y+height, x:x+width]` copied into `out`.
pub fn crop<T: Element>(src: &[T], dims: Dims, start: [usize; 3], size: [usize; 3], out: &mut [T]) -> SbResult<()> {
  dims.check_len(src.len(), "crop input")?;
  let od = crop_dims(dims, start, size)?;
  check_out(od, out.len(), "crop")?;
  out.par_chunks_mut(od.w).enumerate().for_each(|(r, o)| {
    let (z, y) = (start[0] + r / od.h, start[1] + r % od.h);
    o.copy_from_slice(&src[z * dims.plane() + y * dims.w + start[2]..][..od.w]);
  });
  Ok(())
}

#[cfg(test)]
mod tests {

  /// The uint16 vector paths give `mask_store`'s result on every input, NaN / ±inf / negative
  /// masks included.
  #[test]
  fn apply_mask_u16_vector_paths_equal_the_scalar_definition() {
    let n = 4099;
    let x: Vec<u16> = (0..n).map(|i| (i * 7919 % 65536) as u16).collect();
    let specials = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, -0.0, -1.5, 0.0, 1.0, 2.5, 1e-7, 65535.0, 0.999_999_9];
    let m: Vec<f32> = (0..n).map(|i| if i % 5 == 0 { specials[i % specials.len()] } else { ((i * 31) % 1000) as f32 / 333.0 }).collect();
    let want: Vec<u16> = x.iter().zip(&m).map(|(&x, &m)| mask_store::<u16>(to_f32(x) * m, 0.0, 65535.0)).collect();
    let mut got = vec![0u16; n];
    apply_mask(&x, Dims::new(1, 1, n), &m, &mut got).unwrap();
    assert_eq!(got, want);
    #[cfg(target_arch = "x86_64")]
    {
      if std::is_x86_feature_detected!("avx2") {
        let mut o = vec![0u16; n];
        let k = unsafe { super::mask_simd::x86::avx2(&x, &m, &mut o) };
        assert_eq!(o[..k], want[..k]);
      }
      if std::is_x86_feature_detected!("avx512bw") && std::is_x86_feature_detected!("avx512dq") && std::is_x86_feature_detected!("avx512vl") {
        let mut o = vec![0u16; n];
        let k = unsafe { super::mask_simd::x86::avx512(&x, &m, &mut o) };
        assert_eq!(o[..k], want[..k]);
      }
    }
  }
  use super::*;
  use stackbridge_core::ErrorCode;

  fn xorshift(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
  }

  #[test]
  fn composite_hand_cases() {
    // Z=2, 1x3: equal weights 0.5 each: [(10+20)/2, (1+2)/2, (7+0)/2] = [15, 1.5, 3.5] -> [15, 1, 3]
    let s = [10u16, 1, 7, 20, 2, 0];
    let mut out = [0u16; 3];
    create_composite(&s, Dims::new(2, 1, 3), None, &mut out).unwrap();
    assert_eq!(out, [15, 1, 3]);
    // weights [1, 3] -> [0.25, 0.75]: [17.5, 1.75, 1.75] -> [17, 1, 1]
    create_composite(&s, Dims::new(2, 1, 3), Some(&[1.0, 3.0]), &mut out).unwrap();
    assert_eq!(out, [17, 1, 1]);
    // negative weights are allowed (sum != 0): [2, -1] -> [2, -1]: [0, 0, 14] for u16 (saturating negatives)
    create_composite(&s, Dims::new(2, 1, 3), Some(&[2.0, -1.0]), &mut out).unwrap();
    assert_eq!(out, [0, 0, 14]);
    // f32 accumulation: sequential f32 sum matches a plain f32 loop
    let f = [0.1f32, 1e8, -1e8, 0.3, 0.7, 1.0];
    let mut of = [0f32; 2];
    create_composite(&f, Dims::new(3, 1, 2), None, &mut of).unwrap();
    let w = ((1.0f64 / 3.0) / (1.0 / 3.0 + 1.0 / 3.0 + 1.0 / 3.0)) as f32;
    let want0 = 0.1f32 * w + (-1e8f32) * w + 0.7f32 * w;
    let want1 = 1e8f32 * w + 0.3f32 * w + 1.0f32 * w;
    assert_eq!(of, [want0, want1]);
  }

  #[test]
  fn composite_errors() {
    let s = [1u8; 8];
    let mut out = [0u8; 4];
    let d = Dims::new(2, 2, 2);
    let code = |w: Option<&[f64]>| create_composite(&s, d, w, &mut [0u8; 4]).unwrap_err().code;
    assert_eq!(code(Some(&[1.0])), ErrorCode::InvalidArgument);
    assert_eq!(code(Some(&[1.0, -1.0])), ErrorCode::InvalidArgument);
    assert_eq!(code(Some(&[1.0, f64::NAN])), ErrorCode::InvalidArgument);
    assert_eq!(
      create_composite(&s, d, None, &mut out[..3]).unwrap_err().code,
      ErrorCode::InvalidArgument
    );
    assert_eq!(
      create_composite::<u8>(&[], Dims::new(0, 2, 2), None, &mut out)
        .unwrap_err()
        .code,
      ErrorCode::Dimension
    );
  }

  #[test]
  fn mask_hand_cases() {
    let s = [10u8, 20, 30, 40, 50, 60, 70, 80];
    let d = Dims::new(2, 2, 2);
    let mut out = [0u8; 8];
    // 2D mask applied to both slices; 0.5 * 30 = 15, 0.33 * 40 = 13.2 -> 13
    apply_mask(&s, d, &[1.0, 0.0, 0.5, 0.33], &mut out).unwrap();
    assert_eq!(out, [10, 0, 15, 13, 50, 0, 35, 26]);
    // 3D mask
    let m3 = [1.0f32, 1.0, 1.0, 1.0, 0.0, 0.0, 2.0, 10.0];
    apply_mask(&s, d, &m3, &mut out).unwrap();
    assert_eq!(out, [10, 20, 30, 40, 0, 0, 140, 255]); // 800 saturates (numpy: undefined)
    assert_eq!(
      apply_mask(&s, d, &[1.0; 5], &mut out).unwrap_err().code,
      ErrorCode::InvalidArgument
    );
    assert_eq!(
      apply_mask(&s, d, &[1.0; 4], &mut out[..7]).unwrap_err().code,
      ErrorCode::InvalidArgument
    );
    // f32 product then cast: 3 * 0.1f32 in f32
    let mut of = [0f64; 1];
    apply_mask(&[3.0f64], Dims::new(1, 1, 1), &[0.1], &mut of).unwrap();
    assert_eq!(of[0], (3.0f32 * 0.1f32) as f64);
  }

  #[test]
  fn spatial_bin_hand_cases() {
    // one slice 3x5, bin 2 -> 1x2 (last row / column cropped)
    // rows: [1 2 3 4 9] [5 6 7 8 9] [9 9 9 9 9]
    let s = [1u16, 2, 3, 4, 9, 5, 6, 7, 8, 9, 9, 9, 9, 9, 9];
    let d = Dims::new(1, 3, 5);
    assert_eq!(spatial_bin_dims(d, 2).unwrap(), Dims::new(1, 1, 2));
    let mut out = [0u16; 2];
    spatial_bin_2d(&s, d, 2, BinMethod::Mean, &mut out).unwrap();
    assert_eq!(out, [3, 5]); // 14/4 = 3.5 -> 3, 22/4 = 5.5 -> 5
    spatial_bin_2d(&s, d, 2, BinMethod::Sum, &mut out).unwrap();
    assert_eq!(out, [14, 22]);
    spatial_bin_2d(&s, d, 2, BinMethod::Max, &mut out).unwrap();
    assert_eq!(out, [6, 8]);
    spatial_bin_2d(&s, d, 2, BinMethod::Min, &mut out).unwrap();
    assert_eq!(out, [1, 3]);
    // sum wraps like numpy's uint64 sum .astype(uint8): 4 * 200 = 800 -> 800 % 256 = 32
    let mut o8 = [0u8; 1];
    spatial_bin_2d(&[200u8; 4], Dims::new(1, 2, 2), 2, BinMethod::Sum, &mut o8).unwrap();
    assert_eq!(o8, [32]);
    // i16 negative mean truncates toward zero: (-1 -2 -2 -2)/4 = -1.75 -> -1
    let mut oi = [0i16; 1];
    spatial_bin_2d(&[-1i16, -2, -2, -2], Dims::new(1, 2, 2), 2, BinMethod::Mean, &mut oi).unwrap();
    assert_eq!(oi, [-1]);
    // two slices
    let s2: Vec<u8> = (0..32).collect();
    let mut o2 = [0u8; 8];
    spatial_bin_2d(&s2, Dims::new(2, 4, 4), 2, BinMethod::Max, &mut o2).unwrap();
    assert_eq!(o2, [5, 7, 13, 15, 21, 23, 29, 31]);
    // NaN propagates in max
    let mut of = [0f32; 1];
    spatial_bin_2d(
      &[f32::NAN, 1.0, 2.0, 3.0],
      Dims::new(1, 2, 2),
      2,
      BinMethod::Max,
      &mut of,
    )
    .unwrap();
    assert!(of[0].is_nan());
  }

  #[test]
  fn pairwise_sum_follows_numpy() {
    // np.sum(np.array([1e8] + [4.0] * 8, np.float32)) == 100000032.0 (numpy's 8 accumulators), while a
    // sequential f32 sum stays at 1e8 (each + 4 is a tie that rounds back to even).
    let mut v = vec![4.0f32; 9];
    v[0] = 1e8;
    assert_eq!(numpy_pairwise_sum(&v), 100000032.0);
    assert_eq!(v.iter().fold(0f32, |a, &b| a + b), 1e8);
    // integers / f64: plain exact sums
    let w: Vec<f64> = (1..=300).map(|i| i as f64).collect();
    assert_eq!(numpy_pairwise_sum(&w), 45150.0);
  }

  #[test]
  fn spatial_bin_errors() {
    let d = Dims::new(1, 3, 5);
    assert_eq!(spatial_bin_dims(d, 0).unwrap_err().code, ErrorCode::InvalidArgument);
    assert_eq!(spatial_bin_dims(d, 4).unwrap_err().code, ErrorCode::InvalidArgument);
    assert_eq!(
      spatial_bin_2d(&[0u8; 15], d, 2, BinMethod::Sum, &mut [0u8; 3])
        .unwrap_err()
        .code,
      ErrorCode::InvalidArgument
    );
    assert_eq!(BinMethod::parse("median").unwrap_err().code, ErrorCode::InvalidArgument);
    assert_eq!(BinMethod::parse("min").unwrap(), BinMethod::Min);
  }

  #[test]
  fn crop_hand_cases() {
    let s: Vec<u8> = (0..24).collect(); // 2x3x4
    let d = Dims::new(2, 3, 4);
    let od = crop_dims(d, [1, 1, 2], [1, 2, 2]).unwrap();
    assert_eq!(od, Dims::new(1, 2, 2));
    let mut out = [0u8; 4];
    crop(&s, d, [1, 1, 2], [1, 2, 2], &mut out).unwrap();
    assert_eq!(out, [18, 19, 22, 23]);
    let mut all = [0u8; 24];
    crop(&s, d, [0, 0, 0], [2, 3, 4], &mut all).unwrap();
    assert_eq!(&all[..], &s[..]);
    for (st, sz) in [
      ([0, 0, 0], [0, 1, 1]),
      ([1, 0, 0], [2, 1, 1]),
      ([0, 0, 3], [1, 1, 2]),
      ([0, usize::MAX, 0], [1, 2, 1]),
    ] {
      assert_eq!(crop_dims(d, st, sz).unwrap_err().code, ErrorCode::InvalidArgument);
    }
    assert_eq!(
      crop(&s, d, [0, 0, 0], [1, 1, 1], &mut out).unwrap_err().code,
      ErrorCode::InvalidArgument
    );
  }

  /// A slow, direct transcription of the numpy recipe: per element, with its own linspace, bin
  /// assignment, cumsum and interp (linear scan), no tables. For f64 / integer stacks.
  fn equalize_reference<T: Element>(src: &[T], p: &EqualizeParams) -> Vec<T> {
    let n = p.bins;
    let (lo, hi) = (p.range_min, p.range_max);
    let step = (hi - lo) / n as f64;
    let mut edges: Vec<f64> = (0..=n).map(|i| i as f64 * step + lo).collect();
    edges[n] = hi;
    let mut hist = vec![0i64; n];
    for v in src {
      let x = v.to_f64();
      if x < lo || x > hi {
        continue;
      }
      let mut i = (((x - lo) / (hi - lo)) * n as f64) as i64;
      if i == n as i64 {
        i -= 1;
      }
      if x < edges[i as usize] {
        i -= 1;
      }
      if x >= edges[i as usize + 1] && i != n as i64 - 1 {
        i += 1;
      }
      hist[i as usize] += 1;
    }
    let mut cdf = vec![0i64; n];
    let mut acc = 0;
    for i in 0..n {
      acc += hist[i];
      cdf[i] = acc;
    }
    let last = cdf[n - 1];
    let info = int_range(T::DTYPE);
    let fp: Vec<f64> = cdf
      .iter()
      .map(|&c| match (last > 0, info) {
        (true, Some((_, max))) => (max as i64 * c) as f64 / last as f64,
        (true, None) => c as f64 / last as f64,
        _ => c as f64,
      })
      .collect();
    let xp = &edges[..n];
    src
      .iter()
      .map(|v| {
        let x = v.to_f64();
        let y = if x < xp[0] {
          fp[0]
        } else if x >= xp[n - 1] {
          fp[n - 1]
        } else {
          let j = (0..n - 1).find(|&j| xp[j] <= x && x < xp[j + 1]).unwrap();
          if xp[j] == x {
            fp[j]
          } else {
            (fp[j + 1] - fp[j]) / (xp[j + 1] - xp[j]) * (x - xp[j]) + fp[j]
          }
        };
        match info {
          Some((a, b)) => T::from_f64(y.clamp(a, b)),
          None => T::from_f64(y),
        }
      })
      .collect()
  }

  #[test]
  fn equalize_matches_direct_recipe() {
    let mut seed = 4242u64;
    let d = Dims::new(2, 13, 17);
    let raw: Vec<u64> = (0..d.len()).map(|_| xorshift(&mut seed)).collect();
    let cases = [
      EqualizeParams {
        bins: 256,
        range_min: 0.0,
        range_max: 65535.0,
      },
      EqualizeParams {
        bins: 100,
        range_min: 10.0,
        range_max: 4000.0,
      },
      EqualizeParams {
        bins: 7,
        range_min: -100.0,
        range_max: 200.5,
      },
      EqualizeParams {
        bins: 1,
        range_min: 0.0,
        range_max: 10.0,
      },
      EqualizeParams {
        bins: 3000,
        range_min: 0.0,
        range_max: 255.0,
      },
    ];
    macro_rules! check {
      ($t:ty, $conv:expr) => {{
        let src: Vec<$t> = raw.iter().map($conv).collect();
        for p in &cases {
          let mut out = vec![src[0]; d.len()];
          equalize_histogram(&src, d, p, &mut out).unwrap();
          assert_eq!(out, equalize_reference(&src, p), "{} {:?}", stringify!($t), p);
        }
      }};
    }
    check!(u8, |&v| v as u8);
    check!(u16, |&v| (v % 5000) as u16);
    check!(i16, |&v| (v % 400) as i16 - 150);
    check!(i32, |&v| (v % 6000) as i32 - 500);
    check!(f64, |&v| (v % 100_000) as f64 / 17.0 - 50.0);
  }

  #[test]
  fn equalize_default_on_u16_by_hand() {
    // Default bins 65536 over [0, 65535]: bin width 65535/65536 < 1, so value v sits in bin v (its left
    // edge v*65535/65536 <= v). Values [0, 0, 1, 3]: cdf at bins 0,1,2,3 = 2,3,3,4 -> *65535/4 =
    // 32767.5, 49151.25, 49151.25, 65535. interp(x = v) on edges e_j = j*65535/65536: x=0 -> 32767.5;
    // x = 1 lies in (e_1, e_2): 49151.25 + 0 slope -> 49151; x = 3 in (e_3, e_4): cdf 65535 -> 65535.
    let s = [0u16, 0, 1, 3];
    let mut out = [0u16; 4];
    equalize_histogram(&s, Dims::new(1, 2, 2), &EqualizeParams::default(), &mut out).unwrap();
    assert_eq!(out, [32767, 32767, 49151, 65535]);
  }

  #[test]
  fn equalize_errors_and_empty_histogram() {
    let s = [1u16; 4];
    let d = Dims::new(1, 2, 2);
    let mut out = [0u16; 4];
    for p in [
      EqualizeParams {
        bins: 0,
        ..Default::default()
      },
      EqualizeParams {
        range_min: f64::NAN,
        ..Default::default()
      },
      EqualizeParams {
        range_max: f64::INFINITY,
        ..Default::default()
      },
      EqualizeParams {
        range_min: 5.0,
        range_max: 5.0,
        ..Default::default()
      },
      EqualizeParams {
        range_min: 6.0,
        range_max: 5.0,
        ..Default::default()
      },
      EqualizeParams {
        bins: MAX_EQUALIZE_BINS + 1,
        ..Default::default()
      },
      // np.histogram(x, bins=2**20, range=(1, 1 + 1e-12)) raises "Too many bins for data range"
      EqualizeParams {
        bins: 1 << 20,
        range_min: 1.0,
        range_max: 1.0 + 1e-12,
      },
    ] {
      assert_eq!(
        equalize_histogram(&s, d, &p, &mut out).unwrap_err().code,
        ErrorCode::InvalidArgument,
        "{p:?}"
      );
    }
    // Every value outside the range: cdf stays 0, interp gives 0 everywhere.
    let p = EqualizeParams {
      bins: 4,
      range_min: 10.0,
      range_max: 20.0,
    };
    equalize_histogram(&s, d, &p, &mut out).unwrap();
    assert_eq!(out, [0; 4]);
  }
}
