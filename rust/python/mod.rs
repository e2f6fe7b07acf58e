//! PyO3 bindings: the `rustdl._C` extension module.
//!
//! Argument parsing and conversion only; every computation is an `ops` call.
//! Rust errors become the Python exception PyTorch raises for the same misuse.

mod convert;
mod default_device;
mod functions;
mod op_names;
pub mod panic_guard;
mod py_attention;
mod py_autocast;
mod py_conv;
mod py_device;
mod py_dtype;
mod py_fused;
mod py_linalg;
mod py_loss;
mod py_machine;
mod py_math;
mod py_optim;
mod py_pool_norm;
mod py_profiler;
mod py_rnn;
mod py_shape;
mod py_shared;
mod py_tensor;
pub mod py_trace;

pub use py_tensor::PyTensor;

use crate::error::Error;
use pyo3::exceptions::{
    PyIndexError, PyNotImplementedError, PyRuntimeError, PyTypeError, PyValueError,
};
use pyo3::prelude::*;

impl From<Error> for PyErr {
    fn from(e: Error) -> PyErr {
        match e {
            Error::Runtime(m) => PyRuntimeError::new_err(m),
            Error::Index(m) => PyIndexError::new_err(m),
            Error::Type(m) => PyTypeError::new_err(m),
            Error::Value(m) => PyValueError::new_err(m),
            Error::NotImplemented(m) => PyNotImplementedError::new_err(m),
            Error::LinAlg(m) => py_linalg::LinAlgError::new_err(m),
        }
    }
}

#[pymodule]
fn _C(m: &Bound<'_, PyModule>) -> PyResult<()> {
    panic_guard::install_hook();
    m.add_class::<PyTensor>()?;
    m.add_class::<py_dtype::PyDType>()?;
    m.add_class::<py_dtype::PyDevice>()?;
    m.add_class::<py_tensor::PyHookHandle>()?;
    m.add_class::<py_tensor::PyAccumulateGrad>()?;
    m.add_class::<py_tensor::PyNode>()?;
    py_dtype::register(m)?;
    functions::register(m)?;
    functions::register_extra(m)?;
    py_conv::register(m)?;
    py_fused::register(m)?;
    py_loss::register(m)?;
    py_machine::register(m)?;
    py_autocast::register(m)?;
    py_device::register(m)?;
    py_pool_norm::register(m)?;
    py_optim::register(m)?;
    py_shared::register(m)?;
    py_linalg::register(m)?;
    default_device::register(m)?;
    py_profiler::register(m)?;
    py_attention::register(m)?;
    py_trace::register(m)?;
    py_rnn::register(m)?;
    Ok(())
}
