//! `skimage.feature.peak_local_max` for a 2-D plane with a square footprint.

use super::check_plane;
use rayon::prelude::*;

/// `skimage.feature.peak_local_max(img, min_distance=min_distance, footprint=np.ones((fs, fs)),
/// exclude_border=True)` with `threshold_abs=None`, `threshold_rel=None`, `num_peaks=inf`,
/// `p_norm=inf`; returns `(row, col)` pairs in scikit-image's order.
///
/// Exactly as `skimage/feature/peak.py` 0.26:
/// 1. threshold = `img.min()` (a NaN pixel makes it NaN, and then nothing is a peak);
/// 2. candidates: `img == maximum_filter(img, footprint, mode='nearest')` (window
///    `[i - fs/2, i + fs - 1 - fs/2]` per axis, clamped), and if *every* pixel equals its filtered
///    value the image is "trivial" and has no peak; with `fs == 1` or a single pixel, simply every
///    pixel; then `& (img > threshold)`;
/// 3. rows and columns closer than `min_distance` to the border are dropped;
/// 4. candidates are ordered by value, descending, stable over raster order;
/// 5. if `min_distance > 1`, `ensure_spacing`: greedily, in that order, a point is kept unless a
///    kept point is at Chebyshev distance `< min_distance` (scikit-image's batching over the
///    sorted list keeps exactly this greedy set).
///
/// `fs == 0` (scikit-image: "All-zero footprint is not supported") and empty planes give no
/// peaks. Cost O(N) (van Herk/Gil-Werman running max) plus O(P log P) for P candidates.
///
/// # Panics
/// If `img.len() != h * w`.
pub fn peak_local_max_2d(img: &[f32], h: usize, w: usize, min_distance: usize, footprint: usize) -> Vec<(usize, usize)> {
  check_plane("peak_local_max image", img.len(), h, w);
  if img.is_empty() || footprint == 0 {
    return Vec::new();
  }
  let Some(threshold) = min_unless_nan(img) else {
    return Vec::new();
  };
  let inner = Inner::new(h, w, min_distance);
  let (trivial, mut cand) = if footprint == 1 || img.len() == 1 {
    (false, candidates(img, None, w, &inner, threshold))
  } else if footprint <= DIRECT_MAX_FS {
    banded_scan(img, h, w, footprint, &inner, threshold)
  } else {
    let m = max_filter_2d(img, h, w, footprint);
    let all_equal = img.par_chunks(1 << 16).zip(m.par_chunks(1 << 16)).all(|(a, b)| a == b);
    (all_equal, candidates(img, Some(&m), w, &inner, threshold))
  };
  if trivial {
    return Vec::new(); // every pixel is its own local maximum: "no peak for a trivial image"
  }
  // Stable sort: equal values keep raster order (numpy's argsort(-v, kind="stable")).
  cand.par_sort_by(|a, b| b.0.total_cmp(&a.0));
  let coords: Vec<(usize, usize)> = cand.into_iter().map(|(_, y, x)| (y, x)).collect();
  if min_distance > 1 {
    ensure_spacing(&coords, h, w, min_distance)
  } else {
    coords
  }
}

/// A candidate peak: `(value, row, col)`.
type Candidate = (f32, usize, usize);

/// `img.min()`, or `None` if some pixel is NaN (numpy's min is then NaN and no pixel exceeds it).
fn min_unless_nan(img: &[f32]) -> Option<f32> {
  let (min, nan) = img
    .par_chunks(1 << 16)
    .map(|c| c.iter().fold((f32::INFINITY, false), |(m, n), &v| (m.min(v), n | v.is_nan())))
    .reduce(|| (f32::INFINITY, false), |a, b| (a.0.min(b.0), a.1 | b.1));
  (!nan).then_some(min)
}

/// The rows `y0..y1` and columns `x0..x1` left after `exclude_border=min_distance`.
struct Inner {
  y0: usize,
  y1: usize,
  x0: usize,
  x1: usize,
}

impl Inner {
  fn new(h: usize, w: usize, border: usize) -> Inner {
    Inner { y0: border.min(h), y1: h.saturating_sub(border), x0: border.min(w), x1: w.saturating_sub(border) }
  }

  fn is_empty(&self) -> bool {
    self.y0 >= self.y1 || self.x0 >= self.x1
  }
}

/// Appends `(value, y, x)` for the candidates of row `y`: `row[x] == max[x]` (or every pixel when
/// there is no filter) and `row[x] > threshold`, for `x` in the inner columns.
fn row_candidates(row: &[f32], max: Option<&[f32]>, y: usize, inner: &Inner, threshold: f32, out: &mut Vec<Candidate>) {
  if y < inner.y0 || y >= inner.y1 || inner.x0 >= inner.x1 {
    return;
  }
  for x in inner.x0..inner.x1 {
    let v = row[x];
    if v > threshold && max.is_none_or(|m| m[x] == v) {
      out.push((v, y, x));
    }
  }
}

/// Candidates of every row, in raster order, parallel over rows.
fn candidates(img: &[f32], max: Option<&[f32]>, w: usize, inner: &Inner, threshold: f32) -> Vec<Candidate> {
  if inner.is_empty() {
    return Vec::new();
  }
  img
    .par_chunks(w)
    .enumerate()
    .skip(inner.y0)
    .take(inner.y1 - inner.y0)
    .map(|(y, row)| {
      let mut out = Vec::new();
      row_candidates(row, max.map(|m| &m[y * w..(y + 1) * w]), y, inner, threshold, &mut out);
      out
    })
    .flatten_iter()
    .collect()
}

/// Rows per task of [`banded_scan`].
const BAND: usize = 32;

/// For small footprints, the maximum filter, the trivial-image test and the candidate scan in one
/// pass over bands of rows, without a full-size filtered image: each band keeps the row-filtered
/// rows it needs in a ring of `fs` rows. Returns (every pixel equals its filtered value,
/// candidates in raster order).
fn banded_scan(img: &[f32], h: usize, w: usize, fs: usize, inner: &Inner, threshold: f32) -> (bool, Vec<Candidate>) {
  let (a, b) = (fs / 2, fs - 1 - fs / 2);
  let bands: Vec<(bool, Vec<Candidate>)> = (0..h.div_ceil(BAND))
    .into_par_iter()
    .map(|band| {
      let (by0, by1) = (band * BAND, ((band + 1) * BAND).min(h));
      let mut ring = vec![0f32; fs * w];
      let mut done: Option<usize> = None; // rows row-filtered so far: ..=done
      let mut line = LineMax::default();
      let mut max = vec![0f32; w];
      let mut all_equal = true;
      let mut cand = Vec::new();
      for y in by0..by1 {
        let (r0, r1) = (y.saturating_sub(a), (y + b).min(h - 1));
        let first = done.map_or(r0, |d| (d + 1).max(r0));
        for r in first..=r1 {
          line.run(&img[r * w..(r + 1) * w], &mut ring[(r % fs) * w..(r % fs + 1) * w], fs);
        }
        done = Some(r1);
        max.copy_from_slice(&ring[(r0 % fs) * w..(r0 % fs + 1) * w]);
        for r in r0 + 1..=r1 {
          for (m, &v) in max.iter_mut().zip(&ring[(r % fs) * w..(r % fs + 1) * w]) {
            *m = m.max(v);
          }
        }
        let row = &img[y * w..(y + 1) * w];
        all_equal &= row == &max[..];
        row_candidates(row, Some(&max), y, inner, threshold, &mut cand);
      }
      (all_equal, cand)
    })
    .collect();
  let all_equal = bands.iter().all(|b| b.0);
  (all_equal, bands.into_iter().flat_map(|b| b.1).collect())
}

/// Footprints up to this size use direct shifted maxima (O(fs) vector ops per pixel) in
/// [`banded_scan`]; larger ones the O(1) van Herk/Gil-Werman running max on whole planes.
const DIRECT_MAX_FS: usize = 8;

/// `scipy.ndimage.maximum_filter(img, footprint=np.ones((fs, fs)), mode='nearest')`, separably
/// (the max over a clamped rectangle is the max of its clamped rows' maxima): rows, transpose,
/// rows, transpose back.
fn max_filter_2d(img: &[f32], h: usize, w: usize, fs: usize) -> Vec<f32> {
  let mut a = vec![0f32; img.len()];
  rows_max_filter(img, &mut a, w, fs);
  let mut t = vec![0f32; img.len()];
  transpose(&a, h, w, &mut t);
  rows_max_filter(&t, &mut a, h, fs);
  transpose(&a, w, h, &mut t);
  t
}

fn rows_max_filter(src: &[f32], dst: &mut [f32], w: usize, fs: usize) {
  dst.par_chunks_mut(w).zip(src.par_chunks(w)).for_each_init(LineMax::default, |lm, (d, s)| lm.run(s, d, fs));
}

/// Scratch for the van Herk/Gil-Werman running maximum of one line.
#[derive(Default)]
struct LineMax {
  pad: Vec<f32>,
  pre: Vec<f32>,
  suf: Vec<f32>,
}

impl LineMax {
  /// `dst[i] = max(src[clamp(i - a)..=clamp(i + b)])` with `a = fs / 2`, `b = fs - 1 - a`
  /// (scipy's origin-0 window; `mode='nearest'` clamps). Reaches beyond the line are cut to
  /// `n - 1`, which changes nothing under clamping and keeps huge `fs` cheap.
  fn run(&mut self, src: &[f32], dst: &mut [f32], fs: usize) {
    let n = src.len();
    let a = (fs / 2).min(n - 1);
    let b = (fs - 1 - fs / 2).min(n - 1);
    let size = a + b + 1;
    let len = n + size - 1;
    self.pad.clear();
    self.pad.extend(std::iter::repeat_n(src[0], a));
    self.pad.extend_from_slice(src);
    self.pad.extend(std::iter::repeat_n(src[n - 1], b));
    if size <= DIRECT_MAX_FS {
      // Few taps: shifted maxima over the padded line vectorise best.
      dst.copy_from_slice(&self.pad[..n]);
      for k in 1..size {
        for (d, &p) in dst.iter_mut().zip(&self.pad[k..k + n]) {
          *d = d.max(p);
        }
      }
      return;
    }
    self.pre.resize(len, 0.0);
    self.suf.resize(len, 0.0);
    // Prefix maxima forward and suffix maxima backward within blocks of `size`: a window
    // `[i, i + size)` spans at most two blocks, so its max is `max(suf[i], pre[i + size - 1])`.
    let blocks = self.pad.chunks(size).zip(self.pre.chunks_mut(size)).zip(self.suf.chunks_mut(size));
    for ((pb, pre), suf) in blocks {
      let mut m = f32::NEG_INFINITY;
      for (p, o) in pb.iter().zip(pre.iter_mut()) {
        m = m.max(*p);
        *o = m;
      }
      let mut m = f32::NEG_INFINITY;
      for (p, o) in pb.iter().zip(suf.iter_mut()).rev() {
        m = m.max(*p);
        *o = m;
      }
    }
    for ((d, &s), &p) in dst.iter_mut().zip(&self.suf[..n]).zip(&self.pre[size - 1..]) {
      *d = s.max(p);
    }
  }
}

/// `dst (w × h) = srcᵀ` for `src (h × w)`, in cache tiles, parallel over bands of output rows.
fn transpose(src: &[f32], h: usize, w: usize, dst: &mut [f32]) {
  const T: usize = 32;
  dst.par_chunks_mut(T * h).enumerate().for_each(|(bx, band)| {
    let x0 = bx * T;
    let nx = band.len() / h;
    for y0 in (0..h).step_by(T) {
      for y in y0..(y0 + T).min(h) {
        let srow = &src[y * w + x0..y * w + x0 + nx];
        for (dx, &v) in srow.iter().enumerate() {
          band[dx * h + y] = v;
        }
      }
    }
  });
}

/// `skimage._shared.coord.ensure_spacing(coords, spacing, p_norm=inf)`: greedy in the given
/// order, a point survives unless an earlier survivor is at Chebyshev distance `< spacing`. A
/// grid of `spacing`-sized cells makes each test look at 9 cells only.
fn ensure_spacing(coords: &[(usize, usize)], h: usize, w: usize, spacing: usize) -> Vec<(usize, usize)> {
  let gw = w / spacing + 1;
  let gh = h / spacing + 1;
  const NONE: u32 = u32::MAX;
  let mut head = vec![NONE; gh * gw];
  let mut next: Vec<u32> = Vec::new();
  let mut kept: Vec<(usize, usize)> = Vec::new();
  for &(y, x) in coords {
    let (cy, cx) = (y / spacing, x / spacing);
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

#[cfg(test)]
mod tests {
  use super::*;
  use crate::segment::test_util::xorshift_unit;

  /// Direct definition of scipy's maximum_filter with a fs×fs footprint, mode='nearest'.
  fn naive_max_filter(img: &[f32], h: usize, w: usize, fs: usize) -> Vec<f32> {
    let (a, b) = ((fs / 2) as isize, (fs - 1 - fs / 2) as isize);
    let cl = |v: isize, n: usize| v.clamp(0, n as isize - 1) as usize;
    let mut out = vec![0.0; h * w];
    for y in 0..h {
      for x in 0..w {
        let mut m = f32::NEG_INFINITY;
        for yy in y as isize - a..=y as isize + b {
          for xx in x as isize - a..=x as isize + b {
            m = m.max(img[cl(yy, h) * w + cl(xx, w)]);
          }
        }
        out[y * w + x] = m;
      }
    }
    out
  }

  #[test]
  fn max_filter_matches_definition() {
    for (h, w) in [(1, 1), (1, 9), (9, 1), (13, 17), (40, 33)] {
      let img = xorshift_unit(h * w, (h * 100 + w) as u64);
      for fs in [2, 3, 4, 5, 8, 9, 12, 50] {
        assert_eq!(max_filter_2d(&img, h, w, fs), naive_max_filter(&img, h, w, fs), "{h}x{w} fs {fs}");
      }
    }
  }

  #[test]
  fn banded_scan_equals_full_filter() {
    // Quantised values (4 levels) make plateaus and equal maxima common; 75 rows span 3 bands.
    for (h, w) in [(1, 7), (7, 1), (75, 41), (33, 64)] {
      let img: Vec<f32> = xorshift_unit(h * w, (h + 7 * w) as u64).iter().map(|u| (u * 4.0).floor()).collect();
      for fs in 2..=DIRECT_MAX_FS {
        for border in [0, 1, 3] {
          let inner = Inner::new(h, w, border);
          let m = max_filter_2d(&img, h, w, fs);
          let want = (img == m, candidates(&img, Some(&m), w, &inner, 0.0));
          assert_eq!(banded_scan(&img, h, w, fs, &inner, 0.0), want, "{h}x{w} fs {fs} border {border}");
        }
      }
    }
    // A constant image is trivial for the banded path too.
    assert!(banded_scan(&[0.5; 12], 3, 4, 3, &Inner::new(3, 4, 0), 0.0).0);
  }

  fn plane(h: usize, w: usize, pts: &[(usize, usize, f32)]) -> Vec<f32> {
    let mut img = vec![0.0; h * w];
    for &(y, x, v) in pts {
      img[y * w + x] = v;
    }
    img
  }

  #[test]
  fn skimage_docstring_example() {
    // skimage docstring: img1 = np.zeros((7, 7)); img1[3, 4] = 1; img1[3, 2] = 1.5
    // peak_local_max(img1, min_distance=1) -> [[3, 2], [3, 4]]; min_distance=2 -> [[3, 2]]
    // (default footprint 2 * min_distance + 1).
    let img = plane(7, 7, &[(3, 4, 1.0), (3, 2, 1.5)]);
    assert_eq!(peak_local_max_2d(&img, 7, 7, 1, 3), vec![(3, 2), (3, 4)]);
    assert_eq!(peak_local_max_2d(&img, 7, 7, 2, 5), vec![(3, 2)]);
  }

  #[test]
  fn spacing_and_border_exclusion() {
    // fs 1: every pixel above the minimum (0) is a candidate. Kept points at Chebyshev distance
    // exactly min_distance coexist, closer ones lose to the higher one; rows/columns within
    // min_distance of the border are dropped before spacing (so (1, 6) cannot suppress anything).
    let img = plane(12, 12, &[(5, 5, 0.9), (5, 8, 0.8), (8, 5, 0.95), (6, 7, 0.85), (1, 6, 1.0), (10, 10, 0.7)]);
    // md 3: window rows/cols 3..9; (6, 7) is 2 from (8, 5); (5, 8) is 3 from both kept points.
    assert_eq!(peak_local_max_2d(&img, 12, 12, 3, 1), vec![(8, 5), (5, 5), (5, 8)]);
    // md 2: window 2..10; (6, 7) is exactly 2 from both; (5, 8) is 1 from (6, 7).
    assert_eq!(peak_local_max_2d(&img, 12, 12, 2, 1), vec![(8, 5), (5, 5), (6, 7)]);
    // md 1: border of 1, no spacing; md 0: nothing excluded. Descending values.
    let all = vec![(1, 6), (8, 5), (5, 5), (6, 7), (5, 8), (10, 10)];
    assert_eq!(peak_local_max_2d(&img, 12, 12, 1, 1), all);
    assert_eq!(peak_local_max_2d(&img, 12, 12, 0, 1), all);
  }

  #[test]
  fn plateau_ties_keep_raster_order() {
    // A flat 2x2 plateau: every pixel equals the local max; min_distance 1 (no spacing) returns
    // all four in raster order, min_distance 2 keeps the first.
    let img = plane(8, 8, &[(3, 3, 1.0), (3, 4, 1.0), (4, 3, 1.0), (4, 4, 1.0)]);
    assert_eq!(peak_local_max_2d(&img, 8, 8, 1, 3), vec![(3, 3), (3, 4), (4, 3), (4, 4)]);
    assert_eq!(peak_local_max_2d(&img, 8, 8, 2, 3), vec![(3, 3)]);
  }

  #[test]
  fn degenerate_inputs() {
    assert!(peak_local_max_2d(&[1.0; 25], 5, 5, 1, 3).is_empty()); // trivial image
    assert!(peak_local_max_2d(&[], 0, 4, 1, 3).is_empty());
    assert!(peak_local_max_2d(&[2.0], 1, 1, 0, 3).is_empty()); // single pixel: 2 > min(2) is false
    let img = plane(5, 5, &[(2, 2, 1.0)]);
    assert_eq!(peak_local_max_2d(&img, 5, 5, 1, 3), vec![(2, 2)]);
    assert!(peak_local_max_2d(&img, 5, 5, 1, 0).is_empty());
    assert!(peak_local_max_2d(&img, 5, 5, usize::MAX, 3).is_empty());
    assert_eq!(peak_local_max_2d(&img, 5, 5, 2, usize::MAX), vec![(2, 2)]);
    let mut nan = img.clone();
    nan[0] = f32::NAN;
    assert!(peak_local_max_2d(&nan, 5, 5, 1, 3).is_empty());
  }

  #[test]
  fn matches_skimage_literal() {
    // /tmp/segment/ref_peaks.py: img = xorshift_unit(24 * 30, 5).reshape(24, 30) (float64);
    // peak_local_max(img, min_distance=md, footprint=np.ones((fs, fs))).tolist()
    let img = xorshift_unit(24 * 30, 5);
    for (md, fs, want) in PEAKS_REF {
      assert_eq!(peak_local_max_2d(&img, 24, 30, md, fs), want.to_vec(), "md {md} fs {fs}");
    }
  }

  type PeaksCase = (usize, usize, &'static [(usize, usize)]);
  const PEAKS_REF: [PeaksCase; 7] = [
    (1, 3, &[(11, 9), (5, 13), (19, 19), (14, 10), (4, 27), (12, 28), (16, 5), (12, 20), (5, 9), (14, 24), (19, 14), (22, 26), (1, 7), (13, 26), (2, 18), (10, 20), (5, 24), (1, 3), (11, 14), (22, 2), (14, 6), (16, 26), (13, 4), (21, 11), (5, 22), (3, 3), (20, 23), (20, 3), (14, 18), (22, 4), (13, 12), (15, 14), (4, 7), (19, 7), (7, 17), (21, 9), (19, 12), (10, 18), (21, 14), (17, 3), (19, 25), (9, 9), (15, 20), (11, 16), (7, 10), (5, 20), (10, 4), (16, 23), (1, 10), (17, 1), (10, 2), (1, 15), (10, 27), (3, 11), (9, 23), (8, 14), (12, 7), (2, 23), (16, 7), (3, 15), (9, 6), (14, 16), (19, 27), (9, 25), (18, 16), (6, 3), (4, 1), (2, 28), (3, 21), (5, 16), (3, 13), (8, 4)]),
    (2, 4, &[(11, 9), (5, 13), (19, 19), (14, 10), (4, 27), (16, 5), (12, 20), (5, 9), (14, 24), (19, 14), (2, 18), (10, 20), (5, 24), (11, 14), (14, 6), (13, 4), (21, 11), (5, 22), (20, 23), (14, 18), (4, 7), (19, 7), (7, 17), (19, 12), (10, 18), (9, 9), (5, 20), (10, 4), (10, 2), (10, 27), (12, 7)]),
    (2, 5, &[(11, 9), (5, 13), (19, 19), (14, 10), (4, 27), (16, 5), (12, 20), (5, 9), (14, 24), (19, 14), (2, 18), (5, 24), (11, 14), (21, 11), (20, 23), (19, 7), (7, 17)]),
    (3, 4, &[(11, 9), (5, 13), (19, 19), (14, 10), (16, 5), (12, 20), (5, 9), (14, 24), (19, 14), (5, 24), (11, 14), (13, 4), (20, 23), (19, 7), (7, 17), (5, 20), (10, 4)]),
    (4, 9, &[(11, 9), (5, 13), (19, 19), (16, 5), (12, 20), (19, 14)]),
    (5, 3, &[(11, 9), (5, 13), (16, 5), (12, 20), (5, 24), (11, 14), (18, 16)]),
    (0, 3, &[(11, 9), (5, 13), (19, 19), (14, 10), (23, 21), (23, 7), (4, 27), (12, 28), (16, 5), (12, 20), (5, 9), (13, 0), (14, 24), (19, 14), (22, 26), (6, 0), (1, 7), (0, 5), (13, 26), (2, 18), (0, 19), (10, 20), (5, 24), (1, 3), (11, 14), (22, 2), (14, 6), (16, 29), (16, 26), (13, 4), (21, 11), (5, 22), (3, 3), (20, 23), (20, 3), (14, 18), (22, 4), (13, 12), (15, 14), (4, 7), (19, 7), (7, 17), (21, 9), (19, 12), (0, 13), (10, 18), (21, 14), (17, 3), (19, 25), (15, 0), (9, 9), (15, 20), (11, 16), (7, 10), (5, 20), (10, 4), (23, 18), (16, 23), (1, 10), (17, 1), (10, 2), (0, 24), (1, 15), (7, 29), (1, 0), (10, 27), (3, 11), (9, 23), (8, 14), (12, 7), (2, 23), (16, 7), (3, 15), (9, 6), (14, 16), (19, 27), (9, 25), (18, 16), (6, 3), (4, 1), (2, 28), (0, 29), (3, 21), (5, 16), (3, 13), (8, 4)]),
  ];
}
