/**
 * Runs a processor on the device its input lives on, through that device's backend (DESIGN §11):
 * `crates/kernels` for host stacks, the OpenCL kernels of `crates/opencl` on an OpenCL device, the
 * CUDA backend (or the fake device in tests) on `cuda:N` (each family's decorator puts the input
 * there). Every processor family funnels through here once its decorator has converted
 * the input (a tf.Tensor input is brought to the host first). Each run is recorded in the trace:
 * where the kernels ran and, on OpenCL, which command queue they used.
 */
import type { Tensor } from '../tfjs.js';
import { cancellable, checkSignal } from '../cancel.js';
import { convertMemory } from '../convert.js';
import { InvalidArgumentError, nativeAsync } from '../errors.js';
import { addon, type NativeProcessorEntry } from '../native.js';
import { describe, handleOf, isNDArray, wrap, type NDArray } from '../ndarray.js';
import { isTensor } from '../tfjs.js';
import { recordKernel } from '../trace.js';
import type { Dtype } from '../types.js';

/** A stack as a processor receives it from its decorator. */
export type ProcessorInput = NDArray | Tensor;

/**
 * The engine NDArray the kernels read for `x`: an engine array as is (the backend of its device
 * runs the kernels, or says it has none), a tf.Tensor transferred to the host (`made` says whether
 * it is new).
 */
export async function toEngine(x: unknown, name: string): Promise<{ array: NDArray; made: boolean }> {
  if (isTensor(x)) return { array: (await convertMemory(x as Tensor, { targetType: 'numpy' })) as NDArray, made: true };
  if (!isNDArray(x)) throw new InvalidArgumentError(`${name}: expected an NDArray or tf.Tensor, got ${describe(x)}`);
  return { array: x, made: false };
}

/**
 * Options travel to Rust as JSON; Rust checks every key and value. `signal` stays in TS: it is the
 * operation's cancellation (DESIGN §4), not a kernel parameter.
 */
function optionsJson(name: string, options: unknown): { json: string; signal: AbortSignal | undefined } {
  if (options === undefined || options === null) return { json: '{}', signal: undefined };
  if (typeof options !== 'object' || Array.isArray(options)) {
    throw new InvalidArgumentError(`${name}: options must be an object, got ${describe(options)}`);
  }
  const { signal, ...rest } = options as { signal?: unknown };
  return { json: kernelJson(name, rest), signal: checkSignal(signal, name) };
}

function kernelJson(name: string, options: object): string {
  // JSON has no NaN / Infinity (they would become null, i.e. "use the default"): send them as
  // strings so Rust refuses them like any other non-number.
  try {
    return JSON.stringify(options, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v));
  } catch (e) {
    // A BigInt or a circular reference: JSON cannot say it, so it is the caller's bad argument.
    throw new InvalidArgumentError(`${name}: options cannot be read (${e instanceof Error ? e.message : String(e)})`, {}, { cause: e });
  }
}

/** Names `f` (the decorators take a wrapped function's name from it). */
export function named<F extends (...args: any[]) => unknown>(name: string, f: F): F {
  return Object.defineProperty(f, 'name', { value: name });
}

/** Runs processor `name` on the input's device; the result has the input's memory type and device. */
export async function runProcessor<D extends Dtype = Dtype>(name: string, stack: unknown, options?: object, aux?: NDArray): Promise<NDArray<D>> {
  const { array, made, result } = await runOperation(name, stack, options, aux === undefined ? [] : [aux]);
  try {
    if (!result) throw new InvalidArgumentError(`${name} returned no array`);
    return result as NDArray<D>;
  } finally {
    if (made) array.dispose();
  }
}

/**
 * Runs processor `name` with its further arrays `aux` (`null` for an optional one not given):
 * the result array (`null`: the input is the result, unchanged), the parsed special output, and
 * the engine array the kernels read (`made`: a tensor's host copy the caller owns).
 */
export async function runOperation(
  name: string,
  stack: unknown,
  options: object | undefined,
  aux: readonly (NDArray | null)[],
): Promise<{ array: NDArray; made: boolean; result: NDArray | null; special: unknown }> {
  const { json, signal } = optionsJson(name, options);
  aux.forEach((a, i) => {
    if (a !== null && !isNDArray(a)) throw new InvalidArgumentError(`${name}: array argument ${i + 1} must be an NDArray, got ${describe(a)}`);
  });
  const { array, made } = await toEngine(stack, name);
  try {
    const h = handleOf(array);
    const handles = aux.map((a) => (a === null ? null : handleOf(a)));
    const run = await cancellable(name, signal, (token) => nativeAsync(() => addon.runProcessor(name, h, json, handles, token)));
    recordKernel({ processor: name, device: run.device, queue: run.queue ?? undefined, ms: run.micros / 1000, ...(run.onHost ? { onHost: true } : {}) });
    return { array, made, result: run.array ? wrap(run.array) : null, special: run.special == null ? undefined : JSON.parse(run.special) };
  } catch (e) {
    if (made) array.dispose();
    throw e;
  }
}

/**
 * `countCellsSingleChannel` on the input's device: the raw JSON results and the optional masks.
 * The returned `input` is the stack the kernels read (a tensor's host copy), handed back as the result.
 */
export async function runCount(stack: unknown, options?: object): Promise<{ results: string; masks: NDArray<'int32'> | null; input: NDArray }> {
  const { json, signal } = optionsJson('countCellsSingleChannel', options);
  const { array, made } = await toEngine(stack, 'countCellsSingleChannel');
  try {
    const t0 = performance.now();
    const h = handleOf(array);
    const out = await cancellable('countCellsSingleChannel', signal, (token) => nativeAsync(() => addon.countCells(h, json, token)));
    recordKernel({ processor: 'countCellsSingleChannel', device: out.device, queue: out.queue ?? undefined, ms: performance.now() - t0 });
    return { results: out.results, masks: out.masks ? wrap<'int32'>(out.masks) : null, input: array };
  } catch (e) {
    if (made) array.dispose();
    throw e;
  }
}

/** Every processor's table entry (the Rust table is the single source). */
export const PROCESSOR_TABLE: ReadonlyMap<string, NativeProcessorEntry> = new Map(addon.processorTable().map((e) => [e.name, e]));

/** Which processors are separable along Z. */
export const SEPARABLE: ReadonlyMap<string, boolean> = new Map([...PROCESSOR_TABLE].map(([n, e]) => [n, e.separable]));
