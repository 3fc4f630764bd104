/** The processor set (DESIGN §12): filters. Options and call shapes; the kernels are crates/kernels/src/set/filters.rs. */
import type { MemoryTypeName } from '../../types.js';

/** The filters of one family. */
// eslint-disable-next-line @typescript-eslint/no-unused-vars
export interface FilterOps<T extends MemoryTypeName> {}
