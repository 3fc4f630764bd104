import test from 'ava';

import { cupy, jax, numpy, torch } from '../ts/decorators.js';
import { GpuUnavailableError, InvalidArgumentError, PipelineError, UnknownMemoryTypeError } from '../ts/errors.js';
import { addon } from '../ts/native.js';
import { asarray, type NDArray } from '../ts/ndarray.js';
import { FunctionStep, Pipeline, type PipelineProgress } from '../ts/pipeline.js';
import { getFunction, listFunctions, registerFunction, unregisterFunction } from '../ts/registry.js';

/** What `p` rejects with (ava's throwsAsync insists on native Errors; an AbortError is a DOMException). */
async function rejection(p: Promise<unknown>): Promise<any> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

const hasCuda = addon.devices().some((d) => d.id.startsWith('cuda:'));

/** A new float32 array of `like`'s shape holding `f` of each element, in `like`'s memory type. */
async function mapValues(like: NDArray, f: (v: number) => number): Promise<NDArray> {
  const values = Float32Array.from(await like.toTypedArray(), f);
  return asarray(values, { shape: like.shape, dtype: 'float32' });
}

// 2 slices of 2x2: [[1, 2], [3, 4]], [[5, 6], [7, 8]].
const input = () => asarray(Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]), { shape: [2, 2, 2], dtype: 'float32' });

const addAmount = numpy(async function addAmount(stack: NDArray, opts: { amount: number }) {
  return mapValues(stack, (v) => v + opts.amount);
});
const double = torch(async function double(stack: NDArray) {
  return mapValues(stack, (v) => v * 2);
});
/** Sum projection along Z → [1, Y, X]. */
const sumZ = jax(async function sumZ(stack: NDArray) {
  const [z, y, x] = stack.shape;
  const v = await stack.toTypedArray();
  const out = new Float32Array(y * x);
  for (let k = 0; k < z; k++) for (let i = 0; i < y * x; i++) out[i] += v[k * y * x + i];
  return asarray(out, { shape: [1, y, x], dtype: 'float32' });
});

const threeSteps = () =>
  new Pipeline([
    new FunctionStep({ func: addAmount, kwargs: { amount: 1 } }),
    new FunctionStep({ func: double, name: 'times two' }),
    new FunctionStep({ func: sumZ }),
  ]);

test('a numpy → torch → jax pipeline computes the hand-computed result', async (t) => {
  const x = input();
  const { output, specialOutputs, trace } = await threeSteps().run(x);
  // +1 → 2..9; ×2 → 4,6,...,18; sum over Z: [4+12, 6+14, 8+16, 10+18].
  t.is(output.memoryType, 'jax');
  t.deepEqual([...output.shape], [1, 2, 2]);
  t.deepEqual([...(await output.toTypedArray())], [16, 20, 24, 28]);
  t.deepEqual(specialOutputs, {});
  // The caller's input is neither disposed nor changed.
  t.false(x.disposed);
  t.deepEqual([...x.data], [1, 2, 3, 4, 5, 6, 7, 8]);
  t.deepEqual(
    trace.steps.map((s) => [s.stepName, s.stepIndex, s.inputMemoryType, s.outputMemoryType]),
    [
      ['addAmount', 0, 'numpy', 'numpy'],
      ['times two', 1, 'torch', 'torch'],
      ['sumZ', 2, 'jax', 'jax'],
    ],
  );
});

test('the trace lists conversions with kinds, bytes and times', async (t) => {
  const { trace } = await threeSteps().run(input());
  t.true(trace.totalMs >= 0);
  for (const s of trace.steps) {
    t.true(s.functionMs >= 0, `functionMs of ${s.stepName}`);
    t.true(s.totalMs >= s.functionMs);
    t.deepEqual(s.recoveries, []);
    for (const c of s.conversions) {
      t.true(['identity', 'zero-copy', 'transfer', 'device-move', 'cpu-roundtrip'].includes(c.kind));
      t.true(c.ms >= 0);
    }
  }
  // Step 1 receives step 0's numpy output as torch; step 2 receives torch as jax.
  const intoTorch = trace.steps[1].conversions.find((c) => c.from === 'numpy' && c.to === 'torch');
  t.truthy(intoTorch);
  t.is(intoTorch!.kind, hasCuda ? 'transfer' : 'zero-copy');
  t.is(intoTorch!.bytes, 8 * 4); // 8 float32 elements
  const intoJax = trace.steps[2].conversions.find((c) => c.from === 'torch' && c.to === 'jax');
  t.truthy(intoJax);
  t.is(intoJax!.kind, 'zero-copy');
});

test('plan() gives the conversion kinds without running anything', (t) => {
  let calls = 0;
  const counted = numpy(async function counted(stack: NDArray) {
    calls++;
    return stack;
  });
  const p = new Pipeline([counted, addAmount, double, sumZ]);
  const plan = p.plan('numpy');
  t.is(calls, 0);
  t.is(plan.inputType, 'numpy');
  t.is(plan.outputType, 'jax');
  t.deepEqual(
    plan.steps.map((s) => [s.stepName, s.stepIndex, s.inputType, s.outputType]),
    [
      ['counted', 0, 'numpy', 'numpy'],
      ['addAmount', 1, 'numpy', 'numpy'],
      ['double', 2, 'torch', 'torch'],
      ['sumZ', 3, 'jax', 'jax'],
    ],
  );
  t.deepEqual(
    plan.steps.map((s) => s.conversions.map((c) => [c.from, c.to, c.kind])),
    [
      [['numpy', 'numpy', 'identity']],
      [['numpy', 'numpy', 'identity']],
      [['numpy', 'torch', hasCuda ? 'transfer' : 'zero-copy']],
      [['torch', 'jax', 'zero-copy']],
    ],
  );
  // Planning from another input type.
  t.deepEqual(
    p.plan('torch').steps[0].conversions.map((c) => [c.from, c.to, c.kind]),
    [['torch', 'numpy', hasCuda ? 'transfer' : 'zero-copy']],
  );
  t.throws(() => p.plan('nope' as 'numpy'), { instanceOf: UnknownMemoryTypeError });
});

test('plan() with a cupy step throws GpuUnavailableError without CUDA', (t) => {
  if (hasCuda) {
    t.pass('a CUDA device is present');
    return;
  }
  const onGpu = cupy(async function onGpu(stack: NDArray) {
    return stack;
  });
  t.throws(() => new Pipeline([addAmount, onGpu]).plan('numpy'), { instanceOf: GpuUnavailableError });
});

test('a conversion a step cannot get is a PipelineError whose cause is typed', async (t) => {
  if (hasCuda) {
    t.pass('a CUDA device is present');
    return;
  }
  const onGpu = cupy(async function onGpu(stack: NDArray) {
    return stack;
  });
  const e = await t.throwsAsync(new Pipeline([double, onGpu]).run(input()), { instanceOf: PipelineError });
  t.is(e.stepIndex, 1);
  t.is(e.stepName, 'onGpu');
  t.true(e.cause instanceof GpuUnavailableError);
});

test('a step that throws rejects with PipelineError carrying the step and the cause', async (t) => {
  const boom = new Error('boom');
  let laterRan = false;
  const fails = torch(async function fails() {
    throw boom;
  });
  const later = numpy(async function later(stack: NDArray) {
    laterRan = true;
    return stack;
  });
  const e = await t.throwsAsync(new Pipeline([new FunctionStep({ func: addAmount, kwargs: { amount: 1 } }), fails, later]).run(input()), {
    instanceOf: PipelineError,
  });
  t.is(e.stepIndex, 1);
  t.is(e.stepName, 'fails');
  t.like(e.details, { stepIndex: 1, stepName: 'fails' });
  t.is(e.cause, boom);
  t.regex(e.message, /boom/);
  t.false(laterRan);
});

test('abort before the start rejects with AbortError and runs nothing', async (t) => {
  let ran = 0;
  const count = numpy(async function count(stack: NDArray) {
    ran++;
    return stack;
  });
  const controller = new AbortController();
  controller.abort();
  const e = await rejection(new Pipeline([count, count]).run(input(), { signal: controller.signal }));
  t.is(e.name, 'AbortError');
  t.is(ran, 0);
  // A reason that is not an Error still rejects with an AbortError.
  const c2 = new AbortController();
  c2.abort('just because');
  const e2 = await rejection(new Pipeline([count]).run(input(), { signal: c2.signal }));
  t.is(e2.name, 'AbortError');
  t.is(ran, 0);
});

test('abort from inside step 1 rejects with AbortError; step 2 never runs', async (t) => {
  const controller = new AbortController();
  let step2Ran = false;
  const progress: PipelineProgress[] = [];
  const aborts = numpy(async function aborts(stack: NDArray) {
    controller.abort();
    return mapValues(stack, (v) => v);
  });
  const step2 = numpy(async function step2(stack: NDArray) {
    step2Ran = true;
    return stack;
  });
  const x = input();
  const e = await rejection(new Pipeline([aborts, step2]).run(x, { signal: controller.signal, onProgress: (p) => progress.push(p) }));
  t.is(e.name, 'AbortError');
  t.false(e instanceof PipelineError);
  t.false(step2Ran);
  t.deepEqual(progress, []);
  t.false(x.disposed);
});

test('an abort reason that is an Error is the rejection', async (t) => {
  const controller = new AbortController();
  const reason = new Error('stop now');
  const aborts = numpy(async function aborts(stack: NDArray) {
    controller.abort(reason);
    return stack;
  });
  const e = await rejection(new Pipeline([aborts, addAmount]).run(input(), { signal: controller.signal }));
  t.is(e, reason);
});

test('onProgress is called after each step with completed 1..n', async (t) => {
  const progress: PipelineProgress[] = [];
  await threeSteps().run(input(), { onProgress: (p) => progress.push(p) });
  t.deepEqual(progress, [
    { stepIndex: 0, stepName: 'addAmount', completed: 1, total: 3 },
    { stepIndex: 1, stepName: 'times two', completed: 2, total: 3 },
    { stepIndex: 2, stepName: 'sumZ', completed: 3, total: 3 },
  ]);
});

test('tuple results become special outputs keyed by step name', async (t) => {
  const withCount = numpy(async function withCount(stack: NDArray) {
    const [z] = stack.shape;
    return [stack, { slices: z }, 'note'] as const;
  });
  const { output, specialOutputs } = await new Pipeline([withCount, double]).run(input());
  t.deepEqual(specialOutputs, { withCount: [{ slices: 2 }, 'note'] });
  t.deepEqual([...(await output.toTypedArray())], [2, 4, 6, 8, 10, 12, 14, 16]);
});

test('intermediates are disposed; the input and the output are not', async (t) => {
  const made: NDArray[] = [];
  const makes = numpy(async function makes(stack: NDArray) {
    const out = await mapValues(stack, (v) => v + 1);
    made.push(out);
    return out;
  });
  const passThrough = numpy(async function passThrough(stack: NDArray) {
    return stack;
  });
  const x = input();
  const { output } = await new Pipeline([passThrough, makes, double]).run(x);
  t.false(x.disposed);
  t.false(output.disposed);
  t.is(made.length, 1);
  t.true(made[0].disposed, 'the intermediate made by step 1 was released');
  t.deepEqual([...(await output.toTypedArray())], [4, 6, 8, 10, 12, 14, 16, 18]);
});

test('FunctionStep and Pipeline validate their arguments', (t) => {
  const plain = async (s: NDArray) => s;
  t.throws(() => new FunctionStep({ func: plain as never }), { instanceOf: InvalidArgumentError });
  t.throws(() => new Pipeline([plain as never]), { instanceOf: InvalidArgumentError });
  t.throws(() => new Pipeline([]), { instanceOf: InvalidArgumentError });
  t.throws(() => new Pipeline('x' as never), { instanceOf: InvalidArgumentError });
  const step = new FunctionStep({ func: addAmount, kwargs: { amount: 3 } });
  t.is(step.name, 'addAmount');
  t.is(step.inputMemoryType, 'numpy');
  t.deepEqual(step.kwargs, { amount: 3 });
  // @ts-expect-error kwargs are typed from the function's second parameter
  void new FunctionStep({ func: addAmount, kwargs: { amount: 'three' } });
});

test('registry: register, look up, list, reject duplicates and undecorated functions', (t) => {
  const regA = numpy(async function regA(s: NDArray) {
    return s;
  });
  const regB = torch(async function regB(s: NDArray) {
    return s;
  });
  registerFunction(regA);
  registerFunction(regB, 'customB');
  t.is(getFunction('numpy', 'regA'), regA);
  t.is(getFunction('torch', 'customB'), regB);
  t.is(getFunction('torch', 'regB'), undefined);
  t.is(getFunction('numpy', 'customB'), undefined);
  t.deepEqual(
    listFunctions('torch').map((e) => [e.name, e.memoryType]),
    [['customB', 'torch']],
  );
  t.true(listFunctions().some((e) => e.name === 'regA' && e.func === regA));
  t.throws(() => registerFunction(regA), { instanceOf: InvalidArgumentError });
  // The same name under another memory type is fine.
  const regA2 = torch(async function regA(s: NDArray) {
    return s;
  });
  registerFunction(regA2);
  t.is(getFunction('torch', 'regA'), regA2);
  t.throws(() => registerFunction((async (s: NDArray) => s) as never), { instanceOf: InvalidArgumentError });
  t.throws(() => registerFunction(42 as never), { instanceOf: InvalidArgumentError });
  t.throws(() => getFunction('nope' as 'numpy', 'regA'), { instanceOf: UnknownMemoryTypeError });
  t.true(unregisterFunction('numpy', 'regA'));
  t.is(getFunction('numpy', 'regA'), undefined);
  t.false(unregisterFunction('numpy', 'regA'));
});
