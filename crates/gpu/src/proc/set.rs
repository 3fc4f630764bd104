//! Device kernels of the processor set (DESIGN §12): each entry runs one operation with the same
//! options, checks and results as its CPU implementation in `stackbridge_kernels::set`.

use crate::set::DeviceRun;
use crate::Gpu;

/// The operations listed in [`lookup`].
pub const NAMES: &[&str] = &[];

/// The device implementation of `name`, if it has one.
pub fn lookup<C: Gpu>(name: &str, dtype: stackbridge_core::DType) -> Option<DeviceRun<C>> {
  let _ = (name, dtype);
  None
}
