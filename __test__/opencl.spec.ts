/**
 * The pyclesperanto memory type on a real OpenCL device (PoCL in CI): conversions of DESIGN §2,
 * every processor of §7 against the CPU processors (the second backend is the oracle), OOM
 * recovery under a device memory limit, concurrent pipelines on distinct command queues, and
 * GpuUnavailableError without any OpenCL driver.
 *
 * Without an OpenCL device these tests are skipped with a printed reason, unless
 * STACKBRIDGE_REQUIRE_OPENCL=1 (CI sets it), which makes them run and fail.
 */
import test from 'ava';
import { deviceTest } from './helpers/device-gate.js';
import * as tf from '@tensorflow/tfjs';
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { countCellsSingleChannel as countCpu } from '../ts/analysis.js';
import { convertMemory } from '../ts/convert.js';
import { devices, emptyCache, memoryInfo, openclQueues, setMemoryLimit } from '../ts/devices.js';
import { CpuRoundtripRequiredError, InvalidArgumentError, InvalidDeviceError, OutOfMemoryError } from '../ts/errors.js';
import { asarray, type NDArray } from '../ts/ndarray.js';
import { CASES, cells, close, rand } from './helpers/processor-cases.js';
import { copy } from '../ts/ops.js';
import { FunctionStep, Pipeline } from '../ts/pipeline.js';
import * as cpu from '../ts/processors/numpy.js';
import * as cl from '../ts/processors/pyclesperanto.js';
import { TraceCollector, withTrace } from '../ts/trace.js';

const CL = devices().filter((d) => d.kind === 'opencl');
const clTest = deviceTest('opencl.spec', CL.length > 0, 'STACKBRIDGE_REQUIRE_OPENCL', 'no OpenCL device on this machine (install pocl-opencl-icd)');

test.before(async () => {
  await tf.setBackend('cpu');
});

clTest('devices() lists every OpenCL device as opencl:N with its memory and whether it shares host memory', (t) => {
  t.true(CL.length >= 1);
  CL.forEach((d, i) => {
    t.is(d.id, `opencl:${i}`);
    t.true(d.totalMemory > 0);
    t.is(typeof d.sharesHostMemory, 'boolean');
    t.true(['gpu', 'cpu', 'accelerator', 'other'].includes(d.deviceType!));
  });
  // a GPU is preferred: no GPU comes after a non-GPU
  const kinds = CL.map((d) => d.deviceType);
  t.deepEqual(kinds, [...kinds].sort((a, b) => Number(a !== 'gpu') - Number(b !== 'gpu')));
  t.is(memoryInfo('opencl:0').device, 'opencl:0');
  t.throws(() => memoryInfo(`opencl:${CL.length}` as 'opencl:0'), { instanceOf: InvalidDeviceError });
});

clTest('numpy ↔ pyclesperanto: zero-copy onto a device sharing host memory, a transfer back; values never change', async (t) => {
  const host = cells(2, 9, 11, 'uint16');
  const trace = new TraceCollector();
  await withTrace(trace, async () => {
    const dev = await convertMemory(host, { targetType: 'pyclesperanto' });
    t.is(dev.memoryType, 'pyclesperanto');
    t.is(dev.device, 'opencl:0');
    t.throws(() => dev.data, { instanceOf: InvalidArgumentError, message: /opencl:0.*toTypedArray/ });
    t.deepEqual(Array.from(await dev.toTypedArray()), Array.from(host.data));
    t.is(await convertMemory(dev, { targetType: 'pyclesperanto' }), dev, 'identity');
    const back = await convertMemory(dev, { targetType: 'numpy' });
    t.is(back.device, 'cpu');
    t.deepEqual(Array.from(back.data), Array.from(host.data));
    // the way back is a copy: writing to it leaves the device array alone
    (back.data as Uint16Array)[0] = 7;
    t.not((await dev.toTypedArray())[0], 7);
  });
  const kinds = trace.conversions.map((c) => `${c.from}->${c.to}:${c.kind}`);
  t.is(kinds[0], `numpy->pyclesperanto:${CL[0]!.sharesHostMemory ? 'zero-copy' : 'transfer'}`);
  t.true(kinds.includes('pyclesperanto->numpy:transfer'));
  t.is(trace.conversions.find((c) => c.to === 'numpy')!.targetDevice, 'cpu');
  await t.throwsAsync(convertMemory(host, { targetType: 'pyclesperanto', gpuId: CL.length }), { instanceOf: InvalidDeviceError });
});

clTest('pyclesperanto ↔ tensorflow only as cpu-roundtrip, refused unless allowCpuRoundtrip', async (t) => {
  const host = cells(1, 5, 6, 'float32');
  const dev = await convertMemory(host, { targetType: 'pyclesperanto' });
  const e = await t.throwsAsync(convertMemory(dev, { targetType: 'tensorflow' }), { instanceOf: CpuRoundtripRequiredError });
  t.is((e as CpuRoundtripRequiredError).method, 'cpu-roundtrip');
  const trace = new TraceCollector();
  const tensor = await withTrace(trace, () => convertMemory(dev, { targetType: 'tensorflow', allowCpuRoundtrip: true }));
  t.deepEqual(Array.from(tensor.dataSync()), Array.from(host.data));
  t.is(trace.conversions.at(-1)!.kind, 'cpu-roundtrip');
  await t.throwsAsync(convertMemory(tensor, { targetType: 'pyclesperanto' }), { instanceOf: CpuRoundtripRequiredError });
  const again = await convertMemory(tensor, { targetType: 'pyclesperanto', allowCpuRoundtrip: true });
  t.is(again.device, 'opencl:0');
  t.deepEqual(Array.from(await again.toTypedArray()), Array.from(host.data));
  tensor.dispose();
});

clTest('device-move between two OpenCL devices keeps the values; strictDevice refuses it; kernels run on the array\'s device', async (t) => {
  // PoCL exposes two devices with POCL_DEVICES (a second driver instance); other drivers ignore it,
  // so the child reports how many devices it saw and the test says so when it is only one.
  const script = `
    const sb = await import(${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)});
    const cl = await import(${JSON.stringify(new URL('../dist/processors/pyclesperanto.js', import.meta.url).href)});
    const ids = sb.devices().filter((d) => d.kind === 'opencl').map((d) => d.id);
    const out = { ids };
    if (ids.length >= 2) {
      const host = sb.asarray(Int16Array.from({ length: 2 * 20 * 30 }, (_, i) => (i * 37) % 2000 - 1000), { shape: [2, 20, 30] });
      const on0 = await sb.convertMemory(host, { targetType: 'pyclesperanto', gpuId: 0 });
      const trace = new sb.TraceCollector();
      const on1 = await sb.withTrace(trace, () => sb.convertMemory(on0, { targetType: 'pyclesperanto', gpuId: 1 }));
      out.devices = [on0.device, on1.device];
      out.kinds = trace.conversions.map((c) => c.kind);
      out.same = JSON.stringify(Array.from(await on1.toTypedArray())) === JSON.stringify(Array.from(host.data));
      out.held1 = sb.memoryInfo('opencl:1').allocatedBytes;
      try { await sb.convertMemory(on0, { targetType: 'pyclesperanto', gpuId: 1, strictDevice: true }); } catch (e) { out.strict = e.constructor.name; }
      const g0 = await cl.gaussian(on0, { sigma: 1.5 });
      const g1 = await cl.gaussian(on1, { sigma: 1.5 });
      out.kernelDevices = [g0.device, g1.device];
      out.kernelsSame = JSON.stringify(Array.from(await g0.toTypedArray())) === JSON.stringify(Array.from(await g1.toTypedArray()));
    }
    console.log(JSON.stringify(out));`;
  const out = JSON.parse(
    execFileSync(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, POCL_DEVICES: 'pthread pthread' }, encoding: 'utf8' })
      .trim()
      .split('\n')
      .at(-1)!,
  );
  if (out.ids.length < 2) {
    t.log(`the OpenCL driver here exposes ${out.ids.length} device(s) even with POCL_DEVICES: a device-move needs two (the matrix unit tests classify it)`);
    t.false(CL[0]!.platform?.includes('Portable Computing Language'), 'PoCL must give two devices with POCL_DEVICES');
    return;
  }
  t.deepEqual(out.devices, ['opencl:0', 'opencl:1']);
  t.deepEqual(out.kinds, ['device-move']);
  t.true(out.same, 'values survive the move');
  t.true(out.held1 >= 2 * 20 * 30 * 2, 'the moved array is held by opencl:1');
  t.is(out.strict, 'DeviceMismatchError');
  t.deepEqual(out.kernelDevices, ['opencl:0', 'opencl:1']);
  t.true(out.kernelsSame, 'both devices compute the same result');
});

/** Each processor with options, and how close OpenCL must be to the CPU (see the tests of crates/opencl). */
for (const dtype of ['uint16', 'float32'] as const) {
  for (const [what, run] of CASES) {
    clTest(`${what} (${dtype}) on OpenCL equals the CPU processor`, async (t) => {
      const stack = cells(3, 67, 81, dtype, 11);
      const want = await run(stack, cpu);
      const got = await run(stack, cl as unknown as typeof cpu);
      t.is(got.memoryType, 'pyclesperanto');
      t.regex(got.device, /^opencl:\d+$/);
      // With fp64 (PoCL has it) the kernels repeat the CPU's arithmetic step for step: identical.
      // Without it they accumulate in float32: ≤ 1 grey level on ≤ 1% of pixels for integer
      // results (a truncation can move), 1e-5 relative for float results.
      if (CL[0]!.fp64) await close(t, got, want, what, 0, 0);
      else await close(t, got, want, what, dtype === 'float32' ? 1e-5 : 1, 0.01);
    });
  }
}

clTest('a processor on a Z-range view of a device array equals the CPU on the same slices (aligned and unaligned starts)', async (t) => {
  // 64×64 uint16 planes start on the device's base alignment (a sub-buffer where memory is
  // device-resident); 67×81 ones do not (then a device-side copy).
  for (const [h, w] of [[64, 64], [67, 81]] as const) {
    const host = cells(3, h, w, 'uint16', 4);
    const dev = await convertMemory(host, { targetType: 'pyclesperanto' });
    const view = dev.sliceZ(1, 3);
    const got = await cl.gaussian(view, { sigma: 1.5 });
    await close(t, got, await cpu.gaussian(host.sliceZ(1, 3), { sigma: 1.5 }), `gaussian of slices 1..3 of ${h}×${w}`, 0, 0);
    t.deepEqual(Array.from(await dev.toTypedArray()), Array.from(host.data), 'the source is unchanged');
  }
});

clTest('applyMask on OpenCL equals the CPU processor', async (t) => {
  const stack = cells(2, 20, 30, 'uint16', 3);
  const mask = asarray(Float32Array.from(rand(600, 9), (x) => (x > 0.5 ? 1 : 0.5)), { shape: [20, 30] });
  await close(t, await cl.applyMask(stack, mask), await cpu.applyMask(stack, mask), 'applyMask', 0, 0);
});

clTest('countCellsSingleChannel on OpenCL finds the same cells as on the CPU', async (t) => {
  const stack = cells(2, 96, 120, 'uint16', 5);
  for (const detectionMethod of ['blob_log', 'blob_dog', 'watershed', 'threshold'] as const) {
    // `threshold` is a fraction of the slice maximum: half of it separates these spots from the background
    const options = { detectionMethod, ...(detectionMethod === 'threshold' ? { threshold: 0.5 } : {}) };
    const [, want] = await countCpu(stack, options);
    const [out, got, masks] = await cl.countCellsSingleChannel(stack, { ...options, returnSegmentationMask: true });
    t.is(out.memoryType, 'pyclesperanto');
    t.is(masks!.device, out.device);
    t.deepEqual(got.map((r) => r.cellCount), want.map((r) => r.cellCount), detectionMethod);
    t.deepEqual(got.map((r) => r.positions), want.map((r) => r.positions), detectionMethod);
    t.true(want.every((r) => r.cellCount > 0), `${detectionMethod} finds cells`);
  }
});

clTest('OOM: a separable processor whose input and output do not fit together succeeds by Z-chunking; nothing fitting rethrows with the numbers', async (t) => {
  const host = cells(8, 64, 64, 'float32', 8); // 128 KiB
  const n = host.nbytes;
  const onDevice = await copy(await convertMemory(host, { targetType: 'pyclesperanto' })); // counted on opencl:0
  const want = await cpu.gaussian(host, { sigma: 1.5 });
  emptyCache('opencl:0');
  // what the device holds besides the input (arrays of earlier tests the GC has not collected yet)
  const base = memoryInfo('opencl:0').allocatedBytes - n;
  try {
    // Host memory the device shares: the output fits (n ≤ limit) but input + output + gaussian's
    // temporary do not, and the joined result goes back zero-copy. Device-resident memory: the whole
    // needs 3n, a half 2n, and the joined result is converted back onto the device (2n).
    setMemoryLimit('opencl:0', base + Math.floor((CL[0]!.sharesHostMemory ? 1.5 : 2.5) * n));
    const step = new FunctionStep({ func: cl.gaussian, name: 'blur', kwargs: { sigma: 1.5 } });
    const { output, trace } = await new Pipeline([step]).run(onDevice);
    const rec = trace.steps[0]!.recoveries.map((r) => r.action);
    t.true(rec.includes('split-z'), `recoveries: ${rec.join(', ')}`);
    t.true(trace.steps[0]!.kernels.length >= 2, 'the halves ran as separate kernels');
    await close(t, output as NDArray, want, 'chunked gaussian', 1e-5, 0.01);

    // not even one slice's output fits
    setMemoryLimit('opencl:0', base + n + 1024);
    const e = await t.throwsAsync(cl.gaussian(onDevice, { sigma: 1.5 }), { instanceOf: OutOfMemoryError });
    const oom = e as OutOfMemoryError;
    t.is(oom.device, 'opencl:0');
    t.true(oom.requestedBytes! > 0 && oom.freeBytes! >= 0 && oom.limitBytes === base + n + 1024);
  } finally {
    setMemoryLimit('opencl:0', null);
  }
});

clTest('concurrent pipelines use distinct command queues and give the same results as run one after another', async (t) => {
  const stacks = [1, 2, 3, 4].map((s) => cells(2, 80, 90, 'uint16', s));
  const pipe = new Pipeline([
    new FunctionStep({ func: cl.gaussian, name: 'blur', kwargs: { sigma: 1 } }),
    new FunctionStep({ func: cl.tophat, name: 'background', kwargs: { selemRadius: 12, downsampleFactor: 2 } }),
  ]);
  const sequential: number[][] = [];
  for (const s of stacks) sequential.push(Array.from(await (await pipe.run(s)).output.toTypedArray()));
  const concurrent = await Promise.all(stacks.map((s) => pipe.run(s)));
  for (let i = 0; i < stacks.length; i++) {
    t.deepEqual(Array.from(await (concurrent[i]!.output as NDArray).toTypedArray()), sequential[i], `pipeline ${i}`);
  }
  const queues = new Set(concurrent.flatMap((r) => r.trace.steps.flatMap((s) => s.kernels.map((k) => k.queue))));
  t.true(queues.size >= 2, `kernels of concurrent pipelines ran on ${queues.size} queue(s)`);
  const stats = openclQueues('opencl:0');
  t.true(stats.filter((q) => q.launches > 0).length >= 2);
  t.is(new Set(stats.map((q) => q.thread)).size, stats.length, 'one queue per engine thread');
});

test('without any OpenCL driver the pyclesperanto kind answers GpuUnavailableError', (t) => {
  // An ICD loader that finds no driver (an empty vendors directory): no platform, no device.
  const empty = mkdtempSync(join(tmpdir(), 'no-icd-'));
  const script = `
    const sb = await import(${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)});
    const out = { devices: sb.devices().map((d) => d.id) };
    try { await sb.convertMemory(sb.asarray([1, 2], { shape: [1, 1, 2] }), { targetType: 'pyclesperanto' }); } catch (e) { out.convert = e.constructor.name; }
    try { sb.memoryInfo('opencl:0'); } catch (e) { out.memoryInfo = e.constructor.name; }
    console.log(JSON.stringify(out));`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    env: { ...process.env, OCL_ICD_VENDORS: empty, OPENCL_VENDOR_PATH: empty },
    encoding: 'utf8',
  });
  t.deepEqual(JSON.parse(out.trim().split('\n').at(-1)!), { devices: ['cpu'], convert: 'GpuUnavailableError', memoryInfo: 'InvalidDeviceError' });
});
