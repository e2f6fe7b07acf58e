//! NAdam (Nesterov Adam) with momentum decay and (decoupled) weight decay.

use super::{bump_steps, for_each_chunk, group_dtype, lerp, scalar_values, set_scalar};
use crate::error::Result;
use crate::optim_dispatch;
use crate::tensor::dtype::Float;
use crate::tensor::Tensor;

#[derive(Clone, Copy, Debug)]
pub struct NadamHyper {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    pub momentum_decay: f64,
    pub decoupled: bool,
    pub maximize: bool,
}

/// Scalars of one parameter's update.
#[derive(Clone, Copy, Debug)]
pub struct NadamStep {
    pub bias_correction2: f64,
    /// Coefficient of `grad / denom`.
    pub c_grad: f64,
    /// Coefficient of `exp_avg / denom`.
    pub c_avg: f64,
}

/// One NAdam update of a chunk.
#[inline(always)]
pub fn nadam_kernel<T: Float>(
    p: &mut [T],
    g: &[T],
    m: &mut [T],
    v: &mut [T],
    h: &NadamHyper,
    s: &NadamStep,
) {
    let wd = T::c(h.weight_decay);
    let use_l2 = h.weight_decay != 0.0 && !h.decoupled;
    let use_decay = h.weight_decay != 0.0 && h.decoupled;
    let decay = T::c(1.0 - h.lr * h.weight_decay);
    let w1 = T::c(1.0 - h.beta1);
    let b2 = T::c(h.beta2);
    let w2 = T::c(1.0 - h.beta2);
    let eps = T::c(h.eps);
    let bc2 = T::c(s.bias_correction2);
    let (cg, ca) = (T::c(s.c_grad), T::c(s.c_avg));
    for (((p, &g), m), v) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
        let mut pj = *p;
        if use_decay {
            pj = pj * decay;
        }
        let mut d = if h.maximize { -g } else { g };
        if use_l2 {
            d = d + wd * pj;
        }
        let nm = lerp(*m, d, w1);
        *m = nm;
        let nv = *v * b2 + w2 * d * d;
        *v = nv;
        let denom = (nv / bc2).sqrt() + eps;
        pj = pj + cg * d / denom;
        *p = pj + ca * nm / denom;
    }
}

pub fn nadam_step(
    params: &[Tensor],
    grads: &[Tensor],
    exp_avgs: &[Tensor],
    exp_avg_sqs: &[Tensor],
    mu_products: &[Tensor],
    steps: &[Tensor],
    h: &NadamHyper,
) -> Result<()> {
    let steps = bump_steps(steps)?;
    let mps = scalar_values(mu_products)?;
    let mut per = Vec::with_capacity(steps.len());
    for ((&step, &mp), t) in steps.iter().zip(&mps).zip(mu_products) {
        let bc2 = 1.0 - h.beta2.powf(step);
        let mu = h.beta1 * (1.0 - 0.5 * 0.96f64.powf(step * h.momentum_decay));
        let mu_next = h.beta1 * (1.0 - 0.5 * 0.96f64.powf((step + 1.0) * h.momentum_decay));
        // mu_product *= mu, in the tensor's precision.
        let mp = match t.dtype() {
            crate::tensor::DType::F32 => ((mp as f32) * (mu as f32)) as f64,
            _ => mp * mu,
        };
        let mp = set_scalar(t, mp);
        let mp_next = mp * mu_next;
        per.push(NadamStep {
            bias_correction2: bc2,
            c_grad: -h.lr * (1.0 - mu) / (1.0 - mp),
            c_avg: (-h.lr * mu_next) / (1.0 - mp_next),
        });
    }
    let lists = vec![
        params.to_vec(),
        grads.to_vec(),
        exp_avgs.to_vec(),
        exp_avg_sqs.to_vec(),
    ];
    optim_dispatch!(group_dtype(params)?, T => for_each_chunk::<T>(&lists, |i, s| match s {
        [p, g, m, v] => nadam_kernel(p, g, m, v, h, &per[i]),
        _ => unreachable!(),
    }))
}
