//! The AVX512_BF16 micro-kernel: C[12x32] (+)= A-panel @ B-panel with
//! `vdpbf16ps`, which multiplies 16 pairs of bf16 and adds both products
//! of each pair into one float32 lane. 24 zmm accumulators hold the tile;
//! each pair of depths loads two 32-column rows of the packed B panel and
//! broadcasts one (A[i, 2q], A[i, 2q+1]) word per row of A.

use super::{Tile, MR, NR};
#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// # Safety
/// The CPU has AVX512_BF16; `a` holds `pairs * MR` words and `b`
/// `pairs * NR`; every element of `tile` is inside C's allocation.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512bf16,avx512f,avx512bw,avx512vl")]
pub unsafe fn kernel_12x32(pairs: usize, a: *const u32, b: *const u32, tile: Tile) {
    let mut acc = [[_mm512_setzero_ps(); 2]; MR];
    // (C is neither read nor written when a rounded tile overwrites)
    let uses_c = tile.out16.is_null() || !tile.overwrite;
    if tile.cs == 1 && uses_c {
        // fetch C's rows now, not after the loop (see sgemm's kernel)
        for i in 0..tile.rows {
            let p = tile.ptr.offset(i as isize * tile.rs) as *const i8;
            _mm_prefetch::<_MM_HINT_T0>(p);
            _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(4 * NR - 1));
        }
    }
    let (mut ap, mut bp) = (a, b);
    for _ in 0..pairs {
        _mm_prefetch::<_MM_HINT_T0>(bp.wrapping_add(8 * NR) as *const i8);
        let b0: __m512bh = std::mem::transmute(_mm512_loadu_si512(bp as *const _));
        let b1: __m512bh = std::mem::transmute(_mm512_loadu_si512(bp.add(16) as *const _));
        for (i, row) in acc.iter_mut().enumerate() {
            let x: __m512bh = std::mem::transmute(_mm512_set1_epi32(*ap.add(i) as i32));
            row[0] = _mm512_dpbf16_ps(row[0], x, b0);
            row[1] = _mm512_dpbf16_ps(row[1], x, b1);
        }
        ap = ap.add(MR);
        bp = bp.add(NR);
    }
    if tile.cs == 1 {
        // Row-major C: masked loads and stores of the live columns.
        let cols = tile.cols as u32;
        let m0: __mmask16 = if cols >= 16 {
            0xffff
        } else {
            ((1u32 << cols) - 1) as u16
        };
        let m1: __mmask16 = if cols >= 32 {
            0xffff
        } else if cols > 16 {
            ((1u32 << (cols - 16)) - 1) as u16
        } else {
            0
        };
        for (i, row) in acc.iter().enumerate().take(tile.rows) {
            let (mut v0, mut v1) = (row[0], row[1]);
            if !tile.overwrite {
                let p = tile.ptr.offset(i as isize * tile.rs);
                v0 = _mm512_add_ps(_mm512_maskz_loadu_ps(m0, p), v0);
                v1 = _mm512_add_ps(_mm512_maskz_loadu_ps(m1, p.add(16)), v1);
            }
            if tile.out16.is_null() {
                let p = tile.ptr.offset(i as isize * tile.rs);
                _mm512_mask_storeu_ps(p, m0, v0);
                _mm512_mask_storeu_ps(p.add(16), m1, v1);
            } else {
                let q = tile.out16.offset(i as isize * tile.rs) as *mut i16;
                _mm256_mask_storeu_epi16(q, m0, round_to_bf16(v0));
                _mm256_mask_storeu_epi16(q.add(16), m1, round_to_bf16(v1));
            }
        }
        return;
    }
    // Strided C: spill the registers and write element by element.
    debug_assert!(tile.out16.is_null(), "rounded tiles are row-major");
    let mut tmp = [0f32; MR * NR];
    for (i, row) in acc.iter().enumerate() {
        _mm512_storeu_ps(tmp.as_mut_ptr().add(i * NR), row[0]);
        _mm512_storeu_ps(tmp.as_mut_ptr().add(i * NR + 16), row[1]);
    }
    super::write_tile(&tmp, NR, tile);
}

/// 16 floats rounded to bf16 bits as `bf16_cast::round_bits` does (nearest
/// even; NaN kept quiet with its sign and high payload), in the low halves
/// packed to 16 words.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn round_to_bf16(v: __m512) -> __m256i {
    let x = _mm512_castps_si512(v);
    let abs = _mm512_and_si512(x, _mm512_set1_epi32(0x7fff_ffff));
    let nan = _mm512_cmpgt_epu32_mask(abs, _mm512_set1_epi32(0x7f80_0000));
    let high = _mm512_srli_epi32::<16>(x);
    let bias = _mm512_add_epi32(
        _mm512_and_si512(high, _mm512_set1_epi32(1)),
        _mm512_set1_epi32(0x7fff),
    );
    let rounded = _mm512_srli_epi32::<16>(_mm512_add_epi32(x, bias));
    let quiet = _mm512_or_si512(high, _mm512_set1_epi32(0x40));
    _mm512_cvtepi32_epi16(_mm512_mask_blend_epi32(nan, rounded, quiet))
}
