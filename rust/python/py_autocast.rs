//! Autocast state and casts for `rustdl.autocast` (the mechanism is
//! `ops::autocast`; Python only sets the state and marks the entries of ops
//! composed in Python).

use super::py_dtype::{dtype_object, PyDType};
use super::py_tensor::{wrap, PyTensor};
use crate::ops::autocast::{self, Policy, State};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// (enabled, dtype) of this thread's CPU autocast.
#[rustdl_macros::guard_panics]
#[pyfunction]
fn _autocast_get_state(py: Python<'_>) -> PyResult<(bool, Py<PyDType>)> {
    let s = autocast::state();
    Ok((s.enabled, dtype_object(py, s.dtype)?))
}

#[rustdl_macros::guard_panics]
#[pyfunction]
fn _autocast_set_state(enabled: bool, dtype: PyRef<'_, PyDType>) {
    autocast::set_state(State {
        enabled,
        dtype: dtype.dtype,
    });
}

/// Whether a listed op entered now would cast (enabled and not inside one).
#[rustdl_macros::guard_panics]
#[pyfunction]
fn _autocast_active() -> bool {
    autocast::active()
}

/// Suspends (or resumes) autocast while an op composed in Python runs;
/// returns the previous flag.
#[rustdl_macros::guard_panics]
#[pyfunction]
fn _autocast_suspend(on: bool) -> bool {
    autocast::set_suspended(on)
}

/// `tensors` cast for `policy` ("lower", "fp32", "promote") under the
/// current state.
#[rustdl_macros::guard_panics]
#[pyfunction]
fn _autocast_cast(policy: &str, tensors: Vec<PyRef<'_, PyTensor>>) -> PyResult<Vec<PyTensor>> {
    let policy = Policy::parse(policy)
        .ok_or_else(|| PyValueError::new_err(format!("unknown autocast policy '{policy}'")))?;
    let ts: Vec<&crate::tensor::Tensor> = tensors.iter().map(|t| &t.t).collect();
    Ok(autocast::cast(policy, &ts)?.into_iter().map(wrap).collect())
}

/// The bf16 GEMM path products run now ("amx", "avx512_bf16", "f32").
#[rustdl_macros::guard_panics]
#[pyfunction]
fn _bgemm_path() -> &'static str {
    crate::cpu::bgemm::path().name()
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_autocast_get_state, m)?)?;
    m.add_function(wrap_pyfunction!(_autocast_set_state, m)?)?;
    m.add_function(wrap_pyfunction!(_autocast_active, m)?)?;
    m.add_function(wrap_pyfunction!(_autocast_suspend, m)?)?;
    m.add_function(wrap_pyfunction!(_autocast_cast, m)?)?;
    m.add_function(wrap_pyfunction!(_bgemm_path, m)?)
}
