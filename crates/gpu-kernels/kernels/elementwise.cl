/* Copies and casts between element types. T_IN / T_OUT are the element types. */

/* A box [z0, z0+d) x [y0, y0+h) x [x0, x0+w) of a [Z, H, W] stack into a dense [d, h, w] one. */
SB_KERNEL void crop3d(SB_CONST_GLOBAL T_IN* src, SB_GLOBAL T_IN* dst, long H, long W, long z0, long y0, long x0,
                      long d, long h, long w) {
  long x = SB_GID(0), y = SB_GID(1), z = SB_GID(2);
  if (x >= w || y >= h || z >= d) return;
  dst[(z * h + y) * w + x] = src[((z + z0) * H + (y + y0)) * W + (x + x0)];
}
