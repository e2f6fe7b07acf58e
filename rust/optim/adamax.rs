//! Adamax (infinity-norm Adam) with weight decay and maximize.

use super::{bump_steps, for_each_chunk, group_dtype, lerp};
use crate::error::Result;
use crate::optim_dispatch;
use crate::tensor::dtype::Float;
use crate::tensor::Tensor;

#[derive(Clone, Copy, Debug)]
pub struct AdamaxHyper {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    pub maximize: bool,
}

/// One Adamax update of a chunk with rate `clr = lr / (1 - beta1^step)`.
#[inline(always)]
pub fn adamax_kernel<T: Float>(
    p: &mut [T],
    g: &[T],
    m: &mut [T],
    u: &mut [T],
    clr: f64,
    h: &AdamaxHyper,
) {
    let wd = T::c(h.weight_decay);
    let use_wd = h.weight_decay != 0.0;
    let w1 = T::c(1.0 - h.beta1);
    let b2 = T::c(h.beta2);
    let eps = T::c(h.eps);
    let neg_clr = T::c(-clr);
    for (((p, &g), m), u) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(u.iter_mut()) {
        let mut d = if h.maximize { -g } else { g };
        if use_wd {
            d = d + wd * *p;
        }
        let nm = lerp(*m, d, w1);
        *m = nm;
        let nu = (*u * b2).max_nan(d.abs() + eps);
        *u = nu;
        *p = *p + neg_clr * nm / nu;
    }
}

pub fn adamax_step(
    params: &[Tensor],
    grads: &[Tensor],
    exp_avgs: &[Tensor],
    exp_infs: &[Tensor],
    steps: &[Tensor],
    h: &AdamaxHyper,
) -> Result<()> {
    let steps = bump_steps(steps)?;
    let clrs: Vec<f64> = steps
        .iter()
        .map(|&s| h.lr / (1.0 - h.beta1.powf(s)))
        .collect();
    let lists = vec![
        params.to_vec(),
        grads.to_vec(),
        exp_avgs.to_vec(),
        exp_infs.to_vec(),
    ];
    optim_dispatch!(group_dtype(params)?, T => for_each_chunk::<T>(&lists, |i, s| match s {
        [p, g, m, u] => adamax_kernel(p, g, m, u, clrs[i], h),
        _ => unreachable!(),
    }))
}
