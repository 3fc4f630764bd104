/** The processor set (DESIGN §12): threshold. Options and call shapes; the kernels are crates/kernels/src/set/threshold.rs. */
import type { MemoryTypeName } from '../../types.js';
import type { OperationOptions, WithSpecial } from './types.js';

/**
 * The thresholds of a call, one per Z slice, in the image's units (no rescaling to [0, 1]).
 * `null` for a slice without a non-NaN pixel (all NaN, or an empty plane), whose mask is all 0.
 */
export type Thresholds = (number | null)[];

/** Options of the histogram thresholds (Otsu, Yen, Isodata, Triangle). */
export interface HistogramThresholdOptions extends OperationOptions {
  /**
   * Histogram bins for float images, an integer ≥ 2 (default 256). Ignored for integer images,
   * which (as scikit-image) get one bin per integer value from the slice's minimum to its maximum.
   */
  nbins?: number;
}

/** `thresholdLi` takes no options (scikit-image's defaults: the tolerance and the mean as the start). */
export type LiThresholdOptions = OperationOptions;

/** `thresholdMean` takes no options. */
export type MeanThresholdOptions = OperationOptions;

/**
 * The threshold family: per Z slice the threshold `t` of `skimage.filters.threshold_*(slice)` and
 * the uint8 0/1 mask `slice > t`; returns `[mask, thresholds]`. NaN pixels are ignored by the
 * threshold and are never in the mask; a constant slice has its value as the threshold (mask all 0).
 */
export interface ThresholdOps<T extends MemoryTypeName> {
  /** Otsu's threshold [skimage.filters.threshold_otsu]. */
  thresholdOtsu: WithSpecial<T, HistogramThresholdOptions, Thresholds>;
  /** Li's minimum cross-entropy threshold [skimage.filters.threshold_li]. */
  thresholdLi: WithSpecial<T, LiThresholdOptions, Thresholds>;
  /** The triangle threshold [skimage.filters.threshold_triangle]. */
  thresholdTriangle: WithSpecial<T, HistogramThresholdOptions, Thresholds>;
  /** Yen's threshold [skimage.filters.threshold_yen]. */
  thresholdYen: WithSpecial<T, HistogramThresholdOptions, Thresholds>;
  /** The ISODATA (Ridler–Calvard) threshold [skimage.filters.threshold_isodata]. */
  thresholdIsodata: WithSpecial<T, HistogramThresholdOptions, Thresholds>;
  /** The mean of the slice [skimage.filters.threshold_mean]. */
  thresholdMean: WithSpecial<T, MeanThresholdOptions, Thresholds>;
}
