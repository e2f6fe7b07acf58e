//! Bindings for the fused optimizer steps: one call updates a whole parameter
//! group in place (see `crate::optim`). The Python optimizers in
//! `rustdl.optim` gather the lists and call these.

use super::py_tensor::PyTensor;
use crate::optim::{adadelta, adagrad, adam, adamax, nadam, radam, rmsprop, sgd};
use crate::tensor::Tensor;
use pyo3::prelude::*;

type Ts<'py> = Vec<PyRef<'py, PyTensor>>;

fn ts(v: Ts<'_>) -> Vec<Tensor> {
    v.iter().map(|t| t.t.clone()).collect()
}

fn opt_ts(v: Option<Ts<'_>>) -> Vec<Tensor> {
    v.map(ts).unwrap_or_default()
}

#[rustdl_macros::guard_panics]
#[pyfunction]
#[pyo3(signature = (params, grads, bufs, first, lr, momentum, dampening, weight_decay, nesterov, maximize))]
#[allow(clippy::too_many_arguments)]
fn _optim_sgd(
    py: Python<'_>,
    params: Ts<'_>,
    grads: Ts<'_>,
    bufs: Option<Ts<'_>>,
    first: Vec<bool>,
    lr: f64,
    momentum: f64,
    dampening: f64,
    weight_decay: f64,
    nesterov: bool,
    maximize: bool,
) -> PyResult<()> {
    let (p, g, b) = (ts(params), ts(grads), opt_ts(bufs));
    let h = sgd::SgdHyper {
        lr,
        momentum,
        dampening,
        weight_decay,
        nesterov,
        maximize,
    };
    py.detach(move || sgd::sgd_step(&p, &g, &b, &first, &h))?;
    Ok(())
}

#[rustdl_macros::guard_panics]
#[pyfunction]
#[pyo3(signature = (params, grads, sums, steps, lr, lr_decay, weight_decay, eps, maximize))]
#[allow(clippy::too_many_arguments)]
fn _optim_adagrad(
    py: Python<'_>,
    params: Ts<'_>,
    grads: Ts<'_>,
    sums: Ts<'_>,
    steps: Ts<'_>,
    lr: f64,
    lr_decay: f64,
    weight_decay: f64,
    eps: f64,
    maximize: bool,
) -> PyResult<()> {
    let (p, g, s, st) = (ts(params), ts(grads), ts(sums), ts(steps));
    let h = adagrad::AdagradHyper {
        lr,
        lr_decay,
        weight_decay,
        eps,
        maximize,
    };
    py.detach(move || adagrad::adagrad_step(&p, &g, &s, &st, &h))?;
    Ok(())
}

#[rustdl_macros::guard_panics]
#[pyfunction]
#[pyo3(signature = (params, grads, square_avgs, bufs, grad_avgs, steps, lr, alpha, eps, weight_decay, momentum, centered, maximize))]
#[allow(clippy::too_many_arguments)]
fn _optim_rmsprop(
    py: Python<'_>,
    params: Ts<'_>,
    grads: Ts<'_>,
    square_avgs: Ts<'_>,
    bufs: Option<Ts<'_>>,
    grad_avgs: Option<Ts<'_>>,
    steps: Ts<'_>,
    lr: f64,
    alpha: f64,
    eps: f64,
    weight_decay: f64,
    momentum: f64,
    centered: bool,
    maximize: bool,
) -> PyResult<()> {
    let (p, g, sq, b, ga, st) = (
        ts(params),
        ts(grads),
        ts(square_avgs),
        opt_ts(bufs),
        opt_ts(grad_avgs),
        ts(steps),
    );
    let h = rmsprop::RmspropHyper {
        lr,
        alpha,
        eps,
        weight_decay,
        momentum,
        centered,
        maximize,
    };
    py.detach(move || rmsprop::rmsprop_step(&p, &g, &sq, &b, &ga, &st, &h))?;
    Ok(())
}

#[rustdl_macros::guard_panics]
#[pyfunction]
#[pyo3(signature = (params, grads, square_avgs, acc_deltas, steps, lr, rho, eps, weight_decay, maximize))]
#[allow(clippy::too_many_arguments)]
fn _optim_adadelta(
    py: Python<'_>,
    params: Ts<'_>,
    grads: Ts<'_>,
    square_avgs: Ts<'_>,
    acc_deltas: Ts<'_>,
    steps: Ts<'_>,
    lr: f64,
    rho: f64,
    eps: f64,
    weight_decay: f64,
    maximize: bool,
) -> PyResult<()> {
    let (p, g, sq, acc, st) = (
        ts(params),
        ts(grads),
        ts(square_avgs),
        ts(acc_deltas),
        ts(steps),
    );
    let h = adadelta::AdadeltaHyper {
        lr,
        rho,
        eps,
        weight_decay,
        maximize,
    };
    py.detach(move || adadelta::adadelta_step(&p, &g, &sq, &acc, &st, &h))?;
    Ok(())
}

#[rustdl_macros::guard_panics]
#[pyfunction]
#[pyo3(signature = (params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, lr, beta1, beta2, eps, weight_decay, amsgrad, maximize, decoupled))]
#[allow(clippy::too_many_arguments)]
fn _optim_adam(
    py: Python<'_>,
    params: Ts<'_>,
    grads: Ts<'_>,
    exp_avgs: Ts<'_>,
    exp_avg_sqs: Ts<'_>,
    max_exp_avg_sqs: Option<Ts<'_>>,
    steps: Ts<'_>,
    lr: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
    amsgrad: bool,
    maximize: bool,
    decoupled: bool,
) -> PyResult<()> {
    let (p, g, m, v, mx, st) = (
        ts(params),
        ts(grads),
        ts(exp_avgs),
        ts(exp_avg_sqs),
        opt_ts(max_exp_avg_sqs),
        ts(steps),
    );
    let h = adam::AdamHyper {
        lr,
        beta1,
        beta2,
        eps,
        weight_decay,
        amsgrad,
        maximize,
        decoupled,
    };
    py.detach(move || adam::adam_step(&p, &g, &m, &v, &mx, &st, &h))?;
    Ok(())
}

#[rustdl_macros::guard_panics]
#[pyfunction]
#[pyo3(signature = (params, grads, exp_avgs, exp_infs, steps, lr, beta1, beta2, eps, weight_decay, maximize))]
#[allow(clippy::too_many_arguments)]
fn _optim_adamax(
    py: Python<'_>,
    params: Ts<'_>,
    grads: Ts<'_>,
    exp_avgs: Ts<'_>,
    exp_infs: Ts<'_>,
    steps: Ts<'_>,
    lr: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
    maximize: bool,
) -> PyResult<()> {
    let (p, g, m, u, st) = (ts(params), ts(grads), ts(exp_avgs), ts(exp_infs), ts(steps));
    let h = adamax::AdamaxHyper {
        lr,
        beta1,
        beta2,
        eps,
        weight_decay,
        maximize,
    };
    py.detach(move || adamax::adamax_step(&p, &g, &m, &u, &st, &h))?;
    Ok(())
}

#[rustdl_macros::guard_panics]
#[pyfunction]
#[pyo3(signature = (params, grads, exp_avgs, exp_avg_sqs, mu_products, steps, lr, beta1, beta2, eps, weight_decay, momentum_decay, decoupled, maximize))]
#[allow(clippy::too_many_arguments)]
fn _optim_nadam(
    py: Python<'_>,
    params: Ts<'_>,
    grads: Ts<'_>,
    exp_avgs: Ts<'_>,
    exp_avg_sqs: Ts<'_>,
    mu_products: Ts<'_>,
    steps: Ts<'_>,
    lr: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
    momentum_decay: f64,
    decoupled: bool,
    maximize: bool,
) -> PyResult<()> {
    let (p, g, m, v, mp, st) = (
        ts(params),
        ts(grads),
        ts(exp_avgs),
        ts(exp_avg_sqs),
        ts(mu_products),
        ts(steps),
    );
    let h = nadam::NadamHyper {
        lr,
        beta1,
        beta2,
        eps,
        weight_decay,
        momentum_decay,
        decoupled,
        maximize,
    };
    py.detach(move || nadam::nadam_step(&p, &g, &m, &v, &mp, &st, &h))?;
    Ok(())
}

#[rustdl_macros::guard_panics]
#[pyfunction]
#[pyo3(signature = (params, grads, exp_avgs, exp_avg_sqs, steps, lr, beta1, beta2, eps, weight_decay, decoupled, maximize))]
#[allow(clippy::too_many_arguments)]
fn _optim_radam(
    py: Python<'_>,
    params: Ts<'_>,
    grads: Ts<'_>,
    exp_avgs: Ts<'_>,
    exp_avg_sqs: Ts<'_>,
    steps: Ts<'_>,
    lr: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
    decoupled: bool,
    maximize: bool,
) -> PyResult<()> {
    let (p, g, m, v, st) = (
        ts(params),
        ts(grads),
        ts(exp_avgs),
        ts(exp_avg_sqs),
        ts(steps),
    );
    let h = radam::RadamHyper {
        lr,
        beta1,
        beta2,
        eps,
        weight_decay,
        decoupled,
        maximize,
    };
    py.detach(move || radam::radam_step(&p, &g, &m, &v, &st, &h))?;
    Ok(())
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_optim_sgd, m)?)?;
    m.add_function(wrap_pyfunction!(_optim_adagrad, m)?)?;
    m.add_function(wrap_pyfunction!(_optim_rmsprop, m)?)?;
    m.add_function(wrap_pyfunction!(_optim_adadelta, m)?)?;
    m.add_function(wrap_pyfunction!(_optim_adam, m)?)?;
    m.add_function(wrap_pyfunction!(_optim_adamax, m)?)?;
    m.add_function(wrap_pyfunction!(_optim_nadam, m)?)?;
    m.add_function(wrap_pyfunction!(_optim_radam, m)?)?;
    Ok(())
}
