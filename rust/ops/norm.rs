//! Normalization ops with fused kernels and their own backward: batch_norm,
//! layer_norm, group_norm, instance_norm.
//!
//! Forward saves the input and the per-row / per-channel statistics; backward
//! is one reduction pass plus one elementwise pass (see `cpu::norm`).

use crate::autograd::{composite, record, SavedTensor};
use crate::bail;
use crate::cpu::norm::{self as k, RowShape, Stat};
use crate::error::Result;
use crate::tensor::access::write_into;
use crate::tensor::dtype::{DType, Float};
use crate::tensor::storage::BufferElem;
use crate::tensor::{half, Tensor};

/// Optional weight/bias cast to the input's dtype (recorded, so grads flow).
fn as_dtype(t: Option<&Tensor>, x: &Tensor) -> Result<Option<Tensor>> {
    t.map(|t| {
        if !t.dtype().is_float() {
            bail!(
                Runtime,
                "mixed dtype (CPU): expect parameter to have scalar type of {}",
                x.dtype().scalar_name()
            );
        }
        if t.dtype() == x.dtype() {
            Ok(t.clone())
        } else {
            crate::ops::unary::to_dtype(t, x.dtype())
        }
    })
    .transpose()
}

fn check_len(t: Option<&Tensor>, what: &str, c: usize) -> Result<()> {
    if let Some(t) = t {
        if t.numel() != c {
            bail!(
                Runtime,
                "{what} should contain {c} elements not {}",
                t.numel()
            );
        }
    }
    Ok(())
}

fn vals<T: BufferElem>(t: &Option<Tensor>) -> Option<Vec<T>> {
    t.as_ref().map(|t| t.to_vec::<T>())
}

use crate::error::require_float;

/// The same normalization as a composite of differentiable ops:
/// `composite(x, w, b)` gives `y`.
type NormComposite =
    dyn Fn(&Tensor, Option<&Tensor>, Option<&Tensor>) -> Result<Tensor> + Send + Sync;

/// Record the backward of a normalization whose inputs are `x`, and the
/// optional `w`, `b`; `grads(gy, x, w)` returns (gx, gw, gb) with the fused
/// kernels. Under `create_graph` the gradients come from differentiating
/// `composite` instead (`autograd::composite`), so they are differentiable.
fn record_norm(
    name: &'static str,
    x: &Tensor,
    w: &Option<Tensor>,
    b: &Option<Tensor>,
    y: &Tensor,
    composite: Box<NormComposite>,
    grads: impl Fn(&Tensor, &Tensor, Option<&Tensor>) -> Result<(Tensor, Option<Tensor>, Option<Tensor>)>
        + Send
        + Sync
        + 'static,
) {
    record_norm_with(name, (x, w, b, y), composite, false, grads)
}

/// The (gx, gw, gb) of a normalization's fused kernels, from (gy, x, w).
type NormGrads = Result<(Tensor, Option<Tensor>, Option<Tensor>)>;

/// `record_norm`; with `bf16_kernels`, `grads` takes a bfloat16 `gy` and
/// `x` as they are (contiguous) instead of float32 copies.
fn record_norm_with(
    name: &'static str,
    (x, w, b, y): (&Tensor, &Option<Tensor>, &Option<Tensor>, &Tensor),
    composite: Box<NormComposite>,
    bf16_kernels: bool,
    grads: impl Fn(&Tensor, &Tensor, Option<&Tensor>) -> NormGrads + Send + Sync + 'static,
) {
    let mut inputs = vec![x];
    inputs.extend(w.iter());
    inputs.extend(b.iter());
    let n = inputs.len();
    // The bias is kept as a plain handle: no gradient reads its values (so,
    // as in PyTorch, changing it in place before backward is no error).
    let (sx, sw, bias) = (
        SavedTensor::new(x),
        w.as_ref().map(SavedTensor::new),
        b.clone(),
    );
    let has_b = bias.is_some();
    record(name, &inputs, &[y], move |g| {
        let Some(gy) = &g[0] else {
            return Ok(vec![None; n]);
        };
        let x = sx.get()?;
        {
            let w = sw.as_ref().map(|s| s.get()).transpose()?;
            let mut ins: Vec<&Tensor> = vec![x];
            ins.extend(w);
            ins.extend(bias.as_ref());
            if composite::wants_graph(gy, &ins) {
                let gy = if gy.dtype() == x.dtype() {
                    gy.clone()
                } else {
                    crate::ops::unary::to_dtype(gy, x.dtype())?
                };
                return composite::vjp(&ins, &[Some(gy)], |ins| {
                    let (w, b) = match (w.is_some(), has_b) {
                        (true, true) => (Some(ins[1]), Some(ins[2])),
                        (true, false) => (Some(ins[1]), None),
                        (false, true) => (None, Some(ins[1])),
                        (false, false) => (None, None),
                    };
                    Ok(vec![composite(ins[0], w, b)?])
                });
            }
        }
        // Half types: the kernels run on float32 copies, and the gradients
        // are rounded once (`tensor::half`).
        let dtype = x.dtype();
        let w = sw
            .as_ref()
            .map(|s| s.get())
            .transpose()?
            .map(|t| half::widen(t).into_owned());
        let (gx, gw, gb) = if bf16_kernels && dtype == DType::BF16 {
            let gy = gy.cast_raw(dtype).contiguous_raw();
            grads(&gy, &x.contiguous_raw(), w.as_ref())?
        } else {
            let gy = half::widen(&gy.cast_raw(dtype)).contiguous_raw();
            grads(&gy, &half::widen(x).contiguous_raw(), w.as_ref())?
        };
        let narrow = |t: Tensor| half::narrow(t, dtype);
        let (gx, gw, gb) = (narrow(gx), gw.map(narrow), gb.map(narrow));
        let mut out = vec![Some(gx)];
        if w.is_some() {
            out.push(gw);
        }
        if has_b {
            out.push(gb);
        }
        Ok(out)
    });
}

// ---------------------------------------------------------------- rows norms

fn rows_forward_t<T: Float + BufferElem>(
    x: &Tensor,
    sh: RowShape,
    w: &Option<Tensor>,
    b: &Option<Tensor>,
    eps: f64,
    group_form: bool,
) -> (Tensor, Vec<Stat>) {
    let xc = x.contiguous_raw();
    let (wv, bv) = (vals::<T>(w), vals::<T>(b));
    let (y, st) = k::rows_forward(
        xc.as_slice::<T>().expect("contiguous"),
        sh,
        wv.as_deref(),
        bv.as_deref(),
        eps,
        group_form,
    );
    (Tensor::from_vec(y, x.shape()), st)
}

#[allow(clippy::too_many_arguments)]
fn rows_backward_t<T: Float + BufferElem>(
    gy: &Tensor,
    x: &Tensor,
    w: Option<&Tensor>,
    st: &[Stat],
    sh: RowShape,
    eps: f64,
    need_wb: bool,
    w_shape: &[usize],
) -> (Tensor, Option<Tensor>, Option<Tensor>) {
    let wv = w.map(|w| w.to_vec::<T>());
    let (gx, wb) = k::rows_backward(
        gy.as_slice::<T>().expect("contiguous"),
        x.as_slice::<T>().expect("contiguous"),
        st,
        sh,
        wv.as_deref(),
        eps,
        need_wb,
    );
    let gx = Tensor::from_vec(gx, x.shape());
    match wb {
        Some((gw, gb)) => (
            gx,
            Some(Tensor::from_vec(gw, w_shape)),
            Some(Tensor::from_vec(gb, w_shape)),
        ),
        None => (gx, None, None),
    }
}

/// Forward + recorded backward of a rows normalization; returns the output
/// and the per-row statistics.
fn rows_norm(
    name: &'static str,
    x: &Tensor,
    sh: RowShape,
    w: Option<&Tensor>,
    b: Option<&Tensor>,
    eps: f64,
) -> Result<(Tensor, Vec<Stat>)> {
    let inputs: Vec<&Tensor> = [Some(x), w, b].into_iter().flatten().collect();
    if let Some(out) = super::meta::result(name, &inputs, x.shape(), x.dtype()) {
        return Ok((out, Vec::new()));
    }
    if x.is_gpu() {
        // (no host statistics: callers that fold them into running stats refuse device tensors)
        return Ok((rows_norm_device(x, sh, w, b, eps)?, Vec::new()));
    }
    let (w, b) = (as_dtype(w, x)?, as_dtype(b, x)?);
    let (xw, ww, bw) = (
        half::widen(x),
        w.as_ref().map(|t| half::widen(t).into_owned()),
        b.as_ref().map(|t| half::widen(t).into_owned()),
    );
    let group_form = name == "NativeGroupNormBackward0";
    let (y, st) = crate::dispatch_float!(xw.dtype(), name, T => rows_forward_t::<T>(&xw, sh, &ww, &bw, eps, group_form));
    let y = half::narrow(y, x.dtype());
    let w_shape = w
        .as_ref()
        .or(b.as_ref())
        .map(|t| t.shape().to_vec())
        .unwrap_or_default();
    let need_wb = w.is_some() || b.is_some();
    let saved = st.clone();
    let dtype = x.dtype().compute_dtype();
    let composite: Box<NormComposite> =
        Box::new(move |x, w, b| rows_norm_composite(x, sh, w, b, eps));
    record_norm(name, x, &w, &b, &y, composite, move |gy, x, w| {
        Ok(
            crate::dispatch_float!(dtype, name, T => rows_backward_t::<T>(gy, x, w, &saved, sh, eps, need_wb, &w_shape)),
        )
    });
    Ok((y, st))
}

/// `F.layer_norm(x, normalized_shape, weight, bias, eps)`.
pub fn layer_norm(
    x: &Tensor,
    normalized_shape: &[usize],
    w: Option<&Tensor>,
    b: Option<&Tensor>,
    eps: f64,
) -> Result<Tensor> {
    require_float(x, "LayerNormKernelImpl")?;
    let nd = normalized_shape.len();
    let sh = x.shape();
    if nd == 0 || sh.len() < nd || sh[sh.len() - nd..] != *normalized_shape {
        bail!(
            Runtime,
            "Given normalized_shape={:?}, expected input with shape [*, {}], but got input of size{:?}",
            normalized_shape,
            normalized_shape.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(", "),
            sh
        );
    }
    for (t, what) in [(w, "weight"), (b, "bias")] {
        if let Some(t) = t {
            if t.shape() != normalized_shape {
                bail!(Runtime, "Expected {what} to be of same shape as normalized_shape, but got {what} of shape {:?} and normalized_shape = {:?}", t.shape(), normalized_shape);
            }
        }
    }
    let len: usize = normalized_shape.iter().product();
    let rows = sh[..sh.len() - nd].iter().product();
    Ok(rows_norm(
        "NativeLayerNormBackward0",
        x,
        RowShape {
            n: rows,
            c: len,
            s: 1,
            groups: 1,
        },
        w,
        b,
        eps,
    )?
    .0)
}

/// `F.group_norm(x, num_groups, weight, bias, eps)`.
pub fn group_norm(
    x: &Tensor,
    groups: usize,
    w: Option<&Tensor>,
    b: Option<&Tensor>,
    eps: f64,
) -> Result<Tensor> {
    require_float(x, "GroupNormKernelImpl")?;
    let sh = x.shape();
    if sh.len() < 2 {
        bail!(
            Runtime,
            "Expected at least 2 dimensions for input tensor but received {}",
            sh.len()
        );
    }
    let c = sh[1];
    if groups == 0 || !c.is_multiple_of(groups) {
        bail!(Runtime, "Expected number of channels in input to be divisible by num_groups, but got input of shape {:?} and num_groups={groups}", sh);
    }
    for (t, what) in [(w, "weight"), (b, "bias")] {
        if let Some(t) = t {
            if t.ndim() != 1 || t.numel() != c {
                bail!(Runtime, "Expected {what} to be a vector of size equal to the number of channels in input, but got {what} of shape {:?} and input of shape {:?}", t.shape(), sh);
            }
        }
    }
    let s = sh[2..].iter().product();
    let sh = RowShape {
        n: sh[0],
        c,
        s,
        groups,
    };
    Ok(rows_norm("NativeGroupNormBackward0", x, sh, w, b, eps)?.0)
}

/// Running-stat update `r = (1 - m) * r + m * v`, in place.
fn update_running(r: Option<&Tensor>, new: impl Fn(usize) -> f64, momentum: f64) -> Result<()> {
    if let Some(r) = r {
        let old = r.to_f64_vec();
        let v: Vec<f64> = old
            .iter()
            .enumerate()
            .map(|(i, &o)| (1.0 - momentum) * o + momentum * new(i))
            .collect();
        write_into(r, &Tensor::from_vec(v, r.shape()))?;
    }
    Ok(())
}

/// `F.instance_norm`: per-(sample, channel) statistics; with running stats the
/// per-channel average over the batch is folded into them (as PyTorch does).
#[allow(clippy::too_many_arguments)]
pub fn instance_norm(
    x: &Tensor,
    rm: Option<&Tensor>,
    rv: Option<&Tensor>,
    w: Option<&Tensor>,
    b: Option<&Tensor>,
    use_input_stats: bool,
    momentum: f64,
    eps: f64,
) -> Result<Tensor> {
    require_float(x, "instance_norm")?;
    let sh = x.shape();
    if sh.len() < 2 {
        bail!(
            Runtime,
            "instance_norm: Expected at least 2 dimensions for input tensor but received {}",
            sh.len()
        );
    }
    let (n, c) = (sh[0], sh[1]);
    if !use_input_stats {
        check_len(rm, "running_mean", c)?;
        check_len(rv, "running_var", c)?;
        check_len(w, "weight", c)?;
        check_len(b, "bias", c)?;
        if rm.is_none() || rv.is_none() {
            bail!(
                Runtime,
                "Expected running_mean and running_var to be defined when use_input_stats is false"
            );
        }
        // (PyTorch's instance_norm takes any shape of c values here)
        let (rm, rv) = (
            rm.map(|t| crate::ops::shape::reshape_to(t, &[c]))
                .transpose()?,
            rv.map(|t| crate::ops::shape::reshape_to(t, &[c]))
                .transpose()?,
        );
        return batch_norm(x, rm.as_ref(), rv.as_ref(), w, b, false, momentum, eps);
    }
    if x.is_gpu() && (rm.is_some() || rv.is_some()) {
        bail!(
            Runtime,
            "instance_norm with running stats is not implemented on the wgpu device"
        );
    }
    // PyTorch's own composition: batch_norm (training) of the input seen as
    // (1, n * c, ...), with the weight, bias and running stats repeated per
    // sample; its kernels decide every rounding and overflow (a float32
    // (x - mean) * (x - mean) past the range, x * a + (b - mean * a)).
    // (PyTorch's repeat is a dense copy, which decides batch_norm's kernel)
    let per_sample = |t: Option<&Tensor>| {
        t.map(|t| crate::ops::shape::contiguous(&crate::ops::shape_extra::repeat(t, &[n as i64])?))
            .transpose()
    };
    let (wr, br) = (per_sample(w)?, per_sample(b)?);
    let (rmr, rvr) = (per_sample(rm)?, per_sample(rv)?);
    let mut flat_shape = sh.to_vec();
    flat_shape[0] = 1;
    flat_shape[1] = n * c;
    let xr = crate::ops::shape::reshape_to(&crate::ops::shape::contiguous(x)?, &flat_shape)?;
    let y = batch_norm(
        &xr,
        rmr.as_ref(),
        rvr.as_ref(),
        wr.as_ref(),
        br.as_ref(),
        true,
        momentum,
        eps,
    )?;
    // The running stats take the mean over the samples of their copies.
    for (r, copies) in [(rm, &rmr), (rv, &rvr)] {
        if let (Some(r), Some(copies)) = (r, copies) {
            if r.ndim() != 1 {
                bail!(
                    Runtime,
                    "output with shape {:?} doesn't match the broadcast shape [{c}]",
                    r.shape()
                );
            }
            let v = copies.to_f64_vec();
            let avg: Vec<f64> = (0..c)
                .map(|ch| (0..n).map(|i| v[i * c + ch]).sum::<f64>() / n as f64)
                .collect();
            write_into(r, &Tensor::from_vec(avg, &[c]))?;
        }
    }
    crate::ops::shape::reshape_to(&y, sh)
}

// ---------------------------------------------------------------- batch norm

/// Per-channel `(a, k1, k0)` with `gx = (gy + (x - centers[c]) * k1 + k0) *
/// a`, and (gw, gb). `sums` are (sum(gy), sum(gy * (x - centers[c]))) per
/// channel. This is PyTorch's form, `(gy - mean(gy) - (x - mean) k) * w *
/// rstd`: the scale comes last, so an infinite or huge weight scales a
/// gradient-sized difference (+-inf, not inf - inf).
fn bn_grad_consts(
    sums: &[(f64, f64)],
    centers: &[f64],
    st: &[Stat],
    w: Option<&[f64]>,
    eps: f64,
    m: f64,
    training: bool,
) -> (Vec<[f64; 3]>, Vec<f64>, Vec<f64>) {
    let mut consts = Vec::with_capacity(st.len());
    let (mut gw, mut gb) = (Vec::with_capacity(st.len()), Vec::with_capacity(st.len()));
    for (c, (&(sdy, sdyx), s)) in sums.iter().zip(st).enumerate() {
        let (mean, rstd) = (s.mean, s.rstd(eps));
        let dm = mean - centers[c];
        let wc = w.map_or(1.0, |w| w[c]);
        let dw = rstd * (sdyx - dm * sdy);
        gw.push(dw);
        gb.push(sdy);
        if training {
            // k = sum(gy (x - mean)) rstd^2 / m; (x - mean) k = (x - c) k - dm k
            let k = rstd * dw / m;
            consts.push([wc * rstd, -k, -sdy / m + k * dm]);
        } else {
            consts.push([wc * rstd, 0.0, 0.0]);
        }
    }
    (consts, gw, gb)
}

#[allow(clippy::too_many_arguments)]
fn bn_backward_t<T: Float + BufferElem>(
    gy: &Tensor,
    x: &Tensor,
    w: Option<&Tensor>,
    st: &[Stat],
    eps: f64,
    training: bool,
    need_wb: bool,
) -> (Tensor, Option<Tensor>, Option<Tensor>) {
    let sh = x.shape();
    let (n, c, s) = (sh[0], sh[1], sh[2..].iter().product::<usize>());
    let (gys, xs) = (
        gy.as_slice::<T>().expect("contiguous"),
        x.as_slice::<T>().expect("contiguous"),
    );
    // Centered on each channel's mean (rounded to T) for accuracy on nearly
    // constant channels; in eval mode the mean only enters gw.
    let centers: Vec<T> = st.iter().map(|s| T::c(s.mean)).collect();
    let centers64: Vec<f64> = centers.iter().map(|v| v.to_f64()).collect();
    let sums = k::channel_grad_sums(gys, xs, &centers, n, c, s);
    let wv = w.map(|w| w.to_f64_vec());
    let (consts, gw, gb) = bn_grad_consts(
        &sums,
        &centers64,
        st,
        wv.as_deref(),
        eps,
        (n * s) as f64,
        training,
    );
    let pick = |i: usize| consts.iter().map(|k| T::c(k[i])).collect::<Vec<T>>();
    let gx = if training {
        // PyTorch's kernel: grad_mean = sum(gy) / m and k = dotp * rstd *
        // rstd / m in T, with dotp = sum(gy * (x - mean)) around its mean
        // rounded to T (the centers here).
        let count = T::c((n * s) as f64);
        let rstd: Vec<T> = st.iter().map(|s| T::c(s.rstd(eps))).collect();
        let grad_mean: Vec<T> = sums
            .iter()
            .map(|&(sdy, _)| T::c(sdy / (n * s) as f64))
            .collect();
        let kk: Vec<T> = sums
            .iter()
            .zip(&rstd)
            .map(|(&(_, dotp), &r)| T::c(dotp) * r * r / count)
            .collect();
        let w_t: Vec<T> = wv.as_ref().map_or_else(
            || vec![T::c(1.0); c],
            |w| w.iter().map(|&v| T::c(v)).collect(),
        );
        let consts = k::BnGradConsts {
            mean: &centers,
            k: &kk,
            grad_mean: &grad_mean,
            rstd: &rstd,
            w: &w_t,
        };
        k::channel_grad_input_bn(gys, xs, c, s, &consts)
    } else {
        // gx = gy * w * rstd: x does not enter (an inf in x must not make
        // its gradient NaN through a zero coefficient, as PyTorch).
        let zeros = vec![T::zero(); c];
        let mut gx = k::channel_affine(gys, c, s, &zeros, &pick(0), &zeros);
        let rstd: Vec<T> = st.iter().map(|s| T::c(s.rstd(eps))).collect();
        let wt: Vec<T> = wv.as_ref().map_or_else(
            || vec![T::c(1.0); c],
            |w| w.iter().map(|&v| T::c(v)).collect(),
        );
        k::channel_scale2_where_nonfinite(&mut gx, gys, c, s, &rstd, &wt);
        gx
    };
    let gx = Tensor::from_vec(gx, sh);
    if !need_wb {
        return (gx, None, None);
    }
    let to_t = |v: Vec<f64>| Tensor::from_vec(v.into_iter().map(T::c).collect::<Vec<T>>(), &[c]);
    (gx, Some(to_t(gw)), Some(to_t(gb)))
}

/// Per-channel (center, scale, shift) of batch norm's forward, `y = (x -
/// center) * scale + shift`, in the compute type `T`.
type Affine<T> = (Vec<T>, Vec<T>, Vec<T>);

/// `bn_backward_t` of bfloat16 `gy` and `x` (float32 arithmetic, gx
/// rounded once; gw and gb in float32, rounded by `record_norm_with`).
fn bn_backward_bf16(
    gy: &Tensor,
    x: &Tensor,
    w: Option<&Tensor>,
    st: &[Stat],
    eps: f64,
    training: bool,
    need_wb: bool,
) -> (Tensor, Option<Tensor>, Option<Tensor>) {
    use ::half::bf16;
    let sh = x.shape();
    let (n, c, s) = (sh[0], sh[1], sh[2..].iter().product::<usize>());
    let (gys, xs) = (
        gy.as_slice::<bf16>().expect("contiguous"),
        x.as_slice::<bf16>().expect("contiguous"),
    );
    let centers: Vec<f32> = st.iter().map(|s| s.mean as f32).collect();
    let centers64: Vec<f64> = centers.iter().map(|&v| v as f64).collect();
    let sums = crate::cpu::norm_bf16::channel_grad_sums(gys, xs, &centers, n, c, s);
    let wv = w.map(|w| w.to_f64_vec());
    let (consts, gw, gb) = bn_grad_consts(
        &sums,
        &centers64,
        st,
        wv.as_deref(),
        eps,
        (n * s) as f64,
        training,
    );
    let pick = |i: usize| consts.iter().map(|k| k[i] as f32).collect::<Vec<f32>>();
    let gx = if training {
        // (the bfloat16 kernel takes the scale first: gy * a + (x - c) a k1 + a k0)
        let scaled = |i: usize| {
            consts
                .iter()
                .map(|k| (k[0] * k[i]) as f32)
                .collect::<Vec<f32>>()
        };
        let (a, k1, k0) = (pick(0), scaled(1), scaled(2));
        crate::cpu::norm_bf16::channel_grad_input(gys, xs, c, s, &centers, &a, &k1, &k0)
    } else {
        // (as bn_backward_t: x does not enter)
        let zeros = vec![0.0f32; c];
        crate::cpu::norm_bf16::channel_affine(gys, c, s, &zeros, &pick(0), &zeros)
    };
    let gx = Tensor::from_vec(gx, sh);
    if !need_wb {
        return (gx, None, None);
    }
    let to_t =
        |v: Vec<f64>| Tensor::from_vec(v.into_iter().map(|g| g as f32).collect::<Vec<f32>>(), &[c]);
    (gx, Some(to_t(gw)), Some(to_t(gb)))
}

fn bn_forward_t<T: Float + BufferElem>(
    x: &Tensor,
    st: &[Stat],
    w: &Option<Tensor>,
    b: &Option<Tensor>,
    eps: f64,
    strided: bool,
) -> Tensor {
    let sh = x.shape();
    let (c, s) = (sh[1], sh[2..].iter().product::<usize>());
    let xc = x.contiguous_raw();
    if x.dtype() == DType::BF16 {
        // (T is f32 here: the compute type)
        let (center, scale, shift) = bn_affine::<T>(st, w, b, eps, strided);
        let f = |v: Vec<T>| v.iter().map(|t| t.to_f64() as f32).collect::<Vec<f32>>();
        let (center, scale, shift) = (f(center), f(scale), f(shift));
        let x = xc.as_slice::<::half::bf16>().expect("contiguous");
        return Tensor::from_vec(
            crate::cpu::norm_bf16::channel_affine(x, c, s, &center, &scale, &shift),
            sh,
        );
    }
    let xs = xc.as_slice::<T>().expect("contiguous");
    let mean: Vec<T> = st.iter().map(|s| T::c(s.mean)).collect();
    let invstd: Vec<T> = st.iter().map(|s| T::c(s.rstd(eps))).collect();
    // (w and b are in x's dtype, which T widens for float16)
    let in_t = |t: &Option<Tensor>, fill: f64| {
        t.as_ref().map_or_else(
            || vec![T::c(fill); c],
            |t| t.to_f64_vec().into_iter().map(T::c).collect::<Vec<T>>(),
        )
    };
    let (wv, bv) = (in_t(w, 1.0), in_t(b, 0.0));
    if strided {
        // PyTorch's generic kernel: ((x - mean) * invstd) * w + b.
        let y = k::channel_affine_generic(xs, c, s, &mean, &invstd, &wv, &bv);
        return Tensor::from_vec(y, sh);
    }
    // PyTorch's dense kernel: x * alpha + beta, fused, with alpha = invstd *
    // w and beta = b - mean * alpha (fused) in the input's type.
    let alpha: Vec<T> = invstd.iter().zip(&wv).map(|(&r, &w)| r * w).collect();
    let beta: Vec<T> = (0..c)
        .map(|ch| T::c((-mean[ch].to_f64()).mul_add(alpha[ch].to_f64(), bv[ch].to_f64())))
        .collect();
    Tensor::from_vec(k::channel_fused_affine(xs, c, s, &alpha, &beta), sh)
}

fn bn_affine<T: Float>(
    st: &[Stat],
    w: &Option<Tensor>,
    b: &Option<Tensor>,
    eps: f64,
    strided: bool,
) -> Affine<T> {
    let c = st.len();
    let (wv, bv) = (
        w.as_ref().map(|t| t.to_f64_vec()),
        b.as_ref().map(|t| t.to_f64_vec()),
    );
    // y = (x - center) * a + (b - (mean - center) * a): centered on the mean
    // rounded to T, so x * a never loses x's low bits against a large shift.
    let (mut center, mut scale, mut shift) = (
        Vec::with_capacity(c),
        Vec::with_capacity(c),
        Vec::with_capacity(c),
    );
    for (ch, stat) in st.iter().enumerate() {
        let a = stat.rstd(eps) * wv.as_ref().map_or(1.0, |w| w[ch]);
        let bias = bv.as_ref().map_or(0.0, |b| b[ch]);
        let m = T::c(stat.mean);
        if !a.is_finite() {
            // An infinite weight: PyTorch's contiguous kernel computes
            // x * a + (b - mean * a) (NaN where both are infinite), its
            // strided one (x - mean) * rstd * w + b (+-inf); either way the
            // centered form below would give NaN from 0 * inf.
            let (center_at, shift_by) = if strided {
                (m, bias)
            } else {
                (T::zero(), bias - stat.mean * a)
            };
            center.push(center_at);
            scale.push(T::c(a));
            shift.push(T::c(shift_by));
            continue;
        }
        center.push(m);
        scale.push(T::c(a));
        shift.push(T::c(bias - (stat.mean - m.to_f64()) * a));
    }
    (center, scale, shift)
}

/// `F.batch_norm`. In training mode, normalizes with the batch statistics
/// (biased variance) and updates the running stats in place with the
/// unbiased variance; otherwise normalizes with the running stats.
/// Whether `x` is contiguous or channels-last: the layouts PyTorch's fast
/// batch-norm kernels take. They sum float32 batch statistics in float32 (a
/// variance past its range is inf there) and normalize as x * a + shift;
/// its generic kernel, for other layouts, sums in double and normalizes
/// as (x - mean) * a + b.
fn dense_layout(x: &Tensor) -> bool {
    if x.is_contiguous() {
        return true;
    }
    let (shape, strides) = (x.shape(), x.strides());
    if !matches!(shape.len(), 4 | 5) {
        return false;
    }
    // channels last: (n, spatial..., c) row-major, size-1 dims free
    let order = std::iter::once(0)
        .chain(2..shape.len())
        .chain(std::iter::once(1));
    let mut expected = 1isize;
    for d in order.rev() {
        if shape[d] != 1 {
            if strides[d] != expected {
                return false;
            }
            expected *= shape[d] as isize;
        }
    }
    true
}

#[allow(clippy::too_many_arguments)]
pub fn batch_norm(
    x: &Tensor,
    rm: Option<&Tensor>,
    rv: Option<&Tensor>,
    w: Option<&Tensor>,
    b: Option<&Tensor>,
    training: bool,
    momentum: f64,
    eps: f64,
) -> Result<Tensor> {
    require_float(x, "batch_norm")?;
    let sh = x.shape().to_vec();
    if sh.len() < 2 && rm.is_none() && rv.is_none() {
        // (PyTorch checks the weight and bias against 0 channels first)
        check_len(w, "weight", 0)?;
        check_len(b, "bias", 0)?;
        // (PyTorch reads the channel count as size(1) first)
        let hi = sh.len().max(1) as i64 - 1;
        bail!(
            Index,
            "Dimension out of range (expected to be in range of [{}, {hi}], but got 1)",
            -(hi + 1)
        );
    }
    if sh.len() < 2 {
        bail!(
            Runtime,
            "batch_norm: Expected at least 2 dimensions for input tensor but received {}",
            sh.len()
        );
    }
    let (n, c) = (sh[0], sh[1]);
    let s: usize = sh[2..].iter().product();
    check_len(rm, "running_mean", c)?;
    check_len(rv, "running_var", c)?;
    check_len(w, "weight", c)?;
    check_len(b, "bias", c)?;
    for t in [rm, rv].into_iter().flatten() {
        if t.ndim() != 1 {
            bail!(
                Runtime,
                "TensorAccessor expected 1 dims but tensor has {}",
                t.ndim()
            );
        }
    }
    let inputs: Vec<&Tensor> = [Some(x), w, b].into_iter().flatten().collect();
    if let Some(out) = super::meta::result("NativeBatchNormBackward0", &inputs, &sh, x.dtype()) {
        return Ok(out);
    }
    if x.is_gpu() {
        return batch_norm_device(x, rm, rv, w, b, training, momentum, eps);
    }
    // bfloat16 (autocast) runs kernels that widen as they go (`norm_bf16`).
    let bf16_in = x.dtype() == DType::BF16;
    let xc = if bf16_in {
        x.contiguous_raw()
    } else {
        half::widen(x).contiguous_raw()
    };
    let st: Vec<Stat> = if training && bf16_in {
        let xs = xc.as_slice::<::half::bf16>().expect("contiguous");
        crate::cpu::norm_bf16::channel_stats(xs, n, c, s)
    } else if training {
        let st = crate::dispatch_float!(xc.dtype(), "batch_norm", T => k::channel_stats(xc.as_slice::<T>().expect("contiguous"), n, c, s));
        let overflowed = st
            .iter()
            .any(|s| !(s.mean.is_finite() && s.var.is_finite()));
        if x.dtype() == DType::F32 && overflowed && !dense_layout(x) {
            // Squares past float32's range (|x| ~ 1e30) in a layout that
            // PyTorch's generic kernel reduces in double: finite there.
            let x64 = xc.cast_raw(DType::F64).contiguous_raw();
            k::channel_stats(x64.as_slice::<f64>().expect("contiguous"), n, c, s)
        } else {
            st
        }
    } else {
        let (Some(rm), Some(rv)) = (rm, rv) else {
            bail!(
                Runtime,
                "running_mean and running_var must be defined in evaluation mode"
            );
        };
        let (m, v) = (rm.to_f64_vec(), rv.to_f64_vec());
        m.into_iter()
            .zip(v)
            .map(|(mean, var)| Stat { mean, var })
            .collect()
    };
    // (PyTorch's kernel choice, which only shows with an infinite weight)
    let strided = !dense_layout(x)
        || ![rm, rv, w, b]
            .into_iter()
            .flatten()
            .all(|t| t.is_contiguous());
    if strided && [w, b].into_iter().flatten().any(|t| t.ndim() != 1) {
        // (PyTorch's generic kernel views them per channel after asserting)
        bail!(
            Runtime,
            "t.defined() && t.dim() == 1 INTERNAL ASSERT FAILED at \"/__w/pytorch/pytorch/aten/src/ATen/native/Normalization.cpp\":160, please report a bug to PyTorch. "
        );
    }
    let (w, b) = (as_dtype(w, x)?, as_dtype(b, x)?);
    let w = w
        .map(|t| crate::ops::shape::reshape_to(&t, &[c]))
        .transpose()?;
    let b = b
        .map(|t| crate::ops::shape::reshape_to(&t, &[c]))
        .transpose()?;
    let y = if bf16_in {
        bn_forward_t::<f32>(&xc, &st, &w, &b, eps, strided)
    } else {
        crate::dispatch_float!(xc.dtype(), "batch_norm", T => bn_forward_t::<T>(&xc, &st, &w, &b, eps, strided))
    };
    let y = half::narrow(y, x.dtype());
    if training && n * s > 0 {
        let m = (n * s) as f64;
        let unbias = if n * s > 1 { m / (m - 1.0) } else { f64::NAN };
        update_running(rm, |ch| st[ch].mean, momentum)?;
        update_running(rv, |ch| st[ch].var * unbias, momentum)?;
    }
    let (dtype, need_wb) = (x.dtype().compute_dtype(), w.is_some() || b.is_some());
    // Eval mode normalizes with the running statistics as they were now.
    let eval_stats = (!training).then(|| {
        let (m, v): (Vec<f64>, Vec<f64>) = st.iter().map(|s| (s.mean, s.var)).unzip();
        (
            Tensor::from_vec(m, &[1, c, 1]),
            Tensor::from_vec(v, &[1, c, 1]),
        )
    });
    let composite: Box<NormComposite> =
        Box::new(move |x, w, b| batch_norm_composite(x, eval_stats.as_ref(), w, b, eps));
    record_norm_with(
        "NativeBatchNormBackward0",
        (x, &w, &b, &y),
        composite,
        true,
        move |gy, x, w| {
            if x.dtype() == DType::BF16 {
                return Ok(bn_backward_bf16(gy, x, w, &st, eps, training, need_wb));
            }
            Ok(
                crate::dispatch_float!(dtype, "batch_norm backward", T => bn_backward_t::<T>(gy, x, w, &st, eps, training, need_wb)),
            )
        },
    );
    Ok(y)
}

// ------------------------------------------------------- on the wgpu device

/// `(x - mean) / sqrt(var + eps)` over `dims` of `x` (biased variance), with
/// the statistics; composed of device ops, so autograd differentiates it.
fn standardize(x: &Tensor, dims: &[i64], eps: f64) -> Result<(Tensor, Tensor, Tensor)> {
    use crate::ops::{binary, reduce, unary};
    let mean = reduce::mean(x, Some(dims), true)?;
    let centered = binary::sub(x, &mean)?;
    let var = reduce::mean(&binary::mul(&centered, &centered)?, Some(dims), true)?;
    let eps = crate::ops::creation::scalar_like(eps, &var);
    let y = binary::div(&centered, &unary::sqrt(&binary::add(&var, &eps)?)?)?;
    Ok((y, mean, var))
}

/// `y * w + b` with per-channel `w`, `b` on dim 1 of a (n, c, s) tensor.
fn affine_channels(y: &Tensor, w: Option<&Tensor>, b: Option<&Tensor>, c: usize) -> Result<Tensor> {
    use crate::ops::{binary, shape::reshape_to};
    let mut y = y.clone();
    if let Some(w) = w {
        y = binary::mul(&y, &reshape_to(w, &[1, c, 1])?)?;
    }
    if let Some(b) = b {
        y = binary::add(&y, &reshape_to(b, &[1, c, 1])?)?;
    }
    Ok(y)
}

/// Layer / group / instance normalization as differentiable ops: the device
/// path, and the composite differentiated under `create_graph`.
fn rows_norm_composite(
    x: &Tensor,
    sh: RowShape,
    w: Option<&Tensor>,
    b: Option<&Tensor>,
    eps: f64,
) -> Result<Tensor> {
    rows_norm_device(x, sh, w, b, eps)
}

/// Batch normalization as differentiable ops, for the double backward: with
/// the batch statistics, or (eval mode) the given running mean and variance
/// (shape (1, c, 1), float64), which are constants.
fn batch_norm_composite(
    x: &Tensor,
    eval_stats: Option<&(Tensor, Tensor)>,
    w: Option<&Tensor>,
    b: Option<&Tensor>,
    eps: f64,
) -> Result<Tensor> {
    use crate::ops::{binary, creation::scalar_like, shape::reshape_to, unary};
    let (n, c) = (x.shape()[0], x.shape()[1]);
    let s: usize = x.shape()[2..].iter().product();
    let xr = reshape_to(x, &[n, c, s])?;
    let y = match eval_stats {
        None => standardize(&xr, &[0, 2], eps)?.0,
        Some((mean, var)) => {
            let (mean, var) = (
                unary::to_dtype(mean, x.dtype())?,
                unary::to_dtype(var, x.dtype())?,
            );
            let eps = scalar_like(eps, &var);
            binary::div(
                &binary::sub(&xr, &mean)?,
                &unary::sqrt(&binary::add(&var, &eps)?)?,
            )?
        }
    };
    reshape_to(&affine_channels(&y, w, b, c)?, x.shape())
}

/// Layer / group / instance normalization of a device tensor.
fn rows_norm_device(
    x: &Tensor,
    sh: RowShape,
    w: Option<&Tensor>,
    b: Option<&Tensor>,
    eps: f64,
) -> Result<Tensor> {
    use crate::ops::shape::reshape_to;
    let per_group = sh.c / sh.groups * sh.s;
    let (y, _, _) = standardize(&reshape_to(x, &[sh.n, sh.groups, per_group])?, &[2], eps)?;
    let y = affine_channels(&reshape_to(&y, &[sh.n, sh.c, sh.s])?, w, b, sh.c)?;
    reshape_to(&y, x.shape())
}

/// Batch normalization of a device tensor; running statistics are updated
/// on the device.
#[allow(clippy::too_many_arguments)]
fn batch_norm_device(
    x: &Tensor,
    rm: Option<&Tensor>,
    rv: Option<&Tensor>,
    w: Option<&Tensor>,
    b: Option<&Tensor>,
    training: bool,
    momentum: f64,
    eps: f64,
) -> Result<Tensor> {
    use crate::ops::{binary, creation::scalar_like, shape::reshape_to, unary};
    let (n, c) = (x.shape()[0], x.shape()[1]);
    let s: usize = x.shape()[2..].iter().product();
    let xr = reshape_to(x, &[n, c, s])?;
    let y = if training {
        let (y, mean, var) = standardize(&xr, &[0, 2], eps)?;
        let count = n * s;
        if count > 0 {
            let _ng = crate::autograd::GradModeGuard::new(false);
            let unbias = if count > 1 {
                count as f64 / (count as f64 - 1.0)
            } else {
                f64::NAN
            };
            let blend = |r: &Tensor, stat: &Tensor, scale: f64| -> Result<()> {
                let new = binary::add(
                    &binary::mul(r, &scalar_like(1.0 - momentum, r))?,
                    &binary::mul(
                        &reshape_to(&stat.detach(), &[c])?,
                        &scalar_like(momentum * scale, r),
                    )?,
                )?;
                write_into(r, &new)
            };
            if let Some(r) = rm {
                blend(r, &mean, 1.0)?;
            }
            if let Some(r) = rv {
                blend(r, &var, unbias)?;
            }
        }
        y
    } else {
        let (Some(rm), Some(rv)) = (rm, rv) else {
            bail!(
                Runtime,
                "running_mean and running_var must be defined in evaluation mode"
            );
        };
        let mean = reshape_to(rm, &[1, c, 1])?;
        let var = reshape_to(rv, &[1, c, 1])?;
        let eps = scalar_like(eps, &var);
        binary::div(
            &binary::sub(&xr, &mean)?,
            &unary::sqrt(&binary::add(&var, &eps)?)?,
        )?
    };
    reshape_to(&affine_channels(&y, w, b, c)?, x.shape())
}
