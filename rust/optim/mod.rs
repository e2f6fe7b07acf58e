//! Fused optimizer updates: in place, multithreaded, one call per parameter group.
//!
//! Every optimizer is a kernel on plain slices (`sgd.rs`, `adam.rs`, ...) plus a
//! group driver. [`for_each_chunk`] is the multi-tensor engine: it takes
//! parallel lists of tensors (list 0 the parameters, list 1 the gradients, the
//! rest state tensors, all of a parameter's shape), splits the whole group
//! into chunks of roughly equal size and runs the kernel on each chunk, in
//! parallel on the worker team when the group is large.
//!
//! Per-parameter scalars (`step`, NAdam's `mu_product`) are 0-dim tensors kept
//! by the Python side; [`bump_steps`] and [`scalar_values`] read and update them.
//!
//! The kernels spell updates as `p = p + value * x` to mirror PyTorch's formulas.
#![allow(clippy::assign_op_pattern)]

pub mod adadelta;
pub mod adagrad;
pub mod adam;
pub mod adamax;
pub mod nadam;
pub mod radam;
pub mod rmsprop;
pub mod sgd;

use crate::error::{Error, Result};
use crate::parallel;
use crate::parallel::SendPtr;
use crate::tensor::access::{fill_, write_into};
use crate::tensor::dtype::Float;
use crate::tensor::storage::BufferElem;
use crate::tensor::{DType, Tensor};
use smallvec::SmallVec;

/// Index of the gradient list (read only) in the lists given to [`for_each_chunk`].
pub const GRAD: usize = 1;

/// Run `f(param_index, slices)` over every element of every parameter.
///
/// `lists[k][i]` is tensor `k` of parameter `i`; `slices[k]` is the matching
/// sub-range of it (the same range in every list). List [`GRAD`] is only read;
/// the others are updated in place (their version is bumped). A non-contiguous
/// tensor is worked on in a contiguous copy that is written back afterwards; a
/// gradient of another dtype is converted.
pub fn for_each_chunk<T>(
    lists: &[Vec<Tensor>],
    f: impl Fn(usize, &mut [&mut [T]]) + Sync + Send,
) -> Result<()>
where
    T: Float + BufferElem,
{
    let n_params = lists.first().map_or(0, |l| l.len());
    for l in lists {
        if l.len() != n_params {
            return Err(Error::Value(format!(
                "optimizer step: tensor lists have different lengths ({} and {})",
                n_params,
                l.len()
            )));
        }
    }
    let mut work: Vec<Vec<Tensor>> = Vec::with_capacity(lists.len());
    let mut write_back: Vec<(Tensor, Tensor)> = Vec::new();
    for (k, l) in lists.iter().enumerate() {
        let mut w = Vec::with_capacity(l.len());
        for (i, t) in l.iter().enumerate() {
            let numel = lists[0][i].numel();
            if t.numel() != numel {
                return Err(Error::Runtime(format!(
                    "optimizer step: tensor of {} elements given for a parameter of {} elements",
                    t.numel(),
                    numel
                )));
            }
            if k == GRAD {
                let g = if t.dtype() != T::DTYPE {
                    t.cast_raw(T::DTYPE)
                } else {
                    t.clone()
                };
                w.push(if g.is_contiguous() {
                    g
                } else {
                    g.contiguous_raw()
                });
                continue;
            }
            if t.dtype() != T::DTYPE {
                return Err(Error::Runtime(format!(
                    "optimizer step: expected a {} tensor, got {}",
                    T::DTYPE.scalar_name(),
                    t.dtype().scalar_name()
                )));
            }
            if t.is_contiguous() {
                w.push(t.clone());
            } else {
                let c = t.contiguous_raw();
                write_back.push((t.clone(), c.clone()));
                w.push(c);
            }
        }
        work.push(w);
    }
    // Base pointers of each parameter's tensors.
    let mut ptrs: Vec<SmallVec<[SendPtr<T>; 8]>> = Vec::with_capacity(n_params);
    let mut sizes: Vec<usize> = Vec::with_capacity(n_params);
    for i in 0..n_params {
        let mut row = SmallVec::new();
        for w in &work {
            let t = &w[i];
            // SAFETY: each tensor's [offset, offset + numel) range is only touched
            // by the worker owning that chunk; gradients are only read.
            let buf = unsafe { t.storage().buffer_mut() };
            let s = T::slice_mut(buf).expect("dtype checked");
            let off = t.offset();
            assert!(off + t.numel() <= s.len());
            row.push(SendPtr(unsafe { s.as_mut_ptr().add(off) }));
        }
        ptrs.push(row);
        sizes.push(work[0][i].numel());
    }
    let run = |i: usize, start: usize, len: usize| {
        let mut slices: SmallVec<[&mut [T]; 8]> = ptrs[i]
            .iter()
            // SAFETY: see above; chunks of one parameter do not overlap.
            .map(|p| unsafe { std::slice::from_raw_parts_mut(p.0.add(start), len) })
            .collect();
        f(i, &mut slices);
    };
    let total: usize = sizes.iter().sum();
    let threads = parallel::num_threads();
    if total < parallel::GRAIN || threads == 1 {
        for (i, &n) in sizes.iter().enumerate() {
            if n > 0 {
                run(i, 0, n);
            }
        }
    } else {
        // Chunks of about total / (4 * threads) elements, multiples of 64.
        let chunk = (total.div_ceil(threads * 4).max(parallel::GRAIN / 2) + 63) & !63;
        let mut items: Vec<(usize, usize, usize)> = Vec::new();
        for (i, &n) in sizes.iter().enumerate() {
            let mut s = 0;
            while s < n {
                let len = chunk.min(n - s);
                items.push((i, s, len));
                s += len;
            }
        }
        parallel::for_each_task(items.len(), |t| {
            let (i, s, len) = items[t];
            run(i, s, len)
        });
    }
    for (k, w) in work.iter().enumerate() {
        if k == GRAD {
            continue;
        }
        for t in w {
            t.storage().bump_version();
        }
    }
    for (dst, src) in write_back {
        write_into(&dst, &src)?;
    }
    Ok(())
}

/// The value of each one-element tensor, as f64.
pub fn scalar_values(ts: &[Tensor]) -> Result<Vec<f64>> {
    ts.iter().map(|t| t.item_f64()).collect()
}

/// `step += 1` on each step tensor; returns the new values.
pub fn bump_steps(steps: &[Tensor]) -> Result<Vec<f64>> {
    steps
        .iter()
        .map(|t| {
            let v = t.item_f64()? + 1.0;
            fill_(t, v);
            Ok(v)
        })
        .collect()
}

/// Store `v` (rounded to the tensor's dtype) into a one-element tensor and
/// return the stored value.
pub fn set_scalar(t: &Tensor, v: f64) -> f64 {
    let v = match t.dtype() {
        DType::F32 => v as f32 as f64,
        _ => v,
    };
    fill_(t, v);
    v
}

/// `self.lerp_(end, w)` as PyTorch computes it.
#[inline(always)]
pub fn lerp<T: Float>(s: T, end: T, w: T) -> T {
    if w < T::c(0.5) {
        s + w * (end - s)
    } else {
        end - (end - s) * (T::c(1.0) - w)
    }
}

/// Run `$body` with `$T` bound to f32 or f64 according to `$dtype`.
#[macro_export]
macro_rules! optim_dispatch {
    ($dtype:expr, $T:ident => $body:expr) => {
        match $dtype {
            $crate::tensor::DType::F32 => {
                type $T = f32;
                $body
            }
            $crate::tensor::DType::F64 => {
                type $T = f64;
                $body
            }
            other => {
                return Err($crate::error::Error::Runtime(format!(
                    "optimizers support float32 and float64 parameters, got {}",
                    other.scalar_name()
                )))
            }
        }
    };
}

/// The dtype of a group's parameters (they must all agree).
pub fn group_dtype(params: &[Tensor]) -> Result<DType> {
    let d = params.first().map_or(DType::F32, |p| p.dtype());
    if params.iter().any(|p| p.dtype() != d) {
        return Err(Error::Runtime(
            "the fused optimizer step needs every parameter of a group to have the same dtype"
                .into(),
        ));
    }
    Ok(d)
}
