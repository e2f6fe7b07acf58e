//! Converting Python arguments: data to tensors, dims, shapes, dtypes.

use super::py_dtype::PyDType;
use super::PyTensor;
use crate::error::Error;
use crate::tensor::dtype::{result_type, Category, PromoteArg};
use crate::tensor::storage::BufferElem;
use crate::tensor::{DType, Tensor};
use numpy::{
    PyArrayDescrMethods, PyArrayDyn, PyArrayMethods, PyUntypedArray, PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyFloat, PyInt, PySequence, PyString, PyTuple};

pub fn type_err(msg: impl Into<String>) -> PyErr {
    PyTypeError::new_err(msg.into())
}

/// A Python number's promotion category, or None for non-numbers.
pub fn scalar_category(obj: &Bound<'_, PyAny>) -> Option<Category> {
    if obj.is_instance_of::<PyBool>() {
        Some(Category::Bool)
    } else if obj.is_instance_of::<PyInt>() {
        Some(Category::Integer)
    } else if obj.is_instance_of::<PyFloat>() {
        Some(Category::Float)
    } else if obj.hasattr("__float__").unwrap_or(false)
        && !obj.is_instance_of::<PyTensor>()
        && obj.downcast::<PyUntypedArray>().is_err()
    {
        // numpy scalars and other number-likes
        let is_int = obj.hasattr("__index__").unwrap_or(false);
        Some(if is_int {
            Category::Integer
        } else {
            Category::Float
        })
    } else {
        None
    }
}

/// A tensor operand: a Tensor as is, or a Python number as a 0-d tensor of
/// the dtype PyTorch's promotion gives it next to `like`.
/// A Python number written into a tensor of `dtype` (fill, setitem) must be
/// representable there, as PyTorch checks before converting.
pub fn check_number_fits(obj: &Bound<'_, PyAny>, dtype: DType) -> PyResult<()> {
    if obj.is_exact_instance_of::<PyInt>() || obj.is_exact_instance_of::<PyFloat>() {
        if let Ok(v) = obj.extract::<f64>() {
            let is_float = obj.is_exact_instance_of::<PyFloat>();
            crate::ops::creation::check_fits_scalar(v, is_float, dtype)?;
        }
    }
    Ok(())
}

pub fn operand(obj: &Bound<'_, PyAny>, like: &Tensor) -> PyResult<Tensor> {
    if let Ok(t) = obj.downcast::<PyTensor>() {
        return Ok(t.borrow().t.clone());
    }
    if let Some(cat) = scalar_category(obj) {
        let arg = if like.ndim() == 0 {
            PromoteArg::ZeroDim(like.dtype())
        } else {
            PromoteArg::Dim(like.dtype())
        };
        let dtype = result_type(&[arg, PromoteArg::Scalar(cat)]);
        let v: f64 = obj.extract::<f64>()?;
        let t = match cat {
            Category::Integer if !dtype.is_float() => {
                let i: i64 = obj.extract()?;
                Tensor::scalar(i).cast_raw(dtype)
            }
            _ => crate::ops::creation::full(&[], v, dtype),
        };
        return Ok(t);
    }
    // Like PyTorch, a list, tuple or numpy array is no operand: only tensors
    // and numbers are.
    Err(type_err(format!(
        "argument 'other' must be Tensor or a number, not {}",
        obj.get_type().name()?
    )))
}

/// Tensor argument: a Tensor, or data convertible to one.
pub fn as_tensor(obj: &Bound<'_, PyAny>) -> PyResult<Tensor> {
    if let Ok(t) = obj.downcast::<PyTensor>() {
        return Ok(t.borrow().t.clone());
    }
    tensor_from_data(obj, None)
}

/// Optional dims: None, an int, or a sequence of ints.
pub fn dims_arg(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Vec<i64>>> {
    match obj {
        None => Ok(None),
        Some(o) if o.is_none() => Ok(None),
        Some(o) => {
            if let Ok(i) = o.extract::<i64>() {
                return Ok(Some(vec![i]));
            }
            let v: Vec<i64> = o.extract().map_err(|_| {
                type_err(format!(
                    "dim must be an int or a tuple of ints, got {}",
                    o.get_type()
                        .name()
                        .map(|n| n.to_string())
                        .unwrap_or_default()
                ))
            })?;
            Ok(Some(v))
        }
    }
}

/// Shape arguments given as `f(2, 3)` or `f((2, 3))` or `f([2, 3])`.
pub fn shape_args(args: &Bound<'_, PyTuple>) -> PyResult<Vec<i64>> {
    if args.len() == 1 {
        let a = args.get_item(0)?;
        if let Ok(i) = a.extract::<i64>() {
            return Ok(vec![i]);
        }
        return a
            .extract::<Vec<i64>>()
            .map_err(|_| type_err("size must be a sequence of ints"));
    }
    args.iter()
        .map(|a| {
            a.extract::<i64>().map_err(|_| {
                type_err(format!(
                    "size must be ints, got {}",
                    a.get_type()
                        .name()
                        .map(|n| n.to_string())
                        .unwrap_or_default()
                ))
            })
        })
        .collect()
}

pub fn to_usize_shape(v: &[i64]) -> PyResult<Vec<usize>> {
    v.iter()
        .map(|&d| {
            if d < 0 {
                Err(PyErr::from(Error::Runtime(format!(
                    "Trying to create tensor with negative dimension {d}: {v:?}"
                ))))
            } else {
                Ok(d as usize)
            }
        })
        .collect()
}

/// A dtype argument: rustdl.float32 etc., or Python's float/int/bool.
/// A `torch.memory_format` object (`rustdl.channels_last`, ...), recognised by its repr.
pub fn memory_format_arg(
    obj: Option<&Bound<'_, PyAny>>,
) -> PyResult<crate::ops::memory_format::MemoryFormat> {
    use crate::ops::memory_format::MemoryFormat;
    let Some(obj) = obj.filter(|o| !o.is_none()) else {
        return Ok(MemoryFormat::Preserve);
    };
    let text = obj.repr()?.to_string();
    match text.rsplit('.').next() {
        Some("contiguous_format") => Ok(MemoryFormat::Contiguous),
        Some("channels_last") => Ok(MemoryFormat::ChannelsLast),
        Some("channels_last_3d") => Ok(MemoryFormat::ChannelsLast3d),
        Some("preserve_format") => Ok(MemoryFormat::Preserve),
        _ => Err(pyo3::exceptions::PyTypeError::new_err(format!(
            "memory_format must be a torch.memory_format, not {}",
            obj.get_type().name()?
        ))),
    }
}

pub fn dtype_arg(obj: &Bound<'_, PyAny>) -> PyResult<DType> {
    if let Ok(d) = obj.downcast::<PyDType>() {
        return Ok(d.get().dtype);
    }
    // a legacy tensor type (`torch.FloatTensor`) names its dtype
    if let Ok(legacy) = obj.getattr("_legacy_dtype") {
        if let Ok(d) = legacy.downcast::<PyDType>() {
            return Ok(d.get().dtype);
        }
    }
    let py = obj.py();
    let builtins = py.import("builtins")?;
    if obj.is(&builtins.getattr("float")?) {
        return Ok(DType::F32);
    }
    if obj.is(&builtins.getattr("int")?) {
        return Ok(DType::I64);
    }
    if obj.is(&builtins.getattr("bool")?) {
        return Ok(DType::Bool);
    }
    if let Ok(s) = obj.str() {
        let s = s.to_string();
        let name = s
            .trim_start_matches("torch.")
            .trim_start_matches("rustdl.")
            .trim_start_matches("<class 'numpy.")
            .trim_end_matches("'>");
        if let Some(d) = DType::from_name(name) {
            return Ok(d);
        }
        if name.starts_with("complex") {
            return Err(pyo3::exceptions::PyNotImplementedError::new_err(format!(
                "rustdl has no complex dtypes yet ({s} was requested)"
            )));
        }
    }
    Err(type_err(format!("expected a dtype, got {}", obj.repr()?)))
}

pub fn opt_dtype(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<DType>> {
    match obj {
        None => Ok(None),
        Some(o) if o.is_none() => Ok(None),
        Some(o) => Ok(Some(dtype_arg(o)?)),
    }
}

fn numpy_to_tensor(arr: &Bound<'_, PyUntypedArray>) -> PyResult<Tensor> {
    fn typed<T: BufferElem + numpy::Element>(arr: &Bound<'_, PyUntypedArray>) -> PyResult<Tensor> {
        let a = arr.downcast::<PyArrayDyn<T>>()?;
        let ro = a.readonly();
        let shape: Vec<usize> = ro.shape().to_vec();
        let v: Vec<T> = match ro.as_slice() {
            Ok(s) => s.to_vec(),
            Err(_) => ro.as_array().iter().copied().collect(),
        };
        Ok(Tensor::from_vec(v, &shape))
    }
    let dt = arr.dtype();
    let py = arr.py();
    let kind = dt.kind();
    let size = dt.itemsize();
    match (kind, size) {
        (b'f', 4) => typed::<f32>(arr),
        (b'f', 8) => typed::<f64>(arr),
        (b'f', 2) => typed::<half::f16>(arr),
        (b'i', 8) => typed::<i64>(arr),
        (b'i', 4) => typed::<i32>(arr),
        (b'i', 2) => typed::<i16>(arr),
        (b'i', 1) => typed::<i8>(arr),
        (b'i', _) | (b'u', _) if !(kind == b'u' && size == 1) => {
            let a64 = arr.call_method1("astype", ("int64",))?;
            numpy_to_tensor(a64.downcast::<PyUntypedArray>()?)
        }
        (b'u', 1) => typed::<u8>(arr),
        (b'b', 1) => typed::<bool>(arr),
        _ => {
            let _ = py;
            Err(type_err(format!(
                "can't convert np.ndarray of type {}. The only supported types are: float64, float32, float16, int64, int32, int16, int8, uint8, and bool.",
                dt.str()?
            )))
        }
    }
}

/// Walk nested sequences, collecting the shape and values.
fn flatten_nested(
    obj: &Bound<'_, PyAny>,
    depth: usize,
    shape: &mut Vec<usize>,
    vals: &mut Vec<f64>,
    cat: &mut Category,
    saw_any: &mut bool,
    beyond_i64: &mut bool,
) -> PyResult<()> {
    if let Ok(t) = obj.downcast::<PyTensor>() {
        let t = t.borrow().t.clone();
        if depth == shape.len() && t.ndim() == 0 {
            *cat = (*cat).max(t.dtype().category());
            *saw_any = true;
            vals.push(t.item_f64()?);
            return Ok(());
        }
        // a tensor inside a list: treat as nested data
        let v = t.to_f64_vec();
        let inner: Vec<usize> = t.shape().to_vec();
        if depth == shape.len() {
            shape.extend(&inner);
        } else if shape[depth..] != inner[..] {
            return Err(PyValueError::new_err(
                "expected sequence of equal-length lists",
            ));
        }
        *cat = (*cat).max(t.dtype().category());
        *saw_any = true;
        vals.extend(v);
        return Ok(());
    }
    if let Some(c) = scalar_category(obj) {
        if depth != shape.len() {
            return Err(PyValueError::new_err(format!(
                "expected sequence of length {} at dim {depth} (got a number)",
                shape[depth]
            )));
        }
        *cat = (*cat).max(c);
        *saw_any = true;
        *beyond_i64 |= obj.is_instance_of::<PyInt>() && obj.extract::<i64>().is_err();
        vals.push(obj.extract::<f64>()?);
        return Ok(());
    }
    if let Ok(arr) = obj.downcast::<PyUntypedArray>() {
        let t = numpy_to_tensor(arr)?;
        let b = Py::new(obj.py(), PyTensor::new(t))?;
        return flatten_nested(
            b.bind(obj.py()).as_any(),
            depth,
            shape,
            vals,
            cat,
            saw_any,
            beyond_i64,
        );
    }
    let type_name = || {
        obj.get_type()
            .name()
            .map(|n| n.to_string())
            .unwrap_or_default()
    };
    if obj.is_instance_of::<PyString>() || obj.is_instance_of::<PyBytes>() {
        // A str is a sequence of 1-char strs: recursing would never end.
        return Err(type_err(format!(
            "new(): invalid data type '{}'",
            type_name()
        )));
    }
    let seq = obj.downcast::<PySequence>().map_err(|_| {
        PyErr::from(Error::Runtime(format!(
            "Could not infer dtype of {}",
            type_name()
        )))
    })?;
    let n = seq.len()?;
    if depth == shape.len() && *saw_any {
        // Numbers were already found at this depth: a ragged list.
        return Err(type_err(format!(
            "must be real number, not {}",
            type_name()
        )));
    }
    if depth == shape.len() {
        shape.push(n);
    } else if shape[depth] != n {
        return Err(PyValueError::new_err(format!(
            "expected sequence of length {} at dim {depth} (got {n})",
            shape[depth]
        )));
    }
    for item in seq.try_iter()? {
        flatten_nested(&item?, depth + 1, shape, vals, cat, saw_any, beyond_i64)?;
    }
    Ok(())
}

/// A Python int beyond int64 is refused as PyTorch's `tensor()` refuses it
/// (as a float it would round to the nearest int64 silently).
fn check_int_fits_i64(obj: &Bound<'_, PyAny>) -> PyResult<()> {
    if obj.is_instance_of::<PyInt>() && obj.extract::<i64>().is_err() {
        return Err(PyValueError::new_err("Overflow when unpacking long long"));
    }
    Ok(())
}

/// `rustdl.tensor(data)`: numbers, nested lists/tuples, numpy arrays, tensors.
pub fn tensor_from_data(obj: &Bound<'_, PyAny>, dtype: Option<DType>) -> PyResult<Tensor> {
    let t = if let Ok(t) = obj.downcast::<PyTensor>() {
        let t = t.borrow().t.clone();
        crate::dispatch_all!(t.dtype(), T => Tensor::from_vec(t.to_vec::<T>(), t.shape()))
    } else if let Ok(arr) = obj.downcast::<PyUntypedArray>() {
        numpy_to_tensor(arr)?
    } else if is_numpy_scalar(obj) {
        // numpy scalars keep their dtype (np.float64(1) -> float64)
        let arr = obj.py().import("numpy")?.call_method1("asarray", (obj,))?;
        numpy_to_tensor(arr.downcast::<PyUntypedArray>()?)?
    } else if obj.is_instance_of::<PyInt>()
        && !obj.is_instance_of::<PyBool>()
        && (obj.extract::<i64>().is_ok() || dtype.is_none_or(|d| !d.is_float()))
    {
        // exact integers (no f64 round trip); one beyond int64 only into a
        // float dtype (below)
        check_int_fits_i64(obj)?;
        let v: i64 = obj.extract()?;
        // (every i64 fits int64; as f64 its maximum would round past it)
        if let Some(d) = dtype.filter(|d| d.integer_range().is_some() && *d != DType::I64) {
            crate::ops::creation::check_fits(v as f64, d).map_err(|_| {
                Error::Runtime(format!(
                    "value cannot be converted to type {} without overflow",
                    d.name()
                ))
            })?;
        }
        Tensor::scalar(v)
    } else {
        let mut shape = Vec::new();
        let mut vals = Vec::new();
        let mut cat = Category::Bool;
        let mut saw = false;
        let mut beyond_i64 = false;
        flatten_nested(
            obj,
            0,
            &mut shape,
            &mut vals,
            &mut cat,
            &mut saw,
            &mut beyond_i64,
        )?;
        let d = if !saw {
            DType::F32
        } else {
            match cat {
                Category::Bool => DType::Bool,
                Category::Integer => DType::I64,
                Category::Float => DType::F32,
            }
        };
        let target = dtype.unwrap_or(d);
        if beyond_i64 && target.integer_range().is_some() {
            // PyTorch unpacks each int as int64 for an integer dtype.
            return Err(PyValueError::new_err("Overflow when unpacking long long"));
        }
        if target == DType::I64 && cat != Category::Float {
            // keep large integers exact
            let mut ints = Vec::with_capacity(vals.len());
            collect_ints(obj, &mut ints)?;
            if ints.len() == vals.len() {
                return Ok(Tensor::from_vec(ints, &shape));
            }
        }
        // `tensor([300], dtype=int8)` and `tensor([inf], dtype=int64)` raise,
        // as PyTorch (127.9 truncates); each float is checked as a float and
        // each int as an int (`tensor([-1.0, 2], dtype=uint8)` raises,
        // `tensor([0.5, -1], dtype=uint8)` wraps the -1).
        if let (Some(_), Some(_)) = (dtype, target.integer_range()) {
            let mut floats = Vec::with_capacity(vals.len());
            collect_float_flags(obj, &mut floats)?;
            if floats.len() != vals.len() {
                floats = vec![cat == Category::Float; vals.len()];
            }
            if vals.iter().zip(&floats).any(|(&v, &is_float)| {
                crate::ops::creation::check_fits_scalar(v, is_float, target).is_err()
            }) {
                return Err(Error::Runtime(format!(
                    "value cannot be converted to type {} without overflow",
                    target.name()
                ))
                .into());
            }
        }
        Tensor::from_buffer(
            crate::tensor::access::buffer_from_f64(&vals, target),
            &shape,
        )
    };
    Ok(match dtype {
        Some(d) => t.cast_raw(d),
        None => t,
    })
}

fn is_numpy_scalar(obj: &Bound<'_, PyAny>) -> bool {
    let generic = || obj.py().import("numpy")?.getattr("generic");
    obj.get_type().module().is_ok_and(|m| m == "numpy")
        && generic().is_ok_and(|g| obj.is_instance(&g).unwrap_or(false))
}

/// Whether each element of nested data is a float (in the order
/// `flatten_nested` reads them); numpy arrays are left out (the caller then
/// falls back to the data's category).
fn collect_float_flags(obj: &Bound<'_, PyAny>, out: &mut Vec<bool>) -> PyResult<()> {
    if let Ok(t) = obj.downcast::<PyTensor>() {
        let t = t.borrow();
        out.extend(std::iter::repeat_n(t.t.dtype().is_float(), t.t.numel()));
        return Ok(());
    }
    if let Some(c) = scalar_category(obj) {
        out.push(c == Category::Float);
        return Ok(());
    }
    if obj.downcast::<PyUntypedArray>().is_ok() {
        return Ok(());
    }
    if let Ok(seq) = obj.downcast::<PySequence>() {
        for item in seq.try_iter()? {
            collect_float_flags(&item?, out)?;
        }
    }
    Ok(())
}

fn collect_ints(obj: &Bound<'_, PyAny>, out: &mut Vec<i64>) -> PyResult<()> {
    if let Ok(i) = obj.extract::<i64>() {
        if !obj.is_instance_of::<PyFloat>() {
            out.push(i);
            return Ok(());
        }
    }
    if let Ok(seq) = obj.downcast::<PySequence>() {
        for item in seq.try_iter()? {
            collect_ints(&item?, out)?;
        }
    }
    Ok(())
}
