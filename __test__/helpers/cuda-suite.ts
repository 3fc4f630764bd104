/**
 * The CUDA domain's processor, OOM, stream and seed-pipeline tests, registered by two specs: on the
 * fake cards (`fake-cuda.spec.ts`, every CI run) and on a real card (`cuda-device.spec.ts`, which
 * skips without one unless STACKBRIDGE_REQUIRE_CUDA=1). The tests are the same; only what the
 * device holds while a kernel runs differs (`OomShape`).
 */
import type test from 'ava';
import { countCellsSingleChannel as countCpu } from '../../ts/analysis.js';
import { convertMemory } from '../../ts/convert.js';
import { emptyCache, memoryInfo, setMemoryLimit } from '../../ts/devices.js';
import { OutOfMemoryError } from '../../ts/errors.js';
import { asarray, type NDArray } from '../../ts/ndarray.js';
import { FunctionStep, Pipeline } from '../../ts/pipeline.js';
import * as cpu from '../../ts/processors/numpy.js';
import * as cp from '../../ts/processors/cupy.js';
import * as th from '../../ts/processors/torch.js';
import { CASES, cells, close } from './processor-cases.js';

/** A deterministic [z, h, w] uint16 stack of spots on a slope. */
export function stack(z: number, h: number, w: number, seed = 1): NDArray<'uint16'> {
  const v = new Uint16Array(z * h * w);
  let s = seed;
  for (let i = 0; i < v.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    const x = i % w;
    const y = Math.floor(i / w) % h;
    const spot = (x % 17) ** 2 + (y % 13) ** 2 < 12 ? 20000 : 0;
    v[i] = 1000 + 30 * x + spot + (s >>> 22);
  }
  return asarray(v, { shape: [z, h, w] });
}

export async function values(a: NDArray): Promise<number[]> {
  return Array.from(await a.toTypedArray());
}

/**
 * The device limit, in multiples of the stack's size n above what the card already holds, under
 * which a float32 gaussian over the whole stack runs out of memory but Z-chunks of it fit.
 */
export interface OomShape {
  chunkedLimit: number;
  /** Why that limit (what the device holds while the kernel runs). */
  why: string;
}

export function cudaSuite(run: typeof test.serial | typeof test.serial.skip, oom: OomShape): void {
  for (const [family, f] of [['cupy', cp], ['torch', th]] as const) {
    for (const dtype of ['uint16', 'float32'] as const) {
      for (const [what, call] of CASES) {
        run(`${what} (${dtype}): the ${family} family on cuda:0 equals the CPU processor`, async (t) => {
          const s = cells(3, 67, 81, dtype, 7);
          const want = await call(s, cpu);
          const got = await call(s, f as unknown as typeof cpu);
          t.is(got.memoryType, family);
          t.is(got.device, 'cuda:0');
          // CUDA has fp64 and the kernels are built with --fmad=false: the CPU's arithmetic exactly.
          await close(t, got, want, what, 0, 0);
        });
      }
    }
  }

  run('applyMask and countCellsSingleChannel on cuda:0 equal the CPU', async (t) => {
    const s = stack(2, 64, 80, 5);
    const mask = asarray(Float32Array.from({ length: 64 * 80 }, (_, i) => (i % 3 ? 1 : 0.5)), { shape: [64, 80] });
    t.deepEqual(await values(await cp.applyMask(s, mask)), Array.from((await cpu.applyMask(s, mask)).data));
    for (const detectionMethod of ['blob_log', 'blob_dog', 'watershed', 'threshold'] as const) {
      const options = { detectionMethod, ...(detectionMethod === 'threshold' ? { threshold: 0.5 } : {}) };
      const [, want, wantMasks] = await countCpu(s, { ...options, returnSegmentationMask: true });
      const [out, got, masks] = await cp.countCellsSingleChannel(s, { ...options, returnSegmentationMask: true });
      t.is(out.device, 'cuda:0');
      t.is(masks!.device, 'cuda:0');
      t.true(want.every((r) => r.cellCount > 0), `${detectionMethod} finds cells`);
      t.deepEqual(got, want, detectionMethod);
      t.deepEqual(await values(masks!), await values(wantMasks!), `${detectionMethod} masks`);
    }
  });

  run('OOM on the card: a separable processor succeeds by Z-chunking under a limit; nothing fitting rethrows with the numbers', async (t) => {
    const host = cells(8, 64, 64, 'float32', 8);
    const n = host.nbytes;
    const onDevice = await convertMemory(host, { targetType: 'cupy' });
    const want = await cpu.gaussian(host, { sigma: 1.5 });
    emptyCache('cuda:0');
    // what the card holds besides the input (arrays of earlier tests the GC has not collected yet)
    const base = memoryInfo('cuda:0').allocatedBytes - n;
    try {
      setMemoryLimit('cuda:0', base + Math.floor(oom.chunkedLimit * n));
      const step = new FunctionStep({ func: cp.gaussian, name: 'blur', kwargs: { sigma: 1.5 } });
      const { output, trace } = await new Pipeline([step]).run(onDevice);
      const rec = trace.steps[0]!.recoveries.map((r) => r.action);
      t.true(rec.includes('split-z'), `recoveries: ${rec.join(', ')} (${oom.why})`);
      // Per-slice kernels: the chunks give the whole stack's result exactly.
      await close(t, output as NDArray, want, 'chunked gaussian', 0, 0);
      setMemoryLimit('cuda:0', base + n + 1024);
      const e = await t.throwsAsync(cp.gaussian(onDevice, { sigma: 1.5 }), { instanceOf: OutOfMemoryError });
      t.is((e as OutOfMemoryError).device, 'cuda:0');
      t.is((e as OutOfMemoryError).limitBytes, base + n + 1024);
    } finally {
      setMemoryLimit('cuda:0', null);
    }
  });

  run('concurrent pipelines on cuda:0 run on distinct streams and equal the sequential results', async (t) => {
    const stacks = [1, 2, 3, 4].map((s) => stack(2, 60, 70, s));
    const pipe = new Pipeline([
      new FunctionStep({ func: cp.gaussian, name: 'blur', kwargs: { sigma: 1 } }),
      new FunctionStep({ func: cp.tophat, name: 'background', kwargs: { selemRadius: 9, downsampleFactor: 1 } }),
    ]);
    const sequential: number[][] = [];
    for (const s of stacks) sequential.push(await values((await pipe.run(s)).output as NDArray));
    const concurrent = await Promise.all(stacks.map((s) => pipe.run(s)));
    for (let i = 0; i < stacks.length; i++) t.deepEqual(await values(concurrent[i]!.output as NDArray), sequential[i], `pipeline ${i}`);
    const streams = new Set(concurrent.flatMap((r) => r.trace.steps.flatMap((s) => s.kernels.map((k) => k.queue))));
    t.true(streams.size >= 2, `kernels of concurrent pipelines ran on ${streams.size} stream(s)`);
  });

  run("the seed's pipeline: torch normalize → cupy tophat → numpy count, zero-copy torch → cupy on the device", async (t) => {
    const s = stack(2, 96, 96, 9);
    const pipe = new Pipeline([
      new FunctionStep({ func: th.stackPercentileNormalize, name: 'normalize' }),
      new FunctionStep({ func: cp.tophat, name: 'tophat', kwargs: { selemRadius: 9, downsampleFactor: 1 } }),
      new FunctionStep({ func: countCpu, name: 'count' }),
    ]);
    const { output, trace, specialOutputs } = await pipe.run(s);
    const kinds = trace.steps.flatMap((st) => st.conversions.map((c) => `${c.from}->${c.to}:${c.kind}`));
    t.true(kinds.includes('numpy->torch:transfer'), kinds.join(', '));
    t.true(kinds.includes('torch->cupy:zero-copy'), kinds.join(', '));
    t.true(kinds.includes('cupy->numpy:transfer'), kinds.join(', '));
    const want = await cpu.tophat(await cpu.stackPercentileNormalize(s), { selemRadius: 9, downsampleFactor: 1 });
    const [, results] = await countCpu(want);
    t.is((output as NDArray).device, 'cpu');
    const got = specialOutputs.count![0] as { cellCount: number }[];
    t.true(results.every((r) => r.cellCount > 0));
    t.deepEqual(got.map((r) => r.cellCount), results.map((r) => r.cellCount));
  });
}
