//! The `Tensor` class: properties, conversions and autograd entry points.

use super::convert::{as_tensor, dtype_arg, tensor_from_data};
use super::py_dtype::{cpu_device, dtype_object, PyDType, PyDevice};
use crate::autograd;
use crate::error::Error;
use crate::ops;
use crate::tensor::storage::BufferElem;
use crate::tensor::{DType, Device, Tensor};
use numpy::{PyArray, PyArrayMethods};
use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

#[pyclass(name = "Tensor", module = "rustdl", subclass, weakref)]
pub struct PyTensor {
    pub t: Tensor,
}

impl PyTensor {
    pub fn new(t: Tensor) -> PyTensor {
        PyTensor { t }
    }
}

/// The dtype of a legacy tensor type name (`torch.FloatTensor`).
fn tensor_type_dtype(name: &str) -> Option<DType> {
    let short = name
        .trim_start_matches("torch.")
        .trim_start_matches("rustdl.");
    Some(match short {
        "FloatTensor" => DType::F32,
        "DoubleTensor" => DType::F64,
        "LongTensor" => DType::I64,
        "IntTensor" => DType::I32,
        "ByteTensor" => DType::U8,
        "CharTensor" => DType::I8,
        "ShortTensor" => DType::I16,
        "HalfTensor" => DType::F16,
        "BFloat16Tensor" => DType::BF16,
        "BoolTensor" => DType::Bool,
        _ => return None,
    })
}

/// Wrap a result for Python.
pub fn wrap(t: Tensor) -> PyTensor {
    PyTensor { t }
}

/// Handle returned by `register_hook`; `remove()` disables the hook.
#[pyclass(name = "RemovableHandle", module = "rustdl")]
pub struct PyHookHandle {
    active: Arc<AtomicBool>,
}

#[rustdl_macros::guard_panics]
#[pymethods]
impl PyHookHandle {
    fn remove(&self) {
        self.active.store(false, Ordering::Relaxed);
    }
}

/// The owner of a zero-copy numpy array: keeps the storage alive and, while
/// the array lives, marks it lent out (numpy may write through it, so no
/// fused chain may read it; see `ops::fusion`).
#[pyclass(module = "rustdl")]
struct NumpyLease(Arc<crate::tensor::Storage>);

impl NumpyLease {
    fn new(storage: Arc<crate::tensor::Storage>) -> NumpyLease {
        storage.export();
        NumpyLease(storage)
    }
}

impl Drop for NumpyLease {
    fn drop(&mut self) {
        self.0.end_export();
    }
}

fn numpy_of<'py, T: BufferElem + numpy::Element>(
    py: Python<'py>,
    t: &Tensor,
) -> PyResult<Bound<'py, PyAny>> {
    if t.is_gpu() {
        // A device tensor is copied back (PyTorch would ask for .cpu() first).
        let v = t.try_host_vec::<T>()?;
        return Ok(PyArray::from_vec(py, v)
            .reshape(t.shape().to_vec())?
            .into_any());
    }
    if t.strides().iter().all(|&st| st >= 0) {
        // Zero-copy, any layout (a view's array is a view too, as in
        // PyTorch): the array borrows our storage and keeps it alive.
        let base: &[T] = t.storage_slice::<T>();
        let end = t.offset()
            + t.shape()
                .iter()
                .zip(t.strides())
                .map(|(&d, &st)| d.saturating_sub(1) * st as usize)
                .sum::<usize>();
        if t.numel() == 0 || end < base.len() {
            let shape: Vec<usize> = t.shape().to_vec();
            let strides: Vec<usize> = t.strides().iter().map(|&st| st as usize).collect();
            let ptr = if t.numel() == 0 {
                base.as_ptr()
            } else {
                // SAFETY: offset <= end < len (checked above).
                unsafe { base.as_ptr().add(t.offset()) }
            };
            // SAFETY: every element the strides reach lies in the storage
            // (checked above); the container (the lease) owns the storage
            // for as long as the array lives.
            let view = unsafe {
                numpy::ndarray::ArrayViewD::from_shape_ptr(
                    numpy::ndarray::ShapeBuilder::strides(
                        numpy::ndarray::IxDyn(&shape),
                        numpy::ndarray::IxDyn(&strides),
                    ),
                    ptr,
                )
            };
            let lease = Bound::new(py, NumpyLease::new(t.storage().clone()))?;
            let arr = unsafe { PyArray::borrow_from_array(&view, lease.into_any()) };
            return Ok(arr.into_any());
        }
    }
    let v = t.to_vec::<T>();
    let arr = PyArray::from_vec(py, v).reshape(t.shape().to_vec())?;
    Ok(arr.into_any())
}

fn to_pylist(py: Python<'_>, t: &Tensor) -> PyResult<Py<PyAny>> {
    fn rec<T: BufferElem + for<'a> IntoPyObject<'a> + Copy>(
        py: Python<'_>,
        v: &[T],
        shape: &[usize],
    ) -> PyResult<Py<PyAny>> {
        if shape.is_empty() {
            return pyo3::IntoPyObjectExt::into_py_any(v[0], py);
        }
        let step: usize = shape[1..].iter().product();
        let items: Vec<Py<PyAny>> = (0..shape[0])
            .map(|i| rec(py, &v[i * step..(i + 1) * step], &shape[1..]))
            .collect::<PyResult<_>>()?;
        Ok(PyList::new(py, items)?.into_any().unbind())
    }
    let shape = t.shape().to_vec();
    match t.dtype() {
        DType::F32 => rec(
            py,
            &t.data::<f32>()
                .iter()
                .map(|&x| x as f64)
                .collect::<Vec<f64>>(),
            &shape,
        ),
        DType::F64 => rec(py, &t.data::<f64>(), &shape),
        DType::I64 => rec(py, &t.data::<i64>(), &shape),
        DType::I32 => rec(py, &t.data::<i32>(), &shape),
        DType::U8 => rec(py, &t.data::<u8>(), &shape),
        DType::I8 => rec(py, &t.data::<i8>(), &shape),
        DType::I16 => rec(py, &t.data::<i16>(), &shape),
        DType::F16 | DType::BF16 => rec(py, &t.to_f64_vec(), &shape),
        DType::Bool => rec(py, &t.data::<bool>(), &shape),
    }
}

pub fn scalar_py(py: Python<'_>, t: &Tensor) -> PyResult<Py<PyAny>> {
    if t.numel() != 1 {
        return Err(Error::Runtime(format!(
            "a Tensor with {} elements cannot be converted to Scalar",
            t.numel()
        ))
        .into());
    }
    if t.is_meta() {
        return Err(Error::Runtime("Tensor.item() cannot be called on meta tensors".into()).into());
    }
    let flat = t.with_layout(crate::tensor::Layout {
        shape: smallvec::smallvec![],
        strides: smallvec::smallvec![],
        offset: t.offset(),
    });
    to_pylist(py, &flat)
}

#[rustdl_macros::guard_panics]
#[pymethods]
impl PyTensor {
    /// `Tensor(data)` / subclass construction (used by nn.Parameter): shares
    /// `data`'s storage when it is a tensor.
    #[new]
    #[pyo3(signature = (data=None, *_args))]
    fn py_new(data: Option<&Bound<'_, PyAny>>, _args: &Bound<'_, PyTuple>) -> PyResult<PyTensor> {
        match data {
            None => Ok(wrap(Tensor::zeros(&[0], DType::F32))),
            Some(d) => {
                if let Ok(t) = d.downcast::<PyTensor>() {
                    return Ok(wrap(t.borrow().t.detach()));
                }
                Ok(wrap(tensor_from_data(d, None)?))
            }
        }
    }

    // ---- metadata ----
    #[getter]
    fn shape<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        size_object(py, self.t.shape())
    }
    #[pyo3(signature = (dim=None))]
    fn size<'py>(&self, py: Python<'py>, dim: Option<i64>) -> PyResult<Bound<'py, PyAny>> {
        match dim {
            None => size_object(py, self.t.shape()),
            Some(d) => {
                let d = crate::tensor::layout::wrap_dim(d, self.t.ndim())?;
                Ok(self
                    .t
                    .shape()
                    .get(d)
                    .copied()
                    .unwrap_or(1)
                    .into_pyobject(py)?
                    .into_any())
            }
        }
    }
    #[pyo3(signature = (dim=None))]
    fn stride<'py>(&self, py: Python<'py>, dim: Option<i64>) -> PyResult<Bound<'py, PyAny>> {
        match dim {
            None => Ok(PyTuple::new(py, self.t.strides())?.into_any()),
            Some(d) => {
                let d = crate::tensor::layout::wrap_dim(d, self.t.ndim())?;
                Ok(self.t.strides()[d].into_pyobject(py)?.into_any())
            }
        }
    }
    fn storage_offset(&self) -> usize {
        self.t.offset()
    }
    fn dim(&self) -> usize {
        self.t.ndim()
    }
    fn ndimension(&self) -> usize {
        self.t.ndim()
    }
    #[getter]
    fn ndim(&self) -> usize {
        self.t.ndim()
    }
    fn numel(&self) -> usize {
        self.t.numel()
    }
    fn nelement(&self) -> usize {
        self.t.numel()
    }
    fn element_size(&self) -> usize {
        self.t.dtype().size()
    }
    #[getter]
    fn dtype(&self, py: Python<'_>) -> PyResult<Py<PyDType>> {
        dtype_object(py, self.t.dtype())
    }
    #[getter]
    fn device(&self) -> PyDevice {
        device_object(self.t.device())
    }
    #[getter]
    fn is_cuda(&self) -> bool {
        false
    }
    #[getter]
    fn is_meta(&self) -> bool {
        self.t.is_meta()
    }
    fn is_floating_point(&self) -> bool {
        self.t.dtype().is_float()
    }
    fn is_signed(&self) -> bool {
        !matches!(self.t.dtype(), DType::U8 | DType::Bool)
    }
    #[pyo3(signature = (memory_format=None))]
    fn is_contiguous(&self, memory_format: Option<&Bound<'_, PyAny>>) -> PyResult<bool> {
        use crate::ops::memory_format::{is_contiguous_as, MemoryFormat};
        Ok(match super::convert::memory_format_arg(memory_format)? {
            MemoryFormat::Preserve => self.t.is_contiguous(),
            f => is_contiguous_as(&self.t, f),
        })
    }
    fn data_ptr(&self) -> usize {
        if self.t.is_meta() {
            return 0; // no memory, as PyTorch's meta tensors
        }
        self.t.storage().ptr() + self.t.offset() * self.t.dtype().size()
    }
    fn _storage_id(&self) -> usize {
        Arc::as_ptr(self.t.storage()) as usize
    }
    /// The storage's version counter (a property, as PyTorch's).
    #[getter]
    fn _version(&self) -> u64 {
        self.t.version()
    }
    fn __len__(&self) -> PyResult<usize> {
        if self.t.ndim() == 0 {
            return Err(PyTypeError::new_err("len() of a 0-d tensor"));
        }
        Ok(self.t.shape()[0])
    }

    // ---- conversions ----
    fn numpy<'py>(slf: &Bound<'py, Self>, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let t = slf.borrow().t.clone();
        if t.is_meta() {
            return Err(PyTypeError::new_err("can't convert meta device type tensor to numpy. Use Tensor.cpu() to copy the tensor to host memory first."));
        }
        if t.requires_grad() {
            return Err(PyRuntimeError::new_err("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead."));
        }
        match t.dtype() {
            DType::F32 => numpy_of::<f32>(py, &t),
            DType::F64 => numpy_of::<f64>(py, &t),
            DType::I64 => numpy_of::<i64>(py, &t),
            DType::I32 => numpy_of::<i32>(py, &t),
            DType::U8 => numpy_of::<u8>(py, &t),
            DType::I8 => numpy_of::<i8>(py, &t),
            DType::I16 => numpy_of::<i16>(py, &t),
            DType::F16 => numpy_of::<half::f16>(py, &t),
            // NumPy has no bfloat16 (PyTorch's message).
            DType::BF16 => Err(pyo3::exceptions::PyTypeError::new_err(
                "Got unsupported ScalarType BFloat16",
            )),
            DType::Bool => numpy_of::<bool>(py, &t),
        }
    }
    #[pyo3(signature = (dtype=None, copy=None))]
    fn __array__<'py>(
        slf: &Bound<'py, Self>,
        py: Python<'py>,
        dtype: Option<&Bound<'py, PyAny>>,
        copy: Option<bool>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let _ = copy;
        let det = Bound::new(py, wrap(slf.borrow().t.detach()))?;
        let arr = PyTensor::numpy(&det, py)?;
        match dtype {
            Some(d) if !d.is_none() => arr.call_method1("astype", (d,)),
            _ => Ok(arr),
        }
    }
    fn tolist(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        if self.t.is_meta() {
            return Err(
                Error::NotImplemented("Cannot copy out of meta tensor; no data!".into()).into(),
            );
        }
        to_pylist(py, &self.t)
    }
    fn item(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        scalar_py(py, &self.t)
    }
    fn __float__(&self) -> PyResult<f64> {
        Ok(self.t.item_f64()?)
    }
    fn __int__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        // Through the Python scalar so int64 values keep every digit.
        let v = scalar_py(py, &self.t)?;
        Ok(py.import("builtins")?.getattr("int")?.call1((v,))?.unbind())
    }
    fn __index__(&self) -> PyResult<i64> {
        if self.t.dtype().is_float() || self.t.numel() != 1 {
            return Err(PyTypeError::new_err(
                "only integer tensors of a single element can be converted to an index",
            ));
        }
        Ok(self.t.item_f64()? as i64)
    }
    fn __bool__(&self) -> PyResult<bool> {
        if self.t.numel() != 1 {
            return Err(PyRuntimeError::new_err(format!(
                "Boolean value of Tensor with {} is ambiguous",
                if self.t.numel() == 0 {
                    "no values"
                } else {
                    "more than one value"
                }
            )));
        }
        Ok(self.t.item_f64()? != 0.0)
    }
    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        let f = slf
            .py()
            .import("rustdl._tensor_str")?
            .getattr("tensor_repr")?;
        f.call1((slf,))?.extract()
    }

    // ---- dtype / device ----
    /// `to(dtype)`, `to(device)`, `to(device, dtype)`, `to(other)`.
    #[pyo3(signature = (*args, dtype=None, device=None, non_blocking=false, copy=false, memory_format=None))]
    fn to(
        slf: &Bound<'_, Self>,
        args: &Bound<'_, PyTuple>,
        dtype: Option<&Bound<'_, PyAny>>,
        device: Option<&Bound<'_, PyAny>>,
        non_blocking: bool,
        copy: bool,
        memory_format: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let _ = non_blocking;
        if memory_format.is_some_and(|m| !m.is_none()) {
            // convert dtype/device first, then lay the result out in the requested format
            let format = super::convert::memory_format_arg(memory_format)?;
            let kwargs = pyo3::types::PyDict::new(slf.py());
            if let Some(d) = dtype {
                kwargs.set_item("dtype", d)?;
            }
            if let Some(d) = device {
                kwargs.set_item("device", d)?;
            }
            kwargs.set_item("copy", copy)?;
            let converted = slf.call_method("to", args, Some(&kwargs))?;
            let t = converted.downcast::<PyTensor>()?.borrow().t.clone();
            if crate::ops::memory_format::is_contiguous_as(&t, format) {
                return Ok(converted.unbind());
            }
            let laid_out = crate::ops::memory_format::to_memory_format(&t, format)?;
            return Ok(Py::new(slf.py(), wrap(laid_out))?.into_any());
        }
        let this = slf.borrow();
        let mut target = None;
        let mut to_dev = None;
        if let Some(d) = device {
            to_dev = Some(device_arg(d)?);
        }
        if let Some(d) = dtype {
            target = Some(dtype_arg(d)?);
        }
        for a in args.iter() {
            if let Ok(t) = a.downcast::<PyTensor>() {
                target = Some(t.borrow().t.dtype());
                continue;
            }
            match dtype_arg(&a) {
                Ok(d) => target = Some(d),
                // a dtype rustdl does not have (complex): say so, not "bad device"
                Err(e) if e.is_instance_of::<pyo3::exceptions::PyNotImplementedError>(a.py()) => {
                    return Err(e)
                }
                Err(_) => to_dev = Some(device_arg(&a)?),
            }
        }
        if let Some(dev) = to_dev {
            if dev != this.t.device() {
                let moved = ops::device::to_device(&this.t, dev)?;
                let out = match target {
                    Some(d) if d != moved.dtype() => ops::unary::to_dtype(&moved, d)?,
                    _ => moved,
                };
                return Ok(Py::new(slf.py(), wrap(out))?.into_any());
            }
        }
        let out = match target {
            Some(d) if d != this.t.dtype() => ops::unary::to_dtype(&this.t, d)?,
            _ if copy => ops::shape::clone(&this.t)?,
            // Already the requested dtype and device: `self` is returned.
            _ => return Ok(slf.clone().into_any().unbind()),
        };
        Ok(Py::new(slf.py(), wrap(out))?.into_any())
    }
    #[pyo3(signature = (dtype=None))]
    fn r#type(&self, py: Python<'_>, dtype: Option<&Bound<'_, PyAny>>) -> PyResult<Py<PyAny>> {
        match dtype {
            None => {
                let n = match self.t.dtype() {
                    DType::F32 => "torch.FloatTensor",
                    DType::F64 => "torch.DoubleTensor",
                    DType::I64 => "torch.LongTensor",
                    DType::I32 => "torch.IntTensor",
                    DType::U8 => "torch.ByteTensor",
                    DType::I8 => "torch.CharTensor",
                    DType::I16 => "torch.ShortTensor",
                    DType::F16 => "torch.HalfTensor",
                    DType::BF16 => "torch.BFloat16Tensor",
                    DType::Bool => "torch.BoolTensor",
                };
                Ok(n.into_pyobject(py)?.into_any().unbind())
            }
            Some(d) => {
                let dtype = match d.extract::<String>() {
                    // `x.type('torch.FloatTensor')`: a tensor type's name.
                    Ok(name) => tensor_type_dtype(&name).ok_or_else(|| {
                        pyo3::exceptions::PyValueError::new_err(format!("invalid type: '{name}'"))
                    })?,
                    Err(_) => dtype_arg(d)?,
                };
                Ok(Py::new(py, wrap(ops::unary::to_dtype(&self.t, dtype)?))?.into_any())
            }
        }
    }
    fn float(&self) -> PyResult<PyTensor> {
        Ok(wrap(ops::unary::to_dtype(&self.t, DType::F32)?))
    }
    fn double(&self) -> PyResult<PyTensor> {
        Ok(wrap(ops::unary::to_dtype(&self.t, DType::F64)?))
    }
    fn long(&self) -> PyResult<PyTensor> {
        Ok(wrap(ops::unary::to_dtype(&self.t, DType::I64)?))
    }
    fn int(&self) -> PyResult<PyTensor> {
        Ok(wrap(ops::unary::to_dtype(&self.t, DType::I32)?))
    }
    fn byte(&self) -> PyResult<PyTensor> {
        Ok(wrap(ops::unary::to_dtype(&self.t, DType::U8)?))
    }
    fn char(&self) -> PyResult<PyTensor> {
        Ok(wrap(ops::unary::to_dtype(&self.t, DType::I8)?))
    }
    fn short(&self) -> PyResult<PyTensor> {
        Ok(wrap(ops::unary::to_dtype(&self.t, DType::I16)?))
    }
    fn half(&self) -> PyResult<PyTensor> {
        Ok(wrap(ops::unary::to_dtype(&self.t, DType::F16)?))
    }
    fn bfloat16(&self) -> PyResult<PyTensor> {
        Ok(wrap(ops::unary::to_dtype(&self.t, DType::BF16)?))
    }
    fn bool(&self) -> PyResult<PyTensor> {
        Ok(wrap(ops::unary::to_dtype(&self.t, DType::Bool)?))
    }
    fn type_as(&self, other: PyRef<'_, PyTensor>) -> PyResult<PyTensor> {
        Ok(wrap(ops::unary::to_dtype(&self.t, other.t.dtype())?))
    }
    #[pyo3(signature = (*_args, **_kwargs))]
    fn cpu(
        &self,
        _args: &Bound<'_, PyTuple>,
        _kwargs: Option<&Bound<'_, pyo3::types::PyDict>>,
    ) -> PyResult<PyTensor> {
        Ok(wrap(ops::device::to_device(&self.t, Device::Cpu)?))
    }
    #[pyo3(signature = (*_args, **_kwargs))]
    fn cuda(
        &self,
        _args: &Bound<'_, PyTuple>,
        _kwargs: Option<&Bound<'_, pyo3::types::PyDict>>,
    ) -> PyResult<PyTensor> {
        Err(PyRuntimeError::new_err(
            "rustdl was built without CUDA; only the 'cpu' device is available",
        ))
    }

    // ---- autograd ----
    #[getter]
    fn get_requires_grad(&self) -> bool {
        self.t.requires_grad()
    }
    #[setter]
    fn set_requires_grad(&self, v: bool) -> PyResult<()> {
        set_requires_grad(&self.t, v)
    }
    #[pyo3(signature = (requires_grad=true))]
    fn requires_grad_(slf: PyRef<'_, Self>, requires_grad: bool) -> PyResult<PyRef<'_, Self>> {
        if requires_grad && !slf.t.dtype().is_float() {
            // (PyTorch's wording for this method differs from the attribute setter's)
            return Err(PyRuntimeError::new_err(
                "only Tensors of floating point dtype can require gradients",
            ));
        }
        set_requires_grad(&slf.t, requires_grad)?;
        Ok(slf)
    }
    #[getter]
    fn get_grad(&self) -> Option<PyTensor> {
        self.t.grad().map(wrap)
    }
    #[setter]
    fn set_grad(&self, g: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        match g {
            None => self.t.set_grad(None),
            Some(g) if g.is_none() => self.t.set_grad(None),
            Some(g) => {
                let g = as_tensor(g)?;
                if g.shape() != self.t.shape() {
                    return Err(PyRuntimeError::new_err(format!(
                        "assigned grad has data of a different size: {:?} vs {:?}",
                        g.shape(),
                        self.t.shape()
                    )));
                }
                if g.dtype() != self.t.dtype() {
                    return Err(PyRuntimeError::new_err(
                        "assigned grad has data of a different type",
                    ));
                }
                self.t.set_grad(Some(g));
            }
        }
        Ok(())
    }
    #[getter]
    fn grad_fn(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        match self.t.grad_fn() {
            None => Ok(py.None()),
            Some(n) => node_object(py, n),
        }
    }
    #[getter]
    fn is_leaf(&self) -> bool {
        self.t.is_leaf() || !self.t.requires_grad()
    }
    #[getter]
    fn retains_grad(&self) -> bool {
        self.t.0.autograd.lock().retains_grad
    }
    fn retain_grad(&self) -> PyResult<()> {
        if !self.t.requires_grad() {
            return Err(PyRuntimeError::new_err(
                "can't retain_grad on Tensor that has requires_grad=False",
            ));
        }
        let mut meta = self.t.0.autograd.lock();
        if let Some(f) = meta.grad_fn.clone() {
            if !meta.retains_grad {
                f.retained
                    .lock()
                    .push((meta.output_nr, Arc::downgrade(&self.t.0)));
            }
        }
        meta.retains_grad = true;
        Ok(())
    }
    fn detach(&self) -> PyTensor {
        wrap(self.t.detach())
    }
    fn detach_(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        let mut meta = slf.t.0.autograd.lock();
        meta.grad_fn = None;
        meta.requires_grad = false;
        drop(meta);
        slf
    }
    #[getter]
    fn get_data(&self) -> PyTensor {
        wrap(self.t.detach())
    }
    #[setter]
    fn set_data(&self, v: PyRef<'_, PyTensor>) -> PyResult<()> {
        // Our handles are immutable views, so `.data = x` copies x's values in.
        if v.t.shape() != self.t.shape() {
            return Err(PyRuntimeError::new_err(format!(
                "rustdl: assigning .data of a different shape ({:?} -> {:?}) is not supported; use copy_ or create a new Parameter",
                v.t.shape(),
                self.t.shape()
            )));
        }
        let src = if v.t.shares_storage(&self.t) {
            v.t.contiguous_raw().cast_raw(v.t.dtype())
        } else {
            v.t.clone()
        };
        let src = if src.shares_storage(&self.t) {
            ops::shape::clone(&src.detach())?
        } else {
            src
        };
        crate::tensor::access::write_into(&self.t, &src)?;
        Ok(())
    }
    #[pyo3(signature = (gradient=None, retain_graph=None, create_graph=false, inputs=None))]
    fn backward(
        &self,
        py: Python<'_>,
        gradient: Option<&Bound<'_, PyAny>>,
        retain_graph: Option<bool>,
        create_graph: bool,
        inputs: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let g = match gradient {
            Some(g) if !g.is_none() => Some(as_tensor(g)?),
            _ => None,
        };
        let t = self.t.clone();
        let retain = retain_graph.unwrap_or(create_graph);
        if let Some(inputs) = inputs.filter(|i| !i.is_none()) {
            let inputs: Vec<Tensor> = match inputs.extract::<PyRef<'_, PyTensor>>() {
                Ok(one) => vec![one.t.clone()],
                Err(_) => inputs
                    .try_iter()?
                    .map(|i| Ok(i?.extract::<PyRef<'_, PyTensor>>()?.t.clone()))
                    .collect::<PyResult<_>>()?,
            };
            autograd::engine::backward_into(&t, g.as_ref(), retain, create_graph, &inputs)?;
            return Ok(());
        }
        let heavy = t.grad_fn().is_some();
        if heavy && !hooks_present(&t) {
            py.detach(|| autograd::backward(&t, g.as_ref(), retain, create_graph))?;
        } else {
            autograd::backward(&t, g.as_ref(), retain, create_graph)?;
        }
        Ok(())
    }
    fn register_hook(&self, hook: Py<PyAny>) -> PyResult<PyHookHandle> {
        if !self.t.requires_grad() {
            return Err(PyRuntimeError::new_err(
                "cannot register a hook on a tensor that doesn't require gradient",
            ));
        }
        let active = Arc::new(AtomicBool::new(true));
        let flag = active.clone();
        let f: crate::tensor::tensor::GradHook = Arc::new(move |g: &Tensor| {
            if !flag.load(Ordering::Relaxed) {
                return Ok(None);
            }
            Python::attach(|py| {
                let r = hook
                    .call1(py, (wrap(g.clone()),))
                    .map_err(|e| Error::Runtime(format!("error in tensor hook: {e}")))?;
                if r.is_none(py) {
                    return Ok(None);
                }
                let t = r
                    .bind(py)
                    .downcast::<PyTensor>()
                    .map_err(|_| Error::Type("hook must return None or a Tensor".into()))?;
                Ok(Some(t.borrow().t.clone()))
            })
        });
        let mut meta = self.t.0.autograd.lock();
        match meta.grad_fn.clone() {
            Some(node) => node.hooks.lock().push((meta.output_nr, f)),
            None => meta.hooks.push(f),
        }
        HOOKS_REGISTERED.store(true, Ordering::Relaxed);
        Ok(PyHookHandle { active })
    }

    /// `register_post_accumulate_grad_hook(hook)`: `hook(tensor)` runs once the
    /// leaf's `.grad` holds this backward's gradient (optimizer-in-backward).
    fn register_post_accumulate_grad_hook(
        slf: &Bound<'_, Self>,
        hook: Py<PyAny>,
    ) -> PyResult<PyHookHandle> {
        let t = slf.borrow().t.clone();
        if !t.requires_grad() {
            return Err(PyRuntimeError::new_err(
                "cannot register a hook on a tensor that doesn't require gradient",
            ));
        }
        if t.grad_fn().is_some() {
            return Err(PyRuntimeError::new_err(
                "post accumulate grad hooks cannot be registered on non-leaf tensors",
            ));
        }
        // The hook gets the caller's own Python object (a Parameter keyed in a
        // dict stays the same key), held weakly so the tensor can be freed.
        let py = slf.py();
        let target: Py<PyAny> = py
            .import("weakref")?
            .getattr("ref")?
            .call1((slf,))?
            .unbind();
        let active = Arc::new(AtomicBool::new(true));
        let flag = active.clone();
        let f: crate::tensor::tensor::PostAccumulateHook = Arc::new(move |_leaf: &Tensor| {
            if !flag.load(Ordering::Relaxed) {
                return Ok(());
            }
            Python::attach(|py| {
                let obj = target
                    .call0(py)
                    .map_err(|e| Error::Runtime(format!("error in tensor hook: {e}")))?;
                if obj.is_none(py) {
                    return Ok(());
                }
                hook.call1(py, (obj,))
                    .map_err(|e| Error::Runtime(format!("error in tensor hook: {e}")))?;
                Ok(())
            })
        });
        t.0.autograd.lock().post_accumulate_hooks.push(f);
        HOOKS_REGISTERED.store(true, Ordering::Relaxed);
        Ok(PyHookHandle { active })
    }
}

static HOOKS_REGISTERED: AtomicBool = AtomicBool::new(false);

/// Python hooks need the GIL during backward, so we keep it then.
fn hooks_present(_t: &Tensor) -> bool {
    HOOKS_REGISTERED.load(Ordering::Relaxed)
}

/// A Python device argument (`"wgpu"`, `rustdl.device("cpu")`, …) as a `Device`.
pub fn device_arg(a: &Bound<'_, PyAny>) -> PyResult<Device> {
    let dev = PyDevice::extract_bound(a).or_else(|_| {
        let cls = a.py().import("rustdl")?.getattr("device")?;
        cls.call1((a,))?.extract::<PyDevice>()
    })?;
    match (dev.r#type.as_str(), dev.index) {
        ("cpu", _) => Ok(Device::Cpu),
        ("meta", _) => Ok(Device::Meta),
        ("wgpu", None | Some(0)) => Ok(Device::Wgpu),
        ("wgpu", Some(i)) => Err(PyRuntimeError::new_err(format!(
            "wgpu device index {i} is out of range: rustdl uses one wgpu device (index 0)"
        ))),
        (t, _) => Err(PyRuntimeError::new_err(format!(
            "device '{t}' is not available: rustdl has the 'cpu', 'meta' and 'wgpu' devices"
        ))),
    }
}

pub fn device_object(d: Device) -> PyDevice {
    match d {
        Device::Cpu => cpu_device(),
        Device::Wgpu => PyDevice {
            r#type: "wgpu".into(),
            index: Some(0),
        },
        Device::Meta => PyDevice {
            r#type: "meta".into(),
            index: None,
        },
    }
}

pub fn set_requires_grad(t: &Tensor, v: bool) -> PyResult<()> {
    let mut meta = t.0.autograd.lock();
    if meta.grad_fn.is_some() && !v {
        return Err(PyRuntimeError::new_err(
            "you can only change requires_grad flags of leaf variables. If you want to use a computed variable in a subgraph that doesn't require differentiation use var_no_grad = var.detach().",
        ));
    }
    if v && !t.dtype().is_float() {
        return Err(PyRuntimeError::new_err(
            "only Tensors of floating point and complex dtype can require gradients",
        ));
    }
    meta.requires_grad = v;
    Ok(())
}

/// `rustdl.Size`: a tuple subclass, as torch.Size.
pub fn size_object<'py>(py: Python<'py>, shape: &[usize]) -> PyResult<Bound<'py, PyAny>> {
    let cls = py.import("rustdl._size")?.getattr("Size")?;
    cls.call1((PyTuple::new(py, shape)?,))
}

/// `tensor.grad_fn`: the node's name and its next functions. Each node is
/// shown as an instance of a subclass named after it (`MulBackward0`, made
/// once per name by `rustdl.autograd.graph._node_class`), so that
/// `type(y.grad_fn).__name__` reads as in PyTorch.
#[pyclass(name = "Node", module = "rustdl.autograd.graph", subclass)]
pub struct PyNode {
    node: Arc<autograd::Node>,
}

thread_local! {
    /// The node `node_object` is wrapping, handed to `PyNode::new` (Python
    /// subclasses can only be instantiated through `__new__`).
    static NODE_BEING_WRAPPED: std::cell::RefCell<Option<Arc<autograd::Node>>> =
        const { std::cell::RefCell::new(None) };
}

/// The Python object for `node`: an instance of its name's Node subclass.
fn node_object(py: Python<'_>, node: Arc<autograd::Node>) -> PyResult<Py<PyAny>> {
    static CLASSES: pyo3::sync::PyOnceLock<Py<pyo3::types::PyDict>> = pyo3::sync::PyOnceLock::new();
    let classes = CLASSES
        .get_or_init(py, || pyo3::types::PyDict::new(py).unbind())
        .bind(py);
    let cls = match classes.get_item(node.name)? {
        Some(cls) => cls,
        None => {
            let cls = py
                .import("rustdl.autograd.graph")?
                .getattr("_node_class")?
                .call1((node.name,))?;
            classes.set_item(node.name, &cls)?;
            cls
        }
    };
    NODE_BEING_WRAPPED.with(|slot| *slot.borrow_mut() = Some(node));
    let obj = cls.call0();
    NODE_BEING_WRAPPED.with(|slot| slot.borrow_mut().take());
    Ok(obj?.unbind())
}

#[rustdl_macros::guard_panics]
#[pymethods]
impl PyNode {
    #[new]
    fn new() -> PyResult<Self> {
        NODE_BEING_WRAPPED
            .with(|slot| slot.borrow_mut().take())
            .map(|node| PyNode { node })
            .ok_or_else(|| {
                pyo3::exceptions::PyTypeError::new_err(
                    "cannot create autograd Node instances directly",
                )
            })
    }
    fn name(&self) -> &'static str {
        self.node.name
    }
    /// Two Python objects over the same graph node compare equal (PyTorch
    /// returns the same object each time).
    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other
            .cast::<PyNode>()
            .is_ok_and(|o| Arc::ptr_eq(&o.borrow().node, &self.node))
    }
    fn __hash__(&self) -> isize {
        Arc::as_ptr(&self.node) as isize
    }
    fn __repr__(&self) -> String {
        format!(
            "<{} object at {:#x}>",
            self.node.name,
            Arc::as_ptr(&self.node) as usize
        )
    }
    #[getter]
    fn next_functions(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let items: Vec<Py<PyAny>> = self
            .node
            .next
            .iter()
            .map(|e| -> PyResult<Py<PyAny>> {
                let (f, nr): (Py<PyAny>, usize) = match e {
                    Some(autograd::Edge::Node(n, nr)) => (node_object(py, n.clone())?, *nr),
                    Some(autograd::Edge::Leaf(t)) => (
                        Py::new(
                            py,
                            PyAccumulateGrad {
                                variable: t.clone(),
                            },
                        )?
                        .into_any(),
                        0,
                    ),
                    None => (py.None(), 0),
                };
                Ok(
                    PyTuple::new(py, [f, nr.into_pyobject(py)?.into_any().unbind()])?
                        .into_any()
                        .unbind(),
                )
            })
            .collect::<PyResult<_>>()?;
        Ok(PyTuple::new(py, items)?.into_any().unbind())
    }
}

/// The node that accumulates a leaf's gradient into its `.grad`, as it
/// appears in `next_functions` (PyTorch's AccumulateGrad).
#[pyclass(name = "AccumulateGrad", module = "rustdl.autograd")]
pub struct PyAccumulateGrad {
    variable: Tensor,
}

#[rustdl_macros::guard_panics]
#[pymethods]
impl PyAccumulateGrad {
    fn name(&self) -> &'static str {
        "AccumulateGrad"
    }
    /// The leaf tensor (a new Python object over the same tensor).
    #[getter]
    fn variable(&self) -> PyTensor {
        wrap(self.variable.clone())
    }
    #[getter]
    fn next_functions<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, Vec::<Py<PyAny>>::new())
    }
    fn __repr__(&self) -> String {
        format!(
            "<AccumulateGrad object at {:#x}>",
            Arc::as_ptr(&self.variable.0) as usize
        )
    }
}
