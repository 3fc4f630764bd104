/**
 * Plates beyond one machine (DESIGN §15): a run sharded by well over BullMQ on Redis.
 *
 * - `runPlateOnQueue` (the submitting `stackbridge run … --queue`) creates a queue named for this run
 *   (`stackbridge-<12 hex>`, so concurrent runs never mix), adds one job per well — the checked pipeline,
 *   the well's image paths, the shared output folder — announces the queue in the Redis set
 *   `stackbridge:runs`, and waits on the queue's events, emitting the same `RunEvent`s as a local run.
 * - `runWorker` (`stackbridge worker --queue`) watches `stackbridge:runs`, runs a BullMQ `Worker` on every
 *   announced queue and each well through `processWell`, the code path of a local run; the outputs go to a
 *   temporary folder renamed into place, so a retried or taken-over well overwrites its own outputs.
 * - Failed jobs retry with exponential backoff up to `attempts`; a killed worker's job is moved back to
 *   waiting by BullMQ's stalled-job check once its lock expires; SIGTERM closes the workers, which
 *   finish their active jobs first.
 * - Both sides watch Redis with a client of their own (a PING every half second) and give up with one line
 *   after `redisTimeoutMs` without an answer; ioredis would otherwise reconnect forever. `--resume`
 *   (finished wells are skipped from the output folder, not from Redis) then finishes the run on a fresh
 *   queue, whatever Redis kept.
 */
import { Queue, QueueEvents, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { createRequire } from 'node:module';
import { preparePipeline, type LoadedPipeline } from './pipelineFile.js';
import { finishedWells, plateChannel, processWell, siteGroups, type RunOptions, type SiteImages, type WellSummary } from './runner.js';

const pkg = createRequire(import.meta.url)('../../package.json') as { version: string };

/** The Redis set of queue names with a run in progress (what workers watch). */
export const RUNS_KEY = 'stackbridge:runs';
/** Where the submitting process records its queue in the output folder (removed when the run ends). */
const RUN_FILE = '.stackbridge-queue.json';

/** One job: everything a worker needs to run a well, paths absolute on the shared storage. */
export interface WellJob {
  version: string;
  well: string;
  /** The checked pipeline (families as the run's `--device` rewrote them) and where it came from. */
  pipeline: LoadedPipeline['spec'];
  source: string;
  device?: string;
  output: string;
  sites: SiteImages[];
}

export interface RedisSettings {
  /** `redis://host:port[/db]` (or `rediss://`). */
  url: string;
  /** Give up after this long without an answer from Redis. */
  redisTimeoutMs: number;
}

/** A one-line error about the queue or Redis (printed as `stackbridge: …`, exit 1). */
export class QueueError extends Error {}

const redactUrl = (url: string): string => url.replace(/\/\/[^@/]*@/, '//***@');

/** ioredis options for BullMQ's connections: reconnect quickly; the watchdog bounds how long. */
function connection(s: RedisSettings) {
  return { url: s.url, maxRetriesPerRequest: null, retryStrategy: () => 250, skipVersionCheck: false };
}

/**
 * A Redis client of our own that PINGs every half second: `lost` rejects once no PING succeeded for
 * `redisTimeoutMs` (Redis stopped, unreachable, or never reached), with one line saying so.
 */
class RedisWatch {
  readonly client: Redis;
  readonly lost: Promise<never>;
  private timer: NodeJS.Timeout;
  private lastError = '';
  private ok = false;
  constructor(private s: RedisSettings) {
    this.client = new Redis(s.url, { enableOfflineQueue: false, maxRetriesPerRequest: 1, retryStrategy: () => 250, connectTimeout: Math.min(5000, s.redisTimeoutMs), lazyConnect: false });
    this.client.on('error', (e: Error) => {
      this.lastError = e.message;
    });
    let lastOk = Date.now();
    let fail: (e: Error) => void = () => undefined;
    this.lost = new Promise<never>((_, reject) => {
      fail = reject;
    });
    this.lost.catch(() => undefined);
    let pinging = false;
    this.timer = setInterval(() => {
      if (Date.now() - lastOk > s.redisTimeoutMs) {
        clearInterval(this.timer);
        const why = this.lastError ? ` (${this.lastError})` : '';
        fail(new QueueError(`${this.ok ? 'lost Redis at' : 'cannot reach Redis at'} ${redactUrl(s.url)}: no answer for ${(s.redisTimeoutMs / 1000).toFixed(0)} s${why}`));
        return;
      }
      if (pinging) return;
      pinging = true;
      this.client
        .ping()
        .then(() => {
          lastOk = Date.now();
          this.ok = true;
        })
        .catch((e: Error) => {
          this.lastError = e.message;
        })
        .finally(() => {
          pinging = false;
        });
    }, 500);
  }
  /** Resolves once Redis answers (rejects like `lost` if it never does). */
  async ready(): Promise<void> {
    await Promise.race([this.client.ping(), this.lost]).catch(async (e) => {
      if (e instanceof QueueError) throw e;
      // Not connected yet: wait for the first PING the timer gets through.
      await Promise.race([
        new Promise<void>((r) => {
          const t = setInterval(() => {
            if (this.ok) {
              clearInterval(t);
              r();
            }
          }, 100);
          this.lost.catch(() => clearInterval(t));
        }),
        this.lost,
      ]);
    });
  }
  stop(): void {
    clearInterval(this.timer);
    this.client.disconnect();
  }
}

/** Connection errors, reported once by the watchdog rather than by every BullMQ client. */
const isConnectionError = (e: Error): boolean => /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|ENOTFOUND|EAI_AGAIN|Connection is closed|Stream isn't writeable|enableOfflineQueue|max retries|connect/i.test(e.message);

export interface QueueRunOptions extends RunOptions, RedisSettings {
  /** Tries per well before the run reports it failed. */
  attempts: number;
  /** First retry delay; doubles with each try. */
  backoffMs: number;
  /** The run's `--device` (sent with the jobs; a worker's own `--device` overrides it). */
  device?: string;
  /** The pipeline file (named in workers' errors). */
  source: string;
}

/** Forgets an earlier queue of this output folder (a run resumed after Redis loss, or re-run). */
async function retirePrevious(o: QueueRunOptions, watch: RedisWatch): Promise<void> {
  let name: string;
  try {
    name = (JSON.parse(await readFile(join(o.output, RUN_FILE), 'utf8')) as { queue: string }).queue;
  } catch {
    return;
  }
  await watch.client.srem(RUNS_KEY, name);
  const old = new Queue(name, { connection: connection(o) });
  old.on('error', () => undefined);
  try {
    await old.obliterate({ force: true });
  } finally {
    await old.close();
  }
}

/**
 * Runs the plate's wells as queue jobs and waits for them. Resolves to the summaries of every finished
 * well (earlier runs' included when resuming), like `runPlate`; rejects when a well fails all its tries
 * (with the worker's error), when Redis is lost, or with the abort reason when `signal` fires.
 */
export async function runPlateOnQueue(o: QueueRunOptions): Promise<Map<string, WellSummary>> {
  const output = resolve(o.output);
  const channel = plateChannel(o.pipeline, o.plate);
  const selected = o.wells ?? o.plate.wells;
  const previous = o.resume ? await finishedWells(output, selected) : new Map<string, WellSummary>();
  const todo = selected.filter((w) => !previous.has(w));
  const groups = new Map(todo.map((w) => [w, siteGroups(o.plate, w, channel).map((g) => ({ site: g.site, images: g.images.map((i) => ({ ...i, path: resolve(i.path) })) }))]));
  const images = [...groups.values()].reduce((a, g) => a + g.reduce((b, s) => b + s.images.length, 0), 0);
  await mkdir(join(output, 'wells'), { recursive: true });

  const watch = new RedisWatch(o);
  let lost = false;
  watch.lost.catch(() => {
    lost = true;
  });
  const name = `stackbridge-${randomBytes(6).toString('hex')}`;
  let queue: Queue | undefined;
  let events: QueueEvents | undefined;
  const results = new Map(previous);
  // Every wait on Redis ends when the watchdog gives up (BullMQ's own commands would wait for ever).
  const guard = <T>(p: Promise<T>): Promise<T> => Promise.race([p, watch.lost]);
  try {
    await watch.ready();
    await guard(retirePrevious(o, watch));
    o.onEvent?.({ kind: 'start', wells: todo.length, skipped: [...previous.keys()], images });
    if (todo.length === 0) return results;
    queue = new Queue(name, { connection: connection(o) });
    events = new QueueEvents(name, { connection: connection(o) });
    // The watchdog reports Redis loss, once.
    queue.on('error', () => undefined);
    events.on('error', () => undefined);
    await guard(Promise.all([queue.waitUntilReady(), events.waitUntilReady()]));
    const q = queue;
    const finished = new Promise<void>((done, reject) => {
      let count = 0;
      let imagesDone = 0;
      events!.on('completed', ({ jobId, returnvalue }) => {
        const summary = (typeof returnvalue === 'string' ? JSON.parse(returnvalue) : returnvalue) as WellSummary;
        if (results.has(jobId)) return; // an event seen twice
        results.set(jobId, summary);
        imagesDone += summary.images;
        o.onEvent?.({ kind: 'well', summary, done: ++count, total: todo.length, imagesDone });
        if (count === todo.length) done();
      });
      // 'failed' is emitted once a job has no tries left (a retry is 'delayed' or 'waiting' instead).
      events!.on('failed', ({ jobId, failedReason }) => {
        void q.getJob(jobId).then(
          (job) => {
            const error = new QueueError(`well ${jobId} failed after ${job?.attemptsMade ?? '?'} attempt(s): ${failedReason}`);
            o.onEvent?.({ kind: 'error', well: jobId, error });
            reject(error);
          },
          (e: Error) => reject(e),
        );
      });
    });
    finished.catch(() => undefined);
    const abort = new Promise<never>((_, reject) => {
      if (o.signal?.aborted) reject(o.signal.reason);
      o.signal?.addEventListener('abort', () => reject(o.signal!.reason), { once: true });
    });
    abort.catch(() => undefined);
    await writeFile(join(output, RUN_FILE), JSON.stringify({ queue: name, url: redactUrl(o.url) }) + '\n');
    await guard(q.addBulk(
      todo.map((well) => ({
        name: 'well',
        data: { version: pkg.version, well, pipeline: o.pipeline.spec, source: o.source, device: o.device, output, sites: groups.get(well)! } satisfies WellJob,
        opts: { jobId: well, attempts: o.attempts, backoff: { type: 'exponential', delay: o.backoffMs }, removeOnComplete: false, removeOnFail: false },
      })),
    ));
    await guard(watch.client.sadd(RUNS_KEY, name));
    // Redis restarted within the timeout without its data: the jobs are gone, nothing would finish.
    const vanished = new Promise<never>((_, reject) => {
      const t = setInterval(() => {
        q.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed').then(
          (c) => {
            if (Object.values(c).reduce((a, b) => a + b, 0) < todo.length) {
              clearInterval(t);
              reject(new QueueError(`the jobs of queue ${name} are gone from Redis (restarted without its data?): run again with --resume`));
            }
          },
          () => undefined,
        );
      }, 2000);
      void finished.finally(() => clearInterval(t)).catch(() => undefined);
      watch.lost.catch(() => clearInterval(t));
      abort.catch(() => clearInterval(t));
    });
    vanished.catch(() => undefined);
    await Promise.race([finished, watch.lost, abort, vanished]);
    return results;
  } catch (e) {
    if (e instanceof QueueError && lost) throw new QueueError(`${e.message}; run again with --resume once it is back`);
    throw e;
  } finally {
    if (!lost) {
      // The run is over (done, failed or interrupted): workers stop taking its jobs.
      await watch.client.srem(RUNS_KEY, name).catch(() => undefined);
      await queue?.obliterate({ force: true }).catch(() => undefined);
      await Promise.all([events?.close(), queue?.close()]).catch(() => undefined);
      await rm(join(output, RUN_FILE), { force: true });
    }
    // With Redis gone, closing would wait on it: the caller exits instead.
    watch.stop();
  }
}

export interface WorkerOptions extends RedisSettings {
  /** Overrides the run's `--device` for the jobs this worker runs. */
  device?: string;
  /** Jobs run at once (per run in progress). */
  concurrency: number;
  /** BullMQ lock: a job whose worker stops renewing it for this long is taken over. */
  lockDurationMs: number;
  /** How often this worker looks for stalled jobs (of any worker). */
  stalledIntervalMs: number;
  /** How often `stackbridge:runs` is read for new and finished runs. */
  pollMs?: number;
  log?: (line: string) => void;
}

/** Runs jobs until SIGTERM/SIGINT (active jobs finish first) or until Redis is lost (rejects). */
export async function runWorker(o: WorkerOptions): Promise<void> {
  const log = o.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const me = `${hostname()}:${process.pid}`;
  const watch = new RedisWatch(o);
  const pipelines = new Map<string, Promise<LoadedPipeline>>();
  const pipelineFor = (d: WellJob, device: string | undefined): Promise<LoadedPipeline> => {
    const key = JSON.stringify([d.pipeline, device]);
    let p = pipelines.get(key);
    if (!p) {
      p = preparePipeline(d.pipeline, d.source, device);
      p.catch(() => pipelines.delete(key));
      pipelines.set(key, p);
    }
    return p;
  };
  const processor = async (job: Job<WellJob, WellSummary>): Promise<WellSummary> => {
    const d = job.data;
    const attempt = `attempt ${job.attemptsMade + 1}/${job.opts.attempts ?? 1}`;
    log(`worker ${me}: taking well ${d.well} of ${job.queueName} (${attempt})`);
    try {
      const pipeline = await pipelineFor(d, o.device ?? d.device);
      const summary = await processWell({ pipeline, output: d.output }, d.well, d.sites);
      log(`worker ${me}: well ${d.well} done: ${summary.cells} cells (${summary.images} images, ${summary.seconds.toFixed(2)} s)`);
      return summary;
    } catch (e) {
      const err = e as { code?: string; message?: string };
      const message = `${err.code ? `[${err.code}] ` : ''}${err.message ?? String(e)}`;
      log(`worker ${me}: well ${d.well} ${attempt} failed: ${message}`);
      throw new Error(message);
    }
  };
  const workers = new Map<string, Worker<WellJob, WellSummary>>();
  const retired = new Set<string>();
  const start = (name: string) => {
    const w = new Worker<WellJob, WellSummary>(name, processor, {
      connection: connection(o),
      concurrency: o.concurrency,
      lockDuration: o.lockDurationMs,
      stalledInterval: o.stalledIntervalMs,
      maxStalledCount: 2,
    });
    w.on('error', (e: Error) => {
      if (isConnectionError(e)) return;
      const job = /Missing (?:key|lock) for job (\S+?)\.? /.exec(`${e.message} `)?.[1];
      // The run ended (finished, failed or interrupted) while this worker ran one of its wells.
      if (!job) return log(`worker ${me}: ${name}: ${e.message}`);
      void watch.client.sismember(RUNS_KEY, name).then(
        (running) => {
          if (running) log(`worker ${me}: ${name}: ${e.message}`);
          else if (!retired.has(`${name}/${job}`)) log(`worker ${me}: run ${name} ended while well ${job} ran here (its outputs are written; --resume keeps them)`);
          retired.add(`${name}/${job}`);
        },
        () => undefined,
      );
    });
    workers.set(name, w);
    log(`worker ${me}: joined run ${name}`);
  };
  let stopping = false;
  const poll = async () => {
    const names = new Set(await watch.client.smembers(RUNS_KEY));
    if (stopping) return;
    for (const n of names) if (!workers.has(n)) start(n);
    for (const [n, w] of workers) {
      if (!names.has(n)) {
        workers.delete(n);
        void w.close().catch(() => undefined);
      }
    }
  };
  let stop: () => void = () => undefined;
  const stopped = new Promise<void>((r) => {
    stop = r;
  });
  const onSignal = (sig: NodeJS.Signals) => {
    if (stopping) {
      log(`worker ${me}: ${sig} again: stopping at once; another worker takes its well(s) over once the lock expires`);
      process.exit(130);
    }
    stopping = true;
    log(`worker ${me}: ${sig}: finishing the active job(s), taking no more`);
    stop();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  try {
    await watch.ready();
    log(`worker ${me}: waiting for runs on ${redactUrl(o.url)} (concurrency ${o.concurrency}${o.device ? `, device ${o.device}` : ''})`);
    const timer = setInterval(() => void poll().catch(() => undefined), o.pollMs ?? 500);
    await poll().catch(() => undefined);
    await Promise.race([stopped, watch.lost]).finally(() => clearInterval(timer));
    await Promise.race([Promise.all([...workers.values()].map((w) => w.close())), watch.lost]);
    log(`worker ${me}: stopped`);
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    watch.stop();
  }
}
