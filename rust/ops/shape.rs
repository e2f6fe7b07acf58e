//! View ops (share storage, no copy) and copies: reshape, permute, expand,
//! slicing, squeeze, cat/stack, ... with their gradients.
//!
//! Every view's backward uses one mechanism: the gradient is written into a
//! zero tensor of the input's shape through the same view (`embed`), which is
//! itself differentiable (its backward is the view again).

use super::creation;
use super::reduce::sum_to;
use crate::autograd::record;
use crate::error::{Error, Result};
use crate::tensor::access::write_into;
use crate::tensor::layout::{broadcast_strides, view_strides, wrap_dim, Layout, Shape};
use crate::tensor::{DType, Tensor};
use smallvec::SmallVec;
use std::sync::Arc;

pub type ViewFn = Arc<dyn Fn(&Tensor) -> Result<Tensor> + Send + Sync>;

impl Tensor {
    /// The tensor this one is a view of (see `AutogradMeta::view_base`).
    pub fn view_base(&self) -> Option<Tensor> {
        self.0.autograd.lock().view_base.clone()
    }

    /// A new handle on the same data, cut from the graph.
    pub fn detach(&self) -> Tensor {
        self.with_layout(self.layout().clone())
    }
}

/// Record a view op: backward embeds the gradient through the same view.
fn record_view(name: &'static str, x: &Tensor, out: &Tensor, view: ViewFn) {
    let (shape, dtype) = (x.shape_vec(), x.dtype());
    record(name, &[x], &[out], move |g| {
        let Some(g) = &g[0] else {
            return Ok(vec![None]);
        };
        Ok(vec![Some(embed(g, &shape, dtype, view.clone())?)])
    });
}

/// Zeros of `shape` with `g` written into `view(zeros)`; differentiable in `g`.
pub fn embed(g: &Tensor, shape: &[usize], dtype: DType, view: ViewFn) -> Result<Tensor> {
    let out = creation::zeros_on(shape, dtype, g.device())?;
    let target = {
        let _ng = crate::autograd::GradModeGuard::new(false);
        view(&out)?
    };
    write_into(&target, g)?;
    let v2 = view.clone();
    record("ViewEmbedBackward", &[g], &[&out], move |gg| {
        Ok(vec![gg[0].as_ref().map(|t| v2(t)).transpose()?])
    });
    Ok(out)
}

fn view_layout(
    x: &Tensor,
    shape: &[usize],
    strides: SmallVec<[isize; 6]>,
    offset: usize,
) -> Tensor {
    let out = x.with_layout(Layout {
        shape: shape.into(),
        strides,
        offset,
    });
    let base = x.view_base().unwrap_or_else(|| x.clone());
    if base.offset() == 0 && base.is_contiguous() {
        out.0.autograd.lock().view_base = Some(base);
    }
    out
}

/// A view of contiguous `x` with the given geometry (offset relative to
/// `x`'s); backward writes the gradient back through the same geometry.
pub fn as_strided(x: &Tensor, shape: &[usize], strides: &[isize], offset: usize) -> Result<Tensor> {
    if !x.is_contiguous() {
        return Err(Error::Runtime(
            "rustdl: as_strided needs a contiguous input".into(),
        ));
    }
    let st: SmallVec<[isize; 6]> = strides.into();
    let out = view_layout(x, shape, st.clone(), x.offset() + offset);
    record_view_backward("AsStridedBackward0", x, &out, shape, st, offset)?;
    Ok(out)
}

/// Records the backward of a view `out` of `x` that reads, at each of its
/// positions, the element of `x` whose row-major index is given by the
/// geometry (`shape`, `logical_strides`, `logical_offset`) over `x`'s own
/// logical (contiguous) numbering — so it holds whatever `x`'s storage layout.
/// The geometry may visit an element more than once (stride 0, overlapping
/// windows): the gradient adds up at the flat position each output reads.
fn record_view_backward(
    name: &'static str,
    x: &Tensor,
    out: &Tensor,
    shape: &[usize],
    logical_strides: SmallVec<[isize; 6]>,
    logical_offset: usize,
) -> Result<()> {
    if !crate::autograd::node::needs_grad(&[x]) {
        return Ok(());
    }
    let positions = {
        let _ng = crate::autograd::GradModeGuard::new(false);
        let all = creation::arange(0.0, x.numel() as f64, 1.0, DType::I64)?;
        let picked = view_layout(&all, shape, logical_strides, logical_offset);
        reshape_to(&contiguous(&picked)?, &[picked.numel()])?
    };
    let (in_shape, dtype) = (x.shape_vec(), x.dtype());
    record(name, &[x], &[out], move |g| {
        let Some(g) = &g[0] else {
            return Ok(vec![None]);
        };
        let flat = creation::zeros_on(&[in_shape.iter().product()], dtype, g.device())?;
        let g_flat = reshape_to(g, &[g.numel()])?;
        let summed = super::index::index_add(&flat, 0, &positions, &g_flat, 1.0)?;
        Ok(vec![Some(reshape_to(&summed, &in_shape)?)])
    });
    Ok(())
}

/// `x.diagonal(offset, dim1, dim2)`: the diagonal of the (dim1, dim2) planes as
/// the last dimension, a view of `x` whatever its strides (dims already wrapped
/// and distinct).
pub fn diagonal(x: &Tensor, offset: i64, dim1: usize, dim2: usize) -> Result<Tensor> {
    let nd = x.shape().len();
    if dim1 >= nd || dim2 >= nd || dim1 == dim2 {
        return Err(Error::Runtime(format!(
            "diagonal dimensions cannot be identical {dim1}, {dim2}"
        )));
    }
    let dims = x.shape();
    let logical = contiguous_strides(dims);
    let geometry = |strides: &[isize], base: usize| {
        let (len, start) = if offset >= 0 {
            let o = offset as usize;
            (
                dims[dim1].min(dims[dim2].saturating_sub(o)),
                o as isize * strides[dim2],
            )
        } else {
            let o = offset.unsigned_abs() as usize;
            (
                dims[dim1].saturating_sub(o).min(dims[dim2]),
                o as isize * strides[dim1],
            )
        };
        let kept = (0..nd).filter(|&i| i != dim1 && i != dim2);
        let mut shape: Vec<usize> = kept.clone().map(|i| dims[i]).collect();
        let mut st: SmallVec<[isize; 6]> = kept.map(|i| strides[i]).collect();
        shape.push(len);
        st.push(strides[dim1] + strides[dim2]);
        let start = if len == 0 { 0 } else { start };
        (shape, st, (base as isize + start) as usize)
    };
    let (shape, storage_strides, storage_offset) = geometry(x.strides(), x.offset());
    let (_, logical_strides, logical_offset) = geometry(&logical, 0);
    let out = view_layout(x, &shape, storage_strides, storage_offset);
    record_view_backward(
        "DiagonalBackward0",
        x,
        &out,
        &shape,
        logical_strides,
        logical_offset,
    )?;
    Ok(out)
}

/// Row-major strides of a contiguous tensor of `shape`.
fn contiguous_strides(shape: &[usize]) -> Vec<isize> {
    let mut strides = vec![1isize; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        strides[i] = strides[i + 1] * shape[i + 1].max(1) as isize;
    }
    strides
}

/// `torch.as_strided(x, size, stride, storage_offset)`: a view of `x`'s
/// storage with any geometry that stays inside it (offset counted from the
/// storage's start, as PyTorch's). Differentiable from a contiguous `x`.
pub fn as_strided_storage(
    x: &Tensor,
    shape: &[usize],
    strides: &[i64],
    storage_offset: Option<usize>,
) -> Result<Tensor> {
    if shape.len() != strides.len() {
        return Err(Error::Runtime(format!(
            "mismatch in length of strides and shape ({} and {})",
            strides.len(),
            shape.len()
        )));
    }
    if strides.iter().any(|&s| s < 0) {
        return Err(Error::Runtime(format!(
            "as_strided: Negative strides are not supported at the moment, got strides: {strides:?}"
        )));
    }
    let offset = storage_offset.unwrap_or(x.offset());
    // Checked arithmetic: a wrapped element count or extent would pass the
    // bounds check below and let the view read outside the storage.
    let numel = shape.iter().try_fold(1usize, |acc, &n| acc.checked_mul(n));
    let last = if numel == Some(0) {
        Some(0)
    } else {
        shape.iter().zip(strides).try_fold(offset, |acc, (&n, &s)| {
            (n - 1)
                .checked_mul(s as usize)
                .and_then(|span| acc.checked_add(span))
        })
    };
    let available = x.storage().len();
    let fits = match (numel, last) {
        (Some(0), _) => true,
        (Some(_), Some(last)) => last < available,
        _ => false,
    };
    if !fits {
        let item = x.dtype().size();
        let needed = last.and_then(|l| (l + 1).checked_mul(item));
        return Err(Error::Runtime(format!(
            "setStorage: sizes {shape:?}, strides {strides:?}, storage offset {offset}, and itemsize {item} requiring a storage size of {} are out of bounds for storage of size {}",
            needed.map_or("more than 2^64".to_string(), |n| n.to_string()),
            available * item
        )));
    }
    let st: Vec<isize> = strides.iter().map(|&s| s as isize).collect();
    if x.is_contiguous() && offset >= x.offset() {
        return as_strided(x, shape, &st, offset - x.offset());
    }
    if crate::autograd::node::needs_grad(&[x]) {
        return Err(Error::NotImplemented(
            "rustdl: as_strided of a non-contiguous tensor that requires grad is not supported; call .contiguous() first".into(),
        ));
    }
    Ok(view_layout(x, shape, st.into(), offset))
}

/// Resolve one `-1` in a requested shape.
pub fn infer_shape(numel: usize, req: &[i64]) -> Result<Shape> {
    let mut infer = None;
    let mut known = 1usize;
    for (i, &d) in req.iter().enumerate() {
        if d == -1 {
            if infer.is_some() {
                return Err(Error::Runtime("only one dimension can be inferred".into()));
            }
            infer = Some(i);
        } else if d < 0 {
            return Err(Error::Runtime(format!("invalid shape dimension {d}")));
        } else {
            known *= d as usize;
        }
    }
    let mut out: Shape = req.iter().map(|&d| d.max(0) as usize).collect();
    match infer {
        Some(i) => {
            if known == 0 || !numel.is_multiple_of(known) {
                return Err(Error::Runtime(format!(
                    "shape '{req:?}' is invalid for input of size {numel}"
                )));
            }
            out[i] = numel / known;
        }
        None => {
            if known != numel {
                return Err(Error::Runtime(format!(
                    "shape '{req:?}' is invalid for input of size {numel}"
                )));
            }
        }
    }
    Ok(out)
}

/// `x.view(shape)`: a view, or an error when strides forbid it.
pub fn view(x: &Tensor, req: &[i64]) -> Result<Tensor> {
    let shape = infer_shape(x.numel(), req)?;
    let strides = view_strides(x.shape(), x.strides(), &shape).ok_or_else(|| {
        Error::Runtime("view size is not compatible with input tensor's size and stride (at least one dimension spans across two contiguous subspaces). Use .reshape(...) instead.".into())
    })?;
    let out = view_layout(x, &shape, strides, x.offset());
    let src: Shape = x.shape_vec();
    record("ViewBackward0", &[x], &[&out], move |g| {
        let Some(g) = &g[0] else {
            return Ok(vec![None]);
        };
        let req: Vec<i64> = src.iter().map(|&d| d as i64).collect();
        Ok(vec![Some(reshape(g, &req)?)])
    });
    Ok(out)
}

/// `x.reshape(shape)`: a view when possible, a copy otherwise.
pub fn reshape(x: &Tensor, req: &[i64]) -> Result<Tensor> {
    let shape = infer_shape(x.numel(), req)?;
    if view_strides(x.shape(), x.strides(), &shape).is_some() {
        return view(x, req);
    }
    let c = contiguous(x)?;
    view(&c, req)
}

pub fn reshape_to(x: &Tensor, shape: &[usize]) -> Result<Tensor> {
    let req: Vec<i64> = shape.iter().map(|&d| d as i64).collect();
    reshape(x, &req)
}

/// A contiguous copy (or `x` itself when already contiguous).
pub fn contiguous(x: &Tensor) -> Result<Tensor> {
    if x.is_contiguous() {
        return Ok(x.clone());
    }
    clone(x)
}

/// `x.clone()`: a copy with its own storage.
pub fn clone(x: &Tensor) -> Result<Tensor> {
    let out = if x.is_meta() {
        Tensor::meta(x.shape(), x.dtype())
    } else if x.is_gpu() {
        crate::gpu::kernels::map("a", &[x], &[], x.shape(), x.dtype())?
    } else {
        crate::dispatch_all!(x.dtype(), T => Tensor::from_vec(x.to_vec::<T>(), x.shape()))
    };
    record("CloneBackward0", &[x], &[&out], |g| Ok(vec![g[0].clone()]));
    Ok(out)
}

pub fn permute(x: &Tensor, dims: &[i64]) -> Result<Tensor> {
    permute_named(x, dims, "PermuteBackward0")
}

/// `permute` recorded under the grad_fn name of the op the user called.
pub fn permute_named(x: &Tensor, dims: &[i64], name: &'static str) -> Result<Tensor> {
    let n = x.ndim();
    if dims.len() != n {
        return Err(Error::Runtime(format!(
            "permute(sparse_coo): number of dimensions in the tensor input does not match the length of the desired ordering of dimensions i.e. input.dim() = {n} is not equal to len(dims) = {}",
            dims.len()
        )));
    }
    let mut perm = Vec::with_capacity(n);
    let mut seen = vec![false; n];
    for &d in dims {
        let d = wrap_dim(d, n)?;
        if seen[d] {
            return Err(Error::Runtime(
                "permute(): duplicate dims are not allowed.".into(),
            ));
        }
        seen[d] = true;
        perm.push(d);
    }
    let shape: Shape = perm.iter().map(|&d| x.shape()[d]).collect();
    let strides = perm.iter().map(|&d| x.strides()[d]).collect();
    let out = view_layout(x, &shape, strides, x.offset());
    let mut inv = vec![0i64; n];
    for (i, &p) in perm.iter().enumerate() {
        inv[p] = i as i64;
    }
    record(name, &[x], &[&out], move |g| {
        Ok(vec![g[0].as_ref().map(|g| permute(g, &inv)).transpose()?])
    });
    Ok(out)
}

pub fn transpose(x: &Tensor, d0: i64, d1: i64) -> Result<Tensor> {
    let n = x.ndim();
    if n == 0 {
        // The dims must still name the one (virtual) dim.
        wrap_dim(d0, 0)?;
        wrap_dim(d1, 0)?;
        return Ok(x.clone());
    }
    let (a, b) = (wrap_dim(d0, n)?, wrap_dim(d1, n)?);
    let mut dims: Vec<i64> = (0..n as i64).collect();
    dims.swap(a, b);
    permute_named(x, &dims, "TransposeBackward0")
}

/// `x.t()` for a 2-D `x`.
pub fn t(x: &Tensor) -> Result<Tensor> {
    permute_named(x, &[1, 0], "TBackward0")
}

/// `x.expand(shape)`; -1 keeps a dim. Broadcast dims get stride 0.
pub fn expand(x: &Tensor, req: &[i64]) -> Result<Tensor> {
    let n = req.len();
    if n < x.ndim() {
        return Err(Error::Runtime(format!(
            "expand(torch.FloatTensor{{{:?}}}, size=[{}]): the number of sizes provided ({}) must be greater or equal to the number of dimensions in the tensor ({})",
            x.shape(), n, n, x.ndim()
        )));
    }
    let lead = n - x.ndim();
    let mut shape: Shape = SmallVec::new();
    for (i, &r) in req.iter().enumerate() {
        if r == -1 {
            if i < lead {
                return Err(Error::Runtime(
                    "expand: -1 is not allowed in a leading, non-existing dimension".into(),
                ));
            }
            shape.push(x.shape()[i - lead]);
        } else if r < 0 {
            return Err(Error::Runtime(format!("expand: invalid size {r}")));
        } else {
            shape.push(r as usize);
        }
    }
    expand_to(x, &shape)
}

pub fn expand_to(x: &Tensor, shape: &[usize]) -> Result<Tensor> {
    if x.shape() == shape {
        return Ok(x.clone());
    }
    let strides = broadcast_strides(x.layout(), shape)?;
    let out = view_layout(x, shape, strides, x.offset());
    let src = x.shape_vec();
    record("ExpandBackward0", &[x], &[&out], move |g| {
        Ok(vec![g[0].as_ref().map(|g| sum_to(g, &src)).transpose()?])
    });
    Ok(out)
}

pub fn unsqueeze(x: &Tensor, dim: i64) -> Result<Tensor> {
    let d = wrap_dim(dim, x.ndim() + 1)?;
    let mut shape = x.shape_vec();
    let mut strides = x.layout().strides.clone();
    let st = if d < x.ndim() {
        strides[d] * shape[d] as isize
    } else {
        1
    };
    shape.insert(d, 1);
    strides.insert(d, st);
    let out = view_layout(x, &shape, strides, x.offset());
    let src = x.shape_vec();
    record("UnsqueezeBackward0", &[x], &[&out], move |g| {
        Ok(vec![g[0]
            .as_ref()
            .map(|g| reshape_to(g, &src))
            .transpose()?])
    });
    Ok(out)
}

/// `squeeze(dims)`: drop the given size-1 dims (all size-1 dims when None).
pub fn squeeze(x: &Tensor, dims: Option<&[i64]>) -> Result<Tensor> {
    let n = x.ndim();
    let mut drop = vec![false; n];
    match dims {
        None => (0..n).for_each(|i| drop[i] = x.shape()[i] == 1),
        Some(ds) => {
            let mut seen = vec![false; n.max(1)];
            for &d in ds {
                let w = wrap_dim(d, n)?;
                if std::mem::replace(&mut seen[w], true) {
                    return Err(Error::Runtime(format!(
                        "dim {w} appears multiple times in the list of dims"
                    )));
                }
                if n == 0 {
                    wrap_dim(d, 1)?;
                    continue;
                }
                let d = wrap_dim(d, n)?;
                drop[d] = x.shape()[d] == 1;
            }
        }
    }
    let shape: Shape = (0..n).filter(|&i| !drop[i]).map(|i| x.shape()[i]).collect();
    let strides = (0..n)
        .filter(|&i| !drop[i])
        .map(|i| x.strides()[i])
        .collect();
    let out = view_layout(x, &shape, strides, x.offset());
    let src = x.shape_vec();
    record("SqueezeBackward0", &[x], &[&out], move |g| {
        Ok(vec![g[0]
            .as_ref()
            .map(|g| reshape_to(g, &src))
            .transpose()?])
    });
    Ok(out)
}

pub fn flatten(x: &Tensor, start: i64, end: i64) -> Result<Tensor> {
    if x.ndim() == 0 {
        // The dims still have to name the one (virtual) dim.
        wrap_dim(start, 0)?;
        wrap_dim(end, 0)?;
        return reshape(x, &[1]);
    }
    let (s, e) = (wrap_dim(start, x.ndim())?, wrap_dim(end, x.ndim())?);
    if s > e {
        return Err(Error::Runtime(
            "flatten() has invalid args: start_dim cannot come after end_dim".into(),
        ));
    }
    let mut req: Vec<i64> = x.shape()[..s].iter().map(|&d| d as i64).collect();
    req.push(x.shape()[s..=e].iter().product::<usize>() as i64);
    req.extend(x.shape()[e + 1..].iter().map(|&d| d as i64));
    reshape(x, &req)
}

/// `x[..., start:end:step, ...]` along `dim` (bounds already clamped by caller
/// or clamped here Python-style).
pub fn slice(
    x: &Tensor,
    dim: i64,
    start: Option<i64>,
    end: Option<i64>,
    step: i64,
) -> Result<Tensor> {
    if step <= 0 {
        return Err(Error::Value("step must be greater than zero".into()));
    }
    let d = wrap_dim(dim, x.ndim())?;
    let size = x.shape()[d] as i64;
    let clampi = |v: i64| -> i64 {
        let v = if v < 0 { v + size } else { v };
        v.clamp(0, size)
    };
    let s = start.map_or(0, clampi);
    let e = end.map_or(size, clampi).max(s);
    let len = ((e - s) + step - 1) / step;
    let (shape, strides, offset) = slice_geometry(x, d, s, len, step);
    let out = view_layout(x, &shape, strides, offset);
    record_view(
        "SliceBackward0",
        x,
        &out,
        Arc::new(move |t| slice(t, d as i64, Some(s), Some(e), step)),
    );
    Ok(out)
}

/// Shape, strides and offset of `x[..., start::step][:len]` along `d`.
fn slice_geometry(
    x: &Tensor,
    d: usize,
    start: i64,
    len: i64,
    step: i64,
) -> (Vec<usize>, SmallVec<[isize; 6]>, usize) {
    let mut shape = x.shape_vec();
    let mut strides = x.layout().strides.clone();
    shape[d] = len as usize;
    let offset = (x.offset() as isize + start as isize * strides[d]) as usize;
    strides[d] *= step as isize;
    (shape.to_vec(), strides, offset)
}

pub fn narrow(x: &Tensor, dim: i64, start: i64, length: i64) -> Result<Tensor> {
    if x.ndim() == 0 {
        return Err(Error::Runtime(
            "narrow() cannot be applied to a 0-dim tensor.".into(),
        ));
    }
    let d = wrap_dim(dim, x.ndim())?;
    let size = x.shape()[d] as i64;
    if length < 0 {
        return Err(Error::Runtime(
            "narrow(): length must be non-negative.".into(),
        ));
    }
    if start < -size || start > size {
        return Err(Error::Index(format!(
            "start out of range (expected to be in range of [{}, {size}], but got {start})",
            -size
        )));
    }
    let s = if start < 0 { start + size } else { start };
    if s + length > size {
        return Err(Error::Runtime(format!(
            "start ({s}) + length ({length}) exceeds dimension size ({size})."
        )));
    }
    slice(x, d as i64, Some(s), Some(s + length), 1)
}

/// `x.select(dim, index)`: drops `dim`.
pub fn select(x: &Tensor, dim: i64, index: i64) -> Result<Tensor> {
    if x.ndim() == 0 {
        return Err(Error::Index(
            "select() cannot be applied to a 0-dim tensor.".into(),
        ));
    }
    let d = wrap_dim(dim, x.ndim())?;
    let size = x.shape()[d] as i64;
    let i = if index < 0 { index + size } else { index };
    if i < 0 || i >= size {
        return Err(Error::Index(format!(
            "select(): index {index} out of range for tensor of size {:?} at dimension {d}",
            x.shape()
        )));
    }
    let mut shape = x.shape_vec();
    let mut strides = x.layout().strides.clone();
    let offset = (x.offset() as isize + i as isize * strides[d]) as usize;
    shape.remove(d);
    strides.remove(d);
    let out = view_layout(x, &shape, strides, offset);
    record_view(
        "SelectBackward0",
        x,
        &out,
        Arc::new(move |t| select(t, d as i64, i)),
    );
    Ok(out)
}

/// `torch.cat(tensors, dim)`.
pub fn cat(xs: &[Tensor], dim: i64) -> Result<Tensor> {
    let parts: Vec<&Tensor> = xs
        .iter()
        .filter(|t| !(t.ndim() == 1 && t.numel() == 0))
        .collect();
    if xs.is_empty() {
        return Err(Error::Value(
            "torch.cat(): expected a non-empty list of Tensors".into(),
        ));
    }
    if let Some(i) = xs.iter().position(|t| t.ndim() == 0) {
        return Err(Error::Runtime(format!(
            "zero-dimensional tensor (at position {i}) cannot be concatenated"
        )));
    }
    // The skipped empty 1-d tensors still count in the result's dtype.
    let dtype = xs
        .iter()
        .skip(1)
        .fold(xs[0].dtype(), |a, t| DType::promote(a, t.dtype()));
    if parts.is_empty() {
        let out = creation::zeros_on(&[0], dtype, xs[0].device())?;
        let dtypes: Vec<DType> = xs.iter().map(|t| t.dtype()).collect();
        let inputs: Vec<&Tensor> = xs.iter().collect();
        record("CatBackward0", &inputs, &[&out], move |g| {
            let device = g[0]
                .as_ref()
                .map_or(crate::tensor::Device::Cpu, |g| g.device());
            dtypes
                .iter()
                .map(|&dt| Ok(Some(creation::zeros_on(&[0], dt, device)?)))
                .collect()
        });
        return Ok(out);
    }
    let first = parts[0];
    let d = wrap_dim(dim, first.ndim())?;
    let mut total = 0;
    for (i, t) in parts.iter().enumerate() {
        if t.ndim() != first.ndim() {
            return Err(Error::Runtime(format!(
                "Tensors must have same number of dimensions: got {} and {}",
                first.ndim(),
                t.ndim()
            )));
        }
        for k in 0..first.ndim() {
            if k != d && t.shape()[k] != first.shape()[k] {
                return Err(Error::Runtime(format!(
                    "Sizes of tensors must match except in dimension {d}. Expected size {} but got size {} for tensor number {i} in the list.",
                    first.shape()[k],
                    t.shape()[k]
                )));
            }
        }
        total += t.shape()[d];
    }
    let mut shape = first.shape_vec();
    shape[d] = total;
    let contiguous = first.device() == crate::tensor::Device::Cpu
        && parts
            .iter()
            .all(|t| t.dtype() == dtype && t.is_contiguous());
    let out = if contiguous {
        crate::dispatch_all!(dtype, T => cat_contiguous::<T>(&parts, &shape, d))
    } else {
        cat_strided(&parts, &shape, d, dtype)?
    };
    // Every input is in the graph, the skipped empty 1-d ones too (their
    // gradient is empty), so none is left with a None `.grad`.
    let mut bounds = Vec::new();
    let mut pos = 0;
    for t in xs {
        let skipped = t.ndim() == 1 && t.numel() == 0;
        let len = if skipped { 0 } else { t.shape()[d] };
        bounds.push((pos, len, t.dtype(), skipped));
        pos += len;
    }
    let inputs: Vec<&Tensor> = xs.iter().collect();
    record("CatBackward0", &inputs, &[&out], move |g| {
        let Some(g) = &g[0] else {
            return Ok(vec![None; bounds.len()]);
        };
        bounds
            .iter()
            .map(|&(p, l, dt, skipped)| {
                if skipped {
                    return Ok(Some(creation::zeros_on(&[0], dt, g.device())?));
                }
                let s = narrow(g, d as i64, p as i64, l as i64)?;
                Ok(Some(if dt != s.dtype() && dt.is_float() {
                    super::unary::to_dtype(&s, dt)?
                } else {
                    s
                }))
            })
            .collect()
    });
    Ok(out)
}

/// `cat` written part by part into views of the output (any layout, dtype
/// or device).
fn cat_strided(parts: &[&Tensor], shape: &[usize], d: usize, dtype: DType) -> Result<Tensor> {
    // Every element is written below (the parts cover the output).
    let out = match parts[0].device() {
        crate::tensor::Device::Cpu => {
            crate::dispatch_all!(dtype, T => Tensor::from_vec(crate::tensor::pool::uninit_vec::<T>(shape.iter().product()), shape))
        }
        device => creation::zeros_on(shape, dtype, device)?,
    };
    let mut pos = 0;
    for t in parts {
        let len = t.shape()[d];
        let dst = {
            let _ng = crate::autograd::GradModeGuard::new(false);
            slice(
                &out,
                d as i64,
                Some(pos as i64),
                Some((pos + len) as i64),
                1,
            )?
        };
        write_into(&dst, t)?;
        pos += len;
    }
    Ok(out)
}

/// `cat` of contiguous parts of the output's dtype on the host: the output
/// is written once, in order, each row of the leading dims taking its piece
/// of every part (written part by part, an inner-dim cat took 1.5x
/// PyTorch's time).
fn cat_contiguous<T: crate::tensor::storage::BufferElem>(
    parts: &[&Tensor],
    shape: &[usize],
    d: usize,
) -> Tensor {
    let inner: usize = shape[d + 1..].iter().product();
    let outer: usize = shape[..d].iter().product();
    let pieces: Vec<(&[T], usize)> = parts
        .iter()
        .map(|t| (t.as_slice::<T>().unwrap_or(&[]), t.shape()[d] * inner))
        .collect();
    let row: usize = pieces.iter().map(|p| p.1).sum();
    let mut out = crate::tensor::pool::uninit_vec::<T>(outer * row);
    if row > 0 && outer > 0 {
        let threads = crate::parallel::num_threads();
        let rows_per_task = if out.len() < crate::parallel::ELEMENTWISE_GRAIN || threads == 1 {
            outer
        } else {
            outer.div_ceil(threads * 4)
        };
        crate::parallel::for_each_chunk_mut(&mut out, rows_per_task * row, |c, chunk| {
            for (r, dst) in chunk.chunks_mut(row).enumerate() {
                let o = c * rows_per_task + r;
                let mut at = 0;
                for &(src, len) in &pieces {
                    dst[at..at + len].copy_from_slice(&src[o * len..(o + 1) * len]);
                    at += len;
                }
            }
        });
    }
    Tensor::from_vec(out, shape)
}

pub fn stack(xs: &[Tensor], dim: i64) -> Result<Tensor> {
    if xs.is_empty() {
        return Err(Error::Runtime(
            "stack expects a non-empty TensorList".into(),
        ));
    }
    let d = wrap_dim(dim, xs[0].ndim() + 1)?;
    for (i, t) in xs.iter().enumerate() {
        if t.shape() != xs[0].shape() {
            return Err(Error::Runtime(format!(
                "stack expects each tensor to be equal size, but got {:?} at entry 0 and {:?} at entry {i}",
                xs[0].shape(),
                t.shape()
            )));
        }
    }
    let us: Vec<Tensor> = xs
        .iter()
        .map(|t| unsqueeze(t, d as i64))
        .collect::<Result<_>>()?;
    cat(&us, d as i64)
}

/// Split into pieces of the given sizes along `dim` (views).
pub fn split_sizes(x: &Tensor, sizes: &[usize], dim: i64) -> Result<Vec<Tensor>> {
    split_views(x, sizes, dim, "SplitWithSizesBackward0")
}

/// `split_sizes` whose graph node is called `name`.
fn split_views(x: &Tensor, sizes: &[usize], dim: i64, name: &'static str) -> Result<Vec<Tensor>> {
    if x.ndim() == 0 {
        return Err(Error::Runtime(
            "split expects at least a 1-dimensional tensor".into(),
        ));
    }
    let d = wrap_dim(dim, x.ndim())?;
    let total: usize = sizes.iter().sum();
    if total != x.shape()[d] {
        return Err(Error::Runtime(format!(
            "split_with_sizes expects split_sizes to sum exactly to {} (input tensor's size at dimension {d}), but got split_sizes={sizes:?}",
            x.shape()[d]
        )));
    }
    // The pieces share one graph node (PyTorch's SplitBackward0): backward
    // writes every piece's gradient into one buffer of the input's shape,
    // where a node per piece zero-filled a buffer each and summed them.
    let mut bounds = Vec::with_capacity(sizes.len());
    let mut pos = 0;
    let pieces: Vec<Tensor> = sizes
        .iter()
        .map(|&s| {
            bounds.push((pos, pos + s));
            let (shape, strides, offset) = slice_geometry(x, d, pos as i64, s as i64, 1);
            pos += s;
            view_layout(x, &shape, strides, offset)
        })
        .collect();
    let (shape, dtype) = (x.shape_vec(), x.dtype());
    let outs: Vec<&Tensor> = pieces.iter().collect();
    record(name, &[x], &outs, move |g| {
        Ok(vec![split_backward(g, &shape, dtype, d, &bounds)?])
    });
    Ok(pieces)
}

/// The input gradient of a split along `d` into the pieces `bounds`
/// (`None` where no piece has a gradient).
fn split_backward(
    g: &[Option<Tensor>],
    shape: &[usize],
    dtype: DType,
    d: usize,
    bounds: &[(usize, usize)],
) -> Result<Option<Tensor>> {
    let Some(first) = g.iter().flatten().next() else {
        return Ok(None);
    };
    let piece_view = |&(s, e): &(usize, usize)| -> ViewFn {
        Arc::new(move |t| slice(t, d as i64, Some(s as i64), Some(e as i64), 1))
    };
    if g.iter().flatten().any(|t| t.requires_grad()) {
        // create_graph: a differentiable sum of the embedded pieces
        let mut total: Option<Tensor> = None;
        for (gi, b) in g.iter().zip(bounds) {
            if let Some(gi) = gi {
                let part = embed(gi, shape, dtype, piece_view(b))?;
                total = Some(match total {
                    None => part,
                    Some(t) => super::binary::add(&t, &part)?,
                });
            }
        }
        return Ok(total);
    }
    // Every element is written when every piece has a gradient (the pieces
    // tile the dim); otherwise the gaps are zeros.
    let covered = g.iter().all(Option::is_some);
    let out = if covered && !first.is_gpu() && !first.is_meta() {
        let n = shape.iter().product();
        crate::dispatch_all!(dtype, T => Tensor::from_vec(crate::tensor::pool::uninit_vec::<T>(n), shape))
    } else {
        creation::zeros_on(shape, dtype, first.device())?
    };
    for (gi, &(s, e)) in g.iter().zip(bounds) {
        if let Some(gi) = gi {
            let (pshape, strides, offset) = slice_geometry(&out, d, s as i64, (e - s) as i64, 1);
            let target = out.with_layout(Layout {
                shape: pshape.into(),
                strides,
                offset,
            });
            write_into(&target, gi)?;
        }
    }
    Ok(Some(out))
}

/// `x.split(split_size, dim)`: equal pieces, the last possibly smaller.
pub fn split(x: &Tensor, size: usize, dim: i64) -> Result<Vec<Tensor>> {
    if x.ndim() == 0 {
        return Err(Error::Runtime(
            "split expects at least a 1-dimensional tensor".into(),
        ));
    }
    let d = wrap_dim(dim, x.ndim())?;
    if size == 0 {
        return Err(Error::Runtime(
            "split_size can only be 0 if dimension size is 0".into(),
        ));
    }
    let n = x.shape()[d];
    let mut sizes = vec![size; n / size];
    if !n.is_multiple_of(size) || n == 0 {
        sizes.push(n % size);
    }
    split_views(x, &sizes, d as i64, "SplitBackward0")
}

/// `x.chunk(chunks, dim)`.
pub fn chunk(x: &Tensor, chunks: usize, dim: i64) -> Result<Vec<Tensor>> {
    if chunks == 0 {
        return Err(Error::Runtime(
            "chunk expects `chunks` to be greater than 0, got: 0".into(),
        ));
    }
    if x.ndim() == 0 {
        return Err(Error::Runtime(
            "chunk expects at least a 1-dimensional tensor".into(),
        ));
    }
    let d = wrap_dim(dim, x.ndim())?;
    let n = x.shape()[d];
    if n == 0 {
        // PyTorch gives `chunks` empty pieces of an empty dim.
        return (0..chunks).map(|_| narrow(x, d as i64, 0, 0)).collect();
    }
    split(x, n.div_ceil(chunks), d as i64)
}
