/**
 * Options of the processors (DESIGN §7), shared by every processor family. Names and defaults
 * follow OpenHCS's numpy processor in camelCase.
 */
import type { DtypeConversion } from '../types.js';

/**
 * What every processor also takes: a `signal` that aborts it between slices (DESIGN §4), and the
 * decorator's per-call options (OpenHCS's `slice_by_slice` / `dtype_config`), which the decorator
 * takes out before the kernel sees the options.
 */
export interface OperationOptions {
  /** Aborts the operation: it rejects with `AbortError` and frees what it allocated. */
  signal?: AbortSignal;
  /** Call once per Z slice for this call (default: the decorator's). */
  sliceBySlice?: boolean;
  /** The result dtype policy for this call (default: the decorator's). */
  dtypeConversion?: DtypeConversion | `${DtypeConversion}`;
}

/** `stackPercentileNormalize` / `percentileNormalize`. The result is always uint16. */
export interface NormalizeOptions extends OperationOptions {
  /** Lower percentile, 0–100 (default 1). */
  lowPercentile?: number;
  /** Upper percentile, 0–100 (default 99). */
  highPercentile?: number;
  /** Output value of the lower percentile (default 0). */
  targetMin?: number;
  /** Output value of the upper percentile (default 65535). */
  targetMax?: number;
}

/** `tophat`: white top-hat background subtraction with a flat disk. */
export interface TophatOptions extends OperationOptions {
  /** Disk radius in full-resolution pixels, an integer ≥ 0 (default 50). */
  selemRadius?: number;
  /** Downsampling factor for the background estimate, an integer ≥ 1 (default 4); 1 is the exact top-hat. */
  downsampleFactor?: number;
  /**
   * Spline order of the background's upsampling: 1 (linear, default, as the seed) or 0 (nearest,
   * OpenHCS 0.8.6's default). Ignored by the exact top-hat (`downsampleFactor: 1`).
   */
  upsampleOrder?: 0 | 1;
}

export type ProjectionMethod = 'max_projection' | 'mean_projection' | 'min_projection' | 'median_projection' | 'std_projection';

/** `createProjection`. */
export interface ProjectionOptions extends OperationOptions {
  /** Default `'max_projection'`. */
  method?: ProjectionMethod;
}

/** `sharpen`: unsharp masking, per slice. */
export interface SharpenOptions extends OperationOptions {
  /** Gaussian radius (sigma), > 0 (default 1). */
  radius?: number;
  /** Strength (default 1). */
  amount?: number;
}

/** `createComposite`. */
export interface CompositeOptions extends OperationOptions {
  /** One weight per slice, normalised to sum 1 (default: equal weights). */
  weights?: readonly number[];
}

/** `stackEqualizeHistogram`: one histogram over the whole stack. */
export interface EqualizeOptions extends OperationOptions {
  /** Number of bins (default 65536). */
  bins?: number;
  /** Histogram range (default 0–65535). */
  rangeMin?: number;
  rangeMax?: number;
}

export type BinMethod = 'mean' | 'sum' | 'max' | 'min';

/** `spatialBin2d`. */
export interface SpatialBinOptions extends OperationOptions {
  /** Side of the square bin, an integer ≥ 1 (default 2). */
  binSize?: number;
  /** Reduction inside a bin (default `'mean'`). */
  method?: BinMethod;
}

/** `crop`: a `[depth, height, width]` box starting at `[startZ, startY, startX]`. */
export interface CropOptions extends OperationOptions {
  startX?: number;
  startY?: number;
  startZ?: number;
  /** Defaults 1. */
  width?: number;
  height?: number;
  depth?: number;
}

/** `gaussian`: `scipy.ndimage.gaussian_filter` per slice, reflect borders, truncate 4. */
export interface GaussianOptions extends OperationOptions {
  /** Standard deviation in pixels, ≥ 0 (default 1). */
  sigma?: number;
}
