/**
 * The processor set (DESIGN §12) against golden data of scikit-image / scipy / numpy
 * (`__test__/golden/set/make_<group>.py`, one manifest per group): every case on the CPU (the
 * numpy family), then on OpenCL (the pyclesperanto family) against the CPU's result — the second
 * backend must give the same bytes where the output is an integer type (labels identical, not up
 * to renumbering) and the same values within the case's tolerance otherwise.
 */
import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { convertMemory } from '../ts/convert.js';
import { asarray } from '../ts/ndarray.js';
import { devices } from '../ts/devices.js';
import type { NDArray } from '../ts/ndarray.js';
import { PROCESSOR_TABLE } from '../ts/processors/host.js';
import * as np from '../ts/processors/numpy.js';
import * as cle from '../ts/processors/pyclesperanto.js';
import { listFunctions } from '../ts/registry.js';
import { TraceCollector, withTrace } from '../ts/trace.js';
import { deviceTest } from './helpers/device-gate.js';
import { GOLDEN_DIR, loadNpy } from './helpers/golden.js';

interface SetCase {
  name: string;
  processor: string;
  options: Record<string, unknown>;
  input: string;
  aux: (string | null)[];
  expected: string | null;
  special: unknown;
  tolerance: number;
  specialTolerance: number;
  note: string;
}

const SET_DIR = GOLDEN_DIR + 'set/';
const manifests = readdirSync(SET_DIR)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((f) => ({ group: f.replace(/\.json$/, ''), ...(JSON.parse(readFileSync(SET_DIR + f, 'utf8')) as { cases: SetCase[]; versions: Record<string, string> }) }));

type AnyFn = (stack: NDArray, ...rest: unknown[]) => Promise<unknown>;
const load = (f: string) => loadNpy('set/' + f);

/** Calls `fn` for case `c`: required arrays positionally, optional ones as options. */
async function call(fn: AnyFn, c: SetCase, input: NDArray): Promise<{ out: NDArray; special: unknown }> {
  const entry = PROCESSOR_TABLE.get(c.processor);
  if (!entry) throw new Error(`${c.processor} is not in the processor table`);
  const arrays: NDArray[] = [];
  const options: Record<string, unknown> = { ...c.options };
  entry.arrays.forEach((name, i) => {
    const f = c.aux[i];
    if (name.endsWith('?')) {
      if (f) options[name.slice(0, -1)] = load(f);
    } else {
      if (!f) throw new Error(`${c.name}: array ${name} missing from the case`);
      arrays.push(load(f));
    }
  });
  const r = await fn(input, ...arrays, options);
  return entry.special ? { out: (r as [NDArray, unknown])[0], special: (r as [NDArray, unknown])[1] } : { out: r as NDArray, special: undefined };
}

/** Largest |a − b| with NaN equal only to NaN (Infinity where one side is NaN). */
function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < b.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x === y) continue; // equal infinities too (their difference is NaN)
    if (Number.isNaN(x) || Number.isNaN(y)) {
      if (Number.isNaN(x) !== Number.isNaN(y)) return Infinity;
      continue;
    }
    m = Math.max(m, Math.abs(x - y));
  }
  return m;
}

/** Where `got` and `want` (JSON values) differ beyond `tol` in a number, or `null`. */
function specialDiff(got: unknown, want: unknown, tol: number, path = '$'): string | null {
  if (typeof want === 'number' || want === null) {
    const g = got as number | null;
    if (want === null || g === null) return g === want ? null : `${path}: ${String(g)} ≠ ${String(want)}`;
    if (typeof g !== 'number') return `${path}: ${JSON.stringify(g)} is not a number`;
    if (Number.isNaN(want) ? !Number.isNaN(g) : !(Math.abs(g - want) <= tol * Math.max(1, Math.abs(want)))) return `${path}: ${g} ≠ ${want} (±${tol})`;
    return null;
  }
  if (Array.isArray(want)) {
    if (!Array.isArray(got) || got.length !== want.length) return `${path}: length ${Array.isArray(got) ? got.length : typeof got} ≠ ${want.length}`;
    for (let i = 0; i < want.length; i++) {
      const d = specialDiff(got[i], want[i], tol, `${path}[${i}]`);
      if (d) return d;
    }
    return null;
  }
  if (typeof want === 'object') {
    for (const [k, v] of Object.entries(want as Record<string, unknown>)) {
      const d = specialDiff((got as Record<string, unknown>)?.[k], v, tol, `${path}.${k}`);
      if (d) return d;
    }
    return null;
  }
  return got === want ? null : `${path}: ${JSON.stringify(got)} ≠ ${JSON.stringify(want)}`;
}

const cpuResults = new Map<string, { out: NDArray; special: unknown }>();

for (const m of manifests) {
  for (const c of m.cases) {
    test.serial(`${m.group}/${c.name}: ${c.processor} on the CPU matches ${c.note || 'the oracle'} (±${c.tolerance})`, async (t) => {
      const fn = (np as unknown as Record<string, AnyFn>)[c.processor];
      t.truthy(fn, `stackbridge/processors/numpy exports ${c.processor}`);
      const input = load(c.input);
      const r = await call(fn!, c, input);
      cpuResults.set(`${m.group}/${c.name}`, r);
      if (c.expected) {
        const want = load(c.expected);
        t.deepEqual(r.out.shape, want.shape);
        t.is(r.out.dtype, want.dtype);
        const d = maxDiff(r.out.data, want.data);
        t.true(d <= c.tolerance, `max |diff| ${d} > ${c.tolerance}`);
      } else {
        t.is(r.out, input, 'a measurement returns the stack it read');
      }
      if (c.special !== null && c.special !== undefined) {
        const d = specialDiff(r.special, c.special, c.specialTolerance);
        t.is(d, null, d ?? '');
      }
    });
  }
}

const CL = devices().filter((d) => d.kind === 'opencl');
const clTest = deviceTest('set.spec', CL.length > 0, 'STACKBRIDGE_REQUIRE_OPENCL', 'no OpenCL device on this machine (install pocl-opencl-icd)');

for (const m of manifests) {
  for (const c of m.cases) {
    clTest(`${m.group}/${c.name}: ${c.processor} on OpenCL equals the CPU`, async (t) => {
      const fn = (cle as unknown as Record<string, AnyFn>)[c.processor]!;
      const trace = new TraceCollector();
      const r = await withTrace(trace, () => call(fn, c, load(c.input)));
      const cpu = cpuResults.get(`${m.group}/${c.name}`);
      t.truthy(cpu, 'the CPU case ran first');
      const rec = trace.kernels.find((k) => k.processor === c.processor);
      t.truthy(rec, 'the run is in the trace');
      t.regex(rec!.device, /^opencl:\d+$/);
      t.log(`${c.processor}: ${rec!.onHost ? 'host CPU over the device memory' : 'device kernels'}`);
      t.deepEqual(r.out.shape, cpu!.out.shape);
      t.is(r.out.dtype, cpu!.out.dtype);
      const exact = !r.out.dtype.startsWith('float') && CL[0]!.fp64 !== false;
      const d = maxDiff(await r.out.toTypedArray(), cpu!.out.data);
      t.true(exact ? d === 0 : d <= c.tolerance, `max |diff| to the CPU ${d}`);
      if (c.special !== null && c.special !== undefined) {
        const sd = specialDiff(r.special, cpu!.special, exact ? 0 : c.specialTolerance);
        t.is(sd, null, sd ?? '');
      }
    });
  }
}

test('every set operation is in every family and in the registry, with golden cases', (t) => {
  const set = [...PROCESSOR_TABLE.values()].filter((e) => !SECTION7.has(e.name));
  t.true(set.length > 0);
  const covered = new Set(manifests.flatMap((m) => m.cases.map((c) => c.processor)));
  for (const e of set) {
    t.is(typeof (np as unknown as Record<string, unknown>)[e.name], 'function', `numpy family exports ${e.name}`);
    t.is(typeof (cle as unknown as Record<string, unknown>)[e.name], 'function', `pyclesperanto family exports ${e.name}`);
    t.true(covered.has(e.name), `${e.name} has golden cases`);
    t.true(listFunctions('numpy').some((f) => f.name === e.name), `${e.name} is registered for numpy`);
    // An operation with further arrays cannot be split along Z with the stack alone.
    if (e.arrays.length > 0) t.false(e.separable, `${e.name} takes arrays, so it is not separable`);
  }
});

test('the family modules and the pipeline schema list every processor of the table (scripts/families.mjs --check)', (t) => {
  const out = execFileSync(process.execPath, ['scripts/families.mjs', '--check'], { encoding: 'utf8' });
  t.regex(out, /up to date/);
});

test.serial('uint32 (labels) survives tensorflow and back exactly, values from 2^31 included', async (t) => {
  await tf.setBackend('cpu');
  const a = asarray(new Uint32Array([0, 1, 2 ** 31 - 1, 2 ** 31, 4294967295, 7]), { shape: [1, 2, 3], dtype: 'uint32' });
  const tensor = (await convertMemory(a, { targetType: 'tensorflow' })) as tf.Tensor;
  t.is(tensor.dtype, 'int32', 'tfjs has no uint32: the int32 view');
  const back = (await convertMemory(tensor, { targetType: 'numpy' })) as NDArray;
  t.is(back.dtype, 'uint32');
  t.deepEqual(Array.from(back.data), [0, 1, 2 ** 31 - 1, 2 ** 31, 4294967295, 7]);
  tensor.dispose();
});

const SECTION7 = new Set([
  'stackPercentileNormalize',
  'percentileNormalize',
  'tophat',
  'createProjection',
  'sharpen',
  'createComposite',
  'applyMask',
  'stackEqualizeHistogram',
  'spatialBin2d',
  'crop',
  'gaussian',
]);
