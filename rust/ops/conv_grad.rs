//! The three bilinear maps of a convolution, differentiable to every order.
//!
//! With `y = conv(x, w)` under one geometry, the forward `F(x, w) = y`, the
//! input gradient `I(gy, w) = gx` and the weight gradient `W(x, gy) = gw` are
//! adjoint to one another: <F(x, w), gy> = <x, I(gy, w)> = <w, W(x, gy)>.
//! So the gradients of each are the other two (PyTorch's convolution double
//! backward: conv_transpose of the incoming gradient with w, a convolution of
//! x with it). `apply` runs one map with the fused kernels of `cpu::conv` and
//! records the other two as its backward, themselves through `apply`.
//! Transposed convolutions are the same maps with the roles swapped: their
//! forward is `I`.

use std::sync::Arc;

use crate::autograd::{record, SavedTensor};
use crate::cpu::conv::{self as kernels, ConvGeom};
use crate::error::Result;
use crate::tensor::{half, Tensor};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Map {
    /// `(x, w) -> y`
    Forward,
    /// `(gy, w) -> gx`
    InputGrad,
    /// `(x, gy) -> gw`
    WeightGrad,
}

/// A convolution's geometry and the (batched) shapes of x, w and y.
#[derive(Debug)]
pub struct Shapes {
    pub geom: ConvGeom,
    pub x: Vec<usize>,
    pub w: Vec<usize>,
    pub y: Vec<usize>,
}

fn compute(map: Map, s: &Shapes, a: &Tensor, b: &Tensor) -> Result<Tensor> {
    half::via_f32(&[a, b], |t| {
        let (a, b) = (&t[0], &t[1]);
        let b = b.cast_raw(a.dtype());
        Ok(
            crate::dispatch_float!(a.dtype(), "convolution_backward", T => {
                let (av, bv) = (a.data::<T>(), b.data::<T>());
                match map {
                    Map::Forward => Tensor::from_vec(kernels::forward(&s.geom, &av, &bv, None), &s.y),
                    Map::InputGrad => Tensor::from_vec(kernels::backward_input(&s.geom, &av, &bv), &s.x),
                    Map::WeightGrad => Tensor::from_vec(kernels::backward_weight(&s.geom, &av, &bv), &s.w),
                }
            }),
        )
    })
}

/// `map(a, b)`, recorded with the other two maps as its backward.
pub fn apply(map: Map, s: &Arc<Shapes>, a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let out = compute(map, s, a, b)?;
    let name = match map {
        Map::Forward => "ConvolutionBackward0",
        _ => "ConvolutionBackwardBackward0",
    };
    let (sa, sb, s) = (SavedTensor::new(a), SavedTensor::new(b), s.clone());
    let need = [a.requires_grad(), b.requires_grad()];
    record(name, &[a, b], &[&out], move |gr| {
        let Some(g) = &gr[0] else {
            return Ok(vec![None, None]);
        };
        let (a, b) = (sa.get()?, sb.get()?);
        // <out, g> is linear in each operand; its gradient in one operand
        // is one of the other maps applied to g and the other operand.
        let (da, db) = match map {
            // a = x, b = w
            Map::Forward => (
                need[0].then(|| apply(Map::InputGrad, &s, g, b)),
                need[1].then(|| apply(Map::WeightGrad, &s, a, g)),
            ),
            // a = gy, b = w, g is x-shaped
            Map::InputGrad => (
                need[0].then(|| apply(Map::Forward, &s, g, b)),
                need[1].then(|| apply(Map::WeightGrad, &s, g, a)),
            ),
            // a = x, b = gy, g is w-shaped
            Map::WeightGrad => (
                need[0].then(|| apply(Map::InputGrad, &s, b, g)),
                need[1].then(|| apply(Map::Forward, &s, a, g)),
            ),
        };
        Ok(vec![da.transpose()?, db.transpose()?])
    });
    Ok(out)
}

/// The bias gradient: `gy` summed over every dim but the channels, recorded.
pub fn bias_grad(gy: &Tensor) -> Result<Tensor> {
    let dims: Vec<i64> = (0..gy.ndim() as i64).filter(|&d| d != 1).collect();
    super::reduce::sum(gy, Some(&dims), false)
}
