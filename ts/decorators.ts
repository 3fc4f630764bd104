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
import { effectiveSignal, throwIfAborted, withOperationContext } from './cancel.js';
import { asOutOfMemory, ContractError, DimensionError, InvalidArgumentError, UnknownMemoryTypeError } from './errors.js';
import { checkMemoryType, describe, isNDArray, show, type NDArray } from './ndarray.js';
import { runPerSlice, runWithOomRecovery, type Outcome, type SplittableStack } from './oom.js';
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
  /**
   * OpenHCS's `slice_by_slice`: the function is called once per Z slice (each a `[1, Y, X]` view)
   * and the results are restacked (default false). Implies `separable`. May also be given per call
   * in the function's options object.
   */
  sliceBySlice?: boolean;
  /** The function is separable along Z: OOM recovery may split the stack (default false; processors set it). */
  separable?: boolean;
  /**
   * A check of the output (the stack as the caller gets it, and the special outputs): returning
   * `false` or throwing rejects the call with `ContractError`.
   */
  contract?: ContractCheck;
  /** The result dtype policy (default `PRESERVE_INPUT`). */
  dtypeConversion?: DtypeConversion | `${DtypeConversion}`;
  /** Throw `DeviceMismatchError` instead of moving an input that is on another device (default false). */
  strictDevice?: boolean;
  /** Allow conversions through host memory between device domains (default false). */
  allowCpuRoundtrip?: boolean;
}

/** A decorated function's output contract (arraybridge's `contract`). */
export type ContractCheck = (result: Stack, specialOutputs: readonly unknown[]) => boolean | void | Promise<boolean | void>;

/** Options a decorated function also takes per call, in its options object (OpenHCS's keyword arguments). */
export interface PerCallOptions {
  dtypeConversion?: DtypeConversion | `${DtypeConversion}`;
  sliceBySlice?: boolean;
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
  readonly separable: boolean;
  readonly contract: ContractCheck | undefined;
  readonly dtypeConversion: DtypeConversion;
  readonly strictDevice: boolean;
  readonly allowCpuRoundtrip: boolean;
};

/** The metadata a decorated function carries (OpenHCS's `input_memory_type`, ...). */
export interface DecoratedMetadata {
  readonly inputMemoryType: MemoryTypeName;
  readonly outputMemoryType: MemoryTypeName;
  /** The decorator's own kind (`torch` for `@torch({ inputType: 'numpy' })`); `memoryTypes`: the input type. */
  readonly executionMemoryType: MemoryTypeName;
  readonly options: ResolvedMemoryTypeOptions;
  /** Whether OOM recovery may split the stack along Z (`separable` or `sliceBySlice`). */
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

/** The arguments after the stack, the options object widened by the per-call options (or given them). */
type WithPerCall<A extends unknown[]> = A extends []
  ? [options?: PerCallOptions]
  : A extends [infer O, ...infer R]
    ? [O extends object ? O & PerCallOptions : O, ...R]
    : A;
type RestArgs<F> = F extends (stack: any, ...args: infer A) => unknown ? WithPerCall<A> : never;
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
  'separable',
  'contract',
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
    separable: checkBoolean('separable', o.separable, false),
    contract: checkContract(o.contract),
    dtypeConversion: o.dtypeConversion === undefined ? DtypeConversion.PRESERVE_INPUT : checkDtypeConversion(o.dtypeConversion),
    strictDevice: checkBoolean('strictDevice', o.strictDevice, false),
    allowCpuRoundtrip: checkBoolean('allowCpuRoundtrip', o.allowCpuRoundtrip, false),
  });
}

function checkContract(c: unknown): ContractCheck | undefined {
  if (c === undefined) return undefined;
  if (typeof c !== 'function') throw new InvalidArgumentError(`option contract must be a function, got ${describe(c)}`, { option: 'contract' });
  return c as ContractCheck;
}

/** A plain options object (not an array, stack or class instance): where per-call options may sit. */
function isOptionsObject(x: unknown): x is Record<string, unknown> {
  if (x === null || typeof x !== 'object' || Array.isArray(x)) return false;
  const proto = Object.getPrototypeOf(x);
  return proto === Object.prototype || proto === null;
}

/**
 * Takes the per-call options (`dtypeConversion`, `sliceBySlice`) out of the options object (the
 * first argument after the stack), so the function never sees them; they override the decorator's
 * defaults for this call. The caller's object is not modified. `signal` stays for the function and
 * is returned too: it becomes the ambient signal of the engine operations inside the call.
 */
function takeCallOptions(opts: ResolvedMemoryTypeOptions, rest: unknown[]) {
  const first = rest[0];
  const call = { rest, dtypeConversion: opts.dtypeConversion, sliceBySlice: opts.sliceBySlice, signal: undefined as AbortSignal | undefined };
  if (!isOptionsObject(first)) return call;
  if (first.signal instanceof AbortSignal) call.signal = first.signal;
  if (!('dtypeConversion' in first) && !('sliceBySlice' in first)) return call;
  const { dtypeConversion, sliceBySlice, ...own } = first;
  if (dtypeConversion !== undefined) call.dtypeConversion = checkDtypeConversion(dtypeConversion);
  call.sliceBySlice = checkBoolean('sliceBySlice', sliceBySlice, opts.sliceBySlice);
  call.rest = [own, ...rest.slice(1)];
  return call;
}

async function enforceContract(contract: ContractCheck, result: unknown, special: readonly unknown[], fnName: string): Promise<void> {
  const what = `${fnName || 'decorated function'}: the output failed its contract`;
  let ok: boolean | void;
  try {
    ok = await contract(result as Stack, special);
  } catch (e) {
    throw new ContractError(`${what}: ${e instanceof Error ? e.message : String(e)}`, {}, { cause: e });
  }
  if (ok === false) throw new ContractError(what);
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
  given: unknown[],
): Promise<unknown> {
  const call = takeCallOptions(opts, given);
  const rest = call.rest;
  const signal = effectiveSignal(call.signal);
  throwIfAborted(signal);
  const convert = (x: unknown, targetType: MemoryTypeName) =>
    convertMemory(x, { targetType, gpuId: opts.gpuId, allowCpuRoundtrip: opts.allowCpuRoundtrip, strictDevice: opts.strictDevice, signal });
  // Arrays this call made; the ones not handed back are disposed at the end, whatever happens.
  const made = new Set<unknown>();
  const keep = new Set<unknown>([stack, ...given]);
  try {
    const input = (await convert(stack, opts.inputType)) as SplittableStack;
    if (input !== stack) made.add(input);
    check3D(input, 'the input', fnName);
    const inputDtype = dtypeOf(stack);

    const once = async (part: SplittableStack) => {
      let r: unknown;
      try {
        r = await fn.call(self, part, ...rest);
      } catch (e) {
        // Another library's OOM (CUDA, TF, OpenCL, onnxruntime) is recovered from like ours.
        throw asOutOfMemory(e) ?? e;
      }
      return toOutcome(r, fnName);
    };
    const device = isNDArray(input) ? input.device : undefined;
    // Called per slice, a part is one slice already: nothing is left to split.
    const separable = (opts.separable || opts.sliceBySlice) && !call.sliceBySlice;
    const guarded = opts.oomRecovery ? (part: SplittableStack) => runWithOomRecovery(once, part, { separable, device }) : once;
    const outcome = call.sliceBySlice ? await runPerSlice(guarded, input, signal) : await guarded(input);
    for (const s of outcome.special ?? []) keep.add(s);

    let result: unknown = outcome.stack;
    made.add(result);
    result = await applyDtypeConversion(result, call.dtypeConversion, inputDtype);
    made.add(result);
    result = await convert(result, opts.outputType);
    made.add(result);
    if (opts.contract) await enforceContract(opts.contract, result, outcome.special ?? [], fnName);
    keep.add(result);
    return outcome.special ? [result, ...outcome.special] : result;
  } finally {
    for (const x of made) if (!keep.has(x)) disposeQuietly(x);
  }
}

/** Wraps `fn`; `fnName` is what the wrapper's `name` and error messages say. */
function decorate(fn: unknown, opts: ResolvedMemoryTypeOptions, fnName: string, own: MemoryTypeName | undefined): DecoratedFunction<any[], unknown> {
  if (typeof fn !== 'function') throw new InvalidArgumentError(`a decorator needs a function, got ${describe(fn)}`);
  const original = fn as StackFunction;
  // A `function`, not an arrow: as a method it must see the instance as `this`.
  const wrapped = async function (this: unknown, stack: unknown, ...rest: unknown[]) {
    const signal = isOptionsObject(rest[0]) && rest[0].signal instanceof AbortSignal ? rest[0].signal : undefined;
    // A signal given to this call reaches every engine operation inside it (conversions, kernels).
    return signal ? withOperationContext({ signal }, () => execute(original, this, opts, fnName, stack, rest)) : execute(original, this, opts, fnName, stack, rest);
  };
  Object.defineProperties(wrapped, {
    name: { value: fnName, configurable: true },
    inputMemoryType: { value: opts.inputType, enumerable: true },
    outputMemoryType: { value: opts.outputType, enumerable: true },
    executionMemoryType: { value: own ?? opts.inputType, enumerable: true },
    options: { value: opts, enumerable: true },
    separable: { value: opts.separable || opts.sliceBySlice, enumerable: true },
    originalFunction: { value: original, enumerable: true },
  });
  return wrapped as unknown as DecoratedFunction<any[], unknown>;
}

function isMethodContext(x: unknown): x is ClassMethodDecoratorContext {
  return x !== null && typeof x === 'object' && typeof (x as { kind?: unknown }).kind === 'string' && 'name' in x;
}

function methodDecorator(opts: ResolvedMemoryTypeOptions, own: MemoryTypeName | undefined) {
  return (method: unknown, context: unknown) => {
    if (!isMethodContext(context) || context.kind !== 'method') {
      const kind = isMethodContext(context) ? context.kind : describe(context);
      throw new InvalidArgumentError(`memory-type decorators apply to methods (or wrap functions), not to a ${kind}`);
    }
    return decorate(method, opts, String(context.name), own);
  };
}

/** Builds the decorator of one memory type (or `memoryTypes` when `own` is undefined). */
function makeDecorator(own: MemoryTypeName | undefined) {
  return function decorator(...args: unknown[]): unknown {
    // `@numpy` without parentheses reaches here as (method, context): accept it too.
    if (args.length === 2 && typeof args[0] === 'function' && isMethodContext(args[1])) {
      return methodDecorator(resolveOptions(undefined, own), own)(args[0], args[1]);
    }
    if (args.length === 1 && typeof args[0] === 'function') {
      return decorate(args[0], resolveOptions(undefined, own), args[0].name, own);
    }
    if (args.length >= 2) {
      const opts = resolveOptions(args[0], own);
      return decorate(args[1], opts, typeof args[1] === 'function' ? args[1].name : '', own);
    }
    return methodDecorator(resolveOptions(args[0], own), own);
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
