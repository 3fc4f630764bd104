//! Label operations and the EDT of the set on the device (program "set_binary"):
//! `labelBoundaries`, `erodeLabels` (the top-hat's clipped disk erosion and dilation of the label
//! image, compared), `dilateLabels` (scipy's feature transform as `expand_labels` runs it, in
//! exact integers) and `distanceTransform` (Meijster's exact EDT in integers, one square root).
//! Label inputs are integer stacks checked on the device as the CPU checks them (negative labels,
//! labels above 2^31 - 1); float label stacks stay on the host, which refuses them.

use super::binary::{mask, program};
use super::{finish, result};
use crate::proc::tophat::erode_dilate;
use crate::set::DeviceRun;
use crate::Arg::{Buf, I64};
use crate::{long, Gpu};
use stackbridge_core::{DType, HostArray, SbResult};
use stackbridge_kernels::set::labels::{dilate_radius, erode_radius, label_range, LABELS};
use stackbridge_kernels::set::{Call, Output};
use stackbridge_kernels::Dims;

/// The device implementation of `name` for an input of `dtype`, if it has one.
pub fn lookup<C: Gpu>(name: &str, dtype: DType) -> Option<DeviceRun<C>> {
  Some(match name {
    "distanceTransform" => distance_transform::<C>,
    "labelBoundaries" if !dtype.is_float() => label_boundaries::<C>,
    "erodeLabels" if !dtype.is_float() => erode_labels::<C>,
    "dilateLabels" if !dtype.is_float() => dilate_labels::<C>,
    _ => return None,
  })
}

/// The CPU's order for a label operation after its options: the shape, the label checks of the
/// input (`labels_of`, on the device), then the result of `dtype`. Returns the dims, the input's
/// buffer and the result.
fn labels_call<C: Gpu>(ctx: &C, c: &Call, dtype: DType) -> SbResult<(Dims, C::Buf, HostArray, C::Buf)> {
  let dims = c.dims()?;
  let src = ctx.wrap(c.input)?;
  let n = c.input.numel();
  if n > 0 && matches!(c.input.dtype, DType::I16 | DType::I32 | DType::U32) {
    let flags = ctx.upload(&[0u32, 0u32])?;
    ctx.launch(&*program(ctx, c.input.dtype)?, "sb_labels_check", &[n], &[Buf(&src), long(n), Buf(&flags)])?;
    let f = ctx.read::<u32>(&flags)?;
    label_range(c.name, "the input", f[1] != 0, f[0] != 0)?;
  }
  let (out, dst) = result(ctx, c, dims, dtype)?;
  Ok((dims, src, out, dst))
}

fn label_boundaries<C: Gpu>(ctx: &C, c: &Call) -> SbResult<Option<Output>> {
  c.params(&[])?;
  let (dims, src, out, dst) = labels_call(ctx, c, DType::U8)?;
  let (z, h, w) = (dims.z, dims.h, dims.w);
  ctx.launch(&*program(ctx, c.input.dtype)?, "sb_label_boundaries", &[w, h, z], &[Buf(&src), Buf(&dst), long(h), long(w), long(z)])?;
  finish(ctx, out, &dst)
}

/// `erodeLabels`: erosion == dilation over the clipped disk, in the input's dtype (the labels
/// are non-negative, so their order is the same in every integer type).
fn erode_labels<C: Gpu>(ctx: &C, c: &Call) -> SbResult<Option<Output>> {
  let r = erode_radius(c)?;
  let (dims, src, out, dst) = labels_call(ctx, c, LABELS)?;
  if dims.is_empty() {
    return finish(ctx, out, &dst);
  }
  let n = dims.len();
  let dt = c.input.dtype;
  let p = program(ctx, dt)?;
  if r == 0 {
    ctx.launch(&p, "sb_erode_labels", &[n], &[Buf(&src), Buf(&src), Buf(&src), Buf(&dst), long(n)])?;
    return finish(ctx, out, &dst);
  }
  let (lo, hi) = (ctx.temp(dt, n)?, ctx.temp(dt, n)?);
  erode_dilate(ctx, &src, dims, dt, r, false, false, &lo)?;
  erode_dilate(ctx, &src, dims, dt, r, false, true, &hi)?;
  ctx.launch(&p, "sb_erode_labels", &[n], &[Buf(&src), Buf(&lo), Buf(&hi), Buf(&dst), long(n)])?;
  finish(ctx, out, &dst)
}

/// The largest squared distance `k` of an `h x w` plane whose f64 square root is at most
/// `radius` (the CPU's `sqrt(dy² + dx²) <= radius` on exact integers, sqrt being monotonic), or -1.
fn max_squared_distance(radius: f64, h: usize, w: usize) -> i64 {
  let top = ((h.max(1) - 1).pow(2) + (w.max(1) - 1).pow(2)) as i64;
  let ok = |k: i64| (k as f64).sqrt() <= radius;
  if !ok(0) {
    return -1;
  }
  if ok(top) {
    return top;
  }
  // ok(lo) and !ok(hi).
  let (mut lo, mut hi) = (0i64, top);
  while hi - lo > 1 {
    let mid = lo + (hi - lo) / 2;
    if ok(mid) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  lo
}

/// `dilateLabels`: scipy's feature transform (pass 1 per column, `_VoronoiFT` per row, the CPU's
/// tie rules verbatim), then the nearest label within `radius`.
fn dilate_labels<C: Gpu>(ctx: &C, c: &Call) -> SbResult<Option<Output>> {
  let radius = dilate_radius(c)?;
  let (dims, src, out, dst) = labels_call(ctx, c, LABELS)?;
  if dims.is_empty() {
    return finish(ctx, out, &dst);
  }
  let n = dims.len();
  let (z, h, w) = (dims.z, dims.h, dims.w);
  let k = max_squared_distance(radius, h, w);
  let p = program(ctx, c.input.dtype)?;
  let (fy, g) = (ctx.temp(DType::I32, n)?, ctx.temp(DType::I32, n)?);
  ctx.launch(&p, "sb_ft_columns", &[w, z], &[Buf(&src), Buf(&fy), long(h), long(w), long(z)])?;
  ctx.launch(&p, "sb_expand_rows", &[h, z], &[Buf(&src), Buf(&fy), Buf(&g), Buf(&dst), long(h), long(w), long(z), I64(k)])?;
  finish(ctx, out, &dst)
}

/// `distanceTransform` → float32: the mask, Meijster's column pass and row envelopes in integers,
/// then the square root of each exact squared distance.
fn distance_transform<C: Gpu>(ctx: &C, c: &Call) -> SbResult<Option<Output>> {
  c.params(&[])?;
  let dims = c.dims()?;
  let (out, dst) = result(ctx, c, dims, DType::F32)?;
  let n = dims.len();
  if n == 0 {
    return finish(ctx, out, &dst);
  }
  let (z, h, w) = (dims.z, dims.h, dims.w);
  let m = ctx.temp(DType::U8, n)?;
  mask(ctx, c, n, &m)?;
  let p = program(ctx, DType::U8)?;
  let (g, s, t) = (ctx.temp(DType::U32, n)?, ctx.temp(DType::I32, n)?, ctx.temp(DType::I32, n)?);
  ctx.launch(&p, "sb_edt_columns", &[w, z], &[Buf(&m), Buf(&g), long(h), long(w), long(z)])?;
  ctx.launch(&p, "sb_edt_rows", &[h, z], &[Buf(&g), Buf(&s), Buf(&t), Buf(&dst), long(h), long(w), long(z)])?;
  finish(ctx, out, &dst)
}
