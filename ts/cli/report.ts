/**
 * Plate outputs: `plate.csv` (one row per well) and a self-contained `report.html` — a heatmap of
 * counts laid out as the plate, overlay thumbnails per well (PNG data URIs), per-step timings, the
 * conversion trace, and a warning for every well whose count is 0 or far off the plate's median.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { compareWells, type Plate } from '../plate.js';
import type { WellSummary } from './runner.js';

/** A well is flagged when its count is 0 or outside [median / 2, median × 2]. */
export function wellWarnings(summaries: WellSummary[]): Map<string, string> {
  const counts = summaries.map((s) => s.cells).sort((a, b) => a - b);
  const m = counts.length ? (counts.length % 2 ? counts[(counts.length - 1) / 2]! : (counts[counts.length / 2 - 1]! + counts[counts.length / 2]!) / 2) : 0;
  const out = new Map<string, string>();
  for (const s of summaries) {
    if (s.cells === 0) out.set(s.well, 'no cells found: check the image, the channel and the pipeline (a raw dim image needs normalizing first)');
    else if (m > 0 && (s.cells < m / 2 || s.cells > m * 2)) out.set(s.well, `${s.cells} cells is far off the plate median of ${m}`);
  }
  return out;
}

const CSV_HEADER = 'well,row,column,sites,images,cell_count,avg_cell_area,avg_cell_intensity,seconds,warning';

/** One CSV row per finished well (row-major), with the warning text where flagged. */
export function plateCsv(summaries: WellSummary[]): string {
  const warn = wellWarnings(summaries);
  const rows = [...summaries].sort((a, b) => compareWells(a.well, b.well)).map((s) => {
    const [, row, col] = /^([A-Z]+)(\d+)$/.exec(s.well) ?? [, s.well, ''];
    const w = warn.get(s.well);
    return [s.well, row, Number(col), s.sites.length, s.images, s.cells, s.avgCellArea.toFixed(3), s.avgCellIntensity.toFixed(3), s.seconds.toFixed(3), w ? `"${w.replace(/"/g, '""')}"` : ''].join(',');
  });
  return [CSV_HEADER, ...rows].join('\n') + '\n';
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function heatColor(v: number, max: number): string {
  const t = max > 0 ? v / max : 0;
  // white → deep blue
  const c = (a: number, b: number) => Math.round(a + (b - a) * t);
  return `rgb(${c(247, 8)},${c(251, 48)},${c(255, 107)})`;
}

export interface ReportInfo {
  title: string;
  pipelineName: string;
  input: string;
  device: string;
  wallSeconds: number;
  interrupted: boolean;
  plate: Plate;
}

/** Writes `plate.csv` and `report.html` into `output`; resolves to the report's path. */
export async function writeReport(output: string, summaries: Map<string, WellSummary>, info: ReportInfo): Promise<string> {
  const list = [...summaries.values()].sort((a, b) => compareWells(a.well, b.well));
  await writeFile(join(output, 'plate.csv'), plateCsv(list));
  const warn = wellWarnings(list);
  const rows = [...new Set(info.plate.wells.map((w) => /^[A-Z]+/.exec(w)![0]))];
  const cols = [...new Set(info.plate.wells.map((w) => Number(/\d+$/.exec(w)![0])))].sort((a, b) => a - b);
  const max = Math.max(0, ...list.map((s) => s.cells));
  const heat = `<table class="heat"><tr><th></th>${cols.map((c) => `<th>${c}</th>`).join('')}</tr>${rows
    .map(
      (r) =>
        `<tr><th>${r}</th>${cols
          .map((c) => {
            const w = `${r}${String(c).padStart(2, '0')}`;
            const s = summaries.get(w);
            if (!s) return `<td class="none" title="${w}: not run">–</td>`;
            const fg = max && s.cells / max > 0.55 ? '#fff' : '#111';
            return `<td style="background:${heatColor(s.cells, max)};color:${fg}" class="${warn.has(w) ? 'warn' : ''}" title="${w}: ${s.cells} cells"><a href="#well-${w}">${s.cells}</a></td>`;
          })
          .join('')}</tr>`,
    )
    .join('')}</table>`;
  const thumbs: string[] = [];
  for (const s of list) {
    const site = s.sites[0];
    const png = site ? await readFile(join(output, 'wells', s.well, site.overlay)) : null;
    const w = warn.get(s.well);
    thumbs.push(
      `<figure id="well-${s.well}" class="${w ? 'warn' : ''}">${png ? `<img alt="${s.well} overlay" src="data:image/png;base64,${png.toString('base64')}">` : ''}<figcaption><b>${s.well}</b> ${s.cells} cells · ${s.sites.length} site(s)${w ? `<br><span class="w">⚠ ${esc(w)}</span>` : ''}</figcaption></figure>`,
    );
  }
  const stepNames = list[0]?.steps.map((s) => s.name) ?? [];
  const stepRows = stepNames
    .map((n, i) => {
      const ms = list.map((s) => s.steps[i]?.ms ?? 0);
      return `<tr><td>${i + 1}</td><td>${esc(n)}</td><td>${(ms.reduce((a, b) => a + b, 0) / ms.length).toFixed(1)}</td><td>${Math.max(...ms).toFixed(1)}</td></tr>`;
    })
    .join('');
  const conv = (list[0]?.steps ?? [])
    .flatMap((s, i) => s.conversions.filter((c) => c.kind !== 'identity').map((c) => `<tr><td>${i + 1}</td><td>${esc(s.name)}</td><td>${c.from} → ${c.to}</td><td>${c.kind}</td><td>${c.ms.toFixed(2)}</td></tr>`))
    .join('');
  const warnings = [...warn].map(([w, t]) => `<li><a href="#well-${w}">${w}</a>: ${esc(t)}</li>`).join('');
  const total = list.reduce((a, s) => a + s.cells, 0);
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(info.title)}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#111;max-width:1200px}
h1{font-size:20px;margin:0 0 4px} h2{font-size:16px;margin:24px 0 8px} .meta{color:#555}
table{border-collapse:collapse} td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}
.heat td{width:56px;height:40px;text-align:center;font-weight:600} .heat td a{color:inherit;text-decoration:none}
.heat td.warn{outline:3px solid #e8590c;outline-offset:-3px} .heat td.none{color:#aaa}
.thumbs{display:flex;flex-wrap:wrap;gap:12px} figure{margin:0;width:200px} figure img{width:200px;height:auto;display:block;image-rendering:pixelated}
figure.warn img{outline:3px solid #e8590c} .w{color:#c2410c} .warnings{color:#c2410c}
</style></head><body>
<h1>${esc(info.title)}</h1>
<div class="meta">pipeline <b>${esc(info.pipelineName)}</b> · input ${esc(info.input)} (${info.plate.layout}) · device ${esc(info.device)} · ${list.length} of ${info.plate.wells.length} wells · ${total} cells · ${info.wallSeconds.toFixed(1)} s${info.interrupted ? ' · <b>interrupted</b>' : ''}</div>
<h2>Cells per well</h2>${heat}
${warnings ? `<h2>Warnings</h2><ul class="warnings">${warnings}</ul>` : ''}
<h2>Overlays (first site; detections in magenta)</h2><div class="thumbs">${thumbs.join('')}</div>
<h2>Per-step time (ms per well)</h2><table><tr><th>#</th><th>step</th><th>mean</th><th>max</th></tr>${stepRows}</table>
<h2>Conversion trace (first well; identities omitted)</h2><table><tr><th>#</th><th>step</th><th>conversion</th><th>kind</th><th>ms</th></tr>${conv || '<tr><td colspan="5">none</td></tr>'}</table>
</body></html>
`;
  const path = join(output, 'report.html');
  await writeFile(path, html);
  return path;
}
