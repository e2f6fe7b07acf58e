//! Binary elementwise ops with broadcasting and type promotion, and their
//! gradients (summed back to each input's shape).

use super::map::map2;
use super::reduce::sum_to;
use super::{creation, unary};
use crate::autograd::{record, SavedTensor};
use crate::cpu::arith::Arith;
use crate::error::{Error, Result};
use crate::tensor::dtype::{result_type, PromoteArg};
use crate::tensor::layout::broadcast_shapes;
use crate::tensor::{half, DType, Shape, Tensor};
use crate::{dispatch_all, dispatch_numeric};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    FloorDiv,
    Rem,
    Pow,
    Maximum,
    Minimum,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogicOp {
    And,
    Or,
    Xor,
}

pub fn promote_arg(t: &Tensor) -> PromoteArg {
    if t.ndim() == 0 {
        PromoteArg::ZeroDim(t.dtype())
    } else {
        PromoteArg::Dim(t.dtype())
    }
}

/// `torch.result_type(a, b)` for two tensors.
pub fn result_dtype(a: &Tensor, b: &Tensor) -> DType {
    result_type(&[promote_arg(a), promote_arg(b)])
}

/// Forward only: compute `a op b` in `dtype` (inputs already promoted).
fn compute(op: BinOp, a: &Tensor, b: &Tensor, shape: &[usize]) -> Result<Tensor> {
    if a.is_gpu() || b.is_gpu() {
        return crate::gpu::ops::binary(op, a, b, shape);
    }
    if let Some(half) = [a.dtype(), b.dtype()].into_iter().find(|d| d.is_half()) {
        // Computed in float32, rounded once (`tensor::half`).
        let (wa, wb) = (half::widen(a), half::widen(b));
        return Ok(half::narrow(compute(op, &wa, &wb, shape)?, half));
    }
    let dtype = a.dtype();
    if dtype == DType::Bool {
        // Bool arithmetic: add = or, mul = and (as PyTorch), others via u8.
        return match op {
            BinOp::Add | BinOp::Maximum => map2(a, b, shape, |x: bool, y: bool| x | y),
            BinOp::Mul | BinOp::Minimum => map2(a, b, shape, |x: bool, y: bool| x & y),
            BinOp::Sub => Err(Error::NotImplemented(
                "Subtraction, the `-` operator, with two bool tensors is not supported. Use the `^` or `logical_xor()` operator instead.".into(),
            )),
            BinOp::FloorDiv => Err(Error::not_implemented("div_floor_cpu", DType::Bool)),
            BinOp::Rem => Err(Error::not_implemented("remainder_cpu", DType::Bool)),
            BinOp::Pow => Err(Error::not_implemented("pow", DType::Bool)),
            _ => compute(op, &a.cast_raw(DType::U8), &b.cast_raw(DType::U8), shape),
        };
    }
    dispatch_numeric!(dtype, T => {
        if matches!(op, BinOp::FloorDiv | BinOp::Rem) && !dtype.is_float() && shape.iter().product::<usize>() > 0 && b.to_f64_vec().contains(&0.0) {
            return Err(Error::Runtime("ZeroDivisionError".into()));
        }
        // One closure type per op, so each kernel is monomorphised and vectorised
        // (a function pointer here would cost an indirect call per element).
        match op {
            BinOp::Add => map2(a, b, shape, |x: T, y: T| Arith::add(x, y)),
            BinOp::Sub => map2(a, b, shape, |x: T, y: T| Arith::sub(x, y)),
            BinOp::Mul => map2(a, b, shape, |x: T, y: T| Arith::mul(x, y)),
            BinOp::Div => map2(a, b, shape, |x: T, y: T| Arith::div(x, y)),
            BinOp::FloorDiv => map2(a, b, shape, |x: T, y: T| Arith::floor_div(x, y)),
            BinOp::Rem => map2(a, b, shape, |x: T, y: T| Arith::rem(x, y)),
            BinOp::Pow => map2(a, b, shape, |x: T, y: T| Arith::pow(x, y)),
            BinOp::Maximum => map2(a, b, shape, |x: T, y: T| Arith::maxv(x, y)),
            BinOp::Minimum => map2(a, b, shape, |x: T, y: T| Arith::minv(x, y)),
        }
    })
}

/// `a ** e` for the exponents PyTorch also computes without `pow` (x * x
/// for 2, sqrt for 0.5, ...): a libm powf per element took 25x PyTorch's
/// time for `x ** 2`. Float tensors; `None` for other exponents.
fn pow_special(a: &Tensor, e: f64) -> Option<Tensor> {
    use super::map::map1;
    macro_rules! special {
        ($T:ty) => {
            match e {
                1.0 => Some(map1(a, |x: $T| x)),
                2.0 => Some(map1(a, |x: $T| x * x)),
                3.0 => Some(map1(a, |x: $T| x * x * x)),
                0.5 => Some(map1(a, |x: $T| x.sqrt())),
                -0.5 => Some(map1(a, |x: $T| 1.0 / x.sqrt())),
                -1.0 => Some(map1(a, |x: $T| 1.0 / x)),
                -2.0 => Some(map1(a, |x: $T| 1.0 / (x * x))),
                _ => None,
            }
        };
    }
    match a.dtype() {
        DType::F32 => special!(f32),
        DType::F64 => special!(f64),
        _ => None,
    }
}

/// Reduce a gradient to an input's shape and dtype.
pub fn grad_for(g: Tensor, input: &(Shape, DType)) -> Result<Tensor> {
    let g = sum_to(&g, &input.0)?;
    if g.dtype() != input.1 {
        super::unary::to_dtype(&g, input.1)
    } else {
        Ok(g)
    }
}

/// `clamp(x, min=lo, max=hi)` with both bounds tensors (one dtype, already
/// promoted): `minimum(maximum(x, lo), hi)` with its tie-sharing gradient,
/// except where lo == hi: there PyTorch gives the whole gradient to x when
/// x equals the bounds, to lo below and to hi above (no sharing).
pub fn clamp_tensors(x: &Tensor, lo: &Tensor, hi: &Tensor) -> Result<Tensor> {
    let out = {
        let _no_grad = crate::autograd::GradModeGuard::new(false);
        binary(BinOp::Minimum, &binary(BinOp::Maximum, x, lo)?, hi)?
    };
    if !x.dtype().is_float() || !crate::autograd::node::needs_grad(&[x, lo, hi]) {
        return Ok(out);
    }
    let (sx, slo, shi) = (
        SavedTensor::new(x),
        SavedTensor::new(lo),
        SavedTensor::new(hi),
    );
    let shapes: Vec<(Shape, DType)> = [x, lo, hi]
        .iter()
        .map(|t| (t.shape_vec(), t.dtype()))
        .collect();
    record("ClampBackward0", &[x, lo, hi], &[&out], move |g| {
        let Some(g) = &g[0] else {
            return Ok(vec![None, None, None]);
        };
        let (x, lo, hi) = (sx.get()?, slo.get()?, shi.get()?);
        // 1 where `a op b` holds, else 0, in the gradient's dtype
        let ind =
            |op: CmpOp, a: &Tensor, b: &Tensor| unary::to_dtype(&compare(op, a, b)?, g.dtype());
        let half = |t: Tensor| mul(&t, &creation::scalar_like(0.5, &t));
        // maximum(x, lo), then minimum(a, hi), ties shared
        let a = {
            let _no_grad = crate::autograd::GradModeGuard::new(false);
            binary(BinOp::Maximum, x, lo)?
        };
        let x_tie = half(ind(CmpOp::Eq, x, lo)?)?;
        let wx = add(&ind(CmpOp::Gt, x, lo)?, &x_tie)?;
        let wlo = add(&ind(CmpOp::Lt, x, lo)?, &x_tie)?;
        let a_tie = half(ind(CmpOp::Eq, &a, hi)?)?;
        let wa = add(&ind(CmpOp::Lt, &a, hi)?, &a_tie)?;
        let whi = add(&ind(CmpOp::Gt, &a, hi)?, &a_tie)?;
        let (wx, wlo) = (mul(&wa, &wx)?, mul(&wa, &wlo)?);
        // equal bounds: no sharing
        let same = compare(CmpOp::Eq, lo, hi)?;
        let wx = where_(&same, &ind(CmpOp::Eq, x, lo)?, &wx)?;
        let wlo = where_(&same, &ind(CmpOp::Lt, x, lo)?, &wlo)?;
        let whi = where_(&same, &ind(CmpOp::Gt, x, hi)?, &whi)?;
        // a NaN result (x or a bound NaN): the gradient goes to x unless
        // x < lo or x > hi holds (no sharing), and to hi where lo > hi
        // (PyTorch 2.15)
        let out = {
            let _no_grad = crate::autograd::GradModeGuard::new(false);
            binary(BinOp::Minimum, &a, hi)?
        };
        let nan_out = compare(CmpOp::Ne, &out, &out)?;
        let zero = creation::scalar_like(0.0, &wx);
        let one = creation::scalar_like(1.0, &wx);
        let passes = mul(
            &sub(&one, &ind(CmpOp::Lt, x, lo)?)?,
            &sub(&one, &ind(CmpOp::Gt, x, hi)?)?,
        )?;
        let wx = where_(&nan_out, &passes, &wx)?;
        let wlo = where_(&nan_out, &zero, &wlo)?;
        let whi = where_(&nan_out, &ind(CmpOp::Gt, lo, hi)?, &whi)?;
        let mut grads = Vec::with_capacity(3);
        for (w, shape) in [wx, wlo, whi].iter().zip(&shapes) {
            grads.push(Some(grad_for(mul(g, w)?, shape)?));
        }
        Ok(grads)
    });
    Ok(out)
}

/// `a op b` with broadcasting, promotion and autograd.
pub fn binary(op: BinOp, a: &Tensor, b: &Tensor) -> Result<Tensor> {
    binary_named(op, a, b, None)
}

/// Which operand of a binary op was a Python number that PyTorch's scalar
/// overload takes as a plain value: its node then has one edge (the
/// tensor's), where the tensor overload with a wrapped number has two
/// (`b * 2`: MulBackward0 with edges (b, None); `b ** 2`: PowBackward0 with (b)).
#[derive(Clone, Copy, PartialEq, Eq)]
enum NumberOperand {
    Left,
    Right,
}

struct NodeNaming {
    name: &'static str,
    number: NumberOperand,
}

/// `a ** b` where one side was a Python number: PyTorch names the node
/// PowBackward0 (tensor ** number) or PowBackward2 (number ** tensor);
/// PowBackward1 is tensor ** tensor. The number is not an edge.
pub fn pow_with_number(a: &Tensor, b: &Tensor, number_base: bool) -> Result<Tensor> {
    let naming = if number_base {
        NodeNaming {
            name: "PowBackward2",
            number: NumberOperand::Left,
        }
    } else {
        NodeNaming {
            name: "PowBackward0",
            number: NumberOperand::Right,
        }
    };
    binary_named(BinOp::Pow, a, b, Some(naming))
}

/// `bool_tensor ** True` / `** False`: PyTorch's pow with a number exponent
/// copies the base for 1 (True) and fills ones for 0 (False) before it picks
/// a kernel, so a bool base (which has no pow kernel) works there.
pub fn bool_pow_bool_number(a: &Tensor, exponent: bool) -> Result<Tensor> {
    if exponent {
        super::shape::clone(a)
    } else {
        Ok(creation::full(a.shape(), 1.0, DType::Bool))
    }
}

/// `1 / x` (integers in float32): ReciprocalBackward0, one edge.
pub fn reciprocal(x: &Tensor) -> Result<Tensor> {
    let x = if x.dtype().is_float() {
        x.clone()
    } else {
        unary::to_dtype(x, DType::F32)?
    };
    let naming = NodeNaming {
        name: "ReciprocalBackward0",
        number: NumberOperand::Left,
    };
    binary_named(
        BinOp::Div,
        &creation::scalar_like(1.0, &x),
        &x,
        Some(naming),
    )
}

/// `number - x` (`number` a 0-dim tensor made from a Python number):
/// PyTorch's rsub, RsubBackward1 with the one edge of `x`.
pub fn rsub_number(x: &Tensor, number: &Tensor) -> Result<Tensor> {
    let naming = NodeNaming {
        name: "RsubBackward1",
        number: NumberOperand::Left,
    };
    binary_named(BinOp::Sub, number, x, Some(naming))
}

fn edges_len(number: Option<NumberOperand>) -> usize {
    if number.is_some() {
        1
    } else {
        2
    }
}

/// PyTorch refuses `-` with a bool operand (`~` inverts a mask).
pub fn check_sub_operands(a: DType, b: DType) -> Result<()> {
    let which = match (a == DType::Bool, b == DType::Bool) {
        (true, true) => "two bool tensors",
        (false, false) => return Ok(()),
        _ => "a bool tensor",
    };
    Err(Error::NotImplemented(format!(
        "Subtraction, the `-` operator, with {which} is not supported. If you are trying to invert a mask, use the `~` or `logical_not()` operator instead."
    )))
}

fn binary_named(op: BinOp, a: &Tensor, b: &Tensor, naming: Option<NodeNaming>) -> Result<Tensor> {
    if op == BinOp::Sub {
        check_sub_operands(a.dtype(), b.dtype())?;
    }
    let mut dtype = result_dtype(a, b);
    if op == BinOp::Div && !dtype.is_float() {
        dtype = DType::F32;
    }
    if op == BinOp::Pow
        && dtype.is_float()
        && a.dtype().is_float()
        && b.ndim() == 0
        && !b.dtype().is_float()
    {
        dtype = a.dtype();
    }
    if let Some(out) = super::fusion::binary(op, a, b) {
        return Ok(out);
    }
    let shape = broadcast_shapes(a.shape(), b.shape())?;
    // A number (0-dim operand) multiplying or dividing a half tensor stays
    // float32, as PyTorch's mul/div kernels take it in their float compute
    // type (half(x * 0.1), not half(x * half(0.1)); add and sub round it).
    let cast = |t: &Tensor| {
        let wrapped_number = t.ndim() == 0 && t.dtype().is_float();
        if dtype.is_half() && wrapped_number && matches!(op, BinOp::Mul | BinOp::Div) {
            t.cast_raw(DType::F32)
        } else {
            t.cast_raw(dtype)
        }
    };
    let (ca, cb) = (cast(a), cast(b));
    let number = naming.as_ref().map(|n| n.number);
    let special = match (op, number) {
        // Only a number exponent takes the special kernels (sqrt for 0.5,
        // ...), as in PyTorch: a tensor exponent goes through `pow`, where
        // (-inf) ** 0.5 is +inf and (-0) ** 0.5 is +0.
        (BinOp::Pow, Some(NumberOperand::Right)) if !ca.is_gpu() && ca.shape() == &shape[..] => {
            pow_special(&half::widen(&ca), cb.item_f64()?)
        }
        _ => None,
    };
    let out = match special {
        Some(out) => half::narrow(out, dtype),
        None => half::narrow(compute(op, &ca, &cb, &shape)?, dtype),
    };
    if !dtype.is_float() || !crate::autograd::node::needs_grad(&[a, b]) {
        return Ok(out);
    }
    let (sa, sb) = (SavedTensor::new(&ca), SavedTensor::new(&cb));
    let (ia, ib) = ((a.shape_vec(), a.dtype()), (b.shape_vec(), b.dtype()));
    let need = (a.requires_grad(), b.requires_grad());
    let saved_out = if op == BinOp::Pow {
        Some(SavedTensor::output(&out))
    } else {
        None
    };
    let name = naming.map(|n| n.name).unwrap_or(match op {
        BinOp::Add => "AddBackward0",
        BinOp::Sub => "SubBackward0",
        BinOp::Mul => "MulBackward0",
        BinOp::Div => "DivBackward0",
        BinOp::Pow => "PowBackward1",
        BinOp::Maximum => "MaximumBackward0",
        BinOp::Minimum => "MinimumBackward0",
        BinOp::FloorDiv => "FloorDivideBackward0",
        BinOp::Rem => "RemainderBackward0",
    });
    let edges: &[&Tensor] = match number {
        None => &[a, b],
        Some(NumberOperand::Left) => &[b],
        Some(NumberOperand::Right) => &[a],
    };
    record(name, edges, &[&out], move |grads| {
        let Some(g) = &grads[0] else {
            return Ok(vec![None; edges_len(number)]);
        };
        // Read only by the ops that need them: add and sub do not, so an
        // in-place add_ may overwrite its input without a copy.
        let inputs = || -> Result<(Tensor, Tensor)> { Ok((sa.get()?.clone(), sb.get()?.clone())) };
        let (ga, gb): (Option<Tensor>, Option<Tensor>) = match op {
            BinOp::Add => (Some(g.clone()), Some(g.clone())),
            BinOp::Sub => (Some(g.clone()), Some(unary::neg(g)?)),
            BinOp::Mul => {
                let (x, y) = inputs()?;
                (
                    if need.0 { Some(mul(g, &y)?) } else { None },
                    if need.1 { Some(mul(g, &x)?) } else { None },
                )
            }
            BinOp::Div => {
                let (x, y) = inputs()?;
                (
                    if need.0 { Some(div(g, &y)?) } else { None },
                    if need.1 {
                        // -g * ((x / y) / y), PyTorch's order: y^2 underflows
                        // (0 / denormal^2 = 0 / 0) where x / y / y does not
                        Some(mul(&unary::neg(g)?, &div(&div(&x, &y)?, &y)?)?)
                    } else {
                        None
                    },
                )
            }
            BinOp::Pow => {
                let inp = inputs()?;
                let (x, y) = (&inp.0, &inp.1);
                let ga = if need.0 {
                    // g * y * x^(y-1), with 0 where y == 0 (PyTorch's convention)
                    let ym1 = sub(y, &creation::scalar_like(1.0, y))?;
                    // A number exponent stays a number (`y - 1` takes the
                    // special kernels too), as in PyTorch's pow_backward.
                    let x_pow_ym1 = if number == Some(NumberOperand::Right) {
                        pow_with_number(x, &ym1, false)?
                    } else {
                        binary(BinOp::Pow, x, &ym1)?
                    };
                    let d = mul(y, &x_pow_ym1)?;
                    let zero = creation::scalar_like(0.0, y);
                    let d = where_(&eq(y, &zero)?, &zero, &d)?;
                    Some(mul(g, &d)?)
                } else {
                    None
                };
                let gb = if need.1 {
                    // g * out * ln(x), with 0 where x == 0 and y >= 0
                    let o = &saved_out.as_ref().expect("saved").unpack()?;
                    let zero = creation::scalar_like(0.0, x);
                    let d = mul(o, &unary::log(x)?)?;
                    let mask =
                        logical(LogicOp::And, &eq(x, &zero)?, &compare(CmpOp::Ge, y, &zero)?)?;
                    let d = where_(&mask, &zero, &d)?;
                    Some(mul(g, &d)?)
                } else {
                    None
                };
                (ga, gb)
            }
            BinOp::Maximum | BinOp::Minimum => {
                let inp = inputs()?;
                let (x, y) = (&inp.0, &inp.1);
                // PyTorch's formula: ties split the gradient equally, the
                // loser gets 0, and where either is NaN (no comparison
                // holds) both get the whole gradient.
                let (a_loses, b_loses) = if op == BinOp::Maximum {
                    (compare(CmpOp::Lt, x, y)?, compare(CmpOp::Gt, x, y)?)
                } else {
                    (compare(CmpOp::Gt, x, y)?, compare(CmpOp::Lt, x, y)?)
                };
                let zero = creation::scalar_like(0.0, g);
                let shared = where_(&eq(x, y)?, &mul(g, &creation::scalar_like(0.5, g))?, g)?;
                let ga = where_(&a_loses, &zero, &shared)?;
                let gb = where_(&b_loses, &zero, &shared)?;
                (Some(ga), Some(gb))
            }
            BinOp::FloorDiv | BinOp::Rem => {
                // floor_divide has zero gradient; remainder: d/da = 1, d/db = -floor(a/b)
                let inp = inputs()?;
                let (x, y) = (&inp.0, &inp.1);
                if op == BinOp::FloorDiv {
                    (
                        Some(mul(g, &creation::scalar_like(0.0, g))?),
                        Some(mul(g, &creation::scalar_like(0.0, g))?),
                    )
                } else {
                    let q = binary(BinOp::FloorDiv, x, y)?;
                    (Some(g.clone()), Some(unary::neg(&mul(g, &q)?)?))
                }
            }
        };
        let ga = match ga {
            Some(t) if need.0 => Some(grad_for(t, &ia)?),
            _ => None,
        };
        let gb = match gb {
            Some(t) if need.1 => Some(grad_for(t, &ib)?),
            _ => None,
        };
        Ok(match number {
            None => vec![ga, gb],
            Some(NumberOperand::Left) => vec![gb],
            Some(NumberOperand::Right) => vec![ga],
        })
    });
    Ok(out)
}

/// `a op v` (or `v op a` when `reversed`) for a float CPU tensor and a
/// Python number: the common `x * 2.0`, `x + 1`, `1 - x`. The same arithmetic,
/// result dtype (a number never widens a float tensor) and graph as `binary`
/// with the number as a 0-dim tensor, without building that tensor,
/// promoting and broadcasting: about a third of such a call's overhead.
/// `None` where it does not apply (other ops, dtypes, devices), for the
/// caller to take the general path.
pub fn binary_scalar(op: BinOp, a: &Tensor, v: f64, reversed: bool) -> Option<Result<Tensor>> {
    let supported = match op {
        BinOp::Add | BinOp::Sub | BinOp::Mul => true,
        BinOp::Div => !reversed,
        _ => false,
    };
    if !supported || a.is_gpu() || a.is_meta() {
        return None;
    }
    // `2 * x` is `x.__rmul__(2)`, which PyTorch computes as `x * 2`: the
    // tensor is the first edge of the node.
    let reversed = reversed && op == BinOp::Sub;
    if let Some(out) = super::fusion::with_number(op, a, v, reversed) {
        return Some(Ok(out));
    }
    let out = match a.dtype() {
        DType::F32 => scalar_map(op, a, v as f32, reversed),
        DType::F64 => scalar_map(op, a, v, reversed),
        // A half tensor times (or over) a number: PyTorch's kernels take the
        // number in float32, unrounded (+ and - round it: the general path).
        d if d.is_half() && matches!(op, BinOp::Mul | BinOp::Div) => {
            half::narrow(scalar_map(op, &half::widen(a), v as f32, reversed), d)
        }
        _ => return None,
    };
    if !crate::autograd::node::needs_grad(&[a]) {
        return Some(Ok(out));
    }
    // (`number - x` is PyTorch's rsub: RsubBackward1.)
    let name = match (op, reversed) {
        (BinOp::Add, _) => "AddBackward0",
        (BinOp::Sub, false) => "SubBackward0",
        (BinOp::Sub, true) => "RsubBackward1",
        (BinOp::Mul, _) => "MulBackward0",
        _ => "DivBackward0",
    };
    let ia = (a.shape_vec(), a.dtype());
    // The number's input: a constant that never requires grad (an edge of
    // None, as the 0-dim tensor `binary` would record); rsub has no edge
    // for it.
    let number = &*NUMBER;
    let two_edges = [a, number];
    let inputs: &[&Tensor] = if reversed { &[a] } else { &two_edges };
    let edges = inputs.len();
    record(name, inputs, &[&out], move |grads| {
        let Some(g) = &grads[0] else {
            return Ok(vec![None; edges]);
        };
        let ga = match op {
            BinOp::Add => g.clone(),
            BinOp::Sub if reversed => unary::neg(g)?,
            BinOp::Sub => g.clone(),
            // (a half gradient too takes the number unrounded, as PyTorch's)
            BinOp::Mul => mul(g, &number_like(v, g))?,
            _ => div(g, &number_like(v, g))?,
        };
        let ga = Some(grad_for(ga, &ia)?);
        Ok(if reversed { vec![ga] } else { vec![ga, None] })
    });
    Some(Ok(out))
}

/// `a op= v` in place for a contiguous float CPU tensor and a number, when
/// no graph is involved (the caller checks that grad mode is off or `a`
/// does not require grad): the elements are updated where they are, instead
/// of computed out of place and copied back (`x.mul_(0.9)` took 4x
/// PyTorch's time). Returns false where it does not apply.
pub fn binary_scalar_inplace(op: BinOp, a: &Tensor, v: f64) -> bool {
    if a.is_gpu()
        || a.is_meta()
        || !a.is_contiguous()
        || !matches!(op, BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div)
    {
        return false;
    }
    match a.dtype() {
        DType::F32 => scalar_inplace(op, a, v as f32),
        DType::F64 => scalar_inplace(op, a, v),
        _ => return false,
    }
    a.storage().bump_version();
    true
}

fn scalar_inplace<T: crate::tensor::storage::BufferElem + Arith>(op: BinOp, a: &Tensor, v: T) {
    // SAFETY: a write of `a`'s own elements, as every in-place op makes.
    let buf = unsafe { a.storage().buffer_mut() };
    let Some(data) = T::slice_mut(buf) else {
        return;
    };
    let own = &mut data[a.offset()..a.offset() + a.numel()];
    crate::parallel::fill_chunks(own, |_, c| match op {
        BinOp::Add => c.iter_mut().for_each(|x| *x = Arith::add(*x, v)),
        BinOp::Sub => c.iter_mut().for_each(|x| *x = Arith::sub(*x, v)),
        BinOp::Mul => c.iter_mut().for_each(|x| *x = Arith::mul(*x, v)),
        _ => c.iter_mut().for_each(|x| *x = Arith::div(*x, v)),
    });
}

/// `a op= b` (`a += scale * b` for add/sub with alpha, `scale` = +-alpha)
/// computed where `a`'s elements are, when `a` is a contiguous float CPU
/// tensor and `b` of the same dtype broadcasts to its shape without
/// overlapping it (or is `a` itself). False when it does not apply; the
/// caller then takes the general path. The caller also checks that no graph
/// is involved. (The general path computed out of place and copied back:
/// twice the memory traffic and a fresh buffer per step of a hand-written
/// optimizer loop.)
pub fn binary_tensor_inplace(op: BinOp, a: &Tensor, b: &Tensor, scale: Option<f64>) -> bool {
    let plain = matches!(op, BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div);
    if a.is_gpu() || b.is_gpu() || a.is_meta() || b.is_meta() {
        return false;
    }
    if !a.is_contiguous() || a.dtype() != b.dtype() || !plain {
        return false;
    }
    let Ok(b_strides) = crate::tensor::layout::broadcast_strides(b.layout(), a.shape()) else {
        return false;
    };
    if b_strides.iter().any(|&s| s < 0) {
        return false;
    }
    let itself = b.shares_storage(a)
        && b.offset() == a.offset()
        && b.shape() == a.shape()
        && b.strides() == a.strides();
    if b.shares_storage(a) && !itself {
        return false;
    }
    // add/sub with alpha as add_alpha computes them: a + b, a - b, or
    // a + (+-alpha * b) in two roundings.
    let (op, scale) = match (op, scale) {
        (BinOp::Add | BinOp::Sub, Some(1.0)) => (BinOp::Add, None),
        (BinOp::Add | BinOp::Sub, Some(-1.0)) => (BinOp::Sub, None),
        (BinOp::Add | BinOp::Sub, Some(s)) => (BinOp::Add, Some(s)),
        (op, _) => (op, None),
    };
    match a.dtype() {
        DType::F32 => tensor_inplace::<f32>(op, a, b, &b_strides, itself, scale.map(|s| s as f32)),
        DType::F64 => tensor_inplace::<f64>(op, a, b, &b_strides, itself, scale),
        _ => return false,
    }
    a.storage().bump_version();
    true
}

fn tensor_inplace<T: crate::tensor::storage::BufferElem + Arith>(
    op: BinOp,
    a: &Tensor,
    b: &Tensor,
    b_strides: &[isize],
    itself: bool,
    scale: Option<T>,
) {
    // SAFETY: a write of `a`'s own elements, as every in-place op makes;
    // `b` does not overlap them (checked), unless it is them (`itself`,
    // handled without reading `b`'s slice).
    let buf = unsafe { a.storage().buffer_mut() };
    let Some(data) = T::slice_mut(buf) else {
        return;
    };
    let own = &mut data[a.offset()..a.offset() + a.numel()];
    if itself {
        return match op {
            BinOp::Add => own.iter_mut().for_each(|x| *x = Arith::add(*x, *x)),
            BinOp::Sub => own.iter_mut().for_each(|x| *x = Arith::sub(*x, *x)),
            BinOp::Mul => own.iter_mut().for_each(|x| *x = Arith::mul(*x, *x)),
            _ => own.iter_mut().for_each(|x| *x = Arith::div(*x, *x)),
        };
    }
    let src = b.storage_slice::<T>();
    let shape = a.shape_vec();
    let (cshape, cstr) = crate::tensor::layout::coalesce(
        &shape,
        &[
            crate::tensor::layout::contiguous_strides(&shape),
            b_strides.into(),
        ],
    );
    let b_off = b.offset() as isize;
    let mut run = |f: &(dyn Fn(&mut [T], RunSrc<'_, T>) + Sync)| {
        crate::parallel::fill_chunks(own, |start, chunk| {
            let runs = crate::tensor::layout::StridedRuns {
                shape: &cshape,
                strides: &[&cstr[1]],
                offsets: &[b_off],
            };
            let inner = *cstr[1].last().unwrap_or(&1);
            let mut pos = 0;
            runs.for_each_run(start, start + chunk.len(), |offs, len| {
                let dst = &mut chunk[pos..pos + len];
                let o = offs[0] as usize;
                f(
                    dst,
                    match inner {
                        1 => RunSrc::Slice(&src[o..o + len]),
                        0 => RunSrc::One(src[o]),
                        st => RunSrc::Strided(&src[o..], st as usize),
                    },
                );
                pos += len;
            });
        });
    };
    match (op, scale) {
        (BinOp::Add, Some(s)) => run(&|d, r| r.apply(d, |x, y| Arith::add(x, Arith::mul(s, y)))),
        (BinOp::Add, None) => run(&|d, r| r.apply(d, Arith::add)),
        (BinOp::Sub, _) => run(&|d, r| r.apply(d, Arith::sub)),
        (BinOp::Mul, _) => run(&|d, r| r.apply(d, Arith::mul)),
        _ => run(&|d, r| r.apply(d, Arith::div)),
    }
}

/// The second operand's values over one run of the first's.
enum RunSrc<'a, T> {
    Slice(&'a [T]),
    One(T),
    /// Every `.1`-th value from the start.
    Strided(&'a [T], usize),
}

impl<T: Copy> RunSrc<'_, T> {
    #[inline(always)]
    fn apply(self, dst: &mut [T], f: impl Fn(T, T) -> T) {
        match self {
            RunSrc::Slice(s) => dst.iter_mut().zip(s).for_each(|(x, &y)| *x = f(*x, y)),
            RunSrc::One(y) => dst.iter_mut().for_each(|x| *x = f(*x, y)),
            RunSrc::Strided(s, st) => dst
                .iter_mut()
                .enumerate()
                .for_each(|(i, x)| *x = f(*x, s[i * st])),
        }
    }
}

/// A number as a 0-dim operand of `like`'s arithmetic: in `like`'s dtype,
/// or float32 for a half type (whose mul/div kernels take it unrounded).
fn number_like(v: f64, like: &Tensor) -> Tensor {
    if like.dtype().is_half() {
        creation::full(&[], v, DType::F32)
    } else {
        creation::scalar_like(v, like)
    }
}

static NUMBER: std::sync::LazyLock<Tensor> = std::sync::LazyLock::new(|| Tensor::scalar(0.0f32));

/// `binary`'s arithmetic with a number as the second (or, reversed, first)
/// operand, in `T`.
fn scalar_map<T: crate::tensor::storage::BufferElem + Arith>(
    op: BinOp,
    a: &Tensor,
    v: T,
    reversed: bool,
) -> Tensor {
    use super::map::map1;
    match (op, reversed) {
        (BinOp::Add, false) => map1(a, move |x: T| Arith::add(x, v)),
        (BinOp::Add, true) => map1(a, move |x: T| Arith::add(v, x)),
        (BinOp::Sub, false) => map1(a, move |x: T| Arith::sub(x, v)),
        (BinOp::Sub, true) => map1(a, move |x: T| Arith::sub(v, x)),
        (BinOp::Mul, false) => map1(a, move |x: T| Arith::mul(x, v)),
        (BinOp::Mul, true) => map1(a, move |x: T| Arith::mul(v, x)),
        _ => map1(a, move |x: T| Arith::div(x, v)),
    }
}

pub fn add(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    binary(BinOp::Add, a, b)
}
pub fn sub(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    binary(BinOp::Sub, a, b)
}
pub fn mul(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    binary(BinOp::Mul, a, b)
}
pub fn div(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    binary(BinOp::Div, a, b)
}
pub fn pow(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    binary(BinOp::Pow, a, b)
}

/// `a + alpha * b` (`torch.add`; `torch.sub` passes `-alpha`). `b` is cast
/// to the result's dtype before scaling, so an integer `b` with a fractional
/// alpha is not truncated, and a bool result adds `b` where alpha is non-zero.
pub fn add_scaled(a: &Tensor, b: &Tensor, alpha: f64) -> Result<Tensor> {
    let dtype = result_dtype(a, b);
    if !dtype.is_float() && alpha.fract() != 0.0 {
        return Err(Error::Runtime(
            "For integral input tensors, argument alpha must not be a floating point number."
                .into(),
        ));
    }
    if alpha == 1.0 {
        return add(a, b);
    }
    if alpha == -1.0 && a.dtype() != DType::Bool && b.dtype() != DType::Bool {
        return sub(a, b);
    }
    let b = super::unary::to_dtype(b, dtype)?;
    add(a, &mul(&b, &creation::scalar_like(alpha, &b))?)
}

/// `torch.atan2(a, b)`: the angle of (b, a), computed in the promoted float
/// dtype; d/da = b / (a^2 + b^2), d/db = -a / (a^2 + b^2).
pub fn atan2(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let dtype = match result_dtype(a, b) {
        d if d.is_float() => d,
        _ => DType::F32,
    };
    let (ca, cb) = (a.cast_raw(dtype), b.cast_raw(dtype));
    let shape = broadcast_shapes(a.shape(), b.shape())?;
    let out = match dtype {
        DType::F64 => map2(&ca, &cb, &shape, |x: f64, y: f64| x.atan2(y))?,
        _ => half::narrow(
            map2(
                &half::widen(&ca),
                &half::widen(&cb),
                &shape,
                |x: f32, y: f32| x.atan2(y),
            )?,
            dtype,
        ),
    };
    if !crate::autograd::node::needs_grad(&[a, b]) {
        return Ok(out);
    }
    let (sa, sb) = (SavedTensor::new(&ca), SavedTensor::new(&cb));
    let (ia, ib) = ((a.shape_vec(), a.dtype()), (b.shape_vec(), b.dtype()));
    let need = (a.requires_grad(), b.requires_grad());
    record("Atan2Backward0", &[a, b], &[&out], move |grads| {
        let Some(g) = &grads[0] else {
            return Ok(vec![None, None]);
        };
        let (x, y) = (sa.get()?, sb.get()?);
        // 0 where x^2 + y^2 is 0 (both 0, or squares that underflow), as
        // PyTorch 2.15, not 0 * inf = NaN
        let den = add(&mul(x, x)?, &mul(y, y)?)?;
        let zero = creation::scalar_like(0.0, &den);
        let at_zero = eq(&den, &zero)?;
        let safe = where_(&at_zero, &creation::scalar_like(1.0, &den), &den)?;
        let scale = where_(&at_zero, &zero, &div(g, &safe)?)?;
        let ga = match need.0 {
            true => Some(grad_for(mul(&scale, y)?, &ia)?),
            false => None,
        };
        let gb = match need.1 {
            true => Some(grad_for(unary::neg(&mul(&scale, x)?)?, &ib)?),
            false => None,
        };
        Ok(vec![ga, gb])
    });
    Ok(out)
}

/// Integer operands of a division must not hold a zero divisor.
fn check_int_divisor(b: &Tensor, dtype: DType) -> Result<()> {
    if !dtype.is_float() && b.cast_raw(dtype).to_f64_vec().contains(&0.0) {
        return Err(Error::Runtime("ZeroDivisionError".into()));
    }
    Ok(())
}

/// An integer op computed in int64 and cast back to `dtype` (the results of
/// trunc division and fmod lie within the operands' range).
fn int_map(
    a: &Tensor,
    b: &Tensor,
    dtype: DType,
    f: impl Fn(i64, i64) -> i64 + Sync,
) -> Result<Tensor> {
    let shape = broadcast_shapes(a.shape(), b.shape())?;
    // Each operand wraps into `dtype` first, as PyTorch casts them (a 0-dim
    // int32 -1 against a uint8 tensor is 255 there).
    let wide = |t: &Tensor| t.cast_raw(dtype).cast_raw(DType::I64);
    let out = map2(&wide(a), &wide(b), &shape, |x: i64, y: i64| f(x, y))?;
    Ok(out.cast_raw(dtype))
}

/// `torch.div(a, b, rounding_mode=...)`: None, "trunc" or "floor".
pub fn div_rounding(a: &Tensor, b: &Tensor, mode: Option<&str>) -> Result<Tensor> {
    let dtype = result_dtype(a, b);
    match mode {
        None => div(a, b),
        Some("floor") => binary(BinOp::FloorDiv, a, b),
        Some("trunc") if dtype.is_float() => {
            // Zero gradient for both (not trunc's 0 times div's, which is
            // NaN where b is 0), as PyTorch's DivBackward2.
            let out = {
                let _no_grad = crate::autograd::GradModeGuard::new(false);
                unary::trunc(&div(a, b)?)?
            };
            let (ia, ib) = ((a.shape_vec(), a.dtype()), (b.shape_vec(), b.dtype()));
            record("DivBackward2", &[a, b], &[&out], move |g| {
                let Some(g) = &g[0] else {
                    return Ok(vec![None, None]);
                };
                let zeros = |i: &(Shape, DType)| creation::zeros_on(&i.0, i.1, g.device());
                Ok(vec![Some(zeros(&ia)?), Some(zeros(&ib)?)])
            });
            Ok(out)
        }
        Some("trunc") if dtype == DType::Bool => {
            Err(Error::not_implemented("div_trunc_cpu", DType::Bool))
        }
        Some("trunc") => {
            if broadcast_shapes(a.shape(), b.shape())?
                .iter()
                .product::<usize>()
                > 0
            {
                check_int_divisor(b, dtype)?;
            }
            int_map(a, b, dtype, |x, y| x.wrapping_div(y))
        }
        Some(m) => Err(Error::Runtime(format!(
            "div expected rounding_mode to be one of None, 'trunc', or 'floor' but found '{m}'"
        ))),
    }
}

/// `torch.fmod`: the remainder with the sign of the dividend (C's fmod, so
/// `fmod(x, inf) = x`); d/da = 1, d/db = -trunc(a / b).
pub fn fmod(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let dtype = result_dtype(a, b);
    let out = match dtype {
        d if d.is_float() => {
            let (ca, cb) = (a.cast_raw(dtype), b.cast_raw(dtype));
            let (ca, cb) = (half::widen(&ca), half::widen(&cb));
            let shape = broadcast_shapes(a.shape(), b.shape())?;
            half::narrow(
                match dtype {
                    DType::F64 => map2(&ca, &cb, &shape, |x: f64, y: f64| x % y)?,
                    _ => map2(&ca, &cb, &shape, |x: f32, y: f32| x % y)?,
                },
                dtype,
            )
        }
        DType::Bool => return Err(Error::not_implemented("fmod_cpu", DType::Bool)),
        _ => {
            if broadcast_shapes(a.shape(), b.shape())?
                .iter()
                .product::<usize>()
                > 0
            {
                check_int_divisor(b, dtype)?;
            }
            int_map(a, b, dtype, |x, y| x.wrapping_rem(y))?
        }
    };
    if !crate::autograd::node::needs_grad(&[a, b]) {
        return Ok(out);
    }
    let (sa, sb) = (SavedTensor::new(a), SavedTensor::new(b));
    let (ia, ib) = ((a.shape_vec(), a.dtype()), (b.shape_vec(), b.dtype()));
    let need = (a.requires_grad(), b.requires_grad());
    record("FmodBackward1", &[a, b], &[&out], move |grads| {
        let Some(g) = &grads[0] else {
            return Ok(vec![None, None]);
        };
        let ga = match need.0 {
            true => Some(grad_for(g.clone(), &ia)?),
            false => None,
        };
        let gb = match need.1 {
            true => {
                let q = div_rounding(sa.get()?, sb.get()?, Some("trunc"))?;
                Some(grad_for(unary::neg(&mul(g, &q)?)?, &ib)?)
            }
            false => None,
        };
        Ok(vec![ga, gb])
    });
    Ok(out)
}

/// `torch.fmax`/`torch.fmin`: max/min ignoring a NaN operand. The gradient
/// goes to the chosen operand (split on ties), as PyTorch's.
pub fn fmax_fmin(a: &Tensor, b: &Tensor, max: bool) -> Result<Tensor> {
    let dtype = result_dtype(a, b);
    let (ca, cb) = (unary::to_dtype(a, dtype)?, unary::to_dtype(b, dtype)?);
    let both = binary(if max { BinOp::Maximum } else { BinOp::Minimum }, &ca, &cb)?;
    if !dtype.is_float() {
        return Ok(both);
    }
    // Where one side is NaN the other is taken (and gets the gradient).
    let not_b = where_(&unary::isnan(&ca)?, &cb, &both)?;
    where_(&unary::isnan(&cb)?, &ca, &not_b)
}

/// Comparisons: output bool, no gradient.
pub fn compare(op: CmpOp, a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let dtype = result_dtype(a, b);
    let shape = broadcast_shapes(a.shape(), b.shape())?;
    let (ca, cb) = (a.cast_raw(dtype), b.cast_raw(dtype));
    if a.is_gpu() || b.is_gpu() {
        return crate::gpu::ops::compare(op, &ca, &cb, &shape);
    }
    dispatch_all!(dtype, T => match op {
        CmpOp::Eq => map2(&ca, &cb, &shape, |x: T, y: T| x == y),
        CmpOp::Ne => map2(&ca, &cb, &shape, |x: T, y: T| x != y),
        CmpOp::Lt => map2(&ca, &cb, &shape, |x: T, y: T| x < y),
        CmpOp::Le => map2(&ca, &cb, &shape, |x: T, y: T| x <= y),
        CmpOp::Gt => map2(&ca, &cb, &shape, |x: T, y: T| x > y),
        CmpOp::Ge => map2(&ca, &cb, &shape, |x: T, y: T| x >= y),
    })
}

pub fn eq(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    compare(CmpOp::Eq, a, b)
}

/// Logical and/or/xor of truth values: output bool.
pub fn logical(op: LogicOp, a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let shape = broadcast_shapes(a.shape(), b.shape())?;
    let (ca, cb) = (a.cast_raw(DType::Bool), b.cast_raw(DType::Bool));
    if a.is_gpu() || b.is_gpu() {
        return crate::gpu::ops::bitwise(op, &ca, &cb, &shape);
    }
    match op {
        LogicOp::And => map2(&ca, &cb, &shape, |x: bool, y: bool| x & y),
        LogicOp::Or => map2(&ca, &cb, &shape, |x: bool, y: bool| x | y),
        LogicOp::Xor => map2(&ca, &cb, &shape, |x: bool, y: bool| x ^ y),
    }
}

/// Bitwise and/or/xor for integer and bool tensors (`&`, `|`, `^`).
pub fn bitwise(op: LogicOp, a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let dtype = result_dtype(a, b);
    let shape = broadcast_shapes(a.shape(), b.shape())?;
    let (ca, cb) = (a.cast_raw(dtype), b.cast_raw(dtype));
    if (a.is_gpu() || b.is_gpu()) && !dtype.is_float() {
        return crate::gpu::ops::bitwise(op, &ca, &cb, &shape);
    }
    macro_rules! bit {
        ($T:ty) => {
            match op {
                LogicOp::And => map2(&ca, &cb, &shape, |x: $T, y: $T| x & y),
                LogicOp::Or => map2(&ca, &cb, &shape, |x: $T, y: $T| x | y),
                LogicOp::Xor => map2(&ca, &cb, &shape, |x: $T, y: $T| x ^ y),
            }
        };
    }
    match dtype {
        DType::Bool => bit!(bool),
        DType::U8 => bit!(u8),
        DType::I8 => bit!(i8),
        DType::I16 => bit!(i16),
        DType::I32 => bit!(i32),
        DType::I64 => bit!(i64),
        d => {
            let name = match op {
                LogicOp::And => "bitwise_and_cpu",
                LogicOp::Or => "bitwise_or_cpu",
                LogicOp::Xor => "bitwise_xor_cpu",
            };
            Err(Error::not_implemented(name, d))
        }
    }
}

/// `torch.where(cond, a, b)` with broadcasting, promotion and autograd.
pub fn where_(cond: &Tensor, a: &Tensor, b: &Tensor) -> Result<Tensor> {
    if cond.dtype() != DType::Bool && cond.dtype() != DType::U8 {
        return Err(Error::Runtime(format!(
            "where expected condition to be a boolean tensor, but got a tensor with dtype {}",
            cond.dtype().scalar_name()
        )));
    }
    let dtype = result_dtype(a, b);
    let shape = broadcast_shapes(&broadcast_shapes(cond.shape(), a.shape())?, b.shape())?;
    let c = cond.cast_raw(DType::Bool);
    let (ca, cb) = (a.cast_raw(dtype), b.cast_raw(dtype));
    let gpu = cond.is_gpu() || a.is_gpu() || b.is_gpu();
    let out = if gpu {
        crate::gpu::ops::where_(&c, &ca, &cb, &shape)?
    } else {
        // One side a single value (masked_fill, `where(c, x, 0.0)`): a
        // two-operand map, which selects in vector lanes on contiguous
        // inputs (the three-operand strided walk branched per element on
        // the mask, 40x slower on a random one).
        let full = |t: &Tensor| t.shape() == shape.as_slice();
        dispatch_all!(dtype, T => {
            if ca.numel() == 1 && full(&cb) && full(&c) {
                let v: T = ca.data::<T>()[0];
                super::map::map2(&c, &cb, &shape, move |m: bool, y: T| if m { v } else { y })?
            } else if cb.numel() == 1 && full(&ca) && full(&c) {
                let v: T = cb.data::<T>()[0];
                super::map::map2(&c, &ca, &shape, move |m: bool, x: T| if m { x } else { v })?
            } else {
                super::map::map3(&c, &ca, &cb, &shape, |m: bool, x: T, y: T| if m { x } else { y })?
            }
        })
    };
    if dtype.is_float() && crate::autograd::node::needs_grad(&[a, b]) {
        let (ia, ib) = ((a.shape_vec(), a.dtype()), (b.shape_vec(), b.dtype()));
        let saved_c = c.clone();
        record("WhereBackward0", &[a, b], &[&out], move |grads| {
            let Some(g) = &grads[0] else {
                return Ok(vec![None, None]);
            };
            let zero = creation::scalar_like(0.0, g);
            let ga = grad_for(where_(&saved_c, g, &zero)?, &ia)?;
            let gb = grad_for(where_(&saved_c, &zero, g)?, &ib)?;
            Ok(vec![Some(ga), Some(gb)])
        });
    }
    Ok(out)
}
