/* skimage.transform.resize(order=1, preserve_range=True) with scipy's floating-point operations
 * (stackbridge_kernels::resize): per-slice value range, the anti-aliasing Gaussian (mode
 * 'mirror', host-computed taps, symmetric correlation outermost taps first) evaluated only on the
 * rows and columns the zoom samples, the bilinear zoom (grid_mode, mirror) with the clip to the
 * input range, and the top-hat's fused upsample + subtract + cast.
 *
 * T_IN: the stack's element type; W_T: the working type (float for float32 stacks, else double);
 * arithmetic in acc_t, rounded to W_T where scipy stores. No contraction into FMA: every
 * product and sum is rounded as on the CPU. */

#ifdef __OPENCL_VERSION__
#pragma OPENCL FP_CONTRACT OFF
#endif

/* scipy.ndimage's 'mirror' boundary for an integer index (stackbridge_kernels::resize::mirror_index). */
SB_DEVICE_FN long sb_mirror(long i, long n) {
  if (n <= 1) return 0;
  long s2 = 2 * n - 2;
  if (i < 0) {
    i += s2 * (-i / s2);
    i = i <= 1 - n ? i + s2 : -i;
  } else if (i >= n) {
    i -= s2 * (i / s2);
    if (i >= n) i = s2 - i;
  }
  return i;
}

/* Per-row [min, max] ignoring NaN (NaN when the whole row is NaN), as acc_t. */
#define SB_RANGE_ROWS(NAME, TYPE)                                                                           \
  SB_KERNEL void NAME(SB_CONST_GLOBAL TYPE* src, long off, SB_GLOBAL acc_t* lo, SB_GLOBAL acc_t* hi, long w, long rows) { \
    long y = SB_GID(0);                                                                                     \
    if (y >= rows) return;                                                                                  \
    SB_CONST_GLOBAL TYPE* p = src + off + y * w;                                                            \
    TYPE a = p[0], b = p[0];                                                                                \
    for (long x = 1; x < w; x++) {                                                                          \
      TYPE v = p[x];                                                                                        \
      if (!(a == a) || v < a) a = v;                                                                        \
      if (!(b == b) || v > b) b = v;                                                                        \
    }                                                                                                       \
    lo[y] = (acc_t)a;                                                                                       \
    hi[y] = (acc_t)b;                                                                                       \
  }

SB_RANGE_ROWS(range_rows_in, T_IN)
SB_RANGE_ROWS(range_rows_work, W_T)

/* lo[z], hi[z] = the range of rows z * h .. z * h + h of the per-row ranges (NaN ignored). */
SB_KERNEL void range_fold(SB_CONST_GLOBAL acc_t* rlo, SB_CONST_GLOBAL acc_t* rhi, SB_GLOBAL acc_t* lo, SB_GLOBAL acc_t* hi, long h,
                          long nz) {
  long z = SB_GID(0);
  if (z >= nz) return;
  acc_t a = rlo[z * h], b = rhi[z * h];
  for (long y = 1; y < h; y++) {
    acc_t u = rlo[z * h + y], v = rhi[z * h + y];
    if (!(a == a) || u < a) a = u;
    if (!(b == b) || v > b) b = v;
  }
  lo[z] = a;
  hi[z] = b;
}

/* dst[z][j][x] = gaussian_filter1d(axis 0, mirror) of slice z at row rows[j], stored as W_T;
 * k holds the weights of offsets 0..nk-1 (nk == 0: no filter, a copy). */
SB_KERNEL void gauss_rows(SB_CONST_GLOBAL T_IN* src, long src_off, SB_GLOBAL W_T* dst, SB_CONST_GLOBAL int* rows,
                          SB_CONST_GLOBAL acc_t* k, long nk, long h, long w, long nr, long nz) {
  long x = SB_GID(0), j = SB_GID(1), z = SB_GID(2);
  if (x >= w || j >= nr || z >= nz) return;
  SB_CONST_GLOBAL T_IN* s = src + src_off + z * h * w;
  long y = rows[j];
  acc_t a = (acc_t)s[y * w + x];
  if (nk > 0) {
    a = a * k[0];
    for (long t = nk - 1; t >= 1; t--) {
      acc_t l = (acc_t)s[sb_mirror(y - t, h) * w + x];
      acc_t u = (acc_t)s[sb_mirror(y + t, h) * w + x];
      a += (l + u) * k[t];
    }
  }
  dst[(z * nr + j) * w + x] = (W_T)a;
}

/* dst[z][j][c] = gaussian_filter1d(axis 1, mirror) of src[z][j] (w long) at column cols[c]. */
SB_KERNEL void gauss_cols(SB_CONST_GLOBAL W_T* src, SB_GLOBAL W_T* dst, SB_CONST_GLOBAL int* cols, SB_CONST_GLOBAL acc_t* k, long nk,
                          long w, long nr, long nc, long nz) {
  long c = SB_GID(0), j = SB_GID(1), z = SB_GID(2);
  if (c >= nc || j >= nr || z >= nz) return;
  SB_CONST_GLOBAL W_T* s = src + (z * nr + j) * w;
  long x = cols[c];
  acc_t a = (acc_t)s[x];
  if (nk > 0) {
    a = a * k[0];
    for (long t = nk - 1; t >= 1; t--) {
      acc_t l = (acc_t)s[sb_mirror(x - t, w)];
      acc_t u = (acc_t)s[sb_mirror(x + t, w)];
      a += (l + u) * k[t];
    }
  }
  dst[(z * nr + j) * nc + c] = (W_T)a;
}

SB_DEVICE_FN acc_t sb_clip(acc_t v, acc_t lo, acc_t hi) {
  return v < lo ? lo : (v > hi ? hi : v);
}

/* The zoom of the filtered samples: src[z] is (2 oh) x (2 ow), rows (2o, 2o+1) and columns
 * (2p, 2p+1) being the two taps of output (o, p); clipped to [lo[z], hi[z]]. */
SB_KERNEL void zoom_clip(SB_CONST_GLOBAL W_T* src, SB_GLOBAL W_T* dst, SB_CONST_GLOBAL acc_t* wy0, SB_CONST_GLOBAL acc_t* wy1,
                         SB_CONST_GLOBAL acc_t* wx0, SB_CONST_GLOBAL acc_t* wx1, SB_CONST_GLOBAL acc_t* lo, SB_CONST_GLOBAL acc_t* hi,
                         long oh, long ow, long nz) {
  long p = SB_GID(0), o = SB_GID(1), z = SB_GID(2);
  if (p >= ow || o >= oh || z >= nz) return;
  SB_CONST_GLOBAL W_T* r0 = src + (z * 2 * oh + 2 * o) * 2 * ow;
  SB_CONST_GLOBAL W_T* r1 = r0 + 2 * ow;
  acc_t a0 = wy0[o], a1 = wy1[o], b0 = wx0[p], b1 = wx1[p];
  acc_t t = (acc_t)r0[2 * p] * a0 * b0;
  t += (acc_t)r0[2 * p + 1] * a0 * b1;
  t += (acc_t)r1[2 * p] * a1 * b0;
  t += (acc_t)r1[2 * p + 1] * a1 * b1;
  dst[(z * oh + o) * ow + p] = (W_T)sb_clip((acc_t)(W_T)t, lo[z], hi[z]);
}

/* out = max(src - resize(bg, (h, w), order=1), 0) cast to T_IN by truncation (saturating for
 * the integer types, NaN -> 0); bg[z] is hs x ws, clipped to [lo[z], hi[z]]. */
SB_KERNEL void upsample_subtract(SB_CONST_GLOBAL T_IN* src, long src_off, SB_CONST_GLOBAL W_T* bg, SB_GLOBAL T_IN* out, long out_off,
                                 SB_CONST_GLOBAL int* iy0, SB_CONST_GLOBAL int* iy1, SB_CONST_GLOBAL acc_t* wy0,
                                 SB_CONST_GLOBAL acc_t* wy1, SB_CONST_GLOBAL int* ix0, SB_CONST_GLOBAL int* ix1,
                                 SB_CONST_GLOBAL acc_t* wx0, SB_CONST_GLOBAL acc_t* wx1, SB_CONST_GLOBAL acc_t* lo,
                                 SB_CONST_GLOBAL acc_t* hi, long h, long w, long hs, long ws, long nz) {
  long x = SB_GID(0), y = SB_GID(1), z = SB_GID(2);
  if (x >= w || y >= h || z >= nz) return;
  SB_CONST_GLOBAL W_T* r0 = bg + (z * hs + iy0[y]) * ws;
  SB_CONST_GLOBAL W_T* r1 = bg + (z * hs + iy1[y]) * ws;
  long i0 = ix0[x], i1 = ix1[x];
  acc_t a0 = wy0[y], a1 = wy1[y], b0 = wx0[x], b1 = wx1[x];
  acc_t c00 = (acc_t)r0[i0] * a0, c01 = (acc_t)r0[i1] * a0;
  acc_t c10 = (acc_t)r1[i0] * a1, c11 = (acc_t)r1[i1] * a1;
  acc_t t = c00 * b0;
  t += c01 * b1;
  t += c10 * b0;
  t += c11 * b1;
  acc_t b = sb_clip((acc_t)(W_T)t, lo[z], hi[z]);
  long i = (z * h + y) * w + x;
  acc_t d = (acc_t)(W_T)((acc_t)src[src_off + i] - b);
  if (d < 0) d = 0;
  out[out_off + i] = sb_sat(d);
}
