/**
 * Trace collection. Conversions and OOM recoveries are recorded into the collector of the current
 * async context (AsyncLocalStorage), so a pipeline sees everything its steps did without threading
 * a collector through every call.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { InvalidArgumentError } from './errors.js';
import { describe } from './ndarray.js';
import type { ConversionKind, MemoryTypeName } from './types.js';

export interface ConversionRecord {
  from: MemoryTypeName;
  to: MemoryTypeName;
  kind: ConversionKind;
  /** Bytes of the data converted (the logical size, whatever was copied). */
  bytes: number;
  /** Wall time of the conversion in milliseconds. */
  ms: number;
  sourceDevice: string;
  targetDevice: string;
}

export type RecoveryAction = 'empty-cache-retry' | 'split-z' | 'rethrow';

export interface RecoveryRecord {
  action: RecoveryAction;
  /** 1-based attempt number for retries; depth of the split for `split-z`. */
  attempt: number;
  /** Device whose caches were emptied or that ran out. */
  device?: string;
  /** Z range [start, end) of the part being split, for `split-z`. */
  zRange?: [number, number];
  message: string;
}

/** One processor run: where its kernels ran. */
export interface KernelRecord {
  processor: string;
  /** `cpu` or `opencl:N`. */
  device: string;
  /** The OpenCL command queue (one per engine thread per device); absent on the host. */
  queue?: number;
  /** Wall time of the run in milliseconds. */
  ms: number;
}

export class TraceCollector {
  readonly conversions: ConversionRecord[] = [];
  readonly recoveries: RecoveryRecord[] = [];
  readonly kernels: KernelRecord[] = [];
}

const storage = new AsyncLocalStorage<TraceCollector>();

/** Runs `fn` with `collector` receiving every record made inside it (including nested async work). */
export function withTrace<T>(collector: TraceCollector, fn: () => Promise<T>): Promise<T> {
  if (!(collector instanceof TraceCollector)) {
    throw new InvalidArgumentError(`withTrace needs a TraceCollector, got ${describe(collector)}`);
  }
  if (typeof fn !== 'function') throw new InvalidArgumentError(`withTrace needs a function, got ${describe(fn)}`);
  return storage.run(collector, fn);
}

export function currentTrace(): TraceCollector | undefined {
  return storage.getStore();
}

export function recordConversion(rec: ConversionRecord): void {
  storage.getStore()?.conversions.push(rec);
}

export function recordRecovery(rec: RecoveryRecord): void {
  storage.getStore()?.recoveries.push(rec);
}

export function recordKernel(rec: KernelRecord): void {
  storage.getStore()?.kernels.push(rec);
}
