//! The tensor: storage + layout + dtype + device + autograd metadata.

pub mod access;
pub mod dtype;
pub mod half;
pub mod layout;
pub mod pool;
pub mod shared_memory;
pub mod storage;
#[allow(clippy::module_inception)]
pub mod tensor;
pub mod transpose;

pub use dtype::{DType, Elem};
pub use layout::{Layout, Shape};
pub use storage::{Buffer, Storage};
pub use tensor::{AutogradMeta, Device, Tensor, TensorImpl};
