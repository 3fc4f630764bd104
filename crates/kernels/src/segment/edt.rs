//! Exact Euclidean distance transform (Meijster, Roerdink & Hesselink 2000), integer arithmetic.

use super::check_plane;
use rayon::prelude::*;

/// "No background pixel in this column".
const INF: u32 = u32::MAX;

/// `scipy.ndimage.distance_transform_edt(mask)`: for every true pixel the Euclidean distance to
/// the nearest false pixel, 0 on false pixels. Squared distances are exact integers (Meijster's
/// separable algorithm: a column pass, then the lower envelope of parabolas per row, both in
/// integers); the output is their square root rounded to f32 (the correctly rounded f32 of scipy's
/// float64 value).
///
/// A mask with no false pixel: scipy measures every pixel against the virtual background pixel
/// `(-1, 0)` (an artefact of its feature transform), i.e. `sqrt((y + 1)² + x²)`; that is
/// reproduced. Empty planes do nothing.
///
/// # Panics
/// If `mask.len()` or `out.len()` is not `h * w`.
pub fn distance_transform_edt(mask: &[bool], h: usize, w: usize, out: &mut [f32]) {
  check_plane("distance_transform_edt mask", mask.len(), h, w);
  check_plane("distance_transform_edt out", out.len(), h, w);
  if mask.is_empty() {
    return;
  }
  if !mask.par_iter().any(|&b| !b) {
    all_foreground(out, w);
    return;
  }
  // Phase 1 leaves the integer column distances in `out` itself (as f32 bit patterns), which
  // saves a plane-sized allocation; phase 2 copies each row out before overwriting it.
  column_distances(mask, h, w, out);
  out.par_chunks_mut(w).zip(mask.par_chunks(w)).for_each_init(
    || (Vec::with_capacity(w), Vec::with_capacity(w), Vec::with_capacity(w)),
    |(g, s, t), (row, m)| {
      g.clear();
      g.extend(row.iter().map(|v| v.to_bits()));
      row_pass(g, m, row, s, t);
    },
  );
}

/// Phase 2 for one row, restricted to where it matters: background pixels are 0, and for a
/// foreground run `[x0, x1)` of length `L` the nearest background is at most `L` away along the
/// row (at `x0 - 1` or `x1`), so the minimising column lies in `[x0 - L, x1 + L)`; the envelope is
/// built over that window only. A run spanning the whole row uses the whole row.
fn row_pass(g: &[u32], mask: &[bool], out: &mut [f32], s: &mut Vec<usize>, t: &mut Vec<usize>) {
  let w = g.len();
  out.fill(0.0);
  let mut x = 0;
  while let Some(p) = mask[x..].iter().position(|&b| b) {
    let x0 = x + p;
    let x1 = mask[x0..].iter().position(|&b| !b).map_or(w, |q| x0 + q);
    let len = x1 - x0;
    let (lo, hi) = if x0 == 0 && x1 == w { (0, w) } else { (x0.saturating_sub(len), (x1 + len).min(w)) };
    row_envelope(&g[lo..hi], x0 - lo, x1 - lo, &mut out[x0..x1], s, t);
    x = x1;
  }
}

/// scipy's result for a mask without background: distances to `(-1, 0)`.
fn all_foreground(out: &mut [f32], w: usize) {
  out.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
    let dy = (y as u64 + 1).pow(2);
    for (x, o) in row.iter_mut().enumerate() {
      *o = sqrt_f32(dy + (x as u64).pow(2));
    }
  });
}

/// Correctly rounded f32 square root of an integer (via f64, whose rounding then f32's cannot
/// double-round wrongly for a square root).
#[inline]
fn sqrt_f32(d2: u64) -> f32 {
  (d2 as f64).sqrt() as f32
}

/// Column strips of at least this many pixels are swept by one task.
const STRIP: usize = 256;

/// Phase 1: per column, the distance to the nearest false pixel in that column (`INF` if none),
/// written into `g` as the bit patterns of the u32 values. Two sweeps over the rows of a strip of
/// columns, so the inner loops are contiguous and vectorise; strips run in parallel.
fn column_distances(mask: &[bool], h: usize, w: usize, g: &mut [f32]) {
  let strip = w.div_ceil(rayon::current_num_threads().max(1)).clamp(STRIP.min(w), w);
  // Per strip, its piece of every row (disjoint &mut slices, so the strips can run in parallel).
  let mut strips: Vec<Vec<&mut [f32]>> = (0..w.div_ceil(strip)).map(|_| Vec::with_capacity(h)).collect();
  for row in g.chunks_mut(w) {
    for (k, piece) in row.chunks_mut(strip).enumerate() {
      strips[k].push(piece);
    }
  }
  let bits = f32::from_bits;
  strips.into_par_iter().enumerate().for_each(|(k, mut rows)| {
    let x0 = k * strip;
    let m = |y: usize, len: usize| &mask[y * w + x0..y * w + x0 + len];
    let len = rows[0].len();
    for (d, &b) in rows[0].iter_mut().zip(m(0, len)) {
      *d = bits(if b { INF } else { 0 });
    }
    for y in 1..h {
      let (prev, cur) = rows.split_at_mut(y);
      let prev = &prev[y - 1];
      for ((d, &p), &b) in cur[0].iter_mut().zip(prev.iter()).zip(m(y, len)) {
        *d = bits(if b { p.to_bits().saturating_add(1) } else { 0 });
      }
    }
    for y in (0..h - 1).rev() {
      let (cur, next) = rows.split_at_mut(y + 1);
      for (d, &n) in cur[y].iter_mut().zip(next[0].iter()) {
        *d = bits(d.to_bits().min(n.to_bits().saturating_add(1)));
      }
    }
  });
}

/// Meijster's phase 2 on a window of a row: `out[x - e0] = sqrt(min_i (x - i)² + g[i]²)` for
/// `x` in `[e0, e1)`, over the columns `i` of the window with a finite `g[i]`, via the lower
/// envelope of their parabolas (`s`: apices, `t`: where each takes over). Integer arithmetic
/// throughout. The window must hold at least one finite `g` (it does: see [`row_pass`]).
fn row_envelope(g: &[u32], e0: usize, e1: usize, out: &mut [f32], s: &mut Vec<usize>, t: &mut Vec<usize>) {
  let w = g.len();
  let gi = |i: usize| g[i] as i64;
  let f = |x: usize, i: usize| {
    let d = x as i64 - i as i64;
    d * d + gi(i) * gi(i)
  };
  s.clear();
  t.clear();
  for u in (0..w).filter(|&u| g[u] != INF) {
    while let (Some(&sq), Some(&tq)) = (s.last(), t.last()) {
      if f(tq, sq) > f(tq, u) {
        s.pop();
        t.pop();
      } else {
        break;
      }
    }
    match s.last() {
      None => {
        s.push(u);
        t.push(0);
      }
      Some(&sq) => {
        // First column where u is strictly closer than sq: floor(sep) + 1.
        let num = (u * u) as i64 - (sq * sq) as i64 + gi(u) * gi(u) - gi(sq) * gi(sq);
        let start = num.div_euclid(2 * (u - sq) as i64) + 1;
        if start < w as i64 {
          s.push(u);
          t.push(start as usize);
        }
      }
    }
  }
  let mut q = s.len();
  for x in (e0..e1).rev() {
    while q > 1 && t[q - 1] > x {
      q -= 1;
    }
    out[x - e0] = sqrt_f32(f(x, s[q - 1]) as u64);
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::segment::test_util::xorshift_unit;

  /// O(N²) oracle: squared distance from each pixel to the nearest false pixel.
  fn brute_d2(mask: &[bool], h: usize, w: usize) -> Vec<u64> {
    let bg: Vec<(i64, i64)> =
      (0..h * w).filter(|&p| !mask[p]).map(|p| ((p / w) as i64, (p % w) as i64)).collect();
    (0..h * w)
      .map(|p| {
        let (y, x) = ((p / w) as i64, (p % w) as i64);
        bg.iter().map(|&(by, bx)| ((y - by).pow(2) + (x - bx).pow(2)) as u64).min().unwrap()
      })
      .collect()
  }

  fn edt(mask: &[bool], h: usize, w: usize) -> Vec<f32> {
    let mut out = vec![-1.0; h * w];
    distance_transform_edt(mask, h, w, &mut out);
    out
  }

  #[test]
  fn matches_brute_force_exactly() {
    let cases = [(1, 1, 0.5), (1, 30, 0.9), (30, 1, 0.9), (17, 23, 0.5), (40, 40, 0.97), (64, 48, 0.995), (5, 90, 0.8)];
    for (k, (h, w, p)) in cases.into_iter().enumerate() {
      for seed in 0..4u64 {
        let mut mask: Vec<bool> = xorshift_unit(h * w, 1 + seed * 31 + k as u64).iter().map(|&u| u < p).collect();
        if mask.iter().all(|&b| b) {
          mask[(seed as usize * 7) % (h * w)] = false;
        }
        let got = edt(&mask, h, w);
        let want = brute_d2(&mask, h, w);
        for (i, (&d, &d2)) in got.iter().zip(&want).enumerate() {
          // The f32 is the rounded root of an exact integer: squaring recovers it exactly here.
          assert_eq!((d as f64 * d as f64).round() as u64, d2, "case {k} seed {seed} pixel {i}");
          assert_eq!(d, (d2 as f64).sqrt() as f32);
        }
      }
    }
  }

  #[test]
  fn hand_case() {
    // One background pixel in the middle of a 3x5 plane.
    let mut m = vec![true; 15];
    m[7] = false;
    #[rustfmt::skip]
    let d2 = [5u64, 2, 1, 2, 5,
              4, 1, 0, 1, 4,
              5, 2, 1, 2, 5];
    let want: Vec<f32> = d2.iter().map(|&v| (v as f64).sqrt() as f32).collect();
    assert_eq!(edt(&m, 3, 5), want);
  }

  #[test]
  fn no_background_follows_scipy() {
    // scipy.ndimage.distance_transform_edt(np.ones((3, 4), bool)) ** 2 ==
    // [[1, 2, 5, 10], [4, 5, 8, 13], [9, 10, 13, 18]]
    let d2 = [1u64, 2, 5, 10, 4, 5, 8, 13, 9, 10, 13, 18];
    let want: Vec<f32> = d2.iter().map(|&v| (v as f64).sqrt() as f32).collect();
    assert_eq!(edt(&[true; 12], 3, 4), want);
    assert_eq!(edt(&[true], 1, 1), vec![1.0]);
    assert_eq!(edt(&[false; 4], 2, 2), vec![0.0; 4]);
    distance_transform_edt(&[], 0, 7, &mut []);
  }
}
