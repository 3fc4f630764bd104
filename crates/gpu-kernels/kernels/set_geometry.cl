/* The geometry operations of the processor set (DESIGN §12) at orders 0 and 1, with the CPU's
 * arithmetic (crates/kernels/src/set/geometry.rs): the per-pixel gather and interpolation only;
 * the host sets up the matrices (stackbridge_kernels::set::geometry). resize / rescale use the
 * "resize" program's Gaussian and zoom kernels and end in geo_store here.
 *
 * T_IN: the stack's element type; W_T: the working type (float for float32 stacks, else double).
 * Needs fp64 (acc_t double). No contraction into FMA: every product and sum is rounded as on the CPU. */

#ifdef __OPENCL_VERSION__
#pragma OPENCL FP_CONTRACT OFF
#endif

/* The result value in T_IN: integers rint then saturated, floats cast (set::geometry::store). */
SB_DEVICE_FN T_IN geo_out(acc_t v) {
#if T_IN_IS_FLOAT
  return (T_IN)v;
#else
  return sb_sat(rint(v));
#endif
}

SB_DEVICE_FN acc_t geo_clip(acc_t v, acc_t lo, acc_t hi) {
  return v < lo ? lo : (v > hi ? hi : v);
}

/* scipy.ndimage's 'mirror' boundary for an integer index (stackbridge_kernels::resize::mirror_index). */
SB_DEVICE_FN long geo_mirror(long i, long n) {
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

/* dst[off + i] = store(clip(src[i], lo[z], hi[z])) over the slices of `plane` pixels of a chunk. */
SB_KERNEL void geo_store(SB_CONST_GLOBAL W_T* src, SB_GLOBAL T_IN* dst, SB_CONST_GLOBAL acc_t* lo, SB_CONST_GLOBAL acc_t* hi, long plane,
                         long n, long off) {
  const long i = SB_GID(0);
  if (i >= n) return;
  const long z = i / plane;
  dst[off + i] = geo_out(geo_clip((acc_t)src[i], lo[z], hi[z]));
}

/* rotate: tmp[z][tr][tc] in W_T. m: the output (x, y) -> input (x, y) matrix rows [m00 m01 m02 m10 m11 m12].
 * order 1: skimage's _warp_fast bilinear in W_T (cval outside); order 0: float64 fma coordinates
 * (numpy's BLAS) and grid-constant nearest, cv0 outside. */
SB_KERNEL void geo_rotate(SB_CONST_GLOBAL T_IN* src, long src_off, SB_GLOBAL W_T* tmp, SB_CONST_GLOBAL acc_t* m, long h, long w, long oh, long ow,
                          long nz, int order, acc_t cval, acc_t cv0) {
  const long tc = SB_GID(0), tr = SB_GID(1), z = SB_GID(2);
  if (tc >= ow || tr >= oh || z >= nz) return;
  SB_CONST_GLOBAL T_IN* s = src + src_off + z * h * w;
  acc_t v;
  if (order == 1) {
    const W_T h0 = (W_T)m[0], h1 = (W_T)m[1], h2 = (W_T)m[2], h3 = (W_T)m[3], h4 = (W_T)m[4], h5 = (W_T)m[5];
    const int metric = (acc_t)h1 == 0.0 && (acc_t)h3 == 0.0;
    const W_T x = (W_T)tc, y = (W_T)tr, one = (W_T)1, cv = (W_T)cval;
    W_T c, r;
    if (metric) {
      c = h0 * x + h2;
      r = h4 * y + h5;
    } else {
      c = h0 * x + h1 * y + h2;
      r = h3 * x + h4 * y + h5;
    }
    const long minr = (long)floor(r), minc = (long)floor(c), maxr = (long)ceil(r), maxc = (long)ceil(c);
    const W_T dr = r - (W_T)minr, dc = c - (W_T)minc;
#define GEO_PX(R, C) (((R) < 0 || (R) >= h || (C) < 0 || (C) >= w) ? cv : (W_T)s[(R) * w + (C)])
    const acc_t top = (acc_t)((one - dc) * GEO_PX(minr, minc) + dc * GEO_PX(minr, maxc));
    const acc_t bottom = (acc_t)((one - dc) * GEO_PX(maxr, minc) + dc * GEO_PX(maxr, maxc));
#undef GEO_PX
    v = (acc_t)(W_T)((acc_t)(one - dr) * top + (acc_t)dr * bottom);
  } else {
    const acc_t x = (acc_t)tc, y = (acc_t)tr;
    const acc_t cx = fma(1.0, m[2], fma(y, m[1], x * m[0]));
    const acc_t cy = fma(1.0, m[5], fma(y, m[4], x * m[3]));
    const acc_t si = floor(cy + 0.5), sj = floor(cx + 0.5);
    if (si >= 0.0 && si < (acc_t)h && sj >= 0.0 && sj < (acc_t)w) {
      v = (acc_t)s[(long)si * w + (long)sj];
    } else {
      v = cv0;
    }
  }
  tmp[(z * oh + tr) * ow + tc] = (W_T)v;
}

/* rotate's _clip_warp_output: [lo, hi] the slice's range, widened to cv (cval in W_T) when cval lies
 * outside it and inside the output's range [olo, ohi]; every value NaN when the slice is all NaN. */
SB_KERNEL void geo_rotate_store(SB_CONST_GLOBAL W_T* tmp, SB_GLOBAL T_IN* dst, SB_CONST_GLOBAL acc_t* lo, SB_CONST_GLOBAL acc_t* hi,
                                SB_CONST_GLOBAL acc_t* olo, SB_CONST_GLOBAL acc_t* ohi, acc_t cval, acc_t cv, long plane, long n, long off) {
  const long i = SB_GID(0);
  if (i >= n) return;
  const long z = i / plane;
  acc_t l = lo[z], u = hi[z];
  if (!(l <= cval && cval <= u) && olo[z] <= cval && cval <= ohi[z]) {
    l = fmin(l, cv);
    u = fmax(u, cv);
  }
  acc_t v;
  if (l != l) {
    const acc_t zero = 0.0;
    v = zero / zero;
  } else {
    v = (acc_t)(W_T)geo_clip((acc_t)tmp[i], l, u);
  }
  dst[off + i] = geo_out(v);
}

/* translate / affineTransform: scipy's 'constant' sampling of order 0 or 1 in float64.
 * p = [m00 m01 m10 m11 off0 off1 cval] (output (y, x) -> input (y, x)). */
SB_KERNEL void geo_affine(SB_CONST_GLOBAL T_IN* src, SB_GLOBAL T_IN* dst, SB_CONST_GLOBAL acc_t* p, long h, long w, long oh, long ow,
                          long nz, int order) {
  const long ox = SB_GID(0), oy = SB_GID(1), z = SB_GID(2);
  if (ox >= ow || oy >= oh || z >= nz) return;
  SB_CONST_GLOBAL T_IN* s = src + z * h * w;
  const acc_t y = (acc_t)oy, x = (acc_t)ox;
  const acc_t cy = p[4] + y * p[0] + x * p[1];
  const acc_t cx = p[5] + y * p[2] + x * p[3];
  const acc_t cval = p[6];
  acc_t t = cval;
  const int in_y = cy >= 0.0 && cy <= (acc_t)(h - 1);
  const int in_x = cx >= 0.0 && cx <= (acc_t)(w - 1);
  if (in_y && in_x) {
    if (order == 0) {
      const long i = geo_mirror((long)floor(cy + 0.5), h), j = geo_mirror((long)floor(cx + 0.5), w);
      t = 0.0 + (acc_t)s[i * w + j];
    } else {
      const acc_t fy = floor(cy), fx = floor(cx);
      const acc_t a0 = 1.0 - (cy - fy), b0 = 1.0 - (cx - fx);
      const acc_t a1 = 1.0 - a0, b1 = 1.0 - b0;
      const long i0 = geo_mirror((long)fy, h), i1 = geo_mirror((long)fy + 1, h);
      const long j0 = geo_mirror((long)fx, w), j1 = geo_mirror((long)fx + 1, w);
      t = 0.0;
      t += (acc_t)s[i0 * w + j0] * a0 * b0;
      t += (acc_t)s[i0 * w + j1] * a0 * b1;
      t += (acc_t)s[i1 * w + j0] * a1 * b0;
      t += (acc_t)s[i1 * w + j1] * a1 * b1;
    }
  }
  dst[(z * oh + oy) * ow + ox] = geo_out(t);
}
