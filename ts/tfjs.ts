/**
 * The optional `@tensorflow/tfjs` peer: loaded lazily on first use of the tensorflow memory type.
 */
import { createRequire } from 'node:module';
import { MemoryTypeUnavailableError } from './errors.js';

import type { Tensor, Tf } from './tfjs-types.js';

export type { Tensor, TensorLike, TensorDtype, Tf } from './tfjs-types.js';

const require = createRequire(import.meta.url);
let cached: Tf | undefined;
let failure: unknown;

/** The tfjs module; `MemoryTypeUnavailableError` naming the package when it is not installed. */
export function requireTf(): Tf {
  if (cached) return cached;
  if (failure === undefined) {
    try {
      cached = require('@tensorflow/tfjs') as Tf;
      return cached;
    } catch (e) {
      failure = e;
    }
  }
  throw new MemoryTypeUnavailableError(
    "the 'tensorflow' memory type needs the optional peer dependency @tensorflow/tfjs: npm install @tensorflow/tfjs",
    { memoryType: 'tensorflow', package: '@tensorflow/tfjs' },
    { cause: failure },
  );
}

/** Whether tfjs is installed (loads it when it is). */
export function tfAvailable(): boolean {
  try {
    requireTf();
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether `x` is a tfjs Tensor. Decided without loading tfjs when it is not loaded yet: an object
 * whose class has tfjs's Tensor shape (dataId, dataSync, rank) can only come from a loaded tfjs.
 */
export function isTensor(x: unknown): x is Tensor {
  if (x === null || typeof x !== 'object') return false;
  // tfjs's `instanceof Tensor` probes `.data`, which throws for an NDArray on a device: a Tensor
  // always carries a `dataId`, an NDArray never does.
  if (!('dataId' in x)) return false;
  if (cached) return x instanceof cached.Tensor;
  const t = x as Record<string, unknown>;
  return typeof t.dataSync === 'function' && Array.isArray(t.shape) && typeof t.dtype === 'string' && 'dataId' in t && typeof t.rank === 'number';
}
