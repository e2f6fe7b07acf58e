//! The GPU backend on wgpu (cargo feature `wgpu`): any Vulkan, Metal or DX12
//! device, no CUDA.
//!
//! A device tensor is an ordinary `Tensor` whose storage is a
//! `Buffer::Device`; layout (views, strides, broadcasting) and autograd are
//! shared with the CPU. Ops check the device of their inputs and call the
//! kernels here (WGSL, generated from templates in `shaders/` and the
//! expression tables of `ops.rs`). The device is created lazily on first use,
//! so CPU-only users pay nothing.
//!
//! Without the feature, `DeviceBuffer` is an empty type: no tensor can be on
//! the device, and the functions below report that it was not built.

#[cfg(feature = "wgpu")]
mod buffer;
#[cfg(feature = "wgpu")]
pub mod context;
pub mod conv;
// Without the feature, `kernels` is a stub whose launches report that the
// backend was not built (no tensor can reach them: none can be on the device).
pub mod index;
#[cfg_attr(not(feature = "wgpu"), path = "kernels_stub.rs")]
pub mod kernels;
pub mod matmul;
pub mod ops;
#[cfg(feature = "wgpu")]
pub mod optim;
pub mod reduce;

#[cfg(feature = "wgpu")]
pub use buffer::DeviceBuffer;
#[cfg(not(feature = "wgpu"))]
pub use kernels::DeviceBuffer;

use crate::error::{Error, Result};
use crate::tensor::DType;

/// The WGSL scalar type that holds a dtype on the device: one 32-bit word per
/// element, so one kernel template serves every dtype (int64 values must fit
/// in 32 bits on the device; WGSL has no 64-bit integers or portable f64).
pub fn wgsl_type(dtype: DType) -> Result<&'static str> {
    match dtype {
        DType::F32 => Ok("f32"),
        DType::I64 | DType::I32 => Ok("i32"),
        DType::Bool | DType::U8 => Ok("u32"),
        DType::F64 => Err(no_f64()),
        DType::I8 | DType::I16 | DType::F16 | DType::BF16 => Err(unsupported_dtype(dtype)),
    }
}

/// The narrow dtypes (issue 20) have no device representation yet.
pub fn unsupported_dtype(dtype: DType) -> Error {
    Error::Type(format!(
        "{dtype} tensors are not supported on the wgpu device yet; use float32 or int32"
    ))
}

pub fn no_f64() -> Error {
    Error::Type(
        "float64 tensors are not supported on the wgpu device (WGSL has no portable 64-bit float); use float32".into(),
    )
}

pub const NOT_BUILT: &str =
    "rustdl was built without the wgpu feature (rebuild with `--features wgpu`, see README)";

/// Whether a wgpu device can be opened (opening it if not yet open).
pub fn is_available() -> bool {
    #[cfg(feature = "wgpu")]
    {
        context::gpu().is_ok()
    }
    #[cfg(not(feature = "wgpu"))]
    {
        false
    }
}

pub fn is_built() -> bool {
    cfg!(feature = "wgpu")
}

/// Number of adapters wgpu reports (without opening one).
pub fn device_count() -> usize {
    #[cfg(feature = "wgpu")]
    {
        context::adapters().len()
    }
    #[cfg(not(feature = "wgpu"))]
    {
        0
    }
}

/// The name of the adapter in use, or why there is none.
pub fn device_name() -> Result<String> {
    #[cfg(feature = "wgpu")]
    {
        let g = context::gpu()?;
        Ok(format!("{} ({:?})", g.info.name, g.info.backend))
    }
    #[cfg(not(feature = "wgpu"))]
    {
        Err(Error::Runtime(NOT_BUILT.into()))
    }
}

/// Wait for every queued kernel.
pub fn synchronize() -> Result<()> {
    #[cfg(feature = "wgpu")]
    {
        if let Ok(g) = context::gpu() {
            g.synchronize()?;
        }
        Ok(())
    }
    #[cfg(not(feature = "wgpu"))]
    {
        Ok(())
    }
}

/// Error for a device this build cannot open.
pub fn require() -> Result<()> {
    #[cfg(feature = "wgpu")]
    {
        context::gpu().map(|_| ())
    }
    #[cfg(not(feature = "wgpu"))]
    {
        Err(Error::Runtime(NOT_BUILT.into()))
    }
}
