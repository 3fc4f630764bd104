//! Mean over a flat square or disk, in the input dtype.
//!
//! **Square**: exactly `scipy.ndimage.uniform_filter(plane, 2r + 1, mode='reflect')`: a 1-D pass
//! along Y then one along X, each written to the input dtype in between (integers truncated
//! toward zero, as scipy's C cast does), each a running sum in f64 over the reflect-extended line
//! updated as `sum += new − old` and divided by `2r + 1` — the same operations in the same order
//! as scipy's `NI_UniformFilter1D`, so results are bit-identical for every dtype, including its
//! NaN behaviour (a NaN or an infinity entering the running sum makes the rest of that line NaN).
//!
//! **Disk**: the mean over `disk(r)` with the same reflect border (oracle:
//! `ndi.correlate(x.astype(float64), disk / disk.sum(), mode='reflect')`), then cast like scipy's
//! integer output (truncation toward zero). Computed as chord sums: for each row offset the sum of
//! a `2·hw + 1` window along the reflected row, by block prefix / suffix sums (van Herk style, so
//! a NaN or an infinity only reaches the windows that contain it, as in the correlation), added
//! over the chords in f64 and divided by the sample count. Integer sums are exact (up to 2^53);
//! float results differ from the correlation's weighted sum by rounding only.

use rayon::prelude::*;

use crate::gaussian::{border_index, BorderMode};
use crate::morphology::chord_half_width;
use crate::Element;
use stackbridge_core::cpu::Kernel;
use stackbridge_core::cpu_run;

/// Reflect-extended index (scipy's `'reflect'`, periodic for any extension).
#[inline(always)]
fn refl(i: isize, n: usize) -> usize {
  border_index(i, n, BorderMode::Reflect)
}

/// `scipy.ndimage.uniform_filter(plane, size=2r+1, mode='reflect')` for a `h · w` plane (see the module doc).
pub fn mean_square_plane<T: Element>(src: &[T], h: usize, w: usize, r: usize, out: &mut [T]) {
  if src.is_empty() {
    return;
  }
  if r == 0 {
    // scipy skips axes of size 1: a copy.
    out.copy_from_slice(src);
    return;
  }
  let size = 2 * r + 1;
  let fsize = size as f64;
  // Axis 0: every column's running sum, a row vector at a time (the same per-column operations
  // as scipy, vectorised across columns), in strips of columns for parallelism.
  let mut tmp = vec![src[0]; h * w];
  const COLS: usize = 256;
  let tptr = SendPtr(tmp.as_mut_ptr());
  let strips: Vec<usize> = (0..w).step_by(COLS).collect();
  strips.par_iter().for_each_init(
    || vec![0f64; COLS],
    |acc, &x0| {
      let x1 = (x0 + COLS).min(w);
      let acc = &mut acc[..x1 - x0];
      let row = |e: isize| &src[refl(e - r as isize, h) * w + x0..refl(e - r as isize, h) * w + x1];
      acc.fill(0.0);
      for e in 0..size as isize {
        for (a, &v) in acc.iter_mut().zip(row(e)) {
          *a += v.to_f64();
        }
      }
      let p = tptr;
      let put = |y: usize, acc: &[f64]| {
        for (i, &a) in acc.iter().enumerate() {
          // SAFETY: strips are disjoint column ranges of `tmp`.
          unsafe { *p.0.add(y * w + x0 + i) = T::from_f64(a / fsize) };
        }
      };
      put(0, acc);
      for y in 1..h {
        let (new, old) = (row((y + size - 1) as isize), row(y as isize - 1));
        cpu_run!(Kernel::Gaussian, {
          for ((a, &n), &o) in acc.iter_mut().zip(new).zip(old) {
            *a += n.to_f64() - o.to_f64();
          }
        });
        put(y, acc);
      }
    },
  );
  // Axis 1: each row's running sum.
  out.par_chunks_mut(w).zip(tmp.par_chunks(w)).for_each_init(
    || vec![0f64; w + 2 * r],
    |ext, (o, row)| {
      for (i, e) in ext.iter_mut().enumerate() {
        *e = row[refl(i as isize - r as isize, w)].to_f64();
      }
      let mut acc = 0.0;
      for &v in &ext[..size] {
        acc += v;
      }
      o[0] = T::from_f64(acc / fsize);
      for x in 1..w {
        acc += ext[x + size - 1] - ext[x - 1];
        o[x] = T::from_f64(acc / fsize);
      }
    },
  );
}

#[derive(Clone, Copy)]
struct SendPtr<T>(*mut T);
unsafe impl<T> Send for SendPtr<T> {}
unsafe impl<T> Sync for SendPtr<T> {}

/// Window sums of length `2·hw + 1` centred on each pixel of `ext` (the row extended by `hw` on
/// each side) into `out` (`ext.len() − 2·hw` entries), by block prefix / suffix sums.
#[inline(always)]
fn window_sums(ext: &[f64], hw: usize, out: &mut [f64], g: &mut [f64], hb: &mut [f64]) {
  let m = ext.len();
  let len = 2 * hw + 1;
  if hw == 0 {
    out.copy_from_slice(ext);
    return;
  }
  for b0 in (0..m).step_by(len) {
    let b1 = (b0 + len).min(m);
    let mut acc = 0.0;
    for i in b0..b1 {
      acc += ext[i];
      g[i] = acc;
    }
    let mut acc = 0.0;
    for i in (b0..b1).rev() {
      acc += ext[i];
      hb[i] = acc;
    }
  }
  for (x, o) in out.iter_mut().enumerate() {
    // Window ext[x ..= x + 2hw]: the suffix of x's block plus the prefix of the next up to x + 2hw
    // (when x starts a block, the window is that whole block: hb[x] alone).
    *o = if x % len == 0 { hb[x] } else { hb[x] + g[x + 2 * hw] };
  }
}

/// The mean over `disk(r)` with reflect borders, cast to `T` (see the module doc).
pub fn mean_disk_plane<T: Element>(src: &[T], h: usize, w: usize, r: usize, out: &mut [T]) {
  if src.is_empty() {
    return;
  }
  let hws: Vec<usize> = (0..=r).map(|d| chord_half_width(r, d)).collect();
  let count: usize = hws.iter().enumerate().map(|(d, &hw)| (2 * hw + 1) * if d == 0 { 1 } else { 2 }).sum();
  let n = count as f64;
  let ri = r as isize;
  out.par_chunks_mut(w).enumerate().for_each_init(
    || {
      (
        vec![0f64; w],
        vec![0f64; w + 2 * r],
        vec![0f64; w + 2 * r],
        vec![0f64; w + 2 * r],
        vec![0f64; w],
      )
    },
    |(acc, ext, g, hb, sums), (y, o)| {
      acc.fill(0.0);
      for dy in -ri..=ri {
        let hw = hws[dy.unsigned_abs()];
        let row = &src[refl(y as isize + dy, h) * w..][..w];
        let m = w + 2 * hw;
        for (i, e) in ext[..m].iter_mut().enumerate() {
          *e = row[refl(i as isize - hw as isize, w)].to_f64();
        }
        window_sums(&ext[..m], hw, sums, &mut g[..m], &mut hb[..m]);
        for (a, &s) in acc.iter_mut().zip(sums.iter()) {
          *a += s;
        }
      }
      for (o, &a) in o.iter_mut().zip(acc.iter()) {
        *o = T::from_f64(a / n);
      }
    },
  );
}
