//! RAdam (rectified Adam) with (decoupled) weight decay and maximize.

use super::{bump_steps, for_each_chunk, group_dtype, lerp};
use crate::error::Result;
use crate::optim_dispatch;
use crate::tensor::dtype::Float;
use crate::tensor::Tensor;

#[derive(Clone, Copy, Debug)]
pub struct RadamHyper {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    pub decoupled: bool,
    pub maximize: bool,
}

/// Scalars of one parameter's update.
#[derive(Clone, Copy, Debug)]
pub struct RadamStep {
    pub bias_correction1: f64,
    pub bias_correction2_sqrt: f64,
    /// The rectification term when the variance is tractable (rho_t > 5).
    pub rect: Option<f64>,
}

impl RadamStep {
    pub fn new(h: &RadamHyper, step: f64) -> RadamStep {
        let bc1 = 1.0 - h.beta1.powf(step);
        let bc2 = 1.0 - h.beta2.powf(step);
        let rho_inf = 2.0 / (1.0 - h.beta2) - 1.0;
        let rho_t = rho_inf - 2.0 * step * h.beta2.powf(step) / bc2;
        let rect = if rho_t > 5.0 {
            Some(
                ((rho_t - 4.0) * (rho_t - 2.0) * rho_inf
                    / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t))
                    .sqrt(),
            )
        } else {
            None
        };
        RadamStep {
            bias_correction1: bc1,
            bias_correction2_sqrt: bc2.sqrt(),
            rect,
        }
    }
}

/// One RAdam update of a chunk.
#[inline(always)]
pub fn radam_kernel<T: Float>(
    p: &mut [T],
    g: &[T],
    m: &mut [T],
    v: &mut [T],
    h: &RadamHyper,
    s: &RadamStep,
) {
    let wd = T::c(h.weight_decay);
    let use_l2 = h.weight_decay != 0.0 && !h.decoupled;
    let use_decay = h.weight_decay != 0.0 && h.decoupled;
    let decay = T::c(1.0 - h.lr * h.weight_decay);
    let w1 = T::c(1.0 - h.beta1);
    let b2 = T::c(h.beta2);
    let w2 = T::c(1.0 - h.beta2);
    let eps = T::c(h.eps);
    let bc1 = T::c(s.bias_correction1);
    let bc2s = T::c(s.bias_correction2_sqrt);
    let lr = T::c(h.lr);
    let rect = s.rect.map(T::c);
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
        let bcea = nm / bc1;
        let upd = match rect {
            Some(r) => bcea * lr * (bc2s / (nv.sqrt() + eps)) * r,
            None => bcea * lr,
        };
        *p = pj - upd;
    }
}

pub fn radam_step(
    params: &[Tensor],
    grads: &[Tensor],
    exp_avgs: &[Tensor],
    exp_avg_sqs: &[Tensor],
    steps: &[Tensor],
    h: &RadamHyper,
) -> Result<()> {
    let steps = bump_steps(steps)?;
    let per: Vec<RadamStep> = steps.iter().map(|&s| RadamStep::new(h, s)).collect();
    let lists = vec![
        params.to_vec(),
        grads.to_vec(),
        exp_avgs.to_vec(),
        exp_avg_sqs.to_vec(),
    ];
    optim_dispatch!(group_dtype(params)?, T => for_each_chunk::<T>(&lists, |i, s| match s {
        [p, g, m, v] => radam_kernel(p, g, m, v, h, &per[i]),
        _ => unreachable!(),
    }))
}
