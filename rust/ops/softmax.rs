//! softmax / log_softmax along one dim: fused, numerically stable kernels
//! with their own backward.

use crate::autograd::{record, SavedTensor};
use crate::error::Result;
use crate::tensor::layout::wrap_dim;
use crate::tensor::Tensor;

crate::multiversion! {
    /// softmax (or log_softmax when `log`) of one contiguous row `xr` into `or`.
    fn softmax_row(xr: &[T], or: &mut [T], log: bool) => softmax_row_impl + avx512
}

#[inline(always)]
fn softmax_row_impl<T: crate::tensor::dtype::Float>(xr: &[T], or: &mut [T], log: bool) {
    let mut m = row_max(xr);
    if m == T::c(f64::NEG_INFINITY) {
        m = T::c(0.0);
    }
    // The exponentials summed as they are stored (one pass less over the
    // row), in `vmath::sum_lanes`'s 32 lanes and order: the same bits.
    const LANES: usize = 32;
    let full = xr.len() / LANES * LANES;
    let mut acc = [T::zero(); LANES];
    for (oc, xc) in or[..full]
        .chunks_exact_mut(LANES)
        .zip(xr[..full].chunks_exact(LANES))
    {
        for j in 0..LANES {
            let e = (xc[j] - m).fast_exp_nonpositive();
            oc[j] = e;
            acc[j] += e;
        }
    }
    let mut s = 0.0;
    for &v in &acc {
        s += v.to_f64();
    }
    for (o, &v) in or[full..].iter_mut().zip(&xr[full..]) {
        let e = (v - m).fast_exp_nonpositive();
        *o = e;
        s += e.to_f64();
    }
    if log {
        let ls = T::c(s.ln()) + m;
        for (o, &v) in or.iter_mut().zip(xr) {
            *o = v - ls;
        }
    } else {
        let inv = T::c(1.0 / s);
        for o in or.iter_mut() {
            *o = *o * inv;
        }
    }
}

/// The row's maximum, in 32 lanes (its 8 lanes were one chain of dependent
/// compare-and-blends, a third of softmax's time), one `max` per vector:
/// a NaN need not win here, since it reaches every result anyway through
/// the sum of the exponentials (NaN - m, or m - NaN), as PyTorch's NaN rows.
#[inline(always)]
fn row_max<T: crate::tensor::dtype::Float>(x: &[T]) -> T {
    const LANES: usize = 32;
    let neg = T::c(f64::NEG_INFINITY);
    let mut acc = [neg; LANES];
    let chunks = x.chunks_exact(LANES);
    let rest = chunks.remainder();
    for ch in chunks {
        for j in 0..LANES {
            let v = ch[j];
            acc[j] = if v > acc[j] { v } else { acc[j] };
        }
    }
    let mut m = neg;
    for &v in acc.iter().chain(rest) {
        if v > m {
            m = v;
        }
    }
    m
}

fn kernel<T: crate::tensor::dtype::Float + crate::tensor::storage::BufferElem>(
    x: &[T],
    outer: usize,
    n: usize,
    inner: usize,
    log: bool,
) -> Vec<T> {
    let mut out = crate::tensor::pool::uninit_vec::<T>(x.len());
    if inner == 1 {
        // Contiguous rows, in groups of rows spread over the threads.
        let n = n.max(1);
        let rows = |first: usize, chunk: &mut [T]| {
            for (r, or) in chunk.chunks_mut(n).enumerate() {
                softmax_row(&x[(first + r) * n..][..n], or, log);
            }
        };
        let threads = crate::parallel::num_threads();
        if x.len() < crate::parallel::GRAIN || threads == 1 || outer < 2 {
            rows(0, &mut out);
        } else {
            let per = outer.div_ceil(threads * 4).max(1);
            crate::parallel::for_each_chunk_mut(&mut out, per * n, |i, chunk| rows(i * per, chunk));
        }
        return out;
    }
    crate::cpu::multiversion::with_fma(
        #[inline(always)]
        || strided_rows(x, &mut out, (outer, n, inner), log),
    );
    out
}

/// softmax along a strided dim: `outer` x `inner` rows of `n` values each
/// `inner` apart.
#[inline(always)]
fn strided_rows<T: crate::tensor::dtype::Float>(
    x: &[T],
    out: &mut [T],
    (outer, n, inner): (usize, usize, usize),
    log: bool,
) {
    for o in 0..outer {
        for i in 0..inner {
            let at = |k: usize| o * n * inner + k * inner + i;
            let mut m = T::c(f64::NEG_INFINITY);
            for k in 0..n {
                let v = x[at(k)];
                if v > m || v.is_nan() {
                    m = v;
                }
            }
            if m == T::c(f64::NEG_INFINITY) {
                m = T::c(0.0);
            }
            let mut s = 0.0f64;
            for k in 0..n {
                s += (x[at(k)] - m).fast_exp_nonpositive().to_f64();
            }
            let ls = T::c(s.ln());
            for k in 0..n {
                let z = x[at(k)] - m;
                out[at(k)] = if log {
                    z - ls
                } else {
                    (z - ls).fast_exp_nonpositive()
                };
            }
        }
    }
}

/// softmax (or log_softmax when `log`) of `x` along `dim`.
pub fn softmax(x: &Tensor, dim: i64, log: bool) -> Result<Tensor> {
    let d = wrap_dim(dim, x.ndim())?;
    if !x.dtype().is_float() && x.numel() == 0 && !x.is_gpu() {
        // Nothing to compute: PyTorch returns before its dtype dispatch.
        return Ok(Tensor::zeros(x.shape(), x.dtype()));
    }
    if !x.dtype().is_float() {
        let last = d + 1 >= x.ndim();
        let kernel = match (log, last) {
            (false, true) => "softmax_lastdim_kernel_impl",
            (false, false) => "softmax_kernel_impl",
            (true, true) => "log_softmax_lastdim_kernel_impl",
            (true, false) => "log_softmax_kernel_impl",
        };
        return Err(crate::error::Error::not_implemented(kernel, x.dtype()));
    }
    let x = x.clone();
    if x.ndim() == 0 {
        // One element: softmax is 1 (log_softmax 0) whatever x is; the
        // gradient is 0, but the result is in the graph as in PyTorch.
        // (An infinity or NaN gives NaN: x - max(x) is NaN there.)
        let finite = x.is_meta() || x.is_gpu() || x.item_f64()?.is_finite();
        let v = match (finite, log) {
            (false, _) => f64::NAN,
            (true, true) => 0.0,
            (true, false) => 1.0,
        };
        let r = crate::ops::creation::full(&[], v, x.dtype());
        crate::autograd::record(
            if log {
                "LogSoftmaxBackward0"
            } else {
                "SoftmaxBackward0"
            },
            &[&x],
            &[&r],
            move |g| {
                // 0, or NaN where the result is NaN (PyTorch's formula
                // g - exp(y) sum(g) then holds a NaN)
                let factor = if finite { 0.0 } else { f64::NAN };
                let zero = |g: &Tensor| {
                    crate::ops::binary::mul(g, &crate::ops::creation::scalar_like(factor, g))
                };
                Ok(vec![g[0].as_ref().map(zero).transpose()?])
            },
        );
        return Ok(r);
    }
    let shape = x.shape().to_vec();
    let name = if log {
        "LogSoftmaxBackward0"
    } else {
        "SoftmaxBackward0"
    };
    if let Some(out) = crate::ops::meta::result(name, &[&x], &shape, x.dtype()) {
        return Ok(out);
    }
    let out = if x.is_gpu() {
        device_softmax(&x, d, log)?
    } else {
        let (outer, n, inner) = (
            shape[..d].iter().product(),
            shape[d],
            shape[d + 1..].iter().product(),
        );
        // Half types: computed in float32, rounded once (`tensor::half`).
        let xc = crate::tensor::half::widen(&x).contiguous_raw();
        let out = crate::dispatch_float!(xc.dtype(), "softmax", T => Tensor::from_vec(kernel::<T>(xc.as_slice::<T>().expect("contiguous"), outer, n, inner, log), &shape));
        crate::tensor::half::narrow(out, x.dtype())
    };
    let so = SavedTensor::output(&out);
    record(
        if log {
            "LogSoftmaxBackward0"
        } else {
            "SoftmaxBackward0"
        },
        &[&x],
        &[&out],
        move |g| {
            let Some(g) = &g[0] else {
                return Ok(vec![None]);
            };
            use crate::ops::binary::{mul, sub};
            use crate::ops::reduce::sum;
            // (one rounding for half types, as PyTorch's backward kernel)
            let gx = crate::ops::unary::in_f32(&[g, &so.unpack()?], |w| {
                let (g, y) = (&w[0], &w[1]);
                if log {
                    // g - softmax * sum(g)
                    let s = sum(g, Some(&[d as i64]), true)?;
                    sub(g, &mul(&crate::ops::unary::exp(y)?, &s)?)
                } else {
                    // y * (g - sum(g * y))
                    let s = sum(&mul(g, y)?, Some(&[d as i64]), true)?;
                    mul(y, &sub(g, &s)?)
                }
            })?;
            Ok(vec![Some(gx)])
        },
    );
    Ok(out)
}

/// On the device: max-shifted exp and a sum along `d`, from device kernels
/// (reductions over rows and the elementwise template).
fn device_softmax(x: &Tensor, d: usize, log: bool) -> Result<Tensor> {
    use crate::ops::{binary, reduce, unary};
    let _ng = crate::autograd::GradModeGuard::new(false);
    let dims = [d as i64];
    let m = reduce::amax(x, Some(&dims), true, true)?;
    // an all -inf row keeps its values (exp gives 0s, as on the CPU)
    let m = crate::gpu::ops::named("finite_or_zero", &[&m], &[])?;
    let z = binary::sub(x, &m)?;
    let e = unary::exp(&z)?;
    let s = reduce::sum(&e, Some(&dims), true)?;
    if log {
        binary::sub(&z, &unary::log(&s)?)
    } else {
        binary::div(&e, &s)
    }
}
