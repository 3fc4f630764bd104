//! OpenCL gaussian, sharpen and the float32 filter building blocks (Gaussian with a border mode,
//! Laplacian of Gaussian, disk median) against the CPU oracle of stackbridge-kernels.
mod common;
use common::*;
use stackbridge_core::{with_dtype, DType, ErrorCode, Element, HostArray, MemoryType};
use stackbridge_kernels::gaussian::{gaussian_plane_f32, BorderMode};
use stackbridge_kernels::median::median_disk_plane_f32;
use stackbridge_kernels::Dims;
use stackbridge_gpu::proc::filters;
use stackbridge_gpu::Gpu;
use stackbridge_opencl::buffer::ClBuf;
use stackbridge_opencl::gpu::Ctx;
use stackbridge_opencl::ClDevice;

const SHAPES: [[usize; 3]; 7] = [[1, 1, 1], [1, 3, 5], [2, 5, 3], [1, 9, 1], [1, 1, 12], [2, 17, 23], [3, 40, 33]];

/// A value range that exercises each dtype (wide enough for saturation and truncation to matter).
fn range(dt: DType) -> (f64, f64) {
  match dt {
    DType::U8 => (0.0, 256.0),
    DType::U16 => (0.0, 65536.0),
    DType::I16 => (-32768.0, 32768.0),
    DType::I32 => (-2.0e9, 2.0e9),
    DType::U32 => (0.0, 4.2e9),
    DType::F32 | DType::F64 => (-1000.0, 1000.0),
  }
}

#[test]
fn gaussian_equals_cpu_every_dtype() {
  let Some(dev) = cl() else { return };
  for (si, shape) in SHAPES.iter().enumerate() {
    for dt in dtypes() {
      let (lo, hi) = range(dt);
      let v = noise(shape.iter().product(), 11 + si as u64, lo, hi);
      with_dtype!(dt, T => {
        let (h, c) = pair::<T>(dev, *shape, &v);
        for sigma in [0.0, 0.5, 1.0, 2.5, 4.0] {
          // Same taps, same f64 operation order, same casts: bit for bit.
          assert_equivalent(dev, "gaussian", &h, &c, &format!(r#"{{"sigma":{sigma}}}"#), 0.0, 0.0);
        }
      });
    }
  }
}

#[test]
fn gaussian_saturates_and_truncates_as_cpu() {
  let Some(dev) = cl() else { return };
  let shape = [2, 19, 21];
  let n = shape.iter().product();
  // Constant slices at the dtype's maximum (taps summing to 1 ± ulp), alternating extremes,
  // and a smooth ramp (many results close to integers).
  for dt in dtypes() {
    let (lo, hi) = range(dt);
    let hi = hi - 1.0;
    let patterns: Vec<Vec<f64>> = vec![
      vec![hi; n],
      (0..n).map(|i| if i % 3 == 0 { lo } else { hi }).collect(),
      (0..n).map(|i| lo + (hi - lo) * (i % 21) as f64 / 20.0).collect(),
    ];
    for v in patterns {
      with_dtype!(dt, T => {
        let (h, c) = pair::<T>(dev, shape, &v);
        for sigma in [0.7, 1.0, 3.0] {
          assert_equivalent(dev, "gaussian", &h, &c, &format!(r#"{{"sigma":{sigma}}}"#), 0.0, 0.0);
        }
      });
    }
  }
}

#[test]
fn gaussian_option_errors_match_cpu() {
  let Some(dev) = cl() else { return };
  let (_, c) = pair::<u16>(dev, [1, 4, 4], &[1.0; 16]);
  for opts in [r#"{"sigma":-1}"#, r#"{"sigma":1e9}"#] {
    let e = stackbridge_opencl::dispatch::run_processor("gaussian", &c, opts, None).err().expect("an error");
    assert_eq!(e.code, ErrorCode::InvalidArgument, "{opts}");
  }
}

#[test]
fn sharpen_equals_cpu_every_dtype() {
  let Some(dev) = cl() else { return };
  for (si, shape) in SHAPES.iter().enumerate() {
    for dt in dtypes() {
      let (lo, hi) = range(dt);
      // sharpen divides by the slice maximum: mostly non-negative data, as images are.
      let v = noise(shape.iter().product(), 5 + si as u64, lo.max(0.0) - (hi - lo) * 0.05, hi);
      with_dtype!(dt, T => {
        let (h, c) = pair::<T>(dev, *shape, &v);
        for (radius, amount) in [(0.5, 1.0), (1.0, 1.5), (2.5, 0.7), (4.0, 3.0), (1.3, -0.5)] {
          // The same W-typed operations in the same order (the Gaussian in f64 as scipy): exact.
          assert_equivalent(dev, "sharpen", &h, &c, &format!(r#"{{"radius":{radius},"amount":{amount}}}"#), 0.0, 0.0);
        }
      });
    }
  }
}

#[test]
fn sharpen_degenerate_slices_match_cpu() {
  let Some(dev) = cl() else { return };
  let shape = [4, 6, 7];
  let p = 42;
  let mut v = vec![0.0; 4 * p]; // slice 0 all zero
  v[p..2 * p].iter_mut().for_each(|x| *x = 77.0); // slice 1 constant
  v[2 * p + 5] = 9.0; // slice 2 a single bright pixel
  v[3 * p..].iter_mut().enumerate().for_each(|(i, x)| *x = (i * 37 % 101) as f64); // slice 3 ordinary
  for dt in dtypes() {
    with_dtype!(dt, T => {
      let (h, c) = pair::<T>(dev, shape, &v);
      assert_equivalent(dev, "sharpen", &h, &c, r#"{"radius":1,"amount":1}"#, 0.0, 0.0);
      assert_equivalent(dev, "sharpen", &h, &c, r#"{"radius":2,"amount":5}"#, 0.0, 0.0);
    });
  }
  // Float slices with NaN (max NaN: zeros) and negative maxima.
  let mut f = noise(3 * p, 3, -10.0, 10.0);
  f[4] = f64::NAN;
  f[2 * p..].iter_mut().for_each(|x| *x = -x.abs() - 1.0);
  for dt in [DType::F32, DType::F64] {
    with_dtype!(dt, T => {
      let (h, c) = pair::<T>(dev, [3, 6, 7], &f);
      assert_equivalent(dev, "sharpen", &h, &c, r#"{"radius":1.5,"amount":2}"#, 0.0, 0.0);
    });
  }
}

#[test]
fn sharpen_option_errors_match_cpu() {
  let Some(dev) = cl() else { return };
  let (_, c) = pair::<u16>(dev, [1, 4, 4], &[1.0; 16]);
  for opts in [r#"{"radius":0}"#, r#"{"radius":-1}"#, r#"{"radius":1e9}"#] {
    let e = stackbridge_opencl::dispatch::run_processor("sharpen", &c, opts, None).err().expect("an error");
    assert_eq!(e.code, ErrorCode::InvalidArgument, "{opts}");
  }
}

// ---- float32 building blocks (called by cell counting) ------------------------------------------

/// Runs `f` on a float32 `[z, h, w]` stack on `dev` and returns the output's values.
fn on_device(dev: &ClDevice, shape: [usize; 3], v: &[f64], f: impl Fn(&Ctx, &ClBuf, Dims, &ClBuf)) -> Vec<f32> {
  let input = stack_on::<f32>(dev.id(), shape, v);
  let ctx = Ctx::new(dev).unwrap();
  let src = ctx.wrap(&input).unwrap();
  let (out, dst) = ctx.alloc(shape.to_vec(), DType::F32, MemoryType::Pyclesperanto).unwrap();
  f(&ctx, &src, Dims::new(shape[0], shape[1], shape[2]), &dst);
  ctx.complete(&dst).unwrap();
  f32_values(&out)
}

fn f32_values(a: &HostArray) -> Vec<f32> {
  a.pin().unwrap().as_slice::<f32>().to_vec()
}

/// The CPU plane function applied per slice.
fn on_cpu(shape: [usize; 3], v: &[f64], f: impl Fn(&[f32], usize, usize, &mut [f32])) -> Vec<f32> {
  let src: Vec<f32> = v.iter().map(|&x| f32::from_f64(x)).collect();
  let p = shape[1] * shape[2];
  let mut out = vec![0f32; src.len()];
  if p > 0 {
    for (s, o) in src.chunks(p).zip(out.chunks_mut(p)) {
      f(s, shape[1], shape[2], o);
    }
  }
  out
}

fn assert_bits(cpu: &[f32], cl: &[f32], what: &str) {
  assert_eq!(cpu.len(), cl.len());
  for (i, (a, b)) in cpu.iter().zip(cl).enumerate() {
    assert!(a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()), "{what}: element {i}: cpu {a} vs opencl {b}");
  }
}

#[test]
fn gaussian_f32_equals_cpu_every_mode() {
  let Some(dev) = cl() else { return };
  for (si, shape) in SHAPES.iter().enumerate() {
    let v = noise(shape.iter().product(), 3 + si as u64, 0.0, 1.0);
    for mode in [BorderMode::Reflect, BorderMode::Mirror, BorderMode::Nearest] {
      for sigma in [0.0, 0.5, 1.0, 2.5, 4.0] {
        let cpu = on_cpu(*shape, &v, |s, h, w, o| gaussian_plane_f32(s, h, w, sigma, mode, o));
        let cl = on_device(dev, *shape, &v, |ctx, s, d, o| filters::gaussian_f32(ctx, s, d, sigma, mode, o).unwrap());
        // Same f64 arithmetic in scipy's order and the same f32 roundings: bit for bit.
        assert_bits(&cpu, &cl, &format!("gaussian_f32 {shape:?} sigma {sigma} {mode:?}"));
      }
    }
  }
}

#[test]
fn median_disk_f32_equals_cpu() {
  let Some(dev) = cl() else { return };
  let shapes: [[usize; 3]; 8] = [[1, 1, 1], [1, 1, 9], [1, 7, 1], [2, 2, 2], [1, 3, 5], [2, 9, 14], [1, 31, 40], [2, 24, 17]];
  for (si, shape) in shapes.iter().enumerate() {
    let n = shape.iter().product();
    // Few levels (many ties, ±0 included) and continuous values.
    let few: Vec<f64> =
      noise(n, 21 + si as u64, 0.0, 5.0).iter().enumerate().map(|(i, x)| x.floor() - 2.0 + if i % 2 == 1 { -0.0 } else { 0.0 }).collect();
    let many = noise(n, 31 + si as u64, -1.0, 1.0);
    for v in [few, many] {
      for r in [0, 1, 2, 3, 4, 5, 6, 8, 10, 11] {
        let cpu = on_cpu(*shape, &v, |s, h, w, o| median_disk_plane_f32(s, h, w, r, o));
        let cl = on_device(dev, *shape, &v, |ctx, s, d, o| filters::median_disk_f32(ctx, s, d, r, o).unwrap());
        // An order statistic: exact. Beyond r = 10 the CPU ranks -0 and +0 as one value (either
        // may come back), so there the comparison is numeric.
        if r <= 10 {
          assert_bits(&cpu, &cl, &format!("median {shape:?} r {r}"));
        } else {
          assert_eq!(cpu, cl, "median {shape:?} r {r}");
        }
      }
    }
  }
}

#[test]
fn empty_stacks() {
  let Some(dev) = cl() else { return };
  for name in ["gaussian", "sharpen"] {
    let (h, c) = pair::<u16>(dev, [0, 4, 5], &[]);
    assert_equivalent(dev, name, &h, &c, "{}", 0.0, 0.0);
  }
  let out = on_device(dev, [0, 3, 3], &[], |ctx, s, d, o| {
    filters::gaussian_f32(ctx, s, d, 1.0, BorderMode::Nearest, o).unwrap();
    filters::median_disk_f32(ctx, s, d, 2, o).unwrap();
  });
  assert!(out.is_empty());
}
