//! Module-level functions of `rustdl._C`: factories, random numbers, joins,
//! grad mode, autograd.grad, threads, and the functional ops nn needs.

use super::convert::{
    as_tensor, dtype_arg, opt_dtype, shape_args, tensor_from_data, to_usize_shape,
};
use super::default_device::{default_device, factory_device, make};
use super::py_math::tuple_of;
use super::py_tensor::{device_arg, set_requires_grad, wrap, PyTensor};
use crate::autograd;
use crate::error::Error;
use crate::ops::creation::{self, Rng};
use crate::ops::{binary, reduce, shape, shape_extra, unary};
use crate::tensor::dtype::Category;
use crate::tensor::{DType, Device, Tensor};
use parking_lot::Mutex;
use pyo3::prelude::*;
use pyo3::types::PyTuple;

type R = PyResult<PyTensor>;

/// PyTorch's `out=` on a factory or a join: the result is written into
/// `out` (which must have the result's shape: rustdl does not resize it) and
/// `out` itself is returned.
fn into_out(py: Python<'_>, result: Tensor, out: Option<&Bound<'_, PyAny>>) -> PyResult<Py<PyAny>> {
    let Some(out) = out.filter(|o| !o.is_none()) else {
        return Ok(Py::new(py, wrap(result))?.into_any());
    };
    let target = out.downcast::<PyTensor>()?.borrow().t.clone();
    if target.shape() != result.shape() {
        return Err(pyo3::exceptions::PyRuntimeError::new_err(format!(
            "out= has shape {:?} but the result has shape {:?} (rustdl does not resize out= tensors)",
            target.shape(),
            result.shape()
        )));
    }
    if autograd::is_grad_enabled() && (target.requires_grad() || result.requires_grad()) {
        return Err(pyo3::exceptions::PyRuntimeError::new_err(
            "functions with out=... arguments don't support automatic differentiation, but one of the arguments requires grad.",
        ));
    }
    crate::tensor::access::write_into(&target, &result.cast_raw(target.dtype()))?;
    Ok(out.clone().unbind())
}

/// The `*size` of a factory: PyTorch requires one (`torch.ones()` raises).
fn required_size(name: &str, size: &Bound<'_, PyTuple>) -> PyResult<Vec<usize>> {
    if size.is_empty() {
        return Err(pyo3::exceptions::PyTypeError::new_err(format!(
            "{name}() missing 1 required positional arguments: \"size\""
        )));
    }
    to_usize_shape(&shape_args(size)?)
}

/// A factory's result, made to require grad when asked (PyTorch's factory wording).
fn finish(t: Tensor, requires_grad: bool) -> R {
    if requires_grad {
        if !t.dtype().is_float() {
            return Err(pyo3::exceptions::PyRuntimeError::new_err(
                "Only Tensors of floating point and complex dtype can require gradients",
            ));
        }
        set_requires_grad(&t, true)?;
    }
    Ok(wrap(t))
}

/// A random number generator object (`rustdl.Generator`).
#[pyclass(name = "Generator", module = "rustdl")]
pub struct PyGenerator {
    pub rng: Mutex<Rng>,
    seed: Mutex<u64>,
}

#[rustdl_macros::guard_panics]
#[pymethods]
impl PyGenerator {
    #[new]
    #[pyo3(signature = (device=None))]
    fn new(device: Option<&Bound<'_, PyAny>>) -> PyGenerator {
        let _ = device;
        PyGenerator {
            rng: Mutex::new(Rng::new(67280421310721)),
            seed: Mutex::new(67280421310721),
        }
    }
    fn manual_seed(slf: PyRef<'_, Self>, seed: i64) -> PyRef<'_, Self> {
        *slf.rng.lock() = Rng::new(seed as u64);
        *slf.seed.lock() = seed as u64;
        slf
    }
    fn initial_seed(&self) -> u64 {
        *self.seed.lock()
    }
    fn seed(&self) -> u64 {
        let s = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1);
        *self.rng.lock() = Rng::new(s);
        *self.seed.lock() = s;
        s
    }
    fn get_state(&self) -> Vec<u64> {
        self.rng.lock().state().to_vec()
    }
    fn set_state(&self, state: Vec<u64>) -> PyResult<()> {
        let s: [u64; 4] = state
            .try_into()
            .map_err(|_| pyo3::exceptions::PyValueError::new_err("invalid generator state"))?;
        self.rng.lock().set_state(s);
        Ok(())
    }
}

/// Run `f` with the generator passed from Python, or the global one.
pub fn with_generator<T>(
    g: Option<&Bound<'_, PyAny>>,
    f: impl FnOnce(Option<&mut Rng>) -> crate::Result<T>,
) -> PyResult<T> {
    match g {
        Some(g) if !g.is_none() => {
            let g = g.downcast::<PyGenerator>()?;
            let b = g.borrow();
            let mut r = b.rng.lock();
            Ok(f(Some(&mut r))?)
        }
        _ => Ok(f(None)?),
    }
}

fn dt(d: Option<&Bound<'_, PyAny>>, default: DType) -> PyResult<DType> {
    Ok(opt_dtype(d)?.unwrap_or(default))
}

#[rustdl_macros::guard_panics]
#[pyfunction]
#[pyo3(signature = (data, *, dtype=None, device=None, requires_grad=false, pin_memory=false))]
fn tensor(
    data: &Bound<'_, PyAny>,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
    pin_memory: bool,
) -> R {
    let _ = pin_memory;
    let t = tensor_from_data(data, opt_dtype(dtype)?)?;
    finish(place(t, device, None)?, requires_grad)
}

#[rustdl_macros::guard_panics]
#[pyfunction]
#[pyo3(signature = (data, dtype=None, device=None))]
fn as_tensor_(
    data: &Bound<'_, PyAny>,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
) -> R {
    let d = opt_dtype(dtype)?;
    if let Ok(t) = data.downcast::<PyTensor>() {
        let t = t.borrow().t.clone();
        let dev = t.device();
        let t = match d {
            Some(d) if d != t.dtype() => unary::to_dtype(&t, d)?,
            _ => t,
        };
        return Ok(wrap(place(t, device, Some(dev))?));
    }
    if let Ok(arr) = data.downcast::<numpy::PyUntypedArray>() {
        // Shares the array's memory when the dtype and device match.
        let t = super::py_shared::tensor_over_numpy(arr)?;
        let t = match d {
            Some(d) if d != t.dtype() => t.cast_raw(d),
            _ => t,
        };
        return Ok(wrap(place(t, device, None)?));
    }
    Ok(wrap(place(tensor_from_data(data, d)?, device, None)?))
}

#[rustdl_macros::guard_panics]
#[pyfunction]
fn from_numpy(arr: &Bound<'_, PyAny>) -> R {
    if arr.downcast::<numpy::PyUntypedArray>().is_err() {
        return Err(pyo3::exceptions::PyTypeError::new_err(format!(
            "expected np.ndarray (got {})",
            arr.get_type().name()?
        )));
    }
    let arr = arr.downcast::<numpy::PyUntypedArray>()?;
    Ok(wrap(super::py_shared::tensor_over_numpy(arr)?))
}

/// Put a new tensor on the requested device (`default` when none is given).
fn place(
    t: Tensor,
    device: Option<&Bound<'_, PyAny>>,
    default: Option<Device>,
) -> PyResult<Tensor> {
    let dev = match device {
        Some(d) if !d.is_none() => device_arg(d)?,
        _ => default.unwrap_or_else(default_device),
    };
    if dev == t.device() {
        return Ok(t);
    }
    Ok(crate::ops::device::copy_raw(&t, dev)?)
}

#[allow(clippy::too_many_arguments)]
fn filled(
    name: &str,
    shape: &Bound<'_, PyTuple>,
    value: f64,
    out: Option<&Bound<'_, PyAny>>,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
) -> PyResult<Py<PyAny>> {
    let s = required_size(name, shape)?;
    let dev = factory_device(device)?;
    let t = finish(
        creation::full_on(&s, value, dt(dtype, DType::F32)?, dev)?,
        requires_grad,
    )?;
    into_out(shape.py(), t.t, out)
}

#[rustdl_macros::guard_panics]
#[pyfunction]
#[pyo3(signature = (*size, out=None, dtype=None, layout=None, device=None, requires_grad=false, pin_memory=false, memory_format=None))]
#[allow(clippy::too_many_arguments)]
fn zeros(
    size: &Bound<'_, PyTuple>,
    out: Option<&Bound<'_, PyAny>>,
    dtype: Option<&Bound<'_, PyAny>>,
    layout: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
    pin_memory: bool,
    memory_format: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    let _ = (layout, pin_memory, memory_format);
    filled("zeros", size, 0.0, out, dtype, device, requires_grad)
}

#[rustdl_macros::guard_panics]
#[pyfunction]
#[pyo3(signature = (*size, out=None, dtype=None, layout=None, device=None, requires_grad=false, pin_memory=false, memory_format=None))]
#[allow(clippy::too_many_arguments)]
fn ones(
    size: &Bound<'_, PyTuple>,
    out: Option<&Bound<'_, PyAny>>,
    dtype: Option<&Bound<'_, PyAny>>,
    layout: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
    pin_memory: bool,
    memory_format: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    let _ = (layout, pin_memory, memory_format);
    filled("ones", size, 1.0, out, dtype, device, requires_grad)
}

#[rustdl_macros::guard_panics]
#[pyfunction]
#[pyo3(signature = (*size, out=None, dtype=None, layout=None, device=None, requires_grad=false, pin_memory=false, memory_format=None))]
#[allow(clippy::too_many_arguments)]
fn empty(
    size: &Bound<'_, PyTuple>,
    out: Option<&Bound<'_, PyAny>>,
    dtype: Option<&Bound<'_, PyAny>>,
    layout: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
    pin_memory: bool,
    memory_format: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    let _ = (layout, pin_memory, memory_format);
    filled("empty", size, 0.0, out, dtype, device, requires_grad)
}

#[rustdl_macros::guard_panics]
#[pyfunction]
#[pyo3(signature = (size, fill_value, *, dtype=None, device=None, requires_grad=false))]
fn full(
    size: &Bound<'_, PyAny>,
    fill_value: &Bound<'_, PyAny>,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
) -> R {
    let s = to_usize_shape(
        &size
            .extract::<Vec<i64>>()
            .or_else(|_| size.extract::<i64>().map(|i| vec![i]))?,
    )?;
    let default = if fill_value.is_instance_of::<pyo3::types::PyBool>() {
        DType::Bool
    } else if fill_value.is_instance_of::<pyo3::types::PyInt>() {
        DType::I64
    } else {
        DType::F32
    };
    let v: f64 = fill_value.extract()?;
    let dtype = dt(dtype, default)?;
    creation::check_fits_scalar(
        v,
        fill_value.is_exact_instance_of::<pyo3::types::PyFloat>(),
        dtype,
    )?;
    let t = make(factory_device(device)?, &s, dtype, || {
        Ok(creation::full(&s, v, dtype))
    })?;
    finish(t, requires_grad)
}

/// A constant tensor shaped like `t`, on `t`'s device unless `device` is given.
fn like(
    t: &Tensor,
    value: f64,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
) -> R {
    let dev = match device {
        Some(d) if !d.is_none() => device_arg(d)?,
        _ => t.device(),
    };
    finish(
        creation::full_on(t.shape(), value, dt(dtype, t.dtype())?, dev)?,
        requires_grad,
    )
}

#[rustdl_macros::guard_panics]
#[pyfunction]
#[pyo3(signature = (input, *, dtype=None, device=None, requires_grad=false, memory_format=None))]
fn zeros_like(
    input: PyRef<'_, PyTensor>,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
    memory_format: Option<&Bound<'_, PyAny>>,
) -> R {
    let _ = memory_format;
    like(&input.t, 0.0, dtype, device, requires_grad)
}

#[rustdl_macros::guard_panics]
#[pyfunction]
#[pyo3(signature = (input, *, dtype=None, device=None, requires_grad=false, memory_format=None))]
fn ones_like(
    input: PyRef<'_, PyTensor>,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
    memory_format: Option<&Bound<'_, PyAny>>,
) -> R {
    let _ = memory_format;
    like(&input.t, 1.0, dtype, device, requires_grad)
}

#[rustdl_macros::guard_panics]
#[pyfunction]
#[pyo3(signature = (input, *, dtype=None, device=None, requires_grad=false, memory_format=None))]
fn empty_like(
    input: PyRef<'_, PyTensor>,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
    memory_format: Option<&Bound<'_, PyAny>>,
) -> R {
    let _ = memory_format;
    like(&input.t, 0.0, dtype, device, requires_grad)
}

#[rustdl_macros::guard_panics]
#[pyfunction]
#[pyo3(signature = (input, fill_value, *, dtype=None, device=None, requires_grad=false))]
fn full_like(
    input: PyRef<'_, PyTensor>,
    fill_value: &Bound<'_, PyAny>,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
) -> R {
    let target = dt(dtype, input.t.dtype())?;
    let is_float = fill_value.is_exact_instance_of::<pyo3::types::PyFloat>();
    let fill_value: f64 = fill_value.extract()?;
    creation::check_fits_scalar(fill_value, is_float, target)?;
    like(&input.t, fill_value, dtype, device, requires_grad)
}

#[rustdl_macros::guard_panics]
#[pyfunction]
#[pyo3(signature = (start, end=None, step=None, *, dtype=None, device=None, requires_grad=false))]
fn arange(
    start: &Bound<'_, PyAny>,
    end: Option<&Bound<'_, PyAny>>,
    step: Option<&Bound<'_, PyAny>>,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
) -> R {
    let is_float = |o: &Bound<'_, PyAny>| {
        o.is_instance_of::<pyo3::types::PyFloat>()
            || o.downcast::<PyTensor>()
                .map(|t| t.borrow().t.dtype().is_float())
                .unwrap_or(false)
    };
    let any_float = is_float(start)
        || end.map(is_float).unwrap_or(false)
        || step.map(is_float).unwrap_or(false);
    let num = |o: &Bound<'_, PyAny>| -> PyResult<f64> {
        if let Ok(t) = o.downcast::<PyTensor>() {
            return Ok(t.borrow().t.item_f64()?);
        }
        o.extract::<f64>()
    };
    let (s, e) = match end {
        Some(e) if !e.is_none() => (num(start)?, num(e)?),
        _ => (0.0, num(start)?),
    };
    let st = match step {
        Some(s) if !s.is_none() => num(s)?,
        _ => 1.0,
    };
    let default = if any_float { DType::F32 } else { DType::I64 };
    let dtype = dt(dtype, default)?;
    let n = creation::arange_len(s, e, st)?;
    let t = make(factory_device(device)?, &[n], dtype, || {
        Ok(creation::arange(s, e, st, dtype)?)
    })?;
    finish(t, requires_grad)
}

#[rustdl_macros::guard_panics]
#[pyfunction]
#[pyo3(signature = (start, end, steps, *, dtype=None, device=None, requires_grad=false))]
fn linspace(
    start: f64,
    end: f64,
    steps: i64,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
) -> R {
    if steps < 0 {
        return Err(Error::Runtime("number of steps must be non-negative".into()).into());
    }
    let dtype = dt(dtype, DType::F32)?;
    creation::check_linspace_ends(start, end, steps as usize, dtype)?;
    let t = make(factory_device(device)?, &[steps as usize], dtype, || {
        Ok(creation::linspace(start, end, steps as usize, dtype))
    })?;
    finish(t, requires_grad)
}

#[rustdl_macros::guard_panics]
#[pyfunction]
#[pyo3(signature = (n, m=None, *, dtype=None, device=None, requires_grad=false))]
fn eye(
    n: i64,
    m: Option<i64>,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
) -> R {
    if n < 0 {
        return Err(Error::Runtime(format!("n must be greater or equal to 0, got {n}")).into());
    }
    let m = m.unwrap_or(n);
    if m < 0 {
        return Err(Error::Runtime(format!("m must be greater or equal to 0, got {m}")).into());
    }
    let dtype = dt(dtype, DType::F32)?;
    let (n, m) = (n as usize, m as usize);
    let t = make(factory_device(device)?, &[n, m], dtype, || {
        Ok(creation::eye(n, m, dtype))
    })?;
    finish(t, requires_grad)
}

#[rustdl_macros::guard_panics]
#[pyfunction]
#[pyo3(signature = (*size, generator=None, dtype=None, device=None, requires_grad=false, out=None))]
fn rand(
    size: &Bound<'_, PyTuple>,
    generator: Option<&Bound<'_, PyAny>>,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
    out: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    let s = required_size("rand", size)?;
    let d = dt(dtype, DType::F32)?;
    let t = make(factory_device(device)?, &s, d, || {
        with_generator(generator, |g| creation::rand(&s, 0.0, 1.0, d, g))
    })?;
    let t = finish(t, requires_grad)?;
    into_out(size.py(), t.t, out)
}

#[rustdl_macros::guard_panics]
#[pyfunction]
#[pyo3(signature = (*size, generator=None, dtype=None, device=None, requires_grad=false, out=None))]
fn randn(
    size: &Bound<'_, PyTuple>,
    generator: Option<&Bound<'_, PyAny>>,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
    out: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    let s = required_size("randn", size)?;
    let d = dt(dtype, DType::F32)?;
    let t = make(factory_device(device)?, &s, d, || {
        with_generator(generator, |g| creation::randn(&s, 0.0, 1.0, d, g))
    })?;
    let t = finish(t, requires_grad)?;
    into_out(size.py(), t.t, out)
}

#[rustdl_macros::guard_panics]
#[pyfunction]
#[pyo3(signature = (input, *, dtype=None, device=None, requires_grad=false, memory_format=None))]
fn rand_like(
    input: PyRef<'_, PyTensor>,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
    memory_format: Option<&Bound<'_, PyAny>>,
) -> R {
    let _ = memory_format;
    let d = dt(dtype, input.t.dtype())?;
    let dev = match device {
        Some(dv) if !dv.is_none() => device_arg(dv)?,
        _ => input.t.device(),
    };
    let t = make(dev, input.t.shape(), d, || {
        Ok(creation::rand(input.t.shape(), 0.0, 1.0, d, None)?)
    })?;
    finish(t, requires_grad)
}

#[rustdl_macros::guard_panics]
#[pyfunction]
#[pyo3(signature = (input, *, dtype=None, device=None, requires_grad=false, memory_format=None))]
fn randn_like(
    input: PyRef<'_, PyTensor>,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
    memory_format: Option<&Bound<'_, PyAny>>,
) -> R {
    let _ = memory_format;
    let d = dt(dtype, input.t.dtype())?;
    let dev = match device {
        Some(dv) if !dv.is_none() => device_arg(dv)?,
        _ => input.t.device(),
    };
    let t = make(dev, input.t.shape(), d, || {
        Ok(creation::randn(input.t.shape(), 0.0, 1.0, d, None)?)
    })?;
    finish(t, requires_grad)
}

/// `randint(high, size)` or `randint(low, high, size)`.
#[rustdl_macros::guard_panics]
#[pyfunction]
#[pyo3(signature = (*args, size=None, generator=None, dtype=None, device=None, requires_grad=false))]
fn randint(
    args: &Bound<'_, PyTuple>,
    size: Option<&Bound<'_, PyAny>>,
    generator: Option<&Bound<'_, PyAny>>,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
) -> R {
    let mut nums: Vec<i64> = Vec::new();
    let mut shp: Option<Vec<i64>> = size.map(|s| s.extract::<Vec<i64>>()).transpose()?;
    for a in args.iter() {
        if let Ok(i) = a.extract::<i64>() {
            nums.push(i);
        } else {
            shp = Some(a.extract()?);
        }
    }
    let (lo, hi) = match nums.as_slice() {
        [h] => (0, *h),
        [l, h] => (*l, *h),
        _ => {
            return Err(pyo3::exceptions::PyTypeError::new_err(
                "randint() expects (high, size) or (low, high, size)",
            ))
        }
    };
    let s = to_usize_shape(&shp.ok_or_else(|| {
        pyo3::exceptions::PyTypeError::new_err("randint() missing required argument 'size'")
    })?)?;
    let d = dt(dtype, DType::I64)?;
    let t = make(factory_device(device)?, &s, d, || {
        with_generator(generator, |g| creation::randint(lo, hi, &s, d, g))
    })?;
    finish(t, requires_grad)
}

#[rustdl_macros::guard_panics]
#[pyfunction]
#[pyo3(signature = (n, *, generator=None, dtype=None, device=None, requires_grad=false))]
fn randperm(
    n: i64,
    generator: Option<&Bound<'_, PyAny>>,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
) -> R {
    if n < 0 {
        // (sic: PyTorch's message has no space before the number)
        return Err(Error::Runtime(format!("n must be non-negative, got{n}")).into());
    }
    let n = n as usize;
    let d = dt(dtype, DType::I64)?;
    let t = make(factory_device(device)?, &[n], d, || {
        let p = with_generator(generator, |g| Ok(creation::randperm(n, g)))?;
        Ok(Tensor::from_vec(p, &[n]).cast_raw(d))
    })?;
    finish(t, requires_grad)
}

/// `normal(mean, std, size)` with float arguments, or tensor mean/std.
#[rustdl_macros::guard_panics]
#[pyfunction]
#[pyo3(signature = (mean=None, std=None, size=None, *, generator=None, dtype=None, requires_grad=false))]
fn normal(
    mean: Option<&Bound<'_, PyAny>>,
    std: Option<&Bound<'_, PyAny>>,
    size: Option<Vec<i64>>,
    generator: Option<&Bound<'_, PyAny>>,
    dtype: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
) -> R {
    let as_t = |o: Option<&Bound<'_, PyAny>>, d: f64| -> PyResult<Tensor> {
        match o {
            None => Ok(creation::full(&[], d, DType::F32)),
            Some(o) => match o.downcast::<PyTensor>() {
                Ok(t) => Ok(t.borrow().t.clone()),
                Err(_) => Ok(creation::full(&[], o.extract::<f64>()?, DType::F32)),
            },
        }
    };
    let (m, s) = (as_t(mean, 0.0)?, as_t(std, 1.0)?);
    let shape: Vec<usize> = match size {
        Some(sz) => to_usize_shape(&sz)?,
        None => crate::tensor::layout::broadcast_shapes(m.shape(), s.shape())?.to_vec(),
    };
    let d = dt(
        dtype,
        if m.dtype().is_float() {
            m.dtype()
        } else {
            DType::F32
        },
    )?;
    let z = with_generator(generator, |g| creation::randn(&shape, 0.0, 1.0, d, g))?;
    let r = binary::add(&binary::mul(&z, &s.cast_raw(d))?, &m.cast_raw(d))?;
    finish(r.detach(), requires_grad)
}

#[rustdl_macros::guard_panics]
#[pyfunction]
#[pyo3(signature = (input, generator=None))]
fn bernoulli(input: PyRef<'_, PyTensor>, generator: Option<&Bound<'_, PyAny>>) -> R {
    if input.t.is_meta() {
        return Ok(wrap(Tensor::meta(input.t.shape(), input.t.dtype())));
    }
    let p = input.t.to_f64_vec();
    if p.iter().any(|&pi| !(0.0..=1.0).contains(&pi)) {
        return Err(Error::Runtime(
            "Expected p_in >= 0 && p_in <= 1 to be true, but got false.".into(),
        )
        .into());
    }
    let vals = with_generator(generator, |g| {
        let draw = |r: &mut Rng| {
            p.iter()
                .map(|&pi| if r.uniform() < pi { 1.0 } else { 0.0 })
                .collect::<Vec<f64>>()
        };
        Ok(match g {
            Some(r) => draw(r),
            None => creation::with_rng(draw),
        })
    })?;
    let t = Tensor::from_buffer(
        crate::tensor::access::buffer_from_f64(&vals, input.t.dtype()),
        input.t.shape(),
    );
    Ok(wrap(crate::ops::device::copy_raw(&t, input.t.device())?))
}

#[rustdl_macros::guard_panics]
#[pyfunction]
#[pyo3(signature = (input, num_samples, replacement=false, *, generator=None))]
fn multinomial(
    input: PyRef<'_, PyTensor>,
    num_samples: usize,
    replacement: bool,
    generator: Option<&Bound<'_, PyAny>>,
) -> R {
    let t = &input.t;
    let rows = if t.ndim() == 1 { 1 } else { t.shape()[0] };
    let n = *t.shape().last().unwrap_or(&0);
    let w = t.to_f64_vec();
    if !replacement && num_samples > n {
        return Err(pyo3::exceptions::PyRuntimeError::new_err(
            "cannot sample n_sample > prob_dist.size(-1) samples without replacement",
        ));
    }
    if w.iter().any(|&x| x < 0.0 || !x.is_finite()) {
        return Err(pyo3::exceptions::PyRuntimeError::new_err(
            "probability tensor contains either `inf`, `nan` or element < 0",
        ));
    }
    let out = with_generator(generator, |g| {
        let draw = |r: &mut Rng| {
            let mut out = Vec::with_capacity(rows * num_samples);
            for row in 0..rows {
                let mut ww = w[row * n..(row + 1) * n].to_vec();
                for _ in 0..num_samples {
                    let total: f64 = ww.iter().sum();
                    let mut u = r.uniform() * total;
                    let mut pick = n - 1;
                    for (i, &x) in ww.iter().enumerate() {
                        if u < x {
                            pick = i;
                            break;
                        }
                        u -= x;
                    }
                    out.push(pick as i64);
                    if !replacement {
                        ww[pick] = 0.0;
                    }
                }
            }
            out
        };
        Ok(match g {
            Some(r) => draw(r),
            None => creation::with_rng(draw),
        })
    })?;
    let shape: Vec<usize> = if t.ndim() == 1 {
        vec![num_samples]
    } else {
        vec![rows, num_samples]
    };
    Ok(wrap(Tensor::from_vec(out, &shape)))
}

#[rustdl_macros::guard_panics]
#[pyfunction]
fn manual_seed(seed: i64) {
    creation::manual_seed(seed as u64);
}

#[rustdl_macros::guard_panics]
#[pyfunction]
fn _get_rng_state() -> Vec<u64> {
    creation::with_rng(|r| r.state().to_vec())
}

#[rustdl_macros::guard_panics]
#[pyfunction]
fn _set_rng_state(state: Vec<u64>) -> PyResult<()> {
    let s: [u64; 4] = state
        .try_into()
        .map_err(|_| pyo3::exceptions::PyValueError::new_err("invalid RNG state"))?;
    creation::with_rng(|r| r.set_state(s));
    Ok(())
}

fn tensors_of(seq: &Bound<'_, PyAny>) -> PyResult<Vec<Tensor>> {
    seq.try_iter()?.map(|t| as_tensor(&t?)).collect()
}

#[rustdl_macros::guard_panics]
#[pyfunction]
#[pyo3(signature = (tensors, dim=0, *, out=None))]
fn cat(
    tensors: &Bound<'_, PyAny>,
    dim: i64,
    out: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    let result = into_out(tensors.py(), shape::cat(&tensors_of(tensors)?, dim)?, out)?;
    if crate::ops::trace::active() {
        super::py_trace::record_call(tensors.py(), "cat", (tensors, dim), &result)?;
        // (graph capture)
    }
    Ok(result)
}

#[rustdl_macros::guard_panics]
#[pyfunction]
#[pyo3(signature = (tensors, dim=0, *, out=None))]
fn stack(
    tensors: &Bound<'_, PyAny>,
    dim: i64,
    out: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    let result = into_out(tensors.py(), shape::stack(&tensors_of(tensors)?, dim)?, out)?;
    if crate::ops::trace::active() {
        super::py_trace::record_call(tensors.py(), "stack", (tensors, dim), &result)?;
        // (graph capture)
    }
    Ok(result)
}

/// `torch.repeat_interleave(repeats)`: each index `i` `repeats[i]` times.
#[rustdl_macros::guard_panics]
#[pyfunction]
#[pyo3(signature = (repeats, output_size=None))]
fn _repeat_interleave_indices(repeats: PyRef<'_, PyTensor>, output_size: Option<i64>) -> R {
    Ok(wrap(crate::ops::shape_extra::repeat_interleave_indices(
        &repeats.t,
        output_size,
    )?))
}

#[rustdl_macros::guard_panics]
#[pyfunction]
#[pyo3(name = "where", signature = (condition, input=None, other=None))]
fn where_(
    py: Python<'_>,
    condition: PyRef<'_, PyTensor>,
    input: Option<&Bound<'_, PyAny>>,
    other: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    match (input, other) {
        (Some(a), Some(b)) => {
            let (ta, tb) = match (a.downcast::<PyTensor>(), b.downcast::<PyTensor>()) {
                (Ok(x), _) => {
                    let x = x.borrow().t.clone();
                    let y = super::convert::operand(b, &x)?;
                    (x, y)
                }
                (_, Ok(y)) => {
                    let y = y.borrow().t.clone();
                    let x = super::convert::operand(a, &y)?;
                    (x, y)
                }
                _ => {
                    // Two numbers are fine; a list is no operand (PyTorch's TypeError).
                    let number = |o: &Bound<'_, PyAny>| {
                        o.is_instance_of::<pyo3::types::PyInt>()
                            || o.is_instance_of::<pyo3::types::PyFloat>()
                    };
                    if !number(a) || !number(b) {
                        return Err(pyo3::exceptions::PyTypeError::new_err(format!(
                            "where() received an invalid combination of arguments - got (Tensor, {}, {})",
                            a.get_type().name()?,
                            b.get_type().name()?
                        )));
                    }
                    let x = as_tensor(a)?;
                    let y = super::convert::operand(b, &x)?;
                    (x, y)
                }
            };
            Ok(Py::new(py, wrap(binary::where_(&condition.t, &ta, &tb)?))?.into_any())
        }
        (None, None) => tuple_of(py, crate::ops::indexing::nonzero_tuple(&condition.t)?),
        _ => Err(pyo3::exceptions::PyTypeError::new_err(
            "where() expects condition, input and other",
        )),
    }
}

#[rustdl_macros::guard_panics]
#[pyfunction]
fn is_grad_enabled() -> bool {
    autograd::is_grad_enabled()
}

#[rustdl_macros::guard_panics]
#[pyfunction]
fn _set_grad_enabled(mode: bool) {
    autograd::set_grad_enabled(mode);
}

#[rustdl_macros::guard_panics]
#[pyfunction]
#[pyo3(signature = (enabled, check_nan=true))]
fn _set_anomaly_enabled(enabled: bool, check_nan: bool) {
    autograd::anomaly::set_front_end(autograd::anomaly::FrontEnd {
        call_stack: python_call_stack,
        warn: python_user_warning,
    });
    autograd::anomaly::set_enabled(enabled, check_nan);
}

/// The Python call stack as `traceback.format_stack()` writes it (for anomaly mode).
fn python_call_stack() -> Option<String> {
    Python::attach(|py| {
        let frames = py
            .import("traceback")
            .ok()?
            .call_method0("format_stack")
            .ok()?;
        let frames: Vec<String> = frames.extract().ok()?;
        Some(frames.concat())
    })
}

fn python_user_warning(message: &str) {
    Python::attach(|py| {
        let category = py.get_type::<pyo3::exceptions::PyUserWarning>();
        let Ok(message) = std::ffi::CString::new(message) else {
            return;
        };
        // A warnings filter that turns this into an error must not replace the backward error.
        if let Err(e) = PyErr::warn(py, &category, &message, 1) {
            drop(e);
        }
    });
}

#[rustdl_macros::guard_panics]
#[pyfunction]
fn _anomaly_state() -> (bool, bool) {
    (
        autograd::anomaly::is_enabled(),
        autograd::anomaly::is_check_nan_enabled(),
    )
}

/// An exception raised by a custom Function's Python backward, carried through the Rust engine
/// with its kind (NotImplementedError stays NotImplementedError, ...) and its own message, as
/// PyTorch propagates it.
fn python_error_to_rust(py: Python<'_>, e: &PyErr) -> crate::Error {
    let message = e
        .value(py)
        .str()
        .map(|s| s.to_string())
        .unwrap_or_else(|_| e.to_string());
    if e.is_instance_of::<pyo3::exceptions::PyNotImplementedError>(py) {
        crate::Error::NotImplemented(message)
    } else if e.is_instance_of::<pyo3::exceptions::PyTypeError>(py) {
        crate::Error::Type(message)
    } else if e.is_instance_of::<pyo3::exceptions::PyValueError>(py) {
        crate::Error::Value(message)
    } else if e.is_instance_of::<pyo3::exceptions::PyIndexError>(py) {
        crate::Error::Index(message)
    } else {
        crate::Error::Runtime(message)
    }
}

/// `torch.autograd.grad`.
#[rustdl_macros::guard_panics]
#[pyfunction]
#[pyo3(signature = (outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=false, allow_unused=false))]
fn autograd_grad(
    py: Python<'_>,
    outputs: &Bound<'_, PyAny>,
    inputs: &Bound<'_, PyAny>,
    grad_outputs: Option<&Bound<'_, PyAny>>,
    retain_graph: Option<bool>,
    create_graph: bool,
    allow_unused: bool,
) -> PyResult<Py<PyAny>> {
    let outs = if outputs.downcast::<PyTensor>().is_ok() {
        vec![as_tensor(outputs)?]
    } else {
        tensors_of(outputs)?
    };
    let ins = if inputs.downcast::<PyTensor>().is_ok() {
        vec![as_tensor(inputs)?]
    } else {
        tensors_of(inputs)?
    };
    let gos: Vec<Option<Tensor>> = match grad_outputs {
        None => vec![None; outs.len()],
        Some(g) if g.is_none() => vec![None; outs.len()],
        Some(g) if g.downcast::<PyTensor>().is_ok() => vec![Some(as_tensor(g)?)],
        Some(g) => g
            .try_iter()?
            .map(|x| {
                let x = x?;
                if x.is_none() {
                    Ok(None)
                } else {
                    as_tensor(&x).map(Some)
                }
            })
            .collect::<PyResult<_>>()?,
    };
    let grads = autograd::grad(
        &outs,
        &ins,
        &gos,
        retain_graph.unwrap_or(create_graph),
        create_graph,
        allow_unused,
    )?;
    let items: Vec<Py<PyAny>> = grads
        .into_iter()
        .map(|g| match g {
            Some(t) => Py::new(py, wrap(t)).map(|p| p.into_any()),
            None => Ok(py.None()),
        })
        .collect::<PyResult<_>>()?;
    Ok(PyTuple::new(py, items)?.into_any().unbind())
}

#[rustdl_macros::guard_panics]
#[pyfunction]
fn set_num_threads(n: usize) {
    crate::parallel::set_num_threads(n);
}

/// The smallest float32 tensor whose elementwise ops are fused (see
/// `ops::fusion`); returns the previous value.
#[rustdl_macros::guard_panics]
#[pyfunction]
fn _set_fusion_min_numel(n: usize) -> usize {
    crate::ops::fusion::set_min_numel(n)
}

/// Whether `t`'s elements are a fused chain not yet run (for tests).
#[rustdl_macros::guard_panics]
#[pyfunction]
fn _is_deferred(t: PyRef<'_, PyTensor>) -> bool {
    t.t.storage().is_deferred()
}

#[rustdl_macros::guard_panics]
#[pyfunction]
fn get_num_threads() -> usize {
    crate::parallel::num_threads()
}

#[rustdl_macros::guard_panics]
#[pyfunction]
fn result_type(
    py: Python<'_>,
    a: &Bound<'_, PyAny>,
    b: &Bound<'_, PyAny>,
) -> PyResult<Py<super::py_dtype::PyDType>> {
    let ta = as_tensor(a)?;
    let tb = super::convert::operand(b, &ta)?;
    super::py_dtype::dtype_object(py, binary::result_dtype(&ta, &tb))
}

#[rustdl_macros::guard_panics]
#[pyfunction]
fn promote_types(
    py: Python<'_>,
    a: &Bound<'_, PyAny>,
    b: &Bound<'_, PyAny>,
) -> PyResult<Py<super::py_dtype::PyDType>> {
    super::py_dtype::dtype_object(py, DType::promote(dtype_arg(a)?, dtype_arg(b)?))
}

/// `torch.can_cast(from_, to)`: whether PyTorch's casting rules allow it
/// (no float to integer, nothing but bool to bool).
#[rustdl_macros::guard_panics]
#[pyfunction]
fn can_cast(from_: &Bound<'_, PyAny>, to: &Bound<'_, PyAny>) -> PyResult<bool> {
    let (from, to) = (dtype_arg(from_)?, dtype_arg(to)?);
    Ok(!matches!(
        (from.category(), to.category()),
        (Category::Float, Category::Integer | Category::Bool) | (Category::Integer, Category::Bool)
    ))
}

// ---- functional ops used by rustdl.nn.functional ----

#[rustdl_macros::guard_panics]
#[pyfunction]
#[pyo3(signature = (input, dim, dtype=None))]
fn softmax(input: PyRef<'_, PyTensor>, dim: i64, dtype: Option<&Bound<'_, PyAny>>) -> R {
    let x = match opt_dtype(dtype)? {
        Some(d) => unary::to_dtype(&input.t, d)?,
        None => input.t.clone(),
    };
    Ok(wrap(crate::ops::softmax::softmax(&x, dim, false)?))
}

#[rustdl_macros::guard_panics]
#[pyfunction]
#[pyo3(signature = (input, dim, dtype=None))]
fn log_softmax(input: PyRef<'_, PyTensor>, dim: i64, dtype: Option<&Bound<'_, PyAny>>) -> R {
    let x = match opt_dtype(dtype)? {
        Some(d) => unary::to_dtype(&input.t, d)?,
        None => input.t.clone(),
    };
    Ok(wrap(crate::ops::softmax::softmax(&x, dim, true)?))
}

#[rustdl_macros::guard_panics]
#[pyfunction]
#[pyo3(signature = (input, negative_slope=0.01))]
fn leaky_relu(input: PyRef<'_, PyTensor>, negative_slope: f64) -> R {
    Ok(wrap(unary::leaky_relu(&input.t, negative_slope)?))
}

#[rustdl_macros::guard_panics]
#[pyfunction]
#[pyo3(signature = (input, approximate="none"))]
fn gelu(input: PyRef<'_, PyTensor>, approximate: &str) -> R {
    match approximate {
        "none" => Ok(wrap(unary::gelu(&input.t, false)?)),
        "tanh" => Ok(wrap(unary::gelu(&input.t, true)?)),
        other => Err(pyo3::exceptions::PyRuntimeError::new_err(format!(
            "approximate argument must be either none or tanh (got '{other}')"
        ))),
    }
}

#[rustdl_macros::guard_panics]
#[pyfunction]
#[pyo3(signature = (input, alpha=1.0, scale=1.0, input_scale=1.0))]
fn elu(input: PyRef<'_, PyTensor>, alpha: f64, scale: f64, input_scale: f64) -> R {
    Ok(wrap(unary::elu(&input.t, alpha, scale, input_scale)?))
}

#[rustdl_macros::guard_panics]
#[pyfunction]
#[pyo3(signature = (input, beta=1.0, threshold=20.0))]
fn softplus(input: PyRef<'_, PyTensor>, beta: f64, threshold: f64) -> R {
    Ok(wrap(unary::softplus(&input.t, beta, threshold)?))
}

#[rustdl_macros::guard_panics]
#[pyfunction]
#[pyo3(signature = (input, min_val=-1.0, max_val=1.0))]
fn hardtanh(input: PyRef<'_, PyTensor>, min_val: f64, max_val: f64) -> R {
    Ok(wrap(unary::hardtanh(&input.t, min_val, max_val)?))
}

macro_rules! simple_act {
    ($name:ident, $f:path) => {
        #[rustdl_macros::guard_panics]
        #[pyfunction]
        fn $name(input: PyRef<'_, PyTensor>) -> R {
            Ok(wrap($f(&input.t)?))
        }
    };
}
simple_act!(silu, unary::silu);
simple_act!(mish, unary::mish);
simple_act!(softsign, unary::softsign);
simple_act!(hardsigmoid, unary::hardsigmoid);
simple_act!(hardswish, unary::hardswish);
simple_act!(logsigmoid, unary::logsigmoid);

#[rustdl_macros::guard_panics]
#[pyfunction]
#[pyo3(signature = (input, pad, mode="constant", value=None))]
fn pad(input: PyRef<'_, PyTensor>, pad: Vec<i64>, mode: &str, value: Option<f64>) -> R {
    // The value is a double to PyTorch: c10's float conversion check.
    if pad.iter().any(|&p| p > 0) {
        creation::check_fits_scalar(value.unwrap_or(0.0), true, input.t.dtype())?;
    }
    Ok(wrap(shape_extra::pad(
        &input.t,
        &pad,
        mode,
        value.unwrap_or(0.0),
    )?))
}

#[rustdl_macros::guard_panics]
#[pyfunction]
#[pyo3(signature = (input, p=0.5, training=true))]
fn dropout(input: PyRef<'_, PyTensor>, p: f64, training: bool) -> R {
    if !(0.0..=1.0).contains(&p) {
        return Err(pyo3::exceptions::PyValueError::new_err(format!(
            "dropout probability has to be between 0 and 1, but got {p}"
        )));
    }
    if !training || p == 0.0 {
        return Ok(wrap(input.t.clone()));
    }
    if p == 1.0 {
        return Ok(wrap(binary::mul(
            &input.t,
            &creation::scalar_like(0.0, &input.t),
        )?));
    }
    // inverted dropout: keep with prob 1-p and scale by 1/(1-p)
    // (drawn on the CPU generator, so a device run sees the CPU run's masks)
    let mask = make(input.t.device(), input.t.shape(), input.t.dtype(), || {
        Ok(creation::bernoulli(
            input.t.shape(),
            1.0 - p,
            input.t.dtype(),
        ))
    })?;
    let scaled = binary::mul(&mask, &creation::scalar_like(1.0 / (1.0 - p), &mask))?;
    Ok(wrap(binary::mul(&input.t, &scaled)?))
}

/// `F.embedding`'s lookup and its EmbeddingBackward0 node (the Python
/// wrapper checks the arguments and applies max_norm).
#[rustdl_macros::guard_panics]
#[pyfunction]
#[pyo3(signature = (indices, weight, padding_idx=None))]
fn _embedding(
    indices: PyRef<'_, PyTensor>,
    weight: PyRef<'_, PyTensor>,
    padding_idx: Option<i64>,
) -> R {
    Ok(wrap(crate::ops::index::embedding(
        &indices.t,
        &weight.t,
        padding_idx,
    )?))
}

#[rustdl_macros::guard_panics]
#[pyfunction]
fn _sum_to(input: PyRef<'_, PyTensor>, shape: Vec<usize>) -> R {
    Ok(wrap(reduce::sum_to(&input.t, &shape)?))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyGenerator>()?;
    m.add_function(wrap_pyfunction!(tensor, m)?)?;
    m.add("as_tensor", wrap_pyfunction!(as_tensor_, m)?)?;
    m.add("_autograd_grad", wrap_pyfunction!(autograd_grad, m)?)?;
    m.add("where", wrap_pyfunction!(where_, m)?)?;
    m.add_function(wrap_pyfunction!(_repeat_interleave_indices, m)?)?;
    for f in [
        wrap_pyfunction!(from_numpy, m)?,
        wrap_pyfunction!(zeros, m)?,
        wrap_pyfunction!(ones, m)?,
        wrap_pyfunction!(empty, m)?,
        wrap_pyfunction!(full, m)?,
        wrap_pyfunction!(zeros_like, m)?,
        wrap_pyfunction!(ones_like, m)?,
        wrap_pyfunction!(empty_like, m)?,
        wrap_pyfunction!(full_like, m)?,
        wrap_pyfunction!(arange, m)?,
        wrap_pyfunction!(linspace, m)?,
        wrap_pyfunction!(eye, m)?,
        wrap_pyfunction!(rand, m)?,
        wrap_pyfunction!(randn, m)?,
        wrap_pyfunction!(rand_like, m)?,
        wrap_pyfunction!(randn_like, m)?,
        wrap_pyfunction!(randint, m)?,
        wrap_pyfunction!(randperm, m)?,
        wrap_pyfunction!(normal, m)?,
        wrap_pyfunction!(bernoulli, m)?,
        wrap_pyfunction!(multinomial, m)?,
        wrap_pyfunction!(manual_seed, m)?,
        wrap_pyfunction!(_get_rng_state, m)?,
        wrap_pyfunction!(_set_rng_state, m)?,
        wrap_pyfunction!(cat, m)?,
        wrap_pyfunction!(stack, m)?,
        wrap_pyfunction!(is_grad_enabled, m)?,
        wrap_pyfunction!(_set_grad_enabled, m)?,
        wrap_pyfunction!(_set_anomaly_enabled, m)?,
        wrap_pyfunction!(_anomaly_state, m)?,
        wrap_pyfunction!(set_num_threads, m)?,
        wrap_pyfunction!(get_num_threads, m)?,
        wrap_pyfunction!(_set_fusion_min_numel, m)?,
        wrap_pyfunction!(_is_deferred, m)?,
        wrap_pyfunction!(result_type, m)?,
        wrap_pyfunction!(promote_types, m)?,
        wrap_pyfunction!(can_cast, m)?,
        wrap_pyfunction!(softmax, m)?,
        wrap_pyfunction!(log_softmax, m)?,
        wrap_pyfunction!(leaky_relu, m)?,
        wrap_pyfunction!(gelu, m)?,
        wrap_pyfunction!(elu, m)?,
        wrap_pyfunction!(softplus, m)?,
        wrap_pyfunction!(hardtanh, m)?,
        wrap_pyfunction!(silu, m)?,
        wrap_pyfunction!(mish, m)?,
        wrap_pyfunction!(softsign, m)?,
        wrap_pyfunction!(hardsigmoid, m)?,
        wrap_pyfunction!(hardswish, m)?,
        wrap_pyfunction!(logsigmoid, m)?,
        wrap_pyfunction!(pad, m)?,
        wrap_pyfunction!(dropout, m)?,
        wrap_pyfunction!(_sum_to, m)?,
        wrap_pyfunction!(_embedding, m)?,
    ] {
        m.add_function(f)?;
    }
    Ok(())
}

/// Record a node whose backward is a Python callable (`autograd.Function`).
/// `backward(grads)` gets one gradient (or None) per output and returns one
/// gradient (or None) per input.
#[rustdl_macros::guard_panics]
#[pyfunction]
fn _record_function(
    name: String,
    inputs: Vec<PyRef<'_, PyTensor>>,
    outputs: Vec<PyRef<'_, PyTensor>>,
    backward: Py<PyAny>,
) -> PyResult<()> {
    let ins: Vec<Tensor> = inputs.iter().map(|t| t.t.clone()).collect();
    let outs: Vec<Tensor> = outputs.iter().map(|t| t.t.clone()).collect();
    let n_in = ins.len();
    let name: &'static str = Box::leak(name.into_boxed_str());
    let in_refs: Vec<&Tensor> = ins.iter().collect();
    let out_refs: Vec<&Tensor> = outs.iter().collect();
    autograd::record(name, &in_refs, &out_refs, move |grads| {
        Python::attach(|py| {
            let gs: Vec<Py<PyAny>> = grads
                .iter()
                .map(|g| match g {
                    Some(t) => Py::new(py, wrap(t.clone())).map(|p| p.into_any()),
                    None => Ok(py.None()),
                })
                .collect::<PyResult<_>>()
                .map_err(|e| crate::Error::Runtime(e.to_string()))?;
            let r = backward
                .call1(
                    py,
                    (PyTuple::new(py, gs).map_err(|e| crate::Error::Runtime(e.to_string()))?,),
                )
                .map_err(|e| python_error_to_rust(py, &e))?;
            let r = r.bind(py);
            let items: Vec<Bound<'_, PyAny>> = r
                .try_iter()
                .map_err(|e| crate::Error::Runtime(e.to_string()))?
                .collect::<PyResult<_>>()
                .map_err(|e| crate::Error::Runtime(e.to_string()))?;
            if items.len() != n_in {
                return Err(crate::Error::Runtime(format!(
                    "function {name} returned an incorrect number of gradients (expected {n_in}, got {})",
                    items.len()
                )));
            }
            items
                .iter()
                .map(|i| {
                    if i.is_none() {
                        Ok(None)
                    } else {
                        i.downcast::<PyTensor>()
                            .map(|t| Some(t.borrow().t.clone()))
                            .map_err(|_| {
                                crate::Error::Type(format!(
                                    "{name}.backward must return Tensors or None"
                                ))
                            })
                    }
                })
                .collect()
        })
    });
    Ok(())
}

pub fn register_extra(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_record_function, m)?)
}
