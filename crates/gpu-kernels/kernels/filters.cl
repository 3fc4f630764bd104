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

/* Where index i of a line extended past its ends lands in a line of n samples (n > 0):
 * mode 0 reflect (d c b a | a b c d | d c b a), 1 mirror (d c b | a b c d | c b a), 2 nearest.
 * Extensions of any length are periodic (scipy's NI_ExtendLine). */
SB_DEVICE_FN long sb_border(long i, long n, int mode) {
  if (i >= 0 && i < n) return i;
  if (mode == 2) return i < 0 ? 0 : n - 1;
  if (mode == 0) {
    if (i >= -n && i < 2 * n) return i < 0 ? -i - 1 : 2 * n - 1 - i;
    long m = i % (2 * n);
    if (m < 0) m += 2 * n;
    return m >= n ? 2 * n - 1 - m : m;
  }
  if (n == 1) return 0;
  if (i > -n && i < 2 * n - 1) return i < 0 ? -i : 2 * n - 2 - i;
  long p = 2 * n - 2;
  long m = i % p;
  if (m < 0) m += p;
  return m >= n ? 2 * n - 2 - m : m;
}

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
  int kk = (int)k, lo = 0, hi = n - 1;
  while (lo < hi) {
    float pivot = a[kk];
    int i = lo, j = hi;
    do {
      while (sb_tless(a[i], pivot)) i++;
      while (sb_tless(pivot, a[j])) j--;
      if (i <= j) {
        float t = a[i];
        a[i] = a[j];
        a[j] = t;
        i++;
        j--;
      }
    } while (i <= j);
    if (j < kk) lo = i;
    if (kk < i) hi = j;
  }
  dst[(z * h + y) * w + x] = a[kk];
}

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
