//! Cancellation and progress of one engine operation (DESIGN §4): a flag the caller raises (JS: an
//! aborted `AbortSignal`) and counters the operation advances (slices or tiles done / total).
//! Kernels check the flag between slices or tiles, never inside a tile, so a tile's work is never
//! left half written and the inner loops stay free of checks.

use crate::error::{SbError, SbResult};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

#[derive(Debug, Default)]
struct State {
  cancelled: AtomicBool,
  done: AtomicU64,
  total: AtomicU64,
}

/// A cancellation flag with progress counters, shared between the caller and the worker thread.
/// `Cancel::none()` (the default) is never cancelled and records nothing.
#[derive(Clone, Debug, Default)]
pub struct Cancel(Option<Arc<State>>);

impl Cancel {
  /// An operation nobody can cancel.
  pub fn none() -> Cancel {
    Cancel(None)
  }

  /// A flag that `cancel()` raises, on any thread.
  pub fn new() -> Cancel {
    Cancel(Some(Arc::new(State::default())))
  }

  pub fn cancel(&self) {
    if let Some(s) = &self.0 {
      s.cancelled.store(true, Ordering::Relaxed);
    }
  }

  /// Whether anyone can cancel this operation or read its progress (`Cancel::none()` cannot).
  pub fn is_live(&self) -> bool {
    self.0.is_some()
  }

  pub fn is_cancelled(&self) -> bool {
    self.0.as_ref().is_some_and(|s| s.cancelled.load(Ordering::Relaxed))
  }

  /// `Aborted` once the flag is raised: called between slices or tiles.
  pub fn check(&self) -> SbResult<()> {
    if self.is_cancelled() {
      return Err(SbError::aborted());
    }
    Ok(())
  }

  /// Starts counting: `total` units (slices, tiles), none done.
  pub fn begin(&self, total: u64) {
    if let Some(s) = &self.0 {
      s.done.store(0, Ordering::Relaxed);
      s.total.store(total, Ordering::Relaxed);
    }
  }

  /// `n` more units are done.
  pub fn advance(&self, n: u64) {
    if let Some(s) = &self.0 {
      s.done.fetch_add(n, Ordering::Relaxed);
    }
  }

  /// (done, total) so far.
  pub fn progress(&self) -> (u64, u64) {
    self.0.as_ref().map_or((0, 0), |s| (s.done.load(Ordering::Relaxed), s.total.load(Ordering::Relaxed)))
  }

  /// Runs `f(start, end)` over `[0, n)` in consecutive ranges of `chunk` units, checking the flag
  /// before each range and counting the units done. Progress counts `n` in total.
  pub fn for_ranges(&self, n: usize, chunk: usize, mut f: impl FnMut(usize, usize) -> SbResult<()>) -> SbResult<()> {
    let chunk = chunk.max(1);
    self.begin(n as u64);
    let mut start = 0;
    while start < n {
      self.check()?;
      let end = (start + chunk).min(n);
      f(start, end)?;
      self.advance((end - start) as u64);
      start = end;
    }
    self.check()
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn none_is_never_cancelled_and_counts_nothing() {
    let c = Cancel::none();
    c.cancel();
    assert!(c.check().is_ok());
    c.begin(5);
    c.advance(2);
    assert_eq!(c.progress(), (0, 0));
  }

  #[test]
  fn ranges_stop_at_the_first_check_after_cancel() {
    let c = Cancel::new();
    let mut seen = Vec::new();
    let r = c.for_ranges(10, 3, |a, b| {
      seen.push((a, b));
      if a == 3 {
        c.cancel(); // raised during the second range: the third never starts
      }
      Ok(())
    });
    assert_eq!(r.unwrap_err().code, crate::ErrorCode::Aborted);
    assert_eq!(seen, vec![(0, 3), (3, 6)]);
    assert_eq!(c.progress(), (6, 10));
  }

  #[test]
  fn ranges_cover_everything_once() {
    let c = Cancel::new();
    let mut seen = Vec::new();
    c.for_ranges(7, 3, |a, b| {
      seen.push((a, b));
      Ok(())
    })
    .unwrap();
    assert_eq!(seen, vec![(0, 3), (3, 6), (6, 7)]);
    assert_eq!(c.progress(), (7, 7));
  }
}
