//! Connected components of a binary plane: `label`, `remove_small_objects`, `clear_border`.
//!
//! All three work on horizontal runs of foreground pixels: runs are extracted in parallel over row
//! blocks, runs of adjacent rows that touch are joined in a union–find whose root is always the
//! lowest run index (runs are numbered in raster order, so a root is its component's first
//! pixel), and the result is written back in parallel over rows. Cost O(N) plus O(runs · α).

use super::{check_plane, Connectivity};
use rayon::prelude::*;

/// Rows per parallel task are chosen so a task covers about this many pixels.
const BLOCK_PIXELS: usize = 1 << 15;

/// The half-open foreground run `[x0, x1)` of one row.
#[derive(Clone, Copy, Debug)]
struct Run {
  x0: u32,
  x1: u32,
}

/// The runs of a mask, in raster order, with their component roots.
struct Runs {
  runs: Vec<Run>,
  /// `runs[row_start[y]..row_start[y + 1]]` lie in row `y` (length `h + 1`).
  row_start: Vec<usize>,
  /// Root run (lowest run index of the component) of every run.
  root: Vec<u32>,
}

impl Runs {
  fn new(mask: &[bool], h: usize, w: usize, conn: Connectivity) -> Runs {
    let (runs, row_start) = extract_runs(mask, h, w);
    let root = connect(&runs, &row_start, conn);
    Runs { runs, row_start, root }
  }

  /// Pixel count of every component, indexed by root run.
  fn sizes(&self) -> Vec<usize> {
    let mut size = vec![0usize; self.runs.len()];
    for (r, &root) in self.runs.iter().zip(&self.root) {
      size[root as usize] += (r.x1 - r.x0) as usize;
    }
    size
  }

  /// Clears (sets false) every run whose root is flagged in `drop`, in parallel over rows.
  fn clear(&self, mask: &mut [bool], w: usize, drop: &[bool]) {
    mask.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
      for i in self.row_start[y]..self.row_start[y + 1] {
        if drop[self.root[i] as usize] {
          let r = self.runs[i];
          row[r.x0 as usize..r.x1 as usize].fill(false);
        }
      }
    });
  }
}

fn rows_per_block(w: usize) -> usize {
  (BLOCK_PIXELS / w.max(1)).max(1)
}

/// Runs of every row (parallel over row blocks, concatenated in raster order).
fn extract_runs(mask: &[bool], h: usize, w: usize) -> (Vec<Run>, Vec<usize>) {
  let rpb = rows_per_block(w);
  let blocks: Vec<(Vec<Run>, Vec<usize>)> = mask
    .par_chunks(rpb * w)
    .map(|block| {
      let mut runs = Vec::new();
      let mut counts = Vec::with_capacity(rpb);
      for row in block.chunks_exact(w) {
        let before = runs.len();
        row_runs(row, &mut runs);
        counts.push(runs.len() - before);
      }
      (runs, counts)
    })
    .collect();
  let total: usize = blocks.iter().map(|b| b.0.len()).sum();
  let mut runs = Vec::with_capacity(total);
  let mut row_start = Vec::with_capacity(h + 1);
  row_start.push(0);
  for (b, counts) in blocks {
    runs.extend_from_slice(&b);
    for c in counts {
      row_start.push(row_start.last().copied().unwrap_or(0) + c);
    }
  }
  // h > 0 with w == 0 gives no chunks: every row is empty.
  row_start.resize(h + 1, runs.len());
  (runs, row_start)
}

/// Appends the runs of one row.
fn row_runs(row: &[bool], out: &mut Vec<Run>) {
  let mut x = 0;
  let n = row.len();
  while x < n {
    // Skip background quickly: most of a typical row is background.
    match row[x..].iter().position(|&b| b) {
      None => break,
      Some(p) => x += p,
    }
    let end = row[x..].iter().position(|&b| !b).map_or(n, |p| x + p);
    out.push(Run { x0: x as u32, x1: end as u32 });
    x = end;
  }
}

/// Union–find over runs; returns each run's root (its component's lowest run index).
fn connect(runs: &[Run], row_start: &[usize], conn: Connectivity) -> Vec<u32> {
  let mut parent: Vec<u32> = (0..runs.len() as u32).collect();
  // Eight-connectivity also joins runs that only meet at a corner: widen by one pixel.
  let reach = match conn {
    Connectivity::Four => 0,
    Connectivity::Eight => 1,
  };
  for y in 1..row_start.len().saturating_sub(1) {
    let (mut i, i_end) = (row_start[y - 1], row_start[y]);
    let (mut j, j_end) = (row_start[y], row_start[y + 1]);
    while i < i_end && j < j_end {
      let (a, b) = (runs[i], runs[j]);
      if a.x0 < b.x1 + reach && b.x0 < a.x1 + reach {
        union(&mut parent, i as u32, j as u32);
      }
      if a.x1 < b.x1 {
        i += 1;
      } else {
        j += 1;
      }
    }
  }
  // Parents always point to lower indices, so one forward sweep resolves every root.
  for k in 0..parent.len() {
    let p = parent[k] as usize;
    parent[k] = parent[p];
  }
  parent
}

fn find(parent: &mut [u32], mut x: u32) -> u32 {
  while parent[x as usize] != x {
    let p = parent[x as usize];
    parent[x as usize] = parent[p as usize]; // path halving
    x = p;
  }
  x
}

/// Joins the sets of `a` and `b`, keeping the lower root (so a root is the first run in raster order).
fn union(parent: &mut [u32], a: u32, b: u32) {
  let (ra, rb) = (find(parent, a), find(parent, b));
  if ra < rb {
    parent[rb as usize] = ra;
  } else if rb < ra {
    parent[ra as usize] = rb;
  }
}

/// Connected components: `skimage.measure.label(mask, connectivity=1 | 2)` (= `scipy.ndimage.label`
/// with the cross or the 3×3 structure). Labels `1..=n` are numbered in raster order of each
/// component's first pixel, 0 is background; returns `(labels, n)`.
///
/// # Panics
/// If `mask.len() != h * w`.
pub fn label(mask: &[bool], h: usize, w: usize, conn: Connectivity) -> (Vec<u32>, u32) {
  check_plane("label mask", mask.len(), h, w);
  let mut out = vec![0u32; mask.len()];
  if mask.is_empty() {
    return (out, 0);
  }
  let runs = Runs::new(mask, h, w, conn);
  // Roots come before their members, so one pass numbers components in raster order.
  let mut run_label = vec![0u32; runs.runs.len()];
  let mut n = 0u32;
  for (k, &root) in runs.root.iter().enumerate() {
    run_label[k] = if root as usize == k {
      n += 1;
      n
    } else {
      run_label[root as usize]
    };
  }
  out.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
    let k = runs.row_start[y]..runs.row_start[y + 1];
    for (r, &l) in runs.runs[k.clone()].iter().zip(&run_label[k]) {
      row[r.x0 as usize..r.x1 as usize].fill(l);
    }
  });
  (out, n)
}

/// `skimage.morphology.remove_small_objects(mask, min_size=min_size)` (connectivity 1, i.e.
/// [`Connectivity::Four`]), in place: components with **at most** `min_size` pixels are cleared.
///
/// That is what the call OpenHCS makes does in scikit-image 0.26: `min_size` is deprecated there
/// and its `deprecate_parameter` wrapper passes the value on as the new `max_size`, whose rule is
/// `size <= max_size` (the old exclusive `size < min_size` branch is no longer reached).
/// `min_size` 0 removes nothing.
///
/// # Panics
/// If `mask.len() != h * w`.
pub fn remove_small_objects(mask: &mut [bool], h: usize, w: usize, min_size: usize) {
  check_plane("remove_small_objects mask", mask.len(), h, w);
  if mask.is_empty() || min_size == 0 {
    return;
  }
  let runs = Runs::new(mask, h, w, Connectivity::Four);
  let drop: Vec<bool> = runs.sizes().iter().map(|&s| s > 0 && s <= min_size).collect();
  runs.clear(mask, w, &drop);
}

/// `skimage.segmentation.clear_border(mask)` (buffer 0), in place: clears every component — with
/// `label`'s default 2-D connectivity, [`Connectivity::Eight`] — that has a pixel in the first or
/// last row or column.
///
/// # Panics
/// If `mask.len() != h * w`.
pub fn clear_border(mask: &mut [bool], h: usize, w: usize) {
  check_plane("clear_border mask", mask.len(), h, w);
  if mask.is_empty() {
    return;
  }
  let runs = Runs::new(mask, h, w, Connectivity::Eight);
  let mut drop = vec![false; runs.runs.len()];
  for y in 0..h {
    let edge_row = y == 0 || y + 1 == h;
    for i in runs.row_start[y]..runs.row_start[y + 1] {
      let r = runs.runs[i];
      if edge_row || r.x0 == 0 || r.x1 as usize == w {
        drop[runs.root[i] as usize] = true;
      }
    }
  }
  runs.clear(mask, w, &drop);
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::segment::test_util::xorshift_unit;

  fn parse(rows: &[&str]) -> (Vec<bool>, usize, usize) {
    let h = rows.len();
    let w = rows[0].len();
    let m = rows.iter().flat_map(|r| r.bytes().map(|b| b == b'#')).collect();
    (m, h, w)
  }

  fn show(mask: &[bool], w: usize) -> Vec<String> {
    mask.chunks(w).map(|r| r.iter().map(|&b| if b { '#' } else { '.' }).collect()).collect()
  }

  /// Plain flood-fill labelling in raster order: the oracle for the run-based version.
  fn flood_label(mask: &[bool], h: usize, w: usize, conn: Connectivity) -> (Vec<u32>, u32) {
    let mut out = vec![0u32; h * w];
    let mut n = 0;
    for start in 0..h * w {
      if !mask[start] || out[start] != 0 {
        continue;
      }
      n += 1;
      out[start] = n;
      let mut stack = vec![start];
      while let Some(p) = stack.pop() {
        let (y, x) = ((p / w) as isize, (p % w) as isize);
        for dy in -1isize..=1 {
          for dx in -1isize..=1 {
            if (dy == 0 && dx == 0) || (conn == Connectivity::Four && dy != 0 && dx != 0) {
              continue;
            }
            let (yy, xx) = (y + dy, x + dx);
            if yy < 0 || xx < 0 || yy >= h as isize || xx >= w as isize {
              continue;
            }
            let q = yy as usize * w + xx as usize;
            if mask[q] && out[q] == 0 {
              out[q] = n;
              stack.push(q);
            }
          }
        }
      }
    }
    (out, n)
  }

  #[test]
  fn label_four_vs_eight_diagonal_touch() {
    let (m, h, w) = parse(&[
      "##....#", //
      "##...#.",
      "..#....",
      "...##..",
      "#......",
    ]);
    let (l4, n4) = label(&m, h, w, Connectivity::Four);
    #[rustfmt::skip]
    let e4 = [
      1, 1, 0, 0, 0, 0, 2,
      1, 1, 0, 0, 0, 3, 0,
      0, 0, 4, 0, 0, 0, 0,
      0, 0, 0, 5, 5, 0, 0,
      6, 0, 0, 0, 0, 0, 0,
    ];
    assert_eq!((l4, n4), (e4.to_vec(), 6));
    let (l8, n8) = label(&m, h, w, Connectivity::Eight);
    #[rustfmt::skip]
    let e8 = [
      1, 1, 0, 0, 0, 0, 2,
      1, 1, 0, 0, 0, 2, 0,
      0, 0, 1, 0, 0, 0, 0,
      0, 0, 0, 1, 1, 0, 0,
      3, 0, 0, 0, 0, 0, 0,
    ];
    assert_eq!((l8, n8), (e8.to_vec(), 3));
  }

  #[test]
  fn label_numbering_follows_first_pixel() {
    // A U shape whose arms only join in the last row: its right arm's first run (0, 4) comes after
    // the lone pixel (0, 2), yet the whole U keeps label 1 from its first pixel (0, 0).
    let (m, h, w) = parse(&["#.#.#", "#...#", "#####"]);
    let (l, n) = label(&m, h, w, Connectivity::Four);
    assert_eq!(n, 2);
    assert_eq!(&l[..5], &[1, 0, 2, 0, 1]);
  }

  #[test]
  fn label_matches_flood_fill_on_random_masks() {
    let cases = [(1, 1, 0.5), (1, 40, 0.6), (40, 1, 0.6), (37, 53, 0.45), (64, 64, 0.6), (300, 300, 0.55)];
    for (seed, (h, w, p)) in cases.into_iter().enumerate() {
      let m: Vec<bool> = xorshift_unit(h * w, 17 + seed as u64).iter().map(|&u| u < p).collect();
      for conn in [Connectivity::Four, Connectivity::Eight] {
        assert_eq!(label(&m, h, w, conn), flood_label(&m, h, w, conn), "case {seed} {conn:?}");
      }
    }
  }

  #[test]
  fn label_empty_and_degenerate() {
    assert_eq!(label(&[], 0, 0, Connectivity::Four), (vec![], 0));
    assert_eq!(label(&[], 0, 5, Connectivity::Four), (vec![], 0));
    assert_eq!(label(&[], 5, 0, Connectivity::Eight), (vec![], 0));
    assert_eq!(label(&[false; 6], 2, 3, Connectivity::Eight), (vec![0; 6], 0));
    assert_eq!(label(&[true; 6], 2, 3, Connectivity::Four), (vec![1; 6], 1));
  }

  #[test]
  fn remove_small_objects_hand_case() {
    // skimage docstring: a = [[0,0,0,1,0],[1,1,1,0,0],[1,1,1,0,1]];
    // remove_small_objects(a, max_size=5) keeps only the 6-pixel block. In 0.26,
    // remove_small_objects(a, min_size=5) is the same call.
    let (mut m, h, w) = parse(&["...#.", "###..", "###.#"]);
    remove_small_objects(&mut m, h, w, 5);
    assert_eq!(show(&m, w), [".....", "###..", "###.."]);
    let (mut m, h, w) = parse(&["...#.", "###..", "###.#"]);
    remove_small_objects(&mut m, h, w, 6);
    assert_eq!(show(&m, w), [".....", ".....", "....."]);
    // The diagonal pair is two 1-pixel objects under connectivity 1; an object of exactly
    // min_size pixels goes too (size <= min_size).
    let (mut m, h, w) = parse(&["#...", ".#..", "..##"]);
    remove_small_objects(&mut m, h, w, 1);
    assert_eq!(show(&m, w), ["....", "....", "..##"]);
    let (mut m, h, w) = parse(&["#...", ".#..", "..##"]);
    remove_small_objects(&mut m, h, w, 2);
    assert_eq!(show(&m, w), ["....", "....", "...."]);
    let (mut m, h, w) = parse(&["#...", ".#..", "..##"]);
    remove_small_objects(&mut m, h, w, 0);
    assert_eq!(show(&m, w), ["#...", ".#..", "..##"]);
    remove_small_objects(&mut [], 0, 3, 10);
  }

  #[test]
  fn clear_border_hand_case() {
    // The object touching the border through a corner-connected pixel goes too (connectivity 2).
    let (mut m, h, w) = parse(&[
      "........", //
      ".##.....",
      ".##..##.",
      "......#.",
      "...#...#",
      "........",
    ]);
    clear_border(&mut m, h, w);
    assert_eq!(show(&m, w), ["........", ".##.....", ".##.....", "........", "...#....", "........"]);
    let (mut m, h, w) = parse(&["##", "##"]);
    clear_border(&mut m, h, w);
    assert_eq!(show(&m, w), ["..", ".."]);
    let (mut m, h, w) = parse(&["...", ".#.", "..."]);
    clear_border(&mut m, h, w);
    assert_eq!(show(&m, w), ["...", ".#.", "..."]);
    clear_border(&mut [], 0, 0);
  }
}
