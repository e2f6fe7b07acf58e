//! `rustdl.dtype` and `rustdl.device` objects.

use crate::tensor::DType;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyString;

#[pyclass(name = "dtype", module = "rustdl", frozen, eq, hash)]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PyDType {
    pub dtype: DType,
}

#[rustdl_macros::guard_panics]
#[pymethods]
impl PyDType {
    fn __repr__(&self) -> String {
        format!("rustdl.{}", self.dtype.name())
    }
    #[getter]
    fn is_floating_point(&self) -> bool {
        self.dtype.is_float()
    }
    #[getter]
    fn is_signed(&self) -> bool {
        !matches!(self.dtype, DType::U8 | DType::Bool)
    }
    #[getter]
    fn itemsize(&self) -> usize {
        self.dtype.size()
    }
    /// Pickle support: dtypes are singletons looked up by name.
    fn __reduce__(&self, py: Python<'_>) -> PyResult<(Py<PyAny>, (String,))> {
        let f = py.import("rustdl")?.getattr("_dtype_from_name")?;
        Ok((f.unbind(), (self.dtype.name().to_string(),)))
    }
}

static DTYPES: PyOnceLock<Vec<Py<PyDType>>> = PyOnceLock::new();

/// The singleton Python object for a dtype.
pub fn dtype_object(py: Python<'_>, d: DType) -> PyResult<Py<PyDType>> {
    let all = DTYPES.get_or_try_init(py, || {
        DType::ALL
            .iter()
            .map(|&dtype| Py::new(py, PyDType { dtype }))
            .collect::<PyResult<Vec<_>>>()
    })?;
    let i = DType::ALL.iter().position(|&x| x == d).unwrap_or(0);
    Ok(all[i].clone_ref(py))
}

#[pyclass(name = "device", module = "rustdl", frozen)]
#[derive(Clone)]
pub struct PyDevice {
    #[pyo3(get)]
    pub r#type: String,
    #[pyo3(get)]
    pub index: Option<i64>,
}

#[rustdl_macros::guard_panics]
#[pymethods]
impl PyDevice {
    #[new]
    #[pyo3(signature = (kind, index=None))]
    fn new(kind: &Bound<'_, PyAny>, index: Option<i64>) -> PyResult<PyDevice> {
        if let Ok(d) = kind.extract::<PyDevice>() {
            return Ok(d);
        }
        let s: String = kind.extract()?;
        let (t, idx) = match s.split_once(':') {
            Some((t, i)) => (
                t.to_string(),
                Some(i.parse::<i64>().map_err(|_| {
                    pyo3::exceptions::PyRuntimeError::new_err(format!(
                        "Invalid device string: '{s}'"
                    ))
                })?),
            ),
            None => (s.clone(), index),
        };
        if t != "cpu" && t != "cuda" && t != "wgpu" && t != "mps" && t != "meta" {
            return Err(pyo3::exceptions::PyRuntimeError::new_err(format!(
                "Expected one of cpu, cuda, wgpu device type at start of device string: {s}"
            )));
        }
        Ok(PyDevice {
            r#type: t,
            index: idx,
        })
    }
    fn __repr__(&self) -> String {
        match self.index {
            Some(i) => format!("device(type='{}', index={i})", self.r#type),
            None => format!("device(type='{}')", self.r#type),
        }
    }
    fn __str__(&self) -> String {
        match self.index {
            Some(i) => format!("{}:{i}", self.r#type),
            None => self.r#type.clone(),
        }
    }
    fn __eq__(&self, other: &Bound<'_, PyAny>) -> PyResult<bool> {
        if let Ok(d) = other.extract::<PyDevice>() {
            return Ok(d.r#type == self.r#type && d.index == self.index);
        }
        if let Ok(s) = other.downcast::<PyString>() {
            return Ok(s.to_string() == self.__str__()?);
        }
        Ok(false)
    }
    fn __hash__(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.r#type.hash(&mut h);
        self.index.hash(&mut h);
        h.finish()
    }
}

pub fn cpu_device() -> PyDevice {
    PyDevice {
        r#type: "cpu".into(),
        index: None,
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    for d in DType::ALL {
        m.add(d.name(), dtype_object(py, d)?)?;
    }
    Ok(())
}
