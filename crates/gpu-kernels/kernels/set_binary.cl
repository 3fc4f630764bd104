/* The processor set's binary and label kernels (stackbridge_kernels::set::{binary, labels,
 * measure}): masks, the border band of the binary erosion, label checks, labelBoundaries, the
 * erodeLabels comparison, the exact EDT (distanceTransform) and scipy's feature transform
 * (dilateLabels). T_IN is the input's element type; stacks are nz slices of h x w, row-major.
 * Every integer computation is exact (long); the only float operation is the EDT's final square
 * root, in acc_t (double where the device has fp64: the CPU's correctly rounded f64 sqrt, then
 * rounded to float). */

#ifdef __OPENCL_VERSION__
#pragma OPENCL FP_CONTRACT OFF
#endif

/* mask = (src != 0) as 0/1 (NaN is nonzero, -0.0 zero: numpy's `!= 0`). */
SB_KERNEL void sb_mask(SB_CONST_GLOBAL T_IN* src, SB_GLOBAL uchar* mask, long n) {
  long i = SB_GID(0);
  if (i >= n) return;
  mask[i] = src[i] != (T_IN)0 ? 1 : 0;
}

/* scipy's border_value=0 for the binary erosion: pixels closer than r to an edge (whose footprint
 * leaves the image: the disk and the square both reach r in each axis) become 0. */
SB_KERNEL void sb_clear_border(SB_GLOBAL uchar* img, long h, long w, long nz, long r) {
  long x = SB_GID(0), y = SB_GID(1), z = SB_GID(2);
  if (x >= w || y >= h || z >= nz) return;
  if (y < r || y + r >= h || x < r || x + r >= w) img[(z * h + y) * w + x] = 0;
}

/* flags[0] = 1 if some label is negative, flags[1] = 1 if some label is above 2^31 - 1 (every
 * writer stores the same value, so the race is benign). */
SB_KERNEL void sb_labels_check(SB_CONST_GLOBAL T_IN* src, long n, SB_GLOBAL uint* flags) {
  long i = SB_GID(0);
  if (i >= n) return;
  long v = (long)src[i];
  if (v < 0) flags[0] = 1;
  if (v > 2147483647L) flags[1] = 1;
}

/* erodeLabels: a pixel keeps its label where the erosion equals the dilation over the disk. */
SB_KERNEL void sb_erode_labels(SB_CONST_GLOBAL T_IN* src, SB_CONST_GLOBAL T_IN* lo, SB_CONST_GLOBAL T_IN* hi, SB_GLOBAL uint* out,
                               long n) {
  long i = SB_GID(0);
  if (i >= n) return;
  out[i] = lo[i] == hi[i] ? (uint)src[i] : 0u;
}

/* labelBoundaries: find_boundaries(mode='inner'), a labelled pixel one of whose in-image edge
 * neighbours has another value. */
SB_KERNEL void sb_label_boundaries(SB_CONST_GLOBAL T_IN* src, SB_GLOBAL uchar* out, long h, long w, long nz) {
  long x = SB_GID(0), y = SB_GID(1), z = SB_GID(2);
  if (x >= w || y >= h || z >= nz) return;
  long p = (z * h + y) * w + x;
  T_IN v = src[p];
  int b = v != (T_IN)0 && ((y > 0 && src[p - w] != v) || (y + 1 < h && src[p + w] != v) || (x > 0 && src[p - 1] != v) ||
                           (x + 1 < w && src[p + 1] != v));
  out[p] = b ? 1 : 0;
}

/* ---- distanceTransform: Meijster's separable EDT, one work item per column, then per row. ---- */

#define SB_EDT_INF 0xffffffffu

/* g[z][y][x] = distance along the column to the nearest zero pixel of src (INF: none). */
SB_KERNEL void sb_edt_columns(SB_CONST_GLOBAL T_IN* src, SB_GLOBAL uint* g, long h, long w, long nz) {
  long x = SB_GID(0), z = SB_GID(1);
  if (x >= w || z >= nz) return;
  long base = z * h * w + x;
  uint d = SB_EDT_INF;
  for (long y = 0; y < h; y++) {
    long p = base + y * w;
    d = src[p] != (T_IN)0 ? (d == SB_EDT_INF ? d : d + 1) : 0;
    g[p] = d;
  }
  for (long y = h - 2; y >= 0; y--) {
    long p = base + y * w;
    uint n = g[p + w];
    if (n != SB_EDT_INF && n + 1 < g[p]) g[p] = n + 1;
  }
}

SB_DEVICE_FN float sb_sqrt_int(long d2) { return (float)sqrt((acc_t)d2); }

/* out[z][y][x] = sqrt(min_i (x - i)^2 + g[i]^2) over the row's columns with a finite g, by the
 * lower envelope of their parabolas (s: apices, t: where each takes over; per-row scratch of w
 * ints each). A row without a finite g belongs to a slice without zero pixels: scipy's distances
 * to the virtual pixel (-1, 0). */
SB_KERNEL void sb_edt_rows(SB_CONST_GLOBAL uint* g, SB_GLOBAL int* s, SB_GLOBAL int* t, SB_GLOBAL float* out, long h, long w, long nz) {
  long y = SB_GID(0), z = SB_GID(1);
  if (y >= h || z >= nz) return;
  long row = (z * h + y) * w;
  SB_CONST_GLOBAL uint* gr = g + row;
  SB_GLOBAL int* sr = s + row;
  SB_GLOBAL int* tr = t + row;
  long q = -1;
  for (long u = 0; u < w; u++) {
    if (gr[u] == SB_EDT_INF) continue;
    long gu = (long)gr[u];
    while (q >= 0) {
      long sq = sr[q], tq = tr[q];
      long gs = (long)gr[sq];
      long a = tq - sq, b = tq - u;
      if (a * a + gs * gs > b * b + gu * gu) {
        q--;
      } else {
        break;
      }
    }
    if (q < 0) {
      q = 0;
      sr[0] = (int)u;
      tr[0] = 0;
    } else {
      long sq = sr[q];
      long gs = (long)gr[sq];
      long num = u * u - sq * sq + gu * gu - gs * gs;
      long den = 2 * (u - sq);
      long fl = num / den;
      if (num % den != 0 && num < 0) fl--;
      long start = fl + 1;
      if (start < w) {
        q++;
        sr[q] = (int)u;
        tr[q] = (int)start;
      }
    }
  }
  SB_GLOBAL float* o = out + row;
  if (q < 0) {
    for (long x = 0; x < w; x++) o[x] = sb_sqrt_int((y + 1) * (y + 1) + x * x);
    return;
  }
  for (long x = w - 1; x >= 0; x--) {
    long sq = sr[q];
    long gs = (long)gr[sq];
    long d = x - sq;
    o[x] = sb_sqrt_int(d * d + gs * gs);
    if (x == tr[q]) q--;
  }
}

/* ---- dilateLabels: scipy's _ComputeFT (pass 1 per column, _VoronoiFT per row) in integers. ---- */

/* fy[z][y][x] = the row of the nearest labelled pixel in the column, the upper one on ties (-1:
 * the column has none). */
SB_KERNEL void sb_ft_columns(SB_CONST_GLOBAL T_IN* src, SB_GLOBAL int* fy, long h, long w, long nz) {
  long x = SB_GID(0), z = SB_GID(1);
  if (x >= w || z >= nz) return;
  long base = z * h * w + x;
  long above = -1;
  for (long y = 0; y < h; y++) {
    long p = base + y * w;
    if (src[p] != (T_IN)0) above = y;
    fy[p] = (int)above;
  }
  long below = -1;
  for (long y = h - 1; y >= 0; y--) {
    long p = base + y * w;
    if (src[p] != (T_IN)0) below = y;
    if (below >= 0) {
      long a = fy[p];
      if (a < 0 || below - y < y - a) fy[p] = (int)below;
    }
  }
}

/* expand_labels on row y: scipy's _VoronoiFT verbatim (its f64 arithmetic is exact in long for
 * any plane that fits in memory: every product is below w * max(h, w)^2), the nearest feature of
 * each pixel, then its label where the squared distance is at most `k` (the largest integer whose
 * f64 square root is <= radius; -1: none), 0 elsewhere. g: per-row scratch of w ints. */
SB_KERNEL void sb_expand_rows(SB_CONST_GLOBAL T_IN* src, SB_CONST_GLOBAL int* fy, SB_GLOBAL int* g, SB_GLOBAL uint* out, long h, long w,
                              long nz, long k) {
  long y = SB_GID(0), z = SB_GID(1);
  if (y >= h || z >= nz) return;
  long row = (z * h + y) * w;
  SB_CONST_GLOBAL int* f = fy + row;
  SB_GLOBAL int* gr = g + row;
  SB_GLOBAL uint* o = out + row;
  long n = 0;
  for (long ii = 0; ii < w; ii++) {
    if (f[ii] < 0) continue;
    long t = (long)f[ii] - y;
    long wr = t * t;
    while (n >= 2) {
      long idx1 = gr[n - 1], idx2 = gr[n - 2];
      long a = idx1 - idx2, b = ii - idx1;
      long tu = (long)f[idx2] - y, tv = (long)f[idx1] - y;
      long ur = tu * tu, vr = tv * tv;
      long c = a + b;
      if (c * vr - b * ur - a * wr - a * b * c <= 0) break;
      n--;
    }
    gr[n++] = (int)ii;
  }
  if (n == 0) {
    for (long x = 0; x < w; x++) o[x] = 0u;
    return;
  }
  long l = 0;
  for (long ii = 0; ii < w; ii++) {
    long ry = f[gr[l]], rx = gr[l];
    long d1 = (ry - y) * (ry - y) + (rx - ii) * (rx - ii);
    while (l < n - 1) {
      long ry2 = f[gr[l + 1]], rx2 = gr[l + 1];
      long d2 = (ry2 - y) * (ry2 - y) + (rx2 - ii) * (rx2 - ii);
      if (d1 <= d2) break;
      d1 = d2;
      l++;
    }
    ry = f[gr[l]];
    rx = gr[l];
    long base = z * h * w;
    o[ii] = d1 <= k ? (uint)src[base + ry * w + rx] : 0u;
  }
}

/* sb_mask of a float64 stack on a device without fp64: its words (little-endian) as bits, nonzero
 * unless every bit but the sign is clear. */
SB_KERNEL void sb_mask_f64_bits(SB_CONST_GLOBAL uint* src, SB_GLOBAL uchar* mask, long n) {
  long i = SB_GID(0);
  if (i >= n) return;
  mask[i] = (src[2 * i] | (src[2 * i + 1] & 0x7fffffffu)) != 0u ? 1 : 0;
}
