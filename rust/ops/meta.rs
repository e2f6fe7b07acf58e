//! Ops on the meta device (`device="meta"`): shapes and dtypes without
//! values.
//!
//! A meta tensor's storage has a length but no memory (`Storage::meta`);
//! any read or write of its elements unwinds into PyTorch's "Could not run
//! 'aten::...' with arguments from the 'Meta' backend" error. So an op runs
//! on meta inputs exactly as on CPU ones (argument checks, output shape,
//! dtype promotion, autograd recording) up to the point where it would
//! compute values; there it returns `Tensor::meta(shape, dtype)` instead
//! (`map1/map2/map3`, `cast_raw`, `contiguous_raw`, the reductions, GEMM,
//! gather). Ops that skip their own backward there use [`result`], whose
//! node gives each input a meta gradient of its shape.

use crate::autograd::record;
use crate::tensor::{DType, Tensor};

/// When any input is meta: a meta result of `shape` and `dtype`, in the
/// graph as `name` with a backward that returns meta gradients.
pub fn result(
    name: &'static str,
    inputs: &[&Tensor],
    shape: &[usize],
    dtype: DType,
) -> Option<Tensor> {
    let out = Tensor::meta_result(inputs, shape, dtype)?;
    let shapes: Vec<(Vec<usize>, DType)> = inputs
        .iter()
        .map(|t| (t.shape().to_vec(), t.dtype()))
        .collect();
    record(name, inputs, &[&out], move |_| {
        Ok(shapes
            .iter()
            .map(|(s, d)| d.is_float().then(|| Tensor::meta(s, *d)))
            .collect())
    });
    Some(out)
}
