//! Cumulative product (cumsum lives with the reductions).

use super::binary::{div, mul};
use super::index::flip;
use super::reduce::{cumsum, prod, sum};
use crate::autograd::{record, SavedTensor};
use crate::error::Result;
use crate::tensor::layout::wrap_dim;
use crate::tensor::{DType, Tensor};

/// `x.cumprod(dim)`.
pub fn cumprod(x: &Tensor, dim: i64) -> Result<Tensor> {
    crate::gpu::ops::cpu_only(&[x], "cumprod")?;
    let d = wrap_dim(dim, x.ndim())?;
    let dtype = if x.dtype().is_float() {
        x.dtype()
    } else {
        DType::I64
    };
    if x.ndim() == 0 {
        return match x.dtype().is_float() {
            true => super::shape::clone(x),
            false => Ok(x.cast_raw(dtype)),
        };
    }
    // Running products in the wider type (float32 in double, half types in
    // float32), each rounded once, as PyTorch's CPU kernel.
    let acc = super::reduce::scan_accumulator(dtype);
    let xc = x.cast_raw(acc).contiguous_raw();
    let shape = x.shape_vec();
    let inner: usize = shape[d + 1..].iter().product();
    let len = shape[d];
    let outer: usize = shape[..d].iter().product();
    let out = crate::dispatch_numeric!(acc, T => {
        // A cached buffer: a fresh one's page faults were most of the time.
        let src = xc.as_slice::<T>().expect("contiguous");
        let mut o = crate::tensor::pool::uninit_vec::<T>(src.len());
        o.copy_from_slice(src);
        for a in 0..outer {
            let base = a * len * inner;
            for k in 1..len {
                for j in 0..inner {
                    let p = base + k * inner + j;
                    o[p] = crate::cpu::arith::Arith::mul(o[p], o[p - inner]);
                }
            }
        }
        Tensor::from_vec(o, &shape)
    });
    let out = if out.dtype() == dtype {
        out
    } else {
        out.cast_raw(dtype)
    };
    record_cumprod(x, &out, d);
    Ok(out)
}

/// `x.cumprod(dim, dtype=dtype)`: the products run on x converted to
/// `dtype`, and the result has that dtype. As in PyTorch, the gradient is
/// converted back to x's dtype before the formula, which reads x as it is
/// (a float64 input's gradient is float64 arithmetic under a float32 scan).
pub fn cumprod_as(x: &Tensor, dim: i64, dtype: Option<DType>) -> Result<Tensor> {
    let Some(dt) = dtype.filter(|&dt| dt != x.dtype() || !dt.is_float()) else {
        return cumprod(x, dim);
    };
    if x.ndim() == 0 && x.dtype().is_float() && dt.is_float() {
        return super::unary::to_dtype(x, dt);
    }
    let d = wrap_dim(dim, x.ndim())?;
    let out = cumprod(&x.cast_raw(dt), dim)?;
    let out = if out.dtype() == dt {
        out
    } else {
        out.cast_raw(dt)
    };
    if x.dtype().is_float() && dt.is_float() {
        record_cumprod(x, &out, d);
    }
    Ok(out)
}

/// Records cumprod's backward on `out = cumprod(x, d)` (`out` may have
/// another float dtype than `x`: the gradient is converted to x's first).
fn record_cumprod(x: &Tensor, out: &Tensor, d: usize) {
    let (sx, so) = (SavedTensor::new(x), SavedTensor::output(out));
    let x_dtype = x.dtype();
    record("CumprodBackward0", &[x], &[out], move |g| {
        let Some(g) = &g[0] else {
            return Ok(vec![None]);
        };
        let g = &super::unary::to_dtype(g, x_dtype)?;
        let x = sx.get()?;
        if x.numel() <= 1 || x.shape()[d] == 1 {
            // One element along dim: the output is the input (PyTorch passes
            // the gradient through, even at NaN or inf).
            return Ok(vec![Some(g.clone())]);
        }
        let grad = if !x.to_f64_vec().contains(&0.0) {
            // d/dx_i sum_j g_j out_j = (sum_{j>=i} g_j out_j) / x_i, written
            // with differentiable ops (in the wider of x's and out's types).
            let go = mul(g, &so.unpack()?)?;
            let rev = flip(&cumsum(&flip(&go, &[d as i64])?, d as i64)?, &[d as i64])?;
            div(&rev, x)?
        } else if crate::autograd::is_grad_enabled() {
            backward_with_zeros_graph(g, x, d)?
        } else {
            backward_with_zeros(g, x, so.get()?, d)?
        };
        Ok(vec![Some(if grad.dtype() == x_dtype {
            grad
        } else {
            super::unary::to_dtype(&grad, x_dtype)?
        })])
    });
}

/// PyTorch's O(n^2) cumprod gradient for inputs holding zeros under
/// `create_graph` (differentiable ops only):
/// grad_k = sum_{i >= k} g_i prod_{j < k} x_j prod_{k < j <= i} x_j.
fn backward_with_zeros_graph(g: &Tensor, x: &Tensor, d: usize) -> Result<Tensor> {
    use super::shape::{cat, narrow};
    let n = x.shape()[d] as i64;
    let di = d as i64;
    let mut ones_shape = x.shape_vec();
    ones_shape[d] = 1;
    let ones = super::creation::full_on(&ones_shape, 1.0, x.dtype(), x.device())?;
    let mut parts = Vec::with_capacity(n as usize);
    for k in 0..n {
        let omitted = if k == 0 {
            cat(&[ones.clone(), cumprod(&narrow(x, di, 1, n - 1)?, di)?], di)?
        } else {
            let until = prod(&narrow(x, di, 0, k)?, Some(&[di]), true)?;
            if k == n - 1 {
                until
            } else {
                let from = cumprod(&narrow(x, di, k + 1, n - k - 1)?, di)?;
                cat(&[until.clone(), mul(&until, &from)?], di)?
            }
        };
        let part = mul(&narrow(g, di, k, n - k)?, &omitted)?;
        parts.push(sum(&part, Some(&[di]), true)?);
    }
    cat(&parts, di)
}

/// PyTorch's O(n) cumprod gradient for inputs holding zeros (outside
/// `create_graph`), slice by slice along `d`, with z1 (z2) the first
/// (second) zero: before z1, sum_{k<=j<z1} out_j g_j / x_k (terms from z1
/// on left out, so an inf after a zero gives no NaN); at z1,
/// out_{z1-1} * sum_{z1<=j<z2} g_j prod_{z1<i<=j} x_i; after z1, 0.
fn backward_with_zeros(g: &Tensor, x: &Tensor, out: &Tensor, d: usize) -> Result<Tensor> {
    let shape = x.shape_vec();
    let (outer, len, inner) = (
        shape[..d].iter().product::<usize>(),
        shape[d],
        shape[d + 1..].iter().product::<usize>(),
    );
    let compute = x.dtype().compute_dtype();
    let contiguous = |t: &Tensor| t.cast_raw(compute).contiguous_raw();
    let (gc, xc, oc) = (contiguous(g), contiguous(x), contiguous(out));
    let result = crate::dispatch_float!(compute, "cumprod_backward", T => {
        let (gv, xv, ov) = (gc.to_vec::<T>(), xc.to_vec::<T>(), oc.to_vec::<T>());
        let (zero, one): (T, T) = (
            crate::tensor::access::cast_elem::<f64, T>(0.0),
            crate::tensor::access::cast_elem::<f64, T>(1.0),
        );
        let mut res = vec![zero; xv.len()];
        for a in 0..outer {
            for j in 0..inner {
                let at = |k: usize| a * len * inner + k * inner + j;
                let z1 = (0..len).find(|&k| xv[at(k)] == zero).unwrap_or(len);
                let mut s = zero;
                for k in (0..z1).rev() {
                    s += ov[at(k)] * gv[at(k)];
                    res[at(k)] = s / xv[at(k)];
                }
                if z1 == len {
                    continue;
                }
                let z2 = (z1 + 1..len).find(|&k| xv[at(k)] == zero).unwrap_or(len);
                let (mut p, mut total) = (one, zero);
                for k in 0..len {
                    if k > z1 && k < z2 {
                        p *= xv[at(k)];
                    }
                    let gk = if k >= z1 && k < z2 { gv[at(k)] } else { zero };
                    total += p * gk;
                }
                let before = if z1 > 0 { ov[at(z1 - 1)] } else { one };
                res[at(z1)] = total * before;
            }
        }
        Tensor::from_vec(res, &shape)
    });
    Ok(crate::tensor::half::narrow(result, x.dtype()))
}
