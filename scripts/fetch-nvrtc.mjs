#!/usr/bin/env zx
// Fetches NVRTC 13.0 from NVIDIA's PyPI wheel (nvidia-cuda-nvrtc==13.0.88, no CUDA toolkit needed) into
// .nvrtc/ and prints its lib directory, for LD_LIBRARY_PATH. libnvrtc finds its builtins beside itself,
// so the directory is used as unpacked, never symlinked elsewhere. Used by .ci/run for the kernel
// compile check (crates/cuda/tests/nvrtc_compile.rs); on a GPU machine the toolkit's NVRTC works too.
import { $, fs, path } from 'zx';

const ROOT = path.resolve(import.meta.dirname, '..');
const DIR = path.join(ROOT, '.nvrtc');
const VERSION = '13.0.88';
const lib = path.join(DIR, 'nvidia', 'cu13', 'lib');
$.verbose = false;

if (!fs.existsSync(path.join(lib, 'libnvrtc.so.13'))) {
  await fs.mkdirp(DIR);
  await $`python3 -m pip download --quiet --no-deps --dest ${DIR} nvidia-cuda-nvrtc==${VERSION}`;
  const wheel = (await fs.readdir(DIR)).find((f) => f.startsWith('nvidia_cuda_nvrtc') && f.endsWith('.whl'));
  if (!wheel) throw new Error(`pip download left no nvidia-cuda-nvrtc wheel in ${DIR}`);
  await $`python3 -m zipfile -e ${path.join(DIR, wheel)} ${DIR}`;
}
if (!fs.existsSync(path.join(lib, 'libnvrtc.so.13'))) throw new Error(`${lib} holds no libnvrtc.so.13`);
console.log(lib);
