"""Golden data of the processor set (DESIGN §12), group `labels`: every expected output from
scikit-image / scipy / numpy, per Z slice, labels as uint32."""
import numpy as np
import scipy.ndimage as ndi
from skimage import filters, measure, morphology, segmentation

from common import *

start("labels")


def per_slice(f, x):
    return np.stack([f(s) for s in x]).astype(np.uint32) if len(x) else np.zeros(x.shape, np.uint32)


def ccl(x, c=2):
    return per_slice(lambda s: measure.label(s != 0, connectivity=c), x)


def voronoi(x, s1=2.0, s2=2.0):
    def one(img):
        img = img.astype(np.float64)
        spots = morphology.local_maxima(filters.gaussian(img, sigma=s1))
        blurred = filters.gaussian(img, sigma=s2)
        binary = blurred > filters.threshold_otsu(blurred)
        seeds = measure.label(spots & binary)
        return segmentation.watershed(binary, seeds, mask=binary)

    return per_slice(one, x)


def watershed(img, markers, mask=None):
    return np.stack(
        [segmentation.watershed(img[k].astype(np.float64), markers[k], mask=None if mask is None else mask[k] != 0) for k in range(len(img))]
    ).astype(np.uint32)


def relabel(x):
    return per_slice(lambda s: segmentation.relabel_sequential(s)[0], x)


def on_edges(x):
    return per_slice(lambda s: segmentation.relabel_sequential(segmentation.clear_border(s))[0], x)


def size_range(x, lo=0, hi=np.inf):
    def one(s):
        s = s.copy()
        counts = np.bincount(s.ravel())
        bad = (counts < lo) | (counts > hi)
        bad[0] = False
        s[bad[s]] = 0
        return segmentation.relabel_sequential(s)[0]

    return per_slice(one, x)


def dilate(x, r):
    return per_slice(lambda s: segmentation.expand_labels(s, distance=r), x)


def erode(x, r):
    def one(s):
        out = np.zeros_like(s)
        for l in np.unique(s):
            if l != 0:
                out[morphology.erosion(s == l, morphology.disk(r))] = l
        return out

    return per_slice(one, x)


def boundaries(x):
    return np.stack([segmentation.find_boundaries(s, mode="inner") for s in x]).astype(np.uint8)


def blob_labels(seed, shape, n=6, radius=4, t=0.35):
    b = blobs(rng(seed), shape, n=n, radius=radius)
    return ccl(b > t)


# --- connectedComponentsLabeling ------------------------------------------------------------
r = rng(1)
b = blobs(r, (2, 23, 31), n=7, radius=3)
mask = (b > 0.3).astype(np.uint8)
for c in (1, 2):
    case(f"ccl_blobs_u8_c{c}", "connectedComponentsLabeling", mask, ccl(mask, c), {"connectivity": c})
noise = (r.random((2, 29, 37)) > 0.55).astype(np.uint8)
for c in (1, 2):
    case(f"ccl_noise_c{c}", "connectedComponentsLabeling", noise, ccl(noise, c), {"connectivity": c}, note="many small components, diagonal touches")
case("ccl_default", "connectedComponentsLabeling", noise, ccl(noise, 2), note="default connectivity 2")
t16 = textured(r, (2, 19, 26), np.uint16, 60000)
t16 = np.where(t16 > 30000, t16, 0).astype(np.uint16)
case("ccl_u16", "connectedComponentsLabeling", t16, ccl(t16, 1), {"connectivity": 1})
i16 = (r.integers(-3, 3, (1, 17, 21))).astype(np.int16)
i16[r.random(i16.shape) < 0.5] = 0
case("ccl_i16_negative_values", "connectedComponentsLabeling", i16, ccl(i16), note="negative values are foreground (nonzero)")
i32 = (r.integers(0, 2, (1, 16, 16)) * 100000).astype(np.int32)
case("ccl_i32", "connectedComponentsLabeling", i32, ccl(i32))
f32 = (b - 0.3).astype(np.float32)
f32[f32 < 0] = 0
f32[0, 3, 4] = np.nan
f32[1, 0, 0] = np.nan
case("ccl_f32_nan", "connectedComponentsLabeling", f32, ccl(f32), note="NaN != 0: foreground")
case("ccl_f64", "connectedComponentsLabeling", (b > 0.5).astype(np.float64) * 2.5, ccl(b > 0.5))
for shape in [(1, 1, 1), (2, 1, 9), (1, 9, 1), (1, 2, 3)]:
    m = (rng(sum(shape)).random(shape) > 0.4).astype(np.uint8)
    case(f"ccl_tiny_{'x'.join(map(str, shape))}", "connectedComponentsLabeling", m, ccl(m))
u = np.zeros((1, 3, 4), np.uint8)
u[0, 0, [0, 2]] = 1
u[0, 1, [0, 3]] = 1
u[0, 2, :] = 1
case("ccl_u_shape_numbering", "connectedComponentsLabeling", u, ccl(u, 1), {"connectivity": 1}, note="raster order of first pixels")
case("ccl_empty_z", "connectedComponentsLabeling", np.zeros((0, 4, 5), np.uint8), np.zeros((0, 4, 5), np.uint32))
case("ccl_all_on", "connectedComponentsLabeling", np.ones((2, 5, 6), np.uint8), ccl(np.ones((2, 5, 6))))

# --- voronoiOtsuLabeling -------------------------------------------------------------------
r = rng(2)
vb = blobs(r, (2, 48, 52), n=8, radius=4)
case("voronoi_f64", "voronoiOtsuLabeling", vb, voronoi(vb))
v16 = (vb * 4000).astype(np.uint16)
case("voronoi_u16", "voronoiOtsuLabeling", v16, voronoi(v16), note="values as given (no img_as_float)")
v8 = (vb * 200).astype(np.uint8)
case("voronoi_u8_sigmas", "voronoiOtsuLabeling", v8, voronoi(v8, 1.0, 3.0), {"spotSigma": 1, "outlineSigma": 3})
vf = (vb * 3 - 1).astype(np.float32)
case("voronoi_f32_sigmas", "voronoiOtsuLabeling", vf, voronoi(vf, 3.0, 1.5), {"spotSigma": 3, "outlineSigma": 1.5})
big = blobs(rng(3), (1, 64, 64), n=14, radius=3)
case("voronoi_64", "voronoiOtsuLabeling", (big * 1000).astype(np.int16), voronoi((big * 1000).astype(np.int16)))
case("voronoi_i32", "voronoiOtsuLabeling", (big * 1e6).astype(np.int32), voronoi((big * 1e6).astype(np.int32), 1.0, 1.0), {"spotSigma": 1, "outlineSigma": 1})
case("voronoi_sigma0", "voronoiOtsuLabeling", v16[:1], voronoi(v16[:1], 0.0, 2.0), {"spotSigma": 0}, note="sigma 0 copies (plateaus of the raw image)")
flat = np.full((1, 6, 7), 5, np.uint16)
case("voronoi_constant", "voronoiOtsuLabeling", flat, voronoi(flat), note="Otsu = the value; nothing above it")
plateau = np.zeros((1, 20, 24), np.uint8)
plateau[0, 3:9, 4:12] = 50
plateau[0, 12:17, 14:20] = 50
plateau[0, 12:17, 2:6] = 20
case("voronoi_plateaus", "voronoiOtsuLabeling", plateau, voronoi(plateau, 0.0, 0.0), {"spotSigma": 0, "outlineSigma": 0}, note="flat maxima (plateau rule)")
for shape in [(1, 1, 1), (1, 1, 9), (1, 9, 1), (1, 2, 3)]:
    x = (rng(sum(shape) + 5).random(shape) * 100).astype(np.uint8)
    case(f"voronoi_tiny_{'x'.join(map(str, shape))}", "voronoiOtsuLabeling", x, voronoi(x, 1.0, 1.0), {"spotSigma": 1, "outlineSigma": 1})

# --- watershed -----------------------------------------------------------------------------
r = rng(4)
wb = blobs(r, (2, 40, 44), n=7, radius=4)
wmask = (wb > 0.25).astype(np.uint8)
dist = np.stack([ndi.distance_transform_edt(m) for m in wmask])
markers = np.stack([measure.label(morphology.h_maxima(d, 1.0)) for d in dist]).astype(np.int32)
neg = (-dist).astype(np.float32)
case("watershed_dist_mask", "watershed", neg, watershed(neg, markers, wmask), aux=(markers, wmask))
case("watershed_dist_nomask", "watershed", neg, watershed(neg, markers), aux=(markers,))
img8 = (r.random((2, 40, 44)) * 4).astype(np.uint8)
case("watershed_u8_ties_mask", "watershed", img8, watershed(img8, markers, wmask), aux=(markers, wmask), note="many equal values: heap order")
case("watershed_u8_ties_u16_markers", "watershed", img8, watershed(img8, markers), aux=(markers.astype(np.uint16),))
imgf = wb + 1e-9 * r.random(wb.shape)
case("watershed_f64_ranks", "watershed", imgf, watershed(imgf, markers, wmask), aux=(markers, wmask.astype(np.float32)), note="values not exact in float32")
imgi = (r.random((2, 40, 44)) * 2**30).astype(np.int32)
case("watershed_i32_large", "watershed", imgi, watershed(imgi, markers), aux=(markers,))
imgn = wb.astype(np.float32)
imgn[0, 5, 5] = np.nan
imgn[1, 20, 7:12] = np.nan
case("watershed_f32_nan", "watershed", imgn, watershed(imgn, markers), aux=(markers,), note="NaN follows skimage's heap comparisons")
mk_out = markers.copy()
mk_out[0, 0, 0] = 99
case("watershed_marker_outside_mask", "watershed", neg, watershed(neg, mk_out, wmask), aux=(mk_out, wmask), note="markers outside the mask dropped")
tiny = np.array([[[0, 0, 0, 0, 0, 0, 0]]], np.uint8)
tm = np.array([[[1, 0, 0, 0, 0, 0, 2]]], np.int32)
case("watershed_1x7_plateau", "watershed", tiny, watershed(tiny, tm), aux=(tm,))
case("watershed_1x1", "watershed", np.zeros((1, 1, 1), np.uint16), np.ones((1, 1, 1), np.uint32), aux=(np.ones((1, 1, 1), np.int32),))

# --- label image operations ----------------------------------------------------------------
L = blob_labels(5, (2, 31, 37), n=9, radius=3, t=0.3)
L2 = L.copy()
L2[0, 10:12, 0:3] = 3  # a second piece of label 3 on the left edge: only that piece is cleared
L2[0, 20, 20] = 40  # gaps in the numbering
L2[1, 5:8, 30:33] = 1000
case("edges_blobs", "excludeLabelsOnEdges", L2, on_edges(L2))
case("edges_u16", "excludeLabelsOnEdges", L2.astype(np.uint16), on_edges(L2))
for shape in [(1, 1, 1), (1, 1, 6), (1, 6, 1), (1, 2, 3), (1, 3, 3)]:
    x = rng(sum(shape) + 9).integers(0, 3, shape).astype(np.int32)
    case(f"edges_tiny_{'x'.join(map(str, shape))}", "excludeLabelsOnEdges", x, on_edges(x))
cnt = np.bincount(L2[0].ravel())
case("size_range_default", "excludeLabelsOutsideSizeRange", L2, size_range(L2))
case("size_range_min", "excludeLabelsOutsideSizeRange", L2, size_range(L2, 10), {"min": 10})
case("size_range_min_max", "excludeLabelsOutsideSizeRange", L2, size_range(L2, 9, 30), {"min": 9, "max": 30}, note="bounds inclusive")
case("size_range_i16", "excludeLabelsOutsideSizeRange", L2.astype(np.int16), size_range(L2, 0, 20.5), {"max": 20.5})
case("relabel_gaps", "relabelSequential", L2, relabel(L2))
case("relabel_u8", "relabelSequential", (L2 % 7 * 30).astype(np.uint8), relabel((L2 % 7 * 30).astype(np.int32)))
case("relabel_big_values", "relabelSequential", (L2 * 1000003).astype(np.int32), relabel((L2 * 1000003).astype(np.int32)))
case("relabel_zero", "relabelSequential", np.zeros((1, 3, 4), np.int32), np.zeros((1, 3, 4), np.uint32))
sparse = np.zeros((1, 24, 30), np.int32)
sparse[0, [3, 3, 12, 20, 20, 8], [4, 10, 7, 25, 15, 22]] = [1, 2, 3, 4, 5, 6]
for rad in (1, 2.5, 5, 0):
    case(f"dilate_blobs_r{rad}", "dilateLabels", L2, dilate(L2, rad), {"radius": rad})
for rad in (3, 4.5, 100):
    case(f"dilate_points_r{rad}", "dilateLabels", sparse, dilate(sparse, rad), {"radius": rad}, note="equidistant ties: scipy's feature transform")
case("dilate_default_u16", "dilateLabels", L2.astype(np.uint16), dilate(L2, 1))
case("dilate_none", "dilateLabels", np.zeros((1, 4, 5), np.int32), np.zeros((1, 4, 5), np.uint32))
case("dilate_full", "dilateLabels", np.full((1, 4, 5), 7, np.int32), np.full((1, 4, 5), 7, np.uint32))
for shape in [(1, 1, 1), (1, 1, 8), (1, 8, 1), (1, 2, 3)]:
    x = (rng(sum(shape) + 11).random(shape) > 0.7).astype(np.int32) * 2
    case(f"dilate_tiny_{'x'.join(map(str, shape))}", "dilateLabels", x, dilate(x, 2), {"radius": 2})
full = blob_labels(6, (2, 29, 33), n=12, radius=4, t=0.12)
for rad in (1, 2, 4):
    case(f"erode_r{rad}", "erodeLabels", full, erode(full, rad), {"radius": rad})
case("erode_default_u16", "erodeLabels", full.astype(np.uint16), erode(full, 1))
case("erode_r0", "erodeLabels", full, full, {"radius": 0})
case("erode_edge_full", "erodeLabels", np.full((1, 5, 6), 3, np.int32), erode(np.full((1, 5, 6), 3, np.int32), 2), {"radius": 2}, note="the image edge does not erode")
touching = np.zeros((1, 12, 14), np.int32)
touching[0, :, :7] = 1
touching[0, :, 7:] = 2
touching[0, 4:8, 3:5] = 5
case("erode_touching", "erodeLabels", touching, erode(touching, 1), {"radius": 1})
case("boundaries_blobs", "labelBoundaries", L2, boundaries(L2))
case("boundaries_touching", "labelBoundaries", touching, boundaries(touching))
case("boundaries_u8", "labelBoundaries", full.astype(np.uint8), boundaries(full))
for shape in [(1, 1, 1), (1, 1, 5), (1, 5, 1), (1, 2, 3)]:
    x = rng(sum(shape) + 13).integers(0, 3, shape).astype(np.int32)
    case(f"boundaries_tiny_{'x'.join(map(str, shape))}", "labelBoundaries", x, boundaries(x))

write()
