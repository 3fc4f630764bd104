//! OpenCL countCellsSingleChannel equals the CPU's: same JSON results (counts, positions, areas,
//! intensities, confidences, parameters) and the same masks, for every detection method.
//!
//! Tolerance: none. The scale-space kernels repeat the CPU's f32 arithmetic operation for operation
//! (bit-identical cubes), scaling uses the CPU's formula (a host table for 8/16-bit inputs, fp64
//! otherwise), preprocessing is the filters module's bit-exact float32 blocks, and the rest runs
//! the CPU's own host code; so the JSON strings are compared for equality.
mod common;
use common::*;
use stackbridge_core::{DType, HostArray};

/// `z` slices of `h × w`: Gaussian spots (centre, sigma, amplitude as a fraction of `peak`) on a
/// background of `bg` plus noise of amplitude `nz` (all in the dtype's units).
fn spots(z: usize, h: usize, w: usize, peak: f64, bg: f64, nz: f64, seed: u64) -> Vec<f64> {
  let noise = noise(z * h * w, seed, -nz, nz);
  let list: Vec<(f64, f64, f64, f64)> = vec![
    (20.0, 25.0, 2.0, 0.9),
    (40.0, 100.0, 3.0, 0.7),
    (90.0, 40.0, 4.0, 0.8),
    (100.0, 130.0, 2.5, 0.6),
    (64.0, 70.0, 5.0, 0.5),
    (30.0, 140.0, 1.5, 1.0),
    (110.0, 90.0, 3.5, 0.75),
    (70.0, 12.0, 2.0, 0.85),
  ];
  let mut v = vec![0.0; z * h * w];
  for zz in 0..z {
    for y in 0..h {
      for x in 0..w {
        let (yf, xf) = (y as f64 + 3.0 * zz as f64, x as f64 - 2.0 * zz as f64);
        let s: f64 = list.iter().map(|&(cy, cx, sg, a)| a * peak * (-((yf - cy).powi(2) + (xf - cx).powi(2)) / (2.0 * sg * sg)).exp()).sum();
        let i = (zz * h + y) * w + x;
        v[i] = bg + s + noise[i];
      }
    }
  }
  v
}

/// Runs both and asserts identical results (or the same error).
fn check(dev: &stackbridge_opencl::ClDevice, dtype: DType, shape: [usize; 3], values: &[f64], options: &str) -> usize {
  stackbridge_core::with_dtype!(dtype, T => {
    let (host, on_cl) = pair::<T>(dev, shape, values);
    compare(&host, &on_cl, options)
  })
}

fn compare(host: &HostArray, on_cl: &HostArray, options: &str) -> usize {
  let what = format!("{:?} {:?} {options}", host.dtype, host.shape);
  let cpu = stackbridge_kernels::dispatch::run_count_cells(host, options);
  let ocl = stackbridge_opencl::dispatch::run_count_cells(on_cl, options);
  let (cj, cm) = match cpu {
    Err(e) => {
      let o = ocl.err().unwrap_or_else(|| panic!("{what}: the CPU fails ({e:?}) but OpenCL does not"));
      assert_eq!(o.code, e.code, "{what}: {o:?} vs {e:?}");
      return 0;
    }
    Ok(r) => r,
  };
  let (oj, om, _queue) = ocl.unwrap_or_else(|e| panic!("{what}: OpenCL failed: {e:?}"));
  if cj != oj {
    let (a, b): (serde_json::Value, serde_json::Value) = (serde_json::from_str(&cj).unwrap(), serde_json::from_str(&oj).unwrap());
    for (s, (x, y)) in a.as_array().unwrap().iter().zip(b.as_array().unwrap()).enumerate() {
      for key in ["cellCount", "positions", "areas", "intensities", "confidences"] {
        assert_eq!(x[key], y[key], "{what}: slice {s} {key}");
      }
    }
    assert_eq!(cj, oj, "{what}");
  }
  match (cm, om) {
    (None, None) => {}
    (Some(c), Some(o)) => {
      assert_eq!(o.shape, c.shape, "{what}: mask shape");
      assert_eq!(o.dtype, DType::I32);
      assert_eq!(values(&o), values(&c), "{what}: masks");
    }
    (c, o) => panic!("{what}: mask presence differs (cpu {}, opencl {})", c.is_some(), o.is_some()),
  }
  let v: serde_json::Value = serde_json::from_str(&cj).unwrap();
  let n = v.as_array().unwrap().iter().map(|s| s["cellCount"].as_u64().unwrap() as usize).sum();
  n
}

const METHODS: [&str; 4] = ["blob_log", "blob_dog", "watershed", "threshold"];

/// Options of `method` (threshold: 0.3 of the maximum, so noise does not form regions).
fn opts(method: &str, pre: bool, extra: &str) -> String {
  let t = if method == "threshold" { r#","threshold":0.3"# } else { "" };
  format!(r#"{{"detectionMethod":"{method}","enablePreprocessing":{pre},"returnSegmentationMask":true{t}{extra}}}"#)
}

#[test]
fn synthetic_spots_every_method() {
  let Some(dev) = cl() else { return };
  let shape = [2, 128, 160];
  let u16v = spots(2, 128, 160, 30000.0, 3000.0, 800.0, 11);
  let f32v = spots(2, 128, 160, 0.6, 0.05, 0.02, 12);
  for method in METHODS {
    for pre in [false, true] {
      let o = opts(method, pre, "");
      let a = check(dev, DType::U16, shape, &u16v, &o);
      let b = check(dev, DType::F32, shape, &f32v, &o);
      assert!(a > 0 && b > 0, "{o}: no cells found (uint16 {a}, float32 {b}): the test would prove little");
    }
  }
}

#[test]
fn blob_methods_every_dtype_and_parameters() {
  let Some(dev) = cl() else { return };
  let shape = [2, 128, 160];
  for dt in dtypes() {
    let scale = match dt {
      DType::U8 => 255.0,
      DType::U16 => 65535.0,
      DType::I16 => 32767.0,
      DType::I32 => 2147483647.0,
      DType::U32 => 4294967295.0,
      _ => 1.0,
    };
    let v = spots(2, 128, 160, 0.5 * scale, 0.05 * scale, 0.02 * scale, 3);
    for method in ["blob_log", "blob_dog"] {
      let o = opts(method, false, "");
      assert!(check(dev, dt, shape, &v, &o) > 0, "{dt:?} {o}");
    }
  }
  let v = spots(2, 128, 160, 30000.0, 3000.0, 800.0, 5);
  for extra in [
    r#","minSigma":0.5,"maxSigma":6,"numSigma":12,"threshold":0.05,"overlap":0.3"#,
    r#","minSigma":2,"maxSigma":2,"numSigma":1"#,
    r#","minSigma":1.5,"maxSigma":20,"numSigma":4,"overlap":0.9,"minCellArea":0,"maxCellArea":100000"#,
    r#","threshold":0.01,"overlap":0,"minCellArea":0"#,
  ] {
    for method in ["blob_log", "blob_dog"] {
      check(dev, DType::U16, shape, &v, &opts(method, false, extra));
    }
  }
}

#[test]
fn peak_rule_edge_cases() {
  let Some(dev) = cl() else { return };
  // Plateaus and ties: a quantised uint8 image with flat-topped spots; low thresholds (many peaks,
  // more than the first record buffer holds); a slice of zeros, whose cube is constant (every value a
  // peak with a negative threshold: scikit-image's trivial image, no blobs).
  let mut v: Vec<f64> = spots(1, 128, 160, 200.0, 20.0, 10.0, 9).iter().map(|x| x.clamp(0.0, 120.0).round()).collect();
  v.extend(std::iter::repeat_n(0.0, 128 * 160));
  for method in ["blob_log", "blob_dog"] {
    for extra in [r#","threshold":0.02"#, r#","threshold":-0.001,"minCellArea":0,"numSigma":3,"maxSigma":3"#, r#","threshold":0"#] {
      check(dev, DType::U8, [2, 128, 160], &v, &opts(method, false, extra));
    }
  }
  // Float inputs with NaN, infinities and values below -1 (clipped by img_as_float).
  let mut f = spots(1, 64, 80, 0.7, 0.1, 0.05, 4);
  for (i, x) in f.iter_mut().enumerate() {
    match i % 997 {
      3 => *x = f64::NAN,
      5 => *x = -5.0,
      7 => *x = f64::INFINITY,
      _ => {}
    }
  }
  for method in ["blob_log", "blob_dog"] {
    check(dev, DType::F32, [1, 64, 80], &f, &opts(method, false, r#","minCellArea":0"#));
  }
}

#[test]
fn odd_sizes() {
  let Some(dev) = cl() else { return };
  // 1x1 slices, slices smaller than the kernels (radius 40 at sigma 10), thin ones.
  for shape in [[1, 1, 1], [3, 1, 1], [2, 5, 3], [1, 7, 40], [1, 33, 1], [2, 17, 23]] {
    let n = shape.iter().product();
    let v = noise(n, 21, 0.0, 60000.0);
    for method in METHODS {
      for pre in [false, true] {
        check(dev, DType::U16, shape, &v, &opts(method, pre, r#","minCellArea":0,"removeBorderCells":false"#));
      }
    }
  }
}

#[test]
fn chunks_of_slices() {
  let Some(dev) = cl() else { return };
  // More pixels than one chunk: several chunks of whole slices, results in slice order.
  let plane = 1100 * 1000;
  let z = stackbridge_gpu::proc::count::CHUNK_ELEMS / plane + 2;
  let one = spots(1, 1100, 1000, 30000.0, 3000.0, 800.0, 2);
  let v: Vec<f64> = (0..z).flat_map(|k| one.iter().map(move |x| x + 100.0 * k as f64)).collect();
  assert!(check(dev, DType::U16, [z, 1100, 1000], &v, &opts("blob_dog", false, r#","numSigma":3"#)) > 0);
}
