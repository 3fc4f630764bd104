/**
 * The demo plate of `stackbridge demo`: a small seeded ImageXpress plate (2 × 3 wells, 2 sites,
 * one channel, 256 × 256 uint16) with known nuclei, one well deliberately sparse so the report
 * shows a warning. `truth.csv` lists every nucleus drawn.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeTiff } from '../io.js';
import { asarray } from '../ndarray.js';
import { mulberry32, placeNuclei, renderSlice, type Nucleus } from '../synthetic.js';

export const DEMO_SIZE = 256;
export const DEMO_WELLS = ['A01', 'A02', 'A03', 'B01', 'B02', 'B03'];
export const DEMO_SITES = 2;

/** Writes the plate under `dir`; resolves to the nuclei drawn per `well`/site. */
export async function writeDemoPlate(dir: string, seed = 20261203): Promise<Map<string, Nucleus[][]>> {
  const rand = mulberry32(seed);
  const tp = join(dir, 'TimePoint_1');
  await mkdir(tp, { recursive: true });
  const truth = new Map<string, Nucleus[][]>();
  const rows = ['well,site,x,y,sigma'];
  for (const [i, well] of DEMO_WELLS.entries()) {
    const sites: Nucleus[][] = [];
    for (let s = 1; s <= DEMO_SITES; s++) {
      const count = well === 'B03' ? 4 : 24 + 3 * i + Math.floor(rand() * 6);
      const nuclei = placeNuclei(rand, count, DEMO_SIZE, DEMO_SIZE);
      const px = new Uint16Array(DEMO_SIZE * DEMO_SIZE);
      renderSlice(rand, 0, nuclei, px, DEMO_SIZE, DEMO_SIZE);
      const a = asarray(px, { shape: [DEMO_SIZE, DEMO_SIZE], dtype: 'uint16' });
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
