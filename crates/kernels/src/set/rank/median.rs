//! Median over a flat disk or square: `skimage.filters.median(plane, footprint)`, which is
//! `scipy.ndimage.median_filter(plane, footprint=footprint, mode='nearest')` — the `N // 2`-th
//! order statistic of the `N` footprint samples, the border extended with the edge value — for
//! every dtype, exactly.
//!
//! **Method.** Footprints of at most [`NETWORK_MAX`] samples (disk up to r = 4, square up to
//! r = 3): a pruned Batcher odd-even merge selection network, run lane-wise over blocks of a row
//! (each footprint sample a contiguous shifted copy of a source row), so every comparator is a
//! vector min and max — about 130 min/max per pixel for disk(3), a few cycles per pixel.
//! Larger footprints: Huang's sliding histogram, snaking through bands of rows (one chord in and
//! one out per step), over the values themselves for uint8 / uint16 and over the ranks of the
//! plane's distinct values otherwise, with a coarse level of 2^s-bin counts for the query.
//!
//! **NaN** (float images): scipy selects with a quickselect whose comparisons treat NaN
//! inconsistently, so its result is an order-dependent but deterministic number. Pixels whose
//! footprint holds a NaN are recomputed with the same selection (`NI_Select` on the samples
//! gathered in scipy's order), so they equal scipy's result too; the others never see a NaN.

use rayon::prelude::*;
use std::cmp::Ordering;

use super::Footprint;
use crate::Element;
use stackbridge_core::cpu::Kernel;
use stackbridge_core::cpu_run;

/// Largest footprint handled by the selection network.
pub const NETWORK_MAX: usize = 64;

/// `skimage.filters.median(plane, footprint)` (see the module doc). `src`, `out`: `h · w` row-major.
pub fn median_plane<T: Element>(src: &[T], h: usize, w: usize, fp: Footprint, out: &mut [T]) {
  if src.is_empty() {
    return;
  }
  let n = fp.count();
  if n == 1 {
    out.copy_from_slice(src);
    return;
  }
  if n <= NETWORK_MAX {
    median_network(src, h, w, fp, out);
  } else {
    median_huang(src, h, w, fp, out);
  }
  if T::DTYPE.is_float() {
    fix_nan_windows(src, h, w, fp, out);
  }
}

#[inline(always)]
fn is_nan<T: PartialOrd>(v: &T) -> bool {
  v.partial_cmp(v).is_none()
}

/// One comparator of the network: wires `a < b`; which outputs are used later.
#[derive(Clone, Copy, Debug)]
struct Cmp {
  a: u16,
  b: u16,
  min: bool,
  max: bool,
}

/// Batcher's odd-even merge sort for `n` wires (as for the next power of two, dropping
/// comparators that touch a wire ≥ n: those wires would hold +∞ and never move), pruned to what
/// wire `k` (the `k`-th smallest) depends on.
fn selection_network(n: usize, k: usize) -> Vec<Cmp> {
  let m = n.next_power_of_two();
  let mut all = Vec::new();
  let mut p = 1;
  while p < m {
    let mut kk = p;
    while kk >= 1 {
      let mut j = kk % p;
      while j + kk < m {
        for i in 0..kk.min(m - j - kk) {
          if (i + j) / (2 * p) == (i + j + kk) / (2 * p) {
            let (a, b) = (i + j, i + j + kk);
            if b < n {
              all.push((a, b));
            }
          }
        }
        j += 2 * kk;
      }
      kk /= 2;
    }
    p *= 2;
  }
  let mut need = vec![false; n];
  need[k] = true;
  let mut kept = Vec::new();
  for &(a, b) in all.iter().rev() {
    if need[a] || need[b] {
      kept.push(Cmp {
        a: a as u16,
        b: b as u16,
        min: need[a],
        max: need[b],
      });
      need[a] = true;
      need[b] = true;
    }
  }
  kept.reverse();
  kept
}

/// Pixels per block of the network pass: 256 bytes of each wire.
const BLOCK_BYTES: usize = 256;

#[inline(always)]
fn run_network<T: Element, const B: usize>(net: &[Cmp], wires: &mut [[T; B]]) {
  for c in net {
    let (lo, hi) = wires.split_at_mut(c.b as usize);
    let (x, y) = (&mut lo[c.a as usize], &mut hi[0]);
    match (c.min, c.max) {
      (true, true) => {
        for l in 0..B {
          let (p, q) = (x[l], y[l]);
          x[l] = if q < p { q } else { p };
          y[l] = if q < p { p } else { q };
        }
      }
      (true, false) => {
        for l in 0..B {
          let (p, q) = (x[l], y[l]);
          x[l] = if q < p { q } else { p };
        }
      }
      _ => {
        for l in 0..B {
          let (p, q) = (x[l], y[l]);
          y[l] = if q < p { p } else { q };
        }
      }
    }
  }
}

/// Output rows `y0..` (in `rows`) by the network, one block of `B` pixels at a time.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn network_rows<T: Element, const B: usize>(
  src: &[T],
  h: usize,
  w: usize,
  offs: &[(isize, isize)],
  rx: usize,
  net: &[Cmp],
  k: usize,
  y0: usize,
  rows: &mut [T],
  wires: &mut Vec<[T; B]>,
) {
  wires.resize(offs.len(), [src[0]; B]);
  for (i, orow) in rows.chunks_exact_mut(w).enumerate() {
    let y = (y0 + i) as isize;
    let mut x0 = 0;
    while x0 < w {
      let nb = B.min(w - x0);
      let inner = x0 >= rx && x0 + B + rx <= w;
      for (wire, &(dy, dx)) in wires.iter_mut().zip(offs) {
        let sy = (y + dy).clamp(0, h as isize - 1) as usize;
        let srow = &src[sy * w..(sy + 1) * w];
        if inner {
          let s = (x0 as isize + dx) as usize;
          wire.copy_from_slice(&srow[s..s + B]);
        } else {
          for (l, v) in wire.iter_mut().enumerate() {
            *v = srow[(x0 as isize + l as isize + dx).clamp(0, w as isize - 1) as usize];
          }
        }
      }
      run_network::<T, B>(net, wires);
      orow[x0..x0 + nb].copy_from_slice(&wires[k][..nb]);
      x0 += nb;
    }
  }
}

fn median_network<T: Element>(src: &[T], h: usize, w: usize, fp: Footprint, out: &mut [T]) {
  let offs = fp.offsets();
  let k = offs.len() / 2;
  let net = selection_network(offs.len(), k);
  let rx = fp.half_width(0);
  const ROWS: usize = 8;
  #[inline(always)]
  #[allow(clippy::too_many_arguments)]
  fn go<T: Element, const B: usize>(src: &[T], h: usize, w: usize, offs: &[(isize, isize)], rx: usize, net: &[Cmp], k: usize, out: &mut [T]) {
    out.par_chunks_mut(ROWS * w).enumerate().for_each_init(Vec::<[T; B]>::new, |wires, (i, rows)| {
      cpu_run!(Kernel::Morphology, network_rows::<T, B>(src, h, w, offs, rx, net, k, i * ROWS, rows, wires));
    });
  }
  match std::mem::size_of::<T>() {
    1 => go::<T, { BLOCK_BYTES }>(src, h, w, &offs, rx, &net, k, out),
    2 => go::<T, { BLOCK_BYTES / 2 }>(src, h, w, &offs, rx, &net, k, out),
    4 => go::<T, { BLOCK_BYTES / 4 }>(src, h, w, &offs, rx, &net, k, out),
    _ => go::<T, { BLOCK_BYTES / 8 }>(src, h, w, &offs, rx, &net, k, out),
  }
}

/// Total order for ranking: NaN last (only its rank matters; NaN windows are redone anyway).
fn total<T: PartialOrd>(a: &T, b: &T) -> Ordering {
  a.partial_cmp(b).unwrap_or_else(|| is_nan(a).cmp(&is_nan(b)))
}

/// Large footprints: Huang's sliding histogram over keys (values for 8/16-bit, ranks otherwise).
fn median_huang<T: Element>(src: &[T], h: usize, w: usize, fp: Footprint, out: &mut [T]) {
  let (keys, values): (Vec<u32>, Vec<T>) = match T::DTYPE {
    stackbridge_core::DType::U8 | stackbridge_core::DType::U16 => {
      let d = if T::DTYPE == stackbridge_core::DType::U8 { 256 } else { 65536 };
      (
        src.par_iter().map(|v| v.to_i64() as u32).collect(),
        (0..d).map(|v| T::from_f64(v as f64)).collect(),
      )
    }
    _ => {
      let n = src.len();
      let mut order: Vec<u32> = (0..n as u32).collect();
      order.par_sort_unstable_by(|&a, &b| total(&src[a as usize], &src[b as usize]));
      let mut keys = vec![0u32; n];
      let mut values: Vec<T> = Vec::new();
      for &i in &order {
        let v = src[i as usize];
        if values.last().is_none_or(|last| total(last, &v) != Ordering::Equal) {
          values.push(v);
        }
        keys[i as usize] = values.len() as u32 - 1;
      }
      (keys, values)
    }
  };
  let d = values.len();
  let shift = ((d as f64).sqrt().log2().ceil() as u32).max(2);
  let r = fp.radius;
  let hws = fp.half_widths();
  let k = (fp.count() / 2) as u32;
  let bands = (rayon::current_num_threads() * 2).max(1);
  let band = h.div_ceil(bands).max(1);
  let ri = r as isize;
  out.par_chunks_mut(band * w).enumerate().for_each(|(bi, ob)| {
    let mut hist = Histogram::new(d, shift);
    let y0 = bi * band;
    let rows = ob.len() / w;
    let at = |y: isize, x: isize| keys[y.clamp(0, h as isize - 1) as usize * w + x.clamp(0, w as isize - 1) as usize];
    for dy in -ri..=ri {
      let hw = hws[dy.unsigned_abs()] as isize;
      for dx in -hw..=hw {
        hist.add(at(y0 as isize + dy, dx));
      }
    }
    for i in 0..rows {
      let y = (y0 + i) as isize;
      let forward = i % 2 == 0;
      let mut x: isize = if forward { 0 } else { w as isize - 1 };
      loop {
        ob[i * w + x as usize] = values[hist.kth(k) as usize];
        let next = if forward { x + 1 } else { x - 1 };
        if next < 0 || next >= w as isize {
          break;
        }
        for dy in -ri..=ri {
          let hw = hws[dy.unsigned_abs()] as isize;
          let (gone, new) = if forward { (x - hw, next + hw) } else { (x + hw, next - hw) };
          hist.remove(at(y + dy, gone));
          hist.add(at(y + dy, new));
        }
        x = next;
      }
      if i + 1 < rows {
        // One row down at column x: the footprint is symmetric, so the vertical chord at column
        // offset dx has half-height hws[|dx|].
        let rx = hws[0] as isize;
        for dx in -rx..=rx {
          let hh = vertical_half_height(&hws, dx.unsigned_abs()) as isize;
          hist.remove(at(y - hh, x + dx));
          hist.add(at(y + 1 + hh, x + dx));
        }
      }
    }
  });
}

/// The half-height of the footprint's column at offset `dx`: the largest `d` with `hws[d] ≥ dx`.
fn vertical_half_height(hws: &[usize], dx: usize) -> usize {
  hws.iter().rposition(|&hw| hw >= dx).unwrap_or(0)
}

/// Counts per key plus counts per block of `2^shift` keys.
struct Histogram {
  fine: Vec<u32>,
  coarse: Vec<u32>,
  shift: u32,
}

impl Histogram {
  fn new(d: usize, shift: u32) -> Self {
    Histogram {
      fine: vec![0; d],
      coarse: vec![0; (d >> shift) + 1],
      shift,
    }
  }

  #[inline]
  fn add(&mut self, v: u32) {
    self.fine[v as usize] += 1;
    self.coarse[(v >> self.shift) as usize] += 1;
  }

  #[inline]
  fn remove(&mut self, v: u32) {
    self.fine[v as usize] -= 1;
    self.coarse[(v >> self.shift) as usize] -= 1;
  }

  /// The `k`-th smallest key in the window (0-based).
  fn kth(&self, mut k: u32) -> u32 {
    let mut b = 0;
    while self.coarse[b] <= k {
      k -= self.coarse[b];
      b += 1;
    }
    let mut v = b << self.shift;
    while self.fine[v] <= k {
      k -= self.fine[v];
      v += 1;
    }
    v as u32
  }
}

/// scipy's `NI_Select` (Hoare partition quickselect on doubles, the same comparisons in the same
/// order), so windows holding NaN get scipy's value.
#[allow(clippy::neg_cmp_op_on_partial_ord)] // `!(a > b)` is scipy's comparison with NaN
fn ni_select(buf: &mut [f64], mut min: usize, mut max: usize, mut rank: usize) -> f64 {
  loop {
    if min == max {
      return buf[min];
    }
    let x = buf[min];
    let mut ii = min as isize - 1;
    let mut jj = max as isize + 1;
    loop {
      loop {
        jj -= 1;
        if !(buf[jj as usize] > x) {
          break;
        }
      }
      loop {
        ii += 1;
        if !(buf[ii as usize] < x) {
          break;
        }
      }
      if ii < jj {
        buf.swap(ii as usize, jj as usize);
      } else {
        break;
      }
    }
    let jj = jj as usize;
    let left = jj - min + 1;
    if rank < left {
      max = jj;
    } else {
      min = jj + 1;
      rank -= left;
    }
  }
}

/// Recomputes, with scipy's selection, the pixels whose footprint (nearest-extended) holds a NaN.
fn fix_nan_windows<T: Element>(src: &[T], h: usize, w: usize, fp: Footprint, out: &mut [T]) {
  if !src.par_iter().any(|v| is_nan(v)) {
    return;
  }
  // A clamped sample lies inside the footprint clipped to the plane, so "the window holds a NaN"
  // is the dilation of the NaN mask by the footprint.
  let nan: Vec<u8> = src.par_iter().map(|v| u8::from(is_nan(v))).collect();
  let mut hit = vec![0u8; nan.len()];
  super::dilate_plane(&nan, h, w, fp, &mut hit);
  let offs = fp.offsets();
  let k = offs.len() / 2;
  out.par_chunks_mut(w).zip(hit.par_chunks(w)).enumerate().for_each_init(
    || Vec::with_capacity(offs.len()),
    |buf, (y, (orow, hrow))| {
      for x in 0..w {
        if hrow[x] == 0 {
          continue;
        }
        buf.clear();
        buf.extend(offs.iter().map(|&(dy, dx)| {
          let sy = (y as isize + dy).clamp(0, h as isize - 1) as usize;
          let sx = (x as isize + dx).clamp(0, w as isize - 1) as usize;
          src[sy * w + sx].to_f64()
        }));
        let n = buf.len();
        orow[x] = T::from_f64(ni_select(buf, 0, n - 1, k));
      }
    },
  );
}

#[cfg(test)]
pub(super) mod tests_api {
  /// The pruned network as (a, b) pairs (both outputs computed), for the tests.
  pub fn network(n: usize, k: usize) -> Vec<(usize, usize)> {
    super::selection_network(n, k).iter().map(|c| (c.a as usize, c.b as usize)).collect()
  }
}
