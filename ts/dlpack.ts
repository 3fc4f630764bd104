/**
 * DLPack 1.x exchange: an engine array's memory handed to other native code (or back) without a
 * copy: host arrays (kDLCPU) and CUDA arrays (kDLCUDA, device id N for `cuda:N`).
 *
 * A capsule is a napi External, type-tagged (`napi_type_tag_object`, lower `0x5b1c0f0ed1bac801`, upper
 * `0x737461636b627264`), whose data pointer is `struct { DLManagedTensorVersioned *tensor; }`. Another
 * addon checks the tag, reads the struct with `napi_get_value_external` and takes the tensor by
 * atomically swapping `tensor` to NULL; it then owns it and calls its deleter when done. A capsule
 * nobody took releases its tensor when it is garbage-collected.
 */
import { InvalidArgumentError, native } from './errors.js';
import { addon } from './native.js';
import { checkMemoryType, handleOf, wrap, type NDArray } from './ndarray.js';

declare const capsuleBrand: unique symbol;
/** An opaque DLPack capsule (see the module comment for its C layout). */
export type DlpackCapsule = object & { readonly [capsuleBrand]: 'DLManagedTensorVersioned' };

/** The memory types `fromDlpack` makes: numpy / torch / jax for host memory, cupy / torch / jax for CUDA memory. */
export type DlpackMemoryType = 'numpy' | 'cupy' | 'torch' | 'jax';

/**
 * A DLPack capsule over `array`'s memory (zero-copy; `READ_ONLY` for a read-only array, e.g. jax). The
 * memory stays valid until the consumer deletes the tensor, even if `array` is disposed first.
 */
export function toDlpack(array: NDArray): DlpackCapsule {
  const h = handleOf(array);
  return native(() => addon.toDlpack(h)) as DlpackCapsule;
}

/**
 * A zero-copy array of `memoryType` over a capsule's memory (the capsule is consumed: a second use is
 * `InvalidArgumentError`). A `READ_ONLY` tensor, and any `jax` result, is read-only. Errors: not a
 * capsule, a device other than the host or a CUDA device of this machine, a memory type that does not
 * live there (numpy for CUDA memory, cupy for host memory), a dtype without an engine dtype
 * (`DtypeError`), strides that are not C-contiguous.
 */
export function fromDlpack(capsule: DlpackCapsule, memoryType: DlpackMemoryType): NDArray {
  const mt = checkMemoryType(memoryType);
  if (mt !== 'numpy' && mt !== 'cupy' && mt !== 'torch' && mt !== 'jax') {
    throw new InvalidArgumentError(`fromDlpack makes numpy, cupy, torch or jax arrays, not '${mt}'`);
  }
  return wrap(native(() => addon.fromDlpack(capsule, mt)));
}
