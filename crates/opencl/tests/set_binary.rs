//! The set's binary morphology, label operations and distance transform on OpenCL against the
//! CPU (stackbridge_kernels::set::{binary, labels, measure}): each must run on the device (no host
//! fallback) and equal the CPU exactly — masks from thresholded noise, label images of touching
//! blocks and of connected components, borders, single pixels, empty and full masks, every dtype.
mod common;
use common::*;
use stackbridge_core::{with_dtype, Cancel, DType};

const MORPH: [&str; 4] = ["binaryDilation", "binaryErosion", "binaryOpening", "binaryClosing"];
const MORPH_OPTIONS: [&str; 7] = [
  "{}",
  r#"{"radius":0}"#,
  r#"{"radius":2}"#,
  r#"{"radius":3,"footprint":"square"}"#,
  r#"{"radius":1,"footprint":"square"}"#,
  r#"{"radius":5}"#,
  r#"{"radius":40}"#,
];
const BAD_MORPH_OPTIONS: [&str; 4] = [r#"{"radius":-1}"#, r#"{"radius":1.5}"#, r#"{"footprint":"diamond"}"#, r#"{"minSize":3}"#];

/// Shapes: the set's odd and tiny ones, empty stacks, single rows and columns, a larger plane.
const SHAPES: [[usize; 3]; 11] = [[1, 1, 1], [1, 3, 5], [2, 5, 3], [1, 9, 1], [1, 1, 12], [2, 17, 23], [3, 40, 33], [0, 4, 4], [2, 0, 3], [1, 2, 2], [1, 64, 57]];

/// Mask-like stacks of `shape`: thresholded noise (about `1 - keep` zeros) with values from the
/// dtype's range, and the special planes: all zero, all nonzero, one pixel, the border only.
fn masks(shape: [usize; 3], seed: u64, dt: DType) -> Vec<Vec<f64>> {
  let n: usize = shape.iter().product();
  let (h, w) = (shape[1], shape[2]);
  let (lo, hi) = set_range(dt);
  let vals = noise(n, seed + 100, lo, hi);
  let nonzero = |i: usize| if vals[i] == 0.0 { 1.0 } else { vals[i] };
  let mut out = Vec::new();
  for keep in [0.5, 0.85, 0.1] {
    let u = noise(n, seed + (keep * 1000.0) as u64, 0.0, 1.0);
    out.push((0..n).map(|i| if u[i] < keep { nonzero(i) } else { 0.0 }).collect());
  }
  out.push(vec![0.0; n]);
  out.push((0..n).map(nonzero).collect());
  let mut one = vec![0.0; n];
  if n > 0 {
    one[n / 2] = nonzero(n / 2);
  }
  out.push(one);
  out.push((0..n).map(|i| { let (y, x) = ((i / w.max(1)) % h.max(1), i % w.max(1)); if y == 0 || x == 0 || y + 1 == h || x + 1 == w { nonzero(i) } else { 0.0 } }).collect());
  // Full but for one zero pixel.
  let mut hole: Vec<f64> = (0..n).map(nonzero).collect();
  if n > 0 {
    hole[n / 3] = 0.0;
  }
  out.push(hole);
  out
}

fn check_all(name: &str, values: &[f64], shape: [usize; 3], dt: DType, options: &[&str], tol: f64) {
  let Some(dev) = cl() else { return };
  with_dtype!(dt, T => {
    let (h, c) = pair::<T>(dev, shape, values);
    for o in options {
      assert_set_equivalent(name, &h, &c, &[], o, tol);
    }
  });
}

#[test]
fn binary_morphology_equals_cpu() {
  if cl().is_none() {
    return;
  }
  for (si, shape) in SHAPES.iter().enumerate() {
    for dt in DType::ALL {
      for v in masks(*shape, si as u64, dt) {
        for name in MORPH {
          check_all(name, &v, *shape, dt, &MORPH_OPTIONS, 0.0);
        }
      }
    }
  }
  for name in MORPH {
    check_all(name, &noise(2 * 5 * 3, 3, -1.0, 1.0), [2, 5, 3], DType::U8, &BAD_MORPH_OPTIONS, 0.0);
  }
}

#[test]
fn binary_morphology_nan_and_negative_zero() {
  let Some(dev) = cl() else { return };
  let shape = [1, 6, 7];
  let mut v: Vec<f64> = noise(42, 5, -1.0, 1.0).into_iter().map(|x| if x < 0.0 { 0.0 } else { x }).collect();
  v[3] = f64::NAN;
  v[20] = -0.0;
  v[41] = f64::NAN;
  for dt in [DType::F32, DType::F64] {
    with_dtype!(dt, T => {
      let (h, c) = pair::<T>(dev, shape, &v);
      for name in MORPH.iter().chain(&["distanceTransform"]) {
        for o in if *name == "distanceTransform" { &["{}"][..] } else { &MORPH_OPTIONS[..] } {
          assert_set_equivalent(name, &h, &c, &[], o, 0.0);
        }
      }
    });
  }
}

#[test]
fn distance_transform_equals_cpu() {
  let Some(dev) = cl() else { return };
  let tol = if dev.fp64 { 0.0 } else { 1e-6 };
  for (si, shape) in SHAPES.iter().enumerate() {
    for dt in DType::ALL {
      for v in masks(*shape, 50 + si as u64, dt) {
        check_all("distanceTransform", &v, *shape, dt, &["{}"], tol);
      }
    }
  }
  // Larger planes with sparse background (long runs, far features), and the option check.
  for keep in [0.97, 0.999] {
    let shape = [2, 130, 97];
    let u = noise(shape.iter().product(), 9, 0.0, 1.0);
    let v: Vec<f64> = u.iter().map(|&x| if x < keep { 1.0 } else { 0.0 }).collect();
    check_all("distanceTransform", &v, shape, DType::U8, &["{}", r#"{"a":1}"#], tol);
  }
}

/// Label values that fit `dt` (non-negative, below 2^31).
fn label_max(dt: DType) -> f64 {
  match dt {
    DType::U8 => 255.0,
    DType::U16 => 65535.0,
    DType::I16 => 32767.0,
    _ => 2147483647.0,
  }
}

/// Label images of `shape`: overlapping random blocks (touching labels), the connected components
/// of thresholded noise (CPU `connectedComponentsLabeling`, folded into the dtype's range), a
/// single labelled pixel, all background, one label everywhere.
fn label_images(shape: [usize; 3], seed: u64, dt: DType) -> Vec<Vec<f64>> {
  let n: usize = shape.iter().product();
  let (z, h, w) = (shape[0], shape[1], shape[2]);
  let top = label_max(dt);
  let mut out = Vec::new();
  let r = noise(64 * z.max(1), seed + 1, 0.0, 1.0);
  let mut blocks = vec![0.0; n];
  for zz in 0..z {
    for b in 0..8 {
      let q = &r[(zz * 8 + b) * 8 % r.len()..];
      let q = |i: usize| q.get(i).copied().unwrap_or(0.5);
      let (y0, x0) = ((q(0) * h as f64) as usize, (q(1) * w as f64) as usize);
      let (bh, bw) = (1 + (q(2) * h as f64 / 2.0) as usize, 1 + (q(3) * w as f64 / 2.0) as usize);
      let label = if b % 3 == 2 { top - b as f64 } else { 1.0 + b as f64 };
      for y in y0..(y0 + bh).min(h) {
        for x in x0..(x0 + bw).min(w) {
          blocks[(zz * h + y) * w + x] = label;
        }
      }
    }
  }
  out.push(blocks);
  if n > 0 {
    let u = noise(n, seed + 2, 0.0, 1.0);
    let m: Vec<f64> = u.iter().map(|&x| (x < 0.6) as u8 as f64).collect();
    let mask = stack_on::<u8>(stackbridge_core::Device::Host, shape, &m);
    let lab = stackbridge_kernels::dispatch::run_named("connectedComponentsLabeling", &mask, r#"{"connectivity":1}"#, &[], &Cancel::none()).unwrap();
    let lv = values(&lab.array.unwrap());
    out.push(lv.iter().map(|&l| if l == 0.0 { 0.0 } else { 1.0 + (l * 7919.0) % top.min(1e6) }).collect());
  } else {
    out.push(vec![]);
  }
  let mut one = vec![0.0; n];
  if n > 0 {
    one[n / 2] = top;
  }
  out.push(one);
  out.push(vec![0.0; n]);
  out.push(vec![3.0; n]);
  out
}

const LABEL_OPS: [(&str, &[&str]); 3] = [
  ("labelBoundaries", &["{}"]),
  ("erodeLabels", &["{}", r#"{"radius":0}"#, r#"{"radius":2}"#, r#"{"radius":7}"#]),
  ("dilateLabels", &["{}", r#"{"radius":0}"#, r#"{"radius":0.5}"#, r#"{"radius":1.5}"#, r#"{"radius":2.236068}"#, r#"{"radius":4}"#, r#"{"radius":1000}"#]),
];

#[test]
fn label_operations_equal_cpu() {
  if cl().is_none() {
    return;
  }
  for (si, shape) in SHAPES.iter().enumerate() {
    for dt in DType::ALL.into_iter().filter(|d| !d.is_float()) {
      for v in label_images(*shape, si as u64, dt) {
        for (name, options) in LABEL_OPS {
          check_all(name, &v, *shape, dt, options, 0.0);
        }
      }
    }
  }
}

#[test]
fn label_operations_refuse_what_the_cpu_refuses() {
  let Some(dev) = cl() else { return };
  let shape = [2, 5, 6];
  let n = 60;
  let mut neg = vec![1.0; n];
  neg[37] = -4.0;
  let mut wide = vec![1.0; n];
  wide[11] = 3.0e9;
  for (name, _) in LABEL_OPS {
    check_all(name, &neg, shape, DType::I16, &["{}"], 0.0);
    check_all(name, &neg, shape, DType::I32, &["{}"], 0.0);
    check_all(name, &wide, shape, DType::U32, &["{}"], 0.0);
    check_all(name, &neg, shape, DType::I32, &[r#"{"radius":-1}"#, r#"{"radius":1.5}"#, r#"{"x":1}"#], 0.0);
    // Float label stacks are refused by the host path with the CPU's DtypeError.
    let f = pair::<f32>(dev, shape, &neg);
    let r = set_run(name, &f.0, &f.1, &[], "{}");
    let (a, b) = r.err().expect("float labels are refused");
    assert_eq!(a.code, b.code);
  }
}
