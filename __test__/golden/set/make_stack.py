"""Golden data of the stack group (DESIGN §12): local variance, extended depth of focus, sum and
argmax projections, element-wise and scalar arithmetic, clip, absolute — numpy / scipy only."""
import warnings

import numpy as np
import scipy.ndimage as ndi

from common import case, rng, start, textured, write

warnings.simplefilter("ignore")  # division by zero, NaN comparisons: numpy's values are the oracle
start("stack")

DTYPES = [np.uint8, np.uint16, np.int16, np.int32, np.uint32, np.float32, np.float64]
HI = {np.uint8: 255, np.uint16: 65535, np.int16: 30000, np.int32: 2_000_000, np.uint32: 4_000_000_000, np.float32: 1000.0, np.float64: 1000.0}
name_of = lambda dt: np.dtype(dt).name


def stack(seed, shape, dt):
    """A textured stack; signed dtypes get negative values too, floats a fractional part."""
    r = rng(seed)
    x = textured(r, shape, np.float64, HI[dt])
    if dt in (np.int16, np.int32, np.float32, np.float64):
        x = x - HI[dt] / 2
    if dt in (np.float32, np.float64):
        x = x + r.random(shape)
    return x.astype(dt)


def var_plane(x, radius):
    x = x.astype(np.float64)
    size = 2 * radius + 1
    return (ndi.uniform_filter(x**2, size, mode="reflect") - ndi.uniform_filter(x, size, mode="reflect") ** 2).astype(np.float32)


def variance(x, radius):
    return np.stack([var_plane(s, radius) for s in x])


def vtol(out):
    # 1e-6 relative to the largest variance (the f64 values are scipy's; the cast is the same).
    m = np.nanmax(np.abs(out)) if np.isfinite(out).any() else 0.0
    return float(1e-6 * m)


def edf(x, radius):
    v = np.stack([var_plane(s, radius) for s in x])
    idx = np.argmax(v, axis=0)
    return np.take_along_axis(x, idx[None], axis=0)


def with_nan(x, seed, n=3):
    x = x.copy()
    r = rng(seed)
    x.flat[r.integers(0, x.size, n)] = np.nan
    return x


# --- varianceFilter ---------------------------------------------------------------------------
for i, dt in enumerate(DTYPES):
    x = stack(10 + i, (2, 23, 31), dt)
    out = variance(x, 1)
    case(f"variance_{name_of(dt)}", "varianceFilter", x, out, tolerance=vtol(out))
for radius, shape in [(0, (1, 5, 6)), (2, (2, 23, 31)), (3, (1, 2, 3)), (5, (1, 1, 7)), (4, (1, 9, 1)), (1, (1, 1, 1)), (7, (1, 64, 64))]:
    x = stack(30 + radius, shape, np.uint16)
    out = variance(x, radius)
    case(f"variance_r{radius}_{'x'.join(map(str, shape))}", "varianceFilter", x, out, {"radius": radius}, tolerance=vtol(out))
x = with_nan(stack(40, (2, 15, 17), np.float32), 41)
x[1, 3, 4] = np.inf
out = variance(x, 1)
case("variance_nan_float32", "varianceFilter", x, out, tolerance=vtol(out), note="NaN / inf spread along scipy's running sums")

# --- extendedDepthOfFocus ---------------------------------------------------------------------
for i, dt in enumerate(DTYPES):
    x = stack(50 + i, (3, 23, 31), dt)
    case(f"edf_{name_of(dt)}", "extendedDepthOfFocus", x, edf(x, 2))
for radius, shape in [(0, (3, 4, 5)), (1, (4, 1, 7)), (3, (2, 2, 3)), (2, (1, 6, 6))]:
    x = stack(60 + radius, shape, np.uint8)
    case(f"edf_r{radius}_{'x'.join(map(str, shape))}", "extendedDepthOfFocus", x, edf(x, radius), {"radius": radius})
x = np.zeros((3, 5, 6), np.uint16)  # flat: every variance 0, the first slice wins
x[1] = 7
x[2, 2:4, 2:4] = 9
case("edf_ties_uint16", "extendedDepthOfFocus", x, edf(x, 1), {"radius": 1})
x = with_nan(stack(70, (3, 11, 13), np.float64), 71)
case("edf_nan_float64", "extendedDepthOfFocus", x, edf(x, 1), {"radius": 1}, note="a NaN variance wins (np.argmax's first NaN)")

# --- projections ------------------------------------------------------------------------------
for i, dt in enumerate(DTYPES):
    x = stack(80 + i, (5, 23, 31), dt)
    case(f"sum_{name_of(dt)}", "sumProjection", x, x.sum(axis=0).astype(np.float32)[None])
    case(f"argmax_{name_of(dt)}", "argmaxProjection", x, np.argmax(x, axis=0).astype(np.uint32)[None])
big = rng(90).random((40, 8, 9)).astype(np.float32) * 1000  # float32 rounding along Z matters
case("sum_float32_z40", "sumProjection", big, big.sum(axis=0).astype(np.float32)[None])
big32 = rng(91).integers(-(2**31), 2**31 - 1, (6, 4, 5)).astype(np.int32)  # int64 sums, float32 rounding
case("sum_int32_large", "sumProjection", big32, big32.sum(axis=0).astype(np.float32)[None])
for dt in (np.uint8, np.float32):
    x = stack(92, (1, 3, 4), dt)
    case(f"sum_z1_{name_of(dt)}", "sumProjection", x, x.sum(axis=0).astype(np.float32)[None])
    case(f"argmax_z1_{name_of(dt)}", "argmaxProjection", x, np.argmax(x, axis=0).astype(np.uint32)[None])
x = np.array([[[1, 5, 5]], [[5, 5, 2]], [[5, 1, 5]]], np.uint8)  # ties: first z
case("argmax_ties_uint8", "argmaxProjection", x, np.argmax(x, axis=0).astype(np.uint32)[None])
x = with_nan(stack(93, (4, 6, 7), np.float32), 94, 8)
case("argmax_nan_float32", "argmaxProjection", x, np.argmax(x, axis=0).astype(np.uint32)[None], note="first NaN wins")
case("sum_nan_float32", "sumProjection", x, x.sum(axis=0).astype(np.float32)[None])
x = stack(95, (1, 1, 1), np.int16)
case("argmax_1x1_int16", "argmaxProjection", x, np.argmax(x, axis=0).astype(np.uint32)[None])

# --- element-wise on two stacks ---------------------------------------------------------------
OPS = {"add": np.add, "subtract": np.subtract, "multiply": np.multiply, "divide": np.divide}
for i, dt in enumerate(DTYPES):
    x = stack(100 + i, (2, 7, 9), dt)
    y = stack(110 + i, (2, 7, 9), DTYPES[(i + 1) % len(DTYPES)])  # mixed dtypes
    for op, f in OPS.items():
        case(f"{op}_{name_of(dt)}", op, x, f(x.astype(np.float32), y.astype(np.float32)), aux=[y])
x = stack(120, (3, 5, 6), np.uint16)
y2 = stack(121, (1, 5, 6), np.float32)[0]
y3 = stack(122, (1, 5, 6), np.int16)
for op, f in OPS.items():
    case(f"{op}_broadcast_2d", op, x, f(x.astype(np.float32), y2.astype(np.float32)[None]), aux=[y2])
    case(f"{op}_broadcast_3d", op, x, f(x.astype(np.float32), y3.astype(np.float32)), aux=[y3])
x = np.array([[[1, 0, -3, 0, 7]]], np.int16)
y = np.array([[[0, 0, 0, 2, -0.0]]], np.float64)
case("divide_by_zero", "divide", x, np.divide(x.astype(np.float32), y.astype(np.float32)), aux=[y], note="±inf, NaN as numpy")
xf = with_nan(stack(123, (2, 4, 5), np.float32), 124)
yf = with_nan(stack(125, (2, 4, 5), np.float64), 126)
yf[0, 0, 0] = np.inf
for op, f in OPS.items():
    case(f"{op}_nan", op, xf, f(xf.astype(np.float32), yf.astype(np.float32)), aux=[yf])
x = stack(127, (1, 1, 1), np.uint8)
case("multiply_1x1", "multiply", x, np.multiply(x.astype(np.float32), x.astype(np.float32)), aux=[x])

# --- scalar ops, clip, absolute ---------------------------------------------------------------
def scalar_oracle(x, s, op):
    v = op(x.astype(np.float64), s)
    if np.issubdtype(x.dtype, np.integer):
        info = np.iinfo(x.dtype)
        return np.clip(np.rint(v), info.min, info.max).astype(x.dtype)
    return v.astype(x.dtype)


for i, dt in enumerate(DTYPES):
    x = stack(130 + i, (2, 5, 7), dt)
    for s in (2.5, -1000.5, 123456789.0):
        case(f"addScalar_{name_of(dt)}_{s}", "addScalar", x, scalar_oracle(x, s, np.add), {"scalar": s})
    for s in (0.5, -3.0, 1e6):
        case(f"multiplyScalar_{name_of(dt)}_{s}", "multiplyScalar", x, scalar_oracle(x, s, np.multiply), {"scalar": s})
x = np.array([[[0, 1, 2, 3, 4, 5, 254, 255]]], np.uint8)  # halves round to even: 0.5→0, 1.5→2
case("addScalar_half_even_uint8", "addScalar", x, scalar_oracle(x, 0.5, np.add), {"scalar": 0.5})
case("multiplyScalar_half_even_uint8", "multiplyScalar", x, scalar_oracle(x, 0.5, np.multiply), {"scalar": 0.5})
xf = with_nan(stack(140, (2, 3, 4), np.float32), 141)
case("addScalar_nan", "addScalar", xf, scalar_oracle(xf, 0.1, np.add), {"scalar": 0.1})
case("multiplyScalar_nan", "multiplyScalar", xf, scalar_oracle(xf, -0.3, np.multiply), {"scalar": -0.3})


def clip_oracle(x, lo, hi):
    # numpy 2: integer bounds out of the dtype's range clip to it; fractional bounds on integer
    # dtypes: clip in float64 then cast back (truncation), which equals clipping with trunc(bound).
    if np.issubdtype(x.dtype, np.integer):
        return np.clip(x.astype(np.float64), lo, hi).astype(x.dtype)
    return np.clip(x, lo, hi)


for i, dt in enumerate(DTYPES):
    x = stack(150 + i, (2, 5, 7), dt)
    lo, hi = np.percentile(x, 20), np.percentile(x, 80)
    lo, hi = float(np.floor(lo)), float(np.ceil(hi))
    case(f"clip_{name_of(dt)}", "clip", x, np.clip(x, x.dtype.type(lo), x.dtype.type(hi)), {"min": lo, "max": hi})
    case(f"clip_frac_{name_of(dt)}", "clip", x, clip_oracle(x, lo + 0.7, hi + 0.3), {"min": lo + 0.7, "max": hi + 0.3})
    case(f"absolute_{name_of(dt)}", "absolute", x, np.abs(x))
x = np.array([[[0, 5, 100, 255]]], np.uint8)
case("clip_out_of_range_uint8", "clip", x, np.clip(x, -5, 300), {"min": -5, "max": 300})
case("clip_min_only_uint8", "clip", x, np.clip(x, 6, None), {"min": 6})
case("clip_max_only_uint8", "clip", x, np.clip(x, None, 99), {"max": 99})
xi = np.array([[[-32768, -32767, -1, 0, 32767]]], np.int16)
case("absolute_int16_min", "absolute", xi, np.abs(xi))
case("clip_neg_frac_int16", "clip", xi, clip_oracle(xi, -1.5, 2.5), {"min": -1.5, "max": 2.5})
xi32 = np.array([[[-(2**31), -7, 2**31 - 1]]], np.int32)
case("absolute_int32_min", "absolute", xi32, np.abs(xi32))
xf = with_nan(stack(160, (2, 3, 4), np.float32), 161)
case("absolute_nan", "absolute", xf, np.abs(xf))
case("clip_nan", "clip", xf, np.clip(xf, np.float32(-100.3), np.float32(200.7)), {"min": -100.3, "max": 200.7})
case("clip_float64_frac", "clip", xf.astype(np.float64), np.clip(xf.astype(np.float64), -100.3, 200.7), {"min": -100.3, "max": 200.7})

write()
