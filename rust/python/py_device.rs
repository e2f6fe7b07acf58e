//! `rustdl.backends.wgpu`: probing and synchronising the wgpu device.

use crate::gpu;
use pyo3::prelude::*;

#[rustdl_macros::guard_panics]
#[pyfunction]
fn _wgpu_is_built() -> bool {
    gpu::is_built()
}

/// Opens the device on first call (a few hundred ms on a software adapter).
#[rustdl_macros::guard_panics]
#[pyfunction]
fn _wgpu_is_available(py: Python<'_>) -> bool {
    py.detach(gpu::is_available)
}

#[rustdl_macros::guard_panics]
#[pyfunction]
fn _wgpu_device_count(py: Python<'_>) -> usize {
    py.detach(gpu::device_count)
}

#[rustdl_macros::guard_panics]
#[pyfunction]
fn _wgpu_device_name(py: Python<'_>) -> PyResult<String> {
    Ok(py.detach(gpu::device_name)?)
}

#[rustdl_macros::guard_panics]
#[pyfunction]
fn _wgpu_synchronize(py: Python<'_>) -> PyResult<()> {
    Ok(py.detach(gpu::synchronize)?)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_wgpu_is_built, m)?)?;
    m.add_function(wrap_pyfunction!(_wgpu_is_available, m)?)?;
    m.add_function(wrap_pyfunction!(_wgpu_device_count, m)?)?;
    m.add_function(wrap_pyfunction!(_wgpu_device_name, m)?)?;
    m.add_function(wrap_pyfunction!(_wgpu_synchronize, m)?)
}
