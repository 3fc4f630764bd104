// The Python side of the benchmarks: the interpreter the peers run in and the call into bench/peers.py,
// shared by the processor section (numpy / scipy / scikit-image / OpenCV) and the device sections
// (CuPy / PyTorch on a GPU).
// Python: `.bench-venv/` at the repo root, created (venv + pip) on first use when an index is reachable;
// otherwise plain `python3`, and every peer it cannot import is named as skipped. Overrides:
// STACKBRIDGE_BENCH_VENV (another venv directory), STACKBRIDGE_BENCH_PYTHON (an interpreter, used as is:
// on a GPU machine the system Python that has CuPy and PyTorch).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
const VENV = process.env.STACKBRIDGE_BENCH_VENV ?? join(ROOT, '.bench-venv');
const VENV_OK = '.stackbridge-bench-ok'; // written once pip has installed every peer package
// pyclesperanto-opencl is pyclesperanto's OpenCL backend (the set bench runs it on the same device as ours).
const PIP_PACKAGES = ['numpy', 'scipy', 'scikit-image', 'opencv-python-headless', 'pyclesperanto', 'pyclesperanto-opencl'];
const PIP_TIMEOUT_S = 300;
const PEERS_TIMEOUT_S = 400;

/** A path relative to the repo root when it lies inside it. */
export const show = (p) => (p.startsWith(ROOT) ? relative(ROOT, p) : p);

export function run(cmd, args, opts = {}) {
  return spawnSync(cmd, args, { encoding: 'utf8', ...opts });
}

export function lastLine(r) {
  if (r.error) return r.error.code === 'ETIMEDOUT' ? 'timed out' : r.error.message;
  return (r.stderr || r.stdout || '').trim().split('\n').pop() || `exit ${r.status}`;
}

/** The interpreter for the peers: `.bench-venv/` at the repo root, created on first use when possible. */
export function resolvePython(log) {
  if (process.env.STACKBRIDGE_BENCH_PYTHON) {
    log.push(`python: ${process.env.STACKBRIDGE_BENCH_PYTHON} (STACKBRIDGE_BENCH_PYTHON)`);
    return process.env.STACKBRIDGE_BENCH_PYTHON;
  }
  const venvPy = join(VENV, 'bin', 'python');
  const where = show(VENV);
  // The marker names what was installed: a venv made before a peer was added gets it installed now.
  if (existsSync(venvPy) && existsSync(join(VENV, VENV_OK)) && readFileSync(join(VENV, VENV_OK), 'utf8') === `${PIP_PACKAGES.join(' ')}\n`) {
    log.push(`python: ${show(venvPy)}`);
    return venvPy;
  }
  const sys = run('python3', ['--version']);
  if (sys.error || sys.status !== 0) {
    log.push(`python: python3 not runnable (${lastLine(sys)}): every Python peer is skipped`);
    return null;
  }
  const fresh = !existsSync(venvPy);
  if (fresh) {
    console.log(`\ncreating ${where} (python3 -m venv) for the Python peers …`);
    const mk = run('python3', ['-m', 'venv', VENV], { timeout: 120_000 });
    if (mk.error || mk.status !== 0) {
      rmSync(VENV, { recursive: true, force: true });
      log.push(`venv: python3 -m venv failed (${lastLine(mk)}); using python3 as is`);
      return 'python3';
    }
  }
  console.log(`installing ${PIP_PACKAGES.join(' ')} into ${where} (timeout ${PIP_TIMEOUT_S} s) …`);
  const t0 = performance.now();
  const pip = run(venvPy, ['-m', 'pip', 'install', '--disable-pip-version-check', '--quiet', '--timeout', '15', '--retries', '1', ...PIP_PACKAGES],
    { timeout: PIP_TIMEOUT_S * 1000, stdio: ['ignore', 'inherit', 'pipe'] });
  const took = ((performance.now() - t0) / 1e3).toFixed(0);
  if (pip.error || pip.status !== 0) {
    if (!fresh) {
      // Someone else's venv: keep it and use what it has (peers.py names the missing modules).
      log.push(`venv: pip install into the existing ${where} failed after ${took} s (${lastLine(pip)}); using it as is`);
      return venvPy;
    }
    // Leave no half-made venv behind: the next run tries again from scratch.
    rmSync(VENV, { recursive: true, force: true });
    log.push(`venv: pip install failed after ${took} s (${lastLine(pip)}); removed ${where}, using python3 as is`);
    return 'python3';
  }
  writeFileSync(join(VENV, VENV_OK), `${PIP_PACKAGES.join(' ')}\n`);
  log.push(`venv: created ${where} and installed ${PIP_PACKAGES.join(' ')} in ${took} s`);
  return venvPy;
}

/** Runs bench/`name` (peers.py or set_peers.py) on `request`; returns its JSON, or `{ failed }`. Progress streams to stderr. */
export function runPeers(python, request, name = 'peers.py') {
  const script = join(ROOT, 'bench', name);
  const r = run(python, [script], {
    input: JSON.stringify(request), timeout: PEERS_TIMEOUT_S * 1000, maxBuffer: 64 << 20, stdio: ['pipe', 'pipe', 'inherit'],
  });
  if (r.error || r.status !== 0) return { failed: `${name}: ${lastLine(r)}` };
  try {
    return JSON.parse(r.stdout.trim().split('\n').pop());
  } catch {
    return { failed: `${name} printed no JSON: ${r.stdout.slice(-200)}` };
  }
}
