/* The processor set's filters (DESIGN §12) that stackbridge-kernels' set::rank, set::filters and
 * set::stack compute: the mean over a square or a disk, sobel, laplace, clip and the element-wise
 * ends of differenceOfGaussian / subtractGaussianBackground (whose Gaussians are the "filters"
 * program's gauss_v / gauss_h). Each kernel repeats the CPU's f64 operations in the CPU's order, so
 * on a device with fp64 the results are the CPU's bit for bit.
 *
 * Defines: T_IN (element type), T_IN_IS_FLOAT. Planes are [d, h, w], x fastest. Borders are
 * sb_border's (element.h); every multiply and add whose rounding matters is its own statement, so
 * OpenCL C does not contract it into an FMA (CUDA builds with --fmad=false). */

/* ---- meanFilter, square: scipy's uniform_filter1d along one axis -------------------------------
 * Lines of `len` samples `step` apart; line l starts at (l / inner) * outer + (l % inner) * istride
 * (axis 0: inner = w, outer = h * w, istride = 1, step = w; axis 1: inner = h, istride = w, step = 1).
 * The window is 2r + 1 samples around each, reflect borders; the mean is stored as T_IN (sb_sat:
 * truncation toward zero and saturation for integers, rounding for float32). */

SB_DEVICE_FN long sf_line(long l, long inner, long outer, long istride) {
  return (l / inner) * outer + (l % inner) * istride;
}

/* The running sum of NI_UniformFilter1D (sum += new - old), one work item per line: the CPU's
 * operations in its order, for float types (whose rounding and NaN / inf spread depend on it). */
SB_KERNEL void sf_mean_run(SB_CONST_GLOBAL T_IN* src, SB_GLOBAL T_IN* dst, long r, long len, long step, long inner, long outer,
                           long istride, long lines) {
  long l = SB_GID(0);
  if (l >= lines) return;
  long b = sf_line(l, inner, outer, istride);
  SB_CONST_GLOBAL T_IN* p = src + b;
  SB_GLOBAL T_IN* q = dst + b;
  long size = 2 * r + 1;
  acc_t fs = (acc_t)size;
  acc_t acc = 0;
  for (long e = 0; e < size; e++) acc += (acc_t)p[sb_border(e - r, len, 0) * step];
  q[0] = sb_sat(acc / fs);
  for (long i = 1; i < len; i++) {
    acc_t nv = (acc_t)p[sb_border(i + size - 1 - r, len, 0) * step];
    acc_t ov = (acc_t)p[sb_border(i - 1 - r, len, 0) * step];
    acc_t dd = nv - ov;
    acc = acc + dd;
    q[i * step] = sb_sat(acc / fs);
  }
}

/* The same window sums computed directly, one work item per sample (grid: len, lines): for integer
 * types, whose running sums are exact integers in f64 (below 2^53), so equal to the direct sum. */
SB_KERNEL void sf_mean_box(SB_CONST_GLOBAL T_IN* src, SB_GLOBAL T_IN* dst, long r, long len, long step, long inner, long outer,
                           long istride, long lines) {
  long i = SB_GID(0), l = SB_GID(1);
  if (i >= len || l >= lines) return;
  long b = sf_line(l, inner, outer, istride);
  SB_CONST_GLOBAL T_IN* p = src + b;
  acc_t acc = 0;
  for (long e = i - r; e <= i + r; e++) acc += (acc_t)p[sb_border(e, len, 0) * step];
  dst[b + i * step] = sb_sat(acc / (acc_t)(2 * r + 1));
}

/* ---- meanFilter, disk ---------------------------------------------------------------------------
 * mean_disk_plane of set::rank per pixel: for each row offset dy (from -r), the sum of the chord's
 * 2hw + 1 samples of the reflected row as the CPU's block prefix / suffix sums give it (the suffix
 * of x's block of the hw-extended row, summed from its end down to x, plus the prefix of the next
 * block up to x + 2hw), added in f64 over the chords from 0 and divided by the sample count `cnt`. */
SB_KERNEL void sf_mean_disk(SB_CONST_GLOBAL T_IN* src, SB_GLOBAL T_IN* dst, SB_CONST_GLOBAL int* hws, long r, long cnt, long h,
                            long w, long d) {
  long x = SB_GID(0), y = SB_GID(1), z = SB_GID(2);
  if (x >= w || y >= h || z >= d) return;
  SB_CONST_GLOBAL T_IN* p = src + z * h * w;
  acc_t acc = 0;
  for (long dy = -r; dy <= r; dy++) {
    long hw = hws[dy < 0 ? -dy : dy];
    SB_CONST_GLOBAL T_IN* row = p + sb_border(y + dy, h, 0) * w;
    acc_t s;
    if (hw == 0) {
      s = (acc_t)row[x];
    } else {
      /* ext[i] = row[reflect(i - hw)], i < m = w + 2hw; blocks of len samples from 0. */
      long len = 2 * hw + 1, m = w + 2 * hw;
      long b0 = (x / len) * len;
      long b1 = b0 + len < m ? b0 + len : m;
      acc_t hb = 0;
      for (long i = b1 - 1; i >= x; i--) hb += (acc_t)row[sb_border(i - hw, w, 0)];
      if (x % len == 0) {
        s = hb;
      } else {
        acc_t g = 0;
        for (long i = b0 + len; i <= x + 2 * hw; i++) g += (acc_t)row[sb_border(i - hw, w, 0)];
        s = hb + g;
      }
    }
    acc += s;
  }
  dst[(z * h + y) * w + x] = sb_sat(acc / (acc_t)cnt);
}

/* ---- sobel, laplace (float32 of the values as given, reflect borders) -------------------------- */

/* The 3 x 3 neighbourhood of (x, y) as acc_t: n[3 * (dy + 1) + (dx + 1)]. */
SB_DEVICE_FN void sf_nbhd(SB_CONST_GLOBAL T_IN* p, long x, long y, long h, long w, acc_t* n) {
  for (int j = 0; j < 3; j++) {
    SB_CONST_GLOBAL T_IN* row = p + sb_border(y + j - 1, h, 0) * w;
    for (int i = 0; i < 3; i++) n[3 * j + i] = (acc_t)row[sb_border(x + i - 1, w, 0)];
  }
}

/* sobel_row of set::filters: the taps are powers of two (exact products), the sums in its order,
 * sqrt(gy^2 + gx^2) / sqrt(2) (`sqrt2` the f64 constant), rounded to float32. */
SB_KERNEL void sf_sobel(SB_CONST_GLOBAL T_IN* src, SB_GLOBAL float* dst, long h, long w, long d, acc_t sqrt2) {
  long x = SB_GID(0), y = SB_GID(1), z = SB_GID(2);
  if (x >= w || y >= h || z >= d) return;
  acc_t n[9];
  sf_nbhd(src + z * h * w, x, y, h, w, n);
  acc_t gy = (acc_t)-0.25 * n[0];
  gy = gy + (acc_t)-0.5 * n[1];
  gy = gy + (acc_t)-0.25 * n[2];
  gy = gy + (acc_t)0.25 * n[6];
  gy = gy + (acc_t)0.5 * n[7];
  gy = gy + (acc_t)0.25 * n[8];
  acc_t gx = (acc_t)-0.25 * n[0];
  gx = gx + (acc_t)0.25 * n[2];
  gx = gx + (acc_t)-0.5 * n[3];
  gx = gx + (acc_t)0.5 * n[5];
  gx = gx + (acc_t)-0.25 * n[6];
  gx = gx + (acc_t)0.25 * n[8];
  acc_t a = gy * gy;
  acc_t b = gx * gx;
  acc_t s = a + b;
  s = sqrt(s);
  s = s / sqrt2;
  dst[(z * h + y) * w + x] = (float)s;
}

/* laplace_row of set::filters: c = x0 * -2, (c + (up + down)) + (c + (left + right)), as float32. */
SB_KERNEL void sf_laplace(SB_CONST_GLOBAL T_IN* src, SB_GLOBAL float* dst, long h, long w, long d) {
  long x = SB_GID(0), y = SB_GID(1), z = SB_GID(2);
  if (x >= w || y >= h || z >= d) return;
  acc_t n[9];
  sf_nbhd(src + z * h * w, x, y, h, w, n);
  acc_t c = n[4] * (acc_t)-2.0;
  acc_t d2y = c + (n[1] + n[7]);
  acc_t d2x = c + (n[3] + n[5]);
  dst[(z * h + y) * w + x] = (float)(d2y + d2x);
}

/* ---- clip ---------------------------------------------------------------------------------------
 * np.clip with the bounds already in T_IN (bounds[0] = lo, bounds[1] = hi, set::stack::clip_bound):
 * `x < lo ? lo : x`, then `> hi ? hi`; NaN passes through. */
SB_KERNEL void sf_clip(SB_CONST_GLOBAL T_IN* src, SB_GLOBAL T_IN* dst, SB_CONST_GLOBAL T_IN* bounds, long n) {
  long i = SB_GID(0);
  if (i >= n) return;
  T_IN lo = bounds[0], hi = bounds[1];
  T_IN x = src[i];
  T_IN v = x < lo ? lo : x;
  dst[i] = v > hi ? hi : v;
}

/* ---- differenceOfGaussian, subtractGaussianBackground ------------------------------------------ */

/* x.astype(float64). */
SB_KERNEL void sf_to_acc(SB_CONST_GLOBAL T_IN* src, SB_GLOBAL acc_t* dst, long n) {
  long i = SB_GID(0);
  if (i >= n) return;
  dst[i] = (acc_t)src[i];
}

/* (g1 - g2) in f64, rounded to float32. */
SB_KERNEL void sf_dog(SB_CONST_GLOBAL acc_t* g1, SB_CONST_GLOBAL acc_t* g2, SB_GLOBAL float* dst, long n) {
  long i = SB_GID(0);
  if (i >= n) return;
  acc_t v = g1[i] - g2[i];
  dst[i] = (float)v;
}

/* v = x - g in f64, 0 where v < 0 (NaN stays), stored as T_IN as Rust's `as` (sb_sat). */
SB_KERNEL void sf_subtract_background(SB_CONST_GLOBAL T_IN* src, SB_CONST_GLOBAL acc_t* g, SB_GLOBAL T_IN* dst, long n) {
  long i = SB_GID(0);
  if (i >= n) return;
  acc_t v = (acc_t)src[i] - g[i];
  dst[i] = sb_sat(v < (acc_t)0 ? (acc_t)0 : v);
}
