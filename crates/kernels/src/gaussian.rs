//! Separable Gaussian filtering as `scipy.ndimage` computes it: the `gaussian` processor (DESIGN §7),
//! and the float-plane helpers used by sharpening and blob detection (`gaussian_filter`,
//! `gaussian_laplace`).
//!
//! Every 2-D filter here is a vertical (axis 0) pass followed by a horizontal (axis 1) pass, over
//! bands of rows processed in parallel (rayon). Two arithmetics:
//! - exact (the `gaussian` processor, `gaussian_plane_f32`): f64 in scipy's own summation order,
//!   the intermediate stored in the data type as scipy stores it, so results are scipy's bit for bit
//!   (up to last-bit differences of the kernel taps);
//! - fast (Laplacian, blob scale spaces, `correlate_axis*`): f32 with FMA, register-blocked.

use crate::image::Dims;
use rayon::prelude::*;
use stackbridge_core::cpu::Kernel;
use stackbridge_core::cpu_run;
use stackbridge_core::{DType, Element, SbError, SbResult};
use std::ops::{Add, Mul, Sub};

/// How a 1-D line is extended past its ends (the `scipy.ndimage` mode of the same name).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum BorderMode {
  /// `'reflect'`: `d c b a | a b c d | d c b a` (the edge is repeated).
  Reflect,
  /// `'mirror'`: `d c b | a b c d | c b a` (the edge is not repeated).
  Mirror,
  /// `'nearest'`: `a a a | a b c d | d d d`.
  Nearest,
}

/// The largest kernel radius accepted (`int(4σ + 0.5)`, so σ up to about 16 383). Beyond it the
/// kernel alone would take megabytes and the filter hours; the processors reject such a sigma with
/// `InvalidArgumentError` and the plane helpers clamp to it.
pub const MAX_RADIUS: usize = 1 << 16;

/// Where index `i` of the extended line lands in a line of `n` samples (`n > 0`). Extensions of any
/// length are periodic, as scipy's `NI_ExtendLine`: period `2n` for reflect, `2n - 2` for mirror.
#[inline]
pub fn border_index(i: isize, n: usize, mode: BorderMode) -> usize {
  debug_assert!(n > 0);
  let n_i = n as isize;
  if i >= 0 && i < n_i {
    return i as usize;
  }
  match mode {
    BorderMode::Nearest => i.clamp(0, n_i - 1) as usize,
    // One reflection (the usual case: the kernel is shorter than the line) needs no division.
    BorderMode::Reflect if i >= -n_i && i < 2 * n_i => (if i < 0 { -i - 1 } else { 2 * n_i - 1 - i }) as usize,
    BorderMode::Reflect => {
      let m = i.rem_euclid(2 * n_i);
      (if m >= n_i { 2 * n_i - 1 - m } else { m }) as usize
    }
    BorderMode::Mirror if n == 1 => 0,
    BorderMode::Mirror if i > -n_i && i < 2 * n_i - 1 => (if i < 0 { -i } else { 2 * n_i - 2 - i }) as usize,
    BorderMode::Mirror => {
      let m = i.rem_euclid(2 * n_i - 2);
      (if m >= n_i { 2 * n_i - 2 - m } else { m }) as usize
    }
  }
}

/// The radius scipy uses for `sigma` and `truncate`: `int(truncate * sigma + 0.5)`.
/// `InvalidArgumentError` when it exceeds [`MAX_RADIUS`] or is not finite.
pub fn kernel_radius(sigma: f64, truncate: f64) -> SbResult<usize> {
  let r = truncate * sigma + 0.5;
  if !r.is_finite() || r < 0.0 || r > MAX_RADIUS as f64 {
    return Err(
      SbError::invalid(format!(
        "sigma {sigma} gives a Gaussian kernel radius beyond {MAX_RADIUS} (truncate {truncate}); sigma must be at most {}",
        (MAX_RADIUS as f64 - 0.5) / truncate
      ))
      .with("sigma", sigma),
    );
  }
  Ok(r as usize)
}

/// `scipy.ndimage._filters._gaussian_kernel1d(sigma, order, radius)` with
/// `radius = int(truncate * sigma + 0.5)`: the taps for offsets `-radius..=radius`.
///
/// `φ(x) = exp(-x² / 2σ²)` normalised to sum 1; order `n > 0` multiplies it by the polynomial scipy
/// derives (`q' + q·p'` applied `n` times; order 2 gives `(x²/σ⁴ − 1/σ²)·φ(x)`). Degenerate sigmas
/// (not finite, or ≤ 0) give the identity `[1.0]` for order 0 and `[0.0]` otherwise; the radius is
/// clamped to [`MAX_RADIUS`] (callers validate with [`kernel_radius`] first).
pub fn kernel1d(sigma: f64, order: u8, truncate: f64) -> Vec<f64> {
  if !(sigma.is_finite() && sigma > 0.0) {
    return vec![if order == 0 { 1.0 } else { 0.0 }];
  }
  let r = kernel_radius(sigma, truncate).unwrap_or(MAX_RADIUS) as isize;
  let sigma2 = sigma * sigma;
  let a = -0.5 / sigma2;
  let mut phi: Vec<f64> = (-r..=r).map(|x| (a * (x * x) as f64).exp()).collect();
  let sum = pairwise_sum(&phi);
  phi.iter_mut().for_each(|v| *v /= sum);
  if order == 0 {
    return phi;
  }
  // q holds the polynomial coefficients (q[i] multiplies x^i); Q_deriv = D + P as in scipy.
  let n = order as usize;
  let mut q = vec![0.0f64; n + 1];
  q[0] = 1.0;
  for _ in 0..n {
    let mut next = vec![0.0f64; n + 1];
    for i in 0..n {
      next[i] += (i + 1) as f64 * q[i + 1]; // D: derivative
      next[i + 1] += q[i] / -sigma2; // P: times p'(x) = -x/σ² shifts the degree up
    }
    q = next;
  }
  (-r..=r)
    .zip(&phi)
    .map(|(x, &p)| {
      let x = x as f64;
      let mut poly = 0.0;
      let mut xp = 1.0;
      for &c in &q {
        poly += xp * c;
        xp *= x;
      }
      poly * p
    })
    .collect()
}

/// numpy's pairwise summation (`np.sum` of a contiguous float64 vector), so the normalisation of
/// the kernel rounds as scipy's does.
fn pairwise_sum(a: &[f64]) -> f64 {
  let n = a.len();
  if n < 8 {
    return a.iter().fold(0.0, |s, &v| s + v);
  }
  if n <= 128 {
    let mut r = [0.0f64; 8];
    r.copy_from_slice(&a[..8]);
    let full = n - n % 8;
    for c in a[8..full].chunks_exact(8) {
      for j in 0..8 {
        r[j] += c[j];
      }
    }
    let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for &v in &a[full..] {
      res += v;
    }
    return res;
  }
  let mut n2 = n / 2;
  n2 -= n2 % 8;
  pairwise_sum(&a[..n2]) + pairwise_sum(&a[n2..])
}

// ------------------------------------------------------------------------------------------------
// The banded engine
//
// A plane is cut into bands of rows. The vertical pass of a band walks column strips (`VL` / `XL`
// wide) outermost, and inside a strip all the band's output rows, so the strip of the input rows
// (band + halo) is loaded from L2 once and then reused from L1 by every output row. The
// horizontal pass then runs row by row on a padded copy of each intermediate row (L1).

/// The float type a filter accumulates in (f32 for the fast paths, f64 for scipy's exact one).
pub(crate) trait Real:
  Copy + Send + Sync + 'static + PartialOrd + Add<Output = Self> + Sub<Output = Self> + Mul<Output = Self>
{
  const ZERO: Self;
  fn of(v: f64) -> Self;
  /// `self * a + b`, always fused (one rounding), so every CPU level computes the same bits: an
  /// FMA instruction at the AVX2 / AVX-512 levels, libm's exact `fma` below them (slow, but only
  /// CPUs without AVX2 run it). The OpenCL blob kernel fuses the same multiply-adds (`SB_FMA`).
  fn fma(self, a: Self, b: Self) -> Self;
}

macro_rules! real {
  ($t:ty) => {
    impl Real for $t {
      const ZERO: Self = 0.0;
      #[inline(always)]
      fn of(v: f64) -> Self {
        v as $t
      }
      #[inline(always)]
      fn fma(self, a: Self, b: Self) -> Self {
        self.mul_add(a, b)
      }
    }
  };
}
real!(f32);
real!(f64);

/// Outputs per register block of the fast horizontal pass (64 f32 = 4 zmm accumulators).
const LANES: usize = 64;
/// Columns per register block of the fast vertical pass, and output rows computed together: every
/// input row loaded feeds up to `RB` output rows, so that pass is bound by FMAs, not loads.
const VL: usize = 32;
const RB: usize = 4;
/// Columns per register block of the exact (f64) vertical pass (8 zmm accumulators; narrower
/// strips measured slower).
const XL: usize = 64;

/// Rows per band for a kernel of radius `r`: at least a few bands per thread, and otherwise large
/// enough that the converted halo (`2r` rows per band) is a minor overhead.
fn band_rows(h: usize, r: usize) -> usize {
  let per_thread = h.div_ceil(4 * rayon::current_num_threads().max(1)).max(RB);
  let want = (2 * r).clamp(BAND_MIN, BAND_MAX);
  want.min(per_thread).next_multiple_of(RB).min(h.max(1))
}
const BAND_MIN: usize = 32;
const BAND_MAX: usize = 128;

/// `s[at..at + L]` as an array, without a bounds check in release builds: the pass functions check
/// once on entry that every block they read is inside its slice (per-block checks in the inner
/// loops cost more than the arithmetic, and defeat register allocation of the accumulators).
#[inline(always)]
fn block<const L: usize, A>(s: &[A], at: usize) -> &[A; L] {
  debug_assert!(at + L <= s.len(), "block {at}..{} of {}", at + L, s.len());
  // SAFETY: the callers' entry checks guarantee `at + L <= s.len()`.
  unsafe { &*(s.as_ptr().add(at) as *const [A; L]) }
}

/// The entry check of the vertical passes: `n + span - 1` row offsets, each row `w` long inside `buf`.
#[inline(always)]
fn check_rows<A>(buf: &[A], offs: &[usize], n: usize, span: usize, w: usize) {
  assert!(offs.len() >= n + span - 1 && offs.iter().all(|&o| o + w <= buf.len()), "row offsets outside the band buffer");
}

/// The fast vertical pass of a band: output row `i < n` (stride `w` in `out`) is
/// `Σ_k taps[k] · buf[offs[i + k] + x]`; `offs` lists the band's `n + taps.len() - 1` input rows.
#[inline(always)]
fn vband<A: Real>(buf: &[A], offs: &[usize], taps: &[A], w: usize, n: usize, out: &mut [A]) {
  check_rows(buf, offs, n, taps.len(), w);
  let nt = taps.len();
  let full = w - w % VL;
  for x0 in (0..full).step_by(VL) {
    for i0 in (0..n).step_by(RB) {
      let rows = RB.min(n - i0);
      let mut acc = [[A::ZERO; VL]; RB];
      for (m, &o) in offs[i0..i0 + rows + nt - 1].iter().enumerate() {
        let s: &[A; VL] = block::<VL, _>(buf, o + x0);
        for (r, acc_r) in acc.iter_mut().enumerate() {
          // input row m is tap m - r of output row r
          if r < rows && m >= r && m - r < nt {
            let t = taps[m - r];
            for i in 0..VL {
              acc_r[i] = t.fma(s[i], acc_r[i]);
            }
          }
        }
      }
      for (r, acc_r) in acc.iter().enumerate().take(rows) {
        out[(i0 + r) * w + x0..(i0 + r) * w + x0 + VL].copy_from_slice(acc_r);
      }
    }
  }
  for i in 0..n {
    for x in full..w {
      let mut acc = A::ZERO;
      for (k, &t) in taps.iter().enumerate() {
        acc = t.fma(buf[offs[i + k] + x], acc);
      }
      out[i * w + x] = acc;
    }
  }
}

/// The exact vertical pass of a band: scipy's symmetric correlation (`NI_Correlate1D`) in f64
/// with a separate multiply and add as its C code: `out = x₀·w₀`, then for `j = r, r−1, …, 1`:
/// `out += (x₋ⱼ + xⱼ)·wⱼ`. `half[j]` is the tap at offset `±j`; `offs` the `n + 2r` input rows.
#[inline(always)]
fn vband_sym(buf: &[f64], offs: &[usize], half: &[f64], w: usize, n: usize, out: &mut [f64]) {
  check_rows(buf, offs, n, 2 * (half.len() - 1) + 1, w);
  let r = half.len() - 1;
  let full = w - w % XL;
  for x0 in (0..full).step_by(XL) {
    for i in 0..n {
      let o = &offs[i..i + 2 * r + 1];
      let c: &[f64; XL] = block::<XL, _>(buf, o[r] + x0);
      let mut acc = [0.0f64; XL];
      for l in 0..XL {
        acc[l] = c[l] * half[0];
      }
      for j in (1..=r).rev() {
        let a: &[f64; XL] = block::<XL, _>(buf, o[r - j] + x0);
        let b: &[f64; XL] = block::<XL, _>(buf, o[r + j] + x0);
        let t = half[j];
        for l in 0..XL {
          acc[l] += (a[l] + b[l]) * t;
        }
      }
      out[i * w + x0..i * w + x0 + XL].copy_from_slice(&acc);
    }
  }
  for i in 0..n {
    let o = &offs[i..i + 2 * r + 1];
    for x in full..w {
      let mut acc = buf[o[r] + x] * half[0];
      for j in (1..=r).rev() {
        acc += (buf[o[r - j] + x] + buf[o[r + j] + x]) * half[j];
      }
      out[i * w + x] = acc;
    }
  }
}

/// Copies `row` into `pad` with `r` extended samples on each side (border `mode`).
#[inline(always)]
fn fill_pad<A: Copy>(row: &[A], r: usize, mode: BorderMode, pad: &mut Vec<A>) {
  let w = row.len();
  pad.clear();
  pad.extend((0..r).map(|i| row[border_index(i as isize - r as isize, w, mode)]));
  pad.extend_from_slice(row);
  pad.extend((0..r).map(|i| row[border_index((w + i) as isize, w, mode)]));
}

/// The fast horizontal pass on one padded row: `out[x] = Σ_k taps[k] · pad[x + k]`, each output
/// stored through `store` (the cast to the output type).
#[inline(always)]
fn hrow<A: Real, O>(pad: &[A], taps: &[A], out: &mut [O], store: impl Fn(A) -> O) {
  assert!(pad.len() + 1 >= out.len() + taps.len());
  let w = out.len();
  let full = w - w % LANES;
  let mut x0 = 0;
  while x0 < full {
    let mut acc = [A::ZERO; LANES];
    for (k, &t) in taps.iter().enumerate() {
      let s: &[A; LANES] = block::<LANES, _>(pad, x0 + k);
      for i in 0..LANES {
        acc[i] = t.fma(s[i], acc[i]);
      }
    }
    for (o, &a) in out[x0..x0 + LANES].iter_mut().zip(&acc) {
      *o = store(a);
    }
    x0 += LANES;
  }
  for x in full..w {
    let mut acc = A::ZERO;
    for (k, &t) in taps.iter().enumerate() {
      acc = t.fma(pad[x + k], acc);
    }
    out[x] = store(acc);
  }
}

/// The exact horizontal pass (scipy's order, as [`vband_sym`]) on a row padded by `r` on each
/// side, into `out` (f64). Register-blocked on `4 × 8` outputs.
#[inline(always)]
fn hrow_sym(pad: &[f64], half: &[f64], out: &mut [f64]) {
  assert!(pad.len() + 1 >= out.len() + 2 * half.len() - 1);
  const B: usize = 8;
  const N: usize = 4;
  let r = half.len() - 1;
  let w = out.len();
  let full = w - w % (N * B);
  for x0 in (0..full).step_by(N * B) {
    let c = &pad[x0 + r..x0 + r + N * B];
    let mut acc = [[0.0f64; B]; N];
    for (k, acc_k) in acc.iter_mut().enumerate() {
      for l in 0..B {
        acc_k[l] = c[k * B + l] * half[0];
      }
    }
    for j in (1..=r).rev() {
      let a = &pad[x0 + r - j..x0 + r - j + N * B];
      let b = &pad[x0 + r + j..x0 + r + j + N * B];
      let t = half[j];
      for (k, acc_k) in acc.iter_mut().enumerate() {
        for l in 0..B {
          acc_k[l] += (a[k * B + l] + b[k * B + l]) * t;
        }
      }
    }
    for (k, acc_k) in acc.iter().enumerate() {
      out[x0 + k * B..x0 + (k + 1) * B].copy_from_slice(acc_k);
    }
  }
  for x in full..w {
    let mut acc = pad[x + r] * half[0];
    for j in (1..=r).rev() {
      acc += (pad[x + r - j] + pad[x + r + j]) * half[j];
    }
    out[x] = acc;
  }
}

/// The fast vertical pass of a band for two symmetric kernels given by their halves (`ha[j]`,
/// `hb[j]` = taps at offsets `±j`): output row `i < n` of `oa` is
/// `ha₀·x₀ + Σⱼ haⱼ·(x₋ⱼ + xⱼ)` around input row `offs[i + r]` (same for `ob`), f32 FMA. Pairing the
/// symmetric taps halves the FMAs and the two kernels share the pair sums.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn vband2_sym<A: Real>(buf: &[A], offs: &[usize], ha: &[A], hb: &[A], w: usize, n: usize, oa: &mut [A], ob: &mut [A]) {
  assert_eq!(ha.len(), hb.len());
  check_rows(buf, offs, n, 2 * (ha.len() - 1) + 1, w);
  const L: usize = 32;
  let r = ha.len() - 1;
  let full = w - w % L;
  for x0 in (0..full).step_by(L) {
    for i in 0..n {
      let o = &offs[i..i + 2 * r + 1];
      let c: &[A; L] = block::<L, _>(buf, o[r] + x0);
      let mut acc_a = [A::ZERO; L];
      let mut acc_b = [A::ZERO; L];
      for l in 0..L {
        acc_a[l] = ha[0] * c[l];
        acc_b[l] = hb[0] * c[l];
      }
      for j in 1..=r {
        let a: &[A; L] = block::<L, _>(buf, o[r - j] + x0);
        let b: &[A; L] = block::<L, _>(buf, o[r + j] + x0);
        let (ta, tb) = (ha[j], hb[j]);
        for l in 0..L {
          let s = a[l] + b[l];
          acc_a[l] = ta.fma(s, acc_a[l]);
          acc_b[l] = tb.fma(s, acc_b[l]);
        }
      }
      oa[i * w + x0..i * w + x0 + L].copy_from_slice(&acc_a);
      ob[i * w + x0..i * w + x0 + L].copy_from_slice(&acc_b);
    }
  }
  for i in 0..n {
    let o = &offs[i..i + 2 * r + 1];
    for x in full..w {
      let c = buf[o[r] + x];
      let (mut sa, mut sb) = (ha[0] * c, hb[0] * c);
      for j in 1..=r {
        let s = buf[o[r - j] + x] + buf[o[r + j] + x];
        sa = ha[j].fma(s, sa);
        sb = hb[j].fma(s, sb);
      }
      oa[i * w + x] = sa;
      ob[i * w + x] = sb;
    }
  }
}

/// The fast horizontal pass of `Σ` two symmetric filters on padded rows (`pa` with half kernel
/// `ha`, `pb` with `hb`): `out[x] = Σⱼ haⱼ·(pa[x+r−j] + pa[x+r+j]) + hbⱼ·(pb[…] + pb[…])`.
#[inline(always)]
fn hrow2_sym<A: Real>(pa: &[A], ha: &[A], pb: &[A], hb: &[A], out: &mut [A]) {
  assert!(ha.len() == hb.len() && pa.len() + 2 >= out.len() + 2 * ha.len() && pb.len() + 2 >= out.len() + 2 * ha.len());
  const L: usize = 32;
  let r = ha.len() - 1;
  let w = out.len();
  let full = w - w % L;
  for x0 in (0..full).step_by(L) {
    let ca: &[A; L] = block::<L, _>(pa, x0 + r);
    let cb: &[A; L] = block::<L, _>(pb, x0 + r);
    let mut acc = [A::ZERO; L];
    let mut acc2 = [A::ZERO; L];
    for l in 0..L {
      acc[l] = ha[0] * ca[l];
      acc2[l] = hb[0] * cb[l];
    }
    for j in 1..=r {
      let a0: &[A; L] = block::<L, _>(pa, x0 + r - j);
      let a1: &[A; L] = block::<L, _>(pa, x0 + r + j);
      let b0: &[A; L] = block::<L, _>(pb, x0 + r - j);
      let b1: &[A; L] = block::<L, _>(pb, x0 + r + j);
      let (ta, tb) = (ha[j], hb[j]);
      for l in 0..L {
        acc[l] = ta.fma(a0[l] + a1[l], acc[l]);
        acc2[l] = tb.fma(b0[l] + b1[l], acc2[l]);
      }
    }
    for l in 0..L {
      out[x0 + l] = acc[l] + acc2[l];
    }
  }
  for x in full..w {
    let (mut s, mut s2) = (ha[0] * pa[x + r], hb[0] * pb[x + r]);
    for j in 1..=r {
      s = ha[j].fma(pa[x + r - j] + pa[x + r + j], s);
      s2 = hb[j].fma(pb[x + r - j] + pb[x + r + j], s2);
    }
    out[x] = s + s2;
  }
}

/// Per-band scratch, reused across the bands one rayon job processes (also by blob detection's
/// fused bands).
pub(crate) struct Scratch<A> {
  offs: Vec<usize>,
  tmp_a: Vec<A>,
  tmp_b: Vec<A>,
  pad_a: Vec<A>,
  pad_b: Vec<A>,
}

impl<A: Real> Scratch<A> {
  pub(crate) fn new() -> Self {
    Scratch { offs: Vec::new(), tmp_a: Vec::new(), tmp_b: Vec::new(), pad_a: Vec::new(), pad_b: Vec::new() }
  }

  /// The offsets (into the row buffer of stride `ws` starting at row `lo`) of the input rows that
  /// output rows `y..y + rows` read: extended rows `y - r ..= y + rows - 1 + r`, border-mapped.
  #[allow(clippy::too_many_arguments)]
  fn plan(&mut self, y: usize, rows: usize, h: usize, ws: usize, r: usize, lo: usize, mode: BorderMode) {
    self.offs.clear();
    let first = y as isize - r as isize;
    self.offs.extend((0..2 * r + rows).map(|m| (border_index(first + m as isize, h, mode) - lo) * ws));
  }
}

/// The input rows of a band in the accumulator type: plane row `lo + k` starts at `buf[k * ws]`.
/// Rows start on 64-byte boundaries (so the vertical passes' vector loads do not straddle cache
/// lines), and the stride is one cache line more than a whole number of lines, so that a column
/// strip of many rows does not fall into one L1 set (rows of 4 KiB multiples would, and the
/// vertical pass would then stream from L2).
pub(crate) struct Rows<A> {
  store: Vec<A>,
  /// Index in `store` of the first row (the alignment offset).
  base: usize,
  pub(crate) ws: usize,
  pub(crate) lo: usize,
}

impl<A: Real> Rows<A> {
  pub(crate) fn new(w: usize) -> Self {
    let line = 64 / std::mem::size_of::<A>();
    Rows { store: Vec::new(), base: 0, ws: w.next_multiple_of(line) + line, lo: 0 }
  }

  /// The row buffer (row `lo` first).
  pub(crate) fn buf(&self) -> &[A] {
    &self.store[self.base..]
  }

  /// Converts the input rows that output rows `[y0, y1)` read with a kernel of radius `r`.
  /// Border-mapped rows of any extension length fall in `[y0 - r, y1 + r) ∩ [0, h)`: reflections
  /// of indices below 0 land below `r`, those past `h` above `h - 1 - r`.
  #[allow(clippy::too_many_arguments)]
  #[inline(always)]
  pub(crate) fn load<T: Element>(&mut self, src: &[T], h: usize, w: usize, y0: usize, y1: usize, r: usize) {
    self.lo = y0.saturating_sub(r);
    let hi = (y1 + r).min(h);
    let line = 64 / std::mem::size_of::<A>();
    self.store.clear();
    // Reserve first so the allocation (and the alignment offset) stays put while filling.
    self.store.reserve((hi - self.lo) * self.ws + line);
    self.base = self.store.as_ptr().align_offset(64).min(line - 1);
    self.store.resize(self.base, A::ZERO);
    for row in src[self.lo * w..hi * w].chunks_exact(w) {
      self.store.extend(row.iter().map(|v| A::of(v.to_f64())));
      self.store.resize(self.store.len() + (self.ws - w), A::ZERO);
    }
  }
}

/// Runs `band(scratch, rows, y0, out_band)` over the row bands of one plane in parallel, `rows`
/// holding the converted input rows the band needs (halo `r`).
fn for_bands<T: Element, A: Real, O: Send>(
  src: &[T], h: usize, w: usize, r: usize, out: &mut [O], band: impl Fn(&mut Scratch<A>, &Rows<A>, usize, &mut [O]) + Sync,
) {
  let rows_per_band = band_rows(h, r);
  out.par_chunks_mut(rows_per_band * w).enumerate().for_each_init(
    || (Scratch::<A>::new(), Rows::<A>::new(w)),
    |(s, rows), (bi, out_band)| {
      let y0 = bi * rows_per_band;
      cpu_run!(Kernel::Gaussian, rows.load(src, h, w, y0, y0 + out_band.len() / w, r));
      band(s, rows, y0, out_band);
    },
  );
}

/// Output rows `y0..` (as many as `out` holds) of the fast separable filter: vertical `vt` then
/// horizontal `ht` (odd lengths), border `mode`, f32 FMA.
#[allow(clippy::too_many_arguments)]
pub(crate) fn sep_rows_fast(
  s: &mut Scratch<f32>, rows: &Rows<f32>, h: usize, w: usize, y0: usize, vt: &[f32], ht: &[f32], mode: BorderMode, out: &mut [f32],
) {
  let (rv, rh) = (vt.len() / 2, ht.len() / 2);
  let n = out.len() / w;
  s.plan(y0, n, h, rows.ws, rv, rows.lo, mode);
  s.tmp_a.resize(n * w, 0.0);
  cpu_run!(Kernel::Gaussian, {
    vband(rows.buf(), &s.offs, vt, w, n, &mut s.tmp_a);
    for (tmp_row, out_row) in s.tmp_a.chunks_exact(w).zip(out.chunks_exact_mut(w)) {
      fill_pad(tmp_row, rh, mode, &mut s.pad_a);
      hrow(&s.pad_a, ht, out_row, |a| a);
    }
  })
}

/// The fast separable filter of an f32 plane (see [`sep_rows_fast`]).
fn sep_plane_fast(src: &[f32], h: usize, w: usize, vt: &[f32], ht: &[f32], mode: BorderMode, out: &mut [f32]) {
  for_bands::<f32, f32, f32>(src, h, w, vt.len() / 2, out, |s, rows, y0, out_band| sep_rows_fast(s, rows, h, w, y0, vt, ht, mode, out_band));
}

/// The half kernels of `scale · gaussian_laplace(·, sigma)`: order 0 (`ha`) and the order 2 one
/// times `scale` (`hb`; both terms of the Laplacian carry exactly one order-2 factor).
pub struct LogKernel {
  pub ha: Vec<f32>,
  pub hb: Vec<f32>,
}

impl LogKernel {
  /// `None` for a sigma scipy would skip (not finite or ≤ 1e-15).
  pub fn new(sigma: f64, scale: f64) -> Option<LogKernel> {
    if !(sigma.is_finite() && sigma > 1e-15) {
      return None;
    }
    let ha = taps_of::<f32>(&half_kernel(&kernel1d(sigma, 0, 4.0)));
    let hb = half_kernel(&kernel1d(sigma, 2, 4.0)).iter().map(|&v| (v * scale) as f32).collect();
    Some(LogKernel { ha, hb })
  }

  pub fn radius(&self) -> usize {
    self.ha.len() - 1
  }
}

/// Output rows `y0..` (as many as `out` holds) of the scaled Laplacian of Gaussian (reflect):
/// `Hb(Va(src)) + Ha(Vb(src))`, symmetric taps paired, f32 FMA.
#[allow(clippy::too_many_arguments)]
pub(crate) fn log_rows(s: &mut Scratch<f32>, rows: &Rows<f32>, h: usize, w: usize, y0: usize, k: &LogKernel, out: &mut [f32]) {
  let r = k.radius();
  let n = out.len() / w;
  let mode = BorderMode::Reflect;
  s.plan(y0, n, h, rows.ws, r, rows.lo, mode);
  s.tmp_a.resize(n * w, 0.0);
  s.tmp_b.resize(n * w, 0.0);
  cpu_run!(Kernel::Gaussian, {
    vband2_sym(rows.buf(), &s.offs, &k.ha, &k.hb, w, n, &mut s.tmp_a, &mut s.tmp_b);
    for (i, out_row) in out.chunks_exact_mut(w).enumerate() {
      fill_pad(&s.tmp_a[i * w..(i + 1) * w], r, mode, &mut s.pad_a);
      fill_pad(&s.tmp_b[i * w..(i + 1) * w], r, mode, &mut s.pad_b);
      // Va then Hb  +  Vb then Ha
      hrow2_sym(&s.pad_a, &k.hb, &s.pad_b, &k.ha, out_row);
    }
  })
}

/// `v` as scipy stores it in an array of `T` and reads it back: C truncation toward zero
/// (saturated, where C is undefined) for integers, rounding to nearest for f32.
#[inline(always)]
fn through<T: Element>(v: f64, lo: f64, hi: f64) -> f64 {
  match T::DTYPE {
    DType::F64 => v,
    DType::F32 => v as f32 as f64,
    _ => {
      let t = v.trunc();
      if t < lo {
        lo
      } else if t > hi {
        hi
      } else {
        t
      }
    }
  }
}

/// `v` truncated toward zero and saturated to `[lo, hi]` (the bounds of an integer `T`), as `T`.
/// NaN (which integer inputs cannot produce) maps to `lo`.
#[inline(always)]
fn narrow<T: Element>(v: f64, lo: f64, hi: f64) -> T {
  let t = v.trunc();
  let t = if t >= lo {
    if t <= hi {
      t
    } else {
      hi
    }
  } else {
    lo
  };
  if T::DTYPE == DType::U32 {
    // SAFETY: t is finite and integral within [0, u32::MAX] ⊆ i64.
    let i: i64 = unsafe { t.to_int_unchecked() };
    return T::from_i64_wrapping(i);
  }
  // SAFETY: t is finite and integral within [lo, hi] ⊆ [i32::MIN, i32::MAX] (every integer
  // Element but u32, handled above, fits i32), which is exactly to_int_unchecked's contract. The
  // checked `as` conversion would not vectorise here.
  let i: i32 = unsafe { t.to_int_unchecked() };
  T::from_i64_wrapping(i as i64)
}

/// `scipy.ndimage.gaussian_filter(plane, sigma, mode=mode)` on a plane of `T` with scipy's own
/// arithmetic: each axis pass in f64 in `NI_Correlate1D`'s symmetric order, its result stored as
/// `T` (so the axis-1 pass reads the truncated / rounded intermediate) and the output as `T`.
/// Bit-identical to scipy given the same taps; `kernel1d`'s taps may differ from numpy's in the
/// last bit (numpy's vectorised `exp`), which moves an integer result only where it lands exactly
/// on an integer boundary.
fn gaussian_plane_exact<T: Element>(src: &[T], h: usize, w: usize, half: &[f64], mode: BorderMode, out: &mut [T]) {
  let r = half.len() - 1;
  let (lo_v, hi_v) = (T::from_f64(f64::NEG_INFINITY).to_f64(), T::from_f64(f64::INFINITY).to_f64());
  for_bands::<T, f64, T>(src, h, w, r, out, |s, rows, y0, out_band| {
    let n = out_band.len() / w;
    s.plan(y0, n, h, rows.ws, r, rows.lo, mode);
    s.tmp_a.resize(n * w, 0.0);
    cpu_run!(Kernel::Gaussian, {
      vband_sym(rows.buf(), &s.offs, half, w, n, &mut s.tmp_a);
      for (tmp_row, out_row) in s.tmp_a.chunks_exact_mut(w).zip(out_band.chunks_exact_mut(w)) {
        tmp_row.iter_mut().for_each(|v| *v = through::<T>(*v, lo_v, hi_v));
        fill_pad(tmp_row, r, mode, &mut s.pad_a);
        // The padded copy is the input now, so the row buffer takes the f64 result.
        hrow_sym(&s.pad_a, half, tmp_row);
        if T::DTYPE.is_float() {
          out_row.iter_mut().zip(tmp_row.iter()).for_each(|(o, &a)| *o = T::from_f64(a));
        } else {
          out_row.iter_mut().zip(tmp_row.iter()).for_each(|(o, &a)| *o = narrow::<T>(a, lo_v, hi_v));
        }
      }
    })
  });
}

/// The taps at offsets `0..=r` of a symmetric kernel of length `2r + 1`.
fn half_kernel(k: &[f64]) -> Vec<f64> {
  k[k.len() / 2..].to_vec()
}

fn taps_of<A: Real>(k: &[f64]) -> Vec<A> {
  k.iter().map(|&v| A::of(v)).collect()
}

fn lengths_ok(src: usize, out: usize, h: usize, w: usize) -> bool {
  let ok = h.checked_mul(w).is_some_and(|n| n == src && n == out);
  debug_assert!(ok, "plane helper called with src {src} / out {out} elements for {h}x{w}");
  ok
}

/// Validates a 1-D kernel for [`correlate_axis0_f32`] / [`correlate_axis1_f32`].
fn check_taps(taps: &[f32], src: usize, out: usize, h: usize, w: usize) -> SbResult<()> {
  if taps.len().is_multiple_of(2) || taps.len() > 2 * MAX_RADIUS + 1 {
    return Err(SbError::invalid(format!("a 1-D kernel needs an odd length up to {}, got {}", 2 * MAX_RADIUS + 1, taps.len())));
  }
  if h.checked_mul(w) != Some(src) || src != out {
    return Err(SbError::invalid(format!("plane of {h}x{w} but input has {src} and output {out} elements")));
  }
  Ok(())
}

/// 1-D correlation of an f32 plane along Y (axis 0) with `taps` (odd length, centred), border
/// `mode`: `scipy.ndimage.correlate1d(plane, taps, axis=0, mode=mode)` (accumulated in f32 with FMA).
pub fn correlate_axis0_f32(src: &[f32], h: usize, w: usize, taps: &[f32], mode: BorderMode, out: &mut [f32]) -> SbResult<()> {
  check_taps(taps, src.len(), out.len(), h, w)?;
  if src.is_empty() {
    return Ok(());
  }
  sep_plane_fast(src, h, w, taps, &[1.0], mode, out);
  Ok(())
}

/// 1-D correlation of an f32 plane along X (axis 1): `scipy.ndimage.correlate1d(plane, taps,
/// axis=1, mode=mode)` (accumulated in f32 with FMA).
pub fn correlate_axis1_f32(src: &[f32], h: usize, w: usize, taps: &[f32], mode: BorderMode, out: &mut [f32]) -> SbResult<()> {
  check_taps(taps, src.len(), out.len(), h, w)?;
  if src.is_empty() {
    return Ok(());
  }
  sep_plane_fast(src, h, w, &[1.0], taps, mode, out);
  Ok(())
}

/// `scipy.ndimage.gaussian_filter(plane, sigma, mode=mode, truncate=4.0)` on an f32 plane (axis 0
/// then axis 1) with scipy's arithmetic: f64 accumulation in scipy's order, the axis-0 result
/// rounded to f32 before the axis-1 pass (bit-identical to scipy except for last-bit differences
/// of the taps, see [`gaussian`]). A sigma that is not finite or ≤ 1e-15 copies the plane (scipy
/// skips such axes); kernels larger than [`MAX_RADIUS`] are clamped.
/// Precondition: `src.len() == out.len() == h * w` (otherwise nothing is written).
pub fn gaussian_plane_f32(src: &[f32], h: usize, w: usize, sigma: f64, mode: BorderMode, out: &mut [f32]) {
  gaussian_plane(src, h, w, sigma, mode, out);
}

/// [`gaussian_plane_f32`] for a plane of any element type: `scipy.ndimage.gaussian_filter(plane,
/// sigma, mode=mode, truncate=4.0)` with scipy's output dtype = input dtype and scipy's arithmetic
/// (the intermediate stored as `T`, as [`gaussian`] describes). Same degenerate-sigma rules and
/// precondition as [`gaussian_plane_f32`].
pub fn gaussian_plane<T: Element>(src: &[T], h: usize, w: usize, sigma: f64, mode: BorderMode, out: &mut [T]) {
  if !lengths_ok(src.len(), out.len(), h, w) || src.is_empty() {
    return;
  }
  if !(sigma.is_finite() && sigma > 1e-15) {
    out.copy_from_slice(src);
    return;
  }
  gaussian_plane_exact(src, h, w, &half_kernel(&kernel1d(sigma, 0, 4.0)), mode, out);
}

/// [`gaussian_plane_f32`] computed in f32 with FMA (about twice as fast; differs from scipy by
/// f32 rounding, ~1e-7 relative). For scale spaces, where only comparisons follow.
pub fn gaussian_plane_fast_f32(src: &[f32], h: usize, w: usize, sigma: f64, mode: BorderMode, out: &mut [f32]) {
  if !lengths_ok(src.len(), out.len(), h, w) || src.is_empty() {
    return;
  }
  if !(sigma.is_finite() && sigma > 1e-15) {
    out.copy_from_slice(src);
    return;
  }
  let k = taps_of::<f32>(&kernel1d(sigma, 0, 4.0));
  sep_plane_fast(src, h, w, &k, &k, mode, out);
}

/// `scipy.ndimage.gaussian_laplace(plane, sigma)` (mode 'reflect', truncate 4) on an f32 plane:
/// the order-2 Gaussian along Y times order 0 along X, plus order 0 along Y times order 2 along X,
/// fused in one banded pass (f32 FMA). scipy skips axes whose sigma is ≤ 1e-15, so for such a sigma
/// (or a non-finite one) the result is `2 · plane`, as scipy's. Precondition as
/// [`gaussian_plane_f32`].
pub fn gaussian_laplace_plane_f32(src: &[f32], h: usize, w: usize, sigma: f64, out: &mut [f32]) {
  log_plane_scaled_f32(src, h, w, sigma, 1.0, out);
}

/// `scale · gaussian_laplace(plane, sigma)` (blob_log folds `-σ²` into the kernel).
pub(crate) fn log_plane_scaled_f32(src: &[f32], h: usize, w: usize, sigma: f64, scale: f64, out: &mut [f32]) {
  if !lengths_ok(src.len(), out.len(), h, w) || src.is_empty() {
    return;
  }
  match LogKernel::new(sigma, scale) {
    Some(k) => for_bands::<f32, f32, f32>(src, h, w, k.radius(), out, |s, rows, y0, out_band| log_rows(s, rows, h, w, y0, &k, out_band)),
    None => out.iter_mut().zip(src).for_each(|(o, &v)| *o = (2.0 * scale * v as f64) as f32),
  }
}

/// The `gaussian` processor's sigma: finite, ≥ 0, with a kernel that fits in memory (every backend).
pub fn check_sigma(sigma: f64) -> SbResult<()> {
  if !sigma.is_finite() || sigma < 0.0 {
    return Err(SbError::invalid(format!("sigma must be a finite number >= 0, got {sigma}")).with("sigma", sigma));
  }
  kernel_radius(sigma, 4.0)?;
  Ok(())
}

/// The `gaussian` processor (DESIGN §7): per slice `scipy.ndimage.gaussian_filter(slice, sigma,
/// mode='reflect', truncate=4.0)` with scipy's output dtype = input dtype.
///
/// scipy stores each axis pass in the output array, so for integer `T` the intermediate after
/// axis 0 is cast to `T` (truncation toward zero) before the axis-1 pass, and for f32 it is
/// rounded to f32. Both passes are computed in f64 in scipy's own summation order, so the result
/// is bit-identical to scipy's except where a tap differs from numpy's in its last bit (numpy's
/// vectorised `exp`) and an integer result lands exactly on an integer boundary (measured: none
/// on noise and smooth images, under 0.1% of pixels on synthetic piecewise-constant ones, ±1).
/// `sigma == 0` copies; a negative or non-finite sigma, or one whose kernel exceeds
/// [`MAX_RADIUS`], is `InvalidArgumentError`. Parallel over slices and row bands.
pub fn gaussian<T: Element>(src: &[T], dims: Dims, sigma: f64, out: &mut [T]) -> SbResult<()> {
  dims.check_len(src.len(), "input")?;
  dims.check_len(out.len(), "output")?;
  check_sigma(sigma)?;
  if dims.is_empty() {
    return Ok(());
  }
  if sigma <= 1e-15 {
    out.copy_from_slice(src);
    return Ok(());
  }
  let half = half_kernel(&kernel1d(sigma, 0, 4.0));
  let plane = dims.plane();
  out.par_chunks_mut(plane).zip(src.par_chunks(plane)).for_each(|(o, s)| {
    gaussian_plane_exact(s, dims.h, dims.w, &half, BorderMode::Reflect, o);
  });
  Ok(())
}

#[cfg(test)]
mod tests {
  use super::*;

  /// Plain border mapping written out case by case (independent of `border_index`'s arithmetic):
  /// extend the line by repeated reflection one step at a time.
  fn naive_index(mut i: isize, n: usize, mode: BorderMode) -> usize {
    let n = n as isize;
    if mode == BorderMode::Nearest {
      return i.max(0).min(n - 1) as usize;
    }
    if mode == BorderMode::Mirror && n == 1 {
      return 0;
    }
    loop {
      if i < 0 {
        i = match mode {
          BorderMode::Reflect => -i - 1, // -1 -> 0, -2 -> 1
          _ => -i,                       // -1 -> 1
        };
      } else if i >= n {
        i = match mode {
          BorderMode::Reflect => 2 * n - 1 - i, // n -> n-1
          _ => 2 * n - 2 - i,                   // n -> n-2
        };
      } else {
        return i as usize;
      }
    }
  }

  /// Direct 2-D Gaussian: out[y][x] = Σ_{dy,dx} k[dy] k[dx] src[map(y+dy)][map(x+dx)] in f64.
  fn naive_gaussian(src: &[f64], h: usize, w: usize, sigma: f64, mode: BorderMode) -> Vec<f64> {
    let k = kernel1d(sigma, 0, 4.0);
    let r = (k.len() / 2) as isize;
    let mut out = vec![0.0; h * w];
    for y in 0..h {
      for x in 0..w {
        let mut s = 0.0;
        for dy in -r..=r {
          for dx in -r..=r {
            let yy = naive_index(y as isize + dy, h, mode);
            let xx = naive_index(x as isize + dx, w, mode);
            s += k[(dy + r) as usize] * k[(dx + r) as usize] * src[yy * w + xx];
          }
        }
        out[y * w + x] = s;
      }
    }
    out
  }

  fn xorshift(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
  }

  fn noise(n: usize, seed: u64) -> Vec<f64> {
    let mut s = seed;
    (0..n).map(|_| (xorshift(&mut s) % 10_000) as f64 / 10_000.0).collect()
  }

  #[test]
  fn border_index_matches_naive_reflection() {
    for n in 1..6 {
      for i in -40..40 {
        for mode in [BorderMode::Reflect, BorderMode::Mirror, BorderMode::Nearest] {
          assert_eq!(border_index(i, n, mode), naive_index(i, n, mode), "i {i} n {n} {mode:?}");
        }
      }
    }
  }

  #[test]
  fn kernel1d_matches_scipy() {
    // scipy.ndimage._filters._gaussian_kernel1d(1.0, 0, 4)
    let k0 = [
      0.00013383062461474175,
      0.0044318616200312655,
      0.05399112742070441,
      0.24197144565660073,
      0.39894346935609776,
      0.24197144565660073,
      0.05399112742070441,
      0.0044318616200312655,
      0.00013383062461474175,
    ];
    // scipy.ndimage._filters._gaussian_kernel1d(1.0, 2, 4)
    let k2 = [
      0.0020074593692211264,
      0.035454892960250124,
      0.16197338226211322,
      0.0,
      -0.39894346935609776,
      0.0,
      0.16197338226211322,
      0.035454892960250124,
      0.0020074593692211264,
    ];
    // scipy.ndimage._filters._gaussian_kernel1d(0.7, 0, 3)  (radius int(4 * 0.7 + 0.5))
    let k07 = [
      5.852462343990869e-05,
      0.009618930814198498,
      0.20539965263338855,
      0.5698457838579462,
      0.20539965263338855,
      0.009618930814198498,
      5.852462343990869e-05,
    ];
    // scipy.ndimage._filters._gaussian_kernel1d(2.5, 2, 10), first 11 taps (symmetric)
    let k25 = [
      0.00012848004971898158,
      0.00046838527039753377,
      0.0014098876815556427,
      0.0034651498855762224,
      0.00682243076381592,
      0.010366510289203074,
      0.01107459756864259,
      0.005468408399178336,
      -0.006674650941831712,
      -0.01979867012315623,
      -0.025532908692354434,
    ];
    let close = |got: Vec<f64>, want: &[f64], n: usize| {
      assert_eq!(got.len(), n);
      for (a, b) in got.iter().zip(want) {
        // 1-ulp differences come from numpy's vectorised exp vs libm's
        assert!((a - b).abs() <= 4.0 * f64::EPSILON * b.abs().max(1e-3), "{a} vs {b}");
      }
    };
    close(kernel1d(1.0, 0, 4.0), &k0, 9);
    close(kernel1d(1.0, 2, 4.0), &k2, 9);
    close(kernel1d(0.7, 0, 4.0), &k07, 7);
    close(kernel1d(2.5, 2, 4.0), &k25, 21);
  }
  #[test]
  fn kernel1d_invariants() {
    for &sigma in &[0.3, 0.5, 1.0, 1.7, 2.0, 3.3, 10.0, 25.0] {
      let k = kernel1d(sigma, 0, 4.0);
      assert_eq!(k.len(), 2 * ((4.0 * sigma + 0.5) as usize) + 1);
      assert!((k.iter().sum::<f64>() - 1.0).abs() < 1e-12);
      let k2 = kernel1d(sigma, 2, 4.0);
      for i in 0..k.len() {
        assert_eq!(k[i], k[k.len() - 1 - i]);
        assert_eq!(k2[i], k2[k.len() - 1 - i]);
        let x = i as f64 - (k.len() / 2) as f64;
        let expect = (x * x / sigma.powi(4) - 1.0 / (sigma * sigma)) * k[i];
        assert!((k2[i] - expect).abs() < 1e-15, "sigma {sigma} i {i}");
      }
    }
    assert_eq!(kernel1d(f64::NAN, 0, 4.0), vec![1.0]);
    assert_eq!(kernel1d(0.0, 2, 4.0), vec![0.0]);
  }

  #[test]
  fn gaussian_plane_matches_naive_all_modes() {
    for &(h, w) in &[(1, 1), (1, 7), (5, 1), (3, 4), (13, 70), (40, 131)] {
      let src = noise(h * w, (h * 31 + w) as u64);
      let src32: Vec<f32> = src.iter().map(|&v| v as f32).collect();
      for &sigma in &[0.6, 1.0, 2.5, 6.0] {
        for mode in [BorderMode::Reflect, BorderMode::Mirror, BorderMode::Nearest] {
          let expect = naive_gaussian(&src, h, w, sigma, mode);
          let mut out = vec![0f32; h * w];
          gaussian_plane_f32(&src32, h, w, sigma, mode, &mut out);
          for (i, (&o, &e)) in out.iter().zip(&expect).enumerate() {
            assert!((o as f64 - e).abs() < 2e-6, "{h}x{w} sigma {sigma} {mode:?} at {i}: {o} vs {e}");
          }
        }
      }
    }
  }

  #[test]
  fn correlate_axes_match_naive() {
    let (h, w) = (9, 75);
    let src = noise(h * w, 5);
    let src32: Vec<f32> = src.iter().map(|&v| v as f32).collect();
    let taps = [0.5f32, -1.0, 2.0, 0.25, 0.125];
    for mode in [BorderMode::Reflect, BorderMode::Mirror, BorderMode::Nearest] {
      let mut o0 = vec![0f32; h * w];
      let mut o1 = vec![0f32; h * w];
      correlate_axis0_f32(&src32, h, w, &taps, mode, &mut o0).unwrap();
      correlate_axis1_f32(&src32, h, w, &taps, mode, &mut o1).unwrap();
      for y in 0..h {
        for x in 0..w {
          let (mut e0, mut e1) = (0.0, 0.0);
          for (k, &t) in taps.iter().enumerate() {
            let d = k as isize - 2;
            e0 += t as f64 * src[naive_index(y as isize + d, h, mode) * w + x];
            e1 += t as f64 * src[y * w + naive_index(x as isize + d, w, mode)];
          }
          assert!((o0[y * w + x] as f64 - e0).abs() < 1e-5);
          assert!((o1[y * w + x] as f64 - e1).abs() < 1e-5);
        }
      }
    }
    let mut o = vec![0f32; h * w];
    assert!(correlate_axis0_f32(&src32, h, w, &[1.0, 2.0], BorderMode::Reflect, &mut o).is_err());
    assert!(correlate_axis1_f32(&src32, h, w + 1, &taps, BorderMode::Reflect, &mut o).is_err());
  }

  /// scipy's `gaussian_filter` written plainly for one plane: each axis pass in f64 in
  /// `NI_Correlate1D`'s symmetric order (`x₀·w₀`, then `+= (x₋ⱼ + xⱼ)·wⱼ` for `j = r..1`) with
  /// reflect borders, its result passed through `store` (the cast to the array dtype).
  fn naive_scipy(src: &[f64], h: usize, w: usize, sigma: f64, store: impl Fn(f64) -> f64) -> Vec<f64> {
    let k = kernel1d(sigma, 0, 4.0);
    let r = (k.len() / 2) as isize;
    let wt = |j: isize| k[(j + r) as usize];
    let m = BorderMode::Reflect;
    let mut mid = vec![0.0; h * w];
    for y in 0..h as isize {
      for x in 0..w {
        let at = |yy: isize| src[naive_index(yy, h, m) * w + x];
        let mut s = at(y) * wt(0);
        for j in (1..=r).rev() {
          s += (at(y - j) + at(y + j)) * wt(j);
        }
        mid[y as usize * w + x] = store(s);
      }
    }
    let mut out = vec![0.0; h * w];
    for y in 0..h {
      for x in 0..w as isize {
        let at = |xx: isize| mid[y * w + naive_index(xx, w, m)];
        let mut s = at(x) * wt(0);
        for j in (1..=r).rev() {
          s += (at(x - j) + at(x + j)) * wt(j);
        }
        out[y * w + x as usize] = store(s);
      }
    }
    out
  }

  fn check_exact<T: Element + Default + std::fmt::Debug>(src: &[T], dims: Dims, sigma: f64, store: impl Fn(f64) -> f64 + Copy) {
    let mut out = vec![T::default(); dims.len()];
    gaussian(src, dims, sigma, &mut out).unwrap();
    let p = dims.plane();
    for z in 0..dims.z {
      let sl: Vec<f64> = src[z * p..(z + 1) * p].iter().map(|v| v.to_f64()).collect();
      let expect = naive_scipy(&sl, dims.h, dims.w, sigma, store);
      for (i, (o, e)) in out[z * p..(z + 1) * p].iter().zip(&expect).enumerate() {
        assert_eq!(o.to_f64(), *e, "{:?} sigma {sigma} slice {z} pixel {i}", T::DTYPE);
      }
    }
  }

  #[test]
  fn gaussian_reproduces_scipy_arithmetic() {
    let mut s = 99u64;
    // uint16 noise, several slices and sigmas (the intermediate truncated toward zero)
    let dims = Dims::new(3, 17, 90);
    let src: Vec<u16> = (0..dims.len()).map(|_| (xorshift(&mut s) % 60_000) as u16).collect();
    for sigma in [0.5, 1.5, 3.0, 7.0] {
      check_exact(&src, dims, sigma, |v| v.trunc().clamp(0.0, 65535.0));
    }
    // uint8 piecewise-constant blocks: many results land exactly on integers
    let dims = Dims::new(1, 40, 72);
    let levels: Vec<u8> = (0..25).map(|_| (xorshift(&mut s) % 256) as u8).collect();
    let src: Vec<u8> = (0..dims.len()).map(|i| levels[(i / dims.w / 10) * 5 + (i % dims.w) / 16]).collect();
    for sigma in [0.7, 1.0, 2.0] {
      check_exact(&src, dims, sigma, |v| v.trunc().clamp(0.0, 255.0));
    }
    // int16 with negative values truncates toward zero (not floor)
    let dims = Dims::new(1, 6, 70);
    let src: Vec<i16> = (0..dims.len()).map(|_| (xorshift(&mut s) % 2000) as i16 - 1000).collect();
    check_exact(&src, dims, 0.8, |v| v.trunc());
    // float32: the intermediate rounded to f32
    let dims = Dims::new(2, 9, 35);
    let src: Vec<f32> = (0..dims.len()).map(|_| (xorshift(&mut s) % 10_000) as f32 / 7.0).collect();
    check_exact(&src, dims, 1.3, |v| v as f32 as f64);
    // int32 near the top of its range
    let src: Vec<i32> = (0..dims.len()).map(|_| i32::MAX - (xorshift(&mut s) % 1000) as i32).collect();
    check_exact(&src, dims, 2.0, |v| v.trunc().clamp(i32::MIN as f64, i32::MAX as f64));
  }

  #[test]
  fn constant_images_stay_constant() {
    // scipy gives the same value back for a constant integer image (checked for these values).
    let dims = Dims::new(2, 20, 100);
    for v in [0u16, 7, 1000, 12345, 65535] {
      let src = vec![v; dims.len()];
      let mut out = vec![1u16; dims.len()];
      gaussian(&src, dims, 2.0, &mut out).unwrap();
      assert!(out.iter().all(|&o| o == v), "{v}");
    }
  }

  #[test]
  fn fast_plane_is_close_to_exact() {
    let (h, w) = (37, 150);
    let src: Vec<f32> = noise(h * w, 8).iter().map(|&v| v as f32).collect();
    for mode in [BorderMode::Reflect, BorderMode::Mirror, BorderMode::Nearest] {
      let (mut a, mut b) = (vec![0f32; h * w], vec![0f32; h * w]);
      gaussian_plane_f32(&src, h, w, 2.2, mode, &mut a);
      gaussian_plane_fast_f32(&src, h, w, 2.2, mode, &mut b);
      for (x, y) in a.iter().zip(&b) {
        assert!((x - y).abs() < 1e-6);
      }
    }
  }

  #[test]
  fn float_gaussian_and_errors() {
    let dims = Dims::new(2, 11, 66);
    let src = noise(dims.len(), 3);
    let mut out = vec![0f64; dims.len()];
    gaussian(&src, dims, 1.2, &mut out).unwrap();
    for z in 0..2 {
      let p = dims.plane();
      let expect = naive_gaussian(&src[z * p..(z + 1) * p], dims.h, dims.w, 1.2, BorderMode::Reflect);
      for (o, e) in out[z * p..(z + 1) * p].iter().zip(&expect) {
        assert!((o - e).abs() < 1e-12);
      }
    }
    gaussian(&src, dims, 0.0, &mut out).unwrap();
    assert_eq!(out, src);
    for bad in [-1.0, f64::NAN, f64::INFINITY, 1e9] {
      let e = gaussian(&src, dims, bad, &mut out).unwrap_err();
      assert_eq!(e.code, stackbridge_core::ErrorCode::InvalidArgument);
    }
    assert!(gaussian(&src[1..], dims, 1.0, &mut out).is_err());
    let empty: Vec<u8> = vec![];
    gaussian(&empty, Dims::new(0, 5, 5), 1.0, &mut []).unwrap();
  }

  #[test]
  fn laplace_matches_naive() {
    let (h, w) = (23, 77);
    let src = noise(h * w, 11);
    let src32: Vec<f32> = src.iter().map(|&v| v as f32).collect();
    for &sigma in &[1.0, 2.0, 4.5] {
      let g = kernel1d(sigma, 0, 4.0);
      let d = kernel1d(sigma, 2, 4.0);
      let r = (g.len() / 2) as isize;
      let mut out = vec![0f32; h * w];
      gaussian_laplace_plane_f32(&src32, h, w, sigma, &mut out);
      for y in 0..h {
        for x in 0..w {
          let mut e = 0.0;
          for dy in -r..=r {
            for dx in -r..=r {
              let v = src[naive_index(y as isize + dy, h, BorderMode::Reflect) * w + naive_index(x as isize + dx, w, BorderMode::Reflect)];
              let (iy, ix) = ((dy + r) as usize, (dx + r) as usize);
              e += (d[iy] * g[ix] + g[iy] * d[ix]) * v;
            }
          }
          assert!((out[y * w + x] as f64 - e).abs() < 2e-6, "sigma {sigma} ({y},{x}) {} vs {e}", out[y * w + x]);
        }
      }
    }
  }
}
