//! Benchmarks of the segmentation building blocks (`stackbridge_kernels::segment`) chained as
//! OpenHCS's `watershed` and `threshold` cell-counting recipes (DESIGN §7).
//!
//! `cargo bench -p stackbridge-kernels --bench segment`. The image is 1024² float in [0, 1]:
//! noise in [0.05, 0.25) with ~400 bright disks (radius 5–11, level 0.5–0.9), every fifth disk
//! with a slightly smaller twin touching it, so the watershed has pairs to split.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use stackbridge_kernels::segment::{
  clear_border, distance_transform_edt, label, peak_local_max_2d, regionprops, remove_small_objects, threshold_li,
  threshold_otsu, watershed, Connectivity, Region,
};

const H: usize = 1024;
const W: usize = 1024;
const DISKS: usize = 400;
const MIN_AREA: usize = 30;
const MIN_DISTANCE: usize = 5;
const FOOTPRINT: usize = 3;

struct XorShift(u64);

impl XorShift {
  /// Uniform in [0, 1).
  fn next(&mut self) -> f32 {
    self.0 ^= self.0 << 13;
    self.0 ^= self.0 >> 7;
    self.0 ^= self.0 << 17;
    (self.0 >> 40) as f32 / (1u64 << 24) as f32
  }
}

/// The synthetic plane described in the module doc (deterministic).
fn image() -> Vec<f32> {
  let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
  let mut img: Vec<f32> = (0..H * W).map(|_| 0.05 + 0.2 * rng.next()).collect();
  let mut placed = 0;
  while placed < DISKS {
    let r = 5.0 + 6.0 * rng.next();
    let (cy, cx) = (rng.next() * H as f32, rng.next() * W as f32);
    let level = 0.5 + 0.4 * rng.next();
    let mut disks = vec![(cy, cx, r)];
    if placed % 5 == 0 {
      disks.push((cy + 0.3 * r, cx + 1.7 * r, 0.9 * r));
      placed += 1;
    }
    placed += 1;
    for (cy, cx, r) in disks {
      let y0 = (cy - r).floor().max(0.0) as usize;
      let y1 = ((cy + r).ceil() as usize + 1).min(H);
      let x0 = (cx - r).floor().max(0.0) as usize;
      let x1 = ((cx + r).ceil() as usize + 1).min(W);
      for y in y0..y1 {
        for x in x0..x1 {
          if (y as f32 - cy).powi(2) + (x as f32 - cx).powi(2) <= r * r {
            let v = &mut img[y * W + x];
            *v = v.max(level + 0.1 * rng.next());
          }
        }
      }
    }
  }
  img
}

/// `image > t`, small objects removed, border objects cleared (both OpenHCS methods share this).
fn foreground(img: &[f32], t: f64) -> Vec<bool> {
  let mut binary: Vec<bool> = img.iter().map(|&v| v as f64 > t).collect();
  remove_small_objects(&mut binary, H, W, MIN_AREA);
  clear_border(&mut binary, H, W);
  binary
}

/// OpenHCS `watershed`: threshold, clean-up, EDT, peaks as markers, watershed of -distance.
fn watershed_recipe(img: &[f32], li: bool) -> Vec<Region> {
  let t = if li { threshold_li(img) } else { threshold_otsu(img) }.expect("non-empty finite image");
  let binary = foreground(img, t);
  let mut dist = vec![0f32; H * W];
  distance_transform_edt(&binary, H, W, &mut dist);
  let mut peaks = vec![false; H * W];
  for (y, x) in peak_local_max_2d(&dist, H, W, MIN_DISTANCE, FOOTPRINT) {
    peaks[y * W + x] = true;
  }
  let (markers, _) = label(&peaks, H, W, Connectivity::Eight);
  let neg: Vec<f32> = dist.iter().map(|d| -d).collect();
  let mut labels = vec![0u32; H * W];
  watershed(&neg, &markers, &binary, H, W, &mut labels);
  regionprops(&labels, img, H, W)
}

/// OpenHCS `threshold`: `image > 0.5 * image.max()`, clean-up, connected components.
fn threshold_recipe(img: &[f32]) -> Vec<Region> {
  let max = img.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
  let binary = foreground(img, 0.5 * max);
  let (labels, _) = label(&binary, H, W, Connectivity::Eight);
  regionprops(&labels, img, H, W)
}

fn bench_recipes(c: &mut Criterion) {
  let img = image();
  let mut g = c.benchmark_group("segment_1024x1024_400_disks");
  g.sample_size(10);
  g.bench_function("watershed_recipe_otsu", |b| b.iter(|| watershed_recipe(black_box(&img), false)));
  g.bench_function("watershed_recipe_li", |b| b.iter(|| watershed_recipe(black_box(&img), true)));
  g.bench_function("threshold_recipe", |b| b.iter(|| threshold_recipe(black_box(&img))));
  g.finish();
}

/// The stages of the watershed recipe on their own, to see where the time goes.
fn bench_stages(c: &mut Criterion) {
  let img = image();
  let t = threshold_otsu(&img).expect("finite image");
  let binary = foreground(&img, t);
  let mut dist = vec![0f32; H * W];
  distance_transform_edt(&binary, H, W, &mut dist);
  let mut peaks = vec![false; H * W];
  for (y, x) in peak_local_max_2d(&dist, H, W, MIN_DISTANCE, FOOTPRINT) {
    peaks[y * W + x] = true;
  }
  let (markers, _) = label(&peaks, H, W, Connectivity::Eight);
  let neg: Vec<f32> = dist.iter().map(|d| -d).collect();
  let mut labels = vec![0u32; H * W];
  watershed(&neg, &markers, &binary, H, W, &mut labels);

  let mut g = c.benchmark_group("segment_stages_1024x1024");
  g.sample_size(10);
  g.bench_function("threshold_otsu", |b| b.iter(|| threshold_otsu(black_box(&img))));
  g.bench_function("threshold_li", |b| b.iter(|| threshold_li(black_box(&img))));
  g.bench_function("remove_small_objects+clear_border", |b| b.iter(|| foreground(black_box(&img), t)));
  g.bench_function("distance_transform_edt", |b| {
    b.iter(|| distance_transform_edt(black_box(&binary), H, W, &mut dist))
  });
  g.bench_function("peak_local_max_2d", |b| {
    b.iter(|| peak_local_max_2d(black_box(&dist), H, W, MIN_DISTANCE, FOOTPRINT))
  });
  g.bench_function("label_8", |b| b.iter(|| label(black_box(&binary), H, W, Connectivity::Eight)));
  g.bench_function("watershed", |b| b.iter(|| watershed(black_box(&neg), &markers, &binary, H, W, &mut labels)));
  g.bench_function("regionprops", |b| b.iter(|| regionprops(black_box(&labels), &img, H, W)));
  g.finish();
}

criterion_group!(benches, bench_recipes, bench_stages);
criterion_main!(benches);
