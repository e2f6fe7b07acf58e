//! The Winograd F(2x2, 3x3) transforms (`conv_winograd`) in registers, written
//! once for any vector width (`simd::Simd`) and run with AVX2 (`F32x8`).
//!
//! The generic transforms go through memory three times per channel: a
//! zero-padded copy of the rows, the row transforms of whole rows, then the
//! column transforms (blocks of 8 tiles, bounds-checked slices). On the AVX2
//! Zen 3 here they were 14% (input), 6% (output) and 3% (gradient) of a
//! VGG-ish training step, and 20% of the 8x8 64->128 layer (as much as its
//! GEMMs' third): several times their load/store count. Here, for `LANES`
//! tiles of one tile row at a time, each padded row is loaded straight from
//! the plane (masked loads supply the zero padding: lanes outside the row are
//! not read), deinterleaved into the tiles' even and odd columns, row
//! transformed in registers, and each tile row's two new rows are reused by
//! the next tile row; the column transform then stores the 16 points. The
//! output transform loads the 16 points of `LANES` tiles, transforms, and
//! interleaves the even and odd output columns into the rows.
//!
//! The arithmetic is the generic transforms', operation for operation with
//! the same operands in the same order (padding as +0.0 values run through
//! the same formulas), so the results are the same bits (NaN where they give
//! NaN: which NaN an add passes on may depend on operand order, which the
//! compiler may swap in the generic code). Tested below.
//!
//! Stores: a partial block (a tile row shorter than `LANES`) is written whole
//! where its spill lands on values written later (the next tile rows or
//! output rows and planes of the call, or the next samples' tiles of a chunk:
//! callers transform a chunk's samples in order), else with a masked store.
//!
//! Only the AVX2 level runs these (`active`): at the AVX-512 level the
//! narrow-plane kernels (`conv_winograd_narrow`) and the generic blocks keep
//! the paths measured on Zen 4.

use super::conv_winograd::{prefetch_span, Plan, Points};
use super::simd::{F32x8, Simd};
use std::ops::Range;

/// Winograd points per tile.
const POINTS: usize = 16;

/// Whether these kernels run: f32 at the AVX2 level exactly.
fn active() -> bool {
    crate::cpu::isa::use_avx2() && !crate::cpu::isa::use_avx512()
}

/// Lanes `l` of `row + at + l` with `0 <= at + l < width` (the rest zero,
/// not read).
///
/// # Safety
/// `row..row + width` is readable; the CPU supports `V`.
#[inline(always)]
unsafe fn load_cols<V: Simd>(row: *const f32, at: isize, width: usize) -> V {
    let lanes = V::LANES as isize;
    let lo = (-at).clamp(0, lanes);
    let hi = (width as isize - at).clamp(lo, lanes);
    let p = row.wrapping_offset(at);
    if lo == 0 && hi == lanes {
        V::load(p)
    } else if lo == hi {
        V::zero()
    } else {
        V::load_range(p, lo as usize, hi as usize)
    }
}

/// Store the first `n` lanes of `v` at `p`: all of them where `spill` (the
/// lanes past `n` land on values written later), else masked.
///
/// # Safety
/// `p..p + n` (with `spill`, `p..p + LANES`) is writable.
#[inline(always)]
unsafe fn put<V: Simd>(v: V, p: *mut f32, n: usize, spill: bool) {
    if n >= V::LANES || spill {
        v.store(p)
    } else {
        v.store_first(p, n)
    }
}

/// B^T along a padded row for `LANES` tiles: tile j's padded columns 2j ..
/// 2j + 3 = (e0, o0, e1, o1) give (e0 - e1, o0 + e1, e1 - o0, o0 - o1)
/// (`conv_winograd::input_1d`). `at`: the plane column under the first tile's
/// first padded column; `row` None for a padding row (zeros).
#[inline(always)]
unsafe fn input_row<V: Simd>(row: Option<*const f32>, at: isize, width: usize) -> [V; 4] {
    let lanes = V::LANES as isize;
    let (a, b, a2, b2) = match row {
        Some(r) => (
            load_cols::<V>(r, at, width),
            load_cols::<V>(r, at + lanes, width),
            load_cols::<V>(r, at + 2, width),
            load_cols::<V>(r, at + 2 + lanes, width),
        ),
        None => (V::zero(), V::zero(), V::zero(), V::zero()),
    };
    let (e0, o0) = V::deinterleave(a, b);
    let (e1, o1) = V::deinterleave(a2, b2);
    [e0.sub(e1), o0.add(e1), e1.sub(o0), o0.sub(o1)]
}

/// `input_row` of padded row `q` of a plane (plane row q - ph, zeros outside
/// the plane).
#[inline(always)]
unsafe fn padded_row<V: Simd>(p: &Plan, plane: *const f32, q: usize, col: isize) -> [V; 4] {
    let r = q.wrapping_sub(p.ph);
    let row = if r < p.ih {
        Some(plane.add(r * p.iw))
    } else {
        None
    };
    input_row::<V>(row, col, p.iw)
}

/// V[xi][c][tile] = (B^T d B)[xi] for the input channels of one sample `x`
/// and the tiles of tile rows `tile_rows`, placed by `at` (as
/// `conv_winograd::input_transform`). False (nothing done) unless the active
/// level is AVX2.
pub(super) fn input_transform(
    p: &Plan,
    x: &[f32],
    v: &mut [f32],
    at: Points,
    tile_rows: Range<usize>,
) -> bool {
    if !active() {
        return false;
    }
    // SAFETY: AVX2 and FMA are active.
    unsafe { input_avx2(p, x, v, at, tile_rows) };
    true
}

/// `input_transform` without the level check (tests).
///
/// # Safety
/// The CPU has AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn input_avx2(
    p: &Plan,
    x: &[f32],
    v: &mut [f32],
    at: Points,
    tile_rows: Range<usize>,
) {
    input_kernel::<F32x8>(p, x, v, at, tile_rows)
}

#[inline(always)]
unsafe fn input_kernel<V: Simd>(
    p: &Plan,
    x: &[f32],
    v: &mut [f32],
    at: Points,
    tile_rows: Range<usize>,
) {
    let (ci, lo, nt, tw) = (p.ci, tile_rows.start, tile_rows.len(), p.tw);
    assert!(
        x.len() >= ci * p.ih * p.iw
            && tile_rows.end <= p.th
            && (ci == 0
                || nt == 0
                || (POINTS - 1) * at.point + (ci - 1) * at.row + at.first + nt * tw <= v.len()),
        "winograd (rows): input or V too short"
    );
    let lanes = V::LANES;
    let plane_len = p.ih * p.iw;
    // Plane rows the band reads: 2 lo - ph .. 2 (lo + nt) + 2 - ph, clipped.
    let read =
        (2 * lo).saturating_sub(p.ph).min(p.ih)..(2 * (lo + nt) + 2).saturating_sub(p.ph).min(p.ih);
    let vp = v.as_mut_ptr();
    for c in 0..ci {
        if c + 1 < ci && !read.is_empty() {
            let next = (c + 1) * plane_len;
            prefetch_span(&x[next + read.start * p.iw..next + read.end * p.iw]);
        }
        let plane = x.as_ptr().add(c * plane_len);
        let base = vp.add(c * at.row + at.first);
        for j0 in (0..tw).step_by(lanes) {
            let n = lanes.min(tw - j0);
            let col = (2 * j0) as isize - p.pw as isize;
            // (No closures here: they would be compiled without AVX2.)
            let first = 2 * lo;
            let (mut d0, mut d1) = (
                padded_row::<V>(p, plane, first, col),
                padded_row::<V>(p, plane, first + 1, col),
            );
            for t in 0..nt {
                let (d2, d3) = (
                    padded_row::<V>(p, plane, first + 2 * t + 2, col),
                    padded_row::<V>(p, plane, first + 2 * t + 3, col),
                );
                // One block a row: a partial block's spill lands on the next
                // tile rows of this band, written next, or on the next
                // samples' tiles (written by the next calls).
                let spill = tw <= lanes && at.first + t * tw + lanes <= at.row;
                let dst = base.add(t * tw + j0);
                // B^T down the columns, (d0 - d2, d1 + d2, d2 - d1, d1 - d3),
                // point 4 i + k for component i of row component k.
                for k in 0..4 {
                    let cols = [
                        d0[k].sub(d2[k]),
                        d1[k].add(d2[k]),
                        d2[k].sub(d1[k]),
                        d1[k].sub(d3[k]),
                    ];
                    for (i, value) in cols.into_iter().enumerate() {
                        put(value, dst.add((4 * i + k) * at.point), n, spill);
                    }
                }
                (d0, d1) = (d2, d3);
            }
        }
    }
}

/// A along an output-gradient row for `LANES` tiles: tile j's columns 2j,
/// 2j + 1 = (g0, g1) give (g0, g0 + g1, g0 - g1, -g1)
/// (`conv_winograd::grad_1d`); `row` None past the last row (zeros).
#[inline(always)]
unsafe fn grad_row<V: Simd>(row: Option<*const f32>, at: isize, width: usize) -> [V; 4] {
    let (a, b) = match row {
        Some(r) => (
            load_cols::<V>(r, at, width),
            load_cols::<V>(r, at + V::LANES as isize, width),
        ),
        None => (V::zero(), V::zero()),
    };
    let (g0, g1) = V::deinterleave(a, b);
    [g0, g0.add(g1), g0.sub(g1), g1.neg()]
}

/// Row `r` of an output-gradient plane, None past the last.
#[inline(always)]
unsafe fn grad_line(p: &Plan, plane: *const f32, r: usize) -> Option<*const f32> {
    if r < p.oh {
        Some(plane.add(r * p.ow))
    } else {
        None
    }
}

/// Gy[xi][c][tile] = (A gy A^T)[xi] for the output channels of one sample's
/// output gradient `gy` and tile rows `tile_rows` (as
/// `conv_winograd::grad_transform`). False unless the level is AVX2.
pub(super) fn grad_transform(
    p: &Plan,
    gy: &[f32],
    out: &mut [f32],
    at: Points,
    tile_rows: Range<usize>,
) -> bool {
    if !active() {
        return false;
    }
    // SAFETY: AVX2 and FMA are active.
    unsafe { grad_avx2(p, gy, out, at, tile_rows) };
    true
}

/// `grad_transform` without the level check (tests).
///
/// # Safety
/// The CPU has AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn grad_avx2(
    p: &Plan,
    gy: &[f32],
    out: &mut [f32],
    at: Points,
    tile_rows: Range<usize>,
) {
    grad_kernel::<F32x8>(p, gy, out, at, tile_rows)
}

#[inline(always)]
unsafe fn grad_kernel<V: Simd>(
    p: &Plan,
    gy: &[f32],
    out: &mut [f32],
    at: Points,
    tile_rows: Range<usize>,
) {
    let (co, lo, nt, tw) = (p.co, tile_rows.start, tile_rows.len(), p.tw);
    assert!(
        gy.len() >= co * p.oh * p.ow
            && tile_rows.end <= p.th
            && (co == 0
                || nt == 0
                || (POINTS - 1) * at.point + (co - 1) * at.row + at.first + nt * tw <= out.len()),
        "winograd (rows): gradient or its transform too short"
    );
    let lanes = V::LANES;
    let plane_len = p.oh * p.ow;
    let read = (2 * lo).min(p.oh)..(2 * (lo + nt)).min(p.oh);
    let op = out.as_mut_ptr();
    for c in 0..co {
        if c + 1 < co && !read.is_empty() {
            let next = (c + 1) * plane_len;
            prefetch_span(&gy[next + read.start * p.ow..next + read.end * p.ow]);
        }
        let plane = gy.as_ptr().add(c * plane_len);
        let base = op.add(c * at.row + at.first);
        for j0 in (0..tw).step_by(lanes) {
            let n = lanes.min(tw - j0);
            let col = (2 * j0) as isize;
            for t in 0..nt {
                let y = 2 * (lo + t);
                let (g0, g1) = (
                    grad_row::<V>(grad_line(p, plane, y), col, p.ow),
                    grad_row::<V>(grad_line(p, plane, y + 1), col, p.ow),
                );
                let spill = tw <= lanes && at.first + t * tw + lanes <= at.row;
                let dst = base.add(t * tw + j0);
                // A down the two rows: (g0, g0 + g1, g0 - g1, -g1).
                for k in 0..4 {
                    let cols = [g0[k], g0[k].add(g1[k]), g0[k].sub(g1[k]), g1[k].neg()];
                    for (i, value) in cols.into_iter().enumerate() {
                        put(value, dst.add((4 * i + k) * at.point), n, spill);
                    }
                }
            }
        }
    }
}

/// A^T (m0 + m1 + m2, m1 - m2 - m3) down column k of the 16 points of
/// `LANES` tiles at `m` (points `point` apart) (`conv_winograd::output_1d`).
#[inline(always)]
unsafe fn output_column<V: Simd>(m: *const f32, point: usize, k: usize) -> [V; 2] {
    let (m0, m1, m2, m3) = (
        V::load(m.add(k * point)),
        V::load(m.add((4 + k) * point)),
        V::load(m.add((8 + k) * point)),
        V::load(m.add((12 + k) * point)),
    );
    [m0.add(m1).add(m2), m1.sub(m2).sub(m3)]
}

/// y[c] = A^T M[xi][c][tile] A (+ bias[c]) on the output rows of tile rows
/// `tile_rows` of `samples` samples, M placed by `at` (a chunk's layout:
/// sample s's tiles from s * tiles), as `conv_winograd::output_transform`.
/// False unless the level is AVX2.
pub(super) fn output_transform(
    p: &Plan,
    m: &[f32],
    at: Points,
    y: &mut [f32],
    bias: Option<&[f32]>,
    (samples, tile_rows): (usize, Range<usize>),
) -> bool {
    if !active() {
        return false;
    }
    // SAFETY: AVX2 and FMA are active.
    unsafe { output_avx2(p, m, at, y, bias, (samples, tile_rows)) };
    true
}

/// `output_transform` without the level check (tests).
///
/// # Safety
/// The CPU has AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn output_avx2(
    p: &Plan,
    m: &[f32],
    at: Points,
    y: &mut [f32],
    bias: Option<&[f32]>,
    (samples, tile_rows): (usize, Range<usize>),
) {
    output_kernel::<F32x8>(p, m, at, y, bias, (samples, tile_rows))
}

#[inline(always)]
unsafe fn output_kernel<V: Simd>(
    p: &Plan,
    m: &[f32],
    at: Points,
    y: &mut [f32],
    bias: Option<&[f32]>,
    (samples, tile_rows): (usize, Range<usize>),
) {
    let (co, lo, nt, tw) = (p.co, tile_rows.start, tile_rows.len(), p.tw);
    let lanes = V::LANES;
    let (tiles, plane) = (nt * tw, p.oh * p.ow);
    // Whole vectors are loaded from M: up to LANES - 1 values past a
    // channel's tiles (inside the next channel's row or the skew).
    assert!(
        tile_rows.end <= p.th
            && y.len() >= samples * co * plane
            && bias.is_none_or(|b| b.len() >= co)
            && (co == 0
                || samples * tiles == 0
                || (POINTS - 1) * at.point + (co - 1) * at.row + samples * tiles + lanes
                    <= m.len()),
        "winograd (rows): M or output too short"
    );
    // Output rows this call writes: 2 lo .. min(2 (lo + nt), oh); whole
    // planes: every later plane of the call too (a spill may land there).
    let rows_end = (2 * (lo + nt)).min(p.oh);
    let whole = lo == 0 && rows_end == p.oh;
    let (mp, yp) = (m.as_ptr(), y.as_mut_ptr());
    for s in 0..samples {
        for c in 0..co {
            let b = V::splat(bias.map_or(0.0, |b| b[c]));
            let dst = yp.add((s * co + c) * plane);
            // Values from dst on that this call writes later (in order).
            let limit = if whole {
                (samples * co - (s * co + c)) * plane
            } else {
                rows_end * p.ow
            };
            let src = mp.add(c * at.row + s * tiles);
            for t in 0..nt {
                for j0 in (0..tw).step_by(lanes) {
                    let m_at = src.add(t * tw + j0);
                    let [c0, c1, c2, c3] = [
                        output_column::<V>(m_at, at.point, 0),
                        output_column::<V>(m_at, at.point, 1),
                        output_column::<V>(m_at, at.point, 2),
                        output_column::<V>(m_at, at.point, 3),
                    ];
                    let cols = 2 * j0;
                    let count = (p.ow - cols).min(2 * lanes);
                    for r in 0..2 {
                        let y_row = 2 * (lo + t) + r;
                        if y_row >= p.oh {
                            continue;
                        }
                        // Then along the row, plus the bias.
                        let even = c0[r].add(c1[r]).add(c2[r]).add(b);
                        let odd = c1[r].sub(c2[r]).sub(c3[r]).add(b);
                        let (first, second) = V::interleave(even, odd);
                        let at_row = y_row * p.ow + cols;
                        // A spill lands on the rows written after this one
                        // (one block a row: rows go in order).
                        let single = tw <= lanes;
                        let line = dst.add(at_row);
                        let fits = single && at_row + lanes <= limit;
                        put(first, line, count, fits);
                        if count > lanes {
                            let fits = single && at_row + 2 * lanes <= limit;
                            put(second, line.add(lanes), count - lanes, fits);
                        }
                    }
                }
            }
        }
    }
}
