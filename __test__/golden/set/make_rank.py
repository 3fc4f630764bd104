"""Golden data of the rank group (DESIGN §12): mean / median / minimum / maximum filters and
grey-scale opening / closing / black top-hat with disk(r) or the (2r+1)² square, per Z slice,
in the input dtype. Oracles: scipy.ndimage.uniform_filter (square mean), a reflect-border
correlation with disk(r) (disk mean), skimage.filters.median, skimage.morphology.*."""
import numpy as np
import scipy.ndimage as ndi
from skimage.filters import median
from skimage.morphology import black_tophat, closing, dilation, disk, erosion, opening

from common import *

start("rank")

DTYPES = [np.uint8, np.uint16, np.int16, np.int32, np.uint32, np.float32, np.float64]
HI = {np.uint8: 255, np.uint16: 60000, np.int16: 3000, np.int32: 100000, np.uint32: 4_000_000_000, np.float32: 1.0, np.float64: 1000.0}


def fp(footprint, r):
    return disk(r) if footprint == "disk" else np.ones((2 * r + 1, 2 * r + 1), np.uint8)


def per_slice(f, x):
    return np.stack([f(s) for s in x])


def mean_oracle(x, footprint, r):
    if footprint == "square":
        # Per slice: uniform_filter of the 2D slice (axis 0 then 1, each pass written in the dtype).
        return per_slice(lambda s: ndi.uniform_filter(s, 2 * r + 1, mode="reflect"), x)
    k = disk(r).astype(np.float64)
    if np.issubdtype(x.dtype, np.integer):
        # Exact integer disk sums (float64 holds them exactly) / N, truncated toward zero as
        # scipy writes an integer output.
        return per_slice(lambda s: (ndi.correlate(s.astype(np.float64), k, mode="reflect") / k.sum()).astype(x.dtype), x)
    return per_slice(lambda s: ndi.correlate(s.astype(np.float64), k / k.sum(), mode="reflect").astype(x.dtype), x)


def nan_ignoring(func, x, f, big):
    """erosion / dilation with NaN samples ignored (NaN where all are NaN), through skimage."""
    nan = np.isnan(x)
    out = per_slice(lambda s: func(s, f), np.where(nan, big, x).astype(x.dtype))
    all_nan = per_slice(lambda s: erosion(s, f), nan.astype(np.uint8)) == 1
    out[all_nan] = np.nan
    return out


def tol(dtype, kind):
    if not np.issubdtype(dtype, np.floating):
        return 0
    if kind == "meanDisk":
        return 1e-5 if dtype == np.float32 else 1e-9
    return 0


ORACLES = {
    "medianFilter": lambda x, f: per_slice(lambda s: median(s, f), x),
    "minimumFilter": lambda x, f: per_slice(lambda s: erosion(s, f), x),
    "maximumFilter": lambda x, f: per_slice(lambda s: dilation(s, f), x),
    "opening": lambda x, f: per_slice(lambda s: opening(s, f), x),
    "closing": lambda x, f: per_slice(lambda s: closing(s, f), x),
    "blackTophat": lambda x, f: per_slice(lambda s: black_tophat(s, f), x),
}

r = rng(12)
# Every dtype, both footprints, radii 0 / 1 / 3, on a 2x19x23 stack.
for dt in DTYPES:
    x = textured(r, (2, 19, 23), dt, HI[dt])
    if dt in (np.int16, np.int32):
        x = (x - HI[dt] // 2).astype(dt)
    name = np.dtype(dt).name
    for footprint in ("disk", "square"):
        for rad in (0, 1, 3):
            f = fp(footprint, rad)
            opts = {"radius": rad, "footprint": footprint}
            for proc in ("medianFilter", "minimumFilter", "maximumFilter"):
                case(f"{proc}.{name}.{footprint}{rad}", proc, x, ORACLES[proc](x, f), opts)
            kind = "meanDisk" if footprint == "disk" else "meanSquare"
            case(f"meanFilter.{name}.{footprint}{rad}", "meanFilter", x, mean_oracle(x, footprint, rad), opts, tolerance=tol(dt, kind))
    for proc in ("opening", "closing", "blackTophat"):
        for footprint in ("disk", "square"):
            case(f"{proc}.{name}.{footprint}3", proc, x, ORACLES[proc](x, fp(footprint, 3)), {"radius": 3, "footprint": footprint})

# Defaults (disk, radius 1) and a larger radius (the histogram median, long chords).
x = textured(r, (2, 40, 37), np.uint16, 60000)
for proc in ("medianFilter", "minimumFilter", "maximumFilter", "opening", "closing", "blackTophat"):
    case(f"{proc}.defaults", proc, x, ORACLES[proc](x, disk(1)))
case("meanFilter.defaults", "meanFilter", x, mean_oracle(x, "disk", 1))
for footprint in ("disk", "square"):
    for rad in (5, 9):
        f = fp(footprint, rad)
        opts = {"radius": rad, "footprint": footprint}
        for proc in ("medianFilter", "minimumFilter", "maximumFilter"):
            case(f"{proc}.uint16.{footprint}{rad}", proc, x, ORACLES[proc](x, f), opts)
        case(f"meanFilter.uint16.{footprint}{rad}", "meanFilter", x, mean_oracle(x, footprint, rad), opts)
    for dt in (np.uint8, np.float32, np.int32):
        y = textured(r, (1, 30, 33), dt, HI[dt])
        f = fp(footprint, 6)
        case(f"medianFilter.{np.dtype(dt).name}.{footprint}6", "medianFilter", y, ORACLES["medianFilter"](y, f), {"radius": 6, "footprint": footprint})

# Tiny shapes.
for shape in [(1, 1, 1), (1, 1, 5), (2, 5, 1), (1, 2, 3)]:
    y = textured(r, shape, np.uint16, 60000)
    tag = "x".join(map(str, shape[1:]))
    for footprint in ("disk", "square"):
        for rad in (0, 1, 3):
            f = fp(footprint, rad)
            opts = {"radius": rad, "footprint": footprint}
            for proc in ORACLES:
                case(f"{proc}.tiny{tag}.{footprint}{rad}", proc, y, ORACLES[proc](y, f), opts)
            case(f"meanFilter.tiny{tag}.{footprint}{rad}", "meanFilter", y, mean_oracle(y, footprint, rad), opts)

# NaN in float inputs.
for dt in (np.float32, np.float64):
    y = textured(r, (2, 17, 19), dt, 1.0)
    y[0, 5, 7] = np.nan
    y[0, 5, 8] = np.nan
    y[1, 0, 0] = np.nan
    y[1, 10:13, 3:6] = np.nan
    name = np.dtype(dt).name
    for footprint in ("disk", "square"):
        for rad in (1, 3):
            f = fp(footprint, rad)
            opts = {"radius": rad, "footprint": footprint}
            case(f"medianFilter.nan.{name}.{footprint}{rad}", "medianFilter", y, ORACLES["medianFilter"](y, f), opts,
                 note="scipy's quickselect on the footprint samples in C order (NaN compares false)")
            case(f"meanFilter.nan.{name}.{footprint}{rad}", "meanFilter", y, mean_oracle(y, footprint, rad), opts,
                 tolerance=tol(dt, "meanDisk" if footprint == "disk" else "meanSquare"),
                 note="square: uniform_filter's running sum turns the rest of a line NaN; disk: NaN in every window holding one")
            case(f"minimumFilter.nan.{name}.{footprint}{rad}", "minimumFilter", y, nan_ignoring(erosion, y, f, np.inf), opts,
                 note="defined: NaN samples ignored (skimage's result depends on the sample order)")
            case(f"maximumFilter.nan.{name}.{footprint}{rad}", "maximumFilter", y, nan_ignoring(dilation, y, f, -np.inf), opts,
                 note="defined: NaN samples ignored (skimage's result depends on the sample order)")

write()
