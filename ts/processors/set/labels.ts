/** The processor set (DESIGN §12): labels. Options and call shapes; the kernels are crates/kernels/src/set/labels.rs. */
import type { MemoryTypeName } from '../../types.js';

/** The labels of one family. */
// eslint-disable-next-line @typescript-eslint/no-unused-vars
export interface LabelOps<T extends MemoryTypeName> {}
