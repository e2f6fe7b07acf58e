//! Shape ops composed from the differentiable primitives (so their
//! gradients come for free): repeat, roll, movedim, tril/triu, sort, pad.

use super::binary::where_;
use super::creation;
use super::index::{gather, index_select};
use super::shape::{cat, embed, expand_to, narrow, permute, reshape_to, unsqueeze};
use crate::error::{Error, Result};
use crate::tensor::layout::wrap_dim;
use crate::tensor::{DType, Tensor};
use std::sync::Arc;

/// `x.repeat(*reps)`: tile the tensor. PyTorch checks the result's sizes,
/// not the repeats: a negative repeat of an empty dim gives size 0.
pub fn repeat(x: &Tensor, reps: &[i64]) -> Result<Tensor> {
    if reps.len() < x.ndim() {
        return Err(Error::Runtime(
            "Number of dimensions of repeat dims can not be smaller than number of dimensions of tensor".into(),
        ));
    }
    let lead = reps.len() - x.ndim();
    let mut shape: Vec<usize> = vec![1; lead];
    shape.extend(x.shape());
    let sizes: Vec<i64> = reps
        .iter()
        .zip(&shape)
        .map(|(&r, &s)| r * s as i64)
        .collect();
    if let Some(bad) = sizes.iter().find(|&&n| n < 0) {
        return Err(Error::Runtime(format!(
            "Trying to create tensor with negative dimension {bad}: {sizes:?}"
        )));
    }
    // view as (1, s0, 1, s1, ...), expand to (r0, s0, r1, s1, ...), merge pairs
    let mut inter = Vec::new();
    let mut big = Vec::new();
    let mut out = Vec::new();
    for (&r, &s) in reps.iter().zip(&shape) {
        // (a negative repeat passed the check only along an empty dim)
        let r = r.max(0) as usize;
        inter.extend([1, s]);
        big.extend([r, s]);
        out.push(r * s);
    }
    let v = reshape_to(x, &inter)?;
    let e = expand_to(&v, &big)?;
    reshape_to(&e, &out)
}

/// `x.repeat_interleave(n, dim)`: each element (each slice along `dim`;
/// of the flattened tensor without one) `n` times, as a broadcast view
/// reshaped.
pub fn repeat_interleave(
    x: &Tensor,
    n: i64,
    dim: Option<i64>,
    output_size: Option<i64>,
) -> Result<Tensor> {
    if n < 0 {
        return Err(Error::Runtime("Repeats must be non-negative".into()));
    }
    let n = n as usize;
    let (x, d) = match dim {
        None => (reshape_to(x, &[x.numel()])?, 0),
        Some(d) => (x.clone(), wrap_dim(d, x.ndim())?),
    };
    let u = unsqueeze(&x, d as i64 + 1)?;
    let mut shape = u.shape_vec();
    shape[d + 1] = n;
    let e = expand_to(&u, &shape)?;
    let mut out = x.shape_vec();
    out[d] *= n;
    if let Some(size) = output_size.filter(|&s| s != out[d] as i64) {
        return Err(Error::Runtime(format!(
            "repeat_interleave: Invalid output_size, expected {} but got {size}",
            out[d]
        )));
    }
    reshape_to(&e, &out)
}

/// The repeat counts of `repeat_interleave` as a list (an integer tensor,
/// none negative).
fn repeat_counts(repeats: &Tensor) -> Result<Vec<i64>> {
    if !matches!(repeats.dtype(), DType::I64 | DType::I32 | DType::U8) {
        return Err(Error::not_implemented(
            "repeat_interleave_cpu",
            repeats.dtype(),
        ));
    }
    let counts = repeats.cast_raw(DType::I64).to_vec::<i64>();
    if counts.iter().any(|&c| c < 0) {
        return Err(Error::Runtime("repeats can not be negative".into()));
    }
    Ok(counts)
}

/// `torch.repeat_interleave(repeats)`: `i` repeated `repeats[i]` times, for
/// a 1-d integer `repeats`, in its dtype.
pub fn repeat_interleave_indices(repeats: &Tensor, output_size: Option<i64>) -> Result<Tensor> {
    Ok(interleave_indices(repeats, output_size)?.cast_raw(repeats.dtype()))
}

/// The int64 indices `repeat_interleave` selects: `i` repeated `repeats[i]`
/// times.
fn interleave_indices(repeats: &Tensor, output_size: Option<i64>) -> Result<Tensor> {
    if repeats.ndim() != 1 {
        return Err(Error::Runtime(
            "repeat_interleave only accept 1D vector as repeat".into(),
        ));
    }
    let counts = repeat_counts(repeats)?;
    let total: i64 = counts.iter().sum();
    if output_size.is_some_and(|s| s != total) {
        return Err(Error::Runtime(
            "allocated size does not match required size".into(),
        ));
    }
    let mut idx = Vec::with_capacity(total as usize);
    for (i, &c) in counts.iter().enumerate() {
        idx.extend(std::iter::repeat_n(i as i64, c as usize));
    }
    let n = idx.len();
    Ok(Tensor::from_vec(idx, &[n]))
}

/// `x.repeat_interleave(repeats, dim)` with a tensor of counts, one per
/// slice along `dim` (one count is used for all): an `index_select`, so
/// the gradient sums each slice's copies.
pub fn repeat_interleave_tensor(
    x: &Tensor,
    repeats: &Tensor,
    dim: Option<i64>,
    output_size: Option<i64>,
) -> Result<Tensor> {
    if repeats.ndim() > 1 {
        return Err(Error::Runtime(
            "repeats must be 0-dim or 1-dim tensor".into(),
        ));
    }
    let (x, d) = match dim {
        None => (reshape_to(x, &[x.numel()])?, 0),
        Some(_) if x.ndim() == 0 => {
            return Err(Error::Index(
                "Dimension specified as 0 but tensor has no dimensions".into(),
            ))
        }
        Some(d) => (x.clone(), wrap_dim(d, x.ndim())?),
    };
    let len = x.shape()[d];
    let repeats = if repeats.numel() == 1 {
        expand_to(&reshape_to(repeats, &[1])?, &[len])?
    } else if repeats.numel() != len {
        return Err(Error::Runtime(format!(
            "repeats must have the same size as input along dim, but got repeats.size(0) = {} and input.size({d}) = {len}",
            repeats.numel()
        )));
    } else {
        reshape_to(repeats, &[len])?
    };
    let idx = interleave_indices(&repeats, output_size)?;
    index_select(&x, d as i64, &idx)
}

/// `torch.tensor_split(x, sections, dim)`: `sections` views along `dim`,
/// the first `size % sections` one longer than the others.
pub fn tensor_split_sections(x: &Tensor, sections: i64, dim: i64) -> Result<Vec<Tensor>> {
    let d = split_dim(x, dim)?;
    if sections <= 0 {
        return Err(Error::Runtime(format!(
            "number of sections must be larger than 0, got {sections}"
        )));
    }
    let (size, n) = (x.shape()[d] as i64, sections);
    let mut start = 0;
    (0..n)
        .map(|i| {
            let len = size / n + i64::from(i < size % n);
            let piece = narrow(x, d as i64, start, len);
            start += len;
            piece
        })
        .collect()
}

/// `torch.tensor_split(x, indices, dim)`: views `x[..., i_k:i_(k+1), ...]`
/// between consecutive indices (0 and the size at the ends), each sliced as
/// Python slices are (negative from the end, clamped, empty when reversed).
pub fn tensor_split_indices(x: &Tensor, indices: &[i64], dim: i64) -> Result<Vec<Tensor>> {
    let d = split_dim(x, dim)? as i64;
    let mut start = 0;
    let mut parts = Vec::with_capacity(indices.len() + 1);
    for &end in indices {
        parts.push(super::shape::slice(x, d, Some(start), Some(end), 1)?);
        start = end;
    }
    parts.push(super::shape::slice(x, d, Some(start), None, 1)?);
    Ok(parts)
}

fn split_dim(x: &Tensor, dim: i64) -> Result<usize> {
    if x.ndim() == 0 {
        return Err(Error::Runtime(
            "tensor_split expected at least a 1-dimensional tensor, but got a tensor with 0 dims"
                .into(),
        ));
    }
    wrap_dim(dim, x.ndim())
}

pub fn roll(x: &Tensor, shifts: &[i64], dims: Option<&[i64]>) -> Result<Tensor> {
    if shifts.is_empty() {
        return Err(Error::Runtime("`shifts` required".into()));
    }
    let dims = dims.filter(|d| !d.is_empty() || shifts.len() != 1);
    let Some(dims) = dims else {
        let flat = reshape_to(x, &[x.numel()])?;
        let r = roll(&flat, shifts, Some(&[0]))?;
        return reshape_to(&r, x.shape());
    };
    if shifts.len() != dims.len() {
        return Err(Error::Runtime(format!(
            "shifts and dimensions must align. shifts: {}, dims:{}",
            shifts.len(),
            dims.len()
        )));
    }
    if x.numel() == 0 {
        // PyTorch returns an empty input as it is, before checking the dims.
        return super::shape::clone(x);
    }
    let mut r = x.clone();
    for (&s, &d) in shifts.iter().zip(dims) {
        let d = crate::tensor::layout::wrap_dim_strict(d, x.ndim())?;
        let n = x.shape()[d] as i64;
        if n == 0 {
            continue;
        }
        let s = s.rem_euclid(n);
        if s == 0 {
            continue;
        }
        r = cat(
            &[
                narrow(&r, d as i64, n - s, s)?,
                narrow(&r, d as i64, 0, n - s)?,
            ],
            d as i64,
        )?;
    }
    Ok(r)
}

pub fn movedim(x: &Tensor, src: &[i64], dst: &[i64]) -> Result<Tensor> {
    let n = x.ndim();
    if src.len() != dst.len() {
        return Err(Error::Runtime(
            "movedim: Invalid source or destination dims".into(),
        ));
    }
    if n == 0 {
        for &d in src.iter().chain(dst) {
            wrap_dim(d, 0)?;
        }
        return super::shape::reshape_to(x, &[]);
    }
    let s: Vec<usize> = src.iter().map(|&d| wrap_dim(d, n)).collect::<Result<_>>()?;
    let t: Vec<usize> = dst.iter().map(|&d| wrap_dim(d, n)).collect::<Result<_>>()?;
    let mut perm = vec![usize::MAX; n];
    for (&a, &b) in s.iter().zip(&t) {
        perm[b] = a;
    }
    let mut rest = (0..n).filter(|d| !s.contains(d));
    for p in perm.iter_mut() {
        if *p == usize::MAX {
            *p = rest.next().unwrap_or(0);
        }
    }
    permute(x, &perm.iter().map(|&p| p as i64).collect::<Vec<_>>())
}

/// tril (lower) / triu over the last two dims.
pub fn tri(x: &Tensor, diagonal: i64, lower: bool) -> Result<Tensor> {
    if x.ndim() < 2 {
        return Err(Error::Runtime(
            "tril/triu: input tensor must have at least 2 dimensions".into(),
        ));
    }
    let (r, c) = (x.shape()[x.ndim() - 2], x.shape()[x.ndim() - 1]);
    if x.is_meta() {
        let m = Tensor::meta(&[r, c], DType::Bool);
        return where_(&m, x, &creation::full(&[], 0.0, x.dtype()));
    }
    let mask: Vec<bool> = (0..r * c)
        .map(|i| {
            let (row, col) = ((i / c) as i64, (i % c) as i64);
            if lower {
                col - row <= diagonal
            } else {
                col - row >= diagonal
            }
        })
        .collect();
    let m = crate::ops::device::copy_raw(&Tensor::from_vec(mask, &[r, c]), x.device())?;
    where_(&m, x, &creation::full(&[], 0.0, x.dtype()))
}

/// Sort along `dim`: (values, indices). NaN sorts as the largest value.
pub fn sort(x: &Tensor, dim: i64, descending: bool) -> Result<(Tensor, Tensor)> {
    sorted_first(x, dim, descending, dim_len(x, dim)?)
}

/// The length of `x` along `dim` (1 for a 0-dim tensor).
fn dim_len(x: &Tensor, dim: i64) -> Result<usize> {
    if x.ndim() == 0 {
        return Ok(1);
    }
    Ok(x.shape()[wrap_dim(dim, x.ndim())?])
}

/// `torch.topk(x, k, dim, largest)` (sorted): the first k of `sort`, found by
/// selecting them before sorting (a whole-row sort took 14x PyTorch's time
/// for k = 10 of 1024).
pub fn topk(x: &Tensor, k: usize, dim: i64, largest: bool) -> Result<(Tensor, Tensor)> {
    let n = dim_len(x, dim)?;
    if k > n {
        return Err(Error::Runtime(format!(
            "selected index k out of range (k={k}, size={n})"
        )));
    }
    sorted_first(x, dim, largest, k)
}

/// The first `k` values of each row along `dim` in sorted order, with their
/// indices: NaN counts as the largest value, and equal values keep their
/// index order (a stable sort's result).
fn sorted_first(x: &Tensor, dim: i64, descending: bool, k: usize) -> Result<(Tensor, Tensor)> {
    crate::gpu::ops::cpu_only(&[x], "sort")?;
    if x.ndim() == 0 {
        return Ok((x.clone(), Tensor::scalar(0i64)));
    }
    let d = wrap_dim(dim, x.ndim())?;
    let mut kept = x.shape_vec();
    kept[d] = k;
    if let Some(values) = super::meta::result("SortBackward0", &[x], &kept, x.dtype()) {
        return Ok((values, Tensor::meta(&kept, DType::I64)));
    }
    let moved = movedim(&x.detach(), &[d as i64], &[-1])?;
    let n = x.shape()[d];
    let rows = moved.numel().checked_div(n).unwrap_or(0);
    let mut idx = crate::tensor::pool::uninit_vec::<i64>(rows * k);
    {
        use crate::cpu::sort::{f32_key, f64_key, sorted_row_indices};
        use crate::tensor::Elem;
        let out = &mut idx;
        crate::dispatch_all!(moved.dtype(), T => {
            let vals = moved.data::<T>();
            match moved.dtype() {
                // (half values are exact in float32)
                DType::F32 | DType::F16 | DType::BF16 => sorted_row_indices(&vals, n, k, descending, |v: T| f32_key(v.to_f64() as f32), out),
                DType::F64 => sorted_row_indices(&vals, n, k, descending, |v: T| f64_key(v.to_f64()), out),
                _ => sorted_row_indices(&vals, n, k, descending, |v: T| v.to_i64(), out),
            }
        });
    }
    let mut shape = moved.shape_vec();
    if let Some(last) = shape.last_mut() {
        *last = k;
    }
    let idx_moved = Tensor::from_vec(idx, &shape);
    let idx = movedim(&idx_moved, &[-1], &[d as i64])?.contiguous_raw();
    let values = gather(x, d as i64, &idx)?;
    Ok((values, idx))
}

/// `F.pad(x, pad, mode, value)`; `pad` lists (left, right) pairs from the
/// last dim backwards. Negative constant pads crop.
pub fn pad(x: &Tensor, pads: &[i64], mode: &str, value: f64) -> Result<Tensor> {
    if !pads.len().is_multiple_of(2) || pads.len() / 2 > x.ndim() {
        return Err(Error::Runtime(format!(
            "Padding length must be divisible by 2 and at most twice the number of dims; got {} for a {}-D input",
            pads.len(),
            x.ndim()
        )));
    }
    let k = pads.len() / 2;
    if mode == "constant" {
        let mut cur = x.clone();
        // crop negative pads first
        for i in 0..k {
            let d = x.ndim() - 1 - i;
            let (l, r) = (pads[2 * i], pads[2 * i + 1]);
            let n = cur.shape()[d] as i64;
            let (cl, cr) = ((-l).max(0), (-r).max(0));
            if cl + cr > 0 {
                if cl + cr > n {
                    return Err(Error::Runtime(
                        "negative padding removes the whole dimension".into(),
                    ));
                }
                cur = narrow(&cur, d as i64, cl, n - cl - cr)?;
            }
        }
        let mut shape = cur.shape_vec();
        let mut region: Vec<(usize, i64, i64)> = Vec::new();
        for i in 0..k {
            let d = x.ndim() - 1 - i;
            let (l, r) = (pads[2 * i].max(0), pads[2 * i + 1].max(0));
            region.push((d, l, cur.shape()[d] as i64));
            shape[d] += (l + r) as usize;
        }
        if shape.as_slice() == cur.shape() {
            return Ok(cur);
        }
        let reg = region.clone();
        let view: super::shape::ViewFn = Arc::new(move |t: &Tensor| {
            let mut v = t.clone();
            for &(d, l, len) in &reg {
                v = narrow(&v, d as i64, l, len)?;
            }
            Ok(v)
        });
        let inner = embed(&cur, &shape, cur.dtype(), view.clone())?;
        if value == 0.0 {
            return Ok(inner);
        }
        let mask = creation::zeros_on(&shape, DType::Bool, x.device())?;
        crate::tensor::access::fill_(&view(&mask)?, 1.0);
        return where_(&mask, &inner, &creation::full(&[], value, x.dtype()));
    }
    let mut cur = x.clone();
    for i in 0..k {
        let d = x.ndim() - 1 - i;
        let (l, r) = (pads[2 * i], pads[2 * i + 1]);
        let n = cur.shape()[d] as i64;
        if mode == "reflect" && (l >= n || r >= n) {
            return Err(Error::Runtime(format!(
                "Argument #4: Padding size should be less than the corresponding input dimension, but got: padding ({l}, {r}) at dimension {d} of input {:?}",
                x.shape()
            )));
        }
        if mode == "circular" && (l > n || r > n) {
            return Err(Error::Runtime(
                "Padding value causes wrapping around more than once.".into(),
            ));
        }
        let idx: Vec<i64> = (-l..n + r)
            .map(|i| match mode {
                "reflect" => {
                    let p = 2 * (n - 1);
                    let j = i.rem_euclid(p.max(1));
                    if j >= n {
                        p - j
                    } else {
                        j
                    }
                }
                "replicate" => i.clamp(0, n - 1),
                _ => i.rem_euclid(n),
            })
            .collect();
        let m = idx.len();
        cur = index_select(&cur, d as i64, &Tensor::from_vec(idx, &[m]))?;
    }
    match mode {
        "reflect" | "replicate" | "circular" => Ok(cur),
        other => Err(Error::Value(format!(
            "Unsupported padding mode: {other}. Expected one of 'constant', 'reflect', 'replicate', 'circular'"
        ))),
    }
}
