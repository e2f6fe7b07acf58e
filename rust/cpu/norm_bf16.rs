//! Batch-norm kernels on bfloat16 tensors (autocast's conv -> BatchNorm ->
//! ReLU), computing in float32 as PyTorch does.
//!
//! The same float32 arithmetic as `norm`'s kernels on the widened tensor,
//! rounded once, but reading the bfloat16 values in place: no float32
//! copies of x, gy, y and gx (two extra passes over memory each, and fresh
//! buffers to page in). With AVX2 the loops widen and round in registers
//! (`simd`), keeping `norm`'s 16 lanes per block so the sums are bit for bit
//! the same; elsewhere they widen a block at a time into L1 buffers and run
//! the float32 kernels.

use half::bf16;

use super::bf16_cast::{narrow, widen};
use super::norm::{self, Acc, Stat, BLOCK};
use crate::parallel;

/// `norm::shifted_sums` of one block (at most `BLOCK` values), widened.
fn block_shifted_sums(x: &[bf16], shift: f32) -> (f64, f64) {
    #[cfg(target_arch = "x86_64")]
    if super::isa::use_avx2() {
        // SAFETY: the CPU has AVX2.
        return unsafe { simd::shifted_sums(x, shift) };
    }
    let mut buf = [0.0f32; BLOCK];
    let wide = &mut buf[..x.len()];
    widen(x, wide);
    norm::shifted_sums(wide, shift)
}

/// `norm::grad_sums` of one block (at most `BLOCK` values), widened.
fn block_grad_sums(g: &[bf16], x: &[bf16], m: f32) -> (f64, f64) {
    #[cfg(target_arch = "x86_64")]
    if super::isa::use_avx2() {
        // SAFETY: the CPU has AVX2.
        return unsafe { simd::grad_sums(g, x, m) };
    }
    let (mut wg, mut wx) = ([0.0f32; BLOCK], [0.0f32; BLOCK]);
    let k = g.len();
    widen(g, &mut wg[..k]);
    widen(x, &mut wx[..k]);
    norm::grad_sums(&wg[..k], &wx[..k], m)
}

/// `y = bf16((x - m) * a + k)` (`norm::axpk`) over a plane.
fn plane_affine(y: &mut [bf16], x: &[bf16], m: f32, a: f32, k: f32) {
    #[cfg(target_arch = "x86_64")]
    if super::isa::use_avx2() {
        // SAFETY: the CPU has AVX2.
        return unsafe { simd::affine(y, x, m, a, k) };
    }
    let (mut wide, mut out) = ([0.0f32; BLOCK], [0.0f32; BLOCK]);
    for (ys, xs) in y.chunks_mut(BLOCK).zip(x.chunks(BLOCK)) {
        let n = xs.len();
        widen(xs, &mut wide[..n]);
        norm::axpk(&mut out[..n], &wide[..n], m, a, k);
        narrow(&out[..n], ys);
    }
}

/// `o = bf16(g * a + (x - m) * k1 + k0)` (`norm::grad_in`) over a plane.
#[allow(clippy::too_many_arguments)]
fn plane_grad_in(o: &mut [bf16], g: &[bf16], x: &[bf16], a: f32, m: f32, k1: f32, k0: f32) {
    #[cfg(target_arch = "x86_64")]
    if super::isa::use_avx2() {
        // SAFETY: the CPU has AVX2.
        return unsafe { simd::grad_in(o, g, x, [a, m, k1, k0]) };
    }
    let (mut wg, mut wx, mut out) = ([0.0f32; BLOCK], [0.0f32; BLOCK], [0.0f32; BLOCK]);
    for ((os, gs), xs) in o
        .chunks_mut(BLOCK)
        .zip(g.chunks(BLOCK))
        .zip(x.chunks(BLOCK))
    {
        let n = gs.len();
        widen(gs, &mut wg[..n]);
        widen(xs, &mut wx[..n]);
        norm::grad_in(&mut out[..n], &wg[..n], &wx[..n], a, m, k1, k0);
        narrow(&out[..n], os);
    }
}

/// `f(p)` for every plane `p` of an `(n, c, s)` tensor, in memory order
/// (threads take runs of consecutive planes), results in plane order. Going
/// channel by channel instead jumps from plane to plane `c * s` values
/// apart, a new stream for the prefetcher every 2 KiB.
fn per_plane(
    planes: usize,
    work: usize,
    f: impl Fn(usize) -> (f64, f64) + Sync,
) -> Vec<(f64, f64)> {
    let mut out = vec![(0.0, 0.0); planes];
    let threads = parallel::num_threads();
    if work < parallel::GRAIN || threads == 1 {
        out.iter_mut().enumerate().for_each(|(p, o)| *o = f(p));
    } else {
        let per = planes.div_ceil(threads * 4).max(1);
        parallel::for_each_chunk_mut(&mut out, per, |i, run| {
            for (j, o) in run.iter_mut().enumerate() {
                *o = f(i * per + j);
            }
        });
    }
    out
}

/// `norm::channel_stats` of a bfloat16 `(n, c, s)` tensor (the same sums,
/// added in the same order).
pub fn channel_stats(x: &[bf16], n: usize, c: usize, s: usize) -> Vec<Stat> {
    if n == 0 || s == 0 {
        return vec![Acc::new(0.0f32).stat(); c];
    }
    let mut accs: Vec<Acc> = (0..c).map(|ch| Acc::new(x[ch * s].to_f32())).collect();
    let shifts: Vec<f32> = accs.iter().map(|a| a.shift() as f32).collect();
    let sums = per_plane(n * c, x.len(), |p| {
        let (mut a, mut b) = (0.0, 0.0);
        for blk in x[p * s..][..s].chunks(BLOCK) {
            let (p1, p2) = block_shifted_sums(blk, shifts[p % c]);
            a += p1;
            b += p2;
        }
        (a, b)
    });
    for (p, &pair) in sums.iter().enumerate() {
        accs[p % c].add_sums(pair, s);
    }
    accs.iter().map(Acc::stat).collect()
}

/// `norm::channel_grad_sums` of bfloat16 `(n, c, s)` tensors (float32
/// centers).
pub fn channel_grad_sums(
    gy: &[bf16],
    x: &[bf16],
    m: &[f32],
    n: usize,
    c: usize,
    s: usize,
) -> Vec<(f64, f64)> {
    let sums = per_plane(n * c, 2 * x.len(), |p| {
        let (mut a, mut b) = (0.0, 0.0);
        let seg = p * s..(p + 1) * s;
        for (g, xv) in gy[seg.clone()].chunks(BLOCK).zip(x[seg].chunks(BLOCK)) {
            let (p1, p2) = block_grad_sums(g, xv, m[p % c]);
            a += p1;
            b += p2;
        }
        (a, b)
    });
    let mut out = vec![(0.0, 0.0); c];
    for (p, &(a, b)) in sums.iter().enumerate() {
        out[p % c].0 += a;
        out[p % c].1 += b;
    }
    out
}

/// `norm::channel_affine` of a bfloat16 tensor with float32 coefficients,
/// rounded to bfloat16.
pub fn channel_affine(
    x: &[bf16],
    c: usize,
    s: usize,
    center: &[f32],
    scale: &[f32],
    shift: &[f32],
) -> Vec<bf16> {
    let mut y = crate::tensor::pool::uninit_vec::<bf16>(x.len());
    if s == 0 {
        return y;
    }
    super::planes::for_planes(&mut y, s, x.len(), |p, yp| {
        let ch = p % c;
        plane_affine(yp, &x[p * s..(p + 1) * s], center[ch], scale[ch], shift[ch]);
    });
    y
}

/// `norm::channel_grad_input` of bfloat16 tensors with float32
/// coefficients, rounded to bfloat16.
#[allow(clippy::too_many_arguments)]
pub fn channel_grad_input(
    gy: &[bf16],
    x: &[bf16],
    c: usize,
    s: usize,
    m: &[f32],
    a: &[f32],
    k1: &[f32],
    k0: &[f32],
) -> Vec<bf16> {
    let mut gx = crate::tensor::pool::uninit_vec::<bf16>(x.len());
    if s == 0 {
        return gx;
    }
    super::planes::for_planes(&mut gx, s, 2 * x.len(), |p, gp| {
        let ch = p % c;
        let seg = p * s..(p + 1) * s;
        plane_grad_in(gp, &gy[seg.clone()], &x[seg], a[ch], m[ch], k1[ch], k0[ch]);
    });
    gx
}

/// The AVX2 loops: 16 values per step in two 8-lane registers, as lanes
/// 0-7 and 8-15 of `norm`'s 16-lane sums; separate multiplies and adds (no
/// FMA), as the float32 kernels compute.
#[cfg(target_arch = "x86_64")]
mod simd {
    use half::bf16;
    use std::arch::x86_64::*;

    /// 16 bfloat16 at `p` widened: lanes 0-7 and 8-15.
    #[inline(always)]
    unsafe fn load16(p: *const bf16) -> (__m256, __m256) {
        let raw = _mm256_loadu_si256(p.cast());
        let lo = _mm256_cvtepu16_epi32(_mm256_castsi256_si128(raw));
        let hi = _mm256_cvtepu16_epi32(_mm256_extracti128_si256::<1>(raw));
        (
            _mm256_castsi256_ps(_mm256_slli_epi32::<16>(lo)),
            _mm256_castsi256_ps(_mm256_slli_epi32::<16>(hi)),
        )
    }

    /// 8 floats rounded to bfloat16 bits (in the low halves of the 32-bit
    /// lanes) as `bf16_cast::narrow`: nearest even, NaN kept quiet.
    #[inline(always)]
    unsafe fn round8(v: __m256) -> __m256i {
        let bits = _mm256_castps_si256(v);
        let lsb = _mm256_and_si256(_mm256_srli_epi32::<16>(bits), _mm256_set1_epi32(1));
        let bias = _mm256_add_epi32(_mm256_set1_epi32(0x7fff), lsb);
        let rounded = _mm256_srli_epi32::<16>(_mm256_add_epi32(bits, bias));
        let abs = _mm256_and_si256(bits, _mm256_set1_epi32(0x7fff_ffff));
        let nan = _mm256_cmpgt_epi32(abs, _mm256_set1_epi32(0x7f80_0000));
        let quiet = _mm256_or_si256(_mm256_srli_epi32::<16>(bits), _mm256_set1_epi32(0x0040));
        _mm256_blendv_epi8(rounded, quiet, nan)
    }

    /// Stores lanes 0-7 (`a`) and 8-15 (`b`) as 16 bfloat16 at `p`.
    #[inline(always)]
    unsafe fn store16(p: *mut bf16, a: __m256, b: __m256) {
        // packus interleaves the 128-bit halves: a0 b0 a1 b1, put back in order.
        let packed = _mm256_packus_epi32(round8(a), round8(b));
        _mm256_storeu_si256(p.cast(), _mm256_permute4x64_epi64::<0xd8>(packed));
    }

    /// `(x - m) * a + k` (separate multiply and add, as `norm::axpk`).
    #[inline(always)]
    unsafe fn axpk8(x: __m256, m: __m256, a: __m256, k: __m256) -> __m256 {
        _mm256_add_ps(_mm256_mul_ps(_mm256_sub_ps(x, m), a), k)
    }

    /// `g * a + (x - m) * k1 + k0` with `[a, m, k1, k0]` (as `norm::grad_in`).
    #[inline(always)]
    unsafe fn grad_in8(g: __m256, x: __m256, [a, m, k1, k0]: [__m256; 4]) -> __m256 {
        let t = _mm256_add_ps(_mm256_mul_ps(g, a), _mm256_mul_ps(_mm256_sub_ps(x, m), k1));
        _mm256_add_ps(t, k0)
    }

    /// Lane sums in f64, lane 0 first (as `norm`'s block sums).
    #[inline(always)]
    unsafe fn finish(lo: __m256, hi: __m256, tail: impl Fn(&mut [f32; 16])) -> f64 {
        let mut lanes = [0.0f32; 16];
        _mm256_storeu_ps(lanes.as_mut_ptr(), lo);
        _mm256_storeu_ps(lanes.as_mut_ptr().add(8), hi);
        tail(&mut lanes);
        lanes.iter().map(|&v| v as f64).sum()
    }

    /// `norm::shifted_sums` of a widened block.
    ///
    /// # Safety
    /// The CPU has AVX2.
    #[target_feature(enable = "avx2")]
    pub unsafe fn shifted_sums(x: &[bf16], shift: f32) -> (f64, f64) {
        let full = x.len() / 16 * 16;
        let sh = _mm256_set1_ps(shift);
        let (mut a0, mut a1, mut b0, mut b1) = (
            _mm256_setzero_ps(),
            _mm256_setzero_ps(),
            _mm256_setzero_ps(),
            _mm256_setzero_ps(),
        );
        for i in (0..full).step_by(16) {
            let (x0, x1) = load16(x.as_ptr().add(i));
            let (d0, d1) = (_mm256_sub_ps(x0, sh), _mm256_sub_ps(x1, sh));
            a0 = _mm256_add_ps(a0, d0);
            a1 = _mm256_add_ps(a1, d1);
            b0 = _mm256_add_ps(b0, _mm256_mul_ps(d0, d0));
            b1 = _mm256_add_ps(b1, _mm256_mul_ps(d1, d1));
        }
        let rest = &x[full..];
        let s1 = finish(a0, a1, |l| {
            for (i, v) in rest.iter().enumerate() {
                l[i] += v.to_f32() - shift;
            }
        });
        let s2 = finish(b0, b1, |l| {
            for (i, v) in rest.iter().enumerate() {
                let d = v.to_f32() - shift;
                l[i] += d * d;
            }
        });
        (s1, s2)
    }

    /// `norm::grad_sums` of a widened block.
    ///
    /// # Safety
    /// The CPU has AVX2; `g` and `x` have equal lengths.
    #[target_feature(enable = "avx2")]
    pub unsafe fn grad_sums(g: &[bf16], x: &[bf16], m: f32) -> (f64, f64) {
        let full = g.len().min(x.len()) / 16 * 16;
        let mv = _mm256_set1_ps(m);
        let (mut a0, mut a1, mut b0, mut b1) = (
            _mm256_setzero_ps(),
            _mm256_setzero_ps(),
            _mm256_setzero_ps(),
            _mm256_setzero_ps(),
        );
        for i in (0..full).step_by(16) {
            let (g0, g1) = load16(g.as_ptr().add(i));
            let (x0, x1) = load16(x.as_ptr().add(i));
            a0 = _mm256_add_ps(a0, g0);
            a1 = _mm256_add_ps(a1, g1);
            b0 = _mm256_add_ps(b0, _mm256_mul_ps(g0, _mm256_sub_ps(x0, mv)));
            b1 = _mm256_add_ps(b1, _mm256_mul_ps(g1, _mm256_sub_ps(x1, mv)));
        }
        let (rg, rx) = (&g[full..], &x[full..]);
        let s1 = finish(a0, a1, |l| {
            for (i, v) in rg.iter().enumerate() {
                l[i] += v.to_f32();
            }
        });
        let s2 = finish(b0, b1, |l| {
            for (i, (gv, xv)) in rg.iter().zip(rx).enumerate() {
                l[i] += gv.to_f32() * (xv.to_f32() - m);
            }
        });
        (s1, s2)
    }

    /// `y = bf16((x - m) * a + k)`.
    ///
    /// # Safety
    /// The CPU has AVX2; `y` and `x` have equal lengths.
    #[target_feature(enable = "avx2")]
    pub unsafe fn affine(y: &mut [bf16], x: &[bf16], m: f32, a: f32, k: f32) {
        let full = y.len().min(x.len()) / 16 * 16;
        let (mv, av, kv) = (_mm256_set1_ps(m), _mm256_set1_ps(a), _mm256_set1_ps(k));
        for i in (0..full).step_by(16) {
            let (x0, x1) = load16(x.as_ptr().add(i));
            store16(
                y.as_mut_ptr().add(i),
                axpk8(x0, mv, av, kv),
                axpk8(x1, mv, av, kv),
            );
        }
        for (o, v) in y[full..].iter_mut().zip(&x[full..]) {
            *o = bf16::from_f32((v.to_f32() - m) * a + k);
        }
    }

    /// `o = bf16(g * a + (x - m) * k1 + k0)`, with `[a, m, k1, k0]`.
    ///
    /// # Safety
    /// The CPU has AVX2; `o`, `g` and `x` have equal lengths.
    #[target_feature(enable = "avx2")]
    pub unsafe fn grad_in(o: &mut [bf16], g: &[bf16], x: &[bf16], [a, m, k1, k0]: [f32; 4]) {
        let full = o.len().min(g.len()).min(x.len()) / 16 * 16;
        let k = [
            _mm256_set1_ps(a),
            _mm256_set1_ps(m),
            _mm256_set1_ps(k1),
            _mm256_set1_ps(k0),
        ];
        for i in (0..full).step_by(16) {
            let (g0, g1) = load16(g.as_ptr().add(i));
            let (x0, x1) = load16(x.as_ptr().add(i));
            store16(
                o.as_mut_ptr().add(i),
                grad_in8(g0, x0, k),
                grad_in8(g1, x1, k),
            );
        }
        for ((d, gv), xv) in o[full..].iter_mut().zip(&g[full..]).zip(&x[full..]) {
            *d = bf16::from_f32(gv.to_f32() * a + (xv.to_f32() - m) * k1 + k0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn to_bf16(v: &[f32]) -> Vec<bf16> {
        v.iter().map(|&x| bf16::from_f32(x)).collect()
    }
    fn to_f32(v: &[bf16]) -> Vec<f32> {
        v.iter().map(|x| x.to_f32()).collect()
    }

    /// Planes longer than a block, a partial last block, and values far
    /// from 0: every kernel equals the float32 one on the widened input.
    #[test]
    fn kernels_match_float32_on_widened_input() {
        let (n, c, s) = (3, 4, BLOCK + 37);
        let raw: Vec<f32> = (0..n * c * s)
            .map(|i| 50.0 + ((i * 7919) % 1013) as f32 * 0.37 - (i % 3) as f32)
            .collect();
        let g: Vec<f32> = (0..n * c * s)
            .map(|i| ((i * 31) % 97) as f32 * 0.01 - 0.4)
            .collect();
        let (xb, gb) = (to_bf16(&raw), to_bf16(&g));
        let (xw, gw) = (to_f32(&xb), to_f32(&gb));
        let want = norm::channel_stats(&xw, n, c, s);
        let got = channel_stats(&xb, n, c, s);
        for (a, b) in got.iter().zip(&want) {
            assert!(
                (a.mean - b.mean).abs() <= 1e-9 * b.mean.abs(),
                "{a:?} {b:?}"
            );
            assert!((a.var - b.var).abs() <= 1e-9 * b.var, "{a:?} {b:?}");
        }
        let m: Vec<f32> = want.iter().map(|s| s.mean as f32).collect();
        let (a, k1, k0): (Vec<f32>, Vec<f32>, Vec<f32>) = (
            (0..c).map(|i| 0.5 + i as f32).collect(),
            (0..c).map(|i| -0.01 * i as f32).collect(),
            (0..c).map(|i| 0.25 - i as f32).collect(),
        );
        let sums = channel_grad_sums(&gb, &xb, &m, n, c, s);
        let want_sums = norm::channel_grad_sums(&gw, &xw, &m, n, c, s);
        for (p, q) in sums.iter().zip(&want_sums) {
            assert!(
                (p.0 - q.0).abs() <= 1e-9 * q.0.abs().max(1.0),
                "{p:?} {q:?}"
            );
            assert!(
                (p.1 - q.1).abs() <= 1e-9 * q.1.abs().max(1.0),
                "{p:?} {q:?}"
            );
        }
        let y = channel_affine(&xb, c, s, &m, &a, &k0);
        let want_y = to_bf16(&norm::channel_affine(&xw, c, s, &m, &a, &k0));
        assert_eq!(to_f32(&y), to_f32(&want_y));
        let gx = channel_grad_input(&gb, &xb, c, s, &m, &a, &k1, &k0);
        let want_gx = to_bf16(&norm::channel_grad_input(
            &gw, &xw, c, s, &m, &a, &k1, &k0, false,
        ));
        assert_eq!(to_f32(&gx), to_f32(&want_gx));
    }
}
