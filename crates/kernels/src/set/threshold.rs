//! Set operations: threshold (DESIGN §12). `thresholdOtsu`, `thresholdLi`, `thresholdTriangle`,
//! `thresholdYen`, `thresholdIsodata`, `thresholdMean`: per Z slice the threshold `t` of
//! `skimage.filters.threshold_*(slice)` (scikit-image 0.26) and the uint8 mask `slice > t`; the
//! thresholds are the special output `thresholds`, one JSON number per slice.
//!
//! **Values as given**: no `img_as_float`; skimage's threshold functions do not rescale either,
//! so the thresholds are in the image's units.
//!
//! **Histograms exactly as scikit-image builds them** (`skimage.exposure.histogram`):
//! * integer images: one bin per integer value from the slice's minimum to its maximum
//!   (`np.bincount`), `nbins` ignored; bin centres are the integers, so every product with the
//!   float32 counts is float64, as in numpy;
//! * float images: `np.histogram(slice, nbins)` over `[min, max]` in the image's own float type
//!   (float32 images: float32 edges, centres, means and threshold; numpy's bin assignment with
//!   its edge corrections), so float32 thresholds are the float32 values skimage returns.
//!
//! The counts are cast to float32 where skimage does (`_validate_image_histogram`), cumulative
//! sums are sequential, sums that numpy does pairwise are pairwise, argmax is numpy's (first
//! maximum, a NaN counting as the maximum).
//!
//! **Decisions** (the oracle raises or is degenerate there):
//! * NaN pixels are dropped before anything (the threshold is the oracle's on the non-NaN values)
//!   and are never in the mask (`NaN > t` is false);
//! * a slice with no non-NaN pixel (all NaN, or an empty plane) has threshold NaN, written as JSON
//!   `null`, and an all-zero mask;
//! * a constant slice has the threshold of that value (skimage does this for Otsu, Li, mean and
//!   for integer images; for float images Yen / Isodata / Triangle compute on a ±0.5 range) and
//!   an all-zero mask;
//! * an infinite pixel: `InvalidArgument` for the histogram methods (numpy: "autodetected range
//!   is not finite"); Li drops infinities as skimage does; mean follows numpy (±inf / NaN);
//! * integer images whose range needs more than 2^24 bins: `InvalidArgument` (skimage would
//!   allocate them);
//! * int16 / int32 images whose range overflows the dtype: skimage's `threshold_li` shifts by the
//!   minimum in the image dtype and wraps; here the shift is exact (int64);
//! * Isodata with no bin meeting its criterion (skimage: IndexError): `InvalidArgument`.
//!
//! `ln` is the platform's (float32 through float64, rounded), which may differ from numpy's SIMD
//! `log` in the last bit; only Li and Yen take logarithms.

use super::{slices, Call, Output, SetOp};
use rayon::prelude::*;
use stackbridge_core::{with_dtype, DType, Element, SbError, SbResult};
use std::borrow::Cow;
use std::ops::{Add, Div, Mul, Sub};

const NBINS: usize = 256;
/// Pixels per parallel histogram / reduction task.
const CHUNK: usize = 1 << 17;
/// The most integer bins (one per value) a slice may need.
const MAX_INT_BINS: i64 = 1 << 24;
/// scikit-image's Li loop has no limit; this guards against a cycle.
const LI_MAX_ITER: usize = 10_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
  Otsu,
  Li,
  Triangle,
  Yen,
  Isodata,
  Mean,
}

impl Method {
  fn has_nbins(self) -> bool {
    matches!(self, Method::Otsu | Method::Triangle | Method::Yen | Method::Isodata)
  }
}

macro_rules! op {
  ($name:literal, $run:ident) => {
    SetOp { name: $name, separable: true, arrays: &[], keeps_dtype: false, special: Some("thresholds"), run: $run }
  };
}

fn run_otsu(c: &Call) -> SbResult<Output> {
  run(c, Method::Otsu)
}
fn run_li(c: &Call) -> SbResult<Output> {
  run(c, Method::Li)
}
fn run_triangle(c: &Call) -> SbResult<Output> {
  run(c, Method::Triangle)
}
fn run_yen(c: &Call) -> SbResult<Output> {
  run(c, Method::Yen)
}
fn run_isodata(c: &Call) -> SbResult<Output> {
  run(c, Method::Isodata)
}
fn run_mean(c: &Call) -> SbResult<Output> {
  run(c, Method::Mean)
}

pub const OPS: &[SetOp] = &[
  op!("thresholdOtsu", run_otsu),
  op!("thresholdLi", run_li),
  op!("thresholdTriangle", run_triangle),
  op!("thresholdYen", run_yen),
  op!("thresholdIsodata", run_isodata),
  op!("thresholdMean", run_mean),
];

/// Reads the options (`nbins`, an integer ≥ 2, default 256, for the histogram methods), then per
/// slice the threshold and the uint8 mask `x > t`; the special output is the JSON array of the
/// thresholds (`null` for NaN).
fn run(call: &Call, method: Method) -> SbResult<Output> {
  let keys: &[&str] = if method.has_nbins() { &["nbins"] } else { &[] };
  let p = call.params(keys)?;
  let nbins = p.usize("nbins", NBINS)?;
  if nbins < 2 {
    return Err(SbError::invalid(format!("{}: option nbins must be an integer ≥ 2, got {nbins}", call.name)).with("option", "nbins"));
  }
  let dims = call.dims()?;
  let out = call.alloc(dims, DType::U8)?;
  let plane = dims.plane();
  let mut thresholds = vec![f64::NAN; dims.z];
  {
    let src = call.input.pin()?;
    let o = out.pin()?;
    let cells: Vec<std::sync::Mutex<f64>> = (0..dims.z).map(|_| std::sync::Mutex::new(f64::NAN)).collect();
    with_dtype!(call.input.dtype, T => {
      slices(call.cancel, dims.z, src.as_slice::<T>(), plane, o.as_mut_slice::<u8>(), plane, |z, s, m| {
        let t = slice_threshold(method, nbins, s).map_err(|e| e.with("processor", call.name))?;
        mask_above(s, t, m);
        *cells[z].lock().unwrap() = t;
        Ok(())
      })?
    });
    for (t, c) in thresholds.iter_mut().zip(cells) {
      *t = c.into_inner().unwrap();
    }
  }
  // serde_json writes non-finite numbers as null.
  let special = serde_json::to_string(&thresholds).map_err(|e| SbError::invalid(format!("{}: {e}", call.name)))?;
  Ok(Output { array: Some(out), special: Some(special) })
}

/// `mask = (s > t)` as 0/1, in parallel, compared in the image's type: for integer images
/// `x > t` is `x > floor(t)`, and float32 thresholds are float32 values, so the comparison is
/// exact (NaN pixels, and every pixel against a NaN threshold, give 0).
fn mask_above<T: Element>(s: &[T], t: f64, m: &mut [u8]) {
  let fill = |m: &mut [u8], v: u8| m.par_chunks_mut(CHUNK).for_each(|c| c.fill(v));
  let tt = if T::DTYPE.is_float() {
    T::from_f64(t)
  } else {
    let f = t.floor();
    let (lo, hi) = int_limits(T::DTYPE);
    if t.is_nan() || f >= hi {
      return fill(m, 0);
    }
    if f < lo {
      return fill(m, 1);
    }
    T::from_f64(f)
  };
  m.par_chunks_mut(CHUNK).zip(s.par_chunks(CHUNK)).for_each(|(m, s)| {
    for (o, &v) in m.iter_mut().zip(s) {
      *o = (v > tt) as u8;
    }
  });
}

fn int_limits(d: DType) -> (f64, f64) {
  match d {
    DType::U8 => (0.0, 255.0),
    DType::U16 => (0.0, 65535.0),
    DType::I16 => (-32768.0, 32767.0),
    _ => (i32::MIN as f64, i32::MAX as f64),
  }
}

/// The threshold of one slice by `method` (see the module comment for the rules).
pub fn slice_threshold<T: Element>(method: Method, nbins: usize, s: &[T]) -> SbResult<f64> {
  match T::DTYPE {
    // SAFETY: T is f32 / f64 exactly when its DTYPE says so.
    DType::F32 => float_threshold::<f32>(method, nbins, unsafe { std::slice::from_raw_parts(s.as_ptr() as *const f32, s.len()) }).map(|t| t as f64),
    DType::F64 => float_threshold::<f64>(method, nbins, unsafe { std::slice::from_raw_parts(s.as_ptr() as *const f64, s.len()) }),
    _ => int_threshold(method, s),
  }
}

// ---------------------------------------------------------------------------------------------
// numpy's float arithmetic in the image's float type.

/// float32 / float64 with the operations numpy applies (each rounded in the type).
pub trait Fl: Copy + PartialOrd + Send + Sync + Add<Output = Self> + Sub<Output = Self> + Mul<Output = Self> + Div<Output = Self> + std::fmt::Debug {
  const ZERO: Self;
  fn of(v: f64) -> Self;
  fn of32(v: f32) -> Self;
  fn f64(self) -> f64;
  fn ln(self) -> Self;
  fn abs(self) -> Self;
  fn is_nan(self) -> bool;
  fn is_finite(self) -> bool;
  fn total_cmp(&self, o: &Self) -> std::cmp::Ordering;
}

impl Fl for f32 {
  const ZERO: f32 = 0.0;
  fn of(v: f64) -> f32 {
    v as f32
  }
  fn of32(v: f32) -> f32 {
    v
  }
  fn f64(self) -> f64 {
    self as f64
  }
  fn ln(self) -> f32 {
    (self as f64).ln() as f32
  }
  fn abs(self) -> f32 {
    f32::abs(self)
  }
  fn is_nan(self) -> bool {
    f32::is_nan(self)
  }
  fn is_finite(self) -> bool {
    f32::is_finite(self)
  }
  fn total_cmp(&self, o: &f32) -> std::cmp::Ordering {
    f32::total_cmp(self, o)
  }
}

impl Fl for f64 {
  const ZERO: f64 = 0.0;
  fn of(v: f64) -> f64 {
    v
  }
  fn of32(v: f32) -> f64 {
    v as f64
  }
  fn f64(self) -> f64 {
    self
  }
  fn ln(self) -> f64 {
    f64::ln(self)
  }
  fn abs(self) -> f64 {
    f64::abs(self)
  }
  fn is_nan(self) -> bool {
    f64::is_nan(self)
  }
  fn is_finite(self) -> bool {
    f64::is_finite(self)
  }
  fn total_cmp(&self, o: &f64) -> std::cmp::Ordering {
    f64::total_cmp(self, o)
  }
}

/// `np.sum(a)` of a contiguous float array in its own type: numpy's pairwise summation (blocks of
/// ≤ 128 with eight accumulators, splits at `n / 2` rounded down to a multiple of 8).
pub fn pairwise<F: Fl>(a: &[F]) -> F {
  let n = a.len();
  if n < 8 {
    let mut res = F::ZERO;
    for &v in a {
      res = res + v;
    }
    res
  } else if n <= 128 {
    let mut r = [F::ZERO; 8];
    r.copy_from_slice(&a[..8]);
    let body = n - n % 8;
    for c in a[8..body].chunks_exact(8) {
      for (acc, &v) in r.iter_mut().zip(c) {
        *acc = *acc + v;
      }
    }
    let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for &v in &a[body..] {
      res = res + v;
    }
    res
  } else {
    let mut n2 = n / 2;
    n2 -= n2 % 8;
    let (lo, hi) = a.split_at(n2);
    if n >= 1 << 16 {
      let (x, y) = rayon::join(|| pairwise(lo), || pairwise(hi));
      x + y
    } else {
      pairwise(lo) + pairwise(hi)
    }
  }
}

/// `np.mean(a)` in the array's type (NaN when empty): the pairwise sum divided by the count
/// (through float64, which rounds as numpy's float32 `sum / count` does).
pub fn np_mean<F: Fl>(a: &[F]) -> F {
  F::of((F::ZERO + pairwise(a)).f64() / a.len() as f64)
}

/// numpy's `argmax`: the first maximum; a NaN is the maximum (the first NaN wins).
fn argmax<P: Fl>(v: impl Iterator<Item = P>) -> usize {
  let mut best = 0;
  let mut best_v: Option<P> = None;
  for (i, x) in v.enumerate() {
    if x.is_nan() {
      return i;
    }
    if best_v.is_none_or(|b| x > b) {
      best = i;
      best_v = Some(x);
    }
  }
  best
}

/// Sequential cumulative sum (`np.cumsum`).
fn cumsum<P: Fl>(v: impl Iterator<Item = P>) -> Vec<P> {
  let mut acc = P::ZERO;
  v.map(|x| {
    acc = acc + x;
    acc
  })
  .collect()
}

// ---------------------------------------------------------------------------------------------
// Integer images.

fn int_threshold<T: Element>(method: Method, s: &[T]) -> SbResult<f64> {
  if s.is_empty() {
    return Ok(f64::NAN);
  }
  // 8- and 16-bit images: one pass over the dtype's whole range, the slice's range from the
  // counts; int32: min / max first.
  let (lo, hi, counts) = if let Some(off) = match T::DTYPE {
    DType::U8 | DType::U16 => Some(0i64),
    DType::I16 => Some(-32768),
    _ => None,
  } {
    let full = histogram16(s, off);
    let a = full.iter().position(|&c| c > 0).expect("non-empty");
    let b = full.iter().rposition(|&c| c > 0).expect("non-empty");
    (a as i64 + off, b as i64 + off, Some(full[a..=b].to_vec()))
  } else {
    let (lo, hi) = s
      .par_chunks(CHUNK)
      .map(|c| c.iter().fold((i64::MAX, i64::MIN), |(a, b), &v| (a.min(v.to_i64()), b.max(v.to_i64()))))
      .reduce(|| (i64::MAX, i64::MIN), |a, b| (a.0.min(b.0), a.1.max(b.1)));
    (lo, hi, None)
  };
  if lo == hi {
    return Ok(lo as f64);
  }
  if method == Method::Mean {
    // np.mean of integers: a float64 sum, exact while it stays below 2^53.
    let sum: i128 = match &counts {
      Some(c) => c.iter().enumerate().map(|(i, &n)| (lo + i as i64) as i128 * n as i128).sum(),
      None => s.par_chunks(CHUNK).map(|c| c.iter().map(|v| v.to_i64() as i128).sum::<i128>()).sum(),
    };
    return Ok(sum as f64 / s.len() as f64);
  }
  let nb = hi - lo + 1;
  if nb > MAX_INT_BINS {
    return Err(SbError::invalid(format!("the slice's value range [{lo}, {hi}] needs {nb} histogram bins (one per integer); at most {MAX_INT_BINS} are supported")));
  }
  let counts = counts.unwrap_or_else(|| int_histogram(s, lo, nb as usize));
  if method == Method::Li {
    return Ok(li_int(&counts, s.len()) + lo as f64);
  }
  let centers: Vec<f64> = (0..nb).map(|i| (lo + i) as f64).collect();
  hist_threshold(method, &counts, &centers)
}

/// `np.bincount(s - lo)` with `nb` bins, per chunk in parallel.
fn int_histogram<T: Element>(s: &[T], lo: i64, nb: usize) -> Vec<u64> {
  let tasks = if nb > s.len() / 4 { 1 } else { rayon::current_num_threads().max(1) * 2 };
  let chunk = s.len().div_ceil(tasks).max(CHUNK);
  s.par_chunks(chunk)
    .map(|c| {
      let mut h = vec![0u32; nb];
      for &v in c {
        h[(v.to_i64() - lo) as usize] += 1;
      }
      h
    })
    .fold(
      || vec![0u64; nb],
      |mut a, b| {
        a.iter_mut().zip(&b).for_each(|(x, &y)| *x += y as u64);
        a
      },
    )
    .reduce(
      || vec![0u64; nb],
      |mut a, b| {
        a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
        a
      },
    )
}

/// The counts of `v - off` over 2^16 bins (8- and 16-bit images): fixed-size tables, so the
/// index needs no bounds check; one table per task of about a quarter slice, then summed.
fn histogram16<T: Element>(s: &[T], off: i64) -> Vec<u64> {
  let chunk = s.len().div_ceil(rayon::current_num_threads().max(1) * 2).max(CHUNK);
  let parts: Vec<Box<[u32; 1 << 16]>> = s
    .par_chunks(chunk)
    .map(|c| {
      let mut h: Box<[u32; 1 << 16]> = vec![0u32; 1 << 16].into_boxed_slice().try_into().expect("2^16 entries");
      for &v in c {
        h[((v.to_i64() - off) as usize) & 0xffff] += 1;
      }
      h
    })
    .collect();
  let mut out = vec![0u64; 1 << 16];
  out.par_chunks_mut(1 << 13).enumerate().for_each(|(k, o)| {
    for p in &parts {
      o.iter_mut().zip(&p[k << 13..]).for_each(|(o, &c)| *o += c as u64);
    }
  });
  out
}

/// The integer branch of `threshold_li` on the histogram of `image - min` (centres `0..n`):
/// tolerance 0.5, start at the mean, weighted means with the float32-cast counts (sums of
/// integer products, exact in float64 as numpy's are below 2^53). Returns the shifted threshold.
fn li_int(counts: &[u64], n: usize) -> f64 {
  let w: Vec<f64> = counts.iter().map(|&c| c as f32 as f64).collect();
  // np.mean(image): the exact integer sum over the count.
  let total: u128 = counts.iter().enumerate().map(|(i, &c)| i as u128 * c as u128).sum();
  let mut t_next = total as f64 / n as f64;
  let tol = 0.5;
  let mut t_curr = -2.0 * tol;
  let mut iter = 0;
  while (t_next - t_curr).abs() > tol && iter < LI_MAX_ITER {
    iter += 1;
    t_curr = t_next;
    let (mut sf, mut wf, mut sb, mut wb) = (0f64, 0f64, 0f64, 0f64);
    for (i, &wi) in w.iter().enumerate() {
      if (i as f64) > t_curr {
        sf += i as f64 * wi;
        wf += wi;
      } else {
        sb += i as f64 * wi;
        wb += wi;
      }
    }
    let (mean_fore, mean_back) = (sf / wf, sb / wb);
    if mean_back == 0.0 {
      break;
    }
    t_next = (mean_back - mean_fore) / (mean_back.ln() - mean_fore.ln());
  }
  t_next
}

// ---------------------------------------------------------------------------------------------
// Float images.

fn float_threshold<F: Fl>(method: Method, nbins: usize, s: &[F]) -> SbResult<F> {
  let vals: Cow<[F]> = if s.par_iter().any(|v| v.is_nan()) { Cow::Owned(s.par_iter().copied().filter(|v| !v.is_nan()).collect()) } else { Cow::Borrowed(s) };
  let Some(&first) = vals.first() else { return Ok(F::of(f64::NAN)) };
  if vals.par_iter().all(|&v| v == first) {
    return Ok(first);
  }
  match method {
    Method::Mean => return Ok(np_mean(&vals)),
    Method::Li => return li_float(&vals),
    _ => {}
  }
  let (lo, hi) = vals
    .par_chunks(CHUNK)
    .map(|c| c.iter().fold((c[0], c[0]), |(a, b), &v| (if v < a { v } else { a }, if v > b { v } else { b })))
    .reduce_with(|a, b| (if b.0 < a.0 { b.0 } else { a.0 }, if b.1 > a.1 { b.1 } else { a.1 }))
    .expect("non-empty");
  if !lo.is_finite() || !hi.is_finite() {
    return Err(SbError::invalid(format!("the slice's range [{lo:?}, {hi:?}] is not finite (infinite pixels)")));
  }
  // np.linspace(lo, hi, nbins + 1) in F; the last edge is hi exactly.
  let step = (hi - lo) / F::of(nbins as f64);
  let mut edges: Vec<F> = (0..=nbins)
    .map(|i| if step == F::ZERO { F::of(i as f64) / F::of(nbins as f64) * (hi - lo) + lo } else { F::of(i as f64) * step + lo })
    .collect();
  edges[nbins] = hi;
  if edges.windows(2).any(|e| e[0] >= e[1]) {
    return Err(SbError::invalid(format!("too many bins ({nbins}) for the slice's range [{lo:?}, {hi:?}] (numpy: bins must increase monotonically)")).with("option", "nbins"));
  }
  let counts = float_histogram(&vals, lo, hi, &edges);
  let centers: Vec<F> = edges.windows(2).map(|e| (e[0] + e[1]) / F::of(2.0)).collect();
  hist_threshold(method, &counts, &centers)
}

/// numpy's uniform-bin histogram (`np.histogram`, its `uniform_bins` branch) in F.
fn float_histogram<F: Fl>(vals: &[F], lo: F, hi: F, edges: &[F]) -> Vec<u64> {
  let nb = edges.len() - 1;
  let denom = hi - lo;
  let norm = F::of(nb as f64);
  vals
    .par_chunks(CHUNK)
    .map(|c| {
      let mut h = vec![0u64; nb];
      for &x in c {
        let mut i = (((x - lo) / denom) * norm).f64() as usize;
        if i >= nb {
          i = nb - 1;
        }
        if x < edges[i] {
          i = i.saturating_sub(1);
        }
        if x >= edges[i + 1] && i != nb - 1 {
          i += 1;
        }
        h[i] += 1;
      }
      h
    })
    .reduce(
      || vec![0u64; nb],
      |mut a, b| {
        a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
        a
      },
    )
}

/// The float branch of `threshold_li` in F: NaN already dropped and not constant; infinities
/// dropped (none left → 0); shifted by the minimum; tolerance half the smallest gap between
/// distinct shifted values; means as `np.mean`.
fn li_float<F: Fl>(vals: &[F]) -> SbResult<F> {
  let finite: Cow<[F]> = if vals.par_iter().all(|v| v.is_finite()) { Cow::Borrowed(vals) } else { Cow::Owned(vals.par_iter().copied().filter(|v| v.is_finite()).collect()) };
  if finite.is_empty() {
    return Ok(F::ZERO);
  }
  let min = finite.par_iter().copied().reduce_with(|a, b| if b < a { b } else { a }).expect("non-empty");
  let img: Vec<F> = finite.par_iter().map(|&v| v - min).collect();
  let mut sorted = img.clone();
  sorted.par_sort_unstable_by(F::total_cmp);
  let tol = sorted
    .windows(2)
    .filter(|p| p[1] > p[0])
    .map(|p| p[1] - p[0])
    .reduce(|a, b| if b < a { b } else { a })
    .ok_or_else(|| SbError::invalid("threshold_li: a single finite value besides infinities (numpy: min of an empty array)"))?
    / F::of(2.0);
  drop(sorted);
  let mut t_next = np_mean(&img);
  let mut t_curr = F::of(-2.0) * tol;
  let (mut fore, mut back) = (Vec::with_capacity(img.len()), Vec::with_capacity(img.len()));
  let mut iter = 0;
  while (t_next - t_curr).abs() > tol && iter < LI_MAX_ITER {
    iter += 1;
    t_curr = t_next;
    fore.clear();
    back.clear();
    for &v in &img {
      if v > t_curr {
        fore.push(v);
      } else {
        back.push(v);
      }
    }
    let (mean_fore, mean_back) = (np_mean(&fore), np_mean(&back));
    if mean_back == F::ZERO {
      break;
    }
    t_next = (mean_back - mean_fore) / (mean_back.ln() - mean_fore.ln());
  }
  Ok(t_next + min)
}

// ---------------------------------------------------------------------------------------------
// The histogram methods, on counts and centres of type P (float64 for integer images, the image
// type for float images): P is the type numpy's `counts(float32) * bin_centers` has.

fn hist_threshold<P: Fl>(method: Method, counts: &[u64], centers: &[P]) -> SbResult<P> {
  Ok(match method {
    Method::Otsu => centers[otsu_index(counts, centers)],
    Method::Yen => centers[yen_index(counts)],
    Method::Isodata => centers[isodata_index(counts, centers).ok_or_else(|| SbError::invalid("threshold_isodata: no bin meets the criterion"))?],
    Method::Triangle => centers[triangle_index(counts)],
    Method::Li | Method::Mean => unreachable!("not a histogram method"),
  })
}

/// `threshold_otsu`: float32 class weights, P means, first argmax of
/// `float32(w1 * w2) * (m1 - m2) ** 2`.
fn otsu_index<P: Fl>(counts: &[u64], centers: &[P]) -> usize {
  let n = counts.len();
  let c32: Vec<f32> = counts.iter().map(|&c| c as f32).collect();
  let weight1 = cumsum(c32.iter().copied());
  let mut weight2 = cumsum(c32.iter().rev().copied());
  weight2.reverse();
  let prod: Vec<P> = c32.iter().zip(centers).map(|(&c, &b)| P::of32(c) * b).collect();
  let mean1: Vec<P> = cumsum(prod.iter().copied()).into_iter().zip(&weight1).map(|(s, &w)| s / P::of32(w)).collect();
  let mut mean2: Vec<P> = cumsum(prod.iter().rev().copied()).into_iter().zip(weight2.iter().rev()).map(|(s, &w)| s / P::of32(w)).collect();
  mean2.reverse();
  argmax((0..n - 1).map(|i| {
    let d = mean1[i] - mean2[i + 1];
    P::of32(weight1[i] * weight2[i + 1]) * (d * d)
  }))
}

/// `threshold_yen`, all in float32: `pmf = counts / counts.sum()` (pairwise sum),
/// `crit = log((P1_sq[:-1] * P2_sq[1:]) ** -1 * (P1[:-1] * (1 - P1[:-1])) ** 2)`.
fn yen_index(counts: &[u64]) -> usize {
  let c32: Vec<f32> = counts.iter().map(|&c| c as f32).collect();
  let total = 0.0f32 + pairwise(&c32);
  let pmf: Vec<f32> = c32.iter().map(|&c| c / total).collect();
  let p1 = cumsum(pmf.iter().copied());
  let p1_sq = cumsum(pmf.iter().map(|&p| p * p));
  let mut p2_sq = cumsum(pmf.iter().rev().map(|&p| p * p));
  p2_sq.reverse();
  argmax((0..counts.len() - 1).map(|i| {
    let a = 1.0f32 / (p1_sq[i] * p2_sq[i + 1]);
    let b = p1[i] * (1.0f32 - p1[i]);
    Fl::ln(a * (b * b))
  }))
}

/// `threshold_isodata`: the first bin `i` with `0 <= (lower_i + higher_i) / 2 - c_i < width`.
fn isodata_index<P: Fl>(counts: &[u64], centers: &[P]) -> Option<usize> {
  let n = counts.len();
  let c32: Vec<f32> = counts.iter().map(|&c| c as f32).collect();
  let csuml = cumsum(c32.iter().copied());
  let last = csuml[n - 1];
  let csum_int = cumsum(c32.iter().zip(centers).map(|(&c, &b)| P::of32(c) * b));
  let int_last = csum_int[n - 1];
  let width = centers[1] - centers[0];
  (0..n - 1).find(|&i| {
    let lower = csum_int[i] / P::of32(csuml[i]);
    let higher = (int_last - csum_int[i]) / P::of32(last - csuml[i]);
    let dist = (lower + higher) / P::of(2.0) - centers[i];
    dist >= P::ZERO && dist < width
  })
}

/// `threshold_triangle` on the integer counts (float64 geometry).
fn triangle_index(counts: &[u64]) -> usize {
  let nb = counts.len();
  let mut peak = 0;
  for (i, &c) in counts.iter().enumerate() {
    if c > counts[peak] {
      peak = i;
    }
  }
  let peak_height = counts[peak];
  let low = counts.iter().position(|&c| c > 0).expect("non-empty histogram");
  let high = counts.iter().rposition(|&c| c > 0).expect("non-empty histogram");
  if low == high {
    return low;
  }
  let flip = (peak as isize - low as isize) < (high as isize - peak as isize);
  let (low, peak) = if flip { (nb - high - 1, nb - peak - 1) } else { (low, peak) };
  let hist = |i: usize| if flip { counts[nb - 1 - i] } else { counts[i] };
  let width = peak - low;
  // np.sqrt(peak_height**2 + width**2): the int64 sum, then float64.
  let norm = ((peak_height as u128 * peak_height as u128 + (width as u128) * (width as u128)) as f64).sqrt();
  let ph = peak_height as f64 / norm;
  let wd = width as f64 / norm;
  let level = argmax((0..width).map(|x| ph * x as f64 - wd * hist(x + low) as f64)) + low;
  if flip {
    nb - level - 1
  } else {
    level
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use stackbridge_core::{Cancel, ErrorCode, HostArray, MemoryType};

  fn stack<T: Element>(z: usize, h: usize, w: usize, v: &[T]) -> HostArray {
    let a = HostArray::alloc(vec![z, h, w], T::DTYPE, MemoryType::Numpy, false).unwrap();
    a.pin().unwrap().as_mut_slice::<T>().copy_from_slice(v);
    a
  }

  fn call(name: &str, a: &HostArray, opts: &str) -> SbResult<Output> {
    super::super::run(super::super::find(name).unwrap(), a, &[], opts, &Cancel::none())
  }

  #[test]
  fn option_errors() {
    let a = stack::<u8>(1, 2, 2, &[0, 1, 2, 3]);
    for (name, opts) in [
      ("thresholdOtsu", r#"{"nbins": 1}"#),
      ("thresholdOtsu", r#"{"nbins": 2.5}"#),
      ("thresholdYen", r#"{"nbins": -3}"#),
      ("thresholdLi", r#"{"nbins": 256}"#),
      ("thresholdMean", r#"{"radius": 1}"#),
    ] {
      assert_eq!(call(name, &a, opts).err().unwrap().code, ErrorCode::InvalidArgument, "{name} {opts}");
    }
    assert!(call("thresholdTriangle", &a, r#"{"nbins": 16}"#).is_ok());
  }

  #[test]
  fn empty_constant_and_nan_slices() {
    for op in OPS {
      // Z = 0: nothing, no thresholds.
      let e = stack::<u16>(0, 3, 3, &[]);
      let o = call(op.name, &e, "").unwrap();
      assert_eq!(o.special.as_deref(), Some("[]"));
      // An empty plane: threshold null.
      let e = stack::<f32>(2, 0, 3, &[]);
      assert_eq!(call(op.name, &e, "").unwrap().special.as_deref(), Some("[null,null]"), "{}", op.name);
      // Constant and all-NaN slices.
      let c = stack::<f32>(2, 1, 3, &[2.5, 2.5, 2.5, f32::NAN, f32::NAN, f32::NAN]);
      let o = call(op.name, &c, "").unwrap();
      assert_eq!(o.special.as_deref(), Some("[2.5,null]"), "{}", op.name);
      assert!(o.array.unwrap().pin().unwrap().as_slice::<u8>().iter().all(|&m| m == 0));
      let c = stack::<i16>(1, 1, 1, &[-7]);
      assert_eq!(call(op.name, &c, "").unwrap().special.as_deref(), Some("[-7.0]"), "{}", op.name);
    }
  }

  #[test]
  fn infinite_and_wide_ranges() {
    let a = stack::<f64>(1, 1, 3, &[0.0, f64::INFINITY, 1.0]);
    assert_eq!(call("thresholdOtsu", &a, "").err().unwrap().code, ErrorCode::InvalidArgument);
    assert!(call("thresholdLi", &a, "").is_ok());
    let w = stack::<i32>(1, 1, 2, &[i32::MIN, i32::MAX]);
    assert_eq!(call("thresholdYen", &w, "").err().unwrap().code, ErrorCode::InvalidArgument);
    assert!(call("thresholdMean", &w, "").is_ok());
  }

  #[test]
  fn pairwise_matches_sequential_for_exact_values() {
    let v: Vec<f32> = (0..1000).map(|i| (i % 17) as f32).collect();
    assert_eq!(pairwise(&v), v.iter().sum::<f32>());
  }

  /// Not a correctness test: `cargo test --release --lib set::threshold -- --ignored --nocapture`
  /// times thresholdOtsu on 4×1024×1024 uint16.
  #[test]
  #[ignore]
  fn time_otsu_u16() {
    let n = 4 * 1024 * 1024;
    let mut x = 1u64;
    let v: Vec<u16> = (0..n)
      .map(|i| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        ((x % 2000) as u16) + if (i / 1024) % 64 < 20 { 20000 } else { 1000 }
      })
      .collect();
    let a = stack::<u16>(4, 1024, 1024, &v);
    let _ = call("thresholdOtsu", &a, "").unwrap();
    let t0 = std::time::Instant::now();
    for _ in 0..20 {
      let _ = call("thresholdOtsu", &a, "").unwrap();
    }
    eprintln!("thresholdOtsu 4x1024x1024 u16: {:.3} ms", t0.elapsed().as_secs_f64() * 1e3 / 20.0);
  }
}
