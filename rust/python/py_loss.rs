//! Bindings for the fused losses.

use super::py_tensor::{wrap, PyTensor};
use crate::ops::loss::{self, Reduction};
use pyo3::prelude::*;

/// `_C.cross_entropy_fused(logits (M, C), target (M), weight, ignore_index, label_smoothing, reduction)`.
#[rustdl_macros::guard_panics]
#[pyfunction]
#[pyo3(signature = (logits, target, weight=None, ignore_index=-100, label_smoothing=0.0, reduction="mean"))]
fn cross_entropy_fused(
    py: Python<'_>,
    logits: PyRef<'_, PyTensor>,
    target: PyRef<'_, PyTensor>,
    weight: Option<PyRef<'_, PyTensor>>,
    ignore_index: i64,
    label_smoothing: f64,
    reduction: &str,
) -> PyResult<PyTensor> {
    let r = Reduction::parse(reduction)?;
    let (x, t, w) = (
        logits.t.clone(),
        target.t.clone(),
        weight.map(|w| w.t.clone()),
    );
    let out = if x.numel() > 1 << 16 {
        py.detach(|| loss::cross_entropy(&x, &t, w.as_ref(), ignore_index, label_smoothing, r))?
    } else {
        loss::cross_entropy(&x, &t, w.as_ref(), ignore_index, label_smoothing, r)?
    };
    Ok(wrap(out))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(cross_entropy_fused, m)?)
}
