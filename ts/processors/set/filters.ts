/** The processor set (DESIGN §12): filters. Options and call shapes; the kernels are crates/kernels/src/set/filters.rs. */
import type { MemoryTypeName } from '../../types.js';
import type { OperationOptions, Unary } from './types.js';

/** Options of `differenceOfGaussian`. */
export interface DifferenceOfGaussianOptions extends OperationOptions {
  /** Sigma of the first Gaussian in pixels, finite and ≥ 0 (0: the image itself). Default 1. */
  sigma1?: number;
  /** Sigma of the subtracted Gaussian in pixels, finite and ≥ 0. Default 2. */
  sigma2?: number;
}

/** `sobel` and `laplace` take no options. */
export type NoOptions = OperationOptions;

/** Options of `subtractGaussianBackground`. */
export interface SubtractGaussianBackgroundOptions extends OperationOptions {
  /** Sigma of the Gaussian background in pixels, finite and ≥ 0. Default 10. */
  sigma?: number;
}

/** Options of `rollingBall`. */
export interface RollingBallOptions extends OperationOptions {
  /** Radius of the ball in pixels, in [0, 1024] (need not be an integer). Default 50. */
  radius?: number;
  /** Return the background instead of the image minus it. Default false. */
  returnBackground?: boolean;
}

/** An intensity range: explicit `[lo, hi]` levels. */
export type IntensityPair = [lo: number, hi: number];

/** Options of `rescaleIntensity`. */
export interface RescaleIntensityOptions extends OperationOptions {
  /**
   * The input levels: `'image'` (the whole stack's min and max; NaN anywhere makes the result
   * NaN, as scikit-image), `'dtype'` (the dtype's limits, `[-1, 1]` for floats) or `[lo, hi]`
   * with lo ≤ hi. Default `'image'`.
   */
  inRange?: 'image' | 'dtype' | IntensityPair;
  /**
   * The output levels: `'dtype'` (the dtype's limits, with 0 as the minimum when the input
   * minimum is ≥ 0) or `[lo, hi]` (lo > hi inverts). The result keeps the input dtype: integer
   * results are clipped to the dtype and truncated. Default `'dtype'`.
   */
  outRange?: 'dtype' | IntensityPair;
}

/** The filters of one family. */
export interface FilterOps<T extends MemoryTypeName> {
  /** Per slice `gaussian_filter(x, sigma1) − gaussian_filter(x, sigma2)` on the values as float64 (scipy, reflect), float32. */
  differenceOfGaussian: Unary<T, DifferenceOfGaussianOptions>;
  /** Per slice `skimage.filters.sobel` magnitude on the values as given (no rescaling to [0, 1]), float32. */
  sobel: Unary<T, NoOptions>;
  /** Per slice `scipy.ndimage.laplace(x, mode='reflect')` on the values as float64, float32. */
  laplace: Unary<T, NoOptions>;
  /** Per slice `x − gaussian_filter(x, sigma)` clipped at 0, in the input dtype. */
  subtractGaussianBackground: Unary<T, SubtractGaussianBackgroundOptions>;
  /** Per slice the image minus its `skimage.restoration.rolling_ball` background (or the background), in the input dtype. */
  rollingBall: Unary<T, RollingBallOptions>;
  /** `skimage.exposure.rescale_intensity` over the whole stack, in the input dtype. */
  rescaleIntensity: Unary<T, RescaleIntensityOptions>;
}
