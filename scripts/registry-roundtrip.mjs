#!/usr/bin/env zx
// The package as a user gets it (issue 9, DESIGN §14): a real npm registry (verdaccio on 127.0.0.1, a free
// port, stopped by PID), the platform package and the main package published with the project's own
// scripts (`npm publish` → prepack → prepublishOnly = `napi prepublish -t npm`), `stackbridge` installed
// into a fresh app with cargo and rustc off PATH, and then in that app:
//   - a consumer file type-checks (strict, skipLibCheck false, moduleResolution nodenext and bundler)
//     without @tensorflow/tfjs installed, and a wrong call fails to compile;
//   - a small pipeline runs from the installed package and its numbers are checked;
//   - every ```ts block of the README compiles under strict and runs as written;
//   - without the platform package the import fails with an error naming it.
// The binary published is npm/linux-x64-gnu/*.node from `npm run build:release` (CI builds it first;
// STACKBRIDGE_REQUIRE_RELEASE=1 makes its absence an error), else the local build in native/.
import { $, fs, path, os, sleep } from 'zx';
import { createServer } from 'node:net';
import { spawn } from 'node:child_process';

const ROOT = path.resolve(import.meta.dirname, '..');
const TRIPLE = 'linux-x64-gnu';
const BINARY = `stackbridge.${TRIPLE}.node`;
const PLATFORM_PKG = `stackbridge-${TRIPLE}`;
const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
$.verbose = false;

const work = await fs.mkdtemp(path.join(os.tmpdir(), 'sb-registry-'));
let verdaccio;
let failed = false;
const step = (msg) => console.log(`registry round trip: ${msg}`);
const check = (ok, msg) => {
  if (!ok) throw new Error(`registry round trip: ${msg}`);
  console.log(`  ✔ ${msg}`);
};

/** A port nobody listens on right now. */
const freePort = () =>
  new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });

/** PATH without any directory that holds cargo or rustc: the user's machine has no Rust. */
function pathWithoutRust() {
  return (process.env.PATH ?? '')
    .split(path.delimiter)
    .filter((dir) => !['cargo', 'rustc', 'rustup'].some((bin) => fs.existsSync(path.join(dir, bin))))
    .join(path.delimiter);
}

try {
  // ---- 1. the binary to publish ----
  const release = path.join(ROOT, 'npm', TRIPLE, BINARY);
  const local = path.join(ROOT, 'native', BINARY);
  let binary = release;
  // Outside CI a release binary older than the local build is stale (it lacks newer exports).
  const stale = fs.existsSync(release) && fs.existsSync(local) && fs.statSync(local).mtimeMs > fs.statSync(release).mtimeMs;
  if (stale && process.env.STACKBRIDGE_REQUIRE_RELEASE !== '1') {
    binary = local;
    step(`npm/${TRIPLE}/${BINARY} is older than native/${BINARY}; publishing the local build (npm run build:release refreshes it)`);
  } else if (!fs.existsSync(release)) {
    if (process.env.STACKBRIDGE_REQUIRE_RELEASE === '1') throw new Error(`${release} is missing: run \`npm run build:release\` first`);
    binary = local;
    if (!fs.existsSync(binary)) throw new Error(`no binary to publish: run \`npm run build\` (or \`npm run build:release\`)`);
    step(`npm/${TRIPLE}/${BINARY} not built (npm run build:release); publishing the local build native/${BINARY} instead`);
  } else {
    step(`publishing the release binary npm/${TRIPLE}/${BINARY}`);
  }

  // ---- 2. a staging copy of the repository (publishing rewrites package.json) ----
  const stage = path.join(work, 'stage');
  const tracked = (await $({ cwd: ROOT })`git ls-files -z`).stdout.split('\0').filter(Boolean);
  for (const f of tracked) {
    if (f.startsWith('__test__/') || f.startsWith('crates/') || f.startsWith('bench/')) continue;
    const src = path.join(ROOT, f);
    if (fs.existsSync(src)) await fs.copy(src, path.join(stage, f));
  }
  for (const f of await fs.readdir(path.join(ROOT, 'ts'))) {
    await fs.copy(path.join(ROOT, 'ts', f), path.join(stage, 'ts', f)); // uncommitted sources count too
  }
  await fs.copy(binary, path.join(stage, 'npm', TRIPLE, BINARY));
  await fs.symlink(path.join(ROOT, 'node_modules'), path.join(stage, 'node_modules'), 'dir');
  // napi prepublish reads the head commit: the staging copy is a repository of its own.
  await $({ cwd: stage })`git init -q && echo node_modules >> .git/info/exclude && git add -A && git -c user.name=ci -c user.email=ci@127.0.0.1 commit -qm staging`;

  // ---- 3. verdaccio on 127.0.0.1 ----
  const port = await freePort();
  const registry = `http://127.0.0.1:${port}/`;
  const upstream = (await $`npm config get registry`).stdout.trim() || 'https://registry.npmjs.org/';
  const vdir = path.join(work, 'verdaccio');
  await fs.mkdirp(vdir);
  await fs.writeFile(
    path.join(vdir, 'config.yaml'),
    [
      `storage: ${path.join(vdir, 'storage')}`,
      `auth:\n  htpasswd:\n    file: ${path.join(vdir, 'htpasswd')}\n    max_users: 10`,
      `uplinks:\n  npmjs:\n    url: ${upstream}`,
      // Our packages never come from upstream: what is installed is what this run published.
      `packages:\n  'stackbridge':\n    access: $all\n    publish: $authenticated\n  'stackbridge-*':\n    access: $all\n    publish: $authenticated\n  '**':\n    access: $all\n    publish: $authenticated\n    proxy: npmjs`,
      `log: { type: stdout, format: pretty, level: warn }`,
      '',
    ].join('\n'),
  );
  const vlog = fs.openSync(path.join(vdir, 'verdaccio.log'), 'w');
  verdaccio = spawn(process.execPath, [path.join(ROOT, 'node_modules', 'verdaccio', 'bin', 'verdaccio'), '-c', path.join(vdir, 'config.yaml'), '-l', `127.0.0.1:${port}`], {
    stdio: ['ignore', vlog, vlog],
  });
  step(`verdaccio pid ${verdaccio.pid} on ${registry}`);
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${registry}-/ping`)).ok) break;
    } catch {}
    if (i > 150 || verdaccio.exitCode !== null) throw new Error(`verdaccio did not start:\n${fs.readFileSync(path.join(vdir, 'verdaccio.log'), 'utf8')}`);
    await sleep(200);
  }

  // A user for publishing (verdaccio's htpasswd: the PUT creates it and returns its token).
  const res = await fetch(`${registry}-/user/org.couchdb.user:ci`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'ci', password: 'ci-password', email: 'ci@127.0.0.1', type: 'user' }),
  });
  const { token } = await res.json();
  if (!token) throw new Error(`verdaccio refused the user: ${res.status}`);
  const npmrc = path.join(work, 'npmrc');
  await fs.writeFile(npmrc, `registry=${registry}\n//127.0.0.1:${port}/:_authToken=${token}\n`);
  const npmEnv = { ...process.env, npm_config_userconfig: npmrc, npm_config_registry: registry, npm_config_cache: path.join(work, 'npm-cache') };

  // ---- 4. publish with the project's own scripts ----
  step('npm publish (prepack: build:ts; prepublishOnly: napi prepublish -t npm)');
  await $({ cwd: stage, env: { ...npmEnv, PATH: `${path.join(ROOT, 'node_modules', '.bin')}${path.delimiter}${process.env.PATH}` } })`npm publish --ignore-scripts=false --loglevel=warn`;
  const meta = await (await fetch(`${registry}stackbridge`)).json();
  const version = meta['dist-tags']?.latest;
  const published = meta.versions?.[version];
  check(published?.optionalDependencies?.[PLATFORM_PKG] === version, `stackbridge@${version} is published with optionalDependencies { ${PLATFORM_PKG}: ${version} }`);
  check(!published.scripts?.install && !published.scripts?.postinstall, 'the published package has no install or postinstall script');
  const platformMeta = await (await fetch(`${registry}${PLATFORM_PKG}`)).json();
  check(platformMeta.versions?.[version]?.os?.includes('linux'), `${PLATFORM_PKG}@${version} is published (os linux, cpu x64)`);

  // ---- 5. a fresh app, no Rust ----
  const app = path.join(work, 'app');
  await fs.mkdirp(app);
  await fs.writeJson(path.join(app, 'package.json'), { name: 'sb-consumer', private: true, type: 'module' });
  const appEnv = { ...npmEnv, PATH: pathWithoutRust() };
  check(!(await $({ env: appEnv, nothrow: true })`command -v cargo`).stdout.trim(), 'cargo is not on the app\'s PATH');
  step('npm install stackbridge @types/node@20 in a fresh app');
  await $({ cwd: app, env: appEnv })`npm install --no-audit --no-fund stackbridge @types/node@20`;
  const installed = path.join(app, 'node_modules');
  check(fs.existsSync(path.join(installed, PLATFORM_PKG, BINARY)), `${PLATFORM_PKG} brought ${BINARY}`);
  check(!fs.existsSync(path.join(installed, 'stackbridge', 'native')), 'stackbridge itself ships no binary and built nothing');
  check(!fs.existsSync(path.join(installed, '@tensorflow', 'tfjs')), '@tensorflow/tfjs is not installed');
  const pkgDir = path.join(installed, 'stackbridge');
  check(['LICENSE', 'README.md'].every((f) => fs.existsSync(path.join(pkgDir, f))), 'the package ships LICENSE and README.md');
  const maps = (await fs.readdir(path.join(pkgDir, 'dist'), { recursive: true })).filter((f) => f.endsWith('.js.map'));
  const unresolved = maps.flatMap((m) => {
    const { sources } = fs.readJsonSync(path.join(pkgDir, 'dist', m));
    return sources.map((src) => path.resolve(path.dirname(path.join(pkgDir, 'dist', m)), src)).filter((src) => !fs.existsSync(src));
  });
  check(maps.length > 0 && unresolved.length === 0, `all ${maps.length} source maps resolve to shipped sources${unresolved.length ? `; missing ${unresolved.slice(0, 3).join(', ')}` : ''}`);

  // ---- 6. type-checking as a consumer ----
  await fs.copy(path.join(ROOT, 'scripts', 'consumer'), app);
  for (const config of ['tsconfig.nodenext.json', 'tsconfig.bundler.json']) {
    const r = await $({ cwd: app, env: appEnv, nothrow: true })`node ${tsc} -p ${config}`;
    check(r.exitCode === 0, `tsc -p ${config} (strict, skipLibCheck false) passes${r.exitCode ? `:\n${r.stdout}${r.stderr}` : ''}`);
  }
  const wrong = await $({ cwd: app, env: appEnv, nothrow: true })`node ${tsc} -p tsconfig.wrong.json`;
  check(wrong.exitCode !== 0 && /wrong\.ts\(\d+,\d+\): error TS2322/.test(wrong.stdout), `stackSlices([42], 'numpy') fails to compile (${wrong.stdout.trim().split('\n')[0]})`);

  // ---- 7. running from the installed package ----
  const run = await $({ cwd: app, env: appEnv })`node ${path.join(app, 'out', 'consumer.js')}`;
  const result = JSON.parse(run.stdout.trim().split('\n').at(-1));
  // Hand-computed: gaussian of a constant image is the constant; the max projection of slices filled with
  // 10, 20, 30 is 30 everywhere; a decorated torch step doubles 30 → 60 (uint16 kept).
  check(result.device === 'cpu' && result.constant.every((v) => v === 1000), 'gaussian from the installed package keeps a constant image constant');
  check(result.projection.every((v) => v === 60) && result.dtype === 'uint16', 'pipeline (max projection → torch double) gives 60 everywhere, uint16');
  check(result.trace.join() === 'mip,double', 'the trace lists both steps');
  check(result.slicesCounted === 3, 'countCellsSingleChannel from stackbridge/analysis reports every slice');

  // ---- 7b. the CLI from the installed package (its `bin`) ----
  const info = await $({ cwd: app, env: appEnv, nothrow: true })`npx --no-install stackbridge info`;
  check(info.exitCode === 0 && /devices:\n\s+cpu/.test(info.stdout), `npx stackbridge info runs from the installed package${info.exitCode ? `:\n${info.stderr}` : ''}`);
  const demo = await $({ cwd: app, env: appEnv, nothrow: true })`npx --no-install stackbridge demo --output ${path.join(work, 'demo')}`;
  check(demo.exitCode === 0 && fs.existsSync(path.join(work, 'demo', 'results', 'report.html')),
    `npx stackbridge demo writes the demo plate's report${demo.exitCode ? `:\n${demo.stdout}${demo.stderr}` : ''}`);

  // ---- 8. the README's TypeScript blocks, as written ----
  const readme = await fs.readFile(path.join(ROOT, 'README.md'), 'utf8');
  const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
  check(blocks.length > 0, `the README has ${blocks.length} TypeScript blocks`);
  const tour = path.join(app, 'tour');
  await fs.mkdirp(tour);
  for (const [i, code] of blocks.entries()) await fs.writeFile(path.join(tour, `block${i + 1}.ts`), `${code}\nexport {};\n`);
  const tr = await $({ cwd: app, env: appEnv, nothrow: true })`node ${tsc} -p tsconfig.tour.json`;
  check(tr.exitCode === 0, `every README block compiles under strict${tr.exitCode ? `:\n${tr.stdout}` : ''}`);
  for (const i of blocks.keys()) {
    const r = await $({ cwd: tour, env: appEnv, nothrow: true })`node ${path.join(app, 'out', 'tour', `block${i + 1}.js`)}`;
    check(r.exitCode === 0, `README block ${i + 1} runs as written${r.exitCode ? `:\n${r.stdout}${r.stderr}` : ''}`);
  }

  // ---- 9. without the platform package: an error naming it ----
  await fs.move(path.join(installed, PLATFORM_PKG), path.join(work, 'hidden-platform'));
  const missing = await $({ cwd: app, env: appEnv, nothrow: true })`node -e ${"import('stackbridge').catch((e) => { console.error(e.message); process.exit(3); })"}`;
  check(missing.exitCode === 3 && missing.stderr.includes(`npm install ${PLATFORM_PKG}`), `without ${PLATFORM_PKG}: "${missing.stderr.trim()}"`);
  step('passed');
} catch (e) {
  failed = true;
  console.error(e.message ?? e);
} finally {
  if (verdaccio) {
    const kill = (sig) => {
      try {
        process.kill(verdaccio.pid, sig);
      } catch {} // already gone
    };
    kill('SIGTERM');
    for (let i = 0; i < 20 && verdaccio.exitCode === null && verdaccio.signalCode === null; i++) await sleep(100);
    kill('SIGKILL');
  }
  if (!failed || process.env.STACKBRIDGE_KEEP_ROUNDTRIP !== '1') await fs.remove(work);
  else console.error(`kept ${work}`);
}
process.exit(failed ? 1 : 0);
