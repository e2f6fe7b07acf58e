//! Reductions: sum, prod, amax/amin, max/min with indices, argmax/argmin,
//! cumsum, all/any — with `dim` (one, several or all) and `keepdim`.
//! Composite reductions (mean, var, std, logsumexp, norm) are built from these
//! with tensor ops, so their gradients come for free.

use super::binary::{add, compare, div, eq, mul, sub, CmpOp};
use super::creation::scalar_like;
use super::shape::{expand_to, reshape_to};
use crate::autograd::{record, SavedTensor};
use crate::cpu::sum::Terms;
use crate::error::{Error, Result};
use crate::gpu::reduce::Reduce;
use crate::parallel;
use crate::tensor::layout::{wrap_dim, Layout, Shape, StridedRuns};
use crate::tensor::storage::BufferElem;
use crate::tensor::{half, DType, Tensor};
use crate::{dispatch_all, dispatch_numeric};

/// Which dims a reduction removes (`dims = None` means all).
pub fn reduced_mask(x: &Tensor, dims: Option<&[i64]>) -> Result<Vec<bool>> {
    let n = x.ndim();
    let mut mask = vec![false; n];
    match dims {
        None | Some([]) => mask.iter_mut().for_each(|m| *m = true),
        Some(ds) => {
            for &d in ds {
                let d = wrap_dim(d, n)?;
                if n > 0 {
                    if mask[d] {
                        return Err(Error::Runtime(format!(
                            "dim {d} appears multiple times in the list of dims"
                        )));
                    }
                    mask[d] = true;
                }
            }
        }
    }
    Ok(mask)
}

pub fn reduced_shape(shape: &[usize], mask: &[bool], keepdim: bool) -> Shape {
    shape
        .iter()
        .zip(mask)
        .filter_map(|(&s, &m)| {
            if m {
                if keepdim {
                    Some(1)
                } else {
                    None
                }
            } else {
                Some(s)
            }
        })
        .collect()
}

/// Fold every reduced subspace of `x`.
///
/// `fold(acc, value, i)` sees the values of one output in row-major order of
/// the reduced dims, `i` being the position in that order; `combine` merges
/// partial results of consecutive ranges (used to split one large
/// reduction across threads). Output order: row-major over kept dims.
pub fn fold_reduce<T, A, U>(
    x: &Tensor,
    mask: &[bool],
    init: A,
    fold: impl Fn(A, T, usize) -> A + Sync + Send,
    combine: impl Fn(A, A) -> A + Sync + Send,
    finish: impl Fn(A, usize) -> U + Sync + Send,
) -> Vec<U>
where
    T: BufferElem,
    A: Copy + Send + Sync,
    U: BufferElem,
{
    let src = x.storage_slice::<T>();
    let (mut kshape, mut kstr, mut rshape, mut rstr): (
        Vec<usize>,
        Vec<isize>,
        Vec<usize>,
        Vec<isize>,
    ) = (vec![], vec![], vec![], vec![]);
    for (d, &reduced) in mask.iter().enumerate().take(x.ndim()) {
        if reduced {
            rshape.push(x.shape()[d]);
            rstr.push(x.strides()[d]);
        } else {
            kshape.push(x.shape()[d]);
            kstr.push(x.strides()[d]);
        }
    }
    let n_out: usize = kshape.iter().product();
    let n_red: usize = rshape.iter().product();
    let mut out = vec![U::default(); n_out];
    let fold_range = |base: isize, start: usize, end: usize, acc0: A| -> A {
        let mut acc = acc0;
        let runs = StridedRuns {
            shape: &rshape,
            strides: &[&rstr],
            offsets: &[base],
        };
        let inner = *rstr.last().unwrap_or(&1);
        let mut pos = start;
        runs.for_each_run(start, end, |offs, len| {
            let o = offs[0];
            if inner == 1 {
                for (i, &v) in src[o as usize..o as usize + len].iter().enumerate() {
                    acc = fold(acc, v, pos + i);
                }
            } else {
                for i in 0..len {
                    acc = fold(acc, src[(o + i as isize * inner) as usize], pos + i);
                }
            }
            pos += len;
        });
        acc
    };
    if n_out == 1 && n_red >= parallel::GRAIN && parallel::num_threads() > 1 {
        let chunk = n_red.div_ceil(parallel::num_threads() * 4);
        let parts: Vec<A> = parallel::map_tasks(n_red.div_ceil(chunk), |c| {
            fold_range(
                x.offset() as isize,
                c * chunk,
                ((c + 1) * chunk).min(n_red),
                init,
            )
        });
        let acc = parts.into_iter().reduce(&combine).unwrap_or(init);
        out[0] = finish(acc, n_red);
        return out;
    }
    let work_per_out = n_red.max(1);
    let kinner = *kstr.last().unwrap_or(&0);
    let fill = |start: usize, chunk: &mut [U]| {
        let runs = StridedRuns {
            shape: &kshape,
            strides: &[&kstr],
            offsets: &[x.offset() as isize],
        };
        let mut pos = 0;
        runs.for_each_run(start, start + chunk.len(), |offs, len| {
            for i in 0..len {
                let base = offs[0] + i as isize * kinner;
                chunk[pos + i] = finish(fold_range(base, 0, n_red, init), n_red);
            }
            pos += len;
        });
    };
    if n_out * work_per_out >= parallel::GRAIN && n_out > 1 {
        let per = (parallel::GRAIN / work_per_out).max(1);
        parallel::for_each_chunk_mut(&mut out, per, |i, c| fill(i * per, c));
    } else {
        fill(0, &mut out);
    }
    out
}

/// How a float sum can take the vectorised paths of `cpu::sum`: a
/// contiguous CPU tensor reduced over trailing dims (each output sums one
/// run of memory) or over leading dims (column sums).
#[derive(Clone, Copy)]
enum SumLayout {
    Runs,
    Columns,
}

/// `x` as the 1-D contiguous run of memory its elements fill exactly (a
/// permutation of a contiguous tensor, size-1 dims aside), or None.
fn dense_in_memory(x: &Tensor) -> Option<Tensor> {
    let mut dims: Vec<(isize, usize)> = x
        .strides()
        .iter()
        .zip(x.shape())
        .filter(|(_, &n)| n != 1)
        .map(|(&s, &n)| (s, n))
        .collect();
    if dims.iter().any(|&(s, n)| s <= 0 || n == 0) {
        return None;
    }
    dims.sort_unstable();
    let mut expected = 1isize;
    for (s, n) in dims {
        if s != expected {
            return None;
        }
        expected *= n as isize;
    }
    // All strides positive: the first element is the lowest address.
    Some(x.with_layout(Layout {
        shape: [x.numel()].as_slice().into(),
        strides: [1isize].as_slice().into(),
        offset: x.offset(),
    }))
}

fn sum_layout(x: &Tensor, mask: &[bool]) -> Option<SumLayout> {
    if x.is_gpu() || x.is_meta() || !x.is_contiguous() || x.numel() == 0 {
        return None;
    }
    if mask.iter().skip_while(|&&m| !m).all(|&m| m) {
        Some(SumLayout::Runs)
    } else if mask.iter().skip_while(|&&m| m).all(|&m| !m) {
        Some(SumLayout::Columns)
    } else {
        None
    }
}

fn contiguous_sum<T: crate::tensor::dtype::Float>(
    x: &Tensor,
    mask: &[bool],
    layout: SumLayout,
    terms: Terms,
) -> Vec<T> {
    let kept = kept_numel(x, mask);
    let mut out = vec![T::zero(); kept];
    let as_f32 = (&mut out as &mut dyn std::any::Any).downcast_mut::<Vec<f32>>();
    if let (SumLayout::Runs, Some(o)) = (layout, as_f32) {
        // A pending fused chain is summed as it is computed.
        if super::fusion::run_sums(x, x.numel() / kept, o, terms) {
            return out;
        }
    }
    let src = &x.storage_slice::<T>()[x.offset()..][..x.numel()];
    match layout {
        SumLayout::Runs => crate::cpu::sum::run_sums(src, x.numel() / kept, &mut out, terms),
        SumLayout::Columns => {
            debug_assert!(
                terms == Terms::Values,
                "column sums of squares are not vectorised"
            );
            crate::cpu::sum::column_sums(src, &mut out)
        }
    }
    out
}

/// The number of outputs of a reduction of `x` over `mask`'s dims.
fn kept_numel(x: &Tensor, mask: &[bool]) -> usize {
    x.shape()
        .iter()
        .zip(mask)
        .filter(|(_, &m)| !m)
        .map(|(&s, _)| s)
        .product()
}

/// Extremes over the trailing dims of a contiguous float CPU tensor, row by
/// row in vector lanes (`cpu::extrema`): the values as a tensor of `shape`
/// and, with `with_index`, each first position. None for other layouts.
fn trailing_extrema(
    x: &Tensor,
    mask: &[bool],
    shape: &[usize],
    is_max: bool,
    with_index: bool,
) -> Option<(Tensor, Vec<i64>)> {
    if !matches!(sum_layout(x, mask), Some(SumLayout::Runs)) {
        return None;
    }
    let rows = kept_numel(x, mask);
    let mut index = vec![0i64; if with_index { rows } else { 0 }];
    fn run<T: crate::tensor::dtype::Float>(
        x: &Tensor,
        rows: usize,
        index: &mut [i64],
        is_max: bool,
    ) -> Vec<T> {
        let src = &x.storage_slice::<T>()[x.offset()..][..x.numel()];
        let mut values = crate::tensor::pool::uninit_vec::<T>(rows);
        crate::cpu::extrema::row_extrema(src, &mut values, index, is_max);
        values
    }
    let values = match x.dtype() {
        DType::F32 => Tensor::from_vec(run::<f32>(x, rows, &mut index, is_max), shape),
        DType::F64 => Tensor::from_vec(run::<f64>(x, rows, &mut index, is_max), shape),
        _ => return None,
    };
    Some((values, index))
}

/// Sum dtype: integers and bool sum to int64, as PyTorch.
fn sum_dtype(d: DType) -> DType {
    if d.is_float() {
        d
    } else {
        DType::I64
    }
}

/// `x.sum(dims, keepdim)`.
pub fn sum(x: &Tensor, dims: Option<&[i64]>, keepdim: bool) -> Result<Tensor> {
    let mask = reduced_mask(x, dims)?;
    let shape = reduced_shape(x.shape(), &mask, keepdim);
    // A full float sum of a transposed (permuted) dense tensor adds the same
    // values as the one over its memory in order, which the vectorised
    // contiguous sum does (PyTorch too walks such a tensor in memory order).
    let flat = (mask.iter().all(|&m| m)
        && matches!(x.dtype(), DType::F32 | DType::F64)
        && !x.is_gpu()
        && !x.is_meta()
        && !x.is_contiguous())
    .then(|| dense_in_memory(x))
    .flatten();
    let (xs, xmask) = match &flat {
        Some(v) => (v, vec![true]),
        None => (x, mask.clone()),
    };
    let layout = sum_layout(xs, &xmask);
    let out = match (xs.dtype(), layout) {
        _ if x.is_meta() => Tensor::meta(&shape, sum_dtype(x.dtype())),
        // Accumulated in float, rounded once (`tensor::half`).
        (d, _) if d.is_half() => half::narrow(sum(&half::widen(x), dims, keepdim)?, d),
        _ if x.is_gpu() => crate::gpu::reduce::reduce(
            &x.cast_raw(sum_dtype(x.dtype())),
            &mask,
            Reduce::Sum,
            &shape,
        )?,
        (DType::F32, Some(l)) => {
            Tensor::from_vec(contiguous_sum::<f32>(xs, &xmask, l, Terms::Values), &shape)
        }
        (DType::F64, Some(l)) => {
            Tensor::from_vec(contiguous_sum::<f64>(xs, &xmask, l, Terms::Values), &shape)
        }
        // Float sums accumulate in f64 for accuracy close to PyTorch's
        // cascade summation.
        (DType::F32, None) => Tensor::from_vec(
            fold_reduce(
                x,
                &mask,
                0.0f64,
                |a, v: f32, _| a + v as f64,
                |a, b| a + b,
                |a, _| a as f32,
            ),
            &shape,
        ),
        (DType::F64, None) => Tensor::from_vec(
            fold_reduce(
                x,
                &mask,
                0.0f64,
                |a, v: f64, _| a + v,
                |a, b| a + b,
                |a, _| a,
            ),
            &shape,
        ),
        _ => {
            let xi = x.cast_raw(DType::I64);
            Tensor::from_vec(
                fold_reduce(
                    &xi,
                    &mask,
                    0i64,
                    |a, v: i64, _| a.wrapping_add(v),
                    |a, b| a.wrapping_add(b),
                    |a, _| a,
                ),
                &shape,
            )
        }
    };
    debug_assert_eq!(out.dtype(), sum_dtype(x.dtype()));
    let (src_shape, keep_shape) = (x.shape_vec(), reduced_shape(x.shape(), &mask, true));
    // PyTorch names the full reduction ...Backward0 and the dim overload ...Backward1.
    let name = if dims.is_none() {
        "SumBackward0"
    } else {
        "SumBackward1"
    };
    record(name, &[x], &[&out], move |g| {
        let Some(g) = &g[0] else {
            return Ok(vec![None]);
        };
        Ok(vec![Some(expand_to(
            &reshape_to(g, &keep_shape)?,
            &src_shape,
        )?)])
    });
    Ok(out)
}

/// Sum a (broadcast) gradient back to `shape`.
pub fn sum_to(g: &Tensor, shape: &[usize]) -> Result<Tensor> {
    if g.shape() == shape {
        return Ok(g.clone());
    }
    let lead = g.ndim() - shape.len().min(g.ndim());
    let mut dims: Vec<i64> = (0..lead as i64).collect();
    for (i, &s) in shape.iter().enumerate() {
        if s == 1 && g.shape()[lead + i] != 1 {
            dims.push((lead + i) as i64);
        }
    }
    let r = if dims.is_empty() {
        g.clone()
    } else {
        sum(g, Some(&dims), true)?
    };
    reshape_to(&r, shape)
}

pub fn mean(x: &Tensor, dims: Option<&[i64]>, keepdim: bool) -> Result<Tensor> {
    if !x.dtype().is_float() {
        return Err(Error::NotImplemented(format!(
            "mean(): could not infer output dtype. Input dtype must be either a floating point or complex dtype. Got: {}",
            x.dtype().scalar_name()
        )));
    }
    // Half types: the float32 sum divided, rounded once (as PyTorch).
    if let Some(r) = super::unary::composite_in_f32(x, |w| mean(w, dims, keepdim)) {
        return r;
    }
    let mask = reduced_mask(x, dims)?;
    let count: usize = x
        .shape()
        .iter()
        .zip(&mask)
        .filter(|(_, &m)| m)
        .map(|(&s, _)| s)
        .product();
    let out = {
        let _ng = crate::autograd::GradModeGuard::new(false);
        let s = sum(x, dims, keepdim)?;
        div(&s, &scalar_like(count as f64, &s))?
    };
    let (src_shape, keep_shape) = (x.shape_vec(), reduced_shape(x.shape(), &mask, true));
    let name = if dims.is_none() {
        "MeanBackward0"
    } else {
        "MeanBackward1"
    };
    record(name, &[x], &[&out], move |g| {
        let Some(g) = &g[0] else {
            return Ok(vec![None]);
        };
        let g = div(g, &scalar_like(count as f64, g))?;
        Ok(vec![Some(expand_to(
            &reshape_to(&g, &keep_shape)?,
            &src_shape,
        )?)])
    });
    Ok(out)
}

/// `x.prod(dim, keepdim)`.
pub fn prod(x: &Tensor, dims: Option<&[i64]>, keepdim: bool) -> Result<Tensor> {
    if let Some(r) = super::autocast::run(super::autocast::Policy::Float32, &[x], |t| {
        prod(&t[0], dims, keepdim)
    }) {
        return r;
    }
    crate::gpu::ops::cpu_only(&[x], "prod")?;
    let mask = reduced_mask(x, dims)?;
    let shape = reduced_shape(x.shape(), &mask, keepdim);
    let out = match x.dtype() {
        _ if x.is_meta() => Tensor::meta(&shape, sum_dtype(x.dtype())),
        d if d.is_half() => half::narrow(prod(&half::widen(x), dims, keepdim)?, d),
        // Running products in float32, as PyTorch's CPU kernel forms them
        // (in order for fewer than 32 values): an intermediate overflow is
        // inf there too, and the gradient's result / x sees the same bits.
        DType::F32 => Tensor::from_vec(
            fold_reduce(
                x,
                &mask,
                1.0f32,
                |a, v: f32, _| a * v,
                |a, b| a * b,
                |a, _| a,
            ),
            &shape,
        ),
        DType::F64 => Tensor::from_vec(
            fold_reduce(
                x,
                &mask,
                1.0f64,
                |a, v: f64, _| a * v,
                |a, b| a * b,
                |a, _| a,
            ),
            &shape,
        ),
        _ => {
            let xi = x.cast_raw(DType::I64);
            Tensor::from_vec(
                fold_reduce(
                    &xi,
                    &mask,
                    1i64,
                    |a, v: i64, _| a.wrapping_mul(v),
                    |a, b| a.wrapping_mul(b),
                    |a, _| a,
                ),
                &shape,
            )
        }
    };
    let (sx, so) = (SavedTensor::new(x), SavedTensor::output(&out));
    let keep_shape = reduced_shape(x.shape(), &mask, true);
    let mask2 = mask.clone();
    let name = if dims.is_none() {
        "ProdBackward0"
    } else {
        "ProdBackward1"
    };
    let one_dim = match dims {
        Some([d]) if x.ndim() > 0 => Some(wrap_dim(*d, x.ndim())?),
        _ => None,
    };
    let full = dims.is_none_or(|d| d.is_empty());
    record(name, &[x], &[&out], move |g| {
        let Some(g) = &g[0] else {
            return Ok(vec![None]);
        };
        let (x, o) = (sx.get()?, &so.unpack()?);
        if x.ndim() == 0 {
            return Ok(vec![Some(g.clone())]);
        }
        if full || one_dim.is_some() {
            return Ok(vec![Some(prod_backward(g, x, o, one_dim, &keep_shape)?)]);
        }
        // Several dims (not in PyTorch's API): where(x == 0, the product of
        // the others when it is the only zero, else o / x).
        let src = x.shape_vec();
        let g = expand_to(&reshape_to(g, &keep_shape)?, &src)?;
        let o = expand_to(&reshape_to(o, &keep_shape)?, &src)?;
        let zero = scalar_like(0.0, x);
        let has_zero = eq(x, &zero)?;
        let one = scalar_like(1.0, x);
        let x1 = super::binary::where_(&has_zero, &one, x)?;
        let dims: Vec<i64> = mask2
            .iter()
            .enumerate()
            .filter(|(_, &m)| m)
            .map(|(i, _)| i as i64)
            .collect();
        let p1 = expand_to(&prod(&x1, Some(&dims), true)?, &src)?;
        let nzeros = expand_to(
            &sum(
                &super::unary::to_dtype(&has_zero, x.dtype())?,
                Some(&dims),
                true,
            )?,
            &src,
        )?;
        let only_zero =
            super::binary::logical(super::binary::LogicOp::And, &has_zero, &eq(&nzeros, &one)?)?;
        let d = super::binary::where_(
            &has_zero,
            &super::binary::where_(&only_zero, &p1, &zero)?,
            &div(&o, &x1)?,
        )?;
        Ok(vec![Some(mul(&g, &d)?)])
    });
    Ok(out)
}

/// PyTorch's `prod_backward` (FunctionsManual.cpp), with differentiable ops:
/// `g * (result / x)` when x has no zero; otherwise the product of the
/// others as exclusive cumulative products from both ends (no division),
/// except over all elements with two or more zeros outside `create_graph`,
/// where the gradient is all zeros. `dim` is None for the product of all.
fn prod_backward(
    g: &Tensor,
    x: &Tensor,
    o: &Tensor,
    dim: Option<usize>,
    keep_shape: &[usize],
) -> Result<Tensor> {
    let zeros = x.to_f64_vec().iter().filter(|&&v| v == 0.0).count();
    let (g, o) = match dim {
        Some(_) => (reshape_to(g, keep_shape)?, reshape_to(o, keep_shape)?),
        None => (reshape_to(g, &[])?, reshape_to(o, &[])?),
    };
    if zeros == 0 {
        return mul(&g, &div(&o, x)?);
    }
    match dim {
        None if zeros > 1 && !crate::autograd::is_grad_enabled() => {
            super::creation::zeros_on(x.shape(), g.dtype(), g.device())
        }
        None => {
            let flat = reshape_to(x, &[x.numel()])?;
            reshape_to(&prod_safe_zeros_backward(&g, &flat, 0)?, x.shape())
        }
        Some(d) => prod_safe_zeros_backward(&g, x, d),
    }
}

/// `g * (exclusive cumprod from the start * exclusive cumprod from the end)`
/// along `d`: each element's product of the others, zeros included.
fn prod_safe_zeros_backward(g: &Tensor, x: &Tensor, d: usize) -> Result<Tensor> {
    use super::shape::{cat, narrow};
    let n = x.shape()[d];
    if x.numel() == 0 {
        return expand_to(g, x.shape());
    }
    let mut ones_shape = x.shape_vec();
    ones_shape[d] = 1;
    let ones = super::creation::full_on(&ones_shape, 1.0, x.dtype(), x.device())?;
    let di = d as i64;
    let before = cat(&[ones.clone(), narrow(x, di, 0, n as i64 - 1)?], di)?;
    let exclusive_normal = super::scan::cumprod(&before, di)?;
    let after = super::index::flip(&narrow(x, di, 1, n as i64 - 1)?, &[di])?;
    let exclusive_reverse =
        super::index::flip(&super::scan::cumprod(&cat(&[ones, after], di)?, di)?, &[di])?;
    mul(g, &mul(&exclusive_normal, &exclusive_reverse)?)
}

/// amax / amin over dims; the gradient is shared evenly among ties.
pub fn amax(x: &Tensor, dims: Option<&[i64]>, keepdim: bool, is_max: bool) -> Result<Tensor> {
    let name = if is_max {
        "AmaxBackward0"
    } else {
        "AminBackward0"
    };
    amax_named(x, dims, keepdim, is_max, name)
}

/// `x.max()` / `x.min()` over all elements: amax's values and gradient
/// (shared evenly among ties), under PyTorch's name for it.
pub fn max_all(x: &Tensor, is_max: bool) -> Result<Tensor> {
    let name = if is_max {
        "MaxBackward1"
    } else {
        "MinBackward1"
    };
    amax_named(x, None, false, is_max, name)
}

/// The (empty) result of reducing an empty tensor over non-empty dims: in
/// the graph like any other result (its gradient is the input's zeros).
fn empty_result_with_grad(x: &Tensor, shape: &[usize], name: &'static str) -> Tensor {
    let out = Tensor::zeros(shape, x.dtype());
    if x.dtype().is_float() {
        let (in_shape, dtype) = (x.shape_vec(), x.dtype());
        record(name, &[x], &[&out], move |_| {
            Ok(vec![Some(Tensor::zeros(&in_shape, dtype))])
        });
    }
    out
}

fn amax_named(
    x: &Tensor,
    dims: Option<&[i64]>,
    keepdim: bool,
    is_max: bool,
    name: &'static str,
) -> Result<Tensor> {
    let op = if is_max { "amax" } else { "amin" };
    if x.numel() == 0 && dims.is_none() {
        return Err(Error::Runtime(format!(
            "{op}(): Expected reduction dim to be specified for input.numel() == 0. Specify the reduction dim with the 'dim' argument."
        )));
    }
    let mask = reduced_mask(x, dims)?;
    let shape = reduced_shape(x.shape(), &mask, keepdim);
    if x.numel() == 0 {
        // Reducing only non-empty dims of an empty tensor gives an empty result.
        if let Some(d) = (0..x.ndim()).find(|&d| mask[d] && x.shape()[d] == 0) {
            return Err(Error::Index(format!(
                "{op}(): Expected reduction dim {d} to have non-zero size."
            )));
        }
        return Ok(empty_result_with_grad(x, &shape, name));
    }
    let out = if x.is_meta() {
        Tensor::meta(&shape, x.dtype())
    } else if x.is_gpu() {
        let kind = if is_max { Reduce::Max } else { Reduce::Min };
        crate::gpu::reduce::reduce(x, &mask, kind, &shape)?
    } else if let Some((values, _)) = trailing_extrema(x, &mask, &shape, is_max, false) {
        values
    } else {
        dispatch_all!(x.dtype(), T => {
            let pick = move |a: Option<T>, v: T| -> Option<T> {
                match a {
                    None => Some(v),
                    Some(a) => {
                        #[allow(clippy::eq_op)]
                        let nan_a = a != a;
                        #[allow(clippy::eq_op)]
                        let nan_v = v != v;
                        // NaN wins (propagates); otherwise the larger (smaller) value
                        let take_v = !nan_a && (nan_v || (is_max && v > a) || (!is_max && v < a));
                        Some(if take_v { v } else { a })
                    }
                }
            };
            Tensor::from_vec(
                fold_reduce(x, &mask, None, move |a, v: T, _| pick(a, v), move |a, b| match b { Some(b) => pick(a, b), None => a }, |a, _| a.unwrap_or_default()),
                &shape,
            )
        })
    };
    let (sx, so) = (SavedTensor::new(x), SavedTensor::output(&out));
    let keep_shape = reduced_shape(x.shape(), &mask, true);
    let dims: Vec<i64> = mask
        .iter()
        .enumerate()
        .filter(|(_, &m)| m)
        .map(|(i, _)| i as i64)
        .collect();
    record(name, &[x], &[&out], move |g| {
        let Some(g) = &g[0] else {
            return Ok(vec![None]);
        };
        let (x, o) = (sx.get()?, &so.unpack()?);
        let src = x.shape_vec();
        let o = expand_to(&reshape_to(o, &keep_shape)?, &src)?;
        let hit = eq(x, &o)?;
        // x.max()/x.min() over everything share the gradient among the NaNs
        // when the result is NaN (PyTorch's evenly_distribute_backward);
        // amax/amin compare with == only (NaN gives NaN).
        let hit = if name.ends_with("Backward1") {
            let both_nan = super::binary::logical(
                super::binary::LogicOp::And,
                &super::unary::isnan(x)?,
                &super::unary::isnan(&o)?,
            )?;
            super::binary::logical(super::binary::LogicOp::Or, &hit, &both_nan)?
        } else {
            hit
        };
        let m = super::unary::to_dtype(&hit, x.dtype())?;
        let cnt = expand_to(&sum(&m, Some(&dims), true)?, &src)?;
        let g = expand_to(&reshape_to(g, &keep_shape)?, &src)?;
        Ok(vec![Some(div(&mul(&g, &m)?, &cnt)?)])
    });
    Ok(out)
}

/// Index of the max (or min) along one dim, or over the flattened tensor.
/// Ties resolve to the first occurrence; NaN counts as the maximum.
pub fn argmax(x: &Tensor, dim: Option<i64>, keepdim: bool, is_max: bool) -> Result<Tensor> {
    let in_ndim = x.ndim();
    let (x, mask) = match dim {
        None => {
            let flat = reshape_to(&x.detach(), &[x.numel()])?;
            (flat, vec![true])
        }
        Some(d) => {
            let d = wrap_dim(d, x.ndim())?;
            let mut m = vec![false; x.ndim().max(1)];
            if x.ndim() > 0 {
                m[d] = true;
            }
            (x.clone(), m)
        }
    };
    let name = if is_max { "argmax" } else { "argmin" };
    if x.ndim() > 0 && x.shape().iter().zip(&mask).any(|(&s, &m)| m && s == 0) {
        return Err(Error::Index(match dim {
            None => {
                format!("{name}(): Expected reduction dim to be specified for input.numel() == 0.")
            }
            Some(d) => format!("{name}(): Expected reduction dim {d} to have non-zero size."),
        }));
    }
    let zero_dim = x.ndim() == 0;
    let x = if zero_dim { reshape_to(&x, &[1])? } else { x };
    let mut shape = reduced_shape(x.shape(), &mask, keepdim);
    if (dim.is_none() && !keepdim) || zero_dim {
        shape.clear();
    } else if dim.is_none() {
        // keepdim over every dim: all ones, in the input's rank (0-d stays 0-d).
        shape = smallvec::smallvec![1; in_ndim];
    }
    if x.is_meta() {
        return Ok(Tensor::meta(&shape, DType::I64));
    }
    if x.is_gpu() {
        let kind = if is_max {
            Reduce::ArgMax
        } else {
            Reduce::ArgMin
        };
        return crate::gpu::reduce::reduce(&x, &mask, kind, &shape);
    }
    if let Some((_, idx)) = trailing_extrema(&x, &mask, &shape, is_max, true) {
        return Ok(Tensor::from_vec(idx, &shape));
    }
    let idx: Vec<i64> = dispatch_all!(x.dtype(), T => fold_reduce(
        &x,
        &mask,
        (None::<T>, 0usize),
        move |(best, bi), v: T, i| {
            #[allow(clippy::eq_op)]
            let v_nan = v != v;
            match best {
                None => (Some(v), i),
                Some(b) => {
                    #[allow(clippy::eq_op)]
                    let b_nan = b != b;
                    if b_nan { (best, bi) }
                    else if v_nan || (is_max && v > b) || (!is_max && v < b) { (Some(v), i) }
                    else { (best, bi) }
                }
            }
        },
        move |a, b| {
            match (a.0, b.0) {
                (None, _) => b,
                (_, None) => a,
                (Some(va), Some(vb)) => {
                    #[allow(clippy::eq_op)]
                    let (na, nb) = (va != va, vb != vb);
                    if na { a } else if nb || (is_max && vb > va) || (!is_max && vb < va) { b } else { a }
                }
            }
        },
        |a, _| a.1 as i64,
    ));
    Ok(Tensor::from_vec(idx, &shape))
}

/// `x.max(dim, keepdim)` -> (values, indices), differentiable in values.
pub fn max_dim(x: &Tensor, dim: i64, keepdim: bool, is_max: bool) -> Result<(Tensor, Tensor)> {
    let d = wrap_dim(dim, x.ndim())?;
    if x.ndim() == 0 {
        // The one element is its own max, at index 0; the shape stays ().
        return Ok((super::shape::clone(x)?, Tensor::scalar(0i64)));
    }
    if x.shape()[d] == 0 {
        let name = if is_max { "max" } else { "min" };
        return Err(Error::Index(format!(
            "{name}(): Expected reduction dim {d} to have non-zero size."
        )));
    }
    let idx = argmax(x, Some(d as i64), true, is_max)?;
    let idx_keep = idx.clone();
    let values = gather(&x.detach(), d as i64, &idx)?;
    let (values, idx) = if keepdim {
        (values, idx)
    } else {
        (
            super::shape::squeeze(&values, Some(&[d as i64]))?,
            super::shape::squeeze(&idx, Some(&[d as i64]))?,
        )
    };
    let values = values.contiguous_raw();
    let values = if values.shares_storage(x) {
        super::shape::clone(&values)?
    } else {
        values
    };
    let src = x.shape_vec();
    // (idx_keep: the indices before squeezing, for the backward scatter)
    record(
        if is_max {
            "MaxBackward0"
        } else {
            "MinBackward0"
        },
        &[x],
        &[&values],
        move |g| {
            let Some(g) = &g[0] else {
                return Ok(vec![None]);
            };
            let g = if g.ndim() < src.len() {
                super::shape::unsqueeze(g, d as i64)?
            } else {
                g.clone()
            };
            let z = super::creation::zeros_on(&src, g.dtype(), g.device())?;
            Ok(vec![Some(scatter_add(&z, d as i64, &idx_keep, &g)?)])
        },
    );
    Ok((values, idx))
}

/// Gather along `dim` (no autograd; the indexing module wraps it).
pub fn gather(x: &Tensor, dim: i64, index: &Tensor) -> Result<Tensor> {
    super::index::gather(x, dim, index)
}

fn scatter_add(x: &Tensor, dim: i64, index: &Tensor, src: &Tensor) -> Result<Tensor> {
    super::index::scatter_add(x, dim, index, src)
}

/// `x.cumsum(dim)` (integers accumulate in int64).
pub fn cumsum(x: &Tensor, dim: i64) -> Result<Tensor> {
    crate::gpu::ops::cpu_only(&[x], "cumsum")?;
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
    let acc = scan_accumulator(dtype);
    let xc = x.cast_raw(acc).contiguous_raw();
    let shape = x.shape_vec();
    let inner: usize = shape[d + 1..].iter().product();
    let len = shape[d];
    let out = if xc.is_meta() {
        Tensor::meta(&shape, dtype)
    } else {
        dispatch_numeric!(acc, T => {
            let src = xc.as_slice::<T>().expect("contiguous");
            // A cached buffer: a fresh one's page faults were most of the time.
            let mut o = crate::tensor::pool::uninit_vec::<T>(src.len());
            o.copy_from_slice(src);
            for outer in 0..shape[..d].iter().product::<usize>() {
                let base = outer * len * inner;
                if inner == 1 {
                    // Along the last dim: a running sum in a register (through
                    // memory, each add waited on the previous store).
                    if let Some((first, rest)) = o[base..base + len].split_first_mut() {
                        let mut acc = *first;
                        for v in rest {
                            acc = crate::cpu::arith::Arith::add(acc, *v);
                            *v = acc;
                        }
                    }
                    continue;
                }
                for k in 1..len {
                    for j in 0..inner {
                        let p = base + k * inner + j;
                        o[p] = crate::cpu::arith::Arith::add(o[p], o[p - inner]);
                    }
                }
            }
            Tensor::from_vec(o, &shape)
        })
    };
    // Running sums in the wider type, each rounded once.
    let out = if out.dtype() == dtype {
        out
    } else {
        out.cast_raw(dtype)
    };
    record("CumsumBackward0", &[x], &[&out], move |g| {
        let Some(g) = &g[0] else {
            return Ok(vec![None]);
        };
        // reverse cumulative sum: flip, cumsum, flip
        let f = super::index::flip(g, &[d as i64])?;
        Ok(vec![Some(super::index::flip(
            &cumsum(&f, d as i64)?,
            &[d as i64],
        )?)])
    });
    Ok(out)
}

/// `x.cumsum(dim, dtype=dtype)`: the sums run on x converted to `dtype`,
/// and the result has that dtype. As in PyTorch, the gradient is converted
/// back to x's dtype before its reversed cumulative sum (a float64 input's
/// gradient is summed in float64 under a float32 scan).
pub fn cumsum_as(x: &Tensor, dim: i64, dtype: Option<DType>) -> Result<Tensor> {
    let Some(dt) = dtype.filter(|&dt| dt != x.dtype() || !dt.is_float()) else {
        return cumsum(x, dim);
    };
    let d = wrap_dim(dim, x.ndim())?;
    let out = cumsum(&x.cast_raw(dt).detach(), dim)?;
    let out = if out.dtype() == dt {
        out
    } else {
        out.cast_raw(dt)
    };
    if x.dtype().is_float() && dt.is_float() {
        let x_dtype = x.dtype();
        record("CumsumBackward0", &[x], &[&out], move |g| {
            let Some(g) = &g[0] else {
                return Ok(vec![None]);
            };
            let g = super::unary::to_dtype(g, x_dtype)?;
            if g.ndim() == 0 {
                return Ok(vec![Some(g)]);
            }
            let f = super::index::flip(&g, &[d as i64])?;
            Ok(vec![Some(super::index::flip(
                &cumsum(&f, d as i64)?,
                &[d as i64],
            )?)])
        });
    }
    Ok(out)
}

/// The type cumsum and cumprod run in: PyTorch's CPU kernels accumulate
/// float32 in double (`acc_type<float, false>`) and the half types in float,
/// rounding each output once (float32 cumsum of [3e38, 3e38, -3e38] is
/// [3e38, inf, 3e38]).
pub fn scan_accumulator(dtype: DType) -> DType {
    if dtype == DType::F32 {
        DType::F64
    } else {
        dtype.compute_dtype()
    }
}

/// `x.all(dim)` / `x.any(dim)`.
pub fn all_any(x: &Tensor, dims: Option<&[i64]>, keepdim: bool, is_all: bool) -> Result<Tensor> {
    let mask = reduced_mask(x, dims)?;
    let shape = reduced_shape(x.shape(), &mask, keepdim);
    let b = x.cast_raw(DType::Bool);
    if x.is_meta() {
        return Ok(Tensor::meta(&shape, DType::Bool));
    }
    if x.is_gpu() {
        // all = min over 0/1 words, any = max
        let kind = if is_all { Reduce::Min } else { Reduce::Max };
        return crate::gpu::reduce::reduce(&b, &mask, kind, &shape);
    }
    let v = if is_all {
        fold_reduce(
            &b,
            &mask,
            true,
            |a, v: bool, _| a && v,
            |a, b| a && b,
            |a, _| a,
        )
    } else {
        fold_reduce(
            &b,
            &mask,
            false,
            |a, v: bool, _| a || v,
            |a, b| a || b,
            |a, _| a,
        )
    };
    Ok(Tensor::from_vec(v, &shape))
}

/// `x.var(dims, correction, keepdim)` (composite, so differentiable).
pub fn var(x: &Tensor, dims: Option<&[i64]>, correction: f64, keepdim: bool) -> Result<Tensor> {
    if let Some(r) = super::unary::composite_in_f32(x, |w| var(w, dims, correction, keepdim)) {
        return r;
    }
    if x.dtype() == DType::F32 && !x.is_gpu() {
        // Squares of float32 deviations overflow past 1.8e19 (var of
        // [1e30, 0] is finite); PyTorch accumulates in higher precision too.
        let wide = super::unary::to_dtype(x, DType::F64)?;
        return super::unary::to_dtype(&var(&wide, dims, correction, keepdim)?, DType::F32);
    }
    let mask = reduced_mask(x, dims)?;
    let n: usize = x
        .shape()
        .iter()
        .zip(&mask)
        .filter(|(_, &m)| m)
        .map(|(&s, _)| s)
        .product();
    let out = {
        let _ng = crate::autograd::GradModeGuard::new(false);
        let m = mean(x, dims, true)?;
        // One correction pass: sum / n misses a constant row's value by an
        // ulp or so, which left the variance of [c, c, ..] at ~1e-30 (and
        // std's gradient at tiny / tiny); x - m is exact there.
        let m = add(&m, &mean(&sub(x, &m)?, dims, true)?)?;
        let d = sub(x, &m)?;
        let ss = sum(&mul(&d, &d)?, dims, keepdim)?;
        // (nothing reduced gives NaN whatever the correction, as PyTorch)
        let denom = if n == 0 {
            0.0
        } else {
            (n as f64 - correction).max(0.0)
        };
        div(&ss, &scalar_like(denom, &ss))?
    };
    let sx = SavedTensor::new(x);
    let dims = dims.map(|d| d.to_vec());
    let keep_shape = reduced_shape(x.shape(), &mask, true);
    record("VarBackward0", &[x], &[&out], move |g| {
        let Some(g) = &g[0] else {
            return Ok(vec![None]);
        };
        Ok(vec![Some(var_backward(
            g,
            sx.get()?,
            dims.as_deref(),
            correction,
            &keep_shape,
        )?)])
    });
    Ok(out)
}

/// PyTorch's `var_backward`, with differentiable ops:
/// `2 / (N - correction) * g * (x - mean(x))`. Over all elements with
/// N - correction <= 0 it is `g * (NaN where x == mean(x), else inf)`; over
/// dims the factor is taken as it is (inf at N == correction, negative past).
fn var_backward(
    g: &Tensor,
    x: &Tensor,
    dims: Option<&[i64]>,
    correction: f64,
    keep_shape: &[usize],
) -> Result<Tensor> {
    if x.ndim() == 0 || dims.is_none() {
        let dof = x.numel() as f64 - correction;
        let m = mean(x, None, false)?;
        if dof <= 0.0 {
            let at_mean = eq(x, &m)?;
            let r = super::binary::where_(
                &at_mean,
                &scalar_like(f64::NAN, x),
                &scalar_like(f64::INFINITY, x),
            )?;
            return mul(g, &r);
        }
        return mul(&mul(g, &scalar_like(2.0 / dof, g))?, &sub(x, &m)?);
    }
    let dims = dims.unwrap_or_default();
    let g = reshape_to(g, keep_shape)?;
    // (PyTorch's _safe_size: the product of the sizes of the listed dims)
    let mut rnumel = 1usize;
    for &d in dims {
        rnumel *= x.shape()[wrap_dim(d, x.ndim())?];
    }
    let m = mean(x, Some(dims), true)?;
    let factor = 2.0 / (rnumel as f64 - correction);
    mul(&mul(&g, &scalar_like(factor, &g))?, &sub(x, &m)?)
}

/// `sqrt(var)`, whose gradient is 0 (not 0 * inf = NaN) where std is 0,
/// as PyTorch's.
pub fn std(x: &Tensor, dims: Option<&[i64]>, correction: f64, keepdim: bool) -> Result<Tensor> {
    if let Some(r) = super::unary::composite_in_f32(x, |w| std(w, dims, correction, keepdim)) {
        return r;
    }
    if x.dtype() == DType::F32 && !x.is_gpu() {
        // As in `var`: the variance of float32 data may not fit a float32.
        let wide = super::unary::to_dtype(x, DType::F64)?;
        return super::unary::to_dtype(&std(&wide, dims, correction, keepdim)?, DType::F32);
    }
    let v = var(x, dims, correction, keepdim)?;
    let out = {
        let _no_grad = crate::autograd::GradModeGuard::new(false);
        super::unary::sqrt(&v.detach())?
    };
    let so = crate::autograd::SavedTensor::output(&out);
    crate::autograd::record("StdBackward0", &[&v], &[&out], move |g| {
        let Some(g) = &g[0] else {
            return Ok(vec![None]);
        };
        let o = &so.unpack()?;
        let zero = scalar_like(0.0, o);
        let half_over = div(g, &mul(o, &scalar_like(2.0, o))?)?;
        Ok(vec![Some(super::binary::where_(
            &super::binary::eq(o, &zero)?,
            &zero,
            &half_over,
        )?)])
    });
    Ok(out)
}

/// `logsumexp(x, dims, keepdim)`, stable: max + log(sum(exp(x - max))).
pub fn logsumexp(x: &Tensor, dims: &[i64], keepdim: bool) -> Result<Tensor> {
    if let Some(r) = super::unary::composite_in_f32(x, |w| logsumexp(w, dims, keepdim)) {
        return r;
    }
    let x = if x.dtype().is_float() {
        x.clone()
    } else {
        super::unary::to_dtype(x, DType::F32)?
    };
    let mask = reduced_mask(&x, Some(dims))?;
    if x.shape().iter().zip(&mask).any(|(&s, &m)| m && s == 0) {
        // Nothing to reduce: log(0) = -inf, as PyTorch.
        return super::unary::log(&sum(&super::unary::exp(&x)?, Some(dims), keepdim)?);
    }
    let r = {
        let _no_grad = crate::autograd::GradModeGuard::new(false);
        let m = amax(&x, Some(dims), true, true)?;
        // Infinite maxima would give inf - inf; use 0 there.
        let fin = super::unary::isfinite(&m)?;
        let m = super::binary::where_(&fin, &m, &scalar_like(0.0, &m))?;
        let s = sum(&super::unary::exp(&sub(&x, &m)?)?, Some(dims), true)?;
        super::binary::add(&super::unary::log(&s)?, &m)?
    };
    let out = if keepdim {
        r
    } else {
        reshape_to(&r, &reduced_shape(x.shape(), &mask, false))?
    };
    // PyTorch's gradient g * exp(x - logsumexp): 0 for a finite x beside an
    // infinite result (the composed softmax gave 0 * inf = NaN there).
    // Written with tensor ops, so it is itself differentiable.
    let (sx, so) = (SavedTensor::new(&x), SavedTensor::output(&out));
    let kept = reduced_shape(x.shape(), &mask, true);
    record("LogsumexpBackward0", &[&x], &[&out], move |g| {
        let Some(g) = &g[0] else {
            return Ok(vec![None]);
        };
        let (x, o) = (sx.get()?, reshape_to(&so.unpack()?, &kept)?);
        let g = reshape_to(g, &kept)?;
        Ok(vec![Some(mul(&g, &super::unary::exp(&sub(x, &o)?)?)?)])
    });
    Ok(out)
}

/// Vector norms: p = 1, 2, inf, -inf, 0, or any other p; 'fro' is p = 2.
pub fn norm(x: &Tensor, p: f64, dims: Option<&[i64]>, keepdim: bool) -> Result<Tensor> {
    if !x.dtype().is_float() {
        return Err(Error::NotImplemented(format!(
            "linalg.vector_norm: Expected a floating point or complex tensor as input. Got {}",
            x.dtype().scalar_name()
        )));
    }
    if let Some(r) = super::unary::composite_in_f32(x, |w| norm(w, p, dims, keepdim)) {
        return r;
    }
    if p == 0.0 {
        // The count of non-zeros: in the graph, with no gradient (PyTorch's
        // backward hands back an undefined one; `.grad` stays None).
        let count = {
            let _no_grad = crate::autograd::GradModeGuard::new(false);
            let nz = compare(CmpOp::Ne, x, &scalar_like(0.0, x))?;
            sum(&super::unary::to_dtype(&nz, x.dtype())?, dims, keepdim)?
        };
        crate::autograd::record("LinalgVectorNormBackward0", &[x], &[&count], |_| {
            Ok(vec![None])
        });
        return Ok(count);
    }
    let mask = reduced_mask(x, dims)?;
    if p.is_infinite() && (0..x.ndim()).any(|d| mask[d] && x.shape()[d] == 0)
        || x.ndim() > 0 && x.numel() == 0 && p.is_infinite() && dims.is_none_or(|d| d.is_empty())
    {
        return Err(Error::Runtime(format!(
            "linalg.vector_norm cannot compute the {}inf norm on an empty tensor because the operation does not have an identity",
            if p < 0.0 { "-" } else { "" }
        )));
    }
    let reduced: usize = (0..x.ndim())
        .filter(|&d| mask[d])
        .map(|d| x.shape()[d])
        .product();
    let explicit_dim_of_0d = x.ndim() == 0 && dims.is_some_and(|d| !d.is_empty());
    if reduced == 1 && !explicit_dim_of_0d {
        // One element per norm: PyTorch returns |x| itself (no |x|^p
        // overflow: the 2-norm of 3e38 in float32 is 3e38, not inf).
        let a = super::unary::abs(x)?;
        let out = reshape_to(&a, &reduced_shape(x.shape(), &mask, keepdim))?;
        if p == 1.0 || p.is_infinite() {
            return Ok(out);
        }
        // The gradient is still the p-norm's, sign(x) |x|^(p-1) / |x|^(p-1):
        // NaN at an infinite or NaN x (sign(x) = 0 at 0).
        return single_element_pnorm(x, out);
    }
    if p == 2.0 {
        return norm2(x, dims, keepdim);
    }
    let a = super::unary::abs(x)?;
    if p.is_infinite() {
        return inf_norm(x, &a, dims, keepdim, p > 0.0);
    }
    if p == 1.0 {
        return sum(&a, dims, keepdim);
    }
    pnorm(x, &a, p, dims, keepdim)
}

/// A p-norm (p not 1 or inf) over single elements: `out` is |x| (reshaped),
/// its gradient `g sign(x)`, NaN where x is not finite.
fn single_element_pnorm(x: &Tensor, out: Tensor) -> Result<Tensor> {
    let out = out.detach();
    let sx = SavedTensor::new(x);
    record("LinalgVectorNormBackward0", &[x], &[&out], move |g| {
        let Some(g) = &g[0] else {
            return Ok(vec![None]);
        };
        let x = sx.get()?;
        let g = reshape_to(g, x.shape())?;
        let d = super::binary::where_(
            &super::unary::isfinite(x)?,
            &super::unary::sign(x)?,
            &scalar_like(f64::NAN, x),
        )?;
        Ok(vec![Some(mul(&g, &d)?)])
    });
    Ok(out)
}

/// The inf (-inf) norm, max (min) |x|, with PyTorch's gradient: shared among
/// the elements where |x| equals the norm or is NaN, times sign(x) (0 at
/// NaN), so a NaN gives 0 rather than spreading NaN over its neighbours.
fn inf_norm(
    x: &Tensor,
    a: &Tensor,
    dims: Option<&[i64]>,
    keepdim: bool,
    is_max: bool,
) -> Result<Tensor> {
    let out = {
        let _no_grad = crate::autograd::GradModeGuard::new(false);
        amax(a, dims, keepdim, is_max)?
    };
    let (sx, so) = (SavedTensor::new(x), SavedTensor::output(&out));
    let mask = reduced_mask(x, dims)?;
    let kept = reduced_shape(x.shape(), &mask, true);
    let dims: Vec<i64> = (0..x.ndim())
        .filter(|&d| mask[d])
        .map(|d| d as i64)
        .collect();
    record("LinalgVectorNormBackward0", &[x], &[&out], move |g| {
        let Some(g) = &g[0] else {
            return Ok(vec![None]);
        };
        let (x, n) = (sx.get()?, reshape_to(&so.unpack()?, &kept)?);
        let g = reshape_to(g, &kept)?;
        let a = super::unary::abs(x)?;
        let hit = super::binary::logical(
            super::binary::LogicOp::Or,
            &eq(&a, &n)?,
            &super::unary::isnan(&a)?,
        )?;
        let hit = super::unary::to_dtype(&hit, x.dtype())?;
        let share = div(&g, &sum(&hit, Some(&dims), true)?)?;
        Ok(vec![Some(mul(
            &super::unary::sign(x)?,
            &mul(&share, &hit)?,
        )?)])
    });
    Ok(out)
}

/// `(sum |x|^p)^(1/p)` for other p, with PyTorch's gradient
/// `g * sign(x) |x|^(p-1) / norm^(p-1)`, 0 where the norm is 0 (the
/// composed formula gave 0 * inf = NaN there). Written with tensor ops, so
/// it is itself differentiable.
fn pnorm(x: &Tensor, a: &Tensor, p: f64, dims: Option<&[i64]>, keepdim: bool) -> Result<Tensor> {
    let out = {
        let _no_grad = crate::autograd::GradModeGuard::new(false);
        let s = sum(&super::binary::pow(a, &scalar_like(p, a))?, dims, keepdim)?;
        super::binary::pow(&s, &scalar_like(1.0 / p, &s))?
    };
    let (sx, so) = (
        crate::autograd::SavedTensor::new(x),
        crate::autograd::SavedTensor::output(&out),
    );
    let mask = reduced_mask(x, dims)?;
    let kept = reduced_shape(x.shape(), &mask, true);
    crate::autograd::record("LinalgVectorNormBackward0", &[x], &[&out], move |g| {
        let Some(g) = &g[0] else {
            return Ok(vec![None]);
        };
        let (x, n) = (sx.get()?, reshape_to(&so.unpack()?, &kept)?);
        let g = reshape_to(g, &kept)?;
        let a = super::unary::abs(x)?;
        let num = mul(
            &super::unary::sign(x)?,
            &super::binary::pow(&a, &scalar_like(p - 1.0, &a))?,
        )?;
        if p < 1.0 {
            // |x|^(p-1) is inf at x = 0, where PyTorch's gradient is 0; the
            // norm's power has a positive exponent (0 at a zero norm).
            let zero = scalar_like(0.0, &a);
            let num = super::binary::where_(&eq(x, &zero)?, &zero, &num)?;
            let scale = mul(&g, &super::binary::pow(&n, &scalar_like(1.0 - p, &n))?)?;
            return Ok(vec![Some(mul(&num, &scale)?)]);
        }
        let den = super::binary::pow(&n, &scalar_like(p - 1.0, &n))?;
        let zero = scalar_like(0.0, &n);
        let scale = super::binary::where_(&eq(&n, &zero)?, &zero, &div(&g, &den)?)?;
        Ok(vec![Some(mul(&num, &scale)?)])
    });
    Ok(out)
}

/// The 2-norm as one graph node (PyTorch's `LinalgVectorNormBackward0`):
/// the sum of squares is formed without storing the squares when the norm
/// runs over the trailing dims of a contiguous float tensor (every
/// parameter's norm in `clip_grad_norm_`).
fn norm2(x: &Tensor, dims: Option<&[i64]>, keepdim: bool) -> Result<Tensor> {
    let mask = reduced_mask(x, dims)?;
    let shape = reduced_shape(x.shape(), &mask, keepdim);
    let sum_squares = match (x.dtype(), sum_layout(x, &mask)) {
        (DType::F32, Some(SumLayout::Runs)) => Tensor::from_vec(
            contiguous_sum::<f32>(x, &mask, SumLayout::Runs, Terms::Squares),
            &shape,
        ),
        (DType::F64, Some(SumLayout::Runs)) => Tensor::from_vec(
            contiguous_sum::<f64>(x, &mask, SumLayout::Runs, Terms::Squares),
            &shape,
        ),
        _ => {
            let _ng = crate::autograd::GradModeGuard::new(false);
            sum(&mul(x, x)?, dims, keepdim)?
        }
    };
    let out = {
        let _ng = crate::autograd::GradModeGuard::new(false);
        super::unary::sqrt(&sum_squares)?
    };
    let (sx, so) = (SavedTensor::new(x), SavedTensor::output(&out));
    let keep_shape = reduced_shape(x.shape(), &mask, true);
    record("LinalgVectorNormBackward0", &[x], &[&out], move |g| {
        let Some(g) = &g[0] else {
            return Ok(vec![None]);
        };
        let (x, o) = (sx.get()?, &so.unpack()?);
        let (g, o) = (reshape_to(g, &keep_shape)?, reshape_to(o, &keep_shape)?);
        // d |x| / dx = x / |x|; PyTorch defines it as 0 where |x| = 0.
        let zero = scalar_like(0.0, &o);
        let at_zero = eq(&o, &zero)?;
        let safe = super::binary::where_(&at_zero, &scalar_like(1.0, &o), &o)?;
        let scale = super::binary::where_(&at_zero, &zero, &div(&g, &safe)?)?;
        Ok(vec![Some(mul(x, &scale)?)])
    });
    Ok(out)
}
