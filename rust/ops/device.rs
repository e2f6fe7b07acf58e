//! Moving tensors between the CPU and the wgpu device, with autograd: the
//! gradient of a copy flows back to the device the input lives on.

use crate::autograd::record;
use crate::error::Result;
use crate::tensor::{Device, Tensor};

/// `x.to(device)`: `x` itself when already there.
pub fn to_device(x: &Tensor, device: Device) -> Result<Tensor> {
    if x.device() == device {
        return Ok(x.clone());
    }
    let out = copy_raw(x, device)?;
    let src = x.device();
    record("ToCopyBackward0", &[x], &[&out], move |g| {
        Ok(vec![g[0]
            .as_ref()
            .map(|g| to_device(g, src))
            .transpose()?])
    });
    Ok(out)
}

/// `x`'s values on `device` (no autograd; `x` itself when already there).
pub fn copy_raw(x: &Tensor, device: Device) -> Result<Tensor> {
    if x.device() == device {
        return Ok(x.clone());
    }
    if x.is_meta() {
        return Err(crate::error::Error::NotImplemented(
            "Cannot copy out of meta tensor; no data!".into(),
        ));
    }
    match device {
        Device::Meta => Ok(Tensor::meta(x.shape(), x.dtype())),
        Device::Cpu => crate::gpu::ops::to_host(x),
        Device::Wgpu => crate::gpu::ops::to_device(x),
    }
}
