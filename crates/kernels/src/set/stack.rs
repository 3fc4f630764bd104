//! Set operations: stack (DESIGN §12) — local variance, extended depth of focus, sum and argmax
//! projections, element-wise arithmetic on two stacks, scalar arithmetic, clip and absolute.
//!
//! Everything here is memory-bound except the variance: the element-wise kernels run over
//! contiguous chunks of the whole stack in parallel (not slice by slice: the benchmark's 1024²
//! slices come one per cancellation group), with branch-free inner loops the compiler vectorises,
//! inside `cpu_run!` so they are compiled at the CPU's level.

use super::{Call, Output, SetOp};
use crate::dispatch::slices_per_tile;
use crate::gaussian::{border_index, BorderMode, MAX_RADIUS};
use crate::image::Dims;
use rayon::prelude::*;
use stackbridge_core::cpu::Kernel;
use stackbridge_core::{cpu_run, with_dtype, Cancel, DType, Element, SbError, SbResult};

pub const OPS: &[SetOp] = &[
  SetOp { name: "varianceFilter", separable: true, arrays: &[], keeps_dtype: false, special: None, run: run_variance },
  SetOp { name: "extendedDepthOfFocus", separable: false, arrays: &[], keeps_dtype: true, special: None, run: run_edf },
  SetOp { name: "sumProjection", separable: false, arrays: &[], keeps_dtype: false, special: None, run: run_sum },
  SetOp { name: "argmaxProjection", separable: false, arrays: &[], keeps_dtype: false, special: None, run: run_argmax },
  SetOp { name: "add", separable: false, arrays: &["other"], keeps_dtype: false, special: None, run: run_binary },
  SetOp { name: "subtract", separable: false, arrays: &["other"], keeps_dtype: false, special: None, run: run_binary },
  SetOp { name: "multiply", separable: false, arrays: &["other"], keeps_dtype: false, special: None, run: run_binary },
  SetOp { name: "divide", separable: false, arrays: &["other"], keeps_dtype: false, special: None, run: run_binary },
  SetOp { name: "addScalar", separable: true, arrays: &[], keeps_dtype: true, special: None, run: run_scalar },
  SetOp { name: "multiplyScalar", separable: true, arrays: &[], keeps_dtype: true, special: None, run: run_scalar },
  SetOp { name: "clip", separable: true, arrays: &[], keeps_dtype: true, special: None, run: run_clip },
  SetOp { name: "absolute", separable: true, arrays: &[], keeps_dtype: true, special: None, run: run_absolute },
];

/// Per-dtype numpy semantics the kernels below need beyond [`Element`].
pub trait StackElement: Element {
  /// numpy's sum accumulator for this dtype (`int64` for integers, the dtype itself for floats).
  type Acc: Copy + Send + Sync + std::ops::Add<Output = Self::Acc>;
  const ZERO: Self::Acc;
  const IS_INT: bool;
  /// The dtype's range as f64 (±∞ for floats).
  const LO: f64;
  const HI: f64;
  fn acc(self) -> Self::Acc;
  /// `acc.astype(float32)` (round to nearest).
  fn acc_f32(a: Self::Acc) -> f32;
  /// `x.astype(float32)` (round to nearest).
  fn to_f32(self) -> f32;
  /// `np.abs` (two's complement: the most negative integer maps to itself, as numpy).
  fn np_abs(self) -> Self;
  /// `self != self`: NaN (constant false for integers).
  fn nan(self) -> bool;
  /// A float64 result in this dtype: integers `np.clip(np.rint(v), lo, hi)` (ties to even,
  /// saturating), floats a plain cast (round to nearest for float32).
  fn from_f64_rint_sat(v: f64) -> Self;
  /// Values of the dtype when it is narrow enough for a lookup table (8 and 16 bits), else 0.
  const TABLE: usize;
  /// The table slot of `self` (the value minus the dtype's minimum); only when `TABLE > 0`.
  fn slot(self) -> usize;
  /// The value of table slot `i`.
  fn of_slot(i: usize) -> Self;
}

macro_rules! stack_int {
  ($t:ty, $table:expr) => {
    impl StackElement for $t {
      const TABLE: usize = $table;
      #[inline(always)]
      fn slot(self) -> usize {
        (self as i64 - <$t>::MIN as i64) as usize
      }
      #[inline(always)]
      fn of_slot(i: usize) -> Self {
        (i as i64 + <$t>::MIN as i64) as $t
      }
      type Acc = i64;
      const ZERO: i64 = 0;
      const IS_INT: bool = true;
      const LO: f64 = <$t>::MIN as f64;
      const HI: f64 = <$t>::MAX as f64;
      #[inline(always)]
      fn acc(self) -> i64 {
        self as i64
      }
      #[inline(always)]
      fn acc_f32(a: i64) -> f32 {
        a as f32
      }
      #[inline(always)]
      fn to_f32(self) -> f32 {
        self as f32
      }
      #[inline(always)]
      #[allow(unused_comparisons)]
      fn np_abs(self) -> Self {
        // Unsigned: `0 - x` never taken (x < 0 is false); signed: wrapping as numpy.
        if self < 0 {
          (0 as $t).wrapping_sub(self)
        } else {
          self
        }
      }
      #[inline(always)]
      fn nan(self) -> bool {
        false
      }
      #[inline(always)]
      fn from_f64_rint_sat(v: f64) -> Self {
        // Clamping first leaves `as` nothing to saturate, so the loop vectorises (the saturating
        // cast alone did not: 3.5× slower). NaN cannot occur: x and the scalar are finite.
        v.round_ties_even().max(<$t>::MIN as f64).min(<$t>::MAX as f64) as $t
      }
    }
  };
}
stack_int!(u8, 1 << 8);
stack_int!(u16, 1 << 16);
stack_int!(i16, 1 << 16);
stack_int!(i32, 0);
stack_int!(u32, 0);

macro_rules! stack_float {
  ($t:ty) => {
    impl StackElement for $t {
      const TABLE: usize = 0;
      fn slot(self) -> usize {
        unreachable!("no table for floats")
      }
      fn of_slot(_: usize) -> Self {
        unreachable!("no table for floats")
      }
      type Acc = $t;
      const ZERO: $t = 0.0;
      const IS_INT: bool = false;
      const LO: f64 = f64::NEG_INFINITY;
      const HI: f64 = f64::INFINITY;
      #[inline(always)]
      fn acc(self) -> $t {
        self
      }
      #[inline(always)]
      fn acc_f32(a: $t) -> f32 {
        a as f32
      }
      #[inline(always)]
      fn to_f32(self) -> f32 {
        self as f32
      }
      #[inline(always)]
      fn np_abs(self) -> Self {
        self.abs()
      }
      #[inline(always)]
      #[allow(clippy::eq_op)]
      fn nan(self) -> bool {
        self != self
      }
      #[inline(always)]
      fn from_f64_rint_sat(v: f64) -> Self {
        v as $t
      }
    }
  };
}
stack_float!(f32);
stack_float!(f64);

/// Elements per parallel work item of the element-wise kernels (large enough that rayon's
/// per-item cost vanishes, small enough that two cores split a 1024² slice evenly).
const CHUNK: usize = 1 << 16;
/// Elements per inner block (an f32 scratch of this size stays in L1).
const BLOCK: usize = 2048;

/// Runs `f(offset, src chunk, out chunk)` over `src` / `out` (same length, `dims.z` slices of
/// `plane`) in parallel chunks, one cancellation group of slices after the other.
fn par_elementwise<S: Sync, O: Send>(cancel: &Cancel, dims: Dims, src: &[S], out: &mut [O], f: impl Fn(usize, &[S], &mut [O]) + Sync) -> SbResult<()> {
  let plane = dims.plane();
  let mut rest = out;
  cancel.for_ranges(dims.z, slices_per_tile(plane), |z0, z1| {
    let (head, tail) = std::mem::take(&mut rest).split_at_mut((z1 - z0) * plane);
    rest = tail;
    let base = z0 * plane;
    let s = &src[base..z1 * plane];
    head.par_chunks_mut(CHUNK).enumerate().for_each(|(i, o)| {
      let off = i * CHUNK;
      f(base + off, &s[off..off + o.len()], o)
    });
    Ok(())
  })
}

// ---------------------------------------------------------------------------------------------
// Local variance

/// Rows per band of [`local_variance_plane`]: the column pass of a band is kept (two f64 rows
/// per image row) for the row pass, so a band of a 1024-wide slice is 1 MiB, in L2.
const VAR_BAND: usize = 64;
/// Columns per parallel strip of the column pass.
const VAR_STRIP: usize = 256;

/// The local variance of one `h × w` plane over the `(2r+1)²` square:
/// `uniform_filter(x², 2r+1) − uniform_filter(x, 2r+1)²` with `x` as float64 and
/// `scipy.ndimage`'s `mode='reflect'` (`d c b a | a b c d | d c b a`, periodic for windows
/// longer than the line), cast to float32 into `out` (`h * w`).
///
/// O(n) whatever `r`: it is scipy 1.17's own algorithm, operation for operation — the filter
/// along Y then along X, each a running sum in float64 (`tmp = Σ window`, then
/// `tmp += new − old`, each output `tmp / size`) — so the float64 values are scipy's bit for bit
/// and the float32 result is scipy's cast (the golden cases allow 1e-6 × the largest |value| and
/// pass at 0).
/// NaN or ±∞ in a float input therefore spreads as in scipy: the running sums carry it to every
/// later output of the line, i.e. a NaN at (y, x) makes every output at (≥ y − r, ≥ x − r) NaN.
/// Integer inputs are used as the values given. Parallel inside the plane (column strips, then
/// rows), in bands of [`VAR_BAND`] rows.
pub fn local_variance_plane<T: Element>(src: &[T], h: usize, w: usize, radius: usize, out: &mut [f32]) {
  assert_eq!(src.len(), h * w, "variance input");
  assert_eq!(out.len(), h * w, "variance output");
  if h == 0 || w == 0 {
    return;
  }
  let r = radius.min(MAX_RADIUS);
  let size = 2 * r + 1;
  let sz = size as f64;
  let mut acc1 = vec![0.0f64; w];
  let mut acc2 = vec![0.0f64; w];
  let mut a1 = vec![0.0f64; VAR_BAND.min(h) * w];
  let mut a2 = vec![0.0f64; VAR_BAND.min(h) * w];
  let band = VAR_BAND.min(h);
  let row = |y: isize| -> &[T] {
    let y = border_index(y, h, BorderMode::Reflect);
    &src[y * w..(y + 1) * w]
  };
  let mut y0 = 0;
  while y0 < h {
    let rows = band.min(h - y0);
    // Column pass: each strip of columns keeps its running sums across bands.
    acc1
      .par_chunks_mut(VAR_STRIP)
      .zip(acc2.par_chunks_mut(VAR_STRIP))
      .zip(a1.par_chunks_mut(VAR_STRIP * band))
      .zip(a2.par_chunks_mut(VAR_STRIP * band))
      .enumerate()
      .for_each(|(s, (((c1, c2), b1), b2))| {
        let x0 = s * VAR_STRIP;
        let ws = c1.len();
        for k in 0..rows {
          let y = y0 + k;
          if y == 0 {
            c1.fill(0.0);
            c2.fill(0.0);
            for j in 0..size {
              let v = &row(j as isize - r as isize)[x0..x0 + ws];
              for ((a, b), &x) in c1.iter_mut().zip(c2.iter_mut()).zip(v) {
                let x = x.to_f64();
                *a += x;
                *b += x * x;
              }
            }
          } else {
            let new = &row((y + size - 1) as isize - r as isize)[x0..x0 + ws];
            let old = &row(y as isize - 1 - r as isize)[x0..x0 + ws];
            cpu_run!(Kernel::Gaussian, column_step(c1, c2, new, old));
          }
          // The means of this row: the running sums over size (scipy divides each output).
          for (o, &a) in b1[k * ws..(k + 1) * ws].iter_mut().zip(c1.iter()) {
            *o = a / sz;
          }
          for (o, &a) in b2[k * ws..(k + 1) * ws].iter_mut().zip(c2.iter()) {
            *o = a / sz;
          }
        }
      });
    // Row pass.
    let (a1, a2) = (&a1, &a2);
    out[y0 * w..(y0 + rows) * w].par_chunks_mut(w).enumerate().for_each_init(
      || (vec![0.0f64; w + 2 * r], vec![0.0f64; w + 2 * r]),
      |(e1, e2), (k, o)| {
        // Gather row k of the band from the strips, then extend it by reflection.
        let mut x0 = 0;
        while x0 < w {
          let ws = VAR_STRIP.min(w - x0);
          let at = x0 * band + k * ws;
          e1[r + x0..r + x0 + ws].copy_from_slice(&a1[at..at + ws]);
          e2[r + x0..r + x0 + ws].copy_from_slice(&a2[at..at + ws]);
          x0 += ws;
        }
        for j in (0..r).chain(r + w..w + 2 * r) {
          let x = r + border_index(j as isize - r as isize, w, BorderMode::Reflect);
          e1[j] = e1[x];
          e2[j] = e2[x];
        }
        row_pass(e1, e2, size, o);
      },
    );
    y0 += rows;
  }
}

/// One step of the running sums down the columns: `acc += new − old` (scipy's order).
#[inline(always)]
fn column_step<T: Element>(c1: &mut [f64], c2: &mut [f64], new: &[T], old: &[T]) {
  for (((a, b), &n), &o) in c1.iter_mut().zip(c2.iter_mut()).zip(new).zip(old) {
    let (n, o) = (n.to_f64(), o.to_f64());
    *a += n - o;
    *b += n * n - o * o;
  }
}

/// The running means along one extended row (`e1`: column means of x, `e2`: of x²,
/// `w + size − 1` long) and the variance `m2 − m1²` as float32.
#[inline]
fn row_pass(e1: &[f64], e2: &[f64], size: usize, o: &mut [f32]) {
  let sz = size as f64;
  let (mut t1, mut t2) = (0.0f64, 0.0f64);
  for j in 0..size {
    t1 += e1[j];
    t2 += e2[j];
  }
  let var = |t1: f64, t2: f64| {
    let m1 = t1 / sz;
    (t2 / sz - m1 * m1) as f32
  };
  o[0] = var(t1, t2);
  for x in 1..o.len() {
    t1 += e1[x + size - 1] - e1[x - 1];
    t2 += e2[x + size - 1] - e2[x - 1];
    o[x] = var(t1, t2);
  }
}

/// The `radius` option (an integer in `[0, MAX_RADIUS]`).
fn radius_option(call: &Call, default: usize) -> SbResult<usize> {
  let p = call.params(&["radius"])?;
  let r = p.usize("radius", default)?;
  if r > MAX_RADIUS {
    return Err(SbError::invalid(format!("{}: radius {r} exceeds {MAX_RADIUS}", call.name)).with("option", "radius"));
  }
  Ok(r)
}

/// `varianceFilter({ radius = 1 })` → float32, per slice: [`local_variance_plane`].
fn run_variance(call: &Call) -> SbResult<Output> {
  let r = radius_option(call, 1)?;
  let d = call.dims()?;
  let out = call.alloc(d, DType::F32)?;
  let src = call.input.pin()?;
  let pinned = out.pin()?;
  let o = pinned.as_mut_slice::<f32>();
  let plane = d.plane();
  with_dtype!(call.input.dtype, T => {
    let s = src.as_slice::<T>();
    // Slices one after the other: the plane function is parallel inside.
    call.cancel.for_ranges(d.z, 1, |z0, _| {
      local_variance_plane(&s[z0 * plane..(z0 + 1) * plane], d.h, d.w, r, &mut o[z0 * plane..(z0 + 1) * plane]);
      Ok(())
    })?;
  });
  drop(pinned);
  Ok(Output::array(out))
}

/// `extendedDepthOfFocus({ radius = 2 })` → `[1, Y, X]` in the input dtype: per pixel the value
/// of the slice whose float32 local variance ([`local_variance_plane`], as `varianceFilter`) is
/// largest, the first slice winning ties; a NaN variance counts as the largest and the first NaN
/// wins, as `np.argmax` (oracle: `take_along_axis(x, argmax(stack(var), 0))`). Z = 0 →
/// `DimensionError`.
fn run_edf(call: &Call) -> SbResult<Output> {
  let r = radius_option(call, 2)?;
  let d = call.dims()?;
  if d.z == 0 {
    return Err(SbError::dimension(format!("{} needs at least one Z slice", call.name)).with("processor", call.name).with("z", 0));
  }
  let out = call.alloc(Dims::new(1, d.h, d.w), call.input.dtype)?;
  let src = call.input.pin()?;
  let pinned = out.pin()?;
  let plane = d.plane();
  with_dtype!(call.input.dtype, T => {
    let s = src.as_slice::<T>();
    let o = pinned.as_mut_slice::<T>();
    let mut best = vec![0.0f32; plane];
    let mut var = vec![0.0f32; plane];
    // The winning z per pixel, updated without branches (the comparisons are random on real
    // data); the values are gathered once at the end.
    let mut idx = vec![0i32; plane];
    local_variance_plane(&s[..plane], d.h, d.w, r, &mut best);
    call.cancel.begin(d.z as u64);
    call.cancel.advance(1);
    for z in 1..d.z {
      call.cancel.check()?;
      local_variance_plane(&s[z * plane..(z + 1) * plane], d.h, d.w, r, &mut var);
      let zi = z as i32;
      best.par_chunks_mut(CHUNK).zip(var.par_chunks(CHUNK)).zip(idx.par_chunks_mut(CHUNK)).for_each(|((b, v), i)| {
        for ((b, &v), i) in b.iter_mut().zip(v).zip(i.iter_mut()) {
          // Take a larger variance, or a NaN while the best is not NaN (argmax: first NaN wins).
          #[allow(clippy::eq_op)]
          let take = (v > *b) | ((v != v) & (*b == *b));
          *i += (take as i32) * (zi - *i);
          *b = if take { v } else { *b };
        }
      });
      call.cancel.advance(1);
    }
    o.par_chunks_mut(CHUNK).zip(idx.par_chunks(CHUNK)).enumerate().for_each(|(c, (o, i))| {
      for (p, (o, &i)) in o.iter_mut().zip(i).enumerate() {
        *o = s[i as usize * plane + c * CHUNK + p];
      }
    });
  });
  drop(pinned);
  Ok(Output::array(out))
}

// ---------------------------------------------------------------------------------------------
// Projections

/// Pixels of the output plane per work item of the projections.
const PROJ_BLOCK: usize = 8192;

/// The input's dims, refusing options (the projections and `absolute` take none).
fn no_options(call: &Call) -> SbResult<Dims> {
  call.params(&[])?;
  call.dims()
}

/// `x.sum(axis=0)` as numpy computes it (one row after the other into the accumulator, starting
/// from 0: int64 for integers, exact; float32 sequentially in float32; float64 in float64), then
/// `.astype(float32)`. Z = 0 gives zeros, as numpy.
pub fn sum_projection<T: StackElement>(src: &[T], d: Dims, out: &mut [f32]) {
  let plane = d.plane();
  out.par_chunks_mut(PROJ_BLOCK).enumerate().for_each(|(b, o)| {
    let start = b * PROJ_BLOCK;
    let mut acc = vec![T::ZERO; o.len()];
    for z in 0..d.z {
      let row = &src[z * plane + start..][..o.len()];
      for (a, &x) in acc.iter_mut().zip(row) {
        *a = *a + x.acc();
      }
    }
    for (o, &a) in o.iter_mut().zip(&acc) {
      *o = T::acc_f32(a);
    }
  });
}

/// `np.argmax(x, axis=0)` as int32: the first z of the maximum; a NaN counts as the maximum, the
/// first NaN winning (numpy). `d.z ≥ 1`.
pub fn argmax_projection<T: StackElement>(src: &[T], d: Dims, out: &mut [i32]) {
  let plane = d.plane();
  out.par_chunks_mut(PROJ_BLOCK).enumerate().for_each(|(b, o)| {
    let start = b * PROJ_BLOCK;
    let mut best: Vec<T> = src[start..start + o.len()].to_vec();
    o.fill(0);
    for z in 1..d.z {
      let row = &src[z * plane + start..][..o.len()];
      let zi = z as i32;
      for ((m, i), &x) in best.iter_mut().zip(o.iter_mut()).zip(row) {
        // Arithmetic and a select, not a branch: on noisy data the outcome is random (the
        // branch cost 8× on 4×1024² uint16 noise).
        let take = (x > *m) | (x.nan() & !m.nan());
        *i += (take as i32) * (zi - *i);
        *m = if take { x } else { *m };
      }
    }
  });
}

/// `sumProjection` → `[1, Y, X]` float32.
fn run_sum(call: &Call) -> SbResult<Output> {
  let d = no_options(call)?;
  let out = call.alloc(Dims::new(1, d.h, d.w), DType::F32)?;
  let src = call.input.pin()?;
  let pinned = out.pin()?;
  with_dtype!(call.input.dtype, T => sum_projection(src.as_slice::<T>(), d, pinned.as_mut_slice::<f32>()));
  drop(pinned);
  Ok(Output::array(out))
}

/// `argmaxProjection` → `[1, Y, X]` int32; Z = 0 → `DimensionError` (numpy raises).
fn run_argmax(call: &Call) -> SbResult<Output> {
  let d = no_options(call)?;
  if d.z == 0 {
    return Err(SbError::dimension(format!("{} needs at least one Z slice", call.name)).with("processor", call.name).with("z", 0));
  }
  // DESIGN §12: uint32 indices (written as the same non-negative i32 values).
  let out = call.alloc(Dims::new(1, d.h, d.w), DType::U32)?;
  let src = call.input.pin()?;
  let pinned = out.pin()?;
  with_dtype!(call.input.dtype, T => argmax_projection(src.as_slice::<T>(), d, pinned.as_mut_slice::<i32>()));
  drop(pinned);
  Ok(Output::array(out))
}

// ---------------------------------------------------------------------------------------------
// Element-wise on two stacks

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
  Add,
  Subtract,
  Multiply,
  Divide,
}

impl BinaryOp {
  pub fn parse(name: &str) -> Option<BinaryOp> {
    Some(match name {
      "add" => BinaryOp::Add,
      "subtract" => BinaryOp::Subtract,
      "multiply" => BinaryOp::Multiply,
      "divide" => BinaryOp::Divide,
      _ => return None,
    })
  }
}

/// `out[i] = out[i] OP y[i]` in float32 (IEEE: x / 0 is ±∞, 0 / 0 NaN, as numpy).
#[inline(always)]
fn apply_op(op: BinaryOp, o: &mut [f32], y: &[f32]) {
  match op {
    BinaryOp::Add => o.iter_mut().zip(y).for_each(|(a, b)| *a += b),
    BinaryOp::Subtract => o.iter_mut().zip(y).for_each(|(a, b)| *a -= b),
    BinaryOp::Multiply => o.iter_mut().zip(y).for_each(|(a, b)| *a *= b),
    BinaryOp::Divide => o.iter_mut().zip(y).for_each(|(a, b)| *a /= b),
  }
}

#[inline(always)]
fn to_f32_into<T: StackElement>(src: &[T], out: &mut [f32]) {
  for (o, &x) in out.iter_mut().zip(src) {
    *o = x.to_f32();
  }
}

/// The other operand of the element-wise ops: the stack's shape, or one slice (`[1, Y, X]` or
/// `[Y, X]`) applied to every slice. Returns whether it is one slice.
pub fn check_other(name: &str, stack: &[usize], other: &[usize]) -> SbResult<bool> {
  let (z, h, w) = (stack[0], stack[1], stack[2]);
  match other {
    [oz, oh, ow] if (*oz, *oh, *ow) == (z, h, w) => Ok(false),
    [1, oh, ow] | [oh, ow] if (*oh, *ow) == (h, w) => Ok(true),
    _ => Err(
      SbError::dimension(format!("{name}: the other array has shape {other:?}; it must be the stack's shape {stack:?}, [1, {h}, {w}] or [{h}, {w}]"))
        .with("processor", name)
        .with("shape", other.to_vec())
        .with("stackShape", stack.to_vec()),
    ),
  }
}

/// `x.astype(float32) OP y.astype(float32)` (numpy) into `out`; `y` is `x`'s length or one
/// slice of `d` broadcast over Z.
pub fn binary<T: StackElement, U: StackElement>(cancel: &Cancel, op: BinaryOp, x: &[T], y: &[U], d: Dims, out: &mut [f32]) -> SbResult<()> {
  let plane = d.plane();
  let broadcast = y.len() != x.len();
  par_elementwise(cancel, d, x, out, |off, xs, o| {
    let mut buf = [0.0f32; BLOCK];
    let mut i = 0;
    while i < o.len() {
      // A block never crosses a slice boundary when `y` is broadcast.
      let g = off + i;
      let mut n = BLOCK.min(o.len() - i);
      let yo = if broadcast {
        n = n.min(plane - g % plane);
        g % plane
      } else {
        g
      };
      let (ob, yb) = (&mut o[i..i + n], &mut buf[..n]);
      cpu_run!(Kernel::Cast, {
        to_f32_into(&xs[i..i + n], ob);
        to_f32_into(&y[yo..yo + n], yb);
        apply_op(op, ob, yb);
      });
      i += n;
    }
  })
}

/// `add`, `subtract`, `multiply`, `divide` (stack, other) → float32.
fn run_binary(call: &Call) -> SbResult<Output> {
  call.params(&[])?;
  let op = BinaryOp::parse(call.name).expect("a binary op's name");
  let d = call.dims()?;
  let other = call.required(0);
  check_other(call.name, &call.input.shape, &other.shape)?;
  let out = call.alloc(d, DType::F32)?;
  let (src, oth, pinned) = (call.input.pin()?, other.pin()?, out.pin()?);
  with_dtype!(call.input.dtype, T => {
    let x = src.as_slice::<T>();
    let o = pinned.as_mut_slice::<f32>();
    with_dtype!(other.dtype, U => binary(call.cancel, op, x, oth.as_slice::<U>(), d, o)?);
  });
  drop(pinned);
  Ok(Output::array(out))
}

// ---------------------------------------------------------------------------------------------
// Scalar ops, clip, absolute

/// `addScalar` (`add: true`) or `multiplyScalar`: `x.astype(float64) + s` (or `* s`) in float64,
/// then for integer dtypes rounded half to even and saturated to the dtype's range
/// (`np.clip(np.rint(v), lo, hi).astype(dtype)`), for float32 rounded to nearest
/// (`.astype(float32)`), float64 as is. NaN stays NaN.
/// 8- and 16-bit stacks of more than a few table sizes go through a table of every value's
/// result (the float64 rounding and saturation cost more per element than a lookup).
pub fn scalar_op<T: StackElement>(cancel: &Cancel, add: bool, s: f64, x: &[T], d: Dims, out: &mut [T]) -> SbResult<()> {
  if T::TABLE > 0 && x.len() >= 4 * T::TABLE {
    let f = |v: f64| if add { v + s } else { v * s };
    let table: Vec<T> = (0..T::TABLE).map(|i| T::from_f64_rint_sat(f(T::of_slot(i).to_f64()))).collect();
    return par_elementwise(cancel, d, x, out, |_, xs, o| {
      // A slice of constant length indexed under a mask: no bounds check in the loop.
      let table = &table[..T::TABLE];
      for (o, &x) in o.iter_mut().zip(xs) {
        *o = table[x.slot() & (T::TABLE - 1)];
      }
    });
  }
  par_elementwise(cancel, d, x, out, |_, xs, o| {
    cpu_run!(Kernel::Cast, {
      if add {
        for (o, &x) in o.iter_mut().zip(xs) {
          *o = T::from_f64_rint_sat(x.to_f64() + s);
        }
      } else {
        for (o, &x) in o.iter_mut().zip(xs) {
          *o = T::from_f64_rint_sat(x.to_f64() * s);
        }
      }
    })
  })
}

/// Reads `addScalar` / `multiplyScalar`'s `{ scalar }` (required, finite); the device versions read it here too.
pub fn scalar_option(call: &Call) -> SbResult<f64> {
  let p = call.params(&["scalar"])?;
  let s = p.f64("scalar", f64::NAN)?;
  if s.is_nan() {
    return Err(SbError::invalid(format!("{}: option scalar (a finite number) is required", call.name)).with("option", "scalar"));
  }
  Ok(s)
}

fn run_scalar(call: &Call) -> SbResult<Output> {
  let s = scalar_option(call)?;
  let d = call.dims()?;
  let out = call.alloc(d, call.input.dtype)?;
  let (src, pinned) = (call.input.pin()?, out.pin()?);
  with_dtype!(call.input.dtype, T => scalar_op(call.cancel, call.name == "addScalar", s, src.as_slice::<T>(), d, pinned.as_mut_slice::<T>())?);
  drop(pinned);
  Ok(Output::array(out))
}

/// A clip bound in the dtype, as numpy 2 applies a Python scalar bound: integer dtypes truncate
/// it toward zero and saturate it to the dtype's range (`np.clip(uint8, -5, 300)` clips to
/// [0, 255]; a fractional bound `b` gives the same result as clipping in float64 and casting
/// back); float32 rounds it to nearest; float64 keeps it.
pub fn clip_bound<T: StackElement>(b: f64) -> T {
  if T::IS_INT {
    T::from_f64(b.trunc().clamp(T::LO, T::HI))
  } else {
    T::from_f64(b)
  }
}

/// `np.clip(x, lo, hi)` with bounds from [`clip_bound`]; NaN stays NaN (numpy's clip propagates it).
pub fn clip<T: StackElement>(cancel: &Cancel, lo: T, hi: T, x: &[T], d: Dims, out: &mut [T]) -> SbResult<()> {
  par_elementwise(cancel, d, x, out, |_, xs, o| {
    cpu_run!(Kernel::Cast, {
      for (o, &x) in o.iter_mut().zip(xs) {
        // Comparisons with NaN are false: NaN passes through.
        let v = if x < lo { lo } else { x };
        *o = if v > hi { hi } else { v };
      }
    })
  })
}

/// `clip`'s `{ min, max }` (at least one; `min ≤ max`) as given, before [`clip_bound`] (also the
/// device kernels' parser).
pub fn clip_options(call: &Call) -> SbResult<(f64, f64)> {
  let p = call.params(&["min", "max"])?;
  let (lo, hi) = (p.f64("min", f64::NEG_INFINITY)?, p.f64("max", f64::INFINITY)?);
  if lo == f64::NEG_INFINITY && hi == f64::INFINITY {
    return Err(SbError::invalid(format!("{}: give min, max or both", call.name)).with("option", "min"));
  }
  if lo > hi {
    return Err(SbError::invalid(format!("{}: min {lo} is greater than max {hi}", call.name)).with("option", "min").with("min", lo).with("max", hi));
  }
  Ok((lo, hi))
}

fn run_clip(call: &Call) -> SbResult<Output> {
  let (lo, hi) = clip_options(call)?;
  let d = call.dims()?;
  let out = call.alloc(d, call.input.dtype)?;
  let (src, pinned) = (call.input.pin()?, out.pin()?);
  with_dtype!(call.input.dtype, T => clip(call.cancel, clip_bound::<T>(lo), clip_bound::<T>(hi), src.as_slice::<T>(), d, pinned.as_mut_slice::<T>())?);
  drop(pinned);
  Ok(Output::array(out))
}

/// `np.abs(x)` in the input dtype: the most negative int16 / int32 stays itself (numpy wraps),
/// unsigned values are unchanged, NaN stays NaN.
pub fn absolute<T: StackElement>(cancel: &Cancel, x: &[T], d: Dims, out: &mut [T]) -> SbResult<()> {
  par_elementwise(cancel, d, x, out, |_, xs, o| {
    cpu_run!(Kernel::Cast, {
      for (o, &x) in o.iter_mut().zip(xs) {
        *o = x.np_abs();
      }
    })
  })
}

fn run_absolute(call: &Call) -> SbResult<Output> {
  let d = no_options(call)?;
  let out = call.alloc(d, call.input.dtype)?;
  let (src, pinned) = (call.input.pin()?, out.pin()?);
  with_dtype!(call.input.dtype, T => absolute(call.cancel, src.as_slice::<T>(), d, pinned.as_mut_slice::<T>())?);
  drop(pinned);
  Ok(Output::array(out))
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::dispatch::run_named;
  use stackbridge_core::{ErrorCode, HostArray, MemoryType};

  fn arr<T: Element>(shape: &[usize], data: &[T]) -> HostArray {
    let a = HostArray::alloc(shape.to_vec(), T::DTYPE, MemoryType::Numpy, false).unwrap();
    a.pin().unwrap().as_mut_slice::<T>().copy_from_slice(data);
    a
  }

  fn run(name: &str, a: &HostArray, aux: &[Option<HostArray>], opts: &str) -> SbResult<HostArray> {
    run_named(name, a, opts, aux, &Cancel::none()).map(|o| o.array.unwrap())
  }

  fn vals<T: Element>(a: &HostArray) -> Vec<T> {
    a.pin().unwrap().as_slice::<T>().to_vec()
  }

  fn code<T>(r: SbResult<T>) -> ErrorCode {
    r.err().expect("an error").code
  }

  /// A direct O(n·r²) reference of the variance (window sums then moments, float64).
  fn naive_var(x: &[f64], h: usize, w: usize, r: usize) -> Vec<f64> {
    let n = ((2 * r + 1) * (2 * r + 1)) as f64;
    let mut out = vec![0.0; h * w];
    for y in 0..h {
      for xx in 0..w {
        let (mut s1, mut s2) = (0.0, 0.0);
        for dy in -(r as isize)..=r as isize {
          for dx in -(r as isize)..=r as isize {
            let yy = border_index(y as isize + dy, h, BorderMode::Reflect);
            let xj = border_index(xx as isize + dx, w, BorderMode::Reflect);
            let v = x[yy * w + xj];
            s1 += v;
            s2 += v * v;
          }
        }
        out[y * w + xx] = s2 / n - (s1 / n) * (s1 / n);
      }
    }
    out
  }

  #[test]
  fn variance_matches_a_direct_window_sum() {
    let mut seed = 7u64;
    for &(h, w, r) in &[(1, 1, 1), (1, 7, 2), (9, 1, 1), (2, 3, 4), (70, 300, 3), (130, 17, 0), (5, 600, 1)] {
      let x: Vec<u16> = (0..h * w)
        .map(|_| {
          seed ^= seed << 13;
          seed ^= seed >> 7;
          seed ^= seed << 17;
          (seed % 4096) as u16
        })
        .collect();
      let mut out = vec![0.0f32; h * w];
      local_variance_plane(&x, h, w, r, &mut out);
      let want = naive_var(&x.iter().map(|&v| v as f64).collect::<Vec<_>>(), h, w, r);
      for (i, (&g, &e)) in out.iter().zip(&want).enumerate() {
        assert!((g as f64 - e).abs() <= 1e-3 + 1e-5 * e.abs(), "{h}x{w} r{r} at {i}: {g} vs {e}");
      }
    }
  }

  #[test]
  fn options_and_shapes_are_checked() {
    let a = arr(&[2, 2, 3], &[1u16, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    assert_eq!(code(run("varianceFilter", &a, &[], r#"{"radius": 1.5}"#)), ErrorCode::InvalidArgument);
    assert_eq!(code(run("varianceFilter", &a, &[], r#"{"radius": -1}"#)), ErrorCode::InvalidArgument);
    assert_eq!(code(run("varianceFilter", &a, &[], r#"{"size": 3}"#)), ErrorCode::InvalidArgument);
    assert_eq!(code(run("varianceFilter", &a, &[], r#"{"radius": 100000}"#)), ErrorCode::InvalidArgument);
    assert_eq!(code(run("extendedDepthOfFocus", &a, &[], r#"{"radius": "2"}"#)), ErrorCode::InvalidArgument);
    assert_eq!(code(run("sumProjection", &a, &[], r#"{"axis": 0}"#)), ErrorCode::InvalidArgument);
    assert_eq!(code(run("addScalar", &a, &[], "{}")), ErrorCode::InvalidArgument);
    assert_eq!(code(run("multiplyScalar", &a, &[], r#"{"scalar": "x"}"#)), ErrorCode::InvalidArgument);
    assert_eq!(code(run("clip", &a, &[], "{}")), ErrorCode::InvalidArgument);
    assert_eq!(code(run("clip", &a, &[], r#"{"min": 5, "max": 4}"#)), ErrorCode::InvalidArgument);
    assert_eq!(code(run("absolute", &a, &[], r#"{"x": 1}"#)), ErrorCode::InvalidArgument);
    // The other operand: same shape, [1, Y, X] or [Y, X]; anything else names both shapes.
    let bad = arr(&[3, 2], &[0u8; 6]);
    let e = run("add", &a, &[Some(bad)], "{}").err().unwrap();
    assert_eq!(e.code, ErrorCode::Dimension);
    assert!(e.message.contains("[3, 2]") && e.message.contains("[2, 2, 3]"), "{}", e.message);
    assert_eq!(code(run("add", &a, &[Some(arr(&[2, 2, 3, 1], &[0u8; 12]))], "{}")), ErrorCode::Dimension);
    assert_eq!(code(run("add", &a, &[], "{}")), ErrorCode::InvalidArgument);
    assert_eq!(code(run("add", &a, &[Some(a.clone())], r#"{"k": 1}"#)), ErrorCode::InvalidArgument);
    // Not a stack.
    assert_eq!(code(run("absolute", &arr(&[3], &[1u8, 2, 3]), &[], "")), ErrorCode::Dimension);
  }

  #[test]
  fn empty_stacks() {
    let e = HostArray::alloc(vec![0, 2, 3], DType::U16, MemoryType::Numpy, false).unwrap();
    assert_eq!(code(run("argmaxProjection", &e, &[], "")), ErrorCode::Dimension);
    assert_eq!(code(run("extendedDepthOfFocus", &e, &[], "")), ErrorCode::Dimension);
    let s = run("sumProjection", &e, &[], "").unwrap();
    assert_eq!((s.shape.clone(), vals::<f32>(&s)), (vec![1, 2, 3], vec![0.0; 6]));
    for name in ["varianceFilter", "absolute"] {
      assert_eq!(run(name, &e, &[], "").unwrap().shape, vec![0, 2, 3]);
    }
    assert_eq!(run("addScalar", &e, &[], r#"{"scalar": 1}"#).unwrap().shape, vec![0, 2, 3]);
    assert_eq!(run("clip", &e, &[], r#"{"max": 1}"#).unwrap().shape, vec![0, 2, 3]);
    let one = HostArray::alloc(vec![2, 3], DType::U8, MemoryType::Numpy, false).unwrap();
    assert_eq!(run("divide", &e, &[Some(one)], "").unwrap().shape, vec![0, 2, 3]);
    let flat = HostArray::alloc(vec![2, 0, 3], DType::F32, MemoryType::Numpy, false).unwrap();
    assert_eq!(run("varianceFilter", &flat, &[], "").unwrap().shape, vec![2, 0, 3]);
    assert_eq!(run("extendedDepthOfFocus", &flat, &[], "").unwrap().shape, vec![1, 0, 3]);
  }

  #[test]
  fn hand_cases() {
    let a = arr(&[1, 1, 4], &[-32768i16, -5, 0, 32767]);
    assert_eq!(vals::<i16>(&run("absolute", &a, &[], "").unwrap()), vec![-32768, 5, 0, 32767]);
    assert_eq!(vals::<i16>(&run("addScalar", &a, &[], r#"{"scalar": -0.5}"#).unwrap()), vec![-32768, -6, 0, 32766]);
    assert_eq!(vals::<i16>(&run("multiplyScalar", &a, &[], r#"{"scalar": 2.5}"#).unwrap()), vec![-32768, -12, 0, 32767]);
    assert_eq!(vals::<i16>(&run("clip", &a, &[], r#"{"min": -4.9, "max": 1e9}"#).unwrap()), vec![-4, -4, 0, 32767]);
    let b = arr(&[3, 1, 2], &[1.0f32, f32::NAN, 3.0, 2.0, 3.0, f32::NAN]);
    assert_eq!(vals::<i32>(&run("argmaxProjection", &b, &[], "").unwrap()), vec![1, 0]);
    let d = run("divide", &arr(&[1, 1, 3], &[1u8, 0, 2]), &[Some(arr(&[1, 3], &[0.0f64, 0.0, -0.0]))], "").unwrap();
    let q = vals::<f32>(&d);
    assert!(q[0] == f32::INFINITY && q[1].is_nan() && q[2] == f32::NEG_INFINITY, "{q:?}");
  }

  #[test]
  fn scalar_table_matches_direct() {
    let x: Vec<i16> = (0..1 << 18).map(|i| (i as i64 * 7919 % 65536 - 32768) as i16).collect();
    let d = Dims::new(1, 1 << 9, 1 << 9);
    for (add, s) in [(true, 2.5), (false, -0.5), (false, 3.0), (true, -1e9)] {
      let mut table = vec![0i16; x.len()];
      scalar_op(&Cancel::none(), add, s, &x, d, &mut table).unwrap();
      let direct: Vec<i16> = x.iter().map(|&v| i16::from_f64_rint_sat(if add { v as f64 + s } else { v as f64 * s })).collect();
      assert_eq!(table, direct);
    }
  }

  #[test]
  fn cancellation_aborts() {
    let a = arr(&[2, 1, 2], &[1u8, 2, 3, 4]);
    let c = Cancel::new();
    c.cancel();
    assert_eq!(run_named("absolute", &a, "", &[], &c).err().unwrap().code, ErrorCode::Aborted);
  }

  /// Rough timings on a 4×1024² uint16 stack (`cargo test --release --lib set::stack -- --ignored --nocapture`).
  #[test]
  #[ignore]
  fn timing() {
    let n = 4 * 1024 * 1024;
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let data: Vec<u16> = (0..n)
      .map(|_| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed >> 48) as u16
      })
      .collect();
    let a = arr(&[4, 1024, 1024], &data);
    let other = arr(&[4, 1024, 1024], &data);
    for (name, opts, aux) in [
      ("varianceFilter", "{}", None),
      ("extendedDepthOfFocus", "{}", None),
      ("sumProjection", "", None),
      ("argmaxProjection", "", None),
      ("add", "", Some(other.clone())),
      ("divide", "", Some(other.clone())),
      ("addScalar", r#"{"scalar": 3.5}"#, None),
      ("multiplyScalar", r#"{"scalar": 1.5}"#, None),
      ("clip", r#"{"min": 100, "max": 60000}"#, None),
      ("absolute", "", None),
    ] {
      let aux: Vec<Option<HostArray>> = aux.into_iter().map(Some).collect();
      run(name, &a, &aux, opts).unwrap();
      let t = std::time::Instant::now();
      let reps = 10;
      for _ in 0..reps {
        run(name, &a, &aux, opts).unwrap();
      }
      eprintln!("{name}: {:.2} ms", t.elapsed().as_secs_f64() * 1e3 / reps as f64);
    }
  }
}
