//! bfloat16 convolutions on the bf16 GEMM (`cpu::bgemm`): im2col straight
//! into bf16 columns (no float32 widening of the input), `vdpbf16ps` / AMX
//! products with float32 accumulation, results left in float32 for the op
//! to add nothing more and round once (PyTorch's oneDNN bf16 convolution
//! does the same). Forward, input gradient (float32 columns, col2im in
//! float32) and weight gradient (float32 sum over the batch). Used only
//! where `bgemm::path()` has bf16 hardware; elsewhere the op widens to
//! float32 as before.

use super::bgemm;
use super::conv::{col2im, for_batch_ranges, for_each_line, sum_over_batch_ranges, ConvGeom};
use super::conv_bf16_direct as direct;
use super::gemm::PARALLEL_MACS;
use crate::tensor::pool::{uninit_vec, zeroed_vec, Scratch};
use half::bf16;

/// Whether bf16 convolutions of this geometry run here: the CPU has a bf16
/// GEMM (otherwise widening once beats widening per GEMM call).
pub fn applies(_g: &ConvGeom) -> bool {
    bgemm::path() != bgemm::Path::F32
}

/// Whether the weight gradient runs here: small weights (first layers,
/// narrow layers) are faster as the float32 implicit-GEMM dot products on
/// widened operands, which read the input in place instead of columns.
pub fn weight_grad_applies(g: &ConvGeom) -> bool {
    let small = !pointwise(g)
        && !super::conv_depthwise::applies(g)
        && super::conv_implicit::applies(g)
        && super::conv_implicit::applies_weight_grad_dots(g);
    direct::weight_grad_applies(g) || (applies(g) && !small && !super::conv_winograd::applies(g))
}

/// Whether the input gradient runs here: its products have cg_in rows
/// (flipped kernel) or columns' rows; fewer than 16 input channels per
/// group (first layers, narrow conv1d) leave most of a 12-row micro-tile
/// idle, where the float32 implicit GEMM on widened operands is faster.
/// Winograd layers (3x3, >= 16 channels) widen too: there the float32
/// Winograd gradients' 2.25x fewer multiplies beat the bf16 GEMM's 2x rate
/// (measured slower on the Zen 4 here; a bf16 Winograd is the way on).
pub fn input_grad_applies(g: &ConvGeom) -> bool {
    flipped(g).is_some_and(|g2| direct::applies(&g2))
        || (applies(g) && g.cg_in() >= 16 && !super::conv_winograd::applies(g))
}

/// Output lines per column tile: about 128K bf16 columns (256 KiB), so
/// im2col's writes and the GEMM's packing reads stay in L2.
fn tile_lines(g: &ConvGeom) -> usize {
    const COL_TILE: usize = 1 << 17;
    let per_line = (g.col_rows() * g.output[2]).max(1);
    (COL_TILE / per_line).clamp(1, (g.output[0] * g.output[1]).max(1))
}

fn tiles(g: &ConvGeom) -> impl Iterator<Item = (usize, usize)> {
    let (lines, step) = (g.output[0] * g.output[1], tile_lines(g));
    (0..lines)
        .step_by(step)
        .map(move |l0| (l0, (l0 + step).min(lines)))
}

fn cols_len(g: &ConvGeom) -> usize {
    g.col_rows() * tile_lines(g) * g.output[2]
}

/// 1x1 kernel, stride 1, no padding: the input is the column matrix.
fn pointwise(g: &ConvGeom) -> bool {
    g.kvol() == 1 && g.stride == [1; 3] && g.pad == [0; 3] && g.input == g.output
}

/// Column tile of one sample's group (cg_in x in_plane) for output lines
/// `lines`, in bf16: cols[(c,a,b,e), (z,y,x)] = x[c, z*s+a*d-p, ...] or 0.
fn im2col(g: &ConvGeom, x: &[bf16], lines: (usize, usize), cols: &mut [bf16]) {
    let (ow, sw) = (g.output[2], g.stride[2]);
    let width = (lines.1 - lines.0) * ow;
    for_each_line(g, lines, |ln| {
        let out = &mut cols[ln.row * width + ln.col..][..ow];
        let Some(src) = ln.src else {
            out.fill(bf16::ZERO);
            return;
        };
        let (lo, hi) = (ln.lo, ln.hi);
        out[..lo].fill(bf16::ZERO);
        out[hi..].fill(bf16::ZERO);
        if hi == lo {
            // (a dilated tap past a short line: it would start before it)
        } else if sw == 1 {
            let s0 = (src as isize + lo as isize + ln.shift) as usize;
            out[lo..hi].copy_from_slice(&x[s0..s0 + hi - lo]);
        } else {
            for (xo, o) in (lo..hi).zip(&mut out[lo..hi]) {
                *o = x[(src as isize + (xo * sw) as isize + ln.shift) as usize];
            }
        }
    });
}

/// One product `C (+)= A @ B` with bounds checked against the slices.
/// Operands are (slice, offset, row stride, column stride).
#[allow(clippy::too_many_arguments)]
fn product(
    (m, n, k): (usize, usize, usize),
    a: (&[bf16], usize, isize, isize),
    b: (&[bf16], usize, isize, isize),
    c: (&mut [f32], usize, isize, isize),
    acc: bool,
    threads: usize,
) {
    if m == 0 || n == 0 {
        return;
    }
    let last = |off: usize, rs: isize, cs: isize, r: usize, cc: usize| {
        off as isize + (r as isize - 1) * rs + (cc as isize - 1) * cs
    };
    assert!(
        last(c.1, c.2, c.3, m, n) < c.0.len() as isize,
        "bf16 conv gemm: C view out of bounds"
    );
    assert!(
        k == 0
            || (last(a.1, a.2, a.3, m, k) < a.0.len() as isize
                && last(b.1, b.2, b.3, k, n) < b.0.len() as isize),
        "bf16 conv gemm: view out of bounds"
    );
    let threads = if m * n * k < PARALLEL_MACS {
        1
    } else {
        threads
    };
    // SAFETY: the asserts above keep every view inside its slice; C is a
    // separate mutable slice.
    unsafe {
        bgemm::bgemm(
            m,
            n,
            k,
            (a.0.as_ptr().add(a.1), a.2, a.3),
            (b.0.as_ptr().add(b.1), b.2, b.3),
            (c.0.as_mut_ptr().add(c.1), c.2, c.3),
            acc,
            threads,
        )
    }
}

/// Forward in float32: y (batch, c_out, out_plane) = conv(x, w) + bias.
/// x: (batch, c_in, in_plane), w: (c_out, cg_in, kvol), contiguous bf16.
pub fn forward(g: &ConvGeom, x: &[bf16], w: &[bf16], bias: Option<&[f32]>) -> Vec<f32> {
    if direct::applies(g) {
        return direct::forward(g, x, w, bias);
    }
    let (p, kk, cgo, cgi, ip, ow) = (
        g.out_plane(),
        g.col_rows(),
        g.cg_out(),
        g.cg_in(),
        g.in_plane(),
        g.output[2],
    );
    let in_sample = g.c_in * ip;
    let pw = pointwise(g);
    // every element is set: the bias (then accumulated into) or the GEMM
    let mut y = uninit_vec::<f32>(g.batch * g.c_out * p);
    for_batch_ranges(g, &mut y, g.c_out * p, |n0, ys, threads| {
        let mut cols = Scratch::<bf16>::uninit(if pw { 0 } else { cols_len(g) });
        for (i, yn) in ys.chunks_mut(g.c_out * p).enumerate() {
            let xn = &x[(n0 + i) * in_sample..][..in_sample];
            for grp in 0..g.groups {
                let xg = &xn[grp * cgi * ip..][..cgi * ip];
                let yg = &mut yn[grp * cgo * p..][..cgo * p];
                if let Some(b) = bias {
                    for (co, row) in yg.chunks_mut(p).enumerate() {
                        row.fill(b[grp * cgo + co]);
                    }
                }
                let wa = (w, grp * cgo * kk, kk as isize, 1);
                if pw {
                    let c = (&mut yg[..], 0, p as isize, 1);
                    product(
                        (cgo, p, kk),
                        wa,
                        (xg, 0, p as isize, 1),
                        c,
                        bias.is_some(),
                        threads,
                    );
                    continue;
                }
                for lines in tiles(g) {
                    let width = (lines.1 - lines.0) * ow;
                    im2col(g, xg, lines, &mut cols);
                    let c = (&mut yg[..], lines.0 * ow, p as isize, 1);
                    product(
                        (cgo, width, kk),
                        wa,
                        (&cols, 0, width as isize, 1),
                        c,
                        bias.is_some(),
                        threads,
                    );
                }
            }
        }
    });
    y
}

/// The input gradient of a stride-1 convolution is a forward convolution
/// of gy with the flipped, channel-transposed kernel, padded by
/// d*(k-1) - p: one deep bf16 product per tile (depth c_out * kvol) instead of
/// W^T @ gy into float32 columns nine times gy's size and col2im.
fn flipped(g: &ConvGeom) -> Option<ConvGeom> {
    if g.stride != [1; 3] || pointwise(g) {
        return None;
    }
    let mut pad = [0; 3];
    for (i, p) in pad.iter_mut().enumerate() {
        let span = g.dilation[i] * (g.kernel[i] - 1);
        *p = span.checked_sub(g.pad[i])?;
    }
    Some(ConvGeom {
        batch: g.batch,
        c_in: g.c_out,
        c_out: g.c_in,
        groups: g.groups,
        input: g.output,
        output: g.input,
        kernel: g.kernel,
        stride: [1; 3],
        pad,
        dilation: g.dilation,
    })
}

/// w (c_out, cg_in, kvol) -> (c_in, cg_out, kvol) per group, taps reversed.
fn flip_weight(g: &ConvGeom, w: &[bf16]) -> Vec<bf16> {
    let (cgi, cgo, kv) = (g.cg_in(), g.cg_out(), g.kvol());
    let mut w2 = vec![bf16::ZERO; w.len()];
    for grp in 0..g.groups {
        for co in 0..cgo {
            for ci in 0..cgi {
                let src = &w[((grp * cgo + co) * cgi + ci) * kv..][..kv];
                let dst = &mut w2[((grp * cgi + ci) * cgo + co) * kv..][..kv];
                for (d, s) in dst.iter_mut().zip(src.iter().rev()) {
                    *d = *s;
                }
            }
        }
    }
    w2
}

/// The forward rounded to bf16 where the direct kernels run (`None`
/// elsewhere: `forward`, then the op rounds).
pub fn forward_bf16(
    g: &ConvGeom,
    x: &[bf16],
    w: &[bf16],
    bias: Option<&[f32]>,
) -> Option<Vec<bf16>> {
    direct::applies(g).then(|| direct::forward_bf16(g, x, w, bias))
}

/// The input gradient rounded to bf16 where it is a direct forward
/// (stride 1; `None` elsewhere).
pub fn backward_input_bf16(g: &ConvGeom, gy: &[bf16], w: &[bf16]) -> Option<Vec<bf16>> {
    let g2 = flipped(g).filter(direct::applies)?;
    Some(direct::forward_bf16(&g2, gy, &flip_weight(g, w), None))
}

/// Bias gradient in float32 from bf16 gy (batch, channels, plane): each
/// sample widened in a cache-sized scratch, not the whole gy.
pub fn backward_bias(gy: &[bf16], batch: usize, channels: usize, plane: usize) -> Vec<f32> {
    let per = channels * plane;
    let mut wide = Scratch::<f32>::uninit(per);
    let mut sums = vec![0f64; channels];
    for n in 0..batch {
        super::bf16_cast::widen(&gy[n * per..][..per], &mut wide);
        let part = super::conv::backward_bias(&wide, 1, channels, plane);
        for (s, v) in sums.iter_mut().zip(part) {
            *s += v as f64;
        }
    }
    sums.into_iter().map(|v| v as f32).collect()
}

/// Input gradient in float32: gx (batch, c_in, in_plane) from bf16 gy
/// (batch, c_out, out_plane) and w.
pub fn backward_input(g: &ConvGeom, gy: &[bf16], w: &[bf16]) -> Vec<f32> {
    if let Some(g2) = flipped(g) {
        return forward(&g2, gy, &flip_weight(g, w), None);
    }
    let (p, kk, cgo, cgi, ip, ow) = (
        g.out_plane(),
        g.col_rows(),
        g.cg_out(),
        g.cg_in(),
        g.in_plane(),
        g.output[2],
    );
    let out_sample = g.c_out * p;
    let pw = pointwise(g);
    // col2im accumulates; a pointwise GEMM writes every element
    let mut gx = if pw {
        uninit_vec::<f32>(g.batch * g.c_in * ip)
    } else {
        zeroed_vec::<f32>(g.batch * g.c_in * ip)
    };
    for_batch_ranges(g, &mut gx, g.c_in * ip, |n0, gxs, threads| {
        let mut cols = Scratch::<f32>::uninit(if pw { 0 } else { cols_len(g) });
        for (i, gxn) in gxs.chunks_mut(g.c_in * ip).enumerate() {
            let gyn = &gy[(n0 + i) * out_sample..][..out_sample];
            for grp in 0..g.groups {
                let gxg = &mut gxn[grp * cgi * ip..][..cgi * ip];
                // W_g^T: (kk x cgo), element (r, co) at w[(grp*cgo + co)*kk + r]
                let wt = (w, grp * cgo * kk, 1, kk as isize);
                if pw {
                    let b = (gyn, grp * cgo * p, p as isize, 1);
                    product(
                        (kk, p, cgo),
                        wt,
                        b,
                        (&mut gxg[..], 0, p as isize, 1),
                        false,
                        threads,
                    );
                    continue;
                }
                for lines in tiles(g) {
                    let width = (lines.1 - lines.0) * ow;
                    let b = (gyn, grp * cgo * p + lines.0 * ow, p as isize, 1);
                    let c = (&mut cols[..], 0, width as isize, 1);
                    product((kk, width, cgo), wt, b, c, false, threads);
                    col2im(g, &cols, lines, gxg);
                }
            }
        }
    });
    gx
}

/// Weight gradient in float32: gw (c_out, cg_in, kvol) = sum over samples
/// of gy_n @ columns(x_n)^T per group, one buffer per batch range, added.
pub fn backward_weight(g: &ConvGeom, x: &[bf16], gy: &[bf16]) -> Vec<f32> {
    if direct::weight_grad_applies(g) {
        return direct::backward_weight(g, x, gy);
    }
    let (p, kk, cgo, cgi, ip, ow) = (
        g.out_plane(),
        g.col_rows(),
        g.cg_out(),
        g.cg_in(),
        g.in_plane(),
        g.output[2],
    );
    let (in_sample, out_sample) = (g.c_in * ip, g.c_out * p);
    let pw = pointwise(g);
    let partial = |range: std::ops::Range<usize>, threads: usize| {
        let mut gw = vec![0.0f32; g.c_out * kk];
        let mut cols = Scratch::<bf16>::uninit(if pw { 0 } else { cols_len(g) });
        for n in range {
            for grp in 0..g.groups {
                let xg = &x[n * in_sample + grp * cgi * ip..][..cgi * ip];
                let gwc = (&mut gw[..], grp * cgo * kk, kk as isize, 1);
                if pw {
                    // x_g^T: (p x kk), element (j, r) at xg[r*p + j]
                    let a = (gy, n * out_sample + grp * cgo * p, p as isize, 1);
                    product((cgo, kk, p), a, (xg, 0, 1, p as isize), gwc, true, threads);
                    continue;
                }
                for lines in tiles(g) {
                    let width = (lines.1 - lines.0) * ow;
                    im2col(g, xg, lines, &mut cols);
                    let a = (
                        gy,
                        n * out_sample + grp * cgo * p + lines.0 * ow,
                        p as isize,
                        1,
                    );
                    let gwc = (&mut gw[..], grp * cgo * kk, kk as isize, 1);
                    product(
                        (cgo, kk, width),
                        a,
                        (&cols, 0, 1, width as isize),
                        gwc,
                        true,
                        threads,
                    );
                }
            }
        }
        gw
    };
    sum_over_batch_ranges(g, partial)
}
