/** The processor set (DESIGN §12): labels. Options and call shapes; the kernels are crates/kernels/src/set/labels.rs. */
import type { NDArray } from '../../ndarray.js';
import type { MemoryTypeName } from '../../types.js';
import type { Binary, OperationOptions, Unary } from './types.js';

/** `connectedComponentsLabeling`: nonzero pixels (any dtype) are foreground. */
export interface ConnectedComponentsOptions extends OperationOptions {
  /** 1: edge neighbours only; 2 (default): edge and corner neighbours (skimage.measure.label's 2-D default). */
  connectivity?: 1 | 2;
}

/** `voronoiOtsuLabeling`: the recipe of napari-segment-blobs-and-things-with-membranes, on the values as given. */
export interface VoronoiOtsuOptions extends OperationOptions {
  /** Sigma of the Gaussian whose local maxima seed the cells, ≥ 0 (default 2). */
  spotSigma?: number;
  /** Sigma of the Gaussian that Otsu's threshold splits into foreground, ≥ 0 (default 2). */
  outlineSigma?: number;
}

/** `watershed(stack, markers, { mask, compactness })`. */
export interface WatershedOptions extends OperationOptions {
  /** Where to flood (nonzero = inside), the stack's shape, any dtype; default: everywhere. Markers outside it are dropped. */
  mask?: NDArray;
  /** 0 only (default): the compact watershed (> 0) is not supported yet and is an InvalidArgumentError. */
  compactness?: number;
}

/** `excludeLabelsOutsideSizeRange`: labels whose pixel count lies outside `[min, max]` are removed, the rest renumbered 1..n. */
export interface SizeRangeOptions extends OperationOptions {
  /** Smallest area kept, in pixels, ≥ 0 (default 0). */
  min?: number;
  /** Largest area kept, in pixels, ≥ 0 (default: no upper bound). */
  max?: number;
}

/** `dilateLabels` (skimage.segmentation.expand_labels). */
export interface DilateLabelsOptions extends OperationOptions {
  /** Euclidean distance a label grows into the background, a number ≥ 0 (default 1). */
  radius?: number;
}

/** `erodeLabels`: a pixel keeps its label only if all of disk(radius) around it (inside the image) has it. */
export interface ErodeLabelsOptions extends OperationOptions {
  /** Disk radius, an integer ≥ 0 (default 1). */
  radius?: number;
}

/**
 * The labels of one family. Every operation works per Z slice and returns int32 labels (0 =
 * background, labels numbered as scikit-image numbers them), except `labelBoundaries` (uint8 0/1).
 * Label inputs are uint8 / uint16 / int16 / int32 with labels ≥ 0 (float: DtypeError; negative:
 * InvalidArgumentError).
 */
export interface LabelOps<T extends MemoryTypeName> {
  /** skimage.measure.label(x != 0, connectivity) → int32. */
  connectedComponentsLabeling: Unary<T, ConnectedComponentsOptions>;
  /** Gaussian → local maxima → Gaussian → Otsu mask → seeds in the mask labelled → watershed(mask, seeds, mask=mask) → int32. */
  voronoiOtsuLabeling: Unary<T, VoronoiOtsuOptions>;
  /** skimage.segmentation.watershed(stack, markers, mask=mask) per slice, connectivity 1 → int32; markers: integer labels of the stack's shape. */
  watershed: Binary<T, WatershedOptions>;
  /** skimage.segmentation.clear_border then relabel_sequential → int32. */
  excludeLabelsOnEdges: Unary<T, OperationOptions>;
  /** Remove labels with area < min or > max, then relabel_sequential → int32 (pyclesperanto's exclude_labels_outside_size_range). */
  excludeLabelsOutsideSizeRange: Unary<T, SizeRangeOptions>;
  /** skimage.segmentation.relabel_sequential(labels)[0] → int32. */
  relabelSequential: Unary<T, OperationOptions>;
  /** skimage.segmentation.expand_labels(labels, distance=radius) → int32. */
  dilateLabels: Unary<T, DilateLabelsOptions>;
  /** Per label, skimage.morphology.erosion(labels == l, disk(radius)) → int32. */
  erodeLabels: Unary<T, ErodeLabelsOptions>;
  /** skimage.segmentation.find_boundaries(labels, mode='inner') → uint8 0/1. */
  labelBoundaries: Unary<T, OperationOptions>;
}
