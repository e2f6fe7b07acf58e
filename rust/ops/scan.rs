//! Cumulative product (cumsum lives with the reductions).

use super::binary::{div, mul};
use super::index::flip;
use super::reduce::cumsum;
use crate::autograd::{record, SavedTensor};
use crate::error::Result;
use crate::tensor::layout::wrap_dim;
use crate::tensor::{DType, Tensor};

/// `x.cumprod(dim)`.
pub fn cumprod(x: &Tensor, dim: i64) -> Result<Tensor> {
    crate::gpu::ops::cpu_only(&[x], "cumprod")?;
    if x.ndim() == 0 {
        return super::shape::clone(x);
    }
    let d = wrap_dim(dim, x.ndim())?;
    let dtype = if x.dtype().is_float() {
        x.dtype()
    } else {
        DType::I64
    };
    let xc = x.cast_raw(dtype).contiguous_raw();
    let shape = x.shape_vec();
    let inner: usize = shape[d + 1..].iter().product();
    let len = shape[d];
    let outer: usize = shape[..d].iter().product();
    let out = crate::dispatch_numeric!(dtype, T => {
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
    let (sx, so) = (SavedTensor::new(x), SavedTensor::output(&out));
    record("CumprodBackward0", &[x], &[&out], move |g| {
        let Some(g) = &g[0] else {
            return Ok(vec![None]);
        };
        // d/dx_i sum_j g_j out_j = (sum_{j>=i} g_j out_j) / x_i  (x_i != 0)
        let go = mul(g, so.get()?)?;
        let rev = flip(&cumsum(&flip(&go, &[d as i64])?, d as i64)?, &[d as i64])?;
        Ok(vec![Some(div(&rev, sx.get()?)?)])
    });
    Ok(out)
}
