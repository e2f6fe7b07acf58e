//! Errors, each mapped to the Python exception type PyTorch raises.

use std::fmt;

#[derive(Debug, Clone)]
pub enum Error {
    /// RuntimeError: shape mismatches, autograd misuse, bad state.
    Runtime(String),
    /// IndexError: out-of-range dims or indices.
    Index(String),
    /// TypeError: wrong kind of argument or dtype.
    Type(String),
    /// ValueError: a value outside its allowed range.
    Value(String),
    /// NotImplementedError: a kernel that has no version for a dtype.
    NotImplemented(String),
    /// torch.linalg.LinAlgError (a RuntimeError): a singular or non-positive-
    /// definite matrix, a decomposition that did not converge.
    LinAlg(String),
}

impl Error {
    /// PyTorch's error for a kernel without a version for `dtype`:
    /// `"elu_cpu" not implemented for 'Long'`.
    pub fn not_implemented(kernel: &str, dtype: crate::tensor::DType) -> Error {
        Error::NotImplemented(format!(
            "\"{kernel}\" not implemented for '{}'",
            dtype.scalar_name()
        ))
    }
}

/// Float-only ops refuse integer and bool tensors, naming their kernel as
/// PyTorch does.
pub fn require_float(x: &crate::tensor::Tensor, kernel: &str) -> Result<()> {
    match x.dtype().is_float() {
        true => Ok(()),
        false => Err(Error::not_implemented(kernel, x.dtype())),
    }
}

pub type Result<T> = std::result::Result<T, Error>;

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Runtime(m)
            | Error::Index(m)
            | Error::Type(m)
            | Error::Value(m)
            | Error::NotImplemented(m)
            | Error::LinAlg(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for Error {}

/// `bail!(Runtime, "...", args)` returns early with that error.
#[macro_export]
macro_rules! bail {
    ($kind:ident, $($arg:tt)*) => {
        return Err($crate::error::Error::$kind(format!($($arg)*)))
    };
}
