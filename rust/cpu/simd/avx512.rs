//! `Simd` for 16 f32 in a `__m512` (AVX-512F); tails use mask registers.

use super::Simd;
use std::arch::x86_64::*;

#[derive(Clone, Copy)]
pub struct F32x16(pub __m512);

/// Lanes below `n` (< 16) set.
#[inline(always)]
fn first(n: usize) -> __mmask16 {
    ((1u32 << n) - 1) as __mmask16
}

unsafe impl Simd for F32x16 {
    const LANES: usize = 16;
    #[inline(always)]
    unsafe fn zero() -> Self {
        F32x16(_mm512_setzero_ps())
    }
    #[inline(always)]
    unsafe fn splat(x: f32) -> Self {
        F32x16(_mm512_set1_ps(x))
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        F32x16(_mm512_loadu_ps(p))
    }
    #[inline(always)]
    unsafe fn load_halves(lo: *const f32, hi: *const f32) -> Self {
        F32x16(_mm512_insertf32x8::<1>(
            _mm512_castps256_ps512(_mm256_loadu_ps(lo)),
            _mm256_loadu_ps(hi),
        ))
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        _mm512_storeu_ps(p, self.0)
    }
    #[inline(always)]
    unsafe fn load_first(p: *const f32, n: usize) -> Self {
        F32x16(_mm512_maskz_loadu_ps(first(n), p))
    }
    #[inline(always)]
    unsafe fn store_first(self, p: *mut f32, n: usize) {
        _mm512_mask_storeu_ps(p, first(n), self.0)
    }
    #[inline(always)]
    unsafe fn fmadd(a: Self, b: Self, c: Self) -> Self {
        F32x16(_mm512_fmadd_ps(a.0, b.0, c.0))
    }
    #[inline(always)]
    unsafe fn add(self, b: Self) -> Self {
        F32x16(_mm512_add_ps(self.0, b.0))
    }
    #[inline(always)]
    unsafe fn sub(self, b: Self) -> Self {
        F32x16(_mm512_sub_ps(self.0, b.0))
    }
    #[inline(always)]
    unsafe fn mul(self, b: Self) -> Self {
        F32x16(_mm512_mul_ps(self.0, b.0))
    }
    #[inline(always)]
    unsafe fn neg(self) -> Self {
        F32x16(_mm512_xor_ps(self.0, _mm512_set1_ps(-0.0)))
    }
    #[inline(always)]
    unsafe fn load_range(p: *const f32, lo: usize, hi: usize) -> Self {
        let mask = (((1u32 << hi) - 1) & !((1u32 << lo) - 1)) as __mmask16;
        F32x16(_mm512_maskz_loadu_ps(mask, p))
    }
    #[inline(always)]
    unsafe fn deinterleave(a: Self, b: Self) -> (Self, Self) {
        let even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        let odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
        (
            F32x16(_mm512_permutex2var_ps(a.0, even, b.0)),
            F32x16(_mm512_permutex2var_ps(a.0, odd, b.0)),
        )
    }
    #[inline(always)]
    unsafe fn interleave(even: Self, odd: Self) -> (Self, Self) {
        let lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
        let hi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
        (
            F32x16(_mm512_permutex2var_ps(even.0, lo, odd.0)),
            F32x16(_mm512_permutex2var_ps(even.0, hi, odd.0)),
        )
    }
    #[inline(always)]
    unsafe fn max(self, b: Self) -> Self {
        F32x16(_mm512_max_ps(self.0, b.0))
    }
    #[inline(always)]
    unsafe fn relu(self) -> Self {
        // keep the lanes not below zero (an ordered compare: NaN is kept)
        let keep = _mm512_cmp_ps_mask::<_CMP_NLT_UQ>(self.0, _mm512_setzero_ps());
        F32x16(_mm512_maskz_mov_ps(keep, self.0))
    }
    #[inline(always)]
    unsafe fn hsum(self) -> f32 {
        _mm512_reduce_add_ps(self.0)
    }
}
