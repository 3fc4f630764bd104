//! The rank filters' mean and median (program "set_filters" for the mean, the "filters" program's
//! footprint median for the median), equal to `stackbridge_kernels::set::rank` bit for bit.
//!
//! Median: integer dtypes only. Float stacks take the host path: scipy's quickselect gives windows
//! holding a NaN an order-dependent value that the CPU reproduces and these selections do not.

use crate::set::DeviceRun;
use crate::Arg::Buf;
use crate::{long, type_defines, Gpu};
use stackbridge_core::{DType, SbError, SbResult};
use super::{finish, result};
use stackbridge_kernels::set::rank::{footprint_options, Footprint, Shape};
use stackbridge_kernels::set::{Call, Output};

/// Footprints of at most this many samples are selected in private memory (`SB_MEDIAN_PRIVATE`).
const MEDIAN_PRIVATE: usize = 317;

/// The device implementation of `name` for an input of `dtype`, if it has one.
pub fn lookup<C: Gpu>(name: &str, dtype: DType) -> Option<DeviceRun<C>> {
  Some(match name {
    "medianFilter" if !dtype.is_float() => median::<C>,
    "meanFilter" => mean::<C>,
    _ => return None,
  })
}

/// The CPU's f64 arithmetic needs the device's double precision.
pub(crate) fn need_fp64<C: Gpu>(ctx: &C, c: &Call) -> SbResult<()> {
  if ctx.fp64() {
    Ok(())
  } else {
    Err(SbError::dtype(format!("{} needs double precision on the device, which {} lacks", c.name, ctx.name())))
  }
}

fn half_widths(fp: Footprint) -> Vec<i32> {
  fp.half_widths().into_iter().map(|w| w as i32).collect()
}

/// `medianFilter`: element `count / 2` of the footprint's samples (nearest borders) per pixel.
fn median<C: Gpu>(ctx: &C, c: &Call) -> SbResult<Option<Output>> {
  let fp = footprint_options(c)?;
  let dims = c.dims()?;
  let dt = c.input.dtype;
  let (out, dst) = result(ctx, c, dims, dt)?;
  if !dims.is_empty() {
    let src = ctx.wrap(c.input)?;
    let p = crate::proc::filters::program(ctx, dt, DType::F32)?;
    let count = fp.count();
    let hw = ctx.upload::<i32>(&half_widths(fp))?;
    let kernel = if count <= MEDIAN_PRIVATE { "median_small_t" } else { "median_radix_t" };
    let args = [Buf(&src), Buf(&dst), Buf(&hw), long(fp.radius), long(count / 2), long(dims.h), long(dims.w), long(dims.z)];
    ctx.launch(&p, kernel, &[dims.w, dims.h, dims.z], &args)?;
    ctx.finish()?;
  }
  finish(ctx, out, &dst)
}

/// `meanFilter`: the square as two uniform_filter1d passes (stored in the dtype in between), the
/// disk as the CPU's chord sums.
fn mean<C: Gpu>(ctx: &C, c: &Call) -> SbResult<Option<Output>> {
  let fp = footprint_options(c)?;
  let dims = c.dims()?;
  need_fp64(ctx, c)?;
  let dt = c.input.dtype;
  let (out, dst) = result(ctx, c, dims, dt)?;
  if !dims.is_empty() {
    let src = ctx.wrap(c.input)?;
    let p = ctx.program("set_filters", &type_defines(ctx, "T_IN", dt)?)?;
    let r = fp.radius;
    let (h, w, z) = (dims.h, dims.w, dims.z);
    match fp.shape {
      Shape::Square if r == 0 => {
        // scipy skips a size-1 filter: a copy.
        let f = crate::proc::filters::program(ctx, dt, DType::F32)?;
        crate::proc::filters::copy(ctx, &f, &src, dims.len(), &dst)?;
      }
      Shape::Square => {
        let tmp = ctx.temp(dt, dims.len())?;
        // (source, destination, line length, step, inner, outer, inner stride, lines)
        let passes = [(&src, &tmp, h, w, w, h * w, 1, z * w), (&tmp, &dst, w, 1, h, h * w, w, z * h)];
        for (a, b, len, step, inner, outer, istride, lines) in passes {
          let args = [Buf(a), Buf(b), long(r), long(len), long(step), long(inner), long(outer), long(istride), long(lines)];
          if dt.is_float() {
            // The running sum's rounding and NaN spread: one work item per line, in the CPU's order.
            ctx.launch(&p, "sf_mean_run", &[lines], &args)?;
          } else {
            ctx.launch(&p, "sf_mean_box", &[len, lines], &args)?;
          }
        }
        ctx.finish()?;
      }
      Shape::Disk => {
        let hw = ctx.upload::<i32>(&half_widths(fp))?;
        let args = [Buf(&src), Buf(&dst), Buf(&hw), long(r), long(fp.count()), long(h), long(w), long(z)];
        ctx.launch(&p, "sf_mean_disk", &[w, h, z], &args)?;
        ctx.finish()?;
      }
    }
  }
  finish(ctx, out, &dst)
}
