/**
 * Run-time CPU dispatch (docs/ARCHITECTURE.md "CPU dispatch"): the addon is built for baseline
 * x86-64-v2 and runs its hot kernels at the best level this CPU has, capped by the environment
 * variable `STACKBRIDGE_CPU_LEVEL=scalar|sse4|avx2|avx512` (read once, when the addon loads; an
 * unknown value caps at `scalar`). Every level gives bit-identical results.
 */
import { native } from './errors.js';
import { addon } from './native.js';

/** An instruction-set level, lowest first. */
export type CpuLevel = 'scalar' | 'sse4' | 'avx2' | 'avx512';

export interface CpuFeatures {
  /** The highest level this CPU supports. */
  detected: CpuLevel;
  /** The level the kernels run at: `detected` capped by `STACKBRIDGE_CPU_LEVEL`. */
  level: CpuLevel;
  /** `STACKBRIDGE_CPU_LEVEL` as set, if it is. */
  requested: string | null;
  /** The level the binary itself was compiled for (`sse4` for the portable build). */
  compiledFor: CpuLevel;
  /**
   * The code path each dispatching kernel (`percentileHistogram`, `normalizeMap`, `morphology`,
   * `gaussian`, `projection`, `cast`, `applyMask`, `resize`) took the last time it ran in this process: a
   * level, or a hand-written path such as `'avx512-vbmi2 (vpcompressw)'`; `null` until it has run.
   */
  paths: Record<string, string | null>;
}

/** Which CPU level the kernels run at, and the path each kernel took so far. */
export function cpuFeatures(): CpuFeatures {
  const f = native(() => addon.cpuFeatures());
  return {
    detected: f.detected as CpuLevel,
    level: f.level as CpuLevel,
    requested: f.requested ?? null,
    compiledFor: f.compiledFor as CpuLevel,
    paths: Object.fromEntries(f.paths.map((p) => [p.kernel, p.path ?? null])),
  };
}
