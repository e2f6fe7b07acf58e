//! Machine measurements for the benchmark scripts.

use pyo3::prelude::*;

/// Peak f32 GFLOP/s of FMA chains on `threads` threads.
#[rustdl_macros::guard_panics]
#[pyfunction]
fn _peak_gflops(py: Python<'_>, threads: usize) -> f64 {
    py.detach(|| crate::cpu::peak::peak_gflops(threads))
}

/// STREAM-like triad bandwidth in GB/s over `n` floats on `threads` threads.
#[rustdl_macros::guard_panics]
#[pyfunction]
fn _triad_gbs(py: Python<'_>, n: usize, threads: usize) -> f64 {
    py.detach(|| crate::cpu::peak::triad_gbs(n, threads))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_peak_gflops, m)?)?;
    m.add_function(wrap_pyfunction!(_triad_gbs, m)?)?;
    m.add_function(wrap_pyfunction!(_panic_for_test, m)?)
}

/// Panics on purpose: the test that no panic crosses into Python calls it.
#[rustdl_macros::guard_panics]
#[pyfunction]
fn _panic_for_test(message: &str) {
    if !message.is_empty() {
        panic!("{message}");
    }
}
