/**
 * The result-dtype policy of decorated functions (OpenHCS `DtypeConversion`, DESIGN §4).
 */
import { show } from './ndarray.js';
import { convertMemory, dtypeOf } from './convert.js';
import { InvalidArgumentError } from './errors.js';
import { isNDArray, type NDArray } from './ndarray.js';
import { scaleToDtype } from './ops.js';
import { isTensor } from './tfjs.js';
import { DtypeConversion, type Dtype } from './types.js';

const POLICIES = new Set<string>(Object.values(DtypeConversion));

/** Validates a `dtypeConversion` option value (InvalidArgumentError otherwise). */
export function checkDtypeConversion(policy: unknown): DtypeConversion {
  if (typeof policy !== 'string' || !POLICIES.has(policy)) {
    throw new InvalidArgumentError(
      `dtypeConversion must be one of ${[...POLICIES].map((p) => JSON.stringify(p)).join(', ')}, got ${show(policy)}`,
      { dtypeConversion: String(policy) },
    );
  }
  return policy as DtypeConversion;
}

/** The dtype a policy asks for, or `null` when the result keeps its own (NATIVE_OUTPUT). */
export function targetDtype(policy: DtypeConversion, inputDtype: Dtype): Dtype | null {
  if (policy === DtypeConversion.PRESERVE_INPUT) return inputDtype;
  if (policy === DtypeConversion.NATIVE_OUTPUT) return null;
  return policy as `${DtypeConversion}` as Dtype;
}

/**
 * Applies `policy` to a function's result stack:
 * - `PRESERVE_INPUT`: back to `inputDtype` when the result differs;
 * - `NATIVE_OUTPUT`: unchanged;
 * - an explicit dtype: to that dtype when the result differs.
 *
 * Casting is OpenHCS's `_scale_and_convert_numpy` (`scaleToDtype`): a float result going to an
 * integer type is min–max stretched to the integer range, anything else is a plain `astype`.
 * A result already of the target dtype comes back as the same object.
 *
 * A tf.Tensor result needing a cast is brought to the host (`numpy`) first and comes back as an
 * `NDArray`; the caller converts it to the declared output type. The caller owns (and disposes)
 * `result` when a new object is returned; the host copy made here is disposed here.
 */
export async function applyDtypeConversion<T>(result: T, policy: DtypeConversion, inputDtype: Dtype): Promise<T | NDArray> {
  const target = targetDtype(checkDtypeConversion(policy), inputDtype);
  if (target === null || dtypeOf(result) === target) return result;
  if (isNDArray(result)) return scaleToDtype(result, target);
  if (isTensor(result)) {
    const host = (await convertMemory(result, { targetType: 'numpy' })) as NDArray;
    let scaled: NDArray | undefined;
    try {
      scaled = await scaleToDtype(host, target);
      return scaled;
    } finally {
      if (scaled !== host) host.dispose();
    }
  }
  throw new InvalidArgumentError(`cannot apply a dtype policy to ${typeof result}`);
}
