//! Memory shared with numpy (`from_numpy`, `as_tensor`) and between
//! processes (`share_memory_`, the pickling of `torch.multiprocessing`).

use super::py_dtype::{dtype_object, PyDType};
use super::py_tensor::wrap;
use super::PyTensor;
use crate::tensor::shared_memory;
use crate::tensor::storage::BufferElem;
use crate::tensor::{DType, Layout, Storage, Tensor};
use numpy::npyffi::flags::NPY_ARRAY_WRITEABLE;
use numpy::{PyArrayDescrMethods, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::exceptions::{PyTypeError, PyUserWarning, PyValueError};
use pyo3::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// numpy's name of a dtype given by kind and item size.
fn numpy_name(kind: u8, size: usize) -> Option<&'static str> {
    Some(match (kind, size) {
        (b'f', 2) => "float16",
        (b'f', 4) => "float32",
        (b'f', 8) => "float64",
        (b'c', 8) => "complex64",
        (b'c', 16) => "complex128",
        (b'i', 1) => "int8",
        (b'i', 2) => "int16",
        (b'i', 4) => "int32",
        (b'i', 8) => "int64",
        (b'u', 1) => "uint8",
        (b'u', 2) => "uint16",
        (b'u', 4) => "uint32",
        (b'u', 8) => "uint64",
        (b'b', 1) => "bool",
        _ => return None,
    })
}

static WARNED_NOT_WRITABLE: AtomicBool = AtomicBool::new(false);

/// `torch.from_numpy(arr)`: a tensor over the array's own memory (writes
/// either way are seen by the other; the tensor keeps the array alive).
/// Checks in PyTorch's order, with its messages. Dtypes rustdl has no
/// tensor type for (float16, int16, ...) are converted to a copy, and so
/// are misaligned arrays (a Rust slice must be aligned; PyTorch shares them).
pub fn tensor_over_numpy(arr: &Bound<'_, PyUntypedArray>) -> PyResult<Tensor> {
    let py = arr.py();
    let raw = arr.as_array_ptr();
    // SAFETY: `raw` is the live array object `arr` holds.
    let (flags, data) = unsafe { ((*raw).flags, (*raw).data as *mut u8) };
    if flags & NPY_ARRAY_WRITEABLE == 0 && !WARNED_NOT_WRITABLE.swap(true, Ordering::Relaxed) {
        PyErr::warn(
            py,
            &py.get_type::<PyUserWarning>(),
            c"The given NumPy array is not writable, and PyTorch does not support non-writable tensors. This means writing to this tensor will result in undefined behavior. You may want to copy the array to protect its data or make it writable before converting it to a tensor. This type of warning will be suppressed for the rest of this program.",
            1,
        )?;
    }
    let dt = arr.dtype();
    let item = dt.itemsize().max(1) as isize;
    let mut strides: Vec<isize> = arr.strides().to_vec();
    if strides.iter().any(|s| s % item != 0) {
        return Err(PyValueError::new_err(
            "given numpy array strides not a multiple of the element byte size. Copy the numpy array to reallocate the memory.",
        ));
    }
    strides.iter_mut().for_each(|s| *s /= item);
    if strides.iter().any(|&s| s < 0) {
        return Err(PyValueError::new_err(
            "At least one stride in the given numpy array is negative, and tensors with negative strides are not currently supported. (You can probably work around this by making a copy of your array  with array.copy().)",
        ));
    }
    if dt.is_native_byteorder() == Some(false) {
        return Err(PyValueError::new_err(
            "given numpy array has byte order different from the native byte order. Conversion between byte orders is currently not supported.",
        ));
    }
    let Some(name) = numpy_name(dt.kind(), dt.itemsize()) else {
        return Err(PyTypeError::new_err(format!(
            "can't convert np.ndarray of type numpy.{}. The only supported types are: float64, float32, float16, complex64, complex128, int64, int32, int16, int8, uint64, uint32, uint16, uint8, and bool.",
            dt.typeobj().name()?
        )));
    };
    let Some(dtype) = DType::from_name(name) else {
        // No tensor type of this width: converted, as before.
        return super::convert::tensor_from_data(arr.as_any(), None);
    };
    let shape: Vec<usize> = arr.shape().to_vec();
    let owner: Py<PyAny> = arr.clone().into_any().unbind();
    let made = crate::dispatch_all!(dtype, T => over_memory::<T>(data, &shape, &strides, owner));
    match made {
        Some(t) => Ok(t),
        None => {
            // Misaligned: share an aligned copy.
            let copy = arr.call_method0("copy")?;
            tensor_over_numpy(copy.downcast::<PyUntypedArray>()?)
        }
    }
}

/// A tensor of `shape`/`strides` (elements, non-negative) over memory at
/// `data` that `owner` keeps alive; None when `data` is misaligned for `T`.
fn over_memory<T: BufferElem>(
    data: *mut u8,
    shape: &[usize],
    strides: &[isize],
    owner: Py<PyAny>,
) -> Option<Tensor> {
    let numel: usize = shape.iter().product();
    let span = if numel == 0 {
        0
    } else {
        1 + shape
            .iter()
            .zip(strides)
            .map(|(&d, &s)| (d - 1) * s as usize)
            .sum::<usize>()
    };
    if span > 0 && (data.is_null() || !(data as usize).is_multiple_of(std::mem::align_of::<T>())) {
        return None;
    }
    // SAFETY: numpy guarantees the array's elements (every offset
    // sum(i_k * stride_k) < span) lie in memory that the array (`owner`)
    // keeps valid; `data` is aligned (checked); numpy's bool is one byte, 0 or 1.
    let storage = unsafe { Storage::from_external::<T>(data as *mut T, span, Box::new(owner)) };
    Some(Tensor::from_parts(
        Arc::new(storage),
        Layout {
            shape: shape.iter().copied().collect(),
            strides: strides.iter().copied().collect(),
            offset: 0,
        },
    ))
}

/// `Tensor.share_memory_()` (the tensor's storage, in place).
#[rustdl_macros::guard_panics]
#[pyfunction]
fn _share_memory_(t: PyRef<'_, PyTensor>) -> PyResult<()> {
    Ok(shared_memory::share_storage(t.t.storage())?)
}

#[rustdl_macros::guard_panics]
#[pyfunction]
fn _is_shared(t: PyRef<'_, PyTensor>) -> bool {
    shared_memory::is_shared(t.t.storage())
}

/// (descriptor, storage length in elements, dtype, shape, strides, offset)
/// of a tensor in shared memory, for pickling to another process. The
/// descriptor stays owned by the storage (the pickler duplicates it).
#[allow(clippy::type_complexity)]
#[rustdl_macros::guard_panics]
#[pyfunction]
fn _shared_handle(
    py: Python<'_>,
    t: PyRef<'_, PyTensor>,
) -> PyResult<(i32, usize, Py<PyDType>, Vec<usize>, Vec<isize>, usize)> {
    let st = t.t.storage();
    let Some(fd) = shared_memory::segment_fd(st) else {
        return Err(pyo3::exceptions::PyRuntimeError::new_err(
            "the tensor is not in shared memory (call share_memory_() first)",
        ));
    };
    Ok((
        fd,
        st.len(),
        dtype_object(py, t.t.dtype())?,
        t.t.shape().to_vec(),
        t.t.strides().to_vec(),
        t.t.offset(),
    ))
}

/// A layout of `shape`/`strides`/`offset` reaches only elements below `len`.
fn check_fits(shape: &[usize], strides: &[isize], offset: usize, len: usize) -> PyResult<()> {
    let numel: usize = shape.iter().product();
    let bad = shape.len() != strides.len()
        || strides.iter().any(|&s| s < 0)
        || (numel > 0
            && offset
                + shape
                    .iter()
                    .zip(strides)
                    .map(|(&d, &s)| (d - 1) * s as usize)
                    .sum::<usize>()
                >= len);
    if bad {
        return Err(PyValueError::new_err(format!(
            "shared tensor of shape {shape:?}, strides {strides:?} and offset {offset} does not fit a storage of {len} elements"
        )));
    }
    Ok(())
}

/// The tensor another process described with `_shared_handle`, over the
/// same memory (mapped from `fd`, which stays the caller's).
#[rustdl_macros::guard_panics]
#[pyfunction]
fn _tensor_from_shared_handle(
    fd: i32,
    len: usize,
    dtype: PyRef<'_, PyDType>,
    shape: Vec<usize>,
    strides: Vec<isize>,
    offset: usize,
) -> PyResult<PyTensor> {
    check_fits(&shape, &strides, offset, len)?;
    let storage = shared_memory::storage_from_fd(fd, dtype.dtype, len)?;
    Ok(wrap(Tensor::from_parts(
        storage,
        Layout {
            shape: shape.into_iter().collect(),
            strides: strides.into_iter().collect(),
            offset,
        },
    )))
}

/// A tensor of the given layout over `base`'s storage (which must hold
/// `len` elements): a second tensor received from the same shared storage.
#[rustdl_macros::guard_panics]
#[pyfunction]
fn _tensor_on_storage_of(
    base: PyRef<'_, PyTensor>,
    len: usize,
    shape: Vec<usize>,
    strides: Vec<isize>,
    offset: usize,
) -> PyResult<PyTensor> {
    let storage = base.t.storage().clone();
    check_fits(&shape, &strides, offset, len)?;
    if storage.is_device() || storage.len() != len {
        return Err(PyValueError::new_err(format!(
            "the storage holds {} elements, {len} expected",
            storage.len()
        )));
    }
    Ok(wrap(Tensor::from_parts(
        storage,
        Layout {
            shape: shape.into_iter().collect(),
            strides: strides.into_iter().collect(),
            offset,
        },
    )))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_tensor_on_storage_of, m)?)?;
    m.add_function(wrap_pyfunction!(_share_memory_, m)?)?;
    m.add_function(wrap_pyfunction!(_is_shared, m)?)?;
    m.add_function(wrap_pyfunction!(_shared_handle, m)?)?;
    m.add_function(wrap_pyfunction!(_tensor_from_shared_handle, m)?)
}
