/**
 * Builds one processor family: the same processors decorated with one memory type, as OpenHCS's
 * `processors/<type>_processor` modules are. Separable processors are marked `separable` so
 * OOM recovery may split them along Z (the kernels already work per slice, so they are not called
 * per slice).
 */
import type { DecoratedFunction } from '../decorators.js';
import { cupy, jax, numpy, pyclesperanto, tensorflow, torch } from '../decorators.js';
import { InvalidArgumentError } from '../errors.js';
import type { NativeProcessorEntry } from '../native.js';
import { describe, isNDArray, type NDArray } from '../ndarray.js';
import { getFunction, registerFunction } from '../registry.js';
import type { MemoryTypeName } from '../types.js';
import { named, PROCESSOR_TABLE, runOperation, runProcessor, SEPARABLE, type ProcessorInput } from './host.js';
import type { SetFamily } from './set/index.js';
import type { Out } from './set/types.js';
import type {
  CompositeOptions,
  CropOptions,
  EqualizeOptions,
  GaussianOptions,
  NormalizeOptions,
  OperationOptions,
  ProjectionOptions,
  SharpenOptions,
  SpatialBinOptions,
  TophatOptions,
} from './options.js';

type P<T extends MemoryTypeName, O> = DecoratedFunction<[options?: O], Out<T>>;

/** One memory type's processors: DESIGN §7's and the set of §12. */
export interface ProcessorFamily<T extends MemoryTypeName> extends SetFamily<T> {
  /** Percentile contrast stretch with one pair of percentiles over the whole stack → uint16. */
  stackPercentileNormalize: P<T, NormalizeOptions>;
  /** The same with each slice's own percentiles → uint16. */
  percentileNormalize: P<T, NormalizeOptions>;
  /** White top-hat background subtraction with a flat disk, per slice. */
  tophat: P<T, TophatOptions>;
  /** A projection along Z → `[1, Y, X]`. */
  createProjection: P<T, ProjectionOptions>;
  /** Maximum projection → `[1, Y, X]`. */
  maxProjection: P<T, OperationOptions>;
  /** Mean projection (truncated to the input dtype) → `[1, Y, X]`. */
  meanProjection: P<T, OperationOptions>;
  /** Unsharp masking, per slice. */
  sharpen: P<T, SharpenOptions>;
  /** Weighted sum of the slices → `[1, Y, X]`. */
  createComposite: P<T, CompositeOptions>;
  /** Multiplies by a `[Y, X]` or `[Z, Y, X]` mask (any dtype); `options.signal` aborts it. */
  applyMask: DecoratedFunction<[mask: NDArray, options?: Pick<OperationOptions, 'signal'>], Out<T>>;
  /** Histogram equalisation with one histogram over the stack. */
  stackEqualizeHistogram: P<T, EqualizeOptions>;
  /** Bins each slice in squares → `[Z, Y/b, X/b]`. */
  spatialBin2d: P<T, SpatialBinOptions>;
  /** A sub-box of the stack. */
  crop: P<T, CropOptions>;
  /** Gaussian blur per slice (`scipy.ndimage.gaussian_filter`, reflect). */
  gaussian: P<T, GaussianOptions>;
}

const NATIVE_DTYPE = new Set(['stackPercentileNormalize', 'percentileNormalize']);

const DECORATORS = { numpy, cupy, torch, tensorflow, jax, pyclesperanto } as const;

export function makeFamily<T extends MemoryTypeName>(type: T): ProcessorFamily<T> {
  const deco = DECORATORS[type] as (options: object, fn: (...args: any[]) => unknown) => unknown;
  // DESIGN §7: normalisation always yields uint16, so its output dtype must survive the decorator's
  // default PRESERVE_INPUT policy.
  const proc = (name: string, fn: (stack: ProcessorInput, ...rest: any[]) => Promise<NDArray>) =>
    deco({ separable: SEPARABLE.get(name) ?? false, ...(NATIVE_DTYPE.has(name) ? { dtypeConversion: 'native' } : {}) }, named(name, fn));
  const simple = (name: string) => proc(name, (s: ProcessorInput, o?: object) => runProcessor(name, s, o));
  const projection = (name: string, method: string): unknown =>
    deco({ separable: false }, named(name, (s: ProcessorInput, o?: OperationOptions) => runProcessor('createProjection', s, { ...o, method })));
  const section7: Record<string, unknown> = {
    stackPercentileNormalize: simple('stackPercentileNormalize'),
    percentileNormalize: simple('percentileNormalize'),
    tophat: simple('tophat'),
    createProjection: simple('createProjection'),
    maxProjection: projection('maxProjection', 'max_projection'),
    meanProjection: projection('meanProjection', 'mean_projection'),
    sharpen: simple('sharpen'),
    createComposite: simple('createComposite'),
    applyMask: proc('applyMask', (s: ProcessorInput, mask: NDArray, o?: Pick<OperationOptions, 'signal'>) => runProcessor('applyMask', s, o, mask)),
    stackEqualizeHistogram: simple('stackEqualizeHistogram'),
    spatialBin2d: simple('spatialBin2d'),
    crop: simple('crop'),
    gaussian: simple('gaussian'),
  };
  const set = Object.fromEntries([...PROCESSOR_TABLE.values()].filter((e) => !(e.name in section7)).map((e) => [e.name, setOperation(deco, e)]));
  const family = { ...section7, ...set };
  // The registry knows every processor by name under its family's memory type (pipeline files and
  // `getFunction` find them); a name the user registered first for that type is left to them.
  for (const [name, fn] of Object.entries(family)) {
    if (!getFunction(type, name)) registerFunction(fn as DecoratedFunction, name);
  }
  return family as unknown as ProcessorFamily<T>;
}

/**
 * A processor of the set (DESIGN §12) from its table entry: `(stack, ...arrays, options?)`, the
 * optional arrays taken out of the options (`watershed(stack, markers, { mask })`), the result
 * `[stack, special]` where it has a special output. Measurements return the stack they read.
 */
function setOperation(deco: (options: object, fn: (...args: any[]) => unknown) => unknown, e: NativeProcessorEntry): unknown {
  const required = e.arrays.filter((a) => !a.endsWith('?'));
  const optional = e.arrays.filter((a) => a.endsWith('?')).map((a) => a.slice(0, -1));
  const impl = async (stack: ProcessorInput, ...args: unknown[]): Promise<unknown> => {
    const arrays = args.slice(0, required.length);
    arrays.forEach((a, i) => {
      if (!isNDArray(a)) throw new InvalidArgumentError(`${e.name}: argument ${i + 2} (${required[i]}) must be an NDArray, got ${describe(a)}`);
    });
    if (arrays.length < required.length) throw new InvalidArgumentError(`${e.name} needs ${required.join(', ')} after the stack`);
    let options = args[required.length] as Record<string, unknown> | undefined;
    const extra: (NDArray | null)[] = [];
    if (optional.length > 0 && options !== null && typeof options === 'object' && !Array.isArray(options)) {
      const rest = { ...options };
      for (const k of optional) {
        const v = rest[k];
        delete rest[k];
        if (v !== undefined && v !== null && !isNDArray(v)) throw new InvalidArgumentError(`${e.name}: option ${k} must be an NDArray, got ${describe(v)}`);
        extra.push((v as NDArray | undefined) ?? null);
      }
      options = rest;
    }
    while (extra.length > 0 && extra[extra.length - 1] === null) extra.pop();
    const { array, made, result, special } = await runOperation(e.name, stack, options, [...(arrays as NDArray[]), ...extra]);
    if (made && result) array.dispose();
    const out = result ?? array;
    return e.special ? [out, special] : out;
  };
  return deco({ separable: e.separable, ...(e.keepsDtype ? {} : { dtypeConversion: 'native' }) }, named(e.name, impl));
}
