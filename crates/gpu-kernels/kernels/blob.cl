/* Cell counting (countCellsSingleChannel): img_as_float scaling, the blob_log / blob_dog scale
 * spaces, and the 3x3x3 scale-space peak test. T_IN is the input element type (only the scaling
 * kernels read it).
 *
 * The scale-space kernels reproduce the CPU's f32 arithmetic (stackbridge-kernels gaussian.rs,
 * "fast" paths) operation for operation, so the cube values are bit-identical to the CPU's:
 * accumulators start at the first product, taps are applied in the CPU's order, and each
 * multiply-add is fused (SB_FMA: the host defines it, because the CPU kernels fuse at every
 * CPU level) or, without SB_FMA, a separate multiply and add. Borders are scipy's 'reflect' of any extension length. */

#ifdef SB_FMA
#define SB_MADD(t, x, acc) fma((t), (x), (acc))
#else
SB_DEVICE_FN float sb_madd(float t, float x, float acc) {
  float p = t * x;
  return p + acc;
}
#define SB_MADD(t, x, acc) sb_madd((t), (x), (acc))
#endif

/* scipy 'reflect' (d c b a | a b c d | d c b a), periodic for extensions of any length. */
SB_DEVICE_FN long sb_reflect(long i, long n) {
  if (i >= 0 && i < n) return i;
  long p = 2 * n;
  long m = i % p;
  if (m < 0) m += p;
  return m >= n ? p - 1 - m : m;
}

/* img_as_float: dst[i] = max(src[off + i] * inv, -1) as float (acc_t arithmetic). */
SB_KERNEL void to_unit(SB_CONST_GLOBAL T_IN* src, SB_GLOBAL float* dst, long off, long n, acc_t inv) {
  long i = SB_GID(0);
  if (i >= n) return;
  acc_t v = (acc_t)src[off + i] * inv;
  dst[i] = (float)fmax(v, (acc_t)-1.0);
}

/* img_as_float of 8- and 16-bit integers through a table computed on the host (exact on devices
 * without fp64): dst[i] = lut[src[off + i] - lo]. */
SB_KERNEL void to_unit_lut(SB_CONST_GLOBAL T_IN* src, SB_GLOBAL float* dst, SB_CONST_GLOBAL float* lut, long off, long n, int lo) {
  long i = SB_GID(0);
  if (i >= n) return;
  dst[i] = lut[(int)src[off + i] - lo];
}

SB_KERNEL void copy_f32(SB_CONST_GLOBAL float* src, SB_GLOBAL float* dst, long n) {
  long i = SB_GID(0);
  if (i >= n) return;
  dst[i] = src[i];
}

/* dst[i] = (float)(k * (acc_t)src[i]): the Laplacian scipy computes for a sigma it skips (2 * img),
 * times blob_log's -sigma^2, folded into k. */
SB_KERNEL void scaled_copy(SB_CONST_GLOBAL float* src, SB_GLOBAL float* dst, long n, acc_t k) {
  long i = SB_GID(0);
  if (i >= n) return;
  dst[i] = (float)(k * (acc_t)src[i]);
}

/* Vertical pass of a separable filter over a [d, h, w] float stack, per slice:
 * dst = sum_k taps[k] * src[reflect(y - r + k)], k = 0 .. 2r, accumulated from 0 in that order. */
SB_KERNEL void sep_vert(SB_CONST_GLOBAL float* src, SB_GLOBAL float* dst, SB_CONST_GLOBAL float* taps, long r, long d, long h, long w) {
  long x = SB_GID(0), y = SB_GID(1), z = SB_GID(2);
  if (x >= w || y >= h || z >= d) return;
  SB_CONST_GLOBAL float* p = src + z * h * w;
  float acc = 0.0f;
  for (long k = 0; k <= 2 * r; k++) acc = SB_MADD(taps[k], p[sb_reflect(y - r + k, h) * w + x], acc);
  dst[(z * h + y) * w + x] = acc;
}

/* Horizontal pass of a separable filter: dst = sum_k taps[k] * src[reflect(x - r + k)]. */
SB_KERNEL void sep_horz(SB_CONST_GLOBAL float* src, SB_GLOBAL float* dst, SB_CONST_GLOBAL float* taps, long r, long d, long h, long w) {
  long x = SB_GID(0), y = SB_GID(1), z = SB_GID(2);
  if (x >= w || y >= h || z >= d) return;
  SB_CONST_GLOBAL float* p = src + (z * h + y) * w;
  float acc = 0.0f;
  for (long k = 0; k <= 2 * r; k++) acc = SB_MADD(taps[k], p[sb_reflect(x - r + k, w)], acc);
  dst[(z * h + y) * w + x] = acc;
}

/* Vertical pass of the scaled Laplacian of Gaussian with two symmetric half kernels (ha: order 0,
 * hb: order 2 times the scale; r + 1 taps each): a = ha0*c + sum_j ha_j*(x[-j] + x[+j]), b the same
 * with hb, j = 1 .. r in order. */
SB_KERNEL void log_vert(SB_CONST_GLOBAL float* src, SB_GLOBAL float* a, SB_GLOBAL float* b, SB_CONST_GLOBAL float* ha, SB_CONST_GLOBAL float* hb,
                        long r, long d, long h, long w) {
  long x = SB_GID(0), y = SB_GID(1), z = SB_GID(2);
  if (x >= w || y >= h || z >= d) return;
  SB_CONST_GLOBAL float* p = src + z * h * w;
  float c = p[y * w + x];
  float sa = ha[0] * c;
  float sb = hb[0] * c;
  for (long j = 1; j <= r; j++) {
    float s = p[sb_reflect(y - j, h) * w + x] + p[sb_reflect(y + j, h) * w + x];
    sa = SB_MADD(ha[j], s, sa);
    sb = SB_MADD(hb[j], s, sb);
  }
  long o = (z * h + y) * w + x;
  a[o] = sa;
  b[o] = sb;
}

/* Horizontal pass of the scaled LoG: out = Hb(a) + Ha(b), each a symmetric sum as log_vert. */
SB_KERNEL void log_horz(SB_CONST_GLOBAL float* a, SB_CONST_GLOBAL float* b, SB_GLOBAL float* out, SB_CONST_GLOBAL float* ha,
                        SB_CONST_GLOBAL float* hb, long r, long d, long h, long w) {
  long x = SB_GID(0), y = SB_GID(1), z = SB_GID(2);
  if (x >= w || y >= h || z >= d) return;
  long row = (z * h + y) * w;
  SB_CONST_GLOBAL float* pa = a + row;
  SB_CONST_GLOBAL float* pb = b + row;
  float s = hb[0] * pa[x];
  float s2 = ha[0] * pb[x];
  for (long j = 1; j <= r; j++) {
    long l = sb_reflect(x - j, w), rr = sb_reflect(x + j, w);
    s = SB_MADD(hb[j], pa[l] + pa[rr], s);
    s2 = SB_MADD(ha[j], pb[l] + pb[rr], s2);
  }
  out[row + x] = s + s2;
}

/* A difference-of-Gaussians plane: dst = (g0 - g1) * sf. */
SB_KERNEL void dog_diff(SB_CONST_GLOBAL float* g0, SB_CONST_GLOBAL float* g1, SB_GLOBAL float* dst, long n, float sf) {
  long i = SB_GID(0);
  if (i >= n) return;
  dst[i] = (g0[i] - g1[i]) * sf;
}

SB_DEVICE_FN float sb_mx(float a, float b) { return a > b ? a : b; }

/* The peaks of scale plane s (cur; lo and up are planes s-1 and s+1, or cur itself at the ends) of
 * a [d, h, w] stack: v > t32 (the largest float <= the threshold, so this is v > threshold) and v
 * not below the 3x3x3 maximum with rows and columns clamped. The maximum is built in the CPU's
 * order (column maxima starting from the centre row of cur, planes lo, cur, up, rows y-1, y, y+1,
 * then columns x-1, x, x+1), so NaN neighbours act as on the CPU. Slices with skip[z] != 0 are
 * ignored. Each peak counts in counts[0] (all) and counts[1 + z]; the first `cap` are written as
 * rec[3i..3i+3] = (z * h + y, x, s) and val[i] = v. */
SB_KERNEL void scale_peaks(SB_CONST_GLOBAL float* lo, SB_CONST_GLOBAL float* cur, SB_CONST_GLOBAL float* up, long d, long h, long w, uint s,
                           float t32, SB_CONST_GLOBAL uint* skip, SB_GLOBAL uint* counts, SB_GLOBAL uint* rec, SB_GLOBAL float* val, uint cap) {
  long x = SB_GID(0), y = SB_GID(1), z = SB_GID(2);
  if (x >= w || y >= h || z >= d) return;
  if (skip[z] != 0) return;
  long base = z * h * w;
  float v = cur[base + y * w + x];
  if (!(v > t32)) return;
  long rows[3];
  rows[0] = y > 0 ? y - 1 : 0;
  rows[1] = y;
  rows[2] = y + 1 < h ? y + 1 : h - 1;
  long xa = x > 0 ? x - 1 : 0;
  long xb = x + 1 < w ? x + 1 : w - 1;
  float ca = cur[base + y * w + xa];
  float cx = v;
  float cb = cur[base + y * w + xb];
  for (int pl = 0; pl < 3; pl++) {
    SB_CONST_GLOBAL float* p = pl == 0 ? lo : (pl == 1 ? cur : up);
    for (int k = 0; k < 3; k++) {
      long o = base + rows[k] * w;
      ca = sb_mx(ca, p[o + xa]);
      cx = sb_mx(cx, p[o + x]);
      cb = sb_mx(cb, p[o + xb]);
    }
  }
  float m = sb_mx(sb_mx(ca, cx), cb);
  if (!(v >= m)) return;
  SB_ATOMIC_ADD_U32(&counts[1 + z], 1u);
  uint i = SB_ATOMIC_ADD_U32(&counts[0], 1u);
  if (i < cap) {
    rec[3 * (long)i] = (uint)(z * h + y);
    rec[3 * (long)i + 1] = (uint)x;
    rec[3 * (long)i + 2] = s;
    val[i] = v;
  }
}
