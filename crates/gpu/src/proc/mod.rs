//! The processors of DESIGN §7 over any [`Gpu`](crate::Gpu). Each module runs one family of
//! kernels of stackbridge-gpu-kernels; host-side steps are only bookkeeping on small data
//! (histograms, percentiles, lookup tables, blob pruning) and reuse stackbridge-kernels' code for it.

pub mod count;
pub mod filters;
pub mod normalize;
pub mod pointwise;
pub mod projection;
pub mod tophat;
pub mod set;
