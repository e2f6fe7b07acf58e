//! float16 and bfloat16: stored narrow, computed in float32.
//!
//! The half types hold their elements as `half::f16` / `half::bf16`, so
//! everything that only moves elements (views, copies, cat, indexing,
//! gather, printing, saving) works on them directly. Kernels that compute
//! have no half versions (real bfloat16 kernels are issue 24): at the point
//! where an op computes values, its half inputs are widened to float32, the
//! float32 kernel runs, and the result is narrowed back, rounding once, as
//! PyTorch's CPU kernels for Half/BFloat16 compute in float and round the
//! result. Autograd needs nothing of its own: nodes, saved tensors and
//! gradients keep the half dtype, and each backward kernel is one more op
//! computed the same way.

use super::dtype::{DType, Elem};
use super::Tensor;
use crate::error::Result;
use half::{bf16, f16};

macro_rules! impl_elem_half {
    ($t:ty, $d:expr) => {
        impl Elem for $t {
            const DTYPE: DType = $d;
            #[inline(always)]
            fn to_f64(self) -> f64 {
                self.to_f64()
            }
            /// Through float32, as c10::Half(double) does: a double is
            /// rounded twice (1 + 2^-11 + 2^-40 becomes 1.0, not 1.001).
            #[inline(always)]
            fn from_f64(v: f64) -> Self {
                <$t>::from_f32(v as f32)
            }
            #[inline(always)]
            fn to_i64(self) -> i64 {
                self.to_f32() as i64
            }
            #[inline(always)]
            fn from_i64(v: i64) -> Self {
                <$t>::from_f32(v as f32)
            }
            #[inline(always)]
            fn to_bool(self) -> bool {
                self.to_f32() != 0.0
            }
            #[inline(always)]
            fn from_bool(v: bool) -> Self {
                if v {
                    <$t>::ONE
                } else {
                    <$t>::ZERO
                }
            }
            #[inline(always)]
            fn zero() -> Self {
                <$t>::ZERO
            }
            #[inline(always)]
            fn one() -> Self {
                <$t>::ONE
            }
        }
    };
}
impl_elem_half!(f16, DType::F16);
impl_elem_half!(bf16, DType::BF16);

/// float16/bfloat16 <-> float32 of a contiguous host tensor in bulk (F16C
/// instructions where the CPU has them; element by element the conversion
/// cost 40x the float32 op it wraps). `None` for other casts and layouts.
pub fn fast_cast(x: &Tensor, dtype: DType) -> Option<Tensor> {
    use half::slice::HalfFloatSliceExt;
    if x.is_gpu() {
        return None;
    }
    let n = x.numel();
    macro_rules! widen_from {
        ($H:ty) => {{
            let src = x.as_slice::<$H>()?;
            let mut out = super::pool::uninit_vec::<f32>(n);
            crate::parallel::fill_chunks(&mut out, |start, c| {
                src[start..start + c.len()].convert_to_f32_slice(c)
            });
            Some(Tensor::from_vec(out, x.shape()))
        }};
    }
    macro_rules! narrow_to {
        ($H:ty) => {{
            let src = x.as_slice::<f32>()?;
            let mut out = super::pool::uninit_vec::<$H>(n);
            crate::parallel::fill_chunks(&mut out, |start, c| {
                c.convert_from_f32_slice(&src[start..start + c.len()])
            });
            Some(Tensor::from_vec(out, x.shape()))
        }};
    }
    match (x.dtype(), dtype) {
        (DType::F16, DType::F32) => widen_from!(f16),
        (DType::BF16, DType::F32) => {
            let src = x.as_slice::<bf16>()?;
            let mut out = super::pool::uninit_vec::<f32>(n);
            crate::parallel::fill_chunks(&mut out, |start, c| {
                crate::cpu::bf16_cast::widen(&src[start..start + c.len()], c)
            });
            Some(Tensor::from_vec(out, x.shape()))
        }
        (DType::F32, DType::BF16) => {
            let src = x.as_slice::<f32>()?;
            let mut out = super::pool::uninit_vec::<bf16>(n);
            crate::parallel::fill_chunks(&mut out, |start, c| {
                crate::cpu::bf16_cast::narrow(&src[start..start + c.len()], c)
            });
            Some(Tensor::from_vec(out, x.shape()))
        }
        (DType::F32, DType::F16) => narrow_to!(f16),
        _ => None,
    }
}

/// `x` as float32 when it is a half type (kernels compute there); `x` itself otherwise.
pub fn widen(x: &Tensor) -> std::borrow::Cow<'_, Tensor> {
    // Borrowed when nothing is widened: no handle clone (two atomic
    // reference-count updates) on every op's path.
    if x.dtype().is_half() {
        std::borrow::Cow::Owned(x.cast_raw(DType::F32))
    } else {
        std::borrow::Cow::Borrowed(x)
    }
}

/// A kernel's float32 result rounded back to `dtype` when that is a half
/// type; results of other dtypes (indices, counts) are left as they are.
pub fn narrow(out: Tensor, dtype: DType) -> Tensor {
    if dtype.is_half() && out.dtype() == DType::F32 {
        out.cast_raw(dtype)
    } else {
        out
    }
}

/// Run `kernel` on `inputs` with half inputs widened to float32, and round
/// its float32 results back to the half type of the first half input
/// (no half input: `kernel` runs on `inputs` as they are).
pub fn via_f32<R: Narrow>(
    inputs: &[&Tensor],
    kernel: impl FnOnce(&[Tensor]) -> Result<R>,
) -> Result<R> {
    let half = inputs.iter().map(|t| t.dtype()).find(|d| d.is_half());
    let wide: Vec<Tensor> = inputs.iter().map(|t| widen(t).into_owned()).collect();
    let out = kernel(&wide)?;
    Ok(match half {
        Some(d) => out.narrow_to(d),
        None => out,
    })
}

/// Results of kernels that `via_f32` rounds back (one tensor or several).
pub trait Narrow {
    fn narrow_to(self, dtype: DType) -> Self;
}
impl Narrow for Tensor {
    fn narrow_to(self, dtype: DType) -> Self {
        narrow(self, dtype)
    }
}
impl Narrow for Vec<Tensor> {
    fn narrow_to(self, dtype: DType) -> Self {
        self.into_iter().map(|t| narrow(t, dtype)).collect()
    }
}
impl Narrow for Vec<Option<Tensor>> {
    fn narrow_to(self, dtype: DType) -> Self {
        self.into_iter()
            .map(|t| t.map(|t| narrow(t, dtype)))
            .collect()
    }
}
impl Narrow for (Tensor, Tensor) {
    fn narrow_to(self, dtype: DType) -> Self {
        (narrow(self.0, dtype), narrow(self.1, dtype))
    }
}
