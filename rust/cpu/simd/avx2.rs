//! `Simd` for 8 f32 in a `__m256` (AVX2 + FMA).

use super::Simd;
use std::arch::x86_64::*;

#[derive(Clone, Copy)]
pub struct F32x8(pub __m256);

/// Lanes below `n` all ones (a maskload/maskstore mask).
#[inline(always)]
unsafe fn first(n: usize) -> __m256i {
    _mm256_cmpgt_epi32(
        _mm256_set1_epi32(n as i32),
        _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
    )
}

unsafe impl Simd for F32x8 {
    const LANES: usize = 8;
    #[inline(always)]
    unsafe fn zero() -> Self {
        F32x8(_mm256_setzero_ps())
    }
    #[inline(always)]
    unsafe fn splat(x: f32) -> Self {
        F32x8(_mm256_set1_ps(x))
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        F32x8(_mm256_loadu_ps(p))
    }
    #[inline(always)]
    unsafe fn load_halves(lo: *const f32, hi: *const f32) -> Self {
        F32x8(_mm256_loadu2_m128(hi, lo))
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        _mm256_storeu_ps(p, self.0)
    }
    #[inline(always)]
    unsafe fn load_first(p: *const f32, n: usize) -> Self {
        F32x8(_mm256_maskload_ps(p, first(n)))
    }
    #[inline(always)]
    unsafe fn store_first(self, p: *mut f32, n: usize) {
        _mm256_maskstore_ps(p, first(n), self.0)
    }
    #[inline(always)]
    unsafe fn fmadd(a: Self, b: Self, c: Self) -> Self {
        F32x8(_mm256_fmadd_ps(a.0, b.0, c.0))
    }
    #[inline(always)]
    unsafe fn add(self, b: Self) -> Self {
        F32x8(_mm256_add_ps(self.0, b.0))
    }
    #[inline(always)]
    unsafe fn sub(self, b: Self) -> Self {
        F32x8(_mm256_sub_ps(self.0, b.0))
    }
    #[inline(always)]
    unsafe fn mul(self, b: Self) -> Self {
        F32x8(_mm256_mul_ps(self.0, b.0))
    }
    #[inline(always)]
    unsafe fn neg(self) -> Self {
        F32x8(_mm256_xor_ps(self.0, _mm256_set1_ps(-0.0)))
    }
    #[inline(always)]
    unsafe fn load_range(p: *const f32, lo: usize, hi: usize) -> Self {
        // lanes below hi and not below lo (vmaskmovps: masked-off lanes are
        // not accessed and never fault)
        let mask = _mm256_andnot_si256(first(lo), first(hi));
        F32x8(_mm256_maskload_ps(p, mask))
    }
    #[inline(always)]
    unsafe fn deinterleave(a: Self, b: Self) -> (Self, Self) {
        // pairs within 128-bit lanes, then the 64-bit halves put in order
        // (no closure: one would be compiled without AVX2 and not inlined)
        let even = _mm256_castps_pd(_mm256_shuffle_ps::<0x88>(a.0, b.0));
        let odd = _mm256_castps_pd(_mm256_shuffle_ps::<0xDD>(a.0, b.0));
        (
            F32x8(_mm256_castpd_ps(_mm256_permute4x64_pd::<0xD8>(even))),
            F32x8(_mm256_castpd_ps(_mm256_permute4x64_pd::<0xD8>(odd))),
        )
    }
    #[inline(always)]
    unsafe fn interleave(even: Self, odd: Self) -> (Self, Self) {
        let (lo, hi) = (
            _mm256_unpacklo_ps(even.0, odd.0),
            _mm256_unpackhi_ps(even.0, odd.0),
        );
        (
            F32x8(_mm256_permute2f128_ps::<0x20>(lo, hi)),
            F32x8(_mm256_permute2f128_ps::<0x31>(lo, hi)),
        )
    }
    #[inline(always)]
    unsafe fn max(self, b: Self) -> Self {
        F32x8(_mm256_max_ps(self.0, b.0))
    }
    #[inline(always)]
    unsafe fn relu(self) -> Self {
        // zero the lanes below zero (an ordered compare: NaN is kept)
        let below = _mm256_cmp_ps::<_CMP_LT_OQ>(self.0, _mm256_setzero_ps());
        F32x8(_mm256_andnot_ps(below, self.0))
    }
    #[inline(always)]
    unsafe fn hsum(self) -> f32 {
        let s = _mm_add_ps(
            _mm256_castps256_ps128(self.0),
            _mm256_extractf128_ps::<1>(self.0),
        );
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        let s = _mm_add_ss(s, _mm_movehdup_ps(s));
        _mm_cvtss_f32(s)
    }
}
