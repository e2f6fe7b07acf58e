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

/// Self-attention on a packed (B, T, 3E) / (T, B, 3E) projection
/// (`ops::attention::packed_self_attention`); output rows in its order.
#[rustdl_macros::guard_panics]
#[pyfunction]
#[pyo3(signature = (proj, num_heads, batch_first, is_causal=false))]
fn _packed_self_attention(
    proj: PyRef<'_, PyTensor>,
    num_heads: usize,
    batch_first: bool,
    is_causal: bool,
) -> PyResult<PyTensor> {
    Ok(wrap(crate::ops::attention::packed_self_attention(
        &proj.t,
        num_heads,
        batch_first,
        is_causal,
    )?))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_sdpa_fused, m)?)?;
    m.add_function(wrap_pyfunction!(_packed_self_attention, m)?)
}
