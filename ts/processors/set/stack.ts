/** The processor set (DESIGN §12): stack. Options and call shapes; the kernels are crates/kernels/src/set/stack.rs. */
import type { MemoryTypeName } from '../../types.js';
import type { Binary, OperationOptions, Unary } from './types.js';

/** `varianceFilter`: the local variance per slice, float32. */
export interface VarianceFilterOptions extends OperationOptions {
  /**
   * Half-width of the `(2·radius+1)²` square window, an integer ≥ 0 (default 1). The variance is
   * `uniform_filter(x², size) − uniform_filter(x, size)²` in float64 with reflect borders
   * (scipy.ndimage), cast to float32.
   */
  radius?: number;
}

/** `extendedDepthOfFocus`: per pixel the value of the slice with the largest local variance. */
export interface ExtendedDepthOfFocusOptions extends OperationOptions {
  /** Half-width of the variance's square window, an integer ≥ 0 (default 2); the first slice wins ties. */
  radius?: number;
}

/** `addScalar` / `multiplyScalar`. */
export interface ScalarOptions extends OperationOptions {
  /**
   * The scalar, a finite number (required). Computed in float64; integer dtypes round half to
   * even and saturate to the dtype's range, float dtypes cast.
   */
  scalar: number;
}

/** `clip`: at least one of `min`, `max`. */
export interface ClipOptions extends OperationOptions {
  /** Lower bound (default: none). Integer dtypes truncate it toward zero and saturate it to the dtype's range. */
  min?: number;
  /** Upper bound (default: none); `min > max` is an InvalidArgumentError. */
  max?: number;
}

/**
 * The stack operations of one family. Element-wise `add`, `subtract`, `multiply`, `divide` take a
 * second array of the stack's shape, or one slice (`[1, Y, X]` or `[Y, X]`) applied to every slice,
 * and return float32 (`x.astype(float32) op y.astype(float32)`; division by zero gives ±Infinity / NaN).
 */
export interface StackOps<T extends MemoryTypeName> {
  /** Local variance over a square window, per slice → float32. */
  varianceFilter: Unary<T, VarianceFilterOptions>;
  /** `[1, Y, X]` in the input dtype: per pixel the value of the slice of largest local variance. */
  extendedDepthOfFocus: Unary<T, ExtendedDepthOfFocusOptions>;
  /** `[1, Y, X]` float32: the sum along Z (numpy's `x.sum(axis=0)`, int64 for integers). */
  sumProjection: Unary<T, OperationOptions>;
  /** `[1, Y, X]` int32: the z of the maximum along Z, the first one on ties (a NaN counts as the maximum). */
  argmaxProjection: Unary<T, OperationOptions>;
  /** `stack + other` → float32. */
  add: Binary<T, OperationOptions>;
  /** `stack − other` → float32. */
  subtract: Binary<T, OperationOptions>;
  /** `stack × other` → float32. */
  multiply: Binary<T, OperationOptions>;
  /** `stack ÷ other` → float32. */
  divide: Binary<T, OperationOptions>;
  /** `stack + scalar` in the input dtype. */
  addScalar: Unary<T, ScalarOptions>;
  /** `stack × scalar` in the input dtype. */
  multiplyScalar: Unary<T, ScalarOptions>;
  /** `np.clip(stack, min, max)` in the input dtype; NaN stays NaN. */
  clip: Unary<T, ClipOptions>;
  /** `np.abs(stack)` in the input dtype (the most negative int16 / int32 maps to itself, as numpy). */
  absolute: Unary<T, OperationOptions>;
}
