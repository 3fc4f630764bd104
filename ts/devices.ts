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
  /**
   * Whether arrays on the device are host memory it works in place (then numpy → device is
   * zero-copy). False for device-resident memory: a discrete GPU, or any OpenCL device under
   * `STACKBRIDGE_OPENCL_RESIDENT=1`.
   */
  sharesHostMemory: boolean;
  /** OpenCL: the platform, e.g. `'Portable Computing Language'`. */
  platform?: string;
  /** OpenCL: the device type. */
  deviceType?: 'gpu' | 'cpu' | 'accelerator' | 'other';
  /** OpenCL: whether the device computes in double precision (cl_khr_fp64); always true on CUDA. */
  fp64?: boolean;
  /** CUDA: the compute capability, e.g. `'9.0'`. */
  computeCapability?: string;
}

/** The CUDA driver and NVRTC as this process finds them (what `stackbridge info` prints). */
export interface CudaRuntime {
  /** `cuDriverGetVersion`, e.g. 13000, where a driver loaded. */
  driverVersion?: number;
  /** Why no CUDA driver is usable, where none is. */
  driverUnavailable?: string;
  /** CUDA devices the driver reports. */
  devices: number;
  /** NVRTC's version (`'13.0'`) where libnvrtc loads (run-time kernel compilation). */
  nvrtcVersion?: string;
  nvrtcUnavailable?: string;
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
  return native(() => addon.devices()).map((d) => withoutNulls(d) as unknown as DeviceInfo);
}

/** The CUDA driver and NVRTC of this process: versions where found, else why not. Never throws for a missing driver. */
export function cudaRuntime(): CudaRuntime {
  return withoutNulls(native(() => addon.cudaRuntime())) as unknown as CudaRuntime;
}

const withoutNulls = (o: object): object => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null && v !== undefined));

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
