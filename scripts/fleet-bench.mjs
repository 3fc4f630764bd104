#!/usr/bin/env zx
// Wall time of one plate on 1 vs 3 local queue workers (and local runs beside them), README "Worker fleet".
//   npm run build:ts && zx scripts/fleet-bench.mjs [--wells 24] [--sites 4] [--size 1024] [--rounds 3]
// Starts its own redis-server (127.0.0.1, a free port, no persistence), writes the synthetic ImageXpress
// plate, starts the workers before each timed submit, and prints per configuration the submit's wall
// time per round, the median, and the CPU seconds the workers (or the local run) used.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';

$.verbose = false;
$.quiet = true;
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const BIN = path.join(root, 'dist', 'cli', 'main.js');
const PIPELINE = path.join(root, 'pipelines', 'default.json');
const nWells = Number(argv.wells ?? 24);
const sites = Number(argv.sites ?? 4);
const size = Number(argv.size ?? 1024);
const rounds = Number(argv.rounds ?? 3);
const fleets = String(argv.workers ?? '1,3').split(',').map(Number);

const port = await new Promise((r) => {
  const s = createServer().listen(0, '127.0.0.1', () => {
    const p = s.address().port;
    s.close(() => r(p));
  });
});
const url = `redis://127.0.0.1:${port}`;
const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
const dir = await mkdtemp(path.join(tmpdir(), 'sb-fleet-'));
try {
  await sleep(300);
  const { writeDemoPlate } = await import(path.join(root, 'dist', 'cli', 'demoPlate.js'));
  const wells = [...'ABCDEFGHIJKLMNOP'].flatMap((r) => Array.from({ length: 24 }, (_, c) => `${r}${String(c + 1).padStart(2, '0')}`)).slice(0, nWells);
  await writeDemoPlate(path.join(dir, 'plate'), 20261203, { wells, sites, size });
  console.log(`plate: ${nWells} wells × ${sites} sites of ${size}² uint16, ${PIPELINE}; ${cpus().length} CPUs; Redis ${url}`);

  /** utime + stime of a live process, in seconds. */
  const cpuSeconds = (pid) => {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  };
  const timed = async (args) => {
    const t0 = performance.now();
    const r = await $`node ${BIN} ${args}`.nothrow();
    if (r.exitCode !== 0) throw new Error(r.stderr);
    return (performance.now() - t0) / 1000;
  };
  const results = new Map();
  const record = (name, wall, cpu) => {
    if (!results.has(name)) results.set(name, []);
    results.get(name).push({ wall, cpu, load: loadavg()[0] });
  };
  for (let round = 1; round <= rounds; round++) {
    for (const n of fleets) {
      const ws = Array.from({ length: n }, () => spawn(process.execPath, [BIN, 'worker', '--queue', url], { stdio: ['ignore', 'ignore', 'pipe'] }));
      await Promise.all(ws.map((w) => new Promise((r) => w.stderr.on('data', (d) => /waiting for runs/.test(d) && r()))));
      const before = ws.map((w) => cpuSeconds(w.pid));
      const wall = await timed(['run', PIPELINE, '--input', path.join(dir, 'plate'), '--output', path.join(dir, `q${n}`), '--queue', url]);
      const cpu = ws.reduce((a, w, i) => a + cpuSeconds(w.pid) - before[i], 0);
      for (const w of ws) w.kill('SIGTERM');
      await Promise.all(ws.map((w) => new Promise((r) => w.on('exit', r))));
      record(`queue, ${n} worker(s)`, wall, cpu);
    }
    for (const n of [1, 2]) {
      const t0 = performance.now();
      const t = await $`/usr/bin/time -f %U,%S node ${BIN} run ${PIPELINE} --input ${path.join(dir, 'plate')} --output ${path.join(dir, `l${n}`)} --workers ${n}`.nothrow();
      const wall = (performance.now() - t0) / 1000;
      if (t.exitCode !== 0) throw new Error(t.stderr);
      const [u, s] = t.stderr.trim().split('\n').at(-1).split(',').map(Number);
      record(`local --workers ${n}`, wall, u + s);
    }
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  for (const [name, rs] of results) {
    console.log(`${name.padEnd(20)} wall ${rs.map((r) => r.wall.toFixed(1)).join(' / ')} s (median ${median(rs.map((r) => r.wall)).toFixed(1)}), CPU ${median(rs.map((r) => r.cpu)).toFixed(1)} s, load ${rs.map((r) => r.load.toFixed(1)).join(' / ')}`);
  }
} finally {
  redis.kill('SIGTERM');
  await rm(dir, { recursive: true, force: true });
}
