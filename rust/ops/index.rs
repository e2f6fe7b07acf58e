//! Index-based ops: gather, scatter(_add), index_select, index_add, take,
//! flip, masked_fill — with gradients. Repeated indices accumulate.

use super::creation;
use super::scatter_checks::{check_value_converts, scatter_checks};
use crate::autograd::record;
use crate::dispatch_all;
use crate::error::{Error, Result};
use crate::tensor::dtype::Elem;
use crate::tensor::layout::wrap_dim;
use crate::tensor::storage::BufferElem;
use crate::tensor::{DType, Tensor};

/// Index tensors must be int64 (int32 accepted, as PyTorch does for most ops).
pub fn index_values<'a>(index: &'a Tensor, op: &str) -> Result<std::borrow::Cow<'a, [i64]>> {
    match index.dtype() {
        // (Borrowed when contiguous int64: no copy.)
        DType::I64 => Ok(index.data::<i64>()),
        DType::I32 => Ok(std::borrow::Cow::Owned(
            index.cast_raw(DType::I64).to_vec::<i64>(),
        )),
        // gather/scatter say "int64"; index_select/index_add accept int32 too.
        d if op.starts_with("index_") => Err(Error::Runtime(format!(
            "{op}(): Expected dtype int32 or int64 for index, but got {}",
            d.scalar_name()
        ))),
        d => Err(Error::Runtime(format!(
            "{op}(): Expected dtype int64 for index, but got {}",
            d.scalar_name()
        ))),
    }
}

/// Checks a gather/scatter index: PyTorch does not wrap negative ones there,
/// and out of range is a RuntimeError.
#[inline(always)]
fn check_index(i: i64, size: usize, dim: usize) -> Result<usize> {
    if i < 0 || i >= size as i64 {
        return Err(Error::Runtime(format!(
            "index {i} is out of bounds for dimension {dim} with size {size}"
        )));
    }
    Ok(i as usize)
}

/// Checks an index_select/index_add/embedding index: negative ones are out
/// of range there too (PyTorch wraps only in advanced indexing), an IndexError.
fn check_select_index(i: i64, size: usize) -> Result<usize> {
    if i < 0 || i >= size as i64 {
        return Err(Error::Index("index out of range in self".into()));
    }
    Ok(i as usize)
}

/// Row-major offsets for a contiguous shape.
fn strides_of(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

/// Calls `f(i, offset)` for every index element i (row-major over
/// `idx_shape`): the offset in a contiguous tensor of `shape` of the element
/// it selects along `dim`. The index's multi-index advances like an odometer,
/// with the offset of its coordinates other than `dim` kept alongside (a
/// division per dimension and element made gather 8x slower than PyTorch's).
fn for_each_gather_offset(
    shape: &[usize],
    dim: usize,
    idx_shape: &[usize],
    idx: &[i64],
    mut f: impl FnMut(usize, usize),
) -> Result<()> {
    if idx.is_empty() {
        // Nothing to visit (the index may even have another rank than `shape`).
        return Ok(());
    }
    let st = strides_of(shape);
    let last = idx_shape.len() - 1;
    let row = idx_shape[last];
    let (size, dim_stride) = (shape[dim], st[dim]);
    let along_row = if last == dim { 0 } else { st[last] };
    let mut pos = vec![0usize; last];
    let mut base = 0usize;
    for (r, values) in idx.chunks_exact(row).enumerate() {
        for (k, &iv) in values.iter().enumerate() {
            f(
                r * row + k,
                base + k * along_row + check_index(iv, size, dim)? * dim_stride,
            );
        }
        for d in (0..last).rev() {
            pos[d] += 1;
            let step = if d == dim { 0 } else { st[d] };
            base += step;
            if pos[d] < idx_shape[d] {
                break;
            }
            base -= step * idx_shape[d];
            pos[d] = 0;
        }
    }
    Ok(())
}

fn check_index_shape(x: &Tensor, dim: usize, index: &Tensor, op: &str) -> Result<()> {
    if index.numel() == 0 {
        // An empty index selects nothing: PyTorch checks no shapes then.
        return Ok(());
    }
    if index.ndim().max(1) != x.ndim().max(1) {
        return Err(Error::Runtime(format!(
            "Index tensor must have the same number of dimensions as input tensor ({op}: input {:?}, index {:?})",
            x.shape(),
            index.shape()
        )));
    }
    for d in 0..index.ndim() {
        if d != dim && index.shape()[d] > x.shape().get(d).copied().unwrap_or(1) {
            return Err(Error::Runtime(format!(
                "Size does not match at dimension {d} expected index {:?} to be smaller than self {:?} apart from dimension {dim}",
                index.shape(),
                x.shape()
            )));
        }
    }
    Ok(())
}

/// PyTorch checks an index's dtype only when it has elements: an empty one
/// of any dtype selects nothing.
fn empty_index_as_long(index: &Tensor) -> Tensor {
    if index.numel() == 0 && !matches!(index.dtype(), DType::I64 | DType::I32) {
        Tensor::zeros(index.shape(), DType::I64)
    } else {
        index.clone()
    }
}

/// `torch.gather(x, dim, index)`.
pub fn gather(x: &Tensor, dim: i64, index: &Tensor) -> Result<Tensor> {
    let index = &empty_index_as_long(index);
    let d = wrap_dim(dim, x.ndim())?;
    check_index_shape(x, d, index, "gather")?;
    if let Some(out) = Tensor::meta_result(&[x, index], index.shape(), x.dtype()) {
        record_gather_backward(x, d, index, &out);
        return Ok(out);
    }
    if x.is_gpu() || index.is_gpu() {
        let out = crate::gpu::index::gather(x, d, index)?;
        record_gather_backward(x, d, index, &out);
        return Ok(out);
    }
    let idx = index_values(index, "gather")?;
    let xs = x.contiguous_raw();
    let shape = shape_or_one(x);
    let ishape = shape_or_one(index);
    let out = dispatch_all!(x.dtype(), T => {
        let src = xs.as_slice::<T>().expect("contiguous");
        let mut o = crate::tensor::pool::uninit_vec::<T>(idx.len());
        for_each_gather_offset(&shape, d, &ishape, &idx, |i, off| o[i] = src[off])?;
        Tensor::from_vec(o, index.shape())
    });
    record_gather_backward(x, d, index, &out);
    Ok(out)
}

fn record_gather_backward(x: &Tensor, d: usize, index: &Tensor, out: &Tensor) {
    let (src_shape, index) = (x.shape_vec(), index.clone());
    record("GatherBackward0", &[x], &[out], move |g| {
        let Some(g) = &g[0] else {
            return Ok(vec![None]);
        };
        let z = creation::zeros_on(&src_shape, g.dtype(), g.device())?;
        Ok(vec![Some(scatter_add(&z, d as i64, &index, g)?)])
    });
}

/// Out-of-place `x.scatter_add(dim, index, src)` / `x.scatter(dim, index, src)`.
fn scatter_impl(
    x: &Tensor,
    dim: i64,
    index: &Tensor,
    src: &Tensor,
    accumulate: bool,
) -> Result<Tensor> {
    let d = wrap_dim(dim, x.ndim())?;
    scatter_checks(x, d, index, Some(src))?;
    let index = &empty_index_as_long(index);
    let out = if let Some(out) = Tensor::meta_result(&[x, index, src], x.shape(), x.dtype()) {
        out
    } else if x.is_gpu() || index.is_gpu() || src.is_gpu() {
        if !accumulate {
            return Err(crate::gpu::ops::unsupported("scatter", x.dtype()));
        }
        crate::gpu::index::scatter_add(x, d, index, src)?
    } else {
        let idx = index_values(index, "scatter")?;
        let shape = shape_or_one(x);
        let ishape = shape_or_one(index);
        // src elements at the index's coordinates
        let src_c = src.cast_raw(x.dtype());
        let src_vals_t = if idx.is_empty() {
            // Nothing is written (PyTorch checks no shapes for an empty index).
            Tensor::zeros(&[0], x.dtype())
        } else {
            let _ng = crate::autograd::GradModeGuard::new(false);
            let mut t = src_c.detach();
            if t.ndim() == 0 && index.ndim() == 1 {
                t = super::shape::reshape_to(&t, &[1])?;
            }
            for k in 0..index.ndim() {
                t = super::shape::narrow(&t, k as i64, 0, index.shape()[k] as i64)?;
            }
            t
        };
        dispatch_all!(x.dtype(), T => {
            let mut o = crate::tensor::pool::uninit_vec::<T>(x.numel());
            o.copy_from_slice(&x.data::<T>());
            let sv = src_vals_t.data::<T>();
            for_each_gather_offset(&shape, d, &ishape, &idx, |i, off| {
                o[off] = if accumulate { add_elem(o[off], sv[i]) } else { sv[i] };
            })?;
            Tensor::from_vec(o, x.shape())
        })
    };
    let index_c = index.clone();
    let src_shape = src.shape_vec();
    record(
        if accumulate {
            "ScatterAddBackward0"
        } else {
            "ScatterBackward0"
        },
        &[x, src],
        &[&out],
        move |g| {
            let Some(g) = &g[0] else {
                return Ok(vec![None, None]);
            };
            let gx = if accumulate {
                g.clone()
            } else {
                let mask_src = creation::full_on(index_c.shape(), 0.0, g.dtype(), g.device())?;
                scatter_impl(
                    g,
                    d as i64,
                    &index_c,
                    &super::shape::expand_to(&mask_src, index_c.shape())?,
                    false,
                )?
            };
            let gs = gather(g, d as i64, &index_c)?;
            let gs = if src_shape.is_empty() && index_c.numel() == 1 {
                super::shape::reshape_to(&gs, &[])?
            } else {
                gs
            };
            // pad the gathered gradient to src's shape (index may be smaller)
            let gs = if index_c.numel() == 0 {
                creation::zeros_on(&src_shape, g.dtype(), g.device())?
            } else if gs.shape() != src_shape.as_slice() {
                let full = creation::zeros_on(&src_shape, g.dtype(), g.device())?;
                let mut t = full.detach();
                for k in 0..index_c.ndim() {
                    t = super::shape::narrow(&t, k as i64, 0, index_c.shape()[k] as i64)?;
                }
                crate::tensor::access::write_into(&t, &gs)?;
                full
            } else {
                gs
            };
            Ok(vec![Some(gx), Some(gs)])
        },
    );
    Ok(out)
}

#[inline(always)]
fn add_elem<T: BufferElem>(a: T, b: T) -> T {
    if T::DTYPE.is_float() {
        T::from_f64(a.to_f64() + b.to_f64())
    } else if T::DTYPE == DType::Bool {
        T::from_bool(a.to_bool() || b.to_bool())
    } else {
        T::from_i64(a.to_i64().wrapping_add(b.to_i64()))
    }
}

pub fn scatter_add(x: &Tensor, dim: i64, index: &Tensor, src: &Tensor) -> Result<Tensor> {
    scatter_impl(x, dim, index, src, true)
}

pub fn scatter(x: &Tensor, dim: i64, index: &Tensor, src: &Tensor) -> Result<Tensor> {
    scatter_impl(x, dim, index, src, false)
}

/// What `x.scatter(dim, index, ...)` writes: a tensor `src`, or a number
/// `value` (a 0-d int64, float64 or bool tensor holding the number exactly).
pub enum ScatterSource<'a> {
    Src(&'a Tensor),
    Value(&'a Tensor),
}

/// `x.scatter(dim, index, src | value, reduce=None | "add" | "multiply")`,
/// with PyTorch's checks in its order: dtypes and shapes, the reduce name,
/// then, per element written, its index's bounds before the value's
/// conversion to x's dtype (so an empty index takes any number, and an
/// out-of-bounds first index is reported before an overflowing value).
pub fn scatter_with(
    x: &Tensor,
    dim: i64,
    index: &Tensor,
    source: ScatterSource<'_>,
    reduce: Option<&str>,
) -> Result<Tensor> {
    let d = wrap_dim(dim, x.ndim())?;
    let src = match source {
        ScatterSource::Src(src) => {
            scatter_checks(x, d, index, Some(src))?;
            src.clone()
        }
        ScatterSource::Value(value) => {
            scatter_checks(x, d, index, None)?;
            value.detach().cast_raw(x.dtype())
        }
    };
    if !matches!(reduce, None | Some("add" | "multiply")) {
        return Err(Error::Runtime(
            "reduce argument must be either add or multiply.".into(),
        ));
    }
    let src = match source {
        ScatterSource::Value(value) => {
            if index.numel() > 0 {
                // (the first element written is the index's first)
                let first = index_values(index, "scatter")?[0];
                check_index(first, shape_or_one(x)[d], d)?;
                check_value_converts(value, x.dtype())?;
            }
            super::shape::expand_to(&src, index.shape())?
        }
        ScatterSource::Src(_) => src,
    };
    let Some(reduce) = reduce else {
        return scatter_impl(x, dim, index, &src, false);
    };
    // PyTorch has no derivative for a scatter with a reduce: its graph
    // takes the result, and backward raises.
    let out = {
        let _ng = crate::autograd::GradModeGuard::new(false);
        match reduce {
            "add" => scatter_impl(x, dim, index, &src, true),
            _ => scatter_reduce(x, dim, index, &src, "prod", true),
        }
    }?;
    record(
        "torch::autograd::NotImplemented",
        &[x, &src],
        &[&out],
        |_| {
            Err(Error::Runtime(
                "derivative for aten::scatter is not implemented".into(),
            ))
        },
    );
    Ok(out)
}

/// `x.index_select(dim, index)` with a 1-D index.
pub fn index_select(x: &Tensor, dim: i64, index: &Tensor) -> Result<Tensor> {
    if index.ndim() > 1 {
        return Err(Error::Index(
            "index_select(): Index is supposed to be a vector".into(),
        ));
    }
    let d = wrap_dim(dim, x.ndim())?;
    let meta = x.is_meta() || index.is_meta();
    if (x.is_gpu() || index.is_gpu() || meta) && x.ndim() > 0 {
        // a gather with the 1-D index broadcast along every other dim
        let out = if meta {
            let mut shape = x.shape_vec();
            shape[d] = index.numel();
            Tensor::meta(&shape, x.dtype())
        } else {
            crate::gpu::index::gather(x, d, &spread_index(x, d, index)?)?
        };
        let (src_shape, index) = (x.shape_vec(), index.clone());
        record("IndexSelectBackward0", &[x], &[&out], move |g| {
            let Some(g) = &g[0] else {
                return Ok(vec![None]);
            };
            let z = creation::zeros_on(&src_shape, g.dtype(), g.device())?;
            Ok(vec![Some(index_add(&z, d as i64, &index, g, 1.0)?)])
        });
        return Ok(out);
    }
    let idx = index_values(index, "index_select")?;
    if x.ndim() == 0 && idx.len() != 1 {
        return Err(Error::Runtime(format!(
            "index_select(): Index to scalar can have only 1 value, got {} value(s)",
            idx.len()
        )));
    }
    let size = if x.ndim() == 0 { 1 } else { x.shape()[d] };
    if x.ndim() > 1 && !idx.is_empty() && (d == 1 || x.numel() == 0) {
        // PyTorch's strided kernel (dim 1, or an empty self) words it so.
        if size == 0 {
            return Err(Error::Runtime(
                "index_select(): self indexing axis dim should be positive".into(),
            ));
        }
        if let Some(&bad) = idx.iter().find(|&&i| i < 0 || i >= size as i64) {
            return Err(Error::Runtime(format!(
                "INDICES element is out of DATA bounds, id={bad} axis_dim={size}"
            )));
        }
    }
    let idx: Vec<usize> = idx
        .iter()
        .map(|&i| check_select_index(i, size))
        .collect::<Result<_>>()?;
    let xc = x.contiguous_raw();
    let shape = x.shape();
    let outer: usize = shape[..d.min(shape.len())].iter().product();
    let inner: usize = if shape.is_empty() {
        1
    } else {
        shape[d + 1..].iter().product()
    };
    let mut oshape = x.shape_vec();
    if !oshape.is_empty() {
        oshape[d] = idx.len();
    }
    let out = dispatch_all!(x.dtype(), T => {
        let src = xc.as_slice::<T>().expect("contiguous");
        // From the buffer cache (a fresh allocation's page faults were most
        // of an embedding lookup's time); every row is written.
        let mut o = crate::tensor::pool::uninit_vec::<T>(outer * idx.len() * inner);
        for (row, dst) in o.chunks_exact_mut(inner.max(1)).enumerate().take(outer * idx.len()) {
            let (a, i) = (row / idx.len(), idx[row % idx.len()]);
            let base = (a * size + i) * inner;
            dst.copy_from_slice(&src[base..base + inner]);
        }
        Tensor::from_vec(o, &oshape)
    });
    let (src_shape, index) = (x.shape_vec(), index.clone());
    record("IndexSelectBackward0", &[x], &[&out], move |g| {
        let Some(g) = &g[0] else {
            return Ok(vec![None]);
        };
        let z = creation::zeros_on(&src_shape, g.dtype(), g.device())?;
        Ok(vec![Some(index_add(&z, d as i64, &index, g, 1.0)?)])
    });
    Ok(out)
}

/// Out-of-place `x.index_add(dim, index, source, alpha)`.
pub fn index_add(
    x: &Tensor,
    dim: i64,
    index: &Tensor,
    source: &Tensor,
    alpha: f64,
) -> Result<Tensor> {
    let d = wrap_dim(dim, x.ndim())?;
    check_index_add(x, d, index, source)?;
    let out = if let Some(out) = Tensor::meta_result(&[x, index, source], x.shape(), x.dtype()) {
        out
    } else if (x.is_gpu() || index.is_gpu() || source.is_gpu()) && x.ndim() > 0 {
        let src = if alpha == 1.0 {
            source.clone()
        } else {
            super::binary::mul(&source.detach(), &creation::scalar_like(alpha, source))?
        };
        crate::gpu::index::scatter_add(x, d, &spread_index(&src, d, index)?, &src)?
    } else {
        let idx = index_values(index, "index_add")?;
        if x.ndim() == 0 && idx.len() != 1 {
            return Err(Error::Index(format!(
                "Dimension specified as {dim} but tensor has no dimensions"
            )));
        }
        let size = if x.ndim() == 0 { 1 } else { x.shape()[d] };
        if x.ndim() > 1 && d == 0 && x.numel() > 0 && index.dtype() == DType::I64 && alpha == 1.0 {
            // PyTorch's path for slices contiguous in self (an int64 index,
            // alpha 1: its index_put_) says so.
            if let Some(&bad) = idx.iter().find(|&&i| i < 0 || i >= size as i64) {
                return Err(Error::Runtime(format!(
                    "index {bad} is out of bounds for dimension 0 with size {size}"
                )));
            }
        }
        let idx: Vec<usize> = idx
            .iter()
            .map(|&i| check_select_index(i, size))
            .collect::<Result<_>>()?;
        let mut expect = x.shape_vec();
        if !expect.is_empty() {
            expect[d] = idx.len();
        }
        if source.shape() != expect.as_slice() {
            return Err(Error::Runtime(format!(
                "index_add_(): Source/destination tensor must have same slice shapes (source {:?}, expected {:?})",
                source.shape(),
                expect.as_slice()
            )));
        }
        let shape = x.shape();
        let outer: usize = shape[..d.min(shape.len())].iter().product();
        let inner: usize = if shape.is_empty() {
            1
        } else {
            shape[d + 1..].iter().product()
        };
        let sc = source.cast_raw(x.dtype()).contiguous_raw();
        dispatch_all!(x.dtype(), T => {
            let mut o = x.to_vec::<T>();
            let s = sc.as_slice::<T>().expect("contiguous");
            let a = T::from_f64(alpha);
            for p in 0..outer {
                for (k, &i) in idx.iter().enumerate() {
                    let dst = (p * size + i) * inner;
                    let src = (p * idx.len() + k) * inner;
                    for j in 0..inner {
                        let v = if alpha == 1.0 { s[src + j] } else { mul_elem(s[src + j], a) };
                        o[dst + j] = add_elem(o[dst + j], v);
                    }
                }
            }
            Tensor::from_vec(o, x.shape())
        })
    };
    let index = index.clone();
    record("IndexAddBackward0", &[x, source], &[&out], move |g| {
        let Some(g) = &g[0] else {
            return Ok(vec![None, None]);
        };
        let gs = index_select(g, d as i64, &index)?;
        let gs = if alpha != 1.0 {
            super::binary::mul(&gs, &creation::scalar_like(alpha, &gs))?
        } else {
            gs
        };
        Ok(vec![Some(g.clone()), Some(gs)])
    });
    Ok(out)
}

/// PyTorch's index_add checks (`index_func_meta_impl`), in its order.
fn check_index_add(x: &Tensor, d: usize, index: &Tensor, source: &Tensor) -> Result<()> {
    if index.ndim() > 1 {
        return Err(Error::Index(format!(
            "index_add_(): Index is supposed to be a vector, but got dim: {} with type: {} and size: {:?}",
            index.ndim(),
            index.dtype().scalar_name(),
            index.shape()
        )));
    }
    if !matches!(index.dtype(), DType::I64 | DType::I32) {
        return Err(Error::Runtime(format!(
            "index_add_(): Expected dtype int32/int64 for index but got: {}",
            index.dtype().scalar_name()
        )));
    }
    if x.dtype() != source.dtype() {
        return Err(Error::Runtime(format!(
            "index_add_(): self ({}) and source ({}) must have the same scalar type",
            x.dtype().scalar_name(),
            source.dtype().scalar_name()
        )));
    }
    if d != 0 && d >= source.ndim() {
        return Err(Error::Runtime(format!(
            "index_add_(): Indexing dim {d} is out of bounds of the source tensor with dim {}",
            source.ndim()
        )));
    }
    let n = index.numel();
    if source.ndim() == 0 && n != 1 {
        // PyTorch's message asks the 0-d source for its size(dim).
        return Err(Error::Index(format!(
            "Dimension specified as {d} but tensor has no dimensions"
        )));
    }
    if source.ndim() > 0 && n != source.shape()[d] {
        return Err(Error::Runtime(format!(
            "index_add_(): Number of indices ({n}) should be equal to source.size(dim): ({}), for dim: {d}",
            source.shape()[d]
        )));
    }
    let without = |t: &Tensor| -> Vec<usize> {
        let mut s = t.shape_vec();
        if !s.is_empty() {
            s.remove(d);
        }
        s.to_vec()
    };
    if x.ndim() != source.ndim() || without(x) != without(source) {
        return Err(Error::Runtime(format!(
            "source tensor shape must match self tensor shape, excluding the specified dimension. Got self.shape = {:?} source.shape = {:?}",
            x.shape(),
            source.shape()
        )));
    }
    Ok(())
}

#[inline(always)]
fn mul_elem<T: BufferElem>(a: T, b: T) -> T {
    if T::DTYPE.is_float() {
        T::from_f64(a.to_f64() * b.to_f64())
    } else {
        T::from_i64(a.to_i64().wrapping_mul(b.to_i64()))
    }
}

/// `torch.take(x, index)`: index into the flattened tensor.
pub fn take(x: &Tensor, index: &Tensor) -> Result<Tensor> {
    let n = x.numel() as i64;
    if index.dtype() != DType::I64 {
        return Err(Error::Runtime(format!(
            "take(): Expected a long tensor for index, but got {}",
            index.dtype().scalar_name()
        )));
    }
    let values = index_values(index, "take")?;
    if let Some(&bad) = values.iter().find(|&&i| i >= n || i < -n) {
        return Err(Error::Index(format!(
            "out of range: tried to access index {bad} on a tensor of {n} elements."
        )));
    }
    let flat = super::shape::reshape_to(x, &[x.numel()])?;
    // take wraps negative indices (index_select does not).
    let wrapped: Vec<i64> = values
        .iter()
        .map(|&i| if i < 0 { i + n } else { i })
        .collect();
    let idx = Tensor::from_vec(wrapped, &[index.numel()]);
    let r = index_select(&flat, 0, &idx)?;
    super::shape::reshape_to(&r, index.shape())
}

/// `torch.flip(x, dims)` (a copy, as in PyTorch).
pub fn flip(x: &Tensor, dims: &[i64]) -> Result<Tensor> {
    if x.ndim() == 0 {
        for &d in dims {
            wrap_dim(d, 0)?;
        }
        return super::shape::clone(x);
    }
    let mut layout = x.layout().clone();
    let mut seen = vec![false; x.ndim()];
    for &d in dims {
        let d = wrap_dim(d, x.ndim())?;
        if seen[d] {
            return Err(Error::Runtime(format!(
                "dim {d} appears multiple times in the list of dims"
            )));
        }
        seen[d] = true;
        if layout.shape[d] > 0 {
            layout.offset = (layout.offset as isize
                + (layout.shape[d] as isize - 1) * layout.strides[d])
                as usize;
            layout.strides[d] = -layout.strides[d];
        }
    }
    let out = x.with_layout(layout).contiguous_raw();
    let out = if out.shares_storage(x) {
        dispatch_all!(x.dtype(), T => Tensor::from_vec(out.to_vec::<T>(), out.shape()))
    } else {
        out
    };
    let dims = dims.to_vec();
    record("FlipBackward0", &[x], &[&out], move |g| {
        Ok(vec![g[0].as_ref().map(|g| flip(g, &dims)).transpose()?])
    });
    Ok(out)
}

/// `x.masked_fill(mask, value)`: `value` (a 0-d tensor, which may require
/// grad) where `mask` holds. Out of place the mask may broadcast `x` to a
/// larger shape; in place (`inplace`) it must not.
pub fn masked_fill(x: &Tensor, mask: &Tensor, value: &Tensor, inplace: bool) -> Result<Tensor> {
    if mask.dtype() != DType::Bool {
        return Err(Error::Runtime(format!(
            "masked_fill_ only supports boolean masks, but got mask with dtype {}",
            mask.dtype().c_name()
        )));
    }
    if value.ndim() != 0 {
        return Err(Error::Runtime(format!(
            "masked_fill_ only supports a 0-dimensional value tensor, but got tensor with {} dimension(s).",
            value.ndim()
        )));
    }
    let shape = crate::tensor::layout::broadcast_shapes(x.shape(), mask.shape())?;
    if inplace && shape.as_slice() != x.shape() {
        return Err(Error::Runtime(format!(
            "masked_fill: the mask {:?} must be broadcastable to the input {:?} without changing its shape",
            mask.shape(),
            x.shape()
        )));
    }
    if value.dtype() != DType::Bool {
        creation::check_fits_scalar(value.item_f64()?, value.dtype().is_float(), x.dtype())?;
    }
    let v = value.cast_raw(x.dtype());
    let out = {
        let _ng = crate::autograd::GradModeGuard::new(false);
        super::binary::where_(mask, &v, &x.detach())?.cast_raw(x.dtype())
    };
    let mask = mask.clone();
    let (ix, iv) = (
        (x.shape_vec(), x.dtype()),
        (value.shape_vec(), value.dtype()),
    );
    let need = (x.requires_grad(), value.requires_grad());
    record("MaskedFillBackward0", &[x, value], &[&out], move |g| {
        let Some(g) = &g[0] else {
            return Ok(vec![None, None]);
        };
        let z = creation::scalar_like(0.0, g);
        let gx = match need.0 {
            true => Some(super::binary::grad_for(
                super::binary::where_(&mask, &z, g)?,
                &ix,
            )?),
            false => None,
        };
        let gv = match need.1 {
            true => {
                let picked = super::binary::where_(&mask, g, &z)?;
                Some(super::binary::grad_for(
                    super::reduce::sum(&picked, None, false)?,
                    &iv,
                )?)
            }
            false => None,
        };
        Ok(vec![gx, gv])
    });
    Ok(out)
}

/// A 1-D index along `dim` broadcast to the shape of `like` with `dim`
/// replaced by the index length (for gather-based index_select/index_add).
fn spread_index(like: &Tensor, dim: usize, index: &Tensor) -> Result<Tensor> {
    let mut view = vec![1usize; like.ndim()];
    view[dim] = index.numel();
    let mut shape = like.shape_vec();
    shape[dim] = index.numel();
    let v = super::shape::reshape_to(&index.detach(), &view)?;
    super::shape::expand_to(&v, &shape)
}

/// The shape, with a 0-dim tensor taken as one element along one dim
/// (gather/scatter index a scalar like a 1-element vector).
fn shape_or_one(t: &Tensor) -> Vec<usize> {
    if t.ndim() == 0 {
        vec![1]
    } else {
        t.shape().to_vec()
    }
}

/// `F.embedding(indices, weight, padding_idx)`: the rows of `weight` at
/// `indices`, shaped `indices.shape + [embedding_dim]`, as one
/// EmbeddingBackward0 node (PyTorch's) whose backward adds each looked-up
/// row's gradient into its weight row, except rows looked up at
/// `padding_idx` (already wrapped to be non-negative).
pub fn embedding(indices: &Tensor, weight: &Tensor, padding_idx: Option<i64>) -> Result<Tensor> {
    if weight.ndim() != 2 {
        return Err(Error::Runtime(format!(
            "'weight' must be 2-D, got a weight of shape {:?}",
            weight.shape()
        )));
    }
    let flat = super::shape::reshape_to(&indices.detach(), &[indices.numel()])?;
    let rows = index_select(&weight.detach(), 0, &flat)?;
    let mut shape = indices.shape_vec();
    shape.push(weight.shape()[1]);
    // A fresh tensor over the selected rows (not a view: nothing else holds them).
    let out = rows.with_layout(crate::tensor::Layout::contiguous(&shape));
    let weight_shape = weight.shape_vec();
    record("EmbeddingBackward0", &[weight], &[&out], move |g| {
        let Some(g) = &g[0] else {
            return Ok(vec![None]);
        };
        let rows_grad = super::shape::reshape_to(
            &super::shape::contiguous(g)?,
            &[flat.numel(), weight_shape[1]],
        )?;
        let rows_grad = match padding_idx {
            Some(p) => {
                let at_pad = super::binary::eq(&flat, &creation::scalar_like(p as f64, &flat))?;
                let at_pad = super::shape::unsqueeze(&at_pad, 1)?;
                super::binary::where_(&at_pad, &creation::scalar_like(0.0, &rows_grad), &rows_grad)?
            }
            None => rows_grad,
        };
        let zeros = creation::zeros_on(&weight_shape, g.dtype(), g.device())?;
        Ok(vec![Some(index_add(&zeros, 0, &flat, &rows_grad, 1.0)?)])
    });
    Ok(out)
}

/// (outer, size, inner): `x` as `outer x size x inner` around `dim` (a 0-d
/// tensor is one element along one dim).
fn around_dim(x: &Tensor, d: usize) -> (usize, usize, usize) {
    let shape = x.shape();
    if shape.is_empty() {
        return (1, 1, 1);
    }
    (
        shape[..d].iter().product(),
        shape[d],
        shape[d + 1..].iter().product(),
    )
}

/// Out-of-place `x.index_copy(dim, index, source)`: the slices of `x` at
/// `index` along `dim` replaced by those of `source` (for a repeated index
/// the last one is kept, as PyTorch's CPU kernel).
pub fn index_copy(x: &Tensor, dim: i64, index: &Tensor, source: &Tensor) -> Result<Tensor> {
    crate::gpu::ops::cpu_only(&[x, index, source], "index_copy")?;
    let d = wrap_dim(dim, x.ndim())?;
    // (PyTorch's checks, in its order)
    if index.ndim() > 1 {
        return Err(Error::Index(format!(
            "index_copy_(): Index should have dimension 1 or 0 (got {})",
            index.ndim()
        )));
    }
    if source.ndim() == 0 && index.numel() != 1 {
        return Err(Error::Index(format!(
            "index_copy_(): When source is scalar, index should have one element (got {})",
            index.numel()
        )));
    }
    if source.ndim() != x.ndim() && source.ndim() > 0 && x.ndim() > 0 {
        return Err(Error::Index(format!(
            "index_copy_(): When source and destination are not scalars, their dimensionality must match. Source dimensionality ({}), destination dimensionality ({})",
            source.ndim(),
            x.ndim()
        )));
    }
    let sliced = |t: &Tensor| -> Vec<usize> {
        let mut s = t.shape().to_vec();
        if !s.is_empty() {
            s.remove(d.min(s.len() - 1));
        }
        s
    };
    let (xs, ss) = (sliced(x), sliced(source));
    if xs != ss {
        let show = |v: &[usize]| {
            v.iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(" ")
        };
        return Err(Error::Runtime(format!(
            "index_copy_(): Source/destination tensor must have same slice shapes. Destination slice shape: {} at dimension {d} and source slice shape: {} at dimension {d}.",
            show(&xs),
            show(&ss)
        )));
    }
    if source.ndim() > 0 && index.numel() != source.shape()[d] {
        return Err(Error::Index(format!(
            "index_copy_(): Number of indices ({}) should be equal to source.size(dim) ({})",
            index.numel(),
            source.shape()[d]
        )));
    }
    if index.dtype() != DType::I64 {
        return Err(Error::Runtime(format!(
            "index_copy_(): Expected a long tensor for index, but got {}",
            index.dtype().scalar_name()
        )));
    }
    if source.dtype() != x.dtype() {
        return Err(Error::Runtime(format!(
            "index_copy_(): self and source expected to have the same dtype, but got (self) {} and (source) {}",
            x.dtype().scalar_name(),
            source.dtype().scalar_name()
        )));
    }
    let idx = index.to_vec::<i64>();
    let (outer, size, inner) = around_dim(x, d);
    let rows: Vec<usize> = idx
        .iter()
        .map(|&i| {
            // (an empty tensor is not indexed: PyTorch checks in the kernel)
            if (i < 0 || i >= size as i64) && x.numel() > 0 {
                return Err(Error::Index(format!(
                    "index_copy_(): index {i} is out of bounds for dimension {d} with size {size}"
                )));
            }
            Ok(i.clamp(0, size as i64) as usize)
        })
        .collect::<Result<_>>()?;
    let sc = source.contiguous_raw();
    let out = dispatch_all!(x.dtype(), T => {
        let mut o = x.to_vec::<T>();
        let s = sc.as_slice::<T>().expect("contiguous");
        for p in 0..outer * usize::from(!o.is_empty()) {
            for (k, &i) in rows.iter().enumerate() {
                let (dst, src) = ((p * size + i) * inner, (p * rows.len() + k) * inner);
                o[dst..dst + inner].copy_from_slice(&s[src..src + inner]);
            }
        }
        Tensor::from_vec(o, x.shape())
    });
    let (index, src_shape) = (index.clone(), source.shape_vec());
    record("IndexCopyBackward0", &[x, source], &[&out], move |g| {
        let Some(g) = &g[0] else {
            return Ok(vec![None, None]);
        };
        let zero = creation::scalar_like(0.0, g);
        let gx = index_fill(g, d as i64, &index, &zero)?;
        let gs = super::shape::reshape_to(&index_select(g, d as i64, &index)?, &src_shape)?;
        Ok(vec![Some(gx), Some(gs)])
    });
    Ok(out)
}

/// Out-of-place `x.index_fill(dim, index, value)`: the slices of `x` at
/// `index` (negative ones counted from the end) set to the 0-d `value`,
/// which may require grad: its gradient sums those slices' gradients, each
/// distinct index once.
pub fn index_fill(x: &Tensor, dim: i64, index: &Tensor, value: &Tensor) -> Result<Tensor> {
    crate::gpu::ops::cpu_only(&[x, index, value], "index_fill")?;
    if index.dtype() != DType::I64 {
        return Err(Error::Index(
            "index_fill_(): Expected dtype int64 for index.".into(),
        ));
    }
    if index.ndim() > 1 {
        return Err(Error::Runtime("Index has to be a vector/scalar".into()));
    }
    let idx = index.to_vec::<i64>();
    if value.ndim() != 0 {
        return Err(Error::Runtime(format!(
            "index_fill_ only supports a 0-dimensional value tensor, but got tensor with {} dimension(s).",
            value.ndim()
        )));
    }
    let d = wrap_dim(dim, x.ndim())?;
    if value.dtype() != DType::Bool {
        creation::check_fits_scalar(value.item_f64()?, value.dtype().is_float(), x.dtype())?;
    }
    let (outer, size, inner) = around_dim(x, d);
    if size == 0 && !idx.is_empty() && x.ndim() > 0 {
        // PyTorch views the indexed slice of the empty dim (as size 1,
        // stride 0) over the empty storage, whatever the index.
        let mut sizes = x.shape().to_vec();
        let mut strides = vec![0usize; sizes.len()];
        let mut acc = 1;
        for k in (0..sizes.len()).rev() {
            strides[k] = acc;
            acc *= sizes[k];
        }
        (sizes[d], strides[d]) = (1, 0);
        let item = x.dtype().size();
        let reach: usize = sizes.iter().zip(&strides).map(|(n, s)| (n - 1) * s).sum();
        return Err(Error::Runtime(format!(
            "setStorage: sizes {sizes:?}, strides {strides:?}, storage offset 0, and itemsize {item} requiring a storage size of {} are out of bounds for storage of size 0",
            item * (reach + 1)
        )));
    }
    let mut rows: Vec<usize> = idx
        .iter()
        .map(|&i| {
            // (an empty tensor is not indexed: PyTorch checks in the kernel)
            if (i < -(size as i64) || i >= size as i64) && x.numel() > 0 {
                return Err(Error::Index(format!(
                    "index {i} is out of bounds for dimension {d} with size {size}"
                )));
            }
            Ok(i.rem_euclid(size.max(1) as i64) as usize)
        })
        .collect::<Result<_>>()?;
    let v = value.cast_raw(x.dtype());
    let out = dispatch_all!(x.dtype(), T => {
        let mut o = x.to_vec::<T>();
        let fill = v.to_vec::<T>()[0];
        for p in 0..outer * usize::from(!o.is_empty()) {
            for &i in &rows {
                let dst = (p * size + i) * inner;
                o[dst..dst + inner].fill(fill);
            }
        }
        Tensor::from_vec(o, x.shape())
    });
    rows.sort_unstable();
    rows.dedup();
    let distinct = Tensor::from_vec(
        rows.iter().map(|&i| i as i64).collect::<Vec<_>>(),
        &[rows.len()],
    );
    let index = index.clone();
    let need = (x.requires_grad(), value.requires_grad());
    let iv = (value.shape_vec(), value.dtype());
    let node = if need.1 {
        "IndexFillBackward1"
    } else {
        "IndexFillBackward0"
    };
    record(node, &[x, value], &[&out], move |g| {
        let Some(g) = &g[0] else {
            return Ok(vec![None, None]);
        };
        let gx = match need.0 {
            true => Some(index_fill(
                g,
                d as i64,
                &index,
                &creation::scalar_like(0.0, g),
            )?),
            false => None,
        };
        let gv = match need.1 {
            true => {
                let picked = index_select(g, d as i64, &distinct)?;
                Some(super::binary::grad_for(
                    super::reduce::sum(&picked, None, false)?,
                    &iv,
                )?)
            }
            false => None,
        };
        Ok(vec![gx, gv])
    });
    Ok(out)
}

/// The reductions of `scatter_reduce`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reduce {
    Sum,
    Prod,
    Mean,
    Amax,
    Amin,
}

impl Reduce {
    pub fn parse(name: &str) -> Result<Reduce> {
        Ok(match name {
            "sum" => Reduce::Sum,
            "prod" => Reduce::Prod,
            "mean" => Reduce::Mean,
            // PyTorch also takes the older names max and min here.
            "amax" | "max" => Reduce::Amax,
            "amin" | "min" => Reduce::Amin,
            other => {
                return Err(Error::Runtime(format!(
                    "reduce argument must be either sum, prod, mean, amax or amin, got {other}"
                )))
            }
        })
    }

    /// The value a slot starts from when its own value is left out
    /// (`include_self=False`).
    #[inline(always)]
    fn identity<T: Elem>(self) -> T {
        match self {
            Reduce::Sum | Reduce::Mean => T::zero(),
            Reduce::Prod => T::one(),
            // the dtype's lowest value for amax, its highest for amin
            Reduce::Amax | Reduce::Amin => {
                let max = self == Reduce::Amax;
                let pick = |lo: i64, hi: i64| T::from_i64(if max { lo } else { hi });
                match T::DTYPE {
                    DType::Bool => T::from_bool(!max),
                    DType::F16 | DType::BF16 | DType::F32 | DType::F64 => T::from_f64(if max {
                        f64::NEG_INFINITY
                    } else {
                        f64::INFINITY
                    }),
                    DType::U8 => pick(0, u8::MAX.into()),
                    DType::I8 => pick(i8::MIN.into(), i8::MAX.into()),
                    DType::I16 => pick(i16::MIN.into(), i16::MAX.into()),
                    DType::I32 => pick(i32::MIN.into(), i32::MAX.into()),
                    DType::I64 => pick(i64::MIN, i64::MAX),
                }
            }
        }
    }

    /// `a` combined with `b`; NaN wins amax and amin, as in PyTorch.
    #[inline(always)]
    #[allow(clippy::eq_op)]
    fn combine<T: BufferElem>(self, a: T, b: T) -> T {
        match self {
            Reduce::Sum | Reduce::Mean => add_elem(a, b),
            Reduce::Prod => mul_elem(a, b),
            Reduce::Amax | Reduce::Amin => {
                if b != b {
                    b
                } else if a != a {
                    a
                } else if (self == Reduce::Amax && b > a) || (self == Reduce::Amin && b < a) {
                    b
                } else {
                    a
                }
            }
        }
    }
}

/// `src` cut to `index`'s shape (the elements scatter reads), a
/// differentiable view.
fn src_at_index(src: &Tensor, index: &Tensor) -> Result<Tensor> {
    let mut t = src.clone();
    for k in 0..index.ndim() {
        t = super::shape::narrow(&t, k as i64, 0, index.shape()[k] as i64)?;
    }
    Ok(t)
}

/// A gradient for `src[:index.shape]` put into zeros of `src`'s shape
/// (differentiable).
fn pad_to_src(g: Tensor, index: &Tensor, src_shape: &[usize]) -> Result<Tensor> {
    if g.shape() == src_shape {
        return Ok(g);
    }
    let idx_shape = index.shape_vec();
    let view: super::shape::ViewFn = std::sync::Arc::new(move |t: &Tensor| {
        let mut v = t.clone();
        for (k, &n) in idx_shape.iter().enumerate() {
            v = super::shape::narrow(&v, k as i64, 0, n as i64)?;
        }
        Ok(v)
    });
    super::shape::embed(&g, src_shape, g.dtype(), view)
}

/// `t.scatter(dim, index, 0)`: zeros at the scattered positions.
fn scatter_zero(t: &Tensor, d: usize, index: &Tensor) -> Result<Tensor> {
    let zeros = creation::full_on(&[], 0.0, t.dtype(), t.device())?;
    scatter(
        t,
        d as i64,
        index,
        &super::shape::expand_to(&zeros, index.shape())?,
    )
}

/// Out-of-place `x.scatter_reduce(dim, index, src, reduce, include_self)`:
/// every `src[i]` (at `index`'s coordinates) folded into
/// `x[..., index[i], ...]`; with `include_self=False` the slots that receive
/// values start from the reduction's identity instead of their own value.
/// mean divides by the number of values folded in (integers round down).
/// PyTorch's checks, in its order; an empty index skips the shape checks,
/// and 0-d tensors count as 1-element 1-d ones.
pub fn scatter_reduce(
    x: &Tensor,
    dim: i64,
    index: &Tensor,
    src: &Tensor,
    reduce: &str,
    include_self: bool,
) -> Result<Tensor> {
    crate::gpu::ops::cpu_only(&[x, index, src], "scatter_reduce")?;
    let d = wrap_dim(dim, x.ndim())?;
    scatter_checks(x, d, index, Some(src))?;
    let reduce = Reduce::parse(reduce)?;
    if reduce == Reduce::Mean && x.dtype() == DType::Bool {
        return Err(Error::not_implemented(
            "scatter_gather_tensor_cpu_reduce_mean",
            DType::Bool,
        ));
    }
    if index.numel() == 0 {
        // Nothing is scattered: x's values, and its gradient, pass through.
        let out = dispatch_all!(x.dtype(), T => Tensor::from_vec(x.to_vec::<T>(), x.shape()));
        // (PyTorch's formulas with nothing scattered: g, NaN where x is
        // NaN for amax / amin, and where x is NaN or infinite for prod)
        let (src_shape, sx) = (src.shape_vec(), crate::autograd::SavedTensor::new(x));
        record("ScatterReduceBackward0", &[x, src], &[&out], move |g| {
            use super::binary::{compare, div, mul, where_, CmpOp};
            let Some(g) = &g[0] else {
                return Ok(vec![None, None]);
            };
            let x = sx.get()?;
            let m = match reduce {
                Reduce::Sum | Reduce::Mean => None,
                Reduce::Prod => {
                    let zero = compare(CmpOp::Eq, x, &creation::scalar_like(0.0, x))?;
                    Some(where_(&zero, &creation::scalar_like(1.0, x), x)?)
                }
                Reduce::Amax | Reduce::Amin => Some(super::unary::to_dtype(
                    &compare(CmpOp::Eq, x, x)?,
                    g.dtype(),
                )?),
            };
            let gx = match m {
                Some(m) => div(&mul(g, &m)?, &m)?,
                None => g.clone(),
            };
            let gs = creation::zeros_on(&src_shape, g.dtype(), g.device())?;
            Ok(vec![Some(gx), Some(gs)])
        });
        return Ok(out);
    }
    if x.ndim() == 0 || index.ndim() == 0 || src.ndim() == 0 {
        let one_d = |t: &Tensor| match t.ndim() {
            0 => super::shape::reshape_to(t, &[1]),
            _ => Ok(t.clone()),
        };
        let out = scatter_reduce_impl(
            &one_d(x)?,
            d,
            &one_d(index)?,
            &one_d(src)?,
            reduce,
            include_self,
        )?;
        return super::shape::reshape_to(&out, x.shape());
    }
    scatter_reduce_impl(x, d, index, src, reduce, include_self)
}

/// `scatter_reduce` on checked inputs of equal ranks (>= 1).
fn scatter_reduce_impl(
    x: &Tensor,
    d: usize,
    index: &Tensor,
    src: &Tensor,
    reduce: Reduce,
    include_self: bool,
) -> Result<Tensor> {
    let idx = index_values(index, "scatter_reduce")?;
    let (shape, ishape) = (shape_or_one(x), shape_or_one(index));
    let src_vals = {
        let _ng = crate::autograd::GradModeGuard::new(false);
        src_at_index(&src.detach(), index)?
    };
    let out = dispatch_all!(x.dtype(), T => {
        let mut o = x.to_vec::<T>();
        let sv = src_vals.data::<T>();
        // how many values each slot folds (mean), its own value included
        let mut count = vec![u32::from(include_self); if reduce == Reduce::Mean { o.len() } else { 0 }];
        if !include_self {
            for_each_gather_offset(&shape, d, &ishape, &idx, |_, off| o[off] = reduce.identity())?;
        }
        for_each_gather_offset(&shape, d, &ishape, &idx, |i, off| {
            o[off] = reduce.combine(o[off], sv[i]);
            if let Some(c) = count.get_mut(off) {
                *c += 1;
            }
        })?;
        for (v, &c) in o.iter_mut().zip(&count) {
            if c > 1 {
                *v = if T::DTYPE.is_float() {
                    T::from_f64(v.to_f64() / c as f64)
                } else {
                    T::from_i64(v.to_i64().div_euclid(c as i64))
                };
            }
        }
        Tensor::from_vec(o, x.shape())
    });
    record_scatter_reduce(x, d, index, src, reduce, include_self, &out);
    Ok(out)
}

/// PyTorch's scatter_reduce_backward, written with differentiable ops.
/// amax / amin split the gradient evenly among the values equal to the
/// result (x's own included, even with include_self=False, as PyTorch).
fn record_scatter_reduce(
    x: &Tensor,
    d: usize,
    index: &Tensor,
    src: &Tensor,
    reduce: Reduce,
    include_self: bool,
    out: &Tensor,
) {
    use super::binary::{compare, div, mul, where_, CmpOp};
    use crate::autograd::SavedTensor;
    let needs_values = matches!(reduce, Reduce::Prod | Reduce::Amax | Reduce::Amin);
    let saved = needs_values.then(|| {
        (
            SavedTensor::new(x),
            SavedTensor::new(src),
            SavedTensor::output(out),
        )
    });
    let (index, src_shape) = (index.clone(), src.shape_vec());
    let need = (x.requires_grad(), src.requires_grad());
    // (x, src at index, result); under create_graph the result is
    // recomputed from the inputs, so that its dependence on them is seen.
    let saved_values = move |saved: &Option<(SavedTensor, SavedTensor, SavedTensor)>,
                             index: &Tensor|
          -> Result<(Tensor, Tensor, Tensor)> {
        let (sx, ss, so) = saved.as_ref().expect("saved for prod, amax and amin");
        let (x, src) = (sx.get()?.clone(), ss.get()?.clone());
        let result =
            if crate::autograd::is_grad_enabled() && (x.requires_grad() || src.requires_grad()) {
                scatter_reduce_impl(&x, d, index, &src, reduce, include_self)?
            } else {
                so.get()?.clone()
            };
        Ok((x, src_at_index(&src, index)?, result))
    };
    record("ScatterReduceBackward0", &[x, src], &[out], move |g| {
        let Some(g) = &g[0] else {
            return Ok(vec![None, None]);
        };
        let di = d as i64;
        let as_float = |m: &Tensor| super::unary::to_dtype(m, g.dtype());
        let (gx, gs) = match reduce {
            Reduce::Sum => (g.clone(), gather(g, di, &index)?),
            Reduce::Mean => {
                let start =
                    creation::full_on(g.shape(), include_self as u8 as f64, g.dtype(), g.device())?;
                let ones = creation::full_on(index.shape(), 1.0, g.dtype(), g.device())?;
                let n = scatter_add(&start, di, &index, &ones)?;
                let zero = compare(CmpOp::Eq, &n, &creation::scalar_like(0.0, &n))?;
                let n = where_(&zero, &creation::scalar_like(1.0, &n), &n)?;
                (
                    div(g, &n)?,
                    div(&gather(g, di, &index)?, &gather(&n, di, &index)?)?,
                )
            }
            Reduce::Prod => {
                let (x, s, result) = saved_values(&saved, &index)?;
                let (x, result) = (&x, &result);
                let one = creation::scalar_like(1.0, x);
                let zero = creation::scalar_like(0.0, x);
                // x's zeros left out of the product, so x's other factors get theirs
                let x_zero = compare(CmpOp::Eq, x, &zero)?;
                let masked_x = where_(&x_zero, &one, x)?;
                let masked_x_result =
                    scatter_reduce_impl(&masked_x, d, &index, &s, reduce, include_self)?;
                let gx = div(&mul(g, &masked_x_result)?, &masked_x)?;
                // a src value that is the only zero in its slot: the product
                // of the others
                let s_zero = compare(CmpOp::Eq, &s, &zero)?;
                let zeros_in_slot = gather(
                    &scatter_add(
                        &creation::zeros_on(x.shape(), x.dtype(), x.device())?,
                        di,
                        &index,
                        &as_float(&s_zero)?,
                    )?,
                    di,
                    &index,
                )?;
                let single = super::binary::logical(
                    super::binary::LogicOp::And,
                    &s_zero,
                    &compare(CmpOp::Eq, &zeros_in_slot, &one)?,
                )?;
                let masked_s = where_(&single, &one, &s)?;
                let masked_s_result =
                    scatter_reduce_impl(x, d, &index, &masked_s, reduce, include_self)?;
                let gs = where_(
                    &single,
                    &gather(&mul(g, &masked_s_result)?, di, &index)?,
                    &div(
                        &gather(&mul(g, result)?, di, &index)?,
                        &where_(&s_zero, &one, &s)?,
                    )?,
                )?;
                (gx, gs)
            }
            Reduce::Amax | Reduce::Amin => {
                let (x, s, result) = saved_values(&saved, &index)?;
                let (x, result) = (&x, &result);
                let value = gather(result, di, &index)?;
                let x_is = as_float(&compare(CmpOp::Eq, x, result)?)?;
                let s_is = as_float(&compare(CmpOp::Eq, &s, &value)?)?;
                let n = scatter_add(&x_is, di, &index, &s_is)?;
                let share = div(g, &n)?;
                (
                    mul(&x_is, &share)?,
                    mul(&s_is, &gather(&share, di, &index)?)?,
                )
            }
        };
        let gx = match (need.0, include_self) {
            (false, _) => None,
            (true, true) => Some(gx),
            (true, false) => Some(scatter_zero(&gx, d, &index)?),
        };
        let gs = match need.1 {
            true => Some(pad_to_src(gs, &index, &src_shape)?),
            false => None,
        };
        Ok(vec![gx, gs])
    });
}
