//! `relu(max_pool2d(y, 2))` in one pass: each 2x2 window's maximum,
//! rectified, and the window position it came from as one byte (0 top left,
//! 1 top right, 2 bottom left, 3 bottom right) instead of a 64-bit flat
//! index. The backward writes the whole full-resolution gradient in one
//! pass (the rectifier's gradient, then the routing to the maximum; zeros
//! elsewhere), so it needs no zeroing pass and no scatter.
//!
//! Both follow the unfused ops exactly, so results are the same bits:
//! the window maximum as `pool::max_2x2_idx` takes it (first maximal
//! position in row-major order; a NaN beats everything, the last NaN
//! wins), the rectifier as `relu` (`v < 0` gives 0, so NaN and -0.0 stay),
//! its gradient as `threshold_backward` (0 where the output is `<= 0`),
//! and the routed value added to a zero as `pool::scatter_planes` adds it.
//! Floor mode: an odd last row or column is in no window (gradient zero).

use super::planes::{for_planes, for_planes2};

/// `y`: planes of `h` x `w`; `out` and `arg`: planes of (h/2) x (w/2).
pub fn forward(y: &[f32], h: usize, w: usize, out: &mut [f32], arg: &mut [u8]) {
    let (ip, op) = (h * w, (h / 2) * (w / 2));
    if op == 0 {
        return;
    }
    // planes in parallel; each plane's loop compiled for the CPU's vectors
    for_planes2(out, op, arg, op, y.len(), |p, o, a| {
        forward_plane(&y[p * ip..][..ip], w, o, a)
    });
}

/// `gy`, `out`, `arg`: planes of (h/2) x (w/2), as the forward gave them;
/// `gx`: planes of `h` x `w`, every element written.
pub fn backward(gy: &[f32], out: &[f32], arg: &[u8], h: usize, w: usize, gx: &mut [f32]) {
    let (ip, op) = (h * w, (h / 2) * (w / 2));
    if ip == 0 {
        return;
    }
    for_planes(gx, ip, gx.len() + gy.len(), |p, gp| {
        let at = p * op..(p + 1) * op;
        backward_plane(&gy[at.clone()], &out[at.clone()], &arg[at], w, gp)
    });
}

/// One plane of the forward: AVX-512 (`forward_plane_avx512`), else
/// `forward_plane_impl` compiled for AVX2 or the baseline.
fn forward_plane(y: &[f32], w: usize, out: &mut [f32], arg: &mut [u8]) {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx2,fma")]
        unsafe fn avx2(y: &[f32], w: usize, out: &mut [f32], arg: &mut [u8]) {
            forward_plane_impl(y, w, out, arg)
        }
        let ow = w / 2;
        if crate::cpu::isa::use_avx512()
            && ow > 0
            && y.len() >= 2 * w * (out.len() / ow)
            && arg.len() == out.len()
        {
            // SAFETY: the CPU supports AVX-512; the lengths are checked.
            return unsafe { forward_plane_avx512(y, w, out, arg) };
        }
        if crate::cpu::isa::use_avx2() {
            // SAFETY: the CPU supports the enabled features.
            return unsafe { avx2(y, w, out, arg) };
        }
    }
    forward_plane_impl(y, w, out, arg)
}

/// The low `n` (at most 16) bits set.
#[cfg(target_arch = "x86_64")]
fn low_bits(n: usize) -> u16 {
    if n >= 16 {
        u16::MAX
    } else {
        (1u16 << n) - 1
    }
}

/// `forward_plane_impl` sixteen windows at a time: the two input rows of
/// 32 floats split into even and odd columns, the same comparisons as
/// lanes, masked loads and stores at a row's end (rows of 14 or 5 windows
/// are LeNet's).
///
/// # Safety
/// AVX-512 F/BW/VL/DQ; `w >= 2`; `y` holds 2w floats per row of `out`
/// (rows of w/2), and `arg` is as long as `out`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")]
unsafe fn forward_plane_avx512(y: &[f32], w: usize, out: &mut [f32], arg: &mut [u8]) {
    use std::arch::x86_64::*;
    let ow = w / 2;
    let evens = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    let odds = _mm512_add_epi32(evens, _mm512_set1_epi32(1));
    let zero = _mm512_setzero_ps();
    for r in 0..out.len() / ow {
        let r0 = y.as_ptr().wrapping_add(2 * r * w);
        let r1 = r0.wrapping_add(w);
        let (o, a) = (out.as_mut_ptr().add(r * ow), arg.as_mut_ptr().add(r * ow));
        let mut c = 0;
        while c < ow {
            let n = (ow - c).min(16);
            let (lo, hi) = (low_bits(2 * n), low_bits((2 * n).saturating_sub(16)));
            // (masked-off lanes are not read: no access past a row's windows)
            let pairs = |row: *const f32| {
                let first = _mm512_maskz_loadu_ps(lo, row.wrapping_add(2 * c));
                let second = _mm512_maskz_loadu_ps(hi, row.wrapping_add(2 * c + 16));
                (
                    _mm512_permutex2var_ps(first, evens, second),
                    _mm512_permutex2var_ps(first, odds, second),
                )
            };
            let ((t0, t1), (b0, b1)) = (pairs(r0), pairs(r1));
            let (mut m, mut at) = (t0, _mm512_setzero_si512());
            for (v, k) in [(t1, 1), (b0, 2), (b1, 3)] {
                let wins = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(v, m)
                    | _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(v, v);
                m = _mm512_mask_blend_ps(wins, m, v);
                at = _mm512_mask_blend_epi32(wins, at, _mm512_set1_epi32(k));
            }
            let negative = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(m, zero);
            let keep = low_bits(n);
            _mm512_mask_storeu_ps(o.add(c), keep, _mm512_mask_blend_ps(negative, m, zero));
            _mm512_mask_cvtepi32_storeu_epi8(a.add(c) as *mut i8, keep, at);
            c += n;
        }
    }
}

/// One plane of the gradient: AVX-512 (`backward_plane_avx512`), else
/// `backward_plane_impl` compiled for AVX2 or the baseline.
fn backward_plane(gy: &[f32], out: &[f32], arg: &[u8], w: usize, gx: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx2,fma")]
        unsafe fn avx2(gy: &[f32], out: &[f32], arg: &[u8], w: usize, gx: &mut [f32]) {
            backward_plane_impl(gy, out, arg, w, gx)
        }
        let ow = w / 2;
        if crate::cpu::isa::use_avx512()
            && ow > 0
            && out.len() == gy.len()
            && arg.len() == gy.len()
            && gx.len() >= 2 * w * (gy.len() / ow)
        {
            // SAFETY: the CPU supports AVX-512; the lengths are checked.
            unsafe { backward_plane_avx512(gy, out, arg, w, gx) };
            return;
        }
        if crate::cpu::isa::use_avx2() {
            // SAFETY: the CPU supports the enabled features.
            return unsafe { avx2(gy, out, arg, w, gx) };
        }
    }
    backward_plane_impl(gy, out, arg, w, gx)
}

/// `backward_plane_impl` sixteen windows at a time: the four window
/// positions' values as four vectors, interleaved into the two rows.
///
/// # Safety
/// AVX-512 F/BW/VL/DQ; `w >= 2`; `out` and `arg` as long as `gy` (rows of
/// w/2), `gx` at least 2w floats per row of `gy`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")]
unsafe fn backward_plane_avx512(gy: &[f32], out: &[f32], arg: &[u8], w: usize, gx: &mut [f32]) {
    use std::arch::x86_64::*;
    let ow = w / 2;
    let rows = gy.len() / ow;
    let first = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    let second = _mm512_add_epi32(first, _mm512_set1_epi32(8));
    let zero = _mm512_setzero_ps();
    for r in 0..rows {
        let (g, o, a) = (
            gy.as_ptr().add(r * ow),
            out.as_ptr().add(r * ow),
            arg.as_ptr().add(r * ow),
        );
        let top = gx.as_mut_ptr().add(2 * r * w);
        let bottom = top.add(w);
        let mut c = 0;
        while c < ow {
            let n = (ow - c).min(16);
            let keep = low_bits(n);
            let gv = _mm512_maskz_loadu_ps(keep, g.add(c));
            let ov = _mm512_maskz_loadu_ps(keep, o.add(c));
            let at = _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(keep, a.add(c) as *const i8));
            // relu's gradient (0 where out <= 0; NaN passes), added to a zero as the scatter adds it
            let passes = _mm512_cmp_ps_mask::<_CMP_NLE_UQ>(ov, zero);
            let gv = _mm512_add_ps(zero, _mm512_maskz_mov_ps(passes, gv));
            let at_pos =
                |k: i32| _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(at, _mm512_set1_epi32(k)), gv);
            let (lo, hi) = (low_bits(2 * n), low_bits((2 * n).saturating_sub(16)));
            for (row, left, right) in [(top, at_pos(0), at_pos(1)), (bottom, at_pos(2), at_pos(3))]
            {
                let at_2c = row.add(2 * c);
                _mm512_mask_storeu_ps(at_2c, lo, _mm512_permutex2var_ps(left, first, right));
                _mm512_mask_storeu_ps(
                    at_2c.wrapping_add(16),
                    hi,
                    _mm512_permutex2var_ps(left, second, right),
                );
            }
            c += n;
        }
        if w % 2 == 1 {
            *top.add(w - 1) = 0.0;
            *bottom.add(w - 1) = 0.0;
        }
    }
    // an odd last row
    gx[2 * w * rows..].fill(0.0);
}

/// All bits set where `c` holds (branch-free selects the vectorizer keeps).
#[inline(always)]
fn mask(c: bool) -> u32 {
    0u32.wrapping_sub(c as u32)
}

/// One plane: `out`/`arg` of (h/2) rows of w/2.
#[inline(always)]
fn forward_plane_impl(y: &[f32], w: usize, out: &mut [f32], arg: &mut [u8]) {
    let ow = w / 2;
    if ow == 0 {
        return;
    }
    for ((orow, arow), rows) in out
        .chunks_exact_mut(ow)
        .zip(arg.chunks_exact_mut(ow))
        .zip(y.chunks_exact(2 * w))
    {
        let (r0, r1) = rows.split_at(w);
        let (r0, r1) = (&r0[..2 * ow], &r1[..2 * ow]);
        for c in 0..ow {
            let (mut m, mut at) = (r0[2 * c], 0u32);
            for (v, k) in [(r0[2 * c + 1], 1u32), (r1[2 * c], 2), (r1[2 * c + 1], 3)] {
                let wins = v > m || v.is_nan();
                m = if wins { v } else { m };
                at = if wins { k } else { at };
            }
            orow[c] = if m < 0.0 { 0.0 } else { m };
            arow[c] = at as u8;
        }
    }
}

/// One plane of the gradient: `gx` (h rows of w) from (h/2) rows of w/2.
#[inline(always)]
fn backward_plane_impl(gy: &[f32], out: &[f32], arg: &[u8], w: usize, gx: &mut [f32]) {
    let ow = w / 2;
    if ow == 0 {
        gx.fill(0.0);
        return;
    }
    let mut pairs = gx.chunks_exact_mut(2 * w);
    for (((rows, grow), orow), arow) in (&mut pairs)
        .zip(gy.chunks_exact(ow))
        .zip(out.chunks_exact(ow))
        .zip(arg.chunks_exact(ow))
    {
        let (top, bottom) = rows.split_at_mut(w);
        let (top, bottom) = (&mut top[..2 * ow], &mut bottom[..2 * ow]);
        for c in 0..ow {
            // relu's gradient (0 where out <= 0), added to a zero as the scatter adds it
            let g =
                0.0 + f32::from_bits(grow[c].to_bits() & mask(orow[c] > 0.0 || orow[c].is_nan()));
            let (g, a) = (g.to_bits(), arow[c]);
            top[2 * c] = f32::from_bits(g & mask(a == 0));
            top[2 * c + 1] = f32::from_bits(g & mask(a == 1));
            bottom[2 * c] = f32::from_bits(g & mask(a == 2));
            bottom[2 * c + 1] = f32::from_bits(g & mask(a == 3));
        }
        if w % 2 == 1 {
            rows[w - 1] = 0.0;
            rows[2 * w - 1] = 0.0;
        }
    }
    // an odd last row
    pairs.into_remainder().fill(0.0);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The unfused ops on one plane, written out plainly.
    fn reference(y: &[f32], h: usize, w: usize) -> (Vec<f32>, Vec<usize>) {
        let (mut out, mut idx) = (vec![], vec![]);
        for r in 0..h / 2 {
            for c in 0..w / 2 {
                let cells = [
                    2 * r * w + 2 * c,
                    2 * r * w + 2 * c + 1,
                    (2 * r + 1) * w + 2 * c,
                    (2 * r + 1) * w + 2 * c + 1,
                ];
                let mut best = cells[0];
                for &i in &cells[1..] {
                    if y[i] > y[best] || y[i].is_nan() {
                        best = i;
                    }
                }
                let m = y[best];
                out.push(if m < 0.0 { 0.0 } else { m });
                idx.push(best);
            }
        }
        (out, idx)
    }

    #[test]
    fn matches_the_unfused_ops_bit_for_bit() {
        for (h, w) in [(4, 4), (5, 7), (6, 3), (1, 4), (28, 28)] {
            let specials = [f32::NAN, -0.0, 0.0, 1.0, 1.0, -1.0, f32::INFINITY];
            let y: Vec<f32> = (0..2 * h * w)
                .map(|i| {
                    if i % 5 == 0 {
                        specials[(i / 5) % specials.len()]
                    } else {
                        ((i * 37 % 23) as f32 - 11.0) * 0.25
                    }
                })
                .collect();
            let op = (h / 2) * (w / 2);
            let (mut out, mut arg) = (vec![0.0f32; 2 * op], vec![0u8; 2 * op]);
            forward(&y, h, w, &mut out, &mut arg);
            let gy: Vec<f32> = (0..2 * op).map(|i| i as f32 - 3.5).collect();
            let mut gx = vec![f32::NAN; 2 * h * w];
            backward(&gy, &out, &arg, h, w, &mut gx);
            for p in 0..2 {
                let (ro, ri) = reference(&y[p * h * w..][..h * w], h, w);
                let mut want = vec![0.0f32; h * w];
                for (k, (&o, &i)) in ro.iter().zip(&ri).enumerate() {
                    let got = out[p * op + k];
                    assert_eq!(
                        got.to_bits(),
                        o.to_bits(),
                        "value {k} of plane {p} ({h}x{w})"
                    );
                    let g = if o <= 0.0 { 0.0 } else { gy[p * op + k] };
                    want[i] += g;
                }
                for (a, b) in gx[p * h * w..][..h * w].iter().zip(&want) {
                    assert_eq!(a.to_bits(), b.to_bits(), "gradient of plane {p} ({h}x{w})");
                }
            }
        }
    }
}
