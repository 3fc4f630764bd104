//! The tophat processor: anti-aliased downsampling, flat-disk opening, order-1
//! upsampling, subtraction (and the exact full-resolution top-hat for downsampleFactor 1).
//!
//! Same operations, in the same order and precision, as `stackbridge_kernels::tophat` (the
//! oracle): the working type is float for float32 stacks and double otherwise (float without
//! cl_khr_fp64), sums in `acc_t` with no FMA contraction. Host-side work is bookkeeping only: the
//! Gaussian taps (`gaussian_half_kernel`), the zoom's sample indices and weights (`LinearAxis`),
//! the disk's chord half-widths (`chord_half_width`).
//!
//! Programs: `resize` (value ranges, the Gaussian on the sampled rows / columns only, the zoom
//! with its clip, the fused upsample + subtract + cast) and `morphology` (erosion / dilation over
//! the disk clipped to the image, by chords: doubling tables of running extrema per row, one
//! launch per level, then per pixel two overlapping lookups per chord). Slices are processed in
//! chunks that keep the temporaries under [`TEMP_BUDGET`].

use crate::{long, type_defines, Gpu};
use crate::Arg::{Buf, I32, I64};
use stackbridge_core::{DType, SbResult};
use stackbridge_kernels::morphology::chord_half_width;
use stackbridge_kernels::resize::{antialias_sigma, gaussian_half_kernel, LinearAxis};
use stackbridge_kernels::tophat::{check, TophatParams};
use stackbridge_kernels::Dims;

/// Bytes of temporaries one chunk of slices may use (at least one slice per chunk).
const TEMP_BUDGET: usize = 256 << 20;
/// Highest doubling-table level stored (windows of 2^10 pixels); longer chords take more
/// lookups of that level.
const MAX_LEVEL: usize = 10;

/// `tophat` → `out` of `dtype`.
pub fn tophat<C: Gpu>(ctx: &C, src: &C::Buf, dims: Dims, dtype: DType, p: &TophatParams, out: &C::Buf) -> SbResult<()> {
  tophat_with_budget(ctx, src, dims, dtype, p, out, TEMP_BUDGET)
}

/// [`tophat`] with the slices processed in chunks of at most `budget` bytes of temporaries (at
/// least one slice per chunk); for tests of the chunking.
pub fn tophat_with_budget<C: Gpu>(ctx: &C, src: &C::Buf, dims: Dims, dtype: DType, p: &TophatParams, out: &C::Buf, budget: usize) -> SbResult<()> {
  check(dims, p)?;
  if dims.is_empty() {
    return Ok(());
  }
  if p.downsample_factor == 1 {
    full_resolution(ctx, src, dims, dtype, p.selem_radius, out, budget)
  } else {
    downsampled(ctx, src, dims, dtype, p, out, budget)
  }
}

fn floor_log2(n: usize) -> usize {
  (usize::BITS - 1 - n.leading_zeros()) as usize
}

fn bytes_of(dt: DType) -> usize {
  match dt {
    DType::U8 => 1,
    DType::U16 | DType::I16 => 2,
    DType::I32 | DType::U32 | DType::F32 => 4,
    DType::F64 => 8,
  }
}

fn upload_idx<C: Gpu>(ctx: &C, data: impl Iterator<Item = usize>) -> SbResult<C::Buf> {
  let v: Vec<i32> = data.map(|i| i as i32).collect();
  ctx.upload(&v)
}

/// How many slices of `per_slice` temporary bytes fit the budget (1..=z).
fn chunk_slices(z: usize, per_slice: usize, budget: usize) -> usize {
  (budget / per_slice.max(1)).clamp(1, z)
}

/// Erosion / dilation by the clipped `disk(r)` on `h x w` slices.
struct MorphPlan<C: Gpu> {
  h: usize,
  w: usize,
  /// Vertical reach `min(r, h - 1)`.
  ry: usize,
  /// Chords `d <= reach` cover the whole row (-1: none).
  reach: i64,
  /// Edge padding of the table rows: the widest chord that is not a whole row.
  pad: usize,
  /// Table levels 0..=levels are built when some chord is not a whole row (`tables`).
  levels: usize,
  tables: bool,
  /// Chord half-widths for `d` in `0..=ry`, clamped to `w - 1` (int).
  halfw: C::Buf,
  /// The table level of each chord: `min(floor(log2(2 halfw + 1)), levels)` (int).
  lvl: C::Buf,
  /// Element type of the images.
  dtype: DType,
}

/// Per-chunk temporaries of a [`MorphPlan`].
struct MorphTemps<C: Gpu> {
  tabs: C::Buf,
  ext: C::Buf,
  whole: C::Buf,
}

impl<C: Gpu> MorphPlan<C> {
  fn new(ctx: &C, h: usize, w: usize, r: usize, dtype: DType) -> SbResult<MorphPlan<C>> {
    MorphPlan::with_chords(ctx, h, w, r, dtype, |d| chord_half_width(r, d))
  }

  /// The plan for a footprint of rows `-r..=r` whose row `d` has half-width `chord(|d|)` (the
  /// disk's chords, or `r` for every row of the `(2r+1)²` square).
  fn with_chords(ctx: &C, h: usize, w: usize, r: usize, dtype: DType, chord: impl Fn(usize) -> usize) -> SbResult<MorphPlan<C>> {
    let ry = r.min(h - 1);
    let halfw: Vec<usize> = (0..=ry).map(|d| chord(d).min(w - 1)).collect();
    let whole = halfw.iter().take_while(|&&a| a == w - 1).count();
    let tables = whole <= ry;
    let pad = if tables { halfw[whole] } else { 0 };
    let levels = floor_log2(2 * pad + 1).min(MAX_LEVEL);
    Ok(MorphPlan {
      h,
      w,
      ry,
      reach: whole as i64 - 1,
      pad,
      levels,
      tables,
      halfw: upload_idx(ctx, halfw.iter().copied())?,
      lvl: upload_idx(ctx, halfw.iter().map(|&a| floor_log2(2 * a + 1).min(levels)))?,
      dtype,
    })
  }

  /// Table elements per slice.
  fn table_len(&self) -> usize {
    if self.tables {
      (self.levels + 1) * self.h * (self.w + 2 * self.pad)
    } else {
      0
    }
  }

  /// Temporary bytes per slice.
  fn bytes_per_slice(&self) -> usize {
    bytes_of(self.dtype) * (self.table_len() + 2 * self.h)
  }

  fn temps(&self, ctx: &C, nz: usize) -> SbResult<MorphTemps<C>> {
    Ok(MorphTemps {
      tabs: ctx.temp(self.dtype, nz * self.table_len())?,
      ext: ctx.temp(self.dtype, nz * self.h)?,
      whole: ctx.temp(self.dtype, nz * self.h)?,
    })
  }

  /// `out[out_off..]` = erosion (`max` false) or dilation of `nz` slices at `src[src_off..]`.
  #[allow(clippy::too_many_arguments)]
  fn run(&self, ctx: &C, prog: &C::Program, t: &MorphTemps<C>, src: &C::Buf, src_off: usize, out: &C::Buf, out_off: usize, nz: usize, max: bool) -> SbResult<()> {
    let (h, w, pad) = (self.h, self.w, self.pad);
    let pw = w + 2 * pad;
    let rows = nz * h;
    let stride = rows * pw;
    let mx = max as i32;
    if self.tables {
      ctx.launch(prog, "morph_pad", &[pw, rows], &[Buf(src), long(src_off), Buf(&t.tabs), long(w), long(pad), long(rows)])?;
      for k in 1..=self.levels {
        ctx.launch(
          prog,
          "morph_level",
          &[pw, rows],
          &[Buf(&t.tabs), long((k - 1) * stride), Buf(&t.tabs), long(k * stride), long(pw), long(rows), long(1 << (k - 1)), I32(mx)],
        )?;
      }
    }
    if self.reach >= 0 {
      ctx.launch(prog, "morph_row_extremum", &[rows], &[Buf(src), long(src_off), Buf(&t.ext), long(w), long(rows), I32(mx)])?;
      ctx.launch(prog, "morph_whole", &[h, nz], &[Buf(&t.ext), Buf(&t.whole), long(h), long(nz), I64(self.reach), I32(mx)])?;
    }
    ctx.launch(
      prog,
      if max { "morph_query_max" } else { "morph_query_min" },
      &[w, h, nz],
      &[
        Buf(src),
        long(src_off),
        Buf(&t.tabs),
        long(stride),
        Buf(&t.whole),
        Buf(&self.halfw),
        Buf(&self.lvl),
        Buf(out),
        long(out_off),
        long(h),
        long(w),
        long(pad),
        long(nz),
        long(self.ry),
        I64(self.reach),
      ],
    )
  }
}

/// Grey-scale erosion (`max` false) or dilation of every slice of `src` into `out` by `disk(r)`
/// (`square` false) or the `(2r+1)²` square, clipped to the image (skimage.morphology.erosion /
/// dilation: out-of-image pixels never win), as `stackbridge_kernels::morphology` computes it.
pub fn erode_dilate<C: Gpu>(ctx: &C, src: &C::Buf, dims: Dims, dtype: DType, r: usize, square: bool, max: bool, out: &C::Buf) -> SbResult<()> {
  if dims.is_empty() {
    return Ok(());
  }
  let prog = ctx.program("morphology", &type_defines(ctx, "M_T", dtype)?)?;
  let plan = if square { MorphPlan::with_chords(ctx, dims.h, dims.w, r, dtype, |_| r)? } else { MorphPlan::new(ctx, dims.h, dims.w, r, dtype)? };
  let plane = dims.plane();
  let nz = chunk_slices(dims.z, plan.bytes_per_slice(), TEMP_BUDGET);
  let tmp = plan.temps(ctx, nz)?;
  let mut z0 = 0;
  while z0 < dims.z {
    let n = nz.min(dims.z - z0);
    plan.run(ctx, &prog, &tmp, src, z0 * plane, out, z0 * plane, n, max)?;
    z0 += n;
  }
  Ok(())
}

/// `downsampleFactor == 1`: `skimage.morphology.white_tophat(slice, disk(r))` in the input dtype.
fn full_resolution<C: Gpu>(ctx: &C, src: &C::Buf, dims: Dims, dtype: DType, r: usize, out: &C::Buf, budget: usize) -> SbResult<()> {
  let prog = ctx.program("morphology", &type_defines(ctx, "M_T", dtype)?)?;
  let (h, w, plane) = (dims.h, dims.w, dims.plane());
  let plan = MorphPlan::new(ctx, h, w, r, dtype)?;
  let nz = chunk_slices(dims.z, plan.bytes_per_slice() + bytes_of(dtype) * plane, budget);
  let tmp = plan.temps(ctx, nz)?;
  let eroded = ctx.temp(dtype, nz * plane)?;
  let mut z0 = 0;
  while z0 < dims.z {
    let n = nz.min(dims.z - z0);
    let off = z0 * plane;
    plan.run(ctx, &prog, &tmp, src, off, &eroded, 0, n, false)?;
    plan.run(ctx, &prog, &tmp, &eroded, 0, out, off, n, true)?;
    ctx.launch(&prog, "morph_tophat_sub", &[n * plane], &[Buf(src), long(off), Buf(out), long(off), long(n * plane)])?;
    z0 += n;
  }
  Ok(())
}

/// `downsampleFactor > 1`: downsample, open, upsample, subtract (stackbridge_kernels::tophat).
fn downsampled<C: Gpu>(ctx: &C, src: &C::Buf, dims: Dims, dtype: DType, p: &TophatParams, out: &C::Buf, budget: usize) -> SbResult<()> {
  let f = p.downsample_factor;
  let (h, w, plane) = (dims.h, dims.w, dims.plane());
  let (hs, ws, r) = (h / f, w / f, p.selem_radius / f);
  // skimage's working type: float32 for float32 stacks, float64 otherwise.
  let work = if dtype == DType::F32 || !ctx.fp64() { DType::F32 } else { DType::F64 };
  let wt = crate::kernel_type(work);
  let rprog = ctx.program("resize", &format!("{} -D W_T={wt}", type_defines(ctx, "T_IN", dtype)?))?;
  let mprog = ctx.program("morphology", &format!("-D M_T={wt} -D M_T_IS_FLOAT=1"))?;

  // Downsampling: the Gaussian rows / columns the zoom reads, its weights.
  let (ay, ax) = (LinearAxis::new(h, hs), LinearAxis::new(w, ws));
  let rows = upload_idx(ctx, (0..hs).flat_map(|o| [ay.i0[o], ay.i1[o]]))?;
  let cols = upload_idx(ctx, (0..ws).flat_map(|o| [ax.i0[o], ax.i1[o]]))?;
  let ky = antialias_sigma(h, hs).map(gaussian_half_kernel).unwrap_or_default();
  let kx = antialias_sigma(w, ws).map(gaussian_half_kernel).unwrap_or_default();
  let (kyb, kxb) = (ctx.upload_acc(&ky)?, ctx.upload_acc(&kx)?);
  let (dy0, dy1, dx0, dx1) = (ctx.upload_acc(&ay.w0)?, ctx.upload_acc(&ay.w1)?, ctx.upload_acc(&ax.w0)?, ctx.upload_acc(&ax.w1)?);
  // Upsampling hs x ws -> h x w.
  let (uy, ux) = (LinearAxis::of_order(p.upsample_order, hs, h), LinearAxis::of_order(p.upsample_order, ws, w));
  let (uiy0, uiy1) = (upload_idx(ctx, uy.i0.iter().copied())?, upload_idx(ctx, uy.i1.iter().copied())?);
  let (uix0, uix1) = (upload_idx(ctx, ux.i0.iter().copied())?, upload_idx(ctx, ux.i1.iter().copied())?);
  let (uy0, uy1, ux0, ux1) = (ctx.upload_acc(&uy.w0)?, ctx.upload_acc(&uy.w1)?, ctx.upload_acc(&ux.w0)?, ctx.upload_acc(&ux.w1)?);

  let plan = MorphPlan::new(ctx, hs, ws, r, work)?;
  let (acc, wb) = (ctx.acc_dtype(), bytes_of(work));
  let small_plane = hs * ws;
  let per_slice = bytes_of(acc) * (2 * h + 2) + wb * (2 * hs * w + 4 * small_plane + 3 * small_plane) + plan.bytes_per_slice();
  let nz = chunk_slices(dims.z, per_slice, budget);
  let (rlo, rhi, lo, hi) = (ctx.temp(acc, nz * h)?, ctx.temp(acc, nz * h)?, ctx.temp(acc, nz)?, ctx.temp(acc, nz)?);
  let tmp1 = ctx.temp(work, nz * 2 * hs * w)?;
  let tmp2 = ctx.temp(work, nz * 4 * small_plane)?;
  let (small, eroded, opened) = (ctx.temp(work, nz * small_plane)?, ctx.temp(work, nz * small_plane)?, ctx.temp(work, nz * small_plane)?);
  let mtmp = plan.temps(ctx, nz)?;

  let mut z0 = 0;
  while z0 < dims.z {
    let n = nz.min(dims.z - z0);
    let off = z0 * plane;
    // The input's range per slice (the downsample's clip).
    ctx.launch(&rprog, "range_rows_in", &[n * h], &[Buf(src), long(off), Buf(&rlo), Buf(&rhi), long(w), long(n * h)])?;
    ctx.launch(&rprog, "range_fold", &[n], &[Buf(&rlo), Buf(&rhi), Buf(&lo), Buf(&hi), long(h), long(n)])?;
    ctx.launch(
      &rprog,
      "gauss_rows",
      &[w, 2 * hs, n],
      &[Buf(src), long(off), Buf(&tmp1), Buf(&rows), Buf(&kyb), long(ky.len()), long(h), long(w), long(2 * hs), long(n)],
    )?;
    ctx.launch(
      &rprog,
      "gauss_cols",
      &[2 * ws, 2 * hs, n],
      &[Buf(&tmp1), Buf(&tmp2), Buf(&cols), Buf(&kxb), long(kx.len()), long(w), long(2 * hs), long(2 * ws), long(n)],
    )?;
    ctx.launch(
      &rprog,
      "zoom_clip",
      &[ws, hs, n],
      &[Buf(&tmp2), Buf(&small), Buf(&dy0), Buf(&dy1), Buf(&dx0), Buf(&dx1), Buf(&lo), Buf(&hi), long(hs), long(ws), long(n)],
    )?;
    // Opening, then OpenHCS's small - (small - opening).
    plan.run(ctx, &mprog, &mtmp, &small, 0, &eroded, 0, n, false)?;
    plan.run(ctx, &mprog, &mtmp, &eroded, 0, &opened, 0, n, true)?;
    ctx.launch(&mprog, "morph_background", &[n * small_plane], &[Buf(&small), Buf(&opened), long(n * small_plane)])?;
    // The background's range per slice (the upsample's clip), then upsample and subtract.
    ctx.launch(&rprog, "range_rows_work", &[n * hs], &[Buf(&opened), long(0), Buf(&rlo), Buf(&rhi), long(ws), long(n * hs)])?;
    ctx.launch(&rprog, "range_fold", &[n], &[Buf(&rlo), Buf(&rhi), Buf(&lo), Buf(&hi), long(hs), long(n)])?;
    ctx.launch(
      &rprog,
      "upsample_subtract",
      &[w, h, n],
      &[
        Buf(src),
        long(off),
        Buf(&opened),
        Buf(out),
        long(off),
        Buf(&uiy0),
        Buf(&uiy1),
        Buf(&uy0),
        Buf(&uy1),
        Buf(&uix0),
        Buf(&uix1),
        Buf(&ux0),
        Buf(&ux1),
        Buf(&lo),
        Buf(&hi),
        long(h),
        long(w),
        long(hs),
        long(ws),
        long(n),
      ],
    )?;
    z0 += n;
  }
  Ok(())
}
