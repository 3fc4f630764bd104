/**
 * Devices and their memory (DESIGN §4, §10). Ids: `'cpu'`, `'cuda:N'`, `'opencl:N'`.
 */
import { InvalidArgumentError, native } from './errors.js';
import { addon } from './native.js';
import type { DeviceId } from './types.js';

export interface DeviceInfo {
  id: DeviceId;
  kind: 'cpu' | 'cuda' | 'opencl';
  name: string;
  /** Bytes of memory the device has (the host's RAM for `cpu`). */
  totalMemory: number;
  /** Whether the device works in host memory (then host ↔ device conversions can be zero-copy). */
  sharesHostMemory: boolean;
  /** OpenCL: the platform, e.g. `'Portable Computing Language'`. */
  platform?: string;
  /** OpenCL: the device type. */
  deviceType?: 'gpu' | 'cpu' | 'accelerator' | 'other';
  /** OpenCL: whether the device computes in double precision (cl_khr_fp64). */
  fp64?: boolean;
}

/** One OpenCL command queue: each engine thread gets its own per device (DESIGN §4). */
export interface QueueInfo {
  id: number;
  device: DeviceId;
  /** The engine (worker) thread that owns the queue. */
  thread: string;
  /** Kernels enqueued on it so far. */
  launches: number;
}

export interface MemoryInfo {
  device: DeviceId;
  /** Bytes held by live arrays. */
  allocatedBytes: number;
  /** Bytes kept by the caching allocator for reuse (`emptyCache` returns them). */
  cachedBytes: number;
  peakAllocatedBytes: number;
  /** The limit set by `setMemoryLimit`, or null. */
  limitBytes: number | null;
  freeBytes: number;
  totalBytes: number;
  allocations: number;
  cacheHits: number;
}

/** The host, every CUDA device and every OpenCL device this process can use. */
export function devices(): DeviceInfo[] {
  // napi leaves absent optionals as null: drop them so the fields are truly optional.
  return native(() => addon.devices()).map((d) => Object.fromEntries(Object.entries(d).filter(([, v]) => v !== null && v !== undefined)) as unknown as DeviceInfo);
}

/** The command queues created on an OpenCL device, one per engine thread that ran kernels there. */
export function openclQueues(id: DeviceId): QueueInfo[] {
  const d = checkId(id);
  return native(() => addon.openclQueues(d)) as QueueInfo[];
}

function checkId(id: unknown): string {
  if (typeof id !== 'string') throw new InvalidArgumentError(`device id must be a string like 'cpu', 'cuda:0' or 'opencl:0', got ${typeof id}`);
  return id;
}

/** Allocator statistics of one device. */
export function memoryInfo(id: DeviceId): MemoryInfo {
  const d = checkId(id);
  const info = native(() => addon.memoryInfo(d));
  return { ...info, limitBytes: info.limitBytes ?? null };
}

/** Returns the cached blocks of one device (or of every device) to the system. */
export function emptyCache(id?: DeviceId): void {
  const d = id === undefined ? null : checkId(id);
  native(() => addon.emptyCache(d));
}

/**
 * Caps a device's memory: an allocation beyond `bytes` fails with `OutOfMemoryError` exactly as if
 * the device had run out. `null` removes the cap.
 */
export function setMemoryLimit(id: DeviceId, bytes: number | null): void {
  const d = checkId(id);
  if (bytes !== null && (typeof bytes !== 'number' || !Number.isInteger(bytes) || bytes < 0)) {
    throw new InvalidArgumentError(`memory limit must be a non-negative integer number of bytes or null, got ${String(bytes)}`);
  }
  native(() => addon.setMemoryLimit(d, bytes));
}
