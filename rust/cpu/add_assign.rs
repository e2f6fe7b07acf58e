//! `dst += src` over two equal-length runs of memory: gradient accumulation
//! into an existing `.grad` (one pass: read both, write `dst`).

use crate::parallel;
use crate::tensor::dtype::Float;

crate::multiversion! {
    fn add_run(dst: &mut [T], src: &[T]) => add_run_impl + avx512
}

#[inline(always)]
fn add_run_impl<T: Float>(dst: &mut [T], src: &[T]) {
    for (d, &s) in dst.iter_mut().zip(src) {
        *d += s;
    }
}

/// `dst[i] += src[i]` for every i, in parallel chunks when large.
pub fn add_assign<T: Float>(dst: &mut [T], src: &[T]) {
    debug_assert_eq!(dst.len(), src.len());
    if dst.len() >= parallel::ELEMENTWISE_GRAIN && parallel::num_threads() > 1 {
        let chunk = dst.len().div_ceil(parallel::num_threads() * 4).max(4096);
        parallel::for_each_chunk_mut(dst, chunk, |i, d| {
            let start = i * chunk;
            add_run(d, &src[start..start + d.len()]);
        });
    } else {
        add_run(dst, src);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn adds_in_place_at_any_size() {
        for n in [0usize, 1, 17, 4096, 600_000] {
            let mut d: Vec<f32> = (0..n).map(|i| i as f32).collect();
            let s: Vec<f32> = (0..n).map(|i| 0.5 * i as f32).collect();
            super::add_assign(&mut d, &s);
            assert!(d.iter().enumerate().all(|(i, &v)| v == 1.5 * i as f32));
        }
    }
}
