//! Bindings of the tracer's engine side (`ops::trace`): start/stop a trace on this
//! thread, bracket a recorded op, and read the bindings that ran outside recorded ops.

use crate::ops::trace;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

#[rustdl_macros::guard_panics]
#[pyfunction]
fn _trace_start() -> PyResult<()> {
    if trace::start() {
        Ok(())
    } else {
        Err(PyRuntimeError::new_err(
            "rustdl.jit.trace: a trace is already running on this thread",
        ))
    }
}

/// Ends the trace: the engine ops (binding names) that ran outside recorded ops.
#[rustdl_macros::guard_panics]
#[pyfunction]
fn _trace_stop() -> Vec<&'static str> {
    trace::stop()
}

#[rustdl_macros::guard_panics]
#[pyfunction]
fn _trace_enter() {
    trace::enter();
}

#[rustdl_macros::guard_panics]
#[pyfunction]
fn _trace_exit() {
    trace::exit();
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_trace_start, m)?)?;
    m.add_function(wrap_pyfunction!(_trace_stop, m)?)?;
    m.add_function(wrap_pyfunction!(_trace_enter, m)?)?;
    m.add_function(wrap_pyfunction!(_trace_exit, m)?)
}
