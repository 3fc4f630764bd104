"""Python peers of the processor-set bench (bench/set.js starts this script): scikit-image / scipy on
the CPU and pyclesperanto on its OpenCL device (the same PoCL device as ours here), every operation
per Z slice of the same 4×1024×1024 uint16 stack (and the same mask and labels, written by set.js).

Reads one JSON object on stdin: {"files": {"stack", "mask", "labels"}, "jobs": [{"id", "peer", "op"}]}
and prints {"versions", "skipped": {peer: reason}, "results": {id: {"seconds", "runs"}}, "errors": {id: msg}}.
A time is the best of N runs (N = 3, 5 under 0.2 s, 1 over 3 s). pyclesperanto's inputs are pushed to the
device before timing and each timed run pulls its result to the host (so it measures finished work).
"""
import json
import sys
import time
import traceback

import numpy as np


def log(msg):
    print(f"[set-peers] {msg}", file=sys.stderr, flush=True)


def best_of(fn):
    t = time.perf_counter()
    fn()
    times = [time.perf_counter() - t]
    n = 1 if times[0] > 3 else 5 if times[0] < 0.2 else 3
    for _ in range(n - 1):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times), len(times)


PROPS = ("label", "area", "centroid", "bbox", "intensity_mean", "intensity_min", "intensity_max", "intensity_std",
         "equivalent_diameter_area", "eccentricity", "orientation", "axis_major_length", "axis_minor_length", "perimeter", "solidity")


def main():
    req = json.load(sys.stdin)
    out = {"versions": {"numpy": np.__version__}, "skipped": {}, "results": {}, "errors": {}}
    stack = np.load(req["files"]["stack"])
    mask = np.load(req["files"]["mask"])
    labels = np.load(req["files"]["labels"])
    mods = {}
    try:
        import scipy
        import skimage
        from skimage import filters, measure, morphology, restoration, segmentation
        out["versions"]["scikit-image"] = skimage.__version__
        out["versions"]["scipy"] = scipy.__version__
        mods["scikit-image"] = (filters, measure, morphology, restoration, segmentation)
    except Exception as e:
        out["skipped"]["scikit-image"] = f"{type(e).__name__}: {e}"
    try:
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import pyclesperanto as cle
        dev = cle.get_device()
        out["versions"]["pyclesperanto"] = f"{cle.__version__} on {dev.name}"
        mods["pyclesperanto"] = cle
    except Exception as e:
        out["skipped"]["pyclesperanto"] = f"{type(e).__name__}: {e}"

    def sk_voronoi(img, spot_sigma=2, outline_sigma=2):
        filters, measure, morphology, _, segmentation = mods["scikit-image"]
        img = img.astype(np.float64)
        spots = morphology.local_maxima(filters.gaussian(img, spot_sigma))
        blurred = filters.gaussian(img, outline_sigma)
        binary = blurred > filters.threshold_otsu(blurred)
        return segmentation.watershed(binary, measure.label(spots & binary), mask=binary)

    def skimage_job(op):
        filters, measure, morphology, restoration, _ = mods["scikit-image"]
        per_slice = {
            "median": lambda k: filters.median(stack[k], morphology.disk(3)),
            "ccl": lambda k: measure.label(mask[k], connectivity=2),
            "voronoi": lambda k: sk_voronoi(stack[k]),
            "regionprops": lambda k: measure.regionprops_table(labels[k], stack[k], properties=PROPS),
            "otsu": lambda k: stack[k] > filters.threshold_otsu(stack[k]),
            "rolling_ball": lambda k: stack[k] - restoration.rolling_ball(stack[k], radius=25).astype(stack.dtype),
            "sobel": lambda k: filters.sobel(stack[k].astype(np.float64)),
        }[op]
        return lambda: [per_slice(k) for k in range(stack.shape[0])]

    def cle_job(op):
        cle = mods["pyclesperanto"]
        slices = [cle.push(stack[k]) for k in range(stack.shape[0])]
        masks = [cle.push(mask[k]) for k in range(stack.shape[0])]
        labs = [cle.push(labels[k].astype(np.uint32)) for k in range(stack.shape[0])]
        per_slice = {
            "median": lambda k: cle.pull(cle.median_sphere(slices[k], radius_x=3, radius_y=3, radius_z=0)),
            "ccl": lambda k: cle.pull(cle.connected_components_labeling(masks[k], connectivity="box")),
            "voronoi": lambda k: cle.pull(cle.voronoi_otsu_labeling(slices[k], spot_sigma=2, outline_sigma=2)),
            "regionprops": lambda k: cle.statistics_of_labelled_pixels(slices[k], labs[k]),
            "otsu": lambda k: cle.pull(cle.threshold_otsu(slices[k])),
            "sobel": lambda k: cle.pull(cle.sobel(slices[k])),
        }.get(op)
        if per_slice is None:
            return None
        return lambda: [per_slice(k) for k in range(stack.shape[0])]

    for job in req["jobs"]:
        peer, op = job["peer"], job["op"]
        if peer not in mods:
            continue
        try:
            fn = skimage_job(op) if peer == "scikit-image" else cle_job(op)
            if fn is None:
                out["errors"][job["id"]] = f"{peer} has no {op}"
                continue
            log(f"{peer} {op} …")
            secs, runs = best_of(fn)
            out["results"][job["id"]] = {"seconds": secs, "runs": runs}
        except Exception as e:
            out["errors"][job["id"]] = f"{type(e).__name__}: {e}"
            traceback.print_exc(file=sys.stderr)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
