import test from 'ava';

import {
  DimensionError,
  DtypeError,
  GpuUnavailableError,
  InvalidArgumentError,
  InvalidDeviceError,
  UnknownMemoryTypeError,
} from '../ts/errors.js';
import { addon } from '../ts/native.js';
import { asarray, type NDArray } from '../ts/ndarray.js';
import { processSlices, stackSlices, unstackSlices } from '../ts/stack.js';
import { requireTf, type Tensor } from '../ts/tfjs.js';
import type { MemoryTypeName } from '../ts/types.js';

const f32 = (values: number[], shape: number[], memoryType: MemoryTypeName = 'numpy') =>
  asarray(Float32Array.from(values), { shape, dtype: 'float32', memoryType });

const slice0 = () => f32([1, 2, 3, 4], [2, 2]);
const slice1 = () => f32([5, 6, 7, 8], [2, 2]);

test('stackSlices builds a [Z, Y, X] copy in the requested memory type', async (t) => {
  const a = slice0();
  const b = slice1();
  const s = await stackSlices([a, b], 'numpy');
  t.deepEqual([...s.shape], [2, 2, 2]);
  t.is(s.dtype, 'float32');
  t.is(s.memoryType, 'numpy');
  t.deepEqual([...s.data], [1, 2, 3, 4, 5, 6, 7, 8]);
  // A new array: the slices are not views of it.
  a.data[0] = 100;
  t.is(s.data[0], 1);
  t.false(s.sharesMemoryWith(a));
});

test('stackSlices converts slices of other memory types first', async (t) => {
  const s = await stackSlices([f32([1, 2, 3, 4], [2, 2], 'torch'), f32([5, 6, 7, 8], [2, 2], 'jax')], 'torch');
  t.is(s.memoryType, 'torch');
  t.deepEqual([...s.shape], [2, 2, 2]);
  t.deepEqual([...(await s.toTypedArray())], [1, 2, 3, 4, 5, 6, 7, 8]);
});

test('stack → unstack round trip gives zero-copy views of the stack', async (t) => {
  const s = await stackSlices([slice0(), slice1()], 'numpy');
  const views = unstackSlices(s, 'numpy');
  t.is(views.length, 2);
  for (const v of views) {
    t.deepEqual([...v.shape], [2, 2]);
    t.is(v.memoryType, 'numpy');
    t.true(v.sharesMemoryWith(s));
  }
  t.deepEqual([...views[0].data], [1, 2, 3, 4]);
  t.deepEqual([...views[1].data], [5, 6, 7, 8]);
  // Writes go both ways: slice 1 element 0 is stack element 4.
  views[1].data[0] = 42;
  t.is(s.data[4], 42);
  s.data[3] = -1;
  t.is(views[0].data[3], -1);
  // Restacking the views gives back the (edited) stack.
  const again = await stackSlices(views, 'numpy');
  t.deepEqual([...again.data], [1, 2, 3, -1, 42, 6, 7, 8]);
});

test('unstackSlices converts to the requested memory type', async (t) => {
  const s = f32([1, 2, 3, 4, 5, 6], [3, 1, 2]);
  const views = unstackSlices(s, 'torch');
  t.deepEqual(
    views.map((v) => v.memoryType),
    ['torch', 'torch', 'torch'],
  );
  t.deepEqual(await Promise.all(views.map(async (v) => [...(await v.toTypedArray())])), [
    [1, 2],
    [3, 4],
    [5, 6],
  ]);
});

test('unstackSlices rejects non-3D arrays and unknown memory types', (t) => {
  const e2 = t.throws(() => unstackSlices(slice0(), 'numpy'), { instanceOf: DimensionError });
  t.regex(e2.message, /3D/);
  t.throws(() => unstackSlices(f32([1, 2], [1, 1, 1, 2]), 'numpy'), { instanceOf: DimensionError });
  t.throws(() => unstackSlices(f32([1, 2], [1, 1, 2]), 'nope' as MemoryTypeName), { instanceOf: UnknownMemoryTypeError });
  t.throws(() => unstackSlices(42 as unknown as NDArray, 'numpy'), { instanceOf: InvalidArgumentError });
});

test('stackSlices: an empty list beats every other error', async (t) => {
  const e = await t.throwsAsync(stackSlices([], 'numpy'), { instanceOf: InvalidArgumentError });
  t.is(e.message, 'Cannot stack empty list of slices');
  await t.throwsAsync(stackSlices([], 'nope' as MemoryTypeName, -5), {
    instanceOf: InvalidArgumentError,
    message: 'Cannot stack empty list of slices',
  });
  await t.throwsAsync(stackSlices('abc' as unknown as NDArray[], 'numpy'), { instanceOf: InvalidArgumentError });
});

test('stackSlices: a non-2D slice is reported (by index) before unequal shapes', async (t) => {
  const threeD = f32([1, 2, 3, 4], [1, 2, 2]);
  const wide = f32([1, 2, 3, 4, 5, 6], [2, 3]);
  const e = await t.throwsAsync(stackSlices([slice0(), threeD, wide], 'numpy'), { instanceOf: DimensionError });
  t.regex(e.message, /index 1/);
  t.regex(e.message, /\[1, 2, 2\]/);
  t.like(e.details, { index: 1, shape: [1, 2, 2] });
  // Also before an unknown memory type or a bad gpu id.
  await t.throwsAsync(stackSlices([slice0(), threeD], 'nope' as MemoryTypeName, -1), { instanceOf: DimensionError });
});

test('stackSlices: unequal shapes name the first mismatching index', async (t) => {
  const wide = f32([1, 2, 3, 4, 5, 6], [2, 3]);
  const tall = f32([1, 2, 3, 4, 5, 6], [3, 2]);
  const e = await t.throwsAsync(stackSlices([slice0(), slice1(), wide, tall], 'numpy'), { instanceOf: DimensionError });
  t.regex(e.message, /index 2/);
  t.like(e.details, { index: 2, shape: [2, 3], expected: [2, 2] });
});

test('stackSlices: unequal dtypes, unknown memory type, bad gpu id', async (t) => {
  const u16 = asarray(Uint16Array.from([1, 2, 3, 4]), { shape: [2, 2] });
  const e = await t.throwsAsync(stackSlices([slice0(), u16], 'numpy'), { instanceOf: DtypeError });
  t.regex(e.message, /index 1/);
  await t.throwsAsync(stackSlices([slice0(), slice1()], 'nope' as MemoryTypeName), { instanceOf: UnknownMemoryTypeError });
  await t.throwsAsync(stackSlices([slice0(), slice1()], 'torch', -1), { instanceOf: InvalidDeviceError });
  await t.throwsAsync(stackSlices([slice0(), slice1()], 'torch', 0.5), { instanceOf: InvalidDeviceError });
  // Not an array at all.
  await t.throwsAsync(stackSlices([slice0(), 7 as unknown as NDArray], 'numpy'), { instanceOf: InvalidArgumentError });
});

test('processSlices applies a function per slice and restacks in the input type', async (t) => {
  const s = f32([1, 2, 3, 4, 5, 6, 7, 8], [2, 2, 2], 'torch');
  const seen: number[][] = [];
  const out = (await processSlices(
    s,
    async (slice: NDArray, factor: number, offset: number) => {
      seen.push([...slice.shape]);
      const values = [...(await slice.toTypedArray())];
      return f32(
        values.map((v) => v * factor + offset),
        [...slice.shape],
        'torch',
      );
    },
    10,
    1,
  )) as NDArray;
  t.deepEqual(seen, [
    [2, 2],
    [2, 2],
  ]);
  t.is(out.memoryType, 'torch');
  t.deepEqual([...out.shape], [2, 2, 2]);
  t.deepEqual([...(await out.toTypedArray())], [11, 21, 31, 41, 51, 61, 71, 81]);
  // The input is untouched.
  t.deepEqual([...(await s.toTypedArray())], [1, 2, 3, 4, 5, 6, 7, 8]);
});

test('processSlices collects tuple tails per slice (async fn)', async (t) => {
  const s = f32([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], [3, 2, 2]);
  const out = await processSlices(s, async (slice: NDArray) => {
    const values = [...slice.data];
    const sum = values.reduce((a, b) => a + b, 0);
    return [f32(values.map((v) => -v), [2, 2]), sum, { max: Math.max(...values) }] as const;
  });
  t.true(Array.isArray(out));
  const [stack, sums, maxes] = out as [NDArray, number[], { max: number }[]];
  t.deepEqual([...stack.shape], [3, 2, 2]);
  t.deepEqual([...stack.data], [-1, -2, -3, -4, -5, -6, -7, -8, -9, -10, -11, -12]);
  t.deepEqual(sums, [10, 26, 42]);
  t.deepEqual(maxes, [{ max: 4 }, { max: 8 }, { max: 12 }]);
  t.is((out as unknown[]).length, 3);
});

test('processSlices rejects non-3D input and mixed result forms', async (t) => {
  await t.throwsAsync(
    processSlices(slice0(), (x: NDArray) => x),
    { instanceOf: DimensionError },
  );
  const s = f32([1, 2, 3, 4, 5, 6, 7, 8], [2, 2, 2]);
  let i = 0;
  await t.throwsAsync(
    processSlices(s, (x: NDArray) => (i++ === 0 ? [x, 1] : x)),
    { instanceOf: InvalidArgumentError },
  );
  await t.throwsAsync(processSlices(s, 'nope' as unknown as (x: NDArray) => NDArray), { instanceOf: InvalidArgumentError });
});

test('tensorflow: stack, unstack and processSlices work on tf.Tensors', async (t) => {
  const tf = requireTf() as unknown as typeof import('@tensorflow/tfjs');
  const a = tf.tensor2d([1, 2, 3, 4], [2, 2]);
  const b = tf.tensor2d([5, 6, 7, 8], [2, 2]);
  const s = await stackSlices([a, b], 'tensorflow');
  t.deepEqual(s.shape, [2, 2, 2]);
  t.deepEqual([...s.dataSync()], [1, 2, 3, 4, 5, 6, 7, 8]);
  // tf slices stacked into an engine type.
  const n = await stackSlices([a, b], 'numpy');
  t.is(n.memoryType, 'numpy');
  t.deepEqual([...n.data], [1, 2, 3, 4, 5, 6, 7, 8]);
  const parts = unstackSlices(s, 'tensorflow');
  t.deepEqual(
    parts.map((p) => [...p.dataSync()]),
    [
      [1, 2, 3, 4],
      [5, 6, 7, 8],
    ],
  );
  t.throws(() => unstackSlices(s, 'numpy'), { instanceOf: InvalidArgumentError });
  const out = (await processSlices(s, (slice: NDArray) => tf.mul(slice as unknown as import('@tensorflow/tfjs').Tensor, 3) as unknown as NDArray)) as unknown as Tensor;
  t.true(out instanceof tf.Tensor);
  t.deepEqual([...out.dataSync()], [3, 6, 9, 12, 15, 18, 21, 24]);
});

test('cupy without CUDA: stackSlices and unstackSlices throw GpuUnavailableError', async (t) => {
  if (addon.devices().some((d) => d.id.startsWith('cuda:'))) {
    t.pass('a CUDA device is present');
    return;
  }
  await t.throwsAsync(stackSlices([slice0(), slice1()], 'cupy'), { instanceOf: GpuUnavailableError });
  t.throws(() => unstackSlices(f32([1, 2, 3, 4], [1, 2, 2]), 'cupy'), { instanceOf: GpuUnavailableError });
});

test('processSlices restacks in the memory type the function returned (arraybridge 0.5), not the input\'s', async (t) => {
  const s = f32([1, 2, 3, 4, 5, 6, 7, 8], [2, 2, 2], 'jax');
  // jax slices in, numpy (host) slices out → a numpy stack.
  const out = (await processSlices(s, async (slice: NDArray) => f32([...(await slice.toTypedArray())].map((v) => v - 1), [2, 2]))) as NDArray;
  t.is(out.memoryType, 'numpy');
  t.false(out.readonly);
  t.deepEqual([...(await out.toTypedArray())], [0, 1, 2, 3, 4, 5, 6, 7]);
});

test('processSlices refuses tuples whose length changes between slices', async (t) => {
  const s = f32([1, 2, 3, 4, 5, 6, 7, 8], [2, 2, 2]);
  let i = 0;
  const e = await t.throwsAsync(
    processSlices(s, async (slice: NDArray) => (i++ === 0 ? [slice, 'a'] : [slice, 'a', 'b'])),
    { instanceOf: InvalidArgumentError },
  );
  t.regex(e!.message, /slice 1 returned 3/);
});

test('processSlices keeps a jax stack jax when the function returns jax slices', async (t) => {
  const s = f32([1, 2, 3, 4, 5, 6, 7, 8], [2, 2, 2], 'jax');
  const out = (await processSlices(s, async (slice: NDArray) => f32([...(await slice.toTypedArray())].map((v) => v - 1), [2, 2], 'jax'))) as NDArray;
  t.is(out.memoryType, 'jax');
  t.true(out.readonly);
  t.deepEqual([...(await out.toTypedArray())], [0, 1, 2, 3, 4, 5, 6, 7]);
});
