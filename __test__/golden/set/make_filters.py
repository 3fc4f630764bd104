"""Golden data of the filters group (DESIGN §12): differenceOfGaussian, sobel, laplace,
subtractGaussianBackground, rollingBall, rescaleIntensity. Every expected output is computed here
with scipy / scikit-image / numpy, per Z slice unless the op is a stack op (rescaleIntensity).

Definitions (also in crates/kernels/src/set/filters.rs):
- sobel / laplace / differenceOfGaussian work on `x.astype(float64)` (no img_as_float rescaling of
  integers) and return float32.
- subtractGaussianBackground: `np.maximum(x64 - gaussian_filter(x64, sigma), 0)`, then for integer
  dtypes clipped to the dtype's max and truncated (astype); float32 rounded; float64 as is.
- rollingBall: `image - rolling_ball(image, radius)` (the background itself with
  returnBackground); integer differences are exact, saturated to the dtype.
- rescaleIntensity: skimage on the whole stack; a float result of a numeric out_range is clipped
  to the integer dtype's range and truncated (astype), floats kept in their dtype.
"""
import warnings

import numpy as np
import scipy.ndimage as ndi
from skimage.exposure import rescale_intensity
from skimage.filters import sobel
from skimage.restoration import rolling_ball

from common import case, rng, start, textured, write

start("filters")

DTYPES = {
    "uint8": (np.uint8, 255),
    "uint16": (np.uint16, 65535),
    "int16": (np.int16, 32767),
    "int32": (np.int32, 1_000_000),
    "uint32": (np.uint32, 4_000_000_000),
    "float32": (np.float32, 1.0),
    "float64": (np.float64, 1.0),
}


def per_slice(f, x):
    return np.stack([f(s) for s in x]) if len(x) else np.zeros(x.shape)


def image(seed, shape, name, signed=False):
    dt, hi = DTYPES[name]
    img = textured(rng(seed), shape, np.float64, hi)
    if signed and name in ("int16", "int32", "float32", "float64"):
        img = img - hi / 2
    return img.astype(dt)


def with_nan(x, seed):
    x = x.copy()
    r = rng(seed)
    x.flat[r.integers(0, x.size, max(2, x.size // 60))] = np.nan
    return x


def f32_tol(out, rel=2e-6):
    finite = np.abs(out[np.isfinite(out)])
    return float(rel * max(1.0, finite.max() if finite.size else 1.0))


# ---- sobel / laplace / differenceOfGaussian: float32 results on the values as given


def sobel_ref(x):
    return per_slice(lambda s: sobel(s.astype(np.float64)), x).astype(np.float32)


def laplace_ref(x):
    return per_slice(lambda s: ndi.laplace(s.astype(np.float64), mode="reflect"), x).astype(np.float32)


def dog_ref(x, s1=1.0, s2=2.0):
    def f(s):
        s = s.astype(np.float64)
        return ndi.gaussian_filter(s, s1, mode="reflect", truncate=4.0) - ndi.gaussian_filter(s, s2, mode="reflect", truncate=4.0)

    return per_slice(f, x).astype(np.float32)


TINY = [(1, 1, 1), (1, 1, 7), (1, 7, 1), (1, 2, 3), (2, 3, 2)]

for k, name in enumerate(DTYPES):
    x = image(10 + k, (2, 23, 31), name, signed=True)
    out = sobel_ref(x)
    case(f"sobel_{name}", "sobel", x, out, tolerance=f32_tol(out, 1e-7))
    out = laplace_ref(x)
    case(f"laplace_{name}", "laplace", x, out, tolerance=f32_tol(out, 1e-7))
    out = dog_ref(x)
    case(f"dog_{name}", "differenceOfGaussian", x, out, tolerance=f32_tol(out))

for i, shape in enumerate(TINY):
    x = image(30 + i, shape, "uint16")
    case(f"sobel_tiny{i}", "sobel", x, sobel_ref(x))
    case(f"laplace_tiny{i}", "laplace", x, laplace_ref(x))
    out = dog_ref(x, 1.5, 3.0)
    case(f"dog_tiny{i}", "differenceOfGaussian", x, out, options={"sigma1": 1.5, "sigma2": 3.0}, tolerance=f32_tol(out))

for name in ("float32", "float64"):
    x = with_nan(image(40, (2, 19, 21), name, signed=True), 41)
    x.flat[5] = np.inf
    out = sobel_ref(x)
    case(f"sobel_nan_{name}", "sobel", x, out, tolerance=f32_tol(out, 1e-7), note="NaN / inf propagate through the non-zero taps")
    out = laplace_ref(x)
    case(f"laplace_nan_{name}", "laplace", x, out, tolerance=f32_tol(out, 1e-7))
    out = dog_ref(x)
    case(f"dog_nan_{name}", "differenceOfGaussian", x, out, tolerance=f32_tol(out))

x = image(50, (2, 29, 33), "uint16")
for j, (s1, s2) in enumerate([(0.5, 3.0), (0.0, 1.5), (4.0, 1.0), (2.5, 2.5)]):
    out = dog_ref(x, s1, s2)
    case(f"dog_sigmas{j}", "differenceOfGaussian", x, out, options={"sigma1": s1, "sigma2": s2}, tolerance=f32_tol(out))

# ---- subtractGaussianBackground: input dtype


def sub_bg_ref(x, sigma=10.0):
    def f(s):
        s64 = s.astype(np.float64)
        v = np.maximum(s64 - ndi.gaussian_filter(s64, sigma, mode="reflect", truncate=4.0), 0)
        if np.issubdtype(x.dtype, np.integer):
            v = np.clip(v, None, np.iinfo(x.dtype).max)
        return v.astype(x.dtype)

    return np.stack([f(s) for s in x]).astype(x.dtype)


for k, name in enumerate(DTYPES):
    x = image(60 + k, (2, 23, 31), name, signed=True)
    out = sub_bg_ref(x, 3.0)
    tol = f32_tol(out) if name == "float32" else (1e-12 if name == "float64" else 0)
    case(f"subbg_{name}", "subtractGaussianBackground", x, out, options={"sigma": 3.0}, tolerance=tol)
x = image(70, (1, 64, 64), "uint16")
case("subbg_default", "subtractGaussianBackground", x, sub_bg_ref(x))
x = np.full((1, 5, 6), 7, np.int16)
x[0, 2, 3] = 32767
x[0, 0, :] = -32768
case("subbg_int16_extremes", "subtractGaussianBackground", x, sub_bg_ref(x, 1.0), options={"sigma": 1.0}, note="difference beyond int16 saturates")
x = with_nan(image(71, (2, 17, 19), "float64", signed=True), 72)
case("subbg_nan_float64", "subtractGaussianBackground", x, sub_bg_ref(x, 2.0), options={"sigma": 2.0}, tolerance=1e-12)
x = image(73, (1, 2, 3), "uint8")
case("subbg_tiny", "subtractGaussianBackground", x, sub_bg_ref(x, 1.0), options={"sigma": 1.0})

# ---- rollingBall: input dtype


def rb_ref(x, radius=50, background=False):
    out = []
    for s in x:
        bg = rolling_ball(s, radius=radius)
        if background:
            out.append(bg)
        elif np.issubdtype(x.dtype, np.integer):
            info = np.iinfo(x.dtype)
            out.append(np.clip(s.astype(np.int64) - bg.astype(np.int64), info.min, info.max).astype(x.dtype))
        else:
            out.append(s - bg)
    return np.stack(out).astype(x.dtype)


for k, name in enumerate(DTYPES):
    x = image(80 + k, (2, 26, 30), name, signed=True)
    tol = 0 if name not in ("float32", "float64") else 0
    case(f"rollingball_{name}", "rollingBall", x, rb_ref(x, 5), options={"radius": 5}, tolerance=tol)
    case(f"rollingball_bg_{name}", "rollingBall", x, rb_ref(x, 5, True), options={"radius": 5, "returnBackground": True}, tolerance=tol)
x = image(90, (1, 64, 64), "uint16")
case("rollingball_default", "rollingBall", x, rb_ref(x))
case("rollingball_r12", "rollingBall", x, rb_ref(x, 12), options={"radius": 12})
x = image(91, (2, 21, 25), "uint8")
case("rollingball_r2_5", "rollingBall", x, rb_ref(x, 2.5, True), options={"radius": 2.5, "returnBackground": True})
case("rollingball_r0", "rollingBall", x, rb_ref(x, 0), options={"radius": 0})
case("rollingball_r1", "rollingBall", x, rb_ref(x, 1), options={"radius": 1})
for name in ("float32", "float64"):
    x = with_nan(image(92, (2, 19, 23), name, signed=True), 93)
    case(f"rollingball_nan_{name}", "rollingBall", x, rb_ref(x, 4), options={"radius": 4}, note="NaN candidates never win (skimage nansafe=False)")
    case(f"rollingball_nan_bg_{name}", "rollingBall", x, rb_ref(x, 4, True), options={"radius": 4, "returnBackground": True})
for i, shape in enumerate(TINY):
    x = image(95 + i, shape, "int16", signed=True)
    case(f"rollingball_tiny{i}", "rollingBall", x, rb_ref(x, 3), options={"radius": 3})

# ---- rescaleIntensity: the whole stack, input dtype


def rescale_ref(x, in_range="image", out_range="dtype"):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = rescale_intensity(x, in_range=tuple(in_range) if isinstance(in_range, list) else in_range, out_range=tuple(out_range) if isinstance(out_range, list) else out_range)
    if np.issubdtype(x.dtype, np.integer):
        info = np.iinfo(x.dtype)
        r = np.clip(r, info.min, info.max)
    return r.astype(x.dtype)


def rcase(name, x, in_range=None, out_range=None, note=""):
    opts = {}
    if in_range is not None:
        opts["inRange"] = in_range
    if out_range is not None:
        opts["outRange"] = out_range
    out = rescale_ref(x, in_range if in_range is not None else "image", out_range if out_range is not None else "dtype")
    tol = f32_tol(out, 1e-6) if x.dtype == np.float32 else (1e-12 if x.dtype == np.float64 else 0)
    case(f"rescale_{name}", "rescaleIntensity", x, out, options=opts, tolerance=tol, note=note)


for k, name in enumerate(DTYPES):
    x = image(100 + k, (3, 13, 17), name, signed=True)
    dt, hi = DTYPES[name]
    rcase(f"{name}_default", x)
    rcase(f"{name}_in_dtype", x, in_range="dtype")
    lo_hi = [float(np.percentile(x, 10)), float(np.percentile(x, 90))]
    rcase(f"{name}_explicit", x, in_range=lo_hi, out_range=[0, 100])
    rcase(f"{name}_out_explicit", x, out_range=[-3.5, 250.25])
x = image(110, (2, 11, 9), "int16")  # non-negative int16: out 'dtype' is (0, 32767)
rcase("int16_nonneg", x)
x = image(111, (2, 11, 9), "uint16")
rcase("uint16_out_beyond_dtype", x, out_range=[-1000, 70000], note="clipped to the dtype, then truncated")
rcase("uint16_out_reversed", x, out_range=[255, 0])
rcase("uint16_in_equal", x, in_range=[1000, 1000], out_range=[0, 255], note="imin == imax: clip")
rcase("uint16_constant", np.full((2, 4, 5), 17, np.uint16))
x = with_nan(image(112, (2, 11, 9), "float32"), 113)
rcase("float32_nan_image", x, note="np.min is NaN: all NaN, as skimage")
rcase("float32_nan_explicit", x, in_range=[0.1, 0.8], out_range=[0, 10])
x = with_nan(image(114, (2, 11, 9), "float64", signed=True), 115)
rcase("float64_nan_explicit", x, in_range=[-0.3, 0.3])
rcase("tiny", image(116, (1, 1, 1), "uint8"))
rcase("tiny_row", image(117, (1, 1, 6), "int32", signed=True), out_range=[0, 10])

write()
