//! `kernels` when the wgpu feature is off: same signatures, no device.

use crate::error::{Error, Result};
use crate::tensor::{Buffer, DType, Tensor};

fn not_built() -> Error {
    Error::Runtime(super::NOT_BUILT.into())
}

/// Device memory: uninhabited without the feature.
#[derive(Debug)]
pub enum DeviceBuffer {}

impl DeviceBuffer {
    pub fn dtype(&self) -> DType {
        match *self {}
    }
    pub fn len(&self) -> usize {
        match *self {}
    }
    pub fn is_empty(&self) -> bool {
        match *self {}
    }
    pub fn from_host(_host: &Buffer) -> Result<DeviceBuffer> {
        Err(not_built())
    }
    pub fn to_host(&self, _start: usize, _n: usize) -> Result<Buffer> {
        match *self {}
    }
}

pub fn device_buffer(_t: &Tensor) -> Result<&DeviceBuffer> {
    Err(not_built())
}

pub fn empty(_shape: &[usize], _dtype: DType) -> Result<Tensor> {
    Err(not_built())
}

pub fn map_into(_expr: &str, _inputs: &[&Tensor], _params: &[f32], _out: &Tensor) -> Result<()> {
    Err(not_built())
}

pub fn map(
    _expr: &str,
    _inputs: &[&Tensor],
    _params: &[f32],
    _shape: &[usize],
    _dtype: DType,
) -> Result<Tensor> {
    Err(not_built())
}

pub fn launch(
    _key: &str,
    _source: &str,
    _meta: &[u32],
    _out: &Tensor,
    _inputs: &[&Tensor],
    _groups: [u32; 3],
) -> Result<()> {
    Err(not_built())
}

pub fn cast_expr(_v: &str, _from: DType, _to: DType) -> Result<String> {
    Err(not_built())
}

pub fn groups_for(_n: usize) -> [u32; 3] {
    [1, 1, 1]
}

pub fn check_same_device<'a>(_ts: impl Iterator<Item = &'a Tensor>) -> Result<()> {
    Ok(())
}
