/**
 * Cell counting (DESIGN §7, OpenHCS `cell_counting_cpu`): `countCellsSingleChannel` and the
 * writers of its JSON summary and CSV details in OpenHCS's format.
 * `import { countCellsSingleChannel, writeCellCounts } from 'stackbridge/analysis'`.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { cupy, numpy, pyclesperanto } from './decorators.js';
import { InvalidArgumentError } from './errors.js';
import type { NDArray } from './ndarray.js';
import type { OperationOptions } from './processors/options.js';
import { runCount, named, type ProcessorInput } from './processors/host.js';

export type DetectionMethod = 'blob_log' | 'blob_dog' | 'watershed' | 'threshold';
export type ThresholdMethod = 'otsu' | 'li';

/** Options of `countCellsSingleChannel`, defaults as OpenHCS. */
export interface CountCellsOptions extends OperationOptions {
  /** Default `'blob_log'`. */
  detectionMethod?: DetectionMethod;
  /** Blob methods: smallest and largest sigma in pixels (defaults 1 and 10). */
  minSigma?: number;
  maxSigma?: number;
  /** blob_log: number of sigmas between them (default 10). */
  numSigma?: number;
  /**
   * Blob methods: scikit-image's threshold on the image scaled to [0, 1] by its dtype's maximum
   * (default 0.1); `threshold` method: fraction of the slice maximum.
   */
  threshold?: number;
  /** Blob methods: the largest overlap two kept blobs may have, 0–1 (default 0.5). */
  overlap?: number;
  /** Watershed: footprint side of the distance-transform peaks (default 3). */
  watershedFootprintSize?: number;
  /** Watershed: minimum distance between seeds (default 5). */
  watershedMinDistance?: number;
  /** Watershed: how the foreground threshold is found (default `'otsu'`). */
  watershedThresholdMethod?: ThresholdMethod;
  /** Gaussian blur then median filter before detection (default true). */
  enablePreprocessing?: boolean;
  /** Preprocessing Gaussian sigma, 0 to skip (default 1). */
  gaussianSigma?: number;
  /** Preprocessing median disk radius, 0 to skip (default 1). */
  medianDiskSize?: number;
  /** Cells outside [min, max] area in pixels are dropped (defaults 10 and 1000). */
  minCellArea?: number;
  maxCellArea?: number;
  /** Watershed and threshold: drop objects touching the border (default true). */
  removeBorderCells?: boolean;
  /** Also return an int32 label stack (default false). */
  returnSegmentationMask?: boolean;
}

/** The options a result was computed with, every default filled in. */
export type CountCellsParameters = Required<CountCellsOptions>;

/** One slice's cells (OpenHCS's `CellCountResult`). */
export interface CellCountResult {
  sliceIndex: number;
  method: DetectionMethod;
  cellCount: number;
  /** `[x, y]` per cell, in pixels. */
  positions: [number, number][];
  /** Pixels (blob methods: 2πσ², the disk of radius σ√2). */
  areas: number[];
  /** In the input's units: the preprocessed value at the centre (blobs) or the mean over the cell. */
  intensities: number[];
  /** Blob methods σ/maxSigma; watershed area/maxCellArea (≤ 1); threshold mean/maximum. */
  confidences: number[];
  parameters: CountCellsParameters;
}

async function countCellsImpl(stack: ProcessorInput, options?: CountCellsOptions): Promise<[NDArray, CellCountResult[], NDArray<'int32'> | null]> {
  // The stack comes back unchanged (a tensor input was transferred: that host copy is the result).
  const { results, masks, input } = await runCount(stack, options);
  return [input, JSON.parse(results) as CellCountResult[], masks];
}

/**
 * Counts cells in every slice of a `[Z, Y, X]` stack. Resolves to `[stack, results, masks]`:
 * the stack unchanged, one result per slice, and the int32 label stack when
 * `returnSegmentationMask` (else null).
 */
export const countCellsSingleChannel = numpy(named('countCellsSingleChannel', countCellsImpl));

/**
 * `countCellsSingleChannel` decorated with `pyclesperanto` (OpenHCS's `cell_counting_pyclesperanto`):
 * scaling, preprocessing and detection run on the OpenCL device, the bookkeeping on the host. Also
 * exported by `stackbridge/processors/pyclesperanto`.
 */
export const countCellsSingleChannelOpenCL = pyclesperanto(named('countCellsSingleChannel', countCellsImpl));

/**
 * `countCellsSingleChannel` decorated with `cupy` (OpenHCS's `cell_counting_cupy`): on the CUDA
 * device's backend. Also exported by `stackbridge/processors/cupy`.
 */
export const countCellsSingleChannelCuda = cupy(named('countCellsSingleChannel', countCellsImpl));

/** Python's `repr` of a float, as pandas and `json.dumps` print it (`5.0`, `1e-05`). */
function pyFloat(v: number): string {
  if (!Number.isFinite(v)) return Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity';
  if (Number.isInteger(v) && Math.abs(v) < 1e16) return `${v}.0`;
  const a = Math.abs(v);
  if (a >= 1e16 || a < 1e-4) {
    const [m, e] = v.toExponential().split('e');
    const exp = Number(e);
    return `${m}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  }
  return String(v);
}

/** OpenHCS's parameter names (snake_case) for the JSON summary. */
function snakeParameters(p: CountCellsParameters): Record<string, unknown> {
  return Object.fromEntries(Object.entries(p).map(([k, v]) => [k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`), v]));
}

function mean(xs: number[]): number {
  return xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length;
}

function checkResults(results: readonly CellCountResult[]): void {
  if (!Array.isArray(results)) throw new InvalidArgumentError('expected the array of CellCountResult that countCellsSingleChannel returns');
}

/** The JSON summary OpenHCS's `materialize_cell_counts` writes for single-channel counts. */
export function cellCountsJson(results: readonly CellCountResult[]): string {
  checkResults(results);
  const total = results.reduce((a, r) => a + r.cellCount, 0);
  const summary = {
    analysis_type: 'single_channel_cell_counting',
    total_slices: results.length,
    results_per_slice: results.map((r) => ({
      slice_index: r.sliceIndex,
      method: r.method,
      cell_count: r.cellCount,
      avg_cell_area: mean(r.areas),
      avg_cell_intensity: mean(r.intensities),
      parameters: snakeParameters(r.parameters),
    })),
    total_cells_all_slices: total,
    average_cells_per_slice: results.length ? total / results.length : 0,
  };
  return JSON.stringify(summary, null, 2);
}

/** The `_details.csv` OpenHCS writes: one row per cell. */
export function cellCountsCsv(results: readonly CellCountResult[]): string {
  checkResults(results);
  const rows = ['slice_index,cell_id,x_position,y_position,cell_area,cell_intensity,detection_confidence,detection_method'];
  for (const r of results) {
    r.positions.forEach(([x, y], i) => {
      rows.push(
        [r.sliceIndex, `slice_${r.sliceIndex}_cell_${i}`, pyFloat(x), pyFloat(y), pyFloat(r.areas[i]!), pyFloat(r.intensities[i]!), pyFloat(r.confidences[i]!), r.method].join(','),
      );
    });
  }
  return rows.join('\n') + '\n';
}

/**
 * Writes `<basePath>.json` and, when any cell was found, `<basePath>_details.csv` (OpenHCS's
 * names); resolves to the paths written.
 */
export async function writeCellCounts(results: readonly CellCountResult[], basePath: string): Promise<string[]> {
  if (typeof basePath !== 'string' || basePath === '') throw new InvalidArgumentError('writeCellCounts needs a base path');
  const jsonPath = `${basePath}.json`;
  // The README's own example writes into `out/`: a missing folder is created, not an ENOENT.
  await mkdir(dirname(jsonPath), { recursive: true });
  await writeFile(jsonPath, cellCountsJson(results));
  if (!results.some((r) => r.cellCount > 0)) return [jsonPath];
  const csvPath = `${basePath}_details.csv`;
  await writeFile(csvPath, cellCountsCsv(results));
  return [jsonPath, csvPath];
}

/** The regionprops table of the processor set as CSV (`regionprops` in `stackbridge/processors/<type>`). */
export { regionsToCsv, writeRegionsCsv } from './processors/set/measure.js';
export type { RegionTable } from './processors/set/measure.js';
