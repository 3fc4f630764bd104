"""Golden data of the threshold group (DESIGN §12): skimage.filters.threshold_* per slice on the
values as given, the mask `slice > t`, the thresholds as the special output. NaN pixels: the
oracle on the non-NaN values (our documented choice); constant slices: the value."""
from common import *

start("threshold")
import skimage.filters as F

OPS = {
    "thresholdOtsu": F.threshold_otsu,
    "thresholdLi": F.threshold_li,
    "thresholdTriangle": F.threshold_triangle,
    "thresholdYen": F.threshold_yen,
    "thresholdIsodata": F.threshold_isodata,
    "thresholdMean": F.threshold_mean,
}
NBINS = {"thresholdOtsu", "thresholdTriangle", "thresholdYen", "thresholdIsodata"}


def oracle(proc, x, options=None):
    ts, out = [], np.zeros(x.shape, np.uint8)
    for k in range(x.shape[0]):
        s = x[k]
        v = s[~np.isnan(s)] if s.dtype.kind == "f" else s.ravel()
        if v.size and np.all(v == v.flat[0]):
            t = v.flat[0]
        else:
            kw = {"nbins": options["nbins"]} if options and "nbins" in options else {}
            t = OPS[proc](v, **kw)
        out[k] = s > t
        ts.append(float(t))
    return out, ts


def add(name, proc, x, options=None, tol=0.0, note=""):
    out, ts = oracle(proc, x, options)
    case(name, proc, x, out, options=options, special=ts, special_tolerance=tol, note=note)


r = rng(7)
DT = {"u8": (np.uint8, 255), "u16": (np.uint16, 60000), "i16": (np.int16, 20000), "i32": (np.int32, 1_000_000), "f32": (np.float32, 1.0), "f64": (np.float64, 1.0)}
for proc in OPS:
    short = proc[len("threshold"):].lower()
    # Li / Yen take logarithms (numpy's SIMD log vs the platform's): thresholds within 1e-6 relative.
    # Li takes logarithms (numpy's SIMD log vs the platform's, exact here): 1e-12 relative.
    tol = 1e-12 if proc == "thresholdLi" else 0.0
    for dn, (dt, hi) in DT.items():
        x = textured(r, (2, 23, 31), np.float64, hi)
        if dn == "i16":
            x = x - 9000
        x = x.astype(dt)
        add(f"{short}_{dn}", proc, x, tol=tol)
    if proc in NBINS:
        add(f"{short}_nbins37_f32", proc, textured(r, (2, 17, 19), np.float32, 3.0), {"nbins": 37})
        add(f"{short}_nbins_ignored_u16", proc, textured(r, (1, 17, 19), np.uint16, 900), {"nbins": 16}, note="skimage ignores nbins for integer images")
    # NaN pixels are ignored (the oracle on the non-NaN values).
    x = textured(r, (2, 15, 16), np.float32, 10.0)
    x[0, 3, 4] = np.nan
    x[1, :2, :] = np.nan
    add(f"{short}_nan_f32", proc, x, tol=tol)
    # Tiny shapes and a constant slice.
    add(f"{short}_1x1", proc, np.array([[[5]], [[9]]], np.uint8))
    add(f"{short}_1xN", proc, textured(r, (1, 1, 9), np.uint16, 1000), tol=tol)
    add(f"{short}_Nx1", proc, textured(r, (1, 9, 1), np.float64, 4.0), tol=tol)
    x = textured(r, (3, 2, 3), np.int16, 300) - 150
    x[1] = -4
    add(f"{short}_2x3_constant", proc, x.astype(np.int16), tol=tol)
    # A bigger bimodal image.
    b = (blobs(r, (1, 64, 64)) * 4000).astype(np.uint16)
    add(f"{short}_blobs_u16", proc, b, tol=tol)
    add(f"{short}_blobs_f32", proc, blobs(r, (1, 64, 64)).astype(np.float32), tol=tol)

write()
