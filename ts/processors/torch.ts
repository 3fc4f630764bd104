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
  meanFilter,
  medianFilter,
  minimumFilter,
  maximumFilter,
  opening,
  closing,
  blackTophat,
  differenceOfGaussian,
  sobel,
  laplace,
  subtractGaussianBackground,
  rollingBall,
  rescaleIntensity,
  thresholdOtsu,
  thresholdLi,
  thresholdTriangle,
  thresholdYen,
  thresholdIsodata,
  thresholdMean,
  binaryDilation,
  binaryErosion,
  binaryOpening,
  binaryClosing,
  binaryFillHoles,
  removeSmallObjects,
  removeSmallHoles,
  regionprops,
  peakLocalMax,
  distanceTransform,
} = makeFamily('torch');
