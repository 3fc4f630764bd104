/**
 * Run-time CPU dispatch (docs/ARCHITECTURE.md "CPU dispatch"): `cpuFeatures()` reports the level
 * and each kernel's path, `STACKBRIDGE_CPU_LEVEL` caps the level, and every level gives the same
 * bytes (child processes at each level this CPU has, compared with this process).
 * `npm test` also runs the golden processor tests a second time with `STACKBRIDGE_CPU_LEVEL=scalar`.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { cpuFeatures, type CpuLevel } from '../ts/index.js';
import { kernelHashes } from './helpers/cpu-paths.js';

const LEVELS: CpuLevel[] = ['scalar', 'sse4', 'avx2', 'avx512'];
const CHILD = fileURLToPath(new URL('./helpers/cpu-paths.ts', import.meta.url));

function child(level: string | null): { hashes: Record<string, string>; features: ReturnType<typeof cpuFeatures> } {
  const env = { ...process.env };
  delete env.STACKBRIDGE_CPU_LEVEL;
  if (level != null) env.STACKBRIDGE_CPU_LEVEL = level;
  const r = spawnSync(process.execPath, ['--import=tsx', CHILD], { env, encoding: 'utf8', timeout: 100_000 });
  if (r.status !== 0) throw new Error(`child at ${level}: exit ${r.status}\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

test('cpuFeatures: the level is the detected one capped by STACKBRIDGE_CPU_LEVEL', (t) => {
  const f = cpuFeatures();
  t.true(LEVELS.includes(f.detected), f.detected);
  t.true(LEVELS.includes(f.compiledFor), f.compiledFor);
  const cap = process.env.STACKBRIDGE_CPU_LEVEL;
  t.is(f.requested, cap && cap.trim() ? cap : null);
  const capIdx = cap && cap.trim() ? Math.max(0, LEVELS.indexOf(cap.trim().toLowerCase() as CpuLevel)) : 3;
  t.is(f.level, LEVELS[Math.min(LEVELS.indexOf(f.detected), capIdx)]);
  t.deepEqual(Object.keys(f.paths).sort(), ['applyMask', 'cast', 'gaussian', 'morphology', 'normalizeMap', 'percentileHistogram', 'projection', 'resize']);
});

test('each kernel reports the path it took, at the process level', async (t) => {
  await kernelHashes();
  const f = cpuFeatures();
  for (const k of ['normalizeMap', 'gaussian', 'morphology', 'projection', 'applyMask', 'cast']) t.is(f.paths[k], f.level, k);
  // The percentile pass: the hand-written AVX-512 VBMI2 kernel, or the histogram at the level
  // (the test stack is over the 1 Mi elements where the bracketed pass applies).
  const hist = f.paths.percentileHistogram;
  t.true(hist === f.level || (f.level === 'avx512' && hist === 'avx512-vbmi2 (vpcompressw)'), String(hist));
});

test('every CPU level this machine has gives the same bytes (child processes)', async (t) => {
  const mine = await kernelHashes();
  const detected = cpuFeatures().detected;
  const levels = LEVELS.slice(0, LEVELS.indexOf(detected) + 1);
  for (const level of levels) {
    const r = child(level);
    t.is(r.features.level, level);
    t.deepEqual(r.hashes, mine, `level ${level}`);
  }
  // An unknown value caps at scalar (the safe choice), and says what was asked.
  const bogus = child('avx9000');
  t.is(bogus.features.level, 'scalar');
  t.is(bogus.features.requested, 'avx9000');
});
