//! OpenCL stackPercentileNormalize / percentileNormalize / stackEqualizeHistogram equal the CPU
//! processors exactly, for every dtype: the histograms are counted on the device but turned into
//! percentiles, cdfs and lookup tables by the CPU's own code, and the per-element formulas run in
//! double precision in the CPU's operation order.
mod common;
use common::*;
use stackbridge_core::DType;

/// Values spanning (integers: slightly exceeding, saturated by `stack_on`) a range typical of `dt`.
fn values_for(dt: DType, n: usize, seed: u64) -> Vec<f64> {
  let (lo, hi) = match dt {
    DType::U8 => (0.0, 256.0),
    DType::U16 => (0.0, 4096.0),
    DType::I16 => (-32768.0, 32768.0),
    DType::I32 => (-2.1e9, 2.1e9),
    DType::U32 => (0.0, 4.29e9),
    DType::F32 | DType::F64 => (-1.0e4, 5.0e4),
  };
  noise(n, seed, lo, hi)
}

const SHAPES: [[usize; 3]; 6] = [[1, 1, 1], [1, 5, 7], [3, 17, 23], [2, 1, 9], [5, 12, 3], [2, 64, 65]];

const NORMALIZE_OPTIONS: [&str; 7] = [
  "{}",
  r#"{"lowPercentile":0,"highPercentile":100}"#,
  r#"{"lowPercentile":2.5,"highPercentile":97.5,"targetMin":10,"targetMax":1000}"#,
  r#"{"lowPercentile":30,"highPercentile":70,"targetMin":100.7,"targetMax":255.3}"#,
  r#"{"lowPercentile":100,"highPercentile":0,"targetMax":500}"#,
  r#"{"targetMin":-50,"targetMax":70000}"#,
  r#"{"lowPercentile":50,"highPercentile":50}"#,
];

#[test]
fn normalize_equals_cpu() {
  let Some(dev) = cl() else { return };
  for (si, shape) in SHAPES.iter().enumerate() {
    for dt in dtypes() {
      let v = values_for(dt, shape.iter().product(), 3 + si as u64);
      stackbridge_core::with_dtype!(dt, T => {
        let (h, c) = pair::<T>(dev, *shape, &v);
        for name in ["stackPercentileNormalize", "percentileNormalize"] {
          for opts in NORMALIZE_OPTIONS {
            assert_equivalent(dev, name, &h, &c, opts, 0.0, 0.0);
          }
        }
      });
    }
  }
}

#[test]
fn normalize_full_range_and_ties() {
  let Some(dev) = cl() else { return };
  // Every u16 / i16 value range (the 65536-entry tables) and few distinct values (ties at the ranks).
  for (seed, lo, hi) in [(1u64, 0.0, 65536.0), (2, -32768.0, 32768.0), (3, 0.0, 3.0)] {
    let shape = [3, 40, 50];
    let v: Vec<f64> = noise(6000, seed, lo, hi).iter().map(|x| x.floor()).collect();
    for dt in dtypes() {
      stackbridge_core::with_dtype!(dt, T => {
        let (h, c) = pair::<T>(dev, shape, &v);
        for name in ["stackPercentileNormalize", "percentileNormalize"] {
          for opts in ["{}", r#"{"lowPercentile":0.1,"highPercentile":99.9,"targetMax":255}"#] {
            assert_equivalent(dev, name, &h, &c, opts, 0.0, 0.0);
          }
        }
      });
    }
  }
}

#[test]
fn normalize_constant_stack_gives_target_min() {
  let Some(dev) = cl() else { return };
  for dt in dtypes() {
    stackbridge_core::with_dtype!(dt, T => {
      let (h, c) = pair::<T>(dev, [3, 4, 5], &[7.0; 60]);
      for name in ["stackPercentileNormalize", "percentileNormalize"] {
        for opts in ["{}", r#"{"targetMin":123.9,"targetMax":500}"#, r#"{"targetMin":-5}"#, r#"{"targetMin":70000}"#] {
          assert_equivalent(dev, name, &h, &c, opts, 0.0, 0.0);
        }
        let run = stackbridge_opencl::dispatch::run_processor(name, &c, r#"{"targetMin":123.9}"#, None).unwrap();
        assert!(values(&run.array).iter().all(|&x| x == 123.0), "{name} {dt:?}");
      }
    });
  }
  // One constant slice among varying ones (per slice: that slice alone is targetMin).
  let mut v = noise(3 * 6 * 6, 5, 0.0, 1000.0);
  v[36..72].fill(42.0);
  for dt in dtypes() {
    stackbridge_core::with_dtype!(dt, T => {
      let (h, c) = pair::<T>(dev, [3, 6, 6], &v);
      assert_equivalent(dev, "percentileNormalize", &h, &c, r#"{"targetMin":9}"#, 0.0, 0.0);
    });
  }
}

#[test]
fn normalize_many_slices_take_several_passes() {
  let Some(dev) = cl() else { return };
  // 300 uint16 slices: more than the 256 per-slice 65536-entry tables one device pass holds.
  let shape = [300, 3, 4];
  let v = noise(3600, 17, 0.0, 65536.0);
  let (h, c) = pair::<u16>(dev, shape, &v);
  assert_equivalent(dev, "percentileNormalize", &h, &c, r#"{"lowPercentile":10,"highPercentile":90}"#, 0.0, 0.0);
  let (h, c) = pair::<i16>(dev, shape, &v);
  assert_equivalent(dev, "percentileNormalize", &h, &c, "{}", 0.0, 0.0);
}

#[test]
fn normalize_nan_float_stack() {
  let Some(dev) = cl() else { return };
  let mut v = noise(2 * 4 * 4, 8, 0.0, 100.0);
  v[3] = f64::NAN;
  for dt in [DType::F32, DType::F64] {
    stackbridge_core::with_dtype!(dt, T => {
      let (h, c) = pair::<T>(dev, [2, 4, 4], &v);
      for name in ["stackPercentileNormalize", "percentileNormalize"] {
        assert_equivalent(dev, name, &h, &c, "{}", 0.0, 0.0);
      }
    });
  }
}

#[test]
fn normalize_errors_match_cpu() {
  let Some(dev) = cl() else { return };
  let (h, c) = pair::<u16>(dev, [1, 2, 2], &[1.0; 4]);
  for opts in [r#"{"lowPercentile":-1}"#, r#"{"highPercentile":101}"#] {
    let a = stackbridge_kernels::dispatch::run_processor("stackPercentileNormalize", &h, opts, None).err().unwrap();
    let b = stackbridge_opencl::dispatch::run_processor("stackPercentileNormalize", &c, opts, None).err().unwrap();
    assert_eq!(a.code, b.code, "{opts}");
  }
}

const EQUALIZE_OPTIONS: [&str; 7] = [
  "{}",
  r#"{"bins":256}"#,
  r#"{"bins":100,"rangeMin":10,"rangeMax":4000}"#,
  r#"{"bins":7,"rangeMin":-100,"rangeMax":200.5}"#,
  r#"{"bins":1,"rangeMin":0,"rangeMax":10}"#,
  r#"{"bins":3000,"rangeMin":0,"rangeMax":255}"#,
  r#"{"bins":1000,"rangeMin":-20000,"rangeMax":60000}"#,
];

#[test]
fn equalize_equals_cpu() {
  let Some(dev) = cl() else { return };
  for (si, shape) in SHAPES.iter().enumerate() {
    for dt in dtypes() {
      let v = values_for(dt, shape.iter().product(), 13 + si as u64);
      stackbridge_core::with_dtype!(dt, T => {
        let (h, c) = pair::<T>(dev, *shape, &v);
        for opts in EQUALIZE_OPTIONS {
          assert_equivalent(dev, "stackEqualizeHistogram", &h, &c, opts, 0.0, 0.0);
        }
      });
    }
  }
}

#[test]
fn equalize_values_on_edges_and_outside_the_range() {
  let Some(dev) = cl() else { return };
  // Integer-valued data hits bin edges exactly (numpy's +-1 corrections), plus values below / above
  // the range (not counted; interp clamps), and float32's rounded edges.
  let v: Vec<f64> = noise(4 * 9 * 10, 23, -30.0, 300.0).iter().map(|x| x.floor()).collect();
  for dt in dtypes() {
    stackbridge_core::with_dtype!(dt, T => {
      let (h, c) = pair::<T>(dev, [4, 9, 10], &v);
      for opts in [r#"{"bins":10,"rangeMin":0,"rangeMax":200}"#, r#"{"bins":33,"rangeMin":0.1,"rangeMax":255.7}"#, r#"{"bins":4,"rangeMin":1000,"rangeMax":2000}"#] {
        assert_equivalent(dev, "stackEqualizeHistogram", &h, &c, opts, 0.0, 0.0);
      }
    });
  }
  // NaN in a float stack: not counted, mapped to NaN.
  let mut f = noise(2 * 3 * 3, 4, 0.0, 60000.0);
  f[4] = f64::NAN;
  for dt in [DType::F32, DType::F64] {
    stackbridge_core::with_dtype!(dt, T => {
      let (h, c) = pair::<T>(dev, [2, 3, 3], &f);
      assert_equivalent(dev, "stackEqualizeHistogram", &h, &c, r#"{"bins":64}"#, 0.0, 0.0);
    });
  }
}

#[test]
fn equalize_errors_match_cpu() {
  let Some(dev) = cl() else { return };
  let (h, c) = pair::<f32>(dev, [1, 2, 2], &[1.0; 4]);
  for opts in [r#"{"bins":0}"#, r#"{"rangeMin":5,"rangeMax":5}"#, r#"{"bins":1048576,"rangeMin":1,"rangeMax":1.000000000001}"#] {
    let a = stackbridge_kernels::dispatch::run_processor("stackEqualizeHistogram", &h, opts, None).err().unwrap();
    let b = stackbridge_opencl::dispatch::run_processor("stackEqualizeHistogram", &c, opts, None).err().unwrap();
    assert_eq!(a.code, b.code, "{opts}");
    assert_eq!(a.message, b.message, "{opts}");
  }
}
