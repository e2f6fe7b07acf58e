//! Bindings for convolutions: `_C.conv_nd` and `_C.conv_transpose_nd`, and
//! `_C._unfold` / `_C._fold` (im2col / col2im).
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

#[rustdl_macros::guard_panics]
#[pyfunction]
#[pyo3(signature = (input, kernel_size, dilation, padding, stride))]
fn _unfold(
    input: PyRef<'_, PyTensor>,
    kernel_size: Vec<i64>,
    dilation: Vec<i64>,
    padding: Vec<i64>,
    stride: Vec<i64>,
) -> PyResult<PyTensor> {
    Ok(wrap(crate::ops::fold::unfold(
        &input.t,
        &kernel_size,
        &dilation,
        &padding,
        &stride,
    )?))
}

#[rustdl_macros::guard_panics]
#[pyfunction]
#[pyo3(signature = (input, output_size, kernel_size, dilation, padding, stride))]
fn _fold(
    input: PyRef<'_, PyTensor>,
    output_size: Vec<i64>,
    kernel_size: Vec<i64>,
    dilation: Vec<i64>,
    padding: Vec<i64>,
    stride: Vec<i64>,
) -> PyResult<PyTensor> {
    Ok(wrap(crate::ops::fold::fold(
        &input.t,
        &output_size,
        &kernel_size,
        &dilation,
        &padding,
        &stride,
    )?))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_unfold, m)?)?;
    m.add_function(wrap_pyfunction!(_fold, m)?)?;
    m.add_function(wrap_pyfunction!(conv_nd, m)?)?;
    m.add_function(wrap_pyfunction!(conv_transpose_nd, m)?)?;
    Ok(())
}
