import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtemp, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';

// The demo's report.html rendered by headless Chromium (Debian's `chromium`). Without it: skipped
// with a printed reason, unless STACKBRIDGE_REQUIRE_CHROMIUM=1 (CI installs it and sets it).
const BIN = new URL('../dist/cli/main.js', import.meta.url).pathname;

function chromium(): string | null {
  for (const c of ['chromium', 'chromium-browser', 'google-chrome']) {
    if (spawnSync('which', [c], { encoding: 'utf8' }).status === 0) return c;
  }
  return null;
}

/** Screenshots `html` into `png` with the flags that keep Chromium off the network and the GPU. */
export function screenshot(browser: string, html: string, png: string, profile: string, size = '1200,1400'): void {
  const r = spawnSync(browser, ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', `--user-data-dir=${profile}`, '--hide-scrollbars', `--window-size=${size}`, `--screenshot=${png}`, `file://${html}`], { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`chromium failed (${r.status}): ${r.stderr}`);
}

test('report.html renders in headless Chromium: heatmap, thumbnails and tables visible', async (t) => {
  const browser = chromium();
  if (!browser) {
    if (process.env.STACKBRIDGE_REQUIRE_CHROMIUM === '1') t.fail('STACKBRIDGE_REQUIRE_CHROMIUM=1 but no chromium on PATH');
    else t.log('skipped: no chromium on PATH (apt-get install chromium)');
    t.pass();
    return;
  }
  const out = await mkdtemp(join(tmpdir(), 'sb-shot-'));
  const r = spawnSync(process.execPath, [BIN, 'demo', '--output', out], { encoding: 'utf8' });
  t.is(r.status, 0, r.stderr);
  const png = join(out, 'report.png');
  screenshot(browser, join(out, 'results', 'report.html'), png, join(out, 'profile'));
  t.true((await stat(png)).size > 20_000);
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  t.deepEqual([info.width, info.height], [1200, 1400]);
  // The heatmap's blues and the overlays' magenta circles are on the page (not a blank render).
  let blue = 0;
  let magenta = 0;
  for (let i = 0; i < data.length; i += 3) {
    const [r0, g0, b0] = [data[i]!, data[i + 1]!, data[i + 2]!];
    if (b0 > 90 && r0 < 60 && g0 < 110) blue++;
    if (r0 > 200 && g0 < 110 && b0 > 120) magenta++;
  }
  t.log(`heatmap-blue pixels ${blue}, overlay-magenta pixels ${magenta}`);
  t.true(blue > 1000, `blue ${blue}`);
  t.true(magenta > 500, `magenta ${magenta}`);
});
