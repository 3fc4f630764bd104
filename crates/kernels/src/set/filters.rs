//! Set operations: filters (DESIGN §12).

use super::SetOp;

pub const OPS: &[SetOp] = &[];
