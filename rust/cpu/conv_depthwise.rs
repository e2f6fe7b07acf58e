//! Direct kernels for groups with one input channel (depthwise convolutions,
//! optionally with a channel multiplier). There, im2col + GEMM degenerates to
//! GEMMs with k = kernel volume and m = 1..4, dominated by call overhead; a
//! shifted multiply-add per kernel offset and output line is much faster.
//! The loops walk the same index map as im2col (`conv::for_each_line`).

use super::conv::{for_each_line, ConvGeom};
use crate::tensor::dtype::Float;

/// Whether the direct kernels handle this geometry.
pub fn applies(g: &ConvGeom) -> bool {
    g.cg_in() == 1 && g.cg_out() <= 4
}

/// Call `f(out_line_start, input_line, weight_index, lo, hi, shift)` for each
/// kernel offset and output line of an in-range input line.
fn for_each_tap(g: &ConvGeom, mut f: impl FnMut(usize, usize, usize, usize, usize, isize)) {
    for_each_line(g, (0, g.output[0] * g.output[1]), |ln| {
        // A tap that reaches no output position of the line (a dilated
        // kernel wider than a 1-wide input) would start before the line.
        if let (Some(src), true) = (ln.src, ln.lo < ln.hi) {
            f(ln.col, src, ln.row, ln.lo, ln.hi, ln.shift);
        }
    });
}

/// y (cg_out x out_plane) += conv of one group: x (1 x in_plane), w (cg_out x kvol).
pub fn forward_group<T: Float>(g: &ConvGeom, x: &[T], w: &[T], y: &mut [T]) {
    let (p, kv, sw) = (g.out_plane(), g.kvol(), g.stride[2]);
    for co in 0..g.cg_out() {
        let (yc, wc) = (&mut y[co * p..][..p], &w[co * kv..][..kv]);
        for_each_tap(g, |dst, src, r, lo, hi, shift| {
            let (wv, out) = (wc[r], &mut yc[dst..]);
            let s0 = (src as isize + (lo * sw) as isize + shift) as usize;
            if sw == 1 {
                for (o, &v) in out[lo..hi].iter_mut().zip(&x[s0..s0 + hi - lo]) {
                    *o += wv * v;
                }
            } else {
                for (j, o) in out[lo..hi].iter_mut().enumerate() {
                    *o += wv * x[s0 + j * sw];
                }
            }
        });
    }
}

/// gx (1 x in_plane) += input gradient of one group from gy (cg_out x out_plane).
pub fn backward_input_group<T: Float>(g: &ConvGeom, gy: &[T], w: &[T], gx: &mut [T]) {
    let (p, kv, sw) = (g.out_plane(), g.kvol(), g.stride[2]);
    for co in 0..g.cg_out() {
        let (gc, wc) = (&gy[co * p..][..p], &w[co * kv..][..kv]);
        for_each_tap(g, |dst, src, r, lo, hi, shift| {
            let (wv, gl) = (wc[r], &gc[dst..]);
            let s0 = (src as isize + (lo * sw) as isize + shift) as usize;
            if sw == 1 {
                for (o, &v) in gx[s0..s0 + hi - lo].iter_mut().zip(&gl[lo..hi]) {
                    *o += wv * v;
                }
            } else {
                for (j, &v) in gl[lo..hi].iter().enumerate() {
                    gx[s0 + j * sw] += wv * v;
                }
            }
        });
    }
}

/// gw (cg_out x kvol) += weight gradient of one group from x and gy.
pub fn backward_weight_group<T: Float>(g: &ConvGeom, x: &[T], gy: &[T], gw: &mut [T]) {
    let (p, kv, sw) = (g.out_plane(), g.kvol(), g.stride[2]);
    for co in 0..g.cg_out() {
        let (gc, wc) = (&gy[co * p..][..p], &mut gw[co * kv..][..kv]);
        for_each_tap(g, |dst, src, r, lo, hi, shift| {
            let gl = &gc[dst..];
            let s0 = (src as isize + (lo * sw) as isize + shift) as usize;
            let mut acc = T::zero();
            if sw == 1 {
                for (&a, &b) in gl[lo..hi].iter().zip(&x[s0..s0 + hi - lo]) {
                    acc += a * b;
                }
            } else {
                for (j, &a) in gl[lo..hi].iter().enumerate() {
                    acc += a * x[s0 + j * sw];
                }
            }
            wc[r] += acc;
        });
    }
}
