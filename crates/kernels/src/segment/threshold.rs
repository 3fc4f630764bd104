//! Global thresholds: Otsu and Li, computed exactly as scikit-image 0.26 does for a float64 image.

use super::sum::numpy_mean_by;
use std::borrow::Cow;
use rayon::prelude::*;
use stackbridge_core::{SbError, SbResult};

const NBINS: usize = 256;
/// Pixels per parallel histogram / reduction task.
const CHUNK: usize = 1 << 16;
/// `threshold_li` has no iteration limit in scikit-image; this only guards against a cycle.
const LI_MAX_ITER: usize = 10_000;

/// Otsu's threshold: `skimage.filters.threshold_otsu(image, nbins=256)` on the float64 image.
///
/// * all pixels equal (`==`, so also all `+inf`) → that value;
/// * otherwise a NaN or infinite pixel → `InvalidArgument` (numpy: "autodetected range … is not
///   finite"); an empty plane → `InvalidArgument`;
/// * otherwise `np.histogram(image, 256)` over `[min, max]` (numpy's bin assignment with its ±1
///   corrections at the edges), counts cast to float32 as scikit-image does, float32 cumulative
///   class weights, float64 cumulative means, the first argmax of
///   `float32(w1 * w2) * (m1 - m2) ** 2`, and that bin's centre.
pub fn threshold_otsu(img: &[f32]) -> SbResult<f64> {
  let Some(&first) = img.first() else {
    return Err(SbError::invalid("threshold_otsu needs a non-empty image"));
  };
  if img.par_iter().all(|&v| v == first) {
    return Ok(first as f64);
  }
  let (lo, hi) = finite_min_max(img)
    .ok_or_else(|| SbError::invalid("threshold_otsu: the image contains NaN or infinite values"))?;
  let edges = linspace_edges(lo, hi);
  let counts = histogram(img, lo, hi, &edges);
  let centers: Vec<f64> = edges.windows(2).map(|e| (e[0] + e[1]) / 2.0).collect();
  Ok(centers[otsu_index(&counts, &centers)])
}

/// `(min, max)` as f64, or `None` when some value is NaN or infinite.
fn finite_min_max(img: &[f32]) -> Option<(f64, f64)> {
  let (lo, hi, finite) = img
    .par_chunks(CHUNK)
    .map(|c| {
      c.iter().fold((f32::INFINITY, f32::NEG_INFINITY, true), |(lo, hi, ok), &v| {
        (lo.min(v), hi.max(v), ok & v.is_finite())
      })
    })
    .reduce(|| (f32::INFINITY, f32::NEG_INFINITY, true), |a, b| (a.0.min(b.0), a.1.max(b.1), a.2 & b.2));
  finite.then_some((lo as f64, hi as f64))
}

/// `np.linspace(lo, hi, 257)`: `i * step + lo` with `step = (hi - lo) / 256` (or, when the step
/// underflows to 0, `i / 256 * delta + lo`), and the last edge set to `hi` exactly.
fn linspace_edges(lo: f64, hi: f64) -> Vec<f64> {
  let delta = hi - lo;
  let div = NBINS as f64;
  let step = delta / div;
  let mut edges: Vec<f64> = (0..=NBINS)
    .map(|i| if step == 0.0 { i as f64 / div * delta + lo } else { i as f64 * step + lo })
    .collect();
  edges[NBINS] = hi;
  edges
}

/// numpy's uniform-bin histogram (`numpy/lib/_histograms_impl.py`, the `uniform_bins` branch).
fn histogram(img: &[f32], lo: f64, hi: f64, edges: &[f64]) -> Vec<u64> {
  let denom = hi - lo;
  img
    .par_chunks(CHUNK)
    .map(|c| {
      let mut h = vec![0u64; NBINS];
      for &v in c {
        h[numpy_bin(v as f64, lo, denom, edges)] += 1;
      }
      h
    })
    .reduce(|| vec![0u64; NBINS], |mut a, b| {
      a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
      a
    })
}

/// The bin of `x` in `[lo, lo + denom]`: `int((x - lo) / denom * 256)`, then numpy's corrections
/// for values within an ulp of an edge (the last bin is closed on the right).
#[inline]
fn numpy_bin(x: f64, lo: f64, denom: f64, edges: &[f64]) -> usize {
  let mut i = (((x - lo) / denom) * NBINS as f64) as usize;
  if i >= NBINS {
    i = NBINS - 1;
  }
  if x < edges[i] {
    i = i.saturating_sub(1);
  }
  if x >= edges[i + 1] && i != NBINS - 1 {
    i += 1;
  }
  i
}

/// `np.argmax(variance12)` of `threshold_otsu`, with numpy's dtypes: the counts are float32, so the
/// class weights are float32 cumulative sums and their product is rounded to float32 before it
/// meets the float64 means.
fn otsu_index(counts: &[u64], centers: &[f64]) -> usize {
  let n = counts.len();
  let c32: Vec<f32> = counts.iter().map(|&c| c as f32).collect();
  let cumsum32 = |it: &mut dyn Iterator<Item = f32>| -> Vec<f32> {
    let mut acc = 0f32;
    it.map(|c| {
      acc += c;
      acc
    })
    .collect()
  };
  let weight1 = cumsum32(&mut c32.iter().copied());
  let mut weight2 = cumsum32(&mut c32.iter().rev().copied());
  weight2.reverse();
  let prod: Vec<f64> = c32.iter().zip(centers).map(|(&c, &b)| c as f64 * b).collect();
  let mut acc = 0f64;
  let mean1: Vec<f64> = prod
    .iter()
    .zip(&weight1)
    .map(|(&p, &w)| {
      acc += p;
      acc / w as f64
    })
    .collect();
  // mean2 = (cumsum(prod[::-1]) / weight2[::-1])[::-1]
  let mut acc = 0f64;
  let mut mean2: Vec<f64> = prod
    .iter()
    .rev()
    .zip(weight2.iter().rev())
    .map(|(&p, &w)| {
      acc += p;
      acc / w as f64
    })
    .collect();
  mean2.reverse();
  let mut best = 0;
  let mut best_v = f64::NEG_INFINITY;
  for i in 0..n - 1 {
    let d = mean1[i] - mean2[i + 1];
    let v = (weight1[i] * weight2[i + 1]) as f64 * (d * d);
    // numpy's argmax: the first maximum, NaN counting as the maximum.
    if v > best_v || (v.is_nan() && !best_v.is_nan()) {
      best = i;
      best_v = v;
      if v.is_nan() {
        break;
      }
    }
  }
  best
}

/// Li's minimum cross-entropy threshold: `skimage.filters.threshold_li(image)` (float branch) on
/// the float64 image.
///
/// NaN pixels are dropped; none left → `InvalidArgument` (scikit-image returns NaN). All remaining
/// values equal → that value. Infinite values are then dropped (none left → 0.0, as scikit-image).
/// The image is shifted by its minimum; tolerance = half the smallest positive gap between sorted
/// values (a single finite value left → `InvalidArgument`, where numpy raises on `min` of an empty
/// array); the start is the mean; each step takes the means above / not above the current
/// threshold, stops when the background mean is 0, and moves to
/// `(mb - mf) / (ln mb - ln mf)` until the change is at most the tolerance. Means use numpy's
/// pairwise summation in raster order, so they are bit-identical; `ln` is the platform's, which
/// may differ from numpy's SIMD `log` in the last bit.
pub fn threshold_li(img: &[f32]) -> SbResult<f64> {
  let vals = keep(img, |v| !v.is_nan());
  let Some(&first) = vals.first() else {
    return Err(SbError::invalid("threshold_li needs at least one non-NaN pixel"));
  };
  if vals.par_iter().all(|&v| v == first) {
    return Ok(first as f64);
  }
  let finite = keep(&vals, |v| v.is_finite());
  if finite.is_empty() {
    return Ok(0.0);
  }
  let min = finite.par_iter().copied().reduce(|| f32::INFINITY, f32::min) as f64;
  // The float64 image after `image -= image_min`, computed on the fly from the f32 values.
  let shifted = |v: f32| v as f64 - min;
  let tolerance = min_positive_gap(&finite, shifted)
    .ok_or_else(|| SbError::invalid("threshold_li: the image has a single finite value besides infinities"))?
    / 2.0;
  Ok(li_iterate(&finite, shifted, tolerance) + min)
}

/// `img[pred(img)]`, in order; borrowed when every value passes.
fn keep(img: &[f32], pred: impl Fn(&f32) -> bool + Sync) -> Cow<'_, [f32]> {
  if img.par_iter().all(&pred) {
    Cow::Borrowed(img)
  } else {
    Cow::Owned(img.par_iter().copied().filter(|v| pred(v)).collect())
  }
}

/// `np.min(np.diff(np.unique(image)))` of the shifted image, or `None` when there is a single
/// distinct value. Sorting the f32 values (a radix sort of order-preserving keys) sorts the
/// shifted values too, as the shift is monotone; the gaps are taken on the shifted values, so
/// values the shift merges count as one, as in `np.unique`.
fn min_positive_gap(vals: &[f32], shifted: impl Fn(f32) -> f64) -> Option<f64> {
  let mut keys: Vec<u32> = vals.par_iter().map(|&v| ordered_key(v)).collect();
  radix_sort(&mut keys);
  keys
    .windows(2)
    .filter(|p| p[0] != p[1])
    .map(|p| shifted(from_ordered_key(p[1])) - shifted(from_ordered_key(p[0])))
    .filter(|&d| d > 0.0)
    .reduce(f64::min)
}

/// Maps a non-NaN f32 to a u32 with the same order (`-0.0` just below `0.0`).
fn ordered_key(v: f32) -> u32 {
  let b = v.to_bits();
  if b >> 31 == 1 {
    !b
  } else {
    b | 0x8000_0000
  }
}

fn from_ordered_key(k: u32) -> f32 {
  f32::from_bits(if k >> 31 == 1 { k & 0x7fff_ffff } else { !k })
}

/// LSD radix sort in two passes of 16 bits (both digit histograms from one counting pass); a pass
/// whose digit is the same for every key is skipped.
fn radix_sort(keys: &mut Vec<u32>) {
  let tasks = rayon::current_num_threads().max(1);
  let (lo, hi) = keys
    .par_chunks(keys.len().div_ceil(tasks).max(1))
    .map(|c| {
      let mut lo = vec![0u32; 1 << 16];
      let mut hi = vec![0u32; 1 << 16];
      for &k in c {
        lo[(k & 0xffff) as usize] += 1;
        hi[(k >> 16) as usize] += 1;
      }
      (lo, hi)
    })
    .reduce(
      || (vec![0u32; 1 << 16], vec![0u32; 1 << 16]),
      |(mut a, mut b), (c, d)| {
        a.iter_mut().zip(&c).for_each(|(x, y)| *x += y);
        b.iter_mut().zip(&d).for_each(|(x, y)| *x += y);
        (a, b)
      },
    );
  let mut buf = vec![0u32; keys.len()];
  for (shift, mut offset) in [(0u32, lo), (16, hi)] {
    if offset.iter().any(|&c| c as usize == keys.len()) {
      continue;
    }
    let mut sum = 0u32;
    for o in offset.iter_mut() {
      let c = *o;
      *o = sum;
      sum += c;
    }
    for &k in keys.iter() {
      let d = ((k >> shift) & 0xffff) as usize;
      buf[offset[d] as usize] = k;
      offset[d] += 1;
    }
    std::mem::swap(keys, &mut buf);
  }
}

/// The float branch of scikit-image's loop on the shifted image (`shifted(v)` for each `v`).
fn li_iterate(vals: &[f32], shifted: impl Fn(f32) -> f64 + Sync + Copy, tolerance: f64) -> f64 {
  let mut t_next = numpy_mean_by(vals, shifted);
  let mut t_curr = -2.0 * tolerance;
  let mut iter = 0;
  let (mut fore, mut back) = (Vec::with_capacity(vals.len()), Vec::with_capacity(vals.len()));
  while (t_next - t_curr).abs() > tolerance && iter < LI_MAX_ITER {
    iter += 1;
    t_curr = t_next;
    // image[foreground] and image[~foreground], in raster order (~(v > t) is v <= t: no NaN
    // here). One sequential pass: cheaper than two parallel filters collecting into lists.
    fore.clear();
    back.clear();
    for &v in vals {
      if shifted(v) > t_curr {
        fore.push(v);
      } else {
        back.push(v);
      }
    }
    let mean_fore = numpy_mean_by(&fore, shifted);
    let mean_back = numpy_mean_by(&back, shifted);
    if mean_back == 0.0 {
      break;
    }
    t_next = (mean_back - mean_fore) / (mean_back.ln() - mean_fore.ln());
  }
  t_next
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::segment::test_util::{parse_hex, xorshift_unit};

  #[test]
  fn otsu_bimodal_hand_case() {
    // Two clusters {0, 0.1} and {0.9, 1}: bins span [0, 1]; every split between the clusters has
    // the same weights and means, so the first maximum is the last bin of the low cluster, i.e.
    // the bin holding 0.1: index int(0.1 * 256) = 25, centre (25.5) / 256.
    let img = [0.0f32, 0.1, 0.0, 0.1, 0.9, 1.0, 0.9, 1.0];
    let t = threshold_otsu(&img).unwrap();
    let e25 = 25.0 * (1.0 / 256.0);
    let e26 = 26.0 * (1.0 / 256.0);
    assert_eq!(t, (e25 + e26) / 2.0);
    // skimage's quirk, kept: the threshold is a bin centre, so 0.1 (upper half of its bin) is
    // still "> threshold". skimage: threshold_otsu(...) == 0.099609375 as well.
    assert_eq!(t, 0.099609375);
    assert_eq!(img.iter().filter(|&&v| v as f64 > t).count(), 6);
  }

  #[test]
  fn otsu_edge_cases() {
    assert!(threshold_otsu(&[]).is_err());
    assert_eq!(threshold_otsu(&[0.25; 7]).unwrap(), 0.25);
    assert_eq!(threshold_otsu(&[f32::INFINITY; 3]).unwrap(), f64::INFINITY);
    assert!(threshold_otsu(&[0.0, f32::NAN, 1.0]).is_err());
    assert!(threshold_otsu(&[0.0, f32::INFINITY, 1.0]).is_err());
    assert!(threshold_otsu(&[f32::NAN, f32::NAN]).is_err());
  }

  #[test]
  fn otsu_matches_skimage_literals() {
    // /tmp/segment/ref_threshold.py: threshold_otsu(shaped(n, seed).astype(np.float64)).hex()
    for (n, seed, hex) in OTSU_REF {
      let img = shaped(n, seed);
      assert_eq!(threshold_otsu(&img).unwrap(), parse_hex(hex), "n {n} seed {seed}");
    }
  }

  #[test]
  fn li_matches_skimage_literals() {
    // /tmp/segment/ref_threshold.py: threshold_li(shaped(n, seed).astype(np.float64)).hex()
    for (n, seed, hex) in LI_REF {
      let img = shaped(n, seed);
      assert_eq!(threshold_li(&img).unwrap(), parse_hex(hex), "n {n} seed {seed}");
    }
  }

  #[test]
  fn li_hand_case() {
    // {0, 0, 1, 1} shifted by 0; tolerance 0.5; start mean 0.5; fore {1, 1} mean 1, back {0, 0}
    // mean 0 -> stop with t = 0.5.
    assert_eq!(threshold_li(&[0.0, 0.0, 1.0, 1.0]).unwrap(), 0.5);
    // {1, 2, 4}: shifted {0, 1, 3}, tol 0.5, t0 = 4/3; fore {3}, back {0, 1} mean 0.5:
    // t1 = (0.5 - 3) / (ln 0.5 - ln 3); then fore/back do not change -> t2 == t1, stop.
    let t1 = (0.5f64 - 3.0) / (0.5f64.ln() - 3f64.ln());
    assert_eq!(threshold_li(&[1.0, 2.0, 4.0]).unwrap(), t1 + 1.0);
  }

  #[test]
  fn li_edge_cases() {
    assert!(threshold_li(&[]).is_err());
    assert!(threshold_li(&[f32::NAN]).is_err());
    assert_eq!(threshold_li(&[f32::NAN, 0.5, 0.5]).unwrap(), 0.5);
    assert_eq!(threshold_li(&[f32::INFINITY, f32::NEG_INFINITY]).unwrap(), 0.0);
    assert!(threshold_li(&[1.0, 1.0, f32::INFINITY]).is_err());
    let t = threshold_li(&[0.0, f32::INFINITY, 0.0, 1.0, 1.0]).unwrap();
    assert_eq!(t, 0.5);
  }

  /// The reference images: every third pixel uniform in [0.6, 1), the others `u * u / 2` (bimodal).
  fn shaped(n: usize, seed: u64) -> Vec<f32> {
    let mut v = xorshift_unit(n, seed);
    for (i, x) in v.iter_mut().enumerate() {
      if i % 3 == 0 {
        *x = 0.6 + 0.4 * *x;
      } else {
        *x = *x * *x * 0.5;
      }
    }
    v
  }

  // /tmp/segment/ref_threshold.py (skimage 0.26): threshold_otsu / threshold_li of
  // shaped(n, seed).astype(np.float64), printed with float.hex().
  const OTSU_REF: [(usize, u64, &str); 6] = [
    (10, 1, "0x1.db063905e0000p-2"),
    (257, 7, "0x1.dd8cd75593380p-2"),
    (1000, 42, "0x1.c97961d35c1a0p-2"),
    (4096, 3, "0x1.d9fa017f55e0cp-2"),
    (65536, 99, "0x1.ddffc086cd6ddp-2"),
    (300000, 5, "0x1.ddffe04205661p-2"),
  ];
  const LI_REF: [(usize, u64, &str); 6] = [
    (10, 1, "0x1.7763be0e6387dp-2"),
    (257, 7, "0x1.338d7c3d3a3dep-2"),
    (1000, 42, "0x1.3981d62686604p-2"),
    (4096, 3, "0x1.310671127e5c8p-2"),
    (65536, 99, "0x1.358274adae810p-2"),
    (300000, 5, "0x1.35afe120dc595p-2"),
  ];
}
