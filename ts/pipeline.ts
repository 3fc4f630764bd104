/**
 * Pipelines (DESIGN §6): an ordered list of decorated functions run on one stack. The pipeline plans
 * the conversion into each step's input type, runs the steps with a per-step trace, collects
 * special outputs (tuple tails), and disposes the intermediates nobody else can see.
 */
import { abortError, checkSignal, withOperationContext, type OperationProgress } from './cancel.js';
import { checkGpuId, convertMemory, detectMemoryType, planConversion } from './convert.js';
import { DisposedError, InvalidArgumentError, PipelineError, UnknownMemoryTypeError } from './errors.js';
import { checkMemoryType, describe, isNDArray, optionsObject } from './ndarray.js';
import { isDecorated, type DecoratedFunction } from './registry.js';
import { ConversionCounters, TraceCollector, withTrace, type ConversionRecord, type KernelRecord, type RecoveryRecord } from './trace.js';
import { GPU_MEMORY_TYPES, type ConversionKind, type Dtype, type MemoryTypeName } from './types.js';

/** Options of a `FunctionStep`; `kwargs` is typed from the function's second parameter. */
export interface FunctionStepOptions<F extends DecoratedFunction> {
  /** A decorated function (`numpy(fn)`, `torch(opts, fn)`, ...). */
  func: F;
  /** Defaults to `func.name`. Keys the step's special outputs and names it in errors and traces. */
  name?: string;
  /** Passed as the function's second argument. */
  kwargs?: Parameters<F>[1];
}

/** One pipeline step: a decorated function with its name and keyword arguments (OpenHCS `FunctionStep`). */
export class FunctionStep<F extends DecoratedFunction = DecoratedFunction> {
  readonly func: F;
  readonly name: string;
  readonly kwargs: Parameters<F>[1] | undefined;

  constructor(options: FunctionStepOptions<F>) {
    if (options === null || typeof options !== 'object') {
      throw new InvalidArgumentError(`FunctionStep expects { func, name?, kwargs? }, got ${describe(options)}`);
    }
    const { func, name, kwargs } = options;
    if (!isDecorated(func)) {
      throw new InvalidArgumentError(
        `FunctionStep needs a function decorated with a memory type (numpy, torch, ...), got ${typeof func === 'function' ? `undecorated function ${JSON.stringify((func as Function).name)}` : describe(func)}`,
      );
    }
    if (name !== undefined && (typeof name !== 'string' || name.length === 0)) {
      throw new InvalidArgumentError(`FunctionStep name must be a non-empty string, got ${describe(name)}`);
    }
    // kwargs are OpenHCS's keyword arguments: an object (or nothing), never a bare value.
    if (kwargs !== undefined && (kwargs === null || typeof kwargs !== 'object' || Array.isArray(kwargs))) {
      throw new InvalidArgumentError(`FunctionStep kwargs must be an object, got ${describe(kwargs)}`);
    }
    this.func = func;
    this.name = name ?? (func.name || 'anonymous');
    this.kwargs = kwargs;
  }

  get inputMemoryType(): MemoryTypeName {
    return this.func.inputMemoryType;
  }
  get outputMemoryType(): MemoryTypeName {
    return this.func.outputMemoryType;
  }
}

/** A conversion the pipeline will make, as planned. */
export interface PlannedConversion {
  from: MemoryTypeName;
  to: MemoryTypeName;
  kind: ConversionKind;
  sourceDevice: string;
  targetDevice: string;
}

export interface StepPlan {
  stepName: string;
  stepIndex: number;
  inputType: MemoryTypeName;
  outputType: MemoryTypeName;
  /** The conversion into this step's input type from the previous step's output (or the pipeline input). */
  conversions: PlannedConversion[];
}

export interface PipelinePlan {
  inputType: MemoryTypeName;
  steps: StepPlan[];
  /** The memory type of the pipeline's output: the last step's output type. */
  outputType: MemoryTypeName;
}

export interface PipelineProgress {
  stepIndex: number;
  stepName: string;
  /** Steps completed so far (1..total after a step; the running step's index during it). */
  completed: number;
  total: number;
  /**
   * Present on reports made *during* a step: the long engine operation running in it (a processor,
   * cell counting, a copying conversion) and its units (slices; bytes for copies) done of total.
   */
  operation?: OperationProgress;
}

/** Per-run options; `gpuId` / `allowCpuRoundtrip` override the steps' own decorator options. */
export interface PipelineRunOptions {
  gpuId?: number;
  allowCpuRoundtrip?: boolean;
  signal?: AbortSignal;
  onProgress?: (progress: PipelineProgress) => void;
}

export interface StepTrace {
  stepName: string;
  stepIndex: number;
  inputMemoryType: MemoryTypeName;
  outputMemoryType: MemoryTypeName;
  /** Every conversion made during the step: the pipeline's input conversion and the decorator's own. */
  conversions: ConversionRecord[];
  recoveries: RecoveryRecord[];
  /** The processor runs of the step: where their kernels ran and on which OpenCL command queue. */
  kernels: KernelRecord[];
  /** Time inside the function call, less the conversions the decorator made during it. */
  functionMs: number;
  /** Time of the whole step, conversions included. */
  totalMs: number;
}

export interface PipelineTrace {
  steps: StepTrace[];
  totalMs: number;
}

export interface PipelineResult<T = any> {
  output: T;
  /** Tuple tails keyed by step name (a repeated name gets `name#stepIndex`). */
  specialOutputs: Record<string, unknown[]>;
  trace: PipelineTrace;
  /** This run's conversions aggregated per kind and per edge (mergeable with other runs'). */
  counters: ConversionCounters;
}

/** Options of `Pipeline.plan`: the run's options, and the input dtype (it decides host → tfjs kinds). */
export interface PlanOptions {
  gpuId?: number;
  allowCpuRoundtrip?: boolean;
  dtype?: Dtype;
}

/** Per-step conversion options: the run's values win over the decorator's; gpuId only for GPU kinds. */
function conversionOptions(step: FunctionStep, run: { gpuId?: number; allowCpuRoundtrip?: boolean }) {
  const target = step.inputMemoryType;
  const own = step.func.options ?? {};
  const gpuId = GPU_MEMORY_TYPES.includes(target) ? (run.gpuId ?? own.gpuId) : undefined;
  const allowCpuRoundtrip = run.allowCpuRoundtrip ?? own.allowCpuRoundtrip ?? false;
  return { gpuId, allowCpuRoundtrip };
}

function isAbortError(e: unknown): boolean {
  return e !== null && typeof e === 'object' && (e as { name?: unknown }).name === 'AbortError';
}

function sharesMemory(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (!isNDArray(a) || !isNDArray(b) || a.disposed || b.disposed) return false;
  return a.sharesMemoryWith(b);
}

function disposeIfPossible(x: unknown): void {
  if (isNDArray(x)) x.dispose();
  else if (x !== null && typeof x === 'object' && typeof (x as { dispose?: unknown }).dispose === 'function') {
    (x as { dispose(): void }).dispose(); // a tf.Tensor
  }
}

/** An ordered list of steps run on one stack (OpenHCS pipeline). */
export class Pipeline {
  readonly steps: readonly FunctionStep[];

  /** Steps may be `FunctionStep`s or bare decorated functions (wrapped with their own name). */
  constructor(steps: ReadonlyArray<FunctionStep<any> | DecoratedFunction>) {
    if (!Array.isArray(steps)) throw new InvalidArgumentError(`Pipeline expects an array of steps, got ${describe(steps)}`);
    if (steps.length === 0) throw new InvalidArgumentError('Pipeline needs at least one step');
    this.steps = Object.freeze(
      steps.map((s, i) => {
        if (s instanceof FunctionStep) return s;
        if (isDecorated(s)) return new FunctionStep({ func: s });
        throw new InvalidArgumentError(`Pipeline step ${i} is neither a FunctionStep nor a decorated function (got ${describe(s)})`, {
          stepIndex: i,
        });
      }),
    );
  }

  /**
   * The conversions a run would make for an input of `inputType`, with their kinds, without running
   * anything. A conversion the run could not make throws the same typed error here (e.g.
   * `GpuUnavailableError` for a cupy step on a machine without CUDA).
   */
  plan(inputType: MemoryTypeName, options?: PlanOptions): PipelinePlan {
    options = optionsObject(options, 'Pipeline.plan');
    const input = checkMemoryType(inputType);
    if (options.gpuId !== undefined) checkGpuId(options.gpuId);
    let previous = input;
    const steps = this.steps.map((step, stepIndex): StepPlan => {
      const to = step.inputMemoryType;
      const p = planConversion(previous, to, { ...conversionOptions(step, options), dtype: options.dtype });
      const plan: StepPlan = {
        stepName: step.name,
        stepIndex,
        inputType: to,
        outputType: step.outputMemoryType,
        conversions: [{ from: previous, to, kind: p.kind, sourceDevice: p.sourceDevice, targetDevice: p.targetDevice }],
      };
      previous = step.outputMemoryType;
      return plan;
    });
    return { inputType: input, steps, outputType: previous };
  }

  /**
   * Runs the steps in order on `input`. Each step's input is converted to the step's input type with
   * the run's `gpuId` / `allowCpuRoundtrip` (so the decorator's own input conversion is an identity),
   * and everything the step converts is traced. Rejects with `PipelineError` (`stepName`,
   * `stepIndex`, `cause`) when a step fails, and with the abort reason (an `AbortError` unless the
   * signal's reason is another Error) when `signal` is aborted: before or after a step, or during
   * one — the signal is ambient inside the step, so the running engine operation (a processor
   * kernel, between slices) stops and the step rejects. `onProgress` is called after each step and,
   * during a step, with `operation` for the long engine operations inside it.
   */
  async run<T = any>(input: unknown, options?: PipelineRunOptions): Promise<PipelineResult<T>> {
    options = optionsObject(options, 'Pipeline.run');
    const { onProgress } = options;
    const signal = checkSignal(options.signal, 'Pipeline.run');
    if (onProgress !== undefined && typeof onProgress !== 'function') {
      throw new InvalidArgumentError(`onProgress must be a function, got ${describe(onProgress)}`);
    }
    if (options.gpuId !== undefined) checkGpuId(options.gpuId);
    if (signal?.aborted) throw abortError(signal);
    if (isNDArray(input) && input.disposed) throw new DisposedError('Pipeline input NDArray has been disposed');
    if (detectMemoryType(input) === 'unknown') {
      throw new UnknownMemoryTypeError(`Pipeline input is not an array of a known memory type (got ${describe(input)})`);
    }

    const t0 = performance.now();
    const total = this.steps.length;
    const traces: StepTrace[] = [];
    const specialOutputs: Record<string, unknown[]> = {};
    const kept = new Set<unknown>(); // objects handed to the caller as special outputs
    let current: unknown = input;

    // Drops an intermediate unless the caller can see it (input, `keep`, special outputs, or a view of them).
    const release = (x: unknown, keep: unknown): void => {
      if (x === input || kept.has(x) || sharesMemory(x, input) || sharesMemory(x, keep)) return;
      disposeIfPossible(x);
    };

    for (const [stepIndex, step] of this.steps.entries()) {
      if (signal?.aborted) {
        release(current, undefined);
        throw abortError(signal);
      }
      const collector = new TraceCollector();
      const stepStart = performance.now();
      let functionMs = 0;
      let converted: unknown;
      let result: unknown;
      // The run's signal and a within-step progress listener reach the engine operations of the step.
      const context = {
        signal,
        onProgress: onProgress && ((operation: OperationProgress) => onProgress({ stepIndex, stepName: step.name, completed: stepIndex, total, operation })),
      };
      try {
        result = await withOperationContext(context, () => withTrace(collector, async () => {
          converted = await convertMemory(current, { targetType: step.inputMemoryType, ...conversionOptions(step, options) });
          const before = collector.conversions.length;
          const f0 = performance.now();
          try {
            return step.kwargs === undefined ? await step.func(converted) : await step.func(converted, step.kwargs);
          } finally {
            const inner = collector.conversions.slice(before).reduce((ms, c) => ms + c.ms, 0);
            functionMs = Math.max(0, performance.now() - f0 - inner);
          }
        }));
      } catch (e) {
        if (converted !== current) release(converted, undefined);
        release(current, undefined);
        if (isAbortError(e) || (signal?.aborted && e === signal.reason)) throw e;
        const msg = e instanceof Error ? e.message : String(e);
        throw new PipelineError(`Pipeline step ${stepIndex} '${step.name}' failed: ${msg}`, { stepName: step.name, stepIndex }, { cause: e });
      }

      let output = result;
      if (Array.isArray(result)) {
        // A tuple: the stack goes on, the tail is this step's special outputs.
        output = result[0];
        const key = Object.hasOwn(specialOutputs, step.name) ? `${step.name}#${stepIndex}` : step.name;
        specialOutputs[key] = result.slice(1);
        for (const x of specialOutputs[key]) kept.add(x);
      }
      // The step's converted input and the previous intermediate are consumed now.
      if (converted !== current) release(converted, output);
      if (current !== output) release(current, output);
      current = output;

      traces.push({
        stepName: step.name,
        stepIndex,
        inputMemoryType: step.inputMemoryType,
        outputMemoryType: step.outputMemoryType,
        conversions: [...collector.conversions],
        recoveries: [...collector.recoveries],
        kernels: [...collector.kernels],
        functionMs,
        totalMs: performance.now() - stepStart,
      });
      if (signal?.aborted) {
        release(current, undefined);
        throw abortError(signal);
      }
      onProgress?.({ stepIndex, stepName: step.name, completed: stepIndex + 1, total });
    }
    const counters = ConversionCounters.of(traces.flatMap((s) => s.conversions));
    return { output: current as T, specialOutputs, trace: { steps: traces, totalMs: performance.now() - t0 }, counters };
  }
}
