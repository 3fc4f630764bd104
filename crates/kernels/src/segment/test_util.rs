//! Helpers shared by the segment tests.

/// `n` values `(s >> 40) / 2^24` of a 64-bit xorshift (13, 7, 17) started at `seed`: uniform in
/// [0, 1), exact in f32, and easy to reproduce in Python for the reference scripts.
pub(crate) fn xorshift_unit(n: usize, seed: u64) -> Vec<f32> {
  let mut s = seed;
  (0..n)
    .map(|_| {
      s ^= s << 13;
      s ^= s >> 7;
      s ^= s << 17;
      (s >> 40) as f32 / (1u64 << 24) as f32
    })
    .collect()
}

/// Parses a C99 hex float like `0x1.8p+1` (what Python's `float.hex` prints).
pub(crate) fn parse_hex(s: &str) -> f64 {
  let (neg, s) = s.strip_prefix('-').map_or((false, s), |r| (true, r));
  let s = s.strip_prefix("0x").expect("hex float");
  let (mant, exp) = s.split_once('p').expect("hex float exponent");
  let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
  let mut m = u64::from_str_radix(int, 16).expect("hex digits") as f64;
  let mut scale = 1.0 / 16.0;
  for c in frac.chars() {
    m += c.to_digit(16).expect("hex digit") as f64 * scale;
    scale /= 16.0;
  }
  let v = m * 2f64.powi(exp.parse::<i32>().expect("exponent"));
  if neg {
    -v
  } else {
    v
  }
}
