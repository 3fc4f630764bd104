/**
 * The error hierarchy of DESIGN §3. Every error the package throws is a `StackbridgeError` with a
 * stable `code`; Rust raises the same codes and `translateNativeError` turns them into these classes.
 */

/** Extra structured fields an error may carry (all optional, JSON-friendly). */
export type ErrorDetails = Record<string, unknown>;

export class StackbridgeError extends Error {
  /** Stable machine-readable code, identical to the one Rust raises. */
  readonly code: string = 'SB_ERROR';
  readonly details: ErrorDetails;
  constructor(message: string, details: ErrorDetails = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.details = details;
  }
}

export class MemoryConversionError extends StackbridgeError {
  override readonly code: string = 'SB_MEMORY_CONVERSION';
  get sourceType(): string | undefined {
    return this.details.sourceType as string | undefined;
  }
  get targetType(): string | undefined {
    return this.details.targetType as string | undefined;
  }
  get method(): string | undefined {
    return this.details.method as string | undefined;
  }
  get reason(): string {
    return (this.details.reason as string | undefined) ?? this.message;
  }
}
export class CpuRoundtripRequiredError extends MemoryConversionError {
  override readonly code: string = 'SB_CPU_ROUNDTRIP_REQUIRED';
  constructor(message: string, details: ErrorDetails = {}, options?: { cause?: unknown }) {
    super(message, { ...details, method: 'cpu-roundtrip' }, options);
  }
}
export class UnsupportedConversionError extends MemoryConversionError {
  override readonly code: string = 'SB_UNSUPPORTED_CONVERSION';
}
export class UnknownMemoryTypeError extends StackbridgeError {
  override readonly code: string = 'SB_UNKNOWN_MEMORY_TYPE';
}
export class DeviceError extends StackbridgeError {
  override readonly code: string = 'SB_DEVICE';
  get device(): string | undefined {
    return this.details.device as string | undefined;
  }
}
export class GpuUnavailableError extends DeviceError {
  override readonly code: string = 'SB_GPU_UNAVAILABLE';
}
export class InvalidDeviceError extends DeviceError {
  override readonly code: string = 'SB_INVALID_DEVICE';
}
export class DeviceMismatchError extends DeviceError {
  override readonly code: string = 'SB_DEVICE_MISMATCH';
}
export class DeviceLostError extends DeviceError {
  override readonly code: string = 'SB_DEVICE_LOST';
}
export class MemoryTypeUnavailableError extends StackbridgeError {
  override readonly code: string = 'SB_MEMORY_TYPE_UNAVAILABLE';
}
export class OutOfMemoryError extends StackbridgeError {
  override readonly code: string = 'SB_OUT_OF_MEMORY';
  get device(): string | undefined {
    return this.details.device as string | undefined;
  }
  get requestedBytes(): number | undefined {
    return this.details.requestedBytes as number | undefined;
  }
  get freeBytes(): number | undefined {
    return this.details.freeBytes as number | undefined;
  }
  get limitBytes(): number | null | undefined {
    return this.details.limitBytes as number | null | undefined;
  }
}
export class DimensionError extends StackbridgeError {
  override readonly code: string = 'SB_DIMENSION';
}
export class DtypeError extends StackbridgeError {
  override readonly code: string = 'SB_DTYPE';
}
export class InvalidArgumentError extends StackbridgeError {
  override readonly code: string = 'SB_INVALID_ARGUMENT';
}
export class KernelCompileError extends StackbridgeError {
  override readonly code: string = 'SB_KERNEL_COMPILE';
  get log(): string {
    return (this.details.log as string | undefined) ?? '';
  }
}
export class DisposedError extends StackbridgeError {
  override readonly code: string = 'SB_DISPOSED';
}
export class PipelineError extends StackbridgeError {
  override readonly code: string = 'SB_PIPELINE';
  get stepName(): string | undefined {
    return this.details.stepName as string | undefined;
  }
  get stepIndex(): number | undefined {
    return this.details.stepIndex as number | undefined;
  }
}
/** A decorated function's output failed its `contract` (DESIGN §4). */
export class ContractError extends StackbridgeError {
  override readonly code: string = 'SB_CONTRACT';
}
/**
 * An operation stopped because its `signal` was aborted (DESIGN §4). `name` is `'AbortError'`, as
 * the DOM's, so code that checks `e.name === 'AbortError'` keeps working; `cause` is the signal's reason.
 */
export class AbortError extends StackbridgeError {
  override readonly code: string = 'SB_ABORTED';
  constructor(message = 'The operation was aborted', details: ErrorDetails = {}, options?: { cause?: unknown }) {
    super(message, details, options);
    this.name = 'AbortError';
  }
}
/** A file that cannot be read (or written) as an image; `path` names it, the message says why. */
export class ImageFormatError extends StackbridgeError {
  override readonly code: string = 'SB_IMAGE_FORMAT';
  get path(): string | undefined {
    return this.details.path as string | undefined;
  }
}
/** Missing or duplicate images in a plate: `missing` and `duplicates` list them. */
export class PlateLayoutError extends StackbridgeError {
  override readonly code: string = 'SB_PLATE_LAYOUT';
  get missing(): string[] {
    return (this.details.missing as string[] | undefined) ?? [];
  }
  get duplicates(): string[] {
    return (this.details.duplicates as string[] | undefined) ?? [];
  }
}
/** A panic caught at the binding boundary: a bug in stackbridge, never the caller's fault. */
export class InternalError extends StackbridgeError {
  override readonly code: string = 'SB_INTERNAL';
}

type ErrorClass = new (message: string, details?: ErrorDetails, options?: { cause?: unknown }) => StackbridgeError;

/** Code → class; the Rust side (`crates/core/src/error.rs`) uses exactly these codes. */
export const ERROR_CLASSES: Readonly<Record<string, ErrorClass>> = {
  SB_ERROR: StackbridgeError,
  SB_MEMORY_CONVERSION: MemoryConversionError,
  SB_CPU_ROUNDTRIP_REQUIRED: CpuRoundtripRequiredError,
  SB_UNSUPPORTED_CONVERSION: UnsupportedConversionError,
  SB_UNKNOWN_MEMORY_TYPE: UnknownMemoryTypeError,
  SB_DEVICE: DeviceError,
  SB_GPU_UNAVAILABLE: GpuUnavailableError,
  SB_INVALID_DEVICE: InvalidDeviceError,
  SB_DEVICE_MISMATCH: DeviceMismatchError,
  SB_DEVICE_LOST: DeviceLostError,
  SB_MEMORY_TYPE_UNAVAILABLE: MemoryTypeUnavailableError,
  SB_OUT_OF_MEMORY: OutOfMemoryError,
  SB_DIMENSION: DimensionError,
  SB_DTYPE: DtypeError,
  SB_INVALID_ARGUMENT: InvalidArgumentError,
  SB_KERNEL_COMPILE: KernelCompileError,
  SB_DISPOSED: DisposedError,
  SB_PIPELINE: PipelineError,
  SB_CONTRACT: ContractError,
  SB_ABORTED: AbortError,
  SB_IMAGE_FORMAT: ImageFormatError,
  SB_PLATE_LAYOUT: PlateLayoutError,
  SB_INTERNAL: InternalError,
};


/**
 * Turns whatever a native call threw into a `StackbridgeError`. Rust encodes its errors as the
 * JSON object `{sb: code, message, details}` in the message; napi-rs's own argument checks
 * (a string where a number belongs, ...) become `InvalidArgumentError`.
 */
export function translateNativeError(err: unknown): unknown {
  if (err instanceof StackbridgeError) return err;
  if (!(err instanceof Error)) return err;
  const msg = err.message;
  if (msg.startsWith('{') && msg.includes('"sb":')) {
    try {
      const parsed = JSON.parse(msg) as { sb?: unknown; message?: unknown; details?: ErrorDetails };
      if (typeof parsed.sb === 'string' && typeof parsed.message === 'string') {
        const Cls = ERROR_CLASSES[parsed.sb] ?? StackbridgeError;
        return new Cls(parsed.message, parsed.details ?? {});
      }
    } catch {
      /* not ours: fall through */
    }
  }
  const code = (err as { code?: unknown }).code;
  if (code === 'InvalidArg' || code === 'NumberExpected' || code === 'StringExpected' || code === 'ObjectExpected' ||
      code === 'ArrayExpected' || code === 'BooleanExpected' || code === 'BigintExpected' || err instanceof TypeError) {
    return new InvalidArgumentError(msg, { nativeCode: code }, { cause: err });
  }
  return err;
}

/** Runs a synchronous native call and rethrows its error as a typed one. */
export function native<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw translateNativeError(e);
  }
}

/** Awaits an asynchronous native call and rethrows its error as a typed one. */
export async function nativeAsync<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw translateNativeError(e);
  }
}

/**
 * The messages other libraries' out-of-memory errors carry (DESIGN §4): CUDA / PyTorch ("CUDA out of
 * memory", cudaErrorMemoryAllocation's "out of memory"), TensorFlow ("OOM when allocating",
 * RESOURCE_EXHAUSTED), OpenCL status names, onnxruntime ("Failed to allocate memory").
 */
const FOREIGN_OOM = /out of memory|OOM when allocating|RESOURCE_EXHAUSTED|CL_MEM_OBJECT_ALLOCATION_FAILURE|CL_OUT_OF_RESOURCES|Failed to allocate memory/i;

/**
 * `e` as an `OutOfMemoryError`: itself when it is one, a new one (with `e` as `cause`) when it is
 * another library's out-of-memory error recognised by its message, else `undefined`.
 */
export function asOutOfMemory(e: unknown): OutOfMemoryError | undefined {
  if (e instanceof OutOfMemoryError) return e;
  if (e instanceof StackbridgeError) return undefined; // ours carry their class; a message never re-types them
  const msg = e instanceof Error ? e.message : typeof e === 'string' ? e : undefined;
  if (msg === undefined || !FOREIGN_OOM.test(msg)) return undefined;
  const name = e instanceof Error ? e.name : 'Error';
  return new OutOfMemoryError(`out of memory (${name} from a library inside the function): ${msg}`, { foreign: true }, { cause: e });
}

/** Whether `e` is an out-of-memory error from any source (engine, user code, other libraries). */
export function isOutOfMemory(e: unknown): boolean {
  return asOutOfMemory(e) !== undefined;
}
