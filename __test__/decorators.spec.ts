/**
 * Memory-type decorators (DESIGN §4): call forms, metadata, input/output conversion, 3D checks,
 * dtype policies and tuple results. Expected values are computed by hand in the comments.
 */
import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import {
  cupy,
  jax,
  memoryTypes,
  numpy,
  pyclesperanto,
  tensorflow,
  torch,
  type DecoratedMetadata,
  type MemoryTypeDecorator,
} from '../ts/decorators.js';
import { DimensionError, InvalidArgumentError, InvalidDeviceError, UnknownMemoryTypeError } from '../ts/errors.js';
import { asarray, isNDArray, type NDArray } from '../ts/ndarray.js';
import { DtypeConversion, MemoryType, type Dtype, type MemoryTypeName } from '../ts/types.js';

test.before(async () => {
  await tf.setBackend('cpu');
});

/** A host uint8 stack [1, 2, 2] holding 0, 1, 2, 3. */
const ramp = () => asarray(new Uint8Array([0, 1, 2, 3]), { shape: [1, 2, 2] });

async function values(x: unknown): Promise<number[]> {
  if (isNDArray(x)) return Array.from(await x.toTypedArray());
  return Array.from(await (x as tf.Tensor).data());
}

/** `x * 2` of any engine array, returned as a host float32 array (what the dtype tests need). */
async function doubleAsFloat32(stack: NDArray): Promise<NDArray> {
  const v = await stack.toTypedArray();
  return asarray(Float32Array.from(v, (x) => x * 2), { shape: stack.shape, dtype: 'float32' });
}

/** `x + k` in the input's own dtype, on the host. */
async function plus(stack: NDArray, k: number): Promise<NDArray> {
  const v = await stack.toTypedArray();
  return asarray(v.map((x) => x + k), { shape: stack.shape, dtype: stack.dtype });
}

// ---------------------------------------------------------------- call forms

test('fn form: numpy(fn) runs the function and keeps its name', async (t) => {
  const addOne = numpy(async function addOne(stack: NDArray) {
    return plus(stack, 1);
  });
  t.is(addOne.name, 'addOne');
  const out = await addOne(ramp());
  t.true(isNDArray(out));
  t.is(out.memoryType, 'numpy');
  t.deepEqual([...out.shape], [1, 2, 2]);
  t.deepEqual(await values(out), [1, 2, 3, 4]);
});

test('options + fn form passes the rest arguments through', async (t) => {
  const add = torch({ sliceBySlice: true }, (stack: NDArray, opts: { k: number }) => plus(stack, opts.k));
  const out = await add(ramp(), { k: 10 });
  t.is(out.memoryType, 'torch');
  t.deepEqual(await values(out), [10, 11, 12, 13]);
  t.true(add.separable);
});

test('memoryTypes(options, fn) converts in and out as declared', async (t) => {
  const seen: string[] = [];
  const f = memoryTypes({ inputType: 'numpy', outputType: 'jax' }, (stack: NDArray) => {
    seen.push(stack.memoryType);
    return plus(stack, 0);
  });
  t.is(f.inputMemoryType, 'numpy');
  t.is(f.outputMemoryType, 'jax');
  const out = await f(asarray(new Uint8Array([5, 6, 7, 8]), { shape: [1, 2, 2], memoryType: 'torch' }));
  t.deepEqual(seen, ['numpy']);
  t.is(out.memoryType, 'jax');
  t.true(out.readonly);
  t.deepEqual(await values(out), [5, 6, 7, 8]);
});

class Scaler {
  factor = 3;
  @numpy()
  async scale(stack: NDArray): Promise<NDArray> {
    const v = await stack.toTypedArray();
    return asarray(v.map((x) => x * this.factor), { shape: stack.shape, dtype: stack.dtype });
  }
  @torch({ dtypeConversion: DtypeConversion.NATIVE_OUTPUT })
  async double(stack: NDArray): Promise<NDArray> {
    return doubleAsFloat32(stack);
  }
}

test('method decorator: `this` is the instance, metadata on the method', async (t) => {
  const s = new Scaler();
  t.deepEqual(await values(await s.scale(ramp())), [0, 3, 6, 9]);
  s.factor = 2;
  t.deepEqual(await values(await s.scale(ramp())), [0, 2, 4, 6]);
  // TS method decorators cannot change a member's declared type: read the metadata through a cast.
  const scale = Scaler.prototype.scale as unknown as DecoratedMetadata;
  const double = Scaler.prototype.double as unknown as DecoratedMetadata;
  t.is(scale.name, 'scale');
  t.is(scale.inputMemoryType, 'numpy');
  t.is(double.inputMemoryType, 'torch');
  t.is(double.options.dtypeConversion, DtypeConversion.NATIVE_OUTPUT);
  const d = await s.double(ramp());
  t.is(d.dtype, 'float32');
  t.is(d.memoryType, 'torch');
});

test('misuse does not compile (checked by tsc, never run)', (t) => {
  const neverCalled = () => {
    class Bad {
      // @ts-expect-error a decorated method must be async: the decorated one returns a Promise
      @numpy() sync(stack: NDArray) {
        return stack;
      }
    }
    // @ts-expect-error memoryTypes needs outputType
    memoryTypes({ inputType: 'numpy' }, (s: NDArray) => s);
    // @ts-expect-error not a memory type
    numpy({ inputType: 'numpyy' }, (s: NDArray) => s);
    // @ts-expect-error a decorated function takes a stack, not a number
    void numpy((s: NDArray) => s)(42);
    return Bad;
  };
  t.is(typeof neverCalled, 'function');
});

// ---------------------------------------------------------------- metadata and defaults

test('metadata and defaults of every decorator', (t) => {
  const fn = (s: NDArray) => s;
  const cases: [MemoryTypeDecorator<MemoryTypeName>, MemoryTypeName, boolean][] = [
    [numpy, 'numpy', false],
    [cupy, 'cupy', true],
    [torch, 'torch', true],
    [tensorflow, 'tensorflow', true],
    [jax, 'jax', true],
    [pyclesperanto, 'pyclesperanto', true],
  ];
  for (const [decorator, type, oom] of cases) {
    const f = decorator(fn);
    t.is(f.inputMemoryType, type);
    t.is(f.outputMemoryType, type);
    t.is(f.executionMemoryType, type);
    t.is(f.originalFunction, fn);
    t.is(f.name, 'fn');
    t.false(f.separable);
    t.true(Object.isFrozen(f.options));
    t.deepEqual(
      { ...f.options },
      {
        inputType: type,
        outputType: type,
        gpuId: undefined,
        oomRecovery: oom,
        sliceBySlice: false,
        separable: false,
        contract: undefined,
        dtypeConversion: DtypeConversion.PRESERVE_INPUT,
        strictDevice: false,
        allowCpuRoundtrip: false,
      },
    );
  }
  const g = numpy({ outputType: MemoryType.TORCH, gpuId: 0, oomRecovery: true, sliceBySlice: true, dtypeConversion: 'uint16' }, fn);
  t.is(g.inputMemoryType, 'numpy');
  t.is(g.outputMemoryType, 'torch');
  t.is(g.options.gpuId, 0);
  t.true(g.options.oomRecovery);
  t.true(g.separable);
  t.is(g.options.dtypeConversion, DtypeConversion.UINT16);
});

test('bad options fail at decoration time', (t) => {
  const fn = (s: NDArray) => s;
  const bad = (o: unknown) => () => numpy(o as never, fn);
  t.throws(bad({ inputType: 'numpyy' }), { instanceOf: UnknownMemoryTypeError });
  t.throws(bad({ outputType: 'unknown' }), { instanceOf: UnknownMemoryTypeError });
  t.throws(bad({ gpuId: -1 }), { instanceOf: InvalidDeviceError });
  t.throws(bad({ gpuId: 0.5 }), { instanceOf: InvalidDeviceError });
  t.throws(bad({ gpuId: '0' }), { instanceOf: InvalidDeviceError });
  t.throws(bad({ oomRecovery: 'yes' }), { instanceOf: InvalidArgumentError });
  t.throws(bad({ sliceBySlice: 1 }), { instanceOf: InvalidArgumentError });
  t.throws(bad({ dtypeConversion: 'int8' }), { instanceOf: InvalidArgumentError });
  t.throws(bad({ slicebyslice: true }), { instanceOf: InvalidArgumentError, message: /slicebyslice/ });
  t.throws(bad(null), { instanceOf: InvalidArgumentError });
  t.throws(() => numpy({}, 42 as never), { instanceOf: InvalidArgumentError });
  t.throws(() => torch({ gpuId: -2 }), { instanceOf: InvalidDeviceError });
  t.throws(() => memoryTypes({ inputType: 'numpy' } as never, fn), { instanceOf: InvalidArgumentError });
  t.throws(() => memoryTypes({ outputType: 'numpy' } as never, fn), { instanceOf: InvalidArgumentError });
});

// ---------------------------------------------------------------- input and output conversion

test('numpy input to a torch function arrives as torch (zero-copy on the host)', async (t) => {
  const stack = ramp();
  let received: NDArray | undefined;
  let seen: { memoryType: string; device: string; shares: boolean } | undefined;
  const f = torch((s: NDArray) => {
    received = s;
    seen = { memoryType: s.memoryType, device: s.device, shares: s.sharesMemoryWith(stack) };
    return plus(s, 0);
  });
  await f(stack);
  t.is(seen!.memoryType, 'torch');
  if (seen!.device === 'cpu') t.true(seen!.shares);
  else t.regex(seen!.device, /^cuda:\d+$/);
  // The wrapper's converted view is released after the call; the caller's stack is untouched.
  t.true(received!.disposed);
  t.false(stack.disposed);
  t.deepEqual(Array.from(stack.data), [0, 1, 2, 3]);
});

test('a jax function receives a read-only input', async (t) => {
  let ro: boolean | undefined;
  const f = jax((s: NDArray) => {
    ro = s.readonly;
    return plus(s, 0);
  });
  const out = await f(ramp());
  t.true(ro);
  t.is(out.memoryType, 'jax');
});

test('same type in and out: identity keeps the caller object and never disposes it', async (t) => {
  const stack = ramp();
  const id = numpy((s: NDArray) => s);
  const out = await id(stack);
  t.is(out, stack);
  t.false(stack.disposed);
});

test('outputType converts the result', async (t) => {
  const toTorch = numpy({ outputType: 'torch' }, (s: NDArray) => plus(s, 1));
  const out = await toTorch(ramp());
  t.is(out.memoryType, 'torch');
  t.deepEqual(await values(out), [1, 2, 3, 4]);
});

test('tensorflow: input arrives as a tf.Tensor, the result converts back', async (t) => {
  let gotTensor = false;
  // An int32 addend keeps the tfjs result int32 (`tf.add(x, 1)` would be float32 and get stretched).
  const inc = tensorflow({ outputType: 'numpy' }, (x: tf.Tensor) => {
    gotTensor = x instanceof tf.Tensor;
    return tf.add(x, tf.scalar(1, 'int32'));
  });
  const out = await inc(ramp());
  t.true(gotTensor);
  t.true(isNDArray(out));
  t.is(out.dtype, 'uint8'); // PRESERVE_INPUT: int32 (tfjs) -> uint8 by a plain cast
  t.deepEqual(await values(out), [1, 2, 3, 4]);

  const asTensor = await tensorflow((x: tf.Tensor) => tf.add(x, tf.scalar(1, 'int32')))(ramp());
  t.true(asTensor instanceof tf.Tensor);
  t.deepEqual(await values(asTensor), [1, 2, 3, 4]);
});

test('tensorflow result with a float dtype is min-max scaled to the input dtype', async (t) => {
  // float [0, 2, 4, 6] -> uint8 [0, 85, 170, 255] (see the dtype tests below for the arithmetic)
  const f = tensorflow({ outputType: 'numpy' }, (x: tf.Tensor) => tf.mul(tf.cast(x, 'float32'), 2));
  const out = await f(ramp());
  t.is(out.dtype, 'uint8');
  t.deepEqual(await values(out), [0, 85, 170, 255]);
});

test('unknown input kind → UnknownMemoryTypeError', async (t) => {
  const f = numpy((s: NDArray) => s);
  await t.throwsAsync(f([0, 1, 2] as never), { instanceOf: UnknownMemoryTypeError });
});

// ---------------------------------------------------------------- 3D

test('2D and 4D inputs → DimensionError naming the shape', async (t) => {
  const f = torch((s: NDArray) => s);
  await t.throwsAsync(f(asarray(new Uint8Array(4), { shape: [2, 2] })), { instanceOf: DimensionError, message: /\[2, 2\]/ });
  await t.throwsAsync(f(asarray(new Uint8Array(8), { shape: [1, 2, 2, 2] })), { instanceOf: DimensionError, message: /\[1, 2, 2, 2\]/ });
});

test('2D result → DimensionError', async (t) => {
  const flat = numpy(function flat(s: NDArray) {
    return s.reshape([2, 2]);
  });
  await t.throwsAsync(flat(ramp()), { instanceOf: DimensionError, message: /flat.*result.*\[2, 2\]/ });
  const tuple = numpy((s: NDArray) => [s.reshape([4]), 1]);
  await t.throwsAsync(tuple(ramp()), { instanceOf: DimensionError, message: /\[4\]/ });
});

test('a result that is not a stack → UnknownMemoryTypeError', async (t) => {
  await t.throwsAsync(numpy(() => 42)(ramp()), { instanceOf: UnknownMemoryTypeError });
  await t.throwsAsync(numpy(() => [])(ramp()), { instanceOf: UnknownMemoryTypeError });
});

// ---------------------------------------------------------------- dtype policy
//
// Input uint8 [0, 1, 2, 3]; the function returns x * 2 as float32 = [0, 2, 4, 6]; min 0, max 6.
// OpenHCS _scale_and_convert_numpy: (x - min) / (max - min) * (iinfo.max - iinfo.min) + iinfo.min,
// then astype (truncation), in float32 as numpy computes it for a float32 result:
//   uint8:  0/6*255 = 0;  2/6*255 = 85;  4/6*255 = 170 (float32(4/6) = 0.66666669 > 2/3, so 170.0000…,
//           truncates to 170);  6/6*255 = 255                          → [0, 85, 170, 255]
//   uint16: 0;  2/6*65535 = 21845;  4/6*65535 = 43690 (43690.0013 → 43690);  65535 → [0, 21845, 43690, 65535]

const dtypeCase = (policy?: DtypeConversion) =>
  torch(policy === undefined ? {} : { dtypeConversion: policy }, doubleAsFloat32);

test('PRESERVE_INPUT (default): float result → uint8 [0, 85, 170, 255]', async (t) => {
  const out = await dtypeCase()(ramp());
  t.is(out.dtype, 'uint8');
  t.is(out.memoryType, 'torch');
  t.deepEqual(await values(out), [0, 85, 170, 255]);
  const viaNumpy = await numpy(doubleAsFloat32)(ramp());
  t.deepEqual(await values(viaNumpy), [0, 85, 170, 255]);
});

test('UINT16: float result → uint16 [0, 21845, 43690, 65535]', async (t) => {
  const out = await dtypeCase(DtypeConversion.UINT16)(ramp());
  t.is(out.dtype, 'uint16');
  t.deepEqual(await values(out), [0, 21845, 43690, 65535]);
});

test('NATIVE_OUTPUT keeps the float result', async (t) => {
  const out = await dtypeCase(DtypeConversion.NATIVE_OUTPUT)(ramp());
  t.is(out.dtype, 'float32');
  t.deepEqual(await values(out), [0, 2, 4, 6]);
});

test('FLOAT32: an integer result is cast without scaling', async (t) => {
  const f = numpy({ dtypeConversion: DtypeConversion.FLOAT32 }, (s: NDArray) => plus(s, 1));
  const out = await f(ramp());
  t.is(out.dtype, 'float32');
  t.deepEqual(await values(out), [1, 2, 3, 4]);
});

test('PRESERVE_INPUT on an integer result of another dtype is a plain cast', async (t) => {
  // int32 [0, 300, 600, 900] -> uint16 by astype keeps the values (no stretch for int -> int).
  const f = numpy(async (s: NDArray) => {
    const v = await s.toTypedArray();
    return asarray(Int32Array.from(v, (x) => x * 300), { shape: s.shape, dtype: 'int32' });
  });
  const out = await f(asarray(new Uint16Array([0, 1, 2, 3]), { shape: [1, 2, 2] }));
  t.is(out.dtype, 'uint16' as Dtype);
  t.deepEqual(await values(out), [0, 300, 600, 900]);
});

test('a result replaced by the dtype cast is disposed', async (t) => {
  let made: NDArray | undefined;
  const f = numpy(async (s: NDArray) => (made = await doubleAsFloat32(s)));
  const out = await f(ramp());
  t.true(made!.disposed);
  t.false(out.disposed);
});

// ---------------------------------------------------------------- tuples

test('tuple results: the stack is converted, special outputs come back unchanged', async (t) => {
  const info = { cells: 3 };
  const f = numpy({ outputType: 'torch' }, (s: NDArray) => [s, info, 'label'] as const);
  const stack = ramp();
  const out = await f(stack);
  t.true(Array.isArray(out));
  t.is(out.length, 3);
  t.is(out[0].memoryType, 'torch');
  t.deepEqual(await values(out[0]), [0, 1, 2, 3]);
  t.is(out[1], info);
  t.is(out[2], 'label');
  t.false(stack.disposed);
});

test('tuple results get the dtype policy on the stack only', async (t) => {
  const f = numpy(async (s: NDArray) => [await doubleAsFloat32(s), [1, 2]] as [NDArray, number[]]);
  const [stack, special] = await f(ramp());
  t.is(stack.dtype, 'uint8');
  t.deepEqual(await values(stack), [0, 85, 170, 255]);
  t.deepEqual(special, [1, 2]);
});
