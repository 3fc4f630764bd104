//! `countCellsSingleChannel`: scaling, preprocessing and detection on the device,
//! bookkeeping (blob pruning, region properties, results) on the host with stackbridge-kernels.
//!
//! Per chunk of slices (program "blob", whole slices, at most [`CHUNK_ELEMS`] pixels unless one
//! slice is larger):
//! - `img_as_float` on the device (`to_unit`; 8- and 16-bit inputs through a host-computed table of
//!   `count::img_as_float`, exact on any device), then the optional preprocessing with the float32
//!   building blocks of `filters` (`gaussian_f32`, mode 'nearest', then `median_disk_f32`).
//! - `blob_log` / `blob_dog`: the scale-space planes are computed on the device one after the
//!   other (a rolling window of three planes, as the CPU's bands do) with kernels that repeat the
//!   CPU's f32 arithmetic operation for operation (same taps, same order, FMA exactly where the
//!   host build has it), so the cube is the CPU's bit for bit. The 3×3×3 peak test runs on each
//!   plane as it completes and appends the peaks through an atomic counter; the host orders them,
//!   prunes overlapping blobs and builds the results with `blob::{order_peaks, finish}` and
//!   `count::blob_cells`, reading intensities from the downloaded preprocessed image.
//! - `watershed` / `threshold`: the preprocessed float image is downloaded and segmented on the
//!   host with the CPU's own functions (`count::detect`: Otsu / Li threshold, small and border
//!   object removal, distance transform, peak markers, watershed, labelling, region properties).
//!   These are sequential flood-fill / queue algorithms with no data-parallel form worth a device.
//!
//! Masks (`returnSegmentationMask`) are drawn on the host as the CPU draws them.
//! Differences from the CPU: none where the filters module's float32 blocks are exact (a device
//! with fp64); the scaling and the scale space are exact on any device, except an int32 input on a
//! device without fp64, which scales in f32.

use crate::{long, type_defines, Gpu};
use crate::Arg::{Acc, Buf, F32, I32, U32};
use crate::proc::filters::{gaussian_f32, median_disk_f32};
use stackbridge_core::{DType, HostArray, SbResult};
use stackbridge_kernels::blob::{blob_dog_sigmas, blob_log_sigmas, finish, order_peaks, threshold_f32, BlobDogParams, BlobLogParams, Peak};
use stackbridge_kernels::count::{blob_cells, detect, img_as_float, slice_result, CountParams, DetectionMethod, SliceResult};
use stackbridge_kernels::gaussian::{kernel1d, kernel_radius, BorderMode, LogKernel};
use stackbridge_kernels::image::dtype_scale;
use stackbridge_kernels::Dims;

/// Pixels per chunk of slices processed together (each device temporary holds one chunk).
pub const CHUNK_ELEMS: usize = 1 << 22;

/// Per-slice results and the optional int32 masks (as `stackbridge_kernels::count::count_cells`).
pub fn count_cells<C: Gpu>(ctx: &C, input: &HostArray, dims: Dims, p: &CountParams) -> SbResult<(Vec<SliceResult>, Option<Vec<i32>>)> {
  dims.check_len(input.numel(), "input")?;
  dims.require_nonempty("countCellsSingleChannel")?;
  p.validate()?;
  // The CPU kernels fuse these multiply-adds at every level (gaussian::Real::fma).
  let fma = " -D SB_FMA=1";
  let prog = ctx.program("blob", &format!("{}{fma}", type_defines(ctx, "T_IN", input.dtype)?))?;
  let scale = dtype_scale(input.dtype);
  let space = ScaleSpace::new(p, dims)?;
  let lut = match input.dtype {
    DType::U8 => Some(0i32..256),
    DType::U16 => Some(0..65536),
    DType::I16 => Some(-32768..32768),
    _ => None,
  }
  .map(|range| {
    let lo = range.start;
    let table: Vec<f32> = range.map(|v| img_as_float(v as f64, 1.0 / scale)).collect();
    ctx.upload(&table).map(|b| (b, lo))
  })
  .transpose()?;

  let src = ctx.wrap(input)?;
  let plane = dims.plane();
  let per = (CHUNK_ELEMS / plane).clamp(1, dims.z);
  let n_max = per * plane;
  let prep = [ctx.alloc(vec![n_max], DType::F32, ctx.temp_memory_type())?, ctx.alloc(vec![n_max], DType::F32, ctx.temp_memory_type())?];
  let work = match &space {
    Some(_) => Some(Work::new(ctx, n_max)?),
    None => None,
  };
  let mut taps = Taps::default();
  let mut results = Vec::with_capacity(dims.z);
  let mut masks = p.return_segmentation_mask.then(|| Vec::with_capacity(dims.len()));
  for z0 in (0..dims.z).step_by(per) {
    let cd = Dims::new(per.min(dims.z - z0), dims.h, dims.w);
    let n = cd.len();
    // img_as_float, then gaussian and median, ping-ponging between the two prepared buffers.
    let mut cur = 0;
    match &lut {
      Some((table, lo)) => ctx.launch(&prog, "to_unit_lut", &[n], &[Buf(&src), Buf(&prep[0].1), Buf(table), long(z0 * plane), long(n), I32(*lo)])?,
      None => ctx.launch(&prog, "to_unit", &[n], &[Buf(&src), Buf(&prep[0].1), long(z0 * plane), long(n), Acc(1.0 / scale)])?,
    }
    if p.enable_preprocessing {
      if p.gaussian_sigma > 0.0 {
        gaussian_f32(ctx, &prep[cur].1, cd, p.gaussian_sigma, BorderMode::Nearest, &prep[1 - cur].1)?;
        cur = 1 - cur;
      }
      if p.median_disk_size > 0 {
        median_disk_f32(ctx, &prep[cur].1, cd, p.median_disk_size, &prep[1 - cur].1)?;
        cur = 1 - cur;
      }
    }
    let peaks = match (&space, &work) {
      (Some(s), Some(wk)) => Some(s.peaks(ctx, &prog, &prep[cur].1, cd, wk, &mut taps)?),
      _ => None,
    };
    // The preprocessed image on the host (in place where the device shares host memory).
    let found = ctx.with_host::<f32, _>(&prep[cur].0, &prep[cur].1, |all| {
      let img = &all[..n];
      par_map(cd.z, |z| {
        let slice = &img[z * plane..(z + 1) * plane];
        let cells = match (&space, &peaks) {
          (Some(s), Some(pk)) => {
            let blobs = finish(order_peaks(pk[z].clone(), s.planes(), dims.h, dims.w), &s.sigmas, p.overlap);
            blob_cells(&blobs, slice, dims.w, p, scale)
          }
          _ => detect(slice, dims.h, dims.w, p, scale)?,
        };
        Ok(slice_result(z0 + z, &cells, dims, p))
      })
    })??;
    for (res, mask) in found {
      results.push(res);
      if let (Some(all), Some(m)) = (masks.as_mut(), mask) {
        all.extend_from_slice(&m);
      }
    }
  }
  Ok((results, masks))
}


/// `f(i)` for `i in 0..n` on scoped threads (the host bookkeeping of independent slices).
fn par_map<R: Send>(n: usize, f: impl Fn(usize) -> SbResult<R> + Sync) -> SbResult<Vec<R>> {
  let threads = std::thread::available_parallelism().map_or(1, |t| t.get()).min(n).max(1);
  if threads == 1 {
    return (0..n).map(&f).collect();
  }
  let per = n.div_ceil(threads);
  let f = &f;
  let parts: Vec<SbResult<Vec<R>>> = std::thread::scope(|s| {
    let handles: Vec<_> = (0..n).step_by(per).map(|i0| s.spawn(move || (i0..(i0 + per).min(n)).map(f).collect::<SbResult<Vec<R>>>())).collect();
    handles.into_iter().map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))).collect()
  });
  let mut out = Vec::with_capacity(n);
  for part in parts {
    out.extend(part?);
  }
  Ok(out)
}

/// Device temporaries of the scale space, one chunk each.
struct Work<C: Gpu> {
  /// The rolling window of three planes.
  planes: [C::Buf; 3],
  /// Intermediate passes (LoG: both vertical passes; DoG: the vertical pass and G(σᵢ), G(σᵢ₊₁)).
  t: [C::Buf; 4],
}

impl<C: Gpu> Work<C> {
  fn new(ctx: &C, n: usize) -> SbResult<Work<C>> {
    let t = || ctx.temp(DType::F32, n.max(1));
    Ok(Work { planes: [t()?, t()?, t()?], t: [t()?, t()?, t()?, t()?] })
  }
}

/// Tap buffers by scale (two buffers and the radius), uploaded on first use and kept until the
/// call ends: enqueued kernels may still read them.
struct Taps<C: Gpu>(Vec<Option<(C::Buf, C::Buf, usize)>>);

impl<C: Gpu> Default for Taps<C> {
  fn default() -> Self {
    Taps(Vec::new())
  }
}

enum Kind {
  Log,
  Dog { sf: f32 },
}

/// The blob methods' scale space: sigmas (validated as the CPU validates them) and threshold.
struct ScaleSpace {
  kind: Kind,
  sigmas: Vec<f64>,
  threshold: f64,
}

impl ScaleSpace {
  /// `None` for the segmentation methods.
  fn new(p: &CountParams, dims: Dims) -> SbResult<Option<ScaleSpace>> {
    let (h, w) = (dims.h, dims.w);
    Ok(match p.detection_method {
      DetectionMethod::BlobLog => {
        let bp = BlobLogParams { min_sigma: p.min_sigma, max_sigma: p.max_sigma, num_sigma: p.num_sigma, threshold: p.threshold, overlap: p.overlap };
        Some(ScaleSpace { kind: Kind::Log, sigmas: blob_log_sigmas(h * w, h, w, &bp)?, threshold: p.threshold })
      }
      DetectionMethod::BlobDog => {
        let bp = BlobDogParams { min_sigma: p.min_sigma, max_sigma: p.max_sigma, sigma_ratio: 1.6, threshold: p.threshold, overlap: p.overlap };
        let sigmas = blob_dog_sigmas(h * w, h, w, &bp)?;
        // blob_dog checks the largest kernel for a non-empty image.
        kernel_radius(sigmas[sigmas.len() - 1], 4.0)?;
        Some(ScaleSpace { kind: Kind::Dog { sf: (1.0 / (bp.sigma_ratio - 1.0)) as f32 }, sigmas, threshold: p.threshold })
      }
      DetectionMethod::Watershed | DetectionMethod::Threshold => None,
    })
  }

  fn planes(&self) -> usize {
    match self.kind {
      Kind::Log => self.sigmas.len(),
      Kind::Dog { .. } => self.sigmas.len() - 1,
    }
  }

  /// The taps of scale `i` (LoG: the half kernels of `-σ²·gaussian_laplace`; DoG: the full
  /// Gaussian and an unused buffer), or `None` for a sigma scipy skips.
  fn taps<'t, C: Gpu>(&self, ctx: &C, taps: &'t mut Taps<C>, i: usize) -> SbResult<Option<&'t (C::Buf, C::Buf, usize)>> {
    let s = self.sigmas[i];
    if !(s.is_finite() && s > 1e-15) {
      return Ok(None);
    }
    if taps.0.len() <= i {
      taps.0.resize_with(i + 1, || None);
    }
    if taps.0[i].is_none() {
      taps.0[i] = Some(match self.kind {
        Kind::Log => {
          let k = LogKernel::new(s, -(s * s)).expect("a positive finite sigma has a kernel");
          (ctx.upload(&k.ha)?, ctx.upload(&k.hb)?, k.radius())
        }
        Kind::Dog { .. } => {
          let t: Vec<f32> = kernel1d(s, 0, 4.0).iter().map(|&v| v as f32).collect();
          (ctx.upload(&t)?, ctx.upload(&[0f32])?, t.len() / 2)
        }
      });
    }
    Ok(taps.0[i].as_ref())
  }

  /// Gaussian `i` of `img` into `work.t[out]` (DoG), through `work.t[0]`.
  #[allow(clippy::too_many_arguments)]
  fn blur<C: Gpu>(&self, ctx: &C, prog: &C::Program, img: &C::Buf, cd: Dims, work: &Work<C>, taps: &mut Taps<C>, i: usize, out: usize) -> SbResult<()> {
    let g = [cd.w, cd.h, cd.z];
    let n = cd.len();
    match self.taps(ctx, taps, i)? {
      Some((t, _, r)) => {
        ctx.launch(prog, "sep_vert", &g, &[Buf(img), Buf(&work.t[0]), Buf(t), long(*r), long(cd.z), long(cd.h), long(cd.w)])?;
        ctx.launch(prog, "sep_horz", &g, &[Buf(&work.t[0]), Buf(&work.t[out]), Buf(t), long(*r), long(cd.z), long(cd.h), long(cd.w)])
      }
      None => ctx.launch(prog, "copy_f32", &[n], &[Buf(img), Buf(&work.t[out]), long(n)]),
    }
  }

  /// Cube plane `i` of `img` into `work.planes[dst]`. DoG keeps G(σᵢ) in `work.t[*g]` between
  /// calls (planes are requested in order from 0).
  #[allow(clippy::too_many_arguments)]
  fn fill<C: Gpu>(&self, ctx: &C, prog: &C::Program, img: &C::Buf, cd: Dims, work: &Work<C>, taps: &mut Taps<C>, i: usize, dst: usize, g: &mut usize) -> SbResult<()> {
    let grid = [cd.w, cd.h, cd.z];
    let n = cd.len();
    match self.kind {
      Kind::Log => match self.taps(ctx, taps, i)? {
        Some((ha, hb, r)) => {
          let (t, z, h, w) = (&work.t, long(cd.z), long(cd.h), long(cd.w));
          ctx.launch(prog, "log_vert", &grid, &[Buf(img), Buf(&t[0]), Buf(&t[1]), Buf(ha), Buf(hb), long(*r), z, h, w])?;
          let (z, h, w) = (long(cd.z), long(cd.h), long(cd.w));
          ctx.launch(prog, "log_horz", &grid, &[Buf(&t[0]), Buf(&t[1]), Buf(&work.planes[dst]), Buf(ha), Buf(hb), long(*r), z, h, w])
        }
        None => {
          let s2 = self.sigmas[i] * self.sigmas[i];
          ctx.launch(prog, "scaled_copy", &[n], &[Buf(img), Buf(&work.planes[dst]), long(n), Acc(-2.0 * s2)])
        }
      },
      Kind::Dog { sf } => {
        if i == 0 {
          *g = 2;
          self.blur(ctx, prog, img, cd, work, taps, 0, *g)?;
        }
        // work.t[2] and work.t[3] alternate between G(σᵢ) and G(σᵢ₊₁).
        let next = 5 - *g;
        self.blur(ctx, prog, img, cd, work, taps, i + 1, next)?;
        ctx.launch(prog, "dog_diff", &[n], &[Buf(&work.t[*g]), Buf(&work.t[next]), Buf(&work.planes[dst]), long(n), F32(sf)])?;
        *g = next;
        Ok(())
      }
    }
  }

  /// Every slice's peaks (unordered) over the chunk `img` of dims `cd`: each plane is tested as
  /// soon as the next one exists. When more peaks are found than the record buffer holds, the
  /// scale space is computed again with room for them all, skipping slices where every cube value
  /// is a peak (those have none, scikit-image's "trivial image").
  fn peaks<C: Gpu>(&self, ctx: &C, prog: &C::Program, img: &C::Buf, cd: Dims, work: &Work<C>, taps: &mut Taps<C>) -> SbResult<Vec<Vec<Peak>>> {
    let planes = self.planes();
    let per_slice = planes * cd.plane();
    let t32 = threshold_f32(self.threshold);
    let grid = [cd.w, cd.h, cd.z];
    let mut cap = (cd.len() * planes / 32).clamp(1024, 1 << 20);
    let mut skip = vec![0i32; cd.z];
    loop {
      let counts = ctx.upload(&vec![0i32; cd.z + 1])?;
      let skip_buf = ctx.upload(&skip)?;
      let rec = ctx.temp(DType::I32, 3 * cap)?;
      let val = ctx.temp(DType::F32, cap)?;
      let mut g = 2;
      let (mut lo, mut cur, mut up) = (0usize, 1usize, 2usize);
      self.fill(ctx, prog, img, cd, work, taps, 0, cur, &mut g)?;
      for i in 0..planes {
        let have_up = i + 1 < planes;
        if have_up {
          self.fill(ctx, prog, img, cd, work, taps, i + 1, up, &mut g)?;
        }
        let l = if i > 0 { lo } else { cur };
        let u = if have_up { up } else { cur };
        let pl = &work.planes;
        ctx.launch(
          prog,
          "scale_peaks",
          &grid,
          &[
            Buf(&pl[l]),
            Buf(&pl[cur]),
            Buf(&pl[u]),
            long(cd.z),
            long(cd.h),
            long(cd.w),
            U32(i as u32),
            F32(t32),
            Buf(&skip_buf),
            Buf(&counts),
            Buf(&rec),
            Buf(&val),
            U32(cap as u32),
          ],
        )?;
        (lo, cur, up) = (cur, up, lo);
      }
      // The blocking read waits for every kernel of the queue.
      // (uint on the device; i32 is the engine type of the same width.)
      let c: Vec<u32> = ctx.read::<i32>(&counts)?.into_iter().map(|v| v as u32).collect();
      let total = c[0] as usize;
      if total <= cap {
        let rec: Vec<u32> = ctx.read::<i32>(&rec)?.into_iter().map(|v| v as u32).collect();
        let val = ctx.read::<f32>(&val)?;
        let mut out = vec![Vec::new(); cd.z];
        for k in 0..total {
          let zy = rec[3 * k] as usize;
          let (z, y) = (zy / cd.h, zy % cd.h);
          out[z].push(Peak { v: val[k], y: y as u32, x: rec[3 * k + 1], s: rec[3 * k + 2] });
        }
        return Ok(out);
      }
      cap = 0;
      for (z, s) in skip.iter_mut().enumerate() {
        if *s == 0 && c[1 + z] as usize == per_slice {
          *s = 1;
        }
        if *s == 0 {
          cap += c[1 + z] as usize;
        }
      }
      cap = cap.max(1);
    }
  }
}
