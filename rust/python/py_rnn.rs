//! Binding for the fused recurrent layer (`ops::rnn`); `rustdl.nn.RNN/LSTM/GRU`
//! and the cells decide between it and the step-by-step composite path.

use super::py_tensor::{wrap, PyTensor};
use crate::ops::rnn::{rnn_layer, Mode};
use pyo3::prelude::*;

/// One direction of one layer: (output (T, B, H), h_n (B, H), c_n or None).
#[rustdl_macros::guard_panics]
#[pyfunction]
#[pyo3(signature = (mode, input, hx, cx, weight_ih, weight_hh, bias_ih=None, bias_hh=None, reverse=false))]
#[allow(clippy::too_many_arguments)]
fn _rnn_layer(
    mode: &str,
    input: PyRef<'_, PyTensor>,
    hx: PyRef<'_, PyTensor>,
    cx: Option<PyRef<'_, PyTensor>>,
    weight_ih: PyRef<'_, PyTensor>,
    weight_hh: PyRef<'_, PyTensor>,
    bias_ih: Option<PyRef<'_, PyTensor>>,
    bias_hh: Option<PyRef<'_, PyTensor>>,
    reverse: bool,
) -> PyResult<(PyTensor, PyTensor, Option<PyTensor>)> {
    let (out, h, c) = rnn_layer(
        Mode::parse(mode)?,
        &input.t,
        &hx.t,
        cx.as_ref().map(|c| &c.t),
        &weight_ih.t,
        &weight_hh.t,
        bias_ih.as_ref().map(|b| &b.t),
        bias_hh.as_ref().map(|b| &b.t),
        reverse,
    )?;
    Ok((wrap(out), wrap(h), c.map(wrap)))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_rnn_layer, m)?)
}
