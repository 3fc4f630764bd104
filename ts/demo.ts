/**
 * `npm start`: a synthetic microscopy stack through a three-step pipeline whose steps live in
 * different memory types (normalize in torch → background subtraction in jax → cell counting in
 * numpy), with the real processors of `stackbridge/processors/<memoryType>` and
 * `stackbridge/analysis`, printing every conversion the engine made, the cells counted against the
 * nuclei generated, and writing OpenHCS's JSON summary and CSV details. Where an OpenCL device
 * exists (PoCL on a CPU-only machine), the pipeline runs a second time with the top-hat and the
 * counting on that device (pyclesperanto), and the two runs' counts are compared.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { countCellsSingleChannel, writeCellCounts, type CellCountResult } from './analysis.js';
import { convertMemory } from './convert.js';
import { devices } from './devices.js';
import { asarray, type NDArray } from './ndarray.js';
import { FunctionStep, Pipeline, type PipelinePlan, type StepTrace } from './pipeline.js';
import * as jaxProcessors from './processors/jax.js';
import * as clProcessors from './processors/pyclesperanto.js';
import * as torchProcessors from './processors/torch.js';
import { mulberry32, placeNuclei, renderSlice, type Nucleus } from './synthetic.js';
import { tfAvailable, type Tensor } from './tfjs.js';
import { TraceCollector, withTrace, type ConversionRecord } from './trace.js';

const Z = 8;
const H = 256;
const W = 256;
const SEED = 20240611;

// ---------------------------------------------------------------- synthetic data

/** The seeded stack (numpy, uint16, [Z, H, W]) and the nuclei drawn in each slice. */
function syntheticStack(seed: number): { stack: NDArray<'uint16'>; nuclei: Nucleus[][] } {
  const rand = mulberry32(seed);
  const values = new Uint16Array(Z * H * W);
  const nuclei: Nucleus[][] = [];
  for (let z = 0; z < Z; z++) {
    nuclei.push(placeNuclei(rand, 36 + Math.floor(rand() * 9), W, H));
    renderSlice(rand, z, nuclei[z], values.subarray(z * H * W, (z + 1) * H * W), W, H);
  }
  return { stack: asarray(values, { shape: [Z, H, W], dtype: 'uint16' }), nuclei };
}

// ---------------------------------------------------------------- the pipeline's steps

/** The seed pipeline: normalize (torch) → top-hat background subtraction (jax) → count cells (numpy). */
function seedPipeline(): Pipeline {
  return new Pipeline([
    new FunctionStep({ func: torchProcessors.stackPercentileNormalize, name: 'stackPercentileNormalize', kwargs: { lowPercentile: 1, highPercentile: 99 } }),
    new FunctionStep({ func: jaxProcessors.tophat, name: 'tophat', kwargs: { selemRadius: 50, downsampleFactor: 4 } }),
    new FunctionStep({ func: countCellsSingleChannel, name: 'countCellsSingleChannel', kwargs: { detectionMethod: 'blob_log' } }),
  ]);
}

/** The same recipe with the top-hat and the counting on the OpenCL device (pyclesperanto). */
function openclPipeline(): Pipeline {
  return new Pipeline([
    new FunctionStep({ func: torchProcessors.stackPercentileNormalize, name: 'stackPercentileNormalize', kwargs: { lowPercentile: 1, highPercentile: 99 } }),
    new FunctionStep({ func: clProcessors.tophat, name: 'tophat', kwargs: { selemRadius: 50, downsampleFactor: 4 } }),
    new FunctionStep({ func: clProcessors.countCellsSingleChannel, name: 'countCellsSingleChannel', kwargs: { detectionMethod: 'blob_log' } }),
  ]);
}

/** Detections matched to the generated nuclei (nearest unused within 3 px): true positives per slice. */
function matched(results: CellCountResult[], nuclei: Nucleus[][]): number[] {
  return results.map((r, z) => {
    const used = new Set<number>();
    let tp = 0;
    for (const n of nuclei[z]) {
      let best = 3;
      let bi = -1;
      r.positions.forEach(([x, y], i) => {
        const d = Math.hypot(x - n.x, y - n.y);
        if (!used.has(i) && d <= best) [best, bi] = [d, i];
      });
      if (bi >= 0) {
        used.add(bi);
        tp++;
      }
    }
    return tp;
  });
}

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
  for (const k of s.kernels) console.log(`  kernels of ${k.processor} on ${k.device}${k.queue === undefined ? '' : ` (command queue ${k.queue})`}: ${k.ms.toFixed(1)} ms`);
  console.log(`  function ${s.functionMs.toFixed(1)} ms, step total ${s.totalMs.toFixed(1)} ms`);
}

function printCounts(results: CellCountResult[], nuclei: Nucleus[][]): void {
  const tp = matched(results, nuclei);
  console.log('\ncells per slice: generated vs counted (blob_log), matched within 3 px');
  console.log('  slice  generated  counted  matched');
  results.forEach((r, z) => {
    console.log(`  ${String(z).padStart(5)}  ${String(nuclei[z].length).padStart(9)}  ${String(r.cellCount).padStart(7)}  ${String(tp[z]).padStart(7)}`);
  });
  const known = nuclei.reduce((a, n) => a + n.length, 0);
  const total = results.reduce((a, r) => a + r.cellCount, 0);
  const hits = tp.reduce((a, b) => a + b, 0);
  console.log(`  total  ${String(known).padStart(9)}  ${String(total).padStart(7)}  ${String(hits).padStart(7)}   F1 ${((2 * hits) / (known + total)).toFixed(3)}`);
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

  const pipeline = seedPipeline();
  printPlan(pipeline.plan('numpy'));

  const result = await pipeline.run<NDArray>(stack);
  result.trace.steps.forEach(printStep);
  const results = result.specialOutputs.countCellsSingleChannel[0] as CellCountResult[];
  printCounts(results, nuclei);
  const written = await writeCellCounts(results, join(tmpdir(), 'stackbridge-demo-cell_counts'));
  console.log(`OpenHCS-format outputs: ${written.join(', ')}`);
  console.log(`\npipeline ${result.trace.totalMs.toFixed(1)} ms; output ${result.output.toString()}`);

  const cl = devices().find((d) => d.kind === 'opencl');
  if (cl) {
    console.log(`\n---- the same pipeline with tophat and counting on ${cl.id} (${cl.name}, pyclesperanto) ----`);
    const r2 = await openclPipeline().run<NDArray>(stack);
    r2.trace.steps.forEach(printStep);
    const results2 = r2.specialOutputs.countCellsSingleChannel[0] as CellCountResult[];
    printCounts(results2, nuclei);
    const same = results2.every((r, z) => r.cellCount === results[z]!.cellCount && JSON.stringify(r.positions) === JSON.stringify(results[z]!.positions));
    console.log(`OpenCL counts and positions identical to the CPU run: ${same}`);
    r2.output.dispose();
  } else {
    console.log('\nno OpenCL device: the pyclesperanto variant is skipped (install pocl-opencl-icd to run it on the CPU)');
  }

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
