//! Grey-scale erosion / dilation / opening / closing / black top-hat with a flat disk or square:
//! `skimage.morphology.erosion` / `dilation` / `opening` / `closing` / `black_tophat`.
//!
//! **Borders.** skimage's default mode is `'reflect'`; for a symmetric footprint every reflected
//! sample lies inside the footprint clipped to the image, so out-of-image pixels never win: the
//! result is the min / max over the footprint clipped to the image.
//!
//! **Method.** Disks reuse `morphology::{erode_disk, dilate_disk}` (doubling tables over chords).
//! Squares are separable: a van Herk / Gil-Werman pass along X (two block scans and one pick per
//! pixel, any radius) then the same along Y over strips of columns, each line padded with copies
//! of its edge pixels (exact for the clipped window, which contains the edge pixel it copies).
//!
//! **NaN** (float images): scikit-image's result depends on the order ndimage visits the samples
//! (with a disk the pixel is NaN exactly when the first footprint sample is; with a square the
//! separable ring buffer drops or moves NaNs). We define it instead: NaN samples are ignored —
//! the min / max over the footprint's non-NaN samples, NaN only where every sample is NaN. The
//! golden case computes that with skimage on the image with NaN replaced by ±inf.

use rayon::prelude::*;

use super::{Footprint, Shape};
use crate::morphology::{dilate_disk, erode_disk, sub_in_dtype};
use crate::Element;
use stackbridge_core::cpu::Kernel;
use stackbridge_core::cpu_run;

/// Min or max, branch-free so loops vectorise.
pub(super) trait Pick: Send + Sync + 'static {
  const MIN: bool;
  fn pick<T: PartialOrd + Copy>(a: T, b: T) -> T;
}

pub(super) struct Min;
pub(super) struct Max;

impl Pick for Min {
  const MIN: bool = true;
  #[inline(always)]
  fn pick<T: PartialOrd + Copy>(a: T, b: T) -> T {
    if b < a {
      b
    } else {
      a
    }
  }
}

impl Pick for Max {
  const MIN: bool = false;
  #[inline(always)]
  fn pick<T: PartialOrd + Copy>(a: T, b: T) -> T {
    if b > a {
      b
    } else {
      a
    }
  }
}

/// The sliding min/max of window `2r + 1` over `line` (clipped at the ends) into `out`, with
/// scratch `ext` / `g` / `hb` of at least `line.len() + 2r` elements (van Herk / Gil-Werman).
#[inline(always)]
fn vhgw_line<T: Element, O: Pick>(line: &[T], r: usize, out: &mut [T], ext: &mut [T], g: &mut [T], hb: &mut [T]) {
  let n = line.len();
  let r = r.min(n - 1);
  if r == 0 {
    out.copy_from_slice(line);
    return;
  }
  let len = 2 * r + 1;
  let m = n + 2 * r;
  let (ext, g, hb) = (&mut ext[..m], &mut g[..m], &mut hb[..m]);
  ext[..r].fill(line[0]);
  ext[r..r + n].copy_from_slice(line);
  ext[r + n..].fill(line[n - 1]);
  // g: running pick from each block start; hb: from each block end backwards.
  for b0 in (0..m).step_by(len) {
    let b1 = (b0 + len).min(m);
    let mut acc = ext[b0];
    for i in b0..b1 {
      acc = O::pick(acc, ext[i]);
      g[i] = acc;
    }
    let mut acc = ext[b1 - 1];
    for i in (b0..b1).rev() {
      acc = O::pick(acc, ext[i]);
      hb[i] = acc;
    }
  }
  // The window ext[x ..= x + 2r] spans at most two blocks: hb[x] covers its part in x's block,
  // g[x + 2r] the rest (or the whole window when x starts a block).
  for (x, o) in out.iter_mut().enumerate() {
    *o = O::pick(hb[x], g[x + 2 * r]);
  }
}

/// Columns per strip of the vertical pass (gathered into contiguous lines).
const STRIP: usize = 16;

fn square<T: Element, O: Pick>(src: &[T], h: usize, w: usize, r: usize, out: &mut [T]) {
  if h == 0 || w == 0 {
    return;
  }
  let rx = r.min(w - 1);
  let ry = r.min(h - 1);
  // Along X, row by row.
  let mut tmp = vec![src[0]; h * w];
  tmp.par_chunks_mut(w).zip(src.par_chunks(w)).for_each_init(
    || vec![src[0]; 3 * (w + 2 * rx)],
    |scr, (o, row)| {
      let m = w + 2 * rx;
      let (ext, rest) = scr.split_at_mut(m);
      let (g, hb) = rest.split_at_mut(m);
      cpu_run!(Kernel::Morphology, vhgw_line::<T, O>(row, rx, o, ext, g, hb));
    },
  );
  // Along Y, a strip of columns at a time: gather the columns, filter, scatter.
  let strips: Vec<usize> = (0..w).step_by(STRIP).collect();
  let out_ptr = SendPtr(out.as_mut_ptr());
  strips.par_iter().for_each_init(
    || (vec![src[0]; h * STRIP], vec![src[0]; h * STRIP], vec![src[0]; 3 * (h + 2 * ry)]),
    |(cols, res, scr), &x0| {
      let x1 = (x0 + STRIP).min(w);
      for y in 0..h {
        for x in x0..x1 {
          cols[(x - x0) * h + y] = tmp[y * w + x];
        }
      }
      let m = h + 2 * ry;
      let (ext, rest) = scr.split_at_mut(m);
      let (g, hb) = rest.split_at_mut(m);
      for c in 0..x1 - x0 {
        cpu_run!(
          Kernel::Morphology,
          vhgw_line::<T, O>(&cols[c * h..(c + 1) * h], ry, &mut res[c * h..(c + 1) * h], ext, g, hb)
        );
      }
      let p = out_ptr;
      for y in 0..h {
        for x in x0..x1 {
          // SAFETY: strips cover disjoint columns, so no two tasks write the same element; the
          // index is inside `out` (h · w elements).
          unsafe { *p.0.add(y * w + x) = res[(x - x0) * h + y] };
        }
      }
    },
  );
}

#[derive(Clone, Copy)]
struct SendPtr<T>(*mut T);
unsafe impl<T> Send for SendPtr<T> {}
unsafe impl<T> Sync for SendPtr<T> {}

fn morph<T: Element, O: Pick>(src: &[T], h: usize, w: usize, fp: Footprint, out: &mut [T]) {
  if src.is_empty() {
    return;
  }
  let run = |s: &[T], o: &mut [T]| match fp.shape {
    Shape::Disk if O::MIN => erode_disk(s, h, w, fp.radius, o),
    Shape::Disk => dilate_disk(s, h, w, fp.radius, o),
    Shape::Square => square::<T, O>(s, h, w, fp.radius, o),
  };
  if T::DTYPE.is_float() && src.iter().any(|v| v.partial_cmp(v).is_none()) {
    // NaN ignored: it becomes the value that never wins, and comes back where every sample was NaN.
    let never = T::from_f64(if O::MIN { f64::INFINITY } else { f64::NEG_INFINITY });
    let filled: Vec<T> = src.par_iter().map(|&v| if v.partial_cmp(&v).is_none() { never } else { v }).collect();
    run(&filled, out);
    let nan: Vec<u8> = src.par_iter().map(|v| u8::from(v.partial_cmp(v).is_none())).collect();
    let mut all_nan = vec![0u8; nan.len()];
    match fp.shape {
      Shape::Disk => erode_disk(&nan, h, w, fp.radius, &mut all_nan),
      Shape::Square => square::<u8, Min>(&nan, h, w, fp.radius, &mut all_nan),
    }
    out.par_iter_mut().zip(all_nan.par_iter()).for_each(|(o, &a)| {
      if a == 1 {
        *o = T::from_f64(f64::NAN);
      }
    });
  } else {
    run(src, out);
  }
}

/// `skimage.morphology.erosion(plane, footprint)`: the min over the footprint clipped to the plane
/// (see the module doc for borders and NaN). `src`, `out`: `h · w` row-major.
pub fn erode_plane<T: Element>(src: &[T], h: usize, w: usize, fp: Footprint, out: &mut [T]) {
  morph::<T, Min>(src, h, w, fp, out)
}

/// `skimage.morphology.dilation(plane, footprint)`: the max over the (symmetric) footprint clipped to the plane.
pub fn dilate_plane<T: Element>(src: &[T], h: usize, w: usize, fp: Footprint, out: &mut [T]) {
  morph::<T, Max>(src, h, w, fp, out)
}

/// `skimage.morphology.opening`: erosion then dilation.
pub fn opening_plane<T: Element>(src: &[T], h: usize, w: usize, fp: Footprint, out: &mut [T]) {
  let mut t = src.to_vec();
  erode_plane(src, h, w, fp, &mut t);
  dilate_plane(&t, h, w, fp, out);
}

/// `skimage.morphology.closing`: dilation then erosion.
pub fn closing_plane<T: Element>(src: &[T], h: usize, w: usize, fp: Footprint, out: &mut [T]) {
  let mut t = src.to_vec();
  dilate_plane(src, h, w, fp, &mut t);
  erode_plane(&t, h, w, fp, out);
}

/// `skimage.morphology.black_tophat`: closing − image in the dtype (never negative for integers:
/// the closing is at least the image; IEEE for floats).
pub fn black_tophat_plane<T: Element>(src: &[T], h: usize, w: usize, fp: Footprint, out: &mut [T]) {
  closing_plane(src, h, w, fp, out);
  out
    .par_iter_mut()
    .zip(src.par_iter())
    .with_min_len(4096)
    .for_each(|(o, &s)| *o = sub_in_dtype(*o, s));
}
