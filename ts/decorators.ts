/**
 * The memory-type decorators of DESIGN §4: `numpy`, `cupy`, `torch`, `tensorflow`, `jax`,
 * `pyclesperanto` and `memoryTypes`.
 *
 * TypeScript cannot decorate a free function, so each decorator is both a higher-order function
 * (`torch(fn)`, `torch(options, fn)`) and a standard TS 5 method decorator (`@torch()`,
 * `@torch(options)`). The wrapped function converts its input to the declared input type, checks
 * `[Z, Y, X]`, runs the function (with OOM recovery where enabled), checks the result, applies the
 * dtype policy and converts the result to the declared output type.
 */
import type { Tensor } from './tfjs.js';
import { checkGpuId, convertMemory, dtypeOf, shapeOf } from './convert.js';
import { applyDtypeConversion, checkDtypeConversion } from './dtypePolicy.js';
import { DimensionError, InvalidArgumentError, UnknownMemoryTypeError } from './errors.js';
import { checkMemoryType, describe, isNDArray, show, type NDArray } from './ndarray.js';
import { runWithOomRecovery, type Outcome, type SplittableStack } from './oom.js';
import { isTensor } from './tfjs.js';
import { DtypeConversion, GPU_MEMORY_TYPES, type ConcreteMemoryType, type MemoryType, type MemoryTypeName } from './types.js';

/** A memory type given as its string (`'torch'`) or as the enum member (`MemoryType.TORCH`). */
export type MemoryTypeLike = MemoryTypeName | ConcreteMemoryType;

/** A stack a decorated function accepts: any engine array, or a tf.Tensor. */
export type Stack = NDArray | Tensor;

/** Options of the memory-type decorators. */
export interface MemoryTypeOptions {
  /** The kind the function receives (default: the decorator's own). */
  inputType?: MemoryTypeLike;
  /** The kind the caller gets back (default: the decorator's own). */
  outputType?: MemoryTypeLike;
  /** CUDA device for the conversions (an integer ≥ 0; `InvalidDeviceError` otherwise). */
  gpuId?: number;
  /** Recover from `OutOfMemoryError` (default: true when the input type is a GPU kind). */
  oomRecovery?: boolean;
  /** The function is separable along Z: OOM recovery may split the stack (default false). */
  sliceBySlice?: boolean;
  /** The result dtype policy (default `PRESERVE_INPUT`). */
  dtypeConversion?: DtypeConversion | `${DtypeConversion}`;
  /** Throw `DeviceMismatchError` instead of moving an input that is on another device (default false). */
  strictDevice?: boolean;
  /** Allow conversions through host memory between device domains (default false). */
  allowCpuRoundtrip?: boolean;
}

/** `memoryTypes` options: both types are required. */
export interface MemoryTypesOptions extends MemoryTypeOptions {
  inputType: MemoryTypeLike;
  outputType: MemoryTypeLike;
}

/**
 * The options a decorated function runs with, defaults filled in (frozen). A type alias rather than
 * an interface so it is assignable to `Record<string, unknown>` (the registry's structural view).
 */
export type ResolvedMemoryTypeOptions = {
  readonly inputType: MemoryTypeName;
  readonly outputType: MemoryTypeName;
  readonly gpuId: number | undefined;
  readonly oomRecovery: boolean;
  readonly sliceBySlice: boolean;
  readonly dtypeConversion: DtypeConversion;
  readonly strictDevice: boolean;
  readonly allowCpuRoundtrip: boolean;
};

/** The metadata a decorated function carries (OpenHCS's `input_memory_type`, ...). */
export interface DecoratedMetadata {
  readonly inputMemoryType: MemoryTypeName;
  readonly outputMemoryType: MemoryTypeName;
  readonly options: ResolvedMemoryTypeOptions;
  /** Whether the function is separable along Z (`sliceBySlice`). */
  readonly separable: boolean;
  /** The undecorated function. */
  readonly originalFunction: (...args: any[]) => unknown;
  /** The original function's (or method's) name. */
  readonly name: string;
}

/**
 * A decorated function: `(stack, ...args) => Promise<R>` plus its metadata. `Args` are the
 * arguments after the stack; `R` is what the Promise resolves to (the converted stack, or a tuple
 * whose first element is the converted stack and whose rest are the special outputs, unchanged).
 */
export interface DecoratedFunction<Args extends unknown[] = unknown[], R = unknown> extends DecoratedMetadata {
  (stack: Stack, ...args: Args): Promise<R>;
}

/** A function a decorator accepts: a stack first, anything after. */
export type StackFunction = (stack: any, ...args: any[]) => unknown;

type RestArgs<F> = F extends (stack: any, ...args: infer A) => unknown ? A : never;
type StackOf<O> = O extends 'tensorflow' | MemoryType.TENSORFLOW ? Tensor : NDArray;
/** The type a decorated call resolves to: the stack converted to `O`, tuple tails unchanged. */
export type DecoratedResult<R, O> = R extends readonly unknown[]
  ? R extends readonly [unknown, ...infer Rest]
    ? [StackOf<O>, ...Rest]
    : [StackOf<O>, ...unknown[]]
  : StackOf<O>;
type OutputOf<Opts, Own> = Opts extends { outputType: infer O } ? (undefined extends O ? Own : O) : Own;
type Decorated<F extends StackFunction, O> = DecoratedFunction<RestArgs<F>, DecoratedResult<Awaited<ReturnType<F>>, O>>;

/**
 * A standard (TS 5) method decorator. The method must return a Promise (declare it `async`): the
 * decorated method always does, and the type says so rather than lie about a sync method.
 */
export type StackMethodDecorator = <This, F extends (this: This, stack: any, ...args: any[]) => Promise<unknown>>(
  method: F,
  context: ClassMethodDecoratorContext<This, F>,
) => F & DecoratedMetadata;

/** One memory-type decorator (`numpy`, `torch`, ...), in its three call forms. */
export interface MemoryTypeDecorator<T extends MemoryTypeName> {
  <F extends StackFunction>(fn: F): Decorated<F, T>;
  <const Opts extends MemoryTypeOptions, F extends StackFunction>(options: Opts, fn: F): Decorated<F, OutputOf<Opts, T>>;
  (options?: MemoryTypeOptions): StackMethodDecorator;
}

const OPTION_KEYS = new Set([
  'inputType',
  'outputType',
  'gpuId',
  'oomRecovery',
  'sliceBySlice',
  'dtypeConversion',
  'strictDevice',
  'allowCpuRoundtrip',
]);

function checkBoolean(name: string, v: unknown, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (typeof v !== 'boolean') throw new InvalidArgumentError(`option ${name} must be a boolean, got ${describe(v)}`, { option: name });
  return v;
}

/** Validates options at decoration time and fills the defaults; `own` is the decorator's type. */
function resolveOptions(options: unknown, own: MemoryTypeName | undefined): ResolvedMemoryTypeOptions {
  if (options === undefined) options = {};
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new InvalidArgumentError(`decorator options must be an object, got ${describe(options)}`);
  }
  const o = options as Record<string, unknown>;
  // Why reject unknown keys: a misspelt `slicebyslice` would otherwise silently do nothing.
  for (const key of Object.keys(o)) {
    if (!OPTION_KEYS.has(key)) {
      throw new InvalidArgumentError(`unknown decorator option ${show(key)}; expected one of ${[...OPTION_KEYS].join(', ')}`, {
        option: key,
      });
    }
  }
  if (own === undefined && (o.inputType === undefined || o.outputType === undefined)) {
    throw new InvalidArgumentError('memoryTypes needs both inputType and outputType');
  }
  const inputType = o.inputType === undefined ? own! : checkMemoryType(o.inputType);
  const outputType = o.outputType === undefined ? own! : checkMemoryType(o.outputType);
  return Object.freeze({
    inputType,
    outputType,
    gpuId: checkGpuId(o.gpuId),
    // The function runs in its input type, so that is what decides whether it lives on a GPU.
    oomRecovery: checkBoolean('oomRecovery', o.oomRecovery, GPU_MEMORY_TYPES.includes(inputType)),
    sliceBySlice: checkBoolean('sliceBySlice', o.sliceBySlice, false),
    dtypeConversion: o.dtypeConversion === undefined ? DtypeConversion.PRESERVE_INPUT : checkDtypeConversion(o.dtypeConversion),
    strictDevice: checkBoolean('strictDevice', o.strictDevice, false),
    allowCpuRoundtrip: checkBoolean('allowCpuRoundtrip', o.allowCpuRoundtrip, false),
  });
}

function check3D(x: unknown, what: string, fnName: string): void {
  const shape = shapeOf(x);
  if (shape.length !== 3) {
    throw new DimensionError(`${fnName || 'decorated function'}: ${what} must be a 3D [Z, Y, X] stack, got shape [${shape.join(', ')}]`, {
      shape: [...shape],
    });
  }
}

/** Splits a function's return value into the stack and the special outputs, checking the stack. */
function toOutcome(r: unknown, fnName: string): Outcome<SplittableStack> {
  const isTuple = Array.isArray(r);
  const stack = isTuple ? r[0] : r;
  if (!isNDArray(stack) && !isTensor(stack)) {
    throw new UnknownMemoryTypeError(
      `${fnName || 'decorated function'} must return a stack (NDArray or tf.Tensor) or a tuple starting with one, got ${describe(stack)}${isTuple ? ' as element 0' : ''}`,
    );
  }
  check3D(stack, 'the result', fnName);
  return { stack: stack as SplittableStack, special: isTuple ? r.slice(1) : null };
}

function disposeQuietly(x: unknown): void {
  try {
    if (isNDArray(x)) x.dispose();
    else if (isTensor(x)) (x as Tensor).dispose();
  } catch {
    /* disposing must never mask the real outcome */
  }
}

/** One call of a decorated function. */
async function execute(
  fn: StackFunction,
  self: unknown,
  opts: ResolvedMemoryTypeOptions,
  fnName: string,
  stack: unknown,
  rest: unknown[],
): Promise<unknown> {
  const convert = (x: unknown, targetType: MemoryTypeName) =>
    convertMemory(x, { targetType, gpuId: opts.gpuId, allowCpuRoundtrip: opts.allowCpuRoundtrip, strictDevice: opts.strictDevice });
  // Arrays this call made; the ones not handed back are disposed at the end, whatever happens.
  const made = new Set<unknown>();
  const keep = new Set<unknown>([stack, ...rest]);
  try {
    const input = (await convert(stack, opts.inputType)) as SplittableStack;
    if (input !== stack) made.add(input);
    check3D(input, 'the input', fnName);
    const inputDtype = dtypeOf(stack);

    const call = async (part: SplittableStack) => toOutcome(await fn.call(self, part, ...rest), fnName);
    const outcome = opts.oomRecovery
      ? await runWithOomRecovery(call, input, { separable: opts.sliceBySlice, device: isNDArray(input) ? input.device : undefined })
      : await call(input);
    for (const s of outcome.special ?? []) keep.add(s);

    let result: unknown = outcome.stack;
    made.add(result);
    result = await applyDtypeConversion(result, opts.dtypeConversion, inputDtype);
    made.add(result);
    result = await convert(result, opts.outputType);
    keep.add(result);
    return outcome.special ? [result, ...outcome.special] : result;
  } finally {
    for (const x of made) if (!keep.has(x)) disposeQuietly(x);
  }
}

/** Wraps `fn`; `fnName` is what the wrapper's `name` and error messages say. */
function decorate(fn: unknown, opts: ResolvedMemoryTypeOptions, fnName: string): DecoratedFunction<any[], unknown> {
  if (typeof fn !== 'function') throw new InvalidArgumentError(`a decorator needs a function, got ${describe(fn)}`);
  const original = fn as StackFunction;
  // A `function`, not an arrow: as a method it must see the instance as `this`.
  const wrapped = async function (this: unknown, stack: unknown, ...rest: unknown[]) {
    return execute(original, this, opts, fnName, stack, rest);
  };
  Object.defineProperties(wrapped, {
    name: { value: fnName, configurable: true },
    inputMemoryType: { value: opts.inputType, enumerable: true },
    outputMemoryType: { value: opts.outputType, enumerable: true },
    options: { value: opts, enumerable: true },
    separable: { value: opts.sliceBySlice, enumerable: true },
    originalFunction: { value: original, enumerable: true },
  });
  return wrapped as unknown as DecoratedFunction<any[], unknown>;
}

function isMethodContext(x: unknown): x is ClassMethodDecoratorContext {
  return x !== null && typeof x === 'object' && typeof (x as { kind?: unknown }).kind === 'string' && 'name' in x;
}

function methodDecorator(opts: ResolvedMemoryTypeOptions) {
  return (method: unknown, context: unknown) => {
    if (!isMethodContext(context) || context.kind !== 'method') {
      const kind = isMethodContext(context) ? context.kind : describe(context);
      throw new InvalidArgumentError(`memory-type decorators apply to methods (or wrap functions), not to a ${kind}`);
    }
    return decorate(method, opts, String(context.name));
  };
}

/** Builds the decorator of one memory type (or `memoryTypes` when `own` is undefined). */
function makeDecorator(own: MemoryTypeName | undefined) {
  return function decorator(...args: unknown[]): unknown {
    // `@numpy` without parentheses reaches here as (method, context): accept it too.
    if (args.length === 2 && typeof args[0] === 'function' && isMethodContext(args[1])) {
      return methodDecorator(resolveOptions(undefined, own))(args[0], args[1]);
    }
    if (args.length === 1 && typeof args[0] === 'function') {
      return decorate(args[0], resolveOptions(undefined, own), args[0].name);
    }
    if (args.length >= 2) {
      const opts = resolveOptions(args[0], own);
      return decorate(args[1], opts, typeof args[1] === 'function' ? args[1].name : '');
    }
    return methodDecorator(resolveOptions(args[0], own));
  };
}

/** Decorates a function working on host `NDArray`s (numpy kind). OOM recovery is off by default. */
export const numpy = makeDecorator('numpy') as MemoryTypeDecorator<'numpy'>;
/** Decorates a function working on CUDA `NDArray`s (cupy kind: strict GPU). */
export const cupy = makeDecorator('cupy') as MemoryTypeDecorator<'cupy'>;
/** Decorates a function working on torch `NDArray`s (CUDA when present, else host). */
export const torch = makeDecorator('torch') as MemoryTypeDecorator<'torch'>;
/** Decorates a function working on tf.Tensors (`@tensorflow/tfjs`). */
export const tensorflow = makeDecorator('tensorflow') as MemoryTypeDecorator<'tensorflow'>;
/** Decorates a function working on read-only jax `NDArray`s. */
export const jax = makeDecorator('jax') as MemoryTypeDecorator<'jax'>;
/** Decorates a function working on OpenCL `NDArray`s (pyclesperanto kind). */
export const pyclesperanto = makeDecorator('pyclesperanto') as MemoryTypeDecorator<'pyclesperanto'>;

const memoryTypesImpl = makeDecorator(undefined);

/**
 * Decorates `fn` with explicit input and output types (both required). Without `fn` it is a
 * method decorator: `@memoryTypes({ inputType: 'numpy', outputType: 'torch' })`.
 */
export function memoryTypes<const Opts extends MemoryTypesOptions, F extends StackFunction>(
  options: Opts,
  fn: F,
): Decorated<F, Opts['outputType']>;
export function memoryTypes(options: MemoryTypesOptions): StackMethodDecorator;
export function memoryTypes(...args: unknown[]): unknown {
  if (args.length === 0) throw new InvalidArgumentError('memoryTypes needs options with inputType and outputType');
  return memoryTypesImpl(...args);
}
