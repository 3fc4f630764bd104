// The processor-set bench (DESIGN §12; `node bench/run.js --only set`): the operations the issue names
// on a 4×1024×1024 uint16 stack of synthetic nuclei, ours on the CPU (numpy family) and on OpenCL
// (pyclesperanto family) beside scikit-image / scipy and pyclesperanto (bench/set_peers.py) on the same
// data and, for pyclesperanto, the same OpenCL device. Targets: CPU ≥ 5× scikit-image, OpenCL ≥ 1×
// pyclesperanto. The labels regionprops measures are our connectedComponentsLabeling of the mask
// (equal to skimage.measure.label's: __test__/golden/set), written once for every side.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { dump } from 'npyjs';
import { asarray, convertMemory, devices, TraceCollector, withTrace } from '../dist/index.js';
import * as np from '../dist/processors/numpy.js';
import * as cl from '../dist/processors/pyclesperanto.js';
import { makeNucleiSlice } from './nuclei.js';
import { printMarkdown, timeOp } from './processors.js';
import { resolvePython, runPeers } from './python.js';
import { fmt, printTable } from './util.js';

const Z = 4;
const H = 1024;
const W = 1024;
/** Foreground for the labelling inputs: nuclei peak 16000–36000 over a 2000–3500 background. */
const MASK_LEVEL = 6000;

/** The operations: our call on a family, the peers' op name, what the row times. */
const OPS = [
  { name: 'medianFilter (disk r=3)', op: 'median', run: (f, d) => f.medianFilter(d.stack, { radius: 3, footprint: 'disk' }) },
  { name: 'connectedComponentsLabeling (8-conn.)', op: 'ccl', run: (f, d) => f.connectedComponentsLabeling(d.mask, { connectivity: 2 }) },
  { name: 'voronoiOtsuLabeling (σ 2, 2)', op: 'voronoi', run: (f, d) => f.voronoiOtsuLabeling(d.stack, { spotSigma: 2, outlineSigma: 2 }) },
  { name: 'regionprops (15 properties)', op: 'regionprops', run: (f, d) => f.regionprops(d.labels, d.stack) },
  { name: 'thresholdOtsu', op: 'otsu', run: (f, d) => f.thresholdOtsu(d.stack) },
  { name: 'rollingBall (r=25)', op: 'rolling_ball', run: (f, d) => f.rollingBall(d.stack, { radius: 25 }) },
  { name: 'sobel', op: 'sobel', run: (f, d) => f.sobel(d.stack) },
];

/** Disposes what a call returned (an array, or `[array, special]`) unless it is one of the inputs. */
function releaser(inputs) {
  return (r) => {
    const a = Array.isArray(r) ? r[0] : r;
    if (a && !inputs.includes(a)) a.dispose();
  };
}

async function timeFamily(family, data, label) {
  const out = {};
  const inputs = [data.stack, data.mask, data.labels];
  for (const o of OPS) {
    process.stdout.write(`  ${label} ${o.name} …`);
    try {
      const trace = new TraceCollector();
      const t = await withTrace(trace, () => timeOp(() => o.run(family, data), () => {}, releaser(inputs)));
      out[o.op] = { ...t, onHost: trace.kernels.some((k) => k.onHost) };
      process.stdout.write(` ${fmt(t.ms)} ms\n`);
    } catch (e) {
      out[o.op] = { error: e.message };
      process.stdout.write(` failed: ${e.message}\n`);
    }
  }
  return out;
}

export async function benchSet() {
  const log = [];
  console.log(`\nprocessor-set bench: ${Z}×${H}×${W} uint16 synthetic nuclei (700 per slice), mask x > ${MASK_LEVEL}`);
  const data = new Uint16Array(Z * H * W);
  for (let z = 0; z < Z; z++) data.set(makeNucleiSlice({ height: H, width: W, count: 700, amplitudeRange: [16000, 36000], seed: z + 1 }).data, z * H * W);
  const maskData = Uint8Array.from(data, (v) => (v > MASK_LEVEL ? 1 : 0));
  const host = {
    stack: asarray(data, { shape: [Z, H, W], dtype: 'uint16' }),
    mask: asarray(maskData, { shape: [Z, H, W], dtype: 'uint8' }),
  };
  host.labels = await np.connectedComponentsLabeling(host.mask, { connectivity: 2 });
  const dir = mkdtempSync(join(os.tmpdir(), 'stackbridge-set-bench-'));
  const files = { stack: join(dir, 'stack.npy'), mask: join(dir, 'mask.npy'), labels: join(dir, 'labels.npy') };
  writeFileSync(files.stack, Buffer.from(dump(data, [Z, H, W])));
  writeFileSync(files.mask, Buffer.from(dump(maskData, [Z, H, W])));
  writeFileSync(files.labels, Buffer.from(dump(host.labels.data, [Z, H, W])));
  try {
    const cpu = await timeFamily(np, host, 'CPU');
    const clDev = devices().find((d) => d.kind === 'opencl');
    let ocl = null;
    if (clDev) {
      console.log(`on ${clDev.id} (${clDev.name}):`);
      const dev = {};
      for (const k of ['stack', 'mask', 'labels']) dev[k] = await convertMemory(host[k], { targetType: 'pyclesperanto' });
      ocl = await timeFamily(cl, dev, 'OpenCL');
      for (const a of Object.values(dev)) a.dispose();
    } else {
      log.push('OpenCL: no device (install pocl-opencl-icd); the OpenCL columns are empty');
    }
    const python = resolvePython(log);
    const jobs = OPS.flatMap((o) => ['scikit-image', ...(clDev ? ['pyclesperanto'] : [])].map((peer) => ({ id: `${peer}:${o.op}`, peer, op: o.op })));
    const peers = python ? runPeers(python, { files, jobs }, 'set_peers.py') : { failed: 'no python' };
    if (peers.failed) log.push(`peers: ${peers.failed}`);
    for (const [p, why] of Object.entries(peers.skipped ?? {})) log.push(`${p} skipped: ${why}`);
    for (const [id, why] of Object.entries(peers.errors ?? {})) log.push(`${id}: ${why}`);
    const ms = (id) => (peers.results?.[id] ? peers.results[id].seconds * 1e3 : null);
    const cell = (x) => (x == null ? '—' : fmt(x));
    const rows = OPS.map((o) => {
      const c = cpu[o.op];
      const g = ocl?.[o.op];
      const sk = ms(`scikit-image:${o.op}`);
      const pc = ms(`pyclesperanto:${o.op}`);
      const vsSk = c?.ms && sk ? sk / c.ms : null;
      const vsPc = g?.ms && pc ? pc / g.ms : null;
      return [
        o.name,
        c?.error ? 'failed' : cell(c?.ms),
        cell(sk),
        vsSk == null ? '—' : `${fmt(vsSk)}× ${vsSk >= 5 ? 'PASS' : 'FAIL'}`,
        g == null ? '—' : g.error ? 'failed' : `${cell(g.ms)}${g.onHost ? ' (host)' : ''}`,
        cell(pc),
        vsPc == null ? '—' : `${fmt(vsPc)}× ${vsPc >= 1 ? 'PASS' : 'FAIL'}`,
      ];
    });
    const headers = ['operation', 'ours CPU ms', 'scikit-image ms', 'vs skimage (≥ 5×)', 'ours OpenCL ms', 'pyclesperanto ms', 'vs pyclesperanto (≥ 1×)'];
    printTable(`processor set, ${Z}×${H}×${W} uint16, median ms (${os.cpus().length} cores${clDev ? `; OpenCL ${clDev.name}` : ''})`, headers, rows);
    printMarkdown('processor set (Markdown)', headers, rows);
    console.log(`versions: ${JSON.stringify(peers.versions ?? {})}`);
    console.log('"(host)": the device has no kernels for it yet; it ran on the host CPU over the device memory (DESIGN §12, ARCHITECTURE.md).');
    for (const l of log) console.log(`note: ${l}`);
  } finally {
    for (const a of Object.values(host)) a.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
}
