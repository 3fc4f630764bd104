/**
 * Runs the dispatching kernels on a fixed, seeded stack through the public API and prints one JSON
 * line: a SHA-256 of each result's bytes and `cpuFeatures()`. `__test__/cpu.spec.ts` runs it in
 * child processes under different `STACKBRIDGE_CPU_LEVEL`s and compares the hashes.
 */
import { createHash } from 'node:crypto';
import { asarray, astype, cpuFeatures, scaleToDtype, type NDArray } from '../../ts/index.js';
import * as np from '../../ts/processors/numpy.js';

export async function kernelHashes(): Promise<Record<string, string>> {
  const [z, h, w] = [4, 300, 517];
  const data = new Uint16Array(z * h * w);
  let s = 0x2545f491;
  for (let i = 0; i < data.length; i++) {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    const x = i % w;
    const y = Math.floor(i / w) % h;
    data[i] = Math.min(65535, 8000 + 4000 * Math.sin(x / 31) * Math.cos(y / 17) + ((x >> 4) % 5 === 0 ? 20000 : 0) + (s % 6000));
  }
  const stack = asarray(data, { shape: [z, h, w], dtype: 'uint16' });
  const mask = asarray(Float32Array.from({ length: h * w }, (_, i) => ((i * 7919) % 1000) / 600), { shape: [h, w], dtype: 'float32' });
  const runs: Record<string, () => Promise<NDArray>> = {
    normalize: () => np.stackPercentileNormalize(stack, { lowPercentile: 1, highPercentile: 99 }),
    gaussian: () => np.gaussian(stack, { sigma: 2 }),
    tophat: () => np.tophat(stack, { selemRadius: 12, downsampleFactor: 1 }),
    median: () => np.createProjection(stack, { method: 'median_projection' }),
    std: () => np.createProjection(stack, { method: 'std_projection' }),
    applyMask: () => np.applyMask(stack, mask),
    astype: () => astype(stack, 'float32'),
    scale: async () => scaleToDtype(await astype(stack, 'float32'), 'uint8'),
  };
  const out: Record<string, string> = {};
  for (const [name, run] of Object.entries(runs)) {
    const r = await run();
    out[name] = createHash('sha256').update(new Uint8Array(r.data.buffer, r.data.byteOffset, r.data.byteLength)).digest('hex');
    r.dispose();
  }
  return out;
}

if (process.argv[1]?.endsWith('cpu-paths.ts')) {
  const hashes = await kernelHashes();
  console.log(JSON.stringify({ hashes, features: cpuFeatures() }));
}
