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
}

pub type Result<T> = std::result::Result<T, Error>;

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Runtime(m) | Error::Index(m) | Error::Type(m) | Error::Value(m) => {
                f.write_str(m)
            }
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
