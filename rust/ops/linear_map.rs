//! Linear maps recorded with their adjoint, to every order.
//!
//! The gradient of a linear map `f` is its adjoint `f*`, and the gradient of
//! `f*` is `f` again. Pooling's backward passes (average pooling's spread,
//! max pooling's scatter at the argmax, max_unpool's gather) and `unfold` /
//! `fold` are such pairs: `apply` runs `f` and records `f*` as its backward,
//! itself applied through `apply` (with `f` as its adjoint), so a
//! `create_graph` backward builds a graph as deep as anyone asks.

use std::sync::Arc;

use crate::autograd::record;
use crate::error::Result;
use crate::tensor::Tensor;

/// One direction of a linear map, on plain tensors (no autograd inside).
pub type LinFn = Arc<dyn Fn(&Tensor) -> Result<Tensor> + Send + Sync>;

/// A linear map, its node name, and its adjoint.
#[derive(Clone)]
pub struct Linear {
    pub name: &'static str,
    pub map: LinFn,
    pub adjoint_name: &'static str,
    pub adjoint: LinFn,
}

impl Linear {
    /// The same pair seen from the other side.
    pub fn adjoint(&self) -> Linear {
        Linear {
            name: self.adjoint_name,
            map: self.adjoint.clone(),
            adjoint_name: self.name,
            adjoint: self.map.clone(),
        }
    }

    /// `map(x)`, recorded with `adjoint` as its (differentiable) backward.
    pub fn apply(&self, x: &Tensor) -> Result<Tensor> {
        let out = (self.map)(x)?;
        let back = self.adjoint();
        record(self.name, &[x], &[&out], move |gr| {
            let Some(g) = &gr[0] else {
                return Ok(vec![None]);
            };
            Ok(vec![Some(back.apply(g)?)])
        });
        Ok(out)
    }

    /// `map(g)` as the backward of an op on `x` that PyTorch records with
    /// `x` as a second input of zero gradient (pooling's backward nodes take
    /// `self`), so the result requires grad whenever `x` does.
    pub fn apply_beside(&self, g: &Tensor, x: &Tensor) -> Result<Tensor> {
        let out = (self.map)(g)?;
        let back = self.adjoint();
        let (shape, dtype) = (x.shape().to_vec(), x.dtype());
        record(self.name, &[g, x], &[&out], move |gr| {
            let Some(u) = &gr[0] else {
                return Ok(vec![None, None]);
            };
            Ok(vec![
                Some(back.apply(u)?),
                Some(Tensor::zeros(&shape, dtype)),
            ])
        });
        Ok(out)
    }
}
