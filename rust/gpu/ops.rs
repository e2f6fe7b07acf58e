//! Tensor-level operations on the wgpu device: what `crate::ops` calls when
//! its inputs are device tensors. Autograd stays in `crate::ops`; these are
//! forward computations only.

use super::kernels::{cast_expr, map, map_into};
use crate::dispatch_all;
use crate::error::{Error, Result};
use crate::ops::binary::{BinOp, CmpOp, LogicOp};
use crate::tensor::storage::BufferElem;
use crate::tensor::{Buffer, DType, Tensor};

/// Copy a CPU tensor to the device.
pub fn to_device(t: &Tensor) -> Result<Tensor> {
    if t.is_gpu() {
        return Ok(t.clone());
    }
    super::require()?;
    let host: Buffer = dispatch_all!(t.dtype(), T => T::wrap(t.to_vec::<T>()));
    let dev = super::DeviceBuffer::from_host(&host)?;
    Ok(Tensor::from_buffer(Buffer::Device(dev), t.shape()))
}

/// The elements of a device tensor, row-major, read back to the host.
pub fn host_buffer(t: &Tensor) -> Result<Buffer> {
    let c = contiguous(t)?;
    super::kernels::device_buffer(&c)?.to_host(c.offset(), c.numel())
}

/// Copy a device tensor to the CPU.
pub fn to_host(t: &Tensor) -> Result<Tensor> {
    Ok(Tensor::from_buffer(host_buffer(t)?, t.shape()))
}

/// The same values in a contiguous device tensor starting at element 0 of
/// its buffer (`t` when already so), as hand-written kernels expect.
pub fn contiguous(t: &Tensor) -> Result<Tensor> {
    if t.is_contiguous() && t.offset() == 0 {
        return Ok(t.clone());
    }
    map("a", &[t], &[], t.shape(), t.dtype())
}

pub fn cast(t: &Tensor, dtype: DType) -> Result<Tensor> {
    map(
        &cast_expr("a", t.dtype(), dtype)?,
        &[t],
        &[],
        t.shape(),
        dtype,
    )
}

/// Write `src` (broadcast, converted) into the view `dst`.
pub fn write_into(dst: &Tensor, src: &Tensor) -> Result<()> {
    let src = if !src.is_gpu() && src.ndim() > 0 {
        to_device(src)?
    } else {
        src.clone()
    };
    map_into(
        &cast_expr("a", src.dtype(), dst.dtype())?,
        &[&src],
        &[],
        dst,
    )
}

pub fn fill(dst: &Tensor, value: f64) -> Result<()> {
    let ty = super::wgsl_type(dst.dtype())?;
    let expr = match dst.dtype() {
        DType::Bool => "select(0u, 1u, p(0u) != 0.0)".to_string(),
        _ => format!("{ty}(p(0u))"),
    };
    map_into(&expr, &[], &[value as f32], dst)
}

/// A new device tensor filled with `value`.
pub fn full(shape: &[usize], value: f64, dtype: DType) -> Result<Tensor> {
    let out = super::kernels::empty(shape, dtype)?;
    fill(&out, value)?;
    Ok(out)
}

fn is_float(t: &Tensor) -> bool {
    t.dtype() == DType::F32
}

/// `a op b` (inputs already promoted to one dtype).
pub fn binary(op: BinOp, a: &Tensor, b: &Tensor, shape: &[usize]) -> Result<Tensor> {
    let dtype = a.dtype();
    let float = dtype == DType::F32;
    let expr = match (op, dtype) {
        (BinOp::Add, DType::Bool) | (BinOp::Maximum, DType::Bool) => "a | b",
        (BinOp::Mul, DType::Bool) | (BinOp::Minimum, DType::Bool) => "a & b",
        (BinOp::Add, _) => "a + b",
        (BinOp::Sub, _) => "a - b",
        (BinOp::Mul, _) => "a * b",
        (BinOp::Div, _) => "a / b",
        (BinOp::Maximum, _) => "max(a, b)",
        (BinOp::Minimum, _) => "min(a, b)",
        (BinOp::FloorDiv, _) if float => "floor(a / b)",
        (BinOp::Rem, _) if float => "a - b * floor(a / b)",
        // integer division rounds toward zero in WGSL; Python floors
        (BinOp::FloorDiv, DType::I64 | DType::I32) => "a / b - select(0, 1, a % b != 0 && ((a < 0) != (b < 0)))",
        (BinOp::Rem, DType::I64 | DType::I32) => "a % b + select(0, b, a % b != 0 && ((a % b < 0) != (b < 0)))",
        // WGSL's pow is undefined for negative bases: use |a|^b with the sign
        // of an odd integer power, and 1 for b == 0.
        (BinOp::Pow, _) if float => {
            "select(select(pow(a, b), select(1.0, -1.0, fract(b * 0.5) != 0.0) * pow(abs(a), b), a < 0.0 && fract(b) == 0.0), 1.0, b == 0.0)"
        }
        _ => return Err(unsupported(&format!("{op:?}"), dtype)),
    };
    map(expr, &[a, b], &[], shape, dtype)
}

pub fn compare(op: CmpOp, a: &Tensor, b: &Tensor, shape: &[usize]) -> Result<Tensor> {
    let o = match op {
        CmpOp::Eq => "==",
        CmpOp::Ne => "!=",
        CmpOp::Lt => "<",
        CmpOp::Le => "<=",
        CmpOp::Gt => ">",
        CmpOp::Ge => ">=",
    };
    map(
        &format!("select(0u, 1u, a {o} b)"),
        &[a, b],
        &[],
        shape,
        DType::Bool,
    )
}

/// Logical and bitwise and/or/xor (bool inputs are 0/1 words).
pub fn bitwise(op: LogicOp, a: &Tensor, b: &Tensor, shape: &[usize]) -> Result<Tensor> {
    let o = match op {
        LogicOp::And => "&",
        LogicOp::Or => "|",
        LogicOp::Xor => "^",
    };
    map(&format!("a {o} b"), &[a, b], &[], shape, a.dtype())
}

/// `cond ? a : b` (cond bool, a and b of one dtype).
pub fn where_(cond: &Tensor, a: &Tensor, b: &Tensor, shape: &[usize]) -> Result<Tensor> {
    map(
        "select(c, b, a != 0u)",
        &[cond, a, b],
        &[],
        shape,
        a.dtype(),
    )
}

/// An elementwise kernel by the name `crate::ops::unary` gives it: one input
/// (`a`) for forward functions, two (`a` = gradient or input, `b` = saved
/// value) for fused backward kernels. Output has the first input's dtype.
pub fn named(name: &str, inputs: &[&Tensor], params: &[f32]) -> Result<Tensor> {
    let x = inputs[0];
    let integer_ok = matches!(name, "neg" | "abs" | "sign");
    if !(is_float(x) || integer_ok) {
        return Err(unsupported(name, x.dtype()));
    }
    let expr = match inputs.len() {
        1 => unary_expr(name),
        _ => binary_expr(name),
    }
    .ok_or_else(|| unsupported(name, x.dtype()))?;
    map(expr, inputs, params, x.shape(), x.dtype())
}

/// WGSL for the float unary functions of `crate::ops::unary` (input `a`).
fn unary_expr(name: &str) -> Option<&'static str> {
    Some(match name {
        "neg" => "-a",
        "abs" => "abs(a)",
        "sign" => "sign(a)",
        "exp" => "exp(a)",
        "log" => "log(a)",
        "log2" => "log2(a)",
        "log10" => "log(a) * 0.4342944819032518",
        "log1p" => "select(log(1.0 + a), a - a * a * 0.5, abs(a) < 1e-4)",
        "expm1" => "select(exp(a) - 1.0, a + a * a * 0.5, abs(a) < 1e-5)",
        "sqrt" => "sqrt(a)",
        "rsqrt" => "inverseSqrt(a)",
        "sin" => "sin(a)",
        "cos" => "cos(a)",
        "tan" => "tan(a)",
        "tanh" => "tanh(clamp(a, -15.0, 15.0))",
        "sigmoid" => "1.0 / (1.0 + exp(-a))",
        "relu" => "select(a, 0.0, a < 0.0)",
        "floor" => "floor(a)",
        "ceil" => "ceil(a)",
        "round" => "round(a)",
        "trunc" => "trunc(a)",
        "reciprocal" => "1.0 / a",
        "square" => "a * a",
        "erf" => "erf_approx(a)",
        "silu" => "a / (1.0 + exp(-a))",
        "softsign" => "a / (1.0 + abs(a))",
        // NaN passes through, as on the CPU
        "clamp" => "select(min(max(a, p(0u)), p(1u)), a, is_nan(a))",
        "finite_or_zero" => "select(a, 0.0, is_inf(a))",
        "leaky_relu" => "select(a * p(0u), a, a > 0.0)",
        // (gelu with approximate='tanh' is refused on the device in ops::unary)
        "GeluBackward0" => "0.5 * a * (1.0 + erf_approx(a * 0.7071067811865476))",
        "SiluBackward0" => "a / (1.0 + exp(-a))",
        "HardsigmoidBackward0" => "clamp(a / 6.0 + 0.5, 0.0, 1.0)",
        "HardswishBackward0" => "a * clamp(a + 3.0, 0.0, 6.0) / 6.0",
        "SoftsignBackward0" => "a / (1.0 + abs(a))",
        "LogSigmoidBackward0" => "min(a, 0.0) - log(1.0 + exp(-abs(a)))",
        "elu" => "select(p(0u) * p(1u) * (exp(a * p(2u)) - 1.0), p(1u) * a, a > 0.0)",
        "hardtanh" => "clamp(a, p(0u), p(1u))",
        "hardsigmoid" => "clamp(a / 6.0 + 0.5, 0.0, 1.0)",
        "hardswish" => "a * clamp(a / 6.0 + 0.5, 0.0, 1.0)",
        "softplus" => "select(log(1.0 + exp(a * p(0u))) / p(0u), a, a * p(0u) > p(1u))",
        "logsigmoid" => "min(a, 0.0) - log(1.0 + exp(-abs(a)))",
        "gelu" => "0.5 * a * (1.0 + tanh(clamp(0.7978845608028654 * (a + 0.044715 * a * a * a), -15.0, 15.0)))",
        "gelu_erf" => "0.5 * a * (1.0 + erf_approx(a * 0.7071067811865476))",
        "mish" => "a * tanh(clamp(select(log(1.0 + exp(a)), a, a > 20.0), -15.0, 15.0))",
        _ => return None,
    })
}

/// WGSL for fused backward kernels: `a` = incoming gradient or input, `b` the
/// saved value named in `crate::ops::unary`.
fn binary_expr(name: &str) -> Option<&'static str> {
    Some(match name {
        // gradient of relu given its output
        "threshold_backward" => "select(0.0, a, b > 0.0)",
        // strictly inside the bounds given (p(2u), p(3u): is each given), as PyTorch 2.15
        "clamp_backward" => {
            "select(0.0, a, (p(2u) == 0.0 || b > p(0u)) && (p(3u) == 0.0 || b < p(1u)))"
        }
        "leaky_relu_backward" => "select(a * p(0u), a, b > 0.0)",
        "hardtanh_backward" => "select(0.0, a, b > p(0u) && b < p(1u))",
        "elu_backward" => "select(a * p(0u) * p(1u) * p(2u) * exp(b * p(2u)), a * p(1u), b > 0.0)",
        "softplus_backward" => "select(a / (1.0 + exp(-b * p(0u))), a, b * p(0u) > p(1u))",
        // act! derivatives: a = input x, b = output y
        "GeluBackward0:derivative" => "gelu_erf_grad(a) + 0.0 * b",
        "SiluBackward0:derivative" => "silu_grad(a) + 0.0 * b",
        "HardsigmoidBackward0:derivative" => {
            "select(0.0, 1.0 / 6.0, a > -3.0 && a < 3.0) + 0.0 * b"
        }
        "HardswishBackward0:derivative" => {
            "select(select(a / 3.0 + 0.5, 1.0, a > 3.0), 0.0, a < -3.0) + 0.0 * b"
        }
        "LogSigmoidBackward0:derivative" => "1.0 / (1.0 + exp(a)) + 0.0 * b",
        "SoftsignBackward0:derivative" => "1.0 / ((1.0 + abs(a)) * (1.0 + abs(a))) + 0.0 * b",
        _ => return None,
    })
}

/// An error when an op without a device kernel gets a device tensor.
pub fn cpu_only(inputs: &[&Tensor], what: &str) -> Result<()> {
    if inputs.iter().any(|t| t.is_gpu()) {
        return Err(Error::Runtime(format!(
            "{what} is not implemented on the wgpu device; move the tensor to the CPU with .cpu() first"
        )));
    }
    Ok(())
}

pub fn unsupported(what: &str, dtype: DType) -> Error {
    Error::Runtime(format!(
        "\"{what}\" is not implemented on the wgpu device for '{}'",
        dtype.scalar_name()
    ))
}
