import test from 'ava';
import { devices } from '../ts/devices.js';
import * as tf from '@tensorflow/tfjs';
import {
  asarray,
  zeros,
  convertMemory,
  convertMemorySync,
  detectMemoryType,
  planConversion,
  MemoryType,
  MemoryWrapper,
  memoryInfo,
  TraceCollector,
  withTrace,
  GpuUnavailableError,
  InvalidDeviceError,
  MemoryConversionError,
  UnknownMemoryTypeError,
  type NDArray,
} from '../ts/index.js';

const u16 = () => asarray(new Uint16Array([0, 1, 65535, 300, 4, 5]), { shape: [1, 2, 3] });

test('detectMemoryType knows engine arrays and tfjs tensors, and nothing else', (t) => {
  t.is(detectMemoryType(u16()), MemoryType.NUMPY);
  t.is(detectMemoryType(zeros([1], { memoryType: 'torch' })), MemoryType.TORCH);
  t.is(detectMemoryType(zeros([1], { memoryType: 'jax' })), MemoryType.JAX);
  t.is(detectMemoryType(tf.zeros([1])), MemoryType.TENSORFLOW);
  for (const x of [null, undefined, 3, 'numpy', {}, [1, 2], new Float32Array(2), { shape: [1], dtype: 'float32' }]) {
    t.is(detectMemoryType(x), MemoryType.UNKNOWN);
  }
  const d = u16();
  d.dispose();
  t.is(detectMemoryType(d), MemoryType.UNKNOWN);
  t.is(MemoryWrapper.detectMemoryType(tf.zeros([1])), MemoryType.TENSORFLOW);
});

test('identity returns the same object', async (t) => {
  const a = u16();
  t.is(await convertMemory(a, { targetType: 'numpy' }), a);
  const tensor = tf.ones([2]);
  t.is(await convertMemory(tensor, { targetType: 'tensorflow' }), tensor);
});

test.serial('numpy → torch → jax on the host are zero-copy: same memory, no allocation, writes visible', async (t) => {
  const a = zeros([8, 64, 64], { dtype: 'float32' });
  const before = memoryInfo('cpu').allocatedBytes;
  const trace = new TraceCollector();
  const [torchA, jaxA] = await withTrace(trace, async () => {
    const x = (await convertMemory(a, { targetType: 'torch' })) as NDArray;
    const y = (await convertMemory(x, { targetType: 'jax' })) as NDArray;
    return [x, y];
  });
  t.is(memoryInfo('cpu').allocatedBytes, before, 'no new memory');
  t.true(torchA.sharesMemoryWith(a) && jaxA.sharesMemoryWith(a));
  t.is(torchA.memoryType, 'torch');
  t.is(torchA.device, 'cpu'); // no CUDA device here: torch lives on the host, like PyTorch
  t.false(torchA.readonly);
  t.true(jaxA.readonly);
  a.data[100] = 5;
  t.is(torchA.data[100], 5);
  torchA.data[101] = 6;
  t.is(a.data[101], 6);
  t.is(jaxA.data[101], 6);
  t.deepEqual(trace.conversions.map((c) => [c.from, c.to, c.kind, c.bytes]), [
    ['numpy', 'torch', 'zero-copy', 8 * 64 * 64 * 4],
    ['torch', 'jax', 'zero-copy', 8 * 64 * 64 * 4],
  ]);
  // a view of a jax array stays read-only, as np.asarray(jax_array) is
  const back = convertMemorySync(jaxA, { targetType: 'numpy' });
  t.true(back.readonly);
  t.true(back.sharesMemoryWith(a));
  // the view survives disposing the original
  a.dispose();
  t.is(torchA.data[100], 5);
});

test('device kinds answer GpuUnavailableError on a machine without CUDA or OpenCL', async (t) => {
  const a = u16();
  await t.throwsAsync(() => convertMemory(a, { targetType: 'cupy' }), { instanceOf: GpuUnavailableError });
  if (devices().some((d) => d.kind === 'opencl')) {
    t.log('an OpenCL device exists: pyclesperanto converts (opencl.spec.ts covers it; no-driver case there too)');
    t.is((await convertMemory(a, { targetType: 'pyclesperanto' })).device, 'opencl:0');
  } else {
    await t.throwsAsync(() => convertMemory(a, { targetType: 'pyclesperanto' }), { instanceOf: GpuUnavailableError });
  }
  t.throws(() => planConversion('numpy', 'cupy'), { instanceOf: GpuUnavailableError });
  t.throws(() => asarray([1], { shape: [1], memoryType: 'cupy' }), { instanceOf: GpuUnavailableError });
  const w = new MemoryWrapper(a, 'numpy');
  await t.throwsAsync(() => w.toCupy({ allowCpuRoundtrip: true }), { instanceOf: GpuUnavailableError });
});

test('bad conversion requests are typed errors', async (t) => {
  const a = u16();
  for (const gpuId of [-1, 1.5, NaN, '0' as never]) {
    await t.throwsAsync(() => convertMemory(a, { targetType: 'torch', gpuId }), { instanceOf: InvalidDeviceError });
  }
  await t.throwsAsync(() => convertMemory(a, { targetType: 'numpyy' as never }), { instanceOf: UnknownMemoryTypeError });
  await t.throwsAsync(() => convertMemory({} as never, { targetType: 'numpy' }), { instanceOf: UnknownMemoryTypeError });
  await t.throwsAsync(() => convertMemory(a, { sourceType: 'torch', targetType: 'numpy' }), { instanceOf: MemoryConversionError });
  t.throws(() => new MemoryWrapper(a, 'jax'), { instanceOf: MemoryConversionError });
});

test('planConversion reports the kinds of DESIGN §2 for this machine', (t) => {
  t.is(planConversion('numpy', 'numpy').kind, 'identity');
  t.is(planConversion('numpy', 'torch').kind, 'zero-copy');
  t.is(planConversion('torch', 'jax').kind, 'zero-copy');
  t.is(planConversion('jax', 'numpy').kind, 'zero-copy');
  t.is(planConversion('numpy', 'tensorflow', { dtype: 'float32' }).kind, 'zero-copy');
  t.is(planConversion('numpy', 'tensorflow', { dtype: 'uint16' }).kind, 'transfer');
  t.is(planConversion('tensorflow', 'numpy').kind, 'transfer');
});

test('numpy → tensorflow is zero-copy for float32 on the tfjs cpu backend', async (t) => {
  t.is(tf.getBackend(), 'cpu');
  const a = asarray(new Float32Array([1, 2, 3, 4, 5, 6]), { shape: [1, 2, 3] });
  const trace = new TraceCollector();
  const tensor = await withTrace(trace, () => convertMemory(a, { targetType: 'tensorflow' }));
  t.true(tensor instanceof tf.Tensor);
  t.deepEqual(tensor.shape, [1, 2, 3]);
  t.is(trace.conversions[0].kind, 'zero-copy');
  a.data[0] = 100; // tensors view engine memory: the write shows through
  t.is(tensor.dataSync()[0], 100);
  a.dispose(); // the tensor holds its own reference to the memory
  t.deepEqual([...tensor.dataSync()], [100, 2, 3, 4, 5, 6]);
  const back = (await convertMemory(tensor, { targetType: 'numpy' })) as NDArray;
  t.is(back.dtype, 'float32');
  t.deepEqual([...back.data], [100, 2, 3, 4, 5, 6]);
});

test('tensorflow widens uint8/uint16/int16/float64 and restores them exactly', async (t) => {
  const cases: [NDArray, 'int32' | 'float32'][] = [
    [asarray(new Uint8Array([0, 1, 255]), { shape: [1, 1, 3] }), 'int32'],
    [asarray(new Uint16Array([0, 65535, 40000]), { shape: [1, 1, 3] }), 'int32'],
    [asarray(new Int16Array([-32768, 32767, -1]), { shape: [1, 1, 3] }), 'int32'],
    // none of these is a float32 value: only a recorded original can restore them
    [asarray(new Float64Array([0.1, 1e-300, 123456789.123456789]), { shape: [1, 1, 3] }), 'float32'],
    [asarray(new Int32Array([-2147483648, 2147483647, 0]), { shape: [1, 1, 3] }), 'int32'],
  ];
  for (const [a, tfDtype] of cases) {
    const trace = new TraceCollector();
    const tensor = await withTrace(trace, () => convertMemory(a, { targetType: 'tensorflow' }));
    t.is(tensor.dtype, tfDtype);
    t.is(trace.conversions[0].kind, a.dtype === 'int32' ? 'zero-copy' : 'transfer');
    for (const target of ['numpy', 'torch', 'jax'] as const) {
      const back = (await convertMemory(tensor, { targetType: target })) as NDArray;
      t.is(back.dtype, a.dtype);
      t.is(back.memoryType, target);
      t.deepEqual([...back.data], [...a.data], `${a.dtype} via tensorflow to ${target}`);
    }
  }
  // tensors made by tfjs itself come back as their own dtype (bool as uint8)
  const b = (await convertMemory(tf.tensor([true, false, true], [1, 1, 3], 'bool'), { targetType: 'numpy' })) as NDArray;
  t.is(b.dtype, 'uint8');
  t.deepEqual([...b.data], [1, 0, 1]);
});

test('MemoryWrapper converts with toX() and keeps the gpu id', async (t) => {
  const w = new MemoryWrapper(u16(), 'numpy', 0);
  const torchW = await w.toTorch();
  t.is(torchW.memoryType, 'torch');
  t.is(torchW.gpuId, 0);
  t.true(torchW.data.sharesMemoryWith(w.data));
  const tfW = await torchW.toTensorflow();
  t.is(detectMemoryType(tfW.data), MemoryType.TENSORFLOW);
  const jaxW = await tfW.toJax();
  t.deepEqual([...jaxW.data.data], [0, 1, 65535, 300, 4, 5]);
  t.is(jaxW.data.dtype, 'uint16');
  t.true(jaxW.data.readonly);
  const npW = await jaxW.toNumpy();
  t.is(npW.memoryType, 'numpy');
});
