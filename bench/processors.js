// Processor benchmarks: stackbridge vs numpy / scipy / scikit-image / OpenCV (through Python), sharp,
// and the machine's memcpy floor, in one run on the same data (bench/nuclei.js makes it):
//   - a 10×2048×2048 uint16 textured stack (normalize, OpenHCS tophat, median projection, gaussian),
//   - a 1024² uint16 nuclei slice with ground truth (exact radius-50 top-hat, blob_log counting + F1).
// stackbridge: warm-up once, then the median of 5 runs (3 when a run takes over 1 s). Python peers
// (bench/peers.py): the best of 3 runs (5 under 0.2 s, 1 over 3 s). Nothing else runs meanwhile,
// and no side is given a thread limit: both get the whole machine.
// Python: see bench/python.js (`.bench-venv/`, STACKBRIDGE_BENCH_VENV, STACKBRIDGE_BENCH_PYTHON).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dump, parse } from 'npyjs';
import { createHash } from 'node:crypto';
import { asarray, copy, cpuFeatures } from '../dist/index.js';
import * as np from '../dist/processors/numpy.js';
import * as cl from '../dist/processors/pyclesperanto.js';
import { convertMemory, devices } from '../dist/index.js';
import { countCellsSingleChannel } from '../dist/analysis.js';
import { makeNucleiSlice, makeTexturedStack } from './nuclei.js';
import { fmt, median, printTable } from './util.js';
import { lastLine, resolvePython, run, runPeers, show } from './python.js';


const STACK = { depth: 10, height: 2048, width: 2048 };
const SLICE = { height: 1024, width: 1024 };
const NUCLEI = 700;
// Peak heights above background. With OpenHCS's threshold 0.1 on the [0, 1]-scaled image, blob_log
// sees a Gaussian spot of height A at about A/2 (scale-normalised LoG, less after the σ=1 pre-blur),
// so spots below ~14000 are invisible to *any* implementation of the recipe (8000–20000 gives
// scikit-image F1 ≈ 0.6). 16000–36000 keeps every nucleus above threshold, so F1 measures detection.
const AMPLITUDE = [16000, 36000];
const NORMALIZE = { lowPercentile: 1, highPercentile: 99, targetMin: 0, targetMax: 65535 };
const TOPHAT = { selemRadius: 50, downsampleFactor: 4 }; // OpenHCS defaults
const EXACT_RADIUS = 50;
const SIGMA = 2;
const COUNT = {
  detectionMethod: 'blob_log', minSigma: 1, maxSigma: 10, numSigma: 10, threshold: 0.1, overlap: 0.5,
  enablePreprocessing: true, gaussianSigma: 1, medianDiskSize: 1, minCellArea: 10, maxCellArea: 1000,
};
const F1_TOLERANCE = 3;

const ms = (s) => s * 1e3;
const fmtMs = (x) => (x == null ? '—' : fmt(x, x < 10 ? 2 : 1));
const ratio = (a, b) => (a == null || b == null ? '—' : `${fmt(a / b)}×`);

// ---------- sharp ----------
async function loadSharp(log) {
  let sharp;
  try {
    sharp = (await import('sharp')).default;
  } catch {
    log.push('sharp: not installed');
    return null;
  }
  const defaultThreads = sharp.concurrency();
  sharp.concurrency(os.cpus().length); // libvips defaults to 1 thread on glibc without jemalloc
  // Does sharp take (and give back) 16-bit single-channel raw pixels?
  try {
    const px = new Uint16Array(64 * 64).fill(40000);
    const { info } = await sharp(px, { raw: { width: 64, height: 64, channels: 1, depth: 'ushort' } })
      .blur(SIGMA).toColourspace('grey16').raw({ depth: 'ushort' }).toBuffer({ resolveWithObject: true });
    if (info.channels !== 1 || info.depth !== 'ushort') throw new Error(`came back as ${info.channels} × ${info.depth}`);
  } catch (e) {
    log.push(`sharp: no 16-bit single-channel raw round trip (${e.message}); skipped`);
    return null;
  }
  log.push(`sharp ${sharp.versions.sharp} (libvips ${sharp.versions.vips}): threads ${sharp.concurrency()} (default ${defaultThreads}), 16-bit raw in/out`);
  return sharp;
}

/** sharp blur of every slice (all slices in flight at once, as sharp is meant to be used). */
async function sharpBlur(sharp, stack, blurArg) {
  const { depth, height, width } = STACK;
  const hw = height * width;
  const outs = await Promise.all(Array.from({ length: depth }, (_, z) => sharp(stack.subarray(z * hw, (z + 1) * hw), { raw: { width, height, channels: 1, depth: 'ushort' } })
    .blur(blurArg).toColourspace('grey16').raw({ depth: 'ushort' }).toBuffer()));
  return outs;
}

// ---------- timing, agreement, F1 ----------
/**
 * stackbridge timing of `fn` (returns an NDArray, or the [stack, results, masks] of counting):
 * warm-up once (its result goes to `keep`), then the median of 5 runs, 3 when a run takes over 1 s.
 */
export async function timeOp(fn, keep = () => {}, release = (r) => (Array.isArray(r) ? r[2]?.dispose() : r?.dispose())) {
  let t = performance.now();
  const first = await fn();
  const warm = performance.now() - t;
  await keep(first);
  release(first);
  const reps = warm > 1000 ? 3 : 5;
  const samples = [];
  for (let i = 0; i < reps; i++) {
    t = performance.now();
    const r = await fn();
    samples.push(performance.now() - t);
    release(r);
  }
  return { ms: median(samples), min: Math.min(...samples), reps };
}

/** Slice `z` of an NDArray (or TypedArray) as a Float64Array copy. */
function sliceOf(a, z, hw) {
  const d = a.data ?? a;
  return Float64Array.from(d.subarray(z * hw, (z + 1) * hw));
}

function loadNpy(path) {
  const b = readFileSync(path);
  return parse(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

/** max |a − b| over all pixels, or over the interior `border` px in from each edge. */
function maxAbsDiff(a, b, width, border = 0) {
  if (!a || !b || a.length !== b.length) return null;
  const height = a.length / width;
  let m = 0;
  for (let y = border; y < height - border; y++) {
    for (let x = border, i = y * width + border; x < width - border; x++, i++) {
      const d = Math.abs(a[i] - Number(b[i]));
      if (d > m) m = d;
    }
  }
  return m;
}

/** F1 of `detections` against `truth` (both [[x, y], ...]): each truth point, in order, takes the nearest unused detection within `tol` px. */
export function f1Score(truth, detections, tol = F1_TOLERANCE) {
  const cell = tol;
  const grid = new Map();
  detections.forEach(([x, y], i) => {
    const k = `${Math.floor(x / cell)},${Math.floor(y / cell)}`;
    if (!grid.has(k)) grid.set(k, []);
    grid.get(k).push(i);
  });
  const used = new Uint8Array(detections.length);
  let tp = 0;
  for (const [tx, ty] of truth) {
    const gx = Math.floor(tx / cell);
    const gy = Math.floor(ty / cell);
    let best = -1;
    let bestD = tol * tol;
    for (let j = gy - 1; j <= gy + 1; j++) {
      for (let i = gx - 1; i <= gx + 1; i++) {
        for (const k of grid.get(`${i},${j}`) ?? []) {
          if (used[k]) continue;
          const d = (detections[k][0] - tx) ** 2 + (detections[k][1] - ty) ** 2;
          if (d <= bestD) { bestD = d; best = k; }
        }
      }
    }
    if (best >= 0) { used[best] = 1; tp++; }
  }
  const precision = detections.length ? tp / detections.length : 0;
  const recall = truth.length ? tp / truth.length : 0;
  const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
  return { tp, detections: detections.length, truth: truth.length, precision, recall, f1 };
}

/** A Markdown table (pastes into the README as is). */
export function printMarkdown(title, headers, rows) {
  const cells = [headers, ...rows].map((r) => r.map((c) => String(c).replaceAll('|', '\\|')));
  const widths = headers.map((_, c) => Math.max(3, ...cells.map((r) => r[c].length)));
  const line = (r) => `| ${r.map((s, c) => s.padEnd(widths[c])).join(' | ')} |`;
  console.log(`\n== ${title} ==`);
  console.log(line(cells[0]));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const r of cells.slice(1)) console.log(line(r));
}

/** A 2048² float32 mask for applyMask: 0/1 cells (as a segmentation mask), a soft 0.5 band between. */
function makeMask(height, width) {
  const m = new Float32Array(height * width);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const c = ((x >> 6) + (y >> 6)) % 3;
      m[y * width + x] = c === 0 ? 0 : c === 1 ? 1 : 0.5;
    }
  }
  return m;
}

/** SHA-256 of an NDArray's bytes (the same result from two builds shows as the same hash). */
function hashOf(a) {
  const d = a.data;
  return createHash('sha256').update(new Uint8Array(d.buffer, d.byteOffset, d.byteLength)).digest('hex').slice(0, 16);
}

/**
 * Times every stackbridge processor of the bench on the given data (in this process, with whichever
 * addon binary it loaded); returns the timings, first-slice results, output hashes and `cpuFeatures()`.
 */
async function timeStackbridge(stackData, nucleiData, maskData, label) {
  const { depth, height, width } = STACK;
  const hw = height * width;
  const sb = {};
  const mine = {};
  const hashes = {};
  const stack = asarray(stackData, { shape: [depth, height, width], dtype: 'uint16' });
  const slice = asarray(nucleiData, { shape: [1, SLICE.height, SLICE.width], dtype: 'uint16' });
  const mask = asarray(maskData, { shape: [height, width], dtype: 'float32' });
  const step = async (name, fn, keep) => {
    process.stdout.write(`  ${label} ${name} …`);
    try {
      sb[name] = await timeOp(fn, async (r) => {
        if (r?.data) hashes[name] = hashOf(r);
        if (keep) await keep(r);
      });
      process.stdout.write(` ${fmtMs(sb[name].ms)} ms\n`);
    } catch (e) {
      sb[name] = { error: e.message };
      process.stdout.write(` FAILED: ${e.message}\n`);
    }
  };
  console.log(`timing ${label} (warm-up, then median of 5; 3 when over 1 s):`);
  await step('copy', () => copy(stack));
  await step('normalize', () => np.stackPercentileNormalize(stack, NORMALIZE), (r) => { mine.normalize = sliceOf(r, 0, hw); });
  await step('tophat', () => np.tophat(stack, TOPHAT), (r) => { mine.tophat = sliceOf(r, 0, hw); });
  await step('tophat_exact', () => np.tophat(slice, { selemRadius: EXACT_RADIUS, downsampleFactor: 1 }), (r) => { mine.tophat_exact = sliceOf(r, 0, SLICE.height * SLICE.width); });
  await step('median', () => np.createProjection(stack, { method: 'median_projection' }), (r) => { mine.median = sliceOf(r, 0, hw); mine.medianDtype = r.dtype; });
  await step('gaussian', () => np.gaussian(stack, { sigma: SIGMA }), (r) => { mine.gaussian = sliceOf(r, 0, hw); });
  await step('applyMask', () => np.applyMask(stack, mask), (r) => { mine.applyMask = sliceOf(r, 0, hw); });
  await step('count', () => countCellsSingleChannel(slice, COUNT), (r) => {
    mine.positions = r[1][0].positions;
    hashes.count = createHash('sha256').update(JSON.stringify(r[1][0].positions)).digest('hex').slice(0, 16);
  });
  stack.dispose();
  slice.dispose();
  mask.dispose();
  let features;
  try {
    features = cpuFeatures();
  } catch (e) {
    features = { error: `cpuFeatures() unavailable in this build (${e.message})` };
  }
  return { sb, mine, hashes, features };
}

/** The op names of timeStackbridge (for the two-build table). */
const SB_OPS = ['copy', 'normalize', 'tophat', 'tophat_exact', 'median', 'gaussian', 'applyMask', 'count'];

/**
 * `STACKBRIDGE_BENCH_COMPARE=/path/to/other.node`: runs timeStackbridge in a child process that
 * loads that addon (STACKBRIDGE_NATIVE_PATH, honoured by ts/native.ts), on the same seeded data.
 */
function compareBuild(log) {
  const path = process.env.STACKBRIDGE_BENCH_COMPARE;
  if (!path) return null;
  const label = process.env.STACKBRIDGE_BENCH_COMPARE_LABEL ?? show(path);
  const r = run(process.execPath, [fileURLToPath(import.meta.url), '--stackbridge-only', label], {
    env: { ...process.env, STACKBRIDGE_NATIVE_PATH: path, STACKBRIDGE_BENCH_COMPARE: '' },
    stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 << 20, timeout: 600_000,
  });
  const out = (r.stdout ?? '').trim().split('\n');
  process.stdout.write(out.slice(0, -1).map((l) => `${l}\n`).join(''));
  try {
    return { label, ...JSON.parse(out.at(-1)) };
  } catch {
    log.push(`compare build ${label}: failed (${lastLine(r)})`);
    return null;
  }
}

/** One line: what the addon was compiled for, what the CPU has, and each kernel's path. */
function describeFeatures(f) {
  if (!f || f.error) return f?.error ?? '—';
  const paths = Object.entries(f.paths).map(([k, v]) => `${k} ${v ?? '—'}`).join(', ');
  return `compiled for ${f.compiledFor}, CPU ${f.detected}, running at ${f.level}${f.requested ? ` (STACKBRIDGE_CPU_LEVEL=${f.requested})` : ''}; paths: ${paths}`;
}

// ---------- the bench ----------
export async function benchProcessors() {
  const t0 = performance.now();
  const cores = os.cpus().length;
  const log = [];
  const { depth, height, width } = STACK;
  const hw = height * width;
  const shape = [depth, height, width];

  const [load1] = os.loadavg();
  if (load1 > cores / 2) {
    console.log(`\nwarning: load average ${load1.toFixed(1)} on ${cores} cores before the processor bench: other work is running, `
      + 'and it slows the multi-threaded side (stackbridge, OpenCV) more than the single-threaded peers; ratios from this run are unreliable');
  }

  // Data, identical for every side.
  let t = performance.now();
  const stackData = makeTexturedStack({ ...STACK, seed: 7 });
  const { data: nucleiData, truth } = makeNucleiSlice({ ...SLICE, count: NUCLEI, amplitudeRange: AMPLITUDE, seed: 1 });
  console.log(`\nprocessor bench data: ${depth}×${height}×${width} uint16 textured stack (${(stackData.byteLength / 2 ** 20).toFixed(0)} MiB), `
    + `${SLICE.height}² uint16 slice with ${truth.length} synthetic nuclei (σ 2.5–4 px, peak ${AMPLITUDE.join('–')} over a 2000–3500 background, noise σ 300), `
    + `made in ${((performance.now() - t) / 1e3).toFixed(1)} s`);

  const maskData = makeMask(height, width);
  const dir = mkdtempSync(join(os.tmpdir(), 'stackbridge-bench-'));
  const files = { stack: join(dir, 'stack.npy'), nuclei: join(dir, 'nuclei.npy'), mask: join(dir, 'mask.npy') };
  writeFileSync(files.mask, Buffer.from(dump(maskData, [height, width])));
  writeFileSync(files.stack, Buffer.from(dump(stackData, shape)));
  writeFileSync(files.nuclei, Buffer.from(dump(nucleiData, [1, SLICE.height, SLICE.width])));

  try {
    // ----- stackbridge -----
    const { sb, mine, hashes, features } = await timeStackbridge(stackData, nucleiData, maskData, 'stackbridge');
    const stack = asarray(stackData, { shape, dtype: 'uint16' });
    const slice = asarray(nucleiData, { shape: [1, SLICE.height, SLICE.width], dtype: 'uint16' });
    // ----- the same kernels in another build of the addon (STACKBRIDGE_BENCH_COMPARE), in a child process -----
    const other = compareBuild(log);

    // ----- the same processors on the OpenCL device (pyclesperanto family), where one exists -----
    const clDev = devices().find((d) => d.kind === 'opencl');
    const sbCl = {};
    const clSame = {};
    if (clDev) {
      console.log(`timing the OpenCL kernels on ${clDev.id} (${clDev.name}):`);
      const stackCl = await convertMemory(stack, { targetType: 'pyclesperanto' });
      const sliceCl = await convertMemory(slice, { targetType: 'pyclesperanto' });
      const clStep = async (name, fn, first, n) => {
        process.stdout.write(`  OpenCL ${name} …`);
        try {
          let same = null;
          sbCl[name] = await timeOp(fn, async (r) => {
            if (!first || !r) return;
            const host = await convertMemory(r, { targetType: 'numpy' }); // .data is host-only
            same = maxAbsDiff(sliceOf(host, 0, n), first, 1) ?? null;
            host.dispose();
          });
          clSame[name] = same;
          process.stdout.write(` ${fmtMs(sbCl[name].ms)} ms\n`);
        } catch (e) {
          sbCl[name] = { error: e.message };
          process.stdout.write(` FAILED: ${e.message}\n`);
        }
      };
      await clStep('normalize', () => cl.stackPercentileNormalize(stackCl, NORMALIZE), mine.normalize, hw);
      await clStep('tophat', () => cl.tophat(stackCl, TOPHAT), mine.tophat, hw);
      await clStep('tophat_exact', () => cl.tophat(sliceCl, { selemRadius: EXACT_RADIUS, downsampleFactor: 1 }), mine.tophat_exact, SLICE.height * SLICE.width);
      await clStep('median', () => cl.createProjection(stackCl, { method: 'median_projection' }), mine.median, hw);
      await clStep('gaussian', () => cl.gaussian(stackCl, { sigma: SIGMA }), mine.gaussian, hw);
      await clStep('count', async () => { const [, r] = await cl.countCellsSingleChannel(sliceCl, COUNT); clSame.countPositions = JSON.stringify(r[0].positions) === JSON.stringify(mine.positions); return null; });
      stackCl.dispose();
      sliceCl.dispose();
    }
    stack.dispose();
    slice.dispose();

    // ----- V8 memmove of the same bytes -----
    const dst = new Uint16Array(stackData.length);
    dst.set(stackData);
    const v8 = [];
    for (let i = 0; i < 5; i++) {
      t = performance.now();
      dst.set(stackData);
      v8.push(performance.now() - t);
    }
    const v8Ms = median(v8);

    // ----- sharp -----
    const sharp = await loadSharp(log);
    const sharpRows = [];
    if (sharp) {
      for (const [label, arg] of [[`blur(${SIGMA})`, SIGMA], [`blur({sigma:${SIGMA}, precision:'float', minAmplitude:0.001})`, { sigma: SIGMA, precision: 'float', minAmplitude: 0.001 }]]) {
        try {
          const first = await sharpBlur(sharp, stackData, arg);
          const out0 = new Uint16Array(first[0].buffer, first[0].byteOffset, hw);
          const samples = [];
          for (let i = 0; i < 3; i++) {
            t = performance.now();
            await sharpBlur(sharp, stackData, arg);
            samples.push(performance.now() - t);
          }
          sharpRows.push({ label, ms: median(samples), out0 });
        } catch (e) {
          log.push(`sharp ${label}: failed (${e.message})`);
        }
      }
    }

    // ----- Python peers -----
    const python = resolvePython(log);
    const jobs = [
      { id: 'copy/numpy', peer: 'numpy', op: 'copy', input: 'stack' },
      { id: 'normalize/numpy', peer: 'numpy', op: 'normalize', input: 'stack', save: 'first', ...NORMALIZE },
      { id: 'tophat/scikit-image', peer: 'scikit-image', op: 'tophat', input: 'stack', save: 'first', ...TOPHAT },
      { id: 'tophat_exact/scikit-image', peer: 'scikit-image', op: 'tophat_exact', input: 'nuclei', save: 'all', selemRadius: EXACT_RADIUS },
      { id: 'tophat_exact/opencv', peer: 'opencv', op: 'tophat_exact', input: 'nuclei', save: 'all', selemRadius: EXACT_RADIUS },
      { id: 'median/numpy', peer: 'numpy', op: 'median', input: 'stack', save: 'all' },
      { id: 'applyMask/numpy', peer: 'numpy', op: 'applyMask', input: 'stack', mask: 'mask', save: 'first' },
      { id: 'gaussian/scipy', peer: 'scipy', op: 'gaussian', input: 'stack', save: 'first', sigma: SIGMA },
      { id: 'gaussian/opencv', peer: 'opencv', op: 'gaussian', input: 'stack', save: 'first', sigma: SIGMA },
      { id: 'count/scikit-image', peer: 'scikit-image', op: 'count', input: 'nuclei', ...COUNT },
    ];
    let py = { results: {}, errors: {}, skipped: {}, versions: {}, threads: {} };
    if (python) {
      console.log(`running the Python peers (${show(python)}; ~1 min) …`);
      const r = runPeers(python, { files, outDir: dir, jobs });
      if (r.failed) log.push(r.failed);
      else py = r;
    } else {
      for (const p of ['numpy', 'scipy', 'scikit-image', 'opencv']) py.skipped[p] = 'no python3';
    }
    const peer = (id) => py.results[id];
    const peerMs = (id) => (peer(id) ? ms(peer(id).seconds) : null);
    const peerOut = (id) => (peer(id)?.out ? loadNpy(peer(id).out).data : null);
    const peerCell = (id) => {
      const p = peer(id);
      if (p) return `${fmtMs(ms(p.seconds))} (best of ${p.runs})`;
      const name = id.split('/')[1];
      return py.errors[id] ? `error: ${py.errors[id]}` : py.skipped[name] ? 'skipped' : 'n/a';
    };
    const sbMs = (name) => sb[name]?.ms ?? null;
    const sbCell = (name) => (sb[name]?.error ? `FAILED` : `${fmtMs(sb[name].ms)} (min ${fmtMs(sb[name].min)})`);
    const diffCell = (a, b, w = width, border = 0) => {
      const d = maxAbsDiff(a, b, w, border);
      return d == null ? '—' : fmt(d, d < 10 ? 2 : 0);
    };
    // Whole image, then the interior `border` px in from the edges (where border rules play no part).
    const diffBoth = (a, b, w, border) => (a && b ? `${diffCell(a, b, w)} (interior ${diffCell(a, b, w, border)})` : '—');

    // ----- environment -----
    const versions = Object.entries(py.versions ?? {}).map(([k, v]) => `${k} ${v}`).join(', ');
    console.log(`\nPython ${py.python ?? '—'}${versions ? `: ${versions}` : ''}`);
    for (const line of log) console.log(line);
    for (const [p, why] of Object.entries(py.skipped ?? {})) console.log(`skipped peer ${p}: ${why}`);
    for (const [id, why] of Object.entries(py.errors ?? {})) console.log(`peer error ${id}: ${why}`);
    const cvThreads = py.threads?.opencv != null ? `OpenCV ${py.threads.opencv} threads (its default: ${py.threads.opencv_default})` : 'OpenCV —';
    console.log(`threads: stackbridge uses all ${cores} cores; ${cvThreads}; sharp/libvips as above; numpy, scipy and scikit-image run these calls `
      + 'on one thread (their C loops are single-threaded; no thread limit is set on any side). Both sides get the whole machine, one after the other.');

    // ----- tables -----
    const H = ['op', 'stackbridge ms', 'peer', 'peer ms', 'peer/stackbridge (×)', 'max |Δ| vs sb', 'target'];
    const sbCopy = sbMs('copy');
    const npCopy = peerMs('copy/numpy');
    const floorMs = Math.min(...[sbCopy, v8Ms, npCopy].filter((x) => x != null));
    const floorBy = floorMs === sbCopy ? 'stackbridge copy' : floorMs === v8Ms ? 'V8 set' : 'np.copyto';
    const nb = stackData.byteLength;
    const gbs = (m) => (m == null ? '—' : fmt((2 * nb) / (m * 1e6)));
    printTable(`memcpy floor: read + write the ${(nb / 2 ** 20).toFixed(0)} MiB stack once`, ['copy', 'ms', 'GB/s (r+w)'], [
      ['stackbridge copy() (parallel)', sbCell('copy'), gbs(sbCopy)],
      ['V8 Uint16Array.prototype.set', `${fmtMs(v8Ms)} (median of 5)`, gbs(v8Ms)],
      ['numpy np.copyto', peerCell('copy/numpy'), gbs(npCopy)],
    ]);

    const nMs = sbMs('normalize');
    const normTarget = '≥ 30× numpy; ≤ 2.5× floor';
    printTable(`stackPercentileNormalize ${depth}×${height}×${width} uint16 (percentiles ${NORMALIZE.lowPercentile}/${NORMALIZE.highPercentile} over the stack → 0–65535)`,
      [...H.slice(0, 6), 'stackbridge / memcpy floor (×)', 'target'], [
        ['normalize', sbCell('normalize'), 'numpy np.percentile + rescale', peerCell('normalize/numpy'), ratio(peerMs('normalize/numpy'), nMs),
          diffCell(mine.normalize, peerOut('normalize/numpy')), `${ratio(nMs, floorMs)} (${floorBy})`, normTarget],
      ]);

    const tMs = sbMs('tophat');
    printTable(`tophat ${depth}×${height}×${width} uint16, OpenHCS defaults (selemRadius ${TOPHAT.selemRadius}, downsampleFactor ${TOPHAT.downsampleFactor}: disk(${Math.floor(TOPHAT.selemRadius / TOPHAT.downsampleFactor)}) at ${height / TOPHAT.downsampleFactor}²)`, H, [
      ['tophat', sbCell('tophat'), 'scikit-image resize+white_tophat+resize', peerCell('tophat/scikit-image'), ratio(peerMs('tophat/scikit-image'), tMs),
        diffCell(mine.tophat, peerOut('tophat/scikit-image')), '≥ 5×'],
    ]);

    const eMs = sbMs('tophat_exact');
    printTable(`exact top-hat, radius ${EXACT_RADIUS}, one ${SLICE.height}² uint16 slice (downsampleFactor 1)`, H, [
      ['tophat exact', sbCell('tophat_exact'), `skimage white_tophat disk(${EXACT_RADIUS}, 'sequence')`, peerCell('tophat_exact/scikit-image'),
        ratio(peerMs('tophat_exact/scikit-image'), eMs), diffBoth(mine.tophat_exact, peerOut('tophat_exact/scikit-image'), SLICE.width, EXACT_RADIUS + 1), '≥ 50×'],
      ['', '', `cv2.morphologyEx TOPHAT ellipse ${2 * EXACT_RADIUS + 1}²`, peerCell('tophat_exact/opencv'), ratio(peerMs('tophat_exact/opencv'), eMs),
        diffBoth(mine.tophat_exact, peerOut('tophat_exact/opencv'), SLICE.width, EXACT_RADIUS + 1), '> 1×'],
    ]);

    const aMs = sbMs('applyMask');
    printTable(`applyMask ${depth}×${height}×${width} uint16 by a ${height}×${width} float32 mask (OpenHCS: (image.astype(float32) * mask).astype(uint16))`,
      [...H.slice(0, 6), 'stackbridge / memcpy floor (×)', 'target'], [
        ['applyMask', sbCell('applyMask'), 'numpy (s.astype(f32) * m).astype(u16)', peerCell('applyMask/numpy'), ratio(peerMs('applyMask/numpy'), aMs),
          diffCell(mine.applyMask, peerOut('applyMask/numpy')), `${ratio(aMs, floorMs)} (${floorBy})`, '≤ 1.5× floor'],
      ]);

    const mMs = sbMs('median');
    printTable(`median projection ${depth}×${height}×${width} uint16 → [1, ${height}, ${width}] (stackbridge ${mine.medianDtype ?? '?'}, numpy float64)`, H, [
      ['median_projection', sbCell('median'), 'numpy np.median(axis=0)', peerCell('median/numpy'), ratio(peerMs('median/numpy'), mMs),
        diffCell(mine.median, peerOut('median/numpy')), '≥ 20×'],
    ]);

    const gMs = sbMs('gaussian');
    const gRows = [
      ['gaussian', sbCell('gaussian'), `cv2.GaussianBlur((0,0), ${SIGMA}, REFLECT)`, peerCell('gaussian/opencv'), ratio(peerMs('gaussian/opencv'), gMs),
        diffCell(mine.gaussian, peerOut('gaussian/opencv')), `≥ 0.8× (sb ≤ 1.25× cv2); sb = ${ratio(gMs, floorMs)} memcpy floor`],
      ['', '', `scipy gaussian_filter(${SIGMA}, reflect, truncate 4)`, peerCell('gaussian/scipy'), ratio(peerMs('gaussian/scipy'), gMs),
        diffCell(mine.gaussian, peerOut('gaussian/scipy')), '(oracle)'],
    ];
    for (const s of sharpRows) {
      gRows.push(['', '', `sharp ${s.label}`, `${fmtMs(s.ms)} (median of 3)`, ratio(s.ms, gMs),
        diffBoth(mine.gaussian, s.out0, width, 4 * SIGMA + 1), '—']);
    }
    if (!sharp) gRows.push(['', '', 'sharp', log.find((l) => l.startsWith('sharp')) ?? 'skipped', '—', '—', '—']);
    printTable(`gaussian σ=${SIGMA} per slice, ${depth}×${height}×${width} uint16 (each side's whole stack)`, H, gRows);

    const cMs = sbMs('count');
    const sbF1 = mine.positions ? f1Score(truth, mine.positions) : null;
    const skPos = peer('count/scikit-image')?.positions;
    const skF1 = skPos ? f1Score(truth, skPos) : null;
    const f1Cell = (f) => (f ? `${f.f1.toFixed(3)} (${f.detections} found, ${f.tp} of ${f.truth} matched)` : '—');
    printTable(`blob_log cell counting, one ${SLICE.height}² uint16 slice, ${truth.length} nuclei (preprocess gaussian 1 + median disk(1), σ 1–10 ×10, threshold 0.1)`,
      ['op', 'stackbridge ms', 'peer', 'peer ms', 'peer/stackbridge (×)', `stackbridge F1 (${F1_TOLERANCE} px)`, `peer F1 (${F1_TOLERANCE} px)`, 'target'], [
        ['countCellsSingleChannel', sbCell('count'), 'scikit-image gaussian+median+blob_log', peerCell('count/scikit-image'), ratio(peerMs('count/scikit-image'), cMs),
          f1Cell(sbF1), f1Cell(skF1), '≥ 20×, F1 ≥ peer'],
      ]);

    // ----- CPU dispatch: the path each kernel took, and the other build -----
    console.log(`\nCPU dispatch (this build, ${show(process.env.STACKBRIDGE_NATIVE_PATH ?? 'native/')}): ${describeFeatures(features)}`);
    if (other) {
      console.log(`CPU dispatch (${other.label}): ${describeFeatures(other.features)}`);
      const rowsB = SB_OPS.map((op) => {
        const a = sb[op]?.ms;
        const b = other.sb[op]?.ms;
        const same = hashes[op] && other.hashes[op] ? (hashes[op] === other.hashes[op] ? 'identical' : 'DIFFER') : '—';
        return [op, fmtMs(a), fmtMs(b), a != null && b != null ? `${fmt(b / a)}×` : '—', a != null && b != null ? (Math.abs(b / a - 1) <= 0.1 ? 'yes' : 'no') : '—', same];
      });
      printMarkdown(`two builds side by side: this process (${show(process.env.STACKBRIDGE_NATIVE_PATH ?? 'native/')}) vs ${other.label} (child process, same data)`,
        ['op', 'this build ms', `${other.label} ms`, 'other / this', 'within 10 %', 'output bytes'], rowsB);
    }

    // ----- summary -----
    const verdict = (conds) => (conds.some((c) => c === false) ? 'MISS' : conds.some((c) => c == null) ? 'n/a (skipped)' : 'PASS');
    const r = (id, mine_) => (peerMs(id) != null && mine_ != null ? peerMs(id) / mine_ : null);
    const x = (v) => (v == null ? '—' : `${fmt(v)}×`);
    const rows = [];
    {
      const a = r('normalize/numpy', nMs);
      const b = nMs != null ? nMs / floorMs : null;
      rows.push(['percentile normalization', '≥ 30× np.percentile + rescale; ≤ 2.5× memcpy floor', `${x(a)} numpy; ${x(b)} floor`, verdict([a == null ? null : a >= 30, b == null ? null : b <= 2.5])]);
    }
    {
      const a = r('tophat/scikit-image', tMs);
      rows.push(['tophat, OpenHCS defaults', '≥ 5× scikit-image', x(a), verdict([a == null ? null : a >= 5])]);
    }
    {
      const a = r('tophat_exact/scikit-image', eMs);
      const b = r('tophat_exact/opencv', eMs);
      rows.push([`exact radius-${EXACT_RADIUS} top-hat, ${SLICE.height}²`, `≥ 50× skimage disk(${EXACT_RADIUS}, 'sequence'); faster than cv2 ellipse`, `${x(a)} skimage; ${x(b)} OpenCV`,
        verdict([a == null ? null : a >= 50, b == null ? null : b > 1])]);
    }
    {
      const a = r('median/numpy', mMs);
      rows.push(['median projection', '≥ 20× np.median', x(a), verdict([a == null ? null : a >= 20])]);
    }
    {
      const b = gMs != null && peerMs('gaussian/opencv') != null ? gMs / peerMs('gaussian/opencv') : null;
      const d = maxAbsDiff(mine.gaussian, peerOut('gaussian/scipy'), width);
      rows.push([`gaussian σ=${SIGMA}`, '≥ 0.8× cv2.GaussianBlur (sb ≤ 1.25× its time), exactly scipy', b == null ? '—' : `${fmt(1 / b)}× OpenCV (sb = ${fmt(b)}× its time); max |Δ| scipy ${d ?? '—'}`,
        verdict([b == null ? null : b <= 1.25, d == null ? null : d === 0])]);
    }
    {
      const b = aMs != null ? aMs / floorMs : null;
      const a = r('applyMask/numpy', aMs);
      rows.push([`applyMask ${depth}×${height}² uint16`, 'near the memcpy floor (≤ 1.5×)', `${x(b)} floor; ${x(a)} numpy`, verdict([b == null ? null : b <= 1.5])]);
    }
    {
      const a = r('count/scikit-image', cMs);
      const ok = sbF1 && skF1 ? sbF1.f1 >= skF1.f1 : null;
      rows.push([`blob_log counting, ${SLICE.height}²`, '≥ 20× scikit-image at equal or better F1', `${x(a)}; F1 ${sbF1 ? sbF1.f1.toFixed(3) : '—'} vs ${skF1 ? skF1.f1.toFixed(3) : '—'}`,
        verdict([a == null ? null : a >= 20, ok])]);
    }
    const title = `processor targets (${cores} cores, ${os.cpus()[0]?.model.trim()}; ratios from this run)`;
    printMarkdown(title, ['target', 'requirement', 'measured', 'result'], rows);
    if (clDev) {
      const ids = { normalize: 'normalize/numpy', tophat: 'tophat/scikit-image', tophat_exact: 'tophat_exact/scikit-image', median: 'median/numpy', gaussian: 'gaussian/opencv', count: 'count/scikit-image' };
      const clRows = Object.entries(ids).map(([name, id]) => {
        const c = sbCl[name];
        const m = sbMs(name);
        const ok = name === 'count' ? (clSame.countPositions ? 'same cells' : 'cells differ') : clSame[name] == null ? '—' : `max |Δ| ${fmt(clSame[name], 0)}`;
        return [name, c?.error ? `FAILED: ${c.error}` : fmtMs(c?.ms), fmtMs(m), c?.error || m == null ? '—' : ratio(c.ms, m), `${id.split('/')[1]} ${ratio(peerMs(id), c?.ms)}`, ok];
      });
      printMarkdown(`OpenCL column: the same processors on ${clDev.id} (${clDev.name}${clDev.deviceType === 'cpu' ? ', an OpenCL driver on the same CPU cores' : ''})`,
        ['op', 'OpenCL ms', 'CPU kernels ms', 'OpenCL / CPU time', 'peer / OpenCL', 'OpenCL vs CPU result'], clRows);
    }
    if (load1 > cores / 2) console.log(`(load average ${load1.toFixed(1)} on ${cores} cores when the section started: see the warning above)`);
    console.log(`processor bench time ${((performance.now() - t0) / 1e3).toFixed(1)} s`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// `node bench/processors.js --stackbridge-only LABEL`: the stackbridge timings only, as one JSON line
// (compareBuild runs this with STACKBRIDGE_NATIVE_PATH set to the other build).
if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv.includes('--stackbridge-only')) {
  const stackData = makeTexturedStack({ ...STACK, seed: 7 });
  const { data: nucleiData } = makeNucleiSlice({ ...SLICE, count: NUCLEI, amplitudeRange: AMPLITUDE, seed: 1 });
  const label = process.argv[process.argv.indexOf('--stackbridge-only') + 1] ?? 'other build';
  const { sb, hashes, features } = await timeStackbridge(stackData, nucleiData, makeMask(STACK.height, STACK.width), label);
  console.log(JSON.stringify({ sb, hashes, features }));
}
