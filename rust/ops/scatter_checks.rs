//! PyTorch's argument checks for scatter, scatter_add and scatter_reduce
//! (`scatter_gather_dtype_check` and `scatter_shape_check` in ATen), in its
//! order and with its messages, and the checked conversion of a number
//! `value` (`x.scatter(dim, index, value=v)`) to the destination's dtype.

use super::creation;
use crate::error::{Error, Result};
use crate::tensor::{DType, Tensor};

/// The dtype and shape checks of a scatter of `src` (`None` for a number
/// value) into `x` along the wrapped dim `d`. An empty index skips every
/// check but src's dtype; 0-d tensors count as one element along one dim.
pub fn scatter_checks(x: &Tensor, d: usize, index: &Tensor, src: Option<&Tensor>) -> Result<()> {
    if index.numel() > 0 && !matches!(index.dtype(), DType::I64 | DType::I32) {
        return Err(Error::Runtime(
            "scatter(): Expected dtype int32/int64 for index".into(),
        ));
    }
    if src.is_some_and(|s| s.dtype() != x.dtype()) {
        return Err(Error::Runtime(
            "scatter(): Expected self.dtype to be equal to src.dtype".into(),
        ));
    }
    if index.numel() == 0 {
        return Ok(());
    }
    let nonempty_dim = |t: &Tensor| t.ndim().max(1);
    // (a 0-d tensor has size 1 along every dim, as ATen's ensure_nonempty_size)
    let size = |t: &Tensor, k: usize| -> Result<usize> {
        match t.ndim() {
            0 => Ok(1),
            n => t.shape().get(k).copied().ok_or_else(|| {
                Error::Index(format!(
                    "Dimension out of range (expected to be in range of [-{n}, {}], but got {k})",
                    n - 1
                ))
            }),
        }
    };
    let dims = nonempty_dim(x);
    if nonempty_dim(index) != dims {
        return Err(Error::Runtime(
            "Index tensor must have the same number of dimensions as self tensor".into(),
        ));
    }
    let mut too_big = false;
    for k in (0..dims).filter(|&k| k != d) {
        if size(index, k)? > size(x, k)? {
            too_big = true;
            break;
        }
    }
    let Some(src) = src else {
        return match too_big {
            true => Err(Error::Runtime(format!(
                "Expected index {:?} to be no larger than self {:?} apart from dimension {d}",
                index.shape(),
                x.shape()
            ))),
            false => Ok(()),
        };
    };
    // PyTorch stops at the first dim that is too big; reading a dim src
    // lacks before that is an IndexError.
    for k in 0..dims {
        if too_big {
            break;
        }
        too_big = size(index, k)? > size(src, k)?;
    }
    if nonempty_dim(src) != dims {
        return Err(Error::Runtime(
            "Index tensor must have the same number of dimensions as src tensor".into(),
        ));
    }
    if too_big {
        return Err(Error::Runtime(format!(
            "Expected index {:?} to be no larger than self {:?} apart from dimension {d} and to be no larger size than src {:?}",
            index.shape(),
            x.shape(),
            src.shape()
        )));
    }
    Ok(())
}

/// c10's checked conversion of a scatter's number `value` (a 0-d int64,
/// float64 or bool tensor holding the Python number exactly) to `dtype`:
/// integers out of range overflow, and so does a finite float past float32's
/// range into float32 (an infinity or NaN converts).
pub fn check_value_converts(value: &Tensor, dtype: DType) -> Result<()> {
    match value.dtype() {
        DType::Bool => Ok(()),
        // (every int64 fits int64; f64 is exact for the narrower ranges)
        DType::I64 if dtype == DType::I64 => Ok(()),
        vd => {
            let v = value.item_f64()?;
            if dtype == DType::F32 && v.is_finite() && v.abs() > f64::from(f32::MAX) {
                return Err(Error::Runtime(
                    "value cannot be converted to type float without overflow".into(),
                ));
            }
            creation::check_fits_scalar(v, vd.is_float(), dtype)
        }
    }
}
