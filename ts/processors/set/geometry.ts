/** The processor set (DESIGN §12): geometry. Options and call shapes; the kernels are crates/kernels/src/set/geometry.rs. */
import type { MemoryTypeName } from '../../types.js';
import type { OperationOptions, Unary } from './types.js';

/**
 * Spline order: 0 (nearest), 1 (linear) or 3 (cubic: scipy's prefiltered B-spline; for `rotate`
 * skimage's bicubic). Order 3 runs on the host CPU on every backend.
 */
export type InterpolationOrder = 0 | 1 | 3;

/** Options shared by `rescale` and `resize` (skimage.transform, `mode='reflect'`, `preserve_range=True`). */
export interface ResampleOptions extends OperationOptions {
  /** Spline order (default 1). */
  order?: InterpolationOrder;
  /**
   * Gaussian smoothing before downsampling, sigma `max(0, (in/out − 1) / 2)` per axis. Default as
   * skimage's: true when an axis shrinks, except for order 0 on integer input (where `true` is refused).
   */
  antiAliasing?: boolean;
}

/** `rescale`: [skimage.transform.rescale] per Z slice. */
export interface RescaleOptions extends ResampleOptions {
  /**
   * Scale factor, > 0: one number for both axes or `[fy, fx]` (required). The output slice is
   * `max(round(h·fy), 1) × max(round(w·fx), 1)` (round half to even, as numpy).
   */
  factor: number | [number, number];
}

/** `resize`: [skimage.transform.resize] per Z slice. */
export interface ResizeOptions extends ResampleOptions {
  /** Output slice shape `[h, w]`, positive integers (required). */
  shape: [number, number];
}

/** `rotate`: [skimage.transform.rotate, `mode='constant'`, `preserve_range=True`] per Z slice. */
export interface RotateOptions extends OperationOptions {
  /** Angle in degrees, counter-clockwise about the slice centre (default 0). */
  angle?: number;
  /** Spline order (default 1). */
  order?: InterpolationOrder;
  /** Grow the output so the whole rotated slice fits (default false: the input's shape). */
  resize?: boolean;
  /** Value outside the input (default 0). */
  cval?: number;
}

/** `translate`: [scipy.ndimage.shift on the slice as float64, `mode='constant'`] per Z slice. */
export interface TranslateOptions extends OperationOptions {
  /** Shift `[dy, dx]` in pixels (fractional allowed; required): output (y, x) reads input (y − dy, x − dx). */
  shift: [number, number];
  /** Spline order (default 1; scipy's default is 3). */
  order?: InterpolationOrder;
  /** Value where the shifted input does not reach (default 0). */
  cval?: number;
}

/** `affineTransform`: [scipy.ndimage.affine_transform on the slice as float64, `mode='constant'`] per Z slice. */
export interface AffineTransformOptions extends OperationOptions {
  /**
   * The output → input map in (y, x) coordinates, as scipy's: row-major 2×3 (6 numbers) or 3×3
   * (9 numbers, last row `[0, 0, 1]`); required. A singular matrix is allowed.
   */
  matrix: number[];
  /** Spline order (default 1; scipy's default is 3). */
  order?: InterpolationOrder;
  /** Output slice shape `[h, w]` (default the input's). */
  outputShape?: [number, number];
  /** Value for coordinates outside the input (default 0). */
  cval?: number;
}

/**
 * The geometry of one family. Every result has the input dtype: the oracle's float result,
 * rounded half to even and clipped for integer dtypes, cast for float32.
 */
export interface GeometryOps<T extends MemoryTypeName> {
  rescale: Unary<T, RescaleOptions>;
  resize: Unary<T, ResizeOptions>;
  rotate: Unary<T, RotateOptions>;
  translate: Unary<T, TranslateOptions>;
  affineTransform: Unary<T, AffineTransformOptions>;
}
