//! Set operations: rank filters and grey-scale morphology with a flat footprint (DESIGN §12):
//! `meanFilter`, `medianFilter`, `minimumFilter`, `maximumFilter`, `opening`, `closing`,
//! `blackTophat`, each with `{ radius (integer ≥ 0, default 1), footprint: 'disk' | 'square'
//! (default 'disk') }`, per Z slice, in the input dtype.
//!
//! The footprint is `skimage.morphology.disk(radius)` or the `(2·radius + 1)²` square; both are
//! symmetric, so the footprint is described by the half-width of its chord at each row offset
//! `|dy| ≤ radius` ([`Footprint::half_widths`]).
//!
//! Integer images are filtered on their values as given (no `img_as_float` scaling).

mod mean;
mod median;
mod minmax;

use super::{slices, Call, Output, SetOp};
use crate::morphology::chord_half_width;
use crate::Element;
use stackbridge_core::{with_dtype, SbError, SbResult};

pub use mean::{mean_disk_plane, mean_square_plane};
pub use median::median_plane;
pub use minmax::{black_tophat_plane, closing_plane, dilate_plane, erode_plane, opening_plane};

/// The largest radius accepted (a typed error beyond): a footprint of `(2·4096 + 1)²` samples is
/// already hours of work for the median's NaN fallback and the mean of a disk.
pub const MAX_RADIUS: usize = 4096;

/// A flat, symmetric structuring element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
  /// `skimage.morphology.disk(r)`: `dy² + dx² ≤ r²`.
  Disk,
  /// The `(2r + 1)²` square (`np.ones((2r + 1, 2r + 1))`).
  Square,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Footprint {
  pub shape: Shape,
  pub radius: usize,
}

impl Footprint {
  /// Half-width of the chord at row offset `d` (`0 ≤ d ≤ radius`).
  pub fn half_width(&self, d: usize) -> usize {
    match self.shape {
      Shape::Disk => chord_half_width(self.radius, d),
      Shape::Square => self.radius,
    }
  }

  /// `half_width(d)` for `d` in `0..=radius`.
  pub fn half_widths(&self) -> Vec<usize> {
    (0..=self.radius).map(|d| self.half_width(d)).collect()
  }

  /// The number of samples.
  pub fn count(&self) -> usize {
    let hw = self.half_widths();
    hw.iter().enumerate().map(|(d, &w)| (2 * w + 1) * if d == 0 { 1 } else { 2 }).sum()
  }

  /// The `(dy, dx)` offsets in C (row-major) order, as scipy walks a footprint.
  pub fn offsets(&self) -> Vec<(isize, isize)> {
    let r = self.radius as isize;
    let mut v = Vec::with_capacity(self.count());
    for dy in -r..=r {
      let hw = self.half_width(dy.unsigned_abs()) as isize;
      v.extend((-hw..=hw).map(|dx| (dy, dx)));
    }
    v
  }
}

/// Reads `{ radius, footprint }` (unknown keys refused).
pub fn footprint_options(call: &Call) -> SbResult<Footprint> {
  let p = call.params(&["radius", "footprint"])?;
  let radius = p.usize("radius", 1)?;
  if radius > MAX_RADIUS {
    return Err(SbError::invalid(format!("{}: option radius must be at most {MAX_RADIUS}, got {radius}", call.name)).with("option", "radius"));
  }
  let shape = match p.choice("footprint", "disk", &["disk", "square"])? {
    "disk" => Shape::Disk,
    _ => Shape::Square,
  };
  Ok(Footprint { shape, radius })
}

/// Which filter a call runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
  Mean,
  Median,
  Minimum,
  Maximum,
  Opening,
  Closing,
  BlackTophat,
}

/// One plane of `kind` (`src`, `out`: `h · w` row-major).
fn plane<T: Element>(kind: Kind, fp: Footprint, src: &[T], h: usize, w: usize, out: &mut [T]) {
  match kind {
    Kind::Mean => match fp.shape {
      Shape::Square => mean_square_plane(src, h, w, fp.radius, out),
      Shape::Disk => mean_disk_plane(src, h, w, fp.radius, out),
    },
    Kind::Median => median_plane(src, h, w, fp, out),
    Kind::Minimum => erode_plane(src, h, w, fp, out),
    Kind::Maximum => dilate_plane(src, h, w, fp, out),
    Kind::Opening => opening_plane(src, h, w, fp, out),
    Kind::Closing => closing_plane(src, h, w, fp, out),
    Kind::BlackTophat => black_tophat_plane(src, h, w, fp, out),
  }
}

fn run_kind(call: &Call, kind: Kind) -> SbResult<Output> {
  let fp = footprint_options(call)?;
  let dims = call.dims()?;
  let out = call.alloc(dims, call.input.dtype)?;
  let src = call.input.pin()?;
  let pinned = out.pin()?;
  let (h, w) = (dims.h, dims.w);
  with_dtype!(call.input.dtype, T => {
    let s = src.as_slice::<T>();
    let o = pinned.as_mut_slice::<T>();
    slices(call.cancel, dims.z, s, dims.plane(), o, dims.plane(), |_, si, so| {
      plane::<T>(kind, fp, si, h, w, so);
      Ok(())
    })?;
  });
  drop(pinned);
  Ok(Output::array(out))
}

fn run_mean(c: &Call) -> SbResult<Output> {
  run_kind(c, Kind::Mean)
}
fn run_median(c: &Call) -> SbResult<Output> {
  run_kind(c, Kind::Median)
}
fn run_minimum(c: &Call) -> SbResult<Output> {
  run_kind(c, Kind::Minimum)
}
fn run_maximum(c: &Call) -> SbResult<Output> {
  run_kind(c, Kind::Maximum)
}
fn run_opening(c: &Call) -> SbResult<Output> {
  run_kind(c, Kind::Opening)
}
fn run_closing(c: &Call) -> SbResult<Output> {
  run_kind(c, Kind::Closing)
}
fn run_black_tophat(c: &Call) -> SbResult<Output> {
  run_kind(c, Kind::BlackTophat)
}

const fn op(name: &'static str, run: fn(&Call) -> SbResult<Output>) -> SetOp {
  SetOp {
    name,
    separable: true,
    arrays: &[],
    keeps_dtype: true,
    special: None,
    run,
  }
}

pub const OPS: &[SetOp] = &[
  op("meanFilter", run_mean),
  op("medianFilter", run_median),
  op("minimumFilter", run_minimum),
  op("maximumFilter", run_maximum),
  op("opening", run_opening),
  op("closing", run_closing),
  op("blackTophat", run_black_tophat),
];

#[cfg(test)]
mod tests;
