//! `countCellsSingleChannel` (DESIGN §7): OpenHCS's single-channel cell counting, per Z slice.
//!
//! Each slice is scaled to `[0, 1]` by its dtype's maximum (`skimage.img_as_float`) so that
//! `threshold` has its scikit-image meaning, optionally preprocessed (`skimage.filters.gaussian`,
//! mode 'nearest', then `skimage.filters.median(disk(r))`), and detected with one of four methods:
//! `blob_log`, `blob_dog` (scikit-image's detectors), `watershed` (Otsu or Li threshold, small and
//! border objects removed, distance-transform peaks as markers) or `threshold` (a fraction of the
//! slice maximum, connected components). Intensities are reported in the input's units.

use crate::blob::{blob_dog, blob_log, Blob, BlobDogParams, BlobLogParams};
use crate::gaussian::{gaussian_plane_f32, BorderMode};
use crate::image::{check_range, dtype_scale, Dims};
use crate::median::median_disk_plane_f32;
use crate::segment::{
  clear_border, distance_transform_edt, label, peak_local_max_2d, regionprops, remove_small_objects, threshold_li, threshold_otsu, watershed,
  Connectivity,
};
use rayon::prelude::*;
use serde::Serialize;
use stackbridge_core::{Cancel, Element, SbError, SbResult};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DetectionMethod {
  BlobLog,
  BlobDog,
  Watershed,
  Threshold,
}

impl DetectionMethod {
  pub const NAMES: [&'static str; 4] = ["blob_log", "blob_dog", "watershed", "threshold"];

  pub fn parse(s: &str) -> SbResult<Self> {
    Ok(match s {
      "blob_log" => Self::BlobLog,
      "blob_dog" => Self::BlobDog,
      "watershed" => Self::Watershed,
      "threshold" => Self::Threshold,
      _ => return Err(SbError::invalid(format!("unknown detection method {s:?}; expected one of {}", Self::NAMES.join(", ")))),
    })
  }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ThresholdMethod {
  Otsu,
  Li,
}

/// The options of `countCellsSingleChannel`, defaults as OpenHCS. Serialised (camelCase) into
/// every slice result as the parameters used.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CountParams {
  pub detection_method: DetectionMethod,
  pub min_sigma: f64,
  pub max_sigma: f64,
  pub num_sigma: usize,
  pub threshold: f64,
  pub overlap: f64,
  pub watershed_footprint_size: usize,
  pub watershed_min_distance: usize,
  pub watershed_threshold_method: ThresholdMethod,
  pub enable_preprocessing: bool,
  pub gaussian_sigma: f64,
  pub median_disk_size: usize,
  pub min_cell_area: f64,
  pub max_cell_area: f64,
  pub remove_border_cells: bool,
  pub return_segmentation_mask: bool,
}

impl Default for CountParams {
  fn default() -> Self {
    CountParams {
      detection_method: DetectionMethod::BlobLog,
      min_sigma: 1.0,
      max_sigma: 10.0,
      num_sigma: 10,
      threshold: 0.1,
      overlap: 0.5,
      watershed_footprint_size: 3,
      watershed_min_distance: 5,
      watershed_threshold_method: ThresholdMethod::Otsu,
      enable_preprocessing: true,
      gaussian_sigma: 1.0,
      median_disk_size: 1,
      min_cell_area: 10.0,
      max_cell_area: 1000.0,
      remove_border_cells: true,
      return_segmentation_mask: false,
    }
  }
}

impl CountParams {
  pub fn validate(&self) -> SbResult<()> {
    check_range("minSigma", self.min_sigma, f64::MIN_POSITIVE, 1e4)?;
    check_range("maxSigma", self.max_sigma, self.min_sigma, 1e4)?;
    if self.num_sigma == 0 || self.num_sigma > 1000 {
      return Err(SbError::invalid(format!("numSigma must be in [1, 1000], got {}", self.num_sigma)));
    }
    check_range("threshold", self.threshold, f64::MIN, f64::MAX)?;
    check_range("overlap", self.overlap, 0.0, 1.0)?;
    if self.watershed_footprint_size == 0 || self.watershed_footprint_size > 1001 {
      return Err(SbError::invalid(format!("watershedFootprintSize must be in [1, 1001], got {}", self.watershed_footprint_size)));
    }
    if self.watershed_min_distance > 100_000 {
      return Err(SbError::invalid("watershedMinDistance is too large"));
    }
    check_range("gaussianSigma", self.gaussian_sigma, 0.0, 1e4)?;
    if self.median_disk_size > 1000 {
      return Err(SbError::invalid(format!("medianDiskSize must be at most 1000, got {}", self.median_disk_size)));
    }
    check_range("minCellArea", self.min_cell_area, 0.0, f64::MAX)?;
    check_range("maxCellArea", self.max_cell_area, self.min_cell_area, f64::MAX)?;
    Ok(())
  }
}

/// One slice's result, OpenHCS's `CellCountResult` (positions are `(x, y)`).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SliceResult {
  pub slice_index: usize,
  pub method: DetectionMethod,
  pub cell_count: usize,
  pub positions: Vec<(f64, f64)>,
  pub areas: Vec<f64>,
  pub intensities: Vec<f64>,
  pub confidences: Vec<f64>,
  pub parameters: CountParams,
}

/// A slice's cells before assembly: (x, y), area, intensity (input units), confidence.
pub struct Cells {
  cells: Vec<((f64, f64), f64, f64, f64)>,
  /// Label image of the kept cells (watershed / threshold), if the method makes one.
  labels: Option<Vec<u32>>,
}

/// Counts cells in every slice of `src`. Returns the per-slice results and, when
/// `return_segmentation_mask`, an int32 label stack of the same shape (0 = background).
pub fn count_cells<T: Element>(src: &[T], dims: Dims, p: &CountParams) -> SbResult<(Vec<SliceResult>, Option<Vec<i32>>)> {
  count_cells_cancellable(src, dims, p, &Cancel::none())
}

/// `count_cells` checking `cancel` before each slice starts and counting the slices done.
pub fn count_cells_cancellable<T: Element>(src: &[T], dims: Dims, p: &CountParams, cancel: &Cancel) -> SbResult<(Vec<SliceResult>, Option<Vec<i32>>)> {
  dims.check_len(src.len(), "input")?;
  dims.require_nonempty("countCellsSingleChannel")?;
  p.validate()?;
  let scale = dtype_scale(T::DTYPE);
  let plane = dims.plane();
  cancel.begin(dims.z as u64);
  // Slices are independent; the kernels inside parallelise too, rayon balances both levels.
  let per_slice: Vec<SbResult<(SliceResult, Option<Vec<i32>>)>> = src
    .par_chunks(plane)
    .enumerate()
    .map(|(z, slice)| {
      cancel.check()?;
      let img = prepare(slice, dims, scale, p);
      let found = detect(&img, dims.h, dims.w, p, scale)?;
      cancel.advance(1);
      Ok(slice_result(z, &found, dims, p))
    })
    .collect();
  cancel.check()?;
  let mut results = Vec::with_capacity(dims.z);
  let mut masks = p.return_segmentation_mask.then(|| Vec::with_capacity(dims.len()));
  for r in per_slice {
    let (res, mask) = r?;
    results.push(res);
    if let (Some(all), Some(m)) = (masks.as_mut(), mask) {
      all.extend_from_slice(&m);
    }
  }
  Ok((results, masks))
}

/// Slice `z`'s result and, when `return_segmentation_mask`, its int32 mask.
pub fn slice_result(z: usize, found: &Cells, dims: Dims, p: &CountParams) -> (SliceResult, Option<Vec<i32>>) {
  let mask = p.return_segmentation_mask.then(|| draw_mask(found, dims));
  let result = SliceResult {
    slice_index: z,
    method: p.detection_method,
    cell_count: found.cells.len(),
    positions: found.cells.iter().map(|c| c.0).collect(),
    areas: found.cells.iter().map(|c| c.1).collect(),
    intensities: found.cells.iter().map(|c| c.2).collect(),
    confidences: found.cells.iter().map(|c| c.3).collect(),
    parameters: p.clone(),
  };
  (result, mask)
}

/// `img_as_float` of one value `v` of a dtype whose scale is `1 / inv` ([`dtype_scale`]): signed
/// integers (and floats) are clipped at -1.
#[inline(always)]
pub fn img_as_float(v: f64, inv: f64) -> f32 {
  (v * inv).max(-1.0) as f32
}

/// `img_as_float` then the optional preprocessing.
fn prepare<T: Element>(slice: &[T], dims: Dims, scale: f64, p: &CountParams) -> Vec<f32> {
  let inv = 1.0 / scale;
  let mut img: Vec<f32> = slice.iter().map(|v| img_as_float(v.to_f64(), inv)).collect();
  if p.enable_preprocessing {
    let mut tmp = vec![0f32; img.len()];
    if p.gaussian_sigma > 0.0 {
      gaussian_plane_f32(&img, dims.h, dims.w, p.gaussian_sigma, BorderMode::Nearest, &mut tmp);
      std::mem::swap(&mut img, &mut tmp);
    }
    if p.median_disk_size > 0 {
      median_disk_plane_f32(&img, dims.h, dims.w, p.median_disk_size, &mut tmp);
      std::mem::swap(&mut img, &mut tmp);
    }
  }
  img
}

/// Detection on one prepared slice (`scale`: the input dtype's maximum, for intensities).
pub fn detect(img: &[f32], h: usize, w: usize, p: &CountParams, scale: f64) -> SbResult<Cells> {
  match p.detection_method {
    DetectionMethod::BlobLog => {
      let bp = BlobLogParams { min_sigma: p.min_sigma, max_sigma: p.max_sigma, num_sigma: p.num_sigma, threshold: p.threshold, overlap: p.overlap };
      Ok(blob_cells(&blob_log(img, h, w, &bp)?, img, w, p, scale))
    }
    DetectionMethod::BlobDog => {
      let bp = BlobDogParams { min_sigma: p.min_sigma, max_sigma: p.max_sigma, sigma_ratio: 1.6, threshold: p.threshold, overlap: p.overlap };
      Ok(blob_cells(&blob_dog(img, h, w, &bp)?, img, w, p, scale))
    }
    DetectionMethod::Watershed => Ok(watershed_cells(img, h, w, p, scale)?),
    DetectionMethod::Threshold => Ok(threshold_cells(img, h, w, p, scale)),
  }
}

/// Blob methods: area of the disk of radius σ√2, intensity at the centre pixel, confidence σ/maxSigma.
pub fn blob_cells(blobs: &[Blob], img: &[f32], w: usize, p: &CountParams, scale: f64) -> Cells {
  let cells = blobs
    .iter()
    .filter_map(|b| {
      let area = 2.0 * std::f64::consts::PI * b.sigma * b.sigma;
      let intensity = img[b.y as usize * w + b.x as usize] as f64 * scale;
      (p.min_cell_area <= area && area <= p.max_cell_area).then_some(((b.x, b.y), area, intensity, b.sigma / p.max_sigma))
    })
    .collect();
  Cells { cells, labels: None }
}

/// Shared tail of watershed and threshold: area filter on the regions, and the kept labels.
fn region_cells(labels: Vec<u32>, img: &[f32], h: usize, w: usize, p: &CountParams, scale: f64, confidence: impl Fn(f64, f64) -> f64) -> Cells {
  let regions = regionprops(&labels, img, h, w);
  let max_label = regions.iter().map(|r| r.label).max().unwrap_or(0) as usize;
  let mut keep = vec![false; max_label + 1];
  let mut cells = Vec::new();
  for r in &regions {
    let area = r.area as f64;
    if p.min_cell_area <= area && area <= p.max_cell_area {
      keep[r.label as usize] = true;
      cells.push(((r.centroid_x, r.centroid_y), area, r.mean_intensity * scale, confidence(area, r.mean_intensity)));
    }
  }
  let labels = labels.into_iter().map(|l| if keep[l as usize] { l } else { 0 }).collect();
  Cells { cells, labels: Some(labels) }
}

fn clean_binary(binary: &mut [bool], h: usize, w: usize, p: &CountParams) {
  // scikit-image 0.26 removes objects of min_size pixels or fewer.
  remove_small_objects(binary, h, w, p.min_cell_area.floor() as usize);
  if p.remove_border_cells {
    clear_border(binary, h, w);
  }
}

fn threshold_cells(img: &[f32], h: usize, w: usize, p: &CountParams, scale: f64) -> Cells {
  let max = img.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
  let t = p.threshold * max;
  let mut binary: Vec<bool> = img.iter().map(|&v| (v as f64) > t).collect();
  clean_binary(&mut binary, h, w, p);
  let (labels, _) = label(&binary, h, w, Connectivity::Eight);
  region_cells(labels, img, h, w, p, scale, |_, mean| if max != 0.0 { mean / max } else { 0.0 })
}

fn watershed_cells(img: &[f32], h: usize, w: usize, p: &CountParams, scale: f64) -> SbResult<Cells> {
  let t = match p.watershed_threshold_method {
    ThresholdMethod::Otsu => threshold_otsu(img)?,
    ThresholdMethod::Li => threshold_li(img)?,
  };
  let mut binary: Vec<bool> = img.iter().map(|&v| (v as f64) > t).collect();
  clean_binary(&mut binary, h, w, p);
  let mut distance = vec![0f32; img.len()];
  distance_transform_edt(&binary, h, w, &mut distance);
  let peaks = peak_local_max_2d(&distance, h, w, p.watershed_min_distance, p.watershed_footprint_size);
  let mut peak_mask = vec![false; img.len()];
  for (y, x) in peaks {
    peak_mask[y * w + x] = true;
  }
  let (markers, _) = label(&peak_mask, h, w, Connectivity::Eight);
  let neg: Vec<f32> = distance.iter().map(|d| -d).collect();
  let mut labels = vec![0u32; img.len()];
  watershed(&neg, &markers, &binary, h, w, &mut labels);
  let max_area = p.max_cell_area;
  Ok(region_cells(labels, img, h, w, p, scale, |area, _| (area / max_area).min(1.0)))
}

/// The segmentation mask of one slice: the kept labels, or for blob methods filled disks of
/// radius √(area/π) labelled 1.. in detection order (OpenHCS's visualisation).
fn draw_mask(found: &Cells, dims: Dims) -> Vec<i32> {
  if let Some(labels) = &found.labels {
    return labels.iter().map(|&l| l as i32).collect();
  }
  let mut mask = vec![0i32; dims.plane()];
  for (i, ((x, y), area, _, _)) in found.cells.iter().enumerate() {
    let r = (area / std::f64::consts::PI).sqrt();
    let (y0, y1) = ((y - r).floor().max(0.0) as usize, ((y + r).ceil() as usize).min(dims.h.saturating_sub(1)));
    let (x0, x1) = ((x - r).floor().max(0.0) as usize, ((x + r).ceil() as usize).min(dims.w.saturating_sub(1)));
    for yy in y0..=y1 {
      for xx in x0..=x1 {
        let (dy, dx) = (yy as f64 - y, xx as f64 - x);
        if dy * dy + dx * dx <= r * r {
          mask[yy * dims.w + xx] = i as i32 + 1;
        }
      }
    }
  }
  mask
}
