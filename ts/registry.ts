/**
 * A registry of decorated functions keyed by memory type and name, as OpenHCS's function registry:
 * pipelines built from configuration can look a function up by the memory type it works in and its
 * name. The key's memory type is the function's declared *input* memory type (OpenHCS does the same).
 */
import { InvalidArgumentError } from './errors.js';
import { checkMemoryType, describe } from './ndarray.js';
import { MEMORY_TYPES, type MemoryTypeName } from './types.js';

/**
 * The shape of a function made by a memory-type decorator (`numpy(fn)`, `torch(opts, fn)`, ...):
 * an async `(stack, ...rest)` carrying its declared memory types. Structural, so this module does not
 * depend on how decorators.ts builds it.
 */
export interface DecoratedFunction<A extends unknown[] = any[], R = any> {
  (stack: any, ...rest: A): Promise<R>;
  readonly inputMemoryType: MemoryTypeName;
  readonly outputMemoryType: MemoryTypeName;
  readonly options?: Readonly<Record<string, unknown>> & { gpuId?: number; allowCpuRoundtrip?: boolean };
  readonly separable?: boolean;
  readonly originalFunction?: Function;
}

/** Whether `fn` is a decorated function (a function with declared memory types). */
export function isDecorated(fn: unknown): fn is DecoratedFunction {
  if (typeof fn !== 'function') return false;
  const f = fn as unknown as Record<string, unknown>;
  return (
    typeof f.inputMemoryType === 'string' &&
    (MEMORY_TYPES as readonly string[]).includes(f.inputMemoryType) &&
    typeof f.outputMemoryType === 'string' &&
    (MEMORY_TYPES as readonly string[]).includes(f.outputMemoryType)
  );
}

/** One registry entry. */
export interface RegisteredFunction {
  /** The name it was registered under (defaults to `func.name`). */
  readonly name: string;
  /** The memory type it is keyed by: `func.inputMemoryType`. */
  readonly memoryType: MemoryTypeName;
  readonly func: DecoratedFunction;
}

// memoryType -> name -> entry. A Map keeps registration order for listFunctions.
const registry = new Map<MemoryTypeName, Map<string, RegisteredFunction>>();

/**
 * Registers a decorated function under its input memory type and `name` (default `fn.name`).
 * Throws `InvalidArgumentError` for a function without memory-type metadata, an empty name, or a
 * name already registered for that memory type.
 */
export function registerFunction<F extends DecoratedFunction>(fn: F, name?: string): RegisteredFunction {
  if (!isDecorated(fn)) {
    throw new InvalidArgumentError(
      `registerFunction expects a function decorated with a memory type (numpy, torch, ...), got ${typeof fn === 'function' ? `undecorated function ${JSON.stringify((fn as Function).name)}` : describe(fn)}`,
    );
  }
  const key = name ?? fn.name;
  if (typeof key !== 'string' || key.length === 0) {
    throw new InvalidArgumentError('registerFunction needs a name: the function is anonymous and no name was given');
  }
  const memoryType = fn.inputMemoryType;
  let byName = registry.get(memoryType);
  if (!byName) registry.set(memoryType, (byName = new Map()));
  if (byName.has(key)) {
    throw new InvalidArgumentError(`a function named ${JSON.stringify(key)} is already registered for memory type '${memoryType}'`, {
      name: key,
      memoryType,
    });
  }
  const entry: RegisteredFunction = Object.freeze({ name: key, memoryType, func: fn });
  byName.set(key, entry);
  return entry;
}

/** The function registered under `memoryType` and `name`, or `undefined`. Unknown type → `UnknownMemoryTypeError`. */
export function getFunction(memoryType: MemoryTypeName, name: string): DecoratedFunction | undefined {
  return registry.get(checkMemoryType(memoryType))?.get(name)?.func;
}

/** Registered entries, for one memory type or all (in the order of `MEMORY_TYPES`, then registration). */
export function listFunctions(memoryType?: MemoryTypeName): RegisteredFunction[] {
  const types = memoryType === undefined ? MEMORY_TYPES : [checkMemoryType(memoryType)];
  return types.flatMap((t) => [...(registry.get(t)?.values() ?? [])]);
}

/** Removes one entry; returns whether it existed. */
export function unregisterFunction(memoryType: MemoryTypeName, name: string): boolean {
  return registry.get(checkMemoryType(memoryType))?.delete(name) ?? false;
}
