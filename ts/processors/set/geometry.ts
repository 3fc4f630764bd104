/** The processor set (DESIGN §12): geometry. Options and call shapes; the kernels are crates/kernels/src/set/geometry.rs. */
import type { MemoryTypeName } from '../../types.js';

/** The geometry of one family. */
// eslint-disable-next-line @typescript-eslint/no-unused-vars
export interface GeometryOps<T extends MemoryTypeName> {}
