//! Adadelta with weight decay and maximize.

use super::{bump_steps, for_each_chunk, group_dtype};
use crate::error::Result;
use crate::optim_dispatch;
use crate::tensor::dtype::Float;
use crate::tensor::Tensor;

#[derive(Clone, Copy, Debug)]
pub struct AdadeltaHyper {
    pub lr: f64,
    pub rho: f64,
    pub eps: f64,
    pub weight_decay: f64,
    pub maximize: bool,
}

/// One Adadelta update of a chunk.
#[inline(always)]
pub fn adadelta_kernel<T: Float>(
    p: &mut [T],
    g: &[T],
    sq: &mut [T],
    acc: &mut [T],
    h: &AdadeltaHyper,
) {
    let wd = T::c(h.weight_decay);
    let use_wd = h.weight_decay != 0.0;
    let rho = T::c(h.rho);
    let one_m_rho = T::c(1.0 - h.rho);
    let eps = T::c(h.eps);
    let neg_lr = T::c(-h.lr);
    for (((p, &g), s), a) in p.iter_mut().zip(g).zip(sq.iter_mut()).zip(acc.iter_mut()) {
        let mut d = if h.maximize { -g } else { g };
        if use_wd {
            d = d + wd * *p;
        }
        let ns = *s * rho + one_m_rho * d * d;
        *s = ns;
        let std = (ns + eps).sqrt();
        let delta = (*a + eps).sqrt() / std * d;
        *a = *a * rho + one_m_rho * delta * delta;
        *p = *p + neg_lr * delta;
    }
}

pub fn adadelta_step(
    params: &[Tensor],
    grads: &[Tensor],
    square_avgs: &[Tensor],
    acc_deltas: &[Tensor],
    steps: &[Tensor],
    h: &AdadeltaHyper,
) -> Result<()> {
    bump_steps(steps)?;
    let lists = vec![
        params.to_vec(),
        grads.to_vec(),
        square_avgs.to_vec(),
        acc_deltas.to_vec(),
    ];
    optim_dispatch!(group_dtype(params)?, T => for_each_chunk::<T>(&lists, |_, s| match s {
        [p, g, sq, acc] => adadelta_kernel(p, g, sq, acc, h),
        _ => unreachable!(),
    }))
}
