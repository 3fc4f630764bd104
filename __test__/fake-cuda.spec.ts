/**
 * The CUDA domain through the backend traits, on the fake device (two host-memory cards behind a
 * budget, `STACKBRIDGE_FAKE_CUDA=2`): the conversion matrix of DESIGN §2 for cupy / torch / jax,
 * processors of the cupy and torch families against the CPU processors, OOM recovery under a
 * device limit, distinct streams for concurrent pipelines, and the seed's pipeline. The same
 * binding code serves a real card (stackbridge-cuda's backend); on this machine there is none.
 */
import './helpers/fake-cuda-env.js';
import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { countCellsSingleChannel as countCpu } from '../ts/analysis.js';
import { convertMemory } from '../ts/convert.js';
import { devices, emptyCache, memoryInfo, setMemoryLimit } from '../ts/devices.js';
import { fromDlpack, toDlpack } from '../ts/dlpack.js';
import { CpuRoundtripRequiredError, DeviceMismatchError, InvalidArgumentError, OutOfMemoryError } from '../ts/errors.js';
import { asarray, zeros, type NDArray } from '../ts/ndarray.js';
import { copy } from '../ts/ops.js';
import { FunctionStep, Pipeline } from '../ts/pipeline.js';
import * as cpu from '../ts/processors/numpy.js';
import * as cp from '../ts/processors/cupy.js';
import * as th from '../ts/processors/torch.js';
import { TraceCollector, withTrace } from '../ts/trace.js';

test.before(async () => {
  await tf.setBackend('cpu');
});

/** A deterministic [z, h, w] uint16 stack of spots on a slope. */
function stack(z: number, h: number, w: number, seed = 1): NDArray<'uint16'> {
  const v = new Uint16Array(z * h * w);
  let s = seed;
  for (let i = 0; i < v.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    const x = i % w;
    const y = Math.floor(i / w) % h;
    const spot = (x % 17) ** 2 + (y % 13) ** 2 < 12 ? 20000 : 0;
    v[i] = 1000 + 30 * x + spot + (s >>> 22);
  }
  return asarray(v, { shape: [z, h, w] });
}

async function values(a: NDArray): Promise<number[]> {
  return Array.from(await a.toTypedArray());
}

test.serial('the fake cards are listed as cuda:0 and cuda:1 with their memory', (t) => {
  const cuda = devices().filter((d) => d.kind === 'cuda');
  t.deepEqual(cuda.map((d) => d.id), ['cuda:0', 'cuda:1']);
  t.regex(cuda[0]!.name, /fake CUDA device 0/);
  t.is(cuda[0]!.totalMemory, 256 << 20);
  t.false(cuda[0]!.sharesHostMemory);
  t.is(memoryInfo('cuda:1').totalBytes, 256 << 20);
});

test.serial('numpy → cupy is a transfer to cuda:0; cupy ↔ torch ↔ jax zero-copy on the device; back to numpy a transfer', async (t) => {
  const host = stack(2, 9, 11);
  const trace = new TraceCollector();
  await withTrace(trace, async () => {
    const c = await convertMemory(host, { targetType: 'cupy' });
    t.is(c.device, 'cuda:0');
    t.throws(() => c.data, { instanceOf: InvalidArgumentError, message: /cuda:0.*toTypedArray/ });
    t.deepEqual(await values(c), Array.from(host.data));
    const torch = await convertMemory(c, { targetType: 'torch' });
    t.true(torch.sharesMemoryWith(c), 'a new handle over the same allocation');
    const jax = await convertMemory(torch, { targetType: 'jax' });
    t.true(jax.sharesMemoryWith(c) && jax.readonly);
    const back = await convertMemory(jax, { targetType: 'numpy' });
    t.is(back.device, 'cpu');
    t.false(back.sharesMemoryWith(c));
    t.deepEqual(Array.from(back.data), Array.from(host.data));
  });
  t.deepEqual(
    trace.conversions.map((c) => `${c.from}->${c.to}:${c.kind}`),
    ['numpy->cupy:transfer', 'cupy->torch:zero-copy', 'torch->jax:zero-copy', 'jax->numpy:transfer'],
  );
});

test.serial('asarray and zeros with memoryType cupy allocate on the device', async (t) => {
  const before = memoryInfo('cuda:0').allocatedBytes;
  const z = zeros([2, 4, 8], { dtype: 'uint16', memoryType: 'cupy' });
  t.is(z.device, 'cuda:0');
  t.true(memoryInfo('cuda:0').allocatedBytes >= before + 2 * 4 * 8 * 2);
  t.deepEqual(await values(z), new Array(64).fill(0));
  const a = asarray([1, 2, 3, 4], { shape: [1, 2, 2], dtype: 'float32', memoryType: 'torch' });
  t.is(a.device, 'cuda:0', 'torch lives on the GPU where there is one');
  t.deepEqual(await values(a), [1, 2, 3, 4]);
});

test.serial('device-move cuda:0 → cuda:1 keeps the values; strictDevice refuses it; a copy stays on its device', async (t) => {
  const host = stack(2, 20, 30, 3);
  const on0 = await convertMemory(host, { targetType: 'cupy' });
  const trace = new TraceCollector();
  const on1 = await withTrace(trace, () => convertMemory(on0, { targetType: 'cupy', gpuId: 1 }));
  t.is(on1.device, 'cuda:1');
  t.deepEqual(trace.conversions.map((c) => c.kind), ['device-move']);
  t.deepEqual(await values(on1), Array.from(host.data));
  await t.throwsAsync(convertMemory(on0, { targetType: 'torch', gpuId: 1, strictDevice: true }), { instanceOf: DeviceMismatchError });
  const c = await copy(on1);
  t.is(c.device, 'cuda:1');
  t.false(c.sharesMemoryWith(on1));
  t.deepEqual(await values(c), Array.from(host.data));
});

test.serial('CUDA ↔ OpenCL and CUDA ↔ tensorflow only as cpu-roundtrip, refused unless allowCpuRoundtrip', async (t) => {
  const host = stack(1, 5, 6);
  const c = await convertMemory(host, { targetType: 'cupy' });
  await t.throwsAsync(convertMemory(c, { targetType: 'tensorflow' }), { instanceOf: CpuRoundtripRequiredError });
  const tensor = await convertMemory(c, { targetType: 'tensorflow', allowCpuRoundtrip: true });
  t.deepEqual(Array.from(tensor.dataSync()), Array.from(host.data));
  const again = await convertMemory(tensor, { targetType: 'cupy', allowCpuRoundtrip: true });
  t.is(again.device, 'cuda:0');
  t.deepEqual(await values(again), Array.from(host.data));
  tensor.dispose();
  if (devices().some((d) => d.kind === 'opencl')) {
    await t.throwsAsync(convertMemory(c, { targetType: 'pyclesperanto' }), { instanceOf: CpuRoundtripRequiredError });
    const cl = await convertMemory(c, { targetType: 'pyclesperanto', allowCpuRoundtrip: true });
    t.is(cl.device, 'opencl:0');
    t.deepEqual(await values(cl), Array.from(host.data));
    const back = await convertMemory(cl, { targetType: 'cupy', allowCpuRoundtrip: true });
    t.deepEqual(await values(back), Array.from(host.data));
  } else {
    t.log('no OpenCL device: the CUDA ↔ OpenCL roundtrip was not exercised');
  }
});

const CASES: [string, (s: NDArray, f: typeof cpu) => Promise<NDArray>][] = [
  ['stackPercentileNormalize', (s, f) => f.stackPercentileNormalize(s)],
  ['tophat r 7 exact', (s, f) => f.tophat(s, { selemRadius: 7, downsampleFactor: 1 })],
  ['median projection', (s, f) => f.createProjection(s, { method: 'median_projection' })],
  ['gaussian σ 2', (s, f) => f.gaussian(s, { sigma: 2 })],
  ['crop', (s, f) => f.crop(s, { startZ: 1, startY: 3, startX: 5, depth: 2, height: 20, width: 13 })],
];

for (const [what, run] of CASES) {
  test.serial(`${what}: the cupy family on cuda:0 equals the CPU processor`, async (t) => {
    const s = stack(3, 37, 41, 7);
    const want = await run(s, cpu);
    const got = await run(s, cp as unknown as typeof cpu);
    t.is(got.memoryType, 'cupy');
    t.is(got.device, 'cuda:0');
    t.deepEqual(await values(got), Array.from(want.data as Uint16Array | Float32Array));
  });
}

test.serial('applyMask and countCellsSingleChannel on cuda:0 equal the CPU', async (t) => {
  const s = stack(2, 64, 80, 5);
  const mask = asarray(Float32Array.from({ length: 64 * 80 }, (_, i) => (i % 3 ? 1 : 0.5)), { shape: [64, 80] });
  t.deepEqual(await values(await cp.applyMask(s, mask)), Array.from((await cpu.applyMask(s, mask)).data));
  const [, want] = await countCpu(s, { detectionMethod: 'threshold', threshold: 0.5 });
  const [out, got, masks] = await cp.countCellsSingleChannel(s, { detectionMethod: 'threshold', threshold: 0.5, returnSegmentationMask: true });
  t.is(out.device, 'cuda:0');
  t.is(masks!.device, 'cuda:0');
  t.true(want.every((r) => r.cellCount > 0));
  t.deepEqual(got.map((r) => r.positions), want.map((r) => r.positions));
});

test.serial('OOM on the card: a separable processor succeeds by Z-chunking under a limit; nothing fitting rethrows with the numbers', async (t) => {
  const host = stack(8, 64, 64, 8);
  const n = host.nbytes;
  const onDevice = await convertMemory(host, { targetType: 'cupy' });
  const want = await cpu.gaussian(host, { sigma: 1.5 });
  emptyCache('cuda:0');
  const base = memoryInfo('cuda:0').allocatedBytes - n;
  try {
    // The fake's kernels hold a scratch of their output's size: the whole stack needs 3n (input,
    // output, scratch), a half 2n, and the joined result 2n.
    setMemoryLimit('cuda:0', base + Math.floor(2.5 * n));
    const step = new FunctionStep({ func: cp.gaussian, name: 'blur', kwargs: { sigma: 1.5 } });
    const { output, trace } = await new Pipeline([step]).run(onDevice);
    const rec = trace.steps[0]!.recoveries.map((r) => r.action);
    t.true(rec.includes('split-z'), `recoveries: ${rec.join(', ')}`);
    t.deepEqual(await values(output as NDArray), Array.from(want.data));
    setMemoryLimit('cuda:0', base + n + 1024);
    const e = await t.throwsAsync(cp.gaussian(onDevice, { sigma: 1.5 }), { instanceOf: OutOfMemoryError });
    t.is((e as OutOfMemoryError).device, 'cuda:0');
    t.is((e as OutOfMemoryError).limitBytes, base + n + 1024);
  } finally {
    setMemoryLimit('cuda:0', null);
  }
});

test.serial('concurrent pipelines on cuda:0 run on distinct streams and equal the sequential results', async (t) => {
  const stacks = [1, 2, 3, 4].map((s) => stack(2, 60, 70, s));
  const pipe = new Pipeline([
    new FunctionStep({ func: cp.gaussian, name: 'blur', kwargs: { sigma: 1 } }),
    new FunctionStep({ func: cp.tophat, name: 'background', kwargs: { selemRadius: 9, downsampleFactor: 1 } }),
  ]);
  const sequential: number[][] = [];
  for (const s of stacks) sequential.push(await values((await pipe.run(s)).output as NDArray));
  const concurrent = await Promise.all(stacks.map((s) => pipe.run(s)));
  for (let i = 0; i < stacks.length; i++) t.deepEqual(await values(concurrent[i]!.output as NDArray), sequential[i], `pipeline ${i}`);
  const streams = new Set(concurrent.flatMap((r) => r.trace.steps.flatMap((s) => s.kernels.map((k) => k.queue))));
  t.true(streams.size >= 2, `kernels of concurrent pipelines ran on ${streams.size} stream(s)`);
});

test.serial("the seed's pipeline: torch normalize → cupy tophat → numpy count, zero-copy torch → cupy on the device", async (t) => {
  const s = stack(2, 96, 96, 9);
  const pipe = new Pipeline([
    new FunctionStep({ func: th.stackPercentileNormalize, name: 'normalize' }),
    new FunctionStep({ func: cp.tophat, name: 'tophat', kwargs: { selemRadius: 9, downsampleFactor: 1 } }),
    new FunctionStep({ func: countCpu, name: 'count' }),
  ]);
  const { output, trace, specialOutputs } = await pipe.run(s);
  const kinds = trace.steps.flatMap((st) => st.conversions.map((c) => `${c.from}->${c.to}:${c.kind}`));
  t.true(kinds.includes('numpy->torch:transfer'), kinds.join(', '));
  t.true(kinds.includes('torch->cupy:zero-copy'), kinds.join(', '));
  t.true(kinds.includes('cupy->numpy:transfer'), kinds.join(', '));
  const want = await cpu.tophat(await cpu.stackPercentileNormalize(s), { selemRadius: 9, downsampleFactor: 1 });
  const [, results] = await countCpu(want);
  t.is((output as NDArray).device, 'cpu');
  const got = specialOutputs.count![0] as { cellCount: number }[];
  t.true(results.every((r) => r.cellCount > 0));
  t.deepEqual(got.map((r) => r.cellCount), results.map((r) => r.cellCount));
});

test.serial('DLPack: a cupy array is exported as kDLCUDA memory of its device and imported back zero-copy', async (t) => {
  const host = stack(1, 8, 8, 4);
  const c = await convertMemory(host, { targetType: 'cupy', gpuId: 1 });
  const held = memoryInfo('cuda:1').allocatedBytes;
  const capsule = toDlpack(c);
  t.throws(() => fromDlpack(capsule, 'numpy'), { instanceOf: InvalidArgumentError, message: /cuda:1 imports as cupy, torch, jax/ });
  const back = fromDlpack(capsule, 'torch'); // the refused call left the capsule to its owner
  t.is(back.device, 'cuda:1');
  t.is(back.memoryType, 'torch');
  t.is(memoryInfo('cuda:1').allocatedBytes, held, 'an import allocates nothing');
  t.deepEqual(await values(back), Array.from(host.data));
  t.throws(() => fromDlpack(toDlpack(host), 'cupy'), { instanceOf: InvalidArgumentError, message: /cpu imports as numpy/ });
});
