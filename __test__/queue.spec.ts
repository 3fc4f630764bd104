/**
 * `stackbridge run --queue` and `stackbridge worker` against a real Redis: the test starts
 * `redis-server` itself on 127.0.0.1 at a free port (no persistence) and stops it by PID. Without
 * redis-server the tests skip with the reason, unless STACKBRIDGE_REQUIRE_REDIS=1 (CI), where they fail.
 */
import test, { type ExecutionContext } from 'ava';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeDemoPlate } from '../ts/cli/demoPlate.js';

const BIN = new URL('../dist/cli/main.js', import.meta.url).pathname;
const HAVE_REDIS = spawnSync('redis-server', ['--version'], { encoding: 'utf8' }).status === 0;
const REQUIRE = process.env.STACKBRIDGE_REQUIRE_REDIS === '1';
/** Short locks so a killed worker's job is taken over within seconds. */
const WORKER_FLAGS = ['--lock-duration', '3000', '--stalled-interval', '500', '--redis-timeout', '2'];

function redisAvailable(t: ExecutionContext): boolean {
  if (HAVE_REDIS) return true;
  if (REQUIRE) t.fail('STACKBRIDGE_REQUIRE_REDIS=1 but redis-server is not on PATH (apt-get install redis-server)');
  else {
    t.log('skipped: redis-server is not installed (apt-get install redis-server)');
    t.pass();
  }
  return false;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** A process whose output is kept, with each stderr line's arrival time. */
class Proc {
  stdout = '';
  stderr = '';
  lines: { at: number; text: string }[] = [];
  exit: Promise<{ code: number | null; at: number }>;
  private waiters: { re: RegExp; resolve: () => void }[] = [];
  constructor(readonly child: ChildProcess) {
    let partial = '';
    child.stdout?.on('data', (d: Buffer) => (this.stdout += d));
    child.stderr?.on('data', (d: Buffer) => {
      this.stderr += d;
      partial += d;
      const parts = partial.split('\n');
      partial = parts.pop()!;
      for (const text of parts) this.lines.push({ at: performance.now(), text });
      this.waiters = this.waiters.filter((w) => (w.re.test(this.stderr) ? (w.resolve(), false) : true));
    });
    this.exit = new Promise((r) => child.on('exit', (code) => r({ code, at: performance.now() })));
  }
  /** Resolves when stderr matches `re` (rejects if the process exits first or after `ms`). */
  waitFor(re: RegExp, ms = 60_000): Promise<void> {
    if (re.test(this.stderr)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${re} in:\n${this.stderr}`)), ms);
      this.waiters.push({ re, resolve: () => (clearTimeout(timer), resolve()) });
      void this.exit.then(() => setTimeout(() => reject(new Error(`exited before ${re}:\n${this.stderr}`)), 50));
    });
  }
  /** Resolves to the first stderr line from index `from` on that matches `re`. */
  async nextLine(re: RegExp, from: number, ms = 60_000): Promise<string> {
    for (const t0 = performance.now(); performance.now() - t0 < ms; await new Promise((r) => setTimeout(r, 10))) {
      const hit = this.lines.slice(from).find((l) => re.test(l.text));
      if (hit) return hit.text;
      if (this.child.exitCode !== null) break;
    }
    throw new Error(`no line ${re} after line ${from} in:\n${this.stderr}`);
  }
  kill(sig: NodeJS.Signals): void {
    if (this.child.exitCode === null && this.child.signalCode === null) process.kill(this.child.pid!, sig);
  }
}

const node = (args: string[]) => new Proc(spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] }));

/** redis-server on a free port of 127.0.0.1, ready; stopped by PID at the end of the test. */
async function startRedis(t: ExecutionContext, port?: number): Promise<{ url: string; port: number; proc: Proc }> {
  port ??= await freePort();
  const proc = new Proc(spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] }));
  t.teardown(() => proc.kill('SIGKILL'));
  for (let i = 0; ; i++) {
    const up = await new Promise<boolean>((r) => {
      const s = connect(port, '127.0.0.1', () => (s.end(), r(true)));
      s.on('error', () => r(false));
    });
    if (up) break;
    if (i > 100 || proc.child.exitCode !== null) throw new Error(`redis-server did not start: ${proc.stdout}${proc.stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { url: `redis://127.0.0.1:${port}`, port, proc };
}

async function startWorkers(t: ExecutionContext, url: string, n: number): Promise<Proc[]> {
  const ws = Array.from({ length: n }, () => node(['worker', '--queue', url, ...WORKER_FLAGS]));
  t.teardown(() => ws.forEach((w) => w.kill('SIGKILL')));
  await Promise.all(ws.map((w) => w.waitFor(/waiting for runs/)));
  return ws;
}

// One plate and one single-machine run of it, shared by the tests.
const PIPELINE = {
  name: 'queue test',
  masks: true,
  steps: [
    { name: 'stackPercentileNormalize', family: 'torch', options: { lowPercentile: 1, highPercentile: 99.8 } },
    { name: 'tophat', family: 'jax', options: { selemRadius: 30, downsampleFactor: 2 } },
    { name: 'countCellsSingleChannel', family: 'numpy', options: { detectionMethod: 'watershed' } },
  ],
};
const WELLS = ['A01', 'A02', 'A03', 'A04', 'A05', 'A06', 'B01', 'B02', 'B03'];
let dir = '';
let plate = '';
let pipeline = '';
let local = '';

test.before(async () => {
  if (!HAVE_REDIS) return;
  dir = await mkdtemp(join(tmpdir(), 'sb-queue-'));
  plate = join(dir, 'plate');
  pipeline = join(dir, 'pipeline.json');
  local = join(dir, 'local');
  await writeDemoPlate(plate, 20261203, { wells: WELLS, sites: 3, size: 1024 });
  await writeFile(pipeline, JSON.stringify(PIPELINE));
  const r = spawnSync(process.execPath, [BIN, 'run', pipeline, '--input', plate, '--output', local], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`the local run failed: ${r.stderr}`);
});

test.after.always(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Every output equal to the local run's: bytes, except the timings (seconds, ms) in summaries, plate.csv and the report. */
async function assertSameOutputs(t: ExecutionContext, out: string): Promise<void> {
  t.deepEqual((await readdir(out)).sort(), (await readdir(local)).sort(), 'the same files at the top (no queue bookkeeping left)');
  t.deepEqual((await readdir(join(out, 'wells'))).sort(), WELLS, 'every well, no temporary folder left');
  const untimed = (summary: string) => JSON.stringify(JSON.parse(summary, (k, v: unknown) => (k === 'seconds' || k === 'ms' ? 0 : v)));
  for (const w of WELLS) {
    const files = (await readdir(join(local, 'wells', w))).sort();
    t.deepEqual((await readdir(join(out, 'wells', w))).sort(), files, w);
    for (const f of files) {
      const [a, b] = await Promise.all([readFile(join(local, 'wells', w, f)), readFile(join(out, 'wells', w, f))]);
      if (f === 'summary.json') t.is(untimed(b.toString()), untimed(a.toString()), `${w}/${f}`);
      else t.true(a.equals(b), `${w}/${f} differs`);
    }
  }
  const noSeconds = (csv: string) => csv.split('\n').map((l) => l.split(',').filter((_, i) => i !== 8).join(','));
  const [ca, cb] = await Promise.all([readFile(join(local, 'plate.csv'), 'utf8'), readFile(join(out, 'plate.csv'), 'utf8')]);
  t.deepEqual(noSeconds(cb), noSeconds(ca), 'plate.csv but its seconds column');
  t.is(ca.split('\n').length, WELLS.length + 2);
  const untimedHtml = (html: string) => html.replace(/\d+\.\d+/g, '#');
  const [ra, rb] = await Promise.all([readFile(join(local, 'report.html'), 'utf8'), readFile(join(out, 'report.html'), 'utf8')]);
  t.is(untimedHtml(rb), untimedHtml(ra), 'report.html but its timings');
}

test.serial('a plate over 3 workers, one SIGKILLed holding a job, gives the single-machine outputs', async (t) => {
  if (!redisAvailable(t)) return;
  const { url } = await startRedis(t);
  const [victim, ...others] = await startWorkers(t, url, 3);
  const out = join(dir, 'fleet');
  const t0 = performance.now();
  const run = node(['run', pipeline, '--input', plate, '--output', out, '--queue', url]);
  t.teardown(() => run.kill('SIGKILL'));
  await victim!.waitFor(/taking well/);
  victim!.kill('SIGKILL');
  const taken = /taking well (\w+)/.exec(victim!.stderr)![1]!;
  // SIGTERM on a worker holding a job: it finishes that job, takes no other, and exits 0.
  const [stopper, last] = others as [Proc, Proc];
  const held = /taking well (\w+)/.exec(await stopper.nextLine(/taking well/, stopper.lines.length))![1]!;
  stopper.kill('SIGTERM');
  t.is((await stopper.exit).code, 0, stopper.stderr);
  t.regex(stopper.stderr, new RegExp(`SIGTERM: finishing the active job\\(s\\), taking no more\nworker \\S+: well ${held} done: .*\nworker \\S+: stopped\n$`));
  const { code } = await run.exit;
  t.log(`3 workers, one killed: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  t.is(code, 0, run.stderr);
  t.is((await victim!.exit).code, null, 'the victim died of SIGKILL');
  t.false(new RegExp(`well ${taken} done`).test(victim!.stderr), `the victim finished ${taken} before the kill:\n${victim!.stderr}`);
  t.true(others.some((w) => new RegExp(`taking well ${taken} `).test(w.stderr)), `no worker took ${taken} over:\n${others.map((w) => w.stderr).join('\n')}`);
  t.regex(run.stderr, new RegExp(`^well ${held}: `, 'm'), 'the job finished after SIGTERM counts');
  for (const w of WELLS) t.regex(run.stderr, new RegExp(`^well ${w}: \\d+ cells`, 'm'), 'one progress line per well, as a local run');
  t.regex(run.stdout, /^9 well\(s\), \d+ cells in/m);
  await assertSameOutputs(t, out);
  // SIGTERM on an idle worker: it stops at once.
  last.kill('SIGTERM');
  t.is((await last.exit).code, 0, last.stderr);
  t.regex(last.stderr, /SIGTERM: finishing the active job\(s\), taking no more\n.*stopped\n$/);
});

test.serial('a failing well retries with exponential backoff, then the run fails with the worker\'s error', async (t) => {
  if (!redisAvailable(t)) return;
  const bad = join(dir, 'bad-plate');
  await cp(plate, bad, { recursive: true });
  await writeFile(join(bad, 'TimePoint_1', 'DEMO_A02_s2_w1.tif'), 'not a TIFF at all');
  const localRun = spawnSync(process.execPath, [BIN, 'run', pipeline, '--input', bad, '--output', join(dir, 'bad-local')], { encoding: 'utf8' });
  t.is(localRun.status, 1);
  const localError = /^stackbridge: (.*)$/m.exec(localRun.stderr)![1]!;
  t.regex(localError, /DEMO_A02_s2_w1\.tif/);

  const { url } = await startRedis(t);
  const [worker] = await startWorkers(t, url, 1);
  const run = node(['run', pipeline, '--input', bad, '--output', join(dir, 'bad-queue'), '--queue', url, '--wells', 'A01,A02', '--attempts', '3', '--backoff', '300']);
  const { code } = await run.exit;
  t.is(code, 1, run.stderr);
  const last = run.stderr.trim().split('\n').at(-1)!;
  t.is(last, `stackbridge: well A02 failed after 3 attempt(s): ${localError}`);
  const tries = worker!.lines.filter((l) => /well A02 attempt \d\/3 failed/.test(l.text));
  t.deepEqual(tries.map((l) => /attempt (\d)/.exec(l.text)![1]), ['1', '2', '3'], worker!.stderr);
  const gaps = [tries[1]!.at - tries[0]!.at, tries[2]!.at - tries[1]!.at];
  t.log(`retry gaps: ${gaps.map((g) => g.toFixed(0)).join(', ')} ms (backoff 300 ms, doubling)`);
  t.true(gaps[0]! >= 250, `first retry after ${gaps[0]} ms`);
  t.true(gaps[1]! >= 550, `second retry after ${gaps[1]} ms`);
  t.false(existsSync(join(dir, 'bad-queue', 'report.html')), 'a failed run writes no report, as a local one');
});

test.serial('Redis lost mid-run: one line and a non-zero exit within the timeout, then --resume finishes the plate', async (t) => {
  if (!redisAvailable(t)) return;
  const redis = await startRedis(t);
  const workers = await startWorkers(t, redis.url, 2);
  const out = join(dir, 'lost');
  const run = node(['run', pipeline, '--input', plate, '--output', out, '--queue', redis.url, '--redis-timeout', '2']);
  t.teardown(() => run.kill('SIGKILL'));
  await run.waitFor(/^well \w+: \d+ cells/m);
  const before = [run, ...workers].map((p) => p.lines.length);
  const killedAt = performance.now();
  redis.proc.kill('SIGKILL');
  const ends = await Promise.all([run, ...workers].map((p) => p.exit));
  for (const [i, p] of [run, ...workers].entries()) {
    const who = i === 0 ? 'run' : `worker ${i}`;
    t.is(ends[i]!.code, 1, `${who}: ${p.stderr}`);
    const seconds = (ends[i]!.at - killedAt) / 1000;
    t.true(seconds < 2 + 3, `${who} exited ${seconds.toFixed(1)} s after Redis died`);
    // After the kill: the wells already running may finish, then exactly one line about Redis.
    const after = p.lines.slice(before[i]).map((l) => l.text).filter((l) => !/^(worker \S+: (well \w+ done|taking well)|well \w+: \d+ cells)/.test(l));
    t.is(after.length, 1, `${who}: ${after.join('\n')}`);
    t.regex(after[0] ?? '', new RegExp(`^stackbridge: lost Redis at redis://127\\.0\\.0\\.1:${redis.port}: no answer for 2 s`), who);
  }
  t.regex(run.stderr, /run again with --resume once it is back\n$/);
  const finished = (await readdir(join(out, 'wells'))).filter((w) => !w.endsWith('.partial'));
  t.true(finished.length >= 1 && finished.length < WELLS.length, finished.join());

  // Redis back, empty (no persistence): the queue's state is lost; --resume finishes from the output folder.
  const again = await startRedis(t, redis.port);
  await startWorkers(t, again.url, 2);
  const resumed = node(['run', pipeline, '--input', plate, '--output', out, '--queue', again.url, '--resume']);
  t.teardown(() => resumed.kill('SIGKILL'));
  t.is((await resumed.exit).code, 0, resumed.stderr);
  t.regex(resumed.stderr, new RegExp(`^resuming: ${finished.length} finished well\\(s\\) skipped`, 'm'));
  for (const w of finished) t.false(new RegExp(`^well ${w}:`, 'm').test(resumed.stderr), `${w} was run again`);
  await assertSameOutputs(t, out);
});

test('run --queue and worker refuse a URL that is not redis://', (t) => {
  for (const args of [['worker', '--queue', 'http://x:1'], ['run', 'p.json', '--input', '.', '--output', '.', '--queue', 'localhost:6379']]) {
    const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });
    t.is(r.status, 1);
    t.regex(r.stderr, /expected redis:\/\/host:port/);
  }
});

test('a worker with no Redis to reach gives up with one line', async (t) => {
  const port = await freePort();
  const t0 = performance.now();
  const w = node(['worker', '--queue', `redis://127.0.0.1:${port}`, '--redis-timeout', '1']);
  const { code } = await w.exit;
  t.is(code, 1);
  t.true(performance.now() - t0 < 10_000);
  t.regex(w.stderr, new RegExp(`^stackbridge: cannot reach Redis at redis://127\\.0\\.0\\.1:${port}: no answer for 1 s \\(.*ECONNREFUSED.*\\)\\n$`));
});
