/**
 * Cancellation and progress inside operations (DESIGN §4). An operation's `signal` raises a native
 * cancellation flag that the kernels check between slices or tiles; its counters (slices done /
 * total) are polled for `onProgress`. A `Pipeline.run` (or a decorated call given a `signal`) makes
 * its signal and progress listener *ambient* for everything inside it (AsyncLocalStorage), so an
 * abort reaches the engine operation that is running inside a step.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { AbortError, InvalidArgumentError, StackbridgeError } from './errors.js';
import { addon, type NativeCancelToken } from './native.js';
import { describe } from './ndarray.js';

/** Progress of one long operation: `done` of `total` units (slices; bytes for copies). */
export interface OperationProgress {
  /** The operation: a processor name, `countCellsSingleChannel`, or `convertMemory`. */
  operation: string;
  done: number;
  total: number;
}

interface OperationContext {
  signal?: AbortSignal;
  onProgress?: (p: OperationProgress) => void;
}

const context = new AsyncLocalStorage<OperationContext>();

/** How often a running operation's counters are read for `onProgress` (ms). */
const PROGRESS_POLL_MS = 20;

/** Validates an optional `signal` option (an `AbortSignal` or nothing). */
export function checkSignal(signal: unknown, what: string): AbortSignal | undefined {
  if (signal === undefined || signal === null) return undefined;
  if (!(signal instanceof AbortSignal)) throw new InvalidArgumentError(`${what}: signal must be an AbortSignal, got ${describe(signal)}`);
  return signal;
}

/** Runs `fn` with `signal` / `onProgress` ambient for the engine operations inside it (nested: inner wins). */
export function withOperationContext<T>(ctx: OperationContext, fn: () => Promise<T>): Promise<T> {
  const outer = context.getStore();
  return context.run({ signal: ctx.signal ?? outer?.signal, onProgress: ctx.onProgress ?? outer?.onProgress }, fn);
}

/** The signal an operation obeys: its own, else the ambient one. */
export function effectiveSignal(own?: AbortSignal): AbortSignal | undefined {
  return own ?? context.getStore()?.signal;
}

/**
 * What an aborted operation rejects with: the signal's reason when it is an Error of the caller's
 * own (as `fetch` does), else an `AbortError` (with the DOM's reason as `cause`).
 */
export function abortError(signal: AbortSignal | undefined): Error {
  const r: unknown = signal?.reason;
  if (r instanceof Error && !(r instanceof DOMException && r.name === 'AbortError')) return r;
  return new AbortError('The operation was aborted', {}, r === undefined ? undefined : { cause: r });
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortError(signal);
}

/**
 * Runs a native operation under `signal` (explicit, else ambient): a token is handed to `start`,
 * raised when the signal aborts, and polled for the ambient `onProgress`. A native `SB_ABORTED`
 * becomes `abortError(signal)`. Without a signal or a listener no token is made.
 */
export async function cancellable<T>(
  operation: string,
  own: AbortSignal | undefined,
  start: (token: NativeCancelToken | null) => Promise<T>,
): Promise<T> {
  const signal = effectiveSignal(own);
  const onProgress = context.getStore()?.onProgress;
  throwIfAborted(signal);
  if (signal === undefined && onProgress === undefined) return start(null);
  const token = new addon.CancelToken();
  const onAbort = () => token.cancel();
  signal?.addEventListener('abort', onAbort, { once: true });
  let last = -1;
  // A listener that throws must not crash the process from a timer: its error becomes the call's.
  let listenerError: { error: unknown } | undefined;
  const report = () => {
    const { done, total } = token;
    if (listenerError || total <= 0 || done === last) return;
    last = done;
    try {
      onProgress?.({ operation, done, total });
    } catch (error) {
      listenerError = { error };
    }
  };
  const timer = onProgress ? setInterval(report, PROGRESS_POLL_MS) : undefined;
  timer?.unref();
  try {
    const out = await start(token);
    if (onProgress) report();
    if (listenerError) throw listenerError.error;
    return out;
  } catch (e) {
    if (e instanceof StackbridgeError && e.code === 'SB_ABORTED') throw abortError(signal);
    throw e;
  } finally {
    if (timer) clearInterval(timer);
    signal?.removeEventListener('abort', onAbort);
  }
}
