/* Element-wise and stack operations of the processor set (DESIGN §12) on T_IN, with the CPU's
 * arithmetic (crates/kernels/src/set/stack.rs): numpy's casts, float64 where the CPU uses it. */

/* dst = (float)src: the float32 operand of the two-stack operations. */
SB_KERNEL void set_to_f32(SB_CONST_GLOBAL T_IN* src, SB_GLOBAL float* dst, long n) {
  const long i = SB_GID(0);
  if (i >= n) return;
  dst[i] = (float)src[i];
}

/* dst = a OP b in float32, b repeating with period `bp` (the stack's length, or one slice: broadcast
 * over Z). op: 0 add, 1 subtract, 2 multiply, 3 divide (IEEE: x/0 is ±inf or NaN, as numpy). */
SB_KERNEL void set_binary(SB_CONST_GLOBAL float* a, SB_CONST_GLOBAL float* b, SB_GLOBAL float* dst, long n, long bp, int op) {
  const long i = SB_GID(0);
  if (i >= n) return;
  const float x = a[i];
  const float y = b[i % bp];
  dst[i] = op == 0 ? x + y : op == 1 ? x - y : op == 2 ? x * y : x / y;
}

/* dst = src + s (op 0) or src * s (op 1), in acc_t; integers rounded half to even and saturated. */
SB_KERNEL void set_scalar(SB_CONST_GLOBAL T_IN* src, SB_GLOBAL T_IN* dst, long n, acc_t s, int op) {
  const long i = SB_GID(0);
  if (i >= n) return;
  const acc_t x = (acc_t)src[i];
  const acc_t v = op == 0 ? x + s : x * s;
#if T_IN_IS_FLOAT
  dst[i] = (T_IN)v;
#else
  dst[i] = sb_sat(rint(v));
#endif
}

/* dst = |src| as numpy: signed integers wrap (the most negative value stays), floats fabs. */
SB_KERNEL void set_absolute(SB_CONST_GLOBAL T_IN* src, SB_GLOBAL T_IN* dst, long n) {
  const long i = SB_GID(0);
  if (i >= n) return;
  const T_IN x = src[i];
#if T_IN_IS_FLOAT
  dst[i] = fabs(x);
#else
  dst[i] = x < (T_IN)0 ? (T_IN)(0u - (uint)x) : x; /* unsigned negation: no signed overflow */
#endif
}

/* dst[p] = float32 of sum over z: integers in 64-bit exactly, float32 in float32 and float64 in
 * float64, one slice after the other (numpy's axis-0 reduction order). */
SB_KERNEL void set_sum_projection(SB_CONST_GLOBAL T_IN* src, SB_GLOBAL float* dst, long nz, long plane) {
  const long p = SB_GID(0);
  if (p >= plane) return;
#if T_IN_IS_FLOAT
  T_IN s = (T_IN)0;
  for (long z = 0; z < nz; z++) s += src[z * plane + p];
#else
  long s = 0;
  for (long z = 0; z < nz; z++) s += (long)src[z * plane + p];
#endif
  dst[p] = (float)s;
}

/* dst[p] = the first z of the maximum over z (a NaN counts as the maximum: numpy's argmax). */
SB_KERNEL void set_argmax_projection(SB_CONST_GLOBAL T_IN* src, SB_GLOBAL int* dst, long nz, long plane) {
  const long p = SB_GID(0);
  if (p >= plane) return;
  T_IN best = src[p];
  int at = 0;
  for (long z = 1; z < nz; z++) {
    if (SB_ISNAN(best)) break;
    const T_IN v = src[z * plane + p];
    if (SB_ISNAN(v) || v > best) {
      best = v;
      at = (int)z;
    }
  }
  dst[p] = at;
}

/* dst = a - b in T_IN (the black top-hat: closing - image, never negative). */
SB_KERNEL void set_difference(SB_CONST_GLOBAL T_IN* a, SB_CONST_GLOBAL T_IN* b, SB_GLOBAL T_IN* dst, long n) {
  const long i = SB_GID(0);
  if (i >= n) return;
  dst[i] = (T_IN)(a[i] - b[i]);
}
