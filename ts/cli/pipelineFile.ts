/**
 * Pipeline files (`schema/pipeline.schema.json`): steps by registry name, family and options,
 * checked up front so a wrong name, family or option is one line naming the step — the options by
 * a dry run of the whole pipeline on a small synthetic stack, through the same Rust checks a real
 * run meets.
 */
import { readFile } from 'node:fs/promises';
import { asarray } from '../ndarray.js';
import { FunctionStep, Pipeline } from '../pipeline.js';
import { InvalidArgumentError, StackbridgeError } from '../errors.js';
import type { DecoratedFunction } from '../decorators.js';
import type { MemoryTypeName } from '../types.js';

export interface PipelineStepSpec {
  name: string;
  family: MemoryTypeName;
  options?: Record<string, unknown>;
}

export interface PipelineSpec {
  name?: string;
  channel?: number;
  masks?: boolean;
  steps: PipelineStepSpec[];
}

/** A checked pipeline file, ready to run per site stack. */
export interface LoadedPipeline {
  spec: PipelineSpec;
  /** A fresh Pipeline (steps keep no state between runs, but runs may overlap). */
  build(): Pipeline;
  /** The index of the countCellsSingleChannel step (its results are the plate's counts). */
  countStep: number;
  /** The run's device index (`--device opencl:N` / `cuda:N`). */
  gpuId: number | undefined;
}

const FAMILIES = ['numpy', 'torch', 'jax', 'cupy', 'tensorflow', 'pyclesperanto'] as const;
const TOP_KEYS = new Set(['$schema', 'name', 'channel', 'masks', 'steps']);
const STEP_KEYS = new Set(['name', 'family', 'options']);

/** A one-line pipeline-file error. */
export class PipelineFileError extends InvalidArgumentError {}

async function family(name: MemoryTypeName): Promise<Record<string, unknown>> {
  const mod = (await import(`../processors/${name}.js`)) as Record<string, unknown>;
  if (name === 'pyclesperanto') return mod;
  // countCellsSingleChannel lives in stackbridge/analysis (numpy); other families count on the host too.
  const { countCellsSingleChannel } = await import('../analysis.js');
  return { ...mod, countCellsSingleChannel };
}

/**
 * Checks and prepares `spec`. `device` rewrites families: `'cpu'` runs GPU families on numpy,
 * `'opencl:N'` runs every step as pyclesperanto on device N, `'cuda:N'` as cupy.
 */
export async function preparePipeline(spec: unknown, source: string, device?: string): Promise<LoadedPipeline> {
  const fail = (msg: string): never => {
    throw new PipelineFileError(`${source}: ${msg}`);
  };
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) fail('a pipeline file is a JSON object with "steps"');
  const s = spec as Record<string, unknown>;
  for (const k of Object.keys(s)) if (!TOP_KEYS.has(k)) fail(`unknown key "${k}" (allowed: ${[...TOP_KEYS].join(', ')})`);
  if (!Array.isArray(s.steps) || s.steps.length === 0) fail('"steps" must be a non-empty array');
  if (s.channel !== undefined && !(Number.isInteger(s.channel) && (s.channel as number) >= 1)) fail('"channel" must be an integer ≥ 1');
  if (s.masks !== undefined && typeof s.masks !== 'boolean') fail('"masks" must be true or false');
  const steps = s.steps as unknown[];
  const funcs: { spec: PipelineStepSpec; func: DecoratedFunction }[] = [];
  for (const [i, raw] of steps.entries()) {
    const where = `step ${i + 1}`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail(`${where} must be an object with "name" and "family"`);
    const st = raw as Record<string, unknown>;
    for (const k of Object.keys(st)) if (!STEP_KEYS.has(k)) fail(`${where} ('${String(st.name)}'): unknown key "${k}" (allowed: name, family, options)`);
    if (typeof st.name !== 'string') fail(`${where}: "name" must be a string`);
    const label = `${where} '${st.name as string}'`;
    if (!FAMILIES.includes(st.family as (typeof FAMILIES)[number])) fail(`${label}: unknown family ${JSON.stringify(st.family)} (one of ${FAMILIES.join(', ')})`);
    if (st.options !== undefined && (typeof st.options !== 'object' || st.options === null || Array.isArray(st.options))) fail(`${label}: "options" must be an object`);
    let fam = st.family as MemoryTypeName;
    if (device?.startsWith('opencl:')) fam = 'pyclesperanto';
    else if (device?.startsWith('cuda:')) fam = 'cupy';
    else if (device === 'cpu' && (fam === 'pyclesperanto' || fam === 'cupy')) fam = 'numpy';
    const members = await family(fam);
    const func = members[st.name as string];
    if (typeof func !== 'function') {
      const known = Object.keys(members).filter((k) => typeof members[k] === 'function').sort();
      fail(`${label}: no processor "${st.name as string}" in the ${fam} family (known: ${known.join(', ')})`);
    }
    funcs.push({ spec: { name: st.name as string, family: fam, options: (st.options as Record<string, unknown> | undefined) ?? {} }, func: func as DecoratedFunction });
  }
  const countStep = funcs.findIndex((f) => f.spec.name === 'countCellsSingleChannel');
  if (countStep < 0) fail('the pipeline needs a countCellsSingleChannel step (the plate report counts cells)');
  const masks = s.masks === true;
  const gpuId = device && /^(opencl|cuda):\d+$/.test(device) ? Number(device.split(':')[1]) : undefined;
  const build = (): Pipeline =>
    new Pipeline(
      funcs.map((f, i) => {
        const kwargs = i === countStep && masks ? { ...f.spec.options, returnSegmentationMask: true } : f.spec.options;
        return new FunctionStep({ func: f.func, name: f.spec.name, kwargs });
      }),
    );
  // Dry run: every option goes through the Rust checks a real run meets.
  const probe = asarray(new Uint16Array(64 * 64).map((_, i) => (i * 37) % 4096), { shape: [1, 64, 64], dtype: 'uint16' });
  try {
    const r = await build().run(probe, { gpuId });
    (r.output as { dispose?: () => void }).dispose?.();
  } catch (e) {
    const err = e as StackbridgeError & { details?: { stepIndex?: number; stepName?: string }; cause?: unknown };
    const idx = err.details?.stepIndex;
    const inner = (err.cause as Error | undefined)?.message ?? err.message;
    fail(`${idx === undefined ? 'pipeline' : `step ${idx + 1} '${funcs[idx]?.spec.name}' (${funcs[idx]?.spec.family})`}: ${inner}`);
  } finally {
    probe.dispose();
  }
  return { spec: { ...(s as unknown as PipelineSpec), steps: funcs.map((f) => f.spec) }, build, countStep, gpuId };
}

/** Reads and prepares a pipeline file. */
export async function loadPipelineFile(path: string, device?: string): Promise<LoadedPipeline> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new PipelineFileError(`${path}: cannot read the pipeline file (${(e as Error).message})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new PipelineFileError(`${path}: not JSON (${(e as Error).message})`);
  }
  return preparePipeline(json, path, device);
}
