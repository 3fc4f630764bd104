/**
 * The seed's explicit converters (OpenHCS `convert_<from>_to_<to>`, DESIGN §10): one function per
 * ordered pair of the six memory types, each a thin call of `convertMemory` with the source type
 * declared. Data of another kind fails with `MemoryConversionError` (`method: 'validate'`, `reason`
 * saying the declared source does not match); a device-domain crossing without
 * `allowCpuRoundtrip: true` fails with `CpuRoundtripRequiredError` (`method: 'cpu-roundtrip'`,
 * `reason: 'no direct path between these device domains'`), as the seed's example.
 */
import { convertMemory, type Converted } from './convert.js';
import { optionsObject, type NDArray } from './ndarray.js';
import type { Tensor } from './tfjs.js';
import type { MemoryTypeName } from './types.js';

/** Options of an explicit converter: `convertMemory`'s, less the types the name fixes. */
export interface ExplicitConvertOptions {
  /** Allow a conversion through host memory between device domains (default false). */
  allowCpuRoundtrip?: boolean;
  /** Device index in the target's domain. */
  gpuId?: number;
  /** Throw `DeviceMismatchError` instead of moving data that is on another device of the domain. */
  strictDevice?: boolean;
  /** Aborts a conversion that copies. */
  signal?: AbortSignal;
}

/** `convert<From>To<To>(data, options?)`. */
export type ExplicitConverter<T extends MemoryTypeName> = (data: NDArray | Tensor, options?: ExplicitConvertOptions) => Promise<Converted<T>>;

function converter<T extends MemoryTypeName>(from: MemoryTypeName, to: T): ExplicitConverter<T> {
  const name = `convert${cap(from)}To${cap(to)}`;
  const f = async (data: NDArray | Tensor, options?: ExplicitConvertOptions) =>
    convertMemory(data, { ...optionsObject(options, name), sourceType: from, targetType: to }) as Promise<Converted<T>>;
  return Object.defineProperty(f, 'name', { value: name });
}

function cap(t: string): string {
  return t[0]!.toUpperCase() + t.slice(1);
}

export const convertNumpyToCupy = converter('numpy', 'cupy');
export const convertNumpyToTorch = converter('numpy', 'torch');
export const convertNumpyToTensorflow = converter('numpy', 'tensorflow');
export const convertNumpyToJax = converter('numpy', 'jax');
export const convertNumpyToPyclesperanto = converter('numpy', 'pyclesperanto');
export const convertCupyToNumpy = converter('cupy', 'numpy');
export const convertCupyToTorch = converter('cupy', 'torch');
export const convertCupyToTensorflow = converter('cupy', 'tensorflow');
export const convertCupyToJax = converter('cupy', 'jax');
export const convertCupyToPyclesperanto = converter('cupy', 'pyclesperanto');
export const convertTorchToNumpy = converter('torch', 'numpy');
export const convertTorchToCupy = converter('torch', 'cupy');
export const convertTorchToTensorflow = converter('torch', 'tensorflow');
export const convertTorchToJax = converter('torch', 'jax');
export const convertTorchToPyclesperanto = converter('torch', 'pyclesperanto');
export const convertTensorflowToNumpy = converter('tensorflow', 'numpy');
export const convertTensorflowToCupy = converter('tensorflow', 'cupy');
export const convertTensorflowToTorch = converter('tensorflow', 'torch');
export const convertTensorflowToJax = converter('tensorflow', 'jax');
export const convertTensorflowToPyclesperanto = converter('tensorflow', 'pyclesperanto');
export const convertJaxToNumpy = converter('jax', 'numpy');
export const convertJaxToCupy = converter('jax', 'cupy');
export const convertJaxToTorch = converter('jax', 'torch');
export const convertJaxToTensorflow = converter('jax', 'tensorflow');
export const convertJaxToPyclesperanto = converter('jax', 'pyclesperanto');
export const convertPyclesperantoToNumpy = converter('pyclesperanto', 'numpy');
export const convertPyclesperantoToCupy = converter('pyclesperanto', 'cupy');
export const convertPyclesperantoToTorch = converter('pyclesperanto', 'torch');
export const convertPyclesperantoToTensorflow = converter('pyclesperanto', 'tensorflow');
export const convertPyclesperantoToJax = converter('pyclesperanto', 'jax');
