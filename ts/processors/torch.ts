/**
 * The processors of DESIGN §7 decorated with `torch`: they receive torch arrays: a CUDA device when one exists, else host memory (these CPU kernels run here).
 * `import { tophat } from 'stackbridge/processors/torch'`.
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
} = makeFamily('torch');
