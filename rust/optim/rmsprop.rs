//! RMSprop, plain or centered, with momentum, weight decay and maximize.

use super::{bump_steps, for_each_chunk, group_dtype, lerp};
use crate::error::Result;
use crate::optim_dispatch;
use crate::tensor::dtype::Float;
use crate::tensor::Tensor;

#[derive(Clone, Copy, Debug)]
pub struct RmspropHyper {
    pub lr: f64,
    pub alpha: f64,
    pub eps: f64,
    pub weight_decay: f64,
    pub momentum: f64,
    pub centered: bool,
    pub maximize: bool,
}

/// One RMSprop update of a chunk.
#[inline(always)]
pub fn rmsprop_kernel<T: Float>(
    p: &mut [T],
    g: &[T],
    sq: &mut [T],
    mut buf: Option<&mut [T]>,
    mut gavg: Option<&mut [T]>,
    h: &RmspropHyper,
) {
    let wd = T::c(h.weight_decay);
    let use_wd = h.weight_decay != 0.0;
    let alpha = T::c(h.alpha);
    let one_m_alpha = T::c(1.0 - h.alpha);
    let eps = T::c(h.eps);
    let neg_lr = T::c(-h.lr);
    let mom = T::c(h.momentum);
    let one = T::c(1.0);
    for j in 0..p.len() {
        let mut d = if h.maximize { -g[j] } else { g[j] };
        if use_wd {
            d = d + wd * p[j];
        }
        let s = sq[j] * alpha + one_m_alpha * d * d;
        sq[j] = s;
        let avg = match gavg.as_deref_mut() {
            Some(ga) => {
                let a = lerp(ga[j], d, one_m_alpha);
                ga[j] = a;
                (s + (-one) * a * a).sqrt()
            }
            None => s.sqrt(),
        } + eps;
        match buf.as_deref_mut() {
            Some(b) => {
                let nb = b[j] * mom + one * d / avg;
                b[j] = nb;
                p[j] = p[j] + neg_lr * nb;
            }
            None => p[j] = p[j] + neg_lr * d / avg,
        }
    }
}

/// `bufs` is empty unless momentum > 0; `grad_avgs` is empty unless centered.
pub fn rmsprop_step(
    params: &[Tensor],
    grads: &[Tensor],
    square_avgs: &[Tensor],
    bufs: &[Tensor],
    grad_avgs: &[Tensor],
    steps: &[Tensor],
    h: &RmspropHyper,
) -> Result<()> {
    bump_steps(steps)?;
    let mut lists = vec![params.to_vec(), grads.to_vec(), square_avgs.to_vec()];
    let (with_buf, with_avg) = (!bufs.is_empty(), !grad_avgs.is_empty());
    if with_buf {
        lists.push(bufs.to_vec());
    }
    if with_avg {
        lists.push(grad_avgs.to_vec());
    }
    optim_dispatch!(group_dtype(params)?, T => for_each_chunk::<T>(&lists, |_, s| match s {
        [p, g, sq] => rmsprop_kernel(p, g, sq, None, None, h),
        [p, g, sq, x] if with_buf => rmsprop_kernel(p, g, sq, Some(&mut x[..]), None, h),
        [p, g, sq, x] => rmsprop_kernel(p, g, sq, None, Some(&mut x[..]), h),
        [p, g, sq, b, a] => rmsprop_kernel(p, g, sq, Some(&mut b[..]), Some(&mut a[..]), h),
        _ => unreachable!(),
    }))
}
