//! Machine measurements for the benchmark scripts.

use crate::cpu::isa;
use pyo3::exceptions::{PyRuntimeError, PyValueError};
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

/// The instruction set the kernels run now ("portable", "avx2", "avx512", "amx").
#[rustdl_macros::guard_panics]
#[pyfunction]
fn _cpu_isa() -> &'static str {
    isa::active().name()
}

/// `torch.backends.cpu.get_cpu_capability()`'s answer for the active level.
#[rustdl_macros::guard_panics]
#[pyfunction]
fn _cpu_capability() -> &'static str {
    isa::active().capability_name()
}

/// The levels this CPU can run, lowest first.
#[rustdl_macros::guard_panics]
#[pyfunction]
fn _cpu_isas() -> Vec<&'static str> {
    isa::supported().into_iter().map(isa::Isa::name).collect()
}

/// CPU features the kernels look at beyond the levels.
#[rustdl_macros::guard_panics]
#[pyfunction]
fn _cpu_features() -> Vec<(&'static str, bool)> {
    let f = isa::features();
    vec![
        ("avx2_fma", f.avx2_fma),
        ("avx512", f.avx512),
        ("avx512_bf16", f.avx512_bf16),
        ("amx_bf16", f.amx_bf16),
    ]
}

/// Run the kernels at another level from now on (tests, benchmarks).
#[rustdl_macros::guard_panics]
#[pyfunction]
fn _set_cpu_isa(name: &str) -> PyResult<()> {
    let level = isa::Isa::parse(name).ok_or_else(|| {
        PyValueError::new_err(format!(
            "unknown CPU instruction set '{name}' (expected portable, avx2, avx512 or amx)"
        ))
    })?;
    isa::set_active(level).map_err(PyRuntimeError::new_err)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_cpu_isa, m)?)?;
    m.add_function(wrap_pyfunction!(_cpu_capability, m)?)?;
    m.add_function(wrap_pyfunction!(_cpu_isas, m)?)?;
    m.add_function(wrap_pyfunction!(_cpu_features, m)?)?;
    m.add_function(wrap_pyfunction!(_set_cpu_isa, m)?)?;
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
