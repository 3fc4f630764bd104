/** The processor set (DESIGN §12): measure. Options and call shapes; the kernels are crates/kernels/src/set/measure.rs. */
import { writeFile } from 'node:fs/promises';
import type { MemoryTypeName } from '../../types.js';
import type { BinaryWithSpecial, OperationOptions, Unary, WithSpecial } from './types.js';

/**
 * One Z slice's regions as a columnar table, rows by increasing label: the columns of
 * `skimage.measure.regionprops_table(labels, intensity, properties=('label', 'area', 'centroid',
 * 'bbox', 'intensity_mean', 'intensity_min', 'intensity_max', 'intensity_std',
 * 'equivalent_diameter_area', 'eccentricity', 'orientation', 'axis_major_length',
 * 'axis_minor_length', 'perimeter', 'solidity'))`. A NaN (a region holding a NaN intensity) arrives
 * as `null` in the intensity columns (JSON has no NaN).
 */
export interface RegionTable {
  /** The label value (≥ 1). */
  label: number[];
  /** Pixel count. */
  area: number[];
  /** Mean row. */
  centroidY: number[];
  /** Mean column. */
  centroidX: number[];
  /** First row. */
  bboxMinY: number[];
  /** First column. */
  bboxMinX: number[];
  /** Last row + 1 (exclusive, as skimage). */
  bboxMaxY: number[];
  /** Last column + 1 (exclusive). */
  bboxMaxX: number[];
  /** Intensity values as given (no rescaling). */
  intensityMean: number[];
  intensityMin: number[];
  intensityMax: number[];
  /** Population standard deviation (numpy's `std`, ddof 0). */
  intensityStd: number[];
  /** Diameter of the disc of the same area, `sqrt(4 · area / π)`. */
  equivalentDiameter: number[];
  /** Of the ellipse with the same second moments, in [0, 1). */
  eccentricity: number[];
  /** Angle between the row axis and the major axis, radians in [-π/2, π/2]. */
  orientation: number[];
  majorAxisLength: number[];
  minorAxisLength: number[];
  /** skimage's 4-connectivity perimeter estimate. */
  perimeter: number[];
  /** Area over the area of the convex hull (`convex_hull_image`). */
  solidity: number[];
}

/** `regionprops` has no options of its own. */
export type RegionpropsOptions = OperationOptions;

/** `distanceTransform` has no options of its own. */
export type DistanceTransformOptions = OperationOptions;

/** `peakLocalMax` [skimage.feature.peak_local_max, square footprint of side 2·minDistance + 1]. */
export interface PeakLocalMaxOptions extends OperationOptions {
  /** Minimal Chebyshev distance between peaks, an integer ≥ 0 (default 1). */
  minDistance?: number;
  /** Peaks must exceed this (default: the slice minimum). */
  thresholdAbs?: number;
  /** Peaks must also exceed `thresholdRel · max` of the slice (default: none). */
  thresholdRel?: number;
  /** Rows/columns dropped at each border: `true` = `minDistance` (default), `false` = 0, or a width ≥ 0. */
  excludeBorder?: boolean | number;
  /** At most this many peaks per slice, the highest first (default: unlimited). */
  numPeaks?: number;
}

/** A peak: `[row, column]`. */
export type Peak = [y: number, x: number];

/** The measure of one family. */
export interface MeasureOps<T extends MemoryTypeName> {
  /**
   * `regionprops(labels, intensity)`: the stack is the label image (any integer dtype, 0 =
   * background), `intensity` an array of its shape (any dtype). Returns the label stack unchanged
   * and one {@link RegionTable} per Z slice.
   */
  regionprops: BinaryWithSpecial<T, RegionpropsOptions, RegionTable[]>;
  /** Local maxima per Z slice, in skimage's order (highest first); the stack is returned unchanged. */
  peakLocalMax: WithSpecial<T, PeakLocalMaxOptions, Peak[][]>;
  /** → float32: per slice the Euclidean distance of each nonzero pixel to the nearest zero pixel [scipy.ndimage.distance_transform_edt(x != 0)]. */
  distanceTransform: Unary<T, DistanceTransformOptions>;
}

/** The columns of the CSV after `slice`, in table order. */
const COLUMNS: readonly (keyof RegionTable)[] = [
  'label',
  'area',
  'centroidY',
  'centroidX',
  'bboxMinY',
  'bboxMinX',
  'bboxMaxY',
  'bboxMaxX',
  'intensityMean',
  'intensityMin',
  'intensityMax',
  'intensityStd',
  'equivalentDiameter',
  'eccentricity',
  'orientation',
  'majorAxisLength',
  'minorAxisLength',
  'perimeter',
  'solidity',
];

/** Integer columns (int64 in skimage's table); every other column is float64. */
const INTEGER = new Set<keyof RegionTable>(['label', 'bboxMinY', 'bboxMinX', 'bboxMaxY', 'bboxMaxX']);

/**
 * A float as Python's `repr` (and numpy's `str`, which pandas' `to_csv` uses) writes it: the
 * shortest round-trip digits (as JavaScript's), positional with at least one decimal for
 * 1e-4 ≤ |x| < 1e16, else `d.ddde±XX`; `nan`/`null` as pandas' empty field, `inf`, `-inf`.
 */
export function pythonFloat(x: number | null | undefined): string {
  if (x === null || x === undefined || Number.isNaN(x)) return '';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const sign = x < 0 ? '-' : '';
  const [mant, expText] = Math.abs(x).toExponential().split('e');
  const digits = mant.replace('.', '');
  const e = Number(expText);
  if (e >= -4 && e < 16) {
    if (e < 0) return `${sign}0.${'0'.repeat(-e - 1)}${digits}`;
    const int = digits.length > e + 1 ? digits.slice(0, e + 1) : digits.padEnd(e + 1, '0');
    const frac = digits.length > e + 1 ? digits.slice(e + 1) : '0';
    return `${sign}${int}.${frac}`;
  }
  const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
  return `${sign}${m}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
}

/**
 * The tables of `regionprops` as CSV: header `slice,label,area,centroidY,…,solidity` (the
 * {@link RegionTable} columns in order), one row per region, slices in order; integers as
 * integers and floats as Python's `repr`, so the text equals pandas'
 * `DataFrame(regionprops_table(...)).to_csv(index=False)` with a leading `slice` column (up to
 * the header names). Lines end with `\n`.
 */
export function regionsToCsv(tables: readonly RegionTable[]): string {
  const lines = [['slice', ...COLUMNS].join(',')];
  tables.forEach((t, z) => {
    const n = t.label.length;
    for (const c of COLUMNS) {
      if (t[c].length !== n) throw new RangeError(`regionsToCsv: slice ${z}: column ${c} has ${t[c].length} rows, label ${n}`);
    }
    for (let i = 0; i < n; i++) {
      const cells = COLUMNS.map((c) => {
        const v = t[c][i] as number | null;
        return INTEGER.has(c) ? String(v) : pythonFloat(v);
      });
      lines.push(`${z},${cells.join(',')}`);
    }
  });
  return `${lines.join('\n')}\n`;
}

/** Writes {@link regionsToCsv} of `tables` to `path` (UTF-8). */
export async function writeRegionsCsv(path: string, tables: readonly RegionTable[]): Promise<void> {
  await writeFile(path, regionsToCsv(tables), 'utf8');
}
