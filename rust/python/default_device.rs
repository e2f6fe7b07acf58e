//! The default device of factory functions: `rustdl.set_default_device`,
//! `get_default_device`, and `with rustdl.device("meta"):`.
//!
//! As in PyTorch it is per thread. A factory (`zeros`, `rand`, `tensor`,
//! `arange`, the layers' parameters built with them, …) called without
//! `device=` puts its result there; `*_like` factories keep their input's
//! device. On the meta device a factory computes only the shape and dtype
//! ([`make`]), so `rand(2**40, device="meta")` allocates nothing.

use super::py_dtype::PyDevice;
use super::py_tensor::{device_arg, device_object};
use crate::tensor::{DType, Device, Tensor};
use pyo3::prelude::*;
use std::cell::RefCell;

thread_local! {
    /// The default device, and the ones `__enter__` replaced (restored by
    /// the matching `__exit__`).
    static DEFAULT: RefCell<(Option<Device>, Vec<Option<Device>>)> =
        const { RefCell::new((None, Vec::new())) };
}

/// The device a factory uses: `device=` when given, else the default.
pub fn factory_device(device: Option<&Bound<'_, PyAny>>) -> PyResult<Device> {
    match device {
        Some(d) if !d.is_none() => device_arg(d),
        _ => Ok(default_device()),
    }
}

pub fn default_device() -> Device {
    DEFAULT.with(|d| d.borrow().0.unwrap_or(Device::Cpu))
}

/// A factory's result on `device`: only its shape and dtype on the meta
/// device, else `compute()` (which builds it on the CPU) moved there.
pub fn make(
    device: Device,
    shape: &[usize],
    dtype: DType,
    compute: impl FnOnce() -> PyResult<Tensor>,
) -> PyResult<Tensor> {
    if device == Device::Meta {
        return Ok(Tensor::meta(shape, dtype));
    }
    let t = compute()?;
    Ok(crate::ops::device::copy_raw(&t, device)?)
}

#[rustdl_macros::guard_panics]
#[pymethods]
impl PyDevice {
    /// `with rustdl.device("meta"):` makes it the default device of the
    /// factories called inside.
    fn __enter__(slf: PyRef<'_, Self>) -> PyResult<PyRef<'_, Self>> {
        let dev = device_arg(slf.clone().into_pyobject(slf.py())?.as_any())?;
        DEFAULT.with(|d| {
            let mut d = d.borrow_mut();
            let previous = d.0.replace(dev);
            d.1.push(previous);
        });
        Ok(slf)
    }
    #[pyo3(signature = (*_args))]
    fn __exit__(&self, _args: &Bound<'_, pyo3::types::PyTuple>) -> bool {
        DEFAULT.with(|d| {
            let mut d = d.borrow_mut();
            if let Some(previous) = d.1.pop() {
                d.0 = previous;
            }
        });
        false
    }
}

/// `rustdl.set_default_device(device)` (`None` restores the CPU).
#[rustdl_macros::guard_panics]
#[pyfunction]
fn set_default_device(device: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
    let dev = match device {
        Some(d) if !d.is_none() => Some(device_arg(d)?),
        _ => None,
    };
    DEFAULT.with(|d| d.borrow_mut().0 = dev);
    Ok(())
}

/// `rustdl.get_default_device()`.
#[rustdl_macros::guard_panics]
#[pyfunction]
fn get_default_device() -> PyDevice {
    device_object(default_device())
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(set_default_device, m)?)?;
    m.add_function(wrap_pyfunction!(get_default_device, m)?)
}
