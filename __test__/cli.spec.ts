import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readTiff } from '../ts/index.js';

// The CLI as installed: the compiled bin (npm test compiles dist/ first).
const BIN = new URL('../dist/cli/main.js', import.meta.url).pathname;
const cli = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 120_000 });

test.serial('stackbridge demo: the default plate end to end, counts matching the nuclei drawn, every output written', async (t) => {
  const out = await mkdtemp(join(tmpdir(), 'sb-demo-'));
  const r = cli('demo', '--output', out);
  t.is(r.status, 0, r.stderr);
  t.regex(r.stdout, /report: file:\/\/.*report\.html\n$/);
  const truth = (await readFile(join(out, 'plate', 'truth.csv'), 'utf8')).trim().split('\n').slice(1).map((l) => l.split(','));
  const csv = (await readFile(join(out, 'results', 'plate.csv'), 'utf8')).trim().split('\n');
  t.is(csv[0], 'well,row,column,sites,images,cell_count,avg_cell_area,avg_cell_intensity,seconds,warning');
  t.is(csv.length, 7);
  for (const row of csv.slice(1)) {
    const [well, , , sites, , count] = row.split(',');
    const drawn = truth.filter((x) => x[0] === well).length;
    t.is(sites, '2');
    t.true(Math.abs(Number(count) - drawn) <= Math.ceil(drawn * 0.05), `${well}: counted ${count}, drawn ${drawn}`);
  }
  t.regex(csv.find((l) => l.startsWith('B03'))!, /far off the plate median/);
  const a01 = join(out, 'results', 'wells', 'A01');
  t.deepEqual((await readdir(a01)).sort(), ['cell_counts.json', 'cell_counts_details.csv', 'overlay_s1.png', 'overlay_s2.png', 'summary.json']);
  const json = JSON.parse(await readFile(join(a01, 'cell_counts.json'), 'utf8'));
  t.is(json.analysis_type, 'single_channel_cell_counting');
  t.is(json.total_slices, 2);
  const png = await readFile(join(a01, 'overlay_s1.png'));
  t.deepEqual([...png.subarray(1, 4)], [...Buffer.from('PNG')]);
  const html = await readFile(join(out, 'results', 'report.html'), 'utf8');
  t.true(html.includes('data:image/png;base64,'));
  t.regex(html, /Conversion trace/);
  t.regex(html, /numpy → torch/);
  t.false(/src="(?!data:)/.test(html), 'self-contained: no external sources');
});

test.serial('stackbridge run: a pipeline file on a folder, masks, --wells, --resume, and on a single file', async (t) => {
  const out = await mkdtemp(join(tmpdir(), 'sb-run-'));
  t.is(cli('demo', '--output', out, '--wells', 'A01').status, 0);
  const pipeline = join(out, 'p.json');
  await writeFile(pipeline, JSON.stringify({
    name: 'watershed', masks: true,
    steps: [
      { name: 'stackPercentileNormalize', family: 'numpy', options: { lowPercentile: 1, highPercentile: 99.8 } },
      { name: 'countCellsSingleChannel', family: 'numpy', options: { detectionMethod: 'watershed' } },
    ],
  }));
  const res = join(out, 'res');
  const r1 = cli('run', pipeline, '--input', join(out, 'plate'), '--output', res, '--wells', 'a1,B2', '--workers', '2');
  t.is(r1.status, 0, r1.stderr);
  t.regex(r1.stderr, /well A01: \d+ cells/); // not a TTY: one line per well
  t.deepEqual((await readdir(join(res, 'wells'))).sort(), ['A01', 'B02']);
  const labels = await readTiff(join(res, 'wells', 'A01', 'labels_s1.tif'));
  t.is(labels.array.dtype, 'int32');
  t.deepEqual([...labels.array.shape], [1, 256, 256]);
  const before = (await readFile(join(res, 'wells', 'A01', 'summary.json'), 'utf8'));
  const r2 = cli('run', pipeline, '--input', join(out, 'plate'), '--output', res, '--resume');
  t.is(r2.status, 0, r2.stderr);
  t.regex(r2.stderr, /resuming: 2 finished well\(s\) skipped/);
  t.false(/well A01:/.test(r2.stderr));
  t.is(await readFile(join(res, 'wells', 'A01', 'summary.json'), 'utf8'), before, 'a finished well is not redone');
  t.is((await readdir(join(res, 'wells'))).length, 6);
  t.is((await readFile(join(res, 'plate.csv'), 'utf8')).trim().split('\n').length, 7);
  const one = cli('run', pipeline, '--input', join(out, 'plate', 'TimePoint_1', 'DEMO_A03_s1_w1.tif'), '--output', join(out, 'single'));
  t.is(one.status, 0, one.stderr);
  t.regex(one.stdout, /1 well\(s\)/);
});

test.serial('wrong pipeline files and flags are one-line errors naming the step', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sb-bad-'));
  const cases: [unknown, RegExp][] = [
    [{ steps: [{ name: 'tophot', family: 'numpy' }] }, /step 1 'tophot': no processor "tophot" in the numpy family \(known: .*tophat/],
    [{ steps: [{ name: 'tophat', family: 'numpi' }] }, /step 1 'tophat': unknown family "numpi"/],
    [{ steps: [{ name: 'tophat', family: 'numpy', options: { selemRadiu: 3 } }, { name: 'countCellsSingleChannel', family: 'numpy' }] }, /step 1 'tophat' \(numpy\): .*selemRadiu/],
    [{ steps: [{ name: 'countCellsSingleChannel', family: 'numpy', options: { detectionMethod: 'magic' } }] }, /step 1 'countCellsSingleChannel' \(numpy\): .*magic/],
    [{ steps: [{ name: 'tophat', family: 'numpy' }] }, /needs a countCellsSingleChannel step/],
    [{ step: [] }, /unknown key "step"/],
  ];
  for (const [spec, re] of cases) {
    const p = join(dir, 'p.json');
    await writeFile(p, JSON.stringify(spec));
    const r = cli('run', p, '--input', dir, '--output', join(dir, 'o'));
    t.is(r.status, 1);
    t.regex(r.stderr, re);
    t.is(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
  await writeFile(join(dir, 'p.json'), '{ nope');
  t.regex(cli('run', join(dir, 'p.json'), '--input', dir, '--output', dir).stderr, /^stackbridge: \[SB_INVALID_ARGUMENT\] .*p\.json: not JSON/);
  t.regex(cli('run', join(dir, 'p.json'), '--input', dir, '--output', dir, '--device', 'gpu').stderr, /expected cpu, opencl:N or cuda:N/);
  const empty = await mkdtemp(join(tmpdir(), 'sb-empty-'));
  const demoPipeline = new URL('../pipelines/default.json', import.meta.url).pathname;
  t.regex(cli('run', demoPipeline, '--input', empty, '--output', join(empty, 'o')).stderr, /^stackbridge: \[SB_PLATE_LAYOUT\] .*no imagexpress images found/);
});

test.serial('Ctrl-C stops within a second, leaves no half-written well, and --resume finishes the plate', async (t) => {
  const out = await mkdtemp(join(tmpdir(), 'sb-int-'));
  t.is(cli('demo', '--output', out).status, 0);
  const pipeline = join(out, 'slow.json');
  // Watershed without downsampling keeps each well busy long enough to interrupt mid-plate.
  await writeFile(pipeline, JSON.stringify({ steps: [
    { name: 'stackPercentileNormalize', family: 'numpy' },
    { name: 'tophat', family: 'numpy', options: { selemRadius: 30, downsampleFactor: 1 } },
    { name: 'countCellsSingleChannel', family: 'numpy', options: { detectionMethod: 'watershed' } },
  ] }));
  const res = join(out, 'res');
  const child = spawn(process.execPath, [BIN, 'run', pipeline, '--input', join(out, 'plate'), '--output', res, '--workers', '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let sentAt = 0;
  child.stderr.on('data', (d: Buffer) => {
    stderr += d;
    if (!sentAt && /well A01:/.test(stderr)) {
      sentAt = performance.now();
      child.kill('SIGINT');
    }
  });
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  const stoppedMs = performance.now() - sentAt;
  t.true(sentAt > 0, stderr);
  t.is(code, 130, stderr);
  t.log(`stopped ${stoppedMs.toFixed(0)} ms after SIGINT`);
  t.true(stoppedMs < 1000 + 500, `took ${stoppedMs} ms`); // a second, plus process exit
  const wells = await readdir(join(res, 'wells'));
  t.false(wells.some((w) => w.endsWith('.partial')), wells.join());
  t.true(wells.length >= 1 && wells.length < 6, wells.join());
  for (const w of wells) t.true(existsSync(join(res, 'wells', w, 'summary.json')), w);
  t.regex(await readFile(join(res, 'report.html'), 'utf8'), /interrupted/);
  const again = cli('run', pipeline, '--input', join(out, 'plate'), '--output', res, '--resume');
  t.is(again.status, 0, again.stderr);
  t.is((await readdir(join(res, 'wells'))).length, 6);
  await rm(out, { recursive: true, force: true });
});

test('stackbridge info prints devices, runtimes and versions', (t) => {
  const r = cli('info');
  t.is(r.status, 0, r.stderr);
  t.regex(r.stdout, /^stackbridge \d+\.\d+\.\d+ \(node v20/);
  t.regex(r.stdout, /cpu\s+cpu/);
  t.regex(r.stdout, /OpenCL/);
  t.regex(r.stdout, /CUDA/);
  t.regex(r.stdout, /NVRTC/);
  t.regex(r.stdout, /CPU\s+kernels at (scalar|sse4|avx2|avx512)/);
});

test.serial('--device opencl:0 runs every step on the OpenCL device with the CPU run\'s counts', async (t) => {
  const { devices } = await import('../ts/index.js');
  if (!devices().some((d) => d.kind === 'opencl') && process.env.STACKBRIDGE_REQUIRE_OPENCL !== '1') {
    t.log('skipped: no OpenCL device (install pocl-opencl-icd)');
    t.pass();
    return;
  }
  const out = await mkdtemp(join(tmpdir(), 'sb-cl-'));
  const cpu = cli('demo', '--output', join(out, 'cpu'), '--wells', 'A01,B02');
  const cl = cli('demo', '--output', join(out, 'cl'), '--wells', 'A01,B02', '--device', 'opencl:0');
  t.is(cl.status, 0, cl.stderr);
  t.regex(cl.stdout, /stackPercentileNormalize \(pyclesperanto\) → tophat \(pyclesperanto\) → countCellsSingleChannel \(pyclesperanto\)/);
  const counts = async (d: string) => (await readFile(join(out, d, 'results', 'plate.csv'), 'utf8')).split('\n').slice(1).map((l) => l.split(',').slice(0, 6).join());
  t.deepEqual(await counts('cl'), await counts('cpu'));
  t.regex(await readFile(join(out, 'cl', 'results', 'report.html'), 'utf8'), /device opencl:0/);
});

test.serial('the real DSB2018 image counted raw finds nothing, and plate.csv and the report say so', async (t) => {
  const out = await mkdtemp(join(tmpdir(), 'sb-dsb-'));
  const raw = join(out, 'raw.json');
  await writeFile(raw, JSON.stringify({ steps: [{ name: 'countCellsSingleChannel', family: 'numpy', options: { detectionMethod: 'blob_log' } }] }));
  const img = new URL('./fixtures/dsb2018/img2d.tif', import.meta.url).pathname;
  const r = cli('run', raw, '--input', img, '--output', join(out, 'raw'));
  t.is(r.status, 0, r.stderr);
  t.regex(await readFile(join(out, 'raw', 'plate.csv'), 'utf8'), /^A01,A,1,1,1,0,.*no cells found/m);
  t.regex(await readFile(join(out, 'raw', 'report.html'), 'utf8'), /⚠ no cells found/);
  const normalized = cli('run', new URL('../pipelines/default.json', import.meta.url).pathname, '--input', img, '--output', join(out, 'norm'));
  t.is(normalized.status, 0, normalized.stderr);
  const count = Number((await readFile(join(out, 'norm', 'plate.csv'), 'utf8')).split('\n')[1]!.split(',')[5]);
  t.log(`default pipeline on the DSB2018 image: ${count} nuclei (125 in the ground truth)`);
  t.true(count > 60 && count < 190, String(count));
});
