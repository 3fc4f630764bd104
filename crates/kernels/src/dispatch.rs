//! The processors by name, on host arrays: reads the options, checks the input is a 3D stack,
//! allocates the result through the core's caching allocator (so a memory limit applies) in the
//! input's memory type, and runs the kernel for the input's dtype. The napi binding calls this;
//! the OpenCL and CUDA domains will mirror the same names and options.

use crate::count::{count_cells, CountParams, DetectionMethod, SliceResult, ThresholdMethod};
use crate::image::Dims;
use crate::normalize::{percentile_normalize, stack_percentile_normalize, NormalizeParams};
use crate::params::Params;
use crate::pointwise::{
  apply_mask, create_composite, crop, crop_dims, equalize_histogram, spatial_bin_2d, spatial_bin_dims, BinMethod, EqualizeParams,
};
use crate::projection::{project, ProjectionMethod};
use crate::tophat::{tophat, TophatParams};
use stackbridge_core::{ops, with_dtype, DType, HostArray, SbError, SbResult};

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

fn new_like(input: &HostArray, dims: Dims, dtype: DType) -> SbResult<HostArray> {
  let out = HostArray::alloc(vec![dims.z, dims.h, dims.w], dtype, input.memory_type, false)?;
  Ok(HostArray { readonly: input.memory_type.is_immutable(), ..out })
}

/// Runs processor `name` on `input` with `options` (JSON). `aux` is the mask of `applyMask`.
pub fn run_processor(name: &str, input: &HostArray, options: &str, aux: Option<&HostArray>) -> SbResult<HostArray> {
  let dims = Dims::from_shape(&input.shape).map_err(|e| e.with("processor", name))?;
  let src = input.pin()?;
  macro_rules! same_shape {
    ($out_dims:expr, $out_dtype:expr, |$s:ident, $o:ident| $body:expr) => {{
      let out = new_like(input, $out_dims, $out_dtype)?;
      let pinned = out.pin()?;
      with_dtype!(input.dtype, T => {
        let $s = src.as_slice::<T>();
        let $o = pinned.as_mut_slice::<T>();
        $body?
      });
      Ok(out)
    }};
  }
  if aux.is_some() && name != "applyMask" {
    return Err(SbError::invalid(format!("{name} takes no second array")));
  }
  match name {
    "stackPercentileNormalize" | "percentileNormalize" => {
      let p = Params::parse(name, options, &["lowPercentile", "highPercentile", "targetMin", "targetMax"])?;
      let np = NormalizeParams {
        low_percentile: p.f64("lowPercentile", 1.0)?,
        high_percentile: p.f64("highPercentile", 99.0)?,
        target_min: p.f64("targetMin", 0.0)?,
        target_max: p.f64("targetMax", 65535.0)?,
      };
      // DESIGN §7: the result is uint16 whatever the input dtype.
      let out = new_like(input, dims, DType::U16)?;
      let pinned = out.pin()?;
      let o = pinned.as_mut_slice::<u16>();
      with_dtype!(input.dtype, T => {
        let s = src.as_slice::<T>();
        if name == "percentileNormalize" { percentile_normalize(s, dims, &np, o)? } else { stack_percentile_normalize(s, dims, &np, o)? }
      });
      Ok(out)
    }
    "tophat" => {
      let p = Params::parse(name, options, &["selemRadius", "downsampleFactor"])?;
      let tp = TophatParams { selem_radius: p.usize("selemRadius", 50)?, downsample_factor: p.usize("downsampleFactor", 4)? };
      same_shape!(dims, input.dtype, |s, o| tophat(s, dims, &tp, o))
    }
    "createProjection" => {
      let p = Params::parse(name, options, &["method"])?;
      let method = ProjectionMethod::parse(p.choice(
        "method",
        "max_projection",
        &["max_projection", "mean_projection", "min_projection", "median_projection", "std_projection"],
      )?)?;
      same_shape!(Dims::new(1, dims.h, dims.w), input.dtype, |s, o| project(s, dims, method, o))
    }
    "sharpen" => {
      let p = Params::parse(name, options, &["radius", "amount"])?;
      let (radius, amount) = (p.f64("radius", 1.0)?, p.f64("amount", 1.0)?);
      same_shape!(dims, input.dtype, |s, o| crate::sharpen::sharpen(s, dims, radius, amount, o))
    }
    "createComposite" => {
      let p = Params::parse(name, options, &["weights"])?;
      let weights = p.f64_list("weights")?;
      same_shape!(Dims::new(1, dims.h, dims.w), input.dtype, |s, o| create_composite(s, dims, weights.as_deref(), o))
    }
    "applyMask" => {
      Params::parse(name, options, &[])?;
      let mask = aux.ok_or_else(|| SbError::invalid("applyMask needs a mask array"))?;
      let ok = match mask.shape.as_slice() {
        [h, w] => (*h, *w) == (dims.h, dims.w),
        [z, h, w] => (*z, *h, *w) == (dims.z, dims.h, dims.w),
        _ => false,
      };
      if !ok {
        return Err(
          SbError::dimension(format!("mask shape {:?} matches neither the slice shape [{}, {}] nor the stack shape {:?}", mask.shape, dims.h, dims.w, input.shape))
            .with("maskShape", mask.shape.clone()),
        );
      }
      let mask32 = ops::astype(mask, DType::F32)?;
      let m = mask32.pin()?;
      let m = m.as_slice::<f32>();
      same_shape!(dims, input.dtype, |s, o| apply_mask(s, dims, m, o))
    }
    "stackEqualizeHistogram" => {
      let p = Params::parse(name, options, &["bins", "rangeMin", "rangeMax"])?;
      let ep = EqualizeParams { bins: p.usize("bins", 65536)?, range_min: p.f64("rangeMin", 0.0)?, range_max: p.f64("rangeMax", 65535.0)? };
      same_shape!(dims, input.dtype, |s, o| equalize_histogram(s, dims, &ep, o))
    }
    "spatialBin2d" => {
      let p = Params::parse(name, options, &["binSize", "method"])?;
      let bin = p.usize("binSize", 2)?;
      let method = BinMethod::parse(p.choice("method", "mean", &["mean", "sum", "max", "min"])?)?;
      same_shape!(spatial_bin_dims(dims, bin)?, input.dtype, |s, o| spatial_bin_2d(s, dims, bin, method, o))
    }
    "crop" => {
      let p = Params::parse(name, options, &["startX", "startY", "startZ", "width", "height", "depth"])?;
      let start = [p.usize("startZ", 0)?, p.usize("startY", 0)?, p.usize("startX", 0)?];
      let size = [p.usize("depth", 1)?, p.usize("height", 1)?, p.usize("width", 1)?];
      same_shape!(crop_dims(dims, start, size)?, input.dtype, |s, o| crop(s, dims, start, size, o))
    }
    "gaussian" => {
      let p = Params::parse(name, options, &["sigma"])?;
      let sigma = p.f64("sigma", 1.0)?;
      same_shape!(dims, input.dtype, |s, o| crate::gaussian::gaussian(s, dims, sigma, o))
    }
    other => Err(
      SbError::invalid(format!(
        "unknown processor {other:?}; expected one of {}",
        PROCESSORS.iter().map(|p| p.0).collect::<Vec<_>>().join(", ")
      ))
      .with("processor", other),
    ),
  }
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
  let dims = Dims::from_shape(&input.shape).map_err(|e| e.with("processor", "countCellsSingleChannel"))?;
  let params = count_params(options)?;
  let src = input.pin()?;
  let (results, masks): (Vec<SliceResult>, Option<Vec<i32>>) = with_dtype!(input.dtype, T => count_cells(src.as_slice::<T>(), dims, &params)?);
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
