//! Every CPU level this machine has (stackbridge_core::cpu: scalar, sse4, avx2, avx512) gives the
//! same bytes for the dispatching kernels. A separate test binary, so capping the process-wide
//! level here does not slow the unit tests. What each kernel computes is checked against its
//! oracle by the unit tests; here the lowest level is the reference for the others.

use stackbridge_core::cpu::{self, Level};
use stackbridge_core::{Element, HostArray, MemoryType};
use stackbridge_kernels::blob::{blob_dog, blob_log, BlobDogParams, BlobLogParams};
use stackbridge_kernels::count::{count_cells, CountParams};
use stackbridge_kernels::dispatch::run_processor;
use stackbridge_kernels::gaussian::{gaussian_laplace_plane_f32, gaussian_plane_fast_f32, BorderMode};
use stackbridge_kernels::Dims;

fn host<T: Element>(vals: &[T], shape: Vec<usize>) -> HostArray {
  let a = HostArray::alloc(shape, T::DTYPE, MemoryType::Numpy, false).unwrap();
  a.pin().unwrap().as_mut_slice::<T>().copy_from_slice(vals);
  a
}

fn xorshift(seed: &mut u64) -> u64 {
  *seed ^= *seed << 13;
  *seed ^= *seed >> 7;
  *seed ^= *seed << 17;
  *seed
}

/// A textured stack: smooth background, spots, noise (values over the dtype's range).
fn stack(z: usize, h: usize, w: usize, max: f64, seed: u64) -> Vec<f64> {
  let mut s = seed;
  let mut v = Vec::with_capacity(z * h * w);
  for zi in 0..z {
    for y in 0..h {
      for x in 0..w {
        let bg = 0.2 + 0.1 * ((x as f64 / 37.0).sin() + (y as f64 / 23.0 + zi as f64).cos());
        let spot = if (x / 17 + y / 13) % 7 == 0 { 0.4 } else { 0.0 };
        let noise = (xorshift(&mut s) % 1000) as f64 / 1000.0 * 0.2;
        v.push(((bg + spot + noise).clamp(0.0, 1.0) * max).floor());
      }
    }
  }
  v
}

fn typed<T: Element>(v: &[f64]) -> Vec<T> {
  v.iter().map(|&x| T::from_f64(x)).collect()
}

/// `f` at every level, with the path each level recorded; asserts all outputs are equal.
fn same_at_every_level<R: PartialEq + std::fmt::Debug>(what: &str, mut f: impl FnMut() -> R) {
  let runs = cpu::at_every_level(|_| f());
  assert!(!runs.is_empty());
  let (l0, first) = &runs[0];
  for (l, r) in &runs[1..] {
    assert!(r == first, "{what}: level {} differs from level {}", l.name(), l0.name());
  }
}

fn bytes(a: &HostArray) -> Vec<u8> {
  a.pin().unwrap().bytes().to_vec()
}

/// Processors through the dispatcher, on shapes whose widths are no multiple of any vector width.
#[test]
fn processors_are_bit_identical_at_every_level() {
  let (z, h, w) = (3, 203, 517);
  let base = stack(z, h, w, 65535.0, 7);
  let inputs = [
    host(&typed::<u16>(&base), vec![z, h, w]),
    host(&typed::<u8>(&base.iter().map(|v| v / 257.0).collect::<Vec<_>>()), vec![z, h, w]),
    host(&typed::<f32>(&base.iter().map(|v| v / 65535.0).collect::<Vec<_>>()), vec![z, h, w]),
    host(&typed::<i16>(&base.iter().map(|v| v - 32768.0).collect::<Vec<_>>()), vec![z, h, w]),
  ];
  let mask2 = host(&stack(1, h, w, 1.0, 3).iter().map(|v| (v * 1.7 - 0.3) as f32).collect::<Vec<f32>>(), vec![h, w]);
  let mask3 = host(&stack(z, h, w, 1.0, 5).iter().map(|v| (v * 2.5) as f32).collect::<Vec<f32>>(), vec![z, h, w]);
  let cases: &[(&str, &str)] = &[
    ("stackPercentileNormalize", r#"{"lowPercentile": 1, "highPercentile": 99}"#),
    ("percentileNormalize", r#"{"lowPercentile": 2.5, "highPercentile": 97}"#),
    ("gaussian", r#"{"sigma": 2}"#),
    ("gaussian", r#"{"sigma": 0.7}"#),
    ("tophat", r#"{"selemRadius": 9, "downsampleFactor": 1}"#),
    ("tophat", r#"{"selemRadius": 20, "downsampleFactor": 4}"#),
    ("sharpen", r#"{"radius": 1.5, "amount": 0.8}"#),
    ("createProjection", r#"{"method": "max_projection"}"#),
    ("createProjection", r#"{"method": "min_projection"}"#),
    ("createProjection", r#"{"method": "mean_projection"}"#),
    ("createProjection", r#"{"method": "median_projection"}"#),
    ("createProjection", r#"{"method": "std_projection"}"#),
  ];
  for input in &inputs {
    for &(name, opts) in cases {
      same_at_every_level(&format!("{name} {opts} on {}", input.dtype.name()), || bytes(&run_processor(name, input, opts, None).unwrap()));
    }
    for m in [&mask2, &mask3] {
      same_at_every_level(&format!("applyMask {:?} on {}", m.shape, input.dtype.name()), || {
        bytes(&run_processor("applyMask", input, "{}", Some(m)).unwrap())
      });
    }
  }
}

/// The histogram and bracketed percentile paths (over 1 Mi elements), the normalize table, and the
/// mask on a plane wider than one mask tile.
#[test]
fn large_stack_paths_are_bit_identical() {
  let (z, h, w) = (5, 256, 1031);
  let base = stack(z, h, w, 65535.0, 11);
  let a = host(&typed::<u16>(&base), vec![z, h, w]);
  same_at_every_level("stackPercentileNormalize 1 Mi", || bytes(&run_processor("stackPercentileNormalize", &a, "{}", None).unwrap()));
  let mask = host(&stack(1, h, w, 1.0, 2).iter().map(|&v| v as f32 * 0.9).collect::<Vec<f32>>(), vec![h, w]);
  same_at_every_level("applyMask 2D over 5 slices", || bytes(&run_processor("applyMask", &a, "{}", Some(&mask)).unwrap()));
  // The paths were recorded: at the top level the percentile pass ran, at a capped level too.
  let paths = cpu::paths();
  for k in ["percentileHistogram", "normalizeMap", "applyMask"] {
    assert!(paths.iter().any(|&(n, p)| n == k && p.is_some()), "{k} recorded no path: {paths:?}");
  }
}

/// The f32 fast paths (FMA in every level: `mul_add`), LoG, blob detection and cell counting.
#[test]
fn float_paths_and_counting_are_bit_identical() {
  let (h, w) = (190, 263);
  let img: Vec<f32> = stack(1, h, w, 1.0, 13).iter().map(|&v| v as f32).collect();
  same_at_every_level("gaussian_plane_fast_f32", || {
    let mut out = vec![0f32; h * w];
    gaussian_plane_fast_f32(&img, h, w, 2.3, BorderMode::Reflect, &mut out);
    out.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
  });
  same_at_every_level("gaussian_laplace_plane_f32", || {
    let mut out = vec![0f32; h * w];
    gaussian_laplace_plane_f32(&img, h, w, 1.8, &mut out);
    out.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
  });
  same_at_every_level("blob_log", || format!("{:?}", blob_log(&img, h, w, &BlobLogParams { threshold: 0.02, ..Default::default() }).unwrap()));
  same_at_every_level("blob_dog", || format!("{:?}", blob_dog(&img, h, w, &BlobDogParams { threshold: 0.02, ..Default::default() }).unwrap()));
  let u: Vec<u16> = typed(&stack(2, h, w, 40000.0, 17));
  same_at_every_level("count_cells", || {
    let p = CountParams { threshold: 0.02, return_segmentation_mask: true, ..Default::default() };
    format!("{:?}", count_cells(&u, Dims::new(2, h, w), &p).unwrap())
  });
}

#[test]
fn the_lowest_level_is_always_there() {
  let runs = cpu::at_every_level(|l| (l, cpu::level()));
  assert_eq!(runs[0].0, Level::Scalar);
  for (l, (_, ran)) in &runs {
    assert!(*ran <= *l, "level {} ran at {}", l.name(), ran.name());
  }
  assert_eq!(runs.last().unwrap().0, cpu::detected());
}
