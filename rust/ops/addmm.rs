//! `beta * input + alpha * (a @ b)`: addmm, baddbmm, addmv, addbmm — and
//! Linear, which PyTorch computes as addmm (its node is AddmmBackward0 with
//! edges bias, input, weight.t()).

use super::binary::{add, grad_for, mul, BinOp};
use super::creation::scalar_like;
use super::matmul::{bmm, is_column_major, mm, mv, outer, product_grads};
use super::reduce::sum;
use super::shape::{expand_to, transpose, unsqueeze};
use crate::autograd::{record, GradModeGuard, SavedTensor};
use crate::error::{Error, Result};
use crate::tensor::{DType, Tensor};

/// Which product is added to `input`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Product {
    /// addmm: (n, k) @ (k, m)
    Matrix,
    /// baddbmm: (B, n, k) @ (B, k, m)
    Batched,
    /// addmv: (n, k) @ (k,)
    Vector,
    /// addbmm: the sum over the batch of (B, n, k) @ (B, k, m)
    BatchSum,
}

impl Product {
    fn op_name(self) -> &'static str {
        match self {
            Product::Matrix => "addmm",
            Product::Batched => "baddbmm",
            Product::Vector => "addmv",
            Product::BatchSum => "addbmm",
        }
    }

    fn node_name(self) -> &'static str {
        match self {
            Product::Matrix => "AddmmBackward0",
            Product::Batched => "BaddbmmBackward0",
            Product::Vector => "AddmvBackward0",
            Product::BatchSum => "AddbmmBackward0",
        }
    }

    /// The product itself (its shape checks are mm's, bmm's, mv's).
    fn compute(self, a: &Tensor, b: &Tensor) -> Result<Tensor> {
        match self {
            Product::Matrix => mm(a, b),
            Product::Batched => bmm(a, b),
            Product::Vector => mv(a, b),
            Product::BatchSum => sum(&bmm(a, b)?, Some(&[0]), false),
        }
    }

    fn check_ranks(self, a: &Tensor, b: &Tensor) -> Result<()> {
        let op = self.op_name();
        let (ra, rb, na, nb) = match self {
            Product::Matrix => (2, 2, "mat1", "mat2"),
            Product::Vector => (2, 1, "mat", "vec"),
            Product::Batched | Product::BatchSum => (3, 3, "batch1", "batch2"),
        };
        for (t, rank, name) in [(a, ra, na), (b, rb, nb)] {
            if t.ndim() != rank {
                return Err(Error::Runtime(match rank {
                    3 => format!("{name} must be a 3D tensor"),
                    2 => format!("{op}: {name} must be a matrix, got {}-D tensor", t.ndim()),
                    _ => format!("{op}: {name} must be a vector, got {}-D tensor", t.ndim()),
                }));
            }
        }
        if self == Product::Matrix && a.shape()[1] != b.shape()[0] {
            return Err(Error::Runtime(format!(
                "addmm: mat1 and mat2 shapes cannot be multiplied ({}x{} and {}x{})",
                a.shape()[0],
                a.shape()[1],
                b.shape()[0],
                b.shape()[1]
            )));
        }
        Ok(())
    }
}

/// `beta * input + alpha * product(a, b)`. `input` broadcasts to the
/// product's shape; with `beta == 0` it is ignored (its NaN and inf do not
/// propagate), as PyTorch documents. Integer tensors take `alpha` and `beta`
/// truncated to integers, as PyTorch does.
pub fn add_product(
    kind: Product,
    input: &Tensor,
    a: &Tensor,
    b: &Tensor,
    beta: f64,
    alpha: f64,
) -> Result<Tensor> {
    Ok(add_product_then(kind, input, a, b, beta, alpha, false)?.0)
}

/// `add_product`, and with `relu` the GEMM may apply relu to the result as
/// it stores it: the flag returned says whether it did (the caller records
/// relu's node over it instead of computing it). The node recorded here is
/// the product's (its backward does not read the output).
fn add_product_then(
    kind: Product,
    input: &Tensor,
    a: &Tensor,
    b: &Tensor,
    beta: f64,
    alpha: f64,
    relu: bool,
) -> Result<(Tensor, bool)> {
    if kind != Product::Vector {
        if let Some(r) = super::autocast::run(super::autocast::Policy::Lower, &[input, a, b], |t| {
            add_product(kind, &t[0], &t[1], &t[2], beta, alpha)
        }) {
            return Ok((r?, false));
        }
    }
    kind.check_ranks(a, b)?;
    let mismatch = if a.dtype() != b.dtype() {
        Some((a, b))
    } else if input.dtype() != a.dtype() {
        Some((input, a))
    } else {
        None
    };
    if let Some((x, y)) = mismatch {
        return Err(Error::Runtime(format!(
            "self and mat2 must have the same dtype, but got {} and {}",
            x.dtype().scalar_name(),
            y.dtype().scalar_name()
        )));
    }
    if matches!(kind, Product::Matrix | Product::Batched)
        && a.dtype() == DType::BF16
        && !(a.is_gpu() || a.is_meta() || b.is_gpu() || b.is_meta() || input.is_gpu())
    {
        return Ok((addmm_bf16(input, a, b, beta, alpha)?, false));
    }
    // Linear's case: the bias (and relu) applied by the GEMM as it stores
    let fused = if kind == Product::Matrix && beta == 1.0 && alpha == 1.0 {
        super::matmul::mm_bias_fused(a, b, input, relu)
    } else {
        None
    };
    let clamped = relu && fused.is_some();
    let out = if let Some(out) = fused {
        out
    } else {
        let _no_grad = GradModeGuard::new(false);
        let mut p = kind.compute(a, b)?;
        if alpha != 1.0 {
            p = mul(&p, &scalar_like(alpha, &p))?;
        }
        let shape = p.shape_vec();
        let bias = expand_to(input, &shape)?;
        if beta == 0.0 {
            p
        } else if beta == 1.0 {
            // The product is a fresh buffer no one else holds: the input is
            // added where it is (the same sums, without a second buffer).
            let fresh = matches!(kind, Product::Matrix | Product::Batched);
            if fresh && super::binary::binary_tensor_inplace(BinOp::Add, &p, &bias, None) {
                p
            } else {
                add(&p, &bias)?
            }
        } else {
            add(&p, &mul(&bias, &scalar_like(beta, &p))?)?
        }
    };
    if !out.dtype().is_float() {
        return Ok((out, clamped));
    }
    let (sa, sb) = (SavedTensor::new(a), SavedTensor::new(b));
    let need = (input.requires_grad(), a.requires_grad(), b.requires_grad());
    let column_major = (is_column_major(a), is_column_major(b));
    let input_meta = (input.shape_vec(), input.dtype());
    record(kind.node_name(), &[input, a, b], &[&out], move |grads| {
        let Some(g) = &grads[0] else {
            return Ok(vec![None, None, None]);
        };
        let scaled = |t: Tensor, by: f64| -> Result<Tensor> {
            if by == 1.0 {
                Ok(t)
            } else {
                mul(&t, &scalar_like(by, &t))
            }
        };
        let g_input = if need.0 {
            Some(grad_for(scaled(g.clone(), beta)?, &input_meta)?)
        } else {
            None
        };
        let (x, y) = (sa.get()?, sb.get()?);
        let (ga, gb) = match kind {
            Product::Matrix | Product::Batched => {
                product_grads(g, x, y, (need.1, need.2), column_major)?
            }
            Product::Vector => (
                if need.1 { Some(outer(g, y)?) } else { None },
                if need.2 {
                    Some(mv(&transpose(x, 0, 1)?, g)?)
                } else {
                    None
                },
            ),
            Product::BatchSum => {
                // Every batch entry gets the same output gradient.
                let batch = [x.shape()[0], g.shape()[0], g.shape()[1]];
                let gb3 = expand_to(&unsqueeze(g, 0)?, &batch)?;
                product_grads(&gb3, x, y, (need.1, need.2), column_major)?
            }
        };
        let ga = ga.map(|t| scaled(t, alpha)).transpose()?;
        let gb = gb.map(|t| scaled(t, alpha)).transpose()?;
        Ok(vec![g_input, ga, gb])
    });
    Ok((out, clamped))
}

/// `relu(addmm(input, a, b))`, a feed-forward block's first layer: the
/// activation clamps the fresh product where it is (no second buffer), and
/// the graph is the unfused one (AddmmBackward0, then ReluBackward0).
/// With `shape`, the product is viewed as `shape` before the activation
/// (Linear on an N-d input: AddmmBackward0, ViewBackward0, ReluBackward0).
pub fn addmm_relu(input: &Tensor, a: &Tensor, b: &Tensor, shape: Option<&[i64]>) -> Result<Tensor> {
    let (h, clamped) = add_product_then(Product::Matrix, input, a, b, 1.0, 1.0, true)?;
    let h = match shape {
        Some(s) => {
            let v = super::shape::view(&h, s)?;
            // (the view is then the only holder of the product)
            drop(h);
            v
        }
        None => h,
    };
    if clamped {
        // the GEMM stored relu's values already
        return Ok(super::unary::relu_of_clamped(h));
    }
    super::unary::relu_owned(h)
}

/// bf16 addmm and baddbmm as PyTorch's: the products on the bf16 GEMM in float32,
/// `beta * input` added there, one rounding to bf16 (differentiable casts).
fn addmm_bf16(input: &Tensor, a: &Tensor, b: &Tensor, beta: f64, alpha: f64) -> Result<Tensor> {
    use super::unary::to_dtype;
    if a.ndim() == 3 && (a.shape()[0] != b.shape()[0] || a.shape()[2] != b.shape()[1]) {
        // bmm's check, which the product on the float32 path makes
        return Err(Error::Runtime(format!(
            "Expected size for first two dimensions of batch2 tensor to be: [{}, {}] but got: [{}, {}].",
            a.shape()[0],
            a.shape()[2],
            b.shape()[0],
            b.shape()[1]
        )));
    }
    let mut p = super::matmul::products_f32(a, b)?;
    if alpha != 1.0 {
        p = mul(&p, &scalar_like(alpha, &p))?;
    }
    if beta != 0.0 {
        let bias = expand_to(&to_dtype(input, DType::F32)?, &p.shape_vec())?;
        p = if beta == 1.0 {
            add(&p, &bias)?
        } else {
            add(&p, &mul(&bias, &scalar_like(beta, &p))?)?
        };
    }
    to_dtype(&p, DType::BF16)
}
