/**
 * The tfjs types the public API names, without a dependency on `@tensorflow/tfjs` (an optional peer):
 * the published declarations must type-check where it is not installed (`skipLibCheck: false`), and
 * must not degrade to `any` there. A real `tf.Tensor` satisfies `TensorLike` (a type test checks
 * it), so tfjs users pass their tensors in as they are; a tensor that comes back is typed
 * `TensorLike` — `as tf.Tensor` gives tfjs's full API. Hand-written; `npm run build:ts` copies it
 * into dist/.
 */

/** The dtypes a tfjs tensor can have. */
export type TensorDtype = 'float32' | 'int32' | 'bool' | 'complex64' | 'string';

/** The part of a tf.Tensor that stackbridge uses. */
export interface TensorLike {
  readonly id: number;
  readonly dataId: object;
  readonly shape: number[];
  readonly size: number;
  readonly dtype: TensorDtype;
  readonly rank: number;
  readonly isDisposed: boolean;
  dataSync(): Float32Array | Int32Array | Uint8Array;
  data(): Promise<Float32Array | Int32Array | Uint8Array>;
  slice(begin: number | number[], size?: number | number[]): TensorLike;
  dispose(): void;
}

/** A tfjs tensor as the API sees it (see the file comment). */
export type Tensor = TensorLike;

/** The parts of the tfjs module stackbridge calls. */
export interface Tf {
  Tensor: abstract new (...args: never[]) => TensorLike;
  getBackend(): string;
  tensor(values: ArrayLike<number>, shape: number[], dtype: 'float32' | 'int32' | 'bool'): TensorLike;
  unstack(tensor: TensorLike, axis?: number): TensorLike[];
  concat(tensors: TensorLike[], axis: number): TensorLike;
}
