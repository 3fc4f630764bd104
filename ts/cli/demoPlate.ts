/**
 * The demo plate of `stackbridge demo`: a small seeded ImageXpress plate (2 × 3 wells, 2 sites,
 * one channel, 256 × 256 uint16) with known nuclei, one well deliberately sparse so the report
 * shows a warning. `truth.csv` lists every nucleus drawn. Larger plates of the same kind (more wells,
 * sites, pixels) serve the queue tests and the worker-fleet measurement.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeTiff } from '../io.js';
import { asarray } from '../ndarray.js';
import { mulberry32, placeNuclei, renderSlice, type Nucleus } from '../synthetic.js';

export const DEMO_SIZE = 256;
export const DEMO_WELLS = ['A01', 'A02', 'A03', 'B01', 'B02', 'B03'];
export const DEMO_SITES = 2;

export interface DemoPlateShape {
  /** Well ids (default: the demo's 2 × 3). */
  wells?: string[];
  /** Sites per well (default 2). */
  sites?: number;
  /** Image side in pixels (default 256). */
  size?: number;
}

/** Writes the plate under `dir`; resolves to the nuclei drawn per `well`/site. */
export async function writeDemoPlate(dir: string, seed = 20261203, shape: DemoPlateShape = {}): Promise<Map<string, Nucleus[][]>> {
  const rand = mulberry32(seed);
  const { wells = DEMO_WELLS, sites: siteCount = DEMO_SITES, size = DEMO_SIZE } = shape;
  const scale = (size / DEMO_SIZE) ** 2;
  const tp = join(dir, 'TimePoint_1');
  await mkdir(tp, { recursive: true });
  const truth = new Map<string, Nucleus[][]>();
  const rows = ['well,site,x,y,sigma'];
  for (const [i, well] of wells.entries()) {
    const sites: Nucleus[][] = [];
    for (let s = 1; s <= siteCount; s++) {
      const count = Math.round(scale * (well === 'B03' ? 4 : 24 + 3 * (i % 6) + Math.floor(rand() * 6)));
      const nuclei = placeNuclei(rand, count, size, size);
      const px = new Uint16Array(size * size);
      renderSlice(rand, 0, nuclei, px, size, size);
      const a = asarray(px, { shape: [size, size], dtype: 'uint16' });
      await writeTiff(join(tp, `DEMO_${well}_s${s}_w1.tif`), a, { compression: 'lzw' });
      a.dispose();
      sites.push(nuclei);
      for (const n of nuclei) rows.push(`${well},${s},${n.x.toFixed(2)},${n.y.toFixed(2)},${n.sigma.toFixed(3)}`);
    }
    truth.set(well, sites);
  }
  await writeFile(join(dir, 'truth.csv'), rows.join('\n') + '\n');
  return truth;
}
