/**
 * The CPU processors (DESIGN §7) against golden outputs of numpy / scipy / scikit-image
 * (`__test__/golden/make_golden.py`), cell counting against known nuclei centres and against
 * scikit-image's blob_log on the same images, the processor families, and typed errors.
 */
import test from 'ava';
import { devices } from '../ts/devices.js';
import * as tf from '@tensorflow/tfjs';
import * as analysis from '../ts/analysis.js';
import { DimensionError, DisposedError, GpuUnavailableError, InvalidArgumentError } from '../ts/errors.js';
import { asarray, isNDArray, type NDArray } from '../ts/ndarray.js';
import * as cupy from '../ts/processors/cupy.js';
import * as jax from '../ts/processors/jax.js';
import * as np from '../ts/processors/numpy.js';
import * as cle from '../ts/processors/pyclesperanto.js';
import * as tfp from '../ts/processors/tensorflow.js';
import * as torch from '../ts/processors/torch.js';
import { compare, f1Score, loadNpy, manifest } from './helpers/golden.js';

test.before(async () => {
  await tf.setBackend('cpu');
});

type AnyProcessor = (stack: NDArray, arg?: unknown) => Promise<unknown>;
const numpyFamily = np as unknown as Record<string, AnyProcessor>;

for (const c of manifest.cases) {
  test(`golden ${c.name}: ${c.processor} matches ${c.note || 'the oracle'} (tolerance ${c.tolerance})`, async (t) => {
    const input = loadNpy(c.input);
    const expected = loadNpy(c.expected);
    const fn = numpyFamily[c.processor]!;
    const out = (c.aux ? await fn(input, loadNpy(c.aux)) : await fn(input, c.options)) as NDArray;
    t.deepEqual(out.shape, expected.shape);
    t.is(out.dtype, expected.dtype);
    const { maxDiff, differing } = compare(out.data, expected.data);
    t.true(maxDiff <= c.tolerance, `max |diff| ${maxDiff} > ${c.tolerance}`);
    // A tolerance covers float rounding at truncation boundaries, not a systematic offset.
    if (c.tolerance > 0 && Number.isInteger(c.tolerance)) t.true(differing <= 0.01 * expected.size + 2, `${differing} of ${expected.size} elements differ`);
  });
}

test('blob_log counting after the seed pipeline: F1 ≥ 0.95 at 3 px, ≥ scikit-image, positions within 1.5 px', async (t) => {
  const { counting } = manifest;
  const stack = loadNpy(counting.input);
  const normalized = await np.stackPercentileNormalize(stack);
  const background = await np.tophat(normalized);
  const [same, results] = await analysis.countCellsSingleChannel(background);
  t.is(same, background, 'the stack comes back unchanged');
  t.is(results.length, stack.shape[0]);
  results.forEach((r, z) => {
    t.is(r.sliceIndex, z);
    t.is(r.method, 'blob_log');
    t.is(r.cellCount, r.positions.length);
    const { f1, distances } = f1Score(r.positions, counting.truth[z]!);
    const skF1 = counting.skimage_f1[z]!;
    t.log(`slice ${z}: ${r.cellCount} cells, F1 ${f1.toFixed(3)} (scikit-image ${skF1.toFixed(3)}), worst matched distance ${Math.max(...distances).toFixed(2)} px`);
    t.true(f1 >= 0.95, `F1 ${f1}`);
    t.true(f1 >= skF1 - 1e-9, `F1 ${f1} below scikit-image's ${skF1}`);
    t.true(distances.every((d) => d <= 1.5), 'matched positions within 1.5 px');
    // Parameters report every default.
    t.like(r.parameters, { detectionMethod: 'blob_log', minSigma: 1, maxSigma: 10, numSigma: 10, threshold: 0.1, minCellArea: 10, maxCellArea: 1000 });
    r.areas.forEach((a) => t.true(a >= 10 && a <= 1000));
  });
});

test('watershed and threshold counting find the same nuclei; masks label every kept cell', async (t) => {
  const stack = loadNpy(manifest.counting.input);
  const bg = await np.tophat(await np.stackPercentileNormalize(stack));
  for (const detectionMethod of ['watershed', 'threshold', 'blob_dog'] as const) {
    const [, results, masks] = await analysis.countCellsSingleChannel(bg, { detectionMethod, returnSegmentationMask: true, threshold: detectionMethod === 'blob_dog' ? 0.1 : 0.3 });
    t.truthy(masks);
    t.deepEqual(masks!.shape, bg.shape);
    t.is(masks!.dtype, 'int32');
    results.forEach((r, z) => {
      const { f1 } = f1Score(r.positions, manifest.counting.truth[z]!, 3);
      t.log(`${detectionMethod} slice ${z}: ${r.cellCount} cells, F1 ${f1.toFixed(3)}`);
      t.true(f1 >= 0.9, `${detectionMethod} F1 ${f1}`);
      const plane = masks!.data.subarray(z * 256 * 256, (z + 1) * 256 * 256);
      const labels = new Set(plane);
      labels.delete(0);
      t.is(labels.size, r.cellCount, 'one label per counted cell');
    });
  }
});

test('the writers produce OpenHCS JSON summary and CSV details', async (t) => {
  const parameters = { detectionMethod: 'blob_log', minSigma: 1 } as unknown as analysis.CountCellsParameters;
  const results: analysis.CellCountResult[] = [
    { sliceIndex: 0, method: 'blob_log', cellCount: 2, positions: [[5, 7], [10.5, 3]], areas: [25.132741228718345, 12.5], intensities: [100, 0.00001], confidences: [0.2, 0.1], parameters },
    { sliceIndex: 1, method: 'blob_log', cellCount: 0, positions: [], areas: [], intensities: [], confidences: [], parameters },
  ];
  const summary = JSON.parse(analysis.cellCountsJson(results));
  t.deepEqual(summary, {
    analysis_type: 'single_channel_cell_counting',
    total_slices: 2,
    results_per_slice: [
      { slice_index: 0, method: 'blob_log', cell_count: 2, avg_cell_area: (25.132741228718345 + 12.5) / 2, avg_cell_intensity: (100 + 0.00001) / 2, parameters: { detection_method: 'blob_log', min_sigma: 1 } },
      { slice_index: 1, method: 'blob_log', cell_count: 0, avg_cell_area: 0, avg_cell_intensity: 0, parameters: { detection_method: 'blob_log', min_sigma: 1 } },
    ],
    total_cells_all_slices: 2,
    average_cells_per_slice: 1,
  });
  t.is(
    analysis.cellCountsCsv(results),
    'slice_index,cell_id,x_position,y_position,cell_area,cell_intensity,detection_confidence,detection_method\n' +
      '0,slice_0_cell_0,5.0,7.0,25.132741228718345,100.0,0.2,blob_log\n' +
      '0,slice_0_cell_1,10.5,3.0,12.5,1e-05,0.1,blob_log\n',
  );
});

test('families: torch and jax run the host kernels here and agree with numpy; jax results are read-only', async (t) => {
  const input = loadNpy(manifest.cases.find((c) => c.name === 'tophat_defaults_u16')!.input);
  const ref = (await np.tophat(input)) as NDArray;
  const viaTorch = (await torch.tophat(input)) as NDArray;
  const viaJax = (await jax.tophat(input)) as NDArray;
  t.is(viaTorch.memoryType, 'torch');
  t.is(viaJax.memoryType, 'jax');
  t.true(viaJax.readonly);
  t.deepEqual(viaTorch.data, ref.data);
  t.deepEqual(viaJax.data, ref.data);
  t.true(np.tophat.separable);
  t.true(np.gaussian.separable);
  t.false(np.stackPercentileNormalize.separable);
  t.false(np.createProjection.separable);
  t.is(np.tophat.inputMemoryType, 'numpy');
  t.is(torch.tophat.inputMemoryType, 'torch');
});

test('families: tensorflow takes and returns tf.Tensors with the numpy result', async (t) => {
  const input = loadNpy(manifest.cases.find((c) => c.name === 'gaussian_f32_s1_5')!.input);
  const ref = (await np.gaussian(input, { sigma: 1.5 })) as NDArray;
  const tensor = tf.tensor(Array.from(input.data), [...input.shape], "float32");
  const out = await tfp.gaussian(tensor, { sigma: 1.5 });
  t.false(isNDArray(out));
  t.deepEqual(out.shape, input.shape);
  t.deepEqual(Array.from(out.dataSync()), Array.from(ref.data));
});

test('families: cupy and pyclesperanto need their device and say so', async (t) => {
  const s = asarray(new Uint16Array(8), { shape: [2, 2, 2] });
  await t.throwsAsync(cupy.tophat(s), { instanceOf: GpuUnavailableError });
  if (devices().some((d) => d.kind === 'opencl')) {
    t.log('an OpenCL device exists: the pyclesperanto family runs there (opencl.spec.ts)');
    t.is((await cle.maxProjection(s)).device, 'opencl:0');
  } else {
    await t.throwsAsync(cle.maxProjection(s), { instanceOf: GpuUnavailableError });
  }
});

test('processors validate input and options with typed errors', async (t) => {
  const s = asarray(new Uint16Array(2 * 8 * 8).map((_, i) => i), { shape: [2, 8, 8] });
  const flat = asarray(new Uint16Array(64), { shape: [8, 8] });
  await t.throwsAsync(np.tophat(flat), { instanceOf: DimensionError });
  await t.throwsAsync(np.tophat(s, { downsampleFactor: 0 }), { instanceOf: InvalidArgumentError });
  await t.throwsAsync(np.tophat(s, { selemRadius: -1 }), { instanceOf: InvalidArgumentError });
  await t.throwsAsync(np.tophat(s, { selemRadius: 2.5 }), { instanceOf: InvalidArgumentError });
  // @ts-expect-error a misspelt option fails to compile, and is refused at run time
  await t.throwsAsync(np.tophat(s, { selemradius: 5 }), { instanceOf: InvalidArgumentError, message: /unknown option "selemradius"/ });
  await t.throwsAsync(np.stackPercentileNormalize(s, { lowPercentile: 120 }), { instanceOf: InvalidArgumentError });
  await t.throwsAsync(np.stackPercentileNormalize(s, { highPercentile: Number.NaN }), { instanceOf: InvalidArgumentError });
  // @ts-expect-error not a projection method
  await t.throwsAsync(np.createProjection(s, { method: 'sum_projection' }), { instanceOf: InvalidArgumentError });
  await t.throwsAsync(np.createComposite(s, { weights: [1, 2, 3] }), { instanceOf: InvalidArgumentError });
  await t.throwsAsync(np.createComposite(s, { weights: [1, -1] }), { instanceOf: InvalidArgumentError });
  await t.throwsAsync(np.applyMask(s, asarray(new Float32Array(12), { shape: [3, 4] })), { instanceOf: DimensionError });
  await t.throwsAsync(np.spatialBin2d(s, { binSize: 9 }), { instanceOf: InvalidArgumentError });
  await t.throwsAsync(np.crop(s, { startX: 5, width: 4 }), { instanceOf: InvalidArgumentError });
  await t.throwsAsync(np.gaussian(s, { sigma: -1 }), { instanceOf: InvalidArgumentError });
  await t.throwsAsync(np.sharpen(s, { radius: 0 }), { instanceOf: InvalidArgumentError });
  await t.throwsAsync(np.stackEqualizeHistogram(s, { bins: 0 }), { instanceOf: InvalidArgumentError });
  await t.throwsAsync(analysis.countCellsSingleChannel(s, { minSigma: 0 }), { instanceOf: InvalidArgumentError });
  // @ts-expect-error not a detection method
  await t.throwsAsync(analysis.countCellsSingleChannel(s, { detectionMethod: 'blob_doh' }), { instanceOf: InvalidArgumentError });
  await t.throwsAsync(analysis.countCellsSingleChannel(flat), { instanceOf: DimensionError });
  const gone = asarray(new Uint16Array(8), { shape: [2, 2, 2] });
  gone.dispose();
  await t.throwsAsync(np.gaussian(gone), { instanceOf: DisposedError });
  // The input is untouched by every failed call.
  t.deepEqual(Array.from(s.data.subarray(0, 4)), [0, 1, 2, 3]);
});

test('degenerate stacks: one pixel, a constant stack, one slice', async (t) => {
  const one = asarray(new Uint16Array([42]), { shape: [1, 1, 1] });
  t.deepEqual(Array.from(((await np.tophat(one, { downsampleFactor: 1, selemRadius: 3 })) as NDArray).data), [0]);
  t.deepEqual(Array.from(((await np.stackPercentileNormalize(one, { targetMin: 5 })) as NDArray).data), [5]);
  t.deepEqual(Array.from(((await np.createProjection(one, { method: 'median_projection' })) as NDArray).data), [42]);
  const constant = asarray(new Uint16Array(3 * 16 * 16).fill(900), { shape: [3, 16, 16] });
  const [, results] = await analysis.countCellsSingleChannel(constant);
  t.deepEqual(results.map((r) => r.cellCount), [0, 0, 0]);
});
