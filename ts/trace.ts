/**
 * Trace collection. Conversions and OOM recoveries are recorded into the collector of the current
 * async context (AsyncLocalStorage), so a pipeline sees everything its steps did without threading
 * a collector through every call.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { InvalidArgumentError } from './errors.js';
import { describe } from './ndarray.js';
import type { ConversionKind, MemoryTypeName } from './types.js';

export interface ConversionRecord {
  from: MemoryTypeName;
  to: MemoryTypeName;
  kind: ConversionKind;
  /** Bytes of the data converted (the logical size, whatever was copied). */
  bytes: number;
  /** Wall time of the conversion in milliseconds. */
  ms: number;
  sourceDevice: string;
  targetDevice: string;
}

export type RecoveryAction = 'empty-cache-retry' | 'split-z' | 'rethrow';

export interface RecoveryRecord {
  action: RecoveryAction;
  /** 1-based attempt number for retries; depth of the split for `split-z`. */
  attempt: number;
  /** Device whose caches were emptied or that ran out. */
  device?: string;
  /** Z range [start, end) of the part being split, for `split-z`. */
  zRange?: [number, number];
  message: string;
}

/** One processor run: where its kernels ran. */
export interface KernelRecord {
  processor: string;
  /** `cpu` or `opencl:N`. */
  device: string;
  /** The OpenCL command queue (one per engine thread per device); absent on the host. */
  queue?: number;
  /** Wall time of the run in milliseconds. */
  ms: number;
  /**
   * The device has no kernels for this operation: it ran on the host CPU, over the device's memory
   * where that is host-addressable, else with its arrays copied to the host and back (DESIGN §12).
   */
  onHost?: boolean;
}

export class TraceCollector {
  readonly conversions: ConversionRecord[] = [];
  readonly recoveries: RecoveryRecord[] = [];
  readonly kernels: KernelRecord[] = [];
}

const storage = new AsyncLocalStorage<TraceCollector>();

/** Runs `fn` with `collector` receiving every record made inside it (including nested async work). */
export function withTrace<T>(collector: TraceCollector, fn: () => Promise<T>): Promise<T> {
  if (!(collector instanceof TraceCollector)) {
    throw new InvalidArgumentError(`withTrace needs a TraceCollector, got ${describe(collector)}`);
  }
  if (typeof fn !== 'function') throw new InvalidArgumentError(`withTrace needs a function, got ${describe(fn)}`);
  return storage.run(collector, fn);
}

export function currentTrace(): TraceCollector | undefined {
  return storage.getStore();
}

export function recordConversion(rec: ConversionRecord): void {
  storage.getStore()?.conversions.push(rec);
  processCounters.add(rec);
}

export function recordRecovery(rec: RecoveryRecord): void {
  storage.getStore()?.recoveries.push(rec);
}

export function recordKernel(rec: KernelRecord): void {
  storage.getStore()?.kernels.push(rec);
}

/** Totals of one group of conversions (a kind, or an edge). */
export interface ConversionTotals {
  count: number;
  /** Logical bytes converted (as `ConversionRecord.bytes`). */
  bytes: number;
  /** Wall time, milliseconds. */
  ms: number;
}

/** `ConversionCounters` as JSON: totals per kind and per edge (`'numpy→torch'`). */
export interface ConversionCountersJSON {
  byKind: Partial<Record<ConversionKind, ConversionTotals>>;
  byEdge: Record<string, ConversionTotals & { kinds: Partial<Record<ConversionKind, number>> }>;
}

const EDGE = '→';

/**
 * Aggregate conversion counters beside the per-run trace: how many conversions of each kind and
 * on each edge (source type → target type), their bytes and time. Mergeable (across runs, workers
 * or processes, through `toJSON` / `fromJSON`), printable as a table. `conversionCounters()` holds
 * the process's totals; a pipeline run's result carries its own.
 */
export class ConversionCounters {
  readonly #byKind = new Map<ConversionKind, ConversionTotals>();
  readonly #byEdge = new Map<string, ConversionTotals & { kinds: Map<ConversionKind, number> }>();

  /** Counters of the conversions in `records` (e.g. a `PipelineTrace`'s steps' conversions). */
  static of(records: Iterable<ConversionRecord>): ConversionCounters {
    const c = new ConversionCounters();
    for (const r of records) c.add(r);
    return c;
  }

  /** Counters back from their JSON (`InvalidArgumentError` for anything else). */
  static fromJSON(json: unknown): ConversionCounters {
    const c = new ConversionCounters();
    return c.merge(json as ConversionCountersJSON);
  }

  /** Counts one conversion. */
  add(r: ConversionRecord): this {
    this.#addTo(this.#kindTotals(r.kind), 1, r.bytes, r.ms);
    const e = this.#edgeTotals(`${r.from}${EDGE}${r.to}`);
    this.#addTo(e, 1, r.bytes, r.ms);
    e.kinds.set(r.kind, (e.kinds.get(r.kind) ?? 0) + 1);
    return this;
  }

  /** Adds `other`'s totals to these (another instance or its JSON). */
  merge(other: ConversionCounters | ConversionCountersJSON): this {
    const json = other instanceof ConversionCounters ? other.toJSON() : other;
    if (json === null || typeof json !== 'object' || typeof json.byKind !== 'object' || typeof json.byEdge !== 'object' || !json.byKind || !json.byEdge) {
      throw new InvalidArgumentError(`ConversionCounters.merge needs counters or their JSON, got ${describe(other)}`);
    }
    for (const [kind, t] of Object.entries(json.byKind)) this.#addTo(this.#kindTotals(kind as ConversionKind), ...totals(t, kind));
    for (const [edge, t] of Object.entries(json.byEdge)) {
      const e = this.#edgeTotals(edge);
      this.#addTo(e, ...totals(t, edge));
      for (const [kind, n] of Object.entries(t.kinds ?? {})) e.kinds.set(kind as ConversionKind, (e.kinds.get(kind as ConversionKind) ?? 0) + Number(n));
    }
    return this;
  }

  /** Empties the counters. */
  clear(): void {
    this.#byKind.clear();
    this.#byEdge.clear();
  }

  toJSON(): ConversionCountersJSON {
    const byKind: ConversionCountersJSON['byKind'] = {};
    for (const [k, t] of [...this.#byKind].sort(([a], [b]) => a.localeCompare(b))) byKind[k] = { ...t };
    const byEdge: ConversionCountersJSON['byEdge'] = {};
    for (const [e, t] of [...this.#byEdge].sort(([a], [b]) => a.localeCompare(b))) {
      byEdge[e] = { count: t.count, bytes: t.bytes, ms: t.ms, kinds: Object.fromEntries([...t.kinds].sort(([a], [b]) => a.localeCompare(b))) };
    }
    return { byKind, byEdge };
  }

  /** A plain-text table: one row per kind, then one per edge (count, MiB, ms). */
  toTable(): string {
    const { byKind, byEdge } = this.toJSON();
    const rows: string[][] = [['', 'count', 'MiB', 'ms']];
    const row = (name: string, t: ConversionTotals) => rows.push([name, String(t.count), (t.bytes / 2 ** 20).toFixed(2), t.ms.toFixed(2)]);
    for (const [k, t] of Object.entries(byKind)) row(`kind ${k}`, t!);
    for (const [e, t] of Object.entries(byEdge)) row(`${e} (${Object.keys(t.kinds).join(', ')})`, t);
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
    return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')).join('\n');
  }

  #kindTotals(kind: ConversionKind): ConversionTotals {
    let t = this.#byKind.get(kind);
    if (!t) this.#byKind.set(kind, (t = { count: 0, bytes: 0, ms: 0 }));
    return t;
  }

  #edgeTotals(edge: string): ConversionTotals & { kinds: Map<ConversionKind, number> } {
    let t = this.#byEdge.get(edge);
    if (!t) this.#byEdge.set(edge, (t = { count: 0, bytes: 0, ms: 0, kinds: new Map() }));
    return t;
  }

  #addTo(t: ConversionTotals, count: number, bytes: number, ms: number): void {
    t.count += count;
    t.bytes += bytes;
    t.ms += ms;
  }
}

/** The numbers of one JSON totals entry, checked. */
function totals(t: unknown, name: string): [number, number, number] {
  const v = t as Partial<ConversionTotals> | null;
  const nums = [v?.count, v?.bytes, v?.ms];
  if (!nums.every((n) => typeof n === 'number' && Number.isFinite(n))) {
    throw new InvalidArgumentError(`ConversionCounters: entry ${JSON.stringify(name)} needs finite count, bytes and ms`);
  }
  return nums as [number, number, number];
}

const processCounters = new ConversionCounters();

/** The process's conversion totals since it started (or since `resetConversionCounters()`): a copy. */
export function conversionCounters(): ConversionCounters {
  return new ConversionCounters().merge(processCounters);
}

/** Zeroes the process's conversion totals. */
export function resetConversionCounters(): void {
  processCounters.clear();
}
