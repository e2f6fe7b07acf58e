//! Binding for the fused scaled dot-product attention (`ops::attention`);
//! `rustdl.nn.functional.scaled_dot_product_attention` decides between it
//! and the composite path (dropout, masks that need a gradient).

use super::py_tensor::{wrap, PyTensor};
use pyo3::prelude::*;

#[rustdl_macros::guard_panics]
#[pyfunction]
#[pyo3(signature = (query, key, value, attn_mask=None, is_causal=false, scale=None))]
fn _sdpa_fused(
    query: PyRef<'_, PyTensor>,
    key: PyRef<'_, PyTensor>,
    value: PyRef<'_, PyTensor>,
    attn_mask: Option<PyRef<'_, PyTensor>>,
    is_causal: bool,
    scale: Option<f64>,
) -> PyResult<PyTensor> {
    let mask = attn_mask.as_ref().map(|m| m.t.clone());
    Ok(wrap(crate::ops::attention::scaled_dot_product_attention(
        &query.t,
        &key.t,
        &value.t,
        mask.as_ref(),
        is_causal,
        scale,
    )?))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_sdpa_fused, m)?)
}
