// TIFF decode speed: stackbridge's readTiff (Rust, the `tiff` crate, pages in parallel) against
// tifffile.imread on the same files (bench/tiff_peer.py writes them and times tifffile).
// Run: `npm run build:ts && node bench/tiff.js` with a Python that has tifffile + imagecodecs
// (STACKBRIDGE_PYTHON, default .venv/bin/python). Times are the best of 5 reads, file cache warm.
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readTiff } from '../dist/index.js';

const python = process.env.STACKBRIDGE_PYTHON ?? '.venv/bin/python';
const dir = join(tmpdir(), 'stackbridge-tiff-bench');
const peer = spawnSync(python, ['bench/tiff_peer.py', dir], { encoding: 'utf8', maxBuffer: 1 << 20 });
if (peer.status !== 0) {
  console.error(`tiff bench: ${python} bench/tiff_peer.py failed (needs tifffile, imagecodecs):\n${peer.stderr}`);
  process.exit(1);
}
const { tifffile, results } = JSON.parse(peer.stdout);
console.log(`TIFF decode, 32 × 1024 × 1024 uint16 (64 MiB), best of 5 — tifffile ${tifffile}`);
console.log('file                      stackbridge   tifffile   ratio (ours / tifffile)');
for (const [name, theirs] of Object.entries(results)) {
  let best = Infinity;
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    const { array } = await readTiff(join(dir, name));
    best = Math.min(best, (performance.now() - t) / 1000);
    array.dispose();
  }
  console.log(`${name.padEnd(24)} ${(best * 1000).toFixed(1).padStart(9)} ms ${(theirs * 1000).toFixed(1).padStart(8)} ms   ${(best / theirs).toFixed(2)}×`);
}
