/**
 * `convertMemory` and `detectMemoryType` (DESIGN §2). The conversion matrix lives in Rust; this
 * module only adds the tensorflow edges (tfjs tensors are JS objects) and records every conversion
 * into the current trace.
 */
import {
  DtypeError,
  InvalidArgumentError,
  InvalidDeviceError,
  MemoryConversionError,
  UnknownMemoryTypeError,
  native,
  nativeAsync,
} from './errors.js';
import { cancellable, checkSignal, effectiveSignal, throwIfAborted } from './cancel.js';
import { addon } from './native.js';
import { asarray, checkMemoryType, describe, handleOf, isNDArray, optionsObject, wrap, type NDArray } from './ndarray.js';
import { astype, copy } from './ops.js';
import { recordConversion } from './trace.js';
import { isTensor, requireTf, type Tensor } from './tfjs.js';
import { MemoryType, type ConversionKind, type Dtype, type MemoryTypeName } from './types.js';

export interface ConvertOptions {
  /** Detected when omitted; when given it must match the data. */
  sourceType?: MemoryTypeName | MemoryType;
  targetType: MemoryTypeName | MemoryType;
  /** Device index in the target's domain (CUDA or OpenCL); ignored by host-only kinds. */
  gpuId?: number;
  /** Allow CUDA ↔ OpenCL / device ↔ tfjs conversions through host memory (two copies). */
  allowCpuRoundtrip?: boolean;
  /** Throw `DeviceMismatchError` instead of moving data that is on another device of the domain. */
  strictDevice?: boolean;
  /** Aborts a conversion that copies (between 16 MiB tiles): it rejects with `AbortError`. */
  signal?: AbortSignal;
}

/** The result type of converting to `T`. */
export type Converted<T extends MemoryTypeName | MemoryType> = `${T}` extends 'tensorflow' ? Tensor : NDArray;

/** The memory type of `x`: an `NDArray`'s own, `TENSORFLOW` for a tfjs Tensor, else `UNKNOWN`. */
export function detectMemoryType(x: unknown): MemoryType {
  if (isNDArray(x)) {
    if (x.disposed) return MemoryType.UNKNOWN;
    return x.memoryType as MemoryType;
  }
  if (isTensor(x)) return MemoryType.TENSORFLOW;
  return MemoryType.UNKNOWN;
}

/** Validates a gpuId: undefined, or a non-negative integer (`InvalidDeviceError` otherwise). */
export function checkGpuId(gpuId: unknown): number | undefined {
  if (gpuId === undefined || gpuId === null) return undefined;
  if (typeof gpuId !== 'number' || !Number.isInteger(gpuId) || gpuId < 0) {
    throw new InvalidDeviceError(`gpuId must be a non-negative integer, got ${String(gpuId)}`, { gpuId: String(gpuId) });
  }
  return gpuId;
}

/** Original dtypes of tensors made by widening (tfjs has no uint8/uint16/int16/float64). */
const originals = new WeakMap<Tensor, { dtype: Dtype; exact?: NDArray }>();
/** Keeps the engine memory of a zero-copy tensor alive as long as the tensor object lives. */
const holders = new WeakMap<Tensor, NDArray>();

/** The shape of an NDArray or tfjs Tensor. */
export function shapeOf(x: unknown): readonly number[] {
  if (isNDArray(x)) return x.shape;
  if (isTensor(x)) return x.shape;
  throw new UnknownMemoryTypeError(`cannot read the shape of ${describe(x)}`);
}

/** The dtype of an NDArray, or the engine dtype a tfjs Tensor stands for (its recorded original). */
export function dtypeOf(x: unknown): Dtype {
  if (isNDArray(x)) return x.dtype;
  if (isTensor(x)) return originals.get(x)?.dtype ?? tensorDtype(x);
  throw new UnknownMemoryTypeError(`cannot read the dtype of ${describe(x)}`);
}

function tensorDtype(t: Tensor): Dtype {
  switch (t.dtype) {
    case 'float32':
      return 'float32';
    case 'int32':
      return 'int32';
    case 'bool':
      return 'uint8';
    default:
      throw new DtypeError(`tfjs dtype ${t.dtype} has no engine equivalent`, { dtype: t.dtype });
  }
}

const bytesOf = (shape: readonly number[], dtype: Dtype): number =>
  shape.reduce((a, b) => a * b, 1) * { uint8: 1, uint16: 2, int16: 2, int32: 4, uint32: 4, float32: 4, float64: 8 }[dtype];

function checkSource(data: unknown, declared: MemoryTypeName | MemoryType | undefined): MemoryTypeName {
  const detected = detectMemoryType(data);
  if (detected === MemoryType.UNKNOWN) {
    if (isNDArray(data)) handleOf(data); // a disposed array: DisposedError
    throw new UnknownMemoryTypeError(`cannot detect the memory type of ${describe(data)}; expected an NDArray or a tf.Tensor`);
  }
  if (declared !== undefined) {
    const d = checkMemoryType(declared);
    if (d !== detected) {
      throw new MemoryConversionError(`sourceType is '${d}' but the data is '${detected}'`, {
        sourceType: d,
        targetType: undefined,
        method: 'validate',
        reason: 'declared source type does not match the data',
      });
    }
  }
  return detected as MemoryTypeName;
}

/**
 * Converts `data` to `targetType` (DESIGN §2). Identity returns the same object; zero-copy returns a
 * view over the same memory; copies happen off the main thread. Values never change; dtype is kept
 * (tensorflow widens and restores exactly).
 */
export async function convertMemory<T extends MemoryTypeName | MemoryType>(
  data: NDArray | Tensor,
  options: ConvertOptions & { targetType: T },
): Promise<Converted<T>>;
export async function convertMemory(data: unknown, options: ConvertOptions): Promise<NDArray | Tensor>;
export async function convertMemory(data: unknown, options: ConvertOptions): Promise<NDArray | Tensor> {
  if (options === null || typeof options !== 'object') throw new InvalidArgumentError('convertMemory needs options with a targetType');
  const source = checkSource(data, options.sourceType);
  const target = checkMemoryType(options.targetType);
  const gpuId = checkGpuId(options.gpuId);
  const allow = options.allowCpuRoundtrip === true;
  const strict = options.strictDevice === true;
  const signal = checkSignal(options.signal, 'convertMemory');
  throwIfAborted(effectiveSignal(signal));
  const t0 = performance.now();

  if (source === 'tensorflow' && target === 'tensorflow') {
    record(source, target, 'identity', data as Tensor, t0, 'tfjs', 'tfjs');
    return data as Tensor;
  }
  if (source === 'tensorflow') return fromTensor(data as Tensor, target, gpuId, allow, strict, t0);
  if (target === 'tensorflow') return toTensor(data as NDArray, gpuId, allow, t0);

  const arr = data as NDArray;
  const { array, c } = await convertEngine(arr, target, gpuId, allow, strict, signal);
  recordConversion({ from: source, to: target, kind: c.kind as ConversionKind, bytes: c.bytes, ms: c.micros / 1000, sourceDevice: c.sourceDevice, targetDevice: c.targetDevice });
  return array;
}

/**
 * An engine array to another engine kind, unrecorded: O(1) edges complete in the first call; an
 * edge that copies comes back deferred and runs on a worker thread.
 */
async function convertEngine(arr: NDArray, target: MemoryTypeName, gpuId: number | undefined, allow: boolean, strict: boolean, signal?: AbortSignal) {
  const h = handleOf(arr);
  let c = native(() => addon.convertSync(h, target, gpuId ?? null, allow, strict, true));
  if (c.deferred) {
    c = await cancellable('convertMemory', signal, (token) => nativeAsync(() => addon.convertAsync(h, target, gpuId ?? null, allow, strict, token)));
  }
  return { array: c.array == null ? arr : wrap(c.array), c };
}

/**
 * Synchronous `convertMemory` for engine arrays (not tensorflow): fine for the O(1) host edges;
 * device copies block the event loop, so prefer the async form for them.
 */
export function convertMemorySync(data: NDArray, options: ConvertOptions): NDArray {
  if (options === null || typeof options !== 'object') throw new InvalidArgumentError('convertMemorySync needs options with a targetType');
  const source = checkSource(data, options.sourceType);
  const target = checkMemoryType(options.targetType);
  if (source === 'tensorflow' || target === 'tensorflow') {
    throw new InvalidArgumentError('tensorflow conversions are asynchronous; use convertMemory');
  }
  const gpuId = checkGpuId(options.gpuId);
  const h = handleOf(data);
  const c = native(() => addon.convertSync(h, target, gpuId ?? null, options.allowCpuRoundtrip === true, options.strictDevice === true));
  recordConversion({ from: source, to: target, kind: c.kind as ConversionKind, bytes: c.bytes, ms: c.micros / 1000, sourceDevice: c.sourceDevice, targetDevice: c.targetDevice });
  return c.array == null ? data : wrap(c.array);
}

function record(from: MemoryTypeName, to: MemoryTypeName, kind: ConversionKind, x: NDArray | Tensor, t0: number, sourceDevice: string, targetDevice: string): void {
  recordConversion({ from, to, kind, bytes: bytesOf(shapeOf(x), dtypeOf(x)), ms: performance.now() - t0, sourceDevice, targetDevice });
}

/** Host or device array → tf.Tensor. */
async function toTensor(arr: NDArray, gpuId: number | undefined, allow: boolean, t0: number): Promise<Tensor> {
  const h = handleOf(arr);
  const tf = requireTf();
  const from = arr.memoryType;
  // The Rust matrix decides whether this edge needs a CPU roundtrip (and refuses it if not allowed).
  const plan = native(() => addon.planConversion(from, arr.device, 'tensorflow', gpuId ?? null, allow, false));
  let host = arr;
  // The device → host leg is part of this one cpu-roundtrip conversion, recorded once below.
  if (arr.device !== 'cpu') host = (await convertEngine(arr, 'numpy', undefined, allow, false)).array;
  const dtype = host.dtype;
  const shape = [...host.shape];
  let tensor: Tensor;
  let kind: ConversionKind = plan.kind as ConversionKind;
  if ((dtype === 'float32' || dtype === 'int32') && tf.getBackend() === 'cpu' && kind !== 'cpu-roundtrip') {
    // tfjs's cpu backend keeps the TypedArray it is given: the tensor views engine memory. A view
    // handle keeps that memory alive while the tensor object lives, even if `arr` is disposed.
    const holder = host.reshape(shape);
    tensor = tf.tensor(holder.data, shape, dtype);
    holders.set(tensor, holder);
    kind = 'zero-copy';
  } else if (dtype === 'float32' || dtype === 'int32') {
    tensor = tf.tensor(await host.toTypedArray(), shape, dtype);
    if (kind === 'zero-copy') kind = 'transfer';
  } else {
    // Widening runs in Rust on a worker thread (an Int32Array.from of 64 MiB blocks the event loop
    // for ~100 ms). uint8/uint16/int16 fit int32 exactly; float64 → float32 and uint32 → int32
    // (tfjs has no uint32; values from 2^31 wrap) are not, so the original values are kept for the
    // way back (tensors are immutable: this tensor always stands for exactly them).
    const wide = await astype(host, dtype === 'float64' ? 'float32' : 'int32');
    tensor = await tensorOwning(wide, shape);
    originals.set(tensor, { dtype, exact: dtype === 'float64' || dtype === 'uint32' ? await copy(host) : undefined });
    if (kind === 'zero-copy') kind = 'transfer';
  }
  if (host !== arr) host.dispose();
  record(from, 'tensorflow', kind, tensor, t0, arr.device, 'tfjs');
  return tensor;
}

/**
 * A tensor of `wide`'s values (float32 or int32), which it takes over: on tfjs's cpu backend the
 * tensor keeps the TypedArray it is given, so it views `wide`'s memory and holds it; elsewhere the
 * values are copied out (on a worker thread) and `wide` is released.
 */
async function tensorOwning(wide: NDArray, shape: number[]): Promise<Tensor> {
  const tf = requireTf();
  const dtype = wide.dtype as 'float32' | 'int32';
  if (tf.getBackend() === 'cpu') {
    const tensor = tf.tensor(wide.data, shape, dtype);
    holders.set(tensor, wide);
    return tensor;
  }
  try {
    return tf.tensor(await wide.toTypedArray(), shape, dtype);
  } finally {
    wide.dispose();
  }
}

/** tf.Tensor → an engine memory type (a `dataSync` copy to the host, then the Rust matrix). */
async function fromTensor(t: Tensor, target: MemoryTypeName, gpuId: number | undefined, allow: boolean, strict: boolean, t0: number): Promise<NDArray> {
  if (t.isDisposed) throw new InvalidArgumentError('the tf.Tensor has been disposed');
  const plan = native(() => addon.planConversion('tensorflow', 'tfjs', target, gpuId ?? null, allow, strict));
  const orig = originals.get(t);
  const shape = [...t.shape];
  let host: NDArray;
  if (orig?.exact) {
    host = await copy(orig.exact);
  } else {
    const dtype = orig?.dtype ?? tensorDtype(t);
    host = asarray(t.dataSync() as Float32Array | Int32Array | Uint8Array, { shape, dtype });
  }
  let out: NDArray = host;
  if (target !== 'numpy') {
    out = (await convertEngine(host, target, gpuId, allow, strict)).array;
    // A view keeps the memory alive through its own handle; a copy leaves `host` unused.
    if (out !== host) host.dispose();
  }
  recordConversion({ from: 'tensorflow', to: target, kind: plan.kind as ConversionKind, bytes: out.nbytes, ms: performance.now() - t0, sourceDevice: 'tfjs', targetDevice: plan.targetDevice });
  return out;
}

/**
 * The conversion `convertMemory` would make from data of `sourceType` (at its default placement)
 * to `targetType`, without data. Throws what the conversion would throw.
 */
export function planConversion(
  sourceType: MemoryTypeName | MemoryType,
  targetType: MemoryTypeName | MemoryType,
  options: { gpuId?: number; allowCpuRoundtrip?: boolean; strictDevice?: boolean; dtype?: Dtype } = {},
): { kind: ConversionKind; sourceDevice: string; targetDevice: string } {
  const s = checkMemoryType(sourceType);
  const t = checkMemoryType(targetType);
  const gpuId = checkGpuId(options.gpuId);
  if (t === 'tensorflow') requireTf();
  const sourceDevice = native(() => addon.placement(s, null));
  const p = native(() => addon.planConversion(s, sourceDevice, t, gpuId ?? null, options.allowCpuRoundtrip === true, options.strictDevice === true));
  let kind = p.kind as ConversionKind;
  // Host → tfjs is zero-copy only for float32/int32 on tfjs's cpu backend (the dtype decides).
  if (t === 'tensorflow' && s !== 'tensorflow' && p.sourceDevice === 'cpu') {
    kind = (options.dtype === 'float32' || options.dtype === 'int32') && requireTf().getBackend() === 'cpu' ? 'zero-copy' : 'transfer';
  }
  return { kind, sourceDevice: p.sourceDevice, targetDevice: p.targetDevice };
}

/**
 * OpenHCS's `MemoryWrapper`: data plus its memory type and gpu id, with `toX()` conversions that
 * return new wrappers.
 */
export class MemoryWrapper<T = NDArray | Tensor> {
  readonly data: T;
  readonly memoryType: MemoryTypeName;
  readonly gpuId: number | undefined;

  constructor(data: T, memoryType: MemoryTypeName | MemoryType, gpuId?: number) {
    this.memoryType = checkSource(data, memoryType);
    this.gpuId = checkGpuId(gpuId);
    this.data = data;
  }

  /** `detectMemoryType` as a static, as in OpenHCS. */
  static detectMemoryType(data: unknown): MemoryType {
    return detectMemoryType(data);
  }

  private async to<U>(targetType: MemoryTypeName, opts: { allowCpuRoundtrip?: boolean; gpuId?: number } | undefined): Promise<MemoryWrapper<U>> {
    opts = optionsObject(opts, `MemoryWrapper.to${targetType}`);
    const gpuId = opts.gpuId ?? this.gpuId;
    const out = await convertMemory(this.data as unknown, { targetType, gpuId, allowCpuRoundtrip: opts.allowCpuRoundtrip });
    return new MemoryWrapper<U>(out as U, targetType, gpuId);
  }

  toNumpy(opts?: { allowCpuRoundtrip?: boolean }): Promise<MemoryWrapper<NDArray>> {
    return this.to('numpy', opts);
  }
  toCupy(opts?: { allowCpuRoundtrip?: boolean; gpuId?: number }): Promise<MemoryWrapper<NDArray>> {
    return this.to('cupy', opts);
  }
  toTorch(opts?: { allowCpuRoundtrip?: boolean; gpuId?: number }): Promise<MemoryWrapper<NDArray>> {
    return this.to('torch', opts);
  }
  toJax(opts?: { allowCpuRoundtrip?: boolean; gpuId?: number }): Promise<MemoryWrapper<NDArray>> {
    return this.to('jax', opts);
  }
  toPyclesperanto(opts?: { allowCpuRoundtrip?: boolean; gpuId?: number }): Promise<MemoryWrapper<NDArray>> {
    return this.to('pyclesperanto', opts);
  }
  toTensorflow(opts?: { allowCpuRoundtrip?: boolean }): Promise<MemoryWrapper<Tensor>> {
    return this.to('tensorflow', opts);
  }
}
