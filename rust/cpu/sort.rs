//! Sorting rows (sort, argsort, topk): each element becomes a key that
//! orders as PyTorch does, (value key, index), so plain integer comparisons
//! give a total order with ties in index order (a stable sort's result).
//! NaN sorts above +inf, and -0.0 equals 0.0. topk selects its k keys first
//! and sorts only those.
//!
//! (Comparing f64 copies of the values through a closure with NaN checks
//! cost 2.4x PyTorch's topk; integer keys and rows spread over threads.)

use crate::parallel;
use std::cmp::Reverse;

/// Ascending order of an f32 as an unsigned integer.
#[inline(always)]
pub fn f32_key(v: f32) -> u32 {
    if v.is_nan() {
        return u32::MAX;
    }
    // (+ 0.0 turns -0.0 into 0.0.)
    let b = (v + 0.0).to_bits();
    if b >> 31 == 1 {
        !b
    } else {
        b | 1 << 31
    }
}

/// Ascending order of an f64 as an unsigned integer.
#[inline(always)]
pub fn f64_key(v: f64) -> u64 {
    if v.is_nan() {
        return u64::MAX;
    }
    let b = (v + 0.0).to_bits();
    if b >> 63 == 1 {
        !b
    } else {
        b | 1 << 63
    }
}

/// For each row of `n` values in `x`, the indices of its first `k` elements
/// in ascending (or descending) key order, into the rows of `k` of `out`.
pub fn sorted_row_indices<T: Copy + Sync, K: Ord + Copy + Send>(
    x: &[T],
    n: usize,
    k: usize,
    descending: bool,
    key: impl Fn(T) -> K + Sync,
    out: &mut [i64],
) {
    if descending {
        rows(x, n, k, |v| Reverse(key(v)), out)
    } else {
        rows(x, n, k, key, out)
    }
}

fn rows<T: Copy + Sync, K: Ord + Copy + Send>(
    x: &[T],
    n: usize,
    k: usize,
    key: impl Fn(T) -> K + Sync,
    out: &mut [i64],
) {
    if k == 0 || n == 0 {
        return;
    }
    let run = |first_row: usize, out: &mut [i64]| {
        let mut keys: Vec<(K, u32)> = Vec::with_capacity(n);
        for (r, o) in out.chunks_exact_mut(k).enumerate() {
            let row = &x[(first_row + r) * n..][..n];
            keys.clear();
            keys.extend(row.iter().enumerate().map(|(i, &v)| (key(v), i as u32)));
            if k < n {
                keys.select_nth_unstable(k - 1);
                keys.truncate(k);
            }
            keys.sort_unstable();
            for (o, &(_, i)) in o.iter_mut().zip(keys.iter()) {
                *o = i as i64;
            }
        }
    };
    let rows = out.len() / k;
    if rows > 1 && x.len() >= parallel::GRAIN / 8 && parallel::num_threads() > 1 {
        let per = rows.div_ceil(parallel::num_threads() * 4);
        parallel::for_each_chunk_mut(out, per * k, |c, o| run(c * per, o));
    } else {
        run(0, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_order_like_pytorch() {
        let v = [
            f32::NEG_INFINITY,
            -1.0,
            -0.0,
            0.0,
            1e-45,
            2.0,
            f32::INFINITY,
            f32::NAN,
        ];
        let keys: Vec<u32> = v.iter().map(|&x| f32_key(x)).collect();
        assert!(keys.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(f32_key(-0.0), f32_key(0.0));
        assert_eq!(f32_key(-f32::NAN), u32::MAX);
        assert!(f64_key(-1e300) < f64_key(-0.0) && f64_key(f64::INFINITY) < f64_key(f64::NAN));
        let mut out = [0i64; 3];
        sorted_row_indices(&[3.0f32, 1.0, 3.0, f32::NAN], 4, 3, true, f32_key, &mut out);
        assert_eq!(out, [3, 0, 2]);
    }
}
