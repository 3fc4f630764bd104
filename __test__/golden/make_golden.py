#!/usr/bin/env python3
"""Golden data for the processor tests: small synthetic stacks and what numpy / scipy /
scikit-image compute on them, the oracles named in DESIGN §7.

    python -m venv .venv && .venv/bin/pip install numpy scipy scikit-image
    .venv/bin/python __test__/golden/make_golden.py

Writes `<case>.in.npy`, `<case>.out.npy` and `manifest.json` next to this file. Every expected
output is computed here from the oracle calls, never from stackbridge. Versions used are recorded
in the manifest.
"""
import json
import os

import numpy as np
import scipy
import scipy.ndimage as ndi
import skimage
from skimage import exposure, filters, morphology, transform
from skimage.feature import blob_log
from skimage.filters import median

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(20261124)
cases = []


def save(name, arr):
    np.save(os.path.join(HERE, name), np.ascontiguousarray(arr), allow_pickle=False)
    return name


def case(name, processor, inp, out, options=None, tolerance=0, note="", aux=None):
    entry = {
        "name": name,
        "processor": processor,
        "options": options or {},
        "input": save(f"{name}.in.npy", inp),
        "expected": save(f"{name}.out.npy", out),
        "tolerance": tolerance,
        "note": note,
    }
    if aux is not None:
        entry["aux"] = save(f"{name}.aux.npy", aux)
    cases.append(entry)


def textured(shape, dtype, hi):
    """Smooth structure + noise + a few saturated and zero pixels, in [0, hi]."""
    z, h, w = shape
    base = ndi.gaussian_filter(rng.random(shape), (0, 4, 4))
    base = (base - base.min()) / (base.max() - base.min())
    img = 0.7 * base + 0.3 * rng.random(shape)
    img = img * hi
    img.flat[rng.integers(0, img.size, 20)] = hi
    img.flat[rng.integers(0, img.size, 20)] = 0
    return img.astype(dtype)


def percentile_normalize(stack, lo=1, hi=99, tmin=0, tmax=65535):
    """DESIGN §7: percentiles over the whole array, then the linear stretch, uint16 by truncation."""
    pl, ph = np.percentile(stack, lo), np.percentile(stack, hi)
    if pl == ph:
        return np.full(stack.shape, tmin).astype(np.uint16)
    return ((np.clip(stack, pl, ph) - pl) * (tmax - tmin) / (ph - pl) + tmin).astype(np.uint16)


def tophat(stack, radius=50, factor=4, order=1):
    """OpenHCS's tophat; the background upsampled with DESIGN §7's order=1 (0: OpenHCS 0.8.6's nearest)."""
    out = np.zeros_like(stack)
    for z in range(stack.shape[0]):
        s = stack[z]
        small = transform.resize(s, (s.shape[0] // factor, s.shape[1] // factor), anti_aliasing=True, preserve_range=True, order=1)
        th = morphology.white_tophat(small, morphology.disk(radius // factor))
        background = transform.resize(small - th, s.shape, order=order, preserve_range=True)
        out[z] = np.maximum(s - background, 0).astype(s.dtype)
    return out


# ---------------------------------------------------------------- percentile normalisation
u16 = textured((3, 48, 64), np.uint16, 60000)
case("stack_normalize_u16", "stackPercentileNormalize", u16, percentile_normalize(u16))
f32 = textured((2, 40, 56), np.float32, 1.0)
case("stack_normalize_f32", "stackPercentileNormalize", f32, percentile_normalize(f32, 2, 98, 10, 1000),
     {"lowPercentile": 2, "highPercentile": 98, "targetMin": 10, "targetMax": 1000})
case("slice_normalize_u16", "percentileNormalize", u16, np.stack([percentile_normalize(s[None])[0] for s in u16]),
     note="per slice, DESIGN's float64 formula (OpenHCS rounds through float32 first)")
u8 = textured((2, 33, 47), np.uint8, 255)
case("stack_normalize_u8_opts", "stackPercentileNormalize", u8, percentile_normalize(u8, 5, 95),
     {"lowPercentile": 5, "highPercentile": 95})
flat = np.full((2, 8, 8), 1234, np.uint16)
case("stack_normalize_flat", "stackPercentileNormalize", flat, percentile_normalize(flat, tmin=7), {"targetMin": 7})

# ---------------------------------------------------------------- top-hat
bg = textured((2, 128, 160), np.uint16, 20000)
spots = np.zeros((2, 128, 160))
for _ in range(40):
    z, y, x = rng.integers(0, 2), rng.integers(5, 123), rng.integers(5, 155)
    spots[z, y - 3:y + 4, x - 3:x + 4] += 30000
th_in = np.clip(bg + spots, 0, 65535).astype(np.uint16)
case("tophat_defaults_u16", "tophat", th_in, tophat(th_in), tolerance=1,
     note="skimage resize in float64 vs float32 in the kernel: truncation may differ by 1")
case("tophat_f1_r7_u16", "tophat", th_in[:, :64, :80],
     np.stack([morphology.white_tophat(s, morphology.disk(7)) for s in th_in[:, :64, :80]]),
     {"selemRadius": 7, "downsampleFactor": 1})
u8_th = textured((2, 70, 90), np.uint8, 255)
case("tophat_f2_r10_u8", "tophat", u8_th, tophat(u8_th, 10, 2), {"selemRadius": 10, "downsampleFactor": 2}, tolerance=1)
case("tophat_f1_r50_u16", "tophat", th_in[:1], np.stack([morphology.white_tophat(th_in[0], morphology.disk(50))]),
     {"selemRadius": 50, "downsampleFactor": 1}, note="exact radius-50 disk (no decomposition)")
# upsampleOrder on a slice size the factor does not divide (126 x 157 -> 31 x 39: a non-integer zoom)
th_odd = np.ascontiguousarray(th_in[:, :126, :157])
case("tophat_order0_f4_r20_u16", "tophat", th_odd, tophat(th_odd, 20, 4, order=0),
     {"selemRadius": 20, "downsampleFactor": 4, "upsampleOrder": 0}, tolerance=1,
     note="OpenHCS 0.8.6's nearest upsampling; resize in float64 vs float32 may move a truncation by 1")
case("tophat_order1_f4_r20_u16", "tophat", th_odd, tophat(th_odd, 20, 4, order=1),
     {"selemRadius": 20, "downsampleFactor": 4, "upsampleOrder": 1}, tolerance=1,
     note="the default linear upsampling, asked for explicitly")

# ---------------------------------------------------------------- projections
pj = textured((5, 32, 40), np.uint16, 65535)
case("proj_max", "createProjection", pj, pj.max(0)[None], {"method": "max_projection"})
case("proj_min", "createProjection", pj, pj.min(0)[None], {"method": "min_projection"})
case("proj_mean", "createProjection", pj, np.mean(pj, axis=0).astype(np.uint16)[None], {"method": "mean_projection"})
case("proj_median_odd", "createProjection", pj, np.median(pj, axis=0).astype(np.uint16)[None], {"method": "median_projection"})
pj6 = textured((6, 20, 24), np.uint16, 65535)
case("proj_median_even", "createProjection", pj6, np.median(pj6, axis=0).astype(np.uint16)[None], {"method": "median_projection"})
case("proj_std", "createProjection", pj, np.std(pj, axis=0).astype(np.uint16)[None], {"method": "std_projection"}, tolerance=1)
pjf = textured((4, 16, 16), np.float32, 1.0)
case("proj_std_f32", "createProjection", pjf, np.std(pjf.astype(np.float64), axis=0).astype(np.float32)[None], {"method": "std_projection"}, tolerance=1e-6)

# ---------------------------------------------------------------- pointwise
def sharpen(image, radius=1.0, amount=1.0):
    """OpenHCS numpy_processor.sharpen."""
    result = np.zeros_like(image, dtype=np.float32)
    for z in range(image.shape[0]):
        f = image[z].astype(np.float32) / np.max(image[z])
        blurred = filters.gaussian(f, sigma=radius)
        s = np.clip(f + amount * (f - blurred), 0, 1.0)
        result[z] = exposure.rescale_intensity(s, in_range="image", out_range=(0, 65535))
    return result.astype(image.dtype)


sh = textured((2, 30, 36), np.uint16, 50000)
case("sharpen_u16", "sharpen", sh, sharpen(sh), tolerance=1)
case("sharpen_u16_r2", "sharpen", sh, sharpen(sh, 2.0, 0.5), {"radius": 2, "amount": 0.5}, tolerance=1)

def composite(stack, weights):
    w = np.array(weights, dtype=np.float64)
    w = (w / w.sum()).astype(np.float32)
    return np.sum(stack.astype(np.float32) * w[:, None, None], axis=0).astype(stack.dtype)[None]


cp = textured((3, 24, 28), np.uint16, 65535)
case("composite_weights", "createComposite", cp, composite(cp, [1, 2, 3]), {"weights": [1, 2, 3]}, tolerance=1)
case("composite_equal", "createComposite", cp, composite(cp, [1 / 3] * 3), tolerance=1)

mk = textured((2, 20, 22), np.uint16, 65535)
mask2 = rng.random((20, 22)).astype(np.float32)  # weights in [0, 1): products stay in range
case("mask_2d", "applyMask", mk, (mk.astype(np.float32) * mask2).astype(np.uint16), aux=mask2)
mask3 = rng.random((2, 20, 22)) > 0.5
case("mask_3d_bool_as_u8", "applyMask", mk, (mk.astype(np.float32) * mask3.astype(np.float32)).astype(np.uint16), aux=mask3.astype(np.uint8))

def equalize(stack, bins=65536, lo=0.0, hi=65535.0):
    """OpenHCS numpy_processor.stack_equalize_histogram."""
    hist, edges = np.histogram(stack.flatten(), bins=bins, range=(lo, hi))
    cdf = hist.cumsum()
    if cdf[-1] > 0:
        if np.issubdtype(stack.dtype, np.integer):
            cdf = np.iinfo(stack.dtype).max * cdf / cdf[-1]
        else:
            cdf = cdf / cdf[-1]
    eq = np.interp(stack.flatten(), edges[:-1], cdf).reshape(stack.shape)
    if np.issubdtype(stack.dtype, np.integer):
        info = np.iinfo(stack.dtype)
        return np.clip(eq, info.min, info.max).astype(stack.dtype)
    return eq.astype(stack.dtype)


eqi = textured((2, 40, 40), np.uint16, 40000)
case("equalize_u16", "stackEqualizeHistogram", eqi, equalize(eqi), tolerance=1)
case("equalize_u16_256", "stackEqualizeHistogram", eqi, equalize(eqi, 256, 0, 40000), {"bins": 256, "rangeMin": 0, "rangeMax": 40000}, tolerance=1)

def spatial_bin(stack, b, method):
    z, h, w = stack.shape
    r = stack[:, : h // b * b, : w // b * b].reshape(z, h // b, b, w // b, b)
    return getattr(np, method)(r, axis=(2, 4)).astype(stack.dtype)


bn = textured((2, 50, 64), np.uint16, 65535)
case("bin_mean_3", "spatialBin2d", bn, spatial_bin(bn, 3, "mean"), {"binSize": 3, "method": "mean"})
case("bin_sum_2_wraps", "spatialBin2d", bn, spatial_bin(bn, 2, "sum"), {"binSize": 2, "method": "sum"}, note="uint16 sum wraps as numpy")
case("bin_max_4", "spatialBin2d", bn, spatial_bin(bn, 4, "max"), {"binSize": 4, "method": "max"})
case("crop_box", "crop", bn, bn[1:2, 5:25, 7:40], {"startZ": 1, "startY": 5, "startX": 7, "depth": 1, "height": 20, "width": 33})

# ---------------------------------------------------------------- gaussian
gs = textured((2, 64, 72), np.uint16, 65535)
case("gaussian_u16_s2", "gaussian", gs, np.stack([ndi.gaussian_filter(s, 2.0, mode="reflect", truncate=4.0) for s in gs]), {"sigma": 2}, tolerance=1)
gf = textured((2, 40, 48), np.float32, 1.0)
case("gaussian_f32_s1_5", "gaussian", gf, np.stack([ndi.gaussian_filter(s, 1.5, mode="reflect", truncate=4.0) for s in gf]), {"sigma": 1.5}, tolerance=1e-5)

# ---------------------------------------------------------------- cell counting
def nuclei_stack(z, h, w, per_slice):
    """Seeded synthetic nuclei: Gaussian spots of sigma 2.5–4 px at least 14 px apart and 12 px
    inside the border, on an uneven background with shot-like noise. Returns the uint16 stack and
    the true (x, y) centres per slice."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    stack = np.zeros((z, h, w))
    truth = []
    for k in range(z):
        centres = []
        while len(centres) < per_slice:
            c = rng.uniform(12, [w - 12, h - 12])
            if all((c[0] - o[0]) ** 2 + (c[1] - o[1]) ** 2 >= 14 ** 2 for o in centres):
                centres.append(c)
        img = 2000 + 1500 * np.exp(-(((xx - w * 0.3) ** 2 + (yy - h * 0.7) ** 2) / (2 * (0.6 * w) ** 2)))
        for cx, cy in centres:
            s = rng.uniform(2.5, 4.0)
            img += rng.uniform(8000, 20000) * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * s * s))
        img += rng.normal(0, 300, img.shape)
        stack[k] = img
        truth.append([[float(cx), float(cy)] for cx, cy in centres])
    return np.clip(stack, 0, 65535).astype(np.uint16), truth


def f1(found, truth, tol=3.0):
    """Greedy nearest matching within tol px; returns F1 and the matched distances."""
    found = list(found)
    used, dists = set(), []
    for tx, ty in truth:
        best, bi = None, None
        for i, (fx, fy) in enumerate(found):
            d = ((fx - tx) ** 2 + (fy - ty) ** 2) ** 0.5
            if i not in used and d <= tol and (best is None or d < best):
                best, bi = d, i
        if bi is not None:
            used.add(bi)
            dists.append(best)
    tp = len(dists)
    return (2 * tp / (len(found) + len(truth)) if found or truth else 1.0), dists


def skimage_count(slice_u16):
    """OpenHCS's cpu blob_log counting on the image scaled to [0, 1] (DESIGN §7)."""
    img = slice_u16.astype(np.float64) / 65535.0
    img = filters.gaussian(img, sigma=1.0, preserve_range=True)
    img = median(img, morphology.disk(1))
    blobs = blob_log(img, min_sigma=1, max_sigma=10, num_sigma=10, threshold=0.1, overlap=0.5)
    return [(float(x), float(y)) for y, x, s in blobs if 10 <= 2 * np.pi * s * s <= 1000]


nuc, truth = nuclei_stack(3, 256, 256, 60)
seeded = tophat(percentile_normalize(nuc))  # the seed pipeline: normalise, subtract background, count
sk = [skimage_count(s) for s in seeded]
sk_f1 = [f1(found, t)[0] for found, t in zip(sk, truth)]
save("nuclei.in.npy", nuc)
counting = {
    "input": "nuclei.in.npy",
    "truth": truth,
    "pipeline": "stackPercentileNormalize -> tophat -> countCellsSingleChannel (defaults)",
    "skimage_positions": sk,
    "skimage_f1": sk_f1,
}

manifest = {
    "generator": "make_golden.py",
    "versions": {"numpy": np.__version__, "scipy": scipy.__version__, "scikit-image": skimage.__version__},
    "cases": cases,
    "counting": counting,
}
with open(os.path.join(HERE, "manifest.json"), "w") as f:
    json.dump(manifest, f, indent=1)
print(f"{len(cases)} cases; skimage blob_log F1 per slice: {[round(v, 3) for v in sk_f1]}")
