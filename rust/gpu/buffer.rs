//! Tensor storage on the wgpu device.
//!
//! Every element is one 32-bit word, so one kernel template serves all dtypes:
//! float32 as `f32`; int64 and int32 as `i32` (int64 values must fit in 32
//! bits on the device: WGSL has no 64-bit integers); bool and uint8 as `u32`.
//! float64 is not supported (WGSL has no portable f64).

use super::context::gpu;
use super::wgsl_type;
use crate::error::{Error, Result};
use crate::tensor::{Buffer, DType};

pub struct DeviceBuffer {
    buf: Option<wgpu::Buffer>,
    dtype: DType,
    len: usize,
}

impl std::fmt::Debug for DeviceBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DeviceBuffer({}, {})", self.dtype.name(), self.len)
    }
}

impl Drop for DeviceBuffer {
    fn drop(&mut self) {
        if let (Some(b), Ok(g)) = (self.buf.take(), gpu()) {
            g.release(b);
        }
    }
}

impl DeviceBuffer {
    pub fn dtype(&self) -> DType {
        self.dtype
    }
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    pub fn raw(&self) -> &wgpu::Buffer {
        self.buf.as_ref().expect("buffer is live until dropped")
    }

    /// Uninitialised device memory for `len` elements of `dtype`.
    pub fn empty(dtype: DType, len: usize) -> Result<DeviceBuffer> {
        wgsl_type(dtype)?;
        let buf = gpu()?.alloc(len as u64 * 4)?;
        Ok(DeviceBuffer {
            buf: Some(buf),
            dtype,
            len,
        })
    }

    /// Copy a host buffer to the device.
    pub fn from_host(host: &Buffer) -> Result<DeviceBuffer> {
        let words: Vec<u32> = match host {
            Buffer::F32(v) => v.iter().map(|x| x.to_bits()).collect(),
            Buffer::I32(v) => v.iter().map(|&x| x as u32).collect(),
            Buffer::I64(v) => {
                let mut out = Vec::with_capacity(v.len());
                for &x in v {
                    let y = i32::try_from(x).map_err(|_| {
                        Error::Runtime(format!(
                            "int64 value {x} does not fit in 32 bits, the integer width of the wgpu device"
                        ))
                    })?;
                    out.push(y as u32);
                }
                out
            }
            Buffer::U8(v) => v.iter().map(|&x| x as u32).collect(),
            Buffer::Bool(v) => v.iter().map(|&x| x as u32).collect(),
            Buffer::F64(_) => return Err(super::no_f64()),
            Buffer::I8(_) | Buffer::I16(_) | Buffer::F16(_) | Buffer::BF16(_) => {
                return Err(super::unsupported_dtype(host.dtype()))
            }
            Buffer::Device(_) => {
                return Err(Error::Runtime(
                    "internal: buffer is already on the device".into(),
                ))
            }
        };
        let buf = gpu()?.upload(bytemuck::cast_slice(&words))?;
        Ok(DeviceBuffer {
            buf: Some(buf),
            dtype: host.dtype(),
            len: words.len(),
        })
    }

    /// Read elements `[start, start + n)` back to a host buffer.
    pub fn to_host(&self, start: usize, n: usize) -> Result<Buffer> {
        let bytes = gpu()?.download(self.raw(), start as u64 * 4, n as u64 * 4)?;
        // (the byte vector need not be 4-aligned, so no cast_slice here)
        let words: Vec<u32> = bytes
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        Ok(match self.dtype {
            DType::F32 => Buffer::F32(words.iter().map(|&w| f32::from_bits(w)).collect()),
            DType::I32 => Buffer::I32(words.iter().map(|&w| w as i32).collect()),
            DType::I64 => Buffer::I64(words.iter().map(|&w| w as i32 as i64).collect()),
            DType::U8 => Buffer::U8(words.iter().map(|&w| w as u8).collect()),
            DType::Bool => Buffer::Bool(words.iter().map(|&w| w != 0).collect()),
            DType::F64 => return Err(super::no_f64()),
            DType::I8 | DType::I16 | DType::F16 | DType::BF16 => {
                return Err(super::unsupported_dtype(self.dtype))
            }
        })
    }
}
