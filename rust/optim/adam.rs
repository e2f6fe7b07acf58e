//! Adam and AdamW (decoupled weight decay), with amsgrad and maximize.

use super::{bump_steps, for_each_chunk, group_dtype, lerp};
use crate::error::Result;
use crate::optim_dispatch;
use crate::tensor::dtype::Float;
use crate::tensor::Tensor;

#[derive(Clone, Copy, Debug)]
pub struct AdamHyper {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    pub amsgrad: bool,
    pub maximize: bool,
    /// AdamW: `param *= 1 - lr * weight_decay` instead of adding it to the gradient.
    pub decoupled: bool,
}

/// Scalars of one parameter's update at `step`.
#[derive(Clone, Copy, Debug)]
pub struct AdamStep {
    pub step_size: f64,
    pub bias_correction2_sqrt: f64,
}

impl AdamStep {
    pub fn new(h: &AdamHyper, step: f64) -> AdamStep {
        let bc1 = 1.0 - h.beta1.powf(step);
        let bc2 = 1.0 - h.beta2.powf(step);
        AdamStep {
            step_size: h.lr / bc1,
            bias_correction2_sqrt: bc2.sqrt(),
        }
    }
}

/// One Adam update of a chunk; `vmax` is the amsgrad running maximum.
#[inline(always)]
pub fn adam_kernel<T: Float>(
    p: &mut [T],
    g: &[T],
    m: &mut [T],
    v: &mut [T],
    vmax: Option<&mut [T]>,
    h: &AdamHyper,
    s: &AdamStep,
) {
    let n = p.len();
    let (g, m, v) = (&g[..n], &mut m[..n], &mut v[..n]);
    let wd = T::c(h.weight_decay);
    let use_l2 = h.weight_decay != 0.0 && !h.decoupled;
    let decay = T::c(1.0 - h.lr * h.weight_decay);
    let use_decay = h.weight_decay != 0.0 && h.decoupled;
    let w1 = T::c(1.0 - h.beta1);
    let b2 = T::c(h.beta2);
    let w2 = T::c(1.0 - h.beta2);
    let eps = T::c(h.eps);
    let bc2s = T::c(s.bias_correction2_sqrt);
    let neg_step = T::c(-s.step_size);
    let maximize = h.maximize;
    let grad = |p: T, g: T| {
        let d = if maximize { -g } else { g };
        if use_l2 {
            d + wd * p
        } else {
            d
        }
    };
    match vmax {
        None => {
            for j in 0..n {
                let mut pj = p[j];
                if use_decay {
                    pj = pj * decay;
                }
                let d = grad(pj, g[j]);
                let mj = lerp(m[j], d, w1);
                let vj = v[j] * b2 + w2 * d * d;
                m[j] = mj;
                v[j] = vj;
                let denom = vj.sqrt() / bc2s + eps;
                p[j] = pj + neg_step * mj / denom;
            }
        }
        Some(vmax) => {
            let vmax = &mut vmax[..n];
            for j in 0..n {
                let mut pj = p[j];
                if use_decay {
                    pj = pj * decay;
                }
                let d = grad(pj, g[j]);
                let mj = lerp(m[j], d, w1);
                let vj = v[j] * b2 + w2 * d * d;
                m[j] = mj;
                v[j] = vj;
                let mx = vmax[j].max_nan(vj);
                vmax[j] = mx;
                let denom = mx.sqrt() / bc2s + eps;
                p[j] = pj + neg_step * mj / denom;
            }
        }
    }
}

/// `max_exp_avg_sqs` is empty unless amsgrad.
pub fn adam_step(
    params: &[Tensor],
    grads: &[Tensor],
    exp_avgs: &[Tensor],
    exp_avg_sqs: &[Tensor],
    max_exp_avg_sqs: &[Tensor],
    steps: &[Tensor],
    h: &AdamHyper,
) -> Result<()> {
    let steps = bump_steps(steps)?;
    let per: Vec<AdamStep> = steps.iter().map(|&s| AdamStep::new(h, s)).collect();
    if params.first().is_some_and(|p| p.is_gpu()) {
        if !max_exp_avg_sqs.is_empty() {
            return Err(crate::error::Error::Runtime(
                "Adam(amsgrad=True) is not implemented on the wgpu device".into(),
            ));
        }
        return device_adam(params, grads, exp_avgs, exp_avg_sqs, &per, h);
    }
    let mut lists = vec![
        params.to_vec(),
        grads.to_vec(),
        exp_avgs.to_vec(),
        exp_avg_sqs.to_vec(),
    ];
    if !max_exp_avg_sqs.is_empty() {
        lists.push(max_exp_avg_sqs.to_vec());
    }
    optim_dispatch!(group_dtype(params)?, T => for_each_chunk::<T>(&lists, |i, s| match s {
        [p, g, m, v] => adam_kernel(p, g, m, v, None, h, &per[i]),
        [p, g, m, v, mx] => adam_kernel(p, g, m, v, Some(&mut mx[..]), h, &per[i]),
        _ => unreachable!(),
    }))
}

#[cfg(feature = "wgpu")]
fn device_adam(
    params: &[Tensor],
    grads: &[Tensor],
    exp_avgs: &[Tensor],
    exp_avg_sqs: &[Tensor],
    per: &[AdamStep],
    h: &AdamHyper,
) -> Result<()> {
    crate::gpu::optim::adam(params, grads, exp_avgs, exp_avg_sqs, per, h)
}
#[cfg(not(feature = "wgpu"))]
fn device_adam(
    _: &[Tensor],
    _: &[Tensor],
    _: &[Tensor],
    _: &[Tensor],
    _: &[AdamStep],
    _: &AdamHyper,
) -> Result<()> {
    Err(crate::error::Error::Runtime(crate::gpu::NOT_BUILT.into()))
}
