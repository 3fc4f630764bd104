// A consumer of the installed package (scripts/registry-roundtrip.mjs): compiled strict with
// skipLibCheck false, then run; it prints one JSON line the round trip checks.
import { asarray, FunctionStep, Pipeline, stackSlices, torch, zeros, type NDArray } from 'stackbridge';
import { createProjection, gaussian } from 'stackbridge/processors/numpy';
import { countCellsSingleChannel, type CellCountResult } from 'stackbridge/analysis';

const constant = asarray(new Uint16Array(1 * 8 * 8).fill(1000), { shape: [1, 8, 8] });
const blurred: NDArray = await gaussian(constant, { sigma: 2 });

const slices = [10, 20, 30].map((v) => asarray(new Uint16Array(16 * 16).fill(v), { shape: [16, 16] }));
const stack: NDArray = await stackSlices(slices, 'numpy');
const double = torch(async (s: NDArray): Promise<NDArray> => {
  const out = zeros(s.shape, { dtype: 'uint16', memoryType: 'torch' });
  const src = s.data as Uint16Array;
  (out.data as Uint16Array).forEach((_, i, d) => (d[i] = src[i]! * 2));
  return out;
});
const pipeline = new Pipeline([
  new FunctionStep({ func: createProjection, name: 'mip', kwargs: { method: 'max_projection' } }),
  new FunctionStep({ func: double, name: 'double' }),
]);
const { output, trace } = await pipeline.run(stack);
const result = output as NDArray;
const [, cells]: [NDArray, CellCountResult[], ...unknown[]] = await countCellsSingleChannel(stack, { detectionMethod: 'threshold' });

console.log(JSON.stringify({
  device: blurred.device,
  constant: Array.from(blurred.data as Uint16Array),
  projection: Array.from(result.data as Uint16Array),
  dtype: result.dtype,
  trace: trace.steps.map((s) => s.stepName),
  slicesCounted: cells.length,
}));
