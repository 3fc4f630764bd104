/**
 * Seeded synthetic microscopy images with known nuclei (Gaussian spots on an uneven background
 * with noise), shared by the stack demo (`demo.ts`) and the CLI's demo plate (`stackbridge demo`).
 */

/** mulberry32: a small seeded PRNG with uniform output in [0, 1). */
export function mulberry32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A standard normal sample (Box–Muller). */
function gaussian(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

export interface Nucleus {
  x: number;
  y: number;
  sigma: number;
  amplitude: number;
}

/** `count` nuclei at least `minDistance` apart and `margin` px inside a `w`×`h` image (rejection sampling). */
export function placeNuclei(rand: () => number, count: number, w: number, h: number, minDistance = 20, margin = 12): Nucleus[] {
  const nuclei: Nucleus[] = [];
  while (nuclei.length < count) {
    const x = margin + rand() * (w - 2 * margin);
    const y = margin + rand() * (h - 2 * margin);
    if (nuclei.some((n) => Math.hypot(n.x - x, n.y - y) < minDistance)) continue;
    nuclei.push({ x, y, sigma: 2.5 + rand(), amplitude: 2500 + rand() * 3500 });
  }
  return nuclei;
}

/** Uneven illumination: a horizontal ramp, a vertical bow and a per-slice offset. */
function background(x: number, y: number, z: number, w: number, h: number): number {
  return 600 + 900 * (x / w) + 500 * (y / h) ** 2 + 120 * z;
}

/** Adds one Gaussian spot into `plane` within 4 sigma of its centre. */
function addNucleus(plane: Float64Array, n: Nucleus, w: number, h: number): void {
  const r = Math.ceil(4 * n.sigma);
  for (let y = Math.max(0, Math.floor(n.y) - r); y <= Math.min(h - 1, Math.floor(n.y) + r); y++) {
    for (let x = Math.max(0, Math.floor(n.x) - r); x <= Math.min(w - 1, Math.floor(n.x) + r); x++) {
      const d2 = (x - n.x) ** 2 + (y - n.y) ** 2;
      plane[y * w + x] += n.amplitude * Math.exp(-d2 / (2 * n.sigma * n.sigma));
    }
  }
}

/** One uint16 `w`×`h` slice into `out`: background + nuclei + Gaussian noise (σ = 40), rounded and clipped. */
export function renderSlice(rand: () => number, z: number, nuclei: Nucleus[], out: Uint16Array, w: number, h: number): void {
  const plane = new Float64Array(h * w);
  for (let i = 0; i < plane.length; i++) plane[i] = background(i % w, Math.floor(i / w), z, w, h);
  for (const n of nuclei) addNucleus(plane, n, w, h);
  for (let i = 0; i < plane.length; i++) {
    out[i] = Math.min(65535, Math.max(0, Math.round(plane[i]! + 40 * gaussian(rand))));
  }
}
