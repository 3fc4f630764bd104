#!/usr/bin/env zx
// The published binary (DESIGN §14): baseline x86-64-v2, linked against glibc 2.17 by cargo-zigbuild,
// stripped, with AVX2/AVX-512 kernels chosen at run time. Writes artifacts/stackbridge.<triple>.node and
// copies it into npm/<triple>/ with `napi artifacts`; then checks the glibc floor of what it built.
//
// Needs `zig` and `cargo-zigbuild`: taken from PATH, else from a venv it creates at .release-venv/
// (`pip install ziglang cargo-zigbuild`). `--use-napi-cross` of @napi-rs/cli 3.10.12 is broken, so the
// CLI is only used for `napi artifacts`.
import { $, fs, path, which } from 'zx';

const ROOT = path.resolve(import.meta.dirname, '..');
const TARGET = 'x86_64-unknown-linux-gnu';
const TRIPLE = 'linux-x64-gnu';
const GLIBC_FLOOR = '2.17';
const VENV = path.join(ROOT, '.release-venv');

$.cwd = ROOT;
$.verbose = true;

/** PATH with cargo-zigbuild and zig on it, installing them into .release-venv/ when missing. */
async function toolPath() {
  const venvBin = path.join(VENV, 'bin');
  const withVenv = `${venvBin}${path.delimiter}${process.env.PATH}`;
  if (await which('cargo-zigbuild', { nothrow: true })) return process.env.PATH;
  if (!fs.existsSync(path.join(venvBin, 'cargo-zigbuild'))) {
    await $`python3 -m venv ${VENV}`;
    await $`${path.join(venvBin, 'pip')} install --quiet ziglang cargo-zigbuild`;
  }
  return withVenv;
}

const env = {
  ...process.env,
  PATH: await toolPath(),
  // Overrides .cargo/config.toml on purpose: the shipped binary is always the baseline, whatever a
  // contributor opts into locally.
  RUSTFLAGS: `-C target-cpu=x86-64-v2`,
};
await $({ env })`cargo zigbuild --profile dist --target ${TARGET}.${GLIBC_FLOOR} -p stackbridge-node`;

const built = path.join(ROOT, 'target', TARGET, 'dist', 'libstackbridge_node.so');
const artifact = path.join(ROOT, 'artifacts', `stackbridge.${TRIPLE}.node`);
await fs.mkdirp(path.dirname(artifact));
await fs.copy(built, artifact);
await $`npx napi artifacts --output-dir artifacts --npm-dir npm`;
// napi artifacts also drops a copy at the package root (it treats the root as a package dir): not ours to ship.
await fs.remove(path.join(ROOT, `stackbridge.${TRIPLE}.node`));

// The glibc floor is what the dynamic symbol table asks for: no GLIBC_x newer than the floor.
const symbols = (await $`objdump -T ${artifact}`.quiet()).stdout;
const versions = [...new Set([...symbols.matchAll(/GLIBC_([0-9.]+)/g)].map((m) => m[1]))];
const newest = versions.sort((a, b) => a.localeCompare(b, undefined, { numeric: true })).at(-1);
const tooNew = versions.filter((v) => v.localeCompare(GLIBC_FLOOR, undefined, { numeric: true }) > 0);
if (tooNew.length > 0) throw new Error(`${artifact} needs glibc ${tooNew.join(', ')} (floor ${GLIBC_FLOOR})`);
const { size } = await fs.stat(artifact);
console.log(`release binary: npm/${TRIPLE}/stackbridge.${TRIPLE}.node, ${(size / 2 ** 20).toFixed(1)} MiB, newest glibc symbol GLIBC_${newest} (floor ${GLIBC_FLOOR})`);
