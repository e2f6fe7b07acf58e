//! Standard normal values from uniform ones (Box-Muller), in blocks of 16:
//! the first 8 uniforms give the radii, the last 8 the angles, and each
//! pair yields a cosine value (first half) and a sine value (second half),
//! the arrangement PyTorch's CPU `normal_` uses. For f32 the logarithm, sine
//! and cosine are vector polynomials (`randn` spent 29 ms per million values
//! in scalar f64 libm calls, PyTorch 4-6 ms).

use crate::cpu::multiversion::with_fma;
use crate::parallel;
use crate::tensor::dtype::num_like::FloatOps;

pub const BLOCK: usize = 16;

/// (sin 2 pi u, cos 2 pi u) for u in [0, 1], in f32 to ~1e-7.
#[inline(always)]
pub fn sincos_2pi_f32(u: f32) -> (f32, f32) {
    // u = q/4 + r with |r| <= 1/8: the angle 2 pi r is within pi/4, where
    // Taylor series to x^9 (sine) and x^10 (cosine) are exact to 2e-9.
    let q = (u * 4.0).round();
    let x = (u - q * 0.25) * std::f32::consts::TAU;
    let x2 = x * x;
    let s = x
        * (1.0
            + x2 * (-1.0 / 6.0
                + x2 * (1.0 / 120.0 + x2 * (-1.0 / 5040.0 + x2 * (1.0 / 362_880.0)))));
    let c = 1.0
        + x2 * (-0.5
            + x2 * (1.0 / 24.0
                + x2 * (-1.0 / 720.0 + x2 * (1.0 / 40320.0 + x2 * (-1.0 / 3_628_800.0)))));
    // Rotate by the quarter turns q: (s, c) -> (c, -s) per quarter.
    let k = (q as i32) & 3;
    let (s1, c1) = if k & 1 == 1 { (c, -s) } else { (s, c) };
    if k & 2 == 2 {
        (-s1, -c1)
    } else {
        (s1, c1)
    }
}

#[inline(always)]
fn block_f32(b: &mut [f32], mean: f32, std: f32) {
    for j in 0..BLOCK / 2 {
        // 1 - u is in (0, 1]: the logarithm is finite.
        let radius = (-2.0 * (1.0 - b[j]).fast_ln()).sqrt();
        let (s, c) = sincos_2pi_f32(b[j + BLOCK / 2]);
        b[j] = mean + std * radius * c;
        b[j + BLOCK / 2] = mean + std * radius * s;
    }
}

fn block_f64(b: &mut [f64], mean: f64, std: f64) {
    for j in 0..BLOCK / 2 {
        let radius = (-2.0 * (1.0 - b[j]).ln()).sqrt();
        let (s, c) = (std::f64::consts::TAU * b[j + BLOCK / 2]).sin_cos();
        b[j] = mean + std * radius * c;
        b[j + BLOCK / 2] = mean + std * radius * s;
    }
}

/// Turn uniforms in [0, 1) into normal values with `mean` and `std`, in
/// place; `x.len()` is a multiple of `BLOCK`.
pub fn normal_from_uniform_f32(x: &mut [f32], mean: f64, std: f64) {
    let (m, sd) = (mean as f32, std as f32);
    let run = |_: usize, c: &mut [f32]| {
        with_fma(|| c.chunks_exact_mut(BLOCK).for_each(|b| block_f32(b, m, sd)))
    };
    if x.len() >= parallel::GRAIN / 4 && parallel::num_threads() > 1 {
        let per = (x.len() / BLOCK).div_ceil(parallel::num_threads() * 4) * BLOCK;
        parallel::for_each_chunk_mut(x, per, run);
    } else {
        run(0, x);
    }
}

/// As `normal_from_uniform_f32`, for f64 (libm's logarithm, sine, cosine).
pub fn normal_from_uniform_f64(x: &mut [f64], mean: f64, std: f64) {
    let run = |_: usize, c: &mut [f64]| {
        c.chunks_exact_mut(BLOCK)
            .for_each(|b| block_f64(b, mean, std))
    };
    if x.len() >= parallel::GRAIN / 16 && parallel::num_threads() > 1 {
        let per = (x.len() / BLOCK).div_ceil(parallel::num_threads() * 4) * BLOCK;
        parallel::for_each_chunk_mut(x, per, run);
    } else {
        run(0, x);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sincos_matches_std() {
        let mut worst = 0.0f64;
        for i in 0..=100_000 {
            let u = i as f32 / 100_000.0;
            let (s, c) = sincos_2pi_f32(u);
            let a = std::f64::consts::TAU * u as f64;
            worst = worst
                .max((s as f64 - a.sin()).abs())
                .max((c as f64 - a.cos()).abs());
        }
        assert!(worst < 1e-6, "worst {worst}");
    }
}
