/* Element-type helpers shared by every program built with T_IN (-D T_IN=ushort -D T_IN_IS_FLOAT=0):
 * the casts and roundings that make device results equal the CPU's. */
#ifndef SB_ELEMENT_H
#define SB_ELEMENT_H

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

#ifdef T_IN

/* Saturating truncation toward zero of v to T_IN, NaN -> 0 (Rust `as`); plain conversion for floats. */
SB_DEVICE_FN T_IN sb_sat(acc_t v) {
#if T_IN_IS_FLOAT
  return (T_IN)v;
#else
  const int sgn = ((T_IN)(-1)) < (T_IN)0;
  const int bits = (int)sizeof(T_IN) * 8;
  const long maxv = sgn ? (((long)1 << (bits - 1)) - 1) : (((long)1 << bits) - 1);
  const long minv = sgn ? -maxv - 1 : 0;
  if (v != v) return (T_IN)0;
  if (v <= (acc_t)minv) return (T_IN)minv;
  if (v >= (acc_t)maxv) return (T_IN)maxv;
  return (T_IN)v;
#endif
}

/* An acc_t value rounded to T_IN's precision when T_IN is float32; NaN test only for floats. */
#if T_IN_IS_FLOAT
#define SB_R(v) (sizeof(T_IN) == 4 ? (acc_t)(float)(v) : (acc_t)(v))
#define SB_ISNAN(v) ((v) != (v))
#else
#define SB_R(v) ((acc_t)(v))
#define SB_ISNAN(v) 0
#endif

#endif
#endif
