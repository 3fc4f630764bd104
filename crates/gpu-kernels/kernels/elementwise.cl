/* Copies and casts between element types. T_IN / T_OUT are the element types. */

/* A box [z0, z0+d) x [y0, y0+h) x [x0, x0+w) of a [Z, H, W] stack into a dense [d, h, w] one. */
SB_KERNEL void crop3d(SB_CONST_GLOBAL T_IN* src, SB_GLOBAL T_IN* dst, long H, long W, long z0, long y0, long x0,
                      long d, long h, long w) {
  long x = SB_GID(0), y = SB_GID(1), z = SB_GID(2);
  if (x >= w || y >= h || z >= d) return;
  dst[(z * h + y) * w + x] = src[((z + z0) * H + (y + y0)) * W + (x + x0)];
}

/* (image.astype(float32) * mask).astype(T): element r * period + p takes mask[p] (a 2D mask repeats
 * every plane; a 3D mask has period = the whole stack). */
SB_KERNEL void apply_mask(SB_CONST_GLOBAL T_IN* src, SB_GLOBAL T_IN* dst, SB_CONST_GLOBAL float* mask, long period, long reps) {
  long p = SB_GID(0), r = SB_GID(1);
  if (p >= period || r >= reps) return;
  long i = r * period + p;
  float v = (float)src[i];
  v = v * mask[p];
  dst[i] = sb_sat((acc_t)v);
}

#if T_IN_IS_FLOAT
/* numpy's pairwise_sum of n >= 0 values in T's precision: the leaf (n <= 128) part. */
SB_DEVICE_FN acc_t sb_pairwise_leaf(SB_CONST_GLOBAL T_IN* a, long n) {
  if (n < 8) {
    acc_t r = (acc_t)0;
    for (long i = 0; i < n; i++) r = SB_R(r + (acc_t)a[i]);
    return r;
  }
  acc_t r0 = a[0], r1 = a[1], r2 = a[2], r3 = a[3], r4 = a[4], r5 = a[5], r6 = a[6], r7 = a[7];
  long body = n - n % 8;
  for (long i = 8; i < body; i += 8) {
    r0 = SB_R(r0 + (acc_t)a[i]);
    r1 = SB_R(r1 + (acc_t)a[i + 1]);
    r2 = SB_R(r2 + (acc_t)a[i + 2]);
    r3 = SB_R(r3 + (acc_t)a[i + 3]);
    r4 = SB_R(r4 + (acc_t)a[i + 4]);
    r5 = SB_R(r5 + (acc_t)a[i + 5]);
    r6 = SB_R(r6 + (acc_t)a[i + 6]);
    r7 = SB_R(r7 + (acc_t)a[i + 7]);
  }
  acc_t s01 = SB_R(r0 + r1), s23 = SB_R(r2 + r3), s45 = SB_R(r4 + r5), s67 = SB_R(r6 + r7);
  acc_t res = SB_R(SB_R(s01 + s23) + SB_R(s45 + s67));
  for (long i = body; i < n; i++) res = SB_R(res + (acc_t)a[i]);
  return res;
}

/* numpy's pairwise_sum (halves above 128, rounded down to a multiple of 8), without recursion:
 * an explicit post-order walk of the split tree. */
SB_DEVICE_FN acc_t sb_pairwise(SB_CONST_GLOBAL T_IN* a, long n) {
  if (n <= 128) return sb_pairwise_leaf(a, n);
  long st_s[48], st_n[48];
  int st_k[48];
  acc_t st_left[48];
  int sp = 1;
  acc_t ret = (acc_t)0;
  st_s[0] = 0;
  st_n[0] = n;
  st_k[0] = 0;
  while (sp > 0) {
    int t = sp - 1;
    long s = st_s[t], m = st_n[t];
    if (m <= 128) {
      ret = sb_pairwise_leaf(a + s, m);
      sp -= 1;
      continue;
    }
    long n2 = m / 2;
    n2 -= n2 % 8;
    if (st_k[t] == 0) {
      st_k[t] = 1;
      st_s[sp] = s;
      st_n[sp] = n2;
      st_k[sp] = 0;
      sp += 1;
    } else if (st_k[t] == 1) {
      st_left[t] = ret;
      st_k[t] = 2;
      st_s[sp] = s + n2;
      st_n[sp] = m - n2;
      st_k[sp] = 0;
      sp += 1;
    } else {
      ret = SB_R(st_left[t] + ret);
      sp -= 1;
    }
  }
  return ret;
}
#endif

/* spatial_bin_2d: each bin x bin block of a [nz, H, W] stack to one pixel of [nz, oh, ow].
 * method 0 mean, 1 sum, 2 max, 3 min (numpy's orders and precisions, see the CPU kernel). */
SB_KERNEL void spatial_bin(SB_CONST_GLOBAL T_IN* src, SB_GLOBAL T_IN* dst, long H, long W, long nz, long oh, long ow, long bin,
                           int method) {
  long x = SB_GID(0), y = SB_GID(1), z = SB_GID(2);
  if (x >= ow || y >= oh || z >= nz) return;
  long base = (z * H + y * bin) * W + x * bin;
  long o = (z * oh + y) * ow + x;
  if (method >= 2) {
    T_IN acc = src[base];
    for (long k = 0; k < bin; k++) {
      for (long c = 0; c < bin; c++) {
        T_IN v = src[base + k * W + c];
        if (method == 2) {
          if (!(SB_ISNAN(acc) || v <= acc)) acc = v;
        } else {
          if (!(SB_ISNAN(acc) || v >= acc)) acc = v;
        }
      }
    }
    dst[o] = acc;
    return;
  }
  acc_t count = (acc_t)(bin * bin);
#if T_IN_IS_FLOAT
  acc_t a = (acc_t)0;
  for (long k = 0; k < bin; k++) {
    acc_t s = sb_pairwise(src + base + k * W, bin);
    a = SB_R(a + s);
  }
  dst[o] = method == 1 ? (T_IN)a : (T_IN)SB_R(a / count);
#else
  long ia = 0;
  for (long k = 0; k < bin; k++) {
    for (long c = 0; c < bin; c++) ia += (long)src[base + k * W + c];
  }
  /* sum: numpy's int64 sum cast to T (wraps); mean: f64 sum / count, truncated */
  dst[o] = method == 1 ? (T_IN)ia : sb_sat((acc_t)ia / count);
#endif
}
