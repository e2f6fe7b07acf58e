//! Normalization kernels on contiguous slices (no autograd).
//!
//! Two statistics layouts cover every op:
//! - "rows" (layer/group/instance norm): the input is `(n, c, s)` with the
//!   channels split into `groups`; each (n, group) is one contiguous row whose
//!   mean/var are taken, and the affine weight/bias are per channel.
//!   layer_norm is `(rows, row_len, 1)` with one group.
//! - "channels" (batch norm): `(n, c, s)` with statistics per channel over
//!   n and s, then a per-channel `y = x * scale + shift`.
//!
//! Sums run in 16 lanes of `T` (vectorizable) over blocks of at most
//! `BLOCK` elements, and the block sums are added in f64.

use super::moments::{self, MomentFloat};
use super::planes::{for_planes, for_planes2};
use crate::parallel;
use crate::tensor::dtype::Float;

pub(super) const LANES: usize = 16;
pub(super) const BLOCK: usize = 1024;

/// `s` seen as f32 when `T` is f32 (the only 4-byte `Float`), for the
/// explicit-SIMD row loops (`norm_simd`).
fn as_f32<T: Float>(s: &[T]) -> Option<&[f32]> {
    // SAFETY: T is f32 when its size is 4 bytes: same layout and length.
    (std::mem::size_of::<T>() == 4)
        .then(|| unsafe { std::slice::from_raw_parts(s.as_ptr() as *const f32, s.len()) })
}

fn as_f32_mut<T: Float>(s: &mut [T]) -> Option<&mut [f32]> {
    // SAFETY: as in `as_f32`; the borrow of `s` moves to the result.
    (std::mem::size_of::<T>() == 4)
        .then(|| unsafe { std::slice::from_raw_parts_mut(s.as_mut_ptr() as *mut f32, s.len()) })
}

fn f32_of<T: Float>(v: T) -> f32 {
    v.to_f64() as f32
}

/// (sum(x - shift), sum((x - shift)^2)). Shifting by a sample of the data
/// keeps the one-pass variance accurate when |mean| >> std.
pub fn shifted_sums<T: Float>(x: &[T], shift: T) -> (f64, f64) {
    as_f32(x)
        .and_then(|x| super::norm_simd::shifted_sums(x, f32_of(shift)))
        .unwrap_or_else(|| shifted_sums_generic(x, shift))
}

/// (sum(g * w), sum(g * w * (x - m))): `grad_sums` of the weighted
/// gradient, without writing it out (layer_norm's elementwise weight).
pub fn grad_sums_w<T: Float>(g: &[T], w: &[T], x: &[T], m: T) -> (f64, f64) {
    if let (Some(g32), Some(w32), Some(x32)) = (as_f32(g), as_f32(w), as_f32(x)) {
        if let Some(r) = super::norm_simd::grad_sums_w(g32, w32, x32, f32_of(m)) {
            return r;
        }
    }
    grad_sums_w_generic(g, w, x, m)
}

crate::multiversion! {
    /// `shifted_sums` in plain loops (any float type).
    pub fn shifted_sums_generic(x: &[T], shift: T) -> (f64, f64) => shifted_sums_impl
}
crate::multiversion! {
    /// (sum(g), sum(g * (x - m))). Centering on (about) the mean keeps the
    /// second sum accurate for nearly constant groups far from 0.
    pub fn grad_sums(g: &[T], x: &[T], m: T) -> (f64, f64) => grad_sums_impl
}
crate::multiversion! {
    /// `grad_sums_w` in plain loops (any float type).
    pub fn grad_sums_w_generic(g: &[T], w: &[T], x: &[T], m: T) -> (f64, f64) => grad_sums_w_impl
}
crate::multiversion! {
    /// `o = g * w * a + (x - m) * k1 + k0`: `grad_in` of the weighted gradient.
    fn grad_in_w(o: &mut [T], g: &[T], w: &[T], x: &[T], a: T, m: T, k1: T, k0: T) => grad_in_w_impl
}
crate::multiversion! {
    /// `y = (x - m) * a + k` over a segment, with scalar m, a and k.
    /// (Centering first keeps x * a from overflowing when x is near the
    /// largest float and m is about x.)
    pub(super) fn axpk(y: &mut [T], x: &[T], m: T, a: T, k: T) => axpk_impl
}
crate::multiversion! {
    /// `o = g * a + (x - m) * k1 + k0` over a segment (normalization input
    /// gradient; centered like `grad_sums`).
    pub(super) fn grad_in(o: &mut [T], g: &[T], x: &[T], a: T, m: T, k1: T, k0: T) => grad_in_impl
}
crate::multiversion! {
    /// `o = (g + (x - m) * k1 + k0) * a`: `grad_in` with the scale applied
    /// last, as PyTorch's batch_norm backward does. Where `a` is huge or
    /// infinite (the weight) the bracket, a difference of gradient-sized
    /// terms, is what it multiplies: +-inf, not inf - inf; and symmetric
    /// gradients cancel in the bracket before the scale enlarges them.
    pub(super) fn grad_in_scaled(o: &mut [T], g: &[T], x: &[T], a: T, m: T, k1: T, k0: T) => grad_in_scaled_impl
}
crate::multiversion! {
    /// `o = ((g - gm) - (x - m) * k) * rs * w`: PyTorch's batch_norm
    /// (training) input gradient, rounded at each of its steps (the two
    /// scales one after the other: a huge weight scales a difference of
    /// gradient-sized terms, and symmetric gradients cancel exactly).
    #[allow(clippy::too_many_arguments)]
    fn grad_in_bn(o: &mut [T], g: &[T], x: &[T], m: T, k: T, gm: T, rs: T, w: T) => grad_in_bn_impl
}
crate::multiversion! {
    /// `y = (x - m) * rs * w + b` elementwise (layer_norm affine).
    fn norm_wb(y: &mut [T], x: &[T], m: T, rs: T, w: &[T], b: &[T]) => norm_wb_impl
}
crate::multiversion! {
    /// `pw += g * (x - m) * rs`, `pb += g` elementwise (layer_norm affine grads).
    fn acc_wb(pw: &mut [T], pb: &mut [T], g: &[T], x: &[T], m: T, rs: T) => acc_wb_impl
}

#[inline(always)]
fn grad_in_impl<T: Float>(o: &mut [T], g: &[T], x: &[T], a: T, m: T, k1: T, k0: T) {
    for ((o, &g), &xv) in o.iter_mut().zip(g).zip(x) {
        *o = g * a + (xv - m) * k1 + k0;
    }
}

#[inline(always)]
fn grad_in_scaled_impl<T: Float>(o: &mut [T], g: &[T], x: &[T], a: T, m: T, k1: T, k0: T) {
    for ((o, &g), &xv) in o.iter_mut().zip(g).zip(x) {
        *o = (g + (xv - m) * k1 + k0) * a;
    }
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn grad_in_bn_impl<T: Float>(o: &mut [T], g: &[T], x: &[T], m: T, k: T, gm: T, rs: T, w: T) {
    for ((o, &g), &xv) in o.iter_mut().zip(g).zip(x) {
        *o = ((g - gm) - (xv - m) * k) * rs * w;
    }
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn grad_in_w_impl<T: Float>(o: &mut [T], g: &[T], w: &[T], x: &[T], a: T, m: T, k1: T, k0: T) {
    for (((o, &g), &wv), &xv) in o.iter_mut().zip(g).zip(w).zip(x) {
        *o = g * wv * a + (xv - m) * k1 + k0;
    }
}

#[inline(always)]
fn norm_wb_impl<T: Float>(y: &mut [T], x: &[T], m: T, rs: T, w: &[T], b: &[T]) {
    for (((o, &v), &wv), &bv) in y.iter_mut().zip(x).zip(w).zip(b) {
        *o = (v - m) * rs * wv + bv;
    }
}

#[inline(always)]
fn acc_wb_impl<T: Float>(pw: &mut [T], pb: &mut [T], g: &[T], x: &[T], m: T, rs: T) {
    for (((w, b), &gv), &xv) in pw.iter_mut().zip(pb.iter_mut()).zip(g).zip(x) {
        *w += gv * (xv - m) * rs;
        *b += gv;
    }
}

/// Mean and biased variance of one group of values.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Stat {
    pub mean: f64,
    pub var: f64,
}

impl Stat {
    pub fn rstd(&self, eps: f64) -> f64 {
        1.0 / (self.var + eps).sqrt()
    }
}

#[inline(always)]
fn shifted_sums_impl<T: Float>(x: &[T], shift: T) -> (f64, f64) {
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for blk in x.chunks(BLOCK) {
        let (mut a, mut b) = ([T::zero(); LANES], [T::zero(); LANES]);
        let chunks = blk.chunks_exact(LANES);
        let rest = chunks.remainder();
        for ch in chunks {
            for l in 0..LANES {
                let d = ch[l] - shift;
                a[l] += d;
                b[l] += d * d;
            }
        }
        for (l, &v) in rest.iter().enumerate() {
            let d = v - shift;
            a[l] += d;
            b[l] += d * d;
        }
        s1 += a.iter().map(|v| v.to_f64()).sum::<f64>();
        s2 += b.iter().map(|v| v.to_f64()).sum::<f64>();
    }
    (s1, s2)
}

#[inline(always)]
fn grad_sums_impl<T: Float>(g: &[T], x: &[T], m: T) -> (f64, f64) {
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for (bg, bx) in g.chunks(BLOCK).zip(x.chunks(BLOCK)) {
        let (mut a, mut b) = ([T::zero(); LANES], [T::zero(); LANES]);
        let (cg, cx) = (bg.chunks_exact(LANES), bx.chunks_exact(LANES));
        let (rg, rx) = (cg.remainder(), cx.remainder());
        for (chg, chx) in cg.zip(cx) {
            for l in 0..LANES {
                a[l] += chg[l];
                b[l] += chg[l] * (chx[l] - m);
            }
        }
        for (l, (&gv, &xv)) in rg.iter().zip(rx).enumerate() {
            a[l] += gv;
            b[l] += gv * (xv - m);
        }
        s1 += a.iter().map(|v| v.to_f64()).sum::<f64>();
        s2 += b.iter().map(|v| v.to_f64()).sum::<f64>();
    }
    (s1, s2)
}

#[inline(always)]
fn grad_sums_w_impl<T: Float>(g: &[T], w: &[T], x: &[T], m: T) -> (f64, f64) {
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for ((bg, bw), bx) in g.chunks(BLOCK).zip(w.chunks(BLOCK)).zip(x.chunks(BLOCK)) {
        let (mut a, mut b) = ([T::zero(); LANES], [T::zero(); LANES]);
        let (cg, cw, cx) = (
            bg.chunks_exact(LANES),
            bw.chunks_exact(LANES),
            bx.chunks_exact(LANES),
        );
        let (rg, rw, rx) = (cg.remainder(), cw.remainder(), cx.remainder());
        for ((chg, chw), chx) in cg.zip(cw).zip(cx) {
            for l in 0..LANES {
                let gw = chg[l] * chw[l];
                a[l] += gw;
                b[l] += gw * (chx[l] - m);
            }
        }
        for (l, ((&gv, &wv), &xv)) in rg.iter().zip(rw).zip(rx).enumerate() {
            let gw = gv * wv;
            a[l] += gw;
            b[l] += gw * (xv - m);
        }
        s1 += a.iter().map(|v| v.to_f64()).sum::<f64>();
        s2 += b.iter().map(|v| v.to_f64()).sum::<f64>();
    }
    (s1, s2)
}

/// Accumulates into a `Stat` from shifted sums of several segments.
pub(super) struct Acc {
    shift: f64,
    count: usize,
    s1: f64,
    s2: f64,
}

impl Acc {
    pub(super) fn new<T: Float>(shift: T) -> Acc {
        // (an infinite first value would make every shifted term NaN: the
        // mean of [-inf, 1] is -inf, as PyTorch's plain sum gives it)
        let shift = shift.to_f64();
        Acc {
            shift: if shift.is_finite() { shift } else { 0.0 },
            count: 0,
            s1: 0.0,
            s2: 0.0,
        }
    }
    /// The shift the sums of `add_sums` must be taken around.
    pub(super) fn shift(&self) -> f64 {
        self.shift
    }
    /// Adds `shifted_sums` of `count` values taken around `shift()`.
    pub(super) fn add_sums(&mut self, (a, b): (f64, f64), count: usize) {
        self.s1 += a;
        self.s2 += b;
        self.count += count;
    }
    pub(super) fn add<T: Float>(&mut self, seg: &[T]) {
        let (a, b) = shifted_sums(seg, T::c(self.shift));
        self.s1 += a;
        self.s2 += b;
        self.count += seg.len();
    }
    pub(super) fn stat(&self) -> Stat {
        if self.count == 0 {
            return Stat {
                mean: f64::NAN,
                var: f64::NAN,
            };
        }
        let m = self.s1 / self.count as f64;
        // Rounding can leave a tiny negative variance: clamp it to 0, but
        // keep NaN (an inf in the group), as PyTorch's statistics do.
        let var = self.s2 / self.count as f64 - m * m;
        Stat {
            mean: self.shift + m,
            var: if var < 0.0 { 0.0 } else { var },
        }
    }
}

/// Shape of a "rows" normalization: `(n, c, s)` with `groups` dividing `c`.
#[derive(Clone, Copy, Debug)]
pub struct RowShape {
    pub n: usize,
    pub c: usize,
    pub s: usize,
    pub groups: usize,
}

impl RowShape {
    fn cg(&self) -> usize {
        self.c / self.groups
    }
    fn row_len(&self) -> usize {
        self.cg() * self.s
    }
}

#[inline(always)]
fn axpk_impl<T: Float>(y: &mut [T], x: &[T], m: T, a: T, k: T) {
    for (o, &v) in y.iter_mut().zip(x) {
        *o = (v - m) * a + k;
    }
}

/// `s` seen as f64 when `T` is f64 (the only 8-byte `Float`).
fn as_f64<T: Float>(s: &[T]) -> Option<&[f64]> {
    // SAFETY: T is f64 when its size is 8 bytes: same layout and length.
    (std::mem::size_of::<T>() == 8)
        .then(|| unsafe { std::slice::from_raw_parts(s.as_ptr() as *const f64, s.len()) })
}

fn as_f64_mut<T: Float>(s: &mut [T]) -> Option<&mut [f64]> {
    // SAFETY: as in `as_f64`; the borrow of `s` moves to the result.
    (std::mem::size_of::<T>() == 8)
        .then(|| unsafe { std::slice::from_raw_parts_mut(s.as_mut_ptr() as *mut f64, s.len()) })
}

/// Mean and biased variance of one row as PyTorch's layer/group norm
/// kernels take them (`cpu::moments`), in the row's type.
fn row_stat<T: Float>(x: &[T]) -> Stat {
    let (mean, var) = if let Some(x) = as_f32(x) {
        let (m, v) = moments::row_moments_f32(x);
        (m as f64, v as f64)
    } else if let Some(x) = as_f64(x) {
        moments::row_moments_f64(x)
    } else {
        let mut acc = Acc::new(x[0]);
        acc.add(x);
        return acc.stat();
    };
    // (PyTorch's group_norm clamps at 0; Welford's sums never go below)
    Stat {
        mean,
        var: if var < 0.0 { 0.0 } else { var },
    }
}

#[inline(always)]
fn fma_affine_impl<T: MomentFloat>(y: &mut [T], x: &[T], a: T, k: T) {
    for (o, &v) in y.iter_mut().zip(x) {
        *o = a.mul_add(v, k);
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn fma_affine_avx2<T: MomentFloat>(y: &mut [T], x: &[T], a: T, k: T) {
    fma_affine_impl(y, x, a, k)
}

/// `y = fma(a, x, k)` over a segment.
fn fma_affine<T: MomentFloat>(y: &mut [T], x: &[T], a: T, k: T) {
    #[cfg(target_arch = "x86_64")]
    if super::isa::use_avx2() {
        // SAFETY: the CPU supports the enabled features.
        return unsafe { fma_affine_avx2(y, x, a, k) };
    }
    fma_affine_impl(y, x, a, k)
}

/// PyTorch's group_norm affine for one channel's `s` values, in the
/// values' type: `scale * x + (-scale * mean + beta)` with `scale = rstd *
/// w`, both contracted to fused multiply-adds. Where |x| is huge it differs
/// from the centered `(x - mean) * scale + beta` by the fma's residue (3e38
/// normalized alone gives ~1e25, not beta), and it gives NaN where that
/// gives +-inf (an infinite weight).
fn group_affine<T: Float>(y: &mut [T], x: &[T], mean: T, rstd: T, w: Option<T>, b: Option<T>) {
    fn one<F: MomentFloat>(y: &mut [F], x: &[F], mean: F, rstd: F, w: F, b: F) {
        let scale = rstd * w;
        let shift = (F::ZERO - scale).mul_add(mean, b);
        fma_affine(y, x, scale, shift);
    }
    let (w, b) = (w.unwrap_or(T::c(1.0)), b.unwrap_or(T::zero()));
    if let (Some(y), Some(x)) = (as_f32_mut(y), as_f32(x)) {
        one(y, x, f32_of(mean), f32_of(rstd), f32_of(w), f32_of(b));
    } else if let (Some(y), Some(x)) = (as_f64_mut(y), as_f64(x)) {
        one(y, x, mean.to_f64(), rstd.to_f64(), w.to_f64(), b.to_f64());
    } else {
        let k = b - mean * rstd * w;
        for (o, &v) in y.iter_mut().zip(x) {
            *o = v * rstd * w + k;
        }
    }
}

/// Forward of a rows normalization: output and per-row statistics. With
/// `group_form` (group_norm) the affine is PyTorch's group_norm one
/// (`group_affine`); otherwise (layer_norm) `(x - mean) * rstd * w + b`.
pub fn rows_forward<T: Float>(
    x: &[T],
    sh: RowShape,
    w: Option<&[T]>,
    b: Option<&[T]>,
    eps: f64,
    group_form: bool,
) -> (Vec<T>, Vec<Stat>) {
    let (len, cg, s) = (sh.row_len(), sh.cg(), sh.s);
    let rows = sh.n * sh.groups;
    let mut y = crate::tensor::pool::uninit_vec::<T>(x.len());
    let mut stats = vec![Stat::default(); rows];
    if len == 0 {
        return (y, stats);
    }
    let bias_infinite = b.is_some_and(|b| b.iter().any(|v| v.to_f64().is_infinite()));
    for_planes2(&mut y, len, &mut stats, 1, x.len(), |r, yr, st| {
        let xr = &x[r * len..(r + 1) * len];
        st[0] = row_stat(xr);
        let (mean, rstd) = (st[0].mean, st[0].rstd(eps));
        let (m, rs) = (T::c(mean), T::c(rstd));
        let c0 = (r % sh.groups) * cg;
        if group_form && (w.is_some() || b.is_some()) {
            for j in 0..cg {
                let seg = j * s..(j + 1) * s;
                let (wc, bc) = (w.map(|w| w[c0 + j]), b.map(|b| b[c0 + j]));
                group_affine(&mut yr[seg.clone()], &xr[seg], m, rs, wc, bc);
            }
            return;
        }
        if s > 1 {
            // (group_norm without an affine)
            axpk(yr, xr, m, rs, T::zero());
            return;
        }
        let ws = w.map(|w| &w[c0..c0 + cg]);
        let bs = b.map(|b| &b[c0..c0 + cg]);
        // One loop per case so each vectorizes without per-element branches.
        match (ws, bs) {
            (Some(ws), Some(bs)) => {
                let simd = match (as_f32_mut(yr), as_f32(xr), as_f32(ws), as_f32(bs)) {
                    (Some(y), Some(x), Some(w), Some(b)) => {
                        super::norm_simd::norm_wb(y, x, f32_of(m), f32_of(rs), w, b)
                    }
                    _ => false,
                };
                if !simd {
                    norm_wb(yr, xr, m, rs, ws, bs)
                }
                if bias_infinite && !super::conv::all_finite(yr) {
                    // PyTorch contracts `... * w + b` into an fma: a product
                    // past the range plus an infinite bias is that bias,
                    // not NaN (the only place the fusion shows).
                    for (((o, &v), &wv), &bv) in yr.iter_mut().zip(xr).zip(ws).zip(bs) {
                        let t = (v - m) * rs;
                        *o = T::c(t.to_f64().mul_add(wv.to_f64(), bv.to_f64()));
                    }
                }
            }
            (Some(ws), None) => {
                for ((o, &v), &wv) in yr.iter_mut().zip(xr).zip(ws) {
                    *o = (v - m) * rs * wv;
                }
            }
            (None, Some(bs)) => {
                for ((o, &v), &bv) in yr.iter_mut().zip(xr).zip(bs) {
                    *o = (v - m) * rs + bv;
                }
            }
            (None, None) => axpk(yr, xr, m, rs, T::zero()),
        }
    });
    (y, stats)
}

/// Per-channel gradients of the affine weight and bias.
pub type AffineGrads<T> = (Vec<T>, Vec<T>);

/// Gradients of a rows normalization: `gx`, and per-channel (`gw`, `gb`)
/// when `need_wb`. The affine gradients are summed per part of at most
/// `PART_ROWS` rows in `T`, then the parts in f64.
#[allow(clippy::too_many_arguments)]
pub fn rows_backward<T: Float>(
    gy: &[T],
    x: &[T],
    stats: &[Stat],
    sh: RowShape,
    w: Option<&[T]>,
    eps: f64,
    need_wb: bool,
) -> (Vec<T>, Option<AffineGrads<T>>) {
    const PART_ROWS: usize = 64;
    let (len, cg, s, c) = (sh.row_len(), sh.cg(), sh.s, sh.c);
    let rows = sh.n * sh.groups;
    // Every element is written by `grad_in`/`grad_in_w` below.
    let mut gx = crate::tensor::pool::uninit_vec::<T>(x.len());
    if len == 0 || rows == 0 {
        let wb = need_wb.then(|| (vec![T::zero(); c], vec![T::zero(); c]));
        return (gx, wb);
    }
    let one_row = |r: usize, gxr: &mut [T], pw: &mut [T], pb: &mut [T]| {
        debug_assert_eq!(gxr.len(), len);
        let (xr, gr) = (&x[r * len..(r + 1) * len], &gy[r * len..(r + 1) * len]);
        let (mean, rstd) = (stats[r].mean, stats[r].rstd(eps));
        // Sums and the gradient are centered on the mean rounded to T; `dm`
        // (what rounding lost) is corrected for in f64.
        let m = T::c(mean);
        let dm = mean - m.to_f64();
        let c0 = (r % sh.groups) * cg;
        let wc = |ch: usize| w.map_or(1.0, |w| w[ch].to_f64());
        if len == 1 {
            // One value per row normalizes to 0 whatever it is: the input's
            // gradient is exactly 0 (the general formula leaves a rounding
            // residue, scaled by rstd, of gy*w*rstd against its mean).
            // (NaN, as the formula gives, where x, gy, w or rstd is not finite)
            let terms = wc(c0) * gr[0].to_f64() * rstd + (xr[0].to_f64() - mean);
            gxr[0] = if terms.is_finite() {
                T::zero()
            } else {
                T::c(f64::NAN)
            };
            if need_wb {
                pb[c0] += gr[0];
                pw[c0] += T::c(rstd * (xr[0].to_f64() - mean) * gr[0].to_f64());
            }
            return;
        }
        // A = sum(w*gy), Bc = sum(w*gy*(x - mean)) over the row.
        let (mut a_sum, mut bc_sum) = (0.0, 0.0);
        if s == 1 {
            // The weighted gradient w * gy is formed inside both passes
            // rather than written to a row buffer.
            let wr = w.map(|w| &w[c0..c0 + cg]);
            (a_sum, bc_sum) = match wr {
                Some(wr) => grad_sums_w(gr, wr, xr, m),
                None => grad_sums(gr, xr, m),
            };
            let rs = T::c(rstd);
            if !(a_sum.is_finite() && bc_sum.is_finite()) {
                // An infinite weight or gradient: PyTorch's uncentered form
                // (layer_norm's backward kernel has group_norm's)
                let wj = |j: usize| wr.map_or(1.0, |w| w[j].to_f64());
                grad_in_uncentered(gxr, gr, xr, mean, rstd, 1, &wj);
            } else {
                let b = rstd * (bc_sum - dm * a_sum);
                let k1 = -rstd * rstd * b / len as f64;
                let k0 = -rstd * a_sum / len as f64 - k1 * dm;
                let (k1, k0) = (T::c(k1), T::c(k0));
                if need_wb {
                    if let Some(wr) = wr {
                        // One sweep for gx and the affine gradients (the
                        // mean rounded to T is `m`, as `acc_wb` takes it).
                        let (pw, pb) = (&mut pw[c0..c0 + cg], &mut pb[c0..c0 + cg]);
                        let fused = match (
                            as_f32_mut(gxr),
                            as_f32(gr),
                            as_f32(wr),
                            as_f32(xr),
                            as_f32_mut(pw),
                            as_f32_mut(pb),
                        ) {
                            (Some(o), Some(g), Some(w), Some(x), Some(pw), Some(pb)) => {
                                let k = (f32_of(rs), f32_of(m), f32_of(k1), f32_of(k0), f32_of(rs));
                                super::norm_simd::grad_in_w_acc(o, g, w, x, k, pw, pb)
                            }
                            _ => false,
                        };
                        if fused {
                            return;
                        }
                    }
                }
                match wr {
                    Some(wr) => grad_in_w(gxr, gr, wr, xr, rs, m, k1, k0),
                    None => grad_in(gxr, gr, xr, rs, m, k1, k0),
                }
            }
            if need_wb {
                let (pw, pb) = (&mut pw[c0..c0 + cg], &mut pb[c0..c0 + cg]);
                acc_wb(pw, pb, gr, xr, T::c(mean), rs);
            }
            return;
        }
        for j in 0..cg {
            let (sdy, sdyx) = grad_sums(&gr[j * s..(j + 1) * s], &xr[j * s..(j + 1) * s], m);
            let sdyx = sdyx - dm * sdy;
            a_sum += wc(c0 + j) * sdy;
            bc_sum += wc(c0 + j) * sdyx;
            if need_wb {
                pw[c0 + j] += T::c(rstd * sdyx);
                pb[c0 + j] += T::c(sdy);
            }
        }
        if !(a_sum.is_finite() && bc_sum.is_finite()) {
            // An infinite weight or gradient: PyTorch's forms give +-inf
            // where the centered one here gives NaN (inf * 0 in k1 * dm).
            // group_norm's gx = w rstd gy + c2 x + c3 (uncentered sums)
            grad_in_uncentered(gxr, gr, xr, mean, rstd, s, &|j| wc(c0 + j));
            return;
        }
        let b = rstd * bc_sum;
        let k1 = -rstd * rstd * b / len as f64;
        let k0 = -rstd * a_sum / len as f64 - k1 * dm;
        for j in 0..cg {
            let seg = j * s..(j + 1) * s;
            let (a, k1, k0) = (T::c(wc(c0 + j) * rstd), T::c(k1), T::c(k0));
            grad_in(
                &mut gxr[seg.clone()],
                &gr[seg.clone()],
                &xr[seg],
                a,
                m,
                k1,
                k0,
            );
        }
    };
    let part = PART_ROWS.min(rows);
    let run = |(i, chunk): (usize, &mut [T])| {
        let (mut pw, mut pb) = (
            vec![T::zero(); if need_wb { c } else { 0 }],
            vec![T::zero(); if need_wb { c } else { 0 }],
        );
        for (k, gxr) in chunk.chunks_mut(len).enumerate() {
            one_row(i * part + k, gxr, &mut pw, &mut pb);
        }
        (pw, pb)
    };
    let parts: Vec<(Vec<T>, Vec<T>)> = if x.len() < parallel::GRAIN || parallel::num_threads() == 1
    {
        gx.chunks_mut(part * len).enumerate().map(run).collect()
    } else {
        parallel::map_chunks_mut(&mut gx, part * len, |i, c| run((i, c)))
    };
    let wb = need_wb.then(|| {
        let (mut gw, mut gb) = (vec![0.0f64; c], vec![0.0f64; c]);
        for (pw, pb) in &parts {
            for j in 0..c {
                gw[j] += pw[j].to_f64();
                gb[j] += pb[j].to_f64();
            }
        }
        (
            gw.into_iter().map(T::c).collect(),
            gb.into_iter().map(T::c).collect(),
        )
    });
    (gx, wb)
}

/// One group's input gradient in PyTorch's group_norm form: with
/// ds = sum_c w_c sum(gy x), db = sum_c w_c sum(gy) over the group,
/// c2 = (db mean - ds) rstd^3 / len, c3 = -c2 mean - db rstd / len and
/// gx = w_c rstd gy + c2 x + c3 (`s` values per channel).
fn grad_in_uncentered<T: Float>(
    gxr: &mut [T],
    gr: &[T],
    xr: &[T],
    mean: f64,
    rstd: f64,
    s: usize,
    w: &dyn Fn(usize) -> f64,
) {
    let cg = xr.len() / s;
    let (mut ds, mut db) = (0.0, 0.0);
    for j in 0..cg {
        let seg = j * s..(j + 1) * s;
        let (sdy, sdyx) = gr[seg.clone()]
            .iter()
            .zip(&xr[seg])
            .fold((0.0, 0.0), |(a, b), (&g, &v)| {
                (a + g.to_f64(), b + g.to_f64() * v.to_f64())
            });
        db += w(j) * sdy;
        ds += w(j) * sdyx;
    }
    let inv = 1.0 / xr.len() as f64;
    let c2 = (db * mean - ds) * rstd * rstd * rstd * inv;
    let c3 = -c2 * mean - db * rstd * inv;
    for j in 0..cg {
        let a = w(j) * rstd;
        for k in j * s..(j + 1) * s {
            gxr[k] = T::c(a * gr[k].to_f64() + c2 * xr[k].to_f64() + c3);
        }
    }
}

/// Per-channel mean and biased variance of `x` shaped `(n, c, s)`.
pub fn channel_stats<T: Float>(x: &[T], n: usize, c: usize, s: usize) -> Vec<Stat> {
    let one = |ch: usize| {
        if n == 0 || s == 0 {
            return Acc::new(T::zero()).stat();
        }
        let mut acc = Acc::new(x[ch * s]);
        for i in 0..n {
            acc.add(&x[(i * c + ch) * s..(i * c + ch + 1) * s]);
        }
        acc.stat()
    };
    if x.len() < parallel::GRAIN || parallel::num_threads() == 1 || c == 1 {
        (0..c).map(one).collect()
    } else {
        parallel::map_tasks(c, one)
    }
}

/// Per-channel (sum(gy), sum(gy * (x - m[c]))) of `(n, c, s)` tensors.
pub fn channel_grad_sums<T: Float>(
    gy: &[T],
    x: &[T],
    m: &[T],
    n: usize,
    c: usize,
    s: usize,
) -> Vec<(f64, f64)> {
    let one = |ch: usize| {
        let (mut a, mut b) = (0.0, 0.0);
        for i in 0..n {
            let seg = (i * c + ch) * s..(i * c + ch + 1) * s;
            let (p, q) = grad_sums(&gy[seg.clone()], &x[seg], m[ch]);
            a += p;
            b += q;
        }
        (a, b)
    };
    if x.len() < parallel::GRAIN || parallel::num_threads() == 1 || c == 1 {
        (0..c).map(one).collect()
    } else {
        parallel::map_tasks(c, one)
    }
}

/// `y = (x - center[c]) * scale[c] + shift[c]` for `x` shaped `(n, c, s)`.
pub fn channel_affine<T: Float>(
    x: &[T],
    c: usize,
    s: usize,
    center: &[T],
    scale: &[T],
    shift: &[T],
) -> Vec<T> {
    let mut y = crate::tensor::pool::uninit_vec::<T>(x.len());
    if s == 0 {
        return y;
    }
    for_planes(&mut y, s, x.len(), |p, yp| {
        let ch = p % c;
        axpk(yp, &x[p * s..(p + 1) * s], center[ch], scale[ch], shift[ch]);
    });
    y
}

/// `y = fma(x, alpha[c], beta[c])` for `x` shaped `(n, c, s)`: PyTorch's
/// dense batch-norm kernel, whose `x * alpha + beta` is contracted. Its
/// rounding decides the edge cases: an infinite `beta` (`b - mean * alpha`
/// past the range) makes the channel infinite, and where x is the mean the
/// result is the fma's residue, not `b`.
pub fn channel_fused_affine<T: Float>(
    x: &[T],
    c: usize,
    s: usize,
    alpha: &[T],
    beta: &[T],
) -> Vec<T> {
    let mut y = crate::tensor::pool::uninit_vec::<T>(x.len());
    if s == 0 || c == 0 {
        return y;
    }
    for_planes(&mut y, s, x.len(), |p, yp| {
        let ch = p % c;
        let xp = &x[p * s..(p + 1) * s];
        if let (Some(y), Some(x)) = (as_f32_mut(yp), as_f32(xp)) {
            fma_affine(y, x, f32_of(alpha[ch]), f32_of(beta[ch]));
        } else if let (Some(y), Some(x)) = (as_f64_mut(yp), as_f64(xp)) {
            fma_affine(y, x, alpha[ch].to_f64(), beta[ch].to_f64());
        } else {
            for (o, &v) in yp.iter_mut().zip(xp) {
                *o = v * alpha[ch] + beta[ch];
            }
        }
    });
    y
}

/// `(g * r[c]) * w[c]` wherever `y` is not finite, for `g` shaped `(n, c,
/// s)`: PyTorch's eval-mode batch-norm input gradient, `dy * invstd * w`,
/// finite where `invstd * w` alone overflows.
pub fn channel_scale2_where_nonfinite<T: Float>(
    y: &mut [T],
    g: &[T],
    c: usize,
    s: usize,
    r: &[T],
    w: &[T],
) {
    if s == 0 || c == 0 {
        return;
    }
    for (i, (o, &v)) in y.iter_mut().zip(g).enumerate() {
        if !o.to_f64().is_finite() {
            let ch = (i / s) % c;
            *o = v * r[ch] * w[ch];
        }
    }
}

/// `((x - mean[c]) * invstd[c]) * w[c] + b[c]` for `x` shaped `(n, c, s)`,
/// rounded at each step: PyTorch's generic (strided) batch-norm kernel. Its
/// order decides where a huge weight overflows (`invstd * w` may be inf
/// where this is finite) and what a cancellation against the bias leaves.
pub fn channel_affine_generic<T: Float>(
    x: &[T],
    c: usize,
    s: usize,
    mean: &[T],
    invstd: &[T],
    w: &[T],
    b: &[T],
) -> Vec<T> {
    if s == 0 || c == 0 {
        return x.to_vec();
    }
    x.iter()
        .enumerate()
        .map(|(i, &v)| {
            let ch = (i / s) % c;
            (v - mean[ch]) * invstd[ch] * w[ch] + b[ch]
        })
        .collect()
}

/// `gx = gy * a[c] + (x - m[c]) * k1[c] + k0[c]` for `(n, c, s)` tensors
/// (the shape of every normalization's input gradient); with `scale_last`,
/// `gx = (gy + (x - m[c]) * k1[c] + k0[c]) * a[c]` (`grad_in_scaled`).
#[allow(clippy::too_many_arguments)]
pub fn channel_grad_input<T: Float>(
    gy: &[T],
    x: &[T],
    c: usize,
    s: usize,
    m: &[T],
    a: &[T],
    k1: &[T],
    k0: &[T],
    scale_last: bool,
) -> Vec<T> {
    let mut gx = crate::tensor::pool::uninit_vec::<T>(x.len());
    if s == 0 {
        return gx;
    }
    for_planes(&mut gx, s, 2 * x.len(), |p, gp| {
        let ch = p % c;
        let seg = p * s..(p + 1) * s;
        let (g, xs) = (&gy[seg.clone()], &x[seg]);
        if scale_last {
            grad_in_scaled(gp, g, xs, a[ch], m[ch], k1[ch], k0[ch]);
        } else {
            grad_in(gp, g, xs, a[ch], m[ch], k1[ch], k0[ch]);
        }
    });
    gx
}

/// Per-channel constants of `grad_in_bn`, each a slice over the channels.
pub struct BnGradConsts<'a, T> {
    pub mean: &'a [T],
    pub k: &'a [T],
    pub grad_mean: &'a [T],
    pub rstd: &'a [T],
    pub w: &'a [T],
}

/// PyTorch's batch_norm (training) input gradient for `(n, c, s)` tensors:
/// `gx = ((gy - grad_mean) - (x - mean) * k) * rstd * w` per channel.
pub fn channel_grad_input_bn<T: Float>(
    gy: &[T],
    x: &[T],
    c: usize,
    s: usize,
    k: &BnGradConsts<T>,
) -> Vec<T> {
    let mut gx = crate::tensor::pool::uninit_vec::<T>(x.len());
    if s == 0 {
        return gx;
    }
    for_planes(&mut gx, s, 2 * x.len(), |p, gp| {
        let ch = p % c;
        let seg = p * s..(p + 1) * s;
        grad_in_bn(
            gp,
            &gy[seg.clone()],
            &x[seg],
            k.mean[ch],
            k.k[ch],
            k.grad_mean[ch],
            k.rstd[ch],
            k.w[ch],
        );
    });
    gx
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive_stat(v: &[f64]) -> Stat {
        let m = v.iter().sum::<f64>() / v.len() as f64;
        Stat {
            mean: m,
            var: v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / v.len() as f64,
        }
    }

    #[test]
    fn shifted_stats_are_accurate_with_large_mean() {
        let v: Vec<f32> = (0..5000)
            .map(|i| 1000.0 + ((i * 37) % 101) as f32 * 0.01)
            .collect();
        let mut acc = Acc::new(v[0]);
        acc.add(&v);
        let got = acc.stat();
        let want = naive_stat(&v.iter().map(|&x| x as f64).collect::<Vec<_>>());
        assert!((got.mean - want.mean).abs() < 1e-3);
        assert!(
            (got.var - want.var).abs() / want.var < 1e-3,
            "{got:?} {want:?}"
        );
    }

    #[test]
    fn rows_forward_normalizes_each_group() {
        // n=2, c=4, s=3, groups=2 -> rows of 6
        let x: Vec<f64> = (0..24).map(|i| ((i * 7) % 11) as f64).collect();
        let sh = RowShape {
            n: 2,
            c: 4,
            s: 3,
            groups: 2,
        };
        let w = [1.0, 2.0, 3.0, 4.0];
        let b = [0.5, 0.0, -0.5, 1.0];
        let (y, st) = rows_forward(&x, sh, Some(&w), Some(&b), 1e-5, true);
        for r in 0..4 {
            let want = naive_stat(&x[r * 6..r * 6 + 6]);
            assert!((st[r].mean - want.mean).abs() < 1e-12 && (st[r].var - want.var).abs() < 1e-12);
            for k in 0..6 {
                let ch = (r % 2) * 2 + k / 3;
                let e = (x[r * 6 + k] - want.mean) / (want.var + 1e-5).sqrt() * w[ch] + b[ch];
                assert!((y[r * 6 + k] - e).abs() < 1e-12);
            }
        }
    }

    /// Finite differences of L = sum(y * gy) for the rows norm, both code paths.
    #[test]
    fn rows_backward_matches_finite_differences() {
        for sh in [
            RowShape {
                n: 3,
                c: 5,
                s: 1,
                groups: 1,
            },
            RowShape {
                n: 2,
                c: 4,
                s: 3,
                groups: 2,
            },
        ] {
            let len = sh.n * sh.c * sh.s;
            let x: Vec<f64> = (0..len)
                .map(|i| ((i * 13) % 7) as f64 * 0.3 - 1.0)
                .collect();
            let gy: Vec<f64> = (0..len).map(|i| ((i * 5) % 9) as f64 * 0.1 - 0.4).collect();
            let w: Vec<f64> = (0..sh.c).map(|i| 0.5 + i as f64 * 0.25).collect();
            let b: Vec<f64> = (0..sh.c).map(|i| i as f64 * 0.1).collect();
            let loss = |x: &[f64], w: &[f64]| -> f64 {
                let (y, _) = rows_forward(x, sh, Some(w), Some(&b), 1e-5, sh.groups > 1);
                y.iter().zip(&gy).map(|(a, b)| a * b).sum()
            };
            let (_, st) = rows_forward(&x, sh, Some(&w), Some(&b), 1e-5, sh.groups > 1);
            let (gx, wb) = rows_backward(&gy, &x, &st, sh, Some(&w), 1e-5, true);
            let (gw, gb) = wb.unwrap();
            let h = 1e-6;
            for i in 0..len {
                let (mut p, mut m) = (x.clone(), x.clone());
                p[i] += h;
                m[i] -= h;
                let num = (loss(&p, &w) - loss(&m, &w)) / (2.0 * h);
                assert!(
                    (num - gx[i]).abs() < 1e-6,
                    "{sh:?} gx[{i}] {num} vs {}",
                    gx[i]
                );
            }
            for j in 0..sh.c {
                let (mut p, mut m) = (w.clone(), w.clone());
                p[j] += h;
                m[j] -= h;
                let num = (loss(&x, &p) - loss(&x, &m)) / (2.0 * h);
                assert!((num - gw[j]).abs() < 1e-6, "gw[{j}]");
            }
            let gb_want: Vec<f64> = (0..sh.c)
                .map(|ch| {
                    (0..len)
                        .filter(|&i| (i / sh.s) % sh.c == ch)
                        .map(|i| gy[i])
                        .sum()
                })
                .collect();
            for j in 0..sh.c {
                assert!((gb[j] - gb_want[j]).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn channel_stats_and_affine() {
        let (n, c, s) = (3, 2, 4);
        let x: Vec<f32> = (0..n * c * s).map(|i| (i % 5) as f32).collect();
        let st = channel_stats(&x, n, c, s);
        for ch in 0..c {
            let vals: Vec<f64> = (0..n)
                .flat_map(|i| {
                    x[(i * c + ch) * s..(i * c + ch + 1) * s]
                        .iter()
                        .map(|&v| v as f64)
                })
                .collect();
            let want = naive_stat(&vals);
            assert!((st[ch].mean - want.mean).abs() < 1e-6 && (st[ch].var - want.var).abs() < 1e-6);
        }
        let y = channel_affine(&x, c, s, &[0.0, 0.0], &[2.0, 3.0], &[1.0, 0.0]);
        assert_eq!(y[0], 1.0);
        assert_eq!(y[s + 1], 3.0 * x[s + 1]);
        let sums = channel_grad_sums(&x, &x, &vec![0.0; c], n, c, s);
        let sq: f64 = (0..n)
            .flat_map(|i| x[i * c * s..i * c * s + s].to_vec())
            .map(|v| (v * v) as f64)
            .sum();
        assert_eq!(sums[0].1, sq);
    }
}
