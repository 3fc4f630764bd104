//! The processor set's device kernels (DESIGN §12) on OpenCL against the CPU implementation, every
//! dtype, odd and tiny shapes: each operation `stackbridge_gpu::proc::set` lists must run on the
//! device (not the host fallback) and give the CPU's result — exactly for integer results.
mod common;
use common::*;

#[test]
fn footprint_min_max_filters_equal_cpu() {
  for name in ["minimumFilter", "maximumFilter", "opening", "closing", "blackTophat"] {
    sweep(name, &[r#"{"radius":0}"#, r#"{"radius":2}"#, r#"{"radius":3,"footprint":"square"}"#], |d| !d.is_float(), 0.0);
  }
}

#[test]
fn element_wise_operations_equal_cpu() {
  sweep("absolute", &["{}"], |_| true, 0.0);
  sweep("addScalar", &[r#"{"scalar":2.5}"#, r#"{"scalar":-70000}"#], |_| true, 1e-12);
  sweep("multiplyScalar", &[r#"{"scalar":0.5}"#, r#"{"scalar":-3}"#], |_| true, 1e-12);
  sweep("sumProjection", &["{}"], |_| true, 1e-6);
  sweep("argmaxProjection", &["{}"], |_| true, 0.0);
}
