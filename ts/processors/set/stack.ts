/** The processor set (DESIGN §12): stack. Options and call shapes; the kernels are crates/kernels/src/set/stack.rs. */
import type { MemoryTypeName } from '../../types.js';

/** The stack of one family. */
// eslint-disable-next-line @typescript-eslint/no-unused-vars
export interface StackOps<T extends MemoryTypeName> {}
