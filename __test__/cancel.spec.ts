/**
 * Cancellation inside operations (DESIGN §4, issue 11): processors, copying conversions and cell
 * counting take a `signal`; kernels check it between slices, so an abort rejects with `AbortError`
 * within one slice's time and frees what the operation allocated; `Pipeline.run`'s signal reaches the
 * running step; `onProgress` reports slices done within a step. Timing bounds are measured in the
 * same test (one slice's time), never fixed wall-clock numbers. Serial: memory counters are global.
 */
import test from 'ava';
import * as sb from '../ts/index.js';
import { countCellsSingleChannel } from '../ts/analysis.js';
import { withOperationContext } from '../ts/cancel.js';
import { applyMask, gaussian, maxProjection } from '../ts/processors/numpy.js';
import * as cl from '../ts/processors/pyclesperanto.js';

const { zeros, memoryInfo, AbortError, Pipeline, FunctionStep } = sb;

/** What `p` rejects with, and how long after `t0()` (ms). */
async function rejection(p: Promise<unknown>, t0: () => number): Promise<{ error: unknown; ms: number }> {
  try {
    await p;
  } catch (error) {
    return { error, ms: performance.now() - t0() };
  }
  return { error: undefined, ms: performance.now() - t0() };
}

const hasOpenCl = () => sb.devices().some((d) => d.kind === 'opencl');
function skipWithoutOpenCl(t: { fail(m: string): void; pass(m: string): void }): boolean {
  if (hasOpenCl()) return false;
  if (process.env.STACKBRIDGE_REQUIRE_OPENCL === '1') t.fail('no OpenCL device');
  else t.pass('no OpenCL device here');
  return true;
}

/** A stack that is not constant, so the kernels do real work. */
function noisy(shape: [number, number, number], dtype: 'uint16' | 'float32' = 'uint16') {
  const a = zeros(shape, { dtype });
  const d = a.data;
  for (let i = 0; i < d.length; i += 97) d[i] = (i * 7919) % 4096;
  return a;
}

test.serial('an abort during a 16×2048×2048 gaussian rejects within one slice\'s time and frees the output', async (t) => {
  const stack = noisy([16, 2048, 2048]);
  const one = stack.sliceZ(0, 1);
  // One slice's time, as the kernels run it here (the slowest of three runs: the bound is generous to noise).
  let sliceMs = 0;
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    (await gaussian(one, { sigma: 2 })).dispose();
    sliceMs = Math.max(sliceMs, performance.now() - t0);
  }
  const before = memoryInfo('cpu').allocatedBytes;
  const controller = new AbortController();
  let abortedAt = 0;
  const started = performance.now();
  // The run's own pace too (slices done over time, from its progress counters): the bound is one
  // slice's time under the same load as the run, whichever of the two measures is longer.
  const reports: [number, number][] = [];
  const onProgress = (p: { done: number }) => reports.push([performance.now(), p.done]);
  const run = withOperationContext({ onProgress }, () => gaussian(stack, { sigma: 2, signal: controller.signal }));
  // Abort in the middle of the run: after about 3.5 slices.
  setTimeout(() => {
    abortedAt = performance.now();
    controller.abort();
  }, sliceMs * 3.5);
  const { error, ms } = await rejection(run, () => abortedAt);
  const totalMs = performance.now() - started;
  const [first, last] = [reports.find(([, d]) => d > 0), reports.at(-1)];
  const inRunMs = first && last && last[1] > first[1] ? (last[0] - first[0]) / (last[1] - first[1]) : 0;
  t.log(`one slice ${sliceMs.toFixed(1)} ms alone, ${inRunMs.toFixed(1)} ms in the run; abort → reject ${ms.toFixed(1)} ms; run stopped after ${totalMs.toFixed(0)} ms (16 slices ≈ ${(16 * sliceMs).toFixed(0)} ms)`);
  sliceMs = Math.max(sliceMs, inRunMs);
  t.true(error instanceof AbortError, String(error));
  t.is((error as sb.StackbridgeError).name, 'AbortError');
  t.is((error as sb.StackbridgeError).code, 'SB_ABORTED');
  t.true(ms <= sliceMs, `abort latency ${ms} ms is more than one slice (${sliceMs} ms)`);
  t.is(memoryInfo('cpu').allocatedBytes, before); // the 128 MiB output went back
  one.dispose();
  stack.dispose();
});

test.serial('a signal aborted before the call rejects at once and runs nothing', async (t) => {
  const x = noisy([2, 64, 64]);
  const c = new AbortController();
  c.abort();
  for (const p of [
    gaussian(x, { sigma: 1, signal: c.signal }),
    countCellsSingleChannel(x, { signal: c.signal }),
    sb.convertMemory(x, { targetType: 'torch', signal: c.signal }),
    applyMask(x, zeros([64, 64], { dtype: 'uint8' }), { signal: c.signal }),
    maxProjection(x, { signal: c.signal }),
  ]) {
    const e = await t.throwsAsync(p);
    t.true(e instanceof AbortError, String(e));
  }
  // An Error reason of the caller's own is the rejection (as fetch does).
  const reason = new Error('user pressed stop');
  const c2 = new AbortController();
  c2.abort(reason);
  t.is(await t.throwsAsync(gaussian(x, { sigma: 1, signal: c2.signal })), reason);
  x.dispose();
});

test.serial('countCellsSingleChannel stops between slices', async (t) => {
  const x = noisy([64, 256, 256]);
  const t0 = performance.now();
  const opts = { detectionMethod: 'blob_log', numSigma: 4 } as const;
  const all = await countCellsSingleChannel(x.sliceZ(0, 4), opts);
  const perSlice = (performance.now() - t0) / 4;
  all[0].dispose();
  const c = new AbortController();
  const run = countCellsSingleChannel(x, { ...opts, signal: c.signal });
  let at = 0;
  setTimeout(() => {
    at = performance.now();
    c.abort();
  }, perSlice * 3);
  const { error, ms } = await rejection(run, () => at);
  t.log(`one slice ≈ ${perSlice.toFixed(1)} ms; abort → reject ${ms.toFixed(1)} ms`);
  t.true(error instanceof AbortError, String(error));
  t.true(ms < 32 * perSlice, 'stopped long before the 64 slices were done');
  x.dispose();
});

test.serial('Pipeline.run: the signal reaches the running step, which stops between slices', async (t) => {
  const stack = noisy([16, 2048, 2048]);
  const one = stack.sliceZ(0, 1);
  const s0 = performance.now();
  (await gaussian(one, { sigma: 2 })).dispose();
  const sliceMs = performance.now() - s0;
  const pipeline = new Pipeline([new FunctionStep({ func: gaussian, name: 'blur', kwargs: { sigma: 2 } })]);
  const c = new AbortController();
  const progress: sb.PipelineProgress[] = [];
  let at = 0;
  const run = pipeline.run(stack, { signal: c.signal, onProgress: (p) => progress.push(p) });
  setTimeout(() => {
    at = performance.now();
    c.abort();
  }, sliceMs * 4);
  const { error, ms } = await rejection(run, () => at);
  t.log(`one slice ${sliceMs.toFixed(1)} ms; pipeline abort → reject ${ms.toFixed(1)} ms`);
  t.true(error instanceof AbortError, String(error));
  t.false(error instanceof sb.PipelineError);
  t.true(ms < 4 * sliceMs, `${ms} ms: the step ran on instead of stopping`);
  t.false(stack.disposed);
  t.true(progress.every((p) => p.operation !== undefined)); // no step completed
  one.dispose();
  stack.dispose();
});

test.serial('onProgress reports slices done / total within a long step', async (t) => {
  const stack = noisy([16, 1024, 1024]);
  const pipeline = new Pipeline([new FunctionStep({ func: gaussian, name: 'blur', kwargs: { sigma: 3 } })]);
  const progress: sb.PipelineProgress[] = [];
  const { output } = await pipeline.run(stack, { onProgress: (p) => progress.push(p) });
  const within = progress.filter((p) => p.operation);
  t.log(`${within.length} reports within the step: ${within.map((p) => p.operation!.done).join(', ')}`);
  t.true(within.length >= 1);
  for (const p of within) {
    t.deepEqual([p.stepIndex, p.stepName, p.completed, p.total], [0, 'blur', 0, 1]);
    t.is(p.operation!.operation, 'gaussian');
    t.is(p.operation!.total, 16); // one unit per slice (1024² slices: one slice per check)
  }
  const done = within.map((p) => p.operation!.done);
  t.deepEqual(done, [...done].sort((a, b) => a - b)); // never goes back
  t.is(done.at(-1), 16); // the last report says all slices are done
  t.deepEqual(progress.at(-1), { stepIndex: 0, stepName: 'blur', completed: 1, total: 1 });
  (output as sb.NDArray).dispose();
  stack.dispose();
});

test.serial('sliceBySlice functions stop between slices; later slices never run', async (t) => {
  const c = new AbortController();
  const seen: number[] = [];
  const f = sb.numpy({ sliceBySlice: true }, async (s: sb.NDArray, o: { signal?: AbortSignal; z: number[] }) => {
    o.z.push(seen.length);
    seen.push(seen.length);
    if (seen.length === 2) c.abort();
    return s;
  });
  const x = noisy([5, 4, 4]);
  const e = await t.throwsAsync(f(x, { signal: c.signal, z: [] }));
  t.true(e instanceof AbortError, String(e));
  t.deepEqual(seen, [0, 1]);
  x.dispose();
});

test.serial('a copying conversion stops between tiles and frees its partial copy', async (t) => {
  if (skipWithoutOpenCl(t)) return;
  const host = noisy([32, 2048, 2048]); // 256 MiB
  const onCl = await sb.convertMemory(host, { targetType: 'pyclesperanto' });
  const before = memoryInfo('cpu').allocatedBytes;
  const c = new AbortController();
  // pyclesperanto → numpy is always a transfer (a copy): abort it as soon as it has started.
  const p = sb.convertMemory(onCl, { targetType: 'numpy', signal: c.signal });
  setImmediate(() => c.abort());
  const e = await t.throwsAsync(p);
  t.true(e instanceof AbortError, String(e));
  t.is(memoryInfo('cpu').allocatedBytes, before);
  // the explicit converters take it too
  const c2 = new AbortController();
  c2.abort();
  t.true((await t.throwsAsync(sb.convertPyclesperantoToNumpy(onCl, { signal: c2.signal }))) instanceof AbortError);
  onCl.dispose();
  host.dispose();
});

test.serial('OpenCL processors take signal too (checked before and after their kernels)', async (t) => {
  if (skipWithoutOpenCl(t)) return;
  const x = noisy([2, 64, 64]);
  const c = new AbortController();
  c.abort();
  t.true((await t.throwsAsync(cl.gaussian(x, { sigma: 1, signal: c.signal }))) instanceof AbortError);
  const out = await cl.gaussian(x, { sigma: 1, signal: new AbortController().signal });
  t.deepEqual([...out.shape], [2, 64, 64]);
  out.dispose();
  x.dispose();
});

test.serial('an onProgress listener that throws fails the step (never the process)', async (t) => {
  const stack = noisy([16, 1024, 1024]);
  const boom = new Error('listener bug');
  const pipeline = new Pipeline([new FunctionStep({ func: gaussian, name: 'blur', kwargs: { sigma: 3 } })]);
  const e = await t.throwsAsync(
    pipeline.run(stack, {
      onProgress: (p) => {
        if (p.operation) throw boom;
      },
    }),
    { instanceOf: sb.PipelineError },
  );
  t.is(e!.cause, boom);
  stack.dispose();
});
