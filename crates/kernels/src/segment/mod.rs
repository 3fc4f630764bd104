//! Segmentation building blocks for the `watershed` and `threshold` cell-counting methods (DESIGN §7).
//!
//! Each function reproduces one scikit-image / scipy call on a single `[H, W]` plane (C order):
//!
//! | here                        | oracle                                                              |
//! |-----------------------------|---------------------------------------------------------------------|
//! | [`threshold_otsu`]          | `skimage.filters.threshold_otsu(image)` (nbins 256)                 |
//! | [`threshold_li`]            | `skimage.filters.threshold_li(image)`                               |
//! | [`label`]                   | `skimage.measure.label(mask, connectivity=1 \| 2)`                  |
//! | [`remove_small_objects`]    | `skimage.morphology.remove_small_objects(mask, min_size=…)` (≤ goes) |
//! | [`clear_border`]            | `skimage.segmentation.clear_border(mask)`                           |
//! | [`distance_transform_edt`]  | `scipy.ndimage.distance_transform_edt(mask)`                        |
//! | [`peak_local_max_2d`]       | `skimage.feature.peak_local_max(img, min_distance, footprint=ones)` |
//! | [`watershed`]               | `skimage.segmentation.watershed(image, markers, mask=mask)`         |
//! | [`regionprops`]             | `skimage.measure.regionprops(labels, intensity_image)`              |
//!
//! Float inputs are `f32`; every computation that scikit-image does in float64 is done here in `f64`
//! on the upcast values, so the results are those of the oracle run on a float64 image holding the
//! same values.
//!
//! Buffer lengths (`h * w`) are a contract with the caller (the binding allocates them), not user
//! input: a mismatch panics with a message. Every user-controlled value (sizes, distances, NaN/inf
//! pixels, empty planes) gives a typed error or a defined result.

mod components;
mod edt;
mod peaks;
mod regions;
mod sum;
#[cfg(test)]
mod test_util;
mod threshold;
mod watershed;

pub use components::{clear_border, label, remove_small_objects};
pub use edt::distance_transform_edt;
pub use peaks::peak_local_max_2d;
pub use regions::{regionprops, Region};
pub use sum::numpy_sum_f64;
pub use threshold::{threshold_li, threshold_otsu};
pub use watershed::watershed;

/// Pixel connectivity of a 2-D neighbourhood (`skimage.measure.label`'s `connectivity` 1 or 2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Connectivity {
  /// Edge neighbours only (`connectivity=1`).
  Four,
  /// Edge and corner neighbours (`connectivity=2`, scikit-image's default for 2-D `label`).
  Eight,
}

/// Panics unless `len == h * w`: a buffer-size mismatch is a bug in the caller, not user input.
#[track_caller]
pub(crate) fn check_plane(what: &str, len: usize, h: usize, w: usize) {
  let n = h.checked_mul(w);
  assert!(n == Some(len), "segment: {what} has {len} elements, expected h * w = {h} * {w}");
}
