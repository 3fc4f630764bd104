// Runs the hot kernels on seeded data and prints one JSON line: a SHA-256 of every output. Run by
// scripts/baseline-cpu.mjs on this CPU and under an emulated CPU without AVX/AVX2 (qemu -cpu Nehalem):
// equal hashes mean the portable binary runs there and every code path gives the same bytes.
import { createHash } from 'node:crypto';
import { asarray, astype, scaleToDtype } from '../dist/index.js';
import * as P from '../dist/processors/numpy.js';
import { countCellsSingleChannel } from '../dist/analysis.js';

const [Z, Y, X] = [2, 96, 112]; // odd sizes: the vector loops' tails run too
let seed = 12345;
const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
const u16 = asarray(new Uint16Array(Z * Y * X).map(() => Math.floor(rand() * 60000)), { shape: [Z, Y, X] });
const f32 = asarray(new Float32Array(Z * Y * X).map(() => rand() * 1000 - 200), { shape: [Z, Y, X] });
const mask = asarray(new Uint8Array(Y * X).map(() => (rand() < 0.5 ? 1 : 0)), { shape: [Y, X] });
const hash = (a) => createHash('sha256').update(new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength)).digest('hex').slice(0, 16);

const out = {};
for (const [name, input] of [['u16', u16], ['f32', f32]]) {
  out[`normalize.${name}`] = hash(await P.stackPercentileNormalize(input));
  out[`percentileNormalize.${name}`] = hash(await P.percentileNormalize(input, { lowPercentile: 5, highPercentile: 95 }));
  out[`gaussian.${name}`] = hash(await P.gaussian(input, { sigma: 2 }));
  out[`tophat.${name}`] = hash(await P.tophat(input, { selemRadius: 12, downsampleFactor: 2 }));
  out[`tophatExact.${name}`] = hash(await P.tophat(input, { selemRadius: 5, downsampleFactor: 1 }));
  for (const method of ['max_projection', 'min_projection', 'mean_projection', 'median_projection', 'std_projection']) {
    out[`${method}.${name}`] = hash(await P.createProjection(input, { method }));
  }
  out[`sharpen.${name}`] = hash(await P.sharpen(input));
  out[`applyMask.${name}`] = hash(await P.applyMask(input, mask));
  out[`spatialBin2d.${name}`] = hash(await P.spatialBin2d(input, { binSize: 3, method: 'mean' }));
  for (const dtype of ['uint8', 'uint16', 'int16', 'int32', 'float32', 'float64']) {
    out[`astype.${name}.${dtype}`] = hash(await astype(input, dtype));
  }
  out[`scaleToDtype.${name}`] = hash(await scaleToDtype(input, 'uint8'));
}
out['equalize.u16'] = hash(await P.stackEqualizeHistogram(u16));
const [, cells] = await countCellsSingleChannel(u16, { detectionMethod: 'blob_log' });
out['blob_log.u16'] = createHash('sha256').update(JSON.stringify(cells.map((c) => [c.cellCount, c.positions, c.areas]))).digest('hex').slice(0, 16);
console.log(JSON.stringify(out));
