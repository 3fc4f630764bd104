/**
 * Shared by the device specs (OpenCL, the fake CUDA cards, a real CUDA card): deterministic test
 * stacks, the comparison against the CPU processors, and the processor calls every device family
 * is checked with.
 */
import { asarray, type NDArray } from '../../ts/ndarray.js';
import type * as cpu from '../../ts/processors/numpy.js';
import type { Dtype } from '../../ts/types.js';

/** xorshift values in [0, 1), deterministic. */
export function rand(n: number, seed: number): number[] {
  let s = seed >>> 0 || 1;
  return Array.from({ length: n }, () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  });
}

/** A [z, h, w] stack of bright Gaussian spots on a sloped, noisy background, as `dtype`. */
export function cells(z: number, h: number, w: number, dtype: Dtype, seed = 1): NDArray {
  const r = rand(z * h * w + 64 * z, seed);
  const v = new Float64Array(z * h * w);
  for (let k = 0; k < z; k++) {
    const spots = Array.from({ length: 14 }, (_, i) => [4 + r[k * 64 + 2 * i]! * (h - 8), 4 + r[k * 64 + 2 * i + 1]! * (w - 8)]);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        let s = 0;
        for (const [cy, cx] of spots) s += Math.exp(-((y - cy!) ** 2 + (x - cx!) ** 2) / (2 * 2.2 ** 2));
        v[(k * h + y) * w + x] = 0.05 + 0.1 * (x / w) + 0.7 * Math.min(s, 1) + 0.05 * r[64 * z + (k * h + y) * w + x]!;
      }
    }
  }
  const scale = dtype === 'uint8' ? 255 : dtype === 'uint16' ? 60000 : dtype === 'int16' ? 30000 : dtype === 'int32' ? 1e6 : 1;
  const values = Array.from(v, (x) => (dtype.startsWith('float') ? x * scale : Math.floor(x * scale)));
  return asarray(values, { shape: [z, h, w], dtype });
}

/** At most `maxDiff` apart everywhere and at most `maxFrac` of the elements differing at all. */
export async function close(t: import('ava').ExecutionContext, got: NDArray, want: NDArray, what: string, maxDiff: number, maxFrac: number) {
  t.deepEqual(got.shape, want.shape, `${what}: shape`);
  t.is(got.dtype, want.dtype, `${what}: dtype`);
  const [a, b] = [await got.toTypedArray(), await want.toTypedArray()];
  let differing = 0;
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(Number(a[i]) - Number(b[i]));
    const rel = want.dtype.startsWith('float') ? d / Math.max(1, Math.abs(Number(b[i]))) : d;
    if (d > 0) differing++;
    worst = Math.max(worst, rel);
  }
  t.true(worst <= maxDiff, `${what}: largest difference ${worst} > ${maxDiff}`);
  t.true(differing <= maxFrac * a.length, `${what}: ${differing} of ${a.length} elements differ`);
}

/** Each processor with options that reach its code paths, as a call on any family. */
export const CASES: [string, (s: NDArray, f: typeof cpu) => Promise<NDArray>][] = [
  ['stackPercentileNormalize', (s, f) => f.stackPercentileNormalize(s)],
  ['percentileNormalize 5/95 → 100..60000', (s, f) => f.percentileNormalize(s, { lowPercentile: 5, highPercentile: 95, targetMin: 100, targetMax: 60000 })],
  ['tophat defaults (r 50, f 4)', (s, f) => f.tophat(s)],
  ['tophat exact r 7', (s, f) => f.tophat(s, { selemRadius: 7, downsampleFactor: 1 })],
  ['createProjection max', (s, f) => f.createProjection(s, { method: 'max_projection' })],
  ['createProjection min', (s, f) => f.createProjection(s, { method: 'min_projection' })],
  ['createProjection mean', (s, f) => f.meanProjection(s)],
  ['createProjection median', (s, f) => f.createProjection(s, { method: 'median_projection' })],
  ['createProjection std', (s, f) => f.createProjection(s, { method: 'std_projection' })],
  ['sharpen', (s, f) => f.sharpen(s, { radius: 1.5, amount: 2 })],
  ['createComposite', (s, f) => f.createComposite(s, { weights: [0.2, 0.3, 0.5] })],
  ['stackEqualizeHistogram', (s, f) => f.stackEqualizeHistogram(s)],
  ['spatialBin2d mean 3', (s, f) => f.spatialBin2d(s, { binSize: 3, method: 'mean' })],
  ['spatialBin2d max 2', (s, f) => f.spatialBin2d(s, { binSize: 2, method: 'max' })],
  ['crop', (s, f) => f.crop(s, { startZ: 1, startY: 3, startX: 5, depth: 2, height: 40, width: 33 })],
  ['gaussian σ 2', (s, f) => f.gaussian(s, { sigma: 2 })],
];

