//! The f32 row loops of the normalization kernels (`norm.rs`) written with
//! explicit AVX2 vectors. LLVM turned the generic loops (two running sums in
//! 16 lanes each) into scalar arithmetic with 2-wide shuffles, which made
//! layer_norm several times slower than a memory-bound pass.
//!
//! Each function computes exactly what its generic twin in `norm.rs` does,
//! operation for operation (no fused multiply-add, the same 16 partial sums
//! per block of `BLOCK` values, added in f64 in the same order), so results
//! are bit-identical whichever copy runs. `None` means "no AVX2 here: run the
//! generic loop".

use super::norm::{BLOCK, LANES};
use super::simd::{F32x8, Simd};

/// Vectors per 16-lane partial sum.
const V: usize = 8;

#[inline]
fn avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        crate::cpu::isa::use_avx2()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Sums the 16 lanes of (`lo`, `hi`) plus the scalar `tail` lanes in f64,
/// lane by lane as the generic loop does.
#[inline(always)]
unsafe fn lanes_f64(lo: F32x8, hi: F32x8, tail: impl Fn(&mut [f32; LANES])) -> f64 {
    let mut a = [0f32; LANES];
    lo.store(a.as_mut_ptr());
    hi.store(a.as_mut_ptr().add(V));
    tail(&mut a);
    a.iter().map(|&v| v as f64).sum::<f64>()
}

/// `norm::shifted_sums` for f32: (sum(x - shift), sum((x - shift)^2)).
pub fn shifted_sums(x: &[f32], shift: f32) -> Option<(f64, f64)> {
    // SAFETY: AVX2 and FMA are present.
    avx2().then(|| unsafe { shifted_sums_avx2(x, shift) })
}

#[target_feature(enable = "avx2,fma")]
unsafe fn shifted_sums_avx2(x: &[f32], shift: f32) -> (f64, f64) {
    let neg = F32x8::splat(-shift);
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for blk in x.chunks(BLOCK) {
        let full = blk.len() / LANES * LANES;
        let p = blk.as_ptr();
        let (mut a0, mut a1, mut b0, mut b1) =
            (F32x8::zero(), F32x8::zero(), F32x8::zero(), F32x8::zero());
        for i in (0..full).step_by(LANES) {
            // (x + (-shift) is x - shift exactly)
            let d0 = F32x8::load(p.add(i)).add(neg);
            let d1 = F32x8::load(p.add(i + V)).add(neg);
            a0 = a0.add(d0);
            a1 = a1.add(d1);
            b0 = b0.add(d0.mul(d0));
            b1 = b1.add(d1.mul(d1));
        }
        let rest = &blk[full..];
        s1 += lanes_f64(a0, a1, |a| {
            for (l, &v) in rest.iter().enumerate() {
                a[l] += v - shift;
            }
        });
        s2 += lanes_f64(b0, b1, |b| {
            for (l, &v) in rest.iter().enumerate() {
                let d = v - shift;
                b[l] += d * d;
            }
        });
    }
    (s1, s2)
}

/// `norm::grad_sums_w` for f32: (sum(g * w), sum(g * w * (x - m))).
pub fn grad_sums_w(g: &[f32], w: &[f32], x: &[f32], m: f32) -> Option<(f64, f64)> {
    assert!(g.len() == x.len() && w.len() == x.len());
    // SAFETY: AVX2 and FMA are present; the three slices have one length.
    avx2().then(|| unsafe { grad_sums_w_avx2(g, w, x, m) })
}

#[target_feature(enable = "avx2,fma")]
unsafe fn grad_sums_w_avx2(g: &[f32], w: &[f32], x: &[f32], m: f32) -> (f64, f64) {
    let neg = F32x8::splat(-m);
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for start in (0..x.len()).step_by(BLOCK) {
        let end = (start + BLOCK).min(x.len());
        let full = start + (end - start) / LANES * LANES;
        let (pg, pw, px) = (g.as_ptr(), w.as_ptr(), x.as_ptr());
        let (mut a0, mut a1, mut b0, mut b1) =
            (F32x8::zero(), F32x8::zero(), F32x8::zero(), F32x8::zero());
        for i in (start..full).step_by(LANES) {
            let gw0 = F32x8::load(pg.add(i)).mul(F32x8::load(pw.add(i)));
            let gw1 = F32x8::load(pg.add(i + V)).mul(F32x8::load(pw.add(i + V)));
            a0 = a0.add(gw0);
            a1 = a1.add(gw1);
            b0 = b0.add(gw0.mul(F32x8::load(px.add(i)).add(neg)));
            b1 = b1.add(gw1.mul(F32x8::load(px.add(i + V)).add(neg)));
        }
        let rest = full..end;
        s1 += lanes_f64(a0, a1, |a| {
            for (l, i) in rest.clone().enumerate() {
                a[l] += g[i] * w[i];
            }
        });
        s2 += lanes_f64(b0, b1, |b| {
            for (l, i) in rest.clone().enumerate() {
                b[l] += g[i] * w[i] * (x[i] - m);
            }
        });
    }
    (s1, s2)
}

/// `y = (x - m) * rs * w + b` (`norm::norm_wb` for f32).
pub fn norm_wb(y: &mut [f32], x: &[f32], m: f32, rs: f32, w: &[f32], b: &[f32]) -> bool {
    assert!(y.len() == x.len() && w.len() == x.len() && b.len() == x.len());
    // SAFETY: AVX2 and FMA are present; the four slices have one length.
    avx2() && {
        unsafe { norm_wb_avx2(y, x, m, rs, w, b) };
        true
    }
}

#[target_feature(enable = "avx2,fma")]
unsafe fn norm_wb_avx2(y: &mut [f32], x: &[f32], m: f32, rs: f32, w: &[f32], b: &[f32]) {
    let (neg, vrs) = (F32x8::splat(-m), F32x8::splat(rs));
    let n = x.len();
    let full = n / V * V;
    let (py, px, pw, pb) = (y.as_mut_ptr(), x.as_ptr(), w.as_ptr(), b.as_ptr());
    for i in (0..full).step_by(V) {
        let c = F32x8::load(px.add(i)).add(neg).mul(vrs);
        c.mul(F32x8::load(pw.add(i)))
            .add(F32x8::load(pb.add(i)))
            .store(py.add(i));
    }
    for i in full..n {
        y[i] = (x[i] - m) * rs * w[i] + b[i];
    }
}

/// One sweep of layer_norm's backward over a row: the input gradient
/// `o = g * w * a + (x - m) * k1 + k0` (`norm::grad_in_w`) and the affine
/// gradients `pw += g * (x - m) * rs`, `pb += g` (`norm::acc_wb`).
#[allow(clippy::too_many_arguments)]
pub fn grad_in_w_acc(
    o: &mut [f32],
    g: &[f32],
    w: &[f32],
    x: &[f32],
    (a, m, k1, k0, rs): (f32, f32, f32, f32, f32),
    pw: &mut [f32],
    pb: &mut [f32],
) -> bool {
    let n = x.len();
    assert!(o.len() == n && g.len() == n && w.len() == n && pw.len() == n && pb.len() == n);
    // SAFETY: AVX2 and FMA are present; the slices have one length.
    avx2() && {
        unsafe { grad_in_w_acc_avx2(o, g, w, x, (a, m, k1, k0, rs), pw, pb) };
        true
    }
}

#[target_feature(enable = "avx2,fma")]
unsafe fn grad_in_w_acc_avx2(
    o: &mut [f32],
    g: &[f32],
    w: &[f32],
    x: &[f32],
    (a, m, k1, k0, rs): (f32, f32, f32, f32, f32),
    pw: &mut [f32],
    pb: &mut [f32],
) {
    let (va, neg, vk1, vk0, vrs) = (
        F32x8::splat(a),
        F32x8::splat(-m),
        F32x8::splat(k1),
        F32x8::splat(k0),
        F32x8::splat(rs),
    );
    let n = x.len();
    let full = n / V * V;
    let (po, pg, pwt, px) = (o.as_mut_ptr(), g.as_ptr(), w.as_ptr(), x.as_ptr());
    let (ppw, ppb) = (pw.as_mut_ptr(), pb.as_mut_ptr());
    for i in (0..full).step_by(V) {
        let gv = F32x8::load(pg.add(i));
        let d = F32x8::load(px.add(i)).add(neg);
        gv.mul(F32x8::load(pwt.add(i)))
            .mul(va)
            .add(d.mul(vk1))
            .add(vk0)
            .store(po.add(i));
        F32x8::load(ppw.add(i))
            .add(gv.mul(d).mul(vrs))
            .store(ppw.add(i));
        F32x8::load(ppb.add(i)).add(gv).store(ppb.add(i));
    }
    for i in full..n {
        let d = x[i] - m;
        o[i] = g[i] * w[i] * a + d * k1 + k0;
        pw[i] += g[i] * d * rs;
        pb[i] += g[i];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(n: usize, seed: u32) -> Vec<f32> {
        (0..n)
            .map(|i| {
                let h = (i as u32)
                    .wrapping_mul(2654435761)
                    .wrapping_add(seed.wrapping_mul(40503));
                (h % 2001) as f32 / 1000.0 - 1.0 + 3.0
            })
            .collect()
    }

    // The SIMD loops against the generic ones, bit for bit, at lengths that
    // leave every tail size and cross a block boundary.
    #[test]
    fn simd_rows_match_generic_bitwise() {
        if !avx2() {
            return;
        }
        for n in [1, 7, 8, 15, 16, 17, 33, 256, 1023, 1024, 1025, 2100] {
            let (x, g, w, b) = (values(n, 1), values(n, 2), values(n, 3), values(n, 4));
            let (m, rs) = (2.9f32, 1.7f32);
            assert_eq!(
                shifted_sums(&x, m),
                Some(super::super::norm::shifted_sums_generic(&x, m))
            );
            assert_eq!(
                grad_sums_w(&g, &w, &x, m),
                Some(super::super::norm::grad_sums_w_generic(&g, &w, &x, m))
            );
            let (mut y1, mut y2) = (vec![0f32; n], vec![0f32; n]);
            assert!(norm_wb(&mut y1, &x, m, rs, &w, &b));
            for i in 0..n {
                y2[i] = (x[i] - m) * rs * w[i] + b[i];
            }
            assert_eq!(y1, y2);
            let (a, k1, k0) = (0.6f32, -0.3f32, 0.01f32);
            let (mut o1, mut pw1, mut pb1) = (vec![0f32; n], b.clone(), w.clone());
            assert!(grad_in_w_acc(
                &mut o1,
                &g,
                &w,
                &x,
                (a, m, k1, k0, rs),
                &mut pw1,
                &mut pb1
            ));
            for i in 0..n {
                let d = x[i] - m;
                assert_eq!(o1[i], g[i] * w[i] * a + d * k1 + k0);
                assert_eq!(pw1[i], b[i] + g[i] * d * rs);
                assert_eq!(pb1[i], w[i] + g[i]);
            }
        }
    }
}
