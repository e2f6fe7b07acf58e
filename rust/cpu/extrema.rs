//! The largest (or smallest) value of contiguous rows and where it first
//! occurs: `argmax`, `max(dim)` and `amax` over the last dims.
//!
//! The generic reduction folds an `Option` per element (2 ms for a
//! 1024x1024 argmax against PyTorch's 1.2-1.7); here each row takes one
//! pass in vector lanes for the value and a second, usually shorter, one
//! for its first position.

use crate::parallel;
use crate::tensor::dtype::Float;

/// Lanes: four vectors of f32, so the compare-and-select chains overlap.
const LANES: usize = 32;

/// `v` replaces `best` when it is larger (smaller) or NaN; a NaN stays, so
/// NaN wins, as PyTorch's max/argmax.
#[inline(always)]
fn better<T: Float>(v: T, best: T, is_max: bool) -> bool {
    #[allow(clippy::eq_op)]
    let nan = v != v;
    nan || if is_max { v > best } else { v < best }
}

#[inline(always)]
fn extremum_impl<T: Float>(row: &[T], is_max: bool) -> T {
    let mut acc = [row[0]; LANES];
    let chunks = row.chunks_exact(LANES);
    let rest = chunks.remainder();
    for ch in chunks {
        for j in 0..LANES {
            acc[j] = if better(ch[j], acc[j], is_max) {
                ch[j]
            } else {
                acc[j]
            };
        }
    }
    acc.iter()
        .chain(rest)
        .fold(row[0], |b, &v| if better(v, b, is_max) { v } else { b })
}

/// Index of the first element of `row` equal to `value` (NaN: the first NaN).
#[inline(always)]
fn first_position<T: Float>(row: &[T], value: T) -> usize {
    #[allow(clippy::eq_op)]
    let nan = value != value;
    #[allow(clippy::eq_op)]
    let hit = |v: T| if nan { v != v } else { v == value };
    let mut start = 0;
    for ch in row.chunks(LANES) {
        // Without an early exit, so the test of a whole chunk vectorises.
        if ch.iter().fold(false, |a, &v| a | hit(v)) {
            return start + ch.iter().position(|&v| hit(v)).unwrap_or(0);
        }
        start += ch.len();
    }
    0
}

crate::multiversion! {
    /// For each of the `values.len()` consecutive rows of `x`: the extreme
    /// value and, when `index` is not empty, the position of its first
    /// occurrence.
    fn rows_impl(x: &[T], values: &mut [T], index: &mut [i64], is_max: bool) => rows_body
}

#[inline(always)]
fn rows_body<T: Float>(x: &[T], values: &mut [T], index: &mut [i64], is_max: bool) {
    let len = x.len() / values.len().max(1);
    for (r, v) in values.iter_mut().enumerate() {
        let row = &x[r * len..][..len];
        *v = extremum_impl(row, is_max);
        if let Some(i) = index.get_mut(r) {
            *i = first_position(row, *v) as i64;
        }
    }
}

/// Extremes of the `values.len()` consecutive rows of `x` (each non-empty),
/// with first positions into `index` unless it is empty; rows spread over
/// the threads when there is enough work.
pub fn row_extrema<T: Float>(x: &[T], values: &mut [T], index: &mut [i64], is_max: bool) {
    let rows = values.len();
    if rows == 0 {
        return;
    }
    let len = x.len() / rows;
    if x.len() < parallel::ELEMENTWISE_GRAIN || parallel::num_threads() == 1 || rows == 1 {
        return rows_impl(x, values, index, is_max);
    }
    let per = rows.div_ceil(parallel::num_threads() * 4);
    let with_index = !index.is_empty();
    let idx = parallel::SendPtr(index.as_mut_ptr());
    parallel::for_each_chunk_mut(values, per, |c, v| {
        let start = c * per;
        let index = if with_index {
            // SAFETY: chunk c owns index rows start..start + v.len().
            unsafe { std::slice::from_raw_parts_mut({ idx }.0.add(start), v.len()) }
        } else {
            &mut []
        };
        rows_impl(&x[start * len..(start + v.len()) * len], v, index, is_max);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_extreme_and_nan() {
        let mut x: Vec<f32> = (0..200).map(|i| ((i * 37) % 101) as f32).collect();
        x[150] = 100.0; // ties the earlier 100 at i = 100 * 37^-1 mod 101
        let first = x.iter().position(|&v| v == 100.0).unwrap();
        let (mut v, mut i) = ([0f32; 2], [0i64; 2]);
        row_extrema(&x, &mut v, &mut i, true);
        assert_eq!((v[0], i[0]), (100.0, first as i64));
        assert_eq!(v[1], x[100..].iter().cloned().fold(f32::MIN, f32::max));
        row_extrema(&x, &mut v, &mut i, false);
        assert_eq!((v[0], i[0]), (0.0, 0));
        x[77] = f32::NAN;
        x[90] = f32::NAN;
        row_extrema(&x, &mut v, &mut i, false);
        assert!(v[0].is_nan());
        assert_eq!(i[0], 77);
    }
}
