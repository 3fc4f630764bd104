"""Golden data of the binary group (DESIGN §12): scipy.ndimage binary morphology with
skimage.morphology.disk(r) or the (2r+1)² square (scipy's border_value=0), binary_fill_holes,
skimage.morphology.remove_small_objects / remove_small_holes of scikit-image 0.26 on x != 0."""
import warnings

from common import *
import scipy.ndimage as ndi
from skimage.morphology import disk, remove_small_holes, remove_small_objects

start("binary")
warnings.simplefilter("ignore")


def fp(r, kind):
    return disk(r).astype(bool) if kind == "disk" else np.ones((2 * r + 1, 2 * r + 1), bool)


MORPH = {"binaryDilation": ndi.binary_dilation, "binaryErosion": ndi.binary_erosion, "binaryOpening": ndi.binary_opening, "binaryClosing": ndi.binary_closing}


def per_slice(x, f):
    return np.stack([f(x[k] != 0) for k in range(x.shape[0])]).astype(np.uint8)


def mask(r, shape, density=0.5, sigma=1.5):
    """A blobby mask (smoothed noise thresholded), with holes and small specks."""
    b = ndi.gaussian_filter(r.random(shape), (0, sigma, sigma))
    t = np.quantile(b, 1 - density)
    return b > t


r = rng(11)
DT = [np.uint8, np.uint16, np.int16, np.int32, np.uint32, np.float32, np.float64]


def typed(m, dt):
    """The mask as dtype dt with varied nonzero values (negative ones for signed types)."""
    v = r.integers(1, 100, m.shape)
    if dt in (np.int16, np.int32):
        v = v * np.where(r.random(m.shape) < 0.5, -1, 1)
    out = np.where(m, v, 0).astype(dt)
    if dt in (np.float32, np.float64):
        out = np.where(m, r.random(m.shape) + 0.01, 0).astype(dt)
    return out


for proc, f in MORPH.items():
    short = proc[len("binary"):].lower()
    for dt in DT:
        x = typed(mask(r, (2, 23, 31)), dt)
        case(f"{short}_{np.dtype(dt).name}", proc, x, per_slice(x, lambda s: f(s, structure=fp(1, "disk"))))
    for kind in ("disk", "square"):
        for rad in (0, 1, 2, 4):
            x = mask(r, (1, 29, 26), 0.55).astype(np.uint8)
            case(f"{short}_{kind}_r{rad}", proc, x, per_slice(x, lambda s: f(s, structure=fp(rad, kind))), options={"radius": rad, "footprint": kind})
    # Borders: a full image (erosion and closing eat the border), tiny shapes.
    full = np.ones((1, 7, 9), np.uint8)
    case(f"{short}_full_r2", proc, full, per_slice(full, lambda s: f(s, structure=fp(2, "disk"))), options={"radius": 2})
    for shape in [(1, 1, 1), (2, 1, 7), (1, 6, 1), (1, 2, 3)]:
        x = (r.random(shape) < 0.6).astype(np.uint8)
        case(f"{short}_tiny_{'x'.join(map(str, shape))}", proc, x, per_slice(x, lambda s: f(s, structure=fp(1, "square"))), options={"footprint": "square"})
    # Radius larger than the image.
    x = mask(r, (1, 5, 6), 0.5).astype(np.uint8)
    case(f"{short}_r7_on_5x6", proc, x, per_slice(x, lambda s: f(s, structure=fp(7, "disk"))), options={"radius": 7})

# NaN counts as nonzero (numpy's NaN != 0).
x = typed(mask(r, (1, 12, 13)), np.float32)
x[0, 2, 3] = np.nan
case("dilation_nan_f32", "binaryDilation", x, per_slice(x, lambda s: ndi.binary_dilation(s, structure=fp(1, "disk"))))

for dt in DT:
    x = typed(mask(r, (2, 25, 27), 0.6), dt)
    case(f"fillholes_{np.dtype(dt).name}", "binaryFillHoles", x, per_slice(x, ndi.binary_fill_holes))
ring = np.zeros((1, 9, 9), np.uint8)
ring[0, 2:7, 2:7] = 1
ring[0, 4, 4] = 0
ring[0, 0, 1:4] = 1
ring[0, 1, 1] = 1
ring[0, 1, 3] = 1  # a hole at (1,2) closed against... the border row 0 cell above is foreground
case("fillholes_ring", "binaryFillHoles", ring, per_slice(ring, ndi.binary_fill_holes))
for shape in [(1, 1, 1), (1, 1, 5), (1, 3, 3)]:
    x = np.ones(shape, np.uint8)
    if shape == (1, 3, 3):
        x[0, 1, 1] = 0
    case(f"fillholes_tiny_{'x'.join(map(str, shape))}", "binaryFillHoles", x, per_slice(x, ndi.binary_fill_holes))

for conn in (1, 2):
    for ms in (0, 1, 5, 12, 64):
        x = typed(mask(r, (2, 31, 33), 0.35, 1.0), np.uint16)
        case(f"smallobjects_c{conn}_m{ms}", "removeSmallObjects", x, per_slice(x, lambda s: remove_small_objects(s, min_size=ms, connectivity=conn)), options={"minSize": ms, "connectivity": conn})
        x = typed(mask(r, (2, 31, 33), 0.65, 1.0), np.float32)
        case(f"smallholes_c{conn}_a{ms}", "removeSmallHoles", x, per_slice(x, lambda s: remove_small_holes(s, area_threshold=ms, connectivity=conn)), options={"areaThreshold": ms, "connectivity": conn})
x = typed(mask(r, (1, 64, 64), 0.4, 2.0), np.int16)
case("smallobjects_default_i16", "removeSmallObjects", x, per_slice(x, lambda s: remove_small_objects(s, min_size=64)), note="minSize 64: at most 64 pixels removed (skimage 0.26 min_size → max_size)")
x = typed(mask(r, (1, 64, 64), 0.6, 2.0), np.uint8)
case("smallholes_default_u8", "removeSmallHoles", x, per_slice(x, lambda s: remove_small_holes(s, area_threshold=64)))
for shape in [(1, 1, 1), (1, 1, 6), (1, 2, 3)]:
    x = (r.random(shape) < 0.5).astype(np.uint8)
    case(f"smallobjects_tiny_{'x'.join(map(str, shape))}", "removeSmallObjects", x, per_slice(x, lambda s: remove_small_objects(s, min_size=1)), options={"minSize": 1})
    case(f"smallholes_tiny_{'x'.join(map(str, shape))}", "removeSmallHoles", x, per_slice(x, lambda s: remove_small_holes(s, area_threshold=2)), options={"areaThreshold": 2})

write()
