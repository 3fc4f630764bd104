/** The processor set (DESIGN §12): rank filters and grey-scale morphology. Options and call shapes; the kernels are crates/kernels/src/set/rank/. */
import type { MemoryTypeName } from '../../types.js';
import type { FootprintOptions, Unary } from './types.js';

/**
 * Options of the rank filters and grey-scale morphology: `radius` an integer in 0..=4096
 * (default 1), `footprint` `'disk'` (skimage `disk(radius)`, the default) or `'square'` (the
 * `(2·radius + 1)²` square). Integer images are filtered on their values as given.
 */
export interface RankFilterOptions extends FootprintOptions {}

/** `meanFilter` options. */
export interface MeanFilterOptions extends RankFilterOptions {}
/** `medianFilter` options. */
export interface MedianFilterOptions extends RankFilterOptions {}
/** `minimumFilter` options. */
export interface MinimumFilterOptions extends RankFilterOptions {}
/** `maximumFilter` options. */
export interface MaximumFilterOptions extends RankFilterOptions {}
/** `opening` options. */
export interface OpeningOptions extends RankFilterOptions {}
/** `closing` options. */
export interface ClosingOptions extends RankFilterOptions {}
/** `blackTophat` options. */
export interface BlackTophatOptions extends RankFilterOptions {}

/** The rank group of one family: every operation per Z slice, in the input dtype. */
export interface RankOps<T extends MemoryTypeName> {
  /**
   * Mean over the footprint. Square: `scipy.ndimage.uniform_filter(slice, 2r + 1, mode='reflect')`
   * exactly (two 1-D passes, integers truncated after each). Disk: the mean over `disk(r)` with the
   * reflect border, integers truncated toward zero. NaN: as the oracle (the square's running sum
   * turns the rest of a line NaN; the disk's windows holding a NaN are NaN).
   */
  meanFilter: Unary<T, MeanFilterOptions>;
  /** `skimage.filters.median(slice, footprint)` (border 'nearest'); windows holding NaN get scipy's quickselect value. */
  medianFilter: Unary<T, MedianFilterOptions>;
  /** `skimage.morphology.erosion(slice, footprint)`: min over the footprint clipped to the slice; NaN samples ignored (NaN only where all are). */
  minimumFilter: Unary<T, MinimumFilterOptions>;
  /** `skimage.morphology.dilation(slice, footprint)`: max over the footprint clipped to the slice; NaN samples ignored. */
  maximumFilter: Unary<T, MaximumFilterOptions>;
  /** `skimage.morphology.opening`: erosion then dilation. */
  opening: Unary<T, OpeningOptions>;
  /** `skimage.morphology.closing`: dilation then erosion. */
  closing: Unary<T, ClosingOptions>;
  /** `skimage.morphology.black_tophat`: closing − image (never negative for integers). */
  blackTophat: Unary<T, BlackTophatOptions>;
}
