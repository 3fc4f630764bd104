/** The processor set (DESIGN §12): binary. Options and call shapes; the kernels are crates/kernels/src/set/binary.rs. */
import type { MemoryTypeName } from '../../types.js';

/** The binary of one family. */
// eslint-disable-next-line @typescript-eslint/no-unused-vars
export interface BinaryOps<T extends MemoryTypeName> {}
