/**
 * Loads the napi addon built from `src/` (see `loadAddon` for where it is looked for) and states
 * its shape. Nothing outside `ts/` touches the addon directly, and every
 * call into it goes through `native()` / `nativeAsync()` of errors.ts so Rust errors arrive typed.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DeviceInfo, MemoryInfo } from './devices.js';
import type { AnyTypedArray } from './types.js';

/** Native handle over Rust-owned array storage (`src/array.rs`). */
export interface NativeArray {
  readonly dtype: string;
  readonly shape: number[];
  readonly strides: number[];
  readonly memoryType: string;
  readonly device: string;
  readonly readonly: boolean;
  readonly disposed: boolean;
  readonly size: number;
  readonly nbytes: number;
  /** Zero-copy TypedArray view (host only). */
  data(): AnyTypedArray;
  /** A copy of the elements into a JS-owned TypedArray, off the main thread. */
  toTypedArray(): Promise<AnyTypedArray>;
  dispose(): void;
  /** Zero-copy view of `[start, end)` along axis 0. */
  sliceZ(start: number, end: number): NativeArray;
  /** Zero-copy view with another shape of the same size. */
  reshape(shape: number[]): NativeArray;
  /** Whether both handles view the same storage. */
  sharesMemoryWith(other: NativeArray): boolean;
}

/** Cancellation flag and progress counters of one operation (`src/cancel.rs`). */
export interface NativeCancelToken {
  cancel(): void;
  readonly done: number;
  readonly total: number;
}

export interface NativeConversion {
  array: NativeArray;
  kind: string;
  bytes: number;
  micros: number;
  sourceDevice: string;
  targetDevice: string;
  /** The edge copies and `deferCopy` was set: nothing was done yet (run `convertAsync`). */
  deferred: boolean;
}

export interface NativePlan {
  kind: string;
  sourceDevice: string;
  targetDevice: string;
}

/** One processor run (`src/processors.rs`). */
export interface NativeProcessorRun {
  /** Absent: the input stack is the result, unchanged (measurements). */
  array?: NativeArray | null;
  /** The special output, JSON. */
  special?: string | null;
  /** The device ran the operation on the host (no device kernels for it; DESIGN §12). */
  onHost: boolean;
  /** Where the kernels ran: `cpu`, `cuda:N` or `opencl:N`. */
  device: string;
  /** The OpenCL command queue (one per engine thread per device); absent on the host. */
  queue?: number | null;
  micros: number;
}

/** One processor of `processorTable()`. */
export interface NativeProcessorEntry {
  name: string;
  separable: boolean;
  /** The arrays after the stack; a name ending in `?` is optional and passed as that option. */
  arrays: string[];
  keepsDtype: boolean;
  special?: string | null;
}

/** One OpenCL command queue (`openclQueues`). */
export interface NativeQueueInfo {
  id: number;
  device: string;
  thread: string;
  launches: number;
}

export interface NativeModule {
  NativeArray: { prototype: NativeArray };
  CancelToken: new () => NativeCancelToken;
  asarray(data: AnyTypedArray | number[], shape: number[], dtype: string | null, memoryType: string): NativeArray;
  zeros(shape: number[], dtype: string, memoryType: string): NativeArray;
  convertSync(array: NativeArray, targetType: string, gpuId: number | null, allowCpuRoundtrip: boolean, strictDevice: boolean, deferCopy?: boolean): NativeConversion;
  /** The conversions that copy (transfer, device-move), on a worker thread. */
  convertAsync(array: NativeArray, targetType: string, gpuId: number | null, allowCpuRoundtrip: boolean, strictDevice: boolean, cancel?: NativeCancelToken | null): Promise<NativeConversion>;
  planConversion(sourceType: string, sourceDevice: string, targetType: string, gpuId: number | null, allowCpuRoundtrip: boolean, strictDevice: boolean): NativePlan;
  astype(array: NativeArray, dtype: string): Promise<NativeArray>;
  scaleToDtype(array: NativeArray, dtype: string): Promise<NativeArray>;
  concatZ(arrays: NativeArray[]): Promise<NativeArray>;
  stackSlices(slices: NativeArray[], memoryType: string): Promise<NativeArray>;
  copyArray(array: NativeArray): Promise<NativeArray>;
  devices(): DeviceInfo[];
  cudaRuntime(): Record<string, unknown>;
  /** A DLPack capsule (a type-tagged External) over the array's memory. */
  toDlpack(array: NativeArray): object;
  fromDlpack(capsule: unknown, memoryType: string): NativeArray;
  /** `limitBytes` is absent (not null) when no limit is set. */
  memoryInfo(device: string): Omit<MemoryInfo, 'limitBytes'> & { limitBytes?: number };
  emptyCache(device: string | null): void;
  setMemoryLimit(device: string, bytes: number | null): void;
  placement(memoryType: string, gpuId: number | null): string;
  errorCodes(): string[];
  /** Runs a processor (DESIGN §7, §12) with JSON options on the input's device; `aux` are its further arrays (`arrays` of its table entry). */
  runProcessor(name: string, input: NativeArray, options: string, aux: (NativeArray | null)[], cancel?: NativeCancelToken | null): Promise<NativeProcessorRun>;
  /** Every processor: separability, further arrays, dtype, special output. */
  processorTable(): NativeProcessorEntry[];
  /** countCellsSingleChannel: the per-slice results as JSON and the optional int32 masks. */
  countCells(input: NativeArray, options: string, cancel?: NativeCancelToken | null): Promise<{ results: string; masks?: NativeArray | null; device: string; queue?: number | null }>;
  /** The command queues created on an OpenCL device. */
  openclQueues(device: string): NativeQueueInfo[];
  /** Decodes a TIFF at `name`, or the given bytes (`name` then only labels errors); info is JSON. */
  readTiffFile(name: string, bytes: Buffer | null): Promise<{ array: NativeArray; info: string }>;
  /** Encodes a host array as a TIFF at `path` (options JSON: compression, bigtiff, ome). */
  writeTiffFile(path: string, array: NativeArray, options: string): Promise<void>;
  /** PNG of slice `z`, contrast-stretched, with circles (x, y, r triples) drawn. */
  overlayPngBytes(array: NativeArray, z: number, circles: number[]): Promise<Buffer>;
  /** Test hook: panics inside the binding, to prove panics become `InternalError`. */
  debugPanic(asyncTask: boolean): Promise<void> | void;
  /** The CPU level the kernels run at and the path each took (`src/cpu.rs`). */
  cpuFeatures(): { detected: string; level: string; requested?: string | null; compiledFor: string; paths: { kernel: string; path?: string | null }[] };
}

const require = createRequire(import.meta.url);

/** The prebuilt platform packages published beside this one (`npm/<triple>/`), by napi triple. */
export const PLATFORM_PACKAGES: Readonly<Record<string, string>> = {
  'linux-x64-gnu': 'stackbridge-linux-x64-gnu',
};

/** napi's triple for this process (`linux-x64-gnu`, `linux-x64-musl`, `darwin-arm64`, …). */
export function platformTriple(): string {
  const base = `${process.platform}-${process.arch}`;
  if (process.platform !== 'linux') return base;
  // glibcVersionRuntime is set only where Node runs on glibc (musl builds leave it out).
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
  return `${base}-${header?.glibcVersionRuntime ? 'gnu' : 'musl'}`;
}

/**
 * The addon, in this order: `STACKBRIDGE_NATIVE_PATH` (an explicit `.node`, e.g. to compare two
 * builds in one bench run), a contributor's local build (`native/`, written by `npm run build`),
 * then the prebuilt platform package npm installed as an optional dependency. Nothing found is an
 * error naming the package to install, instead of napi's generic "Cannot find native binding".
 */
export function loadAddon(): NativeModule {
  const explicit = process.env.STACKBRIDGE_NATIVE_PATH;
  if (explicit) return require(resolve(explicit)) as NativeModule;
  const triple = platformTriple();
  const local = fileURLToPath(new URL(`../native/stackbridge.${triple}.node`, import.meta.url));
  if (existsSync(local)) return require(local) as NativeModule;
  const pkg = PLATFORM_PACKAGES[triple];
  if (pkg === undefined) {
    throw new Error(
      `stackbridge has no prebuilt binary for ${triple} (published: ${Object.keys(PLATFORM_PACKAGES).join(', ')}); ` +
        'build it from a clone of the repository with `npm run build` (needs Rust)',
    );
  }
  try {
    return require(pkg) as NativeModule;
  } catch (e) {
    const missing = (e as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND' && String((e as Error).message).includes(pkg);
    throw new Error(
      missing
        ? `stackbridge's native binary for ${triple} is missing: install the optional dependency \`${pkg}\` ` +
            `(npm install ${pkg}; npm skips optional dependencies with --omit=optional or --no-optional)`
        : `stackbridge's native binary ${pkg} failed to load: ${(e as Error).message}`,
      { cause: e },
    );
  }
}

export const addon: NativeModule = loadAddon();
