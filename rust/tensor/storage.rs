//! Storage: one flat, typed buffer shared by every view of it.
//!
//! Views alias the same storage, and in-place ops write through any of them, so
//! the buffer is interior-mutable. As in PyTorch, there is no lock: writers
//! go through `data_mut`, whose callers make sure no slice of the same buffer
//! is being read at the same time (ops that write in place compute into a
//! fresh buffer first when the source and destination may overlap).

use super::dtype::{DType, Elem};
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug)]
pub enum Buffer {
    Bool(Vec<bool>),
    U8(Vec<u8>),
    I32(Vec<i32>),
    I64(Vec<i64>),
    F32(Vec<f32>),
    F64(Vec<f64>),
    /// Memory on the wgpu device (see `crate::gpu`).
    Device(crate::gpu::DeviceBuffer),
}

impl Buffer {
    pub fn dtype(&self) -> DType {
        match self {
            Buffer::Bool(_) => DType::Bool,
            Buffer::U8(_) => DType::U8,
            Buffer::I32(_) => DType::I32,
            Buffer::I64(_) => DType::I64,
            Buffer::F32(_) => DType::F32,
            Buffer::F64(_) => DType::F64,
            Buffer::Device(d) => d.dtype(),
        }
    }
    pub fn is_device(&self) -> bool {
        matches!(self, Buffer::Device(_))
    }
    pub fn len(&self) -> usize {
        match self {
            Buffer::Bool(v) => v.len(),
            Buffer::U8(v) => v.len(),
            Buffer::I32(v) => v.len(),
            Buffer::I64(v) => v.len(),
            Buffer::F32(v) => v.len(),
            Buffer::F64(v) => v.len(),
            Buffer::Device(d) => d.len(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn zeros(dtype: DType, n: usize) -> Buffer {
        match dtype {
            DType::Bool => Buffer::Bool(vec![false; n]),
            DType::U8 => Buffer::U8(vec![0; n]),
            DType::I32 => Buffer::I32(vec![0; n]),
            DType::I64 => Buffer::I64(vec![0; n]),
            DType::F32 => Buffer::F32(vec![0.0; n]),
            DType::F64 => Buffer::F64(vec![0.0; n]),
        }
    }
}

/// Conversion between a typed `Vec` and a `Buffer`.
pub trait BufferElem: Elem {
    fn wrap(v: Vec<Self>) -> Buffer;
    fn slice(b: &Buffer) -> Option<&[Self]>;
    fn slice_mut(b: &mut Buffer) -> Option<&mut [Self]>;
    /// Take the typed vector out of a buffer (the buffer back on mismatch).
    fn unwrap_buffer(b: Buffer) -> Result<Vec<Self>, Buffer>;
}

macro_rules! impl_buffer_elem {
    ($t:ty, $v:ident) => {
        impl BufferElem for $t {
            #[inline]
            fn wrap(v: Vec<Self>) -> Buffer {
                Buffer::$v(v)
            }
            #[inline]
            fn slice(b: &Buffer) -> Option<&[Self]> {
                match b {
                    Buffer::$v(v) => Some(v),
                    _ => None,
                }
            }
            #[inline]
            fn slice_mut(b: &mut Buffer) -> Option<&mut [Self]> {
                match b {
                    Buffer::$v(v) => Some(v),
                    _ => None,
                }
            }
            #[inline]
            fn unwrap_buffer(b: Buffer) -> Result<Vec<Self>, Buffer> {
                match b {
                    Buffer::$v(v) => Ok(v),
                    other => Err(other),
                }
            }
        }
    };
}
impl_buffer_elem!(bool, Bool);
impl_buffer_elem!(u8, U8);
impl_buffer_elem!(i32, I32);
impl_buffer_elem!(i64, I64);
impl_buffer_elem!(f32, F32);
impl_buffer_elem!(f64, F64);

pub struct Storage {
    buf: UnsafeCell<Buffer>,
    /// Bumped by every in-place write; autograd checks it on saved tensors.
    version: AtomicU64,
}

// SAFETY: see the module comment; concurrent access follows PyTorch's rules
// (the caller never reads and writes overlapping elements concurrently).
unsafe impl Sync for Storage {}
unsafe impl Send for Storage {}

impl Drop for Storage {
    fn drop(&mut self) {
        // Hand large buffers to the caching allocator for reuse.
        let buf = std::mem::replace(self.buf.get_mut(), Buffer::Bool(Vec::new()));
        super::pool::give(buf);
    }
}

impl Storage {
    pub fn new(buf: Buffer) -> Storage {
        Storage {
            buf: UnsafeCell::new(buf),
            version: AtomicU64::new(0),
        }
    }
    pub fn buffer(&self) -> &Buffer {
        // SAFETY: shared read; see module comment.
        unsafe { &*self.buf.get() }
    }
    /// Mutable access for in-place writes.
    ///
    /// # Safety
    /// No other reference into overlapping elements may be used while the
    /// returned one lives.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn buffer_mut(&self) -> &mut Buffer {
        &mut *self.buf.get()
    }
    pub fn dtype(&self) -> DType {
        self.buffer().dtype()
    }
    pub fn len(&self) -> usize {
        self.buffer().len()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::Relaxed)
    }
    pub fn bump_version(&self) {
        self.version.fetch_add(1, Ordering::Relaxed);
    }
    /// Address of the first element (identity of the memory, for aliasing checks).
    pub fn ptr(&self) -> usize {
        match self.buffer() {
            Buffer::Bool(v) => v.as_ptr() as usize,
            Buffer::U8(v) => v.as_ptr() as usize,
            Buffer::I32(v) => v.as_ptr() as usize,
            Buffer::I64(v) => v.as_ptr() as usize,
            Buffer::F32(v) => v.as_ptr() as usize,
            Buffer::F64(v) => v.as_ptr() as usize,
            Buffer::Device(d) => d as *const _ as usize,
        }
    }
}
