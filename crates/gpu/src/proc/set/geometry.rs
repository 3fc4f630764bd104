//! The geometry operations (program "set_geometry", with the "resize" program's Gaussian and zoom
//! kernels for `resize` / `rescale`): `rescale`, `resize`, `rotate`, `translate`, `affineTransform`
//! at orders 0 and 1, every dtype, on a device with fp64. The options, output shapes and matrices
//! come from the CPU's set-up functions (`stackbridge_kernels::set::geometry`); the kernels
//! evaluate the per-pixel gather and interpolation with the CPU's float64 (or, for float32 stacks,
//! float32 where the oracle works in float32) arithmetic, so integer results are bit-exact.
//!
//! Order 3, and any call on a device without fp64, answers `None`: the call takes the host path
//! (`crate::set::run`), recorded in the trace as `onHost`.

use super::{finish, result};
use crate::set::DeviceRun;
use crate::Arg::{Acc, Buf, I32};
use crate::{long, type_defines, Gpu};
use stackbridge_core::{DType, SbResult};
use stackbridge_kernels::resize::{antialias_sigma, gaussian_half_kernel, LinearAxis};
use stackbridge_kernels::set::geometry::{affine_setup, resize_setup, rotate_order0_cval, rotate_setup};
use stackbridge_kernels::set::{Call, Output};
use std::sync::Arc;

/// The device implementation of `name` for an input of `dtype`, if it has one.
pub fn lookup<C: Gpu>(name: &str, _dtype: DType) -> Option<DeviceRun<C>> {
  Some(match name {
    "rescale" | "resize" => resize::<C>,
    "rotate" => rotate::<C>,
    "translate" | "affineTransform" => affine::<C>,
    _ => return None,
  })
}

/// Temporaries per chunk of slices stay under this many bytes.
const TEMP_BUDGET: usize = 256 << 20;

fn slices_per_chunk(z: usize, bytes_per_slice: usize) -> usize {
  (TEMP_BUDGET / bytes_per_slice.max(1)).clamp(1, z.max(1))
}

/// The working type of skimage / scipy: float32 for float32 stacks, float64 otherwise.
fn work_type(dtype: DType) -> DType {
  if dtype == DType::F32 {
    DType::F32
  } else {
    DType::F64
  }
}

fn programs<C: Gpu>(ctx: &C, dtype: DType, with_resize: bool) -> SbResult<(Arc<C::Program>, Option<Arc<C::Program>>)> {
  let d = format!("{} -D W_T={}", type_defines(ctx, "T_IN", dtype)?, crate::kernel_type(work_type(dtype)));
  let g = ctx.program("set_geometry", &d)?;
  let r = if with_resize { Some(ctx.program("resize", &d)?) } else { None };
  Ok((g, r))
}

fn upload_idx<C: Gpu>(ctx: &C, it: impl Iterator<Item = usize>) -> SbResult<C::Buf> {
  ctx.upload(&it.map(|i| i as i32).collect::<Vec<i32>>())
}

/// Per-slice `[min, max]` (NaN ignored) of `n` slices of `rows` x `w` at `off` of `src`, with the
/// "resize" program's kernel `kernel` (`range_rows_in` over T_IN, `range_rows_work` over W_T).
#[allow(clippy::too_many_arguments)]
fn ranges<C: Gpu>(ctx: &C, rp: &C::Program, kernel: &str, src: &C::Buf, off: usize, rows: usize, w: usize, n: usize, t: &[C::Buf; 4]) -> SbResult<()> {
  let [rlo, rhi, lo, hi] = t;
  ctx.launch(rp, kernel, &[n * rows], &[Buf(src), long(off), Buf(rlo), Buf(rhi), long(w), long(n * rows)])?;
  ctx.launch(rp, "range_fold", &[n], &[Buf(rlo), Buf(rhi), Buf(lo), Buf(hi), long(rows), long(n)])
}

/// `rescale` / `resize` at orders 0 and 1: the Gaussian rows / columns the zoom reads (no filter
/// without anti-aliasing), the zoom (order 1) or the nearest samples (order 0), the clip to the
/// slice's range and the cast — stackbridge_kernels::resize's arithmetic.
fn resize<C: Gpu>(ctx: &C, c: &Call) -> SbResult<Option<Output>> {
  let s = resize_setup(c)?;
  if s.order == 3 || !ctx.fp64() {
    return Ok(None); // the host path (recorded as onHost)
  }
  let (d, oh, ow, dt) = (s.dims, s.oh, s.ow, c.input.dtype);
  let (out, dst) = result(ctx, c, stackbridge_kernels::Dims::new(d.z, oh, ow), dt)?;
  if d.z == 0 {
    return finish(ctx, out, &dst);
  }
  let (gp, rp) = programs(ctx, dt, true)?;
  let rp = rp.unwrap();
  let src = ctx.wrap(c.input)?;
  let (h, w) = (d.h, d.w);
  // Taps per output row / column: two (order 1) or one (order 0).
  let taps = if s.order == 1 { 2 } else { 1 };
  let (rows, cols, weights) = if s.order == 1 {
    let (ay, ax) = (LinearAxis::new(h, oh), LinearAxis::new(w, ow));
    let rows: Vec<usize> = (0..oh).flat_map(|o| [ay.i0[o], ay.i1[o]]).collect();
    let cols: Vec<usize> = (0..ow).flat_map(|o| [ax.i0[o], ax.i1[o]]).collect();
    (rows, cols, Some((ay, ax)))
  } else {
    (LinearAxis::nearest(h, oh).i0, LinearAxis::nearest(w, ow).i0, None)
  };
  let rows_b = upload_idx(ctx, rows.iter().copied())?;
  let cols_b = upload_idx(ctx, cols.iter().copied())?;
  let (ky, kx) = if s.aa {
    (
      antialias_sigma(h, oh).map(gaussian_half_kernel).unwrap_or_default(),
      antialias_sigma(w, ow).map(gaussian_half_kernel).unwrap_or_default(),
    )
  } else {
    (vec![], vec![])
  };
  let (kyb, kxb) = (ctx.upload_acc(&ky)?, ctx.upload_acc(&kx)?);
  let work = work_type(dt);
  let wb = work.size();
  let (nr, nc) = (taps * oh, taps * ow);
  let per_slice = wb * (nr * w + nr * nc + oh * ow) + 8 * (2 * h + 2);
  let nz = slices_per_chunk(d.z, per_slice);
  let rt = [ctx.temp_acc(nz * h)?, ctx.temp_acc(nz * h)?, ctx.temp_acc(nz)?, ctx.temp_acc(nz)?];
  let tmp1 = ctx.temp(work, nz * nr * w)?;
  let tmp2 = ctx.temp(work, nz * nr * nc)?;
  let zoomed = if s.order == 1 { Some(ctx.temp(work, nz * oh * ow)?) } else { None };
  let wts = match &weights {
    Some((ay, ax)) => Some([
      ctx.upload_acc(&ay.w0)?,
      ctx.upload_acc(&ay.w1)?,
      ctx.upload_acc(&ax.w0)?,
      ctx.upload_acc(&ax.w1)?,
    ]),
    None => None,
  };
  let plane = h * w;
  let oplane = oh * ow;
  let mut z0 = 0;
  while z0 < d.z {
    let n = nz.min(d.z - z0);
    ranges(ctx, &rp, "range_rows_in", &src, z0 * plane, h, w, n, &rt)?;
    ctx.launch(
      &rp,
      "gauss_rows",
      &[w, nr, n],
      &[
        Buf(&src),
        long(z0 * plane),
        Buf(&tmp1),
        Buf(&rows_b),
        Buf(&kyb),
        long(ky.len()),
        long(h),
        long(w),
        long(nr),
        long(n),
      ],
    )?;
    ctx.launch(
      &rp,
      "gauss_cols",
      &[nc, nr, n],
      &[
        Buf(&tmp1),
        Buf(&tmp2),
        Buf(&cols_b),
        Buf(&kxb),
        long(kx.len()),
        long(w),
        long(nr),
        long(nc),
        long(n),
      ],
    )?;
    let samples = match (&zoomed, &wts) {
      (Some(zb), Some([wy0, wy1, wx0, wx1])) => {
        ctx.launch(
          &rp,
          "zoom_clip",
          &[ow, oh, n],
          &[
            Buf(&tmp2),
            Buf(zb),
            Buf(wy0),
            Buf(wy1),
            Buf(wx0),
            Buf(wx1),
            Buf(&rt[2]),
            Buf(&rt[3]),
            long(oh),
            long(ow),
            long(n),
          ],
        )?;
        zb
      }
      _ => &tmp2,
    };
    store_chunk(ctx, &gp, samples, &dst, &rt, z0 * oplane, oplane, n)?;
    z0 += n;
  }
  finish(ctx, out, &dst)
}

/// `geo_store` of `n` slices of `plane` samples into `dst` at element `off`.
#[allow(clippy::too_many_arguments)]
fn store_chunk<C: Gpu>(ctx: &C, gp: &C::Program, samples: &C::Buf, dst: &C::Buf, rt: &[C::Buf; 4], off: usize, plane: usize, n: usize) -> SbResult<()> {
  ctx.launch(
    gp,
    "geo_store",
    &[n * plane],
    &[Buf(samples), Buf(dst), Buf(&rt[2]), Buf(&rt[3]), long(plane), long(n * plane), long(off)],
  )
}

/// `rotate` at orders 0 and 1: the warp into a W_T plane, the slice's and the warp's ranges, then
/// skimage's clip (widened to cval where it applies) and the cast.
fn rotate<C: Gpu>(ctx: &C, c: &Call) -> SbResult<Option<Output>> {
  let r = rotate_setup(c)?;
  if r.order == 3 || !ctx.fp64() {
    return Ok(None); // the host path (recorded as onHost)
  }
  let (d, oh, ow, dt) = (r.dims, r.oh, r.ow, c.input.dtype);
  let (out, dst) = result(ctx, c, stackbridge_kernels::Dims::new(d.z, oh, ow), dt)?;
  if d.z == 0 {
    return finish(ctx, out, &dst);
  }
  let (gp, rp) = programs(ctx, dt, true)?;
  let rp = rp.unwrap();
  let src = ctx.wrap(c.input)?;
  let m = ctx.upload_acc(&[r.m[0][0], r.m[0][1], r.m[0][2], r.m[1][0], r.m[1][1], r.m[1][2]])?;
  let work = work_type(dt);
  let cv = if dt == DType::F32 { r.cval as f32 as f64 } else { r.cval };
  let cv0 = rotate_order0_cval(dt, r.cval);
  let (h, w) = (d.h, d.w);
  let oplane = oh * ow;
  let nz = slices_per_chunk(d.z, work.size() * oplane + 8 * (2 * h.max(oh) + 4));
  let tmp = ctx.temp(work, nz * oplane)?;
  let rs = [ctx.temp_acc(nz * h)?, ctx.temp_acc(nz * h)?, ctx.temp_acc(nz)?, ctx.temp_acc(nz)?];
  let ro = [ctx.temp_acc(nz * oh)?, ctx.temp_acc(nz * oh)?, ctx.temp_acc(nz)?, ctx.temp_acc(nz)?];
  let mut z0 = 0;
  while z0 < d.z {
    let n = nz.min(d.z - z0);
    let off = z0 * h * w;
    ctx.launch(
      &gp,
      "geo_rotate",
      &[ow, oh, n],
      &[
        Buf(&src),
        long(off),
        Buf(&tmp),
        Buf(&m),
        long(h),
        long(w),
        long(oh),
        long(ow),
        long(n),
        I32(r.order as i32),
        Acc(r.cval),
        Acc(cv0),
      ],
    )?;
    ranges(ctx, &rp, "range_rows_in", &src, off, h, w, n, &rs)?;
    ranges(ctx, &rp, "range_rows_work", &tmp, 0, oh, ow, n, &ro)?;
    ctx.launch(
      &gp,
      "geo_rotate_store",
      &[n * oplane],
      &[
        Buf(&tmp),
        Buf(&dst),
        Buf(&rs[2]),
        Buf(&rs[3]),
        Buf(&ro[2]),
        Buf(&ro[3]),
        Acc(r.cval),
        Acc(cv),
        long(oplane),
        long(n * oplane),
        long(z0 * oplane),
      ],
    )?;
    z0 += n;
  }
  finish(ctx, out, &dst)
}

/// `translate` / `affineTransform` at orders 0 and 1: one kernel, scipy's 'constant' sampling.
fn affine<C: Gpu>(ctx: &C, c: &Call) -> SbResult<Option<Output>> {
  let (a, d, oh, ow) = affine_setup(c)?;
  if a.order == 3 || !ctx.fp64() {
    return Ok(None); // the host path (recorded as onHost)
  }
  let dt = c.input.dtype;
  let (out, dst) = result(ctx, c, stackbridge_kernels::Dims::new(d.z, oh, ow), dt)?;
  if d.z == 0 || oh * ow == 0 {
    return finish(ctx, out, &dst);
  }
  let (gp, _) = programs(ctx, dt, false)?;
  let src = ctx.wrap(c.input)?;
  let p = ctx.upload_acc(&[a.m[0], a.m[1], a.m[2], a.m[3], a.off[0], a.off[1], a.cval])?;
  ctx.launch(
    &gp,
    "geo_affine",
    &[ow, oh, d.z],
    &[
      Buf(&src),
      Buf(&dst),
      Buf(&p),
      long(d.h),
      long(d.w),
      long(oh),
      long(ow),
      long(d.z),
      I32(a.order as i32),
    ],
  )?;
  finish(ctx, out, &dst)
}
