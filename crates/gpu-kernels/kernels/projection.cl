/* Projections along Z of a [nz, plane] stack to one plane, and the weighted composite. T_IN is the
 * element type. numpy reduces axis 0 slice by slice, in float64 for integer stacks and in the
 * stack's own precision for float stacks: the kernels accumulate in acc_t in the same order and
 * round each step to float32 for float32 stacks (SB_R), one operation per statement (no FMA). */

/* np.maximum / np.minimum along Z: a NaN accumulator stays, a NaN element is taken. */
SB_KERNEL void project_max(SB_CONST_GLOBAL T_IN* src, SB_GLOBAL T_IN* dst, long nz, long plane) {
  long p = SB_GID(0);
  if (p >= plane) return;
  T_IN acc = src[p];
  for (long z = 1; z < nz; z++) {
    T_IN x = src[z * plane + p];
    if (!(SB_ISNAN(acc) || x <= acc)) acc = x;
  }
  dst[p] = acc;
}

SB_KERNEL void project_min(SB_CONST_GLOBAL T_IN* src, SB_GLOBAL T_IN* dst, long nz, long plane) {
  long p = SB_GID(0);
  if (p >= plane) return;
  T_IN acc = src[p];
  for (long z = 1; z < nz; z++) {
    T_IN x = src[z * plane + p];
    if (!(SB_ISNAN(acc) || x >= acc)) acc = x;
  }
  dst[p] = acc;
}

/* sum over z in order, / nz */
SB_DEVICE_FN acc_t sb_mean(SB_CONST_GLOBAL T_IN* src, long nz, long plane, long p) {
  acc_t a = (acc_t)src[p];
  for (long z = 1; z < nz; z++) {
    acc_t x = (acc_t)src[z * plane + p];
    a = SB_R(a + x);
  }
  return SB_R(a / (acc_t)nz);
}

SB_KERNEL void project_mean(SB_CONST_GLOBAL T_IN* src, SB_GLOBAL T_IN* dst, long nz, long plane) {
  long p = SB_GID(0);
  if (p >= plane) return;
  dst[p] = sb_sat(sb_mean(src, nz, plane, p));
}

/* numpy _var (ddof 0) then sqrt */
SB_KERNEL void project_std(SB_CONST_GLOBAL T_IN* src, SB_GLOBAL T_IN* dst, long nz, long plane) {
  long p = SB_GID(0);
  if (p >= plane) return;
  acc_t m = sb_mean(src, nz, plane, p);
  acc_t a = (acc_t)0;
  for (long z = 0; z < nz; z++) {
    acc_t x = (acc_t)src[z * plane + p];
    acc_t d = SB_R(x - m);
    acc_t sq = SB_R(d * d);
    a = z == 0 ? sq : SB_R(a + sq);
  }
  acc_t v = SB_R(a / (acc_t)nz);
  v = SB_R(sqrt(v));
  dst[p] = sb_sat(v);
}

/* np.median along Z: the middle order statistic(s) by counting (exact for any nz), the mean of the
 * two middle ones for even nz in T's precision; NaN when the column holds a NaN. */
SB_KERNEL void project_median(SB_CONST_GLOBAL T_IN* src, SB_GLOBAL T_IN* dst, long nz, long plane) {
  long p = SB_GID(0);
  if (p >= plane) return;
#if T_IN_IS_FLOAT
  for (long z = 0; z < nz; z++) {
    T_IN x = src[z * plane + p];
    if (x != x) {
      dst[p] = x;
      return;
    }
  }
#endif
  long mid = nz / 2;
  int even = (nz % 2) == 0;
  T_IN lo = src[p];
  T_IN hi = src[p];
  int got_hi = 0;
  int got_lo = !even;
  for (long i = 0; i < nz && !(got_hi && got_lo); i++) {
    T_IN v = src[i * plane + p];
    long lt = 0, le = 0;
    for (long j = 0; j < nz; j++) {
      T_IN u = src[j * plane + p];
      lt += u < v;
      le += u <= v;
    }
    /* v is the k-th smallest for every k in [lt, le) */
    if (!got_hi && lt <= mid && mid < le) {
      hi = v;
      got_hi = 1;
    }
    if (!got_lo && lt <= mid - 1 && mid - 1 < le) {
      lo = v;
      got_lo = 1;
    }
  }
  if (even) {
    acc_t s = SB_R((acc_t)lo + (acc_t)hi);
    dst[p] = sb_sat(SB_R(s / (acc_t)2));
  } else {
    dst[p] = hi;
  }
}

/* np.sum(stack.astype(float32) * w[:, None, None], axis=0).astype(T) with float32 weights. */
SB_KERNEL void composite(SB_CONST_GLOBAL T_IN* src, SB_GLOBAL T_IN* dst, SB_CONST_GLOBAL float* w, long nz, long plane) {
  long p = SB_GID(0);
  if (p >= plane) return;
  float a = (float)src[p];
  a = a * w[0];
  for (long z = 1; z < nz; z++) {
    float t = (float)src[z * plane + p];
    t = t * w[z];
    a = a + t;
  }
  dst[p] = sb_sat((acc_t)a);
}
