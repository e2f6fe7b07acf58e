//! `relu(max_pool2d(conv2d(x, w, b), 2))` as one differentiable op, for
//! `rustdl.compile`'s graphs (`_dynamo/passes.py` picks it): a CNN block
//! (LeNet's) with one autograd node instead of three. Few-channel layers
//! run direct kernels (eager's values within float32 rounding, another
//! summation order): forward and weight/bias gradients with the output
//! channels in the vector lanes (`cpu::conv_forward_direct`,
//! `cpu::conv_weight_grad_direct`), the input gradient skipping the padded
//! gradient's zeros (`cpu::conv_input_grad_direct`); other layers run the
//! kernels of `conv::conv_nd` (its bits). What the fusion removes is the
//! work between them (`cpu::pool2x2_relu`): the pooling indices are one
//! byte per window instead of eight, the rectifier needs no pass of its
//! own forward or backward, and the full-resolution gradient is written
//! once (no zeroing, no scatter). The full-resolution activation goes back
//! to the buffer cache as soon as it is pooled.
//!
//! Anything the fused path does not cover (other dtypes or devices,
//! unbatched or meta inputs, windows that do not fit) runs the three ops
//! themselves, so the op is always what the composition gives.

use std::sync::Arc;

use super::binary::{compare, where_, CmpOp};
use super::conv::conv_nd;
use super::conv_grad::{self, Map, Shapes};
use super::creation::scalar_like;
use super::pool::{max_pool, max_unpool, PoolParams};
use super::unary::relu;
use crate::autograd::{is_grad_enabled, record, GradModeGuard, SavedTensor};
use crate::cpu::conv::{self as kernels, ConvGeom};
use crate::cpu::pool2x2_relu;
use crate::cpu::{
    conv_forward_direct as forward_direct, conv_input_grad_direct as direct,
    conv_weight_grad_direct as weight_direct, conv_winograd,
};
use crate::error::Result;
use crate::tensor::pool::{uninit_vec, Scratch};
use crate::tensor::{DType, Tensor};

/// Input-gradient channel pairs (per group) up to which the direct kernel
/// (`cpu::conv_input_grad_direct`) replaces the eager one.
const DIRECT_MAX_CHANNEL_PAIRS: usize = 256;

/// The three ops one after the other (what the fused path must equal).
fn unfused(
    x: &Tensor,
    w: &Tensor,
    b: Option<&Tensor>,
    conv: (&[i64], &[i64], &[i64], i64),
) -> Result<Tensor> {
    let (stride, padding, dilation, groups) = conv;
    let y = conv_nd(x, w, b, stride, padding, dilation, groups)?;
    let window = PoolParams {
        kernel: vec![2, 2],
        stride: vec![2, 2],
        padding: vec![0, 0],
        dilation: vec![1, 1],
        ceil_mode: false,
    };
    let (pooled, _) = max_pool(&y, 2, &window, false)?;
    relu(&pooled)
}

fn host_f32(t: &Tensor) -> bool {
    t.dtype() == DType::F32 && !t.is_gpu() && !t.is_meta()
}

/// A 2-d parameter as the convolution reads it (one value for both dims,
/// or one per dim; anything else was rejected by `conv_nd` already).
fn pair(v: &[i64]) -> [usize; 2] {
    match v {
        [a] => [*a as usize; 2],
        [a, b, ..] => [*a as usize, *b as usize],
        [] => [1; 2],
    }
}

/// `F.relu(F.max_pool2d(F.conv2d(x, w, b, stride, padding, dilation,
/// groups), 2))` for batched 2-d input; padding is numeric (a string
/// padding is resolved by the caller).
pub fn conv2d_relu_max_pool2d(
    x: &Tensor,
    w: &Tensor,
    b: Option<&Tensor>,
    stride: &[i64],
    padding: &[i64],
    dilation: &[i64],
    groups: i64,
) -> Result<Tensor> {
    let conv = (stride, padding, dilation, groups);
    let fits =
        host_f32(x) && host_f32(w) && b.is_none_or(host_f32) && x.ndim() == 4 && w.ndim() == 4;
    if !fits {
        return unfused(x, w, b, conv);
    }
    // The convolution itself: few-channel layers by the direct kernel (eager's
    // values within float32 rounding), others validated and computed by the
    // eager op (its autograd node is not recorded: this op records its own).
    let geometry = direct_forward_geometry(x, w, b, stride, padding, dilation, groups);
    let (direct_y, eager_y) = match &geometry {
        Some(g) => {
            let mut y = Scratch::<f32>::uninit(g.batch * g.c_out * g.out_plane());
            let bias = b.map(|b| b.data::<f32>());
            forward_direct::forward(
                g,
                &x.data::<f32>(),
                &w.data::<f32>(),
                bias.as_deref(),
                &mut y,
            );
            (Some(y), None)
        }
        None => {
            let _no_grad = GradModeGuard::new(false);
            (
                None,
                Some(conv_nd(x, w, b, stride, padding, dilation, groups)?),
            )
        }
    };
    let ys = match (&geometry, &eager_y) {
        (Some(g), _) => vec![g.batch, g.c_out, g.output[1], g.output[2]],
        (None, Some(y)) if y.ndim() == 4 && host_f32(y) => y.shape().to_vec(),
        _ => return unfused(x, w, b, conv),
    };
    let (h, wd) = (ys[2], ys[3]);
    if h < 2 || wd < 2 {
        return unfused(x, w, b, conv);
    }
    let out_shape = [ys[0], ys[1], h / 2, wd / 2];
    let n_out: usize = out_shape.iter().product();
    let mut out = uninit_vec::<f32>(n_out);
    let mut arg = vec![0u8; n_out];
    {
        let eager_data = eager_y.as_ref().map(|y| y.data::<f32>());
        let yv: &[f32] = match (&direct_y, &eager_data) {
            (Some(y), _) => y,
            (None, Some(y)) => y,
            (None, None) => unreachable!("one of the two convolutions ran"),
        };
        pool2x2_relu::forward(yv, h, wd, &mut out, &mut arg);
    }
    drop((direct_y, eager_y));
    let out = Tensor::from_vec(out, &out_shape);

    let (xs, ws) = (x.shape().to_vec(), w.shape().to_vec());
    let ([sh, sw], [ph, pw], [dh, dw]) = (pair(stride), pair(padding), pair(dilation));
    let geom = ConvGeom {
        batch: xs[0],
        c_in: xs[1],
        c_out: ws[0],
        groups: groups as usize,
        input: [1, xs[2], xs[3]],
        output: [1, h, wd],
        kernel: [1, ws[2], ws[3]],
        stride: [1, sh, sw],
        pad: [0, ph, pw],
        dilation: [1, dh, dw],
    };
    let shapes = Arc::new(Shapes {
        geom,
        x: xs,
        w: ws,
        y: ys,
    });
    let need = [
        x.requires_grad(),
        w.requires_grad(),
        b.is_some_and(|b| b.requires_grad()),
    ];
    let (sx, sw, so) = (
        SavedTensor::new(x),
        SavedTensor::new(w),
        SavedTensor::output(&out),
    );
    let arg = Arc::new(arg);
    let mut inputs = vec![x, w];
    inputs.extend(b);
    let n_in = inputs.len();
    record(
        "ConvReluMaxPool2DBackward0",
        &inputs,
        &[&out],
        move |grads| {
            let Some(gy) = &grads[0] else {
                return Ok(vec![None; n_in]);
            };
            let (x, w, out) = (sx.get()?, sw.get()?, so.get()?);
            let gfull = if is_grad_enabled() {
                differentiable_full_grad(gy, out, &arg, &shapes.y)?
            } else if gy.dtype() == DType::F32 && !gy.is_gpu() {
                let mut g = uninit_vec::<f32>(shapes.y.iter().product());
                let (h, wd) = (shapes.y[2], shapes.y[3]);
                pool2x2_relu::backward(&gy.data::<f32>(), &out.data::<f32>(), &arg, h, wd, &mut g);
                Tensor::from_vec(g, &shapes.y)
            } else {
                differentiable_full_grad(gy, out, &arg, &shapes.y)?
            };
            if is_grad_enabled() || gfull.dtype() != DType::F32 {
                // create_graph: the convolution's recorded gradient maps, as conv_nd's backward
                let gx = need[0].then(|| conv_grad::apply(Map::InputGrad, &shapes, &gfull, w));
                let gw = need[1].then(|| conv_grad::apply(Map::WeightGrad, &shapes, x, &gfull));
                let gb = need[2].then(|| conv_grad::bias_grad(&gfull));
                return [gx, gw, gb]
                    .into_iter()
                    .take(n_in)
                    .map(Option::transpose)
                    .collect();
            }
            let g = &shapes.geom;
            let gv = gfull.data::<f32>();
            let gx = need[0].then(|| {
                let w = w.data::<f32>();
                // compiled graphs promise eager's values within rounding: the
                // direct kernel skips the padded gradient's zero rows. Only for
                // few channels (LeNet's), where the eager GEMM tiles idle;
                // wider layers and Winograd ones keep the eager kernels.
                let few = g.cg_in() * g.cg_out() <= DIRECT_MAX_CHANNEL_PAIRS;
                let gx = if few && direct::applies(g) && !conv_winograd::applies(g) {
                    direct::backward_input(g, &gv, &w)
                } else {
                    kernels::backward_input(g, &gv, &w)
                };
                Tensor::from_vec(gx, &shapes.x)
            });
            // The weight and bias gradients of few-channel layers from one
            // pass with output channels in the vector lanes (within float32
            // rounding of eager); a non-finite result is recomputed by the
            // eager kernels, which place NaN and infinities as PyTorch does.
            let few = g.cg_in() * g.cg_out() <= DIRECT_MAX_CHANNEL_PAIRS;
            let direct_wb = (need[1] && few && weight_direct::applies(g))
                .then(|| weight_direct::backward_weight_bias(g, &x.data::<f32>(), &gv))
                .filter(|(gw, gb)| gw.iter().chain(gb).all(|v| v.is_finite()));
            let (gw, gb) = match direct_wb {
                Some((gw, gb)) => (Some(gw), need[2].then_some(gb)),
                None => (
                    need[1].then(|| kernels::backward_weight(g, &x.data::<f32>(), &gv)),
                    need[2].then(|| kernels::backward_bias(&gv, g.batch, g.c_out, g.out_plane())),
                ),
            };
            let gw = gw.map(|gw| Tensor::from_vec(gw, &shapes.w));
            let gb = gb.map(|gb| Tensor::from_vec(gb, &[g.c_out]));
            Ok([gx, gw, gb].into_iter().take(n_in).collect())
        },
    );
    Ok(out)
}

/// The geometry of `conv2d(x, w, b, ...)` when the direct forward kernel
/// computes it: shapes and parameters `conv_nd` accepts (its checks and
/// errors stay its own), few channels, unit column stride and dilation.
fn direct_forward_geometry(
    x: &Tensor,
    w: &Tensor,
    b: Option<&Tensor>,
    stride: &[i64],
    padding: &[i64],
    dilation: &[i64],
    groups: i64,
) -> Option<ConvGeom> {
    let two = |v: &[i64]| matches!(v.len(), 1 | 2);
    if !(two(stride) && two(padding) && two(dilation)) || groups < 1 {
        return None;
    }
    // (sizes far beyond any layer go to conv_nd, whose checks own them: no
    // overflow in the geometry below)
    let params = || stride.iter().chain(dilation).chain(padding);
    if stride.iter().chain(dilation).any(|&v| v < 1)
        || padding.iter().any(|&v| v < 0)
        || params().any(|&v| v > 1 << 20)
    {
        return None;
    }
    let (xs, ws) = (x.shape(), w.shape());
    let (groups, [n, c, h, wd], [co, cig, kh, kw]) = (
        groups as usize,
        <[usize; 4]>::try_from(xs).ok()?,
        <[usize; 4]>::try_from(ws).ok()?,
    );
    if n == 0 || c == 0 || co == 0 || kh == 0 || kw == 0 || !c.is_multiple_of(groups) {
        return None;
    }
    if [h, wd, kh, kw].iter().any(|&v| v > 1 << 20) {
        return None;
    }
    if !co.is_multiple_of(groups) || cig != c / groups || b.is_some_and(|b| b.shape() != [co]) {
        return None;
    }
    let ([sh, sw], [ph, pw], [dh, dw]) = (pair(stride), pair(padding), pair(dilation));
    let (reach_h, reach_w) = ((kh - 1) * dh + 1, (kw - 1) * dw + 1);
    if reach_h > h + 2 * ph || reach_w > wd + 2 * pw {
        return None;
    }
    let g = ConvGeom {
        batch: n,
        c_in: c,
        c_out: co,
        groups,
        input: [1, h, wd],
        output: [
            1,
            (h + 2 * ph - reach_h) / sh + 1,
            (wd + 2 * pw - reach_w) / sw + 1,
        ],
        kernel: [1, kh, kw],
        stride: [1, sh, sw],
        pad: [0, ph, pw],
        dilation: [1, dh, dw],
    };
    (g.cg_in() * g.cg_out() <= DIRECT_MAX_CHANNEL_PAIRS && forward_direct::applies(&g)).then_some(g)
}

/// The full-resolution gradient from recorded ops (differentiable in `gy`,
/// for `create_graph`): the rectifier's gradient (`threshold_backward`),
/// then each value unpooled to its window's maximum.
fn differentiable_full_grad(
    gy: &Tensor,
    out: &Tensor,
    arg: &[u8],
    full: &[usize],
) -> Result<Tensor> {
    let off = compare(CmpOp::Le, out, &scalar_like(0.0, out))?;
    let gp = where_(&off, &scalar_like(0.0, gy), gy)?;
    let (oh, ow, w) = (full[2] / 2, full[3] / 2, full[3]);
    let idx: Vec<i64> = arg
        .iter()
        .enumerate()
        .map(|(i, &a)| {
            let (r, c) = ((i / ow) % oh, i % ow);
            let (dr, dc) = ((a / 2) as usize, (a % 2) as usize);
            ((2 * r + dr) * w + 2 * c + dc) as i64
        })
        .collect();
    let idx = Tensor::from_vec(idx, out.shape());
    max_unpool(&gp, &idx, 2, &full[2..])
}
