/** The processor set (DESIGN §12): threshold. Options and call shapes; the kernels are crates/kernels/src/set/threshold.rs. */
import type { MemoryTypeName } from '../../types.js';

/** The threshold of one family. */
// eslint-disable-next-line @typescript-eslint/no-unused-vars
export interface ThresholdOps<T extends MemoryTypeName> {}
