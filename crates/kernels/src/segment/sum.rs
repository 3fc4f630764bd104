//! numpy's float64 summation, bit for bit.
//!
//! `np.sum` / `np.mean` over a contiguous float64 array is `0.0 + pairwise_sum(a)`
//! (numpy/_core/src/umath/loops_utils.h.src): blocks of at most 128 elements are summed with eight
//! interleaved accumulators, longer runs are split at `n / 2` rounded down to a multiple of 8.
//! scikit-image's `threshold_li` and `regionprops(...).intensity_mean` go through it, so matching
//! it makes those results identical, not merely close. The split points are fixed, so summing the
//! two halves on different threads gives the same bits.

use rayon::join;

/// numpy's block size for the unrolled base case (`PW_BLOCKSIZE`).
const PW_BLOCKSIZE: usize = 128;
/// Below this length the recursion stays on one thread.
const PAR_MIN: usize = 1 << 16;

/// `np.sum(a)` for a contiguous float64 array `a` (numpy's pairwise summation, same rounding).
pub fn numpy_sum_f64(a: &[f64]) -> f64 {
  0.0 + pairwise(a, &|v| v)
}

/// `np.mean(f(a))` for the float64 array `f(a)` without materialising it: the same pairwise tree
/// over the mapped values, so the same bits (NaN when empty, as numpy's 0/0). Lets callers keep
/// f32 buffers (half the traffic).
pub(crate) fn numpy_mean_by<T: Copy + Sync, F: Fn(T) -> f64 + Sync>(a: &[T], f: F) -> f64 {
  (0.0 + pairwise(a, &f)) / a.len() as f64
}

fn pairwise<T: Copy + Sync, F: Fn(T) -> f64 + Sync>(a: &[T], f: &F) -> f64 {
  let n = a.len();
  if n < 8 {
    let mut res = 0.0;
    for &v in a {
      res += f(v);
    }
    res
  } else if n <= PW_BLOCKSIZE {
    block8(a, f)
  } else {
    let mut n2 = n / 2;
    n2 -= n2 % 8;
    let (lo, hi) = a.split_at(n2);
    if n >= PAR_MIN {
      let (x, y) = join(|| pairwise(lo, f), || pairwise(hi, f));
      x + y
    } else {
      pairwise(lo, f) + pairwise(hi, f)
    }
  }
}

/// The 8-accumulator base case for `8 <= a.len() <= 128`.
fn block8<T: Copy, F: Fn(T) -> f64>(a: &[T], f: &F) -> f64 {
  let mut r = [0.0f64; 8];
  for (acc, &v) in r.iter_mut().zip(&a[..8]) {
    *acc = f(v);
  }
  let body = a.len() - a.len() % 8;
  for c in a[8..body].chunks_exact(8) {
    for (acc, &v) in r.iter_mut().zip(c) {
      *acc += f(v);
    }
  }
  let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
  for &v in &a[body..] {
    res += f(v);
  }
  res
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::segment::test_util::parse_hex;

  /// Values whose sums round differently under sequential and pairwise summation.
  fn awkward(n: usize) -> Vec<f64> {
    (0..n).map(|i| 0.1 + (i as f64) * 1e-3 + if i % 7 == 0 { 1e8 } else { 0.0 }).collect()
  }

  #[test]
  fn literal_numpy_sums() {
    // /work/pyenv/bin/python: i = np.arange(n); a = 0.1 + i * 1e-3 + np.where(i % 7 == 0, 1e8, 0)
    // np.sum(a).hex(); all but n = 5 differ from the sequential sum (Python's sum(a)).
    let expected = [
      (5usize, "0x1.7d784020a3d70p+26"),
      (100, "0x1.65a0bc3bcccccp+30"),
      (1000, "0x1.aa2c58abc0000p+33"),
      (4099, "0x1.b49aa58d18082p+35"),
      (100003, "0x1.4ca574624a4d9p+40"),
      (200000, "0x1.4c9fcacb5e000p+41"),
    ];
    for (n, hex) in expected {
      assert_eq!(numpy_sum_f64(&awkward(n)), parse_hex(hex), "n = {n}");
    }
  }

  #[test]
  fn empty_and_tiny() {
    assert_eq!(numpy_sum_f64(&[]), 0.0);
    assert!(numpy_mean_by(&[] as &[f32], |v| v as f64).is_nan());
    assert_eq!(numpy_mean_by(&[1.0f32, 2.0, 6.0], |v| v as f64), 3.0);
    // The mapped mean is the plain one over the mapped array, bit for bit.
    let a = awkward(100003);
    assert_eq!(numpy_mean_by(&a, |v| v * 3.0), numpy_sum_f64(&a.iter().map(|v| v * 3.0).collect::<Vec<_>>()) / 100003.0);
  }
}
