"""tifffile's side of the TIFF decode bench (bench/tiff.js starts this script).

    python bench/tiff_peer.py <dir>

Writes the bench files into <dir> (once: 32 pages of 1024×1024 uint16 noise-on-ramp, uncompressed,
LZW, Deflate, and Deflate tiled 256×256) and prints {"tifffile": version, "results": {file: best
seconds of tifffile.imread over 5 runs}} on stdout. tifffile decodes pages with its default
thread pool (imagecodecs for LZW/Deflate), as a user would call it.
"""
import json
import os
import sys
import time

import numpy as np
import tifffile

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(7)
yy, xx = np.mgrid[0:1024, 0:1024]
base = (xx + yy).astype(np.uint16)
data = np.stack([base + rng.integers(0, 64, size=base.shape, dtype=np.uint16) for _ in range(32)])
files = {
    "u16_none.tif": {},
    "u16_lzw.tif": {"compression": "lzw"},
    "u16_deflate.tif": {"compression": "zlib"},
    "u16_deflate_tiled.tif": {"compression": "zlib", "tile": (256, 256)},
}
results = {}
for name, kw in files.items():
    path = os.path.join(out, name)
    if not os.path.exists(path):
        tifffile.imwrite(path, data, photometric="minisblack", **kw)
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        a = tifffile.imread(path)
        best = min(best, time.perf_counter() - t)
    assert np.array_equal(a, data)
    results[name] = best
print(json.dumps({"tifffile": tifffile.__version__, "results": results}))
