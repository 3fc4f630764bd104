//! Set operations: measure (DESIGN §12).

use super::SetOp;

pub const OPS: &[SetOp] = &[];
