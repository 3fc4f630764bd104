// stackbridge benchmarks: zero-copy conversions, host copy vs memcpy, binding overhead, dtype casts.
// Run `npm run bench` (= `npx tsc -p tsconfig.json && node bench/run.js`); `--only processors` (or any
// comma-separated list of conversions, copy, overhead, casts, processors, opencl, cuda) runs just those sections.
// The processor section (bench/processors.js) compares with numpy/scipy/scikit-image/OpenCV and sharp;
// the opencl and cuda sections (bench/device.js) price every conversion edge of that domain and run
// each processor on its device beside the CPU kernels (cuda skips without a CUDA device).
// Every figure is a median (and min) over several repetitions after a warm-up; times are wall-clock in
// this process. Big buffers get several warm-up passes: on a VM the first touches of fresh memory are
// much slower than steady state.
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import {
  zeros, asarray, convertMemory, convertMemorySync, copy, astype, scaleToDtype, memoryInfo, devices, emptyCache,
  TraceCollector, withTrace,
} from '../dist/index.js';
import { fmt, printTable, timeAsync, timeSync } from './util.js';

const MiB = 1 << 20;
const GiB = 1 << 30;
const SHAPE_1MIB = [1, 512, 512]; // float32: 1 MiB
const SHAPE_1GIB = [256, 1024, 1024]; // float32: 1 GiB

/** GB/s (1e9 bytes) from a per-call microsecond summary: the median gives the typical rate, the min the best. */
const gbps = (bytes, us) => ({ median: bytes / (us.median * 1e3), best: bytes / (us.min * 1e3) });

const sizeLabel = (bytes) => (bytes >= GiB ? `${bytes / GiB} GiB` : `${bytes / MiB} MiB`);

// ---------- 1. zero-copy conversions ----------
const EDGES = [['numpy', 'torch'], ['numpy', 'jax'], ['torch', 'numpy']];

/** Writes through the source's `.data` and reads it back through a fresh view: the memory is shared. */
function verifyShared(from, to) {
  const src = zeros([2, 8, 8], { dtype: 'float32', memoryType: from });
  const view = convertMemorySync(src, { targetType: to });
  src.data[77] = 42.5;
  const ok = view.data[77] === 42.5 && view.sharesMemoryWith(src) && view.memoryType === to;
  view.dispose();
  src.dispose();
  if (!ok) throw new Error(`${from}→${to}: the view does not share memory with its source`);
}

/** Per-conversion microseconds (sync and async) of one edge on one source; views are disposed after timing. */
async function convertTimes(src, to) {
  const iters = 1000;
  const views = new Array(iters);
  const sync = timeSync((i) => { views[i] = convertMemorySync(src, { targetType: to }); }, { iters });
  const kind = describeKind(src, to);
  views.forEach((v) => v.dispose());
  const asyncT = await timeAsync(async (i) => { views[i] = await convertMemory(src, { targetType: to }); }, { iters });
  views.forEach((v) => v.dispose());
  return { sync, async: asyncT, kind };
}

/** The conversion kind the engine records for `src` → `to`. */
function describeKind(src, to) {
  const trace = new TraceCollector();
  withTrace(trace, async () => convertMemorySync(src, { targetType: to }).dispose());
  return trace.conversions[0]?.kind ?? '?';
}

async function benchConversions() {
  for (const [from, to] of EDGES) verifyShared(from, to);
  console.log(`\nshared memory verified (write via source .data, read via view .data): ${EDGES.map((e) => e.join('→')).join(', ')} — verified`);
  const rows = [];
  for (const [from, to] of EDGES) {
    const small = zeros(SHAPE_1MIB, { dtype: 'float32', memoryType: from });
    const big = zeros(SHAPE_1GIB, { dtype: 'float32', memoryType: from });
    const s = await convertTimes(small, to);
    const b = await convertTimes(big, to);
    for (const mode of ['sync', 'async']) {
      rows.push([`${from} → ${to}`, mode, b.kind, fmt(s[mode].median), fmt(s[mode].min), fmt(b[mode].median), fmt(b[mode].min), fmt(b[mode].median / s[mode].median)]);
    }
    small.dispose();
    big.dispose();
  }
  printTable('zero-copy conversion, µs per call (1000 calls × 7 reps)', ['edge', 'mode', 'kind', '1MiB med', '1MiB min', '1GiB med', '1GiB min', '1GiB/1MiB'], rows);
}

// ---------- 2. host copy vs memcpy ----------
/** stackbridge `copy` (parallel Rust copy on a worker) of a touched float32 host array. */
async function copyRate(bytes) {
  const src = zeros([bytes / MiB, 1024, 256], { dtype: 'float32' }); // 1 MiB per plane
  if (src.nbytes !== bytes) throw new Error(`copy source is ${src.nbytes} B, expected ${bytes}`);
  src.data.fill(1); // touch every page: untouched calloc pages would read from the shared zero page
  const us = await timeAsync(async () => (await copy(src)).dispose(), { iters: 1, reps: 7, warmup: 4 });
  src.dispose();
  return gbps(bytes, us);
}

/** V8 `Uint8Array.prototype.set` of a same-size array: one memmove on the main thread. */
function memmoveRate(bytes) {
  const src = new Uint8Array(bytes).fill(1);
  const dst = new Uint8Array(bytes);
  return gbps(bytes, timeSync(() => dst.set(src), { iters: 1, reps: 7, warmup: 4 }));
}

const NUMPY_SCRIPT = `
import sys, time, numpy as np
n = int(sys.argv[1]); a = np.ones(n, np.uint8); b = np.empty_like(a); np.copyto(b, a)
ts = []
for _ in range(5):
    t = time.perf_counter(); np.copyto(b, a); ts.append(time.perf_counter() - t)
ts.sort(); print(n / ts[len(ts) // 2] / 1e9, n / ts[0] / 1e9)
`;

/** numpy's `np.copyto` GB/s in a child python3, or a reason why it cannot run. */
function numpyRate(bytes) {
  const probe = spawnSync('python3', ['-c', 'import numpy'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    return { skip: probe.error ? `python3 not runnable (${probe.error.code})` : `numpy not importable (${probe.stderr.trim().split('\n').pop()})` };
  }
  const r = spawnSync('python3', ['-c', NUMPY_SCRIPT, String(bytes)], { encoding: 'utf8' });
  if (r.status !== 0) return { skip: `np.copyto script failed: ${r.stderr.trim().split('\n').pop()}` };
  const [med, best] = r.stdout.trim().split(/\s+/).map(Number);
  return { median: med, best };
}

async function benchCopy() {
  const rows = [];
  const skips = new Set();
  for (const bytes of [256 * MiB, GiB]) {
    const sb = await copyRate(bytes);
    const mm = memmoveRate(bytes);
    const np = numpyRate(bytes);
    if (np.skip) skips.add(np.skip);
    const npCell = np.skip ? 'skipped' : `${fmt(np.median)} (${fmt(np.best)})`;
    const ratioNp = np.skip ? '—' : fmt(sb.median / np.median);
    rows.push([sizeLabel(bytes), `${fmt(sb.median)} (${fmt(sb.best)})`, `${fmt(mm.median)} (${fmt(mm.best)})`, npCell, fmt(sb.median / mm.median), ratioNp]);
  }
  printTable(`host copy, GB/s median (best), ${os.cpus().length} cores`, ['size', 'stackbridge copy', 'V8 dst.set(src)', 'np.copyto', 'sb/V8', 'sb/numpy'], rows);
  for (const s of skips) console.log(`np.copyto skipped: ${s}`);
}

// ---------- 3. binding overhead ----------
function plainFunction(x) {
  return x.length + 1;
}
async function plainAsync(x) {
  return x.length + 1;
}

async function benchOverhead() {
  const a = zeros([4, 4, 4], { dtype: 'float32' });
  const small = new Float32Array(16);
  const made = new Array(100_000);
  let sink = 0;
  const N = { iters: 100_000, reps: 5 };
  const A = { iters: 10_000, reps: 5 };
  const rows = [
    ['plain JS function call (baseline)', timeSync(() => { sink += plainFunction(small); }, N)],
    ['a.shape getter', timeSync(() => { sink += a.shape.length; }, N)],
    ['convertMemorySync identity numpy→numpy', timeSync(() => { sink += convertMemorySync(a, { targetType: 'numpy' }) === a ? 1 : 0; }, N)],
    ['asarray(Float32Array(16))', timeSync((i) => { made[i] = asarray(small, { shape: [16] }); }, N)],
  ];
  made.forEach((m) => m.dispose());
  rows.push(['plain async function + await (baseline)', await timeAsync(async () => { sink += await plainAsync(small); }, A)]);
  rows.push(['await convertMemory numpy→torch (+dispose)', await timeAsync(async () => (await convertMemory(a, { targetType: 'torch' })).dispose(), A)]);
  rows.push(['await convertMemory identity numpy→numpy', await timeAsync(async () => { sink += (await convertMemory(a, { targetType: 'numpy' })) === a ? 1 : 0; }, A)]);
  a.dispose();
  printTable('binding call overhead, µs per call (sync 100k, async 10k calls × 5 reps)', ['call', 'median', 'min'],
    rows.map(([name, t]) => [name, fmt(t.median, 3), fmt(t.min, 3)]));
  if (sink < 0) console.log(sink); // keeps the loops observable
}

// ---------- 4. dtype casts ----------
async function benchCasts() {
  const n = 64 * MiB;
  const src = zeros([64, 1024, 1024], { dtype: 'float32' });
  const d = src.data;
  for (let i = 0; i < n; i++) d[i] = (i % 65521) * 0.37; // not constant, so scaleToDtype stretches
  const bytes = n * (4 + 2); // read float32 + write uint16
  const rows = [];
  for (const [name, op] of [['astype float32→uint16', astype], ['scaleToDtype float32→uint16', scaleToDtype]]) {
    const us = await timeAsync(async () => (await op(src, 'uint16')).dispose(), { iters: 1, reps: 5, warmup: 1 });
    const r = gbps(bytes, us);
    rows.push([name, fmt(us.median / 1e3), fmt(r.median), fmt(r.best), fmt(n / us.median)]);
  }
  src.dispose();
  printTable('dtype cast of 64 Mi elements (256 MiB in, 128 MiB out)', ['op', 'ms median', 'GB/s med (r+w)', 'GB/s best', 'Melem/s'], rows);
}

// ---------- main ----------
const SECTIONS = {
  conversions: benchConversions, copy: benchCopy, overhead: benchOverhead, casts: benchCasts,
  // Loaded on demand: the processor modules need the native kernels, the other sections do not.
  processors: async () => (await import('./processors.js')).benchProcessors(),
  set: async () => (await import('./set.js')).benchSet(),
  opencl: async () => (await import('./device.js')).benchDevice('opencl', 'no OpenCL device (install pocl-opencl-icd for PoCL on the CPU)'),
  cuda: async () => (await import('./device.js')).benchDevice('cuda', 'no CUDA device on this machine (the section runs where one exists, e.g. from scripts/gpu-check)'),
};

/** `--only a,b` (or `--only=a,b`) runs just those sections; default: all of them. */
function selectedSections() {
  const argv = process.argv.slice(2);
  const i = argv.findIndex((a) => a === '--only' || a.startsWith('--only='));
  if (i < 0) return Object.keys(SECTIONS);
  const value = argv[i].includes('=') ? argv[i].slice('--only='.length) : argv[i + 1];
  const names = (value ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = names.filter((n) => !(n in SECTIONS));
  if (names.length === 0 || unknown.length > 0) {
    console.error(`usage: node bench/run.js [--only ${Object.keys(SECTIONS).join(',')}]${unknown.length ? ` (unknown: ${unknown.join(', ')})` : ''}`);
    process.exit(2);
  }
  return names;
}

async function main() {
  const sections = selectedSections();
  const t0 = performance.now();
  console.log(`stackbridge bench — node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model.trim()}, ${(os.totalmem() / GiB).toFixed(1)} GiB RAM`);
  console.log(`devices: ${devices().map((d) => `${d.id} (${d.name})`).join(', ')}`);
  for (const name of sections) await SECTIONS[name]();
  const info = memoryInfo('cpu');
  console.log(`\nmemoryInfo('cpu'): allocated ${info.allocatedBytes} B, cached ${(info.cachedBytes / MiB).toFixed(1)} MiB, peak ${(info.peakAllocatedBytes / MiB).toFixed(1)} MiB, allocations ${info.allocations}, cache hits ${info.cacheHits}`);
  console.log(JSON.stringify(info));
  emptyCache('cpu');
  console.log(`after emptyCache('cpu'): cached ${memoryInfo('cpu').cachedBytes} B`);
  console.log(`\ntotal bench time ${((performance.now() - t0) / 1e3).toFixed(1)} s`);
}

await main();
