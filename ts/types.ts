/**
 * The memory-type vocabulary of OpenHCS, with the meaning each name has in Node (DESIGN §1).
 */
export enum MemoryType {
  /** Host memory; always available. */
  NUMPY = 'numpy',
  /** A CUDA device; strict GPU. */
  CUPY = 'cupy',
  /** A CUDA device when one exists, else host (as PyTorch on a CPU-only machine). */
  TORCH = 'torch',
  /** A real `tf.Tensor` of `@tensorflow/tfjs` (optional peer dependency). */
  TENSORFLOW = 'tensorflow',
  /** Default device (first CUDA device, else host); immutable. */
  JAX = 'jax',
  /** An OpenCL device. */
  PYCLESPERANTO = 'pyclesperanto',
  /** What `detectMemoryType` answers for anything else. */
  UNKNOWN = 'unknown',
}

/** A concrete memory type: every `MemoryType` but `UNKNOWN`. */
export type ConcreteMemoryType = Exclude<MemoryType, MemoryType.UNKNOWN>;

/** String forms accepted wherever a memory type is expected. */
export type MemoryTypeName = `${ConcreteMemoryType}`;

/** All concrete memory types, in the order of the DESIGN table. */
export const MEMORY_TYPES: readonly MemoryTypeName[] = [
  'numpy',
  'cupy',
  'torch',
  'tensorflow',
  'jax',
  'pyclesperanto',
];

/** The memory types whose data lives (or may live) on a GPU; `oomRecovery` defaults to true for them. */
export const GPU_MEMORY_TYPES: readonly MemoryTypeName[] = ['cupy', 'torch', 'tensorflow', 'jax', 'pyclesperanto'];

/** Element types of an `NDArray`. */
export type Dtype = 'uint8' | 'uint16' | 'int16' | 'int32' | 'uint32' | 'float32' | 'float64';

export const DTYPES: readonly Dtype[] = ['uint8', 'uint16', 'int16', 'int32', 'uint32', 'float32', 'float64'];

/** The TypedArray class that views each dtype. */
export interface DtypeArrayMap {
  uint8: Uint8Array;
  uint16: Uint16Array;
  int16: Int16Array;
  int32: Int32Array;
  uint32: Uint32Array;
  float32: Float32Array;
  float64: Float64Array;
}

export type TypedArrayOf<D extends Dtype> = DtypeArrayMap[D];
export type AnyTypedArray = DtypeArrayMap[Dtype];

/** Device ids: `'cpu'`, `'cuda:N'`, `'opencl:N'`; tfjs-owned data reports `'tfjs'`. */
export type DeviceId = 'cpu' | `cuda:${number}` | `opencl:${number}` | 'tfjs';

/** How a decorated function's result dtype is chosen (OpenHCS `DtypeConversion`). */
export enum DtypeConversion {
  /** Cast the result back to the input's dtype (default). */
  PRESERVE_INPUT = 'preserve',
  /** Keep whatever dtype the function returned. */
  NATIVE_OUTPUT = 'native',
  UINT8 = 'uint8',
  UINT16 = 'uint16',
  INT16 = 'int16',
  INT32 = 'int32',
  UINT32 = 'uint32',
  FLOAT32 = 'float32',
  FLOAT64 = 'float64',
}

/** The five kinds a conversion can be (DESIGN §2). */
export type ConversionKind = 'identity' | 'zero-copy' | 'transfer' | 'device-move' | 'cpu-roundtrip';
