"""Golden data of the measure group (DESIGN §12): regionprops, peakLocalMax, distanceTransform.

Oracles: skimage.measure.regionprops_table (per slice), skimage.feature.peak_local_max (per slice),
scipy.ndimage.distance_transform_edt(slice != 0) cast to float32.
"""
import math

import numpy as np
import scipy.ndimage as ndi
from skimage.feature import peak_local_max
from skimage.measure import label, regionprops_table

from common import *

start("measure")

PROPS = (
    "label", "area", "centroid", "bbox", "intensity_mean", "intensity_min", "intensity_max", "intensity_std",
    "equivalent_diameter_area", "eccentricity", "orientation", "axis_major_length", "axis_minor_length",
    "perimeter", "solidity",
)
KEYS = {
    "label": "label", "area": "area", "centroid-0": "centroidY", "centroid-1": "centroidX",
    "bbox-0": "bboxMinY", "bbox-1": "bboxMinX", "bbox-2": "bboxMaxY", "bbox-3": "bboxMaxX",
    "intensity_mean": "intensityMean", "intensity_min": "intensityMin", "intensity_max": "intensityMax",
    "intensity_std": "intensityStd", "equivalent_diameter_area": "equivalentDiameter", "eccentricity": "eccentricity",
    "orientation": "orientation", "axis_major_length": "majorAxisLength", "axis_minor_length": "minorAxisLength",
    "perimeter": "perimeter", "solidity": "solidity",
}


def jnum(v):
    v = v.item() if hasattr(v, "item") else v
    return None if isinstance(v, float) and math.isnan(v) else v


def tables(labels, inten):
    out = []
    for k in range(labels.shape[0]):
        t = regionprops_table(labels[k], inten[k], properties=PROPS)
        out.append({KEYS[c]: [jnum(v) for v in np.asarray(t[c]).tolist()] for c in KEYS})
    return out


def rp(name, labels, inten, note=""):
    case(name, "regionprops", labels, aux=(inten,), special=tables(labels, inten), special_tolerance=1e-9, note=note)


def blob_labels(seed, shape, n=6, radius=4, thr=0.35, conn=2):
    b = blobs(rng(seed), shape, n=n, radius=radius)
    lab = np.stack([label(b[k] > thr, connectivity=conn) for k in range(shape[0])]).astype(np.int32)
    return b, lab


# --- regionprops ---------------------------------------------------------------------------
b, lab = blob_labels(1, (2, 40, 48), n=7, radius=4)
for dt, hi in [(np.uint8, 255), (np.uint16, 60000), (np.int16, 30000), (np.int32, 2_000_000_000), (np.float32, 1.0), (np.float64, 1.0)]:
    inten = textured(rng(2), lab.shape, dt, hi)
    rp(f"regionprops_blobs_{np.dtype(dt).name}", lab, inten, note=f"labels of thresholded blobs, {np.dtype(dt).name} intensity")
b, lab = blob_labels(3, (1, 64, 64), n=9, radius=6, thr=0.3)
rp("regionprops_64", lab, (b * 1000).astype(np.float32), note="bigger regions (hull, moments)")
b, lab = blob_labels(4, (2, 23, 31), n=10, radius=2, thr=0.4, conn=1)
rp("regionprops_small_4conn", lab, textured(rng(5), lab.shape, np.uint16, 4000), note="many small regions, touching borders")
rp("regionprops_uint16_labels", lab.astype(np.uint16), textured(rng(6), lab.shape, np.float64, 10.0), note="uint16 label dtype")
rp("regionprops_uint8_labels", lab.astype(np.uint8), textured(rng(6), lab.shape, np.int16, 1000), note="uint8 label dtype")
# Hand shapes: a disconnected label, an L, a diagonal line, a ring, a single pixel, sparse big labels.
h = np.zeros((2, 12, 14), np.int32)
h[0, 1:4, 1:6] = 3
h[0, 9:11, 10:13] = 3
h[0, 5, 0:4] = 1
h[0, 6:9, 0] = 1
for i in range(6):
    h[0, 5 + i, 5 + i] = 2
h[0, 0, 13] = 7
h[1, 2:9, 2:9] = 500000
h[1, 4:7, 4:7] = 0
h[1, 11, :] = 9
h[1, :, 12] = 11
rp("regionprops_shapes", h, textured(rng(7), h.shape, np.uint16, 1000), note="disconnected label, L, diagonal, ring, big sparse labels, lines")
nan_in = textured(rng(8), h.shape, np.float32, 1.0)
nan_in[0, 2, 2] = np.nan
rp("regionprops_nan", h, nan_in, note="NaN intensity inside label 3: its mean/min/max/std are NaN (JSON null)")
rp("regionprops_empty_slice", np.stack([np.zeros((5, 6), np.int32), lab[0, :5, :6]]), textured(rng(9), (2, 5, 6), np.uint8, 255), note="a slice without regions")
rp("regionprops_1x1", np.array([[[4]]], np.int32), np.array([[[2.5]]], np.float64))
rp("regionprops_1xN", np.array([[[0, 1, 1, 0, 2, 2, 2]]], np.int32), np.arange(7, dtype=np.uint16).reshape(1, 1, 7))
rp("regionprops_Nx1", np.array([[[1], [1], [0], [3], [3]]], np.int32), np.arange(5, dtype=np.float32).reshape(1, 5, 1))

# --- peakLocalMax ----------------------------------------------------------------------------


def peaks(img, **kw):
    return [peak_local_max(img[k], **kw).tolist() for k in range(img.shape[0])]


def pk(name, img, options, kw, note=""):
    case(name, "peakLocalMax", img, options=options, special=peaks(img, **kw), note=note)


bl = blobs(rng(10), (2, 40, 48), n=8, radius=3)
for dt, hi in [(np.uint8, 255), (np.uint16, 60000), (np.int16, 30000), (np.int32, 2_000_000_000), (np.float32, 1.0), (np.float64, 1.0)]:
    img = (bl * hi).astype(dt) if dt not in (np.float32, np.float64) else bl.astype(dt)
    pk(f"peaks_default_{np.dtype(dt).name}", img, {}, {})
    pk(f"peaks_md3_{np.dtype(dt).name}", img, {"minDistance": 3}, {"min_distance": 3})
img = (bl * 1000).astype(np.uint16)
pk("peaks_abs", img, {"thresholdAbs": 300, "minDistance": 2}, {"threshold_abs": 300, "min_distance": 2})
pk("peaks_rel", img, {"thresholdRel": 0.5}, {"threshold_rel": 0.5})
pk("peaks_abs_rel", img, {"thresholdAbs": 700, "thresholdRel": 0.2}, {"threshold_abs": 700, "threshold_rel": 0.2})
pk("peaks_no_border", img, {"excludeBorder": False, "minDistance": 2}, {"exclude_border": False, "min_distance": 2})
pk("peaks_border_int", img, {"excludeBorder": 5}, {"exclude_border": 5})
pk("peaks_border_0", img, {"excludeBorder": 0, "minDistance": 4}, {"exclude_border": 0, "min_distance": 4})
pk("peaks_num", img, {"numPeaks": 5, "minDistance": 2}, {"num_peaks": 5, "min_distance": 2})
pk("peaks_num0", img, {"numPeaks": 0}, {"num_peaks": 0})
pk("peaks_md0", img, {"minDistance": 0, "thresholdRel": 0.6}, {"min_distance": 0, "threshold_rel": 0.6})
pk("peaks_md_big", img, {"minDistance": 30, "excludeBorder": False}, {"min_distance": 30, "exclude_border": False})
noise = textured(rng(11), (1, 64, 64), np.float64, 1.0)
pk("peaks_many_md2", noise, {"minDistance": 2}, {"min_distance": 2}, note="hundreds of candidates: skimage's spacing batches")
pk("peaks_many_md5_num", noise, {"minDistance": 5, "numPeaks": 60, "excludeBorder": False}, {"min_distance": 5, "num_peaks": 60, "exclude_border": False})
q = (textured(rng(12), (2, 23, 31), np.float64, 1.0) * 4).astype(np.uint8)
pk("peaks_plateaus_u8", q, {"minDistance": 1, "excludeBorder": False}, {"min_distance": 1, "exclude_border": False}, note="quantised: plateaus and ties")
pk("peaks_zero_neg_abs_u8", q, {"minDistance": 0, "thresholdAbs": -1, "excludeBorder": False}, {"min_distance": 0, "threshold_abs": -1, "exclude_border": False}, note="zeros count: uint wrap-around puts them first")
pk("peaks_trivial", np.full((1, 6, 7), 5, np.int16), {}, {}, note="constant image: no peak")
f = bl.astype(np.float32).copy()
f[0, 10, 10] = np.nan
pk("peaks_nan", f, {}, {}, note="NaN: the threshold (min) is NaN, no peak in that slice")
pk("peaks_nan_abs", f, {"thresholdAbs": 0.3}, {"threshold_abs": 0.3}, note="NaN with thresholdAbs: NaN skipped by the maximum filter")
pk("peaks_f32_abs", bl.astype(np.float32), {"thresholdAbs": 0.7, "thresholdRel": 0.1, "minDistance": 2}, {"threshold_abs": 0.7, "threshold_rel": 0.1, "min_distance": 2})
pk("peaks_tiny_1x1", np.array([[[3.0]]]), {"minDistance": 0}, {"min_distance": 0})
pk("peaks_tiny_1xN", np.array([[[0, 2, 1, 5, 0, 3, 0]]], np.uint8), {"minDistance": 1, "excludeBorder": False}, {"min_distance": 1, "exclude_border": False})
pk("peaks_tiny_Nx1", np.array([[[0], [2], [1], [5], [0]]], np.int32), {"excludeBorder": False}, {"exclude_border": False})
pk("peaks_tiny_2x3", np.array([[[1, 4, 2], [0, 3, 9]]], np.float64), {"excludeBorder": False, "minDistance": 1}, {"exclude_border": False, "min_distance": 1})

# --- distanceTransform -----------------------------------------------------------------------


def edt(x):
    return np.stack([ndi.distance_transform_edt(x[k] != 0) for k in range(x.shape[0])]).astype(np.float32)


def dtc(name, x, note=""):
    case(name, "distanceTransform", x, out=edt(x), note=note)


m = blobs(rng(13), (2, 23, 31), n=5, radius=4) > 0.3
for dt in [np.uint8, np.uint16, np.int16, np.int32, np.float32, np.float64]:
    x = (m * textured(rng(14), m.shape, np.float64, 50) + m).astype(dt)
    dtc(f"edt_{np.dtype(dt).name}", x)
neg = np.where(m, -3, 0).astype(np.int16)
dtc("edt_negative", neg, note="negative values are nonzero")
fl = (m * 1.0).astype(np.float32)
fl[0, 0, 0] = np.nan
fl[1, 5, 5] = -0.0
fl[1, 6, 6] = np.nan
dtc("edt_nan_negzero", fl, note="NaN != 0 is foreground, -0.0 is background")
dtc("edt_all_foreground", np.ones((2, 5, 7), np.uint8), note="no background: scipy measures to (-1, 0)")
dtc("edt_all_background", np.zeros((1, 4, 4), np.float64))
dtc("edt_1x1", np.array([[[1]], [[0]]], np.uint8))
dtc("edt_1xN", np.array([[[1, 1, 0, 1, 1, 1, 1]]], np.uint16))
dtc("edt_Nx1", np.array([[[1], [1], [1], [0], [1]]], np.int32))
dtc("edt_2x3", np.array([[[1, 1, 1], [1, 0, 1]]], np.float32))
big = np.ones((1, 64, 64), np.uint8)
big[0, 0, 0] = 0
big[0, 40, 50] = 0
dtc("edt_64_sparse_background", big, note="long distances, border pixels")

write()
