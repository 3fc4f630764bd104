"""Golden data of the geometry set operations (DESIGN §12): rescale, resize, rotate (skimage.transform,
preserve_range) and translate, affineTransform (scipy.ndimage on the slice as float64), per Z slice.

Each expected output is the oracle's float result cast to the input dtype as stackbridge defines it:
integers np.rint then clipped to the dtype range, float32 astype(float32)."""
import numpy as np
import scipy.ndimage as ndi
import skimage.transform as skt

from common import *

start("geometry")

DTYPES = ["uint8", "uint16", "int16", "int32", "float32", "float64"]
HI = {"uint8": 255, "uint16": 4000, "int16": 2000, "int32": 100000, "float32": 1.0, "float64": 1.0}


def image(seed, shape, dtype):
    r = rng(seed)
    img = textured(r, shape, np.float64, HI[dtype])
    if dtype == "int16":
        img = img - 1000  # negative values too
    return img.astype(dtype)


def cast(out, dtype):
    dtype = np.dtype(dtype)
    if dtype.kind in "ui":
        info = np.iinfo(dtype)
        return np.clip(np.rint(out), info.min, info.max).astype(dtype)
    return out.astype(dtype)


def per_slice(inp, fn):
    return cast(np.stack([np.asarray(fn(s), dtype=np.float64) for s in inp]), inp.dtype)


def tol(out):
    """Absolute tolerance: exact for integers, ~1e-5 relative for float32, 1e-10 for float64."""
    if out.dtype.kind in "ui":
        return 0
    finite = np.abs(out[np.isfinite(out)])
    scale = float(finite.max()) if finite.size else 1.0
    return (1e-5 if out.dtype == np.float32 else 1e-10) * max(scale, 1.0)


def add(name, processor, inp, fn, options, note=""):
    out = per_slice(inp, fn)
    case(name, processor, inp, out, options, tolerance=tol(out), note=note)


def resize_fn(shape, order=1, aa=None):
    return lambda s: skt.resize(s, shape, order=order, preserve_range=True, anti_aliasing=aa, mode="reflect")


def rescale_fn(factor, order=1, aa=None):
    return lambda s: skt.rescale(s, factor, order=order, preserve_range=True, anti_aliasing=aa, mode="reflect", channel_axis=None)


def rotate_fn(angle, order=1, resize=False, cval=0.0):
    return lambda s: skt.rotate(s, angle, resize=resize, order=order, mode="constant", cval=cval, preserve_range=True)


def shift_fn(shift, order=1, cval=0.0):
    return lambda s: ndi.shift(s.astype(np.float64), shift, order=order, mode="constant", cval=cval)


def affine_fn(matrix, order=1, output_shape=None, cval=0.0):
    m = np.asarray(matrix, np.float64).reshape(-1, 3)
    return lambda s: ndi.affine_transform(s.astype(np.float64), m, order=order, output_shape=output_shape, mode="constant", cval=cval)


# --- resize / rescale: every dtype, up and down, with and without anti-aliasing, orders 0 and 1
for i, dt in enumerate(DTYPES):
    inp = image(10 + i, (2, 23, 31), dt)
    add(f"resize_down_{dt}", "resize", inp, resize_fn((11, 13)), {"shape": [11, 13]}, "anti-aliasing by default (downscaling)")
    add(f"resize_up_{dt}", "resize", inp, resize_fn((40, 50)), {"shape": [40, 50]})
    add(f"resize_mixed_order0_{dt}", "resize", inp, resize_fn((9, 47), order=0), {"shape": [9, 47], "order": 0},
        "order 0: skimage anti-aliases float input only")
inp = image(20, (2, 23, 31), "float32")
add("resize_down_noaa_float32", "resize", inp, resize_fn((7, 10), aa=False), {"shape": [7, 10], "antiAliasing": False})
add("resize_up_aa_float64", "resize", image(21, (1, 9, 8), "float64"), resize_fn((20, 17), aa=True), {"shape": [20, 17], "antiAliasing": True},
    "anti-aliasing forced on while upscaling: sigma 0, no filter")
add("resize_down_noaa_uint16", "resize", image(22, (2, 23, 31), "uint16"), resize_fn((5, 6), aa=False), {"shape": [5, 6], "antiAliasing": False})

add("rescale_half_uint16", "rescale", image(30, (2, 23, 31), "uint16"), rescale_fn(0.5), {"factor": 0.5})
add("rescale_yx_float32", "rescale", image(31, (2, 23, 31), "float32"), rescale_fn((2, 1.5)), {"factor": [2, 1.5]})
add("rescale_order0_float32", "rescale", image(32, (2, 23, 31), "float32"), rescale_fn(0.37, order=0), {"factor": 0.37, "order": 0},
    "float input: order 0 anti-aliases by default")
add("rescale_order0_uint8", "rescale", image(33, (2, 23, 31), "uint8"), rescale_fn(0.37, order=0), {"factor": 0.37, "order": 0})
add("rescale_noaa_int16", "rescale", image(34, (2, 23, 31), "int16"), rescale_fn(0.3, aa=False), {"factor": 0.3, "antiAliasing": False})
add("rescale_1x1_to_3x3_float64", "rescale", np.array([[[3.25]]]), rescale_fn(3), {"factor": 3})
add("rescale_5x1_uint8", "rescale", image(35, (1, 5, 1), "uint8"), rescale_fn((0.6, 2)), {"factor": [0.6, 2]})
add("resize_5x1_to_1x1_float32", "resize", image(36, (1, 5, 1), "float32"), resize_fn((1, 1)), {"shape": [1, 1]})
add("rescale_tiny_factor_uint16", "rescale", image(37, (1, 6, 7), "uint16"), rescale_fn(0.01), {"factor": 0.01}, "output clamps to 1x1")

nan = image(38, (2, 23, 31), "float32")
nan[0, 5, 7] = np.nan
nan[1, 10:12, 20:22] = np.nan
add("resize_down_nan_float32", "resize", nan, resize_fn((11, 13)), {"shape": [11, 13]}, "NaN spreads through the Gaussian and the taps")
add("resize_up_nan_float32", "resize", nan, resize_fn((30, 40)), {"shape": [30, 40]})
add("resize_order0_nan_float32", "resize", nan, resize_fn((30, 40), order=0), {"shape": [30, 40], "order": 0})

# --- rotate: every dtype at 30 degrees, the exact angles, resize, order 0, cval, NaN
for i, dt in enumerate(DTYPES):
    inp = image(40 + i, (2, 23, 31), dt)
    add(f"rotate30_{dt}", "rotate", inp, rotate_fn(30), {"angle": 30})
    add(f"rotate30_order0_{dt}", "rotate", inp, rotate_fn(30, order=0), {"angle": 30, "order": 0})
sq = image(50, (2, 17, 17), "float64")
for a in (0, 90, 180, -90):
    add(f"rotate{a}_square_float64", "rotate", sq, rotate_fn(a), {"angle": a})
    add(f"rotate{a}_square_order0_float64", "rotate", sq, rotate_fn(a, order=0), {"angle": a, "order": 0})
u16 = image(51, (2, 23, 31), "uint16")
for a in (0, 90, 180):
    add(f"rotate{a}_uint16", "rotate", u16, rotate_fn(a), {"angle": a})
    add(f"rotate{a}_resize_uint16", "rotate", u16, rotate_fn(a, resize=True), {"angle": a, "resize": True})
    add(f"rotate{a}_order0_uint16", "rotate", u16, rotate_fn(a, order=0), {"angle": a, "order": 0})
add("rotate30_resize_float32", "rotate", image(52, (2, 23, 31), "float32"), rotate_fn(30, resize=True), {"angle": 30, "resize": True})
add("rotate30_resize_order0_uint8", "rotate", image(53, (2, 23, 31), "uint8"), rotate_fn(30, order=0, resize=True), {"angle": 30, "order": 0, "resize": True})
add("rotate_neg17_cval_outside_float64", "rotate", image(54, (2, 23, 31), "float64"), rotate_fn(-17.3, cval=-2.5), {"angle": -17.3, "cval": -2.5},
    "cval outside the image range widens the clip range")
add("rotate45_cval_inside_uint16", "rotate", image(55, (2, 23, 31), "uint16"), rotate_fn(45, cval=1000), {"angle": 45, "cval": 1000})
add("rotate123_tiny_2x3_int32", "rotate", image(56, (1, 2, 3), "int32"), rotate_fn(123.4), {"angle": 123.4})
add("rotate30_1x1_float32", "rotate", np.array([[[2.5]]], np.float32), rotate_fn(30), {"angle": 30})
rnan = image(57, (2, 23, 31), "float64")
rnan[0, 11, 15] = np.nan
rnan[1, 0, 0] = np.nan
add("rotate30_nan_float64", "rotate", rnan, rotate_fn(30), {"angle": 30}, "NaN spreads to every output that reads it")
add("rotate30_order0_nan_float64", "rotate", rnan, rotate_fn(30, order=0), {"angle": 30, "order": 0})

# --- translate
for i, dt in enumerate(DTYPES):
    inp = image(60 + i, (2, 23, 31), dt)
    add(f"translate_frac_{dt}", "translate", inp, shift_fn((1.3, -2.7)), {"shift": [1.3, -2.7]})
add("translate_order0_uint16", "translate", image(70, (2, 23, 31), "uint16"), shift_fn((-3.5, 2.5), order=0), {"shift": [-3.5, 2.5], "order": 0},
    "half-pixel shifts: nearest rounds floor(c + 0.5)")
add("translate_int_cval_float32", "translate", image(71, (2, 23, 31), "float32"), shift_fn((4, -6), cval=7.5), {"shift": [4, -6], "cval": 7.5})
add("translate_tiny_5x1_float64", "translate", image(72, (1, 5, 1), "float64"), shift_fn((0.25, 0)), {"shift": [0.25, 0]})
add("translate_big_uint8", "translate", image(73, (1, 6, 7), "uint8"), shift_fn((40, 0.5)), {"shift": [40, 0.5]}, "everything falls outside: cval")
tnan = image(74, (2, 23, 31), "float32")
tnan[0, 4, 4] = np.nan
tnan[1, 22, 30] = np.nan
add("translate_nan_float32", "translate", tnan, shift_fn((0.5, 0.25)), {"shift": [0.5, 0.25]}, "NaN spreads (also through weight-0 taps)")

# --- affineTransform
shear = [1.0, 0.3, -2.0, 0.1, 0.9, 1.5]
for i, dt in enumerate(DTYPES):
    inp = image(80 + i, (2, 23, 31), dt)
    add(f"affine_shear_{dt}", "affineTransform", inp, affine_fn(shear), {"matrix": shear})
add("affine_3x3_output_shape_uint16", "affineTransform", image(90, (2, 23, 31), "uint16"),
    affine_fn([0.8, -0.2, 3.0, 0.25, 1.1, -1.0, 0, 0, 1], output_shape=(30, 20)),
    {"matrix": [0.8, -0.2, 3.0, 0.25, 1.1, -1.0, 0, 0, 1], "outputShape": [30, 20]})
add("affine_order0_cval_int16", "affineTransform", image(91, (2, 23, 31), "int16"), affine_fn(shear, order=0, cval=-50), {"matrix": shear, "order": 0, "cval": -50})
add("affine_singular_float64", "affineTransform", image(92, (2, 23, 31), "float64"), affine_fn([0.5, 0.5, 1.0, 0.5, 0.5, 2.0]),
    {"matrix": [0.5, 0.5, 1.0, 0.5, 0.5, 2.0]}, "a singular output-to-input map is valid")
add("affine_flip_uint8", "affineTransform", image(93, (1, 6, 7), "uint8"), affine_fn([-1, 0, 5, 0, -1, 6]), {"matrix": [-1, 0, 5, 0, -1, 6]})
anan = image(94, (2, 23, 31), "float64")
anan[0, 10, 10] = np.nan
add("affine_shear_nan_float64", "affineTransform", anan, affine_fn(shear), {"matrix": shear})

# --- order 3: scipy's cubic B-spline with its prefilter (skimage's Catmull-Rom bicubic for rotate)
for i, dt in enumerate(["uint8", "uint16", "int16", "float32", "float64"]):
    inp = image(100 + i, (2, 23, 31), dt)
    add(f"resize_down_order3_{dt}", "resize", inp, resize_fn((11, 13), order=3), {"shape": [11, 13], "order": 3})
    add(f"resize_up_order3_{dt}", "resize", inp, resize_fn((40, 50), order=3), {"shape": [40, 50], "order": 3})
    add(f"rotate30_order3_{dt}", "rotate", inp, rotate_fn(30, order=3), {"angle": 30, "order": 3})
    add(f"translate_frac_order3_{dt}", "translate", inp, shift_fn((1.3, -2.7), order=3), {"shift": [1.3, -2.7], "order": 3})
    add(f"affine_shear_order3_{dt}", "affineTransform", inp, affine_fn(shear, order=3), {"matrix": shear, "order": 3})
add("rescale_order3_noaa_float32", "rescale", image(110, (2, 23, 31), "float32"), rescale_fn(0.6, order=3, aa=False), {"factor": 0.6, "order": 3, "antiAliasing": False})
add("rescale_order3_tiny_5x1_float64", "rescale", image(111, (1, 5, 1), "float64"), rescale_fn((1.6, 3), order=3), {"factor": [1.6, 3], "order": 3})
add("rotate90_resize_order3_uint16", "rotate", image(112, (2, 23, 31), "uint16"), rotate_fn(90, order=3, resize=True), {"angle": 90, "order": 3, "resize": True})
add("rotate_neg17_order3_cval_float64", "rotate", image(113, (2, 23, 31), "float64"), rotate_fn(-17.3, order=3, cval=-2.5), {"angle": -17.3, "order": 3, "cval": -2.5})
add("translate_order3_cval_tiny_2x3_float64", "translate", image(114, (1, 2, 3), "float64"), shift_fn((0.4, -0.3), order=3, cval=5.0), {"shift": [0.4, -0.3], "order": 3, "cval": 5.0})
add("affine_3x3_output_shape_order3_uint16", "affineTransform", image(115, (2, 23, 31), "uint16"),
    affine_fn([0.8, -0.2, 3.0, 0.25, 1.1, -1.0, 0, 0, 1], order=3, output_shape=(30, 20)),
    {"matrix": [0.8, -0.2, 3.0, 0.25, 1.1, -1.0, 0, 0, 1], "outputShape": [30, 20], "order": 3})
o3nan = image(116, (2, 23, 31), "float64")
o3nan[0, 5, 7] = np.nan
add("translate_order3_nan_float64", "translate", o3nan, shift_fn((0.5, 0.25), order=3), {"shift": [0.5, 0.25], "order": 3}, "NaN spreads along the prefilter's rows and columns")

write()
