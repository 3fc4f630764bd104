/* Exact grey-scale erosion / dilation with the flat disk skimage.morphology.disk(r), clipped to
 * the image (stackbridge_kernels::morphology: scipy/skimage's reflect border reduces to the
 * extremum over the in-bounds part of the disk). M_T is the element type; `mx` selects max
 * (dilation) instead of min (erosion).
 *
 * Method: the disk is the union of its horizontal chords (row offset d, half-width halfw[d]).
 * Doubling tables per image row over the row padded with `pad` copies of its edge pixels on each
 * side (pw = w + 2 pad): level 0 is the padded row (morph_pad), level k holds the extremum over
 * [i, i + 2^k), built one level per launch of morph_level. Edge replication is exact: a window
 * [x - a, x + a] that sticks out of the row still contains the edge pixel it replicates. A chord
 * is then the extremum of overlapping level-k windows at the same offsets for every pixel (two
 * whenever it is at most 2^(K+1) long). Chords as wide as the row (d <= reach) use the per-row
 * extremum, folded over rows once per output row (morph_whole). */

#ifdef __OPENCL_VERSION__
#pragma OPENCL FP_CONTRACT OFF
#endif

/* The CPU's Pick: the accumulator `a` is kept unless `b` is strictly smaller (larger). */
SB_DEVICE_FN M_T sb_pick(M_T a, M_T b, int mx) {
  if (mx) return b > a ? b : a;
  return b < a ? b : a;
}

/* Level 0: tab[row][i] = src[row][clamp(i - pad, 0, w - 1)] (rows = slices * height). */
SB_KERNEL void morph_pad(SB_CONST_GLOBAL M_T* src, long src_off, SB_GLOBAL M_T* tab, long w, long pad, long rows) {
  long i = SB_GID(0), y = SB_GID(1);
  long pw = w + 2 * pad;
  if (i >= pw || y >= rows) return;
  long x = i - pad;
  x = x < 0 ? 0 : (x > w - 1 ? w - 1 : x);
  tab[y * pw + i] = src[src_off + y * w + x];
}

/* next[row][i] = extremum of prev over [i, i + 2 * span) (clipped to the padded row), where prev
 * holds windows of length `span`; rows are `pw` long. */
SB_KERNEL void morph_level(SB_CONST_GLOBAL M_T* prev, long prev_off, SB_GLOBAL M_T* next, long next_off, long pw, long rows,
                           long span, int mx) {
  long i = SB_GID(0), y = SB_GID(1);
  if (i >= pw || y >= rows) return;
  SB_CONST_GLOBAL M_T* p = prev + prev_off + y * pw;
  M_T v = p[i];
  if (i + span < pw) v = sb_pick(v, p[i + span], mx);
  next[next_off + y * pw + i] = v;
}

/* ext[row] = extremum of the whole row. */
SB_KERNEL void morph_row_extremum(SB_CONST_GLOBAL M_T* src, long off, SB_GLOBAL M_T* ext, long w, long rows, int mx) {
  long y = SB_GID(0);
  if (y >= rows) return;
  SB_CONST_GLOBAL M_T* p = src + off + y * w;
  M_T m = p[0];
  for (long x = 1; x < w; x++) m = sb_pick(m, p[x], mx);
  ext[y] = m;
}

/* whole[z][y] = extremum of ext[z][y - reach .. y + reach] clipped (the whole-row chords). */
SB_KERNEL void morph_whole(SB_CONST_GLOBAL M_T* ext, SB_GLOBAL M_T* whole, long h, long nz, long reach, int mx) {
  long y = SB_GID(0), z = SB_GID(1);
  if (y >= h || z >= nz) return;
  long lo = y - reach < 0 ? 0 : y - reach;
  long hi = y + reach > h - 1 ? h - 1 : y + reach;
  SB_CONST_GLOBAL M_T* e = ext + z * h;
  M_T m = e[lo];
  for (long i = lo + 1; i <= hi; i++) m = sb_pick(m, e[i], mx);
  whole[z * h + y] = m;
}

/* out = erosion (morph_query_min) or dilation (morph_query_max) of src by the clipped disk, nz
 * slices of h x w. tabs: levels 0..K of the padded rows (level k at tabs + k * level_stride, rows
 * pw long); halfw[d] (d in 0..=ry) the chord half-widths clamped to w - 1, lvl[d] the table level
 * of chord d; whole: morph_whole's output when reach >= 0 (chords d <= reach cover the row).
 * One kernel per operation so that the inner loop has no branch on it. */
#define SB_MIN_OF(a, b) ((b) < (a) ? (b) : (a))
#define SB_MAX_OF(a, b) ((b) > (a) ? (b) : (a))
#define SB_MORPH_QUERY(NAME, PICK)                                                                                     \
  SB_KERNEL void NAME(SB_CONST_GLOBAL M_T* src, long src_off, SB_CONST_GLOBAL M_T* tabs, long level_stride,            \
                      SB_CONST_GLOBAL M_T* whole, SB_CONST_GLOBAL int* halfw, SB_CONST_GLOBAL int* lvl, SB_GLOBAL M_T* out, \
                      long out_off, long h, long w, long pad, long nz, long ry, long reach) {                          \
    long x = SB_GID(0), y = SB_GID(1), z = SB_GID(2);                                                                  \
    if (x >= w || y >= h || z >= nz) return;                                                                           \
    long pw = w + 2 * pad;                                                                                             \
    M_T m = src[src_off + (z * h + y) * w + x];                                                                        \
    if (reach >= 0) m = PICK(m, whole[z * h + y]);                                                                     \
    for (long d = reach + 1; d <= ry; d++) {                                                                           \
      long a = halfw[d];                                                                                               \
      int k = lvl[d];                                                                                                  \
      int step = 1 << k;                                                                                               \
      int o0 = (int)(pad - a), o1 = (int)(pad + a - step + 1);                                                         \
      SB_CONST_GLOBAL M_T* t = tabs + k * level_stride + z * h * pw + x;                                               \
      if (y - d >= 0) {                                                                                                \
        SB_CONST_GLOBAL M_T* row = t + (y - d) * pw;                                                                   \
        for (int o = o0; o < o1; o += step) m = PICK(m, row[o]);                                                       \
        m = PICK(m, row[o1]);                                                                                          \
      }                                                                                                                \
      if (d > 0 && y + d < h) {                                                                                        \
        SB_CONST_GLOBAL M_T* row = t + (y + d) * pw;                                                                   \
        for (int o = o0; o < o1; o += step) m = PICK(m, row[o]);                                                       \
        m = PICK(m, row[o1]);                                                                                          \
      }                                                                                                                \
    }                                                                                                                  \
    out[out_off + (z * h + y) * w + x] = m;                                                                            \
  }

SB_MORPH_QUERY(morph_query_min, SB_MIN_OF)
SB_MORPH_QUERY(morph_query_max, SB_MAX_OF)

/* White top-hat at full resolution: out = src - out (the opening) in M_T (wrapping for
 * integers, IEEE for floats, as numpy). */
SB_KERNEL void morph_tophat_sub(SB_CONST_GLOBAL M_T* src, long src_off, SB_GLOBAL M_T* out, long out_off, long n) {
  long i = SB_GID(0);
  if (i >= n) return;
  M_T s = src[src_off + i], o = out[out_off + i];
#if M_T_IS_FLOAT
  out[out_off + i] = s - o;
#else
  out[out_off + i] = (M_T)((long)s - (long)o);
#endif
}

/* OpenHCS's background: small - (small - opening), each difference rounded to M_T. */
SB_KERNEL void morph_background(SB_CONST_GLOBAL M_T* small, SB_GLOBAL M_T* open, long n) {
  long i = SB_GID(0);
  if (i >= n) return;
  acc_t s = (acc_t)small[i];
  M_T t = (M_T)(s - (acc_t)open[i]);
  open[i] = (M_T)(s - (acc_t)t);
}
