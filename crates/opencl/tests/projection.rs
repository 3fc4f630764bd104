//! OpenCL createProjection and createComposite equal the CPU processors exactly, for every dtype
//! (same accumulation order and precision: f64 for integer stacks, emulated f32 steps for float32).
mod common;
use common::*;
use stackbridge_core::DType;

const METHODS: [&str; 5] = ["max_projection", "min_projection", "mean_projection", "median_projection", "std_projection"];

/// Values spanning (integers: slightly exceeding, saturated by `stack_on`) the range of `dt`.
fn values_for(dt: DType, n: usize, seed: u64) -> Vec<f64> {
  let (lo, hi) = match dt {
    DType::U8 => (0.0, 256.0),
    DType::U16 => (0.0, 65536.0),
    DType::I16 => (-32768.0, 32768.0),
    DType::I32 => (-2.1e9, 2.1e9),
    DType::U32 => (0.0, 4.29e9),
    DType::F32 | DType::F64 => (-1.0e5, 1.0e5),
  };
  noise(n, seed, lo, hi)
}

/// Sizes: single slice / single pixel, even and odd Z, odd planes, Z above the CPU's sorting-network limit.
const SHAPES: [[usize; 3]; 8] = [[1, 1, 1], [1, 4, 5], [2, 3, 3], [3, 17, 23], [4, 1, 7], [7, 9, 11], [50, 3, 5], [65, 2, 3]];

#[test]
fn projections_equal_cpu() {
  let Some(dev) = cl() else { return };
  for (si, shape) in SHAPES.iter().enumerate() {
    for dt in dtypes() {
      let v = values_for(dt, shape.iter().product(), 31 + si as u64);
      stackbridge_core::with_dtype!(dt, T => {
        let (h, c) = pair::<T>(dev, *shape, &v);
        for m in METHODS {
          assert_equivalent(dev, "createProjection", &h, &c, &format!(r#"{{"method":"{m}"}}"#), 0.0, 0.0);
        }
      });
    }
  }
}

#[test]
fn projections_with_ties_and_nan() {
  let Some(dev) = cl() else { return };
  // Few distinct values: many ties in the median's order statistics.
  for shape in [[4, 6, 7], [5, 3, 3], [66, 2, 2]] {
    let n: usize = shape.iter().product();
    let v: Vec<f64> = noise(n, 8, 0.0, 4.0).iter().map(|x| x.floor()).collect();
    for dt in dtypes() {
      stackbridge_core::with_dtype!(dt, T => {
        let (h, c) = pair::<T>(dev, shape, &v);
        for m in METHODS {
          assert_equivalent(dev, "createProjection", &h, &c, &format!(r#"{{"method":"{m}"}}"#), 0.0, 0.0);
        }
      });
    }
  }
  // NaN anywhere in a column (first, middle, last slice) propagates for float stacks.
  let mut v = noise(3 * 2 * 4, 4, -10.0, 10.0);
  v[0] = f64::NAN;
  v[8 + 3] = f64::NAN;
  v[16 + 5] = f64::NAN;
  for dt in [DType::F32, DType::F64] {
    stackbridge_core::with_dtype!(dt, T => {
      let (h, c) = pair::<T>(dev, [3, 2, 4], &v);
      for m in METHODS {
        assert_equivalent(dev, "createProjection", &h, &c, &format!(r#"{{"method":"{m}"}}"#), 0.0, 0.0);
      }
    });
  }
}

#[test]
fn float32_mean_and_std_round_like_numpy() {
  let Some(dev) = cl() else { return };
  // Sums that differ between f32 and f64 accumulation (the CPU follows numpy's f32 steps).
  let v = [16777216.0, 3.0, 1.0, 1.0, 1.0, 16777216.0];
  let (h, c) = pair::<f32>(dev, [3, 1, 2], &v);
  for m in ["mean_projection", "std_projection", "median_projection"] {
    assert_equivalent(dev, "createProjection", &h, &c, &format!(r#"{{"method":"{m}"}}"#), 0.0, 0.0);
  }
}

#[test]
fn composite_equals_cpu() {
  let Some(dev) = cl() else { return };
  for (si, shape) in SHAPES.iter().enumerate() {
    let z = shape[0];
    let weights: Vec<f64> = noise(z, 77 + si as u64, -0.5, 3.0);
    let wjson = format!("{{\"weights\":[{}]}}", weights.iter().map(|w| w.to_string()).collect::<Vec<_>>().join(","));
    for dt in dtypes() {
      let v = values_for(dt, shape.iter().product(), 41 + si as u64);
      stackbridge_core::with_dtype!(dt, T => {
        let (h, c) = pair::<T>(dev, *shape, &v);
        assert_equivalent(dev, "createComposite", &h, &c, "{}", 0.0, 0.0);
        assert_equivalent(dev, "createComposite", &h, &c, &wjson, 0.0, 0.0);
      });
    }
  }
  // Weights that are not normalised and a NaN input (float stacks keep it; integer casts give 0).
  let mut v = noise(3 * 4 * 5, 9, -100.0, 100.0);
  v[7] = f64::NAN;
  for dt in [DType::F32, DType::F64, DType::I16, DType::U8] {
    stackbridge_core::with_dtype!(dt, T => {
      let (h, c) = pair::<T>(dev, [3, 4, 5], &v);
      assert_equivalent(dev, "createComposite", &h, &c, r#"{"weights":[10,-3,0.25]}"#, 0.0, 0.0);
    });
  }
}

#[test]
fn composite_weight_errors_match_cpu() {
  let Some(dev) = cl() else { return };
  let (h, c) = pair::<u16>(dev, [3, 2, 2], &[1.0; 12]);
  for opts in [r#"{"weights":[1,2]}"#, r#"{"weights":[1,-1,0]}"#] {
    let a = stackbridge_kernels::dispatch::run_processor("createComposite", &h, opts, None).err().unwrap();
    let b = stackbridge_opencl::dispatch::run_processor("createComposite", &c, opts, None).err().unwrap();
    assert_eq!(a.code, b.code, "{opts}");
    assert_eq!(a.message, b.message, "{opts}");
  }
}
