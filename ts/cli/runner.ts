/**
 * Runs a pipeline over a plate: wells concurrently up to `workers`, the next wells' images read
 * while earlier wells compute, one pipeline run per site stack (`[z, Y, X]` of the pipeline's
 * channel at the first time point). A well's outputs are written into a folder of its own temporary
 * name (`wells/<well>.<unique>.partial/`) and renamed to `wells/<well>/` when complete, so an
 * interrupted run leaves nothing half-done, `resume` skips exactly the finished wells, and two
 * writers of one well (a queue job retried or taken over while its first worker still runs) never
 * mix their files: the last rename wins. The queue workers (`queue.ts`) run a well through the same
 * `processWell`.
 */
import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { writeCellCounts, type CellCountResult } from '../analysis.js';
import { overlayPng, readTiff, writeTiff } from '../io.js';
import { concatZ } from '../ops.js';
import type { NDArray } from '../ndarray.js';
import type { Plate, PlateImage } from '../plate.js';
import type { StepTrace } from '../pipeline.js';
import type { LoadedPipeline } from './pipelineFile.js';

/** What a finished well records (`wells/<well>/summary.json`); the report is built from these. */
export interface WellSummary {
  well: string;
  cells: number;
  sites: { site: number; cells: number; overlay: string; labels?: string }[];
  images: number;
  avgCellArea: number;
  avgCellIntensity: number;
  seconds: number;
  /** Per step: name, family, time, and the conversions made (from → to, kind). */
  steps: { name: string; ms: number; conversions: { from: string; to: string; kind: string; ms: number }[] }[];
}

export type RunEvent =
  | { kind: 'start'; wells: number; skipped: string[]; images: number }
  | { kind: 'well'; summary: WellSummary; done: number; total: number; imagesDone: number }
  | { kind: 'error'; well: string; error: unknown };

export interface RunOptions {
  pipeline: LoadedPipeline;
  plate: Plate;
  output: string;
  workers: number;
  wells?: string[];
  resume?: boolean;
  signal?: AbortSignal;
  onEvent?: (e: RunEvent) => void;
}

/** The images of one site of a well, z-ordered: one pipeline run. */
export type SiteImages = { site: number; images: PlateImage[] };
/** What running a well needs: the checked pipeline, the output folder, an optional abort signal. */
export type WellContext = Pick<RunOptions, 'pipeline' | 'output' | 'signal'>;
type SiteStack = { site: number; stack: NDArray };

/** The pipeline's channel in the plate (the first channel unless the pipeline names one). */
export function plateChannel(pipeline: LoadedPipeline, plate: Plate): number {
  const channel = pipeline.spec.channel ?? plate.channels[0]!;
  if (!plate.channels.includes(channel)) throw new Error(`channel ${channel} is not in the plate (channels: ${plate.channels.join(', ')})`);
  return channel;
}

/** A well's site groups: its images of `channel` at the first time point, by site. */
export function siteGroups(plate: Plate, well: string, channel: number): SiteImages[] {
  const t = plate.timepoints[0];
  const mine = plate.images.filter((i) => i.well === well && i.channel === channel && i.timepoint === t);
  return plate.sites.map((site) => ({ site, images: mine.filter((i) => i.site === site).sort((a, b) => a.z - b.z) })).filter((g) => g.images.length);
}

/** Reads a site's z planes and joins them into one `[z, Y, X]` stack. */
async function readSite(g: SiteImages): Promise<NDArray> {
  const planes = await Promise.all(g.images.map((i) => readTiff(i.path)));
  if (planes.length === 1) return planes[0]!.array;
  const joined = await concatZ(planes.map((p) => p.array));
  for (const p of planes) p.array.dispose();
  return joined;
}

const mean = (xs: number[]): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);

function stepRecords(steps: StepTrace[], spec: LoadedPipeline['spec']): WellSummary['steps'] {
  return steps.map((s) => ({
    name: `${s.stepName} (${spec.steps[s.stepIndex]?.family ?? '?'})`,
    ms: s.totalMs,
    conversions: s.conversions.map((c) => ({ from: c.from, to: c.to, kind: c.kind, ms: c.ms })),
  }));
}

/** Reads every site of a well. */
function readWell(groups: SiteImages[]): Promise<SiteStack[]> {
  return Promise.all(groups.map(async (g) => ({ site: g.site, stack: await readSite(g) })));
}

/**
 * Runs one well — reads its sites (or takes the stacks already being read), runs the pipeline per
 * site, writes the outputs atomically — and disposes the stacks. The one way a well is run, by a
 * local run and by a queue worker alike.
 */
export async function processWell(o: WellContext, well: string, groups: SiteImages[], stacksP: Promise<SiteStack[]> = readWell(groups)): Promise<WellSummary> {
  let stacks: SiteStack[] = [];
  try {
    stacks = await stacksP;
    const tmp = join(o.output, 'wells', `${well}.${randomBytes(6).toString('hex')}.partial`);
    try {
      return await computeWell(o, well, stacks, groups.reduce((a, g) => a + g.images.length, 0), tmp);
    } catch (e) {
      await rm(tmp, { recursive: true, force: true });
      throw e;
    }
  } finally {
    for (const s of stacks) s.stack.dispose();
  }
}

/** Removes the temporary folders that killed processes left behind (call when no well is being written). */
export async function sweepPartials(output: string): Promise<void> {
  const dir = join(output, 'wells');
  const names = await readdir(dir).catch(() => [] as string[]);
  await Promise.all(names.filter((n) => n.endsWith('.partial')).map((n) => rm(join(dir, n), { recursive: true, force: true })));
}

/** Replaces `final` by `tmp`; a concurrent writer of the same well renaming in between is retried over. */
async function replaceDir(tmp: string, final: string): Promise<void> {
  for (let i = 0; ; i++) {
    await rm(final, { recursive: true, force: true });
    try {
      await rename(tmp, final);
      return;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (i >= 4 || (code !== 'ENOTEMPTY' && code !== 'EEXIST')) throw e;
    }
  }
}

async function computeWell(o: WellContext, well: string, stacks: SiteStack[], images: number, tmp: string): Promise<WellSummary> {
  const t0 = performance.now();
  await mkdir(tmp, { recursive: true });
  const all: CellCountResult[] = [];
  const sites: WellSummary['sites'] = [];
  let steps: WellSummary['steps'] = [];
  for (const { site, stack } of stacks) {
    o.signal?.throwIfAborted();
    const r = await o.pipeline.build().run(stack, { signal: o.signal, gpuId: o.pipeline.gpuId });
    const tail = r.specialOutputs[o.pipeline.spec.steps[o.pipeline.countStep]!.name] ?? [];
    const results = tail[0] as CellCountResult[];
    const masks = tail[1] as NDArray | null | undefined;
    const cells = results.reduce((a, x) => a + x.cellCount, 0);
    for (const x of results) all.push({ ...x, sliceIndex: all.length });
    const circles = results[0]!.positions.map(([x, y], i) => ({ x, y, r: Math.sqrt(results[0]!.areas[i]! / Math.PI) }));
    const overlay = `overlay_s${site}.png`;
    await writeFile(join(tmp, overlay), await overlayPng(stack, 0, circles));
    const entry: WellSummary['sites'][number] = { site, cells, overlay };
    if (masks) {
      entry.labels = `labels_s${site}.tif`;
      await writeTiff(join(tmp, entry.labels), masks, { compression: 'deflate' });
      masks.dispose();
    }
    sites.push(entry);
    (r.output as { dispose?: () => void }).dispose?.();
    steps = steps.length === 0 ? stepRecords(r.trace.steps, o.pipeline.spec) : steps.map((s, i) => ({ ...s, ms: s.ms + (r.trace.steps[i]?.totalMs ?? 0) }));
  }
  await writeCellCounts(all, join(tmp, 'cell_counts'));
  const summary: WellSummary = {
    well,
    cells: sites.reduce((a, s) => a + s.cells, 0),
    sites,
    images,
    avgCellArea: mean(all.flatMap((r) => r.areas)),
    avgCellIntensity: mean(all.flatMap((r) => r.intensities)),
    seconds: (performance.now() - t0) / 1000,
    steps,
  };
  await writeFile(join(tmp, 'summary.json'), JSON.stringify(summary, null, 2));
  o.signal?.throwIfAborted();
  await replaceDir(tmp, join(o.output, 'wells', well));
  return summary;
}

/** Summaries of wells a previous run finished (for `resume` and the report). */
export async function finishedWells(output: string, wells: string[]): Promise<Map<string, WellSummary>> {
  const done = new Map<string, WellSummary>();
  for (const w of wells) {
    const p = join(output, 'wells', w, 'summary.json');
    if (existsSync(p)) done.set(w, JSON.parse(await readFile(p, 'utf8')) as WellSummary);
  }
  return done;
}

/**
 * Runs every selected well. Resolves to the summaries of all finished wells (earlier runs'
 * included when resuming); rejects with the abort reason when `signal` fires (finished wells stay).
 */
export async function runPlate(o: RunOptions): Promise<Map<string, WellSummary>> {
  const channel = plateChannel(o.pipeline, o.plate);
  const selected = o.wells ?? o.plate.wells;
  const previous = o.resume ? await finishedWells(o.output, selected) : new Map<string, WellSummary>();
  const todo = selected.filter((w) => !previous.has(w));
  const groups = new Map(todo.map((w) => [w, siteGroups(o.plate, w, channel)]));
  const images = [...groups.values()].reduce((a, g) => a + g.reduce((b, s) => b + s.images.length, 0), 0);
  o.onEvent?.({ kind: 'start', wells: todo.length, skipped: [...previous.keys()], images });
  await mkdir(join(o.output, 'wells'), { recursive: true });

  // Read-ahead: reading well i + workers starts when well i starts computing.
  const reads = new Map<number, Promise<SiteStack[]>>();
  const read = (i: number) => {
    if (i < todo.length && !reads.has(i)) {
      const p = readWell(groups.get(todo[i]!)!);
      p.catch(() => undefined); // observed when its well runs
      reads.set(i, p);
    }
    return reads.get(i);
  };
  const results = new Map(previous);
  let next = 0;
  let done = 0;
  let imagesDone = 0;
  let failure: unknown;
  const worker = async () => {
    while (next < todo.length && failure === undefined && !o.signal?.aborted) {
      const i = next++;
      const well = todo[i]!;
      const stacksP = read(i)!;
      read(i + o.workers);
      try {
        const summary = await processWell(o, well, groups.get(well)!, stacksP);
        results.set(well, summary);
        imagesDone += summary.images;
        o.onEvent?.({ kind: 'well', summary, done: ++done, total: todo.length, imagesDone });
      } catch (e) {
        if (!o.signal?.aborted) {
          failure ??= e;
          o.onEvent?.({ kind: 'error', well, error: e });
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(o.workers, todo.length)) }, worker));
  // Stacks read ahead for wells that never ran (abort, failure).
  for (const [i, p] of reads) if (i >= next) void p.then((s) => s.forEach((x) => x.stack.dispose()), () => undefined);
  await Promise.all([...reads.values()].map((p) => p.catch(() => undefined)));
  o.signal?.throwIfAborted();
  if (failure !== undefined) throw failure;
  return results;
}
