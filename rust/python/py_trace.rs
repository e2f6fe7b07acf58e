//! Bindings of the tracer's engine side (`ops::trace`): start/stop a trace on this
//! thread, bracket a recorded op, and read the bindings that ran outside recorded ops.

use crate::ops::trace;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use std::sync::Mutex;

/// The Python recorder's entry for bindings that record themselves (set by the tracer).
static CALLBACK: Mutex<Option<Py<PyAny>>> = Mutex::new(None);

/// Records this binding's call as a node of the running trace, when this thread traces
/// outside any recorded op: `callback(name, args, result)`. Call it only when
/// `trace::active()` (so building `args` costs nothing otherwise).
pub fn record_call<'py, A>(
    py: Python<'py>,
    name: &'static str,
    args: A,
    result: &Py<PyAny>,
) -> PyResult<()>
where
    A: IntoPyObject<'py, Target = PyTuple, Output = Bound<'py, PyTuple>, Error = PyErr>,
{
    if !trace::recording_here() {
        return Ok(());
    }
    let callback = match CALLBACK.lock() {
        Ok(c) => c.as_ref().map(|c| c.clone_ref(py)),
        Err(_) => None,
    };
    let Some(callback) = callback else {
        return Ok(());
    };
    let args = args.into_pyobject(py)?;
    trace::unnote(name);
    trace::enter();
    let done = callback.call1(py, (name, args, result.bind(py)));
    trace::exit();
    done.map(|_| ())
}

/// Sets (or clears, with None) the recorder that self-recording bindings call.
#[rustdl_macros::guard_panics]
#[pyfunction]
fn _trace_set_callback(callback: Option<Py<PyAny>>) {
    if let Ok(mut c) = CALLBACK.lock() {
        *c = callback;
    }
}

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
    m.add_function(wrap_pyfunction!(_trace_set_callback, m)?)?;
    m.add_function(wrap_pyfunction!(_trace_stop, m)?)?;
    m.add_function(wrap_pyfunction!(_trace_enter, m)?)?;
    m.add_function(wrap_pyfunction!(_trace_exit, m)?)
}
