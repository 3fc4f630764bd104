/**
 * The call shapes of the processors (DESIGN §7, §12), shared by every group of the set: what a
 * family's processor resolves to for each memory type, with or without a special output.
 */
import type { DecoratedFunction } from '../../decorators.js';
import type { NDArray } from '../../ndarray.js';
import type { MemoryTypeName } from '../../types.js';
import type { OperationOptions } from '../options.js';

export type { OperationOptions };

/** What a family's processor resolves to: an NDArray, or a tf.Tensor for the tensorflow family. */
export type Out<T extends MemoryTypeName> = T extends 'tensorflow' ? import('../../tfjs.js').Tensor : NDArray;

/** `(stack, options?) → stack`. */
export type Unary<T extends MemoryTypeName, O> = DecoratedFunction<[options?: O], Out<T>>;

/** `(stack, options?) → [stack, special]`: the result stack and a special output (OpenHCS's tuple tail). */
export type WithSpecial<T extends MemoryTypeName, O, S> = DecoratedFunction<[options?: O], [Out<T>, S]>;

/** `(stack, other, options?) → stack`: a second array of the stack's shape (markers, a second operand). */
export type Binary<T extends MemoryTypeName, O> = DecoratedFunction<[other: NDArray, options?: O], Out<T>>;

/** `(stack, other, options?) → [stack, special]`. */
export type BinaryWithSpecial<T extends MemoryTypeName, O, S> = DecoratedFunction<[other: NDArray, options?: O], [Out<T>, S]>;

/** A structuring element: `disk(r)` (skimage) or the `(2r+1)²` square. */
export type Footprint = 'disk' | 'square';

/** Options of the filters and morphology that take a footprint. */
export interface FootprintOptions extends OperationOptions {
  /** Radius in pixels, an integer ≥ 0 (default 1). */
  radius?: number;
  /** Default `'disk'`. */
  footprint?: Footprint;
}
