/**
 * `NDArray`: the one engine array class (DESIGN §1). It wraps a native handle over Rust-owned
 * storage; `memoryType` and `device` say which kind it is and where its data lives.
 */
import { DisposedError, DtypeError, InvalidArgumentError, UnknownMemoryTypeError, native, nativeAsync } from './errors.js';
import { addon, type NativeArray } from './native.js';
import { DTYPES, MEMORY_TYPES, type AnyTypedArray, type DeviceId, type Dtype, type DtypeArrayMap, type MemoryTypeName } from './types.js';

const HANDLE = Symbol('stackbridge.handle');

export class NDArray<D extends Dtype = Dtype> {
  /** @internal */
  readonly [HANDLE]: NativeArray;

  /** @internal Use `asarray`, `zeros` or a conversion; handles come from the binding. */
  constructor(handle: NativeArray) {
    if (!(handle instanceof (addon.NativeArray as unknown as Function))) {
      throw new InvalidArgumentError('NDArray cannot be constructed directly; use asarray() or zeros()');
    }
    this[HANDLE] = handle;
  }

  // Metadata never changes for a handle, so it is read from the binding once and cached here.
  #shape?: readonly number[];
  #strides?: readonly number[];
  #dtype?: D;
  #memoryType?: MemoryTypeName;
  #device?: DeviceId;
  #readonly?: boolean;
  /** Set by `dispose()`: only this handle's own dispose can end it (memory is freed with the last). */
  #disposed = false;

  #alive(): NativeArray {
    if (this.#disposed) throw new DisposedError('NDArray has been disposed');
    return this[HANDLE];
  }

  get shape(): readonly number[] {
    const h = this.#alive();
    return (this.#shape ??= Object.freeze(native(() => h.shape)));
  }
  get ndim(): number {
    return this.shape.length;
  }
  /** Element strides (C order). */
  get strides(): readonly number[] {
    const h = this.#alive();
    return (this.#strides ??= Object.freeze(native(() => h.strides)));
  }
  get dtype(): D {
    const h = this.#alive();
    return (this.#dtype ??= native(() => h.dtype) as D);
  }
  get memoryType(): MemoryTypeName {
    const h = this.#alive();
    return (this.#memoryType ??= native(() => h.memoryType) as MemoryTypeName);
  }
  get device(): DeviceId {
    const h = this.#alive();
    return (this.#device ??= native(() => h.device) as DeviceId);
  }
  /** True for `jax` arrays and views of them: engine operations never write into them. */
  get readonly(): boolean {
    const h = this.#alive();
    return (this.#readonly ??= native(() => h.readonly));
  }
  /** Memory is freed only once every handle over it is disposed, so this handle's flag is enough. */
  get disposed(): boolean {
    return this.#disposed;
  }
  get size(): number {
    return native(() => this[HANDLE].size);
  }
  get nbytes(): number {
    return native(() => this[HANDLE].nbytes);
  }
  /**
   * Zero-copy TypedArray over the array's host memory: a write through it is seen by the engine and
   * the other way round. Host arrays only; it is detached (length 0) once the memory is freed.
   */
  get data(): DtypeArrayMap[D] {
    return native(() => this[HANDLE].data()) as DtypeArrayMap[D];
  }
  /** A JS-owned copy of the elements, taken off the main thread (works for every device). */
  toTypedArray(): Promise<DtypeArrayMap[D]> {
    return nativeAsync(() => this[HANDLE].toTypedArray()) as Promise<DtypeArrayMap[D]>;
  }
  /** Zero-copy view of planes `[start, end)` along the first axis. */
  sliceZ(start: number, end: number): NDArray<D> {
    return new NDArray<D>(native(() => this[HANDLE].sliceZ(start, end)));
  }
  /** Zero-copy view with another shape holding the same number of elements. */
  reshape(shape: readonly number[]): NDArray<D> {
    return new NDArray<D>(native(() => this[HANDLE].reshape([...shape])));
  }
  /** Whether this array and `other` view the same memory (zero-copy relatives). */
  sharesMemoryWith(other: NDArray): boolean {
    return native(() => this[HANDLE].sharesMemoryWith(other[HANDLE]));
  }
  /**
   * Releases this array's hold on its memory; the memory is freed when no array or view holds it.
   * A second call is harmless; any other use afterwards throws `DisposedError`.
   */
  dispose(): void {
    this.#disposed = true;
    this[HANDLE].dispose();
  }
  [Symbol.dispose](): void {
    this.dispose();
  }
  toString(): string {
    if (this.disposed) return 'NDArray(disposed)';
    return `NDArray(shape=[${this.shape.join(', ')}], dtype=${this.dtype}, memoryType=${this.memoryType}, device=${this.device})`;
  }
}

/** @internal Wraps a native handle. */
export function wrap<D extends Dtype = Dtype>(handle: NativeArray): NDArray<D> {
  return new NDArray<D>(handle);
}

/** @internal The native handle of an array, after checking it is one and is alive. */
export function handleOf(a: NDArray): NativeArray {
  if (!(a instanceof NDArray)) throw new InvalidArgumentError(`expected an NDArray, got ${describe(a)}`);
  if (a.disposed) throw new DisposedError('NDArray has been disposed');
  return a[HANDLE];
}

export function isNDArray(x: unknown): x is NDArray {
  return x instanceof NDArray;
}

export function describe(x: unknown): string {
  if (x === null) return 'null';
  if (x === undefined) return 'undefined';
  if (typeof x === 'object') return (x as object).constructor?.name ?? 'object';
  return typeof x;
}

/** A printable form of any value (JSON.stringify throws on bigint and drops symbols). */
export function show(x: unknown): string {
  if (typeof x === 'string') return JSON.stringify(x);
  if (typeof x === 'bigint' || typeof x === 'symbol' || typeof x === 'function') return String(x);
  try {
    return JSON.stringify(x) ?? String(x);
  } catch {
    return String(x);
  }
}

/**
 * An options argument: `undefined` → `{}`; anything but a plain object (null, a number, an array)
 * → `InvalidArgumentError` naming `what`, instead of a TypeError on the first property read.
 */
export function optionsObject<O extends object>(options: O | undefined, what: string): O {
  if (options === undefined) return {} as O;
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new InvalidArgumentError(`${what}: options must be an object, got ${describe(options)}`);
  }
  return options;
}

export function checkDtype(dtype: unknown): Dtype {
  if (typeof dtype !== 'string' || !(DTYPES as readonly string[]).includes(dtype)) {
    throw new DtypeError(`unsupported dtype ${show(dtype)}; expected one of ${DTYPES.join(', ')}`, { dtype: show(dtype) });
  }
  return dtype as Dtype;
}

export function checkMemoryType(t: unknown): MemoryTypeName {
  if (typeof t !== 'string' || !(MEMORY_TYPES as readonly string[]).includes(t)) {
    throw new UnknownMemoryTypeError(`unknown memory type ${show(t)}; expected one of ${MEMORY_TYPES.join(', ')}`, {
      memoryType: show(t),
    });
  }
  return t as MemoryTypeName;
}

function checkShape(shape: unknown): number[] {
  if (!Array.isArray(shape)) throw new InvalidArgumentError(`shape must be an array of integers, got ${describe(shape)}`);
  for (const d of shape) {
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 0 || d > Number.MAX_SAFE_INTEGER) {
      throw new InvalidArgumentError(`shape must hold non-negative integers, got [${shape.map(show).join(', ')}]`, { shape: shape.map(show) });
    }
  }
  return shape as number[];
}

const DTYPE_OF_CTOR = new Map<Function, Dtype>([
  [Uint8Array, 'uint8'],
  [Uint16Array, 'uint16'],
  [Int16Array, 'int16'],
  [Int32Array, 'int32'],
  [Uint32Array, 'uint32'],
  [Float32Array, 'float32'],
  [Float64Array, 'float64'],
]);

/** The dtype a TypedArray views, or undefined for other kinds (Int8Array, BigInt64Array, ...). */
export function dtypeOfTypedArray(a: unknown): Dtype | undefined {
  if (!ArrayBuffer.isView(a)) return undefined;
  return DTYPE_OF_CTOR.get((a as object).constructor);
}

export interface AsArrayOptions<D extends Dtype> {
  shape: readonly number[];
  /** Defaults to the TypedArray's own dtype, or float64 for a number array. */
  dtype?: D;
  /** A host memory type: numpy (default), torch or jax. Use `convertMemory` for device kinds. */
  memoryType?: MemoryTypeName;
}

/**
 * A host `NDArray` holding a copy of `data` in Rust-owned memory (an `NDArray` is returned as is).
 * Values are converted to `dtype` when it differs from the TypedArray's own, as numpy's `astype`.
 */
export function asarray<D extends Dtype = Dtype>(
  data: AnyTypedArray | readonly number[] | NDArray<D>,
  options: AsArrayOptions<D>,
): NDArray<D> {
  if (data instanceof NDArray) {
    handleOf(data);
    return data;
  }
  if (options === null || typeof options !== 'object') throw new InvalidArgumentError('asarray needs options with a shape');
  const shape = checkShape(options.shape);
  const own = dtypeOfTypedArray(data);
  if (!Array.isArray(data) && own === undefined) {
    throw new InvalidArgumentError(`asarray expects a TypedArray (uint8, uint16, int16, int32, uint32, float32, float64) or an array of numbers, got ${describe(data)}`);
  }
  const dtype = options.dtype === undefined ? (own ?? 'float64') : checkDtype(options.dtype);
  const memoryType = options.memoryType === undefined ? 'numpy' : checkMemoryType(options.memoryType);
  return wrap<D>(native(() => addon.asarray(data as AnyTypedArray | number[], shape, dtype, memoryType)));
}

export interface ZerosOptions<D extends Dtype> {
  dtype?: D;
  memoryType?: MemoryTypeName;
}

/** A host `NDArray` of zeros (float64 unless `dtype` is given). */
export function zeros<D extends Dtype = 'float64'>(shape: readonly number[], options?: ZerosOptions<D>): NDArray<D> {
  const s = checkShape(shape);
  options = optionsObject(options, 'zeros');
  const dtype = options.dtype === undefined ? 'float64' : checkDtype(options.dtype);
  const memoryType = options.memoryType === undefined ? 'numpy' : checkMemoryType(options.memoryType);
  return wrap<D>(native(() => addon.zeros(s, dtype, memoryType)));
}
