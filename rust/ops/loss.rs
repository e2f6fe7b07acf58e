//! Fused losses: cross-entropy (log-softmax + NLL with class weights,
//! ignore_index and label smoothing) in one numerically stable pass, with a
//! dedicated backward kernel.

use crate::autograd::{composite, record, SavedTensor};
use crate::error::{Error, Result};
use crate::parallel;
use crate::tensor::dtype::Float;
use crate::tensor::storage::BufferElem;
use crate::tensor::{DType, Tensor};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reduction {
    None,
    Mean,
    Sum,
}

impl Reduction {
    pub fn parse(s: &str) -> Result<Reduction> {
        match s {
            "none" => Ok(Reduction::None),
            "mean" => Ok(Reduction::Mean),
            "sum" => Ok(Reduction::Sum),
            other => Err(Error::Value(format!(
                "{other} is not a valid value for reduction"
            ))),
        }
    }
}

/// Per-row results of the forward pass.
struct Rows {
    /// loss of each row (0 for ignored rows)
    loss: Vec<f64>,
    /// log-sum-exp of each row (kept for the backward pass)
    lse: Vec<f64>,
    /// sum over rows of the target's class weight (the mean's denominator)
    denom: f64,
}

struct Params<'a> {
    c: usize,
    targets: &'a [i64],
    weight: Option<&'a [f64]>,
    ignore_index: i64,
    smoothing: f64,
}

crate::multiversion! {
    /// max and log-sum-exp of one row, in the row's float type with
    /// vectorisable exp (8 independent partial sums, combined in f64).
    fn row_lse(xr: &[T]) -> f64 => row_lse_impl + avx512
}

crate::multiversion! {
    /// `o[k] = a * exp(x[k] - l) + b`: a row of the cross-entropy gradient.
    fn exp_affine(o: &mut [T], x: &[T], a: T, l: T, b: T) => exp_affine_impl + avx512
}

#[inline(always)]
fn exp_affine_impl<T: Float>(o: &mut [T], x: &[T], a: T, l: T, b: T) {
    for (o, &v) in o.iter_mut().zip(x) {
        *o = a * (v - l).fast_exp_nonpositive() + b;
    }
}

#[inline(always)]
fn row_lse_impl<T: Float>(xr: &[T]) -> f64 {
    let mut mx = crate::cpu::vmath::max_lanes(xr);
    if mx.to_f64() == f64::INFINITY {
        // inf - inf: PyTorch's log-softmax gives NaN here too.
        return f64::NAN;
    }
    if !mx.to_f64().is_finite() {
        mx = T::zero();
    }
    // exp into a small stack block, then sum it: two simple loops vectorise
    // fully (one fused loop with lane accumulators compiled to 4-wide and
    // scalar code, 3x slower).
    let mut block = [T::zero(); 256];
    let mut s = 0.0f64;
    for ch in xr.chunks(block.len()) {
        let e = &mut block[..ch.len()];
        exp_affine_impl(e, ch, T::one(), mx, T::zero());
        s += crate::cpu::vmath::sum_lanes(e);
    }
    mx.to_f64() + s.ln()
}

fn forward_rows<T: Float + BufferElem>(x: &[T], p: &Params<'_>) -> Rows {
    let c = p.c;
    let m = p.targets.len();
    let row = |i: usize| -> (f64, f64, f64) {
        let xr = &x[i * c..(i + 1) * c];
        let lse = row_lse(xr);
        let t = p.targets[i];
        if t == p.ignore_index {
            return (0.0, lse, 0.0);
        }
        let t = t as usize;
        let wt = p.weight.map_or(1.0, |w| w[t]);
        let nll = -wt * (xr[t].to_f64() - lse);
        let mut loss = (1.0 - p.smoothing) * nll;
        if p.smoothing > 0.0 {
            // -sum_c w_c (x_c - lse), term by term as PyTorch (an infinite
            // weight gives inf, where sum(w) lse - sum(w x) gave inf - inf)
            let mut sm = 0.0;
            for (k, &v) in xr.iter().enumerate() {
                sm += p.weight.map_or(1.0, |w| w[k]) * (lse - v.to_f64());
            }
            loss += p.smoothing / c as f64 * sm;
        }
        (loss, lse, wt)
    };
    let res: Vec<(f64, f64, f64)> = if m * c >= parallel::GRAIN && parallel::num_threads() > 1 {
        parallel::map_tasks(m, row)
    } else {
        (0..m).map(row).collect()
    };
    let denom = res.iter().map(|r| r.2).sum();
    Rows {
        loss: res.iter().map(|r| r.0).collect(),
        lse: res.iter().map(|r| r.1).collect(),
        denom,
    }
}

/// d loss / d x for every row, scaled by the row's upstream gradient `g[i]`:
/// a * softmax_k + b_k, then the target's own term.
fn backward_rows<T: Float + BufferElem>(x: &[T], lse: &[f64], g: &[f64], p: &Params<'_>) -> Vec<T> {
    let c = p.c;
    let wsum: f64 = p.weight.map_or(c as f64, |w| w.iter().sum());
    // every row is written in full below (ignored rows with zeros)
    let mut out = crate::tensor::pool::uninit_vec::<T>(x.len());
    let eps = p.smoothing;
    // A zero upstream gradient times an infinite class weight is NaN in
    // PyTorch's NLL backward (a mean over an infinite total weight sends
    // 0 to every row), so the shortcut below takes finite weights only.
    let finite = |k: usize| p.weight.is_none_or(|w| w[k].is_finite());
    let all_finite = p.weight.is_none_or(|w| w.iter().all(|v| v.is_finite()));
    let fill = |i: usize, o: &mut [T]| {
        let t = p.targets[i];
        let zero_grad = g[i] == 0.0
            && (if eps > 0.0 {
                all_finite
            } else {
                t < 0 || finite(t as usize)
            });
        if t == p.ignore_index && eps > 0.0 && !all_finite {
            // PyTorch's smoothing term of an ignored row is masked to 0
            // after the weighted sum: its backward, 0 * inf, is NaN.
            o.fill(T::c(f64::NAN));
            return;
        }
        if t == p.ignore_index || zero_grad {
            // No gradient reaches this row's log-softmax, whose backward
            // 0 - softmax * 0 is still NaN where the log-probability is
            // (a row holding +inf, inf - inf; a NaN logit), as in PyTorch.
            let (xr, l) = (&x[i * c..(i + 1) * c], lse[i]);
            for (o, &v) in o.iter_mut().zip(xr) {
                *o = if (v.to_f64() - l).is_nan() {
                    T::c(f64::NAN)
                } else {
                    T::zero()
                };
            }
            return;
        }
        let t = t as usize;
        let wt = p.weight.map_or(1.0, |w| w[t]);
        let xr = &x[i * c..(i + 1) * c];
        // (without smoothing the other classes' weights play no part: an
        // infinite one must not turn 0 * inf into NaN)
        let smoothed = if eps > 0.0 {
            eps / c as f64 * wsum
        } else {
            0.0
        };
        let a = T::c(g[i] * ((1.0 - eps) * wt + smoothed));
        let l = T::c(lse[i]);
        if a.to_f64().abs() >= 1e20 || a.to_f64().is_nan() {
            // A huge or infinite factor makes the subnormal softmax terms
            // (e^-87.3 .. e^-103.9) that the cheaper exp flushes to 0 count
            // (inf * 7e-41 is inf, not NaN), as in PyTorch's.
            let bs = g[i] * eps / c as f64;
            for k in 0..c {
                let wk = if eps > 0.0 {
                    p.weight.map_or(1.0, |w| w[k])
                } else {
                    1.0
                };
                o[k] = a * (xr[k] - l).fast_exp() - T::c(bs * wk);
            }
            o[t] = o[t] - T::c(g[i] * (1.0 - eps) * wt);
            return;
        }
        match p.weight {
            Some(w) if eps > 0.0 => {
                let bs = g[i] * eps / c as f64;
                crate::cpu::multiversion::with_fma(
                    #[inline(always)]
                    || {
                        for k in 0..c {
                            o[k] = a * (xr[k] - l).fast_exp_nonpositive() - T::c(bs * w[k]);
                        }
                    },
                );
            }
            _ => exp_affine(o, xr, a, l, T::c(-g[i] * eps / c as f64)),
        }
        o[t] = o[t] - T::c(g[i] * (1.0 - eps) * wt);
    };
    if x.len() >= parallel::GRAIN && parallel::num_threads() > 1 {
        parallel::for_each_chunk_mut(&mut out, c, fill);
    } else {
        out.chunks_mut(c.max(1))
            .enumerate()
            .for_each(|(i, o)| fill(i, o));
    }
    out
}

/// Cross-entropy of `logits` (M, C) against class indices `target` (M).
pub fn cross_entropy(
    logits: &Tensor,
    target: &Tensor,
    weight: Option<&Tensor>,
    ignore_index: i64,
    label_smoothing: f64,
    reduction: Reduction,
) -> Result<Tensor> {
    if logits.ndim() != 2 {
        return Err(Error::Runtime(format!(
            "cross_entropy: expected 2-D logits (M, C), got {:?}",
            logits.shape()
        )));
    }
    let (m, c) = (logits.shape()[0], logits.shape()[1]);
    if target.ndim() != 1 || target.shape()[0] != m {
        return Err(Error::Value(format!(
            "Expected input batch_size ({m}) to match target batch_size ({}).",
            target.shape().first().copied().unwrap_or(0)
        )));
    }
    if target.dtype().is_float() || target.dtype() == DType::Bool {
        return Err(Error::Runtime(format!(
            "expected scalar type Long but found {}",
            target.dtype().name()
        )));
    }
    let shape: &[usize] = match reduction {
        Reduction::None => &[m],
        _ => &[],
    };
    if let Some(out) =
        super::meta::result("NllLossBackward0", &[logits, target], shape, logits.dtype())
    {
        return Ok(out);
    }
    // Half types as PyTorch computes them: log_softmax rounded to the half
    // type, then the (float-accumulated) negative log-likelihood.
    if logits.is_gpu() || target.is_gpu() || logits.dtype().is_half() {
        return cross_entropy_composite(
            logits,
            target,
            weight,
            ignore_index,
            label_smoothing,
            reduction,
        );
    }
    let targets = target.cast_raw(DType::I64).to_vec::<i64>();
    for &t in &targets {
        if t != ignore_index && (t < 0 || t as usize >= c) {
            return Err(Error::Index(format!("Target {t} is out of bounds.")));
        }
    }
    let wv: Option<Vec<f64>> = match weight {
        Some(w) => {
            if w.ndim() != 1 || w.shape()[0] != c {
                return Err(Error::Runtime(format!(
                    "weight tensor should be defined either for all {c} classes or no classes but got weight tensor of shape: {:?}",
                    w.shape()
                )));
            }
            Some(w.to_f64_vec())
        }
        None => None,
    };
    let x = logits.contiguous_raw();
    let dtype = x.dtype();
    let params = Params {
        c,
        targets: &targets,
        weight: wv.as_deref(),
        ignore_index,
        smoothing: label_smoothing,
    };
    let rows = crate::dispatch_float!(dtype, "cross_entropy", T => forward_rows::<T>(x.as_slice::<T>().expect("contiguous"), &params));
    let out_vals: Vec<f64> = match reduction {
        Reduction::None => rows.loss.clone(),
        Reduction::Sum => vec![rows.loss.iter().sum()],
        Reduction::Mean => vec![rows.loss.iter().sum::<f64>() / rows.denom],
    };
    let shape: Vec<usize> = if reduction == Reduction::None {
        vec![m]
    } else {
        vec![]
    };
    let out = Tensor::from_buffer(
        crate::tensor::access::buffer_from_f64(&out_vals, dtype),
        &shape,
    );
    let saved = SavedTensor::new(&x);
    // The logits themselves (with their graph, unlike the contiguous copy)
    // for the differentiable gradient under `create_graph`.
    let saved_logits = SavedTensor::new(logits);
    let lse = rows.lse;
    let denom = rows.denom;
    record("CrossEntropyBackward0", &[logits], &[&out], move |g| {
        let Some(g) = &g[0] else {
            return Ok(vec![None]);
        };
        // (the logits' version is checked only when they are read)
        if crate::autograd::is_grad_enabled() {
            let logits = saved_logits.get()?;
            if composite::wants_graph(g, &[logits]) {
                let spec = CeComposite {
                    targets: &targets,
                    weight: wv.as_deref(),
                    ignore_index,
                    smoothing: label_smoothing,
                    reduction,
                    denom,
                };
                return composite::vjp(&[logits], &[Some(g.clone())], |ins| {
                    Ok(vec![spec.loss(ins[0])?])
                });
            }
        }
        let gv = g.to_f64_vec();
        let per_row: Vec<f64> = match reduction {
            Reduction::None => gv,
            Reduction::Sum => vec![gv[0]; m],
            Reduction::Mean => vec![gv[0] / denom; m],
        };
        let x = saved.get()?;
        let params = Params {
            c,
            targets: &targets,
            weight: wv.as_deref(),
            ignore_index,
            smoothing: label_smoothing,
        };
        let grad = crate::dispatch_float!(x.dtype(), "cross_entropy_backward", T => Tensor::from_vec(backward_rows::<T>(x.as_slice::<T>().expect("contiguous"), &lse, &per_row, &params), &[m, c]));
        Ok(vec![Some(grad)])
    });
    Ok(out)
}

/// Cross-entropy of class indices as differentiable ops, for the double
/// backward (`autograd::composite`): the targets, weights and the mean's
/// denominator are the constants the forward pass saw.
struct CeComposite<'a> {
    targets: &'a [i64],
    weight: Option<&'a [f64]>,
    ignore_index: i64,
    smoothing: f64,
    reduction: Reduction,
    denom: f64,
}

impl CeComposite<'_> {
    fn loss(&self, logits: &Tensor) -> Result<Tensor> {
        use super::binary::{add, mul, sub};
        use super::reduce::{logsumexp, sum};
        let (m, c) = (logits.shape()[0], logits.shape()[1]);
        let dtype = logits.dtype();
        let constant = |v: Vec<f64>, shape: &[usize]| Tensor::from_vec(v, shape).cast_raw(dtype);
        let s = |v: f64, like: &Tensor| super::creation::scalar_like(v, like);
        // log_softmax as x - logsumexp(x): differentiable to any order.
        let logp = sub(logits, &logsumexp(logits, &[1], true)?)?;
        let valid: Vec<bool> = self
            .targets
            .iter()
            .map(|&t| t != self.ignore_index)
            .collect();
        // ignored rows pick class 0 with weight 0
        let safe: Vec<i64> = self
            .targets
            .iter()
            .zip(&valid)
            .map(|(&t, &v)| if v { t } else { 0 })
            .collect();
        let wt: Vec<f64> = safe
            .iter()
            .zip(&valid)
            .map(|(&t, &v)| {
                if v {
                    self.weight.map_or(1.0, |w| w[t as usize])
                } else {
                    0.0
                }
            })
            .collect();
        let picked = super::index::gather(&logp, 1, &Tensor::from_vec(safe, &[m, 1]))?;
        let picked = super::shape::reshape_to(&picked, &[m])?;
        let mut rows = mul(&picked, &constant(wt.iter().map(|w| -w).collect(), &[m]))?;
        if self.smoothing > 0.0 {
            // (1 - e) * nll + e / C * sum_c(-w_c * logp_c), ignored rows 0
            let all = match self.weight {
                Some(w) => mul(&logp, &constant(w.to_vec(), &[1, c]))?,
                None => logp.clone(),
            };
            let keep: Vec<f64> = valid
                .iter()
                .map(|&v| if v { -self.smoothing / c as f64 } else { 0.0 })
                .collect();
            let smooth = mul(&sum(&all, Some(&[1]), false)?, &constant(keep, &[m]))?;
            rows = add(&mul(&rows, &s(1.0 - self.smoothing, &rows))?, &smooth)?;
        }
        match self.reduction {
            Reduction::None => Ok(rows),
            Reduction::Sum => sum(&rows, None, false),
            Reduction::Mean => {
                let total = sum(&rows, None, false)?;
                if self.denom == 0.0 {
                    // every target ignored: PyTorch's gradient is 0
                    return mul(&total, &s(0.0, &total));
                }
                mul(&total, &s(1.0 / self.denom, &total))
            }
        }
    }
}

/// Cross-entropy from differentiable device ops (log_softmax, gather,
/// reductions), for logits on the wgpu device. Targets are not checked
/// against the class count (that would wait for the device); an
/// out-of-range target contributes the log-probability of a clamped class.
fn cross_entropy_composite(
    logits: &Tensor,
    target: &Tensor,
    weight: Option<&Tensor>,
    ignore_index: i64,
    label_smoothing: f64,
    reduction: Reduction,
) -> Result<Tensor> {
    use super::binary::{compare, mul, CmpOp};
    use super::reduce::sum;
    use super::unary::{neg, to_dtype};
    let (m, c) = (logits.shape()[0], logits.shape()[1]);
    if let Some(w) = weight {
        if w.ndim() != 1 || w.shape()[0] != c {
            return Err(Error::Runtime(format!(
                "weight tensor should be defined either for all {c} classes or no classes but got weight tensor of shape: {:?}",
                w.shape()
            )));
        }
    }
    let s = |v: f64, like: &Tensor| super::creation::scalar_like(v, like);
    let logp = super::softmax::softmax(logits, 1, true)?;
    let valid = compare(
        CmpOp::Ne,
        target,
        &super::creation::full(&[], ignore_index as f64, DType::I64),
    )?;
    let valid = to_dtype(&valid, logp.dtype())?;
    let col = super::shape::reshape_to(target, &[m, 1])?;
    let picked = super::shape::reshape_to(&super::index::gather(&logp, 1, &col)?, &[m])?;
    // per-row weight of the target class (1 without weights), zero if ignored
    let wt = match weight {
        Some(w) => mul(&super::index::index_select(w, 0, target)?, &valid)?,
        None => valid.clone(),
    };
    let mut rows = neg(&mul(&picked, &wt)?)?;
    if label_smoothing > 0.0 {
        // PyTorch: (1 - e) * nll + e / C * sum_c(-w_c * logp_c)
        let all = match weight {
            Some(w) => mul(&logp, w)?,
            None => logp.clone(),
        };
        let smooth = mul(&neg(&sum(&all, Some(&[1]), false)?)?, &valid)?;
        rows = super::binary::add(
            &mul(&rows, &s(1.0 - label_smoothing, &rows))?,
            &mul(&smooth, &s(label_smoothing / c as f64, &rows))?,
        )?;
    }
    match reduction {
        Reduction::None => Ok(rows),
        Reduction::Sum => sum(&rows, None, false),
        Reduction::Mean => super::binary::div(&sum(&rows, None, false)?, &sum(&wt, None, false)?),
    }
}
