//! Set operations: measure (DESIGN §12) — `regionprops`, `peakLocalMax`, `distanceTransform`.
//!
//! | op                  | oracle                                                                   |
//! |---------------------|--------------------------------------------------------------------------|
//! | `regionprops`       | `skimage.measure.regionprops_table(labels, intensity, properties=…)`     |
//! | `peakLocalMax`      | `skimage.feature.peak_local_max(slice, min_distance, threshold_abs, …)`  |
//! | `distanceTransform` | `scipy.ndimage.distance_transform_edt(slice != 0)` cast to float32       |
//!
//! All run per Z slice; the two measurements return the stack unchanged (`array: None`) and their
//! result as the special output (one entry per slice).

use super::{slices, Call, Output, SetOp};
use crate::segment::distance_transform_edt;
use rayon::prelude::*;
use stackbridge_core::{with_dtype, DType, Element, SbError, SbResult};

pub const OPS: &[SetOp] = &[
  SetOp { name: "regionprops", separable: false, arrays: &["intensity"], keeps_dtype: true, special: Some("regions"), run: run_regionprops },
  SetOp { name: "peakLocalMax", separable: false, arrays: &[], keeps_dtype: true, special: Some("peaks"), run: run_peak_local_max },
  SetOp { name: "distanceTransform", separable: true, arrays: &[], keeps_dtype: false, special: None, run: run_distance_transform },
];

// ---------------------------------------------------------------------------------------------
// distanceTransform

/// `distanceTransform` → float32: per slice `scipy.ndimage.distance_transform_edt(slice != 0)`
/// (the distance of every nonzero pixel to the nearest zero pixel, 0 on zero pixels), computed
/// exactly in integers and rounded once to float32 (= scipy's float64 result cast to float32).
/// Any dtype; NaN counts as nonzero (numpy's `NaN != 0`), `-0.0` as zero. A slice without a zero
/// pixel follows scipy (distances to the virtual pixel `(-1, 0)`). No options.
fn run_distance_transform(c: &Call) -> SbResult<Output> {
  c.params(&[])?;
  let d = c.dims()?;
  let out = c.alloc(d, DType::F32)?;
  let plane = d.h * d.w;
  {
    let ip = c.input.pin()?;
    let op = out.pin()?;
    let dst = op.as_mut_slice::<f32>();
    with_dtype!(c.input.dtype, T => {
      let src = ip.as_slice::<T>();
      slices(c.cancel, d.z, src, plane, dst, plane, |_, s, o| {
        let mask: Vec<bool> = s.par_iter().map(|v| v.to_f64() != 0.0).collect();
        distance_transform_edt(&mask, d.h, d.w, o);
        Ok(())
      })?;
    });
  }
  Ok(Output::array(out))
}

// ---------------------------------------------------------------------------------------------
// peakLocalMax

/// The element types of a stack as `peak_local_max` orders and thresholds them.
pub trait PeakVal: Element {
  /// The sort key of `np.argsort(-intensities, kind="stable")`: the negation in the array's own
  /// dtype, so unsigned values wrap (`-0 = 0` sorts before every positive value) and the signed
  /// minimum stays itself, as numpy does.
  fn neg_key(self) -> f64;
  /// `max` that skips NaN (scipy's `maximum_filter` ignores NaN neighbours).
  #[inline]
  fn fmax(self, o: Self) -> Self {
    if o > self || self != self {
      o
    } else {
      self
    }
  }
  /// Whether thresholds are compared in float32 (numpy 2 casts a Python float to the float32
  /// array's dtype; integer arrays compare in float64).
  const F32: bool = false;
}
impl PeakVal for u8 {
  fn neg_key(self) -> f64 {
    self.wrapping_neg() as f64
  }
}
impl PeakVal for u16 {
  fn neg_key(self) -> f64 {
    self.wrapping_neg() as f64
  }
}
impl PeakVal for i16 {
  fn neg_key(self) -> f64 {
    self.wrapping_neg() as f64
  }
}
impl PeakVal for i32 {
  fn neg_key(self) -> f64 {
    self.wrapping_neg() as f64
  }
}
impl PeakVal for u32 {
  fn neg_key(self) -> f64 {
    self.wrapping_neg() as f64
  }
}
impl PeakVal for f32 {
  fn neg_key(self) -> f64 {
    -(self as f64)
  }
  const F32: bool = true;
}
impl PeakVal for f64 {
  fn neg_key(self) -> f64 {
    -self
  }
}

/// Options of `peakLocalMax`, read and checked.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PeakOptions {
  pub min_distance: usize,
  pub threshold_abs: Option<f64>,
  pub threshold_rel: Option<f64>,
  /// Rows/columns dropped at each border.
  pub border: usize,
  pub num_peaks: usize,
}

fn peak_options(c: &Call) -> SbResult<PeakOptions> {
  let p = c.params(&["minDistance", "thresholdAbs", "thresholdRel", "excludeBorder", "numPeaks"])?;
  let min_distance = p.usize("minDistance", 1)?;
  let opt = |k: &str| -> SbResult<Option<f64>> { Ok(Some(p.f64(k, f64::NAN)?).filter(|v| !v.is_nan())) };
  let threshold_abs = opt("thresholdAbs")?;
  let threshold_rel = opt("thresholdRel")?;
  let num_peaks = p.usize("numPeaks", usize::MAX)?;
  // skimage: a bool means `min_distance` or 0, an int is the width itself.
  let border = match p.bool("excludeBorder", true) {
    Ok(b) => {
      if b {
        min_distance
      } else {
        0
      }
    }
    Err(_) => p.usize("excludeBorder", 0).map_err(|_| {
      SbError::invalid(format!("{}: option excludeBorder must be a boolean or a non-negative integer", c.name))
        .with("option", "excludeBorder")
        .with("processor", c.name)
    })?,
  };
  Ok(PeakOptions { min_distance, threshold_abs, threshold_rel, border, num_peaks })
}

/// `peakLocalMax({ minDistance = 1, thresholdAbs, thresholdRel, excludeBorder = true, numPeaks })`:
/// per slice `skimage.feature.peak_local_max(slice, min_distance, threshold_abs, threshold_rel,
/// exclude_border, num_peaks)` (default footprint `ones((2·minDistance+1)²)`, `p_norm=inf`, no
/// labels); the special output is, per slice, the `[y, x]` pairs in scikit-image's order. The
/// stack is returned unchanged. Any dtype, values as given.
///
/// As `skimage/feature/peak.py` 0.26: threshold = `thresholdAbs` else the slice minimum, raised to
/// `thresholdRel · max` if that is larger (float32 slices compute these in float32, as numpy 2
/// does with Python scalars); candidates are the pixels equal to the `maximum_filter` (mode
/// `nearest`) and above the threshold, none if every pixel equals its filtered value (a "trivial"
/// image); `excludeBorder` (true: `minDistance`, false: 0, or a width) rows/columns are dropped;
/// candidates sorted by the negated value in the slice's dtype (stable: unsigned zeros first, as
/// numpy's wrap-around), greedily spaced (Chebyshev distance ≥ `minDistance`), cut to `numPeaks`.
///
/// NaN: numpy's min is NaN, so without `thresholdAbs` a slice holding NaN has no peak (as skimage);
/// with it, NaN pixels are never peaks and are skipped by the maximum filter (scipy's filter
/// ignores NaN neighbours).
fn run_peak_local_max(c: &Call) -> SbResult<Output> {
  let o = peak_options(c)?;
  let d = c.dims()?;
  let plane = d.h * d.w;
  let mut res: Vec<Vec<(usize, usize)>> = vec![Vec::new(); d.z];
  {
    let ip = c.input.pin()?;
    with_dtype!(c.input.dtype, T => {
      let src = ip.as_slice::<T>();
      slices(c.cancel, d.z, src, plane, &mut res, 1, |_, s, out| {
        out[0] = peak_local_max(s, d.h, d.w, &o);
        Ok(())
      })?;
    });
  }
  let json = serde_json::to_string(&res.iter().map(|v| v.iter().map(|&(y, x)| [y, x]).collect::<Vec<_>>()).collect::<Vec<_>>())
    .map_err(|e| SbError::invalid(format!("peakLocalMax: {e}")))?;
  Ok(Output { array: None, special: Some(json) })
}

/// The threshold of `_get_threshold`, as f64 (for float32 slices a float32 value).
fn peak_threshold<T: PeakVal>(img: &[T], o: &PeakOptions) -> f64 {
  let (min, max) = img
    .par_chunks(1 << 16)
    .map(|c| c.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| nan_min_max(lo, hi, v.to_f64())))
    .reduce(|| (f64::INFINITY, f64::NEG_INFINITY), |a, b| if a.0.is_nan() || b.0.is_nan() { (f64::NAN, f64::NAN) } else { (a.0.min(b.0), a.1.max(b.1)) });
  let r = |v: f64| if T::F32 { v as f32 as f64 } else { v };
  let mut t = match o.threshold_abs {
    Some(a) => r(a),
    None => min,
  };
  if let Some(rel) = o.threshold_rel {
    let rt = if T::F32 { ((rel as f32) * (max as f32)) as f64 } else { rel * max };
    // Python's max(t, rt): rt only if strictly larger (so a NaN never replaces t).
    if rt > t {
      t = rt;
    }
  }
  t
}

/// min / max that propagate NaN (numpy's).
#[inline]
fn nan_min_max(lo: f64, hi: f64, v: f64) -> (f64, f64) {
  if v.is_nan() || lo.is_nan() {
    (f64::NAN, f64::NAN)
  } else {
    (lo.min(v), hi.max(v))
  }
}

/// One slice of `peakLocalMax`.
pub fn peak_local_max<T: PeakVal>(img: &[T], h: usize, w: usize, o: &PeakOptions) -> Vec<(usize, usize)> {
  if img.is_empty() || o.num_peaks == 0 {
    return Vec::new();
  }
  let thr = peak_threshold(img, o);
  if thr.is_nan() {
    return Vec::new();
  }
  let md = o.min_distance;
  let (y0, y1) = (o.border.min(h), h.saturating_sub(o.border));
  let (x0, x1) = (o.border.min(w), w.saturating_sub(o.border));
  let filtered = if md == 0 || img.len() == 1 { None } else { Some(max_filter(img, h, w, md)) };
  if let Some(m) = &filtered {
    // "no peak for a trivial image"
    if img.par_chunks(1 << 16).zip(m.par_chunks(1 << 16)).all(|(a, b)| a.iter().zip(b).all(|(x, y)| x == y)) {
      return Vec::new();
    }
  }
  if y0 >= y1 || x0 >= x1 {
    return Vec::new();
  }
  let mut cand: Vec<(f64, usize, usize)> = (y0..y1)
    .into_par_iter()
    .map(|y| {
      let row = &img[y * w..(y + 1) * w];
      let mrow = filtered.as_ref().map(|m| &m[y * w..(y + 1) * w]);
      let mut out = Vec::new();
      for x in x0..x1 {
        let v = row[x];
        if v.to_f64() > thr && mrow.is_none_or(|m| m[x] == v) {
          out.push((v.neg_key(), y, x));
        }
      }
      out
    })
    .flatten_iter()
    .collect();
  cand.par_sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
  ensure_spacing(cand.iter().map(|&(_, y, x)| (y, x)), h, w, md, o.num_peaks)
}

/// `skimage._shared.coord.ensure_spacing(coords, spacing, p_norm=inf, max_out)`: greedy in the
/// given order, a point survives unless an earlier survivor is at Chebyshev distance `< spacing`
/// (scikit-image's batches over the sorted list keep exactly this set); the first `max_out`.
/// A grid of `spacing`-sized cells keeps each test to 9 cells.
fn ensure_spacing(coords: impl Iterator<Item = (usize, usize)>, h: usize, w: usize, spacing: usize, max_out: usize) -> Vec<(usize, usize)> {
  if spacing <= 1 {
    return coords.take(max_out).collect();
  }
  let s = spacing.min(h.max(w) + 1);
  let gw = w / s + 1;
  let gh = h / s + 1;
  const NONE: u32 = u32::MAX;
  let mut head = vec![NONE; gh * gw];
  let mut next: Vec<u32> = Vec::new();
  let mut kept: Vec<(usize, usize)> = Vec::new();
  for (y, x) in coords {
    if kept.len() >= max_out {
      break;
    }
    let (cy, cx) = (y / s, x / s);
    let mut free = true;
    'cells: for gy in cy.saturating_sub(1)..=(cy + 1).min(gh - 1) {
      for gx in cx.saturating_sub(1)..=(cx + 1).min(gw - 1) {
        let mut k = head[gy * gw + gx];
        while k != NONE {
          let (ky, kx) = kept[k as usize];
          if ky.abs_diff(y) < spacing && kx.abs_diff(x) < spacing {
            free = false;
            break 'cells;
          }
          k = next[k as usize];
        }
      }
    }
    if free {
      let cell = cy * gw + cx;
      next.push(head[cell]);
      head[cell] = kept.len() as u32;
      kept.push((y, x));
    }
  }
  kept
}

/// `scipy.ndimage.maximum_filter(img, size=2r+1, mode='nearest')` (NaN neighbours skipped),
/// separably: rows, transpose, rows, transpose back.
fn max_filter<T: PeakVal>(img: &[T], h: usize, w: usize, r: usize) -> Vec<T> {
  let mut a = img.to_vec();
  rows_max(img, &mut a, w, r);
  let mut t = img.to_vec();
  transpose(&a, h, w, &mut t);
  rows_max(&t, &mut a, h, r);
  transpose(&a, w, h, &mut t);
  t
}

fn rows_max<T: PeakVal>(src: &[T], dst: &mut [T], w: usize, r: usize) {
  dst.par_chunks_mut(w).zip(src.par_chunks(w)).for_each_init(|| (Vec::new(), Vec::new(), Vec::new()), |(pad, pre, suf), (d, s)| {
    line_max(s, d, r, pad, pre, suf)
  });
}

/// `dst[i] = max(src[clamp(i - r) ..= clamp(i + r)])`: van Herk / Gil-Werman over the line padded
/// with its end values (reaches beyond the line are cut to `n - 1`, which changes nothing).
fn line_max<T: PeakVal>(src: &[T], dst: &mut [T], r: usize, pad: &mut Vec<T>, pre: &mut Vec<T>, suf: &mut Vec<T>) {
  let n = src.len();
  let r = r.min(n - 1);
  let k = 2 * r + 1;
  pad.clear();
  pad.extend(std::iter::repeat_n(src[0], r));
  pad.extend_from_slice(src);
  pad.extend(std::iter::repeat_n(src[n - 1], r));
  if k <= 7 {
    dst.copy_from_slice(&pad[..n]);
    for s in 1..k {
      for (d, &p) in dst.iter_mut().zip(&pad[s..s + n]) {
        *d = d.fmax(p);
      }
    }
    return;
  }
  let len = pad.len();
  pre.clear();
  pre.extend_from_slice(pad);
  suf.clear();
  suf.extend_from_slice(pad);
  for b in (0..len).step_by(k) {
    let e = (b + k).min(len);
    for i in b + 1..e {
      pre[i] = pre[i - 1].fmax(pre[i]);
    }
    for i in (b..e - 1).rev() {
      suf[i] = suf[i + 1].fmax(suf[i]);
    }
  }
  for (i, d) in dst.iter_mut().enumerate() {
    *d = suf[i].fmax(pre[i + k - 1]);
  }
}

/// `dst (w × h) = srcᵀ` for `src (h × w)`, in tiles, parallel over bands of output rows.
fn transpose<T: Copy + Send + Sync>(src: &[T], h: usize, w: usize, dst: &mut [T]) {
  const B: usize = 32;
  dst.par_chunks_mut(B * h).enumerate().for_each(|(bx, band)| {
    let x0 = bx * B;
    let nx = band.len() / h;
    for y in 0..h {
      let srow = &src[y * w + x0..y * w + x0 + nx];
      for (dx, &v) in srow.iter().enumerate() {
        band[dx * h + y] = v;
      }
    }
  });
}

// ---------------------------------------------------------------------------------------------
// regionprops

/// One slice's regions as a columnar table (JSON keys camelCase, rows by increasing label).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RegionTable {
  pub label: Vec<u32>,
  pub area: Vec<f64>,
  pub centroid_y: Vec<f64>,
  pub centroid_x: Vec<f64>,
  pub bbox_min_y: Vec<usize>,
  pub bbox_min_x: Vec<usize>,
  pub bbox_max_y: Vec<usize>,
  pub bbox_max_x: Vec<usize>,
  pub intensity_mean: Vec<f64>,
  pub intensity_min: Vec<f64>,
  pub intensity_max: Vec<f64>,
  pub intensity_std: Vec<f64>,
  pub equivalent_diameter: Vec<f64>,
  pub eccentricity: Vec<f64>,
  pub orientation: Vec<f64>,
  pub major_axis_length: Vec<f64>,
  pub minor_axis_length: Vec<f64>,
  pub perimeter: Vec<f64>,
  pub solidity: Vec<f64>,
}

/// `regionprops(labels, intensity)`: per slice `skimage.measure.regionprops_table(labels_slice,
/// intensity_slice, properties=('label', 'area', 'centroid', 'bbox', 'intensity_mean',
/// 'intensity_min', 'intensity_max', 'intensity_std', 'equivalent_diameter_area', 'eccentricity',
/// 'orientation', 'axis_major_length', 'axis_minor_length', 'perimeter', 'solidity'))` as a
/// columnar table (the special output, one per slice); the label stack is returned unchanged.
/// Labels: any integer dtype, values ≥ 0 (0 = background; negative → `InvalidArgumentError`);
/// the intensity: same shape, any dtype, values as given (no rescaling).
///
/// Exact where scikit-image's arithmetic is: label, area, bbox (max exclusive), centroid (integer
/// sums, one division), intensity min/max, intensity mean and std (numpy's pairwise sums in the
/// intensity's precision — float32 intensities in float32 — so the same bits), solidity (the
/// convex hull of the pixels' edge midpoints, `convex_hull_image`, counted exactly with integer
/// arithmetic). Within about 1e-12 relative: the moment-based columns (scikit-image forms central
/// moments by `einsum` and eigenvalues by LAPACK; here the moments are exact integers and the 2×2
/// eigenvalues closed-form) and the perimeter (4-connectivity weights of
/// `skimage.measure.perimeter`, summed in another order). Where scikit-image's float rounding
/// decides a branch — `orientation` when the two variances are equal (±π/4) — exact equality is
/// used, which agrees whenever scikit-image's moments are exact (dyadic centroids). NaN
/// intensities propagate into mean/min/max/std of their region (JSON `null`).
fn run_regionprops(c: &Call) -> SbResult<Output> {
  c.params(&[])?;
  let d = c.dims()?;
  if c.input.dtype.is_float() {
    return Err(
      SbError::dtype(format!("regionprops: labels must be an integer dtype, got {}", c.input.dtype.name())).with("processor", c.name),
    );
  }
  let inten = c.same_shape(0, "intensity")?.ok_or_else(|| SbError::invalid("regionprops: an intensity stack is required"))?;
  let plane = d.h * d.w;
  let mut tables: Vec<RegionTable> = vec![RegionTable::default(); d.z];
  {
    let lp = c.input.pin()?;
    let ip = inten.pin()?;
    with_dtype!(c.input.dtype, L => {
      let ls = lp.as_slice::<L>();
      with_dtype!(inten.dtype, T => {
        let is = ip.as_slice::<T>();
        slices(c.cancel, d.z, ls, plane, &mut tables, 1, |z, lsl, out| {
          let labels = labels_u32(lsl).map_err(|e| e.with("processor", c.name).with("slice", z))?;
          out[0] = regionprops_plane::<T>(&labels, &is[z * plane..(z + 1) * plane], d.h, d.w);
          Ok(())
        })?;
      });
    });
  }
  let json = serde_json::to_string(&tables).map_err(|e| SbError::invalid(format!("regionprops: {e}")))?;
  Ok(Output { array: None, special: Some(json) })
}

/// The labels as u32 (every integer dtype fits), refusing negative ones.
fn labels_u32<L: Element>(s: &[L]) -> SbResult<Vec<u32>> {
  let v: Vec<u32> = s.par_iter().map(|l| l.to_i64().clamp(-1, u32::MAX as i64) as i64 as u32).collect();
  if s.par_iter().any(|l| l.to_i64() < 0) {
    return Err(SbError::invalid("regionprops: labels must be ≥ 0 (0 is the background)"));
  }
  Ok(v)
}

/// Where each label's statistics live: a dense table when labels are small, else binary search.
enum Slots {
  Dense(Vec<u32>),
  Sparse(Vec<u32>),
}

impl Slots {
  fn new(labels: &[u32]) -> (Slots, Vec<u32>) {
    let max = labels.par_iter().copied().max().unwrap_or(0) as usize;
    if max <= 2 * labels.len() + 1024 {
      let present = labels
        .par_chunks(labels.len().div_ceil(rayon::current_num_threads().max(1)).max(1))
        .map(|c| {
          let mut p = vec![false; max + 1];
          c.iter().for_each(|&l| p[l as usize] = true);
          p
        })
        .reduce(|| vec![false; max + 1], |a, b| a.iter().zip(&b).map(|(x, y)| *x | *y).collect());
      let ids: Vec<u32> = (1..=max as u32).filter(|&l| present[l as usize]).collect();
      let mut lut = vec![u32::MAX; max + 1];
      for (s, &l) in ids.iter().enumerate() {
        lut[l as usize] = s as u32;
      }
      (Slots::Dense(lut), ids)
    } else {
      let mut ids: Vec<u32> = labels.par_iter().copied().filter(|&l| l != 0).collect();
      ids.par_sort_unstable();
      ids.dedup();
      (Slots::Sparse(ids.clone()), ids)
    }
  }

  #[inline]
  fn of(&self, label: u32) -> usize {
    match self {
      Slots::Dense(lut) => lut[label as usize] as usize,
      Slots::Sparse(ids) => ids.binary_search(&label).unwrap_or(0),
    }
  }
}

/// Per-region sums of one pass (exact integers), bbox, intensity extremes and perimeter classes.
#[derive(Clone, Copy)]
struct Acc {
  n: u64,
  sy: u64,
  sx: u64,
  syy: u64,
  sxx: u64,
  sxy: u64,
  y0: u32,
  y1: u32,
  x0: u32,
  x1: u32,
  lo: f64,
  hi: f64,
  /// Border pixels of perimeter weight 1, √2, (1 + √2) / 2.
  p: [u32; 3],
}

impl Default for Acc {
  fn default() -> Acc {
    Acc { n: 0, sy: 0, sx: 0, syy: 0, sxx: 0, sxy: 0, y0: u32::MAX, y1: 0, x0: u32::MAX, x1: 0, lo: f64::INFINITY, hi: f64::NEG_INFINITY, p: [0; 3] }
  }
}

impl Acc {
  fn merge(&mut self, o: &Acc) {
    self.n += o.n;
    self.sy += o.sy;
    self.sx += o.sx;
    self.syy += o.syy;
    self.sxx += o.sxx;
    self.sxy += o.sxy;
    self.y0 = self.y0.min(o.y0);
    self.y1 = self.y1.max(o.y1);
    self.x0 = self.x0.min(o.x0);
    self.x1 = self.x1.max(o.x1);
    // NaN in either (numpy's min/max propagate it) makes both NaN; an empty side is (inf, -inf).
    (self.lo, self.hi) = if self.lo.is_nan() || o.lo.is_nan() { (f64::NAN, f64::NAN) } else { (self.lo.min(o.lo), self.hi.max(o.hi)) };
    for k in 0..3 {
      self.p[k] += o.p[k];
    }
  }
}

/// The weight class (0: 1, 1: √2, 2: (1 + √2) / 2, 3: none) of a border pixel with `n4` edge and
/// `nd` corner neighbours on the border (skimage's code `1 + 2·n4 + 10·nd` and its weight table).
const PERIM_CLASS: [[u8; 5]; 5] = {
  let mut t = [[3u8; 5]; 5];
  let mut n4 = 0;
  while n4 < 5 {
    let mut nd = 0;
    while nd < 5 {
      t[n4][nd] = match 1 + 2 * n4 + 10 * nd {
        5 | 7 | 15 | 17 | 25 | 27 => 0,
        21 | 33 => 1,
        13 | 23 => 2,
        _ => 3,
      };
      nd += 1;
    }
    n4 += 1;
  }
  t
};

/// A run of one label within a row: (slot, y, first x, last x).
type Run = (u32, u32, u32, u32);

/// The regions of one `[h, w]` plane (labels as u32, 0 = background).
pub fn regionprops_plane<T: Intensity>(labels: &[u32], inten: &[T], h: usize, w: usize) -> RegionTable {
  if labels.is_empty() {
    return RegionTable::default();
  }
  let (slots, ids) = Slots::new(labels);
  let n = ids.len();
  if n == 0 {
    return RegionTable::default();
  }
  // Border pixels of their own label's mask (4-connectivity erosion with a zero border).
  let border: Vec<bool> = (0..h * w)
    .into_par_iter()
    .with_min_len(4096)
    .map(|p| {
      let l = labels[p];
      if l == 0 {
        return false;
      }
      let (y, x) = (p / w, p % w);
      y == 0 || y == h - 1 || x == 0 || x == w - 1 || labels[p - w] != l || labels[p + w] != l || labels[p - 1] != l || labels[p + 1] != l
    })
    .collect();
  let threads = rayon::current_num_threads().max(1);
  let rows = h.div_ceil(threads * 2).max(1);
  let parts: Vec<(Vec<Acc>, Vec<Run>)> = (0..h.div_ceil(rows))
    .into_par_iter()
    .map(|b| {
      let mut acc = vec![Acc::default(); n];
      let mut runs: Vec<Run> = Vec::new();
      for y in b * rows..((b + 1) * rows).min(h) {
        let row = &labels[y * w..(y + 1) * w];
        let irow = &inten[y * w..(y + 1) * w];
        let mut x = 0;
        while x < w {
          let l = row[x];
          let mut e = x + 1;
          while e < w && row[e] == l {
            e += 1;
          }
          if l != 0 {
            let s = slots.of(l);
            let a = &mut acc[s];
            let (yy, cnt) = (y as u64, (e - x) as u64);
            // Σx and Σx² over [x, e) in closed form.
            let sx = (x as u64 + e as u64 - 1) * cnt / 2;
            let sxx = sum_sq(e as u64) - sum_sq(x as u64);
            a.n += cnt;
            a.sy += yy * cnt;
            a.syy += yy * yy * cnt;
            a.sx += sx;
            a.sxx += sxx;
            a.sxy += yy * sx;
            a.y0 = a.y0.min(y as u32);
            a.y1 = a.y1.max(y as u32);
            a.x0 = a.x0.min(x as u32);
            a.x1 = a.x1.max(e as u32 - 1);
            for (xx, v) in (x..e).zip(&irow[x..e]) {
              (a.lo, a.hi) = nan_min_max(a.lo, a.hi, v.to_f64());
              if border[y * w + xx] {
                let p = y * w + xx;
                let on = |q: usize| labels[q] == l && border[q];
                let (up, down, left, right) = (y > 0, y + 1 < h, xx > 0, xx + 1 < w);
                let n4 = (up && on(p - w)) as usize + (down && on(p + w)) as usize + (left && on(p - 1)) as usize + (right && on(p + 1)) as usize;
                let nd = (up && left && on(p - w - 1)) as usize
                  + (up && right && on(p - w + 1)) as usize
                  + (down && left && on(p + w - 1)) as usize
                  + (down && right && on(p + w + 1)) as usize;
                let k = PERIM_CLASS[n4][nd];
                if k < 3 {
                  a.p[k as usize] += 1;
                }
              }
            }
            runs.push((s as u32, y as u32, x as u32, e as u32 - 1));
          }
          x = e;
        }
      }
      (acc, runs)
    })
    .collect();
  let mut acc = vec![Acc::default(); n];
  let mut run_count = vec![0usize; n + 1];
  for (a, runs) in &parts {
    for (t, o) in acc.iter_mut().zip(a) {
      t.merge(o);
    }
    for r in runs {
      run_count[r.0 as usize + 1] += 1;
    }
  }
  // Runs grouped by region, each group in raster order (counting sort).
  for s in 0..n {
    run_count[s + 1] += run_count[s];
  }
  let mut next = run_count.clone();
  let mut runs: Vec<Run> = vec![(0, 0, 0, 0); run_count[n]];
  for (_, rs) in &parts {
    for &r in rs {
      let s = r.0 as usize;
      runs[next[s]] = r;
      next[s] += 1;
    }
  }
  drop(parts);
  // Intensities grouped by region in raster order, for numpy's pairwise mean and std.
  let mut vstart = vec![0usize; n + 1];
  for s in 0..n {
    vstart[s + 1] = vstart[s] + acc[s].n as usize;
  }
  let mut values: Vec<T> = Vec::with_capacity(vstart[n]);
  #[allow(clippy::uninit_vec)]
  {
    values.resize(vstart[n], inten[0]);
  }
  let mut next = vstart.clone();
  for &(s, y, x0, x1) in &runs {
    let s = s as usize;
    let r = &inten[y as usize * w + x0 as usize..=y as usize * w + x1 as usize];
    values[next[s]..next[s] + r.len()].copy_from_slice(r);
    next[s] += r.len();
  }
  // `runs` is in region order, and within a region in raster order, so `values` is too.
  let rows: Vec<Row> = (0..n)
    .into_par_iter()
    .map(|s| {
      let a = &acc[s];
      let (mean, std) = T::mean_std(&values[vstart[s]..vstart[s + 1]]);
      row(ids[s], a, mean, std, &runs[run_count[s]..run_count[s + 1]])
    })
    .collect();
  let mut t = RegionTable::default();
  for r in rows {
    t.label.push(r.label);
    t.area.push(r.area);
    t.centroid_y.push(r.cy);
    t.centroid_x.push(r.cx);
    t.bbox_min_y.push(r.bbox[0]);
    t.bbox_min_x.push(r.bbox[1]);
    t.bbox_max_y.push(r.bbox[2]);
    t.bbox_max_x.push(r.bbox[3]);
    t.intensity_mean.push(r.mean);
    t.intensity_min.push(r.min);
    t.intensity_max.push(r.max);
    t.intensity_std.push(r.std);
    t.equivalent_diameter.push(r.eqd);
    t.eccentricity.push(r.ecc);
    t.orientation.push(r.orient);
    t.major_axis_length.push(r.major);
    t.minor_axis_length.push(r.minor);
    t.perimeter.push(r.perimeter);
    t.solidity.push(r.solidity);
  }
  t
}

/// Σ_{i < n} i².
#[inline]
fn sum_sq(n: u64) -> u64 {
  if n == 0 {
    0
  } else {
    (n - 1) * n * (2 * n - 1) / 6
  }
}

struct Row {
  label: u32,
  area: f64,
  cy: f64,
  cx: f64,
  bbox: [usize; 4],
  mean: f64,
  min: f64,
  max: f64,
  std: f64,
  eqd: f64,
  ecc: f64,
  orient: f64,
  major: f64,
  minor: f64,
  perimeter: f64,
  solidity: f64,
}

fn row(label: u32, a: &Acc, mean: f64, std: f64, runs: &[Run]) -> Row {
  let n = a.n as i128;
  let nf = a.n as f64;
  // n² · central second moments / n: exact integers (i128: n·Σy² reaches 2^80 on big planes).
  let var_y = n * a.syy as i128 - (a.sy as i128) * (a.sy as i128);
  let var_x = n * a.sxx as i128 - (a.sx as i128) * (a.sx as i128);
  let cov = n * a.sxy as i128 - (a.sy as i128) * (a.sx as i128);
  let n2 = nf * nf;
  // skimage's inertia tensor [[a, b], [b, c]]: a = mu02/mu0 (x), c = mu20/mu0 (y), b = -mu11/mu0.
  let ta = var_x as f64 / n2;
  let tc = var_y as f64 / n2;
  let tb = -(cov as f64 / n2);
  let det = match (var_x.checked_mul(var_y), cov.checked_mul(cov)) {
    (Some(p), Some(q)) => (p - q) as f64 / n2 / n2,
    _ => ta * tc - tb * tb,
  };
  let half = (ta - tc) / 2.0;
  let l1 = (ta + tc) / 2.0 + (half * half + tb * tb).sqrt();
  let l2 = if l1 > 0.0 { (det / l1).max(0.0) } else { 0.0 };
  let l1 = l1.max(0.0);
  let orient = if var_x == var_y {
    if tb < 0.0 {
      std::f64::consts::FRAC_PI_4
    } else {
      -std::f64::consts::FRAC_PI_4
    }
  } else {
    // 0.5·atan2(-2b, c - a), both scaled by n² > 0 (a zero covariance gives +0.0 as skimage's -2·(-0.0)).
    0.5 * (2.0 * cov as f64).atan2((var_y - var_x) as f64)
  };
  let sqrt2 = std::f64::consts::SQRT_2;
  let perimeter = a.p[0] as f64 + a.p[1] as f64 * sqrt2 + a.p[2] as f64 * ((1.0 + sqrt2) / 2.0);
  Row {
    label,
    area: nf,
    cy: a.sy as f64 / nf,
    cx: a.sx as f64 / nf,
    bbox: [a.y0 as usize, a.x0 as usize, a.y1 as usize + 1, a.x1 as usize + 1],
    mean,
    min: a.lo,
    max: a.hi,
    std,
    eqd: (2.0 * 2.0 * nf / std::f64::consts::PI).powf(0.5),
    ecc: if l1 == 0.0 { 0.0 } else { (1.0 - l2 / l1).sqrt() },
    orient,
    major: 4.0 * l1.sqrt(),
    minor: 4.0 * l2.sqrt(),
    perimeter,
    solidity: nf / convex_area(runs) as f64,
  }
}

/// The pixel count of `skimage.morphology.convex_hull_image` of a region given by its runs (raster
/// order): the convex hull of the pixels' edge midpoints `(y ± ½, x)`, `(y, x ± ½)`, and the pixel
/// centres inside or on it (`grid_points_in_poly(...) >= 1`). In doubled coordinates every point
/// is an integer, so the hull and the count are exact (scikit-image's tests on these half-integer
/// points are exact too). Only each row's extreme pixels can matter.
fn convex_area(runs: &[Run]) -> u64 {
  // (Y, X) doubled; each row's first and last pixel's four midpoints.
  let mut pts: Vec<(i64, i64)> = Vec::with_capacity(runs.len() * 6);
  let mut i = 0;
  while i < runs.len() {
    let y = runs[i].1;
    let xl = runs[i].2 as i64;
    let mut xr = runs[i].3 as i64;
    while i + 1 < runs.len() && runs[i + 1].1 == y {
      i += 1;
      xr = runs[i].3 as i64;
    }
    let yy = 2 * y as i64;
    pts.extend_from_slice(&[(yy - 1, 2 * xl), (yy - 1, 2 * xr), (yy, 2 * xl - 1), (yy, 2 * xr + 1), (yy + 1, 2 * xl), (yy + 1, 2 * xr)]);
    i += 1;
  }
  pts.sort_unstable();
  pts.dedup();
  let hull = monotone_chain(&pts);
  let ymin = (pts[0].0 + 1) / 2;
  let ymax = (pts[pts.len() - 1].0 - 1) / 2;
  let rows = (ymax - ymin + 1) as usize;
  let mut lo = vec![i64::MAX; rows];
  let mut hi = vec![i64::MIN; rows];
  let k = hull.len();
  for e in 0..k {
    let (p, q) = (hull[e], hull[(e + 1) % k]);
    let (p, q) = if p.0 <= q.0 { (p, q) } else { (q, p) };
    let dy = q.0 - p.0;
    // Rows r with p.Y <= 2r <= q.Y.
    let r0 = p.0.div_euclid(2) + (p.0.rem_euclid(2) != 0) as i64;
    let r1 = q.0.div_euclid(2);
    for r in r0.max(ymin)..=r1.min(ymax) {
      let (c0, c1) = if dy == 0 {
        let (a, b) = (p.1.min(q.1), p.1.max(q.1));
        (ceil_div(a, 2), b.div_euclid(2))
      } else {
        // X = p.X + (q.X - p.X)(2r - p.Y) / dy; pixel columns c with 2c = X bound: X / 2.
        let num = p.1 * dy + (q.1 - p.1) * (2 * r - p.0);
        (ceil_div(num, 2 * dy), num.div_euclid(2 * dy))
      };
      let j = (r - ymin) as usize;
      lo[j] = lo[j].min(c0);
      hi[j] = hi[j].max(c1);
    }
  }
  lo.iter().zip(&hi).map(|(&a, &b)| if b >= a { (b - a + 1) as u64 } else { 0 }).sum()
}

#[inline]
fn ceil_div(a: i64, b: i64) -> i64 {
  -((-a).div_euclid(b))
}

/// Andrew's monotone chain on sorted, distinct points: the hull's vertices in order (collinear
/// points dropped).
fn monotone_chain(pts: &[(i64, i64)]) -> Vec<(i64, i64)> {
  if pts.len() < 3 {
    return pts.to_vec();
  }
  let cross = |o: (i64, i64), a: (i64, i64), b: (i64, i64)| (a.0 - o.0) * (b.1 - o.1) - (a.1 - o.1) * (b.0 - o.0);
  let mut h: Vec<(i64, i64)> = Vec::with_capacity(2 * pts.len());
  for &p in pts {
    while h.len() >= 2 && cross(h[h.len() - 2], h[h.len() - 1], p) <= 0 {
      h.pop();
    }
    h.push(p);
  }
  let lower = h.len() + 1;
  for &p in pts.iter().rev().skip(1) {
    while h.len() >= lower && cross(h[h.len() - 2], h[h.len() - 1], p) <= 0 {
      h.pop();
    }
    h.push(p);
  }
  h.pop();
  h
}

/// An intensity dtype with numpy's `mean` and `std` of a 1-D array of it (as regionprops takes
/// them): integers in float64 (their sums are exact), float32 in float32, float64 in float64.
pub trait Intensity: Element {
  fn mean_std(v: &[Self]) -> (f64, f64);
}

macro_rules! int_intensity {
  ($($t:ty),*) => {$(
    impl Intensity for $t {
      fn mean_std(v: &[$t]) -> (f64, f64) {
        // np.mean / np.std with dtype f8: the integer sum is exact in f64 in any order.
        let n = v.len() as f64;
        let mean = v.iter().map(|&x| x as i64).sum::<i64>() as f64 / n;
        let var = pairwise(v, &|x: $t| { let d = x as f64 - mean; d * d }) / n;
        (mean, var.sqrt())
      }
    }
  )*};
}
int_intensity!(u8, u16, i16, i32, u32);

impl Intensity for f64 {
  fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = pairwise(v, &|x: f64| x) / n;
    let var = pairwise(v, &|x: f64| (x - mean) * (x - mean)) / n;
    (mean, var.sqrt())
  }
}

impl Intensity for f32 {
  fn mean_std(v: &[f32]) -> (f64, f64) {
    // numpy keeps float32 throughout (accumulators, the mean, the squares, the division).
    let n = v.len() as f32;
    let mean = pairwise(v, &|x: f32| x) / n;
    let var = pairwise(v, &|x: f32| (x - mean) * (x - mean)) / n;
    (mean as f64, var.sqrt() as f64)
  }
}

/// Float accumulator of numpy's pairwise summation.
trait Accum: Copy + std::ops::Add<Output = Self> + std::ops::AddAssign + Send + Sync {
  const ZERO: Self;
}
impl Accum for f32 {
  const ZERO: f32 = 0.0;
}
impl Accum for f64 {
  const ZERO: f64 = 0.0;
}

/// `0 + pairwise_sum(f(v))` exactly as numpy's `@TYPE@_pairwise_sum` (blocks of 128 with eight
/// accumulators, splits at n/2 rounded down to a multiple of 8), in the accumulator type `A`.
fn pairwise<T: Copy + Sync, A: Accum, F: Fn(T) -> A + Sync>(v: &[T], f: &F) -> A {
  A::ZERO + pw(v, f)
}

fn pw<T: Copy + Sync, A: Accum, F: Fn(T) -> A + Sync>(a: &[T], f: &F) -> A {
  let n = a.len();
  if n < 8 {
    let mut res = A::ZERO;
    for &v in a {
      res += f(v);
    }
    res
  } else if n <= 128 {
    let mut r = [A::ZERO; 8];
    for (acc, &v) in r.iter_mut().zip(&a[..8]) {
      *acc = f(v);
    }
    let body = n - n % 8;
    for c in a[8..body].chunks_exact(8) {
      for (acc, &v) in r.iter_mut().zip(c) {
        *acc += f(v);
      }
    }
    let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for &v in &a[body..] {
      res += f(v);
    }
    res
  } else {
    let mut n2 = n / 2;
    n2 -= n2 % 8;
    let (lo, hi) = a.split_at(n2);
    if n >= 1 << 16 {
      let (x, y) = rayon::join(|| pw(lo, f), || pw(hi, f));
      x + y
    } else {
      pw(lo, f) + pw(hi, f)
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::dispatch::run_named;
  use stackbridge_core::{Cancel, ErrorCode, HostArray, MemoryType};

  fn stack<T: Element>(shape: [usize; 3], v: &[T]) -> HostArray {
    let a = HostArray::alloc(shape.to_vec(), T::DTYPE, MemoryType::Numpy, false).unwrap();
    a.pin().unwrap().as_mut_slice::<T>().copy_from_slice(v);
    a
  }

  fn err(name: &str, a: &HostArray, opts: &str, aux: &[Option<HostArray>]) -> ErrorCode {
    run_named(name, a, opts, aux, &Cancel::none()).err().expect("an error").code
  }

  #[test]
  fn option_and_input_errors() {
    let a = stack([1, 2, 3], &[0i32, 1, 1, 0, 2, 2]);
    let f = stack([1, 2, 3], &[0f32; 6]);
    let small = stack([1, 1, 3], &[0f32; 3]);
    assert_eq!(err("regionprops", &a, "{}", &[]), ErrorCode::InvalidArgument);
    assert_eq!(err("regionprops", &a, "{}", &[Some(small)]), ErrorCode::Dimension);
    assert_eq!(err("regionprops", &f, "{}", &[Some(f.clone())]), ErrorCode::Dtype);
    assert_eq!(err("regionprops", &a, r#"{"x": 1}"#, &[Some(f.clone())]), ErrorCode::InvalidArgument);
    let neg = stack([1, 2, 3], &[0i32, -1, 1, 0, 2, 2]);
    assert_eq!(err("regionprops", &neg, "{}", &[Some(f.clone())]), ErrorCode::InvalidArgument);
    for o in [r#"{"minDistance": -1}"#, r#"{"minDistance": 1.5}"#, r#"{"excludeBorder": "yes"}"#, r#"{"excludeBorder": -2}"#, r#"{"numPeaks": 0.5}"#, r#"{"thresholdAbs": "a"}"#, r#"{"radius": 1}"#] {
      assert_eq!(err("peakLocalMax", &f, o, &[]), ErrorCode::InvalidArgument, "{o}");
    }
    assert_eq!(err("distanceTransform", &f, r#"{"a": 1}"#, &[]), ErrorCode::InvalidArgument);
    assert_eq!(err("distanceTransform", &f, "{}", &[Some(f.clone())]), ErrorCode::InvalidArgument);
  }

  #[test]
  fn empty_and_tiny_stacks() {
    let e = stack::<u16>([0, 4, 5], &[]);
    let r = run_named("peakLocalMax", &e, "{}", &[], &Cancel::none()).unwrap();
    assert_eq!(r.special.as_deref(), Some("[]"));
    let r = run_named("distanceTransform", &e, "{}", &[], &Cancel::none()).unwrap();
    assert_eq!(r.array.unwrap().shape, vec![0, 4, 5]);
    let l = stack::<i32>([0, 4, 5], &[]);
    let r = run_named("regionprops", &l, "{}", &[Some(e.clone())], &Cancel::none()).unwrap();
    assert_eq!(r.special.as_deref(), Some("[]"));
    let z = stack::<u8>([2, 0, 3], &[]);
    let r = run_named("regionprops", &z, "{}", &[Some(z.clone())], &Cancel::none()).unwrap();
    assert!(r.special.unwrap().starts_with("[{\"label\":[]"));
    let one = stack([1, 1, 1], &[3u8]);
    let r = run_named("regionprops", &one, "{}", &[Some(one.clone())], &Cancel::none()).unwrap();
    let v: serde_json::Value = serde_json::from_str(&r.special.unwrap()).unwrap();
    assert_eq!(v[0]["label"], serde_json::json!([3]));
    assert_eq!(v[0]["solidity"], serde_json::json!([1.0]));
    assert_eq!(v[0]["perimeter"], serde_json::json!([0.0]));
    assert_eq!(v[0]["orientation"][0].as_f64().unwrap(), -std::f64::consts::FRAC_PI_4);
  }

  #[test]
  fn convex_hull_counts() {
    // An L of three pixels: the hull of the midpoints passes (0.75, 0.75), so the fourth pixel
    // centre is outside (skimage: convex_hull_image(...).sum() == 3).
    let runs: Vec<Run> = vec![(0, 0, 0, 1), (0, 1, 0, 0)];
    assert_eq!(convex_area(&runs), 3);
    // A single pixel, a row, a column.
    assert_eq!(convex_area(&[(0, 5, 3, 3)]), 1);
    assert_eq!(convex_area(&[(0, 5, 3, 9)]), 7);
    assert_eq!(convex_area(&[(0, 1, 2, 2), (0, 2, 2, 2), (0, 3, 2, 2)]), 3);
    // Two diagonal pixels: the hull of their diamonds holds just them.
    assert_eq!(convex_area(&[(0, 0, 0, 0), (0, 1, 1, 1)]), 2);
  }

  #[test]
  fn pairwise_matches_numpy_layout() {
    // Integers sum exactly; check the split structure against a sequential sum on exact values.
    let v: Vec<f64> = (0..1000).map(|i| i as f64).collect();
    assert_eq!(pairwise(&v, &|x: f64| x), 499500.0);
    let (m, s) = <u16 as Intensity>::mean_std(&[1, 2, 3, 4]);
    assert_eq!(m, 2.5);
    assert_eq!(s, 1.25f64.sqrt());
  }

  #[test]
  fn max_filter_matches_definition() {
    let (h, w) = (9, 13);
    let img: Vec<f64> = (0..h * w).map(|i| ((i * 7919) % 31) as f64).collect();
    for r in [1, 2, 3, 4, 7, 20] {
      let m = max_filter(&img, h, w, r);
      for y in 0..h {
        for x in 0..w {
          let mut want = f64::NEG_INFINITY;
          for yy in y.saturating_sub(r)..=(y + r).min(h - 1) {
            for xx in x.saturating_sub(r)..=(x + r).min(w - 1) {
              want = want.max(img[yy * w + xx]);
            }
          }
          assert_eq!(m[y * w + x], want, "r {r} at {y},{x}");
        }
      }
    }
  }

  #[test]
  fn unsigned_zero_peaks_sort_first() {
    // thresholdAbs below 0 makes zero plateaus... a lone 0 surrounded by nothing higher is not a
    // peak, but uint wrap-around ordering: key(0) = 0 < key(5) = 251.
    assert!(0u8.neg_key() < 5u8.neg_key());
    assert!(5u8.neg_key() < 3u8.neg_key());
    assert_eq!(i16::MIN.neg_key(), i16::MIN as f64);
  }
}
