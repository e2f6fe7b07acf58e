//! Shape and indexing methods: views, reshapes, cat/split, `x[...]`.

use super::convert::{as_tensor, operand, shape_args, type_err};
use super::py_math::{assign_inplace, tuple_of};
use super::py_tensor::{wrap, PyTensor};
use crate::ops::indexing::{getitem, IndexItem};
use crate::ops::{index, shape};
use crate::tensor::{DType, Tensor};
use pyo3::prelude::*;
use pyo3::types::{PyEllipsis, PyList, PySlice, PyTuple};

type R = PyResult<PyTensor>;

fn slice_item(s: &Bound<'_, PySlice>) -> PyResult<IndexItem> {
    let get = |name: &str| -> PyResult<Option<i64>> {
        let v = s.getattr(name)?;
        if v.is_none() {
            Ok(None)
        } else {
            Ok(Some(v.extract::<i64>()?))
        }
    };
    let step = get("step")?.unwrap_or(1);
    if step <= 0 {
        return Err(pyo3::exceptions::PyValueError::new_err(
            "step must be greater than zero",
        ));
    }
    Ok(IndexItem::Slice(get("start")?, get("stop")?, step))
}

fn parse_one(obj: &Bound<'_, PyAny>) -> PyResult<IndexItem> {
    if obj.is_none() {
        return Ok(IndexItem::NewAxis);
    }
    if obj.is_instance_of::<PyEllipsis>() {
        return Ok(IndexItem::Ellipsis);
    }
    if let Ok(s) = obj.downcast::<PySlice>() {
        return slice_item(s);
    }
    if obj.is_instance_of::<pyo3::types::PyBool>() {
        return Ok(IndexItem::Tensor(Tensor::scalar(obj.extract::<bool>()?)));
    }
    if let Ok(t) = obj.downcast::<PyTensor>() {
        let t = t.borrow().t.clone();
        if t.ndim() == 0 && !t.dtype().is_float() && t.dtype() != DType::Bool {
            return Ok(IndexItem::Int(t.item_f64()? as i64));
        }
        return Ok(IndexItem::Tensor(t));
    }
    if let Ok(i) = obj.extract::<i64>() {
        return Ok(IndexItem::Int(i));
    }
    if obj.downcast::<PyList>().is_ok()
        || obj.hasattr("__array__")?
        || obj.downcast::<PyTuple>().is_ok()
        || obj.hasattr("__len__")?
    {
        let t = as_tensor(obj)?;
        if t.dtype().is_float() && t.numel() > 0 {
            return Err(pyo3::exceptions::PyIndexError::new_err(
                "tensors used as indices must be long, int, byte or bool tensors",
            ));
        }
        let t = if t.numel() == 0 {
            t.cast_raw(DType::I64)
        } else {
            t
        };
        return Ok(IndexItem::Tensor(t));
    }
    Err(pyo3::exceptions::PyIndexError::new_err(format!(
        "only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables are valid indices (got {})",
        obj.get_type().name()?
    )))
}

fn parse_index(key: &Bound<'_, PyAny>) -> PyResult<Vec<IndexItem>> {
    if let Ok(t) = key.downcast::<PyTuple>() {
        return t.iter().map(|k| parse_one(&k)).collect();
    }
    if let Ok(list) = key.downcast::<PyList>() {
        if list_as_tuple(list) {
            return list.iter().map(|k| parse_one(&k)).collect();
        }
    }
    Ok(vec![parse_one(key)?])
}

/// PyTorch's (NumPy's legacy) rule, `treatSequenceAsTuple`: a list shorter
/// than 32 that holds a tensor, a sequence, a slice, `...` or None is a
/// tuple of indices (`x[[[0, 1], [0, 0]]]` is `x[[0, 1], [0, 0]]`, with a
/// deprecation warning there); any other list is one index.
fn list_as_tuple(list: &Bound<'_, PyList>) -> bool {
    list.len() < 32
        && list.iter().any(|k| {
            k.downcast::<PyTensor>().is_ok()
                // SAFETY: `k` is a live Python object (PySequence_Check only reads its type).
                || unsafe { pyo3::ffi::PySequence_Check(k.as_ptr()) } != 0
                || k.downcast::<PySlice>().is_ok()
                || k.is_instance_of::<PyEllipsis>()
                || k.is_none()
        })
}

/// The value of index_fill: a Python number or a 0-d tensor (a tensor of
/// more dims is refused by the op; anything else is a TypeError).
fn fill_value_operand(value: &Bound<'_, PyAny>, like: &Tensor, op: &str) -> PyResult<Tensor> {
    if value.downcast::<PyTensor>().is_err()
        && !(value.is_instance_of::<pyo3::types::PyInt>()
            || value.is_instance_of::<pyo3::types::PyFloat>()
            || value.is_instance_of::<pyo3::types::PyBool>())
    {
        return Err(type_err(format!(
            "{op}(): argument 'value' must be Number or Tensor, not {}",
            value.get_type().name()?
        )));
    }
    operand(value, like)
}

/// A scatter `value`, PyTorch's Scalar: a Python number or a 0-d tensor,
/// held exactly in a 0-d int64, float64 or bool tensor. A Python int past
/// int64 but within uint64 is a float64 (c10's uint64 Scalar; it overflows
/// every integer dtype either way).
fn scatter_value_arg(value: &Bound<'_, PyAny>) -> PyResult<Tensor> {
    if let Ok(t) = value.downcast::<PyTensor>() {
        let t = &t.borrow().t;
        if t.ndim() != 0 {
            return Err(type_err(
                "scatter() received an invalid combination of arguments - got (int, Tensor, value=Tensor), but expected a number or a 0-dim tensor as value",
            ));
        }
        let dtype = match t.dtype() {
            DType::Bool => DType::Bool,
            d if d.is_float() => DType::F64,
            _ => DType::I64,
        };
        return Ok(t.detach().cast_raw(dtype));
    }
    if value.is_instance_of::<pyo3::types::PyBool>() {
        return Ok(Tensor::scalar(value.extract::<bool>()?));
    }
    if value.is_instance_of::<pyo3::types::PyInt>() {
        if let Ok(i) = value.extract::<i64>() {
            return Ok(Tensor::scalar(i));
        }
        if let Ok(u) = value.extract::<u64>() {
            return Ok(crate::ops::creation::full(&[], u as f64, DType::F64));
        }
        let negative = value.lt(0)?;
        return Err(pyo3::exceptions::PyOverflowError::new_err(if negative {
            "can't convert negative int to unsigned"
        } else {
            "int too big to convert"
        }));
    }
    if value.is_instance_of::<pyo3::types::PyFloat>() {
        let v = value.extract::<f64>()?;
        return Ok(crate::ops::creation::full(&[], v, DType::F64));
    }
    Err(type_err(format!(
        "scatter(): argument 'value' must be Number or Tensor, not {}",
        value.get_type().name()?
    )))
}

fn dim_list(args: &Bound<'_, PyTuple>) -> PyResult<Vec<i64>> {
    shape_args(args)
}

/// `x.view()`, `x.reshape()`, `x.permute()` with nothing: PyTorch's TypeError.
fn required_args(method: &str, what: &str, args: &Bound<'_, PyTuple>) -> PyResult<()> {
    match args.is_empty() {
        true => Err(pyo3::exceptions::PyTypeError::new_err(format!(
            "{method}() missing 1 required positional arguments: \"{what}\""
        ))),
        false => Ok(()),
    }
}

#[rustdl_macros::guard_panics]
#[pymethods]
impl PyTensor {
    fn __getitem__(&self, key: &Bound<'_, PyAny>) -> R {
        let items = parse_index(key)?;
        Ok(wrap(getitem(&self.t, &items)?))
    }
    fn __setitem__(&self, key: &Bound<'_, PyAny>, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let items = parse_index(key)?;
        // `int8_tensor[0] = 300` raises, as in PyTorch (a float target
        // takes any number: `half_tensor[0] = 70000.` is inf).
        if !self.t.dtype().is_float() {
            if let Err(e) = super::convert::check_number_fits(value, self.t.dtype()) {
                // A bad index (but not indices that fail to broadcast) is
                // reported first, as in PyTorch.
                if let Err(ie) = getitem(&self.t, &items) {
                    if !ie.to_string().contains("shape mismatch") {
                        return Err(ie.into());
                    }
                }
                return Err(e);
            }
        }
        let v = operand(value, &self.t)?;
        // PyTorch converts the source where it takes another path than
        // index_put_: boolean masks (no integer index) with a one-element value.
        use crate::ops::indexing::IndexItem;
        let int_index = items
            .iter()
            .any(|i| matches!(i, IndexItem::Tensor(t) if t.dtype() != DType::Bool));
        let has_mask = items
            .iter()
            .any(|i| matches!(i, IndexItem::Tensor(t) if t.dtype() == DType::Bool));
        if has_mask && !int_index && v.numel() == 1 && v.ndim() > 0 {
            // PyTorch fills the mask with the value's item(), range-checked
            // (a 0-dim value is copied, converted unchecked)
            crate::ops::creation::check_fits_scalar(
                v.item_f64()?,
                v.dtype().is_float(),
                self.t.dtype(),
            )?;
        }
        let advanced = int_index || (has_mask && v.numel() != 1);
        if advanced && v.dtype() != self.t.dtype() && value.downcast::<PyTensor>().is_ok() {
            // PyTorch's index_put_ does not convert a tensor source.
            return Err(pyo3::exceptions::PyRuntimeError::new_err(format!(
                "Index put requires the source and destination dtypes match, got {} for the destination and {} for the source.",
                self.t.dtype().scalar_name(),
                v.dtype().scalar_name()
            )));
        }
        Ok(crate::ops::indexing::setitem(&self.t, &items, &v)?)
    }
    fn __iter__(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
        let t = slf.borrow().t.clone();
        if t.ndim() == 0 {
            return Err(type_err("iteration over a 0-d tensor"));
        }
        let parts: Vec<Tensor> = (0..t.shape()[0] as i64)
            .map(|i| shape::select(&t, 0, i))
            .collect::<crate::Result<_>>()?;
        let tup = tuple_of(slf.py(), parts)?;
        Ok(tup.bind(slf.py()).try_iter()?.into_any().unbind())
    }

    #[pyo3(signature = (*shape))]
    fn view(&self, shape: &Bound<'_, PyTuple>) -> R {
        required_args("view", "size", shape)?;
        if shape.len() == 1 {
            if let Ok(d) = super::convert::dtype_arg(&shape.get_item(0)?) {
                if d != self.t.dtype() {
                    return Err(pyo3::exceptions::PyRuntimeError::new_err(
                        "rustdl: view(dtype) reinterpretation is not supported",
                    ));
                }
                return Ok(wrap(self.t.clone()));
            }
        }
        Ok(wrap(shape::view(&self.t, &shape_args(shape)?)?))
    }
    #[pyo3(signature = (*shape))]
    fn reshape(&self, shape: &Bound<'_, PyTuple>) -> R {
        required_args("reshape", "shape", shape)?;
        Ok(wrap(shape::reshape(&self.t, &shape_args(shape)?)?))
    }
    fn view_as(&self, other: PyRef<'_, PyTensor>) -> R {
        let s: Vec<i64> = other.t.shape().iter().map(|&d| d as i64).collect();
        Ok(wrap(shape::view(&self.t, &s)?))
    }
    fn reshape_as(&self, other: PyRef<'_, PyTensor>) -> R {
        let s: Vec<i64> = other.t.shape().iter().map(|&d| d as i64).collect();
        Ok(wrap(shape::reshape(&self.t, &s)?))
    }
    #[pyo3(signature = (*dims))]
    fn permute(&self, dims: &Bound<'_, PyTuple>) -> R {
        required_args("permute", "dims", dims)?;
        Ok(wrap(shape::permute(&self.t, &dim_list(dims)?)?))
    }
    fn transpose(&self, dim0: i64, dim1: i64) -> R {
        Ok(wrap(shape::transpose(&self.t, dim0, dim1)?))
    }
    fn swapaxes(&self, dim0: i64, dim1: i64) -> R {
        self.transpose(dim0, dim1)
    }
    fn swapdims(&self, dim0: i64, dim1: i64) -> R {
        self.transpose(dim0, dim1)
    }
    fn t(&self) -> R {
        if self.t.ndim() > 2 {
            return Err(pyo3::exceptions::PyRuntimeError::new_err(format!(
                "t() expects a tensor with <= 2 dimensions, but self is {}D",
                self.t.ndim()
            )));
        }
        if self.t.ndim() < 2 {
            return Ok(wrap(self.t.clone()));
        }
        Ok(wrap(shape::t(&self.t)?))
    }
    #[getter(T)]
    fn get_t_prop(&self) -> R {
        let n = self.t.ndim() as i64;
        let dims: Vec<i64> = (0..n).rev().collect();
        Ok(wrap(shape::permute(&self.t, &dims)?))
    }
    #[getter(mT)]
    fn get_mt(&self) -> R {
        if self.t.ndim() < 2 {
            return Err(pyo3::exceptions::PyRuntimeError::new_err(
                "tensor.mT is only supported on matrices or batches of matrices. Got 1-D tensor.",
            ));
        }
        self.transpose(-2, -1)
    }
    #[getter(H)]
    fn get_h(&self) -> R {
        self.t()
    }
    #[pyo3(signature = (*sizes))]
    fn expand(&self, sizes: &Bound<'_, PyTuple>) -> R {
        required_args("expand", "size", sizes)?;
        Ok(wrap(shape::expand(&self.t, &shape_args(sizes)?)?))
    }
    fn expand_as(&self, other: PyRef<'_, PyTensor>) -> R {
        Ok(wrap(shape::expand_to(&self.t, other.t.shape())?))
    }
    #[pyo3(signature = (*sizes))]
    fn repeat(&self, sizes: &Bound<'_, PyTuple>) -> R {
        required_args("repeat", "repeats", sizes)?;
        let reps = shape_args(sizes)?;
        Ok(wrap(crate::ops::shape_extra::repeat(&self.t, &reps)?))
    }
    #[pyo3(signature = (repeats, dim=None, *, output_size=None))]
    fn repeat_interleave(
        &self,
        repeats: &Bound<'_, PyAny>,
        dim: Option<i64>,
        output_size: Option<i64>,
    ) -> R {
        use crate::ops::shape_extra;
        if let Ok(r) = repeats.downcast::<PyTensor>() {
            let r = r.borrow().t.clone();
            return Ok(wrap(shape_extra::repeat_interleave_tensor(
                &self.t,
                &r,
                dim,
                output_size,
            )?));
        }
        if repeats.is_instance_of::<pyo3::types::PyBool>() {
            return Err(type_err(
                "repeat_interleave(): argument 'repeats' must be Tensor or int, not bool",
            ));
        }
        let n: i64 = repeats.extract().map_err(|_| {
            type_err(format!(
                "repeat_interleave(): argument 'repeats' must be Tensor or int, not {}",
                repeats
                    .get_type()
                    .name()
                    .map(|n| n.to_string())
                    .unwrap_or_default()
            ))
        })?;
        Ok(wrap(shape_extra::repeat_interleave(
            &self.t,
            n,
            dim,
            output_size,
        )?))
    }
    /// `x.tensor_split(indices_or_sections, dim=0)`: an int (or 0-d int64
    /// tensor) of sections, or a sequence (or 1-d int64 tensor) of indices.
    #[pyo3(signature = (indices_or_sections=None, dim=0, *, sections=None, indices=None, tensor_indices_or_sections=None))]
    fn tensor_split(
        &self,
        py: Python<'_>,
        indices_or_sections: Option<&Bound<'_, PyAny>>,
        dim: i64,
        sections: Option<&Bound<'_, PyAny>>,
        indices: Option<&Bound<'_, PyAny>>,
        tensor_indices_or_sections: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        use crate::ops::shape_extra::{tensor_split_indices, tensor_split_sections};
        let given: Vec<&Bound<'_, PyAny>> = [
            indices_or_sections,
            sections,
            indices,
            tensor_indices_or_sections,
        ]
        .into_iter()
        .flatten()
        .collect();
        let [arg] = given.as_slice() else {
            return Err(type_err(
                "tensor_split() takes one of indices_or_sections, sections, indices or tensor_indices_or_sections",
            ));
        };
        let invalid = || {
            type_err(format!(
                "tensor_split() received an invalid combination of arguments - got {}, expected an int, a tuple of ints or a Tensor",
                arg.get_type().name().map(|n| n.to_string()).unwrap_or_default()
            ))
        };
        let parts = if let Ok(t) = arg.downcast::<PyTensor>() {
            let t = t.borrow().t.clone();
            if t.dtype() != DType::I64 {
                return Err(crate::error::Error::Runtime(format!(
                    "tensor_split expected tensor_indices_or_sections to have dtype of long, but got {}",
                    t.dtype().scalar_name()
                ))
                .into());
            }
            match t.ndim() {
                0 => tensor_split_sections(&self.t, t.item_f64()? as i64, dim)?,
                1 => tensor_split_indices(&self.t, &t.to_vec::<i64>(), dim)?,
                n => {
                    return Err(crate::error::Error::Runtime(format!(
                        "tensor_split expected tensor_indices_or_sections to be a zero-dimensional or one-dimensional tensor, but got a tensor with {n} dims"
                    ))
                    .into())
                }
            }
        } else if arg.is_instance_of::<pyo3::types::PyBool>()
            || arg.is_instance_of::<pyo3::types::PyFloat>()
        {
            return Err(invalid());
        } else if let Ok(n) = arg.extract::<i64>() {
            tensor_split_sections(&self.t, n, dim)?
        } else if arg.downcast::<PyList>().is_ok() || arg.downcast::<PyTuple>().is_ok() {
            let items: Vec<i64> = arg
                .try_iter()?
                .map(|v| {
                    let v = v?;
                    if v.is_instance_of::<pyo3::types::PyBool>()
                        || v.is_instance_of::<pyo3::types::PyFloat>()
                    {
                        return Err(invalid());
                    }
                    v.extract::<i64>().map_err(|_| invalid())
                })
                .collect::<PyResult<_>>()?;
            tensor_split_indices(&self.t, &items, dim)?
        } else {
            return Err(invalid());
        };
        tuple_of(py, parts)
    }
    #[pyo3(signature = (size, stride, storage_offset=None))]
    fn as_strided(&self, size: Vec<usize>, stride: Vec<i64>, storage_offset: Option<usize>) -> R {
        Ok(wrap(shape::as_strided_storage(
            &self.t,
            &size,
            &stride,
            storage_offset,
        )?))
    }
    /// `diagonal` after the Python layer wrapped and checked the dims.
    fn _diagonal(&self, offset: i64, dim1: usize, dim2: usize) -> R {
        Ok(wrap(shape::diagonal(&self.t, offset, dim1, dim2)?))
    }
    /// The in-place shape ops (`unsqueeze_`, `t_`, `resize_`, ...): this
    /// Python object takes `view`'s geometry (see `_tensor_methods._inplace_view`).
    fn _become_view(mut slf: PyRefMut<'_, Self>, view: PyRef<'_, PyTensor>) {
        slf.t = view.t.clone();
    }
    /// How many elements the storage under this tensor holds.
    fn _storage_numel(&self) -> usize {
        self.t.storage().len()
    }
    fn unsqueeze(&self, dim: i64) -> R {
        Ok(wrap(shape::unsqueeze(&self.t, dim)?))
    }
    #[pyo3(signature = (dim=None))]
    fn squeeze(&self, dim: Option<&Bound<'_, PyAny>>) -> R {
        let d = super::convert::dims_arg(dim)?;
        Ok(wrap(shape::squeeze(&self.t, d.as_deref())?))
    }
    #[pyo3(signature = (start_dim=0, end_dim=-1))]
    fn flatten(&self, start_dim: i64, end_dim: i64) -> R {
        Ok(wrap(shape::flatten(&self.t, start_dim, end_dim)?))
    }
    fn ravel(&self) -> R {
        self.flatten(0, -1)
    }
    fn unflatten(&self, dim: i64, sizes: Vec<i64>) -> R {
        let d = crate::tensor::layout::wrap_dim(dim, self.t.ndim())?;
        let mut req: Vec<i64> = self.t.shape()[..d].iter().map(|&s| s as i64).collect();
        let inner = shape::infer_shape(self.t.shape()[d], &sizes)?;
        req.extend(inner.iter().map(|&s| s as i64));
        req.extend(self.t.shape()[d + 1..].iter().map(|&s| s as i64));
        Ok(wrap(shape::reshape(&self.t, &req)?))
    }
    fn narrow(&self, dim: i64, start: i64, length: i64) -> R {
        Ok(wrap(shape::narrow(&self.t, dim, start, length)?))
    }
    fn select(&self, dim: i64, index: i64) -> R {
        Ok(wrap(shape::select(&self.t, dim, index)?))
    }
    #[pyo3(signature = (memory_format=None))]
    fn contiguous(
        slf: &Bound<'_, Self>,
        memory_format: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        use crate::ops::memory_format::{is_contiguous_as, to_memory_format, MemoryFormat};
        let format = match super::convert::memory_format_arg(memory_format)? {
            MemoryFormat::Preserve => MemoryFormat::Contiguous, // contiguous() defaults to contiguous_format
            f => f,
        };
        let t = slf.borrow().t.clone();
        if is_contiguous_as(&t, format) {
            return Ok(slf.clone().into_any().unbind()); // PyTorch returns self
        }
        Ok(Py::new(slf.py(), wrap(to_memory_format(&t, format)?))?.into_any())
    }
    #[pyo3(signature = (memory_format=None))]
    fn clone(&self, memory_format: Option<&Bound<'_, PyAny>>) -> R {
        if memory_format.is_none() && self.t.is_contiguous() {
            return Ok(wrap(shape::clone(&self.t)?)); // the common case, without resolving a format
        }
        let format = super::convert::memory_format_arg(memory_format)?;
        Ok(wrap(crate::ops::memory_format::clone_as(&self.t, format)?))
    }
    #[pyo3(signature = (split_size_or_sections, dim=0))]
    fn split(
        &self,
        py: Python<'_>,
        split_size_or_sections: &Bound<'_, PyAny>,
        dim: i64,
    ) -> PyResult<Py<PyAny>> {
        let parts = if let Ok(n) = split_size_or_sections.extract::<i64>() {
            if n < 0 {
                return Err(crate::error::Error::Runtime(format!(
                    "split expects split_size be non-negative, but got split_size={n}"
                ))
                .into());
            }
            shape::split(&self.t, n as usize, dim)?
        } else {
            let sizes: Vec<usize> = split_size_or_sections.extract()?;
            shape::split_sizes(&self.t, &sizes, dim)?
        };
        tuple_of(py, parts)
    }
    #[pyo3(signature = (chunks, dim=0))]
    fn chunk(&self, py: Python<'_>, chunks: i64, dim: i64) -> PyResult<Py<PyAny>> {
        if chunks <= 0 {
            return Err(crate::error::Error::Runtime(format!(
                "chunk expects `chunks` to be greater than 0, got: {chunks}"
            ))
            .into());
        }
        tuple_of(py, shape::chunk(&self.t, chunks as usize, dim)?)
    }
    #[pyo3(signature = (dim=0))]
    fn unbind(&self, py: Python<'_>, dim: i64) -> PyResult<Py<PyAny>> {
        let d = crate::tensor::layout::wrap_dim_strict(dim, self.t.ndim())?;
        let parts = (0..self.t.shape()[d] as i64)
            .map(|i| shape::select(&self.t, d as i64, i))
            .collect::<crate::Result<Vec<_>>>()?;
        tuple_of(py, parts)
    }
    /// `x.flip(0, 1)`, `x.flip((0, 1))` or `x.flip(dims=[0, 1])`.
    #[pyo3(signature = (*positional, dims=None))]
    fn flip(&self, positional: &Bound<'_, PyTuple>, dims: Option<&Bound<'_, PyAny>>) -> R {
        let dims = match dims {
            None => {
                required_args("flip", "dims", positional)?;
                dim_list(positional)?
            }
            Some(_) if !positional.is_empty() => {
                return Err(pyo3::exceptions::PyTypeError::new_err(
                    "flip() got multiple values for argument 'dims'",
                ))
            }
            Some(d) => d.extract::<Vec<i64>>().map_err(|_| {
                pyo3::exceptions::PyTypeError::new_err(format!(
                    "flip(): argument 'dims' must be tuple of ints, not {}",
                    d.get_type()
                        .name()
                        .map_or("object".into(), |n| n.to_string())
                ))
            })?,
        };
        Ok(wrap(index::flip(&self.t, &dims)?))
    }
    #[pyo3(signature = (shifts, dims=None))]
    fn roll(&self, shifts: &Bound<'_, PyAny>, dims: Option<&Bound<'_, PyAny>>) -> R {
        let s: Vec<i64> = if let Ok(i) = shifts.extract::<i64>() {
            vec![i]
        } else {
            shifts.extract()?
        };
        let d = super::convert::dims_arg(dims)?;
        Ok(wrap(crate::ops::shape_extra::roll(
            &self.t,
            &s,
            d.as_deref(),
        )?))
    }
    fn movedim(&self, source: &Bound<'_, PyAny>, destination: &Bound<'_, PyAny>) -> R {
        let s = super::convert::dims_arg(Some(source))?.unwrap_or_default();
        let d = super::convert::dims_arg(Some(destination))?.unwrap_or_default();
        Ok(wrap(crate::ops::shape_extra::movedim(&self.t, &s, &d)?))
    }
    fn moveaxis(&self, source: &Bound<'_, PyAny>, destination: &Bound<'_, PyAny>) -> R {
        self.movedim(source, destination)
    }
    #[pyo3(signature = (diagonal=0))]
    fn tril(&self, diagonal: i64) -> R {
        Ok(wrap(crate::ops::shape_extra::tri(&self.t, diagonal, true)?))
    }
    #[pyo3(signature = (diagonal=0))]
    fn triu(&self, diagonal: i64) -> R {
        Ok(wrap(crate::ops::shape_extra::tri(
            &self.t, diagonal, false,
        )?))
    }
    #[pyo3(signature = (dim, index, *, sparse_grad=false))]
    fn gather(&self, dim: i64, index: PyRef<'_, PyTensor>, sparse_grad: bool) -> R {
        if sparse_grad {
            return Err(pyo3::exceptions::PyNotImplementedError::new_err(
                "rustdl has no sparse tensors: gather(sparse_grad=True) is not supported",
            ));
        }
        Ok(wrap(index::gather(&self.t, dim, &index.t)?))
    }
    fn scatter_add(&self, dim: i64, index: PyRef<'_, PyTensor>, src: PyRef<'_, PyTensor>) -> R {
        Ok(wrap(index::scatter_add(&self.t, dim, &index.t, &src.t)?))
    }
    #[pyo3(signature = (dim, index, src=None, value=None, *, reduce=None))]
    fn scatter(
        &self,
        dim: i64,
        index: PyRef<'_, PyTensor>,
        src: Option<&Bound<'_, PyAny>>,
        value: Option<&Bound<'_, PyAny>>,
        reduce: Option<&str>,
    ) -> R {
        let src_tensor = src.and_then(|s| s.downcast::<PyTensor>().ok());
        let source_t;
        let source = match (src_tensor, src.or(value)) {
            (Some(s), _) => {
                source_t = s.borrow().t.clone();
                index::ScatterSource::Src(&source_t)
            }
            (None, Some(v)) => {
                source_t = scatter_value_arg(v)?;
                index::ScatterSource::Value(&source_t)
            }
            (None, None) => return Err(type_err("scatter() missing 'src' or 'value'")),
        };
        Ok(wrap(index::scatter_with(
            &self.t, dim, &index.t, source, reduce,
        )?))
    }
    fn scatter_add_<'py>(
        slf: PyRef<'py, Self>,
        dim: i64,
        index: PyRef<'_, PyTensor>,
        src: PyRef<'_, PyTensor>,
    ) -> PyResult<PyRef<'py, Self>> {
        let r = index::scatter_add(&slf.t, dim, &index.t, &src.t)?;
        assign_inplace(&slf.t, r)?;
        Ok(slf)
    }
    #[pyo3(signature = (dim, index, src=None, value=None, *, reduce=None))]
    fn scatter_<'py>(
        slf: PyRef<'py, Self>,
        dim: i64,
        index: PyRef<'_, PyTensor>,
        src: Option<&Bound<'_, PyAny>>,
        value: Option<&Bound<'_, PyAny>>,
        reduce: Option<&str>,
    ) -> PyResult<PyRef<'py, Self>> {
        let r = slf.scatter(dim, index, src, value, reduce)?.t;
        assign_inplace(&slf.t, r)?;
        Ok(slf)
    }
    fn index_select(&self, dim: i64, index: PyRef<'_, PyTensor>) -> R {
        Ok(wrap(index::index_select(&self.t, dim, &index.t)?))
    }
    #[pyo3(signature = (dim, index, source, *, alpha=1.0))]
    fn index_add(
        &self,
        dim: i64,
        index: PyRef<'_, PyTensor>,
        source: PyRef<'_, PyTensor>,
        alpha: f64,
    ) -> R {
        Ok(wrap(index::index_add(
            &self.t, dim, &index.t, &source.t, alpha,
        )?))
    }
    #[pyo3(signature = (dim, index, source, *, alpha=1.0))]
    fn index_add_<'py>(
        slf: PyRef<'py, Self>,
        dim: i64,
        index: PyRef<'_, PyTensor>,
        source: PyRef<'_, PyTensor>,
        alpha: f64,
    ) -> PyResult<PyRef<'py, Self>> {
        let r = index::index_add(&slf.t, dim, &index.t, &source.t, alpha)?;
        assign_inplace(&slf.t, r)?;
        Ok(slf)
    }
    fn index_copy(&self, dim: i64, index: PyRef<'_, PyTensor>, source: PyRef<'_, PyTensor>) -> R {
        Ok(wrap(index::index_copy(&self.t, dim, &index.t, &source.t)?))
    }
    fn index_copy_<'py>(
        slf: PyRef<'py, Self>,
        dim: i64,
        index: PyRef<'_, PyTensor>,
        source: PyRef<'_, PyTensor>,
    ) -> PyResult<PyRef<'py, Self>> {
        let r = index::index_copy(&slf.t, dim, &index.t, &source.t)?;
        assign_inplace(&slf.t, r)?;
        Ok(slf)
    }
    fn index_fill(&self, dim: i64, index: PyRef<'_, PyTensor>, value: &Bound<'_, PyAny>) -> R {
        let v = fill_value_operand(value, &self.t, "index_fill")?;
        Ok(wrap(index::index_fill(&self.t, dim, &index.t, &v)?))
    }
    fn index_fill_<'py>(
        slf: PyRef<'py, Self>,
        dim: i64,
        index: PyRef<'_, PyTensor>,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<PyRef<'py, Self>> {
        let v = fill_value_operand(value, &slf.t, "index_fill_")?;
        let r = index::index_fill(&slf.t, dim, &index.t, &v)?;
        assign_inplace(&slf.t, r)?;
        Ok(slf)
    }
    #[pyo3(signature = (dim, index, src, reduce, *, include_self=true))]
    fn scatter_reduce(
        &self,
        dim: i64,
        index: PyRef<'_, PyTensor>,
        src: PyRef<'_, PyTensor>,
        reduce: &str,
        include_self: bool,
    ) -> R {
        Ok(wrap(index::scatter_reduce(
            &self.t,
            dim,
            &index.t,
            &src.t,
            reduce,
            include_self,
        )?))
    }
    #[pyo3(signature = (dim, index, src, reduce, *, include_self=true))]
    fn scatter_reduce_<'py>(
        slf: PyRef<'py, Self>,
        dim: i64,
        index: PyRef<'_, PyTensor>,
        src: PyRef<'_, PyTensor>,
        reduce: &str,
        include_self: bool,
    ) -> PyResult<PyRef<'py, Self>> {
        // prod, amax and amin save the value being overwritten: compute from
        // a copy when autograd records (src may be what requires grad)
        let x = if crate::autograd::is_grad_enabled() && src.t.requires_grad() {
            shape::clone(&slf.t)?
        } else {
            super::py_math::inplace_src(&slf.t)?
        };
        let out = index::scatter_reduce(&x, dim, &index.t, &src.t, reduce, include_self)?;
        assign_inplace(&slf.t, out)?;
        Ok(slf)
    }
    #[pyo3(signature = (indices, values, accumulate=false))]
    fn index_put_<'py>(
        slf: PyRef<'py, Self>,
        indices: &Bound<'_, PyAny>,
        values: PyRef<'_, PyTensor>,
        accumulate: bool,
    ) -> PyResult<PyRef<'py, Self>> {
        let idx: Vec<Tensor> = indices
            .try_iter()?
            .map(|i| as_tensor(&i?))
            .collect::<PyResult<_>>()?;
        let r = crate::ops::indexing::index_put(&slf.t, &idx, &values.t, accumulate)?;
        assign_inplace(&slf.t, r)?;
        Ok(slf)
    }
    fn take(&self, index: PyRef<'_, PyTensor>) -> R {
        Ok(wrap(index::take(&self.t, &index.t)?))
    }
    fn masked_fill(&self, mask: PyRef<'_, PyTensor>, value: &Bound<'_, PyAny>) -> R {
        super::convert::check_number_fits(value, self.t.dtype())?;
        let v = operand(value, &self.t)?;
        Ok(wrap(index::masked_fill(&self.t, &mask.t, &v, false)?))
    }
    fn masked_select(&self, mask: PyRef<'_, PyTensor>) -> R {
        if mask.t.dtype() != DType::Bool {
            return Err(crate::error::Error::Runtime(format!(
                "masked_select: expected BoolTensor for mask (got {})",
                mask.t.dtype().scalar_name()
            ))
            .into());
        }
        let s = crate::tensor::layout::broadcast_shapes(self.t.shape(), mask.t.shape())?;
        let x = shape::expand_to(&self.t, &s)?;
        let m = shape::expand_to(&mask.t, &s)?;
        Ok(wrap(getitem(&x, &[IndexItem::Tensor(m)])?))
    }
    #[pyo3(signature = (*, as_tuple=false))]
    fn nonzero(&self, py: Python<'_>, as_tuple: bool) -> PyResult<Py<PyAny>> {
        if as_tuple {
            return tuple_of(py, crate::ops::indexing::nonzero_tuple(&self.t)?);
        }
        Ok(Py::new(py, wrap(crate::ops::indexing::nonzero(&self.t)?))?.into_any())
    }
    fn argwhere(&self) -> R {
        Ok(wrap(crate::ops::indexing::nonzero(&self.t)?))
    }
    #[pyo3(signature = (dim=-1, descending=false, stable=false))]
    fn sort(
        &self,
        py: Python<'_>,
        dim: i64,
        descending: bool,
        stable: bool,
    ) -> PyResult<Py<PyAny>> {
        let _ = stable;
        let (v, i) = crate::ops::shape_extra::sort(&self.t, dim, descending)?;
        let cls = py.import("rustdl._return_types")?.getattr("sort")?;
        Ok(cls.call1((wrap(v), wrap(i)))?.unbind())
    }
    #[pyo3(signature = (dim=-1, descending=false, stable=false))]
    fn argsort(&self, dim: i64, descending: bool, stable: bool) -> R {
        let _ = stable;
        Ok(wrap(
            crate::ops::shape_extra::sort(&self.t, dim, descending)?.1,
        ))
    }
    #[pyo3(signature = (k, dim=-1, largest=true, sorted=true))]
    fn topk(
        &self,
        py: Python<'_>,
        k: usize,
        dim: i64,
        largest: bool,
        sorted: bool,
    ) -> PyResult<Py<PyAny>> {
        let _ = sorted;
        let (v, i) = crate::ops::shape_extra::topk(&self.t, k, dim, largest)?;
        let cls = py.import("rustdl._return_types")?.getattr("topk")?;
        Ok(cls.call1((wrap(v), wrap(i)))?.unbind())
    }
}
