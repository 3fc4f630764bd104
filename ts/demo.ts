/**
 * `npm start`: a synthetic microscopy stack through a three-step pipeline whose steps live in
 * different memory types (normalize in torch → background subtraction in jax → cell counting in
 * numpy), printing every conversion the engine made and the cells counted against the number
 * generated. The processing is written plainly in TS over each array's host values; the real
 * processors are `stackbridge/processors/<memoryType>`.
 */
import { convertMemory } from './convert.js';
import { jax, numpy, torch } from './decorators.js';
import { devices } from './devices.js';
import { asarray, type NDArray } from './ndarray.js';
import { FunctionStep, Pipeline, type PipelinePlan, type StepTrace } from './pipeline.js';
import { tfAvailable, type Tensor } from './tfjs.js';
import { TraceCollector, withTrace, type ConversionRecord } from './trace.js';
import type { AnyTypedArray } from './types.js';

const Z = 8;
const H = 256;
const W = 256;
const SEED = 20240611;

// ---------------------------------------------------------------- synthetic data

/** mulberry32: a small seeded PRNG with uniform output in [0, 1). */
function mulberry32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A standard normal sample (Box–Muller). */
function gaussian(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

interface Nucleus {
  x: number;
  y: number;
  sigma: number;
  amplitude: number;
}

/** `count` nuclei at least `minDistance` apart and `margin` px inside the image (rejection sampling). */
function placeNuclei(rand: () => number, count: number, minDistance = 20, margin = 12): Nucleus[] {
  const nuclei: Nucleus[] = [];
  while (nuclei.length < count) {
    const x = margin + rand() * (W - 2 * margin);
    const y = margin + rand() * (H - 2 * margin);
    if (nuclei.some((n) => Math.hypot(n.x - x, n.y - y) < minDistance)) continue;
    nuclei.push({ x, y, sigma: 2.5 + rand(), amplitude: 2500 + rand() * 3500 });
  }
  return nuclei;
}

/** Uneven illumination: a horizontal ramp, a vertical bow and a per-slice offset. */
function background(x: number, y: number, z: number): number {
  return 600 + 900 * (x / W) + 500 * (y / H) ** 2 + 120 * z;
}

/** Adds one Gaussian spot into `plane` within 4 sigma of its centre. */
function addNucleus(plane: Float64Array, n: Nucleus): void {
  const r = Math.ceil(4 * n.sigma);
  for (let y = Math.max(0, Math.floor(n.y) - r); y <= Math.min(H - 1, Math.floor(n.y) + r); y++) {
    for (let x = Math.max(0, Math.floor(n.x) - r); x <= Math.min(W - 1, Math.floor(n.x) + r); x++) {
      const d2 = (x - n.x) ** 2 + (y - n.y) ** 2;
      plane[y * W + x] += n.amplitude * Math.exp(-d2 / (2 * n.sigma * n.sigma));
    }
  }
}

/** One uint16 slice: background + nuclei + Gaussian noise (σ = 40), rounded and clipped. */
function renderSlice(rand: () => number, z: number, nuclei: Nucleus[], out: Uint16Array): void {
  const plane = new Float64Array(H * W);
  for (let i = 0; i < plane.length; i++) plane[i] = background(i % W, Math.floor(i / W), z);
  for (const n of nuclei) addNucleus(plane, n);
  for (let i = 0; i < plane.length; i++) {
    out[i] = Math.min(65535, Math.max(0, Math.round(plane[i] + 40 * gaussian(rand))));
  }
}

/** The seeded stack (numpy, uint16, [Z, H, W]) and the nuclei drawn in each slice. */
function syntheticStack(seed: number): { stack: NDArray<'uint16'>; nuclei: Nucleus[][] } {
  const rand = mulberry32(seed);
  const values = new Uint16Array(Z * H * W);
  const nuclei: Nucleus[][] = [];
  for (let z = 0; z < Z; z++) {
    nuclei.push(placeNuclei(rand, 36 + Math.floor(rand() * 9)));
    renderSlice(rand, z, nuclei[z], values.subarray(z * H * W, (z + 1) * H * W));
  }
  return { stack: asarray(values, { shape: [Z, H, W], dtype: 'uint16' }), nuclei };
}

// ---------------------------------------------------------------- helpers over arrays

/** An array's values on the host: the zero-copy `.data` view for host arrays, else a copy. */
async function hostValues(stack: NDArray): Promise<AnyTypedArray> {
  return stack.device === 'cpu' ? stack.data : stack.toTypedArray();
}

/**
 * A new uint16 stack of the input's memory type when it lives on the host (jax input is read-only,
 * so steps never write into it); on a GPU machine a host numpy array, which the decorator converts
 * to the declared output type.
 */
function newStack(values: Uint16Array, like: NDArray): NDArray {
  const memoryType = like.device === 'cpu' ? like.memoryType : 'numpy';
  return asarray(values, { shape: like.shape, dtype: 'uint16', memoryType });
}

// ---------------------------------------------------------------- step (a): percentile normalize (torch)

/** The k-th smallest value (0-based) from a 65536-bin histogram. */
function kthFromHistogram(hist: Float64Array, k: number): number {
  let seen = 0;
  for (let v = 0; v < hist.length; v++) {
    seen += hist[v];
    if (seen > k) return v;
  }
  return hist.length - 1;
}

/** numpy's default (`linear`) percentiles of uint16 values, exact, via one histogram. */
function percentilesU16(values: ArrayLike<number>, ps: number[]): number[] {
  const hist = new Float64Array(65536);
  for (let i = 0; i < values.length; i++) hist[values[i]]++;
  return ps.map((p) => {
    const rank = (p / 100) * (values.length - 1);
    const lo = Math.floor(rank);
    const vLo = kthFromHistogram(hist, lo);
    const vHi = rank > lo ? kthFromHistogram(hist, lo + 1) : vLo;
    return vLo + (rank - lo) * (vHi - vLo);
  });
}

interface NormalizeOptions {
  lowPercentile: number;
  highPercentile: number;
  targetMin: number;
  targetMax: number;
}

const percentileNormalize = torch(async (stack: NDArray, o: NormalizeOptions): Promise<NDArray> => {
  const values = await hostValues(stack);
  const [pl, ph] = percentilesU16(values, [o.lowPercentile, o.highPercentile]);
  const out = new Uint16Array(values.length);
  if (ph === pl) return newStack(out.fill(o.targetMin), stack);
  const scale = (o.targetMax - o.targetMin) / (ph - pl);
  for (let i = 0; i < values.length; i++) {
    out[i] = Math.trunc((Math.min(ph, Math.max(pl, values[i])) - pl) * scale + o.targetMin);
  }
  return newStack(out, stack);
});

// ---------------------------------------------------------------- step (b): background subtraction (jax)

/** In-place 1D box mean of `n` samples at `offset + i * stride`, over the part of the window inside. */
function boxMean1d(a: Float64Array, offset: number, stride: number, n: number, radius: number, tmp: Float64Array): void {
  let sum = 0;
  for (let i = 0; i < Math.min(radius, n); i++) sum += a[offset + i * stride];
  for (let i = 0; i < n; i++) {
    if (i + radius < n) sum += a[offset + (i + radius) * stride];
    if (i - radius - 1 >= 0) sum -= a[offset + (i - radius - 1) * stride];
    tmp[i] = sum / (Math.min(n - 1, i + radius) - Math.max(0, i - radius) + 1);
  }
  for (let i = 0; i < n; i++) a[offset + i * stride] = tmp[i];
}

/** Separable running-sum box blur of one [H, W] plane, in place. */
function boxBlur(plane: Float64Array, radius: number): void {
  const tmp = new Float64Array(Math.max(H, W));
  for (let y = 0; y < H; y++) boxMean1d(plane, y * W, 1, W, radius, tmp);
  for (let x = 0; x < W; x++) boxMean1d(plane, x, W, H, radius, tmp);
}

const subtractBackground = jax(async (stack: NDArray, o: { radius: number }): Promise<NDArray> => {
  const values = await hostValues(stack);
  const [nz, ny, nx] = stack.shape;
  const out = new Uint16Array(values.length);
  for (let z = 0; z < nz; z++) {
    const base = z * ny * nx;
    const bg = Float64Array.from(values.subarray(base, base + ny * nx));
    boxBlur(bg, o.radius);
    for (let i = 0; i < bg.length; i++) out[base + i] = Math.max(0, Math.trunc(values[base + i] - bg[i]));
  }
  return newStack(out, stack);
});

// ---------------------------------------------------------------- step (c): count cells (numpy)

/** mean + k·std of one plane (population std, as numpy). */
function threshold(plane: ArrayLike<number>, k: number): number {
  let sum = 0;
  let sq = 0;
  for (let i = 0; i < plane.length; i++) sum += plane[i];
  const mean = sum / plane.length;
  for (let i = 0; i < plane.length; i++) sq += (plane[i] - mean) ** 2;
  return mean + k * Math.sqrt(sq / plane.length);
}

/** Areas of the 4-connected components of `mask` (flood fill with an explicit stack). */
function componentAreas(mask: Uint8Array, ny: number, nx: number): number[] {
  const seen = new Uint8Array(mask.length);
  const todo = new Int32Array(mask.length);
  const areas: number[] = [];
  for (let start = 0; start < mask.length; start++) {
    if (!mask[start] || seen[start]) continue;
    let top = 0;
    let area = 0;
    todo[top++] = start;
    seen[start] = 1;
    const visit = (q: number): void => {
      if (mask[q] && !seen[q]) {
        seen[q] = 1;
        todo[top++] = q;
      }
    };
    while (top > 0) {
      const p = todo[--top];
      area++;
      const y = Math.floor(p / nx);
      const x = p - y * nx;
      if (x > 0) visit(p - 1);
      if (x < nx - 1) visit(p + 1);
      if (y > 0) visit(p - nx);
      if (y < ny - 1) visit(p + nx);
    }
    areas.push(area);
  }
  return areas;
}

interface CountOptions {
  stdFactor: number;
  minArea: number;
  maxArea: number;
}

const countCells = numpy(async (stack: NDArray, o: CountOptions): Promise<[NDArray, number[]]> => {
  const values = await hostValues(stack);
  const [nz, ny, nx] = stack.shape;
  const counts: number[] = [];
  for (let z = 0; z < nz; z++) {
    const plane = values.subarray(z * ny * nx, (z + 1) * ny * nx);
    const t = threshold(plane, o.stdFactor);
    const mask = new Uint8Array(plane.length);
    for (let i = 0; i < plane.length; i++) mask[i] = plane[i] > t ? 1 : 0;
    counts.push(componentAreas(mask, ny, nx).filter((a) => a >= o.minArea && a <= o.maxArea).length);
  }
  return [stack, counts];
});

// ---------------------------------------------------------------- reporting

const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(2)} MiB`;

function formatConversion(c: ConversionRecord): string {
  return `${c.from} → ${c.to}  ${c.kind.padEnd(13)} ${mib(c.bytes).padStart(9)}  ${c.ms.toFixed(3).padStart(8)} ms  (${c.sourceDevice} → ${c.targetDevice})`;
}

function printPlan(plan: PipelinePlan): void {
  console.log(`\nplan for a ${plan.inputType} input:`);
  for (const s of plan.steps) {
    for (const c of s.conversions) console.log(`  step ${s.stepIndex} ${s.stepName}: ${c.from} → ${c.to} will be ${c.kind}`);
  }
}

function printStep(s: StepTrace): void {
  console.log(`\nstep ${s.stepIndex} '${s.stepName}'  input ${s.inputMemoryType} → output ${s.outputMemoryType}`);
  for (const c of s.conversions) console.log(`  conversion ${formatConversion(c)}`);
  if (s.conversions.length === 0) console.log('  conversions: none');
  for (const r of s.recoveries) console.log(`  recovery ${r.action} #${r.attempt}${r.device ? ` on ${r.device}` : ''}: ${r.message}`);
  if (s.recoveries.length === 0) console.log('  recoveries: none');
  console.log(`  function ${s.functionMs.toFixed(1)} ms, step total ${s.totalMs.toFixed(1)} ms`);
}

function printCounts(counted: number[], nuclei: Nucleus[][]): void {
  console.log('\ncells per slice: generated vs counted');
  console.log('  slice  generated  counted  diff');
  counted.forEach((c, z) => {
    const known = nuclei[z].length;
    console.log(`  ${String(z).padStart(5)}  ${String(known).padStart(9)}  ${String(c).padStart(7)}  ${String(c - known).padStart(4)}`);
  });
  const known = nuclei.reduce((a, n) => a + n.length, 0);
  const total = counted.reduce((a, b) => a + b, 0);
  console.log(`  total  ${String(known).padStart(9)}  ${String(total).padStart(7)}  ${String(total - known).padStart(4)}`);
}

// ---------------------------------------------------------------- tensorflow round trip

/** numpy → tensorflow → numpy of `stack`: the kinds recorded and whether values and dtype came back. */
async function tensorflowRoundTrip(stack: NDArray): Promise<void> {
  const trace = new TraceCollector();
  const back = await withTrace(trace, async () => {
    const tensor = (await convertMemory(stack, { targetType: 'tensorflow' })) as Tensor;
    console.log(`  tf.Tensor dtype ${tensor.dtype}, shape [${tensor.shape.join(', ')}]`);
    const host = (await convertMemory(tensor, { targetType: 'numpy' })) as NDArray;
    tensor.dispose();
    return host;
  });
  for (const c of trace.conversions) console.log(`  conversion ${formatConversion(c)}`);
  const a = stack.data;
  const b = back.data;
  const same = back.dtype === stack.dtype && a.length === b.length && a.every((v, i) => v === b[i]);
  console.log(`  back as ${back.dtype} ${back.memoryType}; values identical: ${same}`);
  back.dispose();
}

async function showTensorflow(stack: NDArray): Promise<void> {
  console.log('\ntensorflow (@tensorflow/tfjs):');
  if (!tfAvailable()) {
    console.log('  @tensorflow/tfjs is not installed: skipped');
    return;
  }
  await tensorflowRoundTrip(stack); // uint16: widened to int32 (a transfer), restored exactly
  const f32 = asarray(Float32Array.from(stack.data.subarray(0, H * W)), { shape: [1, H, W] });
  await tensorflowRoundTrip(f32); // float32 on the tfjs cpu backend: zero-copy
  f32.dispose();
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const t0 = performance.now();
  console.log(`stackbridge demo — devices: ${devices().map((d) => d.id).join(', ')}`);
  const { stack, nuclei } = syntheticStack(SEED);
  const tGen = performance.now() - t0;
  console.log(`synthetic stack [${stack.shape.join(', ')}] ${stack.dtype} (${stack.memoryType}, ${mib(stack.nbytes)}), seed ${SEED}, generated in ${tGen.toFixed(0)} ms`);

  const pipeline = new Pipeline([
    new FunctionStep({ func: percentileNormalize, name: 'percentileNormalize', kwargs: { lowPercentile: 1, highPercentile: 99, targetMin: 0, targetMax: 65535 } }),
    new FunctionStep({ func: subtractBackground, name: 'subtractBackground', kwargs: { radius: 16 } }),
    new FunctionStep({ func: countCells, name: 'countCells', kwargs: { stdFactor: 3, minArea: 6, maxArea: 2000 } }),
  ]);
  printPlan(pipeline.plan('numpy'));

  const result = await pipeline.run<NDArray>(stack);
  result.trace.steps.forEach(printStep);
  const counted = result.specialOutputs.countCells[0] as number[];
  printCounts(counted, nuclei);
  console.log(`\npipeline ${result.trace.totalMs.toFixed(1)} ms; output ${result.output.toString()}`);

  await showTensorflow(result.output);
  result.output.dispose();
  stack.dispose();
  console.log(`\ntotal ${(performance.now() - t0).toFixed(0)} ms`);
}

main().catch((e: unknown) => {
  const code = (e as { code?: unknown })?.code;
  console.error(`demo failed${typeof code === 'string' ? ` [${code}]` : ''}:`, e);
  process.exitCode = 1;
});
