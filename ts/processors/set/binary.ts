/** The processor set (DESIGN §12): binary. Options and call shapes; the kernels are crates/kernels/src/set/binary.rs. */
import type { MemoryTypeName } from '../../types.js';
import type { FootprintOptions, OperationOptions, Unary } from './types.js';

/**
 * Binary morphology options: `radius` (an integer ≥ 0, default 1) and `footprint` (`'disk'` =
 * `skimage.morphology.disk(radius)`, default; `'square'` = the `(2·radius+1)²` square).
 */
export type BinaryMorphologyOptions = FootprintOptions;

/** `binaryFillHoles` takes no options. */
export type FillHolesOptions = OperationOptions;

/** Options of `removeSmallObjects`. */
export interface RemoveSmallObjectsOptions extends OperationOptions {
  /**
   * Objects of **at most** this many pixels are removed (scikit-image 0.26, where `min_size` is
   * passed on as `max_size`), an integer ≥ 0 (default 64; 0 removes nothing).
   */
  minSize?: number;
  /** 1: edge neighbours (default); 2: edge and corner neighbours. */
  connectivity?: 1 | 2;
}

/** Options of `removeSmallHoles`. */
export interface RemoveSmallHolesOptions extends OperationOptions {
  /**
   * Background components of **at most** this many pixels are filled — those touching the image
   * border too, as in scikit-image — an integer ≥ 0 (default 64).
   */
  areaThreshold?: number;
  /** Connectivity of the background components: 1 (default) or 2. */
  connectivity?: 1 | 2;
}

/**
 * The binary family: per Z slice on the mask `slice != 0` (any dtype; NaN counts as nonzero),
 * uint8 0/1 results.
 */
export interface BinaryOps<T extends MemoryTypeName> {
  /** [scipy.ndimage.binary_dilation] with the footprint; outside the image is background. */
  binaryDilation: Unary<T, BinaryMorphologyOptions>;
  /** [scipy.ndimage.binary_erosion], `border_value=0`: pixels whose footprint leaves the image are removed. */
  binaryErosion: Unary<T, BinaryMorphologyOptions>;
  /** [scipy.ndimage.binary_opening]: erosion then dilation, both with `border_value=0`. */
  binaryOpening: Unary<T, BinaryMorphologyOptions>;
  /** [scipy.ndimage.binary_closing]: dilation then erosion, so (as scipy) it also clears pixels near the border. */
  binaryClosing: Unary<T, BinaryMorphologyOptions>;
  /** [scipy.ndimage.binary_fill_holes]: background not reachable from outside through edge neighbours becomes foreground. */
  binaryFillHoles: Unary<T, FillHolesOptions>;
  /** [skimage.morphology.remove_small_objects(mask, min_size=minSize, connectivity)]. */
  removeSmallObjects: Unary<T, RemoveSmallObjectsOptions>;
  /** [skimage.morphology.remove_small_holes(mask, area_threshold=areaThreshold, connectivity)]. */
  removeSmallHoles: Unary<T, RemoveSmallHolesOptions>;
}
