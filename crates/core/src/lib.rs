//! stackbridge-core: the engine's pure-Rust heart (no napi). Dtypes, shapes, host storage with
//! its caching allocator, the conversion matrix, typed errors and the host operations the engine
//! itself needs. Kernel crates and the napi binding build on it.

pub mod alloc;
pub mod array;
pub mod backend;
pub mod cancel;
pub mod conversion;
pub mod cpu;
pub mod dlpack;
pub mod dtype;
pub mod error;
pub mod memory_type;
pub mod ops;
pub mod shape;
pub mod storage;

pub use array::HostArray;
pub use backend::BackendDevice;
pub use cancel::Cancel;
pub use conversion::{ConversionKind, ConvertOptions, Plan, Topology};
pub use dtype::{DType, Element};
pub use error::{ErrorCode, SbError, SbResult};
pub use memory_type::{Device, Domain, MemoryType};
