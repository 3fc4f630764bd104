//! OpenCL crop equals the CPU crop exactly, for every dtype.
mod common;
use common::*;
use stackbridge_core::Element;

#[test]
fn crop_equals_cpu() {
  let Some(dev) = cl() else { return };
  let v = noise(3 * 17 * 23, 7, -1000.0, 1000.0);
  stackbridge_core::with_dtype!(stackbridge_core::DType::I16, T => {
    let (h, c) = pair::<T>(dev, [3, 17, 23], &v);
    assert_equivalent(dev, "crop", &h, &c, r#"{"startZ":1,"startY":2,"startX":3,"depth":2,"height":10,"width":19}"#, 0.0, 0.0);
  });
  for dt in dtypes() {
    stackbridge_core::with_dtype!(dt, T => {
      let (h, c) = pair::<T>(dev, [3, 17, 23], &v);
      assert_equivalent(dev, "crop", &h, &c, r#"{"startY":5,"width":23,"height":12,"depth":3}"#, 0.0, 0.0);
    });
  }
}

/// Values spanning (and for the integer dtypes slightly exceeding, then saturated by `stack_on`) the
/// range of `dt`.
fn values_for(dt: stackbridge_core::DType, n: usize, seed: u64) -> Vec<f64> {
  use stackbridge_core::DType::*;
  let (lo, hi) = match dt {
    U8 => (0.0, 256.0),
    U16 => (0.0, 65536.0),
    I16 => (-32768.0, 32768.0),
    I32 => (-2.0e9, 2.0e9),
    U32 => (0.0, 4.2e9),
    F32 | F64 => (-1.0e4, 1.0e4),
  };
  noise(n, seed, lo, hi)
}

/// A host array of `shape` and `dtype` from `v`.
fn host_array(shape: &[usize], dtype: stackbridge_core::DType, v: &[f64]) -> stackbridge_core::HostArray {
  let a = stackbridge_core::HostArray::alloc_on(stackbridge_core::Device::Host, shape.to_vec(), dtype, stackbridge_core::MemoryType::Numpy, false).unwrap();
  let p = a.pin().unwrap();
  stackbridge_core::with_dtype!(dtype, T => {
    for (o, x) in p.as_mut_slice::<T>().iter_mut().zip(v) {
      *o = T::from_f64(*x);
    }
  });
  a
}

#[test]
fn apply_mask_equals_cpu() {
  let Some(dev) = cl() else { return };
  for (si, &(z, h, w)) in [(1, 1, 1), (3, 17, 23), (2, 5, 1), (4, 8, 33)].iter().enumerate() {
    for dt in dtypes() {
      let v = values_for(dt, z * h * w, 11 + si as u64);
      stackbridge_core::with_dtype!(dt, T => {
        let (hst, c) = pair::<T>(dev, [z, h, w], &v);
        // Masks with fractions, negatives and values > 1 (products out of the integer range saturate),
        // as float32 and float64, 2D and 3D.
        for (mi, (shape, mdt)) in [
          (vec![h, w], stackbridge_core::DType::F32),
          (vec![z, h, w], stackbridge_core::DType::F32),
          (vec![h, w], stackbridge_core::DType::F64),
        ]
        .into_iter()
        .enumerate()
        {
          let mv = noise(shape.iter().product(), 99 + mi as u64, -1.5, 2.5);
          let mask = host_array(&shape, mdt, &mv);
          let cpu = stackbridge_kernels::dispatch::run_processor("applyMask", &hst, "{}", Some(&mask)).unwrap();
          let run = stackbridge_opencl::dispatch::run_processor("applyMask", &c, "{}", Some(&mask)).unwrap();
          assert_eq!(run.array.shape, cpu.shape);
          assert_eq!(run.array.dtype, cpu.dtype);
          assert_eq!(run.array.device(), dev.id());
          let (a, b) = (values(&cpu), values(&run.array));
          for (i, (x, y)) in a.iter().zip(&b).enumerate() {
            assert!(x == y || (x.is_nan() && y.is_nan()), "applyMask {dt:?} {:?} mask {shape:?}: element {i}: cpu {x} vs opencl {y}", [z, h, w]);
          }
        }
      });
    }
  }
  // A mask of the wrong shape is the CPU's DimensionError.
  let (_, c) = pair::<u16>(dev, [2, 3, 4], &[0.0; 24]);
  let bad = host_array(&[3, 5], stackbridge_core::DType::F32, &[1.0; 15]);
  let e = stackbridge_opencl::dispatch::run_processor("applyMask", &c, "{}", Some(&bad)).err().unwrap();
  assert_eq!(e.code, stackbridge_core::ErrorCode::Dimension);
}

#[test]
fn apply_mask_nan_and_inf_in_float_masks() {
  let Some(dev) = cl() else { return };
  let v = noise(2 * 3 * 4, 5, -300.0, 300.0);
  let mv: Vec<f64> = (0..12).map(|i| [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 0.5][i % 4]).collect();
  let mask = host_array(&[3, 4], stackbridge_core::DType::F32, &mv);
  for dt in dtypes() {
    stackbridge_core::with_dtype!(dt, T => {
      let (hst, c) = pair::<T>(dev, [2, 3, 4], &v);
      let cpu = stackbridge_kernels::dispatch::run_processor("applyMask", &hst, "{}", Some(&mask)).unwrap();
      let run = stackbridge_opencl::dispatch::run_processor("applyMask", &c, "{}", Some(&mask)).unwrap();
      let (a, b) = (values(&cpu), values(&run.array));
      for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        assert!(x == y || (x.is_nan() && y.is_nan()), "applyMask {dt:?}: element {i}: cpu {x} vs opencl {y}");
      }
    });
  }
}

#[test]
fn spatial_bin_equals_cpu() {
  let Some(dev) = cl() else { return };
  // Odd sizes (cropped to multiples of the bin), 1-pixel outputs, and bins above 8 and 128 (numpy's
  // pairwise summation of float rows: unrolled and split paths).
  let cases: &[([usize; 3], &[usize])] = &[
    ([1, 1, 1], &[1]),
    ([3, 17, 23], &[1, 2, 3, 5]),
    ([2, 9, 40], &[8, 9]),
    ([1, 20, 300], &[17, 20]),
    ([1, 140, 290], &[130, 140]),
  ];
  for (ci, (shape, bins)) in cases.iter().enumerate() {
    for dt in dtypes() {
      let v = values_for(dt, shape.iter().product(), 21 + ci as u64);
      stackbridge_core::with_dtype!(dt, T => {
        let (hst, c) = pair::<T>(dev, *shape, &v);
        for bin in bins.iter() {
          for method in ["mean", "sum", "max", "min"] {
            assert_equivalent(dev, "spatialBin2d", &hst, &c, &format!(r#"{{"binSize":{bin},"method":"{method}"}}"#), 0.0, 0.0);
          }
        }
      });
    }
  }
  // NaN propagation in float max / min / mean.
  let mut v = noise(2 * 6 * 6, 3, -5.0, 5.0);
  v[7] = f64::NAN;
  v[40] = f64::NAN;
  for dt in [stackbridge_core::DType::F32, stackbridge_core::DType::F64] {
    stackbridge_core::with_dtype!(dt, T => {
      let (hst, c) = pair::<T>(dev, [2, 6, 6], &v);
      for method in ["mean", "sum", "max", "min"] {
        assert_equivalent(dev, "spatialBin2d", &hst, &c, &format!(r#"{{"binSize":3,"method":"{method}"}}"#), 0.0, 0.0);
      }
    });
  }
}
