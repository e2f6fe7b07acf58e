//! Bindings for `torch.linalg` (rust/ops/linalg.rs) and its exception type.

use super::py_tensor::{wrap, PyTensor};
use crate::ops::linalg;
use crate::tensor::Tensor;
use pyo3::prelude::*;

// torch.linalg.LinAlgError: a RuntimeError raised for singular or
// non-positive-definite input and decompositions that do not converge.
pyo3::create_exception!(rustdl, LinAlgError, pyo3::exceptions::PyRuntimeError);

/// Large factorizations run without the GIL.
fn run<R: Send>(py: Python<'_>, x: &Tensor, f: impl FnOnce() -> R + Send) -> R {
    if x.numel() >= 4096 {
        py.detach(f)
    } else {
        f()
    }
}

#[rustdl_macros::guard_panics]
#[pyfunction]
fn _linalg_inv(py: Python<'_>, a: PyRef<'_, PyTensor>) -> PyResult<PyTensor> {
    let a = a.t.clone();
    Ok(wrap(run(py, &a, || linalg::inv(&a))?))
}

#[rustdl_macros::guard_panics]
#[pyfunction]
fn _linalg_det(py: Python<'_>, a: PyRef<'_, PyTensor>) -> PyResult<PyTensor> {
    let a = a.t.clone();
    Ok(wrap(run(py, &a, || linalg::det(&a))?))
}

#[rustdl_macros::guard_panics]
#[pyfunction]
#[pyo3(signature = (a, op="linalg.slogdet"))]
fn _linalg_slogdet(
    py: Python<'_>,
    a: PyRef<'_, PyTensor>,
    op: &str,
) -> PyResult<(PyTensor, PyTensor)> {
    let a = a.t.clone();
    let (s, l) = run(py, &a, || linalg::slogdet_named(&a, op))?;
    Ok((wrap(s), wrap(l)))
}

#[rustdl_macros::guard_panics]
#[pyfunction]
fn _linalg_solve(
    py: Python<'_>,
    a: PyRef<'_, PyTensor>,
    b: PyRef<'_, PyTensor>,
    left: bool,
) -> PyResult<PyTensor> {
    let (a, b) = (a.t.clone(), b.t.clone());
    Ok(wrap(run(py, &a, || linalg::solve(&a, &b, left))?))
}

#[rustdl_macros::guard_panics]
#[pyfunction]
fn _linalg_cholesky(py: Python<'_>, a: PyRef<'_, PyTensor>, upper: bool) -> PyResult<PyTensor> {
    let a = a.t.clone();
    Ok(wrap(run(py, &a, || linalg::cholesky(&a, upper))?))
}

#[rustdl_macros::guard_panics]
#[pyfunction]
fn _linalg_qr(
    py: Python<'_>,
    a: PyRef<'_, PyTensor>,
    mode: &str,
) -> PyResult<(PyTensor, PyTensor)> {
    let a = a.t.clone();
    let (q, r) = run(py, &a, || linalg::qr(&a, mode))?;
    Ok((wrap(q), wrap(r)))
}

#[rustdl_macros::guard_panics]
#[pyfunction]
fn _linalg_eigh(
    py: Python<'_>,
    a: PyRef<'_, PyTensor>,
    uplo: &str,
) -> PyResult<(PyTensor, PyTensor)> {
    let a = a.t.clone();
    let (w, v) = run(py, &a, || linalg::eigh(&a, uplo))?;
    Ok((wrap(w), wrap(v)))
}

#[rustdl_macros::guard_panics]
#[pyfunction]
fn _linalg_svd(
    py: Python<'_>,
    a: PyRef<'_, PyTensor>,
    full_matrices: bool,
) -> PyResult<(PyTensor, PyTensor, PyTensor)> {
    let a = a.t.clone();
    let (u, s, vh) = run(py, &a, || linalg::svd(&a, full_matrices))?;
    Ok((wrap(u), wrap(s), wrap(vh)))
}

#[rustdl_macros::guard_panics]
#[pyfunction]
fn _linalg_cross(a: PyRef<'_, PyTensor>, b: PyRef<'_, PyTensor>, dim: i64) -> PyResult<PyTensor> {
    Ok(wrap(linalg::cross(&a.t, &b.t, dim)?))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("_LinAlgError", m.py().get_type::<LinAlgError>())?;
    m.add_function(wrap_pyfunction!(_linalg_inv, m)?)?;
    m.add_function(wrap_pyfunction!(_linalg_det, m)?)?;
    m.add_function(wrap_pyfunction!(_linalg_slogdet, m)?)?;
    m.add_function(wrap_pyfunction!(_linalg_solve, m)?)?;
    m.add_function(wrap_pyfunction!(_linalg_cholesky, m)?)?;
    m.add_function(wrap_pyfunction!(_linalg_qr, m)?)?;
    m.add_function(wrap_pyfunction!(_linalg_eigh, m)?)?;
    m.add_function(wrap_pyfunction!(_linalg_svd, m)?)?;
    m.add_function(wrap_pyfunction!(_linalg_cross, m)?)
}
