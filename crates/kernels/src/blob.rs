//! Scale-space blob detection: `skimage.feature.blob_log` and `skimage.feature.blob_dog` on a float
//! plane already scaled like `skimage.img_as_float` (2-D, scalar sigmas, `log_scale=False`,
//! `threshold_rel=None`, `exclude_border=False`).
//!
//! scikit-image builds the whole `(H, W, S)` scale-space cube, runs
//! `peak_local_max(cube, threshold_abs=threshold, footprint=ones((3, 3, 3)))` and prunes
//! overlapping blobs. Here the cube is never built: bands of rows run in parallel, each computing
//! its rows of the scale planes one after the other (separable f32 FMA passes, symmetric taps
//! paired) and keeping three neighbouring planes, and the 3×3×3 test (`value ==
//! maximum_filter(cube, mode='nearest')` and `value > threshold`) runs on the band while it is in
//! cache, only on 64-pixel chunks that have a value above the threshold. scikit-image computes in
//! f64 for the f64 images `img_as_float` gives integer inputs; results agree except where two cube
//! values tie or sit within f32 rounding of each other or of the threshold.

use crate::gaussian::{kernel1d, kernel_radius, log_rows, sep_rows_fast, BorderMode, LogKernel, Rows, Scratch};
use rayon::prelude::*;
use stackbridge_core::{SbError, SbResult};

/// One detected blob: integer pixel position and the sigma of the scale that detected it
/// (the radius is about `σ·√2`).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Blob {
  pub y: f64,
  pub x: f64,
  pub sigma: f64,
}

/// Parameters of `skimage.feature.blob_log` (defaults as OpenHCS's cell counting).
#[derive(Clone, Debug)]
pub struct BlobLogParams {
  pub min_sigma: f64,
  pub max_sigma: f64,
  pub num_sigma: usize,
  pub threshold: f64,
  pub overlap: f64,
}

impl Default for BlobLogParams {
  fn default() -> Self {
    BlobLogParams { min_sigma: 1.0, max_sigma: 10.0, num_sigma: 10, threshold: 0.1, overlap: 0.5 }
  }
}

/// Parameters of `skimage.feature.blob_dog` (defaults as OpenHCS's cell counting).
#[derive(Clone, Debug)]
pub struct BlobDogParams {
  pub min_sigma: f64,
  pub max_sigma: f64,
  pub sigma_ratio: f64,
  pub threshold: f64,
  pub overlap: f64,
}

impl Default for BlobDogParams {
  fn default() -> Self {
    BlobDogParams { min_sigma: 1.0, max_sigma: 10.0, sigma_ratio: 1.6, threshold: 0.1, overlap: 0.5 }
  }
}

/// The most scale planes one call may compute (the time is linear in it; memory is not).
pub const MAX_SCALES: usize = 100_000;

fn check_common(img: usize, h: usize, w: usize, min_sigma: f64, max_sigma: f64, threshold: f64, overlap: f64) -> SbResult<()> {
  if h.checked_mul(w) != Some(img) {
    return Err(SbError::invalid(format!("image has {img} elements, expected {h}x{w}")));
  }
  if !min_sigma.is_finite() || min_sigma <= 0.0 {
    return Err(SbError::invalid(format!("min_sigma must be a finite number > 0, got {min_sigma}")).with("min_sigma", min_sigma));
  }
  if !max_sigma.is_finite() || max_sigma < min_sigma {
    return Err(
      SbError::invalid(format!("max_sigma must be a finite number >= min_sigma ({min_sigma}), got {max_sigma}")).with("max_sigma", max_sigma),
    );
  }
  kernel_radius(max_sigma, 4.0)?;
  if !threshold.is_finite() {
    return Err(SbError::invalid(format!("threshold must be finite, got {threshold}")).with("threshold", threshold));
  }
  if !(0.0..=1.0).contains(&overlap) {
    return Err(SbError::invalid(format!("overlap must be in [0, 1], got {overlap}")).with("overlap", overlap));
  }
  Ok(())
}

/// `np.linspace(start, stop, num)` as numpy computes it (`i * step + start`, last = stop).
fn linspace(start: f64, stop: f64, num: usize) -> Vec<f64> {
  if num == 1 {
    return vec![start];
  }
  let step = (stop - start) / (num - 1) as f64;
  let mut v: Vec<f64> = (0..num).map(|i| i as f64 * step + start).collect();
  v[num - 1] = stop;
  v
}

/// `skimage.feature.blob_log(img, min_sigma, max_sigma, num_sigma, threshold, overlap)`:
/// `sigma_list = linspace(min, max, num)`, cube plane `i` = `-gaussian_laplace(img, σᵢ) · σᵢ²`
/// (mode 'reflect', truncate 4), peaks = pixels equal to the 3×3×3 maximum filter of the cube
/// (mode 'nearest') and above `threshold` (none at all if every cube value equals its max filter),
/// ordered by value descending (stable over raster order of `(y, x, scale)`), then `_prune_blobs`.
///
/// Errors (`InvalidArgumentError`): `img.len() != h * w`, `min_sigma <= 0`, `max_sigma <
/// min_sigma`, `num_sigma` 0 or above [`MAX_SCALES`], a non-finite parameter, `overlap` outside
/// `[0, 1]`, a `max_sigma` whose kernel exceeds `gaussian::MAX_RADIUS`.
pub fn blob_log(img: &[f32], h: usize, w: usize, p: &BlobLogParams) -> SbResult<Vec<Blob>> {
  let sigmas = blob_log_sigmas(img.len(), h, w, p)?;
  if img.is_empty() {
    return Ok(Vec::new());
  }
  // The kernels are built where they are used (per band: a few exp per tap, nothing next to the
  // filtering), so a long sigma list never holds all of them at once.
  let rmax = kernel_radius(p.max_sigma, 4.0)?;
  struct Band {
    rows: Rows<f32>,
    scratch: Scratch<f32>,
    e0: usize,
  }
  let peaks = scale_space_peaks(
    h,
    w,
    sigmas.len(),
    p.threshold,
    |e0, e1| {
      let mut rows = Rows::new(w);
      rows.load(img, h, w, e0, e1, rmax);
      Band { rows, scratch: Scratch::new(), e0 }
    },
    // cube plane i = -σᵢ² · gaussian_laplace(img, σᵢ): the scale goes into the kernels.
    |b, i, out| match LogKernel::new(sigmas[i], -(sigmas[i] * sigmas[i])) {
      Some(k) => log_rows(&mut b.scratch, &b.rows, h, w, b.e0, &k, out),
      // scipy skips axes with sigma <= 1e-15: the Laplacian is then 2·img.
      None => {
        let s2 = sigmas[i] * sigmas[i];
        out.iter_mut().zip(&img[b.e0 * w..]).for_each(|(o, &v)| *o = (-2.0 * s2 * v as f64) as f32);
      }
    },
  );
  Ok(finish(peaks, &sigmas, p.overlap))
}

/// [`blob_log`]'s validation (an image of `len` elements, `h × w`) and its sigma list
/// (`linspace(min, max, num)`; cube plane `i` is `-σᵢ² · gaussian_laplace(img, σᵢ)`).
pub fn blob_log_sigmas(len: usize, h: usize, w: usize, p: &BlobLogParams) -> SbResult<Vec<f64>> {
  check_common(len, h, w, p.min_sigma, p.max_sigma, p.threshold, p.overlap)?;
  if p.num_sigma == 0 || p.num_sigma > MAX_SCALES {
    return Err(SbError::invalid(format!("num_sigma must be in [1, {MAX_SCALES}], got {}", p.num_sigma)).with("num_sigma", p.num_sigma));
  }
  Ok(linspace(p.min_sigma, p.max_sigma, p.num_sigma))
}

/// `skimage.feature.blob_dog(img, min_sigma, max_sigma, sigma_ratio, threshold, overlap)`:
/// `k = int(log(max/min) / log(ratio) + 1)`, `sigma_list = min · ratio^i` for `i` in `0..=k`, cube
/// plane `i` = `(gaussian(img, σᵢ) − gaussian(img, σᵢ₊₁)) / (ratio − 1)` (mode 'reflect', truncate 4),
/// a peak on plane `i` reports `σᵢ`; peaks and pruning as [`blob_log`].
///
/// Errors as [`blob_log`], plus `sigma_ratio` must be finite and > 1, and `k + 1` at most
/// [`MAX_SCALES`].
pub fn blob_dog(img: &[f32], h: usize, w: usize, p: &BlobDogParams) -> SbResult<Vec<Blob>> {
  let sigmas = blob_dog_sigmas(img.len(), h, w, p)?;
  let k = sigmas.len() - 1;
  if img.is_empty() {
    return Ok(Vec::new());
  }
  let rmax = kernel_radius(sigmas[k], 4.0)?;
  let sf = (1.0 / (p.sigma_ratio - 1.0)) as f32;
  struct Band {
    rows: Rows<f32>,
    scratch: Scratch<f32>,
    e0: usize,
    /// G(σᵢ) on the band rows when plane i is requested, and room for G(σᵢ₊₁).
    prev: Vec<f32>,
    cur: Vec<f32>,
  }
  // gaussian(img, σ, mode='reflect') on the band rows; a sigma scipy skips copies.
  let blur = |b: &mut Band, i: usize, out: &mut [f32]| {
    if sigmas[i] > 1e-15 {
      let taps: Vec<f32> = kernel1d(sigmas[i], 0, 4.0).iter().map(|&v| v as f32).collect();
      sep_rows_fast(&mut b.scratch, &b.rows, h, w, b.e0, &taps, &taps, BorderMode::Reflect, out);
    } else {
      out.copy_from_slice(&img[b.e0 * w..b.e0 * w + out.len()]);
    }
  };
  let peaks = scale_space_peaks(
    h,
    w,
    k,
    p.threshold,
    |e0, e1| {
      let mut rows = Rows::new(w);
      rows.load(img, h, w, e0, e1, rmax);
      let n = (e1 - e0) * w;
      let mut b = Band { rows, scratch: Scratch::new(), e0, prev: vec![0.0; n], cur: vec![0.0; n] };
      let mut g0 = std::mem::take(&mut b.prev);
      blur(&mut b, 0, &mut g0);
      b.prev = g0;
      b
    },
    // Planes are requested in order 0, 1, …: plane i = (G(σᵢ) − G(σᵢ₊₁)) · sf.
    |b, i, out| {
      let mut next = std::mem::take(&mut b.cur);
      blur(b, i + 1, &mut next);
      for ((d, &a), &c) in out.iter_mut().zip(&b.prev).zip(&next) {
        *d = (a - c) * sf;
      }
      b.cur = std::mem::replace(&mut b.prev, next);
    },
  );
  Ok(finish(peaks, &sigmas, p.overlap))
}

/// [`blob_dog`]'s validation (an image of `len` elements, `h × w`) and its `k + 1` sigmas
/// `min · ratio^i` (cube plane `i < k` is `(G(σᵢ) − G(σᵢ₊₁)) / (ratio − 1)`).
pub fn blob_dog_sigmas(len: usize, h: usize, w: usize, p: &BlobDogParams) -> SbResult<Vec<f64>> {
  check_common(len, h, w, p.min_sigma, p.max_sigma, p.threshold, p.overlap)?;
  if !p.sigma_ratio.is_finite() || p.sigma_ratio <= 1.0 {
    return Err(SbError::invalid(format!("sigma_ratio must be a finite number > 1, got {}", p.sigma_ratio)).with("sigma_ratio", p.sigma_ratio));
  }
  let kf = (p.max_sigma / p.min_sigma).ln() / p.sigma_ratio.ln() + 1.0;
  // NaN cannot occur (finite, positive inputs), but a non-number would be rejected too.
  if kf.is_nan() || kf >= MAX_SCALES as f64 {
    return Err(SbError::invalid(format!("sigma_ratio {} is too close to 1: it needs more than {MAX_SCALES} scales", p.sigma_ratio)));
  }
  let k = kf as usize;
  Ok((0..=k).map(|i| p.min_sigma * p.sigma_ratio.powf(i as f64)).collect())
}

/// A candidate peak: cube value, pixel, scale index.
#[derive(Clone, Copy, Debug)]
pub struct Peak {
  pub v: f32,
  pub y: u32,
  pub x: u32,
  pub s: u32,
}

/// The peaks of a scale-space cube of `planes` planes, computed band by band: the rows are cut
/// into bands processed in parallel; a band keeps three consecutive planes of its rows plus one
/// row above and below (`init(e0, e1)` prepares the band for rows `[e0, e1)`, then
/// `fill(state, i, out)` writes plane `i` of those rows, called for `i = 0, 1, …` in order), so the
/// cube is never materialised and the 3×3×3 test reads data still in cache. A pixel of plane `i` is
/// a peak when it is above `threshold` and not below any of its 26 neighbours (planes `i-1..=i+1`,
/// rows and columns clamped as `mode='nearest'`). Returns the peaks in scikit-image's order; none
/// if every cube value is a peak (scikit-image's "trivial image", which for a 3×3×3 footprint
/// means a constant cube).
fn scale_space_peaks<S>(
  h: usize, w: usize, planes: usize, threshold: f64, init: impl Fn(usize, usize) -> S + Sync, fill: impl Fn(&mut S, usize, &mut [f32]) + Sync,
) -> Vec<Peak> {
  let band = h.div_ceil(4 * rayon::current_num_threads().max(1)).clamp(16, 64).min(h);
  let per_band: Vec<Vec<Peak>> = (0..h.div_ceil(band))
    .into_par_iter()
    .map(|bi| {
      let (y0, y1) = (bi * band, ((bi + 1) * band).min(h));
      let (e0, e1) = (y0.saturating_sub(1), (y1 + 1).min(h));
      let n = (e1 - e0) * w;
      let mut state = init(e0, e1);
      let (mut lower, mut cur, mut upper) = (vec![0f32; n], vec![0f32; n], vec![0f32; n]);
      fill(&mut state, 0, &mut cur);
      let mut peaks = Vec::new();
      let mut scratch = Vec::new();
      for i in 0..planes {
        let have_upper = i + 1 < planes;
        if have_upper {
          fill(&mut state, i + 1, &mut upper);
        }
        let lo: &[f32] = if i > 0 { &lower } else { &cur };
        let up: &[f32] = if have_upper { &upper } else { &cur };
        // Band-local rows: clamping to [e0, e1) is clamping to the plane, as the band rows'
        // neighbours are inside [e0, e1) unless they are off the plane.
        for y in y0..y1 {
          let found = plane_row_peaks(lo, &cur, up, e1 - e0, w, y - e0, i, threshold, &mut scratch);
          peaks.extend(found.into_iter().map(|p| Peak { y: p.y + e0 as u32, ..p }));
        }
        // Shift the window: lower <- cur <- upper.
        std::mem::swap(&mut lower, &mut cur);
        std::mem::swap(&mut cur, &mut upper);
      }
      peaks
    })
    .collect();
  order_peaks(per_band.into_iter().flatten().collect(), planes, h, w)
}

/// All the peaks of an `h × w` cube of `planes` planes (any order) in scikit-image's order: by
/// value descending, ties in `np.nonzero` order `(y, x, s)`; none if every cube value is a peak
/// (scikit-image's "trivial image").
pub fn order_peaks(mut peaks: Vec<Peak>, planes: usize, h: usize, w: usize) -> Vec<Peak> {
  if peaks.len() == planes * h * w {
    return Vec::new();
  }
  // np.nonzero order is (y, x, s); a stable sort by value descending keeps it among ties.
  peaks.sort_unstable_by(|a, b| b.v.total_cmp(&a.v).then((a.y, a.x, a.s).cmp(&(b.y, b.x, b.s))));
  peaks
}

/// The largest f32 at or below `threshold`: for an f32 `v`, `v > threshold_f32(t)` is exactly
/// `v as f64 > t` (a vectorisable superset test on the CPU, the exact test on a device).
pub fn threshold_f32(threshold: f64) -> f32 {
  let t = threshold as f32;
  if t as f64 > threshold {
    t.next_down()
  } else {
    t
  }
}

#[inline(always)]
fn mx(a: f32, b: f32) -> f32 {
  if a > b {
    a
  } else {
    b
  }
}

/// The peaks of row `y` of the middle plane `cur`: the 3×3×3 maximum (rows and columns clamped)
/// is built with vector max operations (9 rows, then 3 shifted columns) over the 64-pixel chunks
/// that have a value above the threshold at all; `scratch` holds two chunks.
#[allow(clippy::too_many_arguments)]
fn plane_row_peaks(lo: &[f32], cur: &[f32], up: &[f32], h: usize, w: usize, y: usize, s: usize, threshold: f64, scratch: &mut Vec<f32>) -> Vec<Peak> {
  let t32 = threshold_f32(threshold);
  let row = &cur[y * w..(y + 1) * w];
  let rows = [y.saturating_sub(1), y, (y + 1).min(h - 1)];
  const C: usize = 64;
  scratch.resize(2 * (C + 2), 0.0);
  let (colmax, hmax) = scratch.split_at_mut(C + 2);
  let mut out = Vec::new();
  for (ci, vals) in row.chunks(C).enumerate() {
    // Most chunks have nothing above the threshold: an OR of comparisons (vectorised; NaN is false).
    if !vals.iter().fold(false, |any, &v| any | (v > t32)) {
      continue;
    }
    // Columns [c0, c1) cover the chunk and its clamped neighbours.
    let x0 = ci * C;
    let n = vals.len();
    let c0 = x0.saturating_sub(1);
    let c1 = (x0 + n + 1).min(w);
    let cm = &mut colmax[..c1 - c0];
    cm.copy_from_slice(&row[c0..c1]);
    for plane in [lo, cur, up] {
      for &yy in &rows {
        for (c, &v) in cm.iter_mut().zip(&plane[yy * w + c0..yy * w + c1]) {
          *c = mx(*c, v);
        }
      }
    }
    // hmax[i] = max of columns x0+i-1 ..= x0+i+1, clamped to the plane.
    for (i, m) in hmax[..n].iter_mut().enumerate() {
      let x = x0 + i;
      let (a, b) = (x.saturating_sub(1) - c0, (x + 1).min(w - 1) - c0);
      *m = mx(mx(cm[a], cm[x - c0]), cm[b]);
    }
    // Bit i: above the threshold and equal to the neighbourhood maximum.
    let mut bits = 0u64;
    for (i, (&v, &m)) in vals.iter().zip(&hmax[..n]).enumerate() {
      bits |= (((v > t32) & (v >= m)) as u64) << i;
    }
    while bits != 0 {
      let i = bits.trailing_zeros() as usize;
      bits &= bits - 1;
      let v = vals[i];
      if v as f64 > threshold {
        out.push(Peak { v, y: y as u32, x: (x0 + i) as u32, s: s as u32 });
      }
    }
  }
  out
}

/// The blobs of ordered peaks (`sigmas[s]` each), pruned as scikit-image's `_prune_blobs`.
pub fn finish(peaks: Vec<Peak>, sigmas: &[f64], overlap: f64) -> Vec<Blob> {
  let mut blobs: Vec<Blob> = peaks.iter().map(|p| Blob { y: p.y as f64, x: p.x as f64, sigma: sigmas[p.s as usize] }).collect();
  if blobs.is_empty() {
    return blobs;
  }
  prune_blobs(&mut blobs, overlap);
  blobs.retain(|b| b.sigma > 0.0);
  blobs
}

/// `skimage.feature.blob._prune_blobs` (2-D, one sigma): for every pair closer than
/// `2·√2·max σ`, in `(i, j)` lexicographic order, if `_blob_overlap > overlap` the blob with the
/// smaller sigma gets sigma 0 (on equal sigmas, the first of the pair). A zeroed blob can no longer
/// remove another (scikit-image's arithmetic makes it inert as well).
///
/// scikit-image iterates `cKDTree.query_pairs`' Python set, whose order is hash order; the result
/// differs from the lexicographic one only for chains (A removes B, B would have removed C).
fn prune_blobs(blobs: &mut [Blob], overlap: f64) {
  let max_sigma = blobs.iter().map(|b| b.sigma).fold(0.0f64, f64::max);
  let dist = 2.0 * max_sigma * std::f64::consts::SQRT_2;
  // Any superset of the pairs whose overlap can be > 0 gives the same result: bucket into cells of
  // side `dist` and test the 3×3 neighbouring cells.
  let cell = dist.max(1.0);
  let key = |b: &Blob| ((b.y / cell).floor() as i64, (b.x / cell).floor() as i64);
  let mut grid: std::collections::HashMap<(i64, i64), Vec<usize>> = std::collections::HashMap::new();
  for (i, b) in blobs.iter().enumerate() {
    grid.entry(key(b)).or_default().push(i);
  }
  let lim = dist * dist * (1.0 + 1e-9) + 1e-9;
  let mut pairs: Vec<(usize, usize)> = Vec::new();
  for (i, b) in blobs.iter().enumerate() {
    let (cy, cx) = key(b);
    for dy in -1..=1 {
      for dx in -1..=1 {
        if let Some(list) = grid.get(&(cy + dy, cx + dx)) {
          for &j in list {
            if j > i {
              let o = &blobs[j];
              if (o.y - b.y).powi(2) + (o.x - b.x).powi(2) <= lim {
                pairs.push((i, j));
              }
            }
          }
        }
      }
    }
  }
  pairs.sort_unstable();
  for (i, j) in pairs {
    let (b1, b2) = (blobs[i], blobs[j]);
    if b1.sigma == 0.0 || b2.sigma == 0.0 {
      continue;
    }
    if blob_overlap(&b1, &b2) > overlap {
      if b1.sigma > b2.sigma {
        blobs[j].sigma = 0.0;
      } else {
        blobs[i].sigma = 0.0;
      }
    }
  }
}

/// `skimage.feature.blob._blob_overlap` for 2-D blobs with one sigma: the fraction of the smaller
/// disk covered, after scaling space by `max σ · √2` (so the larger disk has radius 1).
fn blob_overlap(b1: &Blob, b2: &Blob) -> f64 {
  let root_ndim = 2f64.sqrt();
  let (max_sigma, r1, r2) = if b1.sigma > b2.sigma { (b1.sigma, 1.0, b2.sigma / b1.sigma) } else { (b2.sigma, b1.sigma / b2.sigma, 1.0) };
  let scale = max_sigma * root_ndim;
  let (p1y, p1x, p2y, p2x) = (b1.y / scale, b1.x / scale, b2.y / scale, b2.x / scale);
  let d = ((p2y - p1y).powi(2) + (p2x - p1x).powi(2)).sqrt();
  if d > r1 + r2 {
    return 0.0;
  }
  if d <= (r1 - r2).abs() {
    return 1.0;
  }
  compute_disk_overlap(d, r1, r2)
}

/// `skimage.feature.blob._compute_disk_overlap`: the area of the lens of two disks over the area
/// of the smaller one.
fn compute_disk_overlap(d: f64, r1: f64, r2: f64) -> f64 {
  let ratio1 = ((d * d + r1 * r1 - r2 * r2) / (2.0 * d * r1)).clamp(-1.0, 1.0);
  let acos1 = ratio1.acos();
  let ratio2 = ((d * d + r2 * r2 - r1 * r1) / (2.0 * d * r2)).clamp(-1.0, 1.0);
  let acos2 = ratio2.acos();
  let a = -d + r2 + r1;
  let b = d - r2 + r1;
  let c = d + r2 - r1;
  let dd = d + r2 + r1;
  let area = r1 * r1 * acos1 + r2 * r2 * acos2 - 0.5 * (a * b * c * dd).abs().sqrt();
  area / (std::f64::consts::PI * r1.min(r2).powi(2))
}

#[cfg(test)]
mod tests {
  use super::*;
  use stackbridge_core::ErrorCode;

  /// Gaussian spots `(cy, cx, sigma, amplitude)` on a background, as f32.
  fn spots(h: usize, w: usize, list: &[(f64, f64, f64, f64)], bg: impl Fn(f64, f64) -> f64) -> Vec<f32> {
    let mut img = vec![0f32; h * w];
    for y in 0..h {
      for x in 0..w {
        let (yf, xf) = (y as f64, x as f64);
        let v: f64 = list.iter().map(|&(cy, cx, s, a)| a * (-((yf - cy).powi(2) + (xf - cx).powi(2)) / (2.0 * s * s)).exp()).sum();
        img[y * w + x] = (v + bg(yf, xf)) as f32;
      }
    }
    img
  }

  /// The image of the scikit-image literals below (24 x 26).
  fn tiny() -> Vec<f32> {
    spots(24, 26, &[(7.0, 8.0, 1.5, 1.0), (16.0, 17.0, 2.5, 0.7)], |y, x| 0.05 * (x * 0.7).sin() * (y * 0.3).cos())
  }

  fn triples(b: &[Blob]) -> Vec<(f64, f64, f64)> {
    b.iter().map(|b| (b.y, b.x, b.sigma)).collect()
  }

  fn assert_blobs(got: &[Blob], want: &[(f64, f64, f64)]) {
    assert_eq!(got.len(), want.len(), "{got:?}");
    for (g, w) in got.iter().zip(want) {
      assert_eq!((g.y, g.x), (w.0, w.1), "{got:?}");
      assert!((g.sigma - w.2).abs() < 1e-9, "{got:?}");
    }
  }

  #[test]
  fn tiny_matches_skimage() {
    let img = tiny();
    // skimage.feature.blob_log(img, min_sigma=1, max_sigma=4, num_sigma=4, threshold=0.05), img as
    // float64 (the f32 values widened), scikit-image 0.26
    let p = BlobLogParams { min_sigma: 1.0, max_sigma: 4.0, num_sigma: 4, threshold: 0.05, overlap: 0.5 };
    assert_blobs(&blob_log(&img, 24, 26, &p).unwrap(), &[(7.0, 8.0, 2.0), (16.0, 17.0, 3.0)]);
    // skimage.feature.blob_log(img, 1, 10, 10, 0.1, 0.5)
    assert_blobs(&blob_log(&img, 24, 26, &BlobLogParams::default()).unwrap(), &[(7.0, 8.0, 2.0), (16.0, 17.0, 3.0)]);
    // skimage.feature.blob_dog(img, 1, 10, 1.6, 0.1, 0.5)
    assert_blobs(&blob_dog(&img, 24, 26, &BlobDogParams::default()).unwrap(), &[(7.0, 8.0, 1.0), (16.0, 17.0, 1.6)]);
    // skimage.feature.blob_dog(img, 0.8, 5, 1.3, 0.02, 0.3): low threshold, border peaks, order
    let p = BlobDogParams { min_sigma: 0.8, max_sigma: 5.0, sigma_ratio: 1.3, threshold: 0.02, overlap: 0.3 };
    assert_blobs(
      &blob_dog(&img, 24, 26, &p).unwrap(),
      &[
        (7.0, 8.0, 1.3520000000000003),
        (16.0, 17.0, 2.2848800000000007),
        (0.0, 20.0, 1.7576),
        (0.0, 11.0, 1.3520000000000003),
        (21.0, 3.0, 1.3520000000000003),
        (0.0, 3.0, 1.3520000000000003),
        (9.0, 25.0, 1.7576),
      ],
    );
  }

  #[test]
  fn finds_separated_spots_exactly() {
    // Integer centres, sigmas on the LoG scale list: the scale-normalised LoG of a Gaussian blob
    // of std s peaks at sigma = s.
    let truth = [(30.0, 40.0, 2.0, 0.8), (90.0, 100.0, 4.0, 0.6), (100.0, 30.0, 3.0, 0.9), (40.0, 110.0, 5.0, 0.7)];
    let img = spots(128, 140, &truth, |_, _| 0.05);
    let found = blob_log(&img, 128, 140, &BlobLogParams::default()).unwrap();
    assert_eq!(found.len(), truth.len(), "{found:?}");
    for &(cy, cx, s, _) in &truth {
      let b = found.iter().find(|b| b.y == cy && b.x == cx).unwrap_or_else(|| panic!("no blob at ({cy}, {cx}): {found:?}"));
      assert_eq!(b.sigma, s);
    }
    // Ordered by cube value descending: the strongest normalised response first. All four have
    // comparable responses; just check it is a permutation and deterministic.
    assert_eq!(triples(&found), triples(&blob_log(&img, 128, 140, &BlobLogParams::default()).unwrap()));

    let found = blob_dog(&img, 128, 140, &BlobDogParams::default()).unwrap();
    assert_eq!(found.len(), truth.len(), "{found:?}");
    for &(cy, cx, s, _) in &truth {
      let b = found.iter().find(|b| b.y == cy && b.x == cx).unwrap_or_else(|| panic!("no DoG blob at ({cy}, {cx}): {found:?}"));
      // DoG detects at the lower sigma of the pair bracketing the blob: within a ratio step.
      assert!(b.sigma <= s && b.sigma * 1.6 * 1.6 > s, "sigma {} for {s}", b.sigma);
    }
  }

  #[test]
  fn constant_image_has_no_blobs() {
    for v in [0.0f32, 0.3, 1.0] {
      let img = vec![v; 40 * 50];
      assert!(blob_log(&img, 40, 50, &BlobLogParams::default()).unwrap().is_empty());
      assert!(blob_dog(&img, 40, 50, &BlobDogParams::default()).unwrap().is_empty());
      // Even with a threshold below every cube value: a cube equal to its max filter everywhere
      // has no peaks (scikit-image's "trivial image").
      let p = BlobLogParams { threshold: -1.0, num_sigma: 1, ..BlobLogParams::default() };
      assert!(blob_log(&img, 40, 50, &p).unwrap().is_empty());
    }
    assert!(blob_log(&[], 0, 0, &BlobLogParams::default()).unwrap().is_empty());
  }

  #[test]
  fn overlap_matches_skimage() {
    // skimage.feature.blob._blob_overlap(np.array([0., 0., 1.]), np.array([0., np.sqrt(2), 1.]))
    let a = Blob { y: 0.0, x: 0.0, sigma: 1.0 };
    let b = Blob { y: 0.0, x: 2f64.sqrt(), sigma: 1.0 };
    assert!((blob_overlap(&a, &b) - 0.39100221895577075).abs() < 1e-15);
    // skimage.feature.blob._blob_overlap(np.array([0., 0., 2.]), np.array([1., 2., 1.5]))
    let a = Blob { y: 0.0, x: 0.0, sigma: 2.0 };
    let b = Blob { y: 1.0, x: 2.0, sigma: 1.5 };
    assert!((blob_overlap(&a, &b) - 0.5900487715294458).abs() < 1e-15);
    // Hand values: concentric -> 1, far apart -> 0; the lens of two unit disks at distance 1
    // (after scaling by sigma·√2) covers (2π/3 − √3/2)/π of each.
    let c = Blob { y: 5.0, x: 5.0, sigma: 3.0 };
    assert_eq!(blob_overlap(&c, &Blob { sigma: 1.0, ..c }), 1.0);
    assert_eq!(blob_overlap(&c, &Blob { y: 50.0, ..c }), 0.0);
    let d = Blob { x: 5.0 + 3.0 * 2f64.sqrt(), ..c };
    let lens = (2.0 * std::f64::consts::PI / 3.0 - 3f64.sqrt() / 2.0) / std::f64::consts::PI;
    assert!((blob_overlap(&c, &d) - lens).abs() < 1e-12);
  }

  #[test]
  fn prune_rules() {
    // Equal sigmas: the first of the pair goes (scikit-image zeroes blob1).
    let mut v = vec![Blob { y: 0.0, x: 0.0, sigma: 2.0 }, Blob { y: 0.0, x: 1.0, sigma: 2.0 }];
    prune_blobs(&mut v, 0.5);
    assert_eq!((v[0].sigma, v[1].sigma), (0.0, 2.0));
    // The smaller sigma goes, whichever comes first.
    let mut v = vec![Blob { y: 0.0, x: 0.0, sigma: 1.0 }, Blob { y: 0.0, x: 1.0, sigma: 2.0 }];
    prune_blobs(&mut v, 0.5);
    assert_eq!((v[0].sigma, v[1].sigma), (0.0, 2.0));
    // Chains in (i, j) order: 0 removes 1, so 1 no longer removes 2.
    let mut v = vec![
      Blob { y: 0.0, x: 0.0, sigma: 4.0 },
      Blob { y: 0.0, x: 4.0, sigma: 3.0 },
      Blob { y: 0.0, x: 7.0, sigma: 2.0 },
    ];
    // overlaps (scikit-image's _blob_overlap): 0-1 0.660, 1-2 0.703, 0-2 0.179
    assert!(blob_overlap(&v[0], &v[1]) > 0.5 && blob_overlap(&v[1], &v[2]) > 0.5 && blob_overlap(&v[0], &v[2]) <= 0.5);
    prune_blobs(&mut v, 0.5);
    assert_eq!((v[0].sigma, v[1].sigma, v[2].sigma), (4.0, 0.0, 2.0));
    // overlap = 1 never prunes.
    let mut v = vec![Blob { y: 0.0, x: 0.0, sigma: 2.0 }, Blob { y: 0.0, x: 0.0, sigma: 2.0 }];
    prune_blobs(&mut v, 1.0);
    assert_eq!((v[0].sigma, v[1].sigma), (2.0, 2.0));
  }

  #[test]
  fn peak_test_matches_brute_force() {
    // Random cube planes: scale_space_peaks against a direct 3x3x3 scan with clamped neighbours.
    let (h, w, planes) = (45, 70, 4);
    let mut st = 5u64;
    let cube: Vec<Vec<f32>> = (0..planes)
      .map(|_| {
        (0..h * w)
          .map(|_| {
            st ^= st << 13;
            st ^= st >> 7;
            st ^= st << 17;
            (st % 50) as f32 / 50.0
          })
          .collect()
      })
      .collect();
    // Bands of every size: the planes are filled row-range by row-range.
    let got = scale_space_peaks(h, w, planes, 0.3, |e0, e1| (e0, e1), |&mut (e0, e1), i, p| p.copy_from_slice(&cube[i][e0 * w..e1 * w]));
    let mut want = Vec::new();
    for y in 0..h {
      for x in 0..w {
        for s in 0..planes {
          let v = cube[s][y * w + x];
          let mut ok = v as f64 > 0.3;
          for ds in -1i64..=1 {
            for dy in -1i64..=1 {
              for dx in -1i64..=1 {
                let ss = (s as i64 + ds).clamp(0, planes as i64 - 1) as usize;
                let yy = (y as i64 + dy).clamp(0, h as i64 - 1) as usize;
                let xx = (x as i64 + dx).clamp(0, w as i64 - 1) as usize;
                ok &= v >= cube[ss][yy * w + xx];
              }
            }
          }
          if ok {
            want.push((v, y as u32, x as u32, s as u32));
          }
        }
      }
    }
    // np.nonzero order (y, x, s), then a stable sort by value descending.
    want.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap());
    let got: Vec<(f32, u32, u32, u32)> = got.iter().map(|p| (p.v, p.y, p.x, p.s)).collect();
    assert_eq!(got, want);
  }

  #[test]
  fn errors() {
    let img = vec![0f32; 100];
    let bad_log = [
      BlobLogParams { min_sigma: 0.0, ..Default::default() },
      BlobLogParams { min_sigma: f64::NAN, ..Default::default() },
      BlobLogParams { max_sigma: 0.5, ..Default::default() },
      BlobLogParams { max_sigma: f64::INFINITY, ..Default::default() },
      BlobLogParams { max_sigma: 1e7, ..Default::default() },
      BlobLogParams { num_sigma: 0, ..Default::default() },
      BlobLogParams { num_sigma: MAX_SCALES + 1, ..Default::default() },
      BlobLogParams { threshold: f64::NAN, ..Default::default() },
      BlobLogParams { overlap: 1.5, ..Default::default() },
      BlobLogParams { overlap: -0.1, ..Default::default() },
    ];
    for p in &bad_log {
      assert_eq!(blob_log(&img, 10, 10, p).unwrap_err().code, ErrorCode::InvalidArgument, "{p:?}");
    }
    let bad_dog = [
      BlobDogParams { sigma_ratio: 1.0, ..Default::default() },
      BlobDogParams { sigma_ratio: 1.0 + 1e-12, ..Default::default() },
      BlobDogParams { sigma_ratio: f64::NAN, ..Default::default() },
      BlobDogParams { min_sigma: -1.0, ..Default::default() },
      BlobDogParams { overlap: f64::NAN, ..Default::default() },
    ];
    for p in &bad_dog {
      assert_eq!(blob_dog(&img, 10, 10, p).unwrap_err().code, ErrorCode::InvalidArgument, "{p:?}");
    }
    assert!(blob_log(&img, 10, 11, &BlobLogParams::default()).is_err());
    assert!(blob_dog(&img, 9, 10, &BlobDogParams::default()).is_err());
  }
}
