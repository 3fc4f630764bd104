/** The processor set (DESIGN §12): measure. Options and call shapes; the kernels are crates/kernels/src/set/measure.rs. */
import type { MemoryTypeName } from '../../types.js';

/** The measure of one family. */
// eslint-disable-next-line @typescript-eslint/no-unused-vars
export interface MeasureOps<T extends MemoryTypeName> {}
