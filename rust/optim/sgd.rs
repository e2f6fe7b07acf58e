//! SGD with momentum, dampening, Nesterov, weight decay and maximize.

use super::{for_each_chunk, group_dtype};
use crate::error::Result;
use crate::optim_dispatch;
use crate::tensor::dtype::Float;
use crate::tensor::Tensor;

#[derive(Clone, Copy, Debug)]
pub struct SgdHyper {
    pub lr: f64,
    pub momentum: f64,
    pub dampening: f64,
    pub weight_decay: f64,
    pub nesterov: bool,
    pub maximize: bool,
}

/// One SGD update of a chunk. `buf` is the momentum buffer (when momentum != 0);
/// `first` means it is new and takes the (decayed) gradient as is.
#[inline(always)]
pub fn sgd_kernel<T: Float>(
    p: &mut [T],
    g: &[T],
    buf: Option<&mut [T]>,
    first: bool,
    h: &SgdHyper,
) {
    let wd = T::c(h.weight_decay);
    let neg_lr = T::c(-h.lr);
    let use_wd = h.weight_decay != 0.0;
    let maximize = h.maximize;
    let grad = |p: T, g: T| {
        let d = if maximize { -g } else { g };
        if use_wd {
            d + wd * p
        } else {
            d
        }
    };
    match buf {
        None => {
            for (p, &g) in p.iter_mut().zip(g) {
                *p = *p + neg_lr * grad(*p, g);
            }
        }
        Some(buf) => {
            let mom = T::c(h.momentum);
            let damp = T::c(1.0 - h.dampening);
            let nesterov = h.nesterov;
            for ((p, &g), b) in p.iter_mut().zip(g).zip(buf.iter_mut()) {
                let d = grad(*p, g);
                let nb = if first { d } else { *b * mom + damp * d };
                *b = nb;
                let u = if nesterov { d + mom * nb } else { nb };
                *p = *p + neg_lr * u;
            }
        }
    }
}

/// Update a group: `bufs` is empty when momentum is 0, else one buffer per
/// parameter; `first[i]` marks buffers created for this step.
pub fn sgd_step(
    params: &[Tensor],
    grads: &[Tensor],
    bufs: &[Tensor],
    first: &[bool],
    h: &SgdHyper,
) -> Result<()> {
    if params.first().is_some_and(|p| p.is_gpu()) {
        return device_sgd(params, grads, bufs, first, h);
    }
    let mut lists = vec![params.to_vec(), grads.to_vec()];
    let with_buf = !bufs.is_empty();
    if with_buf {
        lists.push(bufs.to_vec());
    }
    optim_dispatch!(group_dtype(params)?, T => for_each_chunk::<T>(&lists, |i, s| match s {
        [p, g] => sgd_kernel(p, g, None, false, h),
        [p, g, b] => sgd_kernel(p, g, Some(&mut b[..]), first.get(i).copied().unwrap_or(false), h),
        _ => unreachable!(),
    }))
}

#[cfg(feature = "wgpu")]
fn device_sgd(
    params: &[Tensor],
    grads: &[Tensor],
    bufs: &[Tensor],
    first: &[bool],
    h: &SgdHyper,
) -> Result<()> {
    crate::gpu::optim::sgd(params, grads, bufs, first, h)
}
#[cfg(not(feature = "wgpu"))]
fn device_sgd(_: &[Tensor], _: &[Tensor], _: &[Tensor], _: &[bool], _: &SgdHyper) -> Result<()> {
    Err(crate::error::Error::Runtime(crate::gpu::NOT_BUILT.into()))
}
