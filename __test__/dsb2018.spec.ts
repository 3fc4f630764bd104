import test from 'ava';
import { readFile } from 'node:fs/promises';
import { readTiff, type NDArray } from '../ts/index.js';
import { stackPercentileNormalize } from '../ts/processors/numpy.js';
import { countCellsSingleChannel, type CountCellsOptions } from '../ts/analysis.js';
import { wellWarnings } from '../ts/cli/report.js';

// The real DSB2018 nuclei image and its 125-nucleus ground truth (fixtures/dsb2018/README.md);
// scikit-image's own recipes on it were scored by fixtures/make_fixtures.py.
const DIR = new URL('./fixtures/dsb2018/', import.meta.url).pathname;
const sk = JSON.parse(await readFile(`${DIR}skimage_f1.json`, 'utf8')) as { truth: number; radius: number; normalize: object; f1: Record<string, { f1: number }> };

async function truthCentroids(): Promise<[number, number][]> {
  const { array } = await readTiff(`${DIR}mask2d.tif`);
  const [, , w] = array.shape as [number, number, number];
  const sums = new Map<number, [number, number, number]>();
  (array.data as Uint16Array).forEach((v, i) => {
    if (v === 0) return;
    const s = sums.get(v) ?? [0, 0, 0];
    s[0] += i % w;
    s[1] += Math.floor(i / w);
    s[2]++;
    sums.set(v, s);
  });
  return [...sums.values()].map(([x, y, n]) => [x / n, y / n]);
}

/** F1 at `radius` px: detections matched one-to-one to true centroids, closest pairs first (as the Python script). */
function f1(truth: [number, number][], found: [number, number][], radius: number): number {
  const pairs: [number, number, number][] = [];
  truth.forEach(([tx, ty], i) => found.forEach(([x, y], j) => {
    const d = Math.hypot(tx - x, ty - y);
    if (d <= radius) pairs.push([d, i, j]);
  }));
  pairs.sort((a, b) => a[0] - b[0]);
  const ti = new Set<number>();
  const fj = new Set<number>();
  for (const [, i, j] of pairs) if (!ti.has(i) && !fj.has(j)) (ti.add(i), fj.add(j));
  return (2 * ti.size) / (truth.length + found.length);
}

// Per method, the options used on the normalized image. The blob methods use scikit-image's own
// parameters (no extra preprocessing), so they must match it; watershed and threshold use
// OpenHCS's recipes, tuned for this image (threshold: OpenHCS's fraction of the maximum where
// scikit-image's recipe uses Otsu, 0.201 here).
const METHODS: Record<string, CountCellsOptions> = {
  blob_log: { detectionMethod: 'blob_log', minSigma: 2, maxSigma: 10, enablePreprocessing: false },
  blob_dog: { detectionMethod: 'blob_dog', minSigma: 2, maxSigma: 10, enablePreprocessing: false },
  watershed: { detectionMethod: 'watershed', watershedFootprintSize: 11, removeBorderCells: false, maxCellArea: 100_000 },
  threshold: { detectionMethod: 'threshold', threshold: 0.22, removeBorderCells: false, maxCellArea: 100_000, enablePreprocessing: false },
};

test('F1 at 5 px on the real DSB2018 image, per method, at least scikit-image\'s own recipe', async (t) => {
  const truth = await truthCentroids();
  t.is(truth.length, sk.truth);
  const { array: img } = await readTiff(`${DIR}img2d.tif`);
  const norm = (await stackPercentileNormalize(img, sk.normalize)) as NDArray;
  for (const [method, options] of Object.entries(METHODS)) {
    const [, results] = await countCellsSingleChannel(norm, options);
    const ours = f1(truth, results[0]!.positions, sk.radius);
    t.log(`${method.padEnd(9)} F1 ours ${ours.toFixed(3)}  scikit-image ${sk.f1[method]!.f1.toFixed(3)}  (${results[0]!.cellCount} found, ${truth.length} true)`);
    t.true(ours >= sk.f1[method]!.f1 - 1e-12, `${method}: ${ours} < ${sk.f1[method]!.f1}`);
  }
});

test('blob_log on the raw image finds nothing, and the report flags such a well', async (t) => {
  const { array: img } = await readTiff(`${DIR}img2d.tif`);
  const [, raw] = await countCellsSingleChannel(img, { detectionMethod: 'blob_log' });
  t.is(raw[0]!.cellCount, 0); // max 235 of 65535: below any blob threshold without normalizing
  const well = (name: string, cells: number) => ({ well: name, cells, sites: [], images: 1, avgCellArea: 0, avgCellIntensity: 0, seconds: 0, steps: [] });
  const warn = wellWarnings([well('A01', 0), well('A02', 100), well('A03', 110), well('A04', 300)]);
  t.regex(warn.get('A01')!, /no cells found/);
  t.false(warn.has('A02'));
  t.regex(warn.get('A04')!, /far off the plate median of 105/);
});
