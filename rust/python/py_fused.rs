//! Bindings for the fused ops that `rustdl.compile`'s graph rewrites call
//! (`_dynamo/passes.py`): `_C._conv2d_relu_max_pool2d`.

use super::py_tensor::{wrap, PyTensor};
use crate::ops::conv_relu_pool;
use pyo3::prelude::*;

#[rustdl_macros::guard_panics]
#[pyfunction]
#[pyo3(signature = (input, weight, bias, stride, padding, dilation, groups))]
fn _conv2d_relu_max_pool2d(
    input: PyRef<'_, PyTensor>,
    weight: PyRef<'_, PyTensor>,
    bias: Option<PyRef<'_, PyTensor>>,
    stride: Vec<i64>,
    padding: Vec<i64>,
    dilation: Vec<i64>,
    groups: i64,
) -> PyResult<PyTensor> {
    let bias = bias.as_ref().map(|b| &b.t);
    Ok(wrap(conv_relu_pool::conv2d_relu_max_pool2d(
        &input.t, &weight.t, bias, &stride, &padding, &dilation, groups,
    )?))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_conv2d_relu_max_pool2d, m)?)?;
    Ok(())
}
