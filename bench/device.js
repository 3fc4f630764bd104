// Device benchmarks, one code for each device domain (OpenCL: the pyclesperanto family; CUDA: the
// cupy family): the cost of every conversion edge to and from the domain, and each processor on
// the device beside the same processor on the CPU kernels (same process, same data). On this
// machine the OpenCL device is PoCL on the CPU, so the OpenCL column measures the portable kernels
// on the same cores, not a GPU, and there is no CUDA device (the section says so and skips); on a
// GPU machine the same tables show that GPU (devices() lists GPUs first). The CUDA section runs CuPy and
// PyTorch beside it on the same data and device (bench/peers.py, before our timings, so each side has
// the card to itself); they are named as skipped where the Python (STACKBRIDGE_BENCH_PYTHON) lacks them.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { dump } from 'npyjs';
import * as tf from '@tensorflow/tfjs';
import { asarray, convertMemory, copy, devices, TraceCollector, withTrace } from '../dist/index.js';
import * as np from '../dist/processors/numpy.js';
import * as cl from '../dist/processors/pyclesperanto.js';
import * as cp from '../dist/processors/cupy.js';
import { countCellsSingleChannel } from '../dist/analysis.js';
import { makeTexturedStack } from './nuclei.js';
import { fmt, median, printTable } from './util.js';
import { resolvePython, runPeers, show } from './python.js';

const MiB = 1 << 20;

/** Median and min wall ms of `reps` awaited runs after one warm-up; each result is disposed. */
async function timeMs(fn, reps = 5) {
  const dispose = (r) => (Array.isArray(r) ? r[0] : r)?.dispose?.();
  dispose(await fn());
  const xs = [];
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    const r = await fn();
    xs.push(performance.now() - t);
    dispose(r);
  }
  return { median: median(xs), min: Math.min(...xs) };
}

async function kindOf(fn) {
  const trace = new TraceCollector();
  const r = await withTrace(trace, fn);
  if (r?.dispose) r.dispose();
  return trace.conversions.map((c) => c.kind).join(' + ') || '?';
}

/** The two domains: their memory type, processor family and the edges worth timing. */
const DOMAINS = {
  opencl: {
    label: 'OpenCL',
    type: 'pyclesperanto',
    family: cl,
    edges: ({ host, onDev, tensor, torchHost }) => [
      ['numpy → pyclesperanto', () => convertMemory(host, { targetType: 'pyclesperanto' })],
      ['torch (host) → pyclesperanto', () => convertMemory(torchHost, { targetType: 'pyclesperanto' })],
      ['pyclesperanto → pyclesperanto (same device)', async () => { await convertMemory(onDev, { targetType: 'pyclesperanto' }); return null; }],
      ['pyclesperanto → numpy', () => convertMemory(onDev, { targetType: 'numpy' })],
      ['pyclesperanto → jax (host)', () => convertMemory(onDev, { targetType: 'jax' })],
      ['pyclesperanto → tensorflow (allowCpuRoundtrip)', () => convertMemory(onDev, { targetType: 'tensorflow', allowCpuRoundtrip: true })],
      ['tensorflow → pyclesperanto (allowCpuRoundtrip)', () => convertMemory(tensor, { targetType: 'pyclesperanto', allowCpuRoundtrip: true })],
    ],
  },
  cuda: {
    label: 'CUDA',
    type: 'cupy',
    family: cp,
    peers: true,
    // torch and jax live on the CUDA device when there is one: zero-copy edges of one allocation.
    edges: ({ host, onDev, tensor }) => [
      ['numpy → cupy (pinned staging)', () => convertMemory(host, { targetType: 'cupy' })],
      ['cupy → torch (same device)', () => convertMemory(onDev, { targetType: 'torch' })],
      ['cupy → jax (same device)', () => convertMemory(onDev, { targetType: 'jax' })],
      ['cupy → numpy (pinned staging)', () => convertMemory(onDev, { targetType: 'numpy' })],
      ['cupy → tensorflow (allowCpuRoundtrip)', () => convertMemory(onDev, { targetType: 'tensorflow', allowCpuRoundtrip: true })],
      ['tensorflow → cupy (allowCpuRoundtrip)', () => convertMemory(tensor, { targetType: 'cupy', allowCpuRoundtrip: true })],
    ],
  },
};

const EDGE_BYTES = [MiB, 64 * MiB];
/** The float32 data of the edge timings: `bytes` of a repeating ramp, as [Z, 256, 256]. */
const edgeData = (bytes) => ({ data: Float32Array.from({ length: bytes / 4 }, (_, i) => (i % 1000) * 0.5), shape: [bytes / (4 * 256 * 256), 256, 256] });
const STACK = { depth: 4, height: 1024, width: 1024 };
const stackData = () => makeTexturedStack({ ...STACK, seed: 7 });
const NORMALIZE = { lowPercentile: 1, highPercentile: 99, targetMin: 0, targetMax: 65535 }; // our defaults

/**
 * The peers' jobs: per edge or processor label of the tables below, the CuPy / PyTorch calls doing
 * the same work. torch max / median projections run on int32 (torch has few uint16 kernels); std,
 * normalize and filters on float32; torch's median is the lower middle value for even Z. Timing
 * peers, not oracles.
 */
const PEER_EDGES = {
  'numpy → cupy (pinned staging)': [['cupy', { op: 'upload', label: 'cp.asarray (pageable)' }], ['torch', { op: 'upload', label: 'tensor.to("cuda") (pageable)' }],
    ['torch', { op: 'upload', pinned: true, label: 'pinned tensor.to("cuda", non_blocking)' }]],
  'cupy → torch (same device)': [['cupy', { op: 'dlpack', label: 'torch.from_dlpack(cupy array)' }], ['torch', { op: 'dlpack', label: 'cupy.from_dlpack(torch tensor)' }]],
  'cupy → numpy (pinned staging)': [['cupy', { op: 'download', label: 'cp.asnumpy' }], ['torch', { op: 'download', label: 'tensor.cpu()' }]],
};
const PEER_PROCESSORS = {
  stackPercentileNormalize: [['cupy', { op: 'normalize', ...NORMALIZE }], ['torch', { op: 'normalize', ...NORMALIZE }]],
  'tophat exact r 50 (1 slice)': [['cupy', { op: 'tophat_exact', selemRadius: 50 }]],
  'max projection': [['cupy', { op: 'projection', method: 'max' }], ['torch', { op: 'projection', method: 'max' }]],
  'median projection': [['cupy', { op: 'projection', method: 'median' }], ['torch', { op: 'projection', method: 'median' }]],
  'std projection': [['cupy', { op: 'projection', method: 'std' }], ['torch', { op: 'projection', method: 'std' }]],
  'gaussian σ 2': [['cupy', { op: 'gaussian', sigma: 2 }], ['torch', { op: 'gaussian', sigma: 2 }]],
  'spatialBin2d 2': [['cupy', { op: 'bin', binSize: 2 }], ['torch', { op: 'bin', binSize: 2 }]],
};

/**
 * Runs the CuPy / PyTorch peers on the section's data; returns `{ edge: {label: {bytes: [[peer, label,
 * seconds]]}}, proc: {label: {peer: seconds}}, note }`, or only `note` saying why they did not run.
 */
function runGpuPeers() {
  const log = [];
  const python = resolvePython(log);
  if (!python) return { note: log.join('; ') };
  const dir = mkdtempSync(join(os.tmpdir(), 'stackbridge-gpu-peers-'));
  try {
    const files = { stack: join(dir, 'stack.npy') };
    writeFileSync(files.stack, Buffer.from(dump(stackData(), [STACK.depth, STACK.height, STACK.width])));
    for (const bytes of EDGE_BYTES) {
      const { data, shape } = edgeData(bytes);
      files[`edge${bytes}`] = join(dir, `edge${bytes}.npy`);
      writeFileSync(files[`edge${bytes}`], Buffer.from(dump(data, shape)));
    }
    const jobs = [];
    for (const [edge, list] of Object.entries(PEER_EDGES)) {
      for (const bytes of EDGE_BYTES) {
        list.forEach(([peer, job], i) => jobs.push({ id: `edge|${edge}|${bytes}|${i}`, peer, input: `edge${bytes}`, ...job }));
      }
    }
    for (const [proc, list] of Object.entries(PEER_PROCESSORS)) {
      for (const [peer, job] of list) jobs.push({ id: `proc|${proc}|${peer}`, peer, input: 'stack', ...job });
    }
    console.log(`
running the CuPy / PyTorch peers (${show(python)}) …`);
    const r = runPeers(python, { files, outDir: null, jobs });
    if (r.failed) return { note: r.failed };
    const edge = {};
    const proc = {};
    for (const [id, res] of Object.entries(r.results)) {
      const [what, label, a, b] = id.split('|');
      if (what === 'edge') {
        const [peer, job] = PEER_EDGES[label][Number(b)];
        ((edge[label] ??= {})[a] ??= []).push([peer, job.label, res.seconds]);
      } else {
        (proc[label] ??= {})[a] = res.seconds;
      }
    }
    const skipped = Object.entries(r.skipped).map(([p, why]) => `${p} skipped (${why})`);
    const errors = [...new Set(Object.entries(r.errors).map(([id, e]) => `${id.split('|')[1]}: ${e}`))];
    const versions = Object.entries(r.versions).map(([k, v]) => `${k} ${v}`).join(', ');
    return { edge, proc, note: `peers: ${[versions || 'none ran', ...skipped, ...errors].join('; ')}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function benchEdges(dev, dom, peers) {
  await tf.setBackend('cpu');
  const rows = [];
  const peerRows = [];
  for (const bytes of EDGE_BYTES) {
    const { data, shape } = edgeData(bytes);
    const host = asarray(data, { shape });
    const onDev = await copy(await convertMemory(host, { targetType: dom.type })); // in the device's own memory
    const tensor = tf.tensor(host.data, [...host.shape], 'float32');
    const torchHost = await convertMemory(host, { targetType: 'torch' });
    const edges = dom.edges({ host, onDev, tensor, torchHost });
    if (devices().filter((d) => d.kind === dev.kind).length > 1) {
      edges.push([`${dom.type} ${dev.kind}:0 → ${dev.kind}:1 (device-move)`, () => convertMemory(onDev, { targetType: dom.type, gpuId: 1 })]);
    }
    for (const [label, fn] of edges) {
      const kind = await kindOf(fn);
      const t = await timeMs(fn, bytes > MiB ? 5 : 50);
      const copies = !/identity|zero-copy/.test(kind);
      rows.push([label, `${bytes / MiB} MiB`, kind, fmt(t.median * 1e3, 1), fmt(t.min * 1e3, 1), copies ? fmt(bytes / (t.median * 1e6)) : '—']);
      for (const [peer, call, seconds] of peers?.edge?.[label]?.[bytes] ?? []) {
        const copied = !/dlpack/.test(call);
        peerRows.push([label, `${bytes / MiB} MiB`, `${peer}: ${call}`, fmt(seconds * 1e6, 1), copied ? fmt(bytes / (seconds * 1e9)) : '—', `${fmt((seconds * 1e3) / t.median)}×`]);
      }
    }
    tensor.dispose();
    for (const a of [torchHost, onDev, host]) a.dispose();
  }
  printTable(`conversion edges of the ${dom.label} domain (${dev.id}: ${dev.name}; shares host memory: ${dev.sharesHostMemory})`,
    ['edge', 'size', 'kind', 'µs median', 'µs min', 'GB/s (copied bytes)'], rows);
  if (peers) {
    if (peerRows.length) {
      printTable('the same edges in CuPy / PyTorch (best of 3–5, synchronized); peer time / ours > 1: ours is faster',
        ['edge', 'size', 'peer call', 'µs best', 'GB/s', 'peer / ours'], peerRows);
    }
    console.log(peers.note);
  }
}

async function benchProcessors(dev, dom, peers) {
  const { depth, height, width } = STACK;
  const host = asarray(stackData(), { shape: [depth, height, width], dtype: 'uint16' });
  const onDev = await convertMemory(host, { targetType: dom.type });
  const slice = host.sliceZ(0, 1);
  const sliceDev = onDev.sliceZ(0, 1);
  const ops = [
    ['stackPercentileNormalize', (f, s) => f.stackPercentileNormalize(s)],
    ['tophat (r 50, f 4)', (f, s) => f.tophat(s)],
    ['tophat exact r 50 (1 slice)', (f, s, one) => f.tophat(one, { selemRadius: 50, downsampleFactor: 1 })],
    ['max projection', (f, s) => f.maxProjection(s)],
    ['median projection', (f, s) => f.createProjection(s, { method: 'median_projection' })],
    ['std projection', (f, s) => f.createProjection(s, { method: 'std_projection' })],
    ['gaussian σ 2', (f, s) => f.gaussian(s, { sigma: 2 })],
    ['sharpen', (f, s) => f.sharpen(s)],
    ['stackEqualizeHistogram', (f, s) => f.stackEqualizeHistogram(s)],
    ['spatialBin2d 2', (f, s) => f.spatialBin2d(s, { binSize: 2 })],
    ['createComposite', (f, s) => f.createComposite(s)],
    ['crop', (f, s) => f.crop(s, { depth: depth, height: height / 2, width: width / 2 })],
    // resolves to [the input, results, masks]: nothing to dispose
    ['countCellsSingleChannel blob_log (1 slice)', async (f, s, one, count) => { await count(one); return null; }],
  ];
  const rows = [];
  for (const [label, run] of ops) {
    const cell = async (f, s, one, count) => {
      try {
        return await timeMs(() => run(f, s, one, count), 3);
      } catch (e) {
        return { error: e.message.split('\n')[0] };
      }
    };
    const c = await cell(np, host, slice, countCellsSingleChannel);
    const o = await cell(dom.family, onDev, sliceDev, dom.family.countCellsSingleChannel);
    const cellOf = (t) => (t.error ? `error: ${t.error}` : fmt(t.median, 1));
    const row = [label, cellOf(c), cellOf(o), c.error || o.error ? '—' : `${fmt(o.median / c.median)}×`];
    if (peers) {
      for (const peer of ['cupy', 'torch']) {
        const s = peers.proc?.[label]?.[peer];
        row.push(s == null ? '—' : fmt(s * 1e3, 1), s == null || o.error ? '—' : `${fmt((s * 1e3) / o.median)}×`);
      }
    }
    rows.push(row);
  }
  for (const a of [slice, sliceDev, onDev, host]) a.dispose();
  const peerCols = peers ? ['CuPy ms', `CuPy / ${dom.label} time`, 'PyTorch ms', `PyTorch / ${dom.label} time`] : [];
  printTable(`processors, ${depth}×${height}×${width} uint16: stackbridge CPU kernels vs the ${dom.label} kernels on ${dev.id} (${dev.name}), ms median of 3`
    + (peers ? '; CuPy / PyTorch best of 3–5 (> 1×: ours is faster)' : ''),
  ['processor', 'CPU ms', `${dom.label} ms`, `${dom.label} / CPU time`, ...peerCols], rows);
}

/** The section of `domain` ('opencl' or 'cuda'): skipped with the reason when no such device exists. */
export async function benchDevice(domain, missing) {
  const dom = DOMAINS[domain];
  const dev = devices().find((d) => d.kind === domain);
  if (!dev) {
    console.log(`\n== ${dom.label} ==\nskipped: ${missing}`);
    return;
  }
  // Peers first: the Python process and its memory pools are gone before our timings start.
  const peers = dom.peers ? runGpuPeers() : null;
  await benchEdges(dev, dom, peers);
  await benchProcessors(dev, dom, peers);
}
