import test from 'ava';
import {
  asarray, zeros, convertMemory, detectMemoryType, MemoryType, DtypeConversion,
  numpy, torch, FunctionStep, Pipeline, memoryInfo, setMemoryLimit, GpuUnavailableError, DisposedError,
  type NDArray,
} from '../ts/index.js';

// The README's tour, run as written, with its stated outcomes checked.
test.serial('the README tour does what the README says', async (t) => {
  const stack = asarray(new Uint16Array(2 * 64 * 64), { shape: [2, 64, 64] });
  stack.data[0] = 1000;

  const tt = (await convertMemory(stack, { targetType: 'torch' })) as NDArray;
  t.true(tt.sharesMemoryWith(stack));
  t.is(detectMemoryType(tt), MemoryType.TORCH);
  await t.throwsAsync(() => convertMemory(stack, { targetType: 'cupy' }), { instanceOf: GpuUnavailableError });

  const double = torch({ dtypeConversion: DtypeConversion.PRESERVE_INPUT }, async (s: NDArray) => {
    const out = zeros(s.shape, { dtype: 'float32', memoryType: 'torch' });
    s.data.forEach((v, i) => (out.data[i] = v * 2));
    return out;
  });
  class Steps {
    @numpy({ sliceBySlice: true })
    async blur(s: NDArray) {
      return s;
    }
  }
  // Called once per [1, Y, X] slice and restacked: new memory holding the same values.
  const blurred = await new Steps().blur(stack);
  t.not(blurred, stack);
  t.deepEqual([...(await blurred.toTypedArray())], [...(await stack.toTypedArray())]);

  const pipeline = new Pipeline([new FunctionStep({ func: double, name: 'double' })]);
  t.is(pipeline.plan('numpy').steps[0].conversions[0].kind, 'zero-copy');
  const { output, trace } = await pipeline.run(stack, { signal: AbortSignal.timeout(10_000) });
  // float [2000, 0, ...] stretched back to uint16: 2000 → 65535, 0 → 0
  const out = output as NDArray;
  t.is(out.dtype, 'uint16');
  t.is(out.data[0], 65535);
  t.is(out.data[1], 0);
  t.is(trace.steps.length, 1);

  setMemoryLimit('cpu', 512 << 20);
  t.is(memoryInfo('cpu').limitBytes, 512 << 20);
  setMemoryLimit('cpu', null);
  stack.dispose();
  t.throws(() => stack.shape, { instanceOf: DisposedError });
});

// The README's processors tour, as written (raw = the golden nuclei stack).
test.serial('the README processors tour does what the README says', async (t) => {
  const { stackPercentileNormalize, tophat, createProjection } = await import('../ts/processors/torch.js');
  const { countCellsSingleChannel, writeCellCounts } = await import('../ts/analysis.js');
  const { loadNpy, manifest } = await import('./helpers/golden.js');
  const { mkdtemp, readFile } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const raw = loadNpy(manifest.counting.input);

  const normalized = (await stackPercentileNormalize(raw)) as NDArray;
  t.is(normalized.dtype, 'uint16');
  const background = (await tophat(normalized, { selemRadius: 50 })) as NDArray;
  const mip = (await createProjection(background, { method: 'max_projection' })) as NDArray;
  t.deepEqual(mip.shape, [1, 256, 256]);
  const [, cells] = await countCellsSingleChannel(background, { detectionMethod: 'blob_log' });
  t.is(cells.length, 3);
  t.is(cells[0]!.cellCount, cells[0]!.positions.length);
  t.true(cells[0]!.cellCount > 50);
  const dir = await mkdtemp(`${tmpdir()}/sb-readme-`);
  const written = await writeCellCounts(cells, `${dir}/cell_counts`);
  t.deepEqual(written, [`${dir}/cell_counts.json`, `${dir}/cell_counts_details.csv`]);
  t.is(JSON.parse(await readFile(written[0]!, 'utf8')).analysis_type, 'single_channel_cell_counting');
});

// The README's OpenCL tour, as written (raw = the golden nuclei stack). Needs an OpenCL device:
// skipped with a printed reason without one, unless STACKBRIDGE_REQUIRE_OPENCL=1.
test.serial('the README OpenCL tour does what the README says', async (t) => {
  const { devices, openclQueues, CpuRoundtripRequiredError, OutOfMemoryError } = await import('../ts/index.js');
  if (!devices().some((d) => d.kind === 'opencl') && process.env.STACKBRIDGE_REQUIRE_OPENCL !== '1') {
    t.log('skipped: no OpenCL device (install pocl-opencl-icd)');
    t.pass();
    return;
  }
  const { tophat, gaussian } = await import('../ts/processors/pyclesperanto.js');
  const { loadNpy, manifest } = await import('./helpers/golden.js');
  const raw = loadNpy(manifest.counting.input);

  const ids = devices().map((d) => d.id);
  t.deepEqual(ids.slice(0, 2), ['cpu', 'opencl:0']);
  const onCl = await convertMemory(raw, { targetType: 'pyclesperanto' });
  t.is(onCl.device, 'opencl:0');
  const bg = (await tophat(onCl, { selemRadius: 50 })) as NDArray;
  const { tophat: cpuTophat } = await import('../ts/processors/numpy.js');
  t.deepEqual(Array.from(await bg.toTypedArray()), Array.from((await cpuTophat(raw, { selemRadius: 50 })).data));
  await t.throwsAsync(convertMemory(bg, { targetType: 'tensorflow' }), { instanceOf: CpuRoundtripRequiredError });
  setMemoryLimit('opencl:0', 256 << 20);
  try {
    t.is(memoryInfo('opencl:0').limitBytes, 256 << 20);
    setMemoryLimit('opencl:0', 1024);
    await t.throwsAsync(gaussian(bg), { instanceOf: OutOfMemoryError });
  } finally {
    setMemoryLimit('opencl:0', null);
  }
  t.true(openclQueues('opencl:0').every((q) => typeof q.thread === 'string' && q.launches >= 0));
});
