/** The processor set of DESIGN §12: every group's call shapes, joined into one family interface. */
import type { MemoryTypeName } from '../../types.js';
import type { BinaryOps } from './binary.js';
import type { FilterOps } from './filters.js';
import type { GeometryOps } from './geometry.js';
import type { LabelOps } from './labels.js';
import type { MeasureOps } from './measure.js';
import type { RankOps } from './rank.js';
import type { StackOps } from './stack.js';
import type { ThresholdOps } from './threshold.js';

export type * from './binary.js';
export type * from './filters.js';
export type * from './geometry.js';
export type * from './labels.js';
export type * from './measure.js';
export type * from './rank.js';
export type * from './stack.js';
export type * from './threshold.js';
export type * from './types.js';

/** The set's processors of one family. */
export interface SetFamily<T extends MemoryTypeName>
  extends RankOps<T>,
    FilterOps<T>,
    ThresholdOps<T>,
    BinaryOps<T>,
    LabelOps<T>,
    MeasureOps<T>,
    StackOps<T>,
    GeometryOps<T> {}
