/**
 * Engine array operations used by the decorators, stack utilities and pipelines. Each runs on a
 * worker thread in Rust and returns a Promise.
 */
import { DimensionError, InvalidArgumentError, nativeAsync } from './errors.js';
import { addon } from './native.js';
import { checkDtype, checkMemoryType, handleOf, wrap, type NDArray } from './ndarray.js';
import type { Dtype, MemoryTypeName } from './types.js';

/** numpy `astype`: a new array of `dtype` (integer → integer wraps, float → integer truncates). */
export async function astype<D extends Dtype>(a: NDArray, dtype: D): Promise<NDArray<D>> {
  const h = handleOf(a);
  return wrap<D>(await nativeAsync(() => addon.astype(h, checkDtype(dtype))));
}

/**
 * OpenHCS's result dtype conversion (`_scale_and_convert_numpy`): a float array going to an integer
 * dtype is min–max stretched over that dtype's range (`(x-min)/(max-min)*255` for uint8, `*65535`
 * for uint16, `*65535-32768` for int16, `*4294967295-2147483648` for int32) computed in the
 * array's own float precision, then truncated; a constant image and every other pair is `astype`.
 */
export async function scaleToDtype<D extends Dtype>(a: NDArray, dtype: D): Promise<NDArray<D>> {
  const h = handleOf(a);
  return wrap<D>(await nativeAsync(() => addon.scaleToDtype(h, checkDtype(dtype))));
}

/** A copy of `a` in new memory of the same memory type. */
export async function copy<D extends Dtype>(a: NDArray<D>): Promise<NDArray<D>> {
  const h = handleOf(a);
  return wrap<D>(await nativeAsync(() => addon.copyArray(h)));
}

/** Concatenation along axis 0 (Z); the result has the first part's memory type. */
export async function concatZ<D extends Dtype>(arrays: readonly NDArray<D>[]): Promise<NDArray<D>> {
  if (!Array.isArray(arrays) || arrays.length === 0) throw new InvalidArgumentError('concatZ needs a non-empty array of NDArrays');
  const hs = arrays.map(handleOf);
  return wrap<D>(await nativeAsync(() => addon.concatZ(hs)));
}

/** Stacks 2D host slices `[Y, X]` of one shape and dtype into a new `[Z, Y, X]` array. */
export async function stack2d<D extends Dtype>(slices: readonly NDArray<D>[], memoryType: MemoryTypeName): Promise<NDArray<D>> {
  if (!Array.isArray(slices) || slices.length === 0) throw new InvalidArgumentError('Cannot stack empty list of slices');
  const hs = slices.map(handleOf);
  hs.forEach((h, i) => {
    if (h.shape.length !== 2) throw new DimensionError(`Slice at index ${i} is not a 2D array. All slices must be 2D, got shape [${h.shape.join(', ')}]`);
  });
  return wrap<D>(await nativeAsync(() => addon.stackSlices(hs, checkMemoryType(memoryType))));
}
