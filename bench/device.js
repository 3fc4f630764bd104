// Device benchmarks, one code for each device domain (OpenCL: the pyclesperanto family; CUDA: the
// cupy family): the cost of every conversion edge to and from the domain, and each processor on
// the device beside the same processor on the CPU kernels (same process, same data). On this
// machine the OpenCL device is PoCL on the CPU, so the OpenCL column measures the portable kernels
// on the same cores, not a GPU, and there is no CUDA device (the section says so and skips); on a
// GPU machine the same tables show that GPU (devices() lists GPUs first).
import * as tf from '@tensorflow/tfjs';
import { asarray, convertMemory, copy, devices, TraceCollector, withTrace } from '../dist/index.js';
import * as np from '../dist/processors/numpy.js';
import * as cl from '../dist/processors/pyclesperanto.js';
import * as cp from '../dist/processors/cupy.js';
import { countCellsSingleChannel } from '../dist/analysis.js';
import { makeTexturedStack } from './nuclei.js';
import { fmt, median, printTable } from './util.js';

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

async function benchEdges(dev, dom) {
  await tf.setBackend('cpu');
  const rows = [];
  for (const bytes of [MiB, 64 * MiB]) {
    const n = bytes / 4;
    const host = asarray(Float32Array.from({ length: n }, (_, i) => (i % 1000) * 0.5), { shape: [n / (256 * 256), 256, 256] });
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
    }
    tensor.dispose();
    for (const a of [torchHost, onDev, host]) a.dispose();
  }
  printTable(`conversion edges of the ${dom.label} domain (${dev.id}: ${dev.name}; shares host memory: ${dev.sharesHostMemory})`,
    ['edge', 'size', 'kind', 'µs median', 'µs min', 'GB/s (copied bytes)'], rows);
}

async function benchProcessors(dev, dom) {
  const { depth, height, width } = { depth: 4, height: 1024, width: 1024 };
  const data = makeTexturedStack({ depth, height, width, seed: 7 });
  const host = asarray(data, { shape: [depth, height, width], dtype: 'uint16' });
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
    const show = (t) => (t.error ? `error: ${t.error}` : fmt(t.median, 1));
    rows.push([label, show(c), show(o), c.error || o.error ? '—' : `${fmt(o.median / c.median)}×`]);
  }
  for (const a of [slice, sliceDev, onDev, host]) a.dispose();
  printTable(`processors, ${depth}×${height}×${width} uint16: stackbridge CPU kernels vs the ${dom.label} kernels on ${dev.id} (${dev.name}), ms median of 3`,
    ['processor', 'CPU ms', `${dom.label} ms`, `${dom.label} / CPU time`], rows);
}

/** The section of `domain` ('opencl' or 'cuda'): skipped with the reason when no such device exists. */
export async function benchDevice(domain, missing) {
  const dom = DOMAINS[domain];
  const dev = devices().find((d) => d.kind === domain);
  if (!dev) {
    console.log(`\n== ${dom.label} ==\nskipped: ${missing}`);
    return;
  }
  await benchEdges(dev, dom);
  await benchProcessors(dev, dom);
}
