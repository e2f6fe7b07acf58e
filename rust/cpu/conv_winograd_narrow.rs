//! AVX-512 versions of the Winograd F(2x2, 3x3) transforms (`conv_winograd`)
//! for narrow planes, where one tile row's values fit one 16-lane vector.
//!
//! The generic transforms work on blocks of 8 tiles of one tile row; an 8x8
//! plane has 3 or 4 tiles a row, so every block was half empty, and each
//! pass (padded copy, row transform, column transform) went through memory
//! with bounds checks and partial stores: about 35 cycles per tile and
//! channel, 18% of an 8x8 layer's forward+backward. Here a (padded) row is
//! one zmm, loaded with a mask that supplies the zero padding; a row
//! transform of all its tiles is two permutes, one swap of halves and three
//! adds, the column transform combines those vectors in registers, and each
//! of the 16 points goes to its place with one masked store.
//!
//! The arithmetic is the generic transforms', operation for operation in the
//! same order, so the results are the same bits (tested below), and the
//! non-finite handling of the callers is unchanged.
//!
//! Each entry point returns `false` (and does nothing) when the CPU or the
//! active ISA level lacks AVX-512 or the plane is too wide; the caller then
//! runs the generic transform.

use super::conv_winograd::{Plan, Points};
use std::arch::x86_64::*;
use std::ops::Range;

/// Winograd points per tile.
const POINTS: usize = 16;

/// Whether the input transform fits: the 2 tw + 2 padded columns the tiles
/// of a row read are at most 16.
pub(super) fn input_fits(p: &Plan) -> bool {
    2 * p.tw + 2 <= 16
}

/// Whether the output and gradient transforms fit: a tile row's 2 tw output
/// columns are at most 16.
pub(super) fn output_fits(p: &Plan) -> bool {
    p.tw <= 8
}

fn active() -> bool {
    crate::cpu::isa::use_avx512()
}

/// Lanes below `n` (<= 16).
#[inline(always)]
fn first(n: usize) -> __mmask16 {
    ((1u32 << n) - 1) as __mmask16
}

/// Index vectors for `_mm512_permutexvar_ps`: even columns 0, 2, .. 14 then
/// odd 1, 3, .. 15; and the same shifted by two columns (the lanes that would
/// read columns 16 and 17 belong to an eighth tile, never stored).
#[inline(always)]
unsafe fn pair_indices() -> (__m512i, __m512i) {
    let even_odd = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15);
    let shifted = _mm512_setr_epi32(2, 4, 6, 8, 10, 12, 14, 0, 3, 5, 7, 9, 11, 13, 15, 0);
    (even_odd, shifted)
}

/// Swap the 256-bit halves.
#[inline(always)]
unsafe fn swap_halves(v: __m512) -> __m512 {
    _mm512_shuffle_f32x4::<0x4E>(v, v)
}

/// The row transform B^T of all tiles of a padded row `a` (column c in lane
/// c): tile j's (d0, d1, d2, d3) = columns 2j .. 2j + 3 give (d0 - d2,
/// d1 + d2, d2 - d1, d1 - d3) as `lanes`' three vectors: components 0 and 3
/// in the low and high halves of the first, 1 and 2 in the low halves of the
/// others (the generic `input_1d` on (even, odd, even + 1, odd + 1)).
#[inline(always)]
unsafe fn input_row(a: __m512, (even_odd, shifted): (__m512i, __m512i)) -> [__m512; 3] {
    let p = _mm512_permutexvar_ps(even_odd, a); // e0 | o0
    let q = _mm512_permutexvar_ps(shifted, a); // e1 | o1
    let s = swap_halves(p); // o0 | e0
    [
        _mm512_sub_ps(p, q), // e0 - e1 | o0 - o1
        _mm512_add_ps(s, q), // o0 + e1
        _mm512_sub_ps(q, s), // e1 - o0
    ]
}

/// Store the first `n` tiles of the three row vectors of the four Winograd
/// rows `v[i]` (components k = 0..4) to points 4 i + k, point 0 at `dst`
/// and each next one `point` values further (one pointer stepped in order:
/// 16 addresses computed apart were spilled and reloaded per store).
#[inline(always)]
unsafe fn store_points(v: [[__m512; 3]; 4], n: usize, dst: *mut f32, point: usize) {
    let mask = first(n);
    let mut at = dst;
    for row in v {
        _mm512_mask_storeu_ps(at, mask, row[0]);
        at = at.wrapping_add(point);
        _mm512_mask_storeu_ps(at, mask, row[1]);
        at = at.wrapping_add(point);
        _mm512_mask_storeu_ps(at, mask, row[2]);
        at = at.wrapping_add(point);
        // Component 3 sits in lanes 8.. of the first vector: a store 8
        // values earlier with the mask shifted puts lane 8 at the point's
        // first tile (the masked-off lanes are not accessed).
        _mm512_mask_storeu_ps(at.wrapping_sub(8), mask << 8, row[0]);
        at = at.wrapping_add(point);
    }
}

/// V[xi][c][tile] = (B^T d B)[xi] for the input channels of one sample `x`
/// and the tiles of tile rows `tile_rows`, placed by `at` (see
/// `conv_winograd::input_transform`). Returns false without AVX-512 or when
/// the plane does not fit.
pub(super) fn input_transform(
    p: &Plan,
    x: &[f32],
    v: &mut [f32],
    at: Points,
    tile_rows: Range<usize>,
) -> bool {
    if !active() || !input_fits(p) {
        return false;
    }
    let (ci, nt) = (p.ci, tile_rows.len());
    assert!(
        x.len() >= ci * p.ih * p.iw
            && tile_rows.end <= p.th
            && (ci == 0
                || nt == 0
                || (POINTS - 1) * at.point + (ci - 1) * at.row + at.first + nt * p.tw <= v.len()),
        "winograd (narrow): input or V too short"
    );
    // SAFETY: AVX-512 is active; the assert bounds every access (see the
    // kernel).
    unsafe { input_kernel(p, x, v, at, tile_rows) };
    true
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")]
unsafe fn input_kernel(p: &Plan, x: &[f32], v: &mut [f32], at: Points, tile_rows: Range<usize>) {
    let (lo, nt, tw) = (tile_rows.start, tile_rows.len(), p.tw);
    let idx = pair_indices();
    // Input columns the tiles read (as the generic copy), in lanes pw.. .
    let n = p.iw.min(2 * tw + 2 - p.pw);
    let cols = first(n) << p.pw;
    let (xp, vp) = (x.as_ptr(), v.as_mut_ptr());
    for c in 0..p.ci {
        let plane = xp.add(c * p.ih * p.iw);
        // Row transform of padded row q of the band (plane row 2 lo + q - ph).
        let row = |q: usize| {
            let r = (2 * lo + q).wrapping_sub(p.ph);
            let a = if r < p.ih {
                // Lanes below pw and past the copied columns are the zero
                // padding (masked off, not read).
                _mm512_maskz_loadu_ps(cols, plane.add(r * p.iw).wrapping_sub(p.pw))
            } else {
                _mm512_setzero_ps()
            };
            input_row(a, idx)
        };
        let base = vp.add(c * at.row + at.first);
        let (mut d0, mut d1) = (row(0), row(1));
        for t in 0..nt {
            let (d2, d3) = (row(2 * t + 2), row(2 * t + 3));
            // B^T down the columns, on each of the three row vectors.
            let mut cols = [[_mm512_setzero_ps(); 3]; 4];
            for l in 0..3 {
                cols[0][l] = _mm512_sub_ps(d0[l], d2[l]);
                cols[1][l] = _mm512_add_ps(d1[l], d2[l]);
                cols[2][l] = _mm512_sub_ps(d2[l], d1[l]);
                cols[3][l] = _mm512_sub_ps(d1[l], d3[l]);
            }
            store_points(cols, tw, base.add(t * tw), at.point);
            (d0, d1) = (d2, d3);
        }
    }
}

/// Gy[xi][c][tile] = (A gy A^T)[xi] for the output channels of one sample's
/// output gradient `gy` and tile rows `tile_rows` (see
/// `conv_winograd::grad_transform`). Returns false without AVX-512 or when
/// the plane does not fit.
pub(super) fn grad_transform(
    p: &Plan,
    gy: &[f32],
    out: &mut [f32],
    at: Points,
    tile_rows: Range<usize>,
) -> bool {
    if !active() || !output_fits(p) {
        return false;
    }
    let (co, nt) = (p.co, tile_rows.len());
    assert!(
        gy.len() >= co * p.oh * p.ow
            && tile_rows.end <= p.th
            && (co == 0
                || nt == 0
                || (POINTS - 1) * at.point + (co - 1) * at.row + at.first + nt * p.tw <= out.len()),
        "winograd (narrow): gradient or its transform too short"
    );
    // SAFETY: AVX-512 is active; the assert bounds every access.
    unsafe { grad_kernel(p, gy, out, at, tile_rows) };
    true
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")]
unsafe fn grad_kernel(p: &Plan, gy: &[f32], out: &mut [f32], at: Points, tile_rows: Range<usize>) {
    let (lo, nt, tw) = (tile_rows.start, tile_rows.len(), p.tw);
    let (even_odd, _) = pair_indices();
    let cols = first(p.ow);
    // -0.0 in the high half: flips the sign of component 3 (-g1), exactly
    // as the generic negation (0 - g would turn -0.0 into +0.0).
    let neg_high = _mm512_castsi512_ps(_mm512_setr_epi32(
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        i32::MIN,
        i32::MIN,
        i32::MIN,
        i32::MIN,
        i32::MIN,
        i32::MIN,
        i32::MIN,
        i32::MIN,
    ));
    let neg = _mm512_set1_ps(-0.0);
    let (gp, op) = (gy.as_ptr(), out.as_mut_ptr());
    for c in 0..p.co {
        let plane = gp.add(c * p.oh * p.ow);
        // A along output row r (zero past the edge): tile j's (g0, g1) =
        // columns 2j, 2j + 1 give (g0, g0 + g1, g0 - g1, -g1) as the three
        // vectors of `input_row`'s layout.
        let row = |r: usize| {
            let a = if r < p.oh {
                _mm512_maskz_loadu_ps(cols, plane.add(r * p.ow))
            } else {
                _mm512_setzero_ps()
            };
            let e_o = _mm512_permutexvar_ps(even_odd, a); // g0 | g1
            let o_e = swap_halves(e_o); // g1 | g0
            [
                _mm512_xor_ps(e_o, neg_high), // g0 | -g1
                _mm512_add_ps(e_o, o_e),      // g0 + g1
                _mm512_sub_ps(e_o, o_e),      // g0 - g1
            ]
        };
        let base = op.add(c * at.row + at.first);
        for t in 0..nt {
            let (g0, g1) = (row(2 * (lo + t)), row(2 * (lo + t) + 1));
            // A down the two rows: (g0, g0 + g1, g0 - g1, -g1).
            let mut cols = [g0; 4];
            for l in 0..3 {
                cols[1][l] = _mm512_add_ps(g0[l], g1[l]);
                cols[2][l] = _mm512_sub_ps(g0[l], g1[l]);
                cols[3][l] = _mm512_xor_ps(g1[l], neg);
            }
            store_points(cols, tw, base.add(t * tw), at.point);
        }
    }
}

/// y[c] = A^T M[xi][c][tile] A (+ bias[c]) on the output rows of tile rows
/// `tile_rows` of `samples` samples, M placed by `at` (a chunk's layout:
/// sample s's tiles from s * tiles). See `conv_winograd::output_transform`.
/// Returns false without AVX-512 or when the plane does not fit.
pub(super) fn output_transform(
    p: &Plan,
    m: &[f32],
    at: Points,
    y: &mut [f32],
    bias: Option<&[f32]>,
    (samples, tile_rows): (usize, Range<usize>),
) -> bool {
    if !active() || !output_fits(p) {
        return false;
    }
    let (co, tiles) = (p.co, tile_rows.len() * p.tw);
    let plane = p.oh * p.ow;
    assert!(
        tile_rows.end <= p.th
            && y.len() >= samples * co * plane
            && bias.is_none_or(|b| b.len() >= co)
            && (co == 0
                || samples * tiles == 0
                || (POINTS - 1) * at.point + (co - 1) * at.row + samples * tiles <= m.len()),
        "winograd (narrow): M or output too short"
    );
    // SAFETY: AVX-512 is active; the assert bounds every access.
    unsafe { output_kernel(p, m, at, y, bias, samples, tile_rows) };
    true
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")]
unsafe fn output_kernel(
    p: &Plan,
    m: &[f32],
    at: Points,
    y: &mut [f32],
    bias: Option<&[f32]>,
    samples: usize,
    tile_rows: Range<usize>,
) {
    let (lo, nt, tw) = (tile_rows.start, tile_rows.len(), p.tw);
    let tiles = nt * tw;
    let plane = p.oh * p.ow;
    // Tile rows per group: a group's tiles fill at most one vector.
    let per_group = 16 / tw.max(1);
    // Output column 2j + e of tile j: lane j of the even (e = 0) or odd
    // (e = 1, lanes 16..) vector, for the first tile row of the vectors.
    let interleave = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    let out_cols = first(p.ow);
    let (mp, yp) = (m.as_ptr(), y.as_mut_ptr());
    for s in 0..samples {
        for c in 0..p.co {
            let b = _mm512_set1_ps(bias.map_or(0.0, |b| b[c]));
            let dst = yp.add((s * p.co + c) * plane);
            for t0 in (0..nt).step_by(per_group) {
                let rows = per_group.min(nt - t0);
                let mask = first(rows * tw);
                let src = mp.add(c * at.row + s * tiles + t0 * tw);
                let load = |xi: usize| _mm512_maskz_loadu_ps(mask, src.add(xi * at.point));
                // A^T (m0 + m1 + m2, m1 - m2 - m3) down each column k.
                let column = |k: usize| {
                    let (m0, m1, m2, m3) = (load(k), load(4 + k), load(8 + k), load(12 + k));
                    [
                        _mm512_add_ps(_mm512_add_ps(m0, m1), m2),
                        _mm512_sub_ps(_mm512_sub_ps(m1, m2), m3),
                    ]
                };
                let [c0, c1, c2, c3] = [column(0), column(1), column(2), column(3)];
                for r in 0..2 {
                    // Then along the row, plus the bias.
                    let even = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(c0[r], c1[r]), c2[r]), b);
                    let odd = _mm512_add_ps(_mm512_sub_ps(_mm512_sub_ps(c1[r], c2[r]), c3[r]), b);
                    for t in 0..rows {
                        let y_row = 2 * (lo + t0 + t) + r;
                        if y_row >= p.oh {
                            continue;
                        }
                        let idx = _mm512_add_epi32(interleave, _mm512_set1_epi32((t * tw) as i32));
                        let line = _mm512_permutex2var_ps(even, idx, odd);
                        _mm512_mask_storeu_ps(dst.add(y_row * p.ow), out_cols, line);
                    }
                }
            }
        }
    }
}
