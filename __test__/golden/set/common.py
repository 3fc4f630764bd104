"""Shared writer of the processor-set golden data (DESIGN §12): each `make_<group>.py` imports this,
adds cases computed with the oracle named in §12 (scikit-image / scipy / numpy, never stackbridge)
and calls `write(group)`, which saves `<group>.<case>.{in,aux<i>,out}.npy` and `<group>.json`.

    python3 -m venv .venv && .venv/bin/pip install numpy==2.4.6 scipy==1.17.1 scikit-image==0.26.0
    for f in __test__/golden/set/make_*.py; do .venv/bin/python $f; done

`__test__/set.spec.ts` runs every case on the CPU and on OpenCL.
"""
import json
import os

import numpy as np
import scipy
import skimage

HERE = os.path.dirname(os.path.abspath(__file__))
_cases = []


def _save(name, arr):
    arr = np.ascontiguousarray(arr)
    if arr.dtype == np.bool_:
        arr = arr.astype(np.uint8)
    if arr.dtype == np.int64:
        # skimage's labels and numpy's argmax indices: the engine's uint32 (DESIGN §12).
        assert arr.size == 0 or (arr.min() >= 0 and arr.max() < 2**32), name
        arr = arr.astype(np.uint32)
    np.save(os.path.join(HERE, name), arr, allow_pickle=False)
    return name


def case(name, processor, inp, out=None, options=None, aux=(), special=None, tolerance=0, special_tolerance=0, note=""):
    """One case. `out`: the expected stack (None for measurements, whose stack is the input);
    `aux`: the further arrays in the processor's order (None for an optional one left out);
    `special`: the expected special output (JSON-able); tolerances are absolute."""
    assert inp.ndim == 3, name
    _cases.append(
        {
            "name": name,
            "processor": processor,
            "options": options or {},
            "input": _save(f"{GROUP}.{name}.in.npy", inp),
            "aux": [None if a is None else _save(f"{GROUP}.{name}.aux{i}.npy", a) for i, a in enumerate(aux)],
            "expected": None if out is None else _save(f"{GROUP}.{name}.out.npy", out),
            "special": special,
            "tolerance": tolerance,
            "specialTolerance": special_tolerance,
            "note": note,
        }
    )


GROUP = None


def start(group):
    """Begins group `group` (removes its previous files)."""
    global GROUP
    GROUP = group
    for f in os.listdir(HERE):
        if f.startswith(f"{group}.") and (f.endswith(".npy") or f.endswith(".json")):
            os.remove(os.path.join(HERE, f))
    _cases.clear()


def write():
    manifest = {
        "generator": f"make_{GROUP}.py",
        "versions": {"numpy": np.__version__, "scipy": scipy.__version__, "scikit-image": skimage.__version__},
        "cases": _cases,
    }
    with open(os.path.join(HERE, f"{GROUP}.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    print(f"{GROUP}: {len(_cases)} cases")


def rng(seed):
    return np.random.default_rng(seed)


def textured(r, shape, dtype, hi):
    """Smooth structure + noise + a few saturated and zero pixels, in [0, hi], as `dtype`."""
    import scipy.ndimage as ndi

    base = ndi.gaussian_filter(r.random(shape), (0, 3, 3))
    base = (base - base.min()) / (base.max() - base.min() + 1e-12)
    img = (0.7 * base + 0.3 * r.random(shape)) * hi
    img.flat[r.integers(0, img.size, max(1, img.size // 200))] = hi
    img.flat[r.integers(0, img.size, max(1, img.size // 200))] = 0
    return img.astype(dtype)


def blobs(r, shape, n=6, radius=4):
    """A float image of `n` Gaussian spots per slice on a dim background (for segmentation cases)."""
    z, h, w = shape
    yy, xx = np.mgrid[0:h, 0:w]
    out = np.zeros(shape)
    for k in range(z):
        for _ in range(n):
            cy, cx = r.uniform(2, h - 2), r.uniform(2, w - 2)
            out[k] += np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * radius**2))
    return out / out.max() + 0.05 * r.random(shape)
