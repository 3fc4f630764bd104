//! stackbridge-kernels: the CPU processors of DESIGN §7 on plain slices (no napi, no JS).
//!
//! Every stack is C-contiguous `[Z, Y, X]` described by [`Dims`]. Kernels read `&[T]` and write
//! into caller-allocated `&mut [_]` (the binding allocates through the core's caching allocator),
//! validate their parameters with typed [`SbError`]s, and parallelise with rayon. The oracle for
//! each numeric result is the numpy / scipy / scikit-image call named in its doc comment.

pub mod backend;
pub mod blob;
pub mod count;
pub mod dispatch;
pub mod gaussian;
pub mod image;
pub mod median;
pub mod morphology;
pub mod normalize;
pub mod params;
pub mod percentile;
pub mod pointwise;
pub mod projection;
pub mod resize;
pub mod segment;
pub mod set;
pub mod sharpen;
pub mod tophat;

pub use image::Dims;
pub use stackbridge_core::{DType, Element, ErrorCode, SbError, SbResult};
