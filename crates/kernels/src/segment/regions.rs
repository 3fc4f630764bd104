//! `skimage.measure.regionprops` restricted to label, area, centroid and mean intensity.

use super::check_plane;
use super::sum::numpy_mean_by;
use rayon::prelude::*;

/// One labelled region (`skimage.measure.regionprops` properties `label`, `area`,
/// `centroid` = `(centroid_y, centroid_x)`, `intensity_mean`).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Region {
  pub label: u32,
  pub area: usize,
  pub centroid_y: f64,
  pub centroid_x: f64,
  pub mean_intensity: f64,
}

/// Where each label's statistics live: a dense table when labels are small, else binary search
/// over the sorted distinct labels (arbitrary u32 labels must not allocate by their maximum).
enum Slots {
  Dense(Vec<u32>),
  Sparse(Vec<u32>),
}

const NO_SLOT: u32 = u32::MAX;

impl Slots {
  /// Builds the map and returns it with the labels present, ascending.
  fn new(labels: &[u32]) -> (Slots, Vec<u32>) {
    let max = labels.par_iter().copied().max().unwrap_or(0) as usize;
    if max <= 2 * labels.len() + 1024 {
      // One presence table per thread (not per rayon split: the tables are label-sized).
      let per_task = labels.len().div_ceil(rayon::current_num_threads().max(1)).max(1);
      let present = labels
        .par_chunks(per_task)
        .map(|c| {
          let mut p = vec![false; max + 1];
          c.iter().for_each(|&l| p[l as usize] = true);
          p
        })
        .reduce(|| vec![false; max + 1], |a, b| a.iter().zip(&b).map(|(x, y)| *x | *y).collect());
      let ids: Vec<u32> = (1..=max as u32).filter(|&l| present[l as usize]).collect();
      let mut lut = vec![NO_SLOT; max + 1];
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

  /// The slot of a nonzero label that occurs in the image.
  #[inline]
  fn of(&self, label: u32) -> usize {
    match self {
      Slots::Dense(lut) => lut[label as usize] as usize,
      Slots::Sparse(ids) => ids.binary_search(&label).unwrap_or(0),
    }
  }
}

/// Per-slot pixel count and coordinate sums (exact integers).
#[derive(Clone, Copy, Default)]
struct Moments {
  count: u64,
  sum_y: u64,
  sum_x: u64,
}

/// `skimage.measure.regionprops(labels, intensity_image=intensity)`: for every label present, in
/// increasing order, `area` (pixel count), `centroid` (mean row, mean column) and
/// `intensity_mean` (mean of the float64 intensity over the region).
///
/// Coordinates are summed as exact integers and divided once, as numpy's mean of the integral
/// float coordinates does. The intensity mean is numpy's: the region's values in raster order
/// summed pairwise and divided by the count, so it is bit-identical. A parallel pass for the
/// moments, a counting-sort pass grouping the values by region, and a parallel reduction per
/// region; O(N).
///
/// # Panics
/// If `labels` or `intensity` is not `h * w` long.
pub fn regionprops(labels: &[u32], intensity: &[f32], h: usize, w: usize) -> Vec<Region> {
  check_plane("regionprops labels", labels.len(), h, w);
  check_plane("regionprops intensity", intensity.len(), h, w);
  if labels.is_empty() {
    return Vec::new();
  }
  let (slots, ids) = Slots::new(labels);
  if ids.is_empty() {
    return Vec::new();
  }
  let moments = moments(labels, w, &slots, ids.len());
  let values = group_values(labels, intensity, &slots, &moments);
  let mut start = 0usize;
  let ranges: Vec<(usize, usize)> = moments
    .iter()
    .map(|m| {
      let r = (start, start + m.count as usize);
      start = r.1;
      r
    })
    .collect();
  ids
    .par_iter()
    .zip(moments.par_iter())
    .zip(ranges.par_iter())
    .map(|((&label, m), &(a, b))| Region {
      label,
      area: m.count as usize,
      centroid_y: m.sum_y as f64 / m.count as f64,
      centroid_x: m.sum_x as f64 / m.count as f64,
      mean_intensity: numpy_mean_by(&values[a..b], |v| v as f64),
    })
    .collect()
}

/// Counts and coordinate sums per slot, parallel over row blocks (one accumulator per thread).
fn moments(labels: &[u32], w: usize, slots: &Slots, n: usize) -> Vec<Moments> {
  let h = labels.len() / w;
  let rows = h.div_ceil(rayon::current_num_threads().max(1)).max(1);
  labels
    .par_chunks(rows * w)
    .enumerate()
    .map(|(b, block)| {
      let mut acc = vec![Moments::default(); n];
      for (r, row) in block.chunks_exact(w).enumerate() {
        let y = (b * rows + r) as u64;
        for (x, &l) in row.iter().enumerate() {
          if l != 0 {
            let m = &mut acc[slots.of(l)];
            m.count += 1;
            m.sum_y += y;
            m.sum_x += x as u64;
          }
        }
      }
      acc
    })
    .reduce(
      || vec![Moments::default(); n],
      |mut a, b| {
        for (x, y) in a.iter_mut().zip(&b) {
          x.count += y.count;
          x.sum_y += y.sum_y;
          x.sum_x += y.sum_x;
        }
        a
      },
    )
}

/// The intensities grouped by slot, each group in raster order (a counting sort).
fn group_values(labels: &[u32], intensity: &[f32], slots: &Slots, moments: &[Moments]) -> Vec<f32> {
  let mut next: Vec<usize> = Vec::with_capacity(moments.len());
  let mut total = 0usize;
  for m in moments {
    next.push(total);
    total += m.count as usize;
  }
  let mut values = vec![0f32; total];
  for (&l, &v) in labels.iter().zip(intensity) {
    if l != 0 {
      let s = slots.of(l);
      values[next[s]] = v;
      next[s] += 1;
    }
  }
  values
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn hand_computed_regions() {
    // 4x5 labels; label 5 is a gap-free single pixel, label 2 an L, label 3 absent.
    #[rustfmt::skip]
    let labels = [
      1, 1, 0, 2, 0,
      1, 1, 0, 2, 0,
      0, 0, 0, 2, 2,
      5, 0, 0, 0, 0,
    ];
    #[rustfmt::skip]
    let inten = [
      0.5f32, 0.25, 9.0, 1.0, 9.0,
      0.75, 0.5, 9.0, 2.0, 9.0,
      9.0, 9.0, 9.0, 3.0, 4.0,
      0.125, 9.0, 9.0, 9.0, 9.0,
    ];
    let r = regionprops(&labels, &inten, 4, 5);
    assert_eq!(
      r,
      vec![
        // rows 0,0,1,1 -> 0.5; cols 0,1,0,1 -> 0.5; (0.5 + 0.25 + 0.75 + 0.5) / 4 = 0.5
        Region { label: 1, area: 4, centroid_y: 0.5, centroid_x: 0.5, mean_intensity: 0.5 },
        // rows 0,1,2,2 -> 1.25; cols 3,3,3,4 -> 3.25; (1 + 2 + 3 + 4) / 4 = 2.5
        Region { label: 2, area: 4, centroid_y: 1.25, centroid_x: 3.25, mean_intensity: 2.5 },
        Region { label: 5, area: 1, centroid_y: 3.0, centroid_x: 0.0, mean_intensity: 0.125 },
      ]
    );
  }

  #[test]
  fn thirds_divide_once() {
    // Rows 0, 0, 1: centroid_y = 1 / 3 (one division, as numpy's mean), x = (0 + 1 + 0) / 3.
    let r = regionprops(&[7, 7, 7, 0], &[0.1, 0.2, 0.3, 0.0], 2, 2);
    assert_eq!(r.len(), 1);
    assert_eq!((r[0].centroid_y, r[0].centroid_x), (1.0 / 3.0, 1.0 / 3.0));
    // np.mean(np.array([0.1, 0.2, 0.3], np.float32).astype(np.float64)): sequential below 8 values.
    let want = ((0.0 + 0.1f32 as f64) + 0.2f32 as f64 + 0.3f32 as f64) / 3.0;
    assert_eq!(r[0].mean_intensity, want);
  }

  #[test]
  fn sparse_huge_labels() {
    let labels = [u32::MAX, 0, 3_000_000_000, u32::MAX];
    let r = regionprops(&labels, &[1.0, 0.0, 2.0, 3.0], 2, 2);
    assert_eq!(r.iter().map(|x| (x.label, x.area)).collect::<Vec<_>>(), vec![(3_000_000_000, 1), (u32::MAX, 2)]);
    assert_eq!(r[1].mean_intensity, 2.0);
    assert_eq!((r[1].centroid_y, r[1].centroid_x), (0.5, 0.5));
  }

  #[test]
  fn empty_inputs() {
    assert!(regionprops(&[], &[], 0, 3).is_empty());
    assert!(regionprops(&[0; 6], &[1.0; 6], 2, 3).is_empty());
  }

  #[test]
  fn long_region_uses_pairwise_mean() {
    // 300 pixels of one label with a 2^40 dynamic range, so summation order matters (f64 sums of
    // f32 values of similar size are exact in any order). /tmp/segment/ref_regions.py:
    // u = xorshift_unit(300, 9); v = where(i % 5 == 0, u * 1e9, u * 1e-3) in float32;
    // regionprops(np.ones((10, 30), int), intensity_image=v.astype(np.float64))[0].intensity_mean
    // (the sequential sum would end in ...620e instead).
    let u = crate::segment::test_util::xorshift_unit(300, 9);
    let vals: Vec<f32> = u.iter().enumerate().map(|(i, &x)| if i % 5 == 0 { x * 1e9 } else { x * 1e-3 }).collect();
    let r = regionprops(&[1; 300], &vals, 10, 30);
    assert_eq!(r[0].mean_intensity, crate::segment::test_util::parse_hex(REGION_MEAN_REF));
  }

  const REGION_MEAN_REF: &str = "0x1.8d80b14866213p+26";
}
