//! Pointwise kernels of one recurrent time step (LSTM, GRU, Elman RNN), on
//! plain row-major slices of `rows` batch rows. The GEMMs around them (input
//! projection of the whole sequence, `h_{t-1} @ W_hh^T` per step, weight
//! gradients over all steps) are `cpu::gemm` calls made by `ops::rnn`.
//!
//! Layouts per batch row, with `hs` the hidden size:
//! - LSTM gates: `[i | f | g | o]` (4 hs), pre-activation in, activated out;
//! - GRU saved: `[r | z | n | hn]` (4 hs), `hn = W_hn h + b_hn`, as backward needs;
//! - GRU projections: `[r | z | n]` (3 hs), input and hidden separately.

use crate::tensor::dtype::Float;

#[inline(always)]
fn sigmoid<T: Float>(v: T) -> T {
    T::c(1.0) / (T::c(1.0) + (-v).fast_exp())
}

#[inline(always)]
fn lstm_forward_impl<T: Float>(
    gates: &mut [T],
    c_prev: &[T],
    c: &mut [T],
    tanh_c: &mut [T],
    h: &mut [T],
    hs: usize,
) {
    for r in 0..c.len() / hs.max(1) {
        let gr = &mut gates[r * 4 * hs..][..4 * hs];
        let (gi, rest) = gr.split_at_mut(hs);
        let (gf, rest) = rest.split_at_mut(hs);
        let (gg, go) = rest.split_at_mut(hs);
        let go = &mut go[..hs];
        let cp = &c_prev[r * hs..][..hs];
        let cr = &mut c[r * hs..][..hs];
        let tr = &mut tanh_c[r * hs..][..hs];
        let hr = &mut h[r * hs..][..hs];
        for j in 0..hs {
            let i = sigmoid(gi[j]);
            let f = sigmoid(gf[j]);
            let g = gg[j].fast_tanh();
            let o = sigmoid(go[j]);
            let cv = f * cp[j] + i * g;
            let tc = cv.fast_tanh();
            gi[j] = i;
            gf[j] = f;
            gg[j] = g;
            go[j] = o;
            cr[j] = cv;
            tr[j] = tc;
            hr[j] = o * tc;
        }
    }
}

crate::multiversion! {
    /// One LSTM step: activates `gates` in place (the sum of both
    /// projections and biases in), writes the cell `c`, `tanh(c)` and `h`.
    pub fn lstm_forward(gates: &mut [T], c_prev: &[T], c: &mut [T], tanh_c: &mut [T], h: &mut [T], hs: usize) => lstm_forward_impl
}

#[inline(always)]
fn lstm_backward_impl<T: Float>(
    gates: &[T],
    c_prev: &[T],
    tanh_c: &[T],
    dh: &[T],
    dc: &mut [T],
    dgates: &mut [T],
    hs: usize,
) {
    let one = T::c(1.0);
    for r in 0..dc.len() / hs.max(1) {
        let gr = &gates[r * 4 * hs..][..4 * hs];
        let (gi, gf, gg, go) = (&gr[..hs], &gr[hs..2 * hs], &gr[2 * hs..3 * hs], &gr[3 * hs..]);
        let dr = &mut dgates[r * 4 * hs..][..4 * hs];
        let (di, rest) = dr.split_at_mut(hs);
        let (df, rest) = rest.split_at_mut(hs);
        let (dg, dout) = rest.split_at_mut(hs);
        let dout = &mut dout[..hs];
        let cp = &c_prev[r * hs..][..hs];
        let tc = &tanh_c[r * hs..][..hs];
        let dhr = &dh[r * hs..][..hs];
        let dcr = &mut dc[r * hs..][..hs];
        let go = &go[..hs];
        for j in 0..hs {
            let (i, f, g, o, t) = (gi[j], gf[j], gg[j], go[j], tc[j]);
            let d = dhr[j];
            let dcv = dcr[j] + d * o * (one - t * t);
            di[j] = dcv * g * i * (one - i);
            df[j] = dcv * cp[j] * f * (one - f);
            dg[j] = dcv * i * (one - g * g);
            dout[j] = d * t * o * (one - o);
            dcr[j] = dcv * f;
        }
    }
}

crate::multiversion! {
    /// Backward of one LSTM step: from `dh` and `dc` (the cell gradient from
    /// the step after, replaced by the one for `c_prev`) the pre-activation
    /// gate gradients `dgates`.
    pub fn lstm_backward(gates: &[T], c_prev: &[T], tanh_c: &[T], dh: &[T], dc: &mut [T], dgates: &mut [T], hs: usize) => lstm_backward_impl
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn gru_forward_impl<T: Float>(
    xp: &[T],
    hp: &[T],
    b_hh: &[T],
    h_prev: &[T],
    h: &mut [T],
    saved: &mut [T],
    hs: usize,
) {
    let (br, bz, bn) = (&b_hh[..hs], &b_hh[hs..2 * hs], &b_hh[2 * hs..3 * hs]);
    for r in 0..h.len() / hs.max(1) {
        let x = &xp[r * 3 * hs..][..3 * hs];
        let p = &hp[r * 3 * hs..][..3 * hs];
        let (xr, xz, xn) = (&x[..hs], &x[hs..2 * hs], &x[2 * hs..]);
        let (pr, pz, pn) = (&p[..hs], &p[hs..2 * hs], &p[2 * hs..]);
        let s = &mut saved[r * 4 * hs..][..4 * hs];
        let (sr, rest) = s.split_at_mut(hs);
        let (sz, rest) = rest.split_at_mut(hs);
        let (sn, shn) = rest.split_at_mut(hs);
        let shn = &mut shn[..hs];
        let hp_ = &h_prev[r * hs..][..hs];
        let hr = &mut h[r * hs..][..hs];
        for j in 0..hs {
            let rv = sigmoid(xr[j] + pr[j] + br[j]);
            let zv = sigmoid(xz[j] + pz[j] + bz[j]);
            let hn = pn[j] + bn[j];
            let n = (xn[j] + rv * hn).fast_tanh();
            sr[j] = rv;
            sz[j] = zv;
            sn[j] = n;
            shn[j] = hn;
            hr[j] = n + zv * (hp_[j] - n);
        }
    }
}

crate::multiversion! {
    /// One GRU step (PyTorch's formula, n = tanh(x_n + r * (W_hn h + b_hn))):
    /// `xp` is the input projection with `b_ih`, `hp` is `h_prev @ W_hh^T`
    /// without its bias `b_hh`; writes `h` and what backward needs in `saved`.
    pub fn gru_forward(xp: &[T], hp: &[T], b_hh: &[T], h_prev: &[T], h: &mut [T], saved: &mut [T], hs: usize) => gru_forward_impl
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn gru_backward_impl<T: Float>(
    saved: &[T],
    h_prev: &[T],
    dh: &[T],
    dgx: &mut [T],
    dgh: &mut [T],
    dh_prev: &mut [T],
    hs: usize,
) {
    let one = T::c(1.0);
    for r in 0..dh.len() / hs.max(1) {
        let s = &saved[r * 4 * hs..][..4 * hs];
        let (sr, sz, sn, shn) = (&s[..hs], &s[hs..2 * hs], &s[2 * hs..3 * hs], &s[3 * hs..]);
        let gx = &mut dgx[r * 3 * hs..][..3 * hs];
        let (gxr, rest) = gx.split_at_mut(hs);
        let (gxz, gxn) = rest.split_at_mut(hs);
        let gxn = &mut gxn[..hs];
        let gh = &mut dgh[r * 3 * hs..][..3 * hs];
        let (ghr, rest) = gh.split_at_mut(hs);
        let (ghz, ghn) = rest.split_at_mut(hs);
        let ghn = &mut ghn[..hs];
        let hp_ = &h_prev[r * hs..][..hs];
        let dhr = &dh[r * hs..][..hs];
        let dpr = &mut dh_prev[r * hs..][..hs];
        let shn = &shn[..hs];
        for j in 0..hs {
            let (rv, zv, n, hn) = (sr[j], sz[j], sn[j], shn[j]);
            let d = dhr[j];
            let dan = d * (one - zv) * (one - n * n);
            let dar = dan * hn * rv * (one - rv);
            let daz = d * (hp_[j] - n) * zv * (one - zv);
            gxr[j] = dar;
            gxz[j] = daz;
            gxn[j] = dan;
            ghr[j] = dar;
            ghz[j] = daz;
            ghn[j] = dan * rv;
            dpr[j] = d * zv;
        }
    }
}

crate::multiversion! {
    /// Backward of one GRU step: gradients of the input-side and hidden-side
    /// pre-activations (`dgx`, `dgh`; they differ in the n gate, where the
    /// hidden side is scaled by r) and the direct part of `dh_prev` (`dh * z`;
    /// `dgh @ W_hh` is added by the caller).
    pub fn gru_backward(saved: &[T], h_prev: &[T], dh: &[T], dgx: &mut [T], dgh: &mut [T], dh_prev: &mut [T], hs: usize) => gru_backward_impl
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
        lstm_forward(&mut gates, &c_prev, &mut c, &mut t, &mut h, hs);
        let s = |v: f64| 1.0 / (1.0 + (-v).exp());
        for j in 0..hs {
            let cv = s(pre[2 + j]) * c_prev[j] + s(pre[j]) * pre[4 + j].tanh();
            assert!((c[j] - cv).abs() < 1e-12);
            assert!((h[j] - s(pre[6 + j]) * cv.tanh()).abs() < 1e-12);
        }
    }
}
