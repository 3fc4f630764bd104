//! Shared by the CUDA domain's tests: every processor with options reaching each of its code
//! paths, and a stack that gives each detection method something to find.
#![allow(dead_code)]

use stackbridge_core::{DType, Device, Element, HostArray, MemoryType};

/// Each processor with options that reach each of its code paths.
pub const CALLS: &[(&str, &str)] = &[
  ("stackPercentileNormalize", "{}"),
  ("percentileNormalize", r#"{"lowPercentile":5,"highPercentile":95}"#),
  ("tophat", "{}"),
  ("tophat", r#"{"selemRadius":3,"downsampleFactor":1}"#),
  ("tophat", r#"{"selemRadius":4,"downsampleFactor":2,"upsampleOrder":0}"#),
  ("createProjection", r#"{"method":"max_projection"}"#),
  ("createProjection", r#"{"method":"min_projection"}"#),
  ("createProjection", r#"{"method":"mean_projection"}"#),
  ("createProjection", r#"{"method":"median_projection"}"#),
  ("createProjection", r#"{"method":"std_projection"}"#),
  ("sharpen", r#"{"radius":1.5,"amount":2}"#),
  ("createComposite", "{}"),
  ("createComposite", r#"{"weights":[0.2,0.3,0.5]}"#),
  ("stackEqualizeHistogram", "{}"),
  ("spatialBin2d", r#"{"binSize":2,"method":"mean"}"#),
  ("spatialBin2d", r#"{"binSize":3,"method":"sum"}"#),
  ("spatialBin2d", r#"{"binSize":2,"method":"max"}"#),
  ("spatialBin2d", r#"{"binSize":2,"method":"min"}"#),
  ("crop", r#"{"startZ":1,"startY":2,"startX":3,"depth":2,"height":10,"width":11}"#),
  ("gaussian", r#"{"sigma":2}"#),
  ("applyMask", "{}"),
];

pub const COUNTS: &[&str] = &[
  r#"{"detectionMethod":"blob_log"}"#,
  r#"{"detectionMethod":"blob_dog"}"#,
  r#"{"detectionMethod":"watershed","returnSegmentationMask":true}"#,
  r#"{"detectionMethod":"threshold","threshold":0.5,"enablePreprocessing":true}"#,
];

/// A `[z, h, w]` stack of `dtype` in host-addressable memory of `dev` (the host, or an OpenCL device).
pub fn stack(dev: Device, memory_type: MemoryType, dtype: DType, shape: [usize; 3]) -> HostArray {
  let a = HostArray::alloc_on(dev, shape.to_vec(), dtype, memory_type, false).unwrap();
  let p = a.pin().unwrap();
  let (h, w) = (shape[1], shape[2]);
  stackbridge_core::with_dtype!(dtype, T => {
    for (i, o) in p.as_mut_slice::<T>().iter_mut().enumerate() {
      let (y, x) = ((i / w) % h, i % w);
      // Two bright spots on a ramp: every detection method finds something.
      let spot = |cy: f64, cx: f64| (-((y as f64 - cy).powi(2) + (x as f64 - cx).powi(2)) / 8.0).exp();
      *o = T::from_f64((0.1 + 0.1 * x as f64 / w as f64 + 0.7 * (spot(10.0, 12.0) + spot(24.0, 30.0))) * 200.0 + (i % 7) as f64);
    }
  });
  a
}

