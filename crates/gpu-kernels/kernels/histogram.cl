/* Histograms and the maps built from them (percentile normalisation, histogram equalisation).
 * T_IN is the stack's element type (T_IN_IS_FLOAT 0/1). The host turns the counts into percentiles
 * / a cdf / a lookup table with stackbridge-kernels' own code; these kernels only count and map.
 *
 * Floating-point expressions are split into one operation per statement so that no compiler
 * contracts a multiply and an add into an FMA (the CPU oracle rounds each operation). */

/* The same for a uint16 result. */
SB_DEVICE_FN ushort sb_sat_u16(acc_t v) {
  if (v != v) return (ushort)0;
  if (v <= (acc_t)0) return (ushort)0;
  if (v >= (acc_t)65535) return (ushort)65535;
  return (ushort)v;
}

/* The value-table index of x for u8 / u16 / i16: x - min(T). */
SB_DEVICE_FN long sb_lut_index(T_IN x) {
#if T_IN_IS_FLOAT
  return 0;
#else
  /* i16 is the only signed dtype with a table */
  const long off = (((T_IN)(-1)) < (T_IN)0) ? ((long)1 << ((int)sizeof(T_IN) * 8 - 1)) : 0;
  return (long)x + off;
#endif
}

/* An acc_t value rounded to T_IN's precision when T_IN is float32 (numpy computes in float32 there). */
SB_KERNEL void zero_u32(SB_GLOBAL uint* p, long n) {
  long i = SB_GID(0);
  if (i >= n) return;
  p[i] = 0u;
}

/* Value histograms of the elements [start, start + count) of src, one of nbins counters per block of
 * `block` consecutive elements (a Z slice, or the whole range). */
SB_KERNEL void value_hist(SB_CONST_GLOBAL T_IN* src, SB_GLOBAL uint* hist, long start, long count, long block, long nbins) {
  long i = SB_GID(0);
  if (i >= count) return;
  long b = i / block;
  SB_ATOMIC_ADD_U32(&hist[b * nbins + sb_lut_index(src[start + i])], 1u);
}

/* dst[e] = lut[block of e][index of src[e]] over [start, start + count) (percentile normalisation). */
SB_KERNEL void lut_map_u16(SB_CONST_GLOBAL T_IN* src, SB_GLOBAL ushort* dst, SB_CONST_GLOBAL ushort* lut, long start, long count,
                           long block, long nbins) {
  long i = SB_GID(0);
  if (i >= count) return;
  long b = i / block;
  dst[start + i] = lut[b * nbins + sb_lut_index(src[start + i])];
}

/* dst[i] = lut[index of src[i]] with a table of T_IN (histogram equalisation). */
SB_KERNEL void lut_map_t(SB_CONST_GLOBAL T_IN* src, SB_GLOBAL T_IN* dst, SB_CONST_GLOBAL T_IN* lut, long n) {
  long i = SB_GID(0);
  if (i >= n) return;
  dst[i] = lut[sb_lut_index(src[i])];
}

/* Percentile stretch to uint16 with the percentiles (pl, ph) = pct[2b], pct[2b + 1] of block b:
 * ((clip(x, pl, ph) - pl) * range / (ph - pl) + tmin) truncated, or tmin when pl == ph. */
SB_KERNEL void normalize_map(SB_CONST_GLOBAL T_IN* src, SB_GLOBAL ushort* dst, SB_CONST_GLOBAL acc_t* pct, long n, long block,
                             acc_t tmin, acc_t range) {
  long i = SB_GID(0);
  if (i >= n) return;
  long b = i / block;
  acc_t pl = pct[2 * b];
  acc_t ph = pct[2 * b + 1];
  if (pl == ph) {
    dst[i] = sb_sat_u16(tmin);
    return;
  }
  acc_t x = (acc_t)src[i];
  /* np.clip = minimum(maximum(x, pl), ph) with NaN propagation */
  acc_t m = (x != x || x >= pl) ? x : pl;
  m = (m != m || m <= ph) ? m : ph;
  acc_t den = ph - pl;
  acc_t v = m - pl;
  v = v * range;
  v = v / den;
  v = v + tmin;
  dst[i] = sb_sat_u16(v);
}

/* numpy's uniform bin of x (lo_cmp <= x <= hi_cmp) with its +-1 corrections against the edges. */
SB_DEVICE_FN long sb_bin_index(acc_t x, SB_CONST_GLOBAL acc_t* edges, long nb, acc_t lo_cmp, acc_t denom) {
  acc_t d = SB_R(x - lo_cmp);
  acc_t f = d / denom;
  f = f * (acc_t)nb;
  long i = (long)f;
  if (i >= nb) i = nb - 1;
  if (x < edges[i] && i > 0) i -= 1;
  if (x >= edges[i + 1] && i != nb - 1) i += 1;
  return i;
}

/* np.histogram(src, nb, range) counts for dtypes without a value table (edges: nb + 1 values). */
SB_KERNEL void bin_hist(SB_CONST_GLOBAL T_IN* src, SB_GLOBAL uint* hist, SB_CONST_GLOBAL acc_t* edges, long n, long nb, acc_t lo_cmp,
                        acc_t hi_cmp, acc_t denom) {
  long i = SB_GID(0);
  if (i >= n) return;
  acc_t x = (acc_t)src[i];
  if (!(x >= lo_cmp && x <= hi_cmp)) return;
  SB_ATOMIC_ADD_U32(&hist[sb_bin_index(x, edges, nb, lo_cmp, denom)], 1u);
}

/* numpy's np.interp(x, xp[0..len), fp) for strictly increasing xp, starting from segment `guess`. */
SB_DEVICE_FN acc_t sb_interp(acc_t x, SB_CONST_GLOBAL acc_t* xp, SB_CONST_GLOBAL acc_t* fp, long len, long guess) {
  if (x != x) return x;
  if (x < xp[0]) return fp[0];
  if (x >= xp[len - 1]) return fp[len - 1];
  long j = guess < len - 2 ? guess : len - 2;
  while (x < xp[j]) j -= 1;
  while (x >= xp[j + 1]) j += 1;
  if (xp[j] == x) return fp[j];
  acc_t slope = fp[j + 1] - fp[j];
  acc_t dx = xp[j + 1] - xp[j];
  slope = slope / dx;
  acc_t t = x - xp[j];
  acc_t r = slope * t;
  r = r + fp[j];
  if (r != r) {
    t = x - xp[j + 1];
    r = slope * t;
    r = r + fp[j + 1];
    if (r != r && fp[j] == fp[j + 1]) r = fp[j];
  }
  return r;
}

/* Histogram equalisation map for dtypes without a value table: interp over the left edges, then
 * numpy's clip to the integer range and the cast. */
SB_KERNEL void equalize_map(SB_CONST_GLOBAL T_IN* src, SB_GLOBAL T_IN* dst, SB_CONST_GLOBAL acc_t* edges, SB_CONST_GLOBAL acc_t* cdf, long n,
                            long nb, acc_t lo_cmp, acc_t hi_cmp, acc_t denom) {
  long i = SB_GID(0);
  if (i >= n) return;
  acc_t x = (acc_t)src[i];
  long guess = (x >= lo_cmp && x <= hi_cmp) ? sb_bin_index(x, edges, nb, lo_cmp, denom) : 0;
  acc_t y = sb_interp(x, edges, cdf, nb, guess);
#if !T_IN_IS_FLOAT
  {
    const int sgn = ((T_IN)(-1)) < (T_IN)0;
    const int bits = (int)sizeof(T_IN) * 8;
    const long maxv = sgn ? (((long)1 << (bits - 1)) - 1) : (((long)1 << bits) - 1);
    const long minv = sgn ? -maxv - 1 : 0;
    y = fmin(fmax(y, (acc_t)minv), (acc_t)maxv);
  }
#endif
  dst[i] = sb_sat(y);
}
