#!/usr/bin/env zx
// The shipped binary on an old CPU: runs scripts/cpu-probe.mjs with the release binary (npm/linux-x64-gnu/)
// on this machine (its best code paths) and under `qemu-x86_64 -cpu Nehalem` (x86-64-v2: SSE4.2, no AVX,
// no AVX2, no FMA), and requires the same bytes from both. Skips with a printed reason when the release
// binary or qemu-user is missing, unless STACKBRIDGE_REQUIRE_RELEASE=1 (CI), which makes that a failure.
import { $, fs, path, which } from 'zx';

const ROOT = path.resolve(import.meta.dirname, '..');
const binary = path.join(ROOT, 'npm', 'linux-x64-gnu', 'stackbridge.linux-x64-gnu.node');
const required = process.env.STACKBRIDGE_REQUIRE_RELEASE === '1';
const qemu = await which('qemu-x86_64', { nothrow: true });
const missing = !fs.existsSync(binary) ? `${binary} (npm run build:release)` : !qemu ? 'qemu-x86_64 (apt-get install qemu-user)' : null;
if (missing) {
  if (required) throw new Error(`baseline CPU check: missing ${missing}`);
  console.log(`baseline CPU check: SKIPPED, missing ${missing}`);
  process.exit(0);
}
$.verbose = false;
const env = { ...process.env, STACKBRIDGE_NATIVE_PATH: binary };
const probe = path.join(ROOT, 'scripts', 'cpu-probe.mjs');
const host = (await $({ env })`${process.execPath} ${probe}`).stdout.trim();
const old = (await $({ env })`${qemu} -cpu Nehalem ${process.execPath} ${probe}`).stdout.trim();
const [a, b] = [JSON.parse(host), JSON.parse(old)];
const differ = Object.keys(a).filter((k) => a[k] !== b[k]);
if (differ.length > 0 || Object.keys(a).length !== Object.keys(b).length) {
  throw new Error(`baseline CPU check: the release binary gives other bytes under qemu -cpu Nehalem for ${differ.join(', ')}`);
}
console.log(`baseline CPU check: the release binary runs under qemu -cpu Nehalem (no AVX/AVX2/FMA) and gives the same bytes as on this CPU for all ${Object.keys(a).length} kernel outputs`);
