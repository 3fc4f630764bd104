/**
 * The processors of DESIGN §7 decorated with `cupy`: they receive cupy arrays: strictly a CUDA device (without one every call rejects with GpuUnavailableError).
 * `import { tophat } from 'stackbridge/processors/cupy'`.
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
  rescale,
  resize,
  rotate,
  translate,
  affineTransform,
} = makeFamily('cupy');

/** Cell counting on the CUDA device (see `stackbridge/analysis`). */
export { countCellsSingleChannelCuda as countCellsSingleChannel } from '../analysis.js';
