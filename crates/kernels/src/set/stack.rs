//! Set operations: stack (DESIGN §12).

use super::SetOp;

pub const OPS: &[SetOp] = &[];
