import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import type { TensorLike, Tensor } from '../ts/index.js';
import { convertMemory, asarray, stackSlices } from '../ts/index.js';

// Compile-time checks (tsc -p tsconfig.test.json runs before ava): a real tf.Tensor is a TensorLike, so
// tfjs users pass tensors to the API as they are, and Tensor is not `any`.
const real: TensorLike = tf.zeros([1, 2, 2]);
// @ts-expect-error -- a number is not a tensor: `Tensor` must not degrade to `any` without tfjs
const notATensor: Tensor = 42;
// @ts-expect-error -- nor is it a slice
const wrongCall = () => stackSlices([42], 'numpy');

test('a real tf.Tensor goes through the API typed as TensorLike', async (t) => {
  const back = await convertMemory(real, { targetType: 'numpy' });
  t.deepEqual(back.shape, [1, 2, 2]);
  const out = (await convertMemory(asarray(new Float32Array([1, 2, 3, 4]), { shape: [1, 2, 2] }), { targetType: 'tensorflow' })) as tf.Tensor;
  t.deepEqual(Array.from(out.dataSync()), [1, 2, 3, 4]);
  t.is(notATensor as unknown, 42);
  t.is(typeof wrongCall, 'function');
});
