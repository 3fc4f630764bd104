/**
 * The processors of DESIGN §7 decorated with `tensorflow`: they receive tf.Tensors of @tensorflow/tfjs (transferred to the host kernels and back).
 * `import { tophat } from 'stackbridge/processors/tensorflow'`.
 */
import { makeFamily } from './family.js';

export type * from './options.js';

export const {
  stackPercentileNormalize,
  percentileNormalize,
  tophat,
  createProjection,
  maxProjection,
  meanProjection,
  sharpen,
  createComposite,
  applyMask,
  stackEqualizeHistogram,
  spatialBin2d,
  crop,
  gaussian,
} = makeFamily('tensorflow');
