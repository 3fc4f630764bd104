/**
 * Out-of-memory recovery (DESIGN §4): empty the caches and retry, then split a Z-separable stack in
 * halves recursively (each finished part leaves the device, so the device holds the input and one
 * part's output at a time), then rethrow with the numbers. Every step is recorded in the current trace.
 *
 * Why here and not in Rust: the thing being retried is a user's JS function, and an
 * `OutOfMemoryError` can come from the engine or be thrown by that function itself.
 */
import { throwIfAborted } from './cancel.js';
import { convertMemory } from './convert.js';
import { emptyCache } from './devices.js';
import { InvalidArgumentError, OutOfMemoryError } from './errors.js';
import { isNDArray, describe, type NDArray } from './ndarray.js';
import { concatZ } from './ops.js';
import { isTensor, requireTf } from './tfjs.js';
import { recordRecovery } from './trace.js';
import type { DeviceId } from './types.js';
import type { Tensor } from './tfjs.js';

/** A stack the recovery can split and join: an engine array or a tf.Tensor, shaped `[Z, ...]`. */
export type SplittableStack = NDArray | Tensor;

/**
 * One run's result: the result stack, plus the special outputs of a tuple result (`null` when the
 * function returned a plain stack).
 *
 * When a stack is split, the special outputs of the parts are joined as lists in Z order: the i-th
 * special output of the whole is the concatenation of the parts' i-th outputs, where an output that
 * is an Array contributes its elements and any other value contributes itself. So per-slice lists
 * (as `processSlices` produces) come out exactly as an unsplit run would give them, and a scalar
 * output becomes one entry per part.
 */
export interface Outcome<S = unknown> {
  stack: S;
  special: unknown[] | null;
}

export interface OomRecoveryOptions {
  /** Whether the function is separable along Z (`sliceBySlice`): only then is the stack split. */
  separable: boolean;
  /** Device to empty when the error names none (`'cpu'`, `'cuda:N'`, `'opencl:N'`); else every device. */
  device?: string;
  /** Retries after emptying the caches, at every level of the split (default 2). */
  retries?: number;
}

const DEVICE_ID = /^(cpu|cuda:\d+|opencl:\d+)$/;

/**
 * Runs `run(input)` with OOM recovery. Non-OOM errors propagate at once (no retry). Calls are
 * sequential: running the halves in parallel would defeat the point of splitting.
 *
 * `run` must return the part's result already normalized (see `Outcome`); part stacks are disposed
 * once joined, and the views the splitting made are disposed after use. `input` itself is never
 * disposed.
 */
export async function runWithOomRecovery<S extends SplittableStack>(
  run: (input: S) => Promise<Outcome<S>>,
  input: S,
  options: OomRecoveryOptions,
): Promise<Outcome<S>> {
  const retries = options.retries ?? 2;
  if (!Number.isInteger(retries) || retries < 0) {
    throw new InvalidArgumentError(`retries must be a non-negative integer, got ${String(retries)}`);
  }
  return attempt(run, input, { ...options, retries }, 0, 0);
}

async function attempt<S extends SplittableStack>(
  run: (input: S) => Promise<Outcome<S>>,
  input: S,
  options: OomRecoveryOptions & { retries: number },
  depth: number,
  z0: number,
): Promise<Outcome<S>> {
  let last: OutOfMemoryError | undefined;
  for (let calls = 0; calls <= options.retries; calls++) {
    if (last) {
      const device = deviceOf(last, options);
      emptyCaches(device);
      recordRecovery({ action: 'empty-cache-retry', attempt: calls, device, message: last.message });
    }
    try {
      return await run(input);
    } catch (e) {
      if (!(e instanceof OutOfMemoryError)) throw e;
      last = e;
    }
  }
  const err = last!;
  const device = deviceOf(err, options);
  const z = input.shape[0] ?? 0;
  if (!options.separable || z <= 1) {
    // `attempt` of a rethrow: the calls made on this part before giving up.
    recordRecovery({ action: 'rethrow', attempt: options.retries + 1, device, message: err.message });
    throw err;
  }

  recordRecovery({ action: 'split-z', attempt: depth + 1, device, zRange: [z0, z0 + z], message: err.message });
  const mid = Math.floor(z / 2);
  return runOnParts(input, [[0, mid], [mid, z]], async (view, start) =>
    offDevice(await attempt(run, view, options, depth + 1, z0 + start), view, input),
  );
}

/**
 * Runs `runPart` on views of `input` over `ranges` of Z in order (`before` first each time) and
 * joins the parts. Views are disposed after use unless a part returned its view as its stack;
 * part stacks are disposed once joined. `input` itself is never disposed.
 */
async function runOnParts<S extends SplittableStack>(
  input: S,
  ranges: readonly (readonly [number, number])[],
  runPart: (view: S, start: number) => Promise<Outcome<S>>,
  before?: () => void,
): Promise<Outcome<S>> {
  const parts: Outcome<S>[] = [];
  try {
    for (const [start, end] of ranges) {
      before?.();
      const view = sliceZ(input, start, end);
      let part: Outcome<S> | undefined;
      try {
        part = await runPart(view, start);
        parts.push(part);
      } finally {
        // A function may return its input as is: then the view is the part's result, kept until joined.
        if (part?.stack !== view) dispose(view);
      }
    }
    return await join(parts);
  } finally {
    for (const p of parts) if (p.stack !== input) dispose(p.stack);
  }
}

/**
 * OpenHCS's `slice_by_slice`: `run` once per Z slice (each a `[1, Y, X]` view of `input`), the
 * results joined along Z and the special outputs collected per slice (as a split's parts are).
 * The signal is checked between slices. A stack without slices is passed to `run` whole.
 */
export async function runPerSlice<S extends SplittableStack>(
  run: (input: S) => Promise<Outcome<S>>,
  input: S,
  signal?: AbortSignal,
): Promise<Outcome<S>> {
  const z = input.shape[0] ?? 0;
  if (z === 0) return run(input);
  const slices = Array.from({ length: z }, (_, i) => [i, i + 1] as const);
  return runOnParts(input, slices, (view) => run(view), () => throwIfAborted(signal));
}

/**
 * Moves a finished part off its device (a transfer to host memory, recorded in the trace) so the
 * device holds one part at a time; the parts are joined on the host and the decorator converts the
 * joined stack to its output type. Host parts and tensors stay where they are.
 */
async function offDevice<S extends SplittableStack>(part: Outcome<S>, view: S, input: S): Promise<Outcome<S>> {
  const stack = part.stack;
  if (!isNDArray(stack) || stack.device === 'cpu') return part;
  const host = (await convertMemory(stack, { targetType: 'numpy' })) as NDArray;
  if (stack !== (view as unknown) && stack !== (input as unknown)) dispose(stack);
  return { stack: host as S, special: part.special };
}

function deviceOf(err: OutOfMemoryError, options: OomRecoveryOptions): DeviceId | undefined {
  const d = err.device ?? options.device;
  return typeof d === 'string' && DEVICE_ID.test(d) ? (d as DeviceId) : undefined;
}

/** Empties one device's cache; a device the engine does not know (e.g. named by user code) → all. */
function emptyCaches(device: DeviceId | undefined): void {
  if (device === undefined) return emptyCache();
  try {
    emptyCache(device);
  } catch {
    emptyCache();
  }
}

function sliceZ<S extends SplittableStack>(stack: S, start: number, end: number): S {
  if (isNDArray(stack)) return stack.sliceZ(start, end) as S;
  if (isTensor(stack)) {
    const t = stack as Tensor;
    const rest = t.shape.slice(1);
    return t.slice([start, ...rest.map(() => 0)], [end - start, ...rest.map(() => -1)]) as S;
  }
  throw new InvalidArgumentError(`cannot split a ${describe(stack)} along Z`);
}

async function join<S extends SplittableStack>(parts: Outcome<S>[]): Promise<Outcome<S>> {
  const stacks = parts.map((p) => p.stack);
  let stack: S;
  if (stacks.every(isNDArray)) {
    stack = (await concatZ(stacks as NDArray[])) as S;
  } else if (stacks.every(isTensor)) {
    stack = requireTf().concat(stacks as Tensor[], 0) as S;
  } else {
    throw new InvalidArgumentError(`the parts of a split stack returned different array kinds (${stacks.map(describe).join(', ')})`);
  }
  const arity = parts[0]!.special?.length ?? -1;
  if (parts.some((p) => (p.special?.length ?? -1) !== arity)) {
    throw new InvalidArgumentError('the parts of a split stack returned tuples of different lengths');
  }
  if (arity < 0) return { stack, special: null };
  const special = Array.from({ length: arity }, (_, i) =>
    parts.flatMap((p) => {
      const v = p.special![i];
      return Array.isArray(v) ? v : [v];
    }),
  );
  return { stack, special };
}

/** Releases an array the recovery made; never throws (it runs in `finally` blocks). */
function dispose(x: unknown): void {
  try {
    if (isNDArray(x)) x.dispose();
    else if (isTensor(x)) (x as Tensor).dispose();
  } catch {
    /* already gone */
  }
}
