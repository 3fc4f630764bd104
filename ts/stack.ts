/**
 * Stack utilities (DESIGN §5): build `[Z, Y, X]` stacks from 2D slices, split them back into slices,
 * and run a 2D function slice by slice. Semantics and error order follow OpenHCS's
 * `stack_slices` / `unstack_slices` / `process_slices`, plus a check for unequal slice shapes.
 */
import {
  checkGpuId,
  convertMemory,
  convertMemorySync,
  detectMemoryType,
  dtypeOf,
  planConversion,
  shapeOf,
  type Converted,
} from './convert.js';
import { DimensionError, DtypeError, InvalidArgumentError } from './errors.js';
import { checkMemoryType, describe, isNDArray, type NDArray } from './ndarray.js';
import { stack2d } from './ops.js';
import { requireTf, type Tensor } from './tfjs.js';
import { GPU_MEMORY_TYPES, type MemoryTypeName } from './types.js';

const fmtShape = (s: readonly number[]): string => `[${s.join(', ')}]`;

/** The gpuId implied by an array's device (`cuda:N` / `opencl:N` → N); undefined on the host. */
function gpuIdOf(x: unknown): number | undefined {
  if (!isNDArray(x)) return undefined;
  const m = /^(?:cuda|opencl):(\d+)$/.exec(x.device);
  return m ? Number(m[1]) : undefined;
}

/** OpenHCS's `_enforce_gpu_device_requirements`, minus "gpu_id is required": ids are optional here. */
function checkGpuFor(memoryType: MemoryTypeName, gpuId: number | undefined): void {
  if (gpuId !== undefined && GPU_MEMORY_TYPES.includes(memoryType)) checkGpuId(gpuId);
}

/** Shape of an engine array or a tf.Tensor; anything else is not a slice. */
function sliceShape(x: unknown, i: number): readonly number[] {
  if (isNDArray(x)) return x.shape;
  if (x !== null && typeof x === 'object' && detectMemoryType(x) !== 'unknown') return shapeOf(x);
  throw new InvalidArgumentError(`Slice at index ${i} is not an array (got ${describe(x)})`, { index: i });
}

/**
 * Stacks 2D `[Y, X]` slices into a new `[Z, Y, X]` array of `memoryType` (on `gpuId` for GPU kinds).
 * Slices of other memory types are converted first. Errors, in OpenHCS's order: an empty list →
 * `InvalidArgumentError`; a slice that is not 2D → `DimensionError` (its index and shape); slices of
 * unequal shapes → `DimensionError` (the first mismatching index); then unequal dtypes →
 * `DtypeError`; an unknown memory type → `UnknownMemoryTypeError`; a bad `gpuId` → `InvalidDeviceError`.
 */
export async function stackSlices<T extends MemoryTypeName>(
  slices: readonly (NDArray | Tensor)[],
  memoryType: T,
  gpuId?: number,
): Promise<Converted<T>> {
  if (!Array.isArray(slices)) {
    throw new InvalidArgumentError(`stackSlices expects an array of 2D slices, got ${describe(slices)}`);
  }
  if (slices.length === 0) throw new InvalidArgumentError('Cannot stack empty list of slices');
  // Array.from visits holes too (`new Array(2)`), so a missing slice is named, not skipped.
  const shapes = Array.from(slices, (s, i) => {
    const shape = sliceShape(s, i);
    if (shape.length !== 2) {
      throw new DimensionError(`Slice at index ${i} is not a 2D array (shape ${fmtShape(shape)}). All slices must be 2D.`, {
        index: i,
        shape: [...shape],
      });
    }
    return shape;
  });
  const [y0, x0] = shapes[0];
  const bad = shapes.findIndex(([y, x]) => y !== y0 || x !== x0);
  if (bad >= 0) {
    throw new DimensionError(
      `Slice at index ${bad} has shape ${fmtShape(shapes[bad])}, expected ${fmtShape(shapes[0])} like slice 0. All slices must have the same shape.`,
      { index: bad, shape: [...shapes[bad]], expected: [...shapes[0]] },
    );
  }
  const d0 = dtypeOf(slices[0]);
  const badDtype = slices.findIndex((s) => dtypeOf(s) !== d0);
  if (badDtype >= 0) {
    throw new DtypeError(`Slice at index ${badDtype} has dtype ${dtypeOf(slices[badDtype])}, expected ${d0} like slice 0`, {
      index: badDtype,
    });
  }
  const target = checkMemoryType(memoryType);
  checkGpuFor(target, gpuId);

  // The engine stacks on the host. A host target (numpy; torch/jax without CUDA) is stacked in
  // place; a device target or tfjs gets one host stack and one conversion (not one per slice).
  const direct = target !== 'tensorflow' && planConversion('numpy', target, { gpuId }).targetDevice === 'cpu';
  const stackType: MemoryTypeName = direct ? target : 'numpy';
  const converted: unknown[] = [];
  try {
    for (const s of slices) converted.push(await convertMemory(s, { targetType: stackType, gpuId }));
    const stacked = await stack2d(converted as NDArray[], stackType);
    if (direct) return stacked as Converted<T>;
    try {
      return (await convertMemory(stacked, { targetType: target, gpuId })) as Converted<T>;
    } finally {
      stacked.dispose(); // a device copy or a tensor (which holds its own view) now has the data
    }
  } finally {
    // Converted copies/views are ours; disposing a view only releases its own hold on the memory.
    converted.forEach((c, i) => {
      if (c !== slices[i] && isNDArray(c)) c.dispose();
    });
  }
}

/**
 * Splits a `[Z, Y, X]` array into Z slices `[Y, X]` of `memoryType`. When the array already is of
 * that type on that device the slices are zero-copy views: a write through one is seen by the stack.
 * Otherwise the array is converted first (recorded in the trace) and the slices view the converted
 * copy. Not 3D → `DimensionError`.
 */
export function unstackSlices<T extends MemoryTypeName>(array: NDArray | Tensor, memoryType: T, gpuId?: number): Converted<T>[] {
  const target = checkMemoryType(memoryType);
  if (!isNDArray(array) && (array === null || typeof array !== 'object' || detectMemoryType(array) === 'unknown')) {
    throw new InvalidArgumentError(`unstackSlices expects a 3D array, got ${describe(array)}`);
  }
  const shape = isNDArray(array) ? array.shape : shapeOf(array);
  if (shape.length !== 3) {
    throw new DimensionError(`Array must be 3D [Z, Y, X], got ${shape.length}D (shape ${fmtShape(shape)})`, { shape: [...shape] });
  }
  checkGpuFor(target, gpuId);
  const [z, y, x] = shape;

  const source = detectMemoryType(array);
  if (source === 'tensorflow' || target === 'tensorflow') {
    // tfjs conversions are asynchronous; only tensor → tensor slices can be made here (tf.unstack).
    if (source !== target) {
      throw new InvalidArgumentError(
        `unstackSlices cannot convert between '${source}' and '${target}' synchronously; convert the stack with convertMemory first`,
      );
    }
    return requireTf().unstack(array as Tensor) as Converted<T>[];
  }
  const converted = convertMemorySync(array as NDArray, { targetType: target, gpuId });
  const views = viewSlices(converted, z, y, x);
  // The slices hold the converted memory; our extra handle on it is not needed.
  if (converted !== array) converted.dispose();
  return views as Converted<T>[];
}

/** Zero-copy `[Y, X]` views of each plane of `a`. */
function viewSlices(a: NDArray, z: number, y: number, x: number): NDArray[] {
  const out: NDArray[] = [];
  for (let i = 0; i < z; i++) {
    const plane = a.sliceZ(i, i + 1);
    out.push(plane.reshape([y, x]));
    plane.dispose(); // the [1, Y, X] view is only a stepping stone
  }
  return out;
}

/** What `processSlices` returns: the stack, or, for tuple results, the stack then one list per extra element. */
export type ProcessSlicesResult = NDArray | [NDArray, ...unknown[][]];

/**
 * Calls `fn(slice, ...args)` on each Z slice of `stack` (in order; `fn` may be sync or async) and
 * stacks the results in the memory type and device of slice 0's result (arraybridge 0.5). If `fn`
 * returns tuples (JS arrays) `[slice, a, b, ...]`, the first elements are stacked and the rest are
 * collected per slice: the result is `[stack, [a0, a1, ...], [b0, b1, ...], ...]` (OpenHCS
 * `process_slices`); tuples whose length changes between slices → `InvalidArgumentError`.
 * Not 3D → `DimensionError`.
 */
export async function processSlices<A extends unknown[]>(
  stack: NDArray | Tensor,
  fn: (slice: NDArray, ...args: A) => unknown,
  ...args: A
): Promise<ProcessSlicesResult> {
  if (typeof fn !== 'function') throw new InvalidArgumentError(`processSlices expects a function, got ${describe(fn)}`);
  const memoryType = detectMemoryType(stack);
  if (memoryType === 'unknown') throw new InvalidArgumentError(`processSlices expects a 3D array, got ${describe(stack)}`);
  const gpuId = gpuIdOf(stack);
  const slices = unstackSlices(stack, memoryType, gpuId);
  const lists: unknown[][] = [];
  try {
    const results: unknown[] = [];
    for (const s of slices) results.push(await fn(s, ...args));
    const tuple = results.length > 0 && Array.isArray(results[0]);
    const badIndex = results.findIndex((r) => Array.isArray(r) !== tuple);
    if (badIndex >= 0) {
      throw new InvalidArgumentError(
        `processSlices: slice 0 returned ${tuple ? 'a tuple' : 'a single array'} but slice ${badIndex} did not; every slice must return the same form`,
        { index: badIndex },
      );
    }
    const firsts = tuple ? (results as unknown[][]).map((t) => t[0]) : results;
    if (tuple) {
      const arity = (results[0] as unknown[]).length;
      const badLength = (results as unknown[][]).findIndex((t) => t.length !== arity);
      if (badLength >= 0) {
        throw new InvalidArgumentError(
          `processSlices: slice 0 returned a tuple of ${arity} elements but slice ${badLength} returned ${(results[badLength] as unknown[]).length}; every slice must return the same length`,
          { index: badLength },
        );
      }
    }
    // arraybridge 0.5: the slices are restacked in the memory type (and device) the function
    // returned, not the input's (stackSlices converts any slice of another kind to it).
    const outType = detectMemoryType(firsts[0]);
    const main = await stackSlices(firsts as NDArray[], outType === 'unknown' ? memoryType : outType, outType === 'unknown' ? gpuId : gpuIdOf(firsts[0]));
    if (!tuple) return main;
    const extra = (results[0] as unknown[]).length - 1;
    for (let k = 1; k <= extra; k++) lists.push((results as unknown[][]).map((t) => t[k]));
    return [main, ...lists];
  } finally {
    // The views are ours (fn's results are not: fn may keep them); a view's dispose only drops its
    // hold on the memory. A view fn handed back as a tuple extra now belongs to the caller.
    const returned = new Set(lists.flat());
    for (const s of slices) if (!returned.has(s)) (s as { dispose(): void }).dispose(); // NDArray or tf.Tensor
  }
}
