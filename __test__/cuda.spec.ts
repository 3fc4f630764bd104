import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { asarray, convertMemory, cudaRuntime, devices, GpuUnavailableError } from '../ts/index.js';

const root = resolve(import.meta.dirname, '..');
const hasDriver = cudaRuntime().driverVersion !== undefined;

test('without a CUDA driver: cudaRuntime says why, no cuda devices, cupy is GpuUnavailableError', async (t) => {
  if (hasDriver) {
    t.log('SKIPPED: this machine has a CUDA driver');
    t.pass();
    return;
  }
  const rt = cudaRuntime();
  t.regex(rt.driverUnavailable ?? '', /libcuda\.so\.1 was not found/);
  t.is(rt.devices, 0);
  t.false(devices().some((d) => d.kind === 'cuda'));
  await t.throwsAsync(() => convertMemory(asarray([1, 2], { shape: [1, 1, 2] }), { targetType: 'cupy' }), { instanceOf: GpuUnavailableError });
});

// A real driver library that has no device: a tiny libcuda whose cuInit answers CUDA_ERROR_NO_DEVICE,
// loaded by a child process (the probe runs once per process).
test('a CUDA driver without devices: the driver version is reported and no cuda device is listed', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sb-fake-libcuda-'));
  try {
    const fake = join(root, 'crates', 'cuda', 'tests', 'fake_libcuda.c'); // shared with the Rust probe test
    execFileSync(process.env.CC ?? 'cc', ['-shared', '-fPIC', '-o', join(dir, 'libcuda.so.1'), fake]);
    symlinkSync(join(dir, 'libcuda.so.1'), join(dir, 'libcuda.so'));
    const probe = `import('${join(root, 'dist', 'index.js')}').then((m) => console.log(JSON.stringify({ rt: m.cudaRuntime(), ids: m.devices().map((d) => d.id) })))`;
    const out = JSON.parse(execFileSync(process.execPath, ['-e', probe], { env: { ...process.env, LD_LIBRARY_PATH: dir }, encoding: 'utf8' }));
    t.is(out.rt.driverVersion, 13000);
    t.is(out.rt.devices, 0);
    t.is(out.rt.driverUnavailable, undefined);
    t.false(out.ids.some((id: string) => id.startsWith('cuda:')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('NVRTC: its version where libnvrtc loads, else the reason', (t) => {
  const rt = cudaRuntime();
  if (process.env.STACKBRIDGE_REQUIRE_NVRTC === '1') t.regex(rt.nvrtcVersion ?? '', /^\d+\.\d+$/, rt.nvrtcUnavailable);
  t.true((rt.nvrtcVersion === undefined) !== (rt.nvrtcUnavailable === undefined));
  if (rt.nvrtcUnavailable) t.regex(rt.nvrtcUnavailable, /libnvrtc/);
});
