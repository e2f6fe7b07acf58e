//! Pointwise kernels of one recurrent time step (LSTM, GRU, Elman RNN), on
//! plain row-major slices of `rows` batch rows. The GEMMs around them (input
//! projection of the whole sequence, `h_{t-1} @ W_hh^T` per step, weight
//! gradients over all steps) are `cpu::gemm` calls made by `ops::rnn`.
//!
//! Layouts per batch row, with `hs` the hidden size:
//! - LSTM gates: `[i | f | g | o]` (4 hs), pre-activation in, activated out;
//! - GRU saved: `[r | z | n | hn]` (4 hs), `hn = W_hn h + b_hn`, as backward needs;
//! - GRU projections: `[r | z | n]` (3 hs), input and hidden separately.

use super::lanes::{copy_few, LANES};
use crate::tensor::dtype::Float;

#[inline(always)]
fn sigmoid<T: Float>(v: T) -> T {
    T::c(1.0) / (T::c(1.0) + (-v).fast_exp())
}

// The kernels walk each row in blocks of L lanes held in fixed-size arrays
// (`cpu::lanes`): the per-lane math then compiles to whole SIMD vectors,
// where plain loops over the seven row slices ran scalar (4x slower). L is
// 8 in the AVX2 copies and 16 (one 512-bit vector) in the AVX-512 ones
// (`multiversion!`'s `+ avx512 lanes`); the math per value is the same.

/// The `n` (<= L) values at `s[i..]`, zero-padded.
#[inline(always)]
fn ld<T: Float, const L: usize>(s: &[T], i: usize, n: usize) -> [T; L] {
    let mut b = [T::c(0.0); L];
    if n == L {
        b.copy_from_slice(&s[i..i + L]);
    } else {
        b[..n].copy_from_slice(&s[i..i + n]);
    }
    b
}

/// Store the first `n` (<= L) values of `b` at `s[i..]`.
#[inline(always)]
fn st<T: Float, const L: usize>(s: &mut [T], i: usize, b: &[T; L], n: usize) {
    if n == L {
        s[i..i + L].copy_from_slice(b);
    } else {
        // SAFETY: the slice bounds check covers the n values written.
        unsafe { copy_few(s[i..i + n].as_mut_ptr(), b.as_ptr(), n) };
    }
}

/// The blocks of a row of `hs` values: `(start, len)`, whole blocks of `L`
/// first (`len == L`, a constant in the block code: plain vector loads and
/// stores, where a variable length went through a branch and a memcpy into
/// a stack array), then blocks of at most `LANES` for the rest.
#[inline(always)]
fn blocks<const L: usize>(hs: usize) -> impl Iterator<Item = (usize, usize)> {
    let wide = hs / L * L;
    (0..wide).step_by(L).map(|j| (j, L)).chain(
        (wide..hs)
            .step_by(LANES)
            .map(move |j| (j, LANES.min(hs - j))),
    )
}

/// Runs `$block::<T, L>` on a whole block and `$block::<T, LANES>` on the rest.
macro_rules! each_block {
    ($hs:expr, $l:ident, |$j:ident, $n:ident| $block:ident($($arg:expr),*)) => {
        for ($j, $n) in blocks::<$l>($hs) {
            if $n == $l {
                $block::<T, $l>($($arg),*)
            } else {
                $block::<T, LANES>($($arg),*)
            }
        }
    };
}

/// LSTM step: one block of `n` values at column `j` of the row starting at
/// `gb` (gates) / `hb` (states).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn lstm_forward_block<T: Float, const L: usize>(
    (gates, bias, c_prev): (&mut [T], &[T], &[T]),
    (c, tanh_c, h): (&mut [T], &mut [T], &mut [T]),
    (gb, hb, hs): (usize, usize, usize),
    j: usize,
    n: usize,
) {
    let mut i = ld::<T, L>(gates, gb + j, n);
    let mut f = ld::<T, L>(gates, gb + hs + j, n);
    let mut g = ld::<T, L>(gates, gb + 2 * hs + j, n);
    let mut o = ld::<T, L>(gates, gb + 3 * hs + j, n);
    let (bi, bf) = (ld::<T, L>(bias, j, n), ld::<T, L>(bias, hs + j, n));
    let (bg, bo) = (
        ld::<T, L>(bias, 2 * hs + j, n),
        ld::<T, L>(bias, 3 * hs + j, n),
    );
    let mut cv = ld::<T, L>(c_prev, hb + j, n);
    let mut tc = cv;
    let mut hv = cv;
    for l in 0..L {
        i[l] = sigmoid(i[l] + bi[l]);
        f[l] = sigmoid(f[l] + bf[l]);
        g[l] = (g[l] + bg[l]).fast_tanh();
        o[l] = sigmoid(o[l] + bo[l]);
        cv[l] = f[l] * cv[l] + i[l] * g[l];
        tc[l] = cv[l].fast_tanh();
        hv[l] = o[l] * tc[l];
    }
    st(gates, gb + j, &i, n);
    st(gates, gb + hs + j, &f, n);
    st(gates, gb + 2 * hs + j, &g, n);
    st(gates, gb + 3 * hs + j, &o, n);
    st(c, hb + j, &cv, n);
    st(tanh_c, hb + j, &tc, n);
    st(h, hb + j, &hv, n);
}

#[inline(always)]
fn lstm_forward_impl<T: Float, const L: usize>(
    gates: &mut [T],
    bias: &[T],
    c_prev: &[T],
    c: &mut [T],
    tanh_c: &mut [T],
    h: &mut [T],
    hs: usize,
) {
    for r in 0..c.len() / hs.max(1) {
        let (gb, hb) = (r * 4 * hs, r * hs);
        each_block!(hs, L, |j, n| lstm_forward_block(
            (&mut *gates, bias, c_prev),
            (&mut *c, &mut *tanh_c, &mut *h),
            (gb, hb, hs),
            j,
            n
        ));
    }
}

crate::multiversion! {
    /// One LSTM step: activates `gates` in place (the sum of both
    /// projections in, `bias` (4 hs, both biases summed) added here rather
    /// than copied into every row of the projection), writes the cell `c`,
    /// `tanh(c)` and `h`.
    pub fn lstm_forward(gates: &mut [T], bias: &[T], c_prev: &[T], c: &mut [T], tanh_c: &mut [T], h: &mut [T], hs: usize) => lstm_forward_impl + avx512 lanes
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn lstm_backward_block<T: Float, const L: usize>(
    (gates, c_prev, tanh_c, dh): (&[T], &[T], &[T], &[T]),
    (dc, dgates): (&mut [T], &mut [T]),
    (gb, hb, hs): (usize, usize, usize),
    j: usize,
    n: usize,
) {
    let one = T::c(1.0);
    let i = ld::<T, L>(gates, gb + j, n);
    let f = ld::<T, L>(gates, gb + hs + j, n);
    let g = ld::<T, L>(gates, gb + 2 * hs + j, n);
    let o = ld::<T, L>(gates, gb + 3 * hs + j, n);
    let cp = ld::<T, L>(c_prev, hb + j, n);
    let t = ld::<T, L>(tanh_c, hb + j, n);
    let d = ld::<T, L>(dh, hb + j, n);
    let mut dcv = ld::<T, L>(dc, hb + j, n);
    let (mut di, mut df, mut dg, mut dout) = (i, f, g, o);
    for l in 0..L {
        let dcl = dcv[l] + d[l] * o[l] * (one - t[l] * t[l]);
        di[l] = dcl * g[l] * i[l] * (one - i[l]);
        df[l] = dcl * cp[l] * f[l] * (one - f[l]);
        dg[l] = dcl * i[l] * (one - g[l] * g[l]);
        dout[l] = d[l] * t[l] * o[l] * (one - o[l]);
        dcv[l] = dcl * f[l];
    }
    st(dgates, gb + j, &di, n);
    st(dgates, gb + hs + j, &df, n);
    st(dgates, gb + 2 * hs + j, &dg, n);
    st(dgates, gb + 3 * hs + j, &dout, n);
    st(dc, hb + j, &dcv, n);
}

#[inline(always)]
fn lstm_backward_impl<T: Float, const L: usize>(
    gates: &[T],
    c_prev: &[T],
    tanh_c: &[T],
    dh: &[T],
    dc: &mut [T],
    dgates: &mut [T],
    hs: usize,
) {
    for r in 0..dc.len() / hs.max(1) {
        let (gb, hb) = (r * 4 * hs, r * hs);
        each_block!(hs, L, |j, n| lstm_backward_block(
            (gates, c_prev, tanh_c, dh),
            (&mut *dc, &mut *dgates),
            (gb, hb, hs),
            j,
            n
        ));
    }
}

crate::multiversion! {
    /// Backward of one LSTM step: from `dh` and `dc` (the cell gradient from
    /// the step after, replaced by the one for `c_prev`) the pre-activation
    /// gate gradients `dgates`.
    pub fn lstm_backward(gates: &[T], c_prev: &[T], tanh_c: &[T], dh: &[T], dc: &mut [T], dgates: &mut [T], hs: usize) => lstm_backward_impl + avx512 lanes
}

#[inline(always)]
#[allow(clippy::type_complexity)]
fn gru_forward_block<T: Float, const L: usize>(
    (xp, b_ih, hp, b_hh, h_prev): (&[T], &[T], &[T], &[T], &[T]),
    (h, saved): (&mut [T], &mut [T]),
    (pb, sb, hb, hs): (usize, usize, usize, usize),
    j: usize,
    n: usize,
) {
    let (xr, xz, xn) = (
        ld::<T, L>(xp, pb + j, n),
        ld::<T, L>(xp, pb + hs + j, n),
        ld::<T, L>(xp, pb + 2 * hs + j, n),
    );
    let (pr, pz, pn) = (
        ld::<T, L>(hp, pb + j, n),
        ld::<T, L>(hp, pb + hs + j, n),
        ld::<T, L>(hp, pb + 2 * hs + j, n),
    );
    let (br, bz, bn) = (
        ld::<T, L>(b_hh, j, n),
        ld::<T, L>(b_hh, hs + j, n),
        ld::<T, L>(b_hh, 2 * hs + j, n),
    );
    let (ir, iz, inn) = (
        ld::<T, L>(b_ih, j, n),
        ld::<T, L>(b_ih, hs + j, n),
        ld::<T, L>(b_ih, 2 * hs + j, n),
    );
    let hpv = ld::<T, L>(h_prev, hb + j, n);
    let (mut rv, mut zv, mut nv, mut hn, mut hv) = (xr, xz, xn, pn, hpv);
    for l in 0..L {
        rv[l] = sigmoid((xr[l] + ir[l]) + (pr[l] + br[l]));
        zv[l] = sigmoid((xz[l] + iz[l]) + (pz[l] + bz[l]));
        hn[l] = pn[l] + bn[l];
        nv[l] = ((xn[l] + inn[l]) + rv[l] * hn[l]).fast_tanh();
        hv[l] = nv[l] + zv[l] * (hpv[l] - nv[l]);
    }
    st(saved, sb + j, &rv, n);
    st(saved, sb + hs + j, &zv, n);
    st(saved, sb + 2 * hs + j, &nv, n);
    st(saved, sb + 3 * hs + j, &hn, n);
    st(h, hb + j, &hv, n);
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn gru_forward_impl<T: Float, const L: usize>(
    xp: &[T],
    b_ih: &[T],
    hp: &[T],
    b_hh: &[T],
    h_prev: &[T],
    h: &mut [T],
    saved: &mut [T],
    hs: usize,
) {
    for r in 0..h.len() / hs.max(1) {
        let (pb, sb, hb) = (r * 3 * hs, r * 4 * hs, r * hs);
        each_block!(hs, L, |j, n| gru_forward_block(
            (xp, b_ih, hp, b_hh, h_prev),
            (&mut *h, &mut *saved),
            (pb, sb, hb, hs),
            j,
            n
        ));
    }
}

crate::multiversion! {
    /// One GRU step (PyTorch's formula, n = tanh(x_n + r * (W_hn h + b_hn))):
    /// `xp` is the input projection without its bias `b_ih`, `hp` is
    /// `h_prev @ W_hh^T` without its bias `b_hh`; writes `h` and what
    /// backward needs in `saved`.
    pub fn gru_forward(xp: &[T], b_ih: &[T], hp: &[T], b_hh: &[T], h_prev: &[T], h: &mut [T], saved: &mut [T], hs: usize) => gru_forward_impl + avx512 lanes
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn gru_backward_block<T: Float, const L: usize>(
    (saved, h_prev, dh): (&[T], &[T], &[T]),
    (dgx, dgh, dh_prev): (&mut [T], &mut [T], &mut [T]),
    (pb, sb, hb, hs): (usize, usize, usize, usize),
    j: usize,
    n: usize,
) {
    let one = T::c(1.0);
    let (rv, zv) = (
        ld::<T, L>(saved, sb + j, n),
        ld::<T, L>(saved, sb + hs + j, n),
    );
    let (nv, hn) = (
        ld::<T, L>(saved, sb + 2 * hs + j, n),
        ld::<T, L>(saved, sb + 3 * hs + j, n),
    );
    let (hpv, d) = (ld::<T, L>(h_prev, hb + j, n), ld::<T, L>(dh, hb + j, n));
    let (mut dar, mut daz, mut dan, mut dhn, mut dp) = (rv, zv, nv, hn, d);
    for l in 0..L {
        dan[l] = d[l] * (one - zv[l]) * (one - nv[l] * nv[l]);
        dar[l] = dan[l] * hn[l] * rv[l] * (one - rv[l]);
        daz[l] = d[l] * (hpv[l] - nv[l]) * zv[l] * (one - zv[l]);
        dhn[l] = dan[l] * rv[l];
        dp[l] = d[l] * zv[l];
    }
    st(dgx, pb + j, &dar, n);
    st(dgx, pb + hs + j, &daz, n);
    st(dgx, pb + 2 * hs + j, &dan, n);
    st(dgh, pb + j, &dar, n);
    st(dgh, pb + hs + j, &daz, n);
    st(dgh, pb + 2 * hs + j, &dhn, n);
    st(dh_prev, hb + j, &dp, n);
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn gru_backward_impl<T: Float, const L: usize>(
    saved: &[T],
    h_prev: &[T],
    dh: &[T],
    dgx: &mut [T],
    dgh: &mut [T],
    dh_prev: &mut [T],
    hs: usize,
) {
    for r in 0..dh.len() / hs.max(1) {
        let (pb, sb, hb) = (r * 3 * hs, r * 4 * hs, r * hs);
        each_block!(hs, L, |j, n| gru_backward_block(
            (saved, h_prev, dh),
            (&mut *dgx, &mut *dgh, &mut *dh_prev),
            (pb, sb, hb, hs),
            j,
            n
        ));
    }
}

crate::multiversion! {
    /// Backward of one GRU step: gradients of the input-side and hidden-side
    /// pre-activations (`dgx`, `dgh`; they differ in the n gate, where the
    /// hidden side is scaled by r) and the direct part of `dh_prev` (`dh * z`;
    /// `dgh @ W_hh` is added by the caller).
    pub fn gru_backward(saved: &[T], h_prev: &[T], dh: &[T], dgx: &mut [T], dgh: &mut [T], dh_prev: &mut [T], hs: usize) => gru_backward_impl + avx512 lanes
}

#[inline(always)]
fn rnn_forward_impl<T: Float>(h: &mut [T], relu: bool) {
    if relu {
        for v in h.iter_mut() {
            // (NaN stays NaN, as torch.relu)
            if *v < T::c(0.0) {
                *v = T::c(0.0);
            }
        }
    } else {
        for v in h.iter_mut() {
            *v = v.fast_tanh();
        }
    }
}

crate::multiversion! {
    /// One Elman RNN step in place: `h = tanh(a)` or `relu(a)`.
    pub fn rnn_forward(h: &mut [T], relu: bool) => rnn_forward_impl
}

#[inline(always)]
fn rnn_backward_impl<T: Float>(h: &[T], dh: &[T], da: &mut [T], relu: bool) {
    let (one, zero) = (T::c(1.0), T::c(0.0));
    let n = da.len();
    let (h, dh) = (&h[..n], &dh[..n]);
    if relu {
        for j in 0..n {
            da[j] = if h[j] > zero { dh[j] } else { zero };
        }
    } else {
        for j in 0..n {
            da[j] = dh[j] * (one - h[j] * h[j]);
        }
    }
}

crate::multiversion! {
    /// Backward of one Elman RNN step: `da = dh * act'(a)` from the output `h`.
    pub fn rnn_backward(h: &[T], dh: &[T], da: &mut [T], relu: bool) => rnn_backward_impl
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lstm_step_matches_formula() {
        let hs = 2;
        let pre = [0.1f64, -0.2, 0.3, 0.4, -0.5, 0.6, 0.7, -0.8];
        let mut gates = pre;
        let c_prev = [0.5, -1.0];
        let (mut c, mut t, mut h) = ([0.0; 2], [0.0; 2], [0.0; 2]);
        lstm_forward(&mut gates, &[0.0; 8], &c_prev, &mut c, &mut t, &mut h, hs);
        let s = |v: f64| 1.0 / (1.0 + (-v).exp());
        for j in 0..hs {
            let cv = s(pre[2 + j]) * c_prev[j] + s(pre[j]) * pre[4 + j].tanh();
            assert!((c[j] - cv).abs() < 1e-12);
            assert!((h[j] - s(pre[6 + j]) * cv.tanh()).abs() < 1e-12);
        }
    }
}
