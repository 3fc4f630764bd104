// Timing and printing helpers shared by the bench sections (run.js, processors.js).
export const nowNs = () => process.hrtime.bigint();
export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
export const summary = (xs) => ({ median: median(xs), min: Math.min(...xs) });
export const fmt = (x, digits = 2) => (x >= 100 ? x.toFixed(0) : x.toFixed(digits));

/** Per-call microseconds of a sync `fn(i)`: `warmup` unmeasured runs, then `reps` samples of `iters` calls. */
export function timeSync(fn, { iters, reps = 7, warmup = 1 }) {
  const samples = [];
  for (let r = 0; r < warmup + reps; r++) {
    const t0 = nowNs();
    for (let i = 0; i < iters; i++) fn(i);
    if (r >= warmup) samples.push(Number(nowNs() - t0) / 1e3 / iters);
  }
  return summary(samples);
}

/** The same for an async `fn(i)`, each call awaited before the next. */
export async function timeAsync(fn, { iters, reps = 7, warmup = 1 }) {
  const samples = [];
  for (let r = 0; r < warmup + reps; r++) {
    const t0 = nowNs();
    for (let i = 0; i < iters; i++) await fn(i);
    if (r >= warmup) samples.push(Number(nowNs() - t0) / 1e3 / iters);
  }
  return summary(samples);
}

export function printTable(title, headers, rows) {
  const cells = [headers, ...rows].map((r) => r.map(String));
  const widths = headers.map((_, c) => Math.max(...cells.map((r) => r[c].length)));
  const line = (r) => r.map((s, c) => (c === 0 ? s.padEnd(widths[c]) : s.padStart(widths[c]))).join('  ');
  console.log(`\n== ${title} ==`);
  console.log(line(cells[0]));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of cells.slice(1)) console.log(line(r));
}
