//! The device kernels of the set's rank filters and filters (proc::set::rank, proc::set::filters)
//! on OpenCL against the CPU: every dtype each one takes, odd and tiny shapes, borders, radius 0,
//! footprints larger than the image, NaN and ±inf for float inputs. `assert_set_equivalent` checks
//! that the operation ran on the device, not the host fallback. The kernels repeat the CPU's f64
//! arithmetic in its order, so every result is compared exactly (tolerance 0), floats included.
mod common;
use common::*;
use stackbridge_core::DType;

const EXACT: f64 = 0.0;

#[test]
fn median_filter_integer_dtypes_equal_cpu() {
  let opts = [
    r#"{"radius":0}"#,
    "{}",
    r#"{"radius":3}"#,
    r#"{"radius":2,"footprint":"square"}"#,
    // 625 samples: the radix selection rather than the private-memory one.
    r#"{"radius":12,"footprint":"square"}"#,
    r#"{"radius":14}"#,
    r#"{"radius":-1}"#,
    r#"{"radius":2,"footprint":"ring"}"#,
  ];
  sweep("medianFilter", &opts, |d| !d.is_float(), EXACT);
}

#[test]
fn median_filter_of_floats_stays_on_the_host() {
  for dt in [DType::F32, DType::F64] {
    assert!(stackbridge_gpu::proc::set::lookup::<stackbridge_opencl::gpu::Ctx>("medianFilter", dt).is_none());
  }
}

#[test]
fn mean_filter_equals_cpu() {
  let opts = [
    r#"{"radius":0}"#,
    "{}",
    r#"{"radius":3}"#,
    r#"{"radius":0,"footprint":"square"}"#,
    r#"{"radius":2,"footprint":"square"}"#,
    // Footprints wider than the image: the reflect border is periodic.
    r#"{"radius":20,"footprint":"square"}"#,
    r#"{"radius":20}"#,
    r#"{"radius":1.5}"#,
  ];
  sweep("meanFilter", &opts, |_| true, EXACT);
}

#[test]
fn sobel_and_laplace_equal_cpu() {
  sweep("sobel", &["{}", r#"{"radius":1}"#], |_| true, EXACT);
  sweep("laplace", &["{}"], |_| true, EXACT);
}

#[test]
fn clip_equals_cpu() {
  let opts = [r#"{"min":-5.5,"max":100.7}"#, r#"{"max":1e12}"#, r#"{"min":3}"#, r#"{"min":-1e12,"max":-1e11}"#, "{}", r#"{"min":5,"max":4}"#];
  sweep("clip", &opts, |_| true, EXACT);
}

#[test]
fn gaussian_differences_equal_cpu() {
  sweep("differenceOfGaussian", &["{}", r#"{"sigma1":0,"sigma2":1.5}"#, r#"{"sigma1":-1}"#], |_| true, EXACT);
  sweep("subtractGaussianBackground", &[r#"{"sigma":2}"#, r#"{"sigma":0}"#, "{}", r#"{"typo":1}"#], |_| true, EXACT);
}

/// Float stacks with NaN, +inf and −inf scattered in (and an all-NaN row) through every float kernel.
#[test]
fn float_specials_equal_cpu() {
  let Some(dev) = cl() else { return };
  let cases: &[(&str, &[&str])] = &[
    ("meanFilter", &["{}", r#"{"radius":2}"#, r#"{"radius":2,"footprint":"square"}"#, r#"{"radius":7,"footprint":"square"}"#]),
    ("sobel", &["{}"]),
    ("laplace", &["{}"]),
    ("clip", &[r#"{"min":-5,"max":5}"#, r#"{"max":0}"#]),
    ("differenceOfGaussian", &["{}"]),
    ("subtractGaussianBackground", &[r#"{"sigma":1.5}"#]),
  ];
  for shape in [[1, 1, 1], [1, 7, 9], [2, 17, 23]] {
    let n: usize = shape.iter().product();
    let mut v = noise(n, 11, -1000.0, 1000.0);
    for (i, x) in v.iter_mut().enumerate() {
      match i % 37 {
        3 => *x = f64::NAN,
        11 => *x = f64::INFINITY,
        29 => *x = f64::NEG_INFINITY,
        _ => {}
      }
    }
    if shape[1] > 3 {
      for x in &mut v[shape[2] * 2..shape[2] * 3] {
        *x = f64::NAN;
      }
    }
    for dt in [DType::F32, DType::F64] {
      stackbridge_core::with_dtype!(dt, T => {
        let (h, c) = pair::<T>(dev, shape, &v);
        for (name, opts) in cases {
          for o in *opts {
            assert_set_equivalent(name, &h, &c, &[], o, EXACT);
          }
        }
      });
    }
  }
}

/// Every (program, defines) the set kernels build is in the list the NVRTC check compiles.
#[test]
fn set_filter_programs_are_nvrtc_variants() {
  let v = stackbridge_gpu_kernels::variants();
  for dt in DType::ALL {
    let t = stackbridge_gpu::kernel_type(dt);
    let d = stackbridge_gpu_kernels::type_defines("T_IN", t, dt.is_float());
    assert!(v.iter().any(|(p, x)| *p == "set_filters" && *x == d), "set_filters [{d}]");
    assert!(v.iter().any(|(p, x)| *p == "filters" && *x == format!("{d} -D W=float")), "filters [{d}]");
  }
}
