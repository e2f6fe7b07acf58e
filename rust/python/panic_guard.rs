//! The boundary no panic crosses.
//!
//! Every binding runs its body through [`run`] (the `#[guard_panics]`
//! attribute on each `#[pymethods]` block and `#[pyfunction]` writes that
//! call). A panic becomes a Python `RuntimeError` naming the binding instead
//! of PyO3's `PanicException`, which derives from `BaseException` and so
//! escapes `except Exception`. A failed tensor allocation
//! ([`AllocFailure`]) becomes PyTorch's "can't allocate memory" error.

use crate::tensor::pool::AllocFailure;
use crate::tensor::storage::MetaAccess;
use pyo3::exceptions::{PyNotImplementedError, PyRuntimeError};
use pyo3::PyErr;
use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Mutex;

/// Where the last panic happened (set by the hook, read by [`run`]).
static LAST_LOCATION: Mutex<Option<String>> = Mutex::new(None);

/// Runs `body`, turning a panic into a `RuntimeError` naming `binding`.
/// While the profiler is on, the call is recorded as a span; while a trace runs
/// (`ops::trace`), the binding is noted if it ran outside a recorded op.
#[inline(always)]
pub fn run<T, E: From<PyErr>>(
    binding: &'static str,
    body: impl FnOnce() -> Result<T, E>,
) -> Result<T, E> {
    if crate::ops::trace::active() {
        crate::ops::trace::note_binding(binding); // an engine op outside the traced graph?
    }
    if crate::profiler::enabled() {
        return run_profiled(binding, body);
    }
    guarded(binding, body)
}

#[inline(always)]
fn guarded<T, E: From<PyErr>>(binding: &str, body: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(result) => result,
        Err(payload) => Err(panic_to_error(binding, payload).into()),
    }
}

/// The call recorded as a span (cold: off the path of unprofiled calls).
#[cold]
#[inline(never)]
fn run_profiled<T, E: From<PyErr>>(
    binding: &'static str,
    body: impl FnOnce() -> Result<T, E>,
) -> Result<T, E> {
    let start = crate::profiler::now_ns();
    let result = guarded(binding, body);
    crate::profiler::span_end(binding, start);
    result
}

#[cold]
fn panic_to_error(binding: &str, payload: Box<dyn Any + Send>) -> PyErr {
    if payload.downcast_ref::<MetaAccess>().is_some() {
        // An op without a meta branch reached a kernel: PyTorch's error
        // for an operator with no Meta kernel.
        let op = super::op_names::aten_name(binding);
        return PyNotImplementedError::new_err(format!(
            "Could not run '{op}' with arguments from the 'Meta' backend. This could be because \
             the operator doesn't exist for this backend, or was omitted during the \
             selective/custom build process (if using custom build)."
        ));
    }
    if let Some(failure) = payload.downcast_ref::<AllocFailure>() {
        return PyRuntimeError::new_err(format!(
            "DefaultCPUAllocator: can't allocate memory: you tried to allocate {} bytes. \
             Error code 12 (Cannot allocate memory)",
            failure.bytes
        ));
    }
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string());
    let location = LAST_LOCATION
        .lock()
        .ok()
        .and_then(|mut l| l.take())
        .map(|l| format!(" (at {l})"))
        .unwrap_or_default();
    PyRuntimeError::new_err(format!(
        "rustdl internal error in {binding}: {message}{location}. This is a bug in rustdl; \
         please report it with the call that raised it."
    ))
}

/// Installs a panic hook that records the location instead of printing to
/// stderr (the error raised in Python carries it). With `RUST_BACKTRACE` set
/// the default report is printed as well.
pub fn install_hook() {
    let verbose = std::env::var_os("RUST_BACKTRACE").is_some_and(|v| v != "0");
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if info.payload().downcast_ref::<AllocFailure>().is_some()
            || info.payload().downcast_ref::<MetaAccess>().is_some()
        {
            return;
        }
        if let Ok(mut last) = LAST_LOCATION.lock() {
            *last = info
                .location()
                .map(|l| format!("{}:{}", l.file(), l.line()));
        }
        if verbose {
            default_hook(info);
        }
    }));
}
