//! Set operations: binary (DESIGN §12). Per Z slice on the mask `slice != 0` (any dtype; NaN is
//! nonzero, as numpy's `!= 0`), result uint8 0/1.
//!
//! * `binaryDilation`, `binaryErosion`, `binaryOpening`, `binaryClosing` `{ radius = 1, footprint =
//!   'disk' | 'square' }`: `scipy.ndimage.binary_*(x != 0, structure=skimage.morphology.disk(r)` or
//!   `np.ones((2r+1, 2r+1)))` with scipy's defaults: `border_value=0`, so outside the image is
//!   background — erosion removes every pixel whose footprint leaves the image, and closing
//!   (dilation then erosion) removes them too; opening is erosion then dilation.
//! * `binaryFillHoles`: `scipy.ndimage.binary_fill_holes(x != 0)` (default structure: the
//!   background is flooded from outside the image through edge neighbours).
//! * `removeSmallObjects({ minSize = 64, connectivity = 1 })`: `skimage.morphology.remove_small_objects(x != 0,
//!   min_size=minSize, connectivity=...)` of scikit-image 0.26, which passes the deprecated
//!   `min_size` on as `max_size`: components of **at most** `minSize` pixels are removed.
//! * `removeSmallHoles({ areaThreshold = 64, connectivity = 1 })`: `remove_small_holes(x != 0,
//!   area_threshold=...)`, likewise: background components (those touching the border included,
//!   as in scikit-image) of at most `areaThreshold` pixels are filled.
//!
//! The footprint methods count ones over each chord of the footprint with per-row prefix sums:
//! O(n·r) per slice, rows in parallel.

use super::{slices, Call, Output, SetOp};
use crate::morphology::chord_half_width;
use crate::segment::label;
use crate::segment::Connectivity;
use rayon::prelude::*;
use stackbridge_core::{with_dtype, DType, Element, SbError, SbResult};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Morph {
  Dilation,
  Erosion,
  Opening,
  Closing,
}

macro_rules! op {
  ($name:literal, $run:expr) => {
    SetOp { name: $name, separable: true, arrays: &[], keeps_dtype: false, special: None, run: $run }
  };
}

pub const OPS: &[SetOp] = &[
  op!("binaryDilation", |c| morph(c, Morph::Dilation)),
  op!("binaryErosion", |c| morph(c, Morph::Erosion)),
  op!("binaryOpening", |c| morph(c, Morph::Opening)),
  op!("binaryClosing", |c| morph(c, Morph::Closing)),
  op!("binaryFillHoles", fill_holes_op),
  op!("removeSmallObjects", |c| small(c, false)),
  op!("removeSmallHoles", |c| small(c, true)),
];

/// The largest radius accepted (the chords table has 2r + 1 entries).
const MAX_RADIUS: usize = 1 << 20;

/// Runs `f(mask slice as 0/1, output slice)` per Z slice into a new uint8 stack.
fn per_slice(call: &Call, f: impl Fn(&mut Vec<u8>, &mut [u8]) + Sync) -> SbResult<Output> {
  let dims = call.dims()?;
  let out = call.alloc(dims, DType::U8)?;
  {
    let src = call.input.pin()?;
    let o = out.pin()?;
    let plane = dims.plane();
    with_dtype!(call.input.dtype, T => slices(call.cancel, dims.z, src.as_slice::<T>(), plane, o.as_mut_slice::<u8>(), plane, |_, s, m| {
      let mut bin: Vec<u8> = s.iter().map(|&v| (v.to_f64() != 0.0) as u8).collect();
      f(&mut bin, m);
      Ok(())
    })?);
  }
  Ok(Output::array(out))
}

/// Reads the `{ radius, footprint }` of the binary morphology (unknown keys refused): the radius
/// and whether the footprint is the square.
pub fn morph_options(call: &Call) -> SbResult<(usize, bool)> {
  let p = call.params(&["radius", "footprint"])?;
  let r = p.usize("radius", 1)?;
  if r > MAX_RADIUS {
    return Err(SbError::invalid(format!("{}: option radius must be at most {MAX_RADIUS}, got {r}", call.name)).with("option", "radius"));
  }
  Ok((r, p.choice("footprint", "disk", &["disk", "square"])? == "square"))
}

fn morph(call: &Call, m: Morph) -> SbResult<Output> {
  let (r, square) = morph_options(call)?;
  // Half-widths of the footprint's rows dy = -r..=r.
  let chords: Vec<usize> = (0..=2 * r).map(|i| if square { r } else { chord_half_width(r, i.abs_diff(r)) }).collect();
  let dims = call.dims()?;
  let (h, w) = (dims.h, dims.w);
  per_slice(call, |bin, out| match m {
    Morph::Dilation => flat(bin, h, w, &chords, false, out),
    Morph::Erosion => flat(bin, h, w, &chords, true, out),
    Morph::Opening | Morph::Closing => {
      let mut tmp = vec![0u8; bin.len()];
      flat(bin, h, w, &chords, m == Morph::Opening, &mut tmp);
      flat(&tmp, h, w, &chords, m == Morph::Closing, out);
    }
  })
}

/// Binary erosion (`erode`) or dilation of the 0/1 plane `src` by the symmetric footprint whose row
/// `dy` (offset `dy - r`) spans `|dx| <= chords[dy]`, outside the image background (scipy's
/// `border_value=0`). With row prefix sums a chord is a window count: dilation keeps a pixel
/// when some window has a one, erosion when every window lies inside the image and is full.
fn flat(src: &[u8], h: usize, w: usize, chords: &[usize], erode: bool, out: &mut [u8]) {
  if src.is_empty() {
    return;
  }
  let r = chords.len() / 2;
  let mut pre = vec![0u32; h * (w + 1)];
  pre.par_chunks_mut(w + 1).zip(src.par_chunks(w)).for_each(|(p, row)| {
    for (x, &v) in row.iter().enumerate() {
      p[x + 1] = p[x] + v as u32;
    }
  });
  out.par_chunks_mut(w).enumerate().for_each(|(y, o)| {
    for (x, o) in o.iter_mut().enumerate() {
      let mut hit = erode;
      for (i, &hw) in chords.iter().enumerate() {
        let yy = y as isize + i as isize - r as isize;
        if yy < 0 || yy >= h as isize {
          if erode {
            hit = false;
            break;
          }
          continue;
        }
        let p = &pre[yy as usize * (w + 1)..(yy as usize + 1) * (w + 1)];
        let (x0, x1) = (x.saturating_sub(hw), (x + hw + 1).min(w));
        let ones = p[x1] - p[x0];
        if erode {
          if x < hw || x + hw >= w || ones as usize != 2 * hw + 1 {
            hit = false;
            break;
          }
        } else if ones > 0 {
          hit = true;
          break;
        }
      }
      *o = hit as u8;
    }
  });
}

fn fill_holes_op(call: &Call) -> SbResult<Output> {
  call.params(&[])?;
  let dims = call.dims()?;
  let (h, w) = (dims.h, dims.w);
  per_slice(call, |bin, out| fill_holes(bin, h, w, out))
}

/// `binary_fill_holes`: every pixel that is not background reachable from outside the image
/// through edge neighbours is foreground (an iterative flood from the border background).
fn fill_holes(bin: &[u8], h: usize, w: usize, out: &mut [u8]) {
  out.fill(1);
  let mut stack: Vec<usize> = Vec::new();
  let visit = |i: usize, out: &mut [u8], stack: &mut Vec<usize>| {
    if bin[i] == 0 && out[i] == 1 {
      out[i] = 0;
      stack.push(i);
    }
  };
  for x in 0..w {
    visit(x, out, &mut stack);
    visit((h - 1) * w + x, out, &mut stack);
  }
  for y in 0..h {
    visit(y * w, out, &mut stack);
    visit(y * w + w - 1, out, &mut stack);
  }
  while let Some(i) = stack.pop() {
    let (y, x) = (i / w, i % w);
    if y > 0 {
      visit(i - w, out, &mut stack);
    }
    if y + 1 < h {
      visit(i + w, out, &mut stack);
    }
    if x > 0 {
      visit(i - 1, out, &mut stack);
    }
    if x + 1 < w {
      visit(i + 1, out, &mut stack);
    }
  }
}

fn small(call: &Call, holes: bool) -> SbResult<Output> {
  let key = if holes { "areaThreshold" } else { "minSize" };
  let p = call.params(&[key, "connectivity"])?;
  let max_size = p.usize(key, 64)?;
  let conn = match p.usize("connectivity", 1) {
    Ok(1) => Connectivity::Four,
    Ok(2) => Connectivity::Eight,
    _ => return Err(SbError::invalid(format!("{}: option connectivity must be 1 or 2", call.name)).with("option", "connectivity")),
  };
  let dims = call.dims()?;
  let (h, w) = (dims.h, dims.w);
  per_slice(call, |bin, out| {
    // Holes: the objects of the inverted mask.
    let fg: Vec<bool> = bin.iter().map(|&b| (b != 0) != holes).collect();
    let (labels, n) = label(&fg, h, w, conn);
    let mut sizes = vec![0usize; n as usize + 1];
    for &l in &labels {
      sizes[l as usize] += 1;
    }
    for ((o, &l), &f) in out.iter_mut().zip(&labels).zip(&fg) {
      let keep = f && !(l > 0 && sizes[l as usize] <= max_size);
      *o = (keep != holes) as u8;
    }
  })
}

#[cfg(test)]
mod tests {
  use super::*;
  use stackbridge_core::{Cancel, ErrorCode, HostArray, MemoryType};

  fn stack<T: Element>(z: usize, h: usize, w: usize, v: &[T]) -> HostArray {
    let a = HostArray::alloc(vec![z, h, w], T::DTYPE, MemoryType::Numpy, false).unwrap();
    a.pin().unwrap().as_mut_slice::<T>().copy_from_slice(v);
    a
  }

  fn call(name: &str, a: &HostArray, opts: &str) -> SbResult<Vec<u8>> {
    let o = super::super::run(super::super::find(name).unwrap(), a, &[], opts, &Cancel::none())?;
    Ok(o.array.unwrap().pin().unwrap().as_slice::<u8>().to_vec())
  }

  #[test]
  fn option_errors() {
    let a = stack::<u8>(1, 2, 2, &[0, 1, 2, 3]);
    for (name, opts) in [
      ("binaryDilation", r#"{"radius": -1}"#),
      ("binaryErosion", r#"{"radius": 1.5}"#),
      ("binaryOpening", r#"{"footprint": "diamond"}"#),
      ("binaryClosing", r#"{"minSize": 3}"#),
      ("binaryFillHoles", r#"{"radius": 1}"#),
      ("removeSmallObjects", r#"{"connectivity": 3}"#),
      ("removeSmallObjects", r#"{"areaThreshold": 3}"#),
      ("removeSmallHoles", r#"{"minSize": 3}"#),
      ("removeSmallHoles", r#"{"connectivity": 0}"#),
    ] {
      assert_eq!(call(name, &a, opts).err().unwrap().code, ErrorCode::InvalidArgument, "{name} {opts}");
    }
  }

  #[test]
  fn empty_and_tiny() {
    for op in OPS {
      assert!(call(op.name, &stack::<u16>(0, 3, 3, &[]), "").unwrap().is_empty());
      assert!(call(op.name, &stack::<f32>(2, 0, 3, &[]), "").unwrap().is_empty());
      assert_eq!(call(op.name, &stack::<f32>(1, 1, 1, &[f32::NAN]), "").unwrap().len(), 1);
    }
    // Erosion of a full 1×3 row by a radius-1 disk: every pixel's footprint leaves the image.
    assert_eq!(call("binaryErosion", &stack::<u8>(1, 1, 3, &[1, 1, 1]), "").unwrap(), vec![0, 0, 0]);
    assert_eq!(call("binaryDilation", &stack::<i16>(1, 1, 3, &[0, -2, 0]), "").unwrap(), vec![1, 1, 1]);
    assert_eq!(call("binaryDilation", &stack::<u8>(1, 1, 3, &[0, 1, 0]), r#"{"radius": 0}"#).unwrap(), vec![0, 1, 0]);
  }
}
