//! Set operations: rank (DESIGN §12).

use super::SetOp;

pub const OPS: &[SetOp] = &[];
