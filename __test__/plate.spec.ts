import test from 'ava';
import { mkdir, mkdtemp, writeFile, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readPlate, asarray, writeTiff, PlateLayoutError, InvalidArgumentError } from '../ts/index.js';

async function tiny(path: string, v: number): Promise<void> {
  await writeTiff(path, asarray(new Uint16Array(16).fill(v), { shape: [4, 4] }));
}

test('ImageXpress: TimePoint_N / ZStep_N folders, sites, channels, z in the name; thumbnails skipped', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'sb-ixm-'));
  for (const tp of [1, 2]) {
    const d = join(root, `TimePoint_${tp}`);
    await mkdir(d, { recursive: true });
    for (const well of ['A01', 'B12']) for (const s of [1, 2]) for (const w of [1, 2]) await tiny(join(d, `PLATE1_${well}_s${s}_w${w}.tif`), s);
    await tiny(join(d, 'PLATE1_A01_s1_w1_thumb5A3F.tif'), 0);
  }
  const p = await readPlate(root, { layout: 'imagexpress' });
  t.deepEqual(p.wells, ['A01', 'B12']);
  t.deepEqual([p.sites, p.channels, p.zs, p.timepoints], [[1, 2], [1, 2], [1], [1, 2]]);
  t.is(p.images.length, 2 * 2 * 2 * 2); // time points × wells × sites × channels
  t.deepEqual(p.missing, []);
  t.like(p.images[0], { well: 'A01', timepoint: 1, site: 1, channel: 1, z: 1 });

  const z = await mkdtemp(join(tmpdir(), 'sb-ixmz-'));
  for (const step of [1, 2, 3]) {
    await mkdir(join(z, 'TimePoint_1', `ZStep_${step}`), { recursive: true });
    await tiny(join(z, 'TimePoint_1', `ZStep_${step}`, 'P_C03_s1_w1.tif'), step);
  }
  await tiny(join(z, 'P_C04_s1_w1_z2.tif'), 1);
  const pz = await readPlate(z, { allowMissing: true });
  t.deepEqual(pz.zs, [1, 2, 3]);
  t.deepEqual(pz.images.filter((i) => i.well === 'C03').map((i) => i.z), [1, 2, 3]);
  t.deepEqual(pz.missing, ['C04 s1 w1 z1 t1', 'C04 s1 w1 z3 t1']);
});

test('missing and duplicate images are a PlateLayoutError listing them, or reported with allowMissing', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'sb-miss-'));
  for (const well of ['A01', 'A02']) for (const s of [1, 2]) await tiny(join(root, `P_${well}_s${s}_w1.tif`), 1);
  await mkdir(join(root, 'copy'));
  await copyFile(join(root, 'P_A01_s1_w1.tif'), join(root, 'copy', 'P_A01_s1_w1.tif'));
  await tiny(join(root, 'P_B01_s1_w1.tif'), 1);
  const e = await t.throwsAsync(readPlate(root), { instanceOf: PlateLayoutError });
  t.deepEqual(e!.missing, ['B01 s2 w1 z1 t1']);
  t.is(e!.duplicates.length, 1);
  t.true(e!.duplicates[0]!.startsWith('A01 s1 w1 z1 t1: '));
  t.true(e!.message.includes('1 missing') && e!.message.includes('1 duplicate'), e!.message);
  const p = await readPlate(root, { allowMissing: true });
  t.deepEqual(p.wells, ['A01', 'A02', 'B01']);
  t.is(p.images.length, 5);
  await t.throwsAsync(readPlate(join(root, 'nope')), { instanceOf: PlateLayoutError });
  await t.throwsAsync(readPlate(root, { layout: 'operaphenix' }), { instanceOf: PlateLayoutError, message: /no operaphenix images/ });
  await t.throwsAsync(readPlate(root, { layouts: 'x' } as never), { instanceOf: InvalidArgumentError });
});

test('Opera Phenix: r01c01f01p01-ch1sk1fk1fl1.tiff with Index.xml listing images and channel names', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'sb-phx-'));
  await mkdir(join(root, 'Images'));
  const urls: string[] = [];
  for (const [r, c] of [[1, 1], [2, 10]]) for (const f of [1, 2]) for (const p of [1, 2]) for (const ch of [1, 2]) {
    const name = `r${String(r).padStart(2, '0')}c${String(c).padStart(2, '0')}f${String(f).padStart(2, '0')}p${String(p).padStart(2, '0')}-ch${ch}sk1fk1fl1.tiff`;
    urls.push(name);
    if (name !== 'r02c10f02p02-ch2sk1fk1fl1.tiff') await tiny(join(root, 'Images', name), ch);
  }
  const xml = `<?xml version="1.0"?><EvaluationInputData><Images>${urls.map((u) => `<Image><URL>${u}</URL></Image>`).join('')}</Images>
<Maps><Map><Entry ChannelID="1"><ChannelID>1</ChannelID><ChannelName>HOECHST 33342</ChannelName></Entry><Entry><ChannelID>2</ChannelID><ChannelName>Alexa 488</ChannelName></Entry></Map></Maps></EvaluationInputData>`;
  await writeFile(join(root, 'Images', 'Index.xml'), xml);
  const e = await t.throwsAsync(readPlate(root, { layout: 'operaphenix' }), { instanceOf: PlateLayoutError });
  t.deepEqual(e!.missing, ['B10 s2 w2 z2 t1', 'r02c10f02p02-ch2sk1fk1fl1.tiff (listed in Index.xml)']);
  const p = await readPlate(root, { layout: 'operaphenix', allowMissing: true });
  t.deepEqual(p.wells, ['A01', 'B10']);
  t.deepEqual([p.sites, p.zs, p.channels], [[1, 2], [1, 2], [1, 2]]);
  t.deepEqual(p.channelNames, { 1: 'HOECHST 33342', 2: 'Alexa 488' });
});

test('a user pattern with named groups', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'sb-pat-'));
  for (const well of ['D07', 'E08']) for (const ch of [1, 3]) await tiny(join(root, `scan-${well}-field2-c${ch}.tif`), ch);
  const p = await readPlate(root, { layout: String.raw`scan-(?<well>[A-P]\d+)-field(?<site>\d+)-c(?<channel>\d+)\.tif$` });
  t.deepEqual(p.wells, ['D07', 'E08']);
  t.deepEqual([p.sites, p.channels], [[2], [1, 3]]);
  const rc = await readPlate(root, { layout: /scan-(?<row>[A-P])(?<column>\d+)-field\d-c(?<channel>\d)/ });
  t.deepEqual(rc.wells, ['D07', 'E08']);
  await t.throwsAsync(readPlate(root, { layout: '(?<site>\\d)' }), { instanceOf: InvalidArgumentError, message: /needs a \(\?<well>/ });
  await t.throwsAsync(readPlate(root, { layout: '([' }), { instanceOf: InvalidArgumentError });
});
