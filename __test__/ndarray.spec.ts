import test from 'ava';
import {
  asarray,
  zeros,
  NDArray,
  memoryInfo,
  DisposedError,
  DtypeError,
  InvalidArgumentError,
  StackbridgeError,
  convertMemory,
} from '../ts/index.js';
import { astype } from '../ts/ops.js';

test('asarray copies each dtype into engine memory with the right TypedArray', (t) => {
  const cases = [
    [new Uint8Array([0, 255, 7]), Uint8Array],
    [new Uint16Array([0, 65535, 7]), Uint16Array],
    [new Int16Array([-32768, 32767, 7]), Int16Array],
    [new Int32Array([-2147483648, 2147483647, 7]), Int32Array],
    [new Float32Array([-1.5, 3.25, 7]), Float32Array],
    [new Float64Array([-1e300, 1e-300, 7]), Float64Array],
  ] as const;
  for (const [src, Ctor] of cases) {
    const a = asarray(src, { shape: [1, 1, 3] });
    t.true(a.data instanceof Ctor);
    t.deepEqual([...a.data], [...src]);
    t.deepEqual(a.shape, [1, 1, 3]);
    t.is(a.memoryType, 'numpy');
    t.is(a.device, 'cpu');
    src[0] = 1; // the engine holds a copy: the caller's buffer is theirs
    t.not(a.data[0], 1);
    a.dispose();
  }
});

test('asarray converts numbers and other dtypes like numpy astype', (t) => {
  const a = asarray([1.9, -2.9, 300], { shape: [3], dtype: 'uint8' });
  // numpy: np.array([1.9, -2.9, 300.0]).astype(np.uint8) truncates toward zero; -2 and 300 are out of
  // range for uint8 (undefined in C); stackbridge saturates those: documented in ARCHITECTURE.md
  t.deepEqual([...a.data], [1, 0, 255]);
  const b = asarray(new Int32Array([300, -1]), { shape: [2], dtype: 'uint8' });
  t.deepEqual([...b.data], [44, 255]); // int -> int wraps, as numpy: 300 % 256 = 44, -1 -> 255
  const c = asarray([1, 2, 3, 4], { shape: [2, 2] });
  t.is(c.dtype, 'float64');
  t.deepEqual(c.strides, [2, 1]);
});

test('.data is a zero-copy view: JS writes are seen by the engine and engine writes by JS', async (t) => {
  const a = zeros([2, 2, 2], { dtype: 'int32' });
  t.deepEqual([...a.data], [0, 0, 0, 0, 0, 0, 0, 0]);
  const view = a.data;
  view[3] = 42;
  t.is(a.data[3], 42); // a second view sees it
  const copied = await a.toTypedArray(); // Rust reads the memory on a worker thread
  t.is(copied[3], 42);
  t.true(copied.buffer !== view.buffer);
  // an engine write (a zero-copy view as another kind, sliced by Rust) lands in the same memory
  const plane = a.sliceZ(1, 2);
  plane.data[0] = -7; // element 4 of the parent
  t.is(view[4], -7);
  const f = await astype(a, 'float32');
  t.deepEqual([...f.data], [0, 0, 0, 42, -7, 0, 0, 0]);
});

test.serial('dispose frees memory, is idempotent, and later use throws DisposedError', async (t) => {
  const before = memoryInfo('cpu').allocatedBytes;
  const a = zeros([4, 256, 256], { dtype: 'float32' }); // 1 MiB
  t.true(memoryInfo('cpu').allocatedBytes >= before + 4 * 256 * 256 * 4);
  const view = a.data;
  t.is(view.length, 4 * 256 * 256);
  a.dispose();
  a.dispose(); // harmless
  t.true(a.disposed);
  t.is(memoryInfo('cpu').allocatedBytes, before);
  t.is(view.length, 0, 'an old view is detached, so it can never read freed memory');
  t.is(view[0] as number | undefined, undefined);
  t.throws(() => a.shape, { instanceOf: DisposedError });
  t.throws(() => a.data, { instanceOf: DisposedError });
  t.throws(() => a.sliceZ(0, 1), { instanceOf: DisposedError });
  await t.throwsAsync(() => a.toTypedArray(), { instanceOf: DisposedError });
  await t.throwsAsync(() => convertMemory(a, { targetType: 'torch' }), { instanceOf: DisposedError });
  await t.throwsAsync(() => astype(a, 'uint8'), { instanceOf: DisposedError });
});

test('views keep memory alive until the last holder is disposed', (t) => {
  const a = asarray(new Uint8Array([1, 2, 3, 4]), { shape: [4, 1, 1] });
  const v = a.sliceZ(2, 4);
  a.dispose();
  t.deepEqual([...v.data], [3, 4]);
  const d = v.data;
  v[Symbol.dispose]();
  t.true(v.disposed);
  t.is(d.length, 0);
});

test('bad shapes, lengths and dtypes are typed errors', (t) => {
  const data = new Float32Array(6);
  t.throws(() => asarray(data, { shape: [2, 2] }), { instanceOf: InvalidArgumentError, message: /6 elements/ });
  for (const bad of [[-1, 6], [1.5, 4], [NaN, 1], [Infinity], [1e20, 1e20], [2 ** 40, 2 ** 40]]) {
    t.throws(() => zeros(bad), { instanceOf: InvalidArgumentError }, `shape ${bad}`);
  }
  t.throws(() => zeros([2], { dtype: 'int8' as never }), { instanceOf: DtypeError });
  t.throws(() => asarray(data, { shape: [6], dtype: 'complex64' as never }), { instanceOf: DtypeError });
  t.throws(() => asarray(new Int8Array(2) as never, { shape: [2] }), { instanceOf: InvalidArgumentError });
  t.throws(() => asarray('abc' as never, { shape: [3] }), { instanceOf: InvalidArgumentError });
  t.throws(() => asarray([1, 'x'] as never, { shape: [2] }), { instanceOf: InvalidArgumentError });
  t.throws(() => asarray(data, null as never), { instanceOf: InvalidArgumentError });
  t.throws(() => new NDArray({} as never), { instanceOf: InvalidArgumentError });
  const e = t.throws(() => zeros([-3]));
  t.true(e instanceof StackbridgeError);
});

test('absurdly large but well-formed arrays fail with a typed error, not a crash', (t) => {
  // 2^47 float64 elements = 1 PiB: the allocator refuses it
  const e = t.throws(() => zeros([2 ** 23, 2 ** 24], { dtype: 'float64' }));
  t.true(e instanceof StackbridgeError, String(e));
});

test('reshape and sliceZ are views and check their arguments', (t) => {
  const a = asarray(new Uint16Array([1, 2, 3, 4, 5, 6]), { shape: [3, 2] });
  const r = a.reshape([2, 3]);
  t.true(r.sharesMemoryWith(a));
  r.data[5] = 60;
  t.is(a.data[5], 60);
  t.throws(() => a.reshape([4, 2]), { instanceOf: InvalidArgumentError });
  t.throws(() => a.sliceZ(2, 4), { instanceOf: InvalidArgumentError });
  t.throws(() => a.sliceZ(-1, 1), { instanceOf: InvalidArgumentError });
  t.deepEqual([...a.sliceZ(1, 3).data], [3, 4, 5, 60]);
});
