//! OpenCL tophat equals the CPU tophat (stackbridge_kernels::tophat), exactly, for every dtype:
//! the downsampled path repeats the CPU's floating-point operations in the same order and
//! precision (double `acc_t` on the test device, no FMA), and erosion / dilation are exact.
mod common;
use common::*;
use stackbridge_core::{with_dtype, DType, ErrorCode, MemoryType};
use stackbridge_kernels::tophat::TophatParams;
use stackbridge_kernels::Dims;
use stackbridge_gpu::Gpu;
use stackbridge_opencl::gpu::Ctx;

/// A `[z, h, w]` stack for `dt`: a background gradient (stronger along x) plus noise, within the
/// dtype's range (negative values for the signed types).
fn stack_values(dt: DType, z: usize, h: usize, w: usize, seed: u64) -> Vec<f64> {
  let (lo, span) = match dt {
    DType::U8 => (0.0, 250.0),
    DType::U16 => (0.0, 60000.0),
    DType::I16 => (-12000.0, 40000.0),
    DType::I32 => (-1.0e6, 5.0e6),
    DType::U32 => (0.0, 5.0e6),
    DType::F32 | DType::F64 => (-3.0, 17.0),
  };
  let n = noise(z * h * w, seed, 0.0, 0.6 * span);
  let mut v = Vec::with_capacity(z * h * w);
  for k in 0..z {
    for y in 0..h {
      for x in 0..w {
        let g = 0.3 * span * (0.7 * x as f64 / w as f64 + 0.3 * y as f64 / h as f64) + 0.05 * span * k as f64;
        v.push(lo + g + n[(k * h + y) * w + x]);
      }
    }
  }
  v
}

fn check(dt: DType, shape: [usize; 3], radius: usize, factor: usize, seed: u64) {
  let Some(dev) = cl() else { return };
  let v = stack_values(dt, shape[0], shape[1], shape[2], seed);
  let opts = format!(r#"{{"selemRadius":{radius},"downsampleFactor":{factor}}}"#);
  with_dtype!(dt, T => {
    let (h, c) = pair::<T>(dev, shape, &v);
    assert_equivalent(dev, "tophat", &h, &c, &opts, 0.0, 0.0);
  });
}

#[test]
fn defaults_every_dtype() {
  let Some(_dev) = cl() else { return };
  for dt in dtypes() {
    check(dt, [2, 203, 317], 50, 4, 11);
  }
}

#[test]
fn defaults_via_empty_options() {
  let Some(dev) = cl() else { return };
  let v = stack_values(DType::U16, 1, 128, 96, 3);
  let (h, c) = pair::<u16>(dev, [1, 128, 96], &v);
  assert_equivalent(dev, "tophat", &h, &c, "{}", 0.0, 0.0);
}

#[test]
fn full_resolution_radius_5_and_50() {
  let Some(_dev) = cl() else { return };
  for dt in dtypes() {
    check(dt, [1, 256, 256], 5, 1, 21);
    check(dt, [1, 256, 256], 50, 1, 22);
  }
}

#[test]
fn full_resolution_odd_shapes() {
  let Some(_dev) = cl() else { return };
  for dt in [DType::U8, DType::I16, DType::F32] {
    for (shape, r) in [([1, 1, 1], 3), ([2, 1, 9], 2), ([1, 9, 1], 4), ([3, 17, 23], 0), ([3, 17, 23], 1), ([2, 31, 40], 7), ([1, 300, 37], 3)] {
      check(dt, shape, r, 1, 5 + r as u64);
    }
  }
}

#[test]
fn radius_larger_than_the_image() {
  let Some(_dev) = cl() else { return };
  for dt in dtypes() {
    // Full resolution: every chord, or all but the longest, covers whole rows.
    check(dt, [2, 40, 30], 100, 1, 31);
    check(dt, [1, 30, 40], 35, 1, 32);
    check(dt, [1, 40, 30], 35, 1, 36); // whole-row chords for |dy| <= 19, table lookups beyond
    check(dt, [1, 12, 1500], 1000, 1, 33);
    check(dt, [1, 5, 2300], 1100, 1, 37); // chords longer than 2^11: more than two lookups
    // Downsampled: the small image is 20 x 15 (radius 100) and 10 x 7 (radius 25 > 10).
    check(dt, [2, 40, 30], 200, 2, 34);
    check(dt, [1, 43, 31], 100, 4, 35);
  }
}

#[test]
fn sizes_not_divisible_by_the_factor() {
  let Some(_dev) = cl() else { return };
  for dt in dtypes() {
    check(dt, [3, 37, 53], 10, 3, 41);
    check(dt, [1, 64, 71], 12, 5, 42);
    check(dt, [2, 50, 33], 21, 7, 43);
    check(dt, [1, 9, 20], 16, 8, 44); // one output row
    check(dt, [1, 17, 23], 0, 2, 45); // disk(0): the opening is the small image
  }
}

#[test]
fn factor_larger_than_the_image_is_an_error() {
  let Some(dev) = cl() else { return };
  let v = stack_values(DType::U16, 1, 9, 20, 1);
  let (_, c) = pair::<u16>(dev, [1, 9, 20], &v);
  for opts in [r#"{"downsampleFactor":10}"#, r#"{"downsampleFactor":21}"#, r#"{"downsampleFactor":0}"#] {
    let e = stackbridge_opencl::dispatch::run_processor("tophat", &c, opts, None).err().expect(opts);
    assert_eq!(e.code, ErrorCode::InvalidArgument, "{opts}");
  }
}

#[test]
fn empty_stack() {
  let Some(dev) = cl() else { return };
  let (h, c) = pair::<u16>(dev, [0, 8, 6], &[]);
  assert_equivalent(dev, "tophat", &h, &c, "{}", 0.0, 0.0);
}

/// Runs the OpenCL tophat with a temporary budget small enough to force one slice per chunk.
fn chunked<T: stackbridge_core::Element>(dev: &'static stackbridge_opencl::ClDevice, shape: [usize; 3], v: &[f64], p: &TophatParams) -> Vec<f64> {
  let c = stack_on::<T>(dev.id(), shape, v);
  let ctx = Ctx::new(dev).unwrap();
  let src = ctx.wrap(&c).unwrap();
  let (out, dst) = ctx.alloc(shape.to_vec(), T::DTYPE, MemoryType::Pyclesperanto).unwrap();
  stackbridge_gpu::proc::tophat::tophat_with_budget(&ctx, &src, Dims::new(shape[0], shape[1], shape[2]), T::DTYPE, p, &dst, 1).unwrap();
  ctx.complete(&dst).unwrap();
  values(&out)
}

#[test]
fn chunks_of_slices_match_whole_stack() {
  let Some(dev) = cl() else { return };
  let shape = [5, 41, 38];
  let v = stack_values(DType::U16, 5, 41, 38, 51);
  let host = stack_on::<u16>(stackbridge_core::Device::Host, shape, &v);
  // upsampleOrder 0 (nearest, OpenHCS 0.8.6) runs through the same kernels with nearest tables.
  for (r, f, o) in [(9, 1, 1), (12, 3, 1), (40, 2, 1), (12, 3, 0), (40, 2, 0)] {
    let p = TophatParams { selem_radius: r, downsample_factor: f, upsample_order: o };
    let opts = format!(r#"{{"selemRadius":{r},"downsampleFactor":{f},"upsampleOrder":{o}}}"#);
    let cpu = values(&stackbridge_kernels::dispatch::run_processor("tophat", &host, &opts, None).unwrap());
    assert_eq!(chunked::<u16>(dev, shape, &v, &p), cpu, "r={r} f={f} order={o}");
  }
}
