//! The processors by name, on host arrays: reads the options, checks the input is a 3D stack,
//! allocates the result through the core's caching allocator (so a memory limit applies) in the
//! input's memory type, and runs the kernel for the input's dtype. The napi binding calls this;
//! the OpenCL and CUDA domains will mirror the same names and options.

use crate::count::{CountParams, DetectionMethod, SliceResult, ThresholdMethod};
use crate::image::Dims;
use crate::normalize::{percentile_normalize, stack_percentile_normalize, NormalizeParams};
use crate::params::Params;
use crate::pointwise::{
  apply_mask, create_composite, crop, crop_dims, equalize_histogram, spatial_bin_2d, spatial_bin_dims, BinMethod, EqualizeParams,
};
use crate::projection::{project, ProjectionMethod};
use crate::tophat::{tophat, TophatParams};
use stackbridge_core::{ops, with_dtype, Cancel, DType, HostArray, SbError, SbResult};

/// Every processor this module runs, with whether it is separable along Z (OOM recovery may
/// split the stack and concatenate the parts).
pub const PROCESSORS: [(&str, bool); 11] = [
  ("stackPercentileNormalize", false),
  ("percentileNormalize", true),
  ("tophat", true),
  ("createProjection", false),
  ("sharpen", true),
  ("createComposite", false),
  ("applyMask", false),
  ("stackEqualizeHistogram", false),
  ("spatialBin2d", true),
  ("crop", false),
  ("gaussian", true),
];

/// What the binding and the TypeScript families learn of each processor (§7 and the set of §12).
#[derive(Clone, Debug)]
pub struct ProcessorInfo {
  pub name: &'static str,
  pub separable: bool,
  /// The arrays it takes after the stack (`?`: optional, passed as the option of that name).
  pub arrays: Vec<&'static str>,
  /// The result has the input's dtype.
  pub keeps_dtype: bool,
  /// Its special output's name.
  pub special: Option<&'static str>,
}

/// Every processor: DESIGN §7's, then the set's.
pub fn processor_table() -> Vec<ProcessorInfo> {
  let section7 = PROCESSORS.iter().map(|&(name, separable)| ProcessorInfo {
    name,
    separable,
    arrays: if name == "applyMask" { vec!["mask"] } else { vec![] },
    keeps_dtype: !matches!(name, "stackPercentileNormalize" | "percentileNormalize"),
    special: None,
  });
  let set = crate::set::all().map(|op| ProcessorInfo { name: op.name, separable: op.separable, arrays: op.arrays.to_vec(), keeps_dtype: op.keeps_dtype, special: op.special });
  section7.chain(set).collect()
}

/// The one further array a processor of §7 may take (more is an error).
pub fn single_aux<'a>(name: &str, aux: &'a [Option<HostArray>]) -> SbResult<Option<&'a HostArray>> {
  if aux.len() > 1 {
    return Err(SbError::invalid(format!("{name} takes at most one further array, got {}", aux.len())).with("processor", name));
  }
  Ok(aux.first().and_then(|a| a.as_ref()))
}

/// Runs processor `name` — of DESIGN §7 or of the set (§12) — on a host stack with its further arrays.
pub fn run_named(name: &str, input: &HostArray, options: &str, aux: &[Option<HostArray>], cancel: &Cancel) -> SbResult<crate::set::Output> {
  if let Some(op) = crate::set::find(name) {
    return crate::set::run(op, input, aux, options, cancel);
  }
  Ok(crate::set::Output::array(run_processor_cancellable(name, input, options, single_aux(name, aux)?, cancel)?))
}

fn new_like(input: &HostArray, dims: Dims, dtype: DType) -> SbResult<HostArray> {
  let out = input.alloc_like(vec![dims.z, dims.h, dims.w], dtype, input.memory_type, false)?;
  Ok(HostArray { readonly: input.memory_type.is_immutable(), ..out })
}

/// A processor with its options read and checked: what every backend (CPU here, OpenCL, CUDA)
/// executes, so names, defaults and option errors are the same everywhere.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
  Normalize { per_slice: bool, params: NormalizeParams },
  Tophat(TophatParams),
  Projection(ProjectionMethod),
  Sharpen { radius: f64, amount: f64 },
  Composite { weights: Option<Vec<f64>> },
  ApplyMask,
  Equalize(EqualizeParams),
  SpatialBin { bin: usize, method: BinMethod },
  Crop { start: [usize; 3], size: [usize; 3] },
  Gaussian { sigma: f64 },
}

impl Op {
  /// Reads processor `name`'s JSON options (unknown keys and bad values are typed errors).
  pub fn parse(name: &str, options: &str) -> SbResult<Op> {
    Ok(match name {
      "stackPercentileNormalize" | "percentileNormalize" => {
        let p = Params::parse(name, options, &["lowPercentile", "highPercentile", "targetMin", "targetMax"])?;
        Op::Normalize {
          per_slice: name == "percentileNormalize",
          params: NormalizeParams {
            low_percentile: p.f64("lowPercentile", 1.0)?,
            high_percentile: p.f64("highPercentile", 99.0)?,
            target_min: p.f64("targetMin", 0.0)?,
            target_max: p.f64("targetMax", 65535.0)?,
          },
        }
      }
      "tophat" => {
        let p = Params::parse(name, options, &["selemRadius", "downsampleFactor", "upsampleOrder"])?;
        let tp = TophatParams {
          selem_radius: p.usize("selemRadius", 50)?,
          downsample_factor: p.usize("downsampleFactor", 4)?,
          upsample_order: p.usize("upsampleOrder", 1)?,
        };
        crate::tophat::check_order(&tp)?;
        Op::Tophat(tp)
      }
      "createProjection" => {
        let p = Params::parse(name, options, &["method"])?;
        Op::Projection(ProjectionMethod::parse(p.choice(
          "method",
          "max_projection",
          &["max_projection", "mean_projection", "min_projection", "median_projection", "std_projection"],
        )?)?)
      }
      "sharpen" => {
        let p = Params::parse(name, options, &["radius", "amount"])?;
        Op::Sharpen { radius: p.f64("radius", 1.0)?, amount: p.f64("amount", 1.0)? }
      }
      "createComposite" => {
        let p = Params::parse(name, options, &["weights"])?;
        Op::Composite { weights: p.f64_list("weights")? }
      }
      "applyMask" => {
        Params::parse(name, options, &[])?;
        Op::ApplyMask
      }
      "stackEqualizeHistogram" => {
        let p = Params::parse(name, options, &["bins", "rangeMin", "rangeMax"])?;
        Op::Equalize(EqualizeParams { bins: p.usize("bins", 65536)?, range_min: p.f64("rangeMin", 0.0)?, range_max: p.f64("rangeMax", 65535.0)? })
      }
      "spatialBin2d" => {
        let p = Params::parse(name, options, &["binSize", "method"])?;
        Op::SpatialBin { bin: p.usize("binSize", 2)?, method: BinMethod::parse(p.choice("method", "mean", &["mean", "sum", "max", "min"])?)? }
      }
      "crop" => {
        let p = Params::parse(name, options, &["startX", "startY", "startZ", "width", "height", "depth"])?;
        Op::Crop {
          start: [p.usize("startZ", 0)?, p.usize("startY", 0)?, p.usize("startX", 0)?],
          size: [p.usize("depth", 1)?, p.usize("height", 1)?, p.usize("width", 1)?],
        }
      }
      "gaussian" => {
        let p = Params::parse(name, options, &["sigma"])?;
        Op::Gaussian { sigma: p.f64("sigma", 1.0)? }
      }
      other => {
        return Err(
          SbError::invalid(format!(
            "unknown processor {other:?}; expected one of {}",
            processor_table().iter().map(|p| p.name).collect::<Vec<_>>().join(", ")
          ))
          .with("processor", other),
        )
      }
    })
  }

  /// The result's dims and dtype for an input of `dims` and `dtype` (shape errors are typed).
  pub fn output(&self, dims: Dims, dtype: DType) -> SbResult<(Dims, DType)> {
    Ok(match self {
      Op::Normalize { .. } => (dims, DType::U16), // DESIGN §7: uint16 whatever the input dtype
      Op::Projection(_) | Op::Composite { .. } => (Dims::new(1, dims.h, dims.w), dtype),
      Op::SpatialBin { bin, .. } => (spatial_bin_dims(dims, *bin)?, dtype),
      Op::Crop { start, size } => (crop_dims(dims, *start, *size)?, dtype),
      _ => (dims, dtype),
    })
  }
}

/// Checks `applyMask`'s mask: `[Y, X]` or `[Z, Y, X]` of the stack.
pub fn check_mask(mask: &HostArray, dims: Dims, shape: &[usize]) -> SbResult<()> {
  let ok = match mask.shape.as_slice() {
    [h, w] => (*h, *w) == (dims.h, dims.w),
    [z, h, w] => (*z, *h, *w) == (dims.z, dims.h, dims.w),
    _ => false,
  };
  if !ok {
    return Err(
      SbError::dimension(format!("mask shape {:?} matches neither the slice shape [{}, {}] nor the stack shape {:?}", mask.shape, dims.h, dims.w, shape))
        .with("maskShape", mask.shape.clone()),
    );
  }
  Ok(())
}

/// Runs processor `name` on `input` with `options` (JSON). `aux` is the mask of `applyMask`.
pub fn run_processor(name: &str, input: &HostArray, options: &str, aux: Option<&HostArray>) -> SbResult<HostArray> {
  run_processor_cancellable(name, input, options, aux, &Cancel::none())
}

/// Pixels one cancellation check covers at least: a separable processor runs on groups of whole
/// slices of about this many pixels (one slice when slices are larger), so an abort takes effect
/// within one group's time while small slices still run in parallel with each other.
pub const TILE_PIXELS: usize = 1 << 20;

/// Slices per cancellation check for slices of `plane` pixels.
pub fn slices_per_tile(plane: usize) -> usize {
  (TILE_PIXELS / plane.max(1)).max(1)
}

/// Whether `op` works on each Z slice alone (so it can run slice group by slice group).
fn per_slice(op: &Op) -> bool {
  matches!(op, Op::Normalize { per_slice: true, .. } | Op::Tophat(_) | Op::Sharpen { .. } | Op::SpatialBin { .. } | Op::Gaussian { .. } | Op::ApplyMask)
}

/// `run_processor` with a cancellation flag: per-slice processors check it between groups of
/// slices and count slices done; the others check it before and after their one pass. An abort
/// returns `Aborted` and drops the output (its memory goes back to the allocator).
pub fn run_processor_cancellable(name: &str, input: &HostArray, options: &str, aux: Option<&HostArray>, cancel: &Cancel) -> SbResult<HostArray> {
  cancel.check()?;
  let op = Op::parse(name, options)?;
  if aux.is_some() && op != Op::ApplyMask {
    return Err(SbError::invalid(format!("{name} takes no second array")));
  }
  let dims = Dims::from_shape(&input.shape).map_err(|e| e.with("processor", name))?;
  let (out_dims, out_dtype) = op.output(dims, input.dtype)?;
  let mask32 = match &op {
    Op::ApplyMask => {
      let mask = aux.ok_or_else(|| SbError::invalid("applyMask needs a mask array"))?;
      check_mask(mask, dims, &input.shape)?;
      // A float32 mask is read in place; other dtypes are converted once (astype copies always).
      Some(if mask.dtype == DType::F32 { mask.clone() } else { ops::astype(mask, DType::F32)? })
    }
    _ => None,
  };
  let src = input.pin()?;
  let out = new_like(input, out_dims, out_dtype)?;
  let pinned = out.pin()?;
  let mask = mask32.as_ref().map(|m| m.pin()).transpose()?;
  with_dtype!(input.dtype, T => {
    let s = src.as_slice::<T>();
    // Runs `op` on slices [z0, z1) of the input into the matching slices of the output.
    let run = |z0: usize, z1: usize| -> SbResult<()> {
      // Per-slice processors keep Z (output slice i is input slice i); the others run once, whole.
      let oz = if per_slice(&op) { z1 - z0 } else { out_dims.z };
      let (d, od) = (Dims::new(z1 - z0, dims.h, dims.w), Dims::new(oz, out_dims.h, out_dims.w));
      let (s, z) = (&s[z0 * dims.plane()..z1 * dims.plane()], z0..z0 + oz);
      if let Op::Normalize { per_slice, params } = &op {
        let o = &mut pinned.as_mut_slice::<u16>()[z.start * od.plane()..z.end * od.plane()];
        return if *per_slice { percentile_normalize(s, d, params, o) } else { stack_percentile_normalize(s, d, params, o) };
      }
      let o = &mut pinned.as_mut_slice::<T>()[z.start * od.plane()..z.end * od.plane()];
      match &op {
        Op::Tophat(tp) => tophat(s, d, tp, o),
        Op::Projection(method) => project(s, d, *method, o),
        Op::Sharpen { radius, amount } => crate::sharpen::sharpen(s, d, *radius, *amount, o),
        Op::Composite { weights } => create_composite(s, d, weights.as_deref(), o),
        Op::ApplyMask => {
          // A mask of one slice applies to every slice; a stack mask is cut like the stack.
          let m = mask.as_ref().expect("mask checked above").as_slice::<f32>();
          apply_mask(s, d, if m.len() == dims.plane() { m } else { &m[z0 * dims.plane()..z1 * dims.plane()] }, o)
        }
        Op::Equalize(ep) => equalize_histogram(s, d, ep, o),
        Op::SpatialBin { bin, method } => spatial_bin_2d(s, d, *bin, *method, o),
        Op::Crop { start, size } => crop(s, d, *start, *size, o),
        Op::Gaussian { sigma } => crate::gaussian::gaussian(s, d, *sigma, o),
        Op::Normalize { .. } => unreachable!("handled above"),
      }
    };
    // Nobody can cancel or watch: one pass over the whole stack (slices in parallel, as before).
    if per_slice(&op) && dims.z > 0 && cancel.is_live() {
      cancel.for_ranges(dims.z, slices_per_tile(dims.plane()), run)?;
    } else {
      cancel.begin(1);
      run(0, dims.z)?;
      cancel.advance(1);
      cancel.check()?;
    }
  });
  Ok(out)
}

/// Reads the options of `countCellsSingleChannel`.
pub fn count_params(options: &str) -> SbResult<CountParams> {
  const KEYS: [&str; 16] = [
    "detectionMethod",
    "minSigma",
    "maxSigma",
    "numSigma",
    "threshold",
    "overlap",
    "watershedFootprintSize",
    "watershedMinDistance",
    "watershedThresholdMethod",
    "enablePreprocessing",
    "gaussianSigma",
    "medianDiskSize",
    "minCellArea",
    "maxCellArea",
    "removeBorderCells",
    "returnSegmentationMask",
  ];
  let p = Params::parse("countCellsSingleChannel", options, &KEYS)?;
  let d = CountParams::default();
  let params = CountParams {
    detection_method: DetectionMethod::parse(p.choice("detectionMethod", "blob_log", &DetectionMethod::NAMES)?)?,
    min_sigma: p.f64("minSigma", d.min_sigma)?,
    max_sigma: p.f64("maxSigma", d.max_sigma)?,
    num_sigma: p.usize("numSigma", d.num_sigma)?,
    threshold: p.f64("threshold", d.threshold)?,
    overlap: p.f64("overlap", d.overlap)?,
    watershed_footprint_size: p.usize("watershedFootprintSize", d.watershed_footprint_size)?,
    watershed_min_distance: p.usize("watershedMinDistance", d.watershed_min_distance)?,
    watershed_threshold_method: match p.choice("watershedThresholdMethod", "otsu", &["otsu", "li"])? {
      "li" => ThresholdMethod::Li,
      _ => ThresholdMethod::Otsu,
    },
    enable_preprocessing: p.bool("enablePreprocessing", d.enable_preprocessing)?,
    gaussian_sigma: p.f64("gaussianSigma", d.gaussian_sigma)?,
    median_disk_size: p.usize("medianDiskSize", d.median_disk_size)?,
    min_cell_area: p.f64("minCellArea", d.min_cell_area)?,
    max_cell_area: p.f64("maxCellArea", d.max_cell_area)?,
    remove_border_cells: p.bool("removeBorderCells", d.remove_border_cells)?,
    return_segmentation_mask: p.bool("returnSegmentationMask", d.return_segmentation_mask)?,
  };
  params.validate()?;
  Ok(params)
}

/// `countCellsSingleChannel` on a host stack: the per-slice results as JSON, and the int32 label
/// masks (same memory type as the input) when asked for.
pub fn run_count_cells(input: &HostArray, options: &str) -> SbResult<(String, Option<HostArray>)> {
  run_count_cells_cancellable(input, options, &Cancel::none())
}

/// `run_count_cells` with a cancellation flag, checked before each slice (slices done are counted).
pub fn run_count_cells_cancellable(input: &HostArray, options: &str, cancel: &Cancel) -> SbResult<(String, Option<HostArray>)> {
  cancel.check()?;
  let dims = Dims::from_shape(&input.shape).map_err(|e| e.with("processor", "countCellsSingleChannel"))?;
  let params = count_params(options)?;
  let src = input.pin()?;
  let (results, masks): (Vec<SliceResult>, Option<Vec<i32>>) = with_dtype!(input.dtype, T => crate::count::count_cells_cancellable(src.as_slice::<T>(), dims, &params, cancel)?);
  let json = serde_json::to_string(&results).map_err(|e| SbError::invalid(format!("cannot serialise the results: {e}")))?;
  let masks = match masks {
    None => None,
    Some(m) => {
      let out = new_like(input, dims, DType::I32)?;
      out.pin()?.as_mut_slice::<i32>().copy_from_slice(&m);
      Some(out)
    }
  };
  Ok((json, masks))
}

#[cfg(test)]
mod tests {
  use super::*;
  use stackbridge_core::{Cancel, ErrorCode, MemoryType};

  /// A u16 stack of `z` slices `h` x `w` holding a deterministic texture.
  fn stack(z: usize, h: usize, w: usize) -> HostArray {
    let a = HostArray::alloc(vec![z, h, w], DType::U16, MemoryType::Numpy, false).unwrap();
    for (i, v) in a.pin().unwrap().as_mut_slice::<u16>().iter_mut().enumerate() {
      *v = ((i * 7919) % 5003) as u16;
    }
    a
  }

  fn bytes(a: &HostArray) -> Vec<u8> {
    a.pin().unwrap().bytes().to_vec()
  }

  #[test]
  fn slice_groups_compute_what_one_pass_computes() {
    // 1100 x 1000 slices: one slice per group; 40 x 30: every slice in one group.
    for (z, h, w) in [(3, 1100, 1000), (5, 40, 30)] {
      let a = stack(z, h, w);
      let mask = HostArray::alloc(vec![z, h, w], DType::U8, MemoryType::Numpy, false).unwrap();
      for (i, v) in mask.pin().unwrap().as_mut_slice::<u8>().iter_mut().enumerate() {
        *v = (i % 3 == 0) as u8;
      }
      for (name, opts) in [
        ("gaussian", r#"{"sigma":1.5}"#),
        ("tophat", r#"{"selemRadius":8,"downsampleFactor":2}"#),
        ("percentileNormalize", "{}"),
        ("spatialBin2d", r#"{"binSize":3}"#),
        ("sharpen", "{}"),
        ("applyMask", "{}"),
        ("createProjection", r#"{"method":"mean_projection"}"#),
      ] {
        let aux = (name == "applyMask").then_some(&mask);
        let whole = run_processor(name, &a, opts, aux).unwrap();
        let cancel = Cancel::new();
        let grouped = run_processor_cancellable(name, &a, opts, aux, &cancel).unwrap();
        assert_eq!(bytes(&grouped), bytes(&whole), "{name} on {z}x{h}x{w}");
        let (done, total) = cancel.progress();
        assert_eq!(done, total, "{name}: every unit counted");
      }
    }
  }

  #[test]
  fn a_raised_flag_stops_before_the_work_and_counts_slices() {
    let a = stack(4, 1024, 1024);
    let cancel = Cancel::new();
    cancel.cancel();
    let e = run_processor_cancellable("gaussian", &a, "{}", None, &cancel).unwrap_err();
    assert_eq!(e.code, ErrorCode::Aborted);
    assert_eq!(cancel.progress().0, 0);
    assert_eq!(slices_per_tile(1024 * 1024), 1);
    assert_eq!(slices_per_tile(100 * 100), 104);
    let live = Cancel::new();
    run_processor_cancellable("gaussian", &a, "{}", None, &live).unwrap();
    assert_eq!(live.progress(), (4, 4)); // one unit per slice
  }
}
