import test from 'ava';
import * as sb from '../ts/index.js';
import { addon } from '../ts/native.js';
import { ERROR_CLASSES, InternalError, native, nativeAsync } from '../ts/errors.js';

const {
  asarray, zeros, convertMemory, convertMemorySync, planConversion, MemoryWrapper, astype, scaleToDtype, concatZ, copy,
  memoryInfo, emptyCache, setMemoryLimit, StackbridgeError,
} = sb;

test('every Rust error code has a TS class with the same code, under StackbridgeError', (t) => {
  const codes = addon.errorCodes();
  t.true(codes.length >= 18);
  for (const code of codes) {
    const Cls = ERROR_CLASSES[code];
    t.truthy(Cls, code);
    const e = new Cls('m');
    t.is(e.code, code);
    t.true(e instanceof StackbridgeError);
    t.true(e instanceof Error);
  }
});

test('the hierarchy of DESIGN §3', (t) => {
  t.true(new sb.CpuRoundtripRequiredError('x') instanceof sb.MemoryConversionError);
  t.is(new sb.CpuRoundtripRequiredError('x').method, 'cpu-roundtrip');
  t.true(new sb.UnsupportedConversionError('x') instanceof sb.MemoryConversionError);
  for (const C of [sb.GpuUnavailableError, sb.InvalidDeviceError, sb.DeviceMismatchError, sb.DeviceLostError]) {
    t.true(new C('x') instanceof sb.DeviceError);
  }
  const m = new sb.MemoryConversionError('bad', { sourceType: 'numpy', targetType: 'cupy', method: 'transfer', reason: 'r' });
  t.deepEqual([m.sourceType, m.targetType, m.method, m.reason], ['numpy', 'cupy', 'transfer', 'r']);
  // user code can raise the engine's errors, with their numbers
  const oom = new sb.OutOfMemoryError('out', { device: 'cuda:0', requestedBytes: 10, freeBytes: 2, limitBytes: 8 });
  t.deepEqual([oom.device, oom.requestedBytes, oom.freeBytes, oom.limitBytes, oom.code], ['cuda:0', 10, 2, 8, 'SB_OUT_OF_MEMORY']);
  t.is(oom.name, 'OutOfMemoryError');
  t.is(new sb.KernelCompileError('k', { log: 'line 3: error' }).log, 'line 3: error');
  const p = new sb.PipelineError('step failed', { stepName: 's', stepIndex: 2 }, { cause: oom });
  t.deepEqual([p.stepName, p.stepIndex, p.cause], ['s', 2, oom]);
});

test('OutOfMemoryError from the engine carries requested, free and limit bytes', (t) => {
  setMemoryLimit('cpu', memoryInfo('cpu').allocatedBytes + (1 << 20));
  try {
    const e = t.throws(() => zeros([4 << 20], { dtype: 'uint8' }), { instanceOf: sb.OutOfMemoryError });
    t.is(e.requestedBytes, 4 << 20);
    t.is(e.device, 'cpu');
    t.true(typeof e.freeBytes === 'number' && e.freeBytes! <= 1 << 20);
    t.is(typeof e.limitBytes, 'number');
    t.notThrows(() => zeros([1000], { dtype: 'uint8' }));
  } finally {
    setMemoryLimit('cpu', null);
  }
  t.is(memoryInfo('cpu').limitBytes ?? null, null);
});

test('a panic inside the binding becomes InternalError and the process lives on', async (t) => {
  t.throws(() => native(() => addon.debugPanic(false)), { instanceOf: InternalError, message: /panic/ });
  await t.throwsAsync(() => nativeAsync(async () => addon.debugPanic(true)), { instanceOf: InternalError });
  t.deepEqual([...asarray([1, 2], { shape: [2] }).data], [1, 2]);
});

/** The calls that did not fail with a StackbridgeError (each described), after running them all. */
async function untyped(calls: [string, () => unknown][]): Promise<string[]> {
  const wrong: string[] = [];
  for (const [name, call] of calls) {
    let error: unknown;
    try {
      await call();
    } catch (e) {
      error = e;
    }
    if (!(error instanceof StackbridgeError)) wrong.push(`${name} → ${error === undefined ? 'no error' : String(error)}`);
  }
  return wrong;
}

/** Calls that must each fail with a StackbridgeError (never a crash, never a plain TypeError). */
function badCalls(): [string, () => unknown][] {
  const live = asarray(new Float32Array(8), { shape: [2, 2, 2] });
  const dead = asarray(new Float32Array(8), { shape: [2, 2, 2] });
  dead.dispose();
  const weird: unknown[] = [undefined, null, NaN, -1, 1.5, 1e300, 'x', {}, [], [NaN], Symbol('s'), () => 1, 10n];
  const calls: [string, () => unknown][] = [];
  for (const w of weird) {
    const tag = typeof w === 'symbol' ? 'symbol' : typeof w === 'bigint' ? 'bigint' : JSON.stringify(w) ?? String(w);
    calls.push([`asarray(data=${tag})`, () => asarray(w as never, { shape: [1] })]);
    calls.push([`asarray(shape=${tag})`, () => asarray([1], { shape: w as never })]);
    calls.push([`asarray(dtype=${tag})`, () => asarray([1], { shape: [1], dtype: w as never })]);
    calls.push([`zeros(${tag})`, () => zeros(w as never)]);
    calls.push([`zeros([${tag}])`, () => zeros([w] as never)]);
    calls.push([`convertMemory(${tag})`, () => convertMemory(w as never, { targetType: 'torch' })]);
    calls.push([`convertMemory(target=${tag})`, () => convertMemory(live, { targetType: w as never })]);
    calls.push([`convertMemory(options=${tag})`, () => convertMemory(live, w as never)]);
    calls.push([`convertMemorySync(${tag})`, () => convertMemorySync(w as never, { targetType: 'torch' })]);
    calls.push([`planConversion(${tag})`, () => planConversion(w as never, 'numpy')]);
    calls.push([`astype(${tag})`, () => astype(w as never, 'uint8')]);
    calls.push([`astype(dtype=${tag})`, () => astype(live, w as never)]);
    calls.push([`scaleToDtype(dtype=${tag})`, () => scaleToDtype(live, w as never)]);
    calls.push([`concatZ(${tag})`, () => concatZ(w as never)]);
    calls.push([`concatZ([${tag}])`, () => concatZ([w] as never)]);
    calls.push([`copy(${tag})`, () => copy(w as never)]);
    calls.push([`memoryInfo(${tag})`, () => memoryInfo(w as never)]);
    if (w !== null) calls.push([`setMemoryLimit(cpu, ${tag})`, () => setMemoryLimit('cpu', w as never)]);
    calls.push([`MemoryWrapper(${tag})`, () => new MemoryWrapper(w as never, 'numpy')]);
    calls.push([`sliceZ(${tag})`, () => live.sliceZ(w as never, 1)]);
    calls.push([`reshape(${tag})`, () => live.reshape(w as never)]);
  }
  // ids of devices that do not exist here: the first OpenCL index past the machine's devices
  const missingOpenCl = `opencl:${sb.devices().filter((d) => d.kind === 'opencl').length}`;
  for (const id of ['gpu', 'cuda:0', missingOpenCl, 'cuda:-1', 'cpu:0', '']) {
    calls.push([`memoryInfo(${id})`, () => memoryInfo(id as never)]);
    calls.push([`emptyCache(${id})`, () => emptyCache(id as never)]);
    calls.push([`setMemoryLimit(${id})`, () => setMemoryLimit(id as never, 1)]);
  }
  calls.push(['disposed: shape', () => dead.shape]);
  calls.push(['disposed: data', () => dead.data]);
  calls.push(['disposed: convert', () => convertMemory(dead, { targetType: 'jax' })]);
  calls.push(['disposed: astype', () => astype(dead, 'uint8')]);
  calls.push(['disposed: concatZ', () => concatZ([live, dead])]);
  calls.push(['disposed: MemoryWrapper', () => new MemoryWrapper(dead, 'numpy')]);
  calls.push(['concatZ mixed dtypes', () => concatZ([live, asarray(new Uint8Array(4), { shape: [1, 2, 2] })])]);
  calls.push(['concatZ mixed shapes', () => concatZ([live, asarray(new Float32Array(3), { shape: [1, 3, 1] })])]);
  return calls;
}

test('every export answers wrong input with a typed error and the process stays alive', async (t) => {
  const calls = badCalls();
  t.true(calls.length > 250);
  // valid calls among the generated ones: an omitted dtype means "the data's own"
  // and [] is a 0-d shape (one element), NaN a number
  const valid = new Set(['asarray(dtype=undefined)', 'asarray(shape=[])', 'zeros([])', 'asarray(data=[null])']);
  t.deepEqual(await untyped(calls.filter(([name]) => !valid.has(name))), []);
  setMemoryLimit('cpu', null);
  t.deepEqual([...asarray([3], { shape: [1] }).data], [3]);
});

test('the raw binding itself rejects wrong JS types without crashing', async (t) => {
  const raw: [string, () => unknown][] = [
    ['asarray(string)', () => addon.asarray('abc' as never, [3], null, 'numpy')],
    ['asarray(shape obj)', () => addon.asarray([1], {} as never, null, 'numpy')],
    ['zeros(NaN)', () => addon.zeros([NaN], 'uint8', 'numpy')],
    ['zeros(bad type)', () => addon.zeros([1], 'uint8', 'numpyy')],
    ['convert({})', () => addon.convertSync({} as never, 'torch', null, false, false)],
    ['convert(null)', () => addon.convertSync(null as never, 'torch', null, false, false)],
    ['concatZ([1])', () => addon.concatZ([1] as never)],
    ['memoryInfo(1)', () => addon.memoryInfo(1 as never)],
    ['setMemoryLimit(-1)', () => addon.setMemoryLimit('cpu', -1)],
    ['planConversion(bad device)', () => addon.planConversion('numpy', 'cuda:x', 'torch', null, false, false)],
    ['placement(gpuId -1)', () => addon.placement('cupy', -1)],
  ];
  for (const [name, call] of raw) {
    const e = await t.throwsAsync(async () => nativeAsync(async () => call()), undefined, name);
    t.true(e instanceof StackbridgeError, `${name}: ${String(e)}`);
  }
});

test('decorators, stack utilities and pipelines answer wrong input with typed errors', async (t) => {
  const f = sb.numpy((s: sb.NDArray) => s);
  const stack = asarray(new Uint8Array(8), { shape: [2, 2, 2] });
  const flat = asarray(new Uint8Array(4), { shape: [2, 2] });
  const calls: [string, () => unknown][] = [
    ['numpy(not a function)', () => sb.numpy('x' as never)],
    ['numpy(unknown option)', () => sb.numpy({ bogus: 1 } as never, (s: sb.NDArray) => s)],
    ['numpy(gpuId -1)', () => sb.numpy({ gpuId: -1 }, (s: sb.NDArray) => s)],
    ['numpy(dtypeConversion bigint)', () => sb.numpy({ dtypeConversion: 1n as never }, (s: sb.NDArray) => s)],
    ['torch(oomRecovery "yes")', () => sb.torch({ oomRecovery: 'yes' as never }, (s: sb.NDArray) => s)],
    ['memoryTypes(bad input type)', () => sb.memoryTypes({ inputType: 'nope' as never, outputType: 'numpy' }, (s: sb.NDArray) => s)],
    ['memoryTypes(no options)', () => sb.memoryTypes(undefined as never, (s: sb.NDArray) => s)],
    ['decorated(2D input)', () => f(flat)],
    ['decorated(number)', () => f(3 as never)],
    ['decorated(disposed)', () => { const d = asarray([1], { shape: [1, 1, 1] }); d.dispose(); return f(d); }],
    ['decorated returns 2D', () => sb.numpy(() => flat)(stack)],
    ['decorated returns a string', () => sb.numpy(() => 'x' as never)(stack)],
    ['stackSlices([])', () => sb.stackSlices([], 'numpy')],
    ['stackSlices([3])', () => sb.stackSlices([3 as never], 'numpy')],
    ['stackSlices([3D])', () => sb.stackSlices([stack], 'numpy')],
    ['stackSlices(bad type)', () => sb.stackSlices([flat], 'nope' as never)],
    ['stackSlices(gpuId NaN)', () => sb.stackSlices([flat], 'torch', NaN)],
    ['unstackSlices(2D)', () => sb.unstackSlices(flat, 'numpy')],
    ['unstackSlices(null)', () => sb.unstackSlices(null as never, 'numpy')],
    ['processSlices(2D)', () => sb.processSlices(flat, (x: sb.NDArray) => x)],
    ['FunctionStep(undecorated)', () => new sb.FunctionStep({ func: (() => 1) as never })],
    ['FunctionStep(null)', () => new sb.FunctionStep(null as never)],
    ['Pipeline([])', () => new sb.Pipeline([])],
    ['Pipeline(3)', () => new sb.Pipeline(3 as never)],
    ['plan(bad type)', () => new sb.Pipeline([new sb.FunctionStep({ func: f })]).plan('nope' as never)],
    ['run(undefined)', () => new sb.Pipeline([new sb.FunctionStep({ func: f })]).run(undefined as never)],
    ['run(gpuId -2)', () => new sb.Pipeline([new sb.FunctionStep({ func: f })]).run(stack, { gpuId: -2 })],
    ['run(2D)', () => new sb.Pipeline([new sb.FunctionStep({ func: f })]).run(flat)],
    ['FunctionStep(kwargs 5)', () => new sb.FunctionStep({ func: f, kwargs: 5 as never })],
    ['kwargs the function rejects', () => {
      const g = sb.numpy((s: sb.NDArray, o: { k: number }) => {
        if (typeof o?.k !== 'number') throw new TypeError('k must be a number');
        return s;
      });
      return new sb.Pipeline([new sb.FunctionStep({ func: g, kwargs: { k: 'x' } as never })]).run(stack);
    }],
    ['registerFunction(undecorated)', () => sb.registerFunction((() => 1) as never)],
  ];
  t.deepEqual(await untyped(calls), []);
  t.deepEqual([...(await f(stack)).data], [0, 0, 0, 0, 0, 0, 0, 0]);
});

test('the wrong calls found by the fuzzer (issue 11) get the typed error that belongs to them', async (t) => {
  const x = asarray(new Uint8Array(8), { shape: [2, 2, 2] });
  const dead = asarray(new Uint8Array(8), { shape: [2, 2, 2] });
  dead.dispose();
  const circular: Record<string, unknown> = { sigma: 1 };
  circular.self = circular;
  const { gaussian } = await import('../ts/processors/numpy.js');
  const pipeline = new sb.Pipeline([sb.numpy((s: sb.NDArray) => s)]);
  const cases: [string, () => unknown, new (...a: any[]) => Error][] = [
    ['zeros([2,2], null)', () => zeros([2, 2], null as never), sb.InvalidArgumentError],
    ['pipeline.run(x, null)', () => pipeline.run(x, null as never), sb.InvalidArgumentError],
    ['pipeline.run(disposed)', () => pipeline.run(dead), sb.DisposedError],
    ['pipeline.run(x, { signal: 5 })', () => pipeline.run(x, { signal: 5 as never }), sb.InvalidArgumentError],
    ["MemoryWrapper(x,'numpy').toTorch(null)", () => new MemoryWrapper(x, 'numpy').toTorch(null as never), sb.InvalidArgumentError],
    ['withTrace(5, fn)', () => sb.withTrace(5 as never, async () => 1), sb.InvalidArgumentError],
    ['withTrace(collector, null)', () => sb.withTrace(new sb.TraceCollector(), null as never), sb.InvalidArgumentError],
    ["stackSlices(new Array(2), 'numpy')", () => sb.stackSlices(new Array(2), 'numpy'), sb.InvalidArgumentError],
    ['gaussian(x, { sigma: 1n })', () => gaussian(x, { sigma: 1n as never }), sb.InvalidArgumentError],
    ['gaussian(x, circular)', () => gaussian(x, circular as never), sb.InvalidArgumentError],
    ['gaussian(x, { signal: {} })', () => gaussian(x, { signal: {} as never } as never), sb.InvalidArgumentError],
    ['convertMemory(x, { signal: 1 })', () => convertMemory(x, { targetType: 'torch', signal: 1 as never }), sb.InvalidArgumentError],
    ['decorated per-call sliceBySlice "yes"', () => sb.numpy((s: sb.NDArray) => s)(x, { sliceBySlice: 'yes' as never }), sb.InvalidArgumentError],
    ['decorated per-call dtypeConversion bogus', () => sb.numpy((s: sb.NDArray) => s)(x, { dtypeConversion: 'int8' as never }), sb.InvalidArgumentError],
    ['numpy({ contract: 1 })', () => sb.numpy({ contract: 1 as never }, (s: sb.NDArray) => s), sb.InvalidArgumentError],
    ['numpy({ separable: "no" })', () => sb.numpy({ separable: 'no' as never }, (s: sb.NDArray) => s), sb.InvalidArgumentError],
    ['contract violated', () => sb.numpy({ contract: () => false }, (s: sb.NDArray) => s)(x), sb.ContractError],
  ];
  const wrong: string[] = [];
  for (const [name, call, Cls] of cases) {
    try {
      await call();
      wrong.push(`${name} → no error`);
    } catch (e) {
      if (!(e instanceof Cls)) wrong.push(`${name} → ${String(e)} (expected ${Cls.name})`);
    }
  }
  t.deepEqual(wrong, []);
});
