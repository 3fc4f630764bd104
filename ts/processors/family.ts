/**
 * Builds one processor family: the same processors decorated with one memory type, as OpenHCS's
 * `processors/<type>_processor` modules are. Separable processors are marked `separable` so
 * OOM recovery may split them along Z (the kernels already work per slice, so they are not called
 * per slice).
 */
import type { DecoratedFunction } from '../decorators.js';
import { cupy, jax, numpy, pyclesperanto, tensorflow, torch } from '../decorators.js';
import type { NDArray } from '../ndarray.js';
import type { MemoryTypeName } from '../types.js';
import { named, runProcessor, SEPARABLE, type ProcessorInput } from './host.js';
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

/** What a family's processor resolves to: an NDArray, or a tf.Tensor for the tensorflow family. */
type Out<T extends MemoryTypeName> = T extends 'tensorflow' ? import('../tfjs.js').Tensor : NDArray;
type P<T extends MemoryTypeName, O> = DecoratedFunction<[options?: O], Out<T>>;

/** One memory type's processors. */
export interface ProcessorFamily<T extends MemoryTypeName> {
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
  const projection = (name: string, method: string) =>
    deco({ separable: false }, named(name, (s: ProcessorInput, o?: OperationOptions) => runProcessor('createProjection', s, { ...o, method })));
  return {
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
  } as unknown as ProcessorFamily<T>;
}
