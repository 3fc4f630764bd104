//! The geometry group of the processor set (DESIGN §12) on OpenCL: every option at orders 0 and 1
//! runs device kernels and equals the CPU (integers exactly, floats within 1e-6 relative: the
//! kernels repeat the CPU's operations, so in practice they agree bit for bit).
mod common;
use common::*;

const TOL: f64 = 1e-6;

fn all(_: stackbridge_core::DType) -> bool {
  true
}

#[test]
fn resize_every_option() {
  sweep(
    "resize",
    &[
      r#"{"shape": [3, 4]}"#,
      r#"{"shape": [7, 2], "order": 0}"#,
      r#"{"shape": [1, 1]}"#,
      r#"{"shape": [11, 13], "antiAliasing": false}"#,
      r#"{"shape": [20, 9], "antiAliasing": true}"#,
      r#"{"shape": [40, 50]}"#,
      r#"{"shape": [5, 31], "order": 0}"#,
      r#"{"shape": [0, 2]}"#,
    ],
    all,
    TOL,
  );
  // Order 0 with anti-aliasing (float input only; integers are refused the same way on both).
  sweep("resize", &[r#"{"shape": [4, 6], "order": 0, "antiAliasing": true}"#, r#"{"shape": [13, 3], "order": 0, "antiAliasing": true}"#], all, TOL);
}

#[test]
fn rescale_every_option() {
  sweep(
    "rescale",
    &[
      r#"{"factor": 0.5}"#,
      r#"{"factor": 2}"#,
      r#"{"factor": [0.37, 1.6]}"#,
      r#"{"factor": 0.37, "order": 0}"#,
      r#"{"factor": 0.3, "antiAliasing": false}"#,
      r#"{"factor": 0.01}"#,
      r#"{"factor": 0}"#,
    ],
    all,
    TOL,
  );
}

#[test]
fn rotate_every_option() {
  sweep(
    "rotate",
    &[
      r#"{"angle": 30}"#,
      r#"{"angle": 30, "order": 0}"#,
      r#"{"angle": 90}"#,
      r#"{"angle": 180, "order": 0}"#,
      r#"{"angle": -90}"#,
      r#"{"angle": 270, "resize": true}"#,
      r#"{"angle": 0}"#,
      r#"{"angle": 123.4, "resize": true}"#,
      r#"{"angle": 30, "order": 0, "resize": true}"#,
      r#"{"angle": -17.3, "cval": -2.5}"#,
      r#"{"angle": 45, "cval": 1000.5, "order": 0}"#,
      r#"{"angle": 45, "cval": 1e12}"#,
    ],
    all,
    TOL,
  );
}

#[test]
fn translate_every_option() {
  sweep(
    "translate",
    &[
      r#"{"shift": [1.3, -2.7]}"#,
      r#"{"shift": [-3.5, 2.5], "order": 0}"#,
      r#"{"shift": [4, -6], "cval": 7.5}"#,
      r#"{"shift": [0.25, 0]}"#,
      r#"{"shift": [40, 0.5]}"#,
      r#"{"shift": [0.5, 0.5], "order": 0, "cval": -3}"#,
      r#"{"shift": [1]}"#,
    ],
    all,
    TOL,
  );
}

#[test]
fn affine_transform_every_option() {
  sweep(
    "affineTransform",
    &[
      r#"{"matrix": [1.0, 0.3, -2.0, 0.1, 0.9, 1.5]}"#,
      r#"{"matrix": [0.8, -0.2, 3.0, 0.25, 1.1, -1.0, 0, 0, 1], "outputShape": [30, 20]}"#,
      r#"{"matrix": [1.0, 0.3, -2.0, 0.1, 0.9, 1.5], "order": 0, "cval": -50}"#,
      r#"{"matrix": [0.5, 0.5, 1.0, 0.5, 0.5, 2.0]}"#,
      r#"{"matrix": [-1, 0, 5, 0, -1, 6], "outputShape": [2, 3]}"#,
      r#"{"matrix": [1, 0, 0, 0, 1]}"#,
    ],
    all,
    TOL,
  );
}

/// NaN and infinities in float stacks spread as on the CPU.
#[test]
fn nan_and_inf() {
  let Some(dev) = cl() else { return };
  for dt in [stackbridge_core::DType::F32, stackbridge_core::DType::F64] {
    let mut v = noise(2 * 17 * 23, 3, -10.0, 10.0);
    v[5] = f64::NAN;
    v[400] = f64::INFINITY;
    v[17 * 23 + 40] = f64::NAN;
    stackbridge_core::with_dtype!(dt, T => {
      let (h, c) = pair::<T>(dev, [2, 17, 23], &v);
      for (name, o) in [
        ("resize", r#"{"shape": [8, 9]}"#),
        ("resize", r#"{"shape": [30, 40], "order": 0}"#),
        ("rotate", r#"{"angle": 30}"#),
        ("rotate", r#"{"angle": 30, "order": 0, "cval": 1e9}"#),
        ("translate", r#"{"shift": [0.5, 0.25]}"#),
        ("affineTransform", r#"{"matrix": [1.0, 0.3, -2.0, 0.1, 0.9, 1.5], "order": 0}"#),
      ] {
        assert_set_equivalent(name, &h, &c, &[], o, TOL);
      }
    });
  }
}

/// Order 3 has no device kernel: it takes the host path, recorded as such, and equals the CPU.
#[test]
fn order3_equals_the_cpu() {
  let Some(dev) = cl() else { return };
  let v = noise(2 * 17 * 23, 5, 0.0, 60000.0);
  let (h, c) = pair::<u16>(dev, [2, 17, 23], &v);
  for (name, o) in [
    ("resize", r#"{"shape": [8, 9], "order": 3}"#),
    ("rotate", r#"{"angle": 30, "order": 3}"#),
    ("translate", r#"{"shift": [0.5, 0.25], "order": 3}"#),
    ("affineTransform", r#"{"matrix": [1.0, 0.3, -2.0, 0.1, 0.9, 1.5], "order": 3}"#),
  ] {
    let r = set_run(name, &h, &c, &[], o).unwrap();
    assert!(r.on_host, "{name} {o}: order 3 is reported as a host run");
    assert_eq!(values(r.cpu.as_ref().unwrap()), values(r.cl.as_ref().unwrap()), "{name} {o}");
  }
}
