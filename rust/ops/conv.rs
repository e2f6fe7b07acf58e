//! Convolutions (1-d/2-d/3-d, grouped, strided, dilated, zero-padded) and
//! transposed convolutions, with their gradients.
//!
//! Shape checks and error messages follow PyTorch. The kernels live in
//! `cpu::conv`; both ops describe themselves as a `ConvGeom` (a transposed
//! convolution is the input-gradient of the convolution with swapped roles)
//! and differentiate through the same three kernels. A first-order backward
//! runs them fused in one node; under `create_graph` each gradient is one of
//! the recorded bilinear maps of `conv_grad`, so convolutions differentiate
//! to every order.

use std::sync::Arc;

use super::conv_grad::{self, Map, Shapes};
use super::shape::{squeeze, unsqueeze};
use crate::autograd::{record, SavedTensor};
use crate::cpu::conv::{self as kernels, ConvGeom};
use crate::cpu::conv_bf16 as bconv;
use crate::error::{Error, Result};
use crate::tensor::storage::BufferElem;
use crate::tensor::{dtype::Float, half, DType, Tensor};
use ::half::bf16;

/// Per-dim hyper-parameters given as one value or one per spatial dim.
fn expand(name: &str, v: &[i64], nd: usize) -> Result<Vec<i64>> {
    match v.len() {
        1 => Ok(vec![v[0]; nd]),
        n if n == nd => Ok(v.to_vec()),
        _ => Err(Error::Runtime(format!(
            "expected {name} to be a single integer value or a list of {nd} values to match the convolution dimensions, but got {name}={v:?}"
        ))),
    }
}

/// `[a, b]` as PyTorch prints spatial sizes in messages: `(a x b)`.
fn paren(v: &[usize]) -> String {
    format!(
        "({})",
        v.iter()
            .map(|x| x.to_string())
            .collect::<Vec<_>>()
            .join(" x ")
    )
}

/// Validated hyper-parameters, spatial arrays padded to 3 dims at the front.
struct Params {
    nd: usize,
    stride: [usize; 3],
    pad: [usize; 3],
    dilation: [usize; 3],
    groups: usize,
}

fn to3(v: &[usize], fill: usize) -> [usize; 3] {
    let mut out = [fill; 3];
    out[3 - v.len()..].copy_from_slice(v);
    out
}

fn check_params(
    nd: usize,
    stride: &[i64],
    padding: &[i64],
    dilation: &[i64],
    groups: i64,
) -> Result<Params> {
    let (s, p, d) = (
        expand("stride", stride, nd)?,
        expand("padding", padding, nd)?,
        expand("dilation", dilation, nd)?,
    );
    if s.iter().any(|&v| v <= 0) {
        return Err(Error::Runtime(
            "non-positive stride is not supported".into(),
        ));
    }
    if p.iter().any(|&v| v < 0) {
        return Err(Error::Runtime("negative padding is not supported".into()));
    }
    if d.iter().any(|&v| v <= 0) {
        return Err(Error::Runtime(format!(
            "dilation should be greater than zero, but got dilation={d:?}"
        )));
    }
    if groups <= 0 {
        return Err(Error::Runtime(
            "non-positive groups is not supported".into(),
        ));
    }
    let u = |v: &[i64]| v.iter().map(|&x| x as usize).collect::<Vec<_>>();
    Ok(Params {
        nd,
        stride: to3(&u(&s), 1),
        pad: to3(&u(&p), 0),
        dilation: to3(&u(&d), 1),
        groups: groups as usize,
    })
}

/// The C++ type name PyTorch's dtype messages print.
fn c_type_name(d: DType) -> &'static str {
    match d {
        DType::F32 => "float",
        DType::F64 => "double",
        DType::U8 => "unsigned char",
        DType::I8 => "signed char",
        DType::I16 => "short int",
        DType::I32 => "int",
        DType::I64 => "long int",
        DType::Bool => "bool",
        DType::F16 => "c10::Half",
        DType::BF16 => "c10::BFloat16",
    }
}

/// How a convolution is called, for PyTorch's dtype checks.
struct Call {
    transposed: bool,
    dilated: bool,
}

/// PyTorch's dtype checks: the bias must have the input's dtype (a
/// transposed convolution of an empty input skips that); the weight too,
/// except for an empty input (its `Empty` backend multiplies instead, see
/// `empty_result`). A mismatched weight fails in the CPU kernel PyTorch
/// picks: the dilated and transposed ones have no integer kernels.
fn check_dtypes(input: &Tensor, weight: &Tensor, bias: Option<&Tensor>, call: &Call) -> Result<()> {
    let (xd, empty) = (input.dtype(), input.numel() == 0);
    let check_bias = || match bias {
        Some(b) if b.dtype() != xd && !(call.transposed && empty) => Err(Error::Runtime(format!(
            "Input type ({}) and bias type ({}) should be the same",
            c_type_name(xd),
            c_type_name(b.dtype())
        ))),
        _ => Ok(()),
    };
    // (the transposed kernels check the bias after the weight)
    if !call.transposed {
        check_bias()?;
    }
    if weight.dtype() == xd || empty {
        return check_bias();
    }
    if !xd.is_float() {
        let nd = weight.ndim().saturating_sub(2).max(2);
        if call.transposed {
            return Err(Error::not_implemented(
                &format!("slow_conv_transpose{nd}d_out_cpu"),
                xd,
            ));
        }
        if call.dilated {
            return Err(Error::not_implemented("slow_conv_dilated<>", xd));
        }
        // (the slow kernels dispatch on the input's dtype, which has no
        // bool version, before they compare the weight's)
        if xd == DType::Bool {
            let kernel = if nd == 3 {
                "slow_conv3d_cpu"
            } else {
                "slow_conv2d_cpu"
            };
            return Err(Error::not_implemented(kernel, xd));
        }
    }
    Err(Error::Runtime(format!(
        "expected scalar type {} but found {}",
        xd.scalar_name(),
        weight.dtype().scalar_name()
    )))
}

/// PyTorch's result for an empty input whose weight has another dtype:
/// `input * weight[0]` (a 0-dim operand, so only a higher category wins),
/// or `input.view(-1) * weight.view(-1)` when the input has no channels,
/// viewed as the output. No values; the graph gives zero gradients.
fn empty_result(x: &Tensor, w: &Tensor, b: Option<&Tensor>, shape: &[usize]) -> Tensor {
    let (xd, wd) = (x.dtype(), w.dtype());
    let dtype = if x.shape()[1] == 0 {
        DType::promote(xd, wd)
    } else if wd.category() > xd.category() {
        wd
    } else {
        xd
    };
    let out = Tensor::zeros(shape, dtype);
    let inputs: Vec<&Tensor> = [x, w].into_iter().chain(b).collect();
    let zeros: Vec<(Vec<usize>, DType)> = inputs
        .iter()
        .map(|t| (t.shape().to_vec(), t.dtype()))
        .collect();
    record("ConvolutionBackward0", &inputs, &[&out], move |_| {
        Ok(zeros
            .iter()
            .map(|(s, d)| Some(Tensor::zeros(s, *d)))
            .collect())
    });
    out
}

/// Common checks: dtypes (`check_dtypes`), weight rank, input rank
/// (returns whether the input is unbatched), groups dividing weight dim 0, bias size.
fn check_tensors(
    op: &str,
    input: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    groups: usize,
    bias_len: impl Fn(usize) -> usize,
    call: &Call,
) -> Result<bool> {
    let wd = weight.ndim();
    if !(3..=5).contains(&wd) {
        return Err(Error::Runtime(format!(
            "{op}: expected weight to be 3-, 4- or 5-dimensional, but got weight of size {:?}",
            weight.shape()
        )));
    }
    let nd = wd - 2;
    if input.ndim() != nd + 1 && input.ndim() != nd + 2 {
        return Err(Error::Runtime(format!(
            "Expected {}D (unbatched) or {}D (batched) input to {op}, but got input of size: {:?}",
            nd + 1,
            nd + 2,
            input.shape()
        )));
    }
    check_dtypes(input, weight, bias, call)?;
    if !weight.shape()[0].is_multiple_of(groups) {
        return Err(Error::Runtime(format!(
            "Given groups={groups}, expected weight to be divisible by {groups} at dimension 0, but got weight of size {:?} instead",
            weight.shape()
        )));
    }
    if let Some(b) = bias {
        let want = bias_len(groups);
        if b.ndim() != 1 || b.shape()[0] != want {
            return Err(Error::Runtime(format!(
                "Given weight of size {:?}, expected bias to be 1-dimensional with {want} elements, but got bias of size {:?} instead",
                weight.shape(),
                b.shape()
            )));
        }
    }
    Ok(input.ndim() == nd + 1)
}

fn spatial3(shape: &[usize]) -> [usize; 3] {
    to3(&shape[2..], 1)
}

/// Geometry of `conv(input, weight)` with input (N, C, *spatial).
fn conv_geom(input: &Tensor, weight: &Tensor, p: &Params) -> Result<ConvGeom> {
    let (ws, xs) = (weight.shape(), input.shape());
    let nd = p.nd;
    if xs[1] != ws[1] * p.groups {
        return Err(Error::Runtime(format!(
            "Given groups={}, weight of size {:?}, expected input{:?} to have {} channels, but got {} channels instead",
            p.groups,
            ws,
            xs,
            ws[1] * p.groups,
            xs[1]
        )));
    }
    let (input3, kernel) = (spatial3(xs), spatial3(ws));
    let mut output = [1; 3];
    let (mut padded, mut dilated) = (Vec::new(), Vec::new());
    for i in 3 - nd..3 {
        padded.push(input3[i] + 2 * p.pad[i]);
        dilated.push(p.dilation[i] * (kernel[i] - 1) + 1);
    }
    if padded.iter().zip(&dilated).any(|(a, b)| a < b) {
        return Err(Error::Runtime(format!(
            "Calculated padded input size per channel: {}. Kernel size: {}. Kernel size can't be greater than actual input size",
            paren(&padded),
            paren(&dilated)
        )));
    }
    for (j, i) in (3 - nd..3).enumerate() {
        output[i] = (padded[j] - dilated[j]) / p.stride[i] + 1;
    }
    Ok(ConvGeom {
        batch: xs[0],
        c_in: xs[1],
        c_out: ws[0],
        groups: p.groups,
        input: input3,
        output,
        kernel,
        stride: p.stride,
        pad: p.pad,
        dilation: p.dilation,
    })
}

fn out_shape(batch: usize, channels: usize, spatial: &[usize; 3], nd: usize) -> Vec<usize> {
    let mut s = vec![batch, channels];
    s.extend_from_slice(&spatial[3 - nd..]);
    s
}

/// Run `f` on a batched view of `input` and drop the batch dim again when
/// the input had none (PyTorch's unbatched convolution).
fn with_batch(
    input: &Tensor,
    unbatched: bool,
    f: impl FnOnce(&Tensor) -> Result<Tensor>,
) -> Result<Tensor> {
    if unbatched {
        squeeze(&f(&unsqueeze(input, 0)?)?, Some(&[0]))
    } else {
        f(input)
    }
}

fn conv_forward_typed<T: Float + BufferElem>(
    g: &ConvGeom,
    x: &Tensor,
    w: &Tensor,
    b: Option<&Tensor>,
) -> Vec<T> {
    let bias = b.map(|b| b.data::<T>());
    kernels::forward(g, &x.data::<T>(), &w.data::<T>(), bias.as_deref())
}

/// `F.conv{1,2,3}d(input, weight, bias, stride, padding, dilation, groups)`
/// with numeric padding (string padding is resolved in Python).
pub fn conv_nd(
    input: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    stride: &[i64],
    padding: &[i64],
    dilation: &[i64],
    groups: i64,
) -> Result<Tensor> {
    let call = Call {
        transposed: false,
        dilated: dilation.iter().any(|&d| d != 1),
    };
    let unbatched = check_tensors(
        "conv",
        input,
        weight,
        bias,
        groups.max(1) as usize,
        |_| weight.shape()[0],
        &call,
    )?;
    let p = check_params(weight.ndim() - 2, stride, padding, dilation, groups)?;
    with_batch(input, unbatched, |x| {
        if pads_explicitly(x, weight, &p) {
            let padded = pad_input(x, &p)?;
            let unpadded = Params { pad: [0; 3], ..p };
            return conv_batched(&padded, weight, bias, &unpadded);
        }
        conv_batched(x, weight, bias, &p)
    })
}

/// Whether the convolution must multiply its zero padding by the weight, as
/// PyTorch's CPU im2col kernels do (0 * inf is NaN at the borders), where
/// rustdl's kernels skip the padding. Only a non-finite weight shows it, and
/// only where PyTorch does not run oneDNN, which skips the padding too.
fn pads_explicitly(x: &Tensor, w: &Tensor, p: &Params) -> bool {
    if p.pad.iter().all(|&v| v == 0)
        || x.is_gpu()
        || w.is_gpu()
        || x.dtype() != w.dtype()
        || !matches!(x.dtype(), DType::F32 | DType::F64)
        || (x.dtype() == DType::F32 && torch_runs_onednn(x, w, p))
    {
        return false;
    }
    let wc = w.contiguous_raw();
    let finite = match wc.dtype() {
        DType::F32 => wc.as_slice::<f32>().is_some_and(kernels::all_finite),
        _ => wc.as_slice::<f64>().is_some_and(kernels::all_finite),
    };
    !finite
}

/// PyTorch's `use_mkldnn` for a float32 CPU convolution (1-d ones seen as
/// 2-d with a height of 1): oneDNN unless a single small sample with
/// small kernels takes its native kernels.
fn torch_runs_onednn(x: &Tensor, w: &Tensor, p: &Params) -> bool {
    let (xs, ws) = (x.shape(), w.shape());
    let size = |s: &[usize], i: usize| s.get(i).copied().unwrap_or(1);
    // (the 4-d view of a 1-d convolution has height 1)
    let (x4, w4): (Vec<usize>, Vec<usize>) = if p.nd == 1 {
        (
            vec![xs[0], xs[1], 1, size(xs, 2)],
            vec![ws[0], ws[1], 1, size(ws, 2)],
        )
    } else {
        (xs.to_vec(), ws.to_vec())
    };
    let (kw, kh) = (w4[w4.len() - 1], w4[w4.len() - 2]);
    let strided = p.stride.iter().any(|&s| s != 1);
    let dilated = p.dilation.iter().any(|&d| d != 1);
    let not_pointwise_single = strided
        || dilated
        || x4[0] >= 16
        || kw != 1
        || kh != 1
        || crate::parallel::num_threads() > 1;
    let big =
        p.groups > 1 || (kw > 3 && kh > 3) || x4[0] > 1 || x4[0] * x4[1] * x4[2] * x4[3] > 20480;
    not_pointwise_single && big
}

/// `x` with its convolution padding written out as zeros (recorded: the
/// gradient flows back through the pad).
fn pad_input(x: &Tensor, p: &Params) -> Result<Tensor> {
    let pads: Vec<i64> = (3 - p.nd..3)
        .rev()
        .flat_map(|i| [p.pad[i] as i64, p.pad[i] as i64])
        .collect();
    super::shape_extra::pad(x, &pads, "constant", 0.0)
}

/// Integer convolutions (PyTorch has them on the CPU; no gradient) run the
/// f64 kernels and convert back: exact while every sum stays below 2^53.
fn through_f64(
    x: &Tensor,
    w: &Tensor,
    b: Option<&Tensor>,
    run: impl FnOnce(&Tensor, &Tensor, Option<&Tensor>) -> Result<Tensor>,
) -> Option<Result<Tensor>> {
    let integer = matches!(
        x.dtype(),
        DType::I64 | DType::I32 | DType::I16 | DType::I8 | DType::U8
    ) && w.dtype() == x.dtype();
    if !integer || x.is_gpu() {
        return None;
    }
    let f = |t: &Tensor| t.cast_raw(DType::F64);
    let bias = b.map(f);
    Some(run(&f(x), &f(w), bias.as_ref()).map(|out| out.cast_raw(x.dtype())))
}

fn conv_batched(x: &Tensor, w: &Tensor, b: Option<&Tensor>, p: &Params) -> Result<Tensor> {
    if let Some(out) = through_f64(x, w, b, |x, w, b| conv_batched(x, w, b, p)) {
        return out;
    }
    let g = conv_geom(x, w, p)?;
    let shape = out_shape(g.batch, g.c_out, &g.output, p.nd);
    if x.dtype() != w.dtype() {
        return Ok(empty_result(x, w, b, &shape));
    }
    let inputs: Vec<&Tensor> = [x, w].into_iter().chain(b).collect();
    if let Some(out) = super::meta::result("ConvolutionBackward0", &inputs, &shape, x.dtype()) {
        return Ok(out);
    }
    if x.is_gpu() || w.is_gpu() {
        return conv_device(x, w, b, &g, &shape);
    }
    // bf16 on a CPU with a bf16 GEMM: bf16 columns, float32 sums and bias,
    // one rounding (`cpu::conv_bf16`).
    let bf16_path = x.dtype() == DType::BF16 && bconv::applies(&g);
    // Half types otherwise: computed in float32, rounded once (`tensor::half`).
    let out = if bf16_path {
        let bias = b.map(|b| half::widen(b).data::<f32>().into_owned());
        let (xv, wv) = (x.data::<bf16>(), w.data::<bf16>());
        match bconv::forward_bf16(&g, &xv, &wv, bias.as_deref()) {
            Some(y) => Tensor::from_vec(y, &shape),
            None => {
                let y = bconv::forward(&g, &xv, &wv, bias.as_deref());
                half::narrow(Tensor::from_vec(y, &shape), DType::BF16)
            }
        }
    } else {
        half::via_f32(&[x, w], |t| {
            let (x, w, b) = (&t[0], &t[1], b.map(|t| half::widen(t).into_owned()));
            Ok(
                crate::dispatch_float!(x.dtype(), "conv", T => Tensor::from_vec(conv_forward_typed::<T>(&g, x, w, b.as_ref()), &shape)),
            )
        })?
    };
    let (sx, sw) = (SavedTensor::new(x), SavedTensor::new(w));
    let need = [
        x.requires_grad(),
        w.requires_grad(),
        b.is_some_and(|b| b.requires_grad()),
    ];
    let (x_shape, w_shape) = (x.shape().to_vec(), w.shape().to_vec());
    let shapes = Arc::new(Shapes {
        geom: g.clone(),
        x: x_shape.clone(),
        w: w_shape.clone(),
        y: shape.clone(),
    });
    let mut inputs = vec![x, w];
    inputs.extend(b);
    let n_in = inputs.len();
    record("ConvolutionBackward0", &inputs, &[&out], move |grads| {
        let Some(gy) = &grads[0] else {
            return Ok(vec![None; n_in]);
        };
        let (x, w) = (sx.get()?, sw.get()?);
        if crate::autograd::is_grad_enabled() {
            // create_graph: recorded bilinear maps (differentiable in gy, x and w)
            let gx = need[0].then(|| conv_grad::apply(Map::InputGrad, &shapes, gy, w));
            let gw = need[1].then(|| conv_grad::apply(Map::WeightGrad, &shapes, x, gy));
            let gb = need[2].then(|| conv_grad::bias_grad(gy));
            return [gx, gw, gb]
                .into_iter()
                .take(n_in)
                .map(Option::transpose)
                .collect();
        }
        // only when a gradient runs in bf16; otherwise all widen once below
        let in_bf16 = (need[0] && bconv::input_grad_applies(&g))
            || (need[1] && bconv::weight_grad_applies(&g));
        if bf16_path && in_bf16 && gy.dtype() == DType::BF16 {
            let gyv = gy.data::<bf16>();
            let round =
                |v: Vec<f32>, s: &[usize]| half::narrow(Tensor::from_vec(v, s), DType::BF16);
            // widened at most once, for the kernels that run in float32
            let gy_wide = std::cell::OnceCell::new();
            let gy_f32 = || gy_wide.get_or_init(|| half::widen(gy).into_owned());
            let gx = need[0].then(|| {
                if let Some(gx) = bconv::backward_input_bf16(&g, &gyv, &w.data::<bf16>()) {
                    return Tensor::from_vec(gx, &x_shape);
                }
                let gx = if bconv::input_grad_applies(&g) {
                    bconv::backward_input(&g, &gyv, &w.data::<bf16>())
                } else {
                    // few input channels: float32 kernels on widened operands
                    let wf = half::widen(w);
                    kernels::backward_input(&g, &gy_f32().data::<f32>(), &wf.data::<f32>())
                };
                round(gx, &x_shape)
            });
            let gw = need[1].then(|| {
                let gw = if bconv::weight_grad_applies(&g) {
                    bconv::backward_weight(&g, &x.data::<bf16>(), &gyv)
                } else {
                    // small weights: float32 dot products on widened operands
                    let xf = half::widen(x);
                    kernels::backward_weight(&g, &xf.data::<f32>(), &gy_f32().data::<f32>())
                };
                round(gw, &w_shape)
            });
            let gb = need[2].then(|| {
                let gb = match gy_wide.get() {
                    Some(gyf) => {
                        kernels::backward_bias(&gyf.data::<f32>(), g.batch, g.c_out, g.out_plane())
                    }
                    None => bconv::backward_bias(&gyv, g.batch, g.c_out, g.out_plane()),
                };
                round(gb, &[g.c_out])
            });
            return Ok([gx, gw, gb].into_iter().take(n_in).collect());
        }
        half::via_f32(&[gy, x, w], |t| {
            let (gy, x, w) = (&t[0], &t[1], &t[2]);
            crate::dispatch_float!(x.dtype(), "conv_backward", T => {
                let gyv = gy.data::<T>();
                let gx = need[0].then(|| Tensor::from_vec(kernels::backward_input(&g, &gyv, &w.data::<T>()), &x_shape));
                let gw = need[1].then(|| Tensor::from_vec(kernels::backward_weight(&g, &x.data::<T>(), &gyv), &w_shape));
                let gb = need[2].then(|| Tensor::from_vec(kernels::backward_bias(&gyv, g.batch, g.c_out, g.out_plane()), &[g.c_out]));
                Ok([gx, gw, gb].into_iter().take(n_in).collect())
            })
        })
    });
    Ok(out)
}

/// `F.conv_transpose{1,2,3}d(input, weight, bias, stride, padding,
/// output_padding, groups, dilation)`; weight is (C_in, C_out / groups, *k).
#[allow(clippy::too_many_arguments)]
pub fn conv_transpose_nd(
    input: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    stride: &[i64],
    padding: &[i64],
    output_padding: &[i64],
    groups: i64,
    dilation: &[i64],
) -> Result<Tensor> {
    let gr = groups.max(1) as usize;
    let call = Call {
        transposed: true,
        dilated: dilation.iter().any(|&d| d != 1),
    };
    let unbatched = check_tensors(
        "conv_transpose",
        input,
        weight,
        bias,
        gr,
        |g| weight.shape()[1] * g,
        &call,
    )?;
    let p = check_params(weight.ndim() - 2, stride, padding, dilation, groups)?;
    let op = expand("output_padding", output_padding, p.nd)?;
    if op.iter().any(|&v| v < 0) {
        return Err(Error::Runtime(
            "negative output_padding is not supported".into(),
        ));
    }
    let op = to3(&op.iter().map(|&v| v as usize).collect::<Vec<_>>(), 0);
    for i in 3 - p.nd..3 {
        // (PyTorch's Empty backend runs before this check)
        if op[i] >= p.stride[i].max(p.dilation[i]) && input.numel() > 0 {
            return Err(Error::Runtime(format!(
                "output padding must be smaller than either stride or dilation, but got output_padding={:?}, stride={:?}, dilation={:?}",
                &op[3 - p.nd..],
                &p.stride[3 - p.nd..],
                &p.dilation[3 - p.nd..]
            )));
        }
    }
    with_batch(input, unbatched, |x| {
        conv_transpose_batched(x, weight, bias, &p, op)
    })
}

fn conv_transpose_batched(
    x: &Tensor,
    w: &Tensor,
    b: Option<&Tensor>,
    p: &Params,
    output_padding: [usize; 3],
) -> Result<Tensor> {
    if let Some(out) = through_f64(x, w, b, |x, w, b| {
        conv_transpose_batched(x, w, b, p, output_padding)
    }) {
        return out;
    }
    let (xs, ws) = (x.shape(), w.shape());
    if xs[1] != ws[0] {
        return Err(Error::Runtime(format!(
            "Given transposed=1, weight of size {:?}, expected input{:?} to have {} channels, but got {} channels instead",
            ws, xs, ws[0], xs[1]
        )));
    }
    let (in3, kernel) = (spatial3(xs), spatial3(ws));
    let mut out3 = [1usize; 3];
    for i in 3 - p.nd..3 {
        let size = (in3[i] as isize - 1) * p.stride[i] as isize - 2 * p.pad[i] as isize
            + (p.dilation[i] * (kernel[i] - 1)) as isize
            + output_padding[i] as isize
            + 1;
        if size <= 0 {
            let calc: Vec<isize> = (3 - p.nd..3)
                .map(|j| {
                    (in3[j] as isize - 1) * p.stride[j] as isize - 2 * p.pad[j] as isize
                        + (p.dilation[j] * (kernel[j] - 1) + output_padding[j] + 1) as isize
                })
                .collect();
            return Err(Error::Runtime(format!(
                "Given input size per channel: {}. Calculated output size per channel: ({}). Output size is too small",
                paren(&in3[3 - p.nd..]),
                calc.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(" x ")
            )));
        }
        out3[i] = size as usize;
    }
    // The convolution whose input gradient this is: its input is our output.
    let g = ConvGeom {
        batch: xs[0],
        c_in: ws[1] * p.groups,
        c_out: ws[0],
        groups: p.groups,
        input: out3,
        output: in3,
        kernel,
        stride: p.stride,
        pad: p.pad,
        dilation: p.dilation,
    };
    let shape = out_shape(g.batch, g.c_in, &out3, p.nd);
    if x.dtype() != w.dtype() || b.is_some_and(|b| b.dtype() != x.dtype()) {
        return Ok(empty_result(x, w, b, &shape));
    }
    let inputs: Vec<&Tensor> = [x, w].into_iter().chain(b).collect();
    if let Some(out) = super::meta::result("ConvolutionBackward0", &inputs, &shape, x.dtype()) {
        return Ok(out);
    }
    if x.is_gpu() || w.is_gpu() {
        return conv_transpose_device(x, w, b, &g, &shape);
    }
    let out = half::via_f32(&[x, w], |t| {
        let (x, w, b) = (&t[0], &t[1], b.map(|t| half::widen(t).into_owned()));
        Ok(crate::dispatch_float!(x.dtype(), "conv_transpose", T => {
            let mut y = kernels::backward_input(&g, &x.data::<T>(), &w.data::<T>());
            if let Some(b) = &b {
                kernels::add_bias(&mut y, &b.data::<T>(), g.c_in, g.in_plane());
            }
            Tensor::from_vec(y, &shape)
        }))
    })?;
    let (sx, sw) = (SavedTensor::new(x), SavedTensor::new(w));
    let need = [
        x.requires_grad(),
        w.requires_grad(),
        b.is_some_and(|b| b.requires_grad()),
    ];
    let (x_shape, w_shape) = (xs.to_vec(), ws.to_vec());
    // The convolution this op is the input gradient of: its x is our output.
    let shapes = Arc::new(Shapes {
        geom: g.clone(),
        x: shape.clone(),
        w: w_shape.clone(),
        y: x_shape.clone(),
    });
    let mut inputs = vec![x, w];
    inputs.extend(b);
    let n_in = inputs.len();
    record("ConvolutionBackward0", &inputs, &[&out], move |grads| {
        let Some(gy) = &grads[0] else {
            return Ok(vec![None; n_in]);
        };
        let (x, w) = (sx.get()?, sw.get()?);
        if crate::autograd::is_grad_enabled() {
            let gx = need[0].then(|| conv_grad::apply(Map::Forward, &shapes, gy, w));
            let gw = need[1].then(|| conv_grad::apply(Map::WeightGrad, &shapes, gy, x));
            let gb = need[2].then(|| conv_grad::bias_grad(gy));
            return [gx, gw, gb]
                .into_iter()
                .take(n_in)
                .map(Option::transpose)
                .collect();
        }
        half::via_f32(&[gy, x, w], |t| {
            let (gy, x, w) = (&t[0], &t[1], &t[2]);
            crate::dispatch_float!(x.dtype(), "conv_transpose_backward", T => {
                let gyv = gy.data::<T>();
                let gx = need[0].then(|| Tensor::from_vec(kernels::forward(&g, &gyv, &w.data::<T>(), None), &x_shape));
                let gw = need[1].then(|| Tensor::from_vec(kernels::backward_weight(&g, &gyv, &x.data::<T>()), &w_shape));
                let gb = need[2].then(|| Tensor::from_vec(kernels::backward_bias(&gyv, g.batch, g.c_in, g.in_plane()), &[g.c_in]));
                Ok([gx, gw, gb].into_iter().take(n_in).collect())
            })
        })
    });
    Ok(out)
}

/// `y + b` with the per-channel bias `b` broadcast over (N, C, ...) `y`.
fn add_channel_bias(y: Tensor, b: Option<&Tensor>) -> Result<Tensor> {
    let Some(b) = b else { return Ok(y) };
    let mut bshape = vec![1, y.shape()[1]];
    bshape.extend(std::iter::repeat_n(1, y.ndim() - 2));
    super::binary::add(&y, &super::shape::reshape_to(b, &bshape)?)
}

/// Convolution of device tensors from differentiable pieces: `im2col`
/// (its backward is `col2im`), a grouped batched matmul with the weight, and
/// the bias add; autograd differentiates the composition.
fn conv_device(
    x: &Tensor,
    w: &Tensor,
    b: Option<&Tensor>,
    g: &ConvGeom,
    shape: &[usize],
) -> Result<Tensor> {
    use super::shape::reshape_to;
    crate::gpu::kernels::check_same_device([x, w].into_iter().chain(b))?;
    let k: usize = g.kernel.iter().product();
    let l: usize = g.output.iter().product();
    let (groups, cig, cog) = (g.groups, g.c_in / g.groups, g.c_out / g.groups);
    let cols = im2col(x, g)?;
    let cols = reshape_to(&cols, &[g.batch, groups, cig * k, l])?;
    let wm = reshape_to(w, &[groups, cog, cig * k])?;
    let y = super::matmul::matmul(&wm, &cols)?;
    let y = reshape_to(&y, shape)?;
    add_channel_bias(y, b)
}

/// Transposed convolution of device tensors: the weight maps each input
/// position to columns, which `col2im` folds into the output (the adjoint of
/// the convolution `g` whose input is this op's output).
fn conv_transpose_device(
    x: &Tensor,
    w: &Tensor,
    b: Option<&Tensor>,
    g: &ConvGeom,
    shape: &[usize],
) -> Result<Tensor> {
    use super::shape::{reshape_to, transpose};
    crate::gpu::kernels::check_same_device([x, w].into_iter().chain(b))?;
    let k: usize = g.kernel.iter().product();
    let l: usize = g.output.iter().product();
    let (groups, cig, cog) = (g.groups, g.c_in / g.groups, g.c_out / g.groups);
    let wt = transpose(&reshape_to(w, &[groups, cog, cig * k])?, -2, -1)?;
    let xr = reshape_to(x, &[g.batch, groups, cog, l])?;
    let cols = reshape_to(&super::matmul::matmul(&wt, &xr)?, &[g.batch, g.c_in * k, l])?;
    let y = col2im(&cols, g, shape)?;
    add_channel_bias(y, b)
}

/// Fold columns back into an input of `shape`, differentiable (backward: im2col).
fn col2im(cols: &Tensor, g: &ConvGeom, shape: &[usize]) -> Result<Tensor> {
    let out = crate::gpu::conv::col2im(cols, g, shape)?;
    let g2 = g.clone();
    record("Col2ImBackward0", &[cols], &[&out], move |gr| {
        let Some(gy) = &gr[0] else {
            return Ok(vec![None]);
        };
        Ok(vec![Some(im2col(gy, &g2)?)])
    });
    Ok(out)
}

/// Unfold input patches into columns (N, C * K, L), differentiable.
pub fn im2col(x: &Tensor, g: &ConvGeom) -> Result<Tensor> {
    let out = crate::gpu::conv::im2col(x, g)?;
    let (g2, shape) = (g.clone(), x.shape_vec());
    record("Im2ColBackward0", &[x], &[&out], move |gr| {
        let Some(gc) = &gr[0] else {
            return Ok(vec![None]);
        };
        Ok(vec![Some(col2im(gc, &g2, &shape)?)])
    });
    Ok(out)
}
