/**
 * Plates (DESIGN §13): `readPlate` finds every image of a plate folder and groups them by well,
 * site, channel, z and time point, for ImageXpress, Opera Phenix or a user pattern, and reports
 * missing or duplicate images.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { InvalidArgumentError, PlateLayoutError } from './errors.js';

/**
 * A built-in layout name, or a pattern: a RegExp (or its source) with named groups `well` (or `row`
 * + `column`), and optionally `site`, `channel`, `z`, `timepoint` (default 1), matched against each
 * TIFF's path relative to the plate folder.
 */
export type PlateLayout = 'imagexpress' | 'operaphenix' | RegExp | string;

/** One image file of a plate. Indices are 1-based, as the microscopes write them. */
export interface PlateImage {
  path: string;
  /** Well id, row letter(s) + two-digit column: `'A01'`. */
  well: string;
  site: number;
  channel: number;
  z: number;
  timepoint: number;
}

/** A plate found by `readPlate`. */
export interface Plate {
  root: string;
  layout: 'imagexpress' | 'operaphenix' | 'pattern';
  /** Well ids in row-major order. */
  wells: string[];
  sites: number[];
  channels: number[];
  zs: number[];
  timepoints: number[];
  /** Every image, sorted by well, timepoint, site, channel, z. */
  images: PlateImage[];
  /** Channel names where the layout records them (Opera Phenix Index.xml). */
  channelNames: Record<number, string>;
  /** `'A01 s2 w1 z1 t1'` for each expected image that is absent (empty unless `allowMissing`). */
  missing: string[];
  /** Files whose well/site/channel/z/time point another file already had (same rule). */
  duplicates: string[];
}

/** Options of `readPlate`. */
export interface ReadPlateOptions {
  /** Default `'imagexpress'`. */
  layout?: PlateLayout;
  /** Report missing / duplicate images in `plate.missing` / `plate.duplicates` instead of throwing. */
  allowMissing?: boolean;
}

// ImageXpress: <plate>_<well>[_s<site>]_w<channel>[_z<z>].tif, thumbnails (`_thumb…`) skipped.
const IMAGEXPRESS = /^(?<plate>.+?)_(?<well>[A-Za-z]{1,2}\d{1,3})(?:_s(?<site>\d+))?(?:_w(?<channel>\d+))?(?:_z(?<z>\d+))?\.tiff?$/i;
// Opera Phenix: r01c01f01p01-ch1sk1fk1fl1.tiff (sk = time point).
const PHENIX = /^r(?<row>\d+)c(?<column>\d+)f(?<site>\d+)p(?<z>\d+)-ch(?<channel>\d+)sk(?<timepoint>\d+)fk\d+fl\d+\.tiff?$/i;
const TIFF = /\.tiff?$/i;

/** `'A'` for 1, …, `'Z'` for 26, `'AA'` for 27. */
function rowLetters(n: number): string {
  let s = '';
  for (let r = n; r > 0; r = Math.floor((r - 1) / 26)) s = String.fromCharCode(65 + ((r - 1) % 26)) + s;
  return s;
}

/** Canonical well id: upper-case row, two-digit column (`a1` → `A01`). */
export function wellId(row: string | number, column: number): string {
  const r = typeof row === 'number' ? rowLetters(row) : row.toUpperCase();
  return `${r}${String(column).padStart(2, '0')}`;
}

function normalizeWell(w: string): string {
  const m = /^([A-Za-z]+)0*(\d+)$/.exec(w);
  if (!m) throw new InvalidArgumentError(`not a well id: ${JSON.stringify(w)}`);
  return wellId(m[1]!, Number(m[2]));
}

/** Rows then columns (A01, A02, …, B01). */
export function compareWells(a: string, b: string): number {
  const [, ra, ca] = /^([A-Z]+)(\d+)$/.exec(a) ?? [, a, '0'];
  const [, rb, cb] = /^([A-Z]+)(\d+)$/.exec(b) ?? [, b, '0'];
  return ra!.length - rb!.length || ra!.localeCompare(rb!) || Number(ca) - Number(cb);
}

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walk(p)));
    else if (e.isFile() && TIFF.test(e.name)) out.push(p);
  }
  return out;
}

const num = (v: string | undefined, dflt = 1): number => (v === undefined ? dflt : Number(v));

/** ImageXpress keeps time points and z steps as folders: TimePoint_N/ and ZStep_N/. */
function folderIndex(rel: string, name: string): number | undefined {
  const m = new RegExp(`(?:^|[\\\\/])${name}_(\\d+)(?:[\\\\/]|$)`, 'i').exec(rel);
  return m ? Number(m[1]) : undefined;
}

function parse(root: string, path: string, re: RegExp, layout: Plate['layout']): PlateImage | null {
  const rel = relative(root, path);
  const name = rel.split(sep).pop()!;
  if (layout === 'imagexpress' && /_thumb/i.test(name)) return null;
  const g = re.exec(layout === 'pattern' ? rel : name)?.groups;
  if (!g) return null;
  let well: string;
  if (g.well !== undefined) well = normalizeWell(g.well);
  else if (g.row !== undefined && g.column !== undefined) well = wellId(/^\d+$/.test(g.row) ? Number(g.row) : g.row, Number(g.column));
  else throw new InvalidArgumentError(`plate pattern ${re} needs a (?<well>…) group or (?<row>…) and (?<column>…) groups`);
  return {
    path,
    well,
    site: num(g.site),
    channel: num(g.channel),
    z: num(g.z, layout === 'imagexpress' ? (folderIndex(rel, 'ZStep') ?? 1) : 1),
    timepoint: num(g.timepoint, layout === 'imagexpress' ? (folderIndex(rel, 'TimePoint') ?? 1) : 1),
  };
}

/** Opera Phenix's Index.xml (where present): the image URLs it lists and the channel names. */
async function phenixIndex(root: string): Promise<{ urls: string[]; channelNames: Record<number, string> } | null> {
  const candidates = [join(root, 'Index.xml'), join(root, 'Images', 'Index.xml'), join(root, 'Index.idx.xml')];
  for (const c of candidates) {
    let xml: string;
    try {
      xml = await readFile(c, 'utf8');
    } catch {
      continue;
    }
    // The elements used are flat text elements of a fixed schema, so a tag match suffices here.
    const urls = [...xml.matchAll(/<URL>([^<]+)<\/URL>/g)].map((m) => m[1]!.trim());
    const channelNames: Record<number, string> = {};
    for (const m of xml.matchAll(/<ChannelID>(\d+)<\/ChannelID>[\s\S]*?<ChannelName>([^<]*)<\/ChannelName>/g)) channelNames[Number(m[1])] = m[2]!;
    return { urls, channelNames };
  }
  return null;
}

const key = (i: Omit<PlateImage, 'path'>): string => `${i.well} s${i.site} w${i.channel} z${i.z} t${i.timepoint}`;
const sortedSet = (xs: number[]): number[] => [...new Set(xs)].sort((a, b) => a - b);

/**
 * Finds every image of the plate in `dir` (recursively) and groups it. The expected set is every
 * well × site × channel × z × time point seen; an absent one is missing, a second file for the
 * same one a duplicate — either is a `PlateLayoutError` listing them unless `allowMissing`.
 */
export async function readPlate(dir: string, options: ReadPlateOptions = {}): Promise<Plate> {
  if (typeof dir !== 'string' || dir === '') throw new InvalidArgumentError('readPlate needs a folder');
  const unknown = Object.keys(options).filter((k) => k !== 'layout' && k !== 'allowMissing');
  if (unknown.length) throw new InvalidArgumentError(`readPlate: unknown option ${unknown.join(', ')}`);
  const spec = options.layout ?? 'imagexpress';
  let re: RegExp;
  let layout: Plate['layout'];
  if (spec === 'imagexpress') [re, layout] = [IMAGEXPRESS, 'imagexpress'];
  else if (spec === 'operaphenix') [re, layout] = [PHENIX, 'operaphenix'];
  else if (spec instanceof RegExp || typeof spec === 'string') {
    try {
      re = spec instanceof RegExp ? spec : new RegExp(spec);
    } catch (e) {
      throw new InvalidArgumentError(`readPlate: the layout pattern is not a regular expression (${(e as Error).message})`);
    }
    layout = 'pattern';
  } else throw new InvalidArgumentError(`readPlate: layout must be 'imagexpress', 'operaphenix' or a pattern`);

  let files: string[];
  try {
    files = await walk(dir);
  } catch (e) {
    throw new PlateLayoutError(`${dir}: cannot list the plate folder (${(e as Error).message})`, { path: dir, missing: [], duplicates: [] });
  }
  const images: PlateImage[] = [];
  const seen = new Map<string, string>();
  const duplicates: string[] = [];
  for (const f of files.sort()) {
    const img = parse(dir, f, re, layout);
    if (!img) continue;
    const k = key(img);
    if (seen.has(k)) duplicates.push(`${k}: ${relative(dir, f)} and ${relative(dir, seen.get(k)!)}`);
    else {
      seen.set(k, f);
      images.push(img);
    }
  }
  if (images.length === 0) {
    throw new PlateLayoutError(`${dir}: no ${layout === 'pattern' ? `images matching ${re}` : `${layout} images`} found (${files.length} TIFF files looked at)`, { path: dir, missing: [], duplicates: [] });
  }
  const wells = [...new Set(images.map((i) => i.well))].sort(compareWells);
  const sites = sortedSet(images.map((i) => i.site));
  const channels = sortedSet(images.map((i) => i.channel));
  const zs = sortedSet(images.map((i) => i.z));
  const timepoints = sortedSet(images.map((i) => i.timepoint));
  const missing: string[] = [];
  for (const well of wells) for (const timepoint of timepoints) for (const site of sites) for (const channel of channels) for (const z of zs) {
    const k = key({ well, site, channel, z, timepoint });
    if (!seen.has(k)) missing.push(k);
  }
  let channelNames: Record<number, string> = {};
  if (layout === 'operaphenix') {
    const index = await phenixIndex(dir);
    if (index) {
      channelNames = index.channelNames;
      const found = new Set(files.map((f) => f.split(sep).pop()!));
      for (const u of index.urls) if (!found.has(u.split(/[\\/]/).pop()!)) missing.push(`${u} (listed in Index.xml)`);
    }
  }
  if ((missing.length || duplicates.length) && !options.allowMissing) {
    const parts = [missing.length ? `${missing.length} missing (${missing.slice(0, 5).join('; ')}${missing.length > 5 ? '; …' : ''})` : '', duplicates.length ? `${duplicates.length} duplicate (${duplicates.slice(0, 5).join('; ')}${duplicates.length > 5 ? '; …' : ''})` : '']
      .filter(Boolean)
      .join(', ');
    throw new PlateLayoutError(`${dir}: ${parts} image(s); pass allowMissing (--allow-missing) to run the rest`, { path: dir, missing, duplicates });
  }
  images.sort((a, b) => compareWells(a.well, b.well) || a.timepoint - b.timepoint || a.site - b.site || a.channel - b.channel || a.z - b.z);
  return { root: dir, layout, wells, sites, channels, zs, timepoints, images, channelNames, missing, duplicates };
}
