#!/usr/bin/env node
/**
 * The `stackbridge` command (DESIGN §13, §15): `run <pipeline.json> --input --output [--queue]`,
 * `worker --queue`, `demo`, `info`.
 * Errors print as one line (`stackbridge: [CODE] message`) and exit 1; Ctrl-C aborts the run at
 * the next step boundary, keeps finished wells, removes the unfinished ones and exits 130 (a
 * second Ctrl-C exits at once).
 */
import { Command, InvalidArgumentError as CommanderArgumentError, Option } from 'commander';
import cliProgress from 'cli-progress';
import { createRequire } from 'node:module';
import { realpathSync } from 'node:fs';
import { mkdtemp, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { cpuFeatures } from '../cpu.js';
import { cudaRuntime, devices } from '../devices.js';
import { compareWells, readPlate, wellId, type Plate } from '../plate.js';
import { loadPipelineFile, type LoadedPipeline } from './pipelineFile.js';
import { writeReport } from './report.js';
import { runPlate, sweepPartials, type RunEvent, type WellSummary } from './runner.js';
import { writeDemoPlate, DEMO_SITES } from './demoPlate.js';

const require = createRequire(import.meta.url);
const pkg = require('../../package.json') as { version: string };
const here = dirname(fileURLToPath(import.meta.url));
/** The embedded default pipeline (shipped as pipelines/default.json). */
export const DEFAULT_PIPELINE = join(here, '..', '..', 'pipelines', 'default.json');

interface RunFlags {
  input: string;
  output: string;
  /** The pipeline file, named in queue workers' errors. */
  source?: string;
  device?: string;
  workers: number;
  wells?: string[];
  resume?: boolean;
  layout: string;
  allowMissing?: boolean;
  queue?: string;
  attempts: number;
  backoff: number;
  redisTimeout: number;
}

interface WorkerFlags {
  queue: string;
  device?: string;
  concurrency: number;
  lockDuration: number;
  stalledInterval: number;
  redisTimeout: number;
}

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new CommanderArgumentError('must be a positive integer');
  return n;
}

function wellList(v: string): string[] {
  return v.split(',').map((w) => {
    const m = /^\s*([A-Za-z]+)0*(\d+)\s*$/.exec(w);
    if (!m) throw new CommanderArgumentError(`not a well id: ${JSON.stringify(w)}`);
    return wellId(m[1]!, Number(m[2]));
  });
}

function redisUrl(v: string): string {
  if (!/^rediss?:\/\/[^/]+/.test(v)) throw new CommanderArgumentError('expected redis://host:port (or rediss://)');
  return v;
}

function positiveNumber(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new CommanderArgumentError('must be a positive number');
  return n;
}

function device(v: string): string {
  if (!/^(cpu|opencl:\d+|cuda:\d+)$/.test(v)) throw new CommanderArgumentError('expected cpu, opencl:N or cuda:N');
  return v;
}

/** A plate from a folder, or a one-well plate from a single TIFF file. */
async function inputPlate(input: string, layout: string, allowMissing: boolean): Promise<Plate> {
  const st = await stat(input).catch(() => null);
  if (!st) throw new Error(`--input ${input}: no such file or folder`);
  if (st.isDirectory()) return readPlate(input, { layout, allowMissing });
  const img = { path: input, well: 'A01', site: 1, channel: 1, z: 1, timepoint: 1 };
  return { root: dirname(input), layout: 'pattern', wells: ['A01'], sites: [1], channels: [1], zs: [1], timepoints: [1], images: [img], channelNames: {}, missing: [], duplicates: [] };
}

/** Progress: a bar on a TTY (wells, images/s, ETA), one line per well otherwise. */
function progressReporter(): { onEvent: (e: RunEvent) => void; stop: () => void } {
  const tty = process.stderr.isTTY;
  let bar: cliProgress.SingleBar | null = null;
  let t0 = performance.now();
  const onEvent = (e: RunEvent) => {
    if (e.kind === 'start') {
      t0 = performance.now();
      if (e.skipped.length) process.stderr.write(`resuming: ${e.skipped.length} finished well(s) skipped\n`);
      if (tty && e.wells > 0) {
        bar = new cliProgress.SingleBar(
          { format: 'wells {bar} {value}/{total} | {rate} images/s | ETA {eta_formatted} | {last}', stream: process.stderr, hideCursor: true, clearOnComplete: false },
          cliProgress.Presets.shades_classic,
        );
        bar.start(e.wells, 0, { rate: '0.0', last: '' });
      }
    } else if (e.kind === 'well') {
      const rate = (e.imagesDone / ((performance.now() - t0) / 1000)).toFixed(1);
      if (bar) bar.update(e.done, { rate, last: `${e.summary.well}: ${e.summary.cells} cells` });
      else process.stderr.write(`well ${e.summary.well}: ${e.summary.cells} cells (${e.summary.images} images, ${e.summary.seconds.toFixed(2)} s) [${e.done}/${e.total}, ${rate} images/s]\n`);
    } else {
      bar?.stop();
      bar = null;
    }
  };
  return { onEvent, stop: () => bar?.stop() };
}

/** Runs the pipeline over the plate, writes the report; resolves to the summaries and report path. */
export async function runCommand(pipeline: LoadedPipeline, flags: RunFlags): Promise<{ summaries: Map<string, WellSummary>; report: string; wallSeconds: number; interrupted: boolean }> {
  const t0 = performance.now();
  const plate = await inputPlate(flags.input, flags.layout, flags.allowMissing ?? false);
  for (const m of plate.missing) process.stderr.write(`warning: missing image ${m}\n`);
  for (const d of plate.duplicates) process.stderr.write(`warning: duplicate image ${d}\n`);
  const unknown = (flags.wells ?? []).filter((w) => !plate.wells.includes(w));
  if (unknown.length) throw new Error(`--wells: ${unknown.join(', ')} not in the plate (wells: ${plate.wells.join(', ')})`);
  const ac = new AbortController();
  let interrupts = 0;
  const onSigint = () => {
    if (++interrupts > 1) process.exit(130);
    process.stderr.write('\ninterrupted: stopping after the current steps (Ctrl-C again to quit at once)\n');
    ac.abort(new Error('interrupted'));
  };
  process.on('SIGINT', onSigint);
  const progress = progressReporter();
  let summaries: Map<string, WellSummary>;
  let interrupted = false;
  try {
    const o = { pipeline, plate, output: flags.output, workers: flags.workers, wells: flags.wells?.sort(compareWells), resume: flags.resume, signal: ac.signal, onEvent: progress.onEvent };
    if (flags.queue) {
      const { runPlateOnQueue } = await import('./queue.js');
      summaries = await runPlateOnQueue({ ...o, url: flags.queue, redisTimeoutMs: flags.redisTimeout * 1000, attempts: flags.attempts, backoffMs: flags.backoff, device: flags.device, source: flags.source ?? 'pipeline' });
    } else summaries = await runPlate(o);
    // Every well is finished: what killed processes left half-written goes.
    await sweepPartials(flags.output);
  } catch (e) {
    if (!ac.signal.aborted) throw e;
    interrupted = true;
    const { finishedWells } = await import('./runner.js');
    summaries = await finishedWells(flags.output, plate.wells);
  } finally {
    progress.stop();
    process.off('SIGINT', onSigint);
  }
  const wallSeconds = (performance.now() - t0) / 1000;
  const report = await writeReport(flags.output, summaries, {
    title: `stackbridge report — ${basename(resolve(flags.input))}`,
    pipelineName: pipeline.spec.name ?? 'pipeline',
    input: flags.input,
    device: flags.device ?? 'as the pipeline file says',
    wallSeconds,
    interrupted,
    plate,
  });
  return { summaries, report, wallSeconds, interrupted };
}

function printInfo(): void {
  const ds = devices();
  console.log(`stackbridge ${pkg.version} (node ${process.version}, ${process.platform}-${process.arch})`);
  console.log('devices:');
  for (const d of ds) console.log(`  ${d.id.padEnd(10)} ${d.kind.padEnd(7)} ${d.name}${d.totalMemory ? `  ${(d.totalMemory / 2 ** 30).toFixed(1)} GiB` : ''}`);
  const cl = ds.filter((d) => d.kind === 'opencl');
  console.log('runtimes:');
  console.log(`  OpenCL   ${cl.length ? `${cl.length} device(s)` : 'no devices (install an ICD, e.g. pocl-opencl-icd)'}`);
  const cuda = cudaRuntime();
  const driver = cuda.driverVersion !== undefined ? `driver ${Math.floor(cuda.driverVersion / 1000)}.${(cuda.driverVersion % 1000) / 10}, ${cuda.devices} device(s)` : cuda.driverUnavailable;
  console.log(`  CUDA     ${driver}; arrays not in this build yet (cupy answers GpuUnavailableError)`);
  console.log(`  NVRTC    ${cuda.nvrtcVersion ?? cuda.nvrtcUnavailable}`);
  const cpu = cpuFeatures();
  console.log(`  CPU      kernels at ${cpu.level} (detected ${cpu.detected}, binary built for ${cpu.compiledFor}${cpu.requested ? `, capped by STACKBRIDGE_CPU_LEVEL=${cpu.requested}` : ''})`);
  let tf = 'not installed (optional peer)';
  try {
    tf = `installed ${(require('@tensorflow/tfjs/package.json') as { version: string }).version}`;
  } catch {
    /* optional */
  }
  console.log(`  tfjs     ${tf}`);
}

function fail(e: unknown): never {
  const err = e as { code?: string; message?: string };
  process.stderr.write(`stackbridge: ${err.code ? `[${err.code}] ` : ''}${err.message ?? String(e)}\n`);
  process.exit(1);
}

function addRunFlags(cmd: Command): Command {
  return cmd
    .addOption(new Option('--device <id>', 'cpu, opencl:N or cuda:N (rewrites the steps\' families)').argParser(device))
    .addOption(new Option('--workers <n>', 'wells run concurrently').argParser(positiveInt).default(2))
    .addOption(new Option('--wells <list>', 'only these wells, e.g. A01,B02').argParser(wellList))
    .option('--resume', 'skip wells a previous run finished')
    .addOption(new Option('--layout <layout>', 'imagexpress, operaphenix, or a regular expression with named groups (well or row+column, site, channel, z, timepoint)').default('imagexpress'))
    .option('--allow-missing', 'run a plate with missing or duplicate images (warned)')
    .addOption(new Option('--queue <redis-url>', 'run the wells as jobs on a BullMQ queue at redis://host:port, for `stackbridge worker`s (the output folder must be shared storage)').argParser(redisUrl))
    .addOption(new Option('--attempts <n>', 'with --queue: tries per well before the run fails').argParser(positiveInt).default(3))
    .addOption(new Option('--backoff <ms>', 'with --queue: delay before the first retry, doubling after each').argParser(positiveInt).default(1000))
    .addOption(new Option('--redis-timeout <s>', 'with --queue: give up after this long without Redis').argParser(positiveNumber).default(10));
}

export function program(): Command {
  const p = new Command('stackbridge').description('OpenHCS-style pipelines on microscopy plates, from Node.js').version(pkg.version);
  addRunFlags(
    p
      .command('run')
      .description('run a pipeline file over a plate folder (or one TIFF)')
      .argument('<pipeline>', 'pipeline JSON file (schema/pipeline.schema.json)')
      .requiredOption('--input <dir|file>', 'plate folder or TIFF file')
      .requiredOption('--output <dir>', 'where per-well outputs, plate.csv and report.html go'),
  ).action(async (file: string, flags: RunFlags) => {
    const pipeline = await loadPipelineFile(file, flags.device);
    const r = await runCommand(pipeline, { ...flags, source: basename(file) });
    console.log(`${r.summaries.size} well(s), ${[...r.summaries.values()].reduce((a, s) => a + s.cells, 0)} cells in ${r.wallSeconds.toFixed(1)} s${r.interrupted ? ' (interrupted: run again with --resume)' : ''}`);
    console.log(`report: ${pathToFileURL(resolve(r.report)).href}`);
    if (r.interrupted) process.exitCode = 130;
  });
  addRunFlags(
    p
      .command('demo')
      .description('write a small synthetic ImageXpress plate with known nuclei and run the default pipeline on it')
      .option('--output <dir>', 'folder for the plate and the results (default: a new temporary folder)'),
  ).action(async (flags: Omit<RunFlags, 'input' | 'output'> & { output?: string }) => {
    const root = flags.output ?? (await mkdtemp(join(tmpdir(), 'stackbridge-demo-')));
    const input = join(root, 'plate');
    const t0 = performance.now();
    const truth = await writeDemoPlate(input);
    console.log(`demo plate: ${truth.size} wells × ${DEMO_SITES} sites (ImageXpress) in ${input}, written in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const pipeline = await loadPipelineFile(DEFAULT_PIPELINE, flags.device);
    console.log(`pipeline: ${pipeline.spec.steps.map((s) => `${s.name} (${s.family})`).join(' → ')}`);
    const r = await runCommand(pipeline, { ...flags, input, output: join(root, 'results') });
    console.log('\nwell  drawn  counted');
    for (const [w, sites] of truth) console.log(`${w}   ${String(sites.flat().length).padStart(5)}  ${String(r.summaries.get(w)?.cells ?? '-').padStart(7)}`);
    console.log(`\n${r.summaries.size} wells in ${r.wallSeconds.toFixed(1)} s (plate read, pipeline, outputs and report)`);
    console.log(`report: ${pathToFileURL(resolve(r.report)).href}`);
  });
  p.command('worker')
    .description('run the wells of `run --queue` jobs from Redis, until SIGTERM (active jobs finish first)')
    .requiredOption('--queue <redis-url>', 'the runs\' Redis, redis://host:port', redisUrl)
    .addOption(new Option('--device <id>', 'cpu, opencl:N or cuda:N (overrides the run\'s --device on this machine)').argParser(device))
    .addOption(new Option('--concurrency <n>', 'wells run at once').argParser(positiveInt).default(1))
    .addOption(new Option('--lock-duration <ms>', 'a job whose worker stops renewing its lock this long is taken over by another worker').argParser(positiveInt).default(30_000))
    .addOption(new Option('--stalled-interval <ms>', 'how often to look for such stalled jobs').argParser(positiveInt).default(30_000))
    .addOption(new Option('--redis-timeout <s>', 'give up after this long without Redis').argParser(positiveNumber).default(10))
    .action(async (flags: WorkerFlags) => {
      const { runWorker } = await import('./queue.js');
      await runWorker({ url: flags.queue, redisTimeoutMs: flags.redisTimeout * 1000, device: flags.device, concurrency: flags.concurrency, lockDurationMs: flags.lockDuration, stalledIntervalMs: flags.stalledInterval });
      process.exit(0);
    });
  p.command('info')
    .description('devices, runtimes and versions')
    .action(() => printInfo());
  return p;
}

// Run when executed (bin, `node dist/cli/main.js`), not when imported by tests.
if (process.argv[1] && realpathSync(resolve(process.argv[1])) === realpathSync(fileURLToPath(import.meta.url))) {
  program().parseAsync(process.argv).catch(fail);
}
