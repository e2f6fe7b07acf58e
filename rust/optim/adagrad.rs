//! Adagrad with lr decay, weight decay and maximize.

use super::{bump_steps, for_each_chunk, group_dtype};
use crate::error::Result;
use crate::optim_dispatch;
use crate::tensor::dtype::Float;
use crate::tensor::Tensor;

#[derive(Clone, Copy, Debug)]
pub struct AdagradHyper {
    pub lr: f64,
    pub lr_decay: f64,
    pub weight_decay: f64,
    pub eps: f64,
    pub maximize: bool,
}

/// One Adagrad update of a chunk with the decayed rate `clr`.
#[inline(always)]
pub fn adagrad_kernel<T: Float>(p: &mut [T], g: &[T], sum: &mut [T], clr: f64, h: &AdagradHyper) {
    let wd = T::c(h.weight_decay);
    let use_wd = h.weight_decay != 0.0;
    let eps = T::c(h.eps);
    let neg_clr = T::c(-clr);
    let one = T::c(1.0);
    for ((p, &g), s) in p.iter_mut().zip(g).zip(sum.iter_mut()) {
        let mut d = if h.maximize { -g } else { g };
        if use_wd {
            d = d + wd * *p;
        }
        let ns = *s + one * d * d;
        *s = ns;
        let std = ns.sqrt() + eps;
        *p = *p + neg_clr * d / std;
    }
}

pub fn adagrad_step(
    params: &[Tensor],
    grads: &[Tensor],
    sums: &[Tensor],
    steps: &[Tensor],
    h: &AdagradHyper,
) -> Result<()> {
    let steps = bump_steps(steps)?;
    let clrs: Vec<f64> = steps
        .iter()
        .map(|&s| h.lr / (1.0 + (s - 1.0) * h.lr_decay))
        .collect();
    let lists = vec![params.to_vec(), grads.to_vec(), sums.to_vec()];
    optim_dispatch!(group_dtype(params)?, T => for_each_chunk::<T>(&lists, |i, s| match s {
        [p, g, sum] => adagrad_kernel(p, g, sum, clrs[i], h),
        _ => unreachable!(),
    }))
}
