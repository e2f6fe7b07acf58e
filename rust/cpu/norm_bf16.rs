//! Batch-norm kernels on bfloat16 tensors (autocast's conv -> BatchNorm ->
//! ReLU), computing in float32 as PyTorch does.
//!
//! Each runs the float32 kernels of `norm` on blocks of `BLOCK` values
//! widened on the fly into buffers that stay in L1, and rounds its results
//! back block by block: the same float32 arithmetic as widening the whole
//! tensor first, without the float32 copies of x, gy, y and gx (two extra
//! passes over memory each and fresh buffers to page in: widening and
//! narrowing were 27% of a bf16 batch-norm step).

use half::bf16;

use super::bf16_cast::{narrow, widen};
use super::norm::{self, Acc, Stat, BLOCK};
use super::planes::for_planes;
use crate::parallel;

/// `f(block)` for each block of `src` widened to float32, in order.
#[inline]
fn widened_blocks(src: &[bf16], mut f: impl FnMut(&[f32])) {
    let mut buf = [0.0f32; BLOCK];
    for seg in src.chunks(BLOCK) {
        let wide = &mut buf[..seg.len()];
        widen(seg, wide);
        f(wide);
    }
}

/// `norm::channel_stats` of a bfloat16 `(n, c, s)` tensor.
pub fn channel_stats(x: &[bf16], n: usize, c: usize, s: usize) -> Vec<Stat> {
    let one = |ch: usize| {
        if n == 0 || s == 0 {
            return Acc::new(0.0f32).stat();
        }
        let mut acc = Acc::new(x[ch * s].to_f32());
        for i in 0..n {
            widened_blocks(&x[(i * c + ch) * s..][..s], |b| acc.add(b));
        }
        acc.stat()
    };
    if x.len() < parallel::GRAIN || parallel::num_threads() == 1 || c == 1 {
        (0..c).map(one).collect()
    } else {
        parallel::map_tasks(c, one)
    }
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
    let one = |ch: usize| {
        let (mut a, mut b) = (0.0, 0.0);
        let (mut wg, mut wx) = ([0.0f32; BLOCK], [0.0f32; BLOCK]);
        for i in 0..n {
            let seg = (i * c + ch) * s..(i * c + ch + 1) * s;
            for (g, xv) in gy[seg.clone()].chunks(BLOCK).zip(x[seg].chunks(BLOCK)) {
                let k = g.len();
                widen(g, &mut wg[..k]);
                widen(xv, &mut wx[..k]);
                let (p, q) = norm::grad_sums(&wg[..k], &wx[..k], m[ch]);
                a += p;
                b += q;
            }
        }
        (a, b)
    };
    if x.len() < parallel::GRAIN || parallel::num_threads() == 1 || c == 1 {
        (0..c).map(one).collect()
    } else {
        parallel::map_tasks(c, one)
    }
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
    for_planes(&mut y, s, x.len(), |p, yp| {
        let ch = p % c;
        let mut out = [0.0f32; BLOCK];
        let mut done = 0;
        widened_blocks(&x[p * s..(p + 1) * s], |b| {
            let o = &mut out[..b.len()];
            norm::axpk(o, b, center[ch], scale[ch], shift[ch]);
            narrow(o, &mut yp[done..done + b.len()]);
            done += b.len();
        });
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
    for_planes(&mut gx, s, 2 * x.len(), |p, gp| {
        let ch = p % c;
        let seg = p * s..(p + 1) * s;
        let (mut wg, mut wx, mut out) = ([0.0f32; BLOCK], [0.0f32; BLOCK], [0.0f32; BLOCK]);
        let blocks = gy[seg.clone()].chunks(BLOCK).zip(x[seg].chunks(BLOCK));
        for ((g, xv), o) in blocks.zip(gp.chunks_mut(BLOCK)) {
            let k = g.len();
            widen(g, &mut wg[..k]);
            widen(xv, &mut wx[..k]);
            norm::grad_in(
                &mut out[..k],
                &wg[..k],
                &wx[..k],
                a[ch],
                m[ch],
                k1[ch],
                k0[ch],
            );
            narrow(&out[..k], o);
        }
    });
    gx
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
        let want_gx = to_bf16(&norm::channel_grad_input(&gw, &xw, c, s, &m, &a, &k1, &k0));
        assert_eq!(to_f32(&gx), to_f32(&want_gx));
    }
}
