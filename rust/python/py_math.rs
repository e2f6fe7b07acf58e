//! Math on tensors: operators, elementwise functions, reductions, matmul,
//! and their in-place forms.

use super::convert::{as_tensor, dims_arg, operand, opt_dtype, type_err};
use super::py_tensor::{wrap, PyTensor};
use crate::autograd;
use crate::error::Error;
use crate::ops::addmm::Product;
use crate::ops::binary::{self, BinOp, CmpOp, LogicOp};
use crate::ops::inplace;
use crate::ops::{matmul, reduce, unary};
use crate::tensor::{DType, Tensor};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyTuple;

type R = PyResult<PyTensor>;

/// `all`/`any` of a uint8 tensor are uint8 in PyTorch (bool otherwise).
fn as_uint8_of(input: &Tensor, result: Tensor) -> Tensor {
    match input.dtype() {
        DType::U8 => result.cast_raw(DType::U8),
        _ => result,
    }
}

// The in-place semantics live in `ops::inplace`; these convert its errors.
pub fn assign_inplace(target: &Tensor, result: Tensor) -> PyResult<()> {
    Ok(inplace::assign(target, result)?)
}
fn fill_value(t: &Tensor, v: f64) -> PyResult<()> {
    Ok(inplace::fill(t, v)?)
}
pub fn inplace_src(t: &Tensor) -> PyResult<Tensor> {
    Ok(inplace::source(t)?)
}
/// `inplace_src` when tensor arguments take part: one that requires grad
/// may have its gradient computed from `t`'s old value, so `t` is copied.
fn inplace_src_with(t: &Tensor, args: &[Option<&Bound<'_, PyAny>>]) -> PyResult<Tensor> {
    let arg_records = autograd::is_grad_enabled()
        && args.iter().flatten().any(|a| {
            a.downcast::<PyTensor>()
                .is_ok_and(|p| p.borrow().t.requires_grad())
        });
    if arg_records && !t.requires_grad() {
        return Ok(crate::ops::shape::clone(t)?);
    }
    inplace_src(t)
}
fn check_inplace_leaf(t: &Tensor) -> PyResult<()> {
    Ok(inplace::check_leaf(t)?)
}

/// The random in-place fills (`normal_`, `uniform_`): draw a tensor of `t`'s
/// shape and dtype with the chosen generator and write it into `t`. A meta
/// tensor has nothing to draw into, and the generator is left untouched.
fn draw_into(
    t: &Tensor,
    generator: Option<&Bound<'_, PyAny>>,
    draw: impl FnOnce(&[usize], DType, Option<&mut crate::ops::creation::Rng>) -> crate::Result<Tensor>,
) -> PyResult<()> {
    check_inplace_leaf(t)?;
    if t.is_meta() {
        return Ok(());
    }
    let r = super::functions::with_generator(generator, |g| draw(t.shape(), t.dtype(), g))?;
    crate::tensor::access::write_into(t, &r)?;
    Ok(())
}

fn bin_inplace(op: BinOp, a: &Tensor, other: &Bound<'_, PyAny>) -> PyResult<Tensor> {
    let b = match python_number(other) {
        // `x.mul_(0.3)` on a half tensor: the number stays float32, as in
        // `binary_scalar` (a 0-dim float32 operand does not widen `x`).
        Some(v) if a.dtype().is_half() && a.ndim() > 0 && matches!(op, BinOp::Mul | BinOp::Div) => {
            crate::ops::creation::full(&[], v, DType::F32)
        }
        _ => operand(other, a)?,
    };
    let a = if matches!(op, BinOp::Add | BinOp::Sub) {
        // Their backward reads neither input.
        a.clone()
    } else if b.requires_grad() && autograd::is_grad_enabled() && !a.requires_grad() {
        // `a` may be saved for b's gradient (e.g. mul_)
        crate::ops::shape::clone(a)?
    } else {
        inplace_src(a)?
    };
    Ok(binary::binary(op, &a, &b)?)
}

/// `x - True`: PyTorch refuses a bool in a subtraction, a Python bool too
/// (here it would become an integer operand).
fn refuse_bool_number_sub(other: &Bound<'_, PyAny>) -> PyResult<()> {
    if other.is_instance_of::<pyo3::types::PyBool>() {
        binary::check_sub_operands(DType::I64, DType::Bool)?;
    }
    Ok(())
}

fn bin(op: BinOp, a: &Tensor, other: &Bound<'_, PyAny>) -> PyResult<Tensor> {
    if op == BinOp::Sub {
        refuse_bool_number_sub(other)?;
    }
    if let Some(out) = python_number(other).and_then(|v| binary::binary_scalar(op, a, v, false)) {
        return Ok(out?);
    }
    let b = true_division_number(op, a, other)?.map_or_else(|| operand(other, a), Ok)?;
    Ok(binary::binary(op, a, &b)?)
}

/// An integer tensor divided by (or dividing) a Python number computes in
/// float: the number must keep its value, not wrap to the tensor's dtype
/// first (`uint8_tensor / -3`).
fn true_division_number(
    op: BinOp,
    a: &Tensor,
    other: &Bound<'_, PyAny>,
) -> PyResult<Option<Tensor>> {
    if op != BinOp::Div || a.dtype().is_float() {
        return Ok(None);
    }
    Ok(python_number(other).map(|v| crate::ops::creation::full(&[], v, DType::F32)))
}

/// `a ** other` (`other ** a` when `reversed`), its node named as PyTorch
/// names it: a number exponent or base is not a tensor operand there.
fn pow_any(a: &Tensor, other: &Bound<'_, PyAny>, reversed: bool) -> PyResult<Tensor> {
    if !reversed {
        refuse_negative_int_power(a, other)?;
    }
    if let Some(e) = bool_number_exponent(a, other) {
        return Ok(binary::bool_pow_bool_number(a, e)?);
    }
    if other.downcast::<PyTensor>().is_ok() {
        return if reversed {
            rbin(BinOp::Pow, a, other)
        } else {
            bin(BinOp::Pow, a, other)
        };
    }
    let b = operand(other, a)?;
    Ok(if reversed {
        binary::pow_with_number(&b, a, true)?
    } else {
        binary::pow_with_number(a, &b, false)?
    })
}

/// A Python bool exponent of a bool tensor (`binary::bool_pow_bool_number`).
fn bool_number_exponent(a: &Tensor, exponent: &Bound<'_, PyAny>) -> Option<bool> {
    if a.dtype() != DType::Bool || !exponent.is_instance_of::<pyo3::types::PyBool>() {
        return None;
    }
    exponent.extract::<bool>().ok()
}

/// An integer tensor to a negative Python int power is refused (a tensor
/// exponent is not: its negative entries give 0, or +-1 for a base of +-1),
/// and so is one past the tensor's dtype (PyTorch's kernel converts the
/// exponent to it, checked: `uint8_tensor ** 1000` raises).
fn refuse_negative_int_power(a: &Tensor, exponent: &Bound<'_, PyAny>) -> PyResult<()> {
    if a.dtype().is_float() || !exponent.is_exact_instance_of::<pyo3::types::PyInt>() {
        return Ok(());
    }
    let Ok(v) = exponent.extract::<i64>() else {
        return Ok(());
    };
    if v < 0 {
        return Err(PyRuntimeError::new_err(
            "Integers to negative integer powers are not allowed.",
        ));
    }
    if a.dtype() != DType::Bool {
        crate::ops::creation::check_fits(v as f64, a.dtype())?;
    }
    Ok(())
}

/// `other op a` from a reflected operator (`2 - a`, `2 * a`): PyTorch's
/// `Tensor.__r*__` computes `a * 2`, `a + 2` (the tensor first in the
/// graph), `rsub(a, 2)`, and `a.reciprocal() * 2` for `2 / a` (so the value
/// rounds twice, as there).
fn rbin(op: BinOp, a: &Tensor, other: &Bound<'_, PyAny>) -> PyResult<Tensor> {
    if op == BinOp::Sub {
        refuse_bool_number_sub(other)?;
    }
    let number = python_number(other).is_some();
    if number && matches!(op, BinOp::Add | BinOp::Mul) {
        return bin(op, a, other);
    }
    if number && op == BinOp::Div {
        let reciprocal = binary::reciprocal(a)?;
        return bin(BinOp::Mul, &reciprocal, other);
    }
    if let Some(out) = python_number(other).and_then(|v| binary::binary_scalar(op, a, v, true)) {
        return Ok(out?);
    }
    let b = true_division_number(op, a, other)?.map_or_else(|| operand(other, a), Ok)?;
    if number && op == BinOp::Sub {
        return Ok(binary::rsub_number(a, &b)?);
    }
    Ok(binary::binary(op, &b, a)?)
}

/// `t op= number` in place without the out-of-place detour, when no graph
/// is involved (grad mode off, or `t` not requiring grad); false where
/// `binary_scalar_inplace` does not apply.
fn number_inplace(op: BinOp, t: &Tensor, other: &Bound<'_, PyAny>) -> bool {
    (!autograd::is_grad_enabled() || !t.requires_grad())
        && python_number(other).is_some_and(|v| binary::binary_scalar_inplace(op, t, v))
}

/// `t op= other` where `t`'s elements are, for a tensor `other`, when no
/// graph can be involved (grad off, or neither requires grad).
fn tensor_inplace(op: BinOp, t: &Tensor, other: &Bound<'_, PyAny>, scale: Option<f64>) -> bool {
    let Ok(o) = other.downcast::<PyTensor>() else {
        return false;
    };
    let Ok(o) = o.try_borrow() else {
        return false;
    };
    (!autograd::is_grad_enabled() || (!t.requires_grad() && !o.t.requires_grad()))
        && binary::binary_tensor_inplace(op, t, &o.t, scale)
}

/// A Python float or int (not bool, not a number-like object) as f64: the
/// operands `binary_scalar` takes. Ints beyond 2^53 are left to the general
/// path, which keeps them exact for integer tensors.
fn python_number(obj: &Bound<'_, PyAny>) -> Option<f64> {
    use pyo3::types::{PyFloat, PyInt};
    if obj.is_exact_instance_of::<PyFloat>() {
        obj.extract::<f64>().ok()
    } else if obj.is_exact_instance_of::<PyInt>() {
        let i = obj.extract::<i64>().ok()?;
        (i.unsigned_abs() <= 1 << 53).then_some(i as f64)
    } else {
        None
    }
}

fn cmp(op: CmpOp, a: &Tensor, other: &Bound<'_, PyAny>) -> PyResult<Tensor> {
    let b = operand(other, a)?;
    Ok(binary::compare(op, a, &b)?)
}

/// `alpha=` of add/sub: a number, remembering whether it was a Python bool
/// (PyTorch takes a bool alpha only for bool results).
#[derive(Clone, Copy)]
pub struct Alpha {
    value: f64,
    is_bool: bool,
}

impl<'py> FromPyObject<'py> for Alpha {
    fn extract_bound(ob: &Bound<'py, PyAny>) -> PyResult<Self> {
        Ok(Alpha {
            value: ob.extract()?,
            is_bool: ob.is_instance_of::<pyo3::types::PyBool>(),
        })
    }
}

/// `beta * input + alpha * product(a, b)` (addmm and its family).
fn add_product(kind: Product, input: &Tensor, a: &Tensor, b: &Tensor, beta: f64, alpha: f64) -> R {
    Ok(wrap(crate::ops::addmm::add_product(
        kind, input, a, b, beta, alpha,
    )?))
}

/// PyTorch's deprecated `add(Number alpha, Tensor other)` form (still
/// accepted, with a warning given once per process): `x.add_(-lr, g)` is
/// `x.add_(g, alpha=-lr)`. Returns the `(other, alpha)` to use.
fn alpha_first_overload<'py>(
    name: &str,
    first: &Bound<'py, PyAny>,
    rest: &Bound<'py, PyTuple>,
    alpha: Option<Alpha>,
) -> PyResult<(Bound<'py, PyAny>, Option<Alpha>)> {
    if rest.is_empty() {
        return Ok((first.clone(), alpha));
    }
    let first_is_number = first.is_instance_of::<pyo3::types::PyFloat>()
        || first.is_instance_of::<pyo3::types::PyInt>()
        || first
            .cast::<PyTensor>()
            .is_ok_and(|t| t.borrow().t.shape().is_empty());
    if alpha.is_some() {
        return Err(pyo3::exceptions::PyTypeError::new_err(format!(
            "{name}() received an invalid combination of arguments - got unrecognized keyword arguments: alpha"
        )));
    }
    if rest.len() != 1 || !first_is_number {
        return Err(pyo3::exceptions::PyTypeError::new_err(format!(
            "{name}() received an invalid combination of arguments - got {} positional arguments; expected (Tensor other, *, Number alpha = 1)",
            rest.len() + 1,
        )));
    }
    first
        .py()
        .import("rustdl._deprecated_overloads")?
        .getattr("warn_alpha_first")?
        .call1((name,))?;
    Ok((rest.get_item(0)?, Some(first.extract()?)))
}

/// `add`/`sub` with `alpha`.
fn add_alpha(
    a: &Tensor,
    other: &Bound<'_, PyAny>,
    alpha: Option<Alpha>,
    negate: bool,
) -> PyResult<Tensor> {
    if negate {
        refuse_bool_number_sub(other)?;
    }
    let b = operand(other, a)?;
    if negate {
        // PyTorch's sub_check comes before the alpha check.
        binary::check_sub_operands(a.dtype(), b.dtype())?;
    }
    if alpha.is_some_and(|al| al.is_bool) && binary::result_dtype(a, &b) != DType::Bool {
        return Err(pyo3::exceptions::PyRuntimeError::new_err(
            "Boolean alpha only supported for Boolean results.",
        ));
    }
    let alpha = alpha.map(|al| al.value);
    match (alpha, negate) {
        (None, false) => Ok(binary::add(a, &b)?),
        (None, true) => Ok(binary::sub(a, &b)?),
        (Some(alpha), false) => Ok(binary::add_scaled(a, &b, alpha)?),
        (Some(alpha), true) => {
            // `sub` of bools is refused whatever alpha is, as in PyTorch.
            if a.dtype() == DType::Bool && b.dtype() == DType::Bool {
                return Ok(binary::sub(a, &b)?);
            }
            Ok(binary::add_scaled(a, &b, -alpha)?)
        }
    }
}

fn div_mode(a: &Tensor, other: &Bound<'_, PyAny>, rounding_mode: Option<&str>) -> PyResult<Tensor> {
    if rounding_mode.is_none() {
        return bin(BinOp::Div, a, other);
    }
    let b = operand(other, a)?;
    Ok(binary::div_rounding(a, &b, rounding_mode)?)
}

/// Reductions accept `dim` as None, an int or a tuple.
fn dims(d: &Option<Vec<i64>>) -> Option<&[i64]> {
    d.as_deref()
}

/// The `dtype=` of a reduction or scan: the input cast first. A result that
/// would carry a gradient must be floating point (PyTorch refuses
/// `x.sum(dtype=torch.int64)` of an `x` that requires grad).
/// PyTorch refuses an integer `dtype=` for a tensor that requires grad.
fn check_autograd_dtype(t: &Tensor, dtype: Option<DType>) -> PyResult<()> {
    if let Some(d) = dtype {
        if !d.is_float() && t.requires_grad() && autograd::is_grad_enabled() {
            return Err(pyo3::exceptions::PyRuntimeError::new_err(format!(
                "Autograd not support dtype: {}",
                d.scalar_name()
            )));
        }
    }
    Ok(())
}

fn cast_opt(t: &Tensor, dtype: Option<DType>) -> PyResult<Tensor> {
    check_autograd_dtype(t, dtype)?;
    match dtype {
        Some(d) => Ok(unary::to_dtype(t, d)?),
        None => Ok(t.clone()),
    }
}

/// A (values, indices) result as the namedtuple PyTorch returns.
fn values_indices(py: Python<'_>, name: &str, v: Tensor, i: Tensor) -> PyResult<Py<PyAny>> {
    let cls = py.import("rustdl._return_types")?.getattr(name)?;
    Ok(cls.call1((wrap(v), wrap(i)))?.unbind())
}

#[rustdl_macros::guard_panics]
#[pymethods]
impl PyTensor {
    // ---- operators ----
    fn __add__(&self, o: &Bound<'_, PyAny>) -> R {
        Ok(wrap(bin(BinOp::Add, &self.t, o)?))
    }
    fn __radd__(&self, o: &Bound<'_, PyAny>) -> R {
        Ok(wrap(rbin(BinOp::Add, &self.t, o)?))
    }
    fn __sub__(&self, o: &Bound<'_, PyAny>) -> R {
        Ok(wrap(bin(BinOp::Sub, &self.t, o)?))
    }
    fn __rsub__(&self, o: &Bound<'_, PyAny>) -> R {
        Ok(wrap(rbin(BinOp::Sub, &self.t, o)?))
    }
    fn __mul__(&self, o: &Bound<'_, PyAny>) -> R {
        Ok(wrap(bin(BinOp::Mul, &self.t, o)?))
    }
    fn __rmul__(&self, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let py = o.py();
        // `[1, 2] * tensor`: NotImplemented, so that Python repeats the
        // sequence by the tensor's __index__, as with PyTorch's tensors.
        if o.is_instance_of::<pyo3::types::PyList>() || o.is_instance_of::<PyTuple>() {
            return Ok(py.NotImplemented());
        }
        Ok(Py::new(py, wrap(rbin(BinOp::Mul, &self.t, o)?))?.into_any())
    }
    fn __truediv__(&self, o: &Bound<'_, PyAny>) -> R {
        Ok(wrap(bin(BinOp::Div, &self.t, o)?))
    }
    fn __rtruediv__(&self, o: &Bound<'_, PyAny>) -> R {
        Ok(wrap(rbin(BinOp::Div, &self.t, o)?))
    }
    fn __floordiv__(&self, o: &Bound<'_, PyAny>) -> R {
        Ok(wrap(div_mode(&self.t, o, Some("floor"))?))
    }
    fn __rfloordiv__(&self, o: &Bound<'_, PyAny>) -> R {
        let b = operand(o, &self.t)?;
        Ok(wrap(binary::div_rounding(&b, &self.t, Some("floor"))?))
    }
    fn __mod__(&self, o: &Bound<'_, PyAny>) -> R {
        Ok(wrap(bin(BinOp::Rem, &self.t, o)?))
    }
    fn __rmod__(&self, o: &Bound<'_, PyAny>) -> R {
        Ok(wrap(rbin(BinOp::Rem, &self.t, o)?))
    }
    fn __pow__(&self, o: &Bound<'_, PyAny>, _modulo: Option<&Bound<'_, PyAny>>) -> R {
        Ok(wrap(pow_any(&self.t, o, false)?))
    }
    fn __rpow__(&self, o: &Bound<'_, PyAny>, _modulo: Option<&Bound<'_, PyAny>>) -> R {
        Ok(wrap(pow_any(&self.t, o, true)?))
    }
    // Tensors only (PyO3 answers NotImplemented for anything else, so
    // `t @ [..]` is Python's TypeError, as in PyTorch).
    fn __matmul__(&self, o: PyRef<'_, PyTensor>) -> R {
        Ok(wrap(matmul::matmul(&self.t, &o.t)?))
    }
    fn __rmatmul__(&self, o: PyRef<'_, PyTensor>) -> R {
        Ok(wrap(matmul::matmul(&o.t, &self.t)?))
    }
    fn __neg__(&self) -> R {
        Ok(wrap(unary::neg(&self.t)?))
    }
    fn __pos__(&self) -> R {
        Ok(wrap(self.t.clone()))
    }
    fn __abs__(&self) -> R {
        Ok(wrap(unary::abs(&self.t)?))
    }
    fn __invert__(&self) -> R {
        if self.t.dtype().is_float() {
            return Err(pyo3::exceptions::PyTypeError::new_err(
                "~ (operator.invert) is only implemented on integer and Boolean-type tensors",
            ));
        }
        Ok(wrap(unary::bitwise_not(&self.t)?))
    }
    fn __and__(&self, o: &Bound<'_, PyAny>) -> R {
        Ok(wrap(binary::bitwise(
            LogicOp::And,
            &self.t,
            &operand(o, &self.t)?,
        )?))
    }
    fn __or__(&self, o: &Bound<'_, PyAny>) -> R {
        Ok(wrap(binary::bitwise(
            LogicOp::Or,
            &self.t,
            &operand(o, &self.t)?,
        )?))
    }
    fn __xor__(&self, o: &Bound<'_, PyAny>) -> R {
        Ok(wrap(binary::bitwise(
            LogicOp::Xor,
            &self.t,
            &operand(o, &self.t)?,
        )?))
    }
    fn __rand__(&self, o: &Bound<'_, PyAny>) -> R {
        self.__and__(o)
    }
    fn __ror__(&self, o: &Bound<'_, PyAny>) -> R {
        self.__or__(o)
    }
    fn __rxor__(&self, o: &Bound<'_, PyAny>) -> R {
        self.__xor__(o)
    }
    fn __eq__(&self, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let py = o.py();
        match operand(o, &self.t) {
            Ok(b) => Ok(Py::new(py, wrap(binary::compare(CmpOp::Eq, &self.t, &b)?))?.into_any()),
            Err(_) => Ok(false.into_pyobject(py)?.to_owned().into_any().unbind()),
        }
    }
    fn __ne__(&self, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let py = o.py();
        match operand(o, &self.t) {
            Ok(b) => Ok(Py::new(py, wrap(binary::compare(CmpOp::Ne, &self.t, &b)?))?.into_any()),
            Err(_) => Ok(true.into_pyobject(py)?.to_owned().into_any().unbind()),
        }
    }
    fn __lt__(&self, o: &Bound<'_, PyAny>) -> R {
        Ok(wrap(cmp(CmpOp::Lt, &self.t, o)?))
    }
    fn __le__(&self, o: &Bound<'_, PyAny>) -> R {
        Ok(wrap(cmp(CmpOp::Le, &self.t, o)?))
    }
    fn __gt__(&self, o: &Bound<'_, PyAny>) -> R {
        Ok(wrap(cmp(CmpOp::Gt, &self.t, o)?))
    }
    fn __ge__(&self, o: &Bound<'_, PyAny>) -> R {
        Ok(wrap(cmp(CmpOp::Ge, &self.t, o)?))
    }
    fn __hash__(slf: &Bound<'_, Self>) -> isize {
        slf.as_ptr() as isize
    }

    // in-place operators
    fn __iadd__(slf: PyRef<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<()> {
        if number_inplace(BinOp::Add, &slf.t, o) || tensor_inplace(BinOp::Add, &slf.t, o, None) {
            return Ok(());
        }
        assign_inplace(&slf.t, bin_inplace(BinOp::Add, &slf.t, o)?)
    }
    fn __isub__(slf: PyRef<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<()> {
        if number_inplace(BinOp::Sub, &slf.t, o) || tensor_inplace(BinOp::Sub, &slf.t, o, None) {
            return Ok(());
        }
        assign_inplace(&slf.t, bin_inplace(BinOp::Sub, &slf.t, o)?)
    }
    fn __imul__(slf: PyRef<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<()> {
        if number_inplace(BinOp::Mul, &slf.t, o) || tensor_inplace(BinOp::Mul, &slf.t, o, None) {
            return Ok(());
        }
        assign_inplace(&slf.t, bin_inplace(BinOp::Mul, &slf.t, o)?)
    }
    fn __itruediv__(slf: PyRef<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<()> {
        if number_inplace(BinOp::Div, &slf.t, o) || tensor_inplace(BinOp::Div, &slf.t, o, None) {
            return Ok(());
        }
        assign_inplace(&slf.t, bin_inplace(BinOp::Div, &slf.t, o)?)
    }

    // ---- named binary ops ----
    #[pyo3(signature = (other, *deprecated, alpha=None))]
    fn add(
        &self,
        other: &Bound<'_, PyAny>,
        deprecated: &Bound<'_, PyTuple>,
        alpha: Option<Alpha>,
    ) -> R {
        let (other, alpha) = alpha_first_overload("add", other, deprecated, alpha)?;
        Ok(wrap(add_alpha(&self.t, &other, alpha, false)?))
    }
    #[pyo3(signature = (other, *deprecated, alpha=None))]
    fn sub(
        &self,
        other: &Bound<'_, PyAny>,
        deprecated: &Bound<'_, PyTuple>,
        alpha: Option<Alpha>,
    ) -> R {
        let (other, alpha) = alpha_first_overload("sub", other, deprecated, alpha)?;
        Ok(wrap(add_alpha(&self.t, &other, alpha, true)?))
    }
    #[pyo3(signature = (other, *, alpha=None))]
    fn subtract(&self, other: &Bound<'_, PyAny>, alpha: Option<Alpha>) -> R {
        Ok(wrap(add_alpha(&self.t, other, alpha, true)?))
    }
    fn mul(&self, other: &Bound<'_, PyAny>) -> R {
        Ok(wrap(bin(BinOp::Mul, &self.t, other)?))
    }
    fn multiply(&self, other: &Bound<'_, PyAny>) -> R {
        self.mul(other)
    }
    #[pyo3(signature = (other, *, rounding_mode=None))]
    fn div(&self, other: &Bound<'_, PyAny>, rounding_mode: Option<&str>) -> R {
        Ok(wrap(div_mode(&self.t, other, rounding_mode)?))
    }
    #[pyo3(signature = (other, *, rounding_mode=None))]
    fn divide(&self, other: &Bound<'_, PyAny>, rounding_mode: Option<&str>) -> R {
        self.div(other, rounding_mode)
    }
    fn true_divide(&self, other: &Bound<'_, PyAny>) -> R {
        self.div(other, None)
    }
    fn floor_divide(&self, other: &Bound<'_, PyAny>) -> R {
        self.div(other, Some("floor"))
    }
    fn remainder(&self, other: &Bound<'_, PyAny>) -> R {
        self.__mod__(other)
    }
    fn fmod(&self, other: &Bound<'_, PyAny>) -> R {
        Ok(wrap(binary::fmod(&self.t, &operand(other, &self.t)?)?))
    }
    fn pow(&self, exponent: &Bound<'_, PyAny>) -> R {
        Ok(wrap(pow_any(&self.t, exponent, false)?))
    }
    fn float_power(&self, exponent: &Bound<'_, PyAny>) -> R {
        let a = unary::to_dtype(&self.t, DType::F64)?;
        let b = operand(exponent, &a)?;
        Ok(wrap(binary::pow(&a, &unary::to_dtype(&b, DType::F64)?)?))
    }
    fn maximum(&self, other: PyRef<'_, PyTensor>) -> R {
        Ok(wrap(binary::binary(BinOp::Maximum, &self.t, &other.t)?))
    }
    fn minimum(&self, other: PyRef<'_, PyTensor>) -> R {
        Ok(wrap(binary::binary(BinOp::Minimum, &self.t, &other.t)?))
    }
    fn fmax(&self, other: PyRef<'_, PyTensor>) -> R {
        Ok(wrap(binary::fmax_fmin(&self.t, &other.t, true)?))
    }
    fn fmin(&self, other: PyRef<'_, PyTensor>) -> R {
        Ok(wrap(binary::fmax_fmin(&self.t, &other.t, false)?))
    }
    fn eq(&self, o: &Bound<'_, PyAny>) -> R {
        Ok(wrap(cmp(CmpOp::Eq, &self.t, o)?))
    }
    fn ne(&self, o: &Bound<'_, PyAny>) -> R {
        Ok(wrap(cmp(CmpOp::Ne, &self.t, o)?))
    }
    fn lt(&self, o: &Bound<'_, PyAny>) -> R {
        self.__lt__(o)
    }
    fn le(&self, o: &Bound<'_, PyAny>) -> R {
        self.__le__(o)
    }
    fn gt(&self, o: &Bound<'_, PyAny>) -> R {
        self.__gt__(o)
    }
    fn ge(&self, o: &Bound<'_, PyAny>) -> R {
        self.__ge__(o)
    }
    fn greater(&self, o: &Bound<'_, PyAny>) -> R {
        self.__gt__(o)
    }
    fn less(&self, o: &Bound<'_, PyAny>) -> R {
        self.__lt__(o)
    }
    fn equal(&self, o: PyRef<'_, PyTensor>) -> PyResult<bool> {
        if self.t.shape() != o.t.shape() {
            return Ok(false);
        }
        let e = binary::compare(CmpOp::Eq, &self.t, &o.t)?;
        Ok(e.data::<bool>().iter().all(|&b| b))
    }
    #[pyo3(signature = (other, rtol=1e-5, atol=1e-8, equal_nan=false))]
    fn allclose(
        &self,
        other: PyRef<'_, PyTensor>,
        rtol: f64,
        atol: f64,
        equal_nan: bool,
    ) -> PyResult<bool> {
        let s = crate::tensor::layout::broadcast_shapes(self.t.shape(), other.t.shape())?;
        let a = crate::ops::shape::expand_to(&self.t.detach(), &s)?.to_f64_vec();
        let b = crate::ops::shape::expand_to(&other.t.detach(), &s)?.to_f64_vec();
        Ok(a.iter().zip(&b).all(|(&x, &y)| {
            if x.is_nan() || y.is_nan() {
                equal_nan && x.is_nan() && y.is_nan()
            } else if x == y {
                true
            } else {
                (x - y).abs() <= atol + rtol * y.abs()
            }
        }))
    }
    #[pyo3(signature = (other, rtol=1e-5, atol=1e-8, equal_nan=false))]
    fn isclose(&self, other: &Bound<'_, PyAny>, rtol: f64, atol: f64, equal_nan: bool) -> R {
        let b = operand(other, &self.t)?;
        let s = crate::tensor::layout::broadcast_shapes(self.t.shape(), b.shape())?;
        let a = crate::ops::shape::expand_to(&self.t.detach(), &s)?.to_f64_vec();
        let bv = crate::ops::shape::expand_to(&b.detach(), &s)?.to_f64_vec();
        let v: Vec<bool> = a
            .iter()
            .zip(&bv)
            .map(|(&x, &y)| {
                if x.is_nan() || y.is_nan() {
                    equal_nan && x.is_nan() && y.is_nan()
                } else {
                    x == y || (x - y).abs() <= atol + rtol * y.abs()
                }
            })
            .collect();
        Ok(wrap(Tensor::from_vec(v, &s)))
    }
    fn logical_and(&self, o: PyRef<'_, PyTensor>) -> R {
        Ok(wrap(binary::logical(LogicOp::And, &self.t, &o.t)?))
    }
    fn logical_or(&self, o: PyRef<'_, PyTensor>) -> R {
        Ok(wrap(binary::logical(LogicOp::Or, &self.t, &o.t)?))
    }
    fn logical_xor(&self, o: PyRef<'_, PyTensor>) -> R {
        Ok(wrap(binary::logical(LogicOp::Xor, &self.t, &o.t)?))
    }
    fn signbit(&self) -> R {
        Ok(wrap(unary::signbit(&self.t)?))
    }
    fn logical_not(&self) -> R {
        Ok(wrap(unary::logical_not(&self.t)?))
    }
    fn bitwise_not(&self) -> R {
        Ok(wrap(unary::bitwise_not(&self.t)?))
    }
    fn bitwise_and(&self, o: &Bound<'_, PyAny>) -> R {
        self.__and__(o)
    }
    fn bitwise_or(&self, o: &Bound<'_, PyAny>) -> R {
        self.__or__(o)
    }
    fn bitwise_xor(&self, o: &Bound<'_, PyAny>) -> R {
        self.__xor__(o)
    }
    #[pyo3(signature = (end, weight))]
    fn lerp(&self, end: &Bound<'_, PyAny>, weight: &Bound<'_, PyAny>) -> R {
        // start + weight * (end - start)
        let e = operand(end, &self.t)?;
        let w = operand(weight, &self.t)?;
        Ok(wrap(binary::add(
            &self.t,
            &binary::mul(&w, &binary::sub(&e, &self.t)?)?,
        )?))
    }
    fn atan2(&self, other: PyRef<'_, PyTensor>) -> R {
        Ok(wrap(binary::atan2(&self.t, &other.t)?))
    }

    // ---- unary ----
    fn neg(&self) -> R {
        Ok(wrap(unary::neg(&self.t)?))
    }
    fn negative(&self) -> R {
        self.neg()
    }
    fn abs(&self) -> R {
        Ok(wrap(unary::abs(&self.t)?))
    }
    fn absolute(&self) -> R {
        self.abs()
    }
    fn sign(&self) -> R {
        Ok(wrap(unary::sign(&self.t)?))
    }
    fn sgn(&self) -> R {
        self.sign()
    }
    fn exp(&self) -> R {
        Ok(wrap(unary::exp(&self.t)?))
    }
    fn exp2(&self) -> R {
        let two = crate::ops::creation::full(
            &[],
            2.0,
            if self.t.dtype().is_float() {
                self.t.dtype()
            } else {
                DType::F32
            },
        );
        Ok(wrap(binary::pow(&two, &self.t)?))
    }
    fn expm1(&self) -> R {
        Ok(wrap(unary::expm1(&self.t)?))
    }
    fn log(&self) -> R {
        Ok(wrap(unary::log(&self.t)?))
    }
    fn log2(&self) -> R {
        let l = unary::log(&self.t)?;
        Ok(wrap(binary::div(
            &l,
            &crate::ops::creation::scalar_like(std::f64::consts::LN_2, &l),
        )?))
    }
    fn log10(&self) -> R {
        let l = unary::log(&self.t)?;
        Ok(wrap(binary::div(
            &l,
            &crate::ops::creation::scalar_like(std::f64::consts::LN_10, &l),
        )?))
    }
    fn log1p(&self) -> R {
        Ok(wrap(unary::log1p(&self.t)?))
    }
    fn erf(&self) -> R {
        Ok(wrap(unary::erf(&self.t)?))
    }
    fn sqrt(&self) -> R {
        Ok(wrap(unary::sqrt(&self.t)?))
    }
    fn rsqrt(&self) -> R {
        Ok(wrap(unary::rsqrt(&self.t)?))
    }
    fn square(&self) -> R {
        // PyTorch squares a bool tensor as int64 (pow(x, 2)).
        let x = match self.t.dtype() {
            DType::Bool => unary::to_dtype(&self.t, DType::I64)?,
            _ => self.t.clone(),
        };
        Ok(wrap(binary::mul(&x, &x)?))
    }
    fn reciprocal(&self) -> R {
        Ok(wrap(binary::reciprocal(&self.t)?))
    }
    fn sin(&self) -> R {
        Ok(wrap(unary::sin(&self.t)?))
    }
    fn cos(&self) -> R {
        Ok(wrap(unary::cos(&self.t)?))
    }
    fn tan(&self) -> R {
        Ok(wrap(binary::div(
            &unary::sin(&self.t)?,
            &unary::cos(&self.t)?,
        )?))
    }
    fn tanh(&self) -> R {
        Ok(wrap(unary::tanh(&self.t)?))
    }
    fn asin(&self) -> R {
        Ok(wrap(unary::asin(&self.t)?))
    }
    fn acos(&self) -> R {
        Ok(wrap(unary::acos(&self.t)?))
    }
    fn atan(&self) -> R {
        Ok(wrap(unary::atan(&self.t)?))
    }
    fn sinh(&self) -> R {
        Ok(wrap(unary::sinh(&self.t)?))
    }
    fn cosh(&self) -> R {
        Ok(wrap(unary::cosh(&self.t)?))
    }
    fn asinh(&self) -> R {
        Ok(wrap(unary::asinh(&self.t)?))
    }
    fn acosh(&self) -> R {
        Ok(wrap(unary::acosh(&self.t)?))
    }
    fn atanh(&self) -> R {
        Ok(wrap(unary::atanh(&self.t)?))
    }
    fn erfinv(&self) -> R {
        Ok(wrap(unary::erfinv(&self.t)?))
    }
    fn erfc(&self) -> R {
        Ok(wrap(unary::erfc(&self.t)?))
    }
    fn lgamma(&self) -> R {
        Ok(wrap(unary::lgamma(&self.t)?))
    }
    fn digamma(&self) -> R {
        Ok(wrap(unary::digamma(&self.t)?))
    }
    fn polygamma(&self, n: i64) -> R {
        Ok(wrap(unary::polygamma(n, &self.t)?))
    }
    fn arcsin(&self) -> R {
        self.asin()
    }
    fn arccos(&self) -> R {
        self.acos()
    }
    fn arctan(&self) -> R {
        self.atan()
    }
    fn arcsinh(&self) -> R {
        self.asinh()
    }
    fn arccosh(&self) -> R {
        self.acosh()
    }
    fn arctanh(&self) -> R {
        self.atanh()
    }
    fn sigmoid(&self) -> R {
        Ok(wrap(unary::sigmoid(&self.t)?))
    }
    fn relu(&self) -> R {
        Ok(wrap(unary::relu(&self.t)?))
    }
    fn floor(&self) -> R {
        Ok(wrap(unary::floor(&self.t)?))
    }
    fn ceil(&self) -> R {
        Ok(wrap(unary::ceil(&self.t)?))
    }
    #[pyo3(signature = (*, decimals=None))]
    fn round(&self, decimals: Option<i64>) -> R {
        if decimals.is_some() {
            // PyTorch's round(decimals=...) overload has float kernels only
            // (plain round() of an integer tensor is the identity).
            crate::error::require_float(&self.t, "round_vml_cpu")?;
        }
        Ok(wrap(unary::round_decimals(&self.t, decimals.unwrap_or(0))?))
    }
    fn trunc(&self) -> R {
        Ok(wrap(unary::trunc(&self.t)?))
    }
    fn frac(&self) -> R {
        crate::error::require_float(&self.t, "frac_cpu")?;
        Ok(wrap(binary::sub(&self.t, &unary::trunc(&self.t)?)?))
    }
    #[pyo3(signature = (min=None, max=None))]
    fn clamp(&self, min: Option<&Bound<'_, PyAny>>, max: Option<&Bound<'_, PyAny>>) -> R {
        Ok(wrap(clamp_any(&self.t, min, max)?))
    }
    #[pyo3(signature = (min=None, max=None))]
    fn clip(&self, min: Option<&Bound<'_, PyAny>>, max: Option<&Bound<'_, PyAny>>) -> R {
        self.clamp(min, max)
    }
    fn clamp_min(&self, min: &Bound<'_, PyAny>) -> R {
        self.clamp(Some(min), None)
    }
    fn clamp_max(&self, max: &Bound<'_, PyAny>) -> R {
        self.clamp(None, Some(max))
    }
    fn isnan(&self) -> R {
        Ok(wrap(unary::isnan(&self.t)?))
    }
    fn isinf(&self) -> R {
        Ok(wrap(unary::isinf(&self.t)?))
    }
    fn isfinite(&self) -> R {
        Ok(wrap(unary::isfinite(&self.t)?))
    }
    #[pyo3(signature = (nan=None, posinf=None, neginf=None))]
    fn nan_to_num(&self, nan: Option<f64>, posinf: Option<f64>, neginf: Option<f64>) -> R {
        Ok(wrap(unary::nan_to_num(&self.t, nan, posinf, neginf)?))
    }

    // ---- reductions ----
    #[pyo3(signature = (dim=None, keepdim=false, *, dtype=None))]
    fn sum(
        &self,
        dim: Option<&Bound<'_, PyAny>>,
        keepdim: bool,
        dtype: Option<&Bound<'_, PyAny>>,
    ) -> R {
        let d = dims_arg(dim)?;
        check_dims(&self.t, &d)?;
        let x = cast_opt(&self.t, opt_dtype(dtype)?)?;
        Ok(wrap(reduce::sum(&x, dims(&d), keepdim)?))
    }
    #[pyo3(signature = (dim=None, keepdim=false, *, dtype=None))]
    fn mean(
        &self,
        dim: Option<&Bound<'_, PyAny>>,
        keepdim: bool,
        dtype: Option<&Bound<'_, PyAny>>,
    ) -> R {
        let d = dims_arg(dim)?;
        let dtype = opt_dtype(dtype)?;
        if dtype.is_none() && !self.t.dtype().is_float() {
            return Err(pyo3::exceptions::PyNotImplementedError::new_err(format!(
                "mean(): could not infer output dtype. Input dtype must be either a floating point or complex dtype. Got: {}",
                self.t.dtype().scalar_name()
            )));
        }
        // (PyTorch checks the dtype before the dims)
        if let Some(dt) = dtype.filter(|dt| !dt.is_float()) {
            return Err(pyo3::exceptions::PyNotImplementedError::new_err(format!(
                "mean(): could not infer output dtype. Optional dtype must be either a floating point or complex dtype. Got: {}",
                dt.scalar_name()
            )));
        }
        check_dims(&self.t, &d)?;
        let x = cast_opt(&self.t, dtype)?;
        Ok(wrap(reduce::mean(&x, dims(&d), keepdim)?))
    }
    #[pyo3(signature = (dim=None, keepdim=false, *, dtype=None))]
    fn nansum(
        &self,
        dim: Option<&Bound<'_, PyAny>>,
        keepdim: bool,
        dtype: Option<&Bound<'_, PyAny>>,
    ) -> R {
        let nan = unary::isnan(&self.t)?;
        let z = crate::ops::creation::scalar_like(0.0, &self.t);
        let x = binary::where_(&nan, &z, &self.t)?;
        PyTensor { t: x }.sum(dim, keepdim, dtype)
    }
    #[pyo3(signature = (dim=None, keepdim=false, *, dtype=None))]
    fn prod(
        &self,
        dim: Option<&Bound<'_, PyAny>>,
        keepdim: bool,
        dtype: Option<&Bound<'_, PyAny>>,
    ) -> R {
        let d = dims_arg(dim)?;
        check_dims(&self.t, &d)?;
        let x = cast_opt(&self.t, opt_dtype(dtype)?)?;
        Ok(wrap(reduce::prod(&x, dims(&d), keepdim)?))
    }
    #[pyo3(signature = (dim=None, keepdim=false))]
    fn amax(&self, dim: Option<&Bound<'_, PyAny>>, keepdim: bool) -> R {
        let d = dims_arg(dim)?;
        empty_full_reduction(&self.t, &d, "amax")?;
        Ok(wrap(reduce::amax(&self.t, dims(&d), keepdim, true)?))
    }
    #[pyo3(signature = (dim=None, keepdim=false))]
    fn amin(&self, dim: Option<&Bound<'_, PyAny>>, keepdim: bool) -> R {
        let d = dims_arg(dim)?;
        empty_full_reduction(&self.t, &d, "amin")?;
        Ok(wrap(reduce::amax(&self.t, dims(&d), keepdim, false)?))
    }
    /// `max()`, `max(dim, keepdim)` -> (values, indices), or `max(other)`.
    #[pyo3(signature = (dim=None, keepdim=false))]
    fn max(
        &self,
        py: Python<'_>,
        dim: Option<&Bound<'_, PyAny>>,
        keepdim: bool,
    ) -> PyResult<Py<PyAny>> {
        minmax(py, &self.t, dim, keepdim, true)
    }
    #[pyo3(signature = (dim=None, keepdim=false))]
    fn min(
        &self,
        py: Python<'_>,
        dim: Option<&Bound<'_, PyAny>>,
        keepdim: bool,
    ) -> PyResult<Py<PyAny>> {
        minmax(py, &self.t, dim, keepdim, false)
    }
    #[pyo3(signature = (dim=None, keepdim=false))]
    fn argmax(&self, dim: Option<i64>, keepdim: bool) -> R {
        refuse_bool(&self.t, "argmax")?;
        Ok(wrap(reduce::argmax(&self.t, dim, keepdim, true)?))
    }
    #[pyo3(signature = (dim=None, keepdim=false))]
    fn argmin(&self, dim: Option<i64>, keepdim: bool) -> R {
        refuse_bool(&self.t, "argmin")?;
        Ok(wrap(reduce::argmax(&self.t, dim, keepdim, false)?))
    }
    #[pyo3(signature = (dim=None, unbiased=None, keepdim=None, *, correction=None))]
    fn var(
        &self,
        dim: Option<&Bound<'_, PyAny>>,
        unbiased: Option<&Bound<'_, PyAny>>,
        keepdim: Option<bool>,
        correction: Option<f64>,
    ) -> R {
        let (d, c) = var_args("var", dim, unbiased, keepdim.is_some(), correction)?;
        let keepdim = keepdim.unwrap_or(false);
        Ok(wrap(reduce::var(&self.t, dims(&d), c, keepdim)?))
    }
    #[pyo3(signature = (dim=None, unbiased=None, keepdim=None, *, correction=None))]
    fn std(
        &self,
        dim: Option<&Bound<'_, PyAny>>,
        unbiased: Option<&Bound<'_, PyAny>>,
        keepdim: Option<bool>,
        correction: Option<f64>,
    ) -> R {
        let (d, c) = var_args("std", dim, unbiased, keepdim.is_some(), correction)?;
        let keepdim = keepdim.unwrap_or(false);
        Ok(wrap(reduce::std(&self.t, dims(&d), c, keepdim)?))
    }
    #[pyo3(signature = (dim, dtype=None))]
    fn softmax(&self, dim: i64, dtype: Option<&Bound<'_, PyAny>>) -> R {
        let x = match opt_dtype(dtype)? {
            Some(d) => unary::to_dtype(&self.t, d)?,
            None => self.t.clone(),
        };
        Ok(wrap(crate::ops::softmax::softmax(&x, dim, false)?))
    }
    #[pyo3(signature = (dim, dtype=None))]
    fn log_softmax(&self, dim: i64, dtype: Option<&Bound<'_, PyAny>>) -> R {
        let x = match opt_dtype(dtype)? {
            Some(d) => unary::to_dtype(&self.t, d)?,
            None => self.t.clone(),
        };
        Ok(wrap(crate::ops::softmax::softmax(&x, dim, true)?))
    }
    #[pyo3(signature = (dim, keepdim=false))]
    fn logsumexp(&self, dim: &Bound<'_, PyAny>, keepdim: bool) -> R {
        let d = dims_arg(Some(dim))?.unwrap_or_default();
        let d = if d.is_empty() {
            (0..self.t.ndim() as i64).collect()
        } else {
            d
        };
        Ok(wrap(reduce::logsumexp(&self.t, &d, keepdim)?))
    }
    #[pyo3(signature = (p=None, dim=None, keepdim=false, dtype=None))]
    fn norm(
        &self,
        p: Option<&Bound<'_, PyAny>>,
        dim: Option<&Bound<'_, PyAny>>,
        keepdim: bool,
        dtype: Option<&Bound<'_, PyAny>>,
    ) -> R {
        // (PyTorch's default p is "fro" too.)
        let fro = p.is_none_or(|p| p.is_none() || p.extract::<String>().is_ok_and(|s| s == "fro"));
        let x = cast_opt(&self.t, opt_dtype(dtype)?)?;
        let p = norm_p(p)?;
        let d = dims_arg(dim)?;
        if fro && d.as_ref().is_some_and(|d| d.len() > 2) {
            let list: Vec<String> = d.iter().flatten().map(|v| v.to_string()).collect();
            return Err(PyRuntimeError::new_err(format!(
                "linalg.matrix_norm: dim must be a 2-tuple. Got {}",
                list.join(" ")
            )));
        }
        check_norm_identity(&x, p, &d)?;
        Ok(wrap(reduce::norm(&x, p, dims(&d), keepdim)?))
    }
    #[pyo3(signature = (dim, *, dtype=None))]
    fn cumsum(&self, dim: i64, dtype: Option<&Bound<'_, PyAny>>) -> R {
        check_dims(&self.t, &Some(vec![dim]))?;
        let dtype = opt_dtype(dtype)?;
        check_autograd_dtype(&self.t, dtype)?;
        Ok(wrap(reduce::cumsum_as(&self.t, dim, dtype)?))
    }
    #[pyo3(signature = (dim, *, dtype=None))]
    fn cumprod(&self, dim: i64, dtype: Option<&Bound<'_, PyAny>>) -> R {
        // exp(cumsum(log|x|)) would lose signs and zeros; use a direct scan.
        check_dims(&self.t, &Some(vec![dim]))?;
        let dtype = opt_dtype(dtype)?;
        check_autograd_dtype(&self.t, dtype)?;
        Ok(wrap(crate::ops::scan::cumprod_as(&self.t, dim, dtype)?))
    }
    #[pyo3(signature = (dim=None, keepdim=false))]
    fn all(&self, dim: Option<&Bound<'_, PyAny>>, keepdim: bool) -> R {
        let d = dims_arg(dim)?;
        Ok(wrap(as_uint8_of(
            &self.t,
            reduce::all_any(&self.t, dims(&d), keepdim, true)?,
        )))
    }
    #[pyo3(signature = (dim=None, keepdim=false))]
    fn any(&self, dim: Option<&Bound<'_, PyAny>>, keepdim: bool) -> R {
        let d = dims_arg(dim)?;
        Ok(wrap(as_uint8_of(
            &self.t,
            reduce::all_any(&self.t, dims(&d), keepdim, false)?,
        )))
    }
    #[pyo3(signature = (dim=None, keepdim=false))]
    fn count_nonzero(&self, dim: Option<&Bound<'_, PyAny>>, keepdim: bool) -> R {
        let nz = binary::compare(
            CmpOp::Ne,
            &self.t,
            &crate::ops::creation::scalar_like(0.0, &self.t),
        )?;
        let d = dims_arg(dim)?;
        Ok(wrap(reduce::sum(&nz, dims(&d), keepdim)?))
    }

    // ---- linear algebra ----
    fn matmul(&self, other: &Bound<'_, PyAny>) -> R {
        let Ok(o) = other.downcast::<PyTensor>() else {
            return Err(type_err(format!(
                "matmul(): argument 'other' (position 1) must be Tensor, not {}",
                other.get_type().name()?
            )));
        };
        Ok(wrap(matmul::matmul(&self.t, &o.borrow().t)?))
    }
    fn mm(&self, other: PyRef<'_, PyTensor>) -> R {
        Ok(wrap(matmul::mm(&self.t, &other.t)?))
    }
    fn bmm(&self, other: PyRef<'_, PyTensor>) -> R {
        Ok(wrap(matmul::bmm(&self.t, &other.t)?))
    }
    fn dot(&self, other: PyRef<'_, PyTensor>) -> R {
        Ok(wrap(matmul::dot(&self.t, &other.t)?))
    }
    fn mv(&self, other: PyRef<'_, PyTensor>) -> R {
        Ok(wrap(matmul::mv(&self.t, &other.t)?))
    }
    #[pyo3(signature = (mat1, mat2, *, beta=1.0, alpha=1.0))]
    fn addmm(
        &self,
        mat1: PyRef<'_, PyTensor>,
        mat2: PyRef<'_, PyTensor>,
        beta: f64,
        alpha: f64,
    ) -> R {
        add_product(Product::Matrix, &self.t, &mat1.t, &mat2.t, beta, alpha)
    }
    /// `relu(self.addmm(mat1, mat2))` in one buffer (nn's feed-forward blocks).
    #[pyo3(signature = (mat1, mat2, shape=None))]
    fn _addmm_relu(
        &self,
        mat1: PyRef<'_, PyTensor>,
        mat2: PyRef<'_, PyTensor>,
        shape: Option<Vec<i64>>,
    ) -> R {
        let shape = shape.as_deref();
        Ok(wrap(crate::ops::addmm::addmm_relu(
            &self.t, &mat1.t, &mat2.t, shape,
        )?))
    }
    #[pyo3(signature = (batch1, batch2, *, beta=1.0, alpha=1.0))]
    fn baddbmm(
        &self,
        batch1: PyRef<'_, PyTensor>,
        batch2: PyRef<'_, PyTensor>,
        beta: f64,
        alpha: f64,
    ) -> R {
        add_product(Product::Batched, &self.t, &batch1.t, &batch2.t, beta, alpha)
    }
    #[pyo3(signature = (batch1, batch2, *, beta=1.0, alpha=1.0))]
    fn addbmm(
        &self,
        batch1: PyRef<'_, PyTensor>,
        batch2: PyRef<'_, PyTensor>,
        beta: f64,
        alpha: f64,
    ) -> R {
        add_product(
            Product::BatchSum,
            &self.t,
            &batch1.t,
            &batch2.t,
            beta,
            alpha,
        )
    }
    #[pyo3(signature = (mat, vec, *, beta=1.0, alpha=1.0))]
    fn addmv(
        &self,
        mat: PyRef<'_, PyTensor>,
        vec: PyRef<'_, PyTensor>,
        beta: f64,
        alpha: f64,
    ) -> R {
        add_product(Product::Vector, &self.t, &mat.t, &vec.t, beta, alpha)
    }
    fn outer(&self, other: PyRef<'_, PyTensor>) -> R {
        Ok(wrap(matmul::outer(&self.t, &other.t)?))
    }
    fn ger(&self, other: PyRef<'_, PyTensor>) -> R {
        self.outer(other)
    }

    // ---- in-place ----
    #[pyo3(signature = (other, *deprecated, alpha=None))]
    fn add_<'py>(
        slf: PyRef<'py, Self>,
        other: &Bound<'py, PyAny>,
        deprecated: &Bound<'py, PyTuple>,
        alpha: Option<Alpha>,
    ) -> PyResult<PyRef<'py, Self>> {
        let (other, alpha) = alpha_first_overload("add_", other, deprecated, alpha)?;
        let other = &other;
        let plain = alpha.is_none_or(|al| !al.is_bool);
        let scale = alpha.map_or(1.0, |al| al.value);
        if alpha.is_none() && number_inplace(BinOp::Add, &slf.t, other)
            || plain && tensor_inplace(BinOp::Add, &slf.t, other, Some(scale))
        {
            return Ok(slf);
        }
        // add's backward reads neither input: compute from the target itself.
        let r = add_alpha(&slf.t, other, alpha, false)?;
        assign_inplace(&slf.t, r)?;
        Ok(slf)
    }
    #[pyo3(signature = (other, *deprecated, alpha=None))]
    fn sub_<'py>(
        slf: PyRef<'py, Self>,
        other: &Bound<'py, PyAny>,
        deprecated: &Bound<'py, PyTuple>,
        alpha: Option<Alpha>,
    ) -> PyResult<PyRef<'py, Self>> {
        let (other, alpha) = alpha_first_overload("sub_", other, deprecated, alpha)?;
        let other = &other;
        let plain = alpha.is_none_or(|al| !al.is_bool);
        let scale = alpha.map_or(1.0, |al| al.value);
        if plain && tensor_inplace(BinOp::Sub, &slf.t, other, Some(-scale)) {
            return Ok(slf);
        }
        let r = add_alpha(&slf.t, other, alpha, true)?;
        assign_inplace(&slf.t, r)?;
        Ok(slf)
    }
    fn mul_<'py>(slf: PyRef<'py, Self>, other: &Bound<'_, PyAny>) -> PyResult<PyRef<'py, Self>> {
        if number_inplace(BinOp::Mul, &slf.t, other)
            || tensor_inplace(BinOp::Mul, &slf.t, other, None)
        {
            return Ok(slf);
        }
        let r = bin_inplace(BinOp::Mul, &slf.t, other)?;
        assign_inplace(&slf.t, r)?;
        Ok(slf)
    }
    #[pyo3(signature = (other, *, rounding_mode=None))]
    fn div_<'py>(
        slf: PyRef<'py, Self>,
        other: &Bound<'_, PyAny>,
        rounding_mode: Option<&str>,
    ) -> PyResult<PyRef<'py, Self>> {
        if rounding_mode.is_none()
            && (number_inplace(BinOp::Div, &slf.t, other)
                || tensor_inplace(BinOp::Div, &slf.t, other, None))
        {
            return Ok(slf);
        }
        let r = div_mode(
            &inplace_src_with(&slf.t, &[Some(other)])?,
            other,
            rounding_mode,
        )?;
        assign_inplace(&slf.t, r)?;
        Ok(slf)
    }
    fn pow_<'py>(slf: PyRef<'py, Self>, other: &Bound<'_, PyAny>) -> PyResult<PyRef<'py, Self>> {
        refuse_negative_int_power(&slf.t, other)?;
        let r = match bool_number_exponent(&slf.t, other) {
            Some(e) => binary::bool_pow_bool_number(&slf.t, e)?,
            None => bin_inplace(BinOp::Pow, &slf.t, other)?,
        };
        assign_inplace(&slf.t, r)?;
        Ok(slf)
    }
    #[pyo3(signature = (min=None, max=None))]
    fn clamp_<'py>(
        slf: PyRef<'py, Self>,
        min: Option<&Bound<'_, PyAny>>,
        max: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyRef<'py, Self>> {
        let r = clamp_any(&inplace_src_with(&slf.t, &[min, max])?, min, max)?;
        assign_inplace(&slf.t, r)?;
        Ok(slf)
    }
    fn neg_(slf: PyRef<'_, Self>) -> PyResult<PyRef<'_, Self>> {
        let r = unary::neg(&inplace_src(&slf.t)?)?;
        assign_inplace(&slf.t, r)?;
        Ok(slf)
    }
    fn exp_(slf: PyRef<'_, Self>) -> PyResult<PyRef<'_, Self>> {
        let r = unary::exp(&inplace_src(&slf.t)?)?;
        assign_inplace(&slf.t, r)?;
        Ok(slf)
    }
    fn sqrt_(slf: PyRef<'_, Self>) -> PyResult<PyRef<'_, Self>> {
        let r = unary::sqrt(&inplace_src(&slf.t)?)?;
        assign_inplace(&slf.t, r)?;
        Ok(slf)
    }
    fn relu_(slf: PyRef<'_, Self>) -> PyResult<PyRef<'_, Self>> {
        // relu's backward reads its output, not its input: no copy.
        let r = unary::relu(&slf.t)?;
        assign_inplace(&slf.t, r)?;
        Ok(slf)
    }
    fn sigmoid_(slf: PyRef<'_, Self>) -> PyResult<PyRef<'_, Self>> {
        let r = unary::sigmoid(&inplace_src(&slf.t)?)?;
        assign_inplace(&slf.t, r)?;
        Ok(slf)
    }
    fn tanh_(slf: PyRef<'_, Self>) -> PyResult<PyRef<'_, Self>> {
        let r = unary::tanh(&inplace_src(&slf.t)?)?;
        assign_inplace(&slf.t, r)?;
        Ok(slf)
    }
    fn abs_(slf: PyRef<'_, Self>) -> PyResult<PyRef<'_, Self>> {
        let r = unary::abs(&inplace_src(&slf.t)?)?;
        assign_inplace(&slf.t, r)?;
        Ok(slf)
    }
    fn floor_(slf: PyRef<'_, Self>) -> PyResult<PyRef<'_, Self>> {
        let r = unary::floor(&inplace_src(&slf.t)?)?;
        assign_inplace(&slf.t, r)?;
        Ok(slf)
    }
    fn zero_(slf: PyRef<'_, Self>) -> PyResult<PyRef<'_, Self>> {
        fill_value(&slf.t, 0.0)?;
        Ok(slf)
    }
    fn fill_<'py>(slf: PyRef<'py, Self>, value: &Bound<'_, PyAny>) -> PyResult<PyRef<'py, Self>> {
        check_inplace_leaf(&slf.t)?;
        let v: f64 = match value.downcast::<PyTensor>() {
            Ok(t) => t.borrow().t.item_f64()?,
            Err(_) => value.extract()?,
        };
        fill_value(&slf.t, v)?;
        Ok(slf)
    }
    #[pyo3(signature = (src, non_blocking=false))]
    fn copy_<'py>(
        slf: PyRef<'py, Self>,
        src: &Bound<'_, PyAny>,
        non_blocking: bool,
    ) -> PyResult<PyRef<'py, Self>> {
        let _ = non_blocking;
        let s = as_tensor(src)?;
        let s = crate::ops::shape::expand_to(&s, slf.t.shape())?;
        let s = if s.dtype() != slf.t.dtype() {
            unary::to_dtype(&s, slf.t.dtype())?
        } else {
            s
        };
        let s = if s.shares_storage(&slf.t) {
            crate::ops::shape::clone(&s)?
        } else {
            crate::ops::shape::contiguous(&s)?
        };
        let s = if s.shares_storage(&slf.t) {
            crate::ops::shape::clone(&s)?
        } else {
            s
        };
        // copy_ is differentiable in src; route through assign_inplace
        let r = if s.requires_grad() {
            crate::ops::shape::clone(&s)?
        } else {
            s
        };
        assign_inplace(&slf.t, r)?;
        Ok(slf)
    }
    fn masked_fill_<'py>(
        slf: PyRef<'py, Self>,
        mask: PyRef<'_, PyTensor>,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<PyRef<'py, Self>> {
        super::convert::check_number_fits(value, slf.t.dtype())?;
        let v = operand(value, &slf.t)?;
        let r = crate::ops::index::masked_fill(&slf.t, &mask.t, &v, true)?;
        assign_inplace(&slf.t, r)?;
        Ok(slf)
    }
    #[pyo3(signature = (end, weight))]
    fn lerp_<'py>(
        slf: PyRef<'py, Self>,
        end: &Bound<'_, PyAny>,
        weight: &Bound<'_, PyAny>,
    ) -> PyResult<PyRef<'py, Self>> {
        let r = slf.lerp(end, weight)?.t;
        assign_inplace(&slf.t, r)?;
        Ok(slf)
    }
    #[pyo3(signature = (mean=0.0, std=1.0, *, generator=None))]
    fn normal_<'py>(
        slf: PyRef<'py, Self>,
        mean: f64,
        std: f64,
        generator: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyRef<'py, Self>> {
        draw_into(&slf.t, generator, |shape, dtype, g| {
            crate::ops::creation::randn(shape, mean, std, dtype, g)
        })?;
        Ok(slf)
    }
    #[pyo3(signature = (from=0.0, to=1.0, *, generator=None))]
    fn uniform_<'py>(
        slf: PyRef<'py, Self>,
        from: f64,
        to: f64,
        generator: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyRef<'py, Self>> {
        draw_into(&slf.t, generator, |shape, dtype, g| {
            crate::ops::creation::rand(shape, from, to, dtype, g)
        })?;
        Ok(slf)
    }
}

/// clamp with number or tensor bounds.
pub fn clamp_any(
    t: &Tensor,
    min: Option<&Bound<'_, PyAny>>,
    max: Option<&Bound<'_, PyAny>>,
) -> PyResult<Tensor> {
    let min = min.filter(|m| !m.is_none());
    let max = max.filter(|m| !m.is_none());
    let is_tensor = |o: &Option<&Bound<'_, PyAny>>| {
        o.map(|v| v.downcast::<PyTensor>().is_ok()).unwrap_or(false)
    };
    if let (Some(lo), Some(hi), true) = (min, max, is_tensor(&min) != is_tensor(&max)) {
        // One tensor and one number: PyTorch's parser takes the
        // (Number, Number) overload when the tensor is 0-dim and needs no
        // grad (such a tensor is a Scalar there), and matches neither overload otherwise.
        let tensor_side = if is_tensor(&min) { lo } else { hi };
        let zero_dim = tensor_side
            .downcast::<PyTensor>()
            .is_ok_and(|p| p.borrow().t.ndim() == 0 && !p.borrow().t.requires_grad());
        if !zero_dim {
            return Err(pyo3::exceptions::PyTypeError::new_err(
                "clamp() received an invalid combination of arguments - got a Tensor and a number, but expected one of: (Tensor min = None, Tensor max = None), (Number min = None, Number max = None)",
            ));
        }
        let number = tensor_side.call_method0("item")?;
        return if is_tensor(&min) {
            clamp_any(t, Some(&number), Some(hi))
        } else {
            clamp_any(t, Some(lo), Some(&number))
        };
    }
    if is_tensor(&min) || is_tensor(&max) {
        // One result type over all three operands, as PyTorch's clamp computes it.
        use crate::tensor::dtype::{result_type, PromoteArg};
        let arg = |x: &Tensor| {
            if x.ndim() == 0 {
                PromoteArg::ZeroDim(x.dtype())
            } else {
                PromoteArg::Dim(x.dtype())
            }
        };
        let mut args = vec![arg(t)];
        for m in [min, max].into_iter().flatten() {
            args.push(arg(&operand(m, t)?));
        }
        let common = result_type(&args);
        let cast = |x: Tensor| -> PyResult<Tensor> {
            Ok(if x.dtype() == common {
                x
            } else {
                unary::to_dtype(&x, common)?
            })
        };
        let mut r = cast(t.clone())?;
        if let (Some(lo), Some(hi)) = (min, max) {
            let (lo, hi) = (cast(operand(lo, t)?)?, cast(operand(hi, t)?)?);
            return Ok(binary::clamp_tensors(&r, &lo, &hi)?);
        }
        if let Some(m) = min {
            r = binary::binary(BinOp::Maximum, &r, &cast(operand(m, t)?)?)?;
        }
        if let Some(m) = max {
            r = binary::binary(BinOp::Minimum, &r, &cast(operand(m, t)?)?)?;
        }
        return Ok(r);
    }
    let float_number = |o: Option<&Bound<'_, PyAny>>| {
        o.is_some_and(|m| m.is_instance_of::<pyo3::types::PyFloat>())
    };
    let lo = min.map(|m| m.extract::<f64>()).transpose()?;
    let hi = max.map(|m| m.extract::<f64>()).transpose()?;
    if t.dtype() == DType::Bool
        && (min.is_some() || max.is_some())
        && !float_number(min)
        && !float_number(max)
    {
        let bool_number = |o: Option<&Bound<'_, PyAny>>| {
            o.is_none_or(|m| m.is_instance_of::<pyo3::types::PyBool>())
        };
        if !(bool_number(min) && bool_number(max)) {
            // an integer bound promotes the bools to int64, as PyTorch
            return Ok(unary::clamp(&unary::to_dtype(t, DType::I64)?, lo, hi)?);
        }
        let kernel = match (min.is_some(), max.is_some()) {
            (true, false) => "clamp_min_scalar_cpu",
            (false, true) => "clamp_max_scalar_cpu",
            _ => "clamp_scalar_cpu",
        };
        return Err(Error::not_implemented(kernel, DType::Bool).into());
    }
    // a float bound on an integer tensor promotes, as PyTorch
    let float_bound = min
        .map(|m| m.is_instance_of::<pyo3::types::PyFloat>())
        .unwrap_or(false)
        || max
            .map(|m| m.is_instance_of::<pyo3::types::PyFloat>())
            .unwrap_or(false);
    if float_bound && !t.dtype().is_float() {
        let mut r = unary::to_dtype(t, DType::F32)?;
        r = unary::clamp(&r, lo, hi)?;
        return Ok(r);
    }
    Ok(unary::clamp(t, lo, hi)?)
}

/// A p-norm with no identity (p < 0, inf) over an empty reduction raises.
fn check_norm_identity(x: &Tensor, p: f64, d: &Option<Vec<i64>>) -> PyResult<()> {
    // (an integer input is refused first, by the op: PyTorch's dtype check)
    if !(p < 0.0 || p.is_infinite()) || !x.dtype().is_float() {
        return Ok(());
    }
    let shown = if p.is_infinite() {
        if p > 0.0 {
            "inf".to_string()
        } else {
            "-inf".to_string()
        }
    } else {
        format!("{p}")
    };
    match d.as_deref() {
        None | Some([]) if x.numel() == 0 => Err(PyRuntimeError::new_err(format!(
            "linalg.vector_norm cannot compute the {shown} norm on an empty tensor because the operation does not have an identity"
        ))),
        Some(ds) => {
            for &dim in ds {
                let w = crate::tensor::layout::wrap_dim(dim, x.ndim())?;
                if x.shape().get(w) == Some(&0) {
                    return Err(PyRuntimeError::new_err(format!(
                        "linalg.vector_norm cannot compute the {shown} norm on the dimension {w}because this dimension is empty and the operation does not have an identity"
                    )));
                }
            }
            Ok(())
        }
        None => Ok(()),
    }
}

/// Each `dim` in range (checked before a dtype= complaint, as PyTorch).
fn check_dims(t: &Tensor, d: &Option<Vec<i64>>) -> PyResult<()> {
    for &dim in d.iter().flatten() {
        crate::tensor::layout::wrap_dim(dim, t.ndim())?;
    }
    Ok(())
}

/// amax/amin over every dim of an empty tensor has no identity to return.
fn empty_full_reduction(t: &Tensor, d: &Option<Vec<i64>>, op: &str) -> PyResult<()> {
    if t.numel() == 0 && d.as_ref().is_none_or(|v| v.is_empty()) {
        return Err(PyRuntimeError::new_err(format!(
            "{op}(): Expected reduction dim to be specified for input.numel() == 0. Specify the reduction dim with the 'dim' argument."
        )));
    }
    Ok(())
}

fn refuse_bool(t: &Tensor, op: &str) -> PyResult<()> {
    if t.dtype() == DType::Bool {
        return Err(pyo3::exceptions::PyNotImplementedError::new_err(format!(
            "{op}(): does not support bool input"
        )));
    }
    Ok(())
}

/// PyTorch's var/std overloads: (dim, unbiased, keepdim), (dim, *,
/// correction, keepdim) and (unbiased); `unbiased` with `correction`, or
/// with `keepdim` but no `dim`, matches none of them.
fn var_args(
    op: &str,
    dim: Option<&Bound<'_, PyAny>>,
    unbiased: Option<&Bound<'_, PyAny>>,
    keepdim_given: bool,
    correction: Option<f64>,
) -> PyResult<(Option<Vec<i64>>, f64)> {
    let dim_is_bool = dim.is_some_and(|d| d.is_instance_of::<pyo3::types::PyBool>());
    let has_unbiased = unbiased.is_some_and(|u| !u.is_none()) || dim_is_bool;
    let no_dim = dim.is_none_or(|d| d.is_none()) || dim_is_bool;
    // (`unbiased` and `keepdim` without a dim at all is refused by the
    // Python wrapper, which can tell an absent dim from dim=None.)
    let _ = (no_dim, keepdim_given);
    if has_unbiased && correction.is_some() {
        return Err(type_err(format!(
            "{op}() received an invalid combination of arguments: unbiased= goes with a dim and without correction="
        )));
    }
    // `var(True)` passes unbiased positionally in old code.
    let mut d = None;
    let mut c = 1.0;
    if let Some(dm) = dim {
        if dm.is_instance_of::<pyo3::types::PyBool>() {
            c = if dm.extract::<bool>()? { 1.0 } else { 0.0 };
        } else {
            d = dims_arg(Some(dm))?;
        }
    }
    if let Some(u) = unbiased {
        if u.is_instance_of::<pyo3::types::PyBool>() {
            c = if u.extract::<bool>()? { 1.0 } else { 0.0 };
        } else if !u.is_none() {
            return Err(type_err("unbiased must be a bool"));
        }
    }
    if let Some(cc) = correction {
        c = cc;
    }
    Ok((d, c))
}

pub fn norm_p(p: Option<&Bound<'_, PyAny>>) -> PyResult<f64> {
    match p {
        None => Ok(2.0),
        Some(p) if p.is_none() => Ok(2.0),
        Some(p) => {
            if let Ok(s) = p.extract::<String>() {
                return match s.as_str() {
                    "fro" => Ok(2.0),
                    "inf" => Ok(f64::INFINITY),
                    "-inf" => Ok(f64::NEG_INFINITY),
                    "nuc" => Err(PyRuntimeError::new_err("nuclear norm is not supported")),
                    other => Err(PyRuntimeError::new_err(format!(
                        "unknown norm type {other}"
                    ))),
                };
            }
            Ok(p.extract::<f64>()?)
        }
    }
}

fn minmax(
    py: Python<'_>,
    t: &Tensor,
    dim: Option<&Bound<'_, PyAny>>,
    keepdim: bool,
    is_max: bool,
) -> PyResult<Py<PyAny>> {
    match dim {
        None => Ok(Py::new(py, wrap(reduce::max_all(t, is_max).map_err(|e| match e {
            Error::Index(_) => Error::Runtime(format!("{}(): Expected reduction dim to be specified for input.numel() == 0. Specify the reduction dim with the 'dim' argument.", if is_max { "max" } else { "min" })),
            e => e,
        })?))?.into_any()),
        Some(d) => {
            if let Ok(other) = d.downcast::<PyTensor>() {
                let op = if is_max { BinOp::Maximum } else { BinOp::Minimum };
                return Ok(Py::new(py, wrap(binary::binary(op, t, &other.borrow().t)?))?.into_any());
            }
            let d: i64 = d.extract()?;
            let (v, i) = reduce::max_dim(t, d, keepdim, is_max)?;
            values_indices(py, if is_max { "max" } else { "min" }, v, i)
        }
    }
}

/// Shared by module-level functions.
pub fn tuple_of(py: Python<'_>, ts: Vec<Tensor>) -> PyResult<Py<PyAny>> {
    let items: Vec<Py<PyAny>> = ts
        .into_iter()
        .map(|t| Py::new(py, wrap(t)).map(|p| p.into_any()))
        .collect::<PyResult<_>>()?;
    Ok(PyTuple::new(py, items)?.into_any().unbind())
}
