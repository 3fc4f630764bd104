/**
 * The processors of DESIGN §7 decorated with `pyclesperanto`: they receive OpenCL arrays and run
 * OpenCL kernels (without an OpenCL device every call rejects with GpuUnavailableError).
 * `import { tophat } from 'stackbridge/processors/pyclesperanto'`.
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
} = makeFamily('pyclesperanto');

/** Cell counting with detection on the OpenCL device (see `stackbridge/analysis`). */
export { countCellsSingleChannelOpenCL as countCellsSingleChannel } from '../analysis.js';
