//! stackbridge-io, pure Rust (no napi): TIFF / OME-TIFF pages straight into a `HostArray`
//! (`[pages, Y, X]`), the same arrays back to TIFF (OME-XML for stacks), and PNG overlays of
//! detections drawn on a contrast-stretched slice. Every failure is an `ImageFormatError` naming
//! the file and the problem; nothing returns a partial array.

pub mod ome;
pub mod overlay;
pub mod read;
pub mod write;

pub use ome::OmeMeta;
pub use overlay::{overlay_png, Circle};
pub use read::{read_tiff, read_tiff_file, TiffInfo};
pub use write::{write_tiff, Compression, WriteOptions};
