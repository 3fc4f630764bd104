/**
 * OOM recovery (DESIGN §4): empty-cache retries, Z splitting of separable functions, rethrow with
 * the numbers; non-OOM errors are never retried. Call counts and records are worked out by hand.
 */
import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { numpy, tensorflow, torch } from '../ts/decorators.js';
import { memoryInfo, setMemoryLimit } from '../ts/devices.js';
import { OutOfMemoryError } from '../ts/errors.js';
import { asarray, isNDArray, zeros, type NDArray } from '../ts/ndarray.js';
import { runWithOomRecovery } from '../ts/oom.js';
import { TraceCollector, withTrace, type RecoveryRecord } from '../ts/trace.js';

test.before(async () => {
  await tf.setBackend('cpu');
});

/** uint8 stack [z, 2, 2] holding 0, 1, 2, ... (z * 4 values). */
const stackOf = (z: number) => asarray(Uint8Array.from({ length: z * 4 }, (_, i) => i), { shape: [z, 2, 2] });
const oom = () => new OutOfMemoryError('simulated OOM', { device: 'cpu', requestedBytes: 12345, freeBytes: 10, limitBytes: 100 });

async function plusOne(s: NDArray): Promise<NDArray> {
  const v = await s.toTypedArray();
  return asarray(v.map((x) => x + 1), { shape: s.shape, dtype: s.dtype });
}

async function traced<T>(fn: () => Promise<T>): Promise<{ result?: T; error?: unknown; recoveries: RecoveryRecord[] }> {
  const trace = new TraceCollector();
  try {
    const result = await withTrace(trace, fn);
    return { result, recoveries: trace.recoveries };
  } catch (error) {
    return { error, recoveries: trace.recoveries };
  }
}
const actions = (r: RecoveryRecord[]) => r.map((x) => `${x.action}:${x.attempt}${x.zRange ? `:${x.zRange.join('-')}` : ''}`);

test('OOM on the first call only → 2 calls, one empty-cache retry', async (t) => {
  let calls = 0;
  const f = torch(async (s: NDArray) => {
    if (++calls === 1) throw oom();
    return plusOne(s);
  });
  const { result, recoveries } = await traced(() => f(stackOf(1)));
  t.is(calls, 2);
  t.deepEqual(actions(recoveries), ['empty-cache-retry:1']);
  t.is(recoveries[0]!.device, 'cpu');
  t.deepEqual(Array.from(await result!.toTypedArray()), [1, 2, 3, 4]);
});

test('OOM on the first two calls → 3 calls, retries 1 and 2', async (t) => {
  let calls = 0;
  const f = torch(async (s: NDArray) => {
    if (++calls <= 2) throw oom();
    return plusOne(s);
  });
  const { result, recoveries } = await traced(() => f(stackOf(2)));
  t.is(calls, 3);
  t.deepEqual(actions(recoveries), ['empty-cache-retry:1', 'empty-cache-retry:2']);
  t.deepEqual(Array.from(await result!.toTypedArray()), [1, 2, 3, 4, 5, 6, 7, 8]);
});

test('separable function OOM above Z=2 on Z=8 → split in halves, result as unsplit', async (t) => {
  const zs: number[] = [];
  const f = torch({ separable: true }, async (s: NDArray) => {
    zs.push(s.shape[0]!);
    if (s.shape[0]! > 2) throw oom();
    return plusOne(s);
  });
  const input = stackOf(8);
  const { result, recoveries } = await traced(() => f(input));
  // Z=8: 3 calls fail → split [0,4) [4,8); each Z=4: 3 calls fail → split into two Z=2 that succeed.
  t.deepEqual(zs, [8, 8, 8, 4, 4, 4, 2, 2, 4, 4, 4, 2, 2]);
  t.deepEqual(actions(recoveries), [
    'empty-cache-retry:1', 'empty-cache-retry:2', 'split-z:1:0-8',
    'empty-cache-retry:1', 'empty-cache-retry:2', 'split-z:2:0-4',
    'empty-cache-retry:1', 'empty-cache-retry:2', 'split-z:2:4-8',
  ]);
  t.deepEqual([...result!.shape], [8, 2, 2]);
  t.is(result!.dtype, 'uint8');
  t.deepEqual(Array.from(await result!.toTypedArray()), Array.from({ length: 32 }, (_, i) => i + 1));
  t.false(input.disposed);
});

test('split parts of a tuple result: special outputs joined as lists in Z order', async (t) => {
  const f = numpy({ oomRecovery: true, separable: true }, async (s: NDArray) => {
    const z = s.shape[0]!;
    if (z > 2) throw oom();
    const first = (await s.toTypedArray())[0]!;
    // a scalar per part, and a per-slice list
    return [await plusOne(s), z, Array.from({ length: z }, (_, i) => first / 4 + i)] as [NDArray, number, number[]];
  });
  const { result } = await traced(() => f(stackOf(4)));
  const [stack, zs, perSlice] = result!;
  t.deepEqual(Array.from(await stack.toTypedArray()), Array.from({ length: 16 }, (_, i) => i + 1));
  t.deepEqual(zs, [2, 2]); // one entry per part
  t.deepEqual(perSlice, [0, 1, 2, 3]); // per-slice lists concatenate to what an unsplit run gives
});

test('not separable → rethrows the OOM after 3 calls', async (t) => {
  let calls = 0;
  const f = torch(async () => {
    calls++;
    throw oom();
  });
  const { error, recoveries } = await traced(() => f(stackOf(8)));
  t.true(error instanceof OutOfMemoryError);
  t.is(calls, 3);
  t.deepEqual(actions(recoveries), ['empty-cache-retry:1', 'empty-cache-retry:2', 'rethrow:3']);
});

test('a non-OOM error is never retried', async (t) => {
  let calls = 0;
  const f = torch({ separable: true }, async () => {
    calls++;
    throw new TypeError('bug in user code');
  });
  const { error, recoveries } = await traced(() => f(stackOf(8)));
  t.true(error instanceof TypeError);
  t.is((error as Error).message, 'bug in user code');
  t.is(calls, 1);
  t.deepEqual(recoveries, []);
});

test('OOM on every call at Z=1 → rethrow keeping the numbers', async (t) => {
  let calls = 0;
  const thrown: OutOfMemoryError[] = [];
  const f = torch({ separable: true }, async () => {
    calls++;
    const e = oom();
    thrown.push(e);
    throw e;
  });
  const { error, recoveries } = await traced(() => f(stackOf(1)));
  t.is(calls, 3);
  t.true(error instanceof OutOfMemoryError);
  const e = error as OutOfMemoryError;
  t.is(e, thrown[2]); // the last error itself, not a copy
  t.is(e.requestedBytes, 12345);
  t.is(e.freeBytes, 10);
  t.is(e.limitBytes, 100);
  t.is(e.device, 'cpu');
  t.deepEqual(actions(recoveries), ['empty-cache-retry:1', 'empty-cache-retry:2', 'rethrow:3']);
});

test('separable with OOM down to single planes → rethrow from the first plane', async (t) => {
  let calls = 0;
  const f = torch({ separable: true }, async () => {
    calls++;
    throw oom();
  });
  const { error, recoveries } = await traced(() => f(stackOf(2)));
  // Z=2: 3 calls → split; plane [0,1): 3 calls → rethrow (the second plane is never tried).
  t.true(error instanceof OutOfMemoryError);
  t.is(calls, 6);
  t.deepEqual(actions(recoveries), [
    'empty-cache-retry:1', 'empty-cache-retry:2', 'split-z:1:0-2',
    'empty-cache-retry:1', 'empty-cache-retry:2', 'rethrow:3',
  ]);
});

test('numpy functions do not recover by default', async (t) => {
  let calls = 0;
  const f = numpy({ separable: true }, async () => {
    calls++;
    throw oom();
  });
  const { error, recoveries } = await traced(() => f(stackOf(4)));
  t.true(error instanceof OutOfMemoryError);
  t.is(calls, 1);
  t.deepEqual(recoveries, []);
});

test('tf.Tensor stacks split with slice and join with concat', async (t) => {
  const zs: number[] = [];
  const f = tensorflow({ separable: true, outputType: 'numpy' }, (x: tf.Tensor) => {
    zs.push(x.shape[0]!);
    if (x.shape[0]! > 1) throw oom();
    return tf.add(x, tf.scalar(1, 'int32')); // int32 stays int32: a plain cast back to uint8
  });
  const { result, recoveries } = await traced(() => f(stackOf(2)));
  t.deepEqual(zs, [2, 2, 2, 1, 1]);
  t.deepEqual(actions(recoveries), ['empty-cache-retry:1', 'empty-cache-retry:2', 'split-z:1:0-2']);
  t.true(isNDArray(result));
  t.deepEqual(Array.from(await result!.toTypedArray()), [1, 2, 3, 4, 5, 6, 7, 8]);
});

test('runWithOomRecovery directly: split views are zero-copy and released', async (t) => {
  const input = stackOf(4);
  const views: NDArray[] = [];
  const out = await runWithOomRecovery(
    async (s: NDArray) => {
      if (s.shape[0]! > 2) throw oom();
      views.push(s);
      t.true(s.sharesMemoryWith(input));
      return { stack: await plusOne(s), special: null };
    },
    input,
    { separable: true, device: 'cpu' },
  );
  t.is(views.length, 2);
  t.true(views.every((v) => v.disposed));
  t.false(input.disposed);
  t.is(out.special, null);
  t.deepEqual(Array.from(await out.stack.toTypedArray()), Array.from({ length: 16 }, (_, i) => i + 1));
});

// Serial: AVA runs serial tests before the concurrent ones, so the host memory cap cannot leak
// into the other tests of this file.
test.serial('a real engine OOM (setMemoryLimit) is recovered by splitting', async (t) => {
  // uint8 [8, 32, 32] input (8 KiB). The function needs a float64 scratch of Z * 8 KiB and returns
  // a Z * 1 KiB result. With 28 000 B of headroom: Z=8 (64 KiB) and Z=4 (32 KiB) run out, Z=2
  // (16 KiB scratch + at most 8 KiB of finished parts held) fits.
  const input = asarray(Uint8Array.from({ length: 8 * 32 * 32 }, (_, i) => i % 251), { shape: [8, 32, 32] });
  const zs: number[] = [];
  const f = torch({ separable: true }, async (s: NDArray) => {
    zs.push(s.shape[0]!);
    const scratch = zeros([s.shape[0]!, 32, 32], { dtype: 'float64', memoryType: 'torch' });
    scratch.dispose();
    return plusOne(s);
  });
  setMemoryLimit('cpu', memoryInfo('cpu').allocatedBytes + 28_000);
  let outcome: Awaited<ReturnType<typeof traced<NDArray>>>;
  try {
    outcome = await traced(() => f(input));
  } finally {
    setMemoryLimit('cpu', null);
  }
  const { result, error, recoveries } = outcome;
  t.is(error, undefined);
  t.deepEqual(zs, [8, 8, 8, 4, 4, 4, 2, 2, 4, 4, 4, 2, 2]);
  t.deepEqual(recoveries.filter((r) => r.action === 'split-z').map((r) => r.zRange), [[0, 8], [0, 4], [4, 8]]);
  t.true(recoveries.every((r) => r.device === 'cpu'));
  t.deepEqual(Array.from(await result!.toTypedArray()), Array.from({ length: 8 * 32 * 32 }, (_, i) => (i % 251) + 1));
});

test.serial('a real engine OOM on a function that is not separable is rethrown with its numbers', async (t) => {
  const f = torch(async (s: NDArray) => {
    zeros([s.shape[0]!, 32, 32], { dtype: 'float64', memoryType: 'torch' }).dispose(); // 8 KiB per plane
    return plusOne(s);
  });
  const input = stackOf(1);
  setMemoryLimit('cpu', memoryInfo('cpu').allocatedBytes + 4096);
  let outcome: Awaited<ReturnType<typeof traced<NDArray>>>;
  try {
    outcome = await traced(() => f(input));
  } finally {
    setMemoryLimit('cpu', null);
  }
  const e = outcome.error as OutOfMemoryError;
  t.true(e instanceof OutOfMemoryError);
  t.is(e.device, 'cpu');
  t.is(e.requestedBytes, 8192); // 1 * 32 * 32 float64
  t.is(typeof e.limitBytes, 'number');
  t.deepEqual(actions(outcome.recoveries), ['empty-cache-retry:1', 'empty-cache-retry:2', 'rethrow:3']);
});
