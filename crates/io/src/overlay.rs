//! Overlay PNGs: one slice contrast-stretched to 8-bit grey (0.5th–99.5th percentile, so a dim
//! raw image is visible), detections drawn as circles, encoded with the `png` crate.

use stackbridge_core::{with_dtype, Element, HostArray, SbError, SbResult};

/// A detection to draw: centre in pixels (x right, y down) and radius.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Circle {
  pub x: f64,
  pub y: f64,
  pub r: f64,
}

const COLOR: [u8; 3] = [255, 64, 160];

/// Low and high stretch limits of `v` (finite values only), by partial selection.
fn limits(v: &[f64]) -> (f64, f64) {
  let mut s: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
  if s.is_empty() {
    return (0.0, 1.0);
  }
  let at = |s: &mut Vec<f64>, q: f64| {
    let k = ((s.len() - 1) as f64 * q).round() as usize;
    *s.select_nth_unstable_by(k, |a, b| a.total_cmp(b)).1
  };
  let lo = at(&mut s, 0.005);
  let hi = at(&mut s, 0.995);
  if hi > lo {
    (lo, hi)
  } else {
    (lo, lo + 1.0)
  }
}

/// The overlay of slice `z` of `a` ([Y, X] or [Z, Y, X], any dtype) with `circles`, as PNG bytes.
pub fn overlay_png(a: &HostArray, z: usize, circles: &[Circle]) -> SbResult<Vec<u8>> {
  let (n, h, w) = match a.shape.as_slice() {
    [h, w] => (1, *h, *w),
    [n, h, w] => (*n, *h, *w),
    s => return Err(SbError::dimension(format!("an overlay needs a [Y, X] or [Z, Y, X] image, got shape {s:?}"))),
  };
  if z >= n {
    return Err(SbError::invalid(format!("slice {z} is out of range for {n} slices")));
  }
  let p = a.pin()?;
  let vals: Vec<f64> = with_dtype!(a.dtype, T => p.as_slice::<T>()[z * h * w..(z + 1) * h * w].iter().map(|&v| v.to_f64()).collect());
  let (lo, hi) = limits(&vals);
  let mut rgb: Vec<u8> = vals.iter().flat_map(|&v| {
    let g = (((v - lo) / (hi - lo)).clamp(0.0, 1.0) * 255.0).round() as u8;
    [g, g, g]
  }).collect();
  for c in circles {
    draw_circle(&mut rgb, w, h, *c);
  }
  let mut out = Vec::new();
  {
    let mut enc = png::Encoder::new(&mut out, w as u32, h as u32);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let mut wr = enc.write_header().map_err(|e| SbError::invalid(format!("cannot encode PNG ({e})")))?;
    wr.write_image_data(&rgb).map_err(|e| SbError::invalid(format!("cannot encode PNG ({e})")))?;
  }
  Ok(out)
}

/// A two-pixel ring (every pixel within a pixel of the radius, at least radius 2): visible on thumbnails.
fn draw_circle(rgb: &mut [u8], w: usize, h: usize, c: Circle) {
  let r = c.r.max(2.0);
  let (x0, x1) = ((c.x - r - 1.0).floor().max(0.0) as usize, ((c.x + r + 1.0).ceil() as usize).min(w.saturating_sub(1)));
  let (y0, y1) = ((c.y - r - 1.0).floor().max(0.0) as usize, ((c.y + r + 1.0).ceil() as usize).min(h.saturating_sub(1)));
  if !(c.x.is_finite() && c.y.is_finite()) || x0 > x1 || y0 > y1 {
    return;
  }
  for y in y0..=y1 {
    for x in x0..=x1 {
      let d = ((x as f64 - c.x).powi(2) + (y as f64 - c.y).powi(2)).sqrt();
      if (d - r).abs() <= 1.0 {
        rgb[(y * w + x) * 3..(y * w + x) * 3 + 3].copy_from_slice(&COLOR);
      }
    }
  }
}
