//! Reading and writing a tensor's elements whatever its layout.

use super::dtype::{DType, Elem};
use super::layout::{broadcast_strides, coalesce, contiguous_strides, Layout, StridedRuns};
use super::storage::{Buffer, BufferElem};
use super::Tensor;
use crate::error::{Error, Result};
use crate::parallel;
use std::borrow::Cow;

/// Run `$body` with `$T` bound to the Rust type of `$dtype` (all dtypes).
#[macro_export]
macro_rules! dispatch_all {
    ($dtype:expr, $T:ident => $body:expr) => {
        match $dtype {
            $crate::tensor::DType::F32 => {
                type $T = f32;
                $body
            }
            $crate::tensor::DType::F64 => {
                type $T = f64;
                $body
            }
            $crate::tensor::DType::I64 => {
                type $T = i64;
                $body
            }
            $crate::tensor::DType::I32 => {
                type $T = i32;
                $body
            }
            $crate::tensor::DType::U8 => {
                type $T = u8;
                $body
            }
            $crate::tensor::DType::I8 => {
                type $T = i8;
                $body
            }
            $crate::tensor::DType::I16 => {
                type $T = i16;
                $body
            }
            $crate::tensor::DType::F16 => {
                type $T = ::half::f16;
                $body
            }
            $crate::tensor::DType::BF16 => {
                type $T = ::half::bf16;
                $body
            }
            $crate::tensor::DType::Bool => {
                type $T = bool;
                $body
            }
        }
    };
}

/// Like `dispatch_all!` but for numeric dtypes (bool is an error).
#[macro_export]
macro_rules! dispatch_numeric {
    ($dtype:expr, $T:ident => $body:expr) => {
        match $dtype {
            $crate::tensor::DType::F32 => {
                type $T = f32;
                $body
            }
            $crate::tensor::DType::F64 => {
                type $T = f64;
                $body
            }
            $crate::tensor::DType::I64 => {
                type $T = i64;
                $body
            }
            $crate::tensor::DType::I32 => {
                type $T = i32;
                $body
            }
            $crate::tensor::DType::U8 => {
                type $T = u8;
                $body
            }
            $crate::tensor::DType::I8 => {
                type $T = i8;
                $body
            }
            $crate::tensor::DType::I16 => {
                type $T = i16;
                $body
            }
            $crate::tensor::DType::Bool => {
                return Err($crate::error::Error::Runtime(
                    "this operation does not support bool tensors".into(),
                ))
            }
            // No kernel of its own: ops widen half inputs to float32 first
            // (`tensor::half`); one that does not names its op and dtype.
            other @ ($crate::tensor::DType::F16 | $crate::tensor::DType::BF16) => {
                return Err($crate::error::Error::not_implemented(
                    "this operation",
                    other,
                ))
            }
        }
    };
}

/// Like `dispatch_all!` but for float dtypes (others are an error naming `$what`).
#[macro_export]
macro_rules! dispatch_float {
    ($dtype:expr, $what:expr, $T:ident => $body:expr) => {
        match $dtype {
            $crate::tensor::DType::F32 => {
                type $T = f32;
                $body
            }
            $crate::tensor::DType::F64 => {
                type $T = f64;
                $body
            }
            other => return Err($crate::error::Error::not_implemented(&$what, other)),
        }
    };
}

impl Tensor {
    /// The whole storage as a typed slice (the dtype must match).
    pub fn storage_slice<T: BufferElem>(&self) -> &[T] {
        match T::slice(self.storage().buffer()) {
            Some(s) => s,
            None if self.is_gpu() => panic!(
                "this operation is not implemented on the wgpu device yet; move the tensor to the CPU with .cpu() first"
            ),
            None => panic!("internal: storage dtype does not match tensor dtype"),
        }
    }

    /// Elements in row-major order: borrowed when contiguous, gathered otherwise
    /// (read back from the device for a device tensor).
    pub fn data<T: BufferElem>(&self) -> Cow<'_, [T]> {
        if self.is_gpu() {
            return Cow::Owned(self.try_host_vec::<T>().unwrap_or_else(|e| panic!("{e}")));
        }
        if let Some(s) = self.as_slice::<T>() {
            return Cow::Borrowed(s);
        }
        Cow::Owned(gather_strided(self.storage_slice::<T>(), self.layout()))
    }

    pub fn to_vec<T: BufferElem>(&self) -> Vec<T> {
        match self.data::<T>() {
            // Into a cached buffer, not a fresh one: a fresh large buffer
            // costs a page fault per 4 KiB written (`x.clone()` of 16M
            // floats ran at a third of memory speed).
            Cow::Borrowed(s) => copied_vec(s),
            Cow::Owned(v) => v,
        }
    }

    /// The elements of a device tensor read back (or copied, on the CPU).
    pub fn try_host_vec<T: BufferElem>(&self) -> Result<Vec<T>> {
        if !self.is_gpu() {
            return Ok(self.to_vec::<T>());
        }
        let buf = crate::gpu::ops::host_buffer(self)?;
        T::unwrap_buffer(buf)
            .map_err(|_| Error::Runtime("internal: readback dtype mismatch".into()))
    }

    /// Values converted to f64 (for printing, tolist, item).
    pub fn to_f64_vec(&self) -> Vec<f64> {
        dispatch_all!(self.dtype(), T => self.data::<T>().iter().map(|v| v.to_f64()).collect())
    }

    /// A contiguous tensor with the same values; `self` when already contiguous.
    /// No autograd (see `ops::shape::contiguous` for the recorded version).
    pub fn contiguous_raw(&self) -> Tensor {
        if self.is_contiguous() && self.offset() == 0 && self.storage().len() == self.numel() {
            return self.clone();
        }
        if self.is_meta() {
            return Tensor::meta(self.shape(), self.dtype());
        }
        if self.is_gpu() {
            return crate::gpu::kernels::map("a", &[self], &[], self.shape(), self.dtype())
                .unwrap_or_else(|e| panic!("{e}"));
        }
        dispatch_all!(self.dtype(), T => Tensor::from_vec(self.to_vec::<T>(), self.shape()))
    }

    /// Values converted to `dtype`, as a new contiguous tensor (or `self` if same).
    pub fn cast_raw(&self, dtype: DType) -> Tensor {
        if dtype == self.dtype() {
            return self.clone();
        }
        if self.is_meta() {
            return Tensor::meta(self.shape(), dtype);
        }
        if self.is_gpu() {
            return crate::gpu::ops::cast(self, dtype).unwrap_or_else(|e| panic!("{e}"));
        }
        if let Some(t) = super::half::fast_cast(self, dtype) {
            return t;
        }
        dispatch_all!(self.dtype(), S => {
            let src = self.data::<S>();
            dispatch_all!(dtype, D => {
                let v: Vec<D> = parallel::map_slice(&src, cast_elem::<S, D>);
                Tensor::from_vec(v, self.shape())
            })
        })
    }

    /// The single value of a one-element tensor, as f64.
    pub fn item_f64(&self) -> Result<f64> {
        if self.numel() != 1 {
            return Err(Error::Runtime(format!(
                "a Tensor with {} elements cannot be converted to Scalar",
                self.numel()
            )));
        }
        if self.is_meta() {
            return Err(Error::Runtime(
                "Tensor.item() cannot be called on meta tensors".into(),
            ));
        }
        Ok(self.to_f64_vec()[0])
    }
}

#[inline(always)]
pub fn cast_elem<S: Elem, D: Elem>(x: S) -> D {
    match (S::DTYPE.is_float(), D::DTYPE) {
        (_, DType::Bool) => D::from_bool(x.to_bool()),
        (true, _) => D::from_f64(x.to_f64()),
        (false, _) => D::from_i64(x.to_i64()),
    }
}

/// Row-major gather of a strided view.
/// A copy of `src` in a buffer from the tensor cache, copied in parallel
/// chunks when large.
pub fn copied_vec<T: BufferElem>(src: &[T]) -> Vec<T> {
    let mut out: Vec<T> = super::pool::uninit_vec::<T>(src.len());
    let size = std::mem::size_of::<T>();
    if size.is_multiple_of(4) && crate::cpu::stream::worth_streaming(std::mem::size_of_val(src)) {
        // The bits moved as 4-byte words (no arithmetic: every value,
        // NaN payloads included, is copied as is).
        let words = size / 4 * src.len();
        // SAFETY: T is a plain number type of a multiple of 4 bytes and
        // at least 4-byte alignment; both slices span `words` words.
        let (s, d) = unsafe {
            (
                std::slice::from_raw_parts(src.as_ptr() as *const f32, words),
                std::slice::from_raw_parts_mut(out.as_mut_ptr() as *mut f32, words),
            )
        };
        parallel::fill_chunks(d, |start, chunk| {
            crate::cpu::stream::copy(chunk, &s[start..start + chunk.len()]);
            crate::cpu::stream::fence();
        });
        return out;
    }
    parallel::fill_chunks(&mut out, |start, chunk| {
        chunk.copy_from_slice(&src[start..start + chunk.len()])
    });
    out
}

pub fn gather_strided<T: BufferElem>(src: &[T], layout: &Layout) -> Vec<T> {
    let mut out: Vec<T> = super::pool::uninit_vec::<T>(layout.numel());
    let out_strides = contiguous_strides(&layout.shape);
    let (shape, strides) = coalesce(&layout.shape, &[out_strides, layout.strides.clone()]);
    copy_view_into(src, &shape, &strides[1], layout.offset as isize, &mut out);
    out
}

/// Copy the view of `src` with (coalesced, row-major ordered) `shape` and
/// `strides` from `offset` into `out` in row-major order: in contiguous
/// runs, in parallel chunks when large; a transposed view in register blocks
/// (`transpose.rs`).
fn copy_view_into<T: Copy + Send + Sync>(
    src: &[T],
    shape: &[usize],
    strides: &[isize],
    offset: isize,
    out: &mut [T],
) {
    if let Some(view) = super::transpose::TransposedView::new(shape, strides, offset) {
        return view.copy_into(src, out);
    }
    let inner = *strides.last().unwrap_or(&1);
    parallel::fill_chunks(out, |start, chunk| {
        let runs = StridedRuns {
            shape,
            strides: &[strides],
            offsets: &[offset],
        };
        let mut pos = 0;
        runs.for_each_run(start, start + chunk.len(), |offs, len| {
            let (base, dst) = (offs[0], &mut chunk[pos..pos + len]);
            match inner {
                1 => dst.copy_from_slice(&src[base as usize..][..len]),
                // A broadcast (expanded) dim, e.g. the gradient of a sum.
                0 => dst.fill(src[base as usize]),
                _ => dst
                    .iter_mut()
                    .enumerate()
                    .for_each(|(i, d)| *d = src[(base + i as isize * inner) as usize]),
            }
            pos += len;
        });
    });
}

/// Write `src` (broadcast to `dst`'s shape, converted to its dtype) into the
/// elements of `dst`, in place. Caller guarantees `src` does not overlap `dst`.
/// `src`, a pending (deferred) float32 result of `dst`'s shape, computed
/// straight into contiguous `dst`: one pass over memory instead of computing
/// it into a buffer of its own and copying that (`torch.add(x, y, out=z)`).
fn write_pending_into(dst: &Tensor, src: &Tensor) -> bool {
    if !(src.storage().is_deferred()
        && dst.dtype() == DType::F32
        && src.dtype() == DType::F32
        && dst.is_contiguous()
        && src.is_contiguous()
        && src.offset() == 0
        && src.shape() == dst.shape())
    {
        return false;
    }
    // SAFETY: src was checked by the caller not to share dst's storage;
    // `buffer_mut` first runs the pending results that read dst.
    let buf = unsafe { dst.storage().buffer_mut() };
    let Some(d) = f32::slice_mut(buf) else {
        return false;
    };
    let off = dst.offset();
    if !src
        .storage()
        .run_into_f32(&mut d[off..off + dst.numel()], dst.storage())
    {
        return false;
    }
    dst.storage().bump_version();
    true
}

pub fn write_into(dst: &Tensor, src: &Tensor) -> Result<()> {
    if dst.is_meta() {
        // Nothing to write (PyTorch's meta copy_ only checks the shapes).
        broadcast_strides(src.layout(), dst.shape())?;
        return Ok(());
    }
    if src.is_meta() {
        return Err(Error::NotImplemented(
            "Cannot copy out of meta tensor; no data!".into(),
        ));
    }
    if dst.is_gpu() {
        return crate::gpu::ops::write_into(dst, src);
    }
    if src.is_gpu() {
        return write_into(dst, &crate::gpu::ops::to_host(src)?);
    }
    let src = src.cast_raw(dst.dtype());
    if write_pending_into(dst, &src) {
        return Ok(());
    }
    let sstr = broadcast_strides(src.layout(), dst.shape())?;
    let shape = dst.shape().to_vec();
    let (cshape, cstr) = coalesce(&shape, &[dst.strides().into(), sstr]);
    dispatch_all!(dst.dtype(), T => {
        let s: &[T] = src.storage_slice::<T>();
        // SAFETY: src was checked by the caller not to overlap dst.
        let buf = unsafe { dst.storage().buffer_mut() };
        let d: &mut [T] = T::slice_mut(buf).expect("dtype matches");
        if dst.is_contiguous() {
            // The common case (in-place ops): fill dst's run of memory in
            // parallel chunks, each walking src (contiguous, strided or
            // broadcast) in runs; a contiguous src is a memcpy.
            // (dst's coalesced strides are row-major, so cshape/cstr[1] walk
            // src in dst's order.)
            let off = dst.offset();
            copy_view_into(s, &cshape, &cstr[1], src.offset() as isize, &mut d[off..off + dst.numel()]);
            dst.storage().bump_version();
            return Ok(());
        }
        let runs = StridedRuns {
            shape: &cshape,
            strides: &[&cstr[0], &cstr[1]],
            offsets: &[dst.offset() as isize, src.offset() as isize],
        };
        let (ds, ss) = (*cstr[0].last().unwrap_or(&1), *cstr[1].last().unwrap_or(&1));
        runs.for_each_run(0, dst.numel(), |offs, len| {
            if ds == 1 && ss == 1 {
                // Rows of both (cat along an inner dim): one copy per run.
                d[offs[0] as usize..][..len].copy_from_slice(&s[offs[1] as usize..][..len]);
                return;
            }
            for i in 0..len as isize {
                d[(offs[0] + i * ds) as usize] = s[(offs[1] + i * ss) as usize];
            }
        });
    });
    dst.storage().bump_version();
    Ok(())
}

/// Fill every element of `dst` with `value`, in place.
pub fn fill_(dst: &Tensor, value: f64) {
    if dst.is_meta() {
        return;
    }
    if dst.is_gpu() {
        return crate::gpu::ops::fill(dst, value).unwrap_or_else(|e| panic!("{e}"));
    }
    dispatch_all!(dst.dtype(), T => {
        let v: T = if T::DTYPE.is_float() { T::from_f64(value) } else if T::DTYPE == DType::Bool { T::from_bool(value != 0.0) } else { T::from_i64(value as i64) };
        // SAFETY: exclusive write of dst's own elements.
        let buf = unsafe { dst.storage().buffer_mut() };
        let d: &mut [T] = T::slice_mut(buf).expect("dtype matches");
        if dst.is_contiguous() {
            let off = dst.offset();
            d[off..off + dst.numel()].fill(v);
        } else {
            let (cshape, cstr) = coalesce(dst.shape(), &[dst.strides().into()]);
            let runs = StridedRuns { shape: &cshape, strides: &[&cstr[0]], offsets: &[dst.offset() as isize] };
            let ds = *cstr[0].last().unwrap_or(&1);
            runs.for_each_run(0, dst.numel(), |offs, len| {
                for i in 0..len as isize {
                    d[(offs[0] + i * ds) as usize] = v;
                }
            });
        }
    });
    dst.storage().bump_version();
}

pub fn buffer_from_f64(values: &[f64], dtype: DType) -> Buffer {
    dispatch_all!(dtype, T => T::wrap(values.iter().map(|&v| cast_elem::<f64, T>(v)).collect()))
}
