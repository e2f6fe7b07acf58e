//! Bindings for pooling and normalization ops. The Python wrappers in
//! `rustdl/nn/_functional_pool_norm.py` normalize PyTorch's int-or-tuple
//! arguments into lists and pass the number of spatial dims `nd`.

use super::py_tensor::{wrap, PyTensor};
use crate::ops::{norm, pool};
use crate::tensor::Tensor;
use pyo3::prelude::*;

type R = PyResult<PyTensor>;

fn opt(t: &Option<PyRef<'_, PyTensor>>) -> Option<Tensor> {
    t.as_ref().map(|t| t.t.clone())
}

#[rustdl_macros::guard_panics]
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn _max_pool(
    input: PyRef<'_, PyTensor>,
    nd: usize,
    kernel_size: Vec<usize>,
    stride: Vec<usize>,
    padding: Vec<usize>,
    dilation: Vec<usize>,
    ceil_mode: bool,
    return_indices: bool,
) -> PyResult<(PyTensor, Option<PyTensor>)> {
    let prm = pool::PoolParams {
        kernel: kernel_size,
        stride,
        padding,
        dilation,
        ceil_mode,
    };
    let (o, i) = pool::max_pool(&input.t, nd, &prm, return_indices)?;
    Ok((wrap(o), i.map(wrap)))
}

#[rustdl_macros::guard_panics]
#[pyfunction]
#[allow(clippy::too_many_arguments)]
#[pyo3(signature = (input, nd, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override=None))]
fn _avg_pool(
    input: PyRef<'_, PyTensor>,
    nd: usize,
    kernel_size: Vec<usize>,
    stride: Vec<usize>,
    padding: Vec<usize>,
    ceil_mode: bool,
    count_include_pad: bool,
    divisor_override: Option<i64>,
) -> R {
    let prm = pool::PoolParams {
        kernel: kernel_size,
        stride,
        padding,
        dilation: vec![1],
        ceil_mode,
    };
    Ok(wrap(pool::avg_pool(
        &input.t,
        nd,
        &prm,
        count_include_pad,
        divisor_override,
    )?))
}

#[rustdl_macros::guard_panics]
#[pyfunction]
fn _adaptive_avg_pool(input: PyRef<'_, PyTensor>, nd: usize, output_size: Vec<usize>) -> R {
    Ok(wrap(pool::adaptive_avg_pool(&input.t, nd, &output_size)?))
}

#[rustdl_macros::guard_panics]
#[pyfunction]
fn _adaptive_max_pool(
    input: PyRef<'_, PyTensor>,
    nd: usize,
    output_size: Vec<usize>,
    return_indices: bool,
) -> PyResult<(PyTensor, Option<PyTensor>)> {
    let (o, i) = pool::adaptive_max_pool(&input.t, nd, &output_size, return_indices)?;
    Ok((wrap(o), i.map(wrap)))
}

#[rustdl_macros::guard_panics]
#[pyfunction]
fn _max_unpool(
    input: PyRef<'_, PyTensor>,
    indices: PyRef<'_, PyTensor>,
    nd: usize,
    output_size: Vec<usize>,
) -> R {
    Ok(wrap(pool::max_unpool(
        &input.t,
        &indices.t,
        nd,
        &output_size,
    )?))
}

#[rustdl_macros::guard_panics]
#[pyfunction]
#[allow(clippy::too_many_arguments)]
#[pyo3(signature = (input, running_mean, running_var, weight, bias, training, momentum, eps))]
fn _batch_norm(
    input: PyRef<'_, PyTensor>,
    running_mean: Option<PyRef<'_, PyTensor>>,
    running_var: Option<PyRef<'_, PyTensor>>,
    weight: Option<PyRef<'_, PyTensor>>,
    bias: Option<PyRef<'_, PyTensor>>,
    training: bool,
    momentum: f64,
    eps: f64,
) -> R {
    let (rm, rv, w, b) = (
        opt(&running_mean),
        opt(&running_var),
        opt(&weight),
        opt(&bias),
    );
    Ok(wrap(norm::batch_norm(
        &input.t,
        rm.as_ref(),
        rv.as_ref(),
        w.as_ref(),
        b.as_ref(),
        training,
        momentum,
        eps,
    )?))
}

#[rustdl_macros::guard_panics]
#[pyfunction]
#[allow(clippy::too_many_arguments)]
#[pyo3(signature = (input, running_mean, running_var, weight, bias, use_input_stats, momentum, eps))]
fn _instance_norm(
    input: PyRef<'_, PyTensor>,
    running_mean: Option<PyRef<'_, PyTensor>>,
    running_var: Option<PyRef<'_, PyTensor>>,
    weight: Option<PyRef<'_, PyTensor>>,
    bias: Option<PyRef<'_, PyTensor>>,
    use_input_stats: bool,
    momentum: f64,
    eps: f64,
) -> R {
    let (rm, rv, w, b) = (
        opt(&running_mean),
        opt(&running_var),
        opt(&weight),
        opt(&bias),
    );
    Ok(wrap(norm::instance_norm(
        &input.t,
        rm.as_ref(),
        rv.as_ref(),
        w.as_ref(),
        b.as_ref(),
        use_input_stats,
        momentum,
        eps,
    )?))
}

#[rustdl_macros::guard_panics]
#[pyfunction]
#[pyo3(signature = (input, normalized_shape, weight, bias, eps))]
fn _layer_norm(
    input: PyRef<'_, PyTensor>,
    normalized_shape: Vec<usize>,
    weight: Option<PyRef<'_, PyTensor>>,
    bias: Option<PyRef<'_, PyTensor>>,
    eps: f64,
) -> R {
    let (w, b) = (opt(&weight), opt(&bias));
    Ok(wrap(norm::layer_norm(
        &input.t,
        &normalized_shape,
        w.as_ref(),
        b.as_ref(),
        eps,
    )?))
}

#[rustdl_macros::guard_panics]
#[pyfunction]
#[pyo3(signature = (input, num_groups, weight, bias, eps))]
fn _group_norm(
    input: PyRef<'_, PyTensor>,
    num_groups: usize,
    weight: Option<PyRef<'_, PyTensor>>,
    bias: Option<PyRef<'_, PyTensor>>,
    eps: f64,
) -> R {
    let (w, b) = (opt(&weight), opt(&bias));
    Ok(wrap(norm::group_norm(
        &input.t,
        num_groups,
        w.as_ref(),
        b.as_ref(),
        eps,
    )?))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    for f in [
        wrap_pyfunction!(_max_pool, m)?,
        wrap_pyfunction!(_avg_pool, m)?,
        wrap_pyfunction!(_adaptive_avg_pool, m)?,
        wrap_pyfunction!(_adaptive_max_pool, m)?,
        wrap_pyfunction!(_max_unpool, m)?,
        wrap_pyfunction!(_batch_norm, m)?,
        wrap_pyfunction!(_instance_norm, m)?,
        wrap_pyfunction!(_layer_norm, m)?,
        wrap_pyfunction!(_group_norm, m)?,
    ] {
        m.add_function(f)?;
    }
    Ok(())
}
