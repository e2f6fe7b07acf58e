//! Mean and biased variance of a row the way PyTorch's CPU layer_norm and
//! group_norm take them (`RowwiseMoments`): Welford updates in vector lanes
//! of the input's own type, over chunks of 16 vectors, the chunk moments
//! merged pairwise (a cascade), then the lanes and the scalar tail merged.
//!
//! Every operation and its rounding follow that algorithm, fused
//! multiply-adds included, because its result is visible where it matters:
//! float32 moments of values near 3e38 overflow to inf or NaN or not
//! depending on how the row falls into lanes and chunks, and the mean of a
//! constant row far from 0 can be off by an ulp (which the normalization
//! then enlarges). The lanes are 32 bytes (8 f32, 4 f64) as in PyTorch's
//! AVX2 and portable builds: its AVX-512 build registers no layer/group
//! norm kernels (plain `REGISTER_DISPATCH`), so AVX-512 CPUs run the AVX2
//! ones. Multiply-adds are fused where PyTorch's build has FMA (AVX2).

use super::isa;

/// Chunk of vectors whose Welford updates run before a merge (`kChunkSize`).
const CHUNK: usize = 16;
/// Deepest merge cascade: 2^64 chunks is more than any row.
const MAX_DEPTH: usize = 64;
/// Merge cascade kept in an array.
const SHORT_DEPTH: usize = 8;

/// The arithmetic the algorithm needs, for f32 and f64.
pub trait MomentFloat:
    Copy
    + PartialOrd
    + std::ops::Add<Output = Self>
    + std::ops::Sub<Output = Self>
    + std::ops::Mul<Output = Self>
    + std::ops::Div<Output = Self>
{
    const ZERO: Self;
    fn from_count(n: usize) -> Self;
    fn mul_add(self, b: Self, c: Self) -> Self;
    fn to_f64(self) -> f64;
}

impl MomentFloat for f32 {
    const ZERO: Self = 0.0;
    #[inline(always)]
    fn from_count(n: usize) -> Self {
        n as f32
    }
    #[inline(always)]
    fn mul_add(self, b: Self, c: Self) -> Self {
        f32::mul_add(self, b, c)
    }
    fn to_f64(self) -> f64 {
        self as f64
    }
}

impl MomentFloat for f64 {
    const ZERO: Self = 0.0;
    #[inline(always)]
    fn from_count(n: usize) -> Self {
        n as f64
    }
    #[inline(always)]
    fn mul_add(self, b: Self, c: Self) -> Self {
        f64::mul_add(self, b, c)
    }
    fn to_f64(self) -> f64 {
        self
    }
}

/// `a * b + c`, fused where PyTorch's build for the capability fuses it.
#[inline(always)]
fn madd<T: MomentFloat, const FUSED: bool>(a: T, b: T, c: T) -> T {
    if FUSED {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// Moments of `L` lanes: count (the same in every lane), means, sums of
/// squared deviations.
#[derive(Clone, Copy)]
struct Lanes<T, const L: usize> {
    count: usize,
    m1: [T; L],
    m2: [T; L],
}

impl<T: MomentFloat, const L: usize> Lanes<T, L> {
    fn zero() -> Self {
        Lanes {
            count: 0,
            m1: [T::ZERO; L],
            m2: [T::ZERO; L],
        }
    }

    /// `AddMomentsVec`: merges `add` into `self`.
    #[inline(always)]
    fn merge<const FUSED: bool>(&mut self, add: &Self) {
        let n = self.count + add.count;
        let c = if n == 0 {
            T::ZERO
        } else {
            T::from_count(add.count) / T::from_count(n)
        };
        let m0 = T::from_count(self.count);
        for l in 0..L {
            let delta = add.m1[l] - self.m1[l];
            let m2_sum = self.m2[l] + add.m2[l];
            let c_delta = c * delta;
            let m0_delta = delta * m0;
            self.m1[l] = self.m1[l] + c_delta;
            self.m2[l] = madd::<T, FUSED>(m0_delta, c_delta, m2_sum);
        }
        self.count = n;
    }
}

/// `UpdateMomentsVec` before its merge: Welford over `count` vectors of `x`.
#[inline(always)]
// (lane-parallel arrays indexed together, kept in registers)
#[allow(clippy::needless_range_loop)]
fn chunk_moments<T: MomentFloat, const L: usize, const FUSED: bool>(
    x: &[T],
    count: usize,
) -> Lanes<T, L> {
    let (mut m1, mut m2) = ([T::ZERO; L], [T::ZERO; L]);
    for (j, v) in x[..count * L].chunks_exact(L).enumerate() {
        let Ok(v) = <&[T; L]>::try_from(v) else {
            continue;
        };
        let inv = T::from_count(1) / T::from_count(j + 1);
        for l in 0..L {
            let delta = v[l] - m1[l];
            m1[l] = madd::<T, FUSED>(inv, delta, m1[l]);
            let after = v[l] - m1[l];
            m2[l] = madd::<T, FUSED>(delta, after, m2[l]);
        }
    }
    Lanes { count, m1, m2 }
}

/// PyTorch's `CeilLog2` (at least 1).
fn ceil_log2(x: usize) -> usize {
    if x <= 2 {
        1
    } else {
        (usize::BITS - (x - 1).leading_zeros()) as usize
    }
}

/// `RowwiseMoments(x, N)` with `L` lanes: (mean, biased variance) in `T`.
#[inline(always)]
fn moments_impl<T: MomentFloat, const L: usize, const FUSED: bool>(x: &[T]) -> (T, T) {
    let len = x.len();
    let vectors = len / L;
    let chunks = vectors.div_ceil(CHUNK);
    let depth = ceil_log2(chunks).min(MAX_DEPTH);
    // (a short stack on the stack: rows of up to 2^8 chunks)
    let mut short = [Lanes::<T, L>::zero(); SHORT_DEPTH];
    let mut long = Vec::new();
    let stack: &mut [Lanes<T, L>] = if depth <= SHORT_DEPTH {
        &mut short
    } else {
        long.resize(depth, Lanes::zero());
        &mut long
    };
    // Chunk i's moments merged into the bottom of the stack, then the
    // cascade of merges its count completes.
    let mut absorb = |i: usize, chunk: &Lanes<T, L>| {
        stack[0].merge::<FUSED>(chunk);
        let mut mask = i + 1;
        let mut j = 1;
        while j < depth && mask & 1 == 0 {
            let lower = stack[j - 1];
            stack[j].merge::<FUSED>(&lower);
            stack[j - 1] = Lanes::zero();
            mask >>= 1;
            j += 1;
        }
    };
    for i in 0..chunks {
        let count = CHUNK.min(vectors - i * CHUNK);
        absorb(i, &chunk_moments::<T, L, FUSED>(&x[i * CHUNK * L..], count));
    }
    for i in 1..depth {
        let upper = stack[i];
        stack[0].merge::<FUSED>(&upper);
    }
    // The tail, one value at a time.
    let (mut m0, mut m1, mut m2) = (0usize, T::ZERO, T::ZERO);
    for &v in &x[vectors * L..] {
        let delta = v - m1;
        m0 += 1;
        m1 = m1 + delta / T::from_count(m0);
        m2 = madd::<T, FUSED>(delta, v - m1, m2);
    }
    // `AddMoments` of each lane (as compiled: both products fused into the
    // adds they feed).
    let lanes = &stack[0];
    for l in 0..L {
        let n = m0 + vectors;
        let c = if n == 0 {
            T::ZERO
        } else {
            T::from_count(vectors) / T::from_count(n)
        };
        let delta = lanes.m1[l] - m1;
        m1 = madd::<T, FUSED>(c, delta, m1);
        m2 = m2 + madd::<T, FUSED>(delta * delta * c, T::from_count(m0), lanes.m2[l]);
        m0 = n;
    }
    (m1, m2 / T::from_count(len))
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn moments_avx2<T: MomentFloat, const L: usize>(x: &[T]) -> (T, T) {
    moments_impl::<T, L, true>(x)
}

/// (mean, biased variance) of a float32 row, as PyTorch computes them.
pub fn row_moments_f32(x: &[f32]) -> (f32, f32) {
    #[cfg(target_arch = "x86_64")]
    if isa::use_avx2() {
        // SAFETY: the CPU supports the enabled features.
        return unsafe { moments_avx2::<f32, 8>(x) };
    }
    moments_impl::<f32, 8, false>(x)
}

/// (mean, biased variance) of a float64 row, as PyTorch computes them.
pub fn row_moments_f64(x: &[f64]) -> (f64, f64) {
    #[cfg(target_arch = "x86_64")]
    if isa::use_avx2() {
        // SAFETY: the CPU supports the enabled features.
        return unsafe { moments_avx2::<f64, 4>(x) };
    }
    moments_impl::<f64, 4, false>(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moments_match_the_two_pass_values() {
        for len in [1usize, 7, 16, 17, 200, 1000, 5000] {
            let x: Vec<f64> = (0..len)
                .map(|i| ((i * 37) % 101) as f64 * 0.5 - 7.0)
                .collect();
            let mean = x.iter().sum::<f64>() / len as f64;
            let var = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / len as f64;
            for isa in isa::supported() {
                isa::set_active(isa).unwrap();
                let (m, v) = row_moments_f64(&x);
                assert!(
                    (m - mean).abs() < 1e-12 && (v - var).abs() < 1e-9,
                    "{len} {isa:?}"
                );
                let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
                let (m, v) = row_moments_f32(&x32);
                assert!(
                    (m as f64 - mean).abs() < 1e-4 && (v as f64 - var).abs() < 1e-3 * var.max(1.0)
                );
            }
        }
    }

    #[test]
    fn float32_moments_overflow_like_pytorch() {
        // A constant row of 3e38: where no value is left for the scalar
        // tail, merging the lanes into it multiplies (3e38)^2 = inf by a
        // count of 0 (NaN); one value there keeps the variance 0. (PyTorch's
        // variance of these rows.)
        for isa in isa::supported() {
            isa::set_active(isa).unwrap();
            for (len, nan) in [
                (1, true),
                (8, true),
                (9, false),
                (15, false),
                (16, true),
                (17, false),
            ] {
                let x = vec![3e38f32; len];
                let (mean, var) = row_moments_f32(&x);
                assert_eq!(mean, 3e38);
                assert_eq!(var.is_nan(), nan, "{len} {isa:?}");
            }
        }
    }
}
