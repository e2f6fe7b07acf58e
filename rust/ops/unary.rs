//! Unary elementwise ops and their gradients.
//!
//! Basic math functions write their backward with tensor ops (so gradients of
//! gradients work); activations with non-trivial derivatives use one fused
//! backward kernel instead.

use super::binary::{add, compare, div, logical, mul, reciprocal, sub, where_, CmpOp, LogicOp};
use super::creation::scalar_like;
use super::fusion::{self, Unary};
use super::map::{map1, map2, map3};
use crate::autograd::node::needs_grad;
use crate::autograd::{record, SavedTensor};
use crate::cpu::arith::Arith;
use crate::error::{Error, Result};
use crate::tensor::dtype::num_like::FloatOps;
use crate::tensor::{half, DType, Tensor};
use crate::{dispatch_float, dispatch_numeric};

/// Integer inputs of float functions are computed in float32, as PyTorch does.
fn as_float(x: &Tensor) -> Tensor {
    if x.dtype().is_float() {
        x.clone()
    } else {
        x.cast_raw(DType::F32)
    }
}

/// `out[i] = f(x[i])` over a float tensor; `$f` is generic over f32/f64.
/// `float_map!(x, "name", [params], |v| ...)`: on the wgpu device the kernel is
/// the WGSL expression of that name in `gpu::ops` (params passed as `p(i)`).
// The element closures are `move`: captured by reference, scalar parameters
// (ELU's alpha and scale) were reloaded and converted per element, which
// kept the loop scalar.
macro_rules! float_map {
    ($x:expr, $name:expr, |$v:ident| $body:expr) => {
        float_map!($x, $name, [], |$v| $body)
    };
    ($x:expr, $name:expr, [$($p:expr),*], |$v:ident| $body:expr) => {{
        let x = as_float($x);
        // Half types: computed in float32, rounded once (`tensor::half`).
        let (dtype, x) = (x.dtype(), half::widen(&x));
        let out = if x.is_gpu() {
            gpu_map($name, &[&x], &[$($p as f32),*])?
        } else {
            dispatch_float!(x.dtype(), $name, T => map1(&x, move |$v: T| -> T { $body }))
        };
        half::narrow(out, dtype)
    }};
}

/// `out[i] = f(x[i])` over a numeric tensor (`$f` generic over its type;
/// half types computed in float32).
macro_rules! numeric_map {
    ($x:expr, |$v:ident| $body:expr) => {{
        let (dtype, x) = ($x.dtype(), half::widen($x));
        half::narrow(dispatch_numeric!(x.dtype(), T => map1(&x, |$v: T| $body)), dtype)
    }};
}

/// A named WGSL kernel over device tensors (see `gpu::ops::named`).
fn gpu_map(name: &str, inputs: &[&Tensor], params: &[f32]) -> Result<Tensor> {
    crate::gpu::ops::named(name, inputs, params)
}

/// `out[i] = f(g[i], x[i])` over two same-shaped float tensors: a backward
/// formula, linear in the incoming gradient g. When that gradient must stay
/// differentiable (create_graph with a g that requires grad) it is computed
/// as g * f(1, x), so the product records its graph.
macro_rules! float_map2 {
    ($g:expr, $x:expr, $name:expr, |$gv:ident, $v:ident| $body:expr) => {
        float_map2!($g, $x, $name, [], |$gv, $v| $body)
    };
    ($g:expr, $x:expr, $name:expr, [$($p:expr),*], |$gv:ident, $v:ident| $body:expr) => {{
        let (dtype, wide_x) = ($x.dtype(), half::widen($x));
        let x = &wide_x;
        if x.is_gpu() || $g.is_gpu() {
            gpu_map($name, &[$g, x], &[$($p as f32),*])?
        } else if crate::autograd::grad_mode::is_grad_enabled() && needs_grad(&[$g]) {
            let one = scalar_like(1.0, x);
            let d = dispatch_float!(x.dtype(), $name, T => map2(&one, x, x.shape(), move |$gv: T, $v: T| -> T { $body })?);
            mul($g, &half::narrow(d, dtype))?
        } else {
            let g = half::widen($g);
            half::narrow(dispatch_float!(x.dtype(), $name, T => map2(&g, x, x.shape(), move |$gv: T, $v: T| -> T { $body })?), dtype)
        }
    }};
}

fn saved(t: &Tensor) -> SavedTensor {
    SavedTensor::new(t)
}

pub fn neg(x: &Tensor) -> Result<Tensor> {
    if let Some(out) = fusion::unary(x, Unary::Neg) {
        return Ok(out);
    }
    if x.dtype() == DType::Bool {
        return Err(Error::NotImplemented(
            "Negation, the `-` operator, on a bool tensor is not supported. If you are trying to invert a mask, use the `~` or `logical_not()` operator instead.".into(),
        ));
    }
    let out = if x.is_gpu() {
        gpu_map("neg", &[x], &[])?
    } else {
        numeric_map!(x, |v| Arith::neg(v))
    };
    record("NegBackward0", &[x], &[&out], |g| {
        Ok(vec![g[0].as_ref().map(neg).transpose()?])
    });
    Ok(out)
}

pub fn abs(x: &Tensor) -> Result<Tensor> {
    if let Some(out) = fusion::unary(x, Unary::Abs) {
        return Ok(out);
    }
    if x.dtype() == DType::Bool {
        return Err(Error::not_implemented("abs_cpu", DType::Bool));
    }
    let out = if x.is_gpu() {
        gpu_map("abs", &[x], &[])?
    } else {
        numeric_map!(x, |v| Arith::abs(v))
    };
    let sx = saved(x);
    record("AbsBackward0", &[x], &[&out], move |g| {
        let Some(g) = &g[0] else {
            return Ok(vec![None]);
        };
        Ok(vec![Some(mul(g, &sign(sx.get()?)?)?)])
    });
    Ok(out)
}

pub fn sign(x: &Tensor) -> Result<Tensor> {
    if x.dtype() == DType::Bool {
        return Ok(x.clone());
    }
    let out = if x.is_gpu() {
        gpu_map("sign", &[x], &[])?
    } else {
        numeric_map!(x, |v| Arith::sign(v))
    };
    record_zero_grad("SignBackward0", x, &out);
    Ok(out)
}

/// Ops whose derivative is zero almost everywhere (floor, round, sign, ...).
fn record_zero_grad(name: &'static str, x: &Tensor, out: &Tensor) {
    record(name, &[x], &[out], |g| {
        Ok(vec![g[0]
            .as_ref()
            .map(|g| mul(g, &scalar_like(0.0, g)))
            .transpose()?])
    });
}

pub fn exp(x: &Tensor) -> Result<Tensor> {
    if let Some(out) = fusion::unary(x, Unary::Exp) {
        return Ok(out);
    }
    let out = float_map!(x, "exp", |v| v.fast_exp());
    let so = SavedTensor::output(&out);
    record("ExpBackward0", &[x], &[&out], move |g| {
        let Some(g) = &g[0] else {
            return Ok(vec![None]);
        };
        let o = so.unpack()?;
        Ok(vec![Some(mul(g, &o)?)])
    });
    Ok(out)
}

pub fn log(x: &Tensor) -> Result<Tensor> {
    if let Some(out) = fusion::unary(x, Unary::Log) {
        return Ok(out);
    }
    let out = float_map!(x, "log", |v| v.fast_ln());
    let sx = saved(x);
    record("LogBackward0", &[x], &[&out], move |g| {
        let Some(g) = &g[0] else {
            return Ok(vec![None]);
        };
        Ok(vec![Some(div(g, sx.get()?)?)])
    });
    Ok(out)
}

pub fn log1p(x: &Tensor) -> Result<Tensor> {
    let out = float_map!(x, "log1p", |v| v.fast_ln_1p());
    let sx = saved(x);
    record("Log1PBackward0", &[x], &[&out], move |g| {
        let Some(g) = &g[0] else {
            return Ok(vec![None]);
        };
        let x = sx.get()?;
        Ok(vec![Some(div(
            g,
            &super::binary::add(x, &scalar_like(1.0, x))?,
        )?)])
    });
    Ok(out)
}

pub fn sqrt(x: &Tensor) -> Result<Tensor> {
    if let Some(out) = fusion::unary(x, Unary::Sqrt) {
        return Ok(out);
    }
    let out = float_map!(x, "sqrt", |v| v.sqrt());
    let so = SavedTensor::output(&out);
    record("SqrtBackward0", &[x], &[&out], move |g| {
        let Some(g) = &g[0] else {
            return Ok(vec![None]);
        };
        let o = &so.unpack()?;
        Ok(vec![Some(div(g, &mul(o, &scalar_like(2.0, o))?)?)])
    });
    Ok(out)
}

pub fn rsqrt(x: &Tensor) -> Result<Tensor> {
    let out = float_map!(x, "rsqrt", |v| T::c(1.0) / v.sqrt());
    let so = SavedTensor::output(&out);
    record("RsqrtBackward0", &[x], &[&out], move |g| {
        let Some(g) = &g[0] else {
            return Ok(vec![None]);
        };
        let o = &so.unpack()?;
        let o3 = mul(&mul(o, o)?, o)?;
        Ok(vec![Some(mul(g, &mul(&o3, &scalar_like(-0.5, o))?)?)])
    });
    Ok(out)
}

/// Record `g * dy/dx` (or `g / d`, `divide`) as the backward of `out = f(x)`,
/// `d = derivative(x)` written with tensor ops of the saved input, so
/// gradients of gradients work.
fn record_derivative(
    node: &'static str,
    x: &Tensor,
    out: &Tensor,
    divide: bool,
    derivative: fn(&Tensor) -> Result<Tensor>,
) {
    let sx = saved(x);
    record(node, &[x], &[out], move |g| {
        let Some(g) = &g[0] else {
            return Ok(vec![None]);
        };
        let d = derivative(sx.get()?)?;
        Ok(vec![Some(if divide { div(g, &d)? } else { mul(g, &d)? })])
    });
}

/// Float functions of one argument (integer and bool inputs computed in
/// float32), each `name, "Node", |v| element value, * |x| dy/dx;` (or
/// `/ |x| d;` for a backward `g / d`, as PyTorch writes atan's and atanh's).
/// `name` is also the wgpu kernel's name (`gpu::ops::unary_expr`; the
/// inverse trigonometric / hyperbolic functions and erfinv have none yet, so
/// on the device they raise).
macro_rules! math_fns {
    ($($(#[$doc:meta])* $fname:ident, $node:literal, |$v:ident| $fwd:expr, $op:tt |$x:ident| $der:expr;)*) => {$(
        $(#[$doc])*
        pub fn $fname(x: &Tensor) -> Result<Tensor> {
            let out = float_map!(x, stringify!($fname), |$v| $fwd);
            fn derivative($x: &Tensor) -> Result<Tensor> {
                Ok($der)
            }
            record_derivative($node, x, &out, math_fns!(@divide $op), derivative);
            Ok(out)
        }
    )*};
    (@divide *) => { false };
    (@divide /) => { true };
}

/// 1 - x^2 and x^2 + c, for the inverse trigonometric derivatives.
fn one_minus_sq(x: &Tensor) -> Result<Tensor> {
    sub(&scalar_like(1.0, x), &mul(x, x)?)
}
fn sq_plus(x: &Tensor, c: f64) -> Result<Tensor> {
    super::binary::add(&mul(x, x)?, &scalar_like(c, x))
}

math_fns! {
    sin, "SinBackward0", |v| v.sin(), * |x| cos(x)?;
    cos, "CosBackward0", |v| v.cos(), * |x| neg(&sin(x)?)?;
    /// e^x - 1, accurate for small x (libm's expm1; `exp(x) - 1` keeps no
    /// digit below |x| ~ 1e-7 in float32).
    expm1, "Expm1Backward0", |v| FloatOps::exp_m1(v), * |x| exp(x)?;
    /// d erf(x) / dx = 2 / sqrt(pi) * e^(-x^2)
    erf, "ErfBackward0", |v| FloatOps::erf(v), * |x| mul(
        &exp(&mul(&mul(x, x)?, &scalar_like(-1.0, x))?)?,
        &scalar_like(std::f64::consts::FRAC_2_SQRT_PI, x),
    )?;
    /// NaN outside [-1, 1]; the gradient is infinite at +-1.
    asin, "AsinBackward0", |v| FloatOps::asin(v), * |x| rsqrt(&one_minus_sq(x)?)?;
    acos, "AcosBackward0", |v| FloatOps::acos(v), * |x| neg(&rsqrt(&one_minus_sq(x)?)?)?;
    atan, "AtanBackward0", |v| FloatOps::atan(v), / |x| sq_plus(x, 1.0)?;
    sinh, "SinhBackward0", |v| FloatOps::sinh(v), * |x| cosh(x)?;
    cosh, "CoshBackward0", |v| FloatOps::cosh(v), * |x| sinh(x)?;
    asinh, "AsinhBackward0", |v| FloatOps::asinh(v), * |x| rsqrt(&sq_plus(x, 1.0)?)?;
    /// NaN below 1.
    acosh, "AcoshBackward0", |v| FloatOps::acosh(v), * |x| rsqrt(&sq_plus(x, -1.0)?)?;
    /// +-inf at +-1, NaN outside [-1, 1].
    atanh, "AtanhBackward0", |v| FloatOps::atanh(v), / |x| one_minus_sq(x)?;
    /// The inverse of erf: +-inf at +-1, NaN outside [-1, 1]; its derivative
    /// is sqrt(pi) / 2 * e^(erfinv(x)^2).
    erfinv, "ErfinvBackward0", |v| FloatOps::erfinv(v), * |x| {
        let y = erfinv(x)?;
        mul(&exp(&mul(&y, &y)?)?, &scalar_like(std::f64::consts::PI.sqrt() / 2.0, x))?
    };
    /// 1 - erf(x) without the cancellation; d/dx = -2 / sqrt(pi) * e^(-x^2).
    erfc, "ErfcBackward0", |v| FloatOps::erfc(v), * |x| mul(
        &exp(&mul(&mul(x, x)?, &scalar_like(-1.0, x))?)?,
        &scalar_like(-std::f64::consts::FRAC_2_SQRT_PI, x),
    )?;
    /// ln |Gamma(x)|: +inf at 0 and the negative integers; d/dx = digamma(x).
    lgamma, "LgammaBackward0", |v| FloatOps::lgamma(v), * |x| digamma(x)?;
    /// psi(x); d/dx = polygamma(1, x).
    digamma, "DigammaBackward0", |v| FloatOps::digamma(v), * |x| polygamma(1, x)?;
}

/// `torch.polygamma(n, x)`: the n-th derivative of digamma (n >= 0);
/// d/dx = polygamma(n + 1, x).
pub fn polygamma(n: i64, x: &Tensor) -> Result<Tensor> {
    if n < 0 {
        return Err(Error::Runtime(
            "polygamma(n, x) does not support negative n.".into(),
        ));
    }
    if n == 0 {
        return digamma(x);
    }
    let order = n as u32;
    let out = if order == 1 {
        float_map!(x, "polygamma", |v| FloatOps::trigamma(v))
    } else {
        float_map!(x, "polygamma", |v| {
            <T as crate::tensor::dtype::Elem>::from_f64(crate::cpu::special::polygamma_f64(
                order,
                crate::tensor::dtype::Elem::to_f64(v),
            ))
        })
    };
    let sx = saved(x);
    record("PolygammaBackward0", &[x], &[&out], move |g| {
        let Some(g) = &g[0] else {
            return Ok(vec![None]);
        };
        Ok(vec![Some(mul(g, &polygamma(n + 1, sx.get()?)?)?)])
    });
    Ok(out)
}

pub fn tanh(x: &Tensor) -> Result<Tensor> {
    if let Some(out) = fusion::unary(x, Unary::Tanh) {
        return Ok(out);
    }
    let out = float_map!(x, "tanh", |v| v.fast_tanh());
    let so = SavedTensor::output(&out);
    record("TanhBackward0", &[x], &[&out], move |g| {
        let Some(g) = &g[0] else {
            return Ok(vec![None]);
        };
        // (one kernel in PyTorch: for half types, one rounding)
        let o = so.unpack()?;
        let gx = in_f32(&[g, &o], |w| {
            let (g, o) = (&w[0], &w[1]);
            mul(g, &sub(&scalar_like(1.0, o), &mul(o, o)?)?)
        })?;
        Ok(vec![Some(gx)])
    });
    Ok(out)
}

pub fn sigmoid(x: &Tensor) -> Result<Tensor> {
    if let Some(out) = fusion::unary(x, Unary::Sigmoid) {
        return Ok(out);
    }
    let out = float_map!(x, "sigmoid", |v| T::c(1.0) / (T::c(1.0) + (-v).fast_exp()));
    let so = SavedTensor::output(&out);
    record("SigmoidBackward0", &[x], &[&out], move |g| {
        let Some(g) = &g[0] else {
            return Ok(vec![None]);
        };
        let o = so.unpack()?;
        let gx = in_f32(&[g, &o], |w| {
            let (g, o) = (&w[0], &w[1]);
            mul(g, &mul(o, &sub(&scalar_like(1.0, o), o)?)?)
        })?;
        Ok(vec![Some(gx)])
    });
    Ok(out)
}

pub fn relu(x: &Tensor) -> Result<Tensor> {
    if let Some(out) = fusion::unary(x, Unary::Relu) {
        return Ok(out);
    }
    if x.dtype() == DType::Bool {
        return Err(Error::NotImplemented(
            "Boolean inputs not supported for relu".into(),
        ));
    }
    let out = if x.is_gpu() {
        gpu_map("relu", &[x], &[])?
    } else if x.dtype() == DType::BF16 && x.is_contiguous() {
        let xc = x.contiguous_raw();
        let src = xc.as_slice::<::half::bf16>().expect("contiguous");
        let mut out = crate::tensor::pool::uninit_vec::<::half::bf16>(src.len());
        crate::cpu::bf16_relu::relu(src, &mut out);
        Tensor::from_vec(out, x.shape())
    } else {
        // NaN stays NaN and -0.0 stays -0.0, as PyTorch's clamp_min(0).
        numeric_map!(x, |v| if v < T::default() { T::default() } else { v })
    };
    record_relu(x, &out);
    Ok(out)
}

/// `relu(x)` for an `x` the caller hands over with the only handle on its
/// buffer (a fresh result): the elements are clamped where they are, and the
/// result shares the buffer. Same values and graph as `relu`, which it falls
/// back to when `x` is shared or not a contiguous float32 CPU tensor.
pub fn relu_owned(x: Tensor) -> Result<Tensor> {
    let st = x.storage();
    // (a view of a base that only the view holds, as `addmm_relu` makes, is
    // the base's one other handle on the buffer)
    let base_handles = match x.view_base() {
        None => 0,
        Some(b) if std::sync::Arc::strong_count(&b.0) == 2 => 1,
        Some(_) => usize::MAX,
    };
    let sole = std::sync::Arc::strong_count(&x.0) == 1
        && std::sync::Arc::strong_count(st) == 1 + base_handles
        && !st.is_exported();
    if !sole || x.dtype() != DType::F32 || x.is_gpu() || x.is_meta() || !x.is_contiguous() {
        return relu(&x);
    }
    {
        // SAFETY: no other handle on the buffer exists (checked above).
        let buf = unsafe { st.buffer_mut() };
        let Some(data) = <f32 as crate::tensor::storage::BufferElem>::slice_mut(buf) else {
            return relu(&x);
        };
        let own = &mut data[x.offset()..x.offset() + x.numel()];
        // relu's element function: NaN and -0.0 stay as they are
        // (a select that writes every element vectorizes; a conditional
        // store was a branch per element, mispredicted half the time)
        crate::parallel::fill_chunks(own, |_, c| {
            c.iter_mut()
                .for_each(|v| *v = if *v < 0.0 { 0.0 } else { *v })
        });
    }
    st.bump_version();
    let out = x.detach();
    record_relu(&x, &out);
    Ok(out)
}

/// `relu(x)` for an `x` whose elements already are relu's values (a GEMM
/// stored them clamped): the result shares the buffer, with relu's graph.
pub fn relu_of_clamped(x: Tensor) -> Tensor {
    let out = x.detach();
    record_relu(&x, &out);
    out
}

/// relu's graph node: the gradient passes where the output is positive.
fn record_relu(x: &Tensor, out: &Tensor) {
    let so = SavedTensor::output(out);
    record("ReluBackward0", &[x], &[out], move |g| {
        let Some(g) = &g[0] else {
            return Ok(vec![None]);
        };
        let o = &so.unpack()?;
        // Fused single pass (PyTorch's threshold_backward: gy where out > 0
        // else 0) unless a differentiable backward is needed (create_graph).
        if g.dtype() == o.dtype()
            && g.dtype().is_float()
            && g.shape() == o.shape()
            && !(crate::autograd::grad_mode::is_grad_enabled() && needs_grad(&[g, o]))
        {
            if let Some(gx) = threshold_backward_bf16(g, o) {
                return Ok(vec![Some(gx)]);
            }
            return Ok(vec![Some(float_map2!(
                g,
                o,
                "threshold_backward",
                |gv, v| if v <= T::c(0.0) { T::c(0.0) } else { gv }
            ))]);
        }
        // (a NaN result passes the gradient: PyTorch tests result <= 0)
        let off = compare(CmpOp::Le, o, &scalar_like(0.0, o))?;
        Ok(vec![Some(where_(&off, &scalar_like(0.0, g), g)?)])
    });
}

/// bf16 `threshold_backward` in one pass over the bf16 values (selecting
/// needs no widening): gy where out > 0 (or NaN), else 0. `None` when an
/// operand is not a host bf16 tensor.
fn threshold_backward_bf16(g: &Tensor, o: &Tensor) -> Option<Tensor> {
    use ::half::bf16;
    if g.dtype() != DType::BF16 || o.dtype() != DType::BF16 || g.is_gpu() || o.is_gpu() {
        return None;
    }
    let (gv, ov) = (g.data::<bf16>(), o.data::<bf16>());
    let mut out = crate::tensor::pool::uninit_vec::<bf16>(gv.len());
    crate::cpu::bf16_relu::threshold_backward(&gv, &ov, &mut out);
    Some(Tensor::from_vec(out, g.shape()))
}

macro_rules! rounding {
    ($fname:ident, $node:expr, $method:ident) => {
        pub fn $fname(x: &Tensor) -> Result<Tensor> {
            if x.dtype() == DType::Bool {
                return Err(Error::not_implemented(
                    concat!(stringify!($fname), "_vml_cpu"),
                    DType::Bool,
                ));
            }
            if !x.dtype().is_float() {
                return Ok(x.clone());
            }
            let out = float_map!(x, stringify!($fname), |v| v.$method());
            record_zero_grad($node, x, &out);
            Ok(out)
        }
    };
}
rounding!(floor, "FloorBackward0", floor);
rounding!(ceil, "CeilBackward0", ceil);
rounding!(round, "RoundBackward0", round_even);
rounding!(trunc, "TruncBackward0", trunc_);

/// Round to `decimals` places (`torch.round(x, decimals=d)`).
pub fn round_decimals(x: &Tensor, decimals: i64) -> Result<Tensor> {
    if decimals == 0 {
        return round(x);
    }
    crate::error::require_float(x, "round_cpu")?;
    let s = 10f64.powi(decimals as i32);
    let out = float_map!(x, "round", |v| (v * T::c(s)).round_even() / T::c(s));
    record_zero_grad("RoundBackward1", x, &out);
    Ok(out)
}

/// `clamp(x, min, max)`; the gradient passes where min <= x <= max.
pub fn clamp(x: &Tensor, min: Option<f64>, max: Option<f64>) -> Result<Tensor> {
    if min.is_none() && max.is_none() {
        return Err(Error::Runtime(
            "torch.clamp: At least one of 'min' or 'max' must not be None".into(),
        ));
    }
    let (lo, hi) = (
        min.unwrap_or(f64::NEG_INFINITY),
        max.unwrap_or(f64::INFINITY),
    );
    if let Some((lowest, highest)) = x.dtype().integer_range() {
        // Only a bound that excludes every value of the dtype is refused
        // (uint8 clamp(min=-3) is no clamp; clamp(max=-1) raises).
        for (bound, which) in [(min, "min"), (max, "max")] {
            let outside = |v: &f64| {
                if which == "min" {
                    *v > highest
                } else {
                    *v < lowest
                }
            };
            if let Some(v) = bound.filter(outside) {
                return Err(Error::Runtime(format!(
                    "Clamp {which} value {v} is outside the representable range of {}",
                    x.dtype().scalar_name()
                )));
            }
        }
    }
    let out = if x.dtype().is_float() {
        float_map!(x, "clamp", [lo, hi], |v| {
            if v.is_nan() {
                v
            } else {
                // A NaN bound gives NaN, as in PyTorch.
                let v = if v < T::c(lo) || T::c(lo).is_nan() {
                    T::c(lo)
                } else {
                    v
                };
                if v > T::c(hi) || T::c(hi).is_nan() {
                    T::c(hi)
                } else {
                    v
                }
            }
        })
    } else {
        // In int64, not f64: int64 values past 2^53 stay exact (`as`
        // saturates the bounds, which the checks above keep in range).
        let (lo, hi) = (
            lo.max(i64::MIN as f64) as i64,
            hi.min(i64::MAX as f64) as i64,
        );
        let r = map1(&x.cast_raw(DType::I64), move |v: i64| v.max(lo).min(hi));
        r.cast_raw(x.dtype())
    };
    let sx = saved(x);
    record("ClampBackward1", &[x], &[&out], move |g| {
        let Some(g) = &g[0] else {
            return Ok(vec![None]);
        };
        let x = sx.get()?;
        // The gradient passes strictly inside the bounds given (0 at a bound
        // itself and at NaN), as PyTorch 2.15; an absent bound passes all
        // (clamp(min=1) of inf has gradient 1). 2.13 passed at the bounds too:
        // tools/differential/README.md lists this version difference.
        let (has_lo, has_hi) = (min.is_some(), max.is_some());
        let (lo_flag, hi_flag) = (f64::from(u8::from(has_lo)), f64::from(u8::from(has_hi)));
        let m = float_map2!(
            g,
            x,
            "clamp_backward",
            [lo, hi, lo_flag, hi_flag],
            |gv, v| if (!has_lo || v > T::c(lo)) && (!has_hi || v < T::c(hi)) {
                gv
            } else {
                T::c(0.0)
            }
        );
        Ok(vec![Some(m)])
    });
    Ok(out)
}

/// `x.to(dtype)` with autograd between float types.
/// A composite op (one written with other ops) on a half tensor, computed
/// in float32 between differentiable casts, so it rounds once as PyTorch's
/// float-accumulating half kernels do (`tensor::half`); `None` for other dtypes.
pub fn composite_in_f32(
    x: &Tensor,
    f: impl FnOnce(&Tensor) -> Result<Tensor>,
) -> Option<Result<Tensor>> {
    if !x.dtype().is_half() {
        return None;
    }
    Some(in_f32(&[x], |w| f(&w[0])))
}

/// `f(inputs)`, with half inputs cast to float32 and the result cast back
/// to the first half input's type, all differentiable (backward formulas of
/// ops whose PyTorch kernel computes in float; create_graph still works).
pub fn in_f32(inputs: &[&Tensor], f: impl FnOnce(&[Tensor]) -> Result<Tensor>) -> Result<Tensor> {
    let half = inputs.iter().map(|t| t.dtype()).find(|d| d.is_half());
    let wide = inputs
        .iter()
        .map(|t| {
            if t.dtype().is_half() {
                to_dtype(t, DType::F32)
            } else {
                Ok((*t).clone())
            }
        })
        .collect::<Result<Vec<_>>>()?;
    let out = f(&wide)?;
    match half {
        Some(d) if out.dtype() == DType::F32 => to_dtype(&out, d),
        _ => Ok(out),
    }
}

pub fn to_dtype(x: &Tensor, dtype: DType) -> Result<Tensor> {
    if x.dtype() == dtype {
        return Ok(x.clone());
    }
    if x.is_gpu() {
        crate::gpu::wgsl_type(dtype)?;
    }
    let out = x.cast_raw(dtype);
    let out = if out.same_tensor(x) {
        x.with_layout(x.layout().clone())
    } else {
        out
    };
    if dtype.is_float() && x.dtype().is_float() {
        let src = x.dtype();
        record("ToCopyBackward0", &[x], &[&out], move |g| {
            Ok(vec![g[0].as_ref().map(|g| to_dtype(g, src)).transpose()?])
        });
    }
    Ok(out)
}

/// An activation with a fused backward kernel: `df(x, y)` is dy/dx at
/// input x with output y. `derivative` is the same dy/dx written with
/// differentiable tensor ops: under `create_graph` the gradient is
/// `g * derivative(x)`, so gradients of every order see its dependence on x
/// (the fused kernel's result would be a constant to autograd).
fn activation<F32F, F64F, F32D, F64D>(
    name: &'static str,
    x: &Tensor,
    f32f: F32F,
    f64f: F64F,
    f32d: F32D,
    f64d: F64D,
    derivative: fn(&Tensor) -> Result<Tensor>,
) -> Result<Tensor>
where
    F32F: Fn(f32) -> f32 + Sync + Send,
    F64F: Fn(f64) -> f64 + Sync + Send,
    F32D: Fn(f32, f32) -> f32 + Sync + Send + 'static,
    F64D: Fn(f64, f64) -> f64 + Sync + Send + 'static,
{
    let x = &as_float(x);
    let out = match x.dtype() {
        _ if x.is_gpu() => gpu_map(name, &[x], &[])?,
        DType::F32 => map1(x, f32f),
        d if d.is_half() => half::narrow(map1(&half::widen(x), f32f), d),
        _ => map1(x, f64f),
    };
    let (sx, so) = (saved(x), SavedTensor::output(&out));
    record(name, &[x], &[&out], move |g| {
        let Some(g) = &g[0] else {
            return Ok(vec![None]);
        };
        let (x, y) = (sx.get()?, so.get()?);
        if crate::autograd::is_grad_enabled() && x.requires_grad() {
            return Ok(vec![Some(differentiable_derivative(g, x, derivative)?)]);
        }
        // g * f'(x) in one pass when g matches x (as autograd's gradients do)
        // and no differentiable backward is needed (create_graph with a g
        // that requires grad: then `mul` below records the product).
        let fused = !x.is_gpu()
            && !g.is_gpu()
            && g.dtype() == x.dtype()
            && g.shape() == x.shape()
            && !(crate::autograd::grad_mode::is_grad_enabled() && needs_grad(&[g]));
        let d = match x.dtype() {
            _ if x.is_gpu() => gpu_map(&format!("{name}:derivative"), &[x, y], &[])?,
            h if h.is_half() => {
                let (x, y) = (&half::widen(x), &half::widen(y));
                if fused {
                    let gx = scaled_derivative(&half::widen(g), x, y, &f32d)?;
                    return Ok(vec![Some(half::narrow(gx, h))]);
                }
                half::narrow(map2(x, y, x.shape(), |a: f32, b: f32| f32d(a, b))?, h)
            }
            DType::F32 if fused => return Ok(vec![Some(scaled_derivative(g, x, y, &f32d)?)]),
            DType::F32 => map2(x, y, x.shape(), |a: f32, b: f32| f32d(a, b))?,
            _ if fused => return Ok(vec![Some(scaled_derivative(g, x, y, &f64d)?)]),
            _ => map2(x, y, x.shape(), |a: f64, b: f64| f64d(a, b))?,
        };
        Ok(vec![Some(mul(g, &d)?)])
    });
    Ok(out)
}

/// `g * derivative(x)` recorded op by op (half types computed in float32
/// and rounded once, as the fused kernel does).
fn differentiable_derivative(
    g: &Tensor,
    x: &Tensor,
    derivative: fn(&Tensor) -> Result<Tensor>,
) -> Result<Tensor> {
    in_f32(&[g, x], |w| mul(&w[0], &derivative(&w[1])?))
}

/// A number like `x` (scalar_like, shorter in the derivative formulas).
fn k(v: f64, x: &Tensor) -> Tensor {
    scalar_like(v, x)
}

/// `x op v` as a 0/1 mask of x's dtype: no graph (a piecewise constant).
fn mask(op: CmpOp, x: &Tensor, v: f64) -> Result<Tensor> {
    to_dtype(&compare(op, x, &k(v, x))?, x.dtype())
}

/// g * f'(x, y) over same-shaped operands in one pass.
fn scaled_derivative<T: FloatOps + crate::tensor::storage::BufferElem>(
    g: &Tensor,
    x: &Tensor,
    y: &Tensor,
    derivative: &(impl Fn(T, T) -> T + Sync + Send),
) -> Result<Tensor> {
    map3(
        g,
        x,
        y,
        x.shape(),
        #[inline(always)]
        |gv: T, a: T, b: T| gv * derivative(a, b),
    )
}

/// Define an activation once, generic over the float type.
macro_rules! act {
    ($name:expr, $x:expr, |$v:ident| $f:expr, |$dv:ident, $dy:ident| $d:expr, ops |$ox:ident| $od:expr) => {{
        fn ops_derivative($ox: &Tensor) -> Result<Tensor> {
            $od
        }
        #[inline(always)]
        fn fwd<T: FloatOps>($v: T) -> T {
            $f
        }
        #[inline(always)]
        #[allow(unused_variables)]
        fn der<T: FloatOps>($dv: T, $dy: T) -> T {
            $d
        }
        // Closures marked inline(always), not the fn items: a fn item is
        // called through a shim that LLVM declined to inline into the
        // element loop once the body had grown (erf, exp), which kept the
        // loop scalar with a call per element.
        activation(
            $name,
            $x,
            #[inline(always)]
            |v: f32| fwd(v),
            #[inline(always)]
            |v: f64| fwd(v),
            #[inline(always)]
            |v: f32, y: f32| der(v, y),
            #[inline(always)]
            |v: f64, y: f64| der(v, y),
            ops_derivative,
        )
    }};
}

pub fn leaky_relu(x: &Tensor, slope: f64) -> Result<Tensor> {
    crate::error::require_float(x, "leaky_relu_cpu")?;
    let x = &as_float(x);
    let out = float_map!(x, "leaky_relu", [slope], |v| if v > T::c(0.0) {
        v
    } else {
        v * T::c(slope)
    });
    let sx = saved(x);
    record("LeakyReluBackward0", &[x], &[&out], move |g| {
        let Some(g) = &g[0] else {
            return Ok(vec![None]);
        };
        let x = sx.get()?;
        Ok(vec![Some(float_map2!(
            g,
            x,
            "leaky_relu_backward",
            [slope],
            |gv, v| if v > T::c(0.0) { gv } else { gv * T::c(slope) }
        ))])
    });
    Ok(out)
}

pub fn gelu(x: &Tensor, tanh_approx: bool) -> Result<Tensor> {
    crate::error::require_float(x, "GeluKernelImpl")?;
    if tanh_approx && x.is_gpu() {
        return Err(Error::Runtime(
            "gelu(approximate='tanh') is not implemented on the wgpu device; use approximate='none'".into(),
        ));
    }
    if tanh_approx {
        act!(
            "GeluBackward0",
            x,
            |v| {
                let k = T::c(0.7978845608028654);
                let inner = k * (v + T::c(0.044715) * v * v * v);
                T::c(0.5) * v * (T::c(1.0) + inner.fast_tanh())
            },
            |v, _y| {
                let k = T::c(0.7978845608028654);
                let inner = k * (v + T::c(0.044715) * v * v * v);
                let t = inner.fast_tanh();
                let dinner = k * (T::c(1.0) + T::c(3.0 * 0.044715) * v * v);
                T::c(0.5) * (T::c(1.0) + t) + T::c(0.5) * v * (T::c(1.0) - t * t) * dinner
            },
            ops | x | {
                let (kk, c) = (0.7978845608028654, 0.044715);
                let x2 = mul(x, x)?;
                let inner = mul(&add(x, &mul(&mul(&x2, x)?, &k(c, x))?)?, &k(kk, x))?;
                let t = tanh(&inner)?;
                let dinner = mul(&add(&mul(&x2, &k(3.0 * c, x))?, &k(1.0, x))?, &k(kk, x))?;
                let left = mul(&add(&t, &k(1.0, x))?, &k(0.5, x))?;
                let sech2 = sub(&k(1.0, x), &mul(&t, &t)?)?;
                add(&left, &mul(&mul(&mul(x, &k(0.5, x))?, &sech2)?, &dinner)?)
            }
        )
    } else {
        act!(
            "GeluBackward0",
            x,
            |v| v * v.normal_cdf_pdf().0,
            |v, _y| {
                let (cdf, pdf) = v.normal_cdf_pdf();
                cdf + v * pdf
            },
            ops | x | {
                // Phi(x) + x phi(x)
                let cdf = mul(
                    &add(
                        &erf(&mul(x, &k(std::f64::consts::FRAC_1_SQRT_2, x))?)?,
                        &k(1.0, x),
                    )?,
                    &k(0.5, x),
                )?;
                let pdf = mul(
                    &exp(&mul(&mul(x, x)?, &k(-0.5, x))?)?,
                    &k(0.3989422804014327, x),
                )?;
                add(&cdf, &mul(x, &pdf)?)
            }
        )
    }
}

pub fn silu(x: &Tensor) -> Result<Tensor> {
    crate::error::require_float(x, "silu_cpu")?;
    act!(
        "SiluBackward0",
        x,
        |v| v / (T::c(1.0) + (-v).fast_exp()),
        |v, _y| {
            let s = T::c(1.0) / (T::c(1.0) + (-v).fast_exp());
            s * (T::c(1.0) + v * (T::c(1.0) - s))
        },
        ops | x | {
            let s = sigmoid(x)?;
            let one = k(1.0, x);
            mul(&s, &add(&one, &mul(x, &sub(&one, &s)?)?)?)
        }
    )
}

pub fn mish(x: &Tensor) -> Result<Tensor> {
    crate::error::require_float(x, "mish_cpu")?;
    act!(
        "MishBackward0",
        x,
        |v| v * softplus1(v).fast_tanh(),
        |v, _y| {
            let t = softplus1(v).fast_tanh();
            let s = T::c(1.0) / (T::c(1.0) + (-v).fast_exp());
            t + v * s * (T::c(1.0) - t * t)
        },
        ops | x | {
            let t = tanh(&softplus(x, 1.0, 20.0)?)?;
            let s = sigmoid(x)?;
            let sech2 = sub(&k(1.0, x), &mul(&t, &t)?)?;
            add(&t, &mul(&mul(x, &s)?, &sech2)?)
        }
    )
}

pub fn softsign(x: &Tensor) -> Result<Tensor> {
    act!(
        "SoftsignBackward0",
        x,
        |v| v / (T::c(1.0) + v.abs()),
        |v, _y| {
            // PyTorch's gradient, 1/(1+|x|) - |x|/(1+|x|)^2, is inf - inf
            // = NaN at +-inf (not the limit 0).
            let d = T::c(1.0) + v.abs();
            if v.abs() == T::c(f64::INFINITY) {
                return T::c(f64::NAN);
            }
            T::c(1.0) / (d * d)
        },
        ops | x | {
            // PyTorch's composite: 1/(1+|x|) - |x|/(1+|x|)^2
            let a = abs(x)?;
            let q = add(&a, &k(1.0, x))?;
            sub(&reciprocal(&q)?, &div(&a, &mul(&q, &q)?)?)
        }
    )
}

pub fn hardsigmoid(x: &Tensor) -> Result<Tensor> {
    crate::error::require_float(x, "hardsigmoid_cpu")?;
    act!(
        "HardsigmoidBackward0",
        x,
        |v| clampf(v / T::c(6.0) + T::c(0.5), T::c(0.0), T::c(1.0)),
        // (PyTorch's constant is the float 1.0f / 6.0f, for doubles too)
        |v, _y| if v > T::c(-3.0) && v < T::c(3.0) {
            T::c(ONE_SIXTH_F32)
        } else {
            T::c(0.0)
        },
        ops | x | {
            // piecewise constant: no graph of its own
            let inside = mul(&mask(CmpOp::Gt, x, -3.0)?, &mask(CmpOp::Lt, x, 3.0)?)?;
            mul(&inside, &k(ONE_SIXTH_F32, x))
        }
    )
}

pub fn hardswish(x: &Tensor) -> Result<Tensor> {
    crate::error::require_float(x, "hardswish_cpu")?;
    act!(
        "HardswishBackward0",
        x,
        |v| v * clampf(v + T::c(3.0), T::c(0.0), T::c(6.0)) / T::c(6.0),
        // (PyTorch's kernel: 0 at -3, 1 at 3, NaN at NaN)
        |v, _y| if v <= T::c(-3.0) {
            T::c(0.0)
        } else if v >= T::c(3.0) {
            T::c(1.0)
        } else {
            v / T::c(3.0) + T::c(0.5)
        },
        ops | x | {
            // x/3 + 1/2 strictly inside (-3, 3), constants outside
            let outside = where_(&compare(CmpOp::Le, x, &k(-3.0, x))?, &k(0.0, x), &k(1.0, x))?;
            let inside = logical(
                LogicOp::Or,
                &compare(CmpOp::Le, x, &k(-3.0, x))?,
                &compare(CmpOp::Ge, x, &k(3.0, x))?,
            )?;
            let inside = logical_not(&inside)?;
            where_(
                &inside,
                &add(&mul(x, &k(1.0 / 3.0, x))?, &k(0.5, x))?,
                &outside,
            )
        }
    )
}

pub fn hardtanh(x: &Tensor, lo: f64, hi: f64) -> Result<Tensor> {
    if x.dtype() == DType::Bool {
        return Err(Error::NotImplemented(
            "Bool inputs not supported for hardtanh".into(),
        ));
    }
    if lo > hi {
        return Err(Error::Value(
            "min_val cannot be greater than max_val".into(),
        ));
    }
    if !x.dtype().is_float() {
        // Integers are clamped in their own dtype.
        return clamp(x, Some(lo), Some(hi));
    }
    let out = float_map!(x, "hardtanh", [lo, hi], |v| clampf(v, T::c(lo), T::c(hi)));
    let sx = saved(x);
    record("HardtanhBackward0", &[x], &[&out], move |g| {
        let Some(g) = &g[0] else {
            return Ok(vec![None]);
        };
        let x = sx.get()?;
        Ok(vec![Some(float_map2!(
            g,
            x,
            "hardtanh_backward",
            [lo, hi],
            // (0 at the bounds and at NaN, as PyTorch's vectorized kernel)
            |gv, v| if v > T::c(lo) && v < T::c(hi) {
                gv
            } else {
                T::c(0.0)
            }
        ))])
    });
    Ok(out)
}

/// `elu` family: scale * (x if x > 0 else alpha * (exp(x * input_scale) - 1)).
pub fn elu(x: &Tensor, alpha: f64, scale: f64, input_scale: f64) -> Result<Tensor> {
    crate::error::require_float(x, "elu_cpu")?;
    let x = &as_float(x);
    let out = float_map!(x, "elu", [alpha, scale, input_scale], |v| {
        // Both sides computed, then selected: a branch around the exp
        // kept the loop scalar.
        let neg = v.min_nan(T::c(0.0)) * T::c(input_scale);
        let e = T::c(scale * alpha) * (neg.fast_exp() - T::c(1.0));
        if v > T::c(0.0) {
            T::c(scale) * v
        } else {
            e
        }
    });
    let sx = saved(x);
    record("EluBackward0", &[x], &[&out], move |g| {
        let Some(g) = &g[0] else {
            return Ok(vec![None]);
        };
        let x = sx.get()?;
        if crate::autograd::is_grad_enabled() && x.requires_grad() {
            // scale where x > 0, else scale * alpha * input_scale *
            // exp(x * input_scale), the exponent clamped at 0 so the branch
            // not taken never overflows (its zero gradient times inf).
            let d = |x: &Tensor| -> Result<Tensor> {
                let e = exp(&mul(&clamp(x, None, Some(0.0))?, &k(input_scale, x))?)?;
                let neg_side = mul(&e, &k(scale * alpha * input_scale, x))?;
                where_(&compare(CmpOp::Gt, x, &k(0.0, x))?, &k(scale, x), &neg_side)
            };
            return Ok(vec![Some(in_f32(&[g, x], |w| mul(&w[0], &d(&w[1])?))?)]);
        }
        Ok(vec![Some(float_map2!(
            g,
            x,
            "elu_backward",
            [alpha, scale, input_scale],
            |gv, v| {
                // (a NaN input gives NaN, as PyTorch's vectorized kernel)
                let e = (v.min_nan(T::c(0.0)) * T::c(input_scale)).fast_exp();
                if v > T::c(0.0) {
                    gv * T::c(scale)
                } else {
                    gv * T::c(scale * alpha * input_scale) * e
                }
            }
        ))])
    });
    Ok(out)
}

/// `softplus(x, beta, threshold)`: linear above threshold for stability.
pub fn softplus(x: &Tensor, beta: f64, threshold: f64) -> Result<Tensor> {
    crate::error::require_float(x, "softplus_cpu")?;
    let x = &as_float(x);
    let out = float_map!(x, "softplus", [beta, threshold], |v| {
        let soft = (v * T::c(beta)).fast_exp().fast_ln_1p() / T::c(beta);
        if v * T::c(beta) > T::c(threshold) {
            v
        } else {
            soft
        }
    });
    let sx = saved(x);
    record("SoftplusBackward0", &[x], &[&out], move |g| {
        let Some(g) = &g[0] else {
            return Ok(vec![None]);
        };
        let x = sx.get()?;
        if crate::autograd::is_grad_enabled() && x.requires_grad() {
            // 1 above the threshold, else sigmoid(beta x)
            let d = |x: &Tensor| -> Result<Tensor> {
                let bx = mul(x, &k(beta, x))?;
                where_(
                    &compare(CmpOp::Gt, &bx, &k(threshold, x))?,
                    &k(1.0, x),
                    &sigmoid(&bx)?,
                )
            };
            return Ok(vec![Some(in_f32(&[g, x], |w| mul(&w[0], &d(&w[1])?))?)]);
        }
        Ok(vec![Some(float_map2!(
            g,
            x,
            "softplus_backward",
            [beta, threshold],
            |gv, v| {
                let z = (v * T::c(beta)).fast_exp();
                if v * T::c(beta) > T::c(threshold) {
                    gv
                } else {
                    gv * z / (z + T::c(1.0))
                }
            }
        ))])
    });
    Ok(out)
}

pub fn logsigmoid(x: &Tensor) -> Result<Tensor> {
    crate::error::require_float(x, "log_sigmoid_cpu")?;
    act!(
        "LogSigmoidBackward0",
        x,
        |v| {
            let m = if v < T::c(0.0) { v } else { T::c(0.0) };
            m - ((-v.abs()).fast_exp_nonpositive()).fast_ln_1p()
        },
        |v, _y| T::c(1.0) - T::c(1.0) / (T::c(1.0) + (-v).fast_exp()),
        ops | x | sigmoid(&neg(x)?)
    )
}

/// 1/6 rounded to float32, as PyTorch's hardsigmoid gradient takes it.
const ONE_SIXTH_F32: f64 = (1.0f32 / 6.0f32) as f64;

#[inline(always)]
fn clampf<T: FloatOps>(v: T, lo: T, hi: T) -> T {
    if v < lo {
        lo
    } else if v > hi {
        hi
    } else {
        v
    }
}

#[inline(always)]
fn softplus1<T: FloatOps>(v: T) -> T {
    let soft = v.fast_exp().fast_ln_1p();
    if v > T::c(20.0) {
        v
    } else {
        soft
    }
}

/// Logical not: output bool.
pub fn logical_not(x: &Tensor) -> Result<Tensor> {
    let b = x.cast_raw(DType::Bool);
    Ok(map1(&b, |v: bool| !v))
}

/// `torch.signbit`: whether the sign bit is set (true for -0.0).
pub fn signbit(x: &Tensor) -> Result<Tensor> {
    Ok(match x.dtype() {
        DType::F64 => map1(x, |v: f64| v.is_sign_negative()),
        DType::F32 => map1(x, |v: f32| v.is_sign_negative()),
        DType::I64 => map1(x, |v: i64| v < 0),
        DType::I32 => map1(x, |v: i32| v < 0),
        DType::I16 => map1(x, |v: i16| v < 0),
        DType::I8 => map1(x, |v: i8| v < 0),
        DType::F16 => map1(x, |v: ::half::f16| v.is_sign_negative()),
        DType::BF16 => map1(x, |v: ::half::bf16| v.is_sign_negative()),
        DType::U8 | DType::Bool => crate::ops::creation::full(x.shape(), 0.0, DType::Bool),
    })
}

/// `~x`: bitwise not for integers, logical not for bool.
pub fn bitwise_not(x: &Tensor) -> Result<Tensor> {
    match x.dtype() {
        DType::Bool => logical_not(x),
        DType::U8 => Ok(map1(x, |v: u8| !v)),
        DType::I32 => Ok(map1(x, |v: i32| !v)),
        DType::I16 => Ok(map1(x, |v: i16| !v)),
        DType::I8 => Ok(map1(x, |v: i8| !v)),
        DType::I64 => Ok(map1(x, |v: i64| !v)),
        d => Err(Error::not_implemented("bitwise_not_cpu", d)),
    }
}

/// isnan / isinf / isfinite.
pub fn isnan(x: &Tensor) -> Result<Tensor> {
    if !x.dtype().is_float() {
        return Ok(Tensor::zeros(x.shape(), DType::Bool));
    }
    if x.is_gpu() {
        return crate::gpu::kernels::map(
            "select(0u, 1u, is_nan(a))",
            &[x],
            &[],
            x.shape(),
            DType::Bool,
        );
    }
    let x = x.cast_raw(DType::F64);
    Ok(map1(&x, |v: f64| v.is_nan()))
}
pub fn isinf(x: &Tensor) -> Result<Tensor> {
    if !x.dtype().is_float() {
        return Ok(Tensor::zeros(x.shape(), DType::Bool));
    }
    if x.is_gpu() {
        let expr = "select(0u, 1u, is_inf(a))";
        return crate::gpu::kernels::map(expr, &[x], &[], x.shape(), DType::Bool);
    }
    let x = x.cast_raw(DType::F64);
    Ok(map1(&x, |v: f64| v.is_infinite()))
}
pub fn isfinite(x: &Tensor) -> Result<Tensor> {
    if !x.dtype().is_float() {
        return Ok(super::creation::full(x.shape(), 1.0, DType::Bool));
    }
    if x.is_gpu() {
        let expr = "select(0u, 1u, !is_nan(a) && !is_inf(a))";
        return crate::gpu::kernels::map(expr, &[x], &[], x.shape(), DType::Bool);
    }
    let x = x.cast_raw(DType::F64);
    Ok(map1(&x, |v: f64| v.is_finite()))
}

/// `torch.nan_to_num(x, nan, posinf, neginf)`: NaN, +inf and -inf replaced
/// by `nan` (default 0) and `posinf` / `neginf` (default: the dtype's
/// largest / lowest finite value), each cast to x's dtype; integer and bool
/// tensors are copied. The gradient is `g * isfinite(x)` (PyTorch's: a NaN
/// gradient stays NaN).
/// nan_to_num over a type whose extremes are `max` and `min`.
fn nan_to_num_exact<H: crate::tensor::storage::BufferElem>(
    x: &Tensor,
    nan: f64,
    posinf: Option<f64>,
    neginf: Option<f64>,
    max: H,
    min: H,
) -> Tensor {
    let (n, p, m) = (
        H::from_f64(nan),
        posinf.map_or(max, H::from_f64),
        neginf.map_or(min, H::from_f64),
    );
    map1(x, move |v: H| match v.to_f64() {
        f if f.is_nan() => n,
        f if f == f64::INFINITY => p,
        f if f == f64::NEG_INFINITY => m,
        _ => v,
    })
}

pub fn nan_to_num(
    x: &Tensor,
    nan: Option<f64>,
    posinf: Option<f64>,
    neginf: Option<f64>,
) -> Result<Tensor> {
    crate::gpu::ops::cpu_only(&[x], "nan_to_num")?;
    if !x.dtype().is_float() {
        return super::shape::clone(x);
    }
    let nan = nan.unwrap_or(0.0);
    let out = match x.dtype() {
        // (the defaults are the half type's own extremes, not float32's)
        DType::F16 => nan_to_num_exact(x, nan, posinf, neginf, ::half::f16::MAX, ::half::f16::MIN),
        DType::BF16 => {
            nan_to_num_exact(x, nan, posinf, neginf, ::half::bf16::MAX, ::half::bf16::MIN)
        }
        _ => dispatch_float!(x.dtype(), "nan_to_num", T => {
            let (n, p, m) = (nan as T, posinf.map_or(T::MAX, |v| v as T), neginf.map_or(T::MIN, |v| v as T));
            map1(x, move |v: T| {
                if v.is_nan() {
                    n
                } else if v == T::INFINITY {
                    p
                } else if v == T::NEG_INFINITY {
                    m
                } else {
                    v
                }
            })
        }),
    };
    let sx = saved(x);
    record("NanToNumBackward0", &[x], &[&out], move |g| {
        let Some(g) = &g[0] else {
            return Ok(vec![None]);
        };
        let finite = to_dtype(&isfinite(sx.get()?)?, g.dtype())?;
        Ok(vec![Some(mul(g, &finite)?)])
    });
    Ok(out)
}
