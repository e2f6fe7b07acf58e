//! In-place writes with PyTorch's autograd semantics: the target takes over
//! the result's graph node; a write through a view rebases the view's base
//! (CopySlices); leaves that require grad refuse in-place writes.

use super::{binary, creation, shape};
use crate::autograd;
use crate::error::{Error, Result};
use crate::tensor::{DType, Tensor};

/// Write `result` into `target` in place (PyTorch's in-place semantics,
/// including autograd: the target takes over the result's graph node).
pub fn assign(target: &Tensor, result: Tensor) -> Result<()> {
    let grad_on = autograd::is_grad_enabled();
    let base = target.view_base();
    if grad_on && target.requires_grad() {
        if target.is_leaf() {
            return Err(Error::Runtime(
                "a leaf Variable that requires grad is being used in an in-place operation.".into(),
            ));
        }
        if base
            .as_ref()
            .is_some_and(|b| b.is_leaf() && b.requires_grad())
        {
            return Err(Error::Runtime("a view of a leaf Variable that requires grad is being used in an in-place operation.".into()));
        }
    }
    if result.shape() != target.shape() {
        return Err(Error::Runtime(format!(
            "output with shape {:?} doesn't match the broadcast shape {:?}",
            target.shape(),
            result.shape()
        )));
    }
    let narrowing = (result.dtype().is_float() && !target.dtype().is_float())
        || (target.dtype() == DType::Bool && result.dtype() != DType::Bool);
    if narrowing {
        return Err(Error::Runtime(format!(
            "result type {} can't be cast to the desired output type {}",
            result.dtype().scalar_name(),
            target.dtype().scalar_name()
        )));
    }
    let src = if result.shares_storage(target) {
        result.contiguous_raw()
    } else {
        result.clone()
    };
    let src = if src.shares_storage(target) {
        crate::dispatch_all!(src.dtype(), T => Tensor::from_vec(src.to_vec::<T>(), src.shape()))
    } else {
        src
    };
    crate::tensor::access::write_into(target, &src)?;
    if !grad_on {
        return Ok(());
    }
    let result = if target.requires_grad() && !result.requires_grad() {
        // A value that does not depend on the graph overwrote part of it:
        // the old value gets a zero gradient (PyTorch's FillBackward0).
        let r = result.detach();
        autograd::record("FillBackward0", &[target], &[&r], |_| Ok(vec![None]));
        r
    } else {
        result
    };
    if !result.requires_grad() {
        return Ok(());
    }
    match base {
        Some(b) => copy_slices(&b, target, &result)?,
        None => {
            let (f, nr) = {
                let m = result.0.autograd.lock();
                (m.grad_fn.clone(), m.output_nr)
            };
            let mut meta = target.0.autograd.lock();
            meta.requires_grad = true;
            meta.grad_fn = f;
            meta.output_nr = nr;
        }
    }
    Ok(())
}

/// After `result` was written through `view` into `base`'s storage, make
/// `base` the output of a node mixing its old value (outside the view) with
/// `result` (inside), and `view` a view of that (PyTorch's CopySlices).
fn copy_slices(base: &Tensor, view: &Tensor, result: &Tensor) -> Result<()> {
    let (vshape, vstrides, voff) = (view.shape_vec(), view.strides().to_vec(), view.offset());
    let (bshape, bdtype) = (base.shape_vec(), base.dtype());
    let holder = base.detach();
    let (sh, st) = (vshape.clone(), vstrides.clone());
    autograd::record("CopySlices", &[base, result], &[&holder], move |g| {
        let Some(g) = &g[0] else {
            return Ok(vec![None, None]);
        };
        let gc = shape::contiguous(g)?;
        let g_result = shape::as_strided(&gc, &sh, &st, voff)?;
        let mask = creation::zeros(&bshape, DType::Bool);
        {
            let _ng = autograd::GradModeGuard::new(false);
            crate::tensor::access::fill_(&shape::as_strided(&mask, &sh, &st, voff)?, 1.0);
        }
        let g_base = binary::where_(&mask, &creation::zeros(&[], bdtype), &gc)?;
        Ok(vec![Some(g_base), Some(g_result)])
    });
    let (f, nr) = {
        let m = holder.0.autograd.lock();
        (m.grad_fn.clone(), m.output_nr)
    };
    {
        let mut meta = base.0.autograd.lock();
        meta.requires_grad = true;
        meta.grad_fn = f;
        meta.output_nr = nr;
    }
    let v = shape::as_strided(base, &vshape, &vstrides, voff)?;
    let (f, nr) = {
        let m = v.0.autograd.lock();
        (m.grad_fn.clone(), m.output_nr)
    };
    let mut meta = view.0.autograd.lock();
    meta.requires_grad = true;
    meta.grad_fn = f;
    meta.output_nr = nr;
    Ok(())
}

/// `t.fill_(v)`: a plain write, or (when `t` is part of a graph) an in-place
/// assignment that cuts the gradient to the overwritten values.
pub fn fill(t: &Tensor, v: f64) -> Result<()> {
    creation::check_fits(v, t.dtype())?;
    check_leaf(t)?;
    if autograd::is_grad_enabled() && t.requires_grad() {
        return assign(t, crate::ops::creation::full(t.shape(), v, t.dtype()));
    }
    crate::tensor::access::fill_(t, v);
    Ok(())
}

/// The operand an in-place op computes from. When autograd records, the
/// backward may save it, so it must be a copy: the in-place write that
/// follows would otherwise invalidate it (PyTorch saves `original_self`).
pub fn source(t: &Tensor) -> Result<Tensor> {
    if autograd::is_grad_enabled() && t.requires_grad() && !t.is_leaf() {
        Ok(crate::ops::shape::clone(t)?)
    } else {
        Ok(t.clone())
    }
}

pub fn check_leaf(t: &Tensor) -> Result<()> {
    if autograd::is_grad_enabled() && t.requires_grad() && t.is_leaf() {
        return Err(Error::Runtime(
            "a leaf Variable that requires grad is being used in an in-place operation.".into(),
        ));
    }
    Ok(())
}

/// `dst += src` written into `dst`'s memory (no autograd: gradient
/// accumulation), when both are contiguous host tensors of one float dtype
/// and shape that share no memory; false (nothing written) otherwise.
pub fn add_assign(dst: &Tensor, src: &Tensor) -> Result<bool> {
    let plain = |t: &Tensor| t.is_contiguous() && !t.is_gpu() && !t.is_meta();
    if dst.shape() != src.shape()
        || dst.dtype() != src.dtype()
        || !matches!(dst.dtype(), DType::F32 | DType::F64)
        || !plain(dst)
        || !plain(src)
        || src.shares_storage(dst)
    {
        return Ok(false);
    }
    let (off, n) = (dst.offset(), dst.numel());
    crate::dispatch_float!(dst.dtype(), "add_assign", T => {
        let s = &src.storage_slice::<T>()[src.offset()..][..n];
        // SAFETY: src does not share dst's storage; nothing else reads dst
        // while it is written (the storage runs its pending readers first).
        let buf = unsafe { dst.storage().buffer_mut() };
        let Some(d) = <T as crate::tensor::storage::BufferElem>::slice_mut(buf) else {
            return Ok(false);
        };
        crate::cpu::add_assign::add_assign(&mut d[off..off + n], s);
    });
    dst.storage().bump_version();
    Ok(true)
}
