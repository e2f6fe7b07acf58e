//! Float sums over contiguous memory, vectorised: each value is added into
//! one of 8 lanes of the element type, lanes are combined in f64 every 4K
//! values (accuracy near a cascade sum, at the speed of memory). The
//! generic `fold_reduce` handles every other layout.

use crate::parallel;
use crate::tensor::dtype::Float;

/// Values summed in lanes of the element type before moving to f64.
const BLOCK: usize = 4096;

/// What a run sum adds up.
#[derive(Clone, Copy, PartialEq)]
pub enum Terms {
    Values,
    /// x * x (the 2-norm's sum, without the squares stored).
    Squares,
}

crate::multiversion! {
    /// Sum of one contiguous run.
    fn run_sum(x: &[T], terms: Terms) -> f64 => run_sum_impl
}

/// `run_sum` inlined, for callers that are themselves compiled for AVX2.
#[inline(always)]
pub fn run_sum_impl<T: Float>(x: &[T], terms: Terms) -> f64 {
    // A plain loop: `chunks().map(sum_lanes).sum()` was compiled as a
    // separate iterator function in baseline (SSE) code, outside this AVX2
    // copy, at half the speed.
    let mut total = 0.0;
    for block in x.chunks(BLOCK) {
        total += match terms {
            Terms::Values => crate::cpu::vmath::sum_lanes(block),
            Terms::Squares => crate::cpu::vmath::sum_squares_lanes(block),
        };
    }
    total
}

crate::multiversion! {
    /// `out[i]` = the sum of `x[i * len..(i + 1) * len]` (one feature check
    /// for all the runs: per run it cost a fifth of a 512-value row).
    fn sums_of_runs(x: &[T], len: usize, out: &mut [T], terms: Terms) => sums_of_runs_impl
}

#[inline(always)]
fn sums_of_runs_impl<T: Float>(x: &[T], len: usize, out: &mut [T], terms: Terms) {
    for (i, v) in out.iter_mut().enumerate() {
        *v = T::from_f64(run_sum_impl(&x[i * len..][..len], terms));
    }
}

crate::multiversion! {
    /// `acc[j] += x[i * cols + j]` over all rows i (x is rows x cols).
    fn add_rows(x: &[T], cols: usize, acc: &mut [f64]) => add_rows_impl
}

#[inline(always)]
fn add_rows_impl<T: Float>(x: &[T], cols: usize, acc: &mut [f64]) {
    for row in x.chunks_exact(cols.max(1)) {
        for (a, &v) in acc.iter_mut().zip(row) {
            *a += v.to_f64();
        }
    }
}

/// Where a run sum's values come from: memory, or a computation that
/// produces them block by block (a pending fused chain, `ops::fusion`).
pub trait RunValues<T>: Sync {
    /// How many values there are.
    fn count(&self) -> usize;
    /// The sum of the `len` values from `start`, added as `run_sum` adds.
    fn run_sum(&self, start: usize, len: usize, terms: Terms) -> f64;
    /// `out[i]` = the sum of the run of `len` values from `(first + i) * len`.
    fn sums_of_runs(&self, first: usize, len: usize, out: &mut [T], terms: Terms);
}

impl<T: Float> RunValues<T> for [T] {
    fn count(&self) -> usize {
        self.len()
    }
    fn run_sum(&self, start: usize, len: usize, terms: Terms) -> f64 {
        run_sum(&self[start..start + len], terms)
    }
    fn sums_of_runs(&self, first: usize, len: usize, out: &mut [T], terms: Terms) {
        sums_of_runs(&self[first * len..], len, out, terms)
    }
}

/// `run_sum` over values that `block(start, buf)` writes into `buf`, in
/// the same blocks and order (the same additions, so the same result).
#[inline(always)]
pub fn run_sum_of_blocks(
    start: usize,
    len: usize,
    terms: Terms,
    mut block: impl FnMut(usize, &mut [f32]),
) -> f64 {
    let mut buf = [0f32; BLOCK];
    let mut total = 0.0;
    for at in (start..start + len).step_by(BLOCK) {
        let b = &mut buf[..BLOCK.min(start + len - at)];
        block(at, b);
        total += match terms {
            Terms::Values => crate::cpu::vmath::sum_lanes(b),
            Terms::Squares => crate::cpu::vmath::sum_squares_lanes(b),
        };
    }
    total
}

/// Sums of the `out.len()` consecutive runs of `len` values of `x` (or of
/// their squares).
pub fn run_sums<T: Float, X: RunValues<T> + ?Sized>(
    x: &X,
    len: usize,
    out: &mut [T],
    terms: Terms,
) {
    let threads = parallel::num_threads();
    let n = x.count();
    if out.len() == 1 && n >= parallel::ELEMENTWISE_GRAIN && threads > 1 {
        // One long run: partial sums per chunk, combined in order.
        let chunk = n.div_ceil(threads * 4).div_ceil(BLOCK) * BLOCK;
        let parts: Vec<f64> = parallel::map_tasks(n.div_ceil(chunk), |c| {
            let start = c * chunk;
            x.run_sum(start, chunk.min(n - start), terms)
        });
        out[0] = T::from_f64(parts.into_iter().sum());
        return;
    }
    let each = |first: usize, o: &mut [T]| x.sums_of_runs(first, len, o, terms);
    if n >= parallel::ELEMENTWISE_GRAIN && threads > 1 && out.len() > 1 {
        let per = out.len().div_ceil(threads * 4);
        parallel::for_each_chunk_mut(out, per, |c, o| each(c * per, o));
    } else {
        each(0, out);
    }
}

/// Column sums of the contiguous `rows x out.len()` matrix `x` (a reduction
/// over leading dims, such as a bias gradient's sum over the batch).
pub fn column_sums<T: Float>(x: &[T], out: &mut [T]) {
    let cols = out.len();
    let threads = parallel::num_threads();
    let mut acc = vec![0.0f64; cols];
    if x.len() >= parallel::ELEMENTWISE_GRAIN && threads > 1 && cols >= 64 {
        // Split the columns: each thread walks every row over its slice.
        let per = cols.div_ceil(threads).next_multiple_of(16);
        parallel::for_each_chunk_mut(&mut acc, per, |c, a| {
            for row in x.chunks_exact(cols) {
                for (s, &v) in a.iter_mut().zip(&row[c * per..]) {
                    *s += v.to_f64();
                }
            }
        });
    } else {
        add_rows(x, cols, &mut acc);
    }
    for (o, a) in out.iter_mut().zip(acc) {
        *o = T::from_f64(a);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_match_f64_reference() {
        let x: Vec<f32> = (0..10_007)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) * 0.01)
            .collect();
        let exact: f64 = x.iter().map(|&v| v as f64).sum();
        let mut one = [0f32];
        run_sums(&x[..], x.len(), &mut one, Terms::Values);
        assert!(
            (one[0] as f64 - exact).abs() < 1e-3,
            "{} vs {exact}",
            one[0]
        );
        let (rows, cols) = (7, 1429);
        let mut per_row = vec![0f32; rows];
        run_sums(&x[..rows * cols], cols, &mut per_row, Terms::Values);
        let mut per_col = vec![0f32; cols];
        column_sums(&x[..rows * cols], &mut per_col);
        for r in 0..rows {
            let want: f64 = x[r * cols..(r + 1) * cols].iter().map(|&v| v as f64).sum();
            assert!((per_row[r] as f64 - want).abs() < 1e-4);
        }
        for c in 0..cols {
            let want: f64 = (0..rows).map(|r| x[r * cols + c] as f64).sum();
            assert!((per_col[c] as f64 - want).abs() < 1e-5);
        }
    }
}
