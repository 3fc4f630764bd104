//! Set operations: geometry (DESIGN §12).

use super::SetOp;

pub const OPS: &[SetOp] = &[];
