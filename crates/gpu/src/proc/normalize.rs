//! Percentile normalisation and histogram equalisation (histogram on the device,
//! percentiles / CDF on the host, lookup-table or formula map on the device).
//!
//! u8 / u16 / i16 stacks: the device counts every value (`value_hist`), the host turns the counts into
//! percentiles and the lookup table with stackbridge-kernels' own code (`ValueHistogram`,
//! `Stretch`, `stretch_table` / `EqualizeMap`, `equalize_table`), and the device gathers. i32 / f32 /
//! f64 stacks: percentiles on the host (stackbridge-kernels `percentiles` over the array's
//! host-addressable memory) and the stretch formula on the device; for equalisation the device bins
//! the values with numpy's rule, the host builds the cdf, and the device interpolates.
//! Counters are 32-bit: one block (a slice, or the whole stack) may hold up to 2^32 - 1 elements of
//! one value.

use crate::{long, type_defines, Gpu};
use crate::Arg::{Acc, Buf};
use stackbridge_core::{with_dtype, DType, Element, HostArray, SbResult};
use stackbridge_kernels::normalize::{stretch_table, NormalizeParams, Stretch};
use stackbridge_kernels::percentile::{lut_bits, percentiles, ValueHistogram};
use stackbridge_kernels::pointwise::{check_equalize_params, equalize_table, value_hist_bins, Bins, EqualizeMap, EqualizeParams};
use stackbridge_kernels::Dims;

/// Most counters (and table entries) held on the device at once: blocks are processed in passes.
const MAX_COUNTERS: usize = 1 << 24;

/// Sets the first `n` 32-bit counters of `buf` to zero.
fn zero<C: Gpu>(ctx: &C, prog: &C::Program, buf: &C::Buf, n: usize) -> SbResult<()> {
  ctx.launch(prog, "zero_u32", &[n], &[Buf(buf), long(n)])
}

/// The value histograms (`nbins` counters each) of `nb` blocks of `block` elements from element
/// `start` (`blocks` = (start, nb, block)), read back.
fn value_counts<C: Gpu>(ctx: &C, prog: &C::Program, src: &C::Buf, hist: &C::Buf, blocks: (usize, usize, usize), nbins: usize) -> SbResult<Vec<u64>> {
  let (start, nb, block) = blocks;
  zero(ctx, prog, hist, nb * nbins)?;
  ctx.launch(prog, "value_hist", &[nb * block], &[Buf(src), Buf(hist), long(start), long(nb * block), long(block), long(nbins)])?;
  // In-order queue: the blocking read follows the kernel.
  let raw = ctx.read::<i32>(&hist)?;
  Ok(raw[..nb * nbins].iter().map(|&c| c as u32 as u64).collect())
}

/// `stackPercentileNormalize` (`per_slice` false) / `percentileNormalize` (true) → uint16 `out`.
/// `input` is the array behind `src`.
pub fn normalize<C: Gpu>(ctx: &C, src: &C::Buf, input: &HostArray, dims: Dims, per_slice: bool, p: &NormalizeParams, out: &C::Buf) -> SbResult<()> {
  p.validate()?;
  dims.require_nonempty(if per_slice { "percentileNormalize input" } else { "stackPercentileNormalize input" })?;
  let dtype = input.dtype;
  let qs = [p.low_percentile, p.high_percentile];
  let n = dims.len();
  let block = if per_slice { dims.plane() } else { n };
  let nblocks = n / block;
  let prog = ctx.program("histogram", &type_defines(ctx, "T_IN", dtype)?)?;
  match lut_bits(dtype) {
    Some(bits) => {
      let nbins = 1usize << bits;
      let per_pass = (MAX_COUNTERS / nbins).clamp(1, nblocks);
      let hist = ctx.temp(DType::I32, per_pass * nbins)?;
      let mut lut = ctx.temp(DType::U16, per_pass * nbins)?;
      let mut b0 = 0;
      while b0 < nblocks {
        let nb = per_pass.min(nblocks - b0);
        let start = b0 * block;
        let counts = value_counts(ctx, &prog, src, &hist, (start, nb, block), nbins)?;
        let mut table = Vec::with_capacity(nb * nbins);
        for c in counts.chunks_exact(nbins) {
          let vh = ValueHistogram { dtype, counts: c.to_vec(), total: block as u64 };
          let pc = vh.percentiles_unchecked(&qs);
          table.extend(stretch_table(dtype, &Stretch::new(pc[0], pc[1], p)));
        }
        // Blocking write, after the previous pass's gather in the in-order queue.
        ctx.write(&mut lut, &table)?;
        ctx.launch(&prog, "lut_map_u16", &[nb * block], &[Buf(src), Buf(out), Buf(&lut), long(start), long(nb * block), long(block), long(nbins)])?;
        b0 += nb;
      }
      ctx.finish()
    }
    None => {
      // Exact percentiles of each block on the host (selection over the array's memory, or a
      // downloaded copy of device memory).
      let mut pct = Vec::with_capacity(2 * nblocks);
      with_dtype!(dtype, T => ctx.with_host::<T, _>(input, src, |data| -> SbResult<()> {
        for b in data.chunks_exact(block) {
          pct.extend(percentiles(b, &qs)?);
        }
        Ok(())
      })??);
      let pbuf = ctx.upload_acc(&pct)?;
      ctx.launch(
        &prog,
        "normalize_map",
        &[n],
        &[Buf(src), Buf(out), Buf(&pbuf), long(n), long(block), Acc(p.target_min), Acc(p.target_max - p.target_min)],
      )?;
      ctx.finish()
    }
  }
}

/// `stackEqualizeHistogram` → `out` of the input dtype.
pub fn equalize<C: Gpu>(ctx: &C, src: &C::Buf, input: &HostArray, dims: Dims, p: &EqualizeParams, out: &C::Buf) -> SbResult<()> {
  check_equalize_params(p)?;
  with_dtype!(input.dtype, T => equalize_as::<C, T>(ctx, src, dims, p, out))
}

fn equalize_as<C: Gpu, T: Element>(ctx: &C, src: &C::Buf, dims: Dims, p: &EqualizeParams, out: &C::Buf) -> SbResult<()> {
  let bins = Bins::new::<T>(p)?;
  if dims.is_empty() {
    return Ok(());
  }
  let n = dims.len();
  let dtype: DType = T::DTYPE;
  let prog = ctx.program("histogram", &type_defines(ctx, "T_IN", dtype)?)?;
  match lut_bits(dtype) {
    Some(bits) => {
      let nbins = 1usize << bits;
      let hist = ctx.temp(DType::I32, nbins)?;
      let counts = value_counts(ctx, &prog, src, &hist, (0, 1, n), nbins)?;
      let vh = ValueHistogram { dtype, counts, total: n as u64 };
      let h = value_hist_bins::<T>(&vh, &bins);
      let map = EqualizeMap::new(&bins, &h, dtype);
      let lut = ctx.upload::<T>(&equalize_table::<T>(&map))?;
      ctx.launch(&prog, "lut_map_t", &[n], &[Buf(src), Buf(out), Buf(&lut), long(n)])?;
      ctx.finish()
    }
    None => {
      let nb = bins.n;
      let edges = ctx.upload_acc(&bins.edges)?;
      let hist = ctx.temp(DType::I32, nb)?;
      zero(ctx, &prog, &hist, nb)?;
      let (lo, hi, den) = (Acc(bins.lo_cmp), Acc(bins.hi_cmp), Acc(bins.denom));
      ctx.launch(&prog, "bin_hist", &[n], &[Buf(src), Buf(&hist), Buf(&edges), long(n), long(nb), lo, hi, den])?;
      let h: Vec<u64> = ctx.read::<i32>(&hist)?[..nb].iter().map(|&c| c as u32 as u64).collect();
      let map = EqualizeMap::new(&bins, &h, dtype);
      let cdf = ctx.upload_acc(&map.cdf)?;
      let (lo, hi, den) = (Acc(bins.lo_cmp), Acc(bins.hi_cmp), Acc(bins.denom));
      ctx.launch(&prog, "equalize_map", &[n], &[Buf(src), Buf(out), Buf(&edges), Buf(&cdf), long(n), long(nb), lo, hi, den])?;
      ctx.finish()
    }
  }
}
