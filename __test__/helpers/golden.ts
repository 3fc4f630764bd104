/** Reads the golden files that `__test__/golden/make_golden.py` wrote with numpy. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'npyjs';
import { asarray, type NDArray } from '../../ts/ndarray.js';
import type { Dtype } from '../../ts/types.js';

export const GOLDEN_DIR = fileURLToPath(new URL('../golden/', import.meta.url));

export interface GoldenCase {
  name: string;
  processor: string;
  options: Record<string, unknown>;
  input: string;
  expected: string;
  aux?: string;
  tolerance: number;
  note: string;
}

export interface Manifest {
  versions: Record<string, string>;
  cases: GoldenCase[];
  counting: { input: string; truth: [number, number][][]; skimage_positions: [number, number][][]; skimage_f1: number[]; pipeline: string };
}

export const manifest: Manifest = JSON.parse(readFileSync(GOLDEN_DIR + 'manifest.json', 'utf8'));

const DTYPES: Record<string, Dtype> = { u1: 'uint8', u2: 'uint16', i2: 'int16', i4: 'int32', u4: 'uint32', f4: 'float32', f8: 'float64' };

/** A golden `.npy` file as a host NDArray. */
export function loadNpy(file: string): NDArray {
  const bytes = readFileSync(GOLDEN_DIR + file);
  const npy = parse(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
  const dtype = DTYPES[npy.dtype];
  if (!dtype || npy.fortranOrder) throw new Error(`${file}: unsupported golden array (${npy.dtype}, fortran=${npy.fortranOrder})`);
  return asarray(npy.data as Parameters<typeof asarray>[0], { shape: npy.shape, dtype });
}

/** Largest |a - b| and how many elements differ at all. */
export function compare(actual: ArrayLike<number>, expected: ArrayLike<number>): { maxDiff: number; differing: number } {
  let maxDiff = 0;
  let differing = 0;
  for (let i = 0; i < expected.length; i++) {
    const d = Math.abs(actual[i]! - expected[i]!);
    if (d > 0) differing++;
    if (d > maxDiff || Number.isNaN(d)) maxDiff = Number.isNaN(d) ? Infinity : d;
  }
  return { maxDiff, differing };
}

/** F1 of `found` against `truth` with greedy nearest matching within `tol` px (as make_golden.py). */
export function f1Score(found: readonly (readonly [number, number])[], truth: readonly (readonly [number, number])[], tol = 3): { f1: number; distances: number[] } {
  const used = new Set<number>();
  const distances: number[] = [];
  for (const [tx, ty] of truth) {
    let best = Infinity;
    let bi = -1;
    found.forEach(([fx, fy], i) => {
      const d = Math.hypot(fx - tx, fy - ty);
      if (!used.has(i) && d <= tol && d < best) {
        best = d;
        bi = i;
      }
    });
    if (bi >= 0) {
      used.add(bi);
      distances.push(best);
    }
  }
  const denom = found.length + truth.length;
  return { f1: denom === 0 ? 1 : (2 * distances.length) / denom, distances };
}
