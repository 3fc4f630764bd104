// Seeded synthetic microscopy data for the processor bench: a nuclei slice with its ground truth
// (for cell-counting F1) and a textured [Z, Y, X] uint16 stack (for timing the stack processors).
// Everything is deterministic given the seed, so stackbridge and the Python peers see the same bytes.

/** mulberry32: a small, fast, well-mixed 32-bit PRNG; returns floats in [0, 1). */
export function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal samples (Box–Muller) from a uniform generator. */
export function normals(rand) {
  let spare = null;
  return () => {
    if (spare !== null) {
      const s = spare;
      spare = null;
      return s;
    }
    let u = 0;
    while (u === 0) u = rand();
    const v = rand();
    const r = Math.sqrt(-2 * Math.log(u));
    spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  };
}

const clampU16 = (v) => (v <= 0 ? 0 : v >= 65535 ? 65535 : Math.round(v));

/**
 * A `height × width` uint16 slice of Gaussian nuclei (sigma `sigmaRange` px, peak `amplitudeRange`
 * above background, centres at least `minDistance` px apart and `border` px inside the edge) on a
 * smooth uneven background (`2000 + 1500·exp(-r²/2s²)` around an off-centre point, s = 0.35·width)
 * plus Gaussian noise of `noiseSigma`. Returns `{ data, truth }`: `truth` is `[[x, y], ...]` (x the
 * column, y the row; sub-pixel) of every nucleus placed — fewer than `count` only if the slice is full.
 */
export function makeNucleiSlice({
  height = 1024, width = 1024, count = 700, seed = 1,
  sigmaRange = [2.5, 4], amplitudeRange = [8000, 20000], minDistance = 14, border = 12, noiseSigma = 300,
} = {}) {
  const rand = mulberry32(seed);
  const gauss = normals(rand);
  const img = new Float64Array(height * width);

  // Background: a broad off-centre hump.
  const cx = width * 0.38;
  const cy = height * 0.61;
  const s2 = 2 * (0.35 * width) ** 2;
  for (let y = 0; y < height; y++) {
    const dy2 = (y - cy) ** 2;
    for (let x = 0; x < width; x++) img[y * width + x] = 2000 + 1500 * Math.exp(-((x - cx) ** 2 + dy2) / s2);
  }

  // Dart throwing on a grid of `minDistance` cells: a candidate only checks the 5×5 cells around it.
  const cell = minDistance;
  const gw = Math.ceil(width / cell);
  const gh = Math.ceil(height / cell);
  const grid = Array.from({ length: gw * gh }, () => []);
  const truth = [];
  const d2min = minDistance * minDistance;
  for (let attempt = 0; attempt < count * 300 && truth.length < count; attempt++) {
    const x = border + rand() * (width - 1 - 2 * border);
    const y = border + rand() * (height - 1 - 2 * border);
    const gx = Math.floor(x / cell);
    const gy = Math.floor(y / cell);
    let ok = true;
    for (let j = Math.max(0, gy - 2); ok && j <= Math.min(gh - 1, gy + 2); j++) {
      for (let i = Math.max(0, gx - 2); ok && i <= Math.min(gw - 1, gx + 2); i++) {
        for (const [px, py] of grid[j * gw + i]) if ((px - x) ** 2 + (py - y) ** 2 < d2min) { ok = false; break; }
      }
    }
    if (!ok) continue;
    grid[gy * gw + gx].push([x, y]);
    truth.push([x, y]);
    const sigma = sigmaRange[0] + rand() * (sigmaRange[1] - sigmaRange[0]);
    const amp = amplitudeRange[0] + rand() * (amplitudeRange[1] - amplitudeRange[0]);
    const reach = Math.ceil(4 * sigma);
    const inv = 1 / (2 * sigma * sigma);
    for (let yy = Math.max(0, Math.floor(y) - reach); yy <= Math.min(height - 1, Math.ceil(y) + reach); yy++) {
      for (let xx = Math.max(0, Math.floor(x) - reach); xx <= Math.min(width - 1, Math.ceil(x) + reach); xx++) {
        img[yy * width + xx] += amp * Math.exp(-((xx - x) ** 2 + (yy - y) ** 2) * inv);
      }
    }
  }

  const data = new Uint16Array(height * width);
  for (let i = 0; i < data.length; i++) data[i] = clampU16(img[i] + noiseSigma * gauss());
  return { data, truth };
}

/**
 * A textured `depth × height × width` uint16 stack: per slice a smooth field built from a few
 * separable low-frequency terms (different phases per slice) plus Gaussian noise (σ = `noiseSigma`,
 * drawn from a table with xorshift32 indices, so 40 M pixels take well under 2 s).
 */
export function makeTexturedStack({ depth = 10, height = 2048, width = 2048, seed = 7, noiseSigma = 400 } = {}) {
  const rand = mulberry32(seed);
  const gauss = normals(rand);
  const table = new Float32Array(1 << 16);
  for (let i = 0; i < table.length; i++) table[i] = noiseSigma * gauss();
  const TERMS = 4;
  const data = new Uint16Array(depth * height * width);
  const cols = Array.from({ length: TERMS }, () => new Float32Array(width));
  const rows = Array.from({ length: TERMS }, () => new Float32Array(height));
  let state = (seed * 2654435761) >>> 0 || 1;
  for (let z = 0; z < depth; z++) {
    for (let k = 0; k < TERMS; k++) {
      // Wavelengths from ~1000 px down to ~60 px: smooth background plus cell-sized structure.
      const f = (2 * Math.PI) / (1000 / (1 + 5 * k) * (0.8 + 0.4 * rand()));
      const px = rand() * 2 * Math.PI;
      const py = rand() * 2 * Math.PI;
      const amp = 3000 / (1 + k);
      for (let x = 0; x < width; x++) cols[k][x] = amp * Math.sin(f * x + px);
      for (let y = 0; y < height; y++) rows[k][y] = Math.cos(f * 0.9 * y + py);
    }
    const base = 12000 + 1000 * z;
    const [c0, c1, c2, c3] = cols;
    for (let y = 0; y < height; y++) {
      const r0 = rows[0][y], r1 = rows[1][y], r2 = rows[2][y], r3 = rows[3][y];
      const o = (z * height + y) * width;
      for (let x = 0; x < width; x += 2) {
        state ^= state << 13;
        state ^= state >>> 17;
        state ^= state << 5;
        const smooth0 = base + c0[x] * r0 + c1[x] * r1 + c2[x] * r2 + c3[x] * r3;
        const smooth1 = base + c0[x + 1] * r0 + c1[x + 1] * r1 + c2[x + 1] * r2 + c3[x + 1] * r3;
        // +0.5 then the store's truncation rounds; the field stays inside [0, 65535] by construction.
        const v0 = smooth0 + table[state & 0xffff] + 0.5;
        const v1 = smooth1 + table[state >>> 16] + 0.5;
        data[o + x] = v0 < 0 ? 0 : v0 > 65535 ? 65535 : v0;
        data[o + x + 1] = v1 < 0 ? 0 : v1 > 65535 ? 65535 : v1;
      }
    }
  }
  return data;
}
