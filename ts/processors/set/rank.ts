/** The processor set (DESIGN §12): rank. Options and call shapes; the kernels are crates/kernels/src/set/rank.rs. */
import type { MemoryTypeName } from '../../types.js';

/** The rank of one family. */
// eslint-disable-next-line @typescript-eslint/no-unused-vars
export interface RankOps<T extends MemoryTypeName> {}
