/**
 * Runs a processor of `crates/kernels` on a host stack. Every processor family funnels through
 * here once its decorator has converted the input (a tf.Tensor input is brought to the host
 * first); device kernels for the CUDA and OpenCL domains plug in beside it.
 */
import type { Tensor } from '@tensorflow/tfjs';
import { convertMemory } from '../convert.js';
import { DeviceError, InvalidArgumentError, nativeAsync } from '../errors.js';
import { addon } from '../native.js';
import { describe, handleOf, isNDArray, wrap, type NDArray } from '../ndarray.js';
import { isTensor } from '../tfjs.js';
import type { Dtype } from '../types.js';

/** A stack as a processor receives it from its decorator. */
export type ProcessorInput = NDArray | Tensor;

/** The host NDArray of `x` (a tf.Tensor is transferred; `made` says whether it is new). */
export async function toHost(x: unknown, name: string): Promise<{ array: NDArray; made: boolean }> {
  if (isTensor(x)) return { array: (await convertMemory(x as Tensor, { targetType: 'numpy' })) as NDArray, made: true };
  if (!isNDArray(x)) throw new InvalidArgumentError(`${name}: expected an NDArray or tf.Tensor, got ${describe(x)}`);
  if (x.device !== 'cpu') {
    throw new DeviceError(`${name}: no kernel for ${x.device} yet; this processor runs on host memory`, { device: x.device, processor: name });
  }
  return { array: x, made: false };
}

/** Options travel to Rust as JSON; Rust checks every key and value. */
function optionsJson(name: string, options: unknown): string {
  if (options === undefined || options === null) return '{}';
  if (typeof options !== 'object' || Array.isArray(options)) {
    throw new InvalidArgumentError(`${name}: options must be an object, got ${describe(options)}`);
  }
  // JSON has no NaN / Infinity (they would become null, i.e. "use the default"): send them as
  // strings so Rust refuses them like any other non-number.
  return JSON.stringify(options, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v));
}

/** Names `f` (the decorators take a wrapped function's name from it). */
export function named<F extends (...args: any[]) => unknown>(name: string, f: F): F {
  return Object.defineProperty(f, 'name', { value: name });
}

/** Runs processor `name` of the kernel crate; the result has the input's memory type. */
export async function runHost<D extends Dtype = Dtype>(name: string, stack: unknown, options?: object, aux?: NDArray): Promise<NDArray<D>> {
  const json = optionsJson(name, options);
  const { array, made } = await toHost(stack, name);
  try {
    const h = handleOf(array);
    const m = aux === undefined ? undefined : handleOf(aux);
    return wrap<D>(await nativeAsync(() => addon.runProcessor(name, h, json, m ?? null)));
  } finally {
    if (made) array.dispose();
  }
}

/** `countCellsSingleChannel` on the host: the raw JSON results and the optional masks. */
/** The returned `input` is the host stack the kernels read (a tensor's host copy), handed back as the result. */
export async function countHost(stack: unknown, options?: object): Promise<{ results: string; masks: NDArray<'int32'> | null; input: NDArray }> {
  const json = optionsJson('countCellsSingleChannel', options);
  const { array, made } = await toHost(stack, 'countCellsSingleChannel');
  try {
    const out = await nativeAsync(() => addon.countCells(handleOf(array), json));
    return { results: out.results, masks: out.masks ? wrap<'int32'>(out.masks) : null, input: array };
  } catch (e) {
    if (made) array.dispose();
    throw e;
  }
}

/** Which processors are separable along Z (the Rust table is the single source). */
export const SEPARABLE: ReadonlyMap<string, boolean> = new Map(addon.processorNames());
