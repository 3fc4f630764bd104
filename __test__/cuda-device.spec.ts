/**
 * The CUDA domain on a real NVIDIA GPU (stackbridge-cuda's backend device): transfers, zero-copy
 * between cupy / torch / jax, device memory accounting and limits, device moves, and (the suite
 * shared with the fake cards) every processor of the cupy and torch families equal to the CPU's,
 * OOM recovery by Z-chunking, concurrent pipelines on distinct streams and the seed's pipeline. Without a CUDA device these tests skip
 * with a printed reason, unless STACKBRIDGE_REQUIRE_CUDA=1 (`scripts/gpu-check` sets it), which
 * makes them run and fail. The same paths run on the fake device in `fake-cuda.spec.ts`.
 */
import { deviceTest } from './helpers/device-gate.js';
import { convertMemory } from '../ts/convert.js';
import { devices, emptyCache, memoryInfo, setMemoryLimit } from '../ts/devices.js';
import { OutOfMemoryError } from '../ts/errors.js';
import { asarray, zeros } from '../ts/ndarray.js';
import { copy } from '../ts/ops.js';
import { cudaSuite } from './helpers/cuda-suite.js';

const FAKE = process.env.STACKBRIDGE_FAKE_CUDA !== undefined;
const CUDA = FAKE ? [] : devices().filter((d) => d.kind === 'cuda');
const cudaTest = deviceTest('cuda-device.spec', CUDA.length > 0, 'STACKBRIDGE_REQUIRE_CUDA', 'no CUDA device on this machine');

function ramp(n: number): Uint16Array {
  return Uint16Array.from({ length: n }, (_, i) => (i * 7919) % 65521);
}

cudaTest('cuda:0 is listed with its memory and compute capability', (t) => {
  t.true(CUDA.length > 0);
  t.regex(CUDA[0]!.computeCapability ?? '', /^\d+\.\d+$/);
  const m = memoryInfo('cuda:0');
  t.true(m.totalBytes > 0 && m.freeBytes <= m.totalBytes);
});

cudaTest('numpy → cupy → torch → jax → numpy: transfers at the ends, zero-copy on the device, values unchanged', async (t) => {
  const data = ramp(3 * 512 * 512);
  const host = asarray(data, { shape: [3, 512, 512] });
  const c = await convertMemory(host, { targetType: 'cupy' });
  t.is(c.device, 'cuda:0');
  const torch = await convertMemory(c, { targetType: 'torch' });
  t.true(torch.sharesMemoryWith(c));
  const jax = await convertMemory(torch, { targetType: 'jax' });
  t.true(jax.readonly && jax.sharesMemoryWith(c));
  const back = await convertMemory(jax, { targetType: 'numpy' });
  t.deepEqual(back.data, data);
  const sub = await convertMemory(c.sliceZ(1, 2), { targetType: 'numpy' });
  t.deepEqual(sub.data, data.subarray(512 * 512, 2 * 512 * 512));
  const c2 = await copy(c);
  t.is(c2.device, 'cuda:0');
  t.deepEqual(await c2.toTypedArray(), data);
});

cudaTest('a transfer of 256 MiB: bandwidth through the pinned staging buffer', async (t) => {
  const n = 128 << 20;
  const host = zeros([1, 1, n], { dtype: 'uint16' });
  const t0 = performance.now();
  const dev = await convertMemory(host, { targetType: 'cupy' });
  const t1 = performance.now();
  const back = await convertMemory(dev, { targetType: 'numpy' });
  const t2 = performance.now();
  t.is(back.nbytes, 256 << 20);
  t.log(`host → cuda:0 ${((256 / 1024) / ((t1 - t0) / 1000)).toFixed(2)} GB/s, cuda:0 → host ${((256 / 1024) / ((t2 - t1) / 1000)).toFixed(2)} GB/s`);
  dev.dispose();
  back.dispose();
});

cudaTest('device memory is accounted; a limit fails exactly like the card running out', async (t) => {
  emptyCache('cuda:0');
  const before = memoryInfo('cuda:0').allocatedBytes;
  const z = zeros([4, 1024, 1024], { dtype: 'float32', memoryType: 'cupy' });
  t.is(memoryInfo('cuda:0').allocatedBytes, before + 16 * 1024 * 1024);
  t.deepEqual(Array.from((await z.toTypedArray()).subarray(0, 4)), [0, 0, 0, 0]);
  try {
    setMemoryLimit('cuda:0', before + 20 * 1024 * 1024);
    const e = t.throws(() => zeros([4, 1024, 1024], { dtype: 'float32', memoryType: 'cupy' }), { instanceOf: OutOfMemoryError });
    t.is((e as OutOfMemoryError).device, 'cuda:0');
    t.is((e as OutOfMemoryError).limitBytes, before + 20 * 1024 * 1024);
  } finally {
    setMemoryLimit('cuda:0', null);
  }
  z.dispose();
});

cudaTest('a device move between two GPUs is a peer copy with the values kept', async (t) => {
  if (CUDA.length < 2) {
    t.log(`only ${CUDA.length} CUDA device: the device move is tested on the fake devices`);
    t.pass();
    return;
  }
  const data = ramp(2 * 100 * 100);
  const on0 = await convertMemory(asarray(data, { shape: [2, 100, 100] }), { targetType: 'cupy' });
  const on1 = await convertMemory(on0, { targetType: 'cupy', gpuId: 1 });
  t.is(on1.device, 'cuda:1');
  t.deepEqual(await on1.toTypedArray(), data);
});

cudaSuite(cudaTest, {
  chunkedLimit: 2.5,
  why: 'as on device-resident OpenCL (the same orchestration): input, output and gaussian\'s temporary 3n whole, 2n per half; the joined result is converted back onto the card (2n)',
});
