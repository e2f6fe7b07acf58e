//! Bindings for convolutions: `_C.conv_nd` and `_C.conv_transpose_nd`.
//!
//! Python (`nn/_functional_conv.py`) normalizes the arguments: ints become
//! one-element lists, string padding is resolved there.

use super::py_tensor::{wrap, PyTensor};
use crate::ops::conv;
use pyo3::prelude::*;

#[rustdl_macros::guard_panics]
#[pyfunction]
#[pyo3(signature = (input, weight, bias, stride, padding, dilation, groups))]
fn conv_nd(
    input: PyRef<'_, PyTensor>,
    weight: PyRef<'_, PyTensor>,
    bias: Option<PyRef<'_, PyTensor>>,
    stride: Vec<i64>,
    padding: Vec<i64>,
    dilation: Vec<i64>,
    groups: i64,
) -> PyResult<PyTensor> {
    let bias = bias.as_ref().map(|b| &b.t);
    Ok(wrap(conv::conv_nd(
        &input.t, &weight.t, bias, &stride, &padding, &dilation, groups,
    )?))
}

#[rustdl_macros::guard_panics]
#[pyfunction]
#[pyo3(signature = (input, weight, bias, stride, padding, output_padding, groups, dilation))]
#[allow(clippy::too_many_arguments)]
fn conv_transpose_nd(
    input: PyRef<'_, PyTensor>,
    weight: PyRef<'_, PyTensor>,
    bias: Option<PyRef<'_, PyTensor>>,
    stride: Vec<i64>,
    padding: Vec<i64>,
    output_padding: Vec<i64>,
    groups: i64,
    dilation: Vec<i64>,
) -> PyResult<PyTensor> {
    let bias = bias.as_ref().map(|b| &b.t);
    Ok(wrap(conv::conv_transpose_nd(
        &input.t,
        &weight.t,
        bias,
        &stride,
        &padding,
        &output_padding,
        groups,
        &dilation,
    )?))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(conv_nd, m)?)?;
    m.add_function(wrap_pyfunction!(conv_transpose_nd, m)?)?;
    Ok(())
}
