//! The processor set of DESIGN §12 on the CPU: filters, thresholds, binary morphology, labels,
//! measurements, stack and element-wise operations, geometry. Each group's module declares its
//! operations in an `OPS` table of [`SetOp`]s (name, separability, the extra arrays it takes, its
//! special output) with a `run` function that reads its options, checks its inputs, allocates
//! its result and runs per Z slice through [`slices`]. `dispatch` runs them by name beside the
//! processors of §7; the GPU domains run the same table (`stackbridge_gpu::set`).

pub mod binary;
pub mod filters;
pub mod geometry;
pub mod labels;
pub mod measure;
pub mod rank;
pub mod stack;
pub mod threshold;

use crate::dispatch::slices_per_tile;
use crate::image::Dims;
use crate::params::Params;
use rayon::prelude::*;
use stackbridge_core::{Cancel, DType, HostArray, SbError, SbResult};

/// One call of a set operation.
pub struct Call<'a> {
  pub name: &'static str,
  /// The `[Z, Y, X]` stack.
  pub input: &'a HostArray,
  /// The further arrays, in the order of [`SetOp::arrays`] (optional ones may be missing at the end).
  pub aux: &'a [Option<HostArray>],
  /// JSON options (camelCase keys), checked by the operation.
  pub options: &'a str,
  pub cancel: &'a Cancel,
}

/// What an operation returns.
pub struct Output {
  /// The result stack (in the input's memory type); `None`: the input stack unchanged (measurements).
  pub array: Option<HostArray>,
  /// The special output as JSON (thresholds per slice, a regions table, peak coordinates).
  pub special: Option<String>,
}

impl Output {
  pub fn array(a: HostArray) -> Output {
    Output { array: Some(a), special: None }
  }
}

/// One operation of the set.
pub struct SetOp {
  pub name: &'static str,
  /// Works on each Z slice alone (OOM recovery may split the stack along Z).
  pub separable: bool,
  /// The arrays it takes after the stack, by name; a name ending in `?` is optional and is passed
  /// in TypeScript as the option of that name (`watershed(stack, markers, { mask })`).
  pub arrays: &'static [&'static str],
  /// The result has the input's dtype (else the decorator must not cast it back: masks, labels, float32).
  pub keeps_dtype: bool,
  /// The name of its special output (returned in TypeScript as `[stack, special]`).
  pub special: Option<&'static str>,
  pub run: fn(&Call) -> SbResult<Output>,
}

/// Every operation of the set.
pub fn all() -> impl Iterator<Item = &'static SetOp> {
  rank::OPS
    .iter()
    .chain(filters::OPS)
    .chain(threshold::OPS)
    .chain(binary::OPS)
    .chain(labels::OPS)
    .chain(measure::OPS)
    .chain(stack::OPS)
    .chain(geometry::OPS)
}

/// The operation called `name`.
pub fn find(name: &str) -> Option<&'static SetOp> {
  all().find(|op| op.name == name)
}

/// Runs `op` on `input` with its further arrays `aux` (checked against [`SetOp::arrays`]).
pub fn run(op: &'static SetOp, input: &HostArray, aux: &[Option<HostArray>], options: &str, cancel: &Cancel) -> SbResult<Output> {
  cancel.check()?;
  let required = op.arrays.iter().filter(|a| !a.ends_with('?')).count();
  if aux.len() > op.arrays.len() || aux.iter().take(required).any(|a| a.is_none()) || aux.len() < required {
    let want = if op.arrays.is_empty() { "no further array".to_string() } else { op.arrays.join(", ") };
    return Err(SbError::invalid(format!("{} takes {want}; got {} further array(s)", op.name, aux.iter().flatten().count())).with("processor", op.name));
  }
  let out = (op.run)(&Call { name: op.name, input, aux, options, cancel })?;
  cancel.check()?;
  Ok(out)
}

impl<'a> Call<'a> {
  /// The input's `[Z, Y, X]` extent (`DimensionError` otherwise).
  pub fn dims(&self) -> SbResult<Dims> {
    Dims::from_shape(&self.input.shape).map_err(|e| e.with("processor", self.name))
  }

  /// The options, refusing keys outside `allowed`.
  pub fn params(&self, allowed: &[&str]) -> SbResult<Params<'a>> {
    Params::parse(self.name, self.options, allowed)
  }

  /// Further array `i` if given.
  pub fn aux(&self, i: usize) -> Option<&'a HostArray> {
    self.aux.get(i).and_then(|a| a.as_ref())
  }

  /// Further array `i`, which `run` checked is present.
  pub fn required(&self, i: usize) -> &'a HostArray {
    self.aux(i).expect("checked by set::run")
  }

  /// Further array `i` checked to be a stack of the input's extent (`DimensionError` otherwise).
  pub fn same_shape(&self, i: usize, what: &str) -> SbResult<Option<&'a HostArray>> {
    let Some(a) = self.aux(i) else { return Ok(None) };
    if a.shape != self.input.shape {
      return Err(
        SbError::dimension(format!("{}: {what} has shape {:?}, the stack {:?}", self.name, a.shape, self.input.shape)).with("processor", self.name),
      );
    }
    Ok(Some(a))
  }

  /// A new result stack of `dims` and `dtype` in the input's memory type, through the allocator.
  pub fn alloc(&self, dims: Dims, dtype: DType) -> SbResult<HostArray> {
    let out = self.input.alloc_like(vec![dims.z, dims.h, dims.w], dtype, self.input.memory_type, false)?;
    Ok(HostArray { readonly: self.input.memory_type.is_immutable(), ..out })
  }
}

/// Runs `f(z, input slice, output slice)` for every Z slice: groups of slices (about
/// `TILE_PIXELS` pixels) one after the other, checking the abort flag and counting slices between
/// groups, the slices of a group in parallel. `in_plane` / `out_plane` are the elements of one
/// slice of `src` / `out` (an empty output slice runs nothing).
pub fn slices<T: Sync, O: Send>(
  cancel: &Cancel,
  z: usize,
  src: &[T],
  in_plane: usize,
  out: &mut [O],
  out_plane: usize,
  f: impl Fn(usize, &[T], &mut [O]) -> SbResult<()> + Sync,
) -> SbResult<()> {
  let mut rest = out;
  cancel.for_ranges(z, slices_per_tile(in_plane), |z0, z1| {
    let (head, tail) = std::mem::take(&mut rest).split_at_mut((z1 - z0) * out_plane);
    rest = tail;
    let input = &src[z0 * in_plane..z1 * in_plane];
    head.par_chunks_mut(out_plane.max(1)).enumerate().try_for_each(|(i, o)| f(z0 + i, &input[i * in_plane..(i + 1) * in_plane], o))
  })
}
