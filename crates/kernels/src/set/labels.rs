//! Set operations: labels (DESIGN §12). Every operation works per Z slice and writes `int32`
//! labels (`labelBoundaries`: a `uint8` 0/1 mask), so none keeps the input dtype.
//!
//! Label inputs are integer stacks (`uint8`, `uint16`, `int16`, `int32`) of non-negative labels,
//! 0 = background; a float stack is a `DtypeError`, a negative label an `InvalidArgumentError`.
//! Image inputs (`voronoiOtsuLabeling`, the image of `watershed`) are used with their values as
//! given — scikit-image's `img_as_float` rescaling of integers to [0, 1] is not applied, which
//! the oracles below reproduce by calling scikit-image on `x.astype(float64)`.

use super::{slices, Call, Output, SetOp};
use crate::gaussian::{check_sigma, gaussian_plane, BorderMode};
use crate::morphology::{dilate_disk, erode_disk};
use crate::segment::{label, watershed as flood_watershed, Connectivity};
use rayon::prelude::*;
use stackbridge_core::{with_dtype, DType, Element, HostArray, SbError, SbResult};

pub const OPS: &[SetOp] = &[
  SetOp { name: "connectedComponentsLabeling", separable: true, arrays: &[], keeps_dtype: false, special: None, run: run_ccl },
  SetOp { name: "voronoiOtsuLabeling", separable: true, arrays: &[], keeps_dtype: false, special: None, run: run_voronoi_otsu },
  SetOp { name: "watershed", separable: false, arrays: &["markers", "mask?"], keeps_dtype: false, special: None, run: run_watershed },
  SetOp { name: "excludeLabelsOnEdges", separable: true, arrays: &[], keeps_dtype: false, special: None, run: run_exclude_on_edges },
  SetOp {
    name: "excludeLabelsOutsideSizeRange",
    separable: true,
    arrays: &[],
    keeps_dtype: false,
    special: None,
    run: run_exclude_size_range,
  },
  SetOp { name: "relabelSequential", separable: true, arrays: &[], keeps_dtype: false, special: None, run: run_relabel },
  SetOp { name: "dilateLabels", separable: true, arrays: &[], keeps_dtype: false, special: None, run: run_dilate_labels },
  SetOp { name: "erodeLabels", separable: true, arrays: &[], keeps_dtype: false, special: None, run: run_erode_labels },
  SetOp { name: "labelBoundaries", separable: true, arrays: &[], keeps_dtype: false, special: None, run: run_label_boundaries },
];

// ---------------------------------------------------------------------------------------------
// Input helpers

/// The dtype of label outputs (DESIGN §12). The kernels work on non-negative `i32` labels, whose
/// bits are the same `u32` values, and write them into the uint32 result as such.
pub const LABELS: DType = DType::U32;

/// The values of an integer label stack as `i32` (`DtypeError` for float stacks,
/// `InvalidArgumentError` for a negative label). `what` names the array in messages.
fn labels_of(name: &str, a: &HostArray, what: &str) -> SbResult<Vec<i32>> {
  if a.dtype.is_float() {
    return Err(
      SbError::dtype(format!("{name}: {what} must be integer labels (uint8, uint16, int16, int32 or uint32), got {:?}", a.dtype)).with("processor", name),
    );
  }
  let pin = a.pin()?;
  let wide: bool = with_dtype!(a.dtype, T => pin.as_slice::<T>().par_iter().any(|&x| x.to_i64() > i32::MAX as i64));
  label_range(name, what, wide, false)?;
  let v: Vec<i32> = with_dtype!(a.dtype, T => pin.as_slice::<T>().par_iter().map(|&x| x.to_i64() as i32).collect());
  label_range(name, what, false, v.par_iter().any(|&x| x < 0))?;
  Ok(v)
}

/// The error of a label array with a label above `i32::MAX` (`wide`, checked first) or a negative
/// one, as [`labels_of`] reports it (for the device implementations, which check on the device).
pub fn label_range(name: &str, what: &str, wide: bool, negative: bool) -> SbResult<()> {
  if wide {
    return Err(SbError::invalid(format!("{name}: {what} has labels above 2^31 - 1, which are not supported")).with("processor", name));
  }
  if negative {
    return Err(SbError::invalid(format!("{name}: {what} has negative labels; labels must be >= 0")).with("processor", name));
  }
  Ok(())
}

/// Runs `f(labels_slice, out_slice, h, w)` for every slice of the label stack into a new int32 stack.
fn per_label_slice(call: &Call, f: impl Fn(&[i32], &mut [i32], usize, usize) -> SbResult<()> + Sync) -> SbResult<Output> {
  let dims = call.dims()?;
  let lab = labels_of(call.name, call.input, "the input")?;
  let out = call.alloc(dims, LABELS)?;
  {
    let pin = out.pin()?;
    let o = pin.as_mut_slice::<i32>();
    let plane = dims.plane();
    slices(call.cancel, dims.z, &lab, plane, o, plane, |_, s, o| f(s, o, dims.h, dims.w))?;
  }
  Ok(Output::array(out))
}

// ---------------------------------------------------------------------------------------------
// connectedComponentsLabeling

fn connectivity(call: &Call) -> SbResult<Connectivity> {
  let p = call.params(&["connectivity"])?;
  match p.usize("connectivity", 2)? {
    1 => Ok(Connectivity::Four),
    2 => Ok(Connectivity::Eight),
    c => Err(SbError::invalid(format!("{}: option connectivity must be 1 or 2, got {c}", call.name)).with("option", "connectivity")),
  }
}

/// `connectedComponentsLabeling({ connectivity })`: per slice `skimage.measure.label(x != 0,
/// connectivity=c)` (1: edge neighbours, 2 (default): edge and corner neighbours) as int32.
/// Any dtype; nonzero is foreground (NaN too, as `NaN != 0` in numpy). Labels `1..n` are
/// numbered in raster order of each component's first pixel, exactly as scikit-image.
fn run_ccl(call: &Call) -> SbResult<Output> {
  let conn = connectivity(call)?;
  let dims = call.dims()?;
  let out = call.alloc(dims, LABELS)?;
  let src = call.input.pin()?;
  {
    let pin = out.pin()?;
    let o = pin.as_mut_slice::<i32>();
    let plane = dims.plane();
    with_dtype!(call.input.dtype, T => {
      let s = src.as_slice::<T>();
      let zero = T::from_f64(0.0);
      slices(call.cancel, dims.z, s, plane, o, plane, |_, s, o| {
        label_into(s, dims.h, dims.w, conn, |v: T| v != zero, o);
        Ok(())
      })?;
    });
  }
  Ok(Output::array(out))
}

/// `skimage.measure.label(fg(x))` of one plane into `out` (int32).
pub fn label_into<T: Copy + Sync>(src: &[T], h: usize, w: usize, conn: Connectivity, fg: impl Fn(T) -> bool + Sync, out: &mut [i32]) {
  if src.is_empty() {
    return;
  }
  let mask: Vec<bool> = src.par_iter().map(|&v| fg(v)).collect();
  let (l, _) = label(&mask, h, w, conn);
  out.par_iter_mut().zip(l.par_iter()).for_each(|(o, &v)| *o = v as i32);
}

// ---------------------------------------------------------------------------------------------
// voronoiOtsuLabeling

/// `voronoiOtsuLabeling({ spotSigma = 2, outlineSigma = 2 })` → int32: per slice the recipe of
/// napari-segment-blobs-and-things-with-membranes in scikit-image, on the values as given
/// (`img = x.astype(float64)`, so no `img_as_float` rescale):
/// `spots = local_maxima(gaussian(img, spotSigma))`; `blurred = gaussian(img, outlineSigma)`;
/// `binary = blurred > threshold_otsu(blurred)`; `watershed(binary, label(spots & binary),
/// mask=binary)`. `gaussian` is `skimage.filters.gaussian` (scipy's `gaussian_filter` in float64,
/// mode 'nearest', truncate 4), `local_maxima` has full connectivity and allows borders, `label`
/// connectivity 2, the watershed connectivity 1. A slice whose blurred image holds NaN or
/// infinity is an `InvalidArgumentError` (Otsu's histogram is undefined; numpy raises there).
fn run_voronoi_otsu(call: &Call) -> SbResult<Output> {
  let p = call.params(&["spotSigma", "outlineSigma"])?;
  let spot = p.f64("spotSigma", 2.0)?;
  let outline = p.f64("outlineSigma", 2.0)?;
  for (k, s) in [("spotSigma", spot), ("outlineSigma", outline)] {
    check_sigma(s).map_err(|e| e.with("option", k).with("processor", call.name))?;
  }
  let dims = call.dims()?;
  let out = call.alloc(dims, LABELS)?;
  let src = call.input.pin()?;
  {
    let pin = out.pin()?;
    let o = pin.as_mut_slice::<i32>();
    let plane = dims.plane();
    with_dtype!(call.input.dtype, T => {
      let s = src.as_slice::<T>();
      slices(call.cancel, dims.z, s, plane, o, plane, |_, s, o| {
        voronoi_otsu_plane(s, dims.h, dims.w, spot, outline, o).map_err(|e| e.with("processor", "voronoiOtsuLabeling"))
      })?;
    });
  }
  Ok(Output::array(out))
}

/// One plane of [`run_voronoi_otsu`].
pub fn voronoi_otsu_plane<T: Element>(src: &[T], h: usize, w: usize, spot_sigma: f64, outline_sigma: f64, out: &mut [i32]) -> SbResult<()> {
  if src.is_empty() {
    return Ok(());
  }
  let img: Vec<f64> = src.par_iter().map(|v| v.to_f64()).collect();
  let mut blurred = vec![0f64; img.len()];
  gaussian_plane(&img, h, w, outline_sigma, BorderMode::Nearest, &mut blurred);
  let t = threshold_otsu_f64(&blurred)?;
  let binary: Vec<bool> = blurred.par_iter().map(|&v| v > t).collect();
  // The spot blur reuses the image buffer's twin when both sigmas agree (the common case).
  let spots = if spot_sigma == outline_sigma {
    local_maxima(&blurred, h, w)
  } else {
    let mut b = vec![0f64; img.len()];
    gaussian_plane(&img, h, w, spot_sigma, BorderMode::Nearest, &mut b);
    local_maxima(&b, h, w)
  };
  drop(img);
  let seeds: Vec<bool> = spots.par_iter().zip(binary.par_iter()).map(|(&a, &b)| a && b).collect();
  let (markers, _) = label(&seeds, h, w, Connectivity::Eight);
  let image: Vec<f32> = binary.par_iter().map(|&b| b as u8 as f32).collect();
  let mut lab = vec![0u32; h * w];
  flood_watershed(&image, &markers, &binary, h, w, &mut lab);
  out.par_iter_mut().zip(lab.par_iter()).for_each(|(o, &v)| *o = v as i32);
  Ok(())
}

/// `skimage.morphology.local_maxima(img)` (connectivity full, `allow_borders=True`) of one plane:
/// a pixel is a maximum when it belongs to a plateau (an 8-connected set of equal values) none of
/// whose pixels has a greater 8-neighbour inside the image (scikit-image pads with the minimum and
/// never looks past the padding, so the image edge does not count). A constant plane is all maxima.
pub fn local_maxima(img: &[f64], h: usize, w: usize) -> Vec<bool> {
  // state: 0 = has a greater neighbour, 1 = strict maximum, 2 = no greater but an equal neighbour.
  let mut state = vec![0u8; img.len()];
  state.par_chunks_mut(w.max(1)).enumerate().for_each(|(y, row)| {
    let y0 = y.saturating_sub(1);
    let y1 = (y + 1).min(h - 1);
    for (x, s) in row.iter_mut().enumerate() {
      let v = img[y * w + x];
      let (x0, x1) = (x.saturating_sub(1), (x + 1).min(w - 1));
      let mut greater = false;
      let mut equal = false;
      for yy in y0..=y1 {
        for xx in x0..=x1 {
          if yy == y && xx == x {
            continue;
          }
          let u = img[yy * w + xx];
          greater |= u > v;
          equal |= u == v;
        }
      }
      *s = if greater {
        0
      } else if equal {
        2
      } else {
        1
      };
    }
  });
  let mut out: Vec<bool> = state.par_iter().map(|&s| s == 1).collect();
  // Plateaus: flood each once over equal values; it is a maximum when no member has a greater neighbour.
  let mut seen = vec![false; img.len()];
  let mut members = Vec::new();
  let mut stack = Vec::new();
  for start in 0..img.len() {
    if state[start] != 2 || seen[start] {
      continue;
    }
    let v = img[start];
    members.clear();
    stack.push(start);
    seen[start] = true;
    let mut is_max = true;
    while let Some(p) = stack.pop() {
      members.push(p);
      is_max &= state[p] != 0;
      let (y, x) = (p / w, p % w);
      for yy in y.saturating_sub(1)..=(y + 1).min(h - 1) {
        for xx in x.saturating_sub(1)..=(x + 1).min(w - 1) {
          let q = yy * w + xx;
          if !seen[q] && img[q] == v {
            seen[q] = true;
            stack.push(q);
          }
        }
      }
    }
    if is_max {
      for &p in &members {
        out[p] = true;
      }
    }
  }
  out
}

/// `skimage.filters.threshold_otsu(image)` of a float64 plane: the threshold group's
/// (`set::threshold::slice_threshold`, numpy's histogram in float64), after refusing NaN / infinity
/// as numpy's histogram does (the recipe cannot leave them out). An empty plane is an error.
pub fn threshold_otsu_f64(img: &[f64]) -> SbResult<f64> {
  if img.is_empty() {
    return Err(SbError::invalid("threshold_otsu needs a non-empty image"));
  }
  if !img.par_iter().all(|v| v.is_finite()) {
    return Err(SbError::invalid("threshold_otsu: the image contains NaN or infinite values"));
  }
  crate::set::threshold::slice_threshold(crate::set::threshold::Method::Otsu, 256, img)
}

// ---------------------------------------------------------------------------------------------
// watershed

/// `watershed(stack, markers, { mask, compactness = 0 })` → int32: per slice
/// `skimage.segmentation.watershed(image, markers, mask=mask, compactness=0)` (connectivity 1, no
/// watershed line). `markers`: integer labels (any integer dtype, ≥ 0) of the stack's shape;
/// `mask`: any dtype of the stack's shape, nonzero = inside. The image's values are used as given;
/// ties are broken exactly as scikit-image's heap (value, then push order). Images whose values
/// are not all exact in float32 (int32 beyond 2^24, float64) flood on the ranks of their values,
/// which order identically. NaN pixels follow scikit-image's heap comparisons. `compactness > 0`
/// (the compact watershed) is not supported yet: `InvalidArgumentError`.
fn run_watershed(call: &Call) -> SbResult<Output> {
  let p = call.params(&["compactness"])?;
  let compactness = p.f64("compactness", 0.0)?;
  if compactness < 0.0 {
    return Err(SbError::invalid(format!("{}: option compactness must be >= 0, got {compactness}", call.name)).with("option", "compactness"));
  }
  if compactness > 0.0 {
    return Err(
      SbError::invalid(format!("{}: compactness > 0 (the compact watershed) is not supported yet; use 0", call.name)).with("option", "compactness"),
    );
  }
  let dims = call.dims()?;
  let markers_arr = call.same_shape(0, "markers")?.expect("checked by set::run");
  let markers = labels_of(call.name, markers_arr, "markers")?;
  let mask: Option<Vec<bool>> = match call.same_shape(1, "mask")? {
    None => None,
    Some(m) => {
      let pin = m.pin()?;
      Some(with_dtype!(m.dtype, T => { let zero = T::from_f64(0.0); pin.as_slice::<T>().par_iter().map(|&v| v != zero).collect() }))
    }
  };
  let plane = dims.plane();
  let out = call.alloc(dims, LABELS)?;
  let src = call.input.pin()?;
  {
    let pin = out.pin()?;
    let o = pin.as_mut_slice::<i32>();
    let exact_f32 = matches!(call.input.dtype, DType::U8 | DType::U16 | DType::I16 | DType::F32);
    with_dtype!(call.input.dtype, T => {
      let s = src.as_slice::<T>();
      slices(call.cancel, dims.z, s, plane, o, plane, |z, s, o| {
        let image = flood_values(s, exact_f32)?;
        let m: Vec<u32> = markers[z * plane..(z + 1) * plane].iter().map(|&v| v as u32).collect();
        let k: Vec<bool> = match &mask { Some(k) => k[z * plane..(z + 1) * plane].to_vec(), None => vec![true; plane] };
        let mut lab = vec![0u32; plane];
        flood_watershed(&image, &m, &k, dims.h, dims.w, &mut lab);
        o.iter_mut().zip(&lab).for_each(|(o, &v)| *o = v as i32);
        Ok(())
      })?;
    });
  }
  Ok(Output::array(out))
}

/// The image as f32 priorities ordering exactly as its values: the values themselves when they
/// are all exact in f32, else their ranks among the distinct non-NaN values (NaN stays NaN).
fn flood_values<T: Element>(s: &[T], exact: bool) -> SbResult<Vec<f32>> {
  let direct: Vec<f32> = s.iter().map(|v| v.to_f64() as f32).collect();
  if exact || s.iter().zip(&direct).all(|(v, &f)| f as f64 == v.to_f64() || f.is_nan()) {
    return Ok(direct);
  }
  let mut vals: Vec<f64> = s.iter().map(|v| v.to_f64()).filter(|v| !v.is_nan()).collect();
  vals.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
  vals.dedup_by(|a, b| a == b); // -0.0 == 0.0: one rank, as the comparisons treat them
  if vals.len() > 1 << 24 {
    return Err(SbError::invalid("watershed: a slice has more than 2^24 distinct image values not exact in float32"));
  }
  Ok(
    s.iter()
      .map(|v| {
        let v = v.to_f64();
        if v.is_nan() {
          f32::NAN
        } else {
          vals.partition_point(|&u| u < v) as f32
        }
      })
      .collect(),
  )
}

// ---------------------------------------------------------------------------------------------
// Relabelling and exclusion

/// `skimage.segmentation.relabel_sequential(labels)[0]` of one plane in place: the distinct
/// nonzero labels, in increasing order, become `1..n`; 0 stays 0.
pub fn relabel_sequential(lab: &mut [i32]) {
  let Some(&max) = lab.iter().max() else { return };
  if max <= 0 {
    return;
  }
  if (max as usize) <= 4 * lab.len() + 1024 {
    let mut map = vec![0i32; max as usize + 1];
    for &v in lab.iter() {
      map[v as usize] = 1;
    }
    map[0] = 0;
    let mut n = 0;
    for m in map.iter_mut().skip(1) {
      if *m != 0 {
        n += 1;
        *m = n;
      }
    }
    lab.iter_mut().for_each(|v| *v = map[*v as usize]);
  } else {
    let mut vals: Vec<i32> = lab.iter().copied().filter(|&v| v != 0).collect();
    vals.sort_unstable();
    vals.dedup();
    lab.iter_mut().for_each(|v| {
      if *v != 0 {
        *v = vals.partition_point(|&u| u < *v) as i32 + 1;
      }
    });
  }
}

/// `relabelSequential` → int32 [`skimage.segmentation.relabel_sequential(labels)[0]`] per slice.
fn run_relabel(call: &Call) -> SbResult<Output> {
  call.params(&[])?;
  per_label_slice(call, |s, o, _, _| {
    o.copy_from_slice(s);
    relabel_sequential(o);
    Ok(())
  })
}

/// `excludeLabelsOnEdges` → int32: per slice `relabel_sequential(clear_border(labels))[0]`.
/// `clear_border` relabels its input with `skimage.measure.label(labels, background=0)` (pixels of
/// equal value, 8-connected) and clears the regions with a pixel in the first or last row or
/// column — so of a label split in several pieces only the pieces touching the edge go.
fn run_exclude_on_edges(call: &Call) -> SbResult<Output> {
  call.params(&[])?;
  per_label_slice(call, |s, o, h, w| {
    o.copy_from_slice(s);
    clear_border_labels(o, h, w);
    relabel_sequential(o);
    Ok(())
  })
}

/// Clears every 8-connected equal-valued nonzero region of `lab` that touches the plane's edge.
fn clear_border_labels(lab: &mut [i32], h: usize, w: usize) {
  if lab.is_empty() {
    return;
  }
  let mut seen = vec![false; lab.len()];
  let mut stack = Vec::new();
  let edge = |p: usize| {
    let (y, x) = (p / w, p % w);
    y == 0 || x == 0 || y + 1 == h || x + 1 == w
  };
  // Only regions reached from an edge pixel are cleared: flood from each edge pixel.
  let border: Vec<usize> = (0..lab.len()).filter(|&p| edge(p)).collect();
  for start in border {
    let v = lab[start];
    if v == 0 || seen[start] {
      continue;
    }
    seen[start] = true;
    stack.push(start);
    while let Some(p) = stack.pop() {
      let (y, x) = (p / w, p % w);
      for yy in y.saturating_sub(1)..=(y + 1).min(h - 1) {
        for xx in x.saturating_sub(1)..=(x + 1).min(w - 1) {
          let q = yy * w + xx;
          if !seen[q] && lab[q] == v {
            seen[q] = true;
            stack.push(q);
          }
        }
      }
      lab[p] = 0;
    }
  }
}

/// `excludeLabelsOutsideSizeRange({ min = 0, max })` → int32: per slice the labels whose pixel
/// count is below `min` or above `max` (absent: no upper bound) become 0, then
/// `relabel_sequential` (pyclesperanto's `exclude_labels_outside_size_range`, bounds inclusive).
fn run_exclude_size_range(call: &Call) -> SbResult<Output> {
  let p = call.params(&["min", "max"])?;
  let min = p.f64("min", 0.0)?;
  let max = p.f64("max", f64::INFINITY)?;
  if min < 0.0 || max < 0.0 {
    return Err(SbError::invalid(format!("{}: options min and max must be >= 0, got {min} and {max}", call.name)));
  }
  per_label_slice(call, |s, o, _, _| {
    o.copy_from_slice(s);
    let area = areas(o);
    o.iter_mut().for_each(|v| {
      if *v != 0 {
        let a = area(*v) as f64;
        if a < min || a > max {
          *v = 0;
        }
      }
    });
    relabel_sequential(o);
    Ok(())
  })
}

/// Pixel counts by label of a plane, as a look-up function.
fn areas(lab: &[i32]) -> impl Fn(i32) -> usize {
  let mut sorted: Vec<i32> = lab.iter().copied().filter(|&v| v != 0).collect();
  sorted.sort_unstable();
  move |v: i32| sorted.partition_point(|&u| u <= v) - sorted.partition_point(|&u| u < v)
}

// ---------------------------------------------------------------------------------------------
// dilateLabels, erodeLabels, labelBoundaries

/// `dilateLabels({ radius = 1 })` → int32: per slice `skimage.segmentation.expand_labels(labels,
/// distance=radius)`: every background pixel within Euclidean distance `radius` (≤) of a label
/// takes the label of its nearest labelled pixel as `scipy.ndimage.distance_transform_edt(labels ==
/// 0, return_indices=True)` picks it, ties broken exactly as scipy's feature transform. `radius`
/// is a number ≥ 0 (not necessarily an integer).
fn run_dilate_labels(call: &Call) -> SbResult<Output> {
  let radius = dilate_radius(call)?;
  per_label_slice(call, |s, o, h, w| {
    expand_labels(s, h, w, radius, o);
    Ok(())
  })
}

/// The `{ radius }` of `dilateLabels`, read and checked (a number >= 0).
pub fn dilate_radius(call: &Call) -> SbResult<f64> {
  let p = call.params(&["radius"])?;
  let radius = p.f64("radius", 1.0)?;
  if radius < 0.0 {
    return Err(SbError::invalid(format!("{}: option radius must be >= 0, got {radius}", call.name)).with("option", "radius"));
  }
  Ok(radius)
}

/// [`run_dilate_labels`] on one plane.
pub fn expand_labels(lab: &[i32], h: usize, w: usize, radius: f64, out: &mut [i32]) {
  if lab.is_empty() {
    return;
  }
  let Some(fy) = feature_transform_rows(lab, h, w) else {
    out.copy_from_slice(lab); // no label at all: all background stays background
    return;
  };
  out.par_chunks_mut(w).enumerate().for_each_init(
    || (Vec::new(), Vec::new()),
    |(f, g), (y, row)| {
      voronoi_row(&fy[y * w..(y + 1) * w], y, f, g, |x, (ny, nx)| {
        let (dy, dx) = (ny as f64 - y as f64, nx as f64 - x as f64);
        let d = (dy * dy + dx * dx).sqrt();
        row[x] = if d <= radius { lab[ny * w + nx] } else { 0 };
      });
    },
  );
}

/// Pass 1 of scipy's `_ComputeFT` (along axis 0): for every pixel the row of the nearest labelled
/// pixel in its column, the upper one on ties (-1 when the column has none). `None` when no pixel
/// is labelled.
fn feature_transform_rows(lab: &[i32], h: usize, w: usize) -> Option<Vec<i64>> {
  if !lab.par_iter().any(|&v| v != 0) {
    return None;
  }
  let mut fy = vec![-1i64; h * w];
  // Nearest above (or at) going down, then nearest below going up; the upper wins ties.
  for y in 0..h {
    for x in 0..w {
      let p = y * w + x;
      fy[p] = if lab[p] != 0 {
        y as i64
      } else if y > 0 {
        fy[p - w]
      } else {
        -1
      };
    }
  }
  let mut below = vec![-1i64; w];
  for y in (0..h).rev() {
    for x in 0..w {
      let p = y * w + x;
      if lab[p] != 0 {
        below[x] = y as i64;
      }
      let b = below[x];
      if b >= 0 {
        let a = fy[p];
        if a < 0 || (b - y as i64) < (y as i64 - a) {
          fy[p] = b;
        }
      }
    }
  }
  Some(fy)
}

/// Pass 2 of scipy's `_ComputeFT` on row `y` (`_VoronoiFT` along axis 1, its arithmetic and tie
/// rules verbatim): `fy[x]` is the pass-1 feature row of column `x` (-1: none). Calls
/// `set(x, (row, col))` with the nearest feature of every pixel of the row.
fn voronoi_row(fy: &[i64], y: usize, f: &mut Vec<(i64, i64)>, g: &mut Vec<usize>, mut set: impl FnMut(usize, (usize, usize))) {
  let len = fy.len();
  f.clear();
  f.extend(fy.iter().enumerate().map(|(x, &r)| (r, x as i64)));
  g.clear();
  let cy = y as i64;
  for ii in 0..len {
    if f[ii].0 < 0 {
      continue;
    }
    let fd = f[ii].1 as f64;
    let t = (f[ii].0 - cy) as f64;
    let wr = t * t;
    while g.len() >= 2 {
      let idx1 = g[g.len() - 1];
      let idx2 = g[g.len() - 2];
      let f1 = f[idx1].1 as f64;
      let a = f1 - f[idx2].1 as f64;
      let b = fd - f1;
      let tu = (f[idx2].0 - cy) as f64;
      let tv = (f[idx1].0 - cy) as f64;
      let (ur, vr) = (tu * tu, tv * tv);
      let c = a + b;
      if c * vr - b * ur - a * wr - a * b * c <= 0.0 {
        break;
      }
      g.pop();
    }
    g.push(ii);
  }
  if g.is_empty() {
    return;
  }
  let maxl = g.len() - 1;
  let dist = |k: usize, ii: usize| {
    let (ry, rx) = f[g[k]];
    let (a, b) = ((ry - cy) as f64, (rx - ii as i64) as f64);
    // scipy sums over the axes in order: the row term first.
    a * a + b * b
  };
  let mut l = 0;
  for ii in 0..len {
    let mut d1 = dist(l, ii);
    while l < maxl {
      let d2 = dist(l + 1, ii);
      if d1 <= d2 {
        break;
      }
      d1 = d2;
      l += 1;
    }
    let (ry, rx) = f[g[l]];
    set(ii, (ry as usize, rx as usize));
  }
}

/// `erodeLabels({ radius = 1 })` → int32: per slice a pixel keeps its label only if every pixel of
/// `disk(radius)` around it that lies inside the image has that label, else 0 (for each label `l`,
/// `skimage.morphology.erosion(labels == l, disk(radius))`, whose padding does not erode from the
/// image edge). Computed as `erosion == dilation` of the label image over the clipped disk.
fn run_erode_labels(call: &Call) -> SbResult<Output> {
  let r = erode_radius(call)?;
  per_label_slice(call, |s, o, h, w| {
    if s.is_empty() || r == 0 {
      o.copy_from_slice(s);
      return Ok(());
    }
    let mut hi = vec![0i32; s.len()];
    erode_disk(s, h, w, r, o);
    dilate_disk(s, h, w, r, &mut hi);
    o.par_iter_mut().zip(hi.par_iter()).zip(s.par_iter()).for_each(|((lo, &hi), &v)| *lo = if *lo == hi { v } else { 0 });
    Ok(())
  })
}

/// The `{ radius }` of `erodeLabels` (an integer >= 0).
pub fn erode_radius(call: &Call) -> SbResult<usize> {
  call.params(&["radius"])?.usize("radius", 1)
}

/// `labelBoundaries` → uint8 0/1: per slice `skimage.segmentation.find_boundaries(labels,
/// mode='inner')` (connectivity 1): a labelled pixel one of whose edge neighbours inside the image
/// has another value (grey dilation ≠ erosion with the cross, reflect border).
fn run_label_boundaries(call: &Call) -> SbResult<Output> {
  call.params(&[])?;
  let dims = call.dims()?;
  let lab = labels_of(call.name, call.input, "the input")?;
  let out = call.alloc(dims, DType::U8)?;
  {
    let pin = out.pin()?;
    let o = pin.as_mut_slice::<u8>();
    let plane = dims.plane();
    let (h, w) = (dims.h, dims.w);
    slices(call.cancel, dims.z, &lab, plane, o, plane, |_, s, o| {
      o.par_chunks_mut(w.max(1)).enumerate().for_each(|(y, row)| {
        for (x, b) in row.iter_mut().enumerate() {
          let v = s[y * w + x];
          let differs = |yy: usize, xx: usize| s[yy * w + xx] != v;
          *b = (v != 0 && ((y > 0 && differs(y - 1, x)) || (y + 1 < h && differs(y + 1, x)) || (x > 0 && differs(y, x - 1)) || (x + 1 < w && differs(y, x + 1))))
            as u8;
        }
      });
      Ok(())
    })?;
  }
  Ok(Output::array(out))
}

#[cfg(test)]
mod tests {
  use super::*;
  use stackbridge_core::{Cancel, ErrorCode, MemoryType};

  fn stack<T: Element>(shape: [usize; 3], v: &[T]) -> HostArray {
    let a = HostArray::alloc(shape.to_vec(), T::DTYPE, MemoryType::Numpy, false).unwrap();
    a.pin().unwrap().as_mut_slice::<T>().copy_from_slice(v);
    a
  }

  fn run(name: &str, input: &HostArray, options: &str, aux: &[Option<HostArray>]) -> SbResult<HostArray> {
    let op = super::super::find(name).unwrap();
    Ok(super::super::run(op, input, aux, options, &Cancel::none())?.array.unwrap())
  }

  fn vals(a: &HostArray) -> Vec<i64> {
    let p = a.pin().unwrap();
    with_dtype!(a.dtype, T => p.as_slice::<T>().iter().map(|v| v.to_i64()).collect())
  }

  fn code(r: SbResult<HostArray>) -> ErrorCode {
    r.err().expect("an error").code
  }

  #[test]
  fn option_errors_are_typed() {
    let x = stack([1, 2, 3], &[0u8, 1, 1, 0, 0, 1]);
    for (name, opts) in [
      ("connectedComponentsLabeling", r#"{"connectivity": 3}"#),
      ("connectedComponentsLabeling", r#"{"connectivity": 1.5}"#),
      ("connectedComponentsLabeling", r#"{"conectivity": 1}"#),
      ("voronoiOtsuLabeling", r#"{"spotSigma": -1}"#),
      ("voronoiOtsuLabeling", r#"{"outlineSigma": "2"}"#),
      ("excludeLabelsOutsideSizeRange", r#"{"min": -1}"#),
      ("dilateLabels", r#"{"radius": -0.5}"#),
      ("erodeLabels", r#"{"radius": 1.5}"#),
      ("relabelSequential", r#"{"radius": 1}"#),
    ] {
      assert_eq!(code(run(name, &x, opts, &[])), ErrorCode::InvalidArgument, "{name} {opts}");
    }
    let m = stack([1, 2, 3], &[1i32, 0, 0, 0, 0, 2]);
    assert_eq!(code(run("watershed", &x, r#"{"compactness": 0.5}"#, &[Some(m.clone())])), ErrorCode::InvalidArgument);
    assert_eq!(code(run("watershed", &x, r#"{"compactness": -1}"#, &[Some(m.clone())])), ErrorCode::InvalidArgument);
    assert_eq!(code(run("watershed", &x, "{}", &[])), ErrorCode::InvalidArgument);
    let wrong = stack([1, 3, 2], &[1i32, 0, 0, 0, 0, 2]);
    assert_eq!(code(run("watershed", &x, "{}", &[Some(wrong.clone())])), ErrorCode::Dimension);
    assert_eq!(code(run("watershed", &x, "{}", &[Some(m.clone()), Some(wrong)])), ErrorCode::Dimension);
    let fm = stack([1, 2, 3], &[1f32, 0., 0., 0., 0., 2.]);
    assert_eq!(code(run("watershed", &x, "{}", &[Some(fm)])), ErrorCode::Dtype);
    let neg = stack([1, 2, 3], &[1i32, 0, 0, 0, 0, -2]);
    assert_eq!(code(run("watershed", &x, "{}", &[Some(neg)])), ErrorCode::InvalidArgument);
    // skimage: watershed([[0,1,1],[0,0,1]], [[1,0,0],[0,0,2]]) -> [[1,1,2],[1,1,2]].
    assert_eq!(vals(&run("watershed", &x, r#"{"compactness": 0}"#, &[Some(m)]).unwrap()), [1, 1, 2, 1, 1, 2]);
  }

  #[test]
  fn label_inputs_are_checked() {
    let f = stack([1, 1, 2], &[1f32, 0.0]);
    let neg = stack([1, 1, 2], &[1i16, -1]);
    for name in ["excludeLabelsOnEdges", "excludeLabelsOutsideSizeRange", "relabelSequential", "dilateLabels", "erodeLabels", "labelBoundaries"] {
      assert_eq!(code(run(name, &f, "{}", &[])), ErrorCode::Dtype, "{name}");
      assert_eq!(code(run(name, &neg, "{}", &[])), ErrorCode::InvalidArgument, "{name}");
    }
  }

  #[test]
  fn empty_stacks_and_degenerate_planes() {
    for shape in [[0usize, 4, 5], [2, 0, 3], [2, 3, 0]] {
      let x = stack(shape, &[] as &[i32]);
      for op in OPS {
        let aux: Vec<Option<HostArray>> = if op.name == "watershed" { vec![Some(x.clone())] } else { vec![] };
        let out = run(op.name, &x, "{}", &aux).unwrap();
        assert_eq!(out.shape, shape.to_vec(), "{}", op.name);
        assert_eq!(out.dtype, if op.name == "labelBoundaries" { DType::U8 } else { LABELS });
      }
    }
  }

  #[test]
  fn voronoi_nan_is_a_typed_error() {
    let x = stack([1, 3, 3], &[0f32, 1., 0., 1., f32::NAN, 1., 0., 1., 0.]);
    assert_eq!(code(run("voronoiOtsuLabeling", &x, "{}", &[])), ErrorCode::InvalidArgument);
  }

  #[test]
  fn relabel_large_and_sparse_values() {
    let mut v = vec![0, i32::MAX, 5, 5, 0, 1 << 30];
    relabel_sequential(&mut v);
    assert_eq!(v, [0, 3, 1, 1, 0, 2]);
    let mut v = vec![0, 0];
    relabel_sequential(&mut v);
    assert_eq!(v, [0, 0]);
  }

  #[test]
  fn local_maxima_plateaus() {
    // A plateau with a higher neighbour is not a maximum; one without is, edge or not.
    #[rustfmt::skip]
    let img = [
      1., 1., 0., 3., 3.,
      0., 0., 0., 3., 2.,
      2., 2., 0., 0., 0.,
    ];
    let m = local_maxima(&img, 3, 5);
    let got: Vec<u8> = m.iter().map(|&b| b as u8).collect();
    assert_eq!(got, [1, 1, 0, 1, 1, 0, 0, 0, 1, 0, 1, 1, 0, 0, 0]);
    assert!(local_maxima(&[4.0; 6], 2, 3).iter().all(|&b| b));
  }

  /// Reads a `.npy` of u8/u16 (C order) if present.
  fn npy(path: &str) -> Option<(Vec<usize>, Vec<u16>)> {
    let bytes = std::fs::read(path).ok()?;
    let hlen = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let header = std::str::from_utf8(&bytes[10..10 + hlen]).ok()?;
    let s = &header[header.find('(')? + 1..header.find(')')?];
    let shape: Vec<usize> = s.split(',').map(str::trim).filter(|t| !t.is_empty()).map(|t| t.parse().unwrap()).collect();
    let data = &bytes[10 + hlen..];
    let v = if header.contains("<u2") { data.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect() } else { data.iter().map(|&b| b as u16).collect() };
    Some((shape, v))
  }

  /// Timing on the scikit-image comparison stacks (/tmp/labels/bench_*.npy, written by the
  /// timing script); `cargo test --release --lib set::labels -- --ignored --nocapture`.
  #[test]
  #[ignore]
  fn time_bench_ops() {
    let Some((shape, stack_v)) = npy("/tmp/labels/bench_stack.npy") else { return };
    let (_, bin_v) = npy("/tmp/labels/bench_binary.npy").unwrap();
    let s = stack([shape[0], shape[1], shape[2]], &stack_v);
    let b = stack([shape[0], shape[1], shape[2]], &bin_v.iter().map(|&v| v as u8).collect::<Vec<_>>());
    let best = |f: &dyn Fn() -> HostArray| {
      let mut t = f64::INFINITY;
      let mut out = None;
      for _ in 0..5 {
        let t0 = std::time::Instant::now();
        out = Some(f());
        t = t.min(t0.elapsed().as_secs_f64() * 1e3);
      }
      (t, out.unwrap())
    };
    for c in [1, 2] {
      let (t, out) = best(&|| run("connectedComponentsLabeling", &b, &format!(r#"{{"connectivity": {c}}}"#), &[]).unwrap());
      let max = vals(&out).into_iter().max().unwrap();
      println!("connectedComponentsLabeling c{c}: {t:.2} ms (max label {max})");
    }
    let (t, out) = best(&|| run("voronoiOtsuLabeling", &s, "{}", &[]).unwrap());
    let max = vals(&out).into_iter().max().unwrap();
    println!("voronoiOtsuLabeling: {t:.2} ms (max label {max})");
  }
}
