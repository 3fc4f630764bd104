/* Gaussian filtering in scipy.ndimage's order, the Laplacian of Gaussian, unsharp masking
 * (sharpen) and the disk median.
 *
 * Defines: T_IN (element type), T_IN_IS_FLOAT (0 / 1), W (sharpen's working float type: float or
 * double; float when absent). Planes are [d, h, w], x fastest; every kernel runs one work item per
 * output element (x, y, z) unless said otherwise.
 *
 * Exactness: the multiply and the add of every accumulation step are separate statements, so no
 * compiler contracts them into an FMA (OpenCL C contracts only within one expression); the
 * Laplacian uses fma() on purpose, as the CPU's f32 path does. */

#ifndef W
#define W float
#endif

/* sb_border (reflect / mirror / nearest line extension) is in element.h. */

/* v stored as T_IN the way scipy stores a filter pass: float types round to nearest, integer
 * types truncate toward zero and saturate to [lo, hi] (NaN, which integer data cannot produce,
 * gives lo). */
SB_DEVICE_FN T_IN sb_store(acc_t v, acc_t lo, acc_t hi) {
#if T_IN_IS_FLOAT
  return (T_IN)v;
#else
  acc_t t = trunc(v);
  t = t >= lo ? (t <= hi ? t : hi) : lo;
  return (T_IN)(long)t;
#endif
}

SB_KERNEL void copy_t(SB_CONST_GLOBAL T_IN* src, SB_GLOBAL T_IN* dst, long n) {
  long i = SB_GID(0);
  if (i >= n) return;
  dst[i] = src[i];
}

/* ---- Gaussian, scipy's arithmetic -------------------------------------------------------------
 * One axis pass of the symmetric correlation NI_Correlate1D computes: out = x0 * w0, then for
 * j = r, r-1, ..., 1: out += (x-j + xj) * wj, in acc_t; `taps` holds w0..wr. The result is
 * stored as T_IN (sb_store), as scipy stores each pass in the output array. */

/* Axis 0 (along y). */
SB_KERNEL void gauss_v(SB_CONST_GLOBAL T_IN* src, SB_GLOBAL T_IN* dst, SB_CONST_GLOBAL acc_t* taps, long r, long h, long w,
                       long d, int mode, acc_t lo, acc_t hi) {
  long x = SB_GID(0), y = SB_GID(1), z = SB_GID(2);
  if (x >= w || y >= h || z >= d) return;
  SB_CONST_GLOBAL T_IN* p = src + z * h * w + x;
  acc_t acc = (acc_t)p[y * w];
  acc = acc * taps[0];
  if (y >= r && y + r < h) {
    /* No border: the same steps with direct indices. */
    SB_CONST_GLOBAL T_IN* c = p + y * w;
    for (long j = r; j >= 1; j--) {
      acc_t a = (acc_t)c[-j * w];
      acc_t b = (acc_t)c[j * w];
      acc_t s = a + b;
      acc_t t = s * taps[j];
      acc = acc + t;
    }
  } else {
    for (long j = r; j >= 1; j--) {
      acc_t a = (acc_t)p[sb_border(y - j, h, mode) * w];
      acc_t b = (acc_t)p[sb_border(y + j, h, mode) * w];
      acc_t s = a + b;
      acc_t t = s * taps[j];
      acc = acc + t;
    }
  }
  dst[(z * h + y) * w + x] = sb_store(acc, lo, hi);
}

/* Axis 1 (along x). */
SB_KERNEL void gauss_h(SB_CONST_GLOBAL T_IN* src, SB_GLOBAL T_IN* dst, SB_CONST_GLOBAL acc_t* taps, long r, long h, long w,
                       long d, int mode, acc_t lo, acc_t hi) {
  long x = SB_GID(0), y = SB_GID(1), z = SB_GID(2);
  if (x >= w || y >= h || z >= d) return;
  SB_CONST_GLOBAL T_IN* p = src + (z * h + y) * w;
  acc_t acc = (acc_t)p[x];
  acc = acc * taps[0];
  if (x >= r && x + r < w) {
    SB_CONST_GLOBAL T_IN* c = p + x;
    for (long j = r; j >= 1; j--) {
      acc_t a = (acc_t)c[-j];
      acc_t b = (acc_t)c[j];
      acc_t s = a + b;
      acc_t t = s * taps[j];
      acc = acc + t;
    }
  } else {
    for (long j = r; j >= 1; j--) {
      acc_t a = (acc_t)p[sb_border(x - j, w, mode)];
      acc_t b = (acc_t)p[sb_border(x + j, w, mode)];
      acc_t s = a + b;
      acc_t t = s * taps[j];
      acc = acc + t;
    }
  }
  dst[(z * h + y) * w + x] = sb_store(acc, lo, hi);
}

/* ---- Median with a disk footprint (float32, nearest borders) ----------------------------------- */

SB_DEVICE_FN float sb_mn(float a, float b) { return a < b ? a : b; }
SB_DEVICE_FN float sb_mx(float a, float b) { return a > b ? a : b; }

/* Median of five with the CPU's exact min / max network (same operand order, same tie results). */
SB_DEVICE_FN float sb_med5(float a, float b, float c, float d, float e) {
  float f = sb_mx(sb_mn(a, b), sb_mn(c, d));
  float g = sb_mn(sb_mx(a, b), sb_mx(c, d));
  return sb_mx(sb_mn(e, f), sb_mn(sb_mx(e, f), g));
}

/* disk(1): the pixel and its 4 neighbours. */
SB_KERNEL void median_cross(SB_CONST_GLOBAL float* src, SB_GLOBAL float* dst, long h, long w, long d) {
  long x = SB_GID(0), y = SB_GID(1), z = SB_GID(2);
  if (x >= w || y >= h || z >= d) return;
  SB_CONST_GLOBAL float* p = src + z * h * w;
  long yn = y > 0 ? y - 1 : 0, ys = y + 1 < h ? y + 1 : h - 1;
  long xl = x > 0 ? x - 1 : 0, xr = x + 1 < w ? x + 1 : w - 1;
  dst[(z * h + y) * w + x] = sb_med5(p[yn * w + x], p[ys * w + x], p[y * w + xl], p[y * w + xr], p[y * w + x]);
}

/* The total order of Rust's f32::total_cmp up to NaN payloads: -NaN < -inf < ... < -0 < +0 < ...
 * < +inf < +NaN. */
SB_DEVICE_FN int sb_nan_class(float a) { return isnan(a) ? (signbit(a) ? -1 : 1) : 0; }
SB_DEVICE_FN int sb_tless(float a, float b) {
  int ca = sb_nan_class(a), cb = sb_nan_class(b);
  if (ca != cb) return ca < cb;
  if (ca != 0) return 0;
  if (a < b) return 1;
  if (a > b) return 0;
  return signbit(a) && !signbit(b);
}

SB_DEVICE_FN float sb_at(SB_CONST_GLOBAL float* p, long y, long x, long h, long w) {
  y = y < 0 ? 0 : (y >= h ? h - 1 : y);
  x = x < 0 ? 0 : (x >= w ? w - 1 : x);
  return p[y * w + x];
}

#define SB_MEDIAN_PRIVATE 317

/* Element kk of a[0..n) in place (Wirth's selection, `LESS` a strict total order on T): the
 * selection of median_small (float, total order) and median_small_t (integers). */
#define SB_WIRTH_SELECT(T, LESS, a, n, kk)                                                              \
  {                                                                                                  \
    int lo_ = 0, hi_ = (n) - 1;                                                                      \
    while (lo_ < hi_) {                                                                              \
      T pivot_ = a[kk];                                                                              \
      int i_ = lo_, j_ = hi_;                                                                        \
      do {                                                                                           \
        while (LESS(a[i_], pivot_)) i_++;                                                            \
        while (LESS(pivot_, a[j_])) j_--;                                                            \
        if (i_ <= j_) {                                                                              \
          T t_ = a[i_];                                                                              \
          a[i_] = a[j_];                                                                             \
          a[j_] = t_;                                                                                \
          i_++;                                                                                      \
          j_--;                                                                                      \
        }                                                                                            \
      } while (i_ <= j_);                                                                            \
      if (j_ < kk) lo_ = i_;                                                                         \
      if (kk < i_) hi_ = j_;                                                                         \
    }                                                                                                \
  }

/* Disks of up to SB_MEDIAN_PRIVATE samples (r <= 10, the CPU's selection regime): gather into
 * private memory and select element k (Wirth's selection under the total order). hw[|dy|] is the
 * disk's half-width at row offset dy. */
SB_KERNEL void median_small(SB_CONST_GLOBAL float* src, SB_GLOBAL float* dst, SB_CONST_GLOBAL int* hw, long r, long k, long h,
                            long w, long d) {
  long x = SB_GID(0), y = SB_GID(1), z = SB_GID(2);
  if (x >= w || y >= h || z >= d) return;
  SB_CONST_GLOBAL float* p = src + z * h * w;
  float a[SB_MEDIAN_PRIVATE];
  int n = 0;
  for (long dy = -r; dy <= r; dy++) {
    long hh = hw[dy < 0 ? -dy : dy];
    for (long dx = -hh; dx <= hh; dx++) a[n++] = sb_at(p, y + dy, x + dx, h, w);
  }
  int kk = (int)k;
  SB_WIRTH_SELECT(float, sb_tless, a, n, kk)
  dst[(z * h + y) * w + x] = a[kk];
}

#if !T_IN_IS_FLOAT
/* The integer median of any flat symmetric footprint (hw[|dy|]: its half-width at row offset dy,
 * nearest borders), `skimage.filters.median` of set::rank: element k of the samples. Integers are
 * totally ordered by `<`, so any exact selection gives the CPU's value. */
#define SB_LT(a, b) ((a) < (b))
SB_DEVICE_FN T_IN sb_at_t(SB_CONST_GLOBAL T_IN* p, long y, long x, long h, long w) {
  y = y < 0 ? 0 : (y >= h ? h - 1 : y);
  x = x < 0 ? 0 : (x >= w ? w - 1 : x);
  return p[y * w + x];
}

/* Footprints of up to SB_MEDIAN_PRIVATE samples: gathered into private memory, Wirth's selection. */
SB_KERNEL void median_small_t(SB_CONST_GLOBAL T_IN* src, SB_GLOBAL T_IN* dst, SB_CONST_GLOBAL int* hw, long r, long k, long h,
                              long w, long d) {
  long x = SB_GID(0), y = SB_GID(1), z = SB_GID(2);
  if (x >= w || y >= h || z >= d) return;
  SB_CONST_GLOBAL T_IN* p = src + z * h * w;
  T_IN a[SB_MEDIAN_PRIVATE];
  int n = 0;
  for (long dy = -r; dy <= r; dy++) {
    long hh = hw[dy < 0 ? -dy : dy];
    for (long dx = -hh; dx <= hh; dx++) a[n++] = sb_at_t(p, y + dy, x + dx, h, w);
  }
  int kk = (int)k;
  SB_WIRTH_SELECT(T_IN, SB_LT, a, n, kk)
  dst[(z * h + y) * w + x] = a[kk];
}

/* Larger footprints: a radix selection over the order-preserving unsigned key v - min(T_IN), one
 * bit at a time from the top (one pass over the footprint per bit of T_IN). */
SB_KERNEL void median_radix_t(SB_CONST_GLOBAL T_IN* src, SB_GLOBAL T_IN* dst, SB_CONST_GLOBAL int* hw, long r, long k, long h,
                              long w, long d) {
  long x = SB_GID(0), y = SB_GID(1), z = SB_GID(2);
  if (x >= w || y >= h || z >= d) return;
  SB_CONST_GLOBAL T_IN* p = src + z * h * w;
  const int sgn = ((T_IN)(-1)) < (T_IN)0;
  const int bits = (int)sizeof(T_IN) * 8;
  const long minv = sgn ? -((long)1 << (bits - 1)) : 0;
  ulong prefix = 0;
  long kk = k;
  for (int b = bits - 1; b >= 0; b--) {
    ulong above = ~(ulong)0 << (b + 1);
    long c = 0;
    for (long dy = -r; dy <= r; dy++) {
      long hh = hw[dy < 0 ? -dy : dy];
      for (long dx = -hh; dx <= hh; dx++) {
        ulong key = (ulong)((long)sb_at_t(p, y + dy, x + dx, h, w) - minv);
        c += ((key & above) == prefix) && !((key >> b) & 1);
      }
    }
    if (kk >= c) {
      kk -= c;
      prefix |= (ulong)1 << b;
    }
  }
  dst[(z * h + y) * w + x] = (T_IN)((long)prefix + minv);
}
#endif

/* Larger disks (no private copy): the candidate with (number below) <= k < (number below + number equal). */
SB_KERNEL void median_large(SB_CONST_GLOBAL float* src, SB_GLOBAL float* dst, SB_CONST_GLOBAL int* hw, long r, long k, long h,
                            long w, long d) {
  long x = SB_GID(0), y = SB_GID(1), z = SB_GID(2);
  if (x >= w || y >= h || z >= d) return;
  SB_CONST_GLOBAL float* p = src + z * h * w;
  float result = sb_at(p, y, x, h, w);
  int found = 0;
  for (long cy = -r; cy <= r && !found; cy++) {
    long ch = hw[cy < 0 ? -cy : cy];
    for (long cx = -ch; cx <= ch && !found; cx++) {
      float v = sb_at(p, y + cy, x + cx, h, w);
      long below = 0, equal = 0;
      for (long dy = -r; dy <= r; dy++) {
        long hh = hw[dy < 0 ? -dy : dy];
        for (long dx = -hh; dx <= hh; dx++) {
          float u = sb_at(p, y + dy, x + dx, h, w);
          if (sb_tless(u, v)) below++;
          else if (!sb_tless(v, u)) equal++;
        }
      }
      if (below <= k && k < below + equal) {
        result = v;
        found = 1;
      }
    }
  }
  dst[(z * h + y) * w + x] = result;
}

/* ---- sharpen (OpenHCS unsharp masking) -------------------------------------------------------- */

/* Per chunk of `chunk` elements of each slice: the maximum, NaN when any element is NaN (np.max).
 * Grid (nchunks, d); out[z * nchunks + c]. `init` is -infinity. */
SB_KERNEL void slice_max_partial(SB_CONST_GLOBAL T_IN* src, SB_GLOBAL acc_t* out, long plane, long chunk, long nchunks, long d,
                                 acc_t init) {
  long c = SB_GID(0), z = SB_GID(1);
  if (c >= nchunks || z >= d) return;
  long b = c * chunk;
  long e = b + chunk < plane ? b + chunk : plane;
  SB_CONST_GLOBAL T_IN* p = src + z * plane;
  acc_t m = init;
  for (long i = b; i < e; i++) {
    acc_t v = (acc_t)p[i];
    m = (v > m || isnan(v)) ? v : m;
    if (isnan(m)) break;
  }
  out[z * nchunks + c] = m;
}

/* Per chunk of each slice of a W array: minimum and maximum ignoring NaN, and whether any element
 * is NaN: out[3 * (z * nchunks + c) + {0, 1, 2}]. `inf` is +infinity. */
SB_KERNEL void slice_minmax_partial(SB_CONST_GLOBAL W* src, SB_GLOBAL acc_t* out, long plane, long chunk, long nchunks, long d,
                                    acc_t inf) {
  long c = SB_GID(0), z = SB_GID(1);
  if (c >= nchunks || z >= d) return;
  long b = c * chunk;
  long e = b + chunk < plane ? b + chunk : plane;
  SB_CONST_GLOBAL W* p = src + z * plane;
  acc_t mn = inf, mx = -inf, nan = 0;
  for (long i = b; i < e; i++) {
    acc_t v = (acc_t)p[i];
    if (isnan(v)) {
      nan = 1;
    } else {
      mn = v < mn ? v : mn;
      mx = v > mx ? v : mx;
    }
  }
  long o = 3 * (z * nchunks + c);
  out[o] = mn;
  out[o + 1] = mx;
  out[o + 2] = nan;
}

/* f = (W)(float)v / max of the slice. One work item per element; slice = i / plane. */
SB_KERNEL void sharpen_f(SB_CONST_GLOBAL T_IN* src, SB_GLOBAL W* f, SB_CONST_GLOBAL acc_t* mx, long plane, long n) {
  long i = SB_GID(0);
  if (i >= n) return;
  W v = (W)((float)src[i]);
  W m = (W)mx[i / plane];
  f[i] = v / m;
}

/* s = clip(f + amount * (f - blurred), 0, 1), in place over `blurred` (NaN stays NaN). */
SB_KERNEL void sharpen_s(SB_CONST_GLOBAL W* f, SB_GLOBAL W* b, long n, acc_t amount) {
  long i = SB_GID(0);
  if (i >= n) return;
  W a = (W)amount;
  W fv = f[i];
  W dlt = fv - b[i];
  W m = a * dlt;
  W v = fv + m;
  W zero = (W)0, one = (W)1;
  b[i] = v < zero ? zero : (v > one ? one : v);
}

/* The output per slice: prm[3z] is the mode: 0 fill with prm[3z + 1]; 1 rescale
 * ((s - lo) / span * 65535 + 0 in W, lo = prm[3z + 1], span = prm[3z + 2]); 2 s itself. Cast to
 * T_IN as Rust's `as` (lo / hi: T_IN's bounds). */
SB_KERNEL void sharpen_out(SB_CONST_GLOBAL W* s, SB_GLOBAL T_IN* dst, SB_CONST_GLOBAL acc_t* prm, long plane, long n) {
  long i = SB_GID(0);
  if (i >= n) return;
  long z = i / plane;
  int mode = (int)prm[3 * z];
  acc_t r;
  if (mode == 0) {
    r = prm[3 * z + 1];
  } else if (mode == 1) {
    W l = (W)prm[3 * z + 1];
    W sp = (W)prm[3 * z + 2];
    W t = s[i] - l;
    t = t / sp;
    t = t * (W)65535.0;
    t = t + (W)0.0;
    r = (acc_t)t;
  } else {
    r = (acc_t)s[i];
  }
  dst[i] = sb_sat(r);
}
