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
import { convertMemory } from '../ts/convert.js';
import { devices, memoryInfo } from '../ts/devices.js';
import { fromDlpack, toDlpack } from '../ts/dlpack.js';
import { CpuRoundtripRequiredError, DeviceMismatchError, InvalidArgumentError } from '../ts/errors.js';
import { asarray, zeros } from '../ts/ndarray.js';
import { copy } from '../ts/ops.js';
import { TraceCollector, withTrace } from '../ts/trace.js';
import { cudaSuite, stack, values } from './helpers/cuda-suite.js';

test.before(async () => {
  await tf.setBackend('cpu');
});

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

cudaSuite(test.serial, {
  chunkedLimit: 2.5,
  why: "the fake's kernels hold a scratch of their output's size: the whole stack needs 3n (input, output, scratch), a half 2n",
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
