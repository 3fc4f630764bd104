use super::*;
use crate::dispatch::run_named;
use stackbridge_core::{Cancel, DType, ErrorCode, HostArray, MemoryType};

fn noise(n: usize, seed: u64, modulus: u64) -> Vec<u64> {
  let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
  (0..n)
    .map(|_| {
      s ^= s << 13;
      s ^= s >> 7;
      s ^= s << 17;
      s % modulus
    })
    .collect()
}

fn stack_u16(z: usize, h: usize, w: usize) -> HostArray {
  let a = HostArray::alloc(vec![z, h, w], DType::U16, MemoryType::Numpy, false).unwrap();
  let v = noise(z * h * w, 5, 60000);
  for (d, s) in a.pin().unwrap().as_mut_slice::<u16>().iter_mut().zip(v) {
    *d = s as u16;
  }
  a
}

const NAMES: [&str; 7] = [
  "meanFilter",
  "medianFilter",
  "minimumFilter",
  "maximumFilter",
  "opening",
  "closing",
  "blackTophat",
];

#[test]
fn option_errors_are_typed() {
  let a = stack_u16(1, 4, 5);
  for name in NAMES {
    for bad in [
      r#"{"radius": -1}"#,
      r#"{"radius": 1.5}"#,
      r#"{"radius": 5000}"#,
      r#"{"footprint": "ball"}"#,
      r#"{"size": 3}"#,
      "[1]",
    ] {
      let e = run_named(name, &a, bad, &[], &Cancel::none())
        .err()
        .unwrap_or_else(|| panic!("{name} {bad} accepted"));
      assert_eq!(e.code, ErrorCode::InvalidArgument, "{name} {bad}");
    }
    let e = run_named(name, &a, "{}", &[Some(a.clone())], &Cancel::none()).err().unwrap();
    assert_eq!(e.code, ErrorCode::InvalidArgument);
  }
}

#[test]
fn empty_and_tiny_stacks() {
  for name in NAMES {
    for (z, h, w) in [(0, 4, 5), (1, 0, 5), (2, 5, 0), (1, 1, 1), (1, 1, 5), (1, 5, 1), (2, 2, 3)] {
      for opts in [
        r#"{"radius": 0}"#,
        r#"{"radius": 3}"#,
        r#"{"radius": 3, "footprint": "square"}"#,
        r#"{"radius": 9}"#,
      ] {
        let a = stack_u16(z, h, w);
        let out = run_named(name, &a, opts, &[], &Cancel::none()).unwrap().array.unwrap();
        assert_eq!(out.shape, a.shape);
      }
    }
  }
}

fn naive_median(src: &[f64], h: usize, w: usize, fp: Footprint) -> Vec<f64> {
  let mut out = vec![0.0; h * w];
  for y in 0..h {
    for x in 0..w {
      let mut v: Vec<f64> = fp
        .offsets()
        .iter()
        .map(|&(dy, dx)| src[(y as isize + dy).clamp(0, h as isize - 1) as usize * w + (x as isize + dx).clamp(0, w as isize - 1) as usize])
        .collect();
      v.sort_by(|a, b| a.partial_cmp(b).unwrap());
      out[y * w + x] = v[v.len() / 2];
    }
  }
  out
}

fn naive_minmax(src: &[f64], h: usize, w: usize, fp: Footprint, min: bool) -> Vec<f64> {
  let mut out = vec![0.0; h * w];
  for y in 0..h {
    for x in 0..w {
      let mut m = src[y * w + x];
      for (dy, dx) in fp.offsets() {
        let (yy, xx) = (y as isize + dy, x as isize + dx);
        if yy < 0 || xx < 0 || yy >= h as isize || xx >= w as isize {
          continue;
        }
        let v = src[yy as usize * w + xx as usize];
        m = if min { m.min(v) } else { m.max(v) };
      }
      out[y * w + x] = m;
    }
  }
  out
}

#[test]
fn median_and_minmax_match_brute_force() {
  for &(h, w) in &[(1, 1), (1, 9), (7, 1), (2, 3), (9, 14), (31, 40), (20, 300)] {
    for shape in [Shape::Disk, Shape::Square] {
      for r in [0, 1, 2, 3, 4, 5, 8] {
        for levels in [3u64, 60000] {
          let fp = Footprint { shape, radius: r };
          let s: Vec<u16> = noise(h * w, (h * 31 + w + r) as u64, levels).into_iter().map(|v| v as u16).collect();
          let f: Vec<f64> = s.iter().map(|&v| v as f64).collect();
          let mut out = vec![0u16; h * w];
          median_plane(&s, h, w, fp, &mut out);
          let got: Vec<f64> = out.iter().map(|&v| v as f64).collect();
          assert_eq!(got, naive_median(&f, h, w, fp), "median {h}x{w} {shape:?} r={r}");
          let fs: Vec<f32> = s.iter().map(|&v| v as f32 * 0.5 - 7.0).collect();
          let mut fo = vec![0f32; h * w];
          median_plane(&fs, h, w, fp, &mut fo);
          let want: Vec<f32> = naive_median(&fs.iter().map(|&v| v as f64).collect::<Vec<_>>(), h, w, fp)
            .into_iter()
            .map(|v| v as f32)
            .collect();
          assert_eq!(fo, want, "median f32 {h}x{w} {shape:?} r={r}");
          for min in [true, false] {
            if min {
              erode_plane(&s, h, w, fp, &mut out)
            } else {
              dilate_plane(&s, h, w, fp, &mut out)
            };
            let got: Vec<f64> = out.iter().map(|&v| v as f64).collect();
            assert_eq!(got, naive_minmax(&f, h, w, fp, min), "min={min} {h}x{w} {shape:?} r={r}");
          }
        }
      }
    }
  }
}

#[test]
fn selection_network_selects() {
  for n in 2..=64 {
    let k = n / 2;
    let net = median::tests_api::network(n, k);
    for seed in 0..30u64 {
      let v: Vec<u64> = noise(n, seed * 977 + n as u64, 7 + seed * 13);
      let mut wires: Vec<u64> = v.clone();
      for &(a, b) in &net {
        let (p, q) = (wires[a], wires[b]);
        wires[a] = p.min(q);
        wires[b] = p.max(q);
      }
      let mut s = v.clone();
      s.sort();
      assert_eq!(wires[k], s[k], "n={n}");
    }
  }
}

#[test]
fn nan_windows_do_not_panic() {
  let (h, w) = (9, 11);
  let mut s: Vec<f32> = noise(h * w, 3, 100).into_iter().map(|v| v as f32).collect();
  s[17] = f32::NAN;
  s[18] = f32::NAN;
  let mut o = vec![0f32; h * w];
  for shape in [Shape::Disk, Shape::Square] {
    for r in [1, 3, 6] {
      let fp = Footprint { shape, radius: r };
      median_plane(&s, h, w, fp, &mut o);
      erode_plane(&s, h, w, fp, &mut o);
      assert!(o.iter().all(|v| !v.is_nan()));
      black_tophat_plane(&s, h, w, fp, &mut o);
      mean_disk_plane(&s, h, w, r, &mut o);
      mean_square_plane(&s, h, w, r, &mut o);
    }
  }
}

/// Times medianFilter (disk 3) on 4×1024×1024 uint16 (`cargo test --release -- --ignored --nocapture bench_median`).
#[test]
#[ignore]
fn bench_median_disk3() {
  let a = stack_u16(4, 1024, 1024);
  for _ in 0..5 {
    let t = std::time::Instant::now();
    run_named("medianFilter", &a, r#"{"radius": 3}"#, &[], &Cancel::none()).unwrap();
    println!("medianFilter disk(3) 4x1024x1024 u16: {:.1} ms", t.elapsed().as_secs_f64() * 1e3);
  }
}
