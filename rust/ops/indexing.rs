//! `x[index]` and `x[index] = v`: NumPy/PyTorch indexing semantics.
//!
//! Basic items (ints, slices, None, ...) become views. Integer-tensor (and
//! boolean-mask) items are "advanced": they are broadcast together and
//! gather whole sub-blocks; their dims go where NumPy puts them (in place
//! when adjacent, in front otherwise).

use super::creation;
use super::shape::{permute, select, slice, unsqueeze};
use crate::autograd::record;
use crate::error::{Error, Result};
use crate::tensor::layout::broadcast_shapes;
use crate::tensor::{DType, Tensor};
use std::sync::Arc;

#[derive(Clone, Debug)]
pub enum IndexItem {
    Int(i64),
    Slice(Option<i64>, Option<i64>, i64),
    NewAxis,
    Ellipsis,
    /// Integer indices (int64) or a boolean mask.
    Tensor(Tensor),
}

/// Expand a boolean mask into one int64 index tensor per mask dim (nonzero).
pub fn mask_to_indices(mask: &Tensor) -> Vec<Tensor> {
    let m = mask.cast_raw(DType::Bool);
    let v = m.data::<bool>();
    let shape = mask.shape().to_vec();
    let k = shape.len();
    let mut cols: Vec<Vec<i64>> = vec![Vec::new(); k];
    for (lin, &b) in v.iter().enumerate() {
        if b {
            let mut rem = lin;
            for d in (0..k).rev() {
                cols[d].push((rem % shape[d]) as i64);
                rem /= shape[d];
            }
        }
    }
    cols.into_iter()
        .map(|c| {
            let n = c.len();
            Tensor::from_vec(c, &[n])
        })
        .collect()
}

/// `torch.nonzero(x)`: (n, ndim) int64 coordinates of non-zero elements.
/// `nonzero(as_tuple=True)` / one-argument `where`: one index tensor per
/// dim; a 0-d tensor counts as 1-d, as PyTorch.
pub fn nonzero_tuple(x: &Tensor) -> Result<Vec<Tensor>> {
    match x.ndim() {
        0 => Ok(mask_to_indices(&super::shape::reshape(x, &[1])?)),
        _ => Ok(mask_to_indices(x)),
    }
}

pub fn nonzero(x: &Tensor) -> Result<Tensor> {
    let cols = mask_to_indices(x);
    let n = cols.first().map_or(
        if x.ndim() == 0 {
            x.item_f64().map(|v| (v != 0.0) as usize).unwrap_or(0)
        } else {
            0
        },
        |c| c.numel(),
    );
    let k = x.ndim();
    let mut out = vec![0i64; n * k];
    for (d, c) in cols.iter().enumerate() {
        for (i, &v) in c.data::<i64>().iter().enumerate() {
            out[i * k + d] = v;
        }
    }
    crate::ops::device::copy_raw(&Tensor::from_vec(out, &[n, k]), x.device())
}

/// Resolve `...` and bool masks; apply the basic items as views. Returns the
/// view and the advanced indices with the view dims they apply to.
fn apply_basic(x: &Tensor, items: &[IndexItem]) -> Result<(Tensor, Vec<(usize, Tensor)>)> {
    let consumed: usize = items
        .iter()
        .map(|it| match it {
            IndexItem::Int(_) | IndexItem::Slice(..) => 1,
            IndexItem::Tensor(t) if t.dtype() == DType::Bool || t.dtype() == DType::U8 => t.ndim(),
            IndexItem::Tensor(_) => 1,
            _ => 0,
        })
        .sum();
    if consumed > x.ndim() {
        return Err(Error::Index(format!(
            "too many indices for tensor of dimension {} (got {consumed})",
            x.ndim()
        )));
    }
    if items
        .iter()
        .filter(|i| matches!(i, IndexItem::Ellipsis))
        .count()
        > 1
    {
        return Err(Error::Index(
            "an index can only have a single ellipsis ('...')".into(),
        ));
    }
    let mut v = x.clone();
    let mut d = 0usize;
    let mut adv = Vec::new();
    // Ints drop a view dim and None adds one: `shift` maps view dims back to
    // the source dims PyTorch names in its messages.
    let mut shift: isize = 0;
    for it in items {
        match it {
            IndexItem::Int(i) => {
                let size = v.shape()[d] as i64;
                if *i >= size || *i < -size {
                    let real = d as isize + shift;
                    return Err(Error::Index(format!(
                        "index {i} is out of bounds for dimension {real} with size {size}"
                    )));
                }
                v = select(&v, d as i64, *i)?;
                shift += 1;
            }
            IndexItem::Slice(s, e, st) => {
                v = slice(&v, d as i64, *s, *e, *st)?;
                d += 1;
            }
            IndexItem::NewAxis => {
                v = unsqueeze(&v, d as i64)?;
                d += 1;
                shift -= 1;
            }
            IndexItem::Ellipsis => d += x.ndim() - consumed,
            IndexItem::Tensor(t) if t.dtype() == DType::Bool || t.dtype() == DType::U8 => {
                for k in 0..t.ndim() {
                    if t.shape()[k] != v.shape()[d + k] {
                        return Err(Error::Index(format!(
                            "The shape of the mask {:?} at index {k} does not match the shape of the indexed tensor {:?} at index {}",
                            t.shape(),
                            v.shape(),
                            d + k
                        )));
                    }
                }
                if t.ndim() == 0 {
                    // x[True] adds a dim; x[False] selects nothing
                    v = unsqueeze(&v, d as i64)?;
                    let keep = t.item_f64()? != 0.0;
                    let idx =
                        Tensor::from_vec(if keep { vec![0i64] } else { vec![] }, &[keep as usize]);
                    adv.push((d, idx));
                    d += 1;
                    continue;
                }
                for (k, idx) in mask_to_indices(t).into_iter().enumerate() {
                    adv.push((d + k, idx));
                }
                d += t.ndim();
            }
            IndexItem::Tensor(t) => {
                if t.dtype().is_float() {
                    return Err(Error::Index(
                        "tensors used as indices must be long, int, byte or bool tensors".into(),
                    ));
                }
                adv.push((d, t.cast_raw(DType::I64)));
                d += 1;
            }
        }
    }
    Ok((v, adv))
}

/// Gather for indices applied to the leading dims of `x`.
/// Output shape: broadcast(indices) + x.shape[k..].
pub fn index_leading(x: &Tensor, indices: &[Tensor]) -> Result<Tensor> {
    let k = indices.len();
    let rest: Vec<usize> = x.shape()[k..].to_vec();
    if x.is_meta() || indices.iter().any(|t| t.is_meta()) {
        // The result's shape needs no index values (nor does a bounds check
        // happen, as on PyTorch's meta device).
        let mut shape = index_shape(indices)?;
        shape.extend(&rest);
        let inputs: Vec<&Tensor> = std::iter::once(x).chain(indices).collect();
        let out = super::meta::result("IndexBackward0", &inputs, &shape, x.dtype());
        return Ok(out.unwrap_or_else(|| Tensor::meta(&shape, x.dtype())));
    }
    let (bshape, lin) = linear_rows(x, indices)?;
    let inner: usize = rest.iter().product();
    if x.is_gpu() {
        let mut shape = bshape.clone();
        shape.extend(&rest);
        return index_rows_device(x, &lin, inner, &shape);
    }
    let xc = x.contiguous_raw();
    let out = crate::dispatch_all!(x.dtype(), T => {
        let src = xc.as_slice::<T>().expect("contiguous");
        let mut o = Vec::with_capacity(lin.len() * inner);
        for &r in &lin {
            o.extend_from_slice(&src[r * inner..(r + 1) * inner]);
        }
        let mut shape = bshape.clone();
        shape.extend(&rest);
        Tensor::from_vec(o, &shape)
    });
    let (xshape, idx) = (x.shape_vec(), indices.to_vec());
    record("IndexBackward0", &[x], &[&out], move |g| {
        let Some(g) = &g[0] else {
            return Ok(vec![None]);
        };
        let z = creation::zeros_on(&xshape, g.dtype(), g.device())?;
        Ok(vec![Some(index_put(&z, &idx, g, true)?)])
    });
    Ok(out)
}

/// Broadcast the indices, bounds-check them, and return the broadcast shape
/// with the row number (in the first k dims of x) of every index tuple.
fn linear_rows(x: &Tensor, indices: &[Tensor]) -> Result<(Vec<usize>, Vec<usize>)> {
    let bshape = index_shape(indices)?;
    let n: usize = bshape.iter().product();
    let k = indices.len();
    let mut lin = vec![0usize; n];
    let mut mult = 1usize;
    for j in (0..k).rev() {
        let size = x.shape()[j];
        let it = super::shape::expand_to(&indices[j].detach(), &bshape)?;
        let vals = it.cast_raw(DType::I64).to_vec::<i64>();
        for (l, &v) in lin.iter_mut().zip(&vals) {
            let w = if v < 0 { v + size as i64 } else { v };
            if w < 0 || w >= size as i64 {
                return Err(Error::Index(format!(
                    "index {v} is out of bounds for dimension {j} with size {size}"
                )));
            }
            *l += w as usize * mult;
        }
        mult *= size;
    }
    Ok((bshape, lin))
}

/// The shape the index tensors broadcast to.
fn index_shape(indices: &[Tensor]) -> Result<Vec<usize>> {
    let mut bshape: Vec<usize> = Vec::new();
    for t in indices {
        bshape = broadcast_shapes(&bshape, t.shape())
            .map_err(|_| {
                Error::Index(format!(
                "shape mismatch: indexing tensors could not be broadcast together with shapes {:?}",
                indices.iter().map(|t| t.shape().to_vec()).collect::<Vec<_>>()
            ))
            })?
            .to_vec();
    }
    Ok(bshape)
}

/// Out-of-place `x.index_put(indices, values, accumulate)` for leading dims.
pub fn index_put(
    x: &Tensor,
    indices: &[Tensor],
    values: &Tensor,
    accumulate: bool,
) -> Result<Tensor> {
    let (bshape, lin) = linear_rows(x, indices)?;
    let k = indices.len();
    let rest: Vec<usize> = x.shape()[k..].to_vec();
    let inner: usize = rest.iter().product();
    let mut vshape = bshape.clone();
    vshape.extend(&rest);
    let vals = super::shape::expand_to(&values.detach(), &vshape).map_err(|_| {
        Error::Runtime(format!(
            "shape mismatch: value tensor of shape {:?} cannot be broadcast to indexing result of shape {:?}",
            values.shape(),
            vshape
        ))
    })?;
    let order = write_order(x, indices, &vals, &bshape, accumulate)?;
    let vals = vals.cast_raw(x.dtype());
    let out = crate::dispatch_all!(x.dtype(), T => {
        let mut o = x.to_vec::<T>();
        let v = vals.to_vec::<T>();
        for i in order.clone().unwrap_or_else(|| (0..lin.len()).collect()) {
            let r = lin[i];
            for j in 0..inner {
                let (dst, src) = (r * inner + j, i * inner + j);
                o[dst] = if accumulate { add_any(o[dst], v[src]) } else { v[src] };
            }
        }
        Tensor::from_vec(o, x.shape())
    });
    let (idx, vshape_in) = (indices.to_vec(), values.shape_vec());
    record("IndexPutBackward0", &[x, values], &[&out], move |g| {
        let Some(g) = &g[0] else {
            return Ok(vec![None, None]);
        };
        let gx = if accumulate {
            g.clone()
        } else {
            index_put(g, &idx, &creation::zeros(&[], g.dtype()), false)?
        };
        let gv = super::reduce::sum_to(&index_leading(g, &idx)?, &vshape_in)?;
        Ok(vec![Some(gx), Some(gv)])
    });
    Ok(out)
}

/// The order of the index tuples (row-major positions in the broadcast
/// index shape `bshape`) in which PyTorch's `index_put_` writes them, when it
/// matters: with several index dims and `accumulate=False` a repeated
/// position keeps the value written last, and TensorIterator visits the
/// index dims in the order the value's (then the indices') strides give (a
/// transposed value goes column by column). None: row-major.
fn write_order(
    x: &Tensor,
    indices: &[Tensor],
    vals: &Tensor,
    bshape: &[usize],
    accumulate: bool,
) -> Result<Option<Vec<usize>>> {
    if accumulate || bshape.iter().filter(|&&s| s > 1).count() < 2 {
        return Ok(None);
    }
    let (nb, k) = (bshape.len(), indices.len());
    let nd = vals.ndim();
    // the written tensor, restrided: index dims broadcast, the rest its own
    let mut out = vec![0isize; nb];
    out.extend(&x.strides()[k..]);
    let mut strides = vec![out, vals.strides().to_vec()];
    for t in indices {
        let mut st = super::shape::expand_to(&t.detach(), bshape)?
            .strides()
            .to_vec();
        st.resize(nd, 0);
        strides.push(st);
    }
    let order = super::iter_order::iteration_order(vals.shape(), &strides);
    let index_dims: Vec<usize> = order.into_iter().filter(|&d| d < nb).collect();
    Ok(Some(super::iter_order::visit_positions(
        bshape,
        &index_dims,
    )))
}

#[inline(always)]
fn add_any<T: crate::tensor::Elem>(a: T, b: T) -> T {
    if T::DTYPE.is_float() {
        T::from_f64(a.to_f64() + b.to_f64())
    } else {
        T::from_i64(a.to_i64().wrapping_add(b.to_i64()))
    }
}

/// Permutation that brings the advanced dims first; and whether they were
/// adjacent (then the result dims go back to where the first one was).
fn advanced_plan(ndim: usize, adv: &[(usize, Tensor)]) -> (Vec<i64>, bool, usize) {
    let dims: Vec<usize> = adv.iter().map(|(d, _)| *d).collect();
    let adjacent = dims.windows(2).all(|w| w[1] == w[0] + 1);
    let mut perm: Vec<i64> = dims.iter().map(|&d| d as i64).collect();
    perm.extend((0..ndim).filter(|d| !dims.contains(d)).map(|d| d as i64));
    (perm, adjacent, dims[0])
}

/// `x[items]`.
pub fn getitem(x: &Tensor, items: &[IndexItem]) -> Result<Tensor> {
    let (v, adv) = apply_basic(x, items)?;
    if adv.is_empty() {
        return Ok(v);
    }
    let (perm, adjacent, first) = advanced_plan(v.ndim(), &adv);
    let vp = permute(&v, &perm)?;
    let idx: Vec<Tensor> = adv.into_iter().map(|(_, t)| t).collect();
    let nb = {
        let mut b: Vec<usize> = Vec::new();
        for t in &idx {
            b = broadcast_shapes(&b, t.shape())
                .map(|s| s.to_vec())
                .unwrap_or(b);
        }
        b.len()
    };
    let r = index_leading(&vp, &idx)?;
    if !adjacent || first == 0 {
        return Ok(r);
    }
    // move the broadcast dims back to position `first`
    let rest = r.ndim() - nb;
    let mut order: Vec<i64> = (nb..nb + first.min(rest)).map(|d| d as i64).collect();
    order.extend((0..nb).map(|d| d as i64));
    order.extend((nb + first.min(rest)..r.ndim()).map(|d| d as i64));
    permute(&r, &order)
}

/// `x[items] = value` in place. Without a graph to record and without
/// advanced indices, the value is written straight through the view;
/// otherwise the new value is computed out of place and assigned with
/// PyTorch's in-place autograd semantics.
pub fn setitem(x: &Tensor, items: &[IndexItem], value: &Tensor) -> Result<()> {
    reject_byte_mask_fill(x, items, value)?;
    let simple = items.iter().all(|i| !matches!(i, IndexItem::Tensor(_)));
    let needs_graph =
        crate::autograd::is_grad_enabled() && (x.requires_grad() || value.requires_grad());
    if simple && !needs_graph {
        // (A tensor value is copied with a plain cast here; Python numbers
        // were checked by the binding.)
        let view = getitem(x, items)?;
        let v = drop_leading_ones(value, view.ndim())?.cast_raw(x.dtype());
        let v = if v.shares_storage(x) {
            crate::dispatch_all!(v.dtype(), T => Tensor::from_vec(v.to_vec::<T>(), v.shape()))
        } else {
            v
        };
        return crate::tensor::access::write_into(&view, &v);
    }
    let r = setitem_result(x, items, value)?;
    super::inplace::assign(x, r)
}

/// PyTorch sends `x[masks] = v` with a single value and only mask indices to
/// `masked_fill_`, which refuses uint8 masks (after the index shapes are
/// checked); a uint8 mask with a full-size value still works as a bool mask.
fn reject_byte_mask_fill(x: &Tensor, items: &[IndexItem], value: &Tensor) -> Result<()> {
    let masks: Vec<&Tensor> = items
        .iter()
        .filter_map(|i| match i {
            IndexItem::Tensor(t) => Some(t),
            _ => None,
        })
        .collect();
    let byte = masks.iter().find(|m| m.dtype() == DType::U8);
    let all_masks = masks
        .iter()
        .all(|m| matches!(m.dtype(), DType::U8 | DType::Bool));
    if let (Some(mask), true, 1) = (byte, all_masks, value.numel()) {
        getitem(&x.detach(), items)?; // PyTorch's IndexError for a mask of the wrong shape comes first
        return Err(Error::Runtime(format!(
            "masked_fill_ only supports boolean masks, but got mask with dtype {}",
            mask.dtype().c_name()
        )));
    }
    Ok(())
}

/// A source with more dims than its destination loses its leading size-1
/// dims, as PyTorch's copy into a slice allows (`y[()] = t[None]`).
fn drop_leading_ones(value: &Tensor, ndim: usize) -> Result<Tensor> {
    let extra = value.ndim().saturating_sub(ndim);
    if extra == 0 || value.shape()[..extra].iter().any(|&s| s != 1) {
        return Ok(value.clone());
    }
    super::shape::reshape_to(value, &value.shape()[extra..])
}

/// The new value of `x` after `x[items] = value` (out of place, differentiable
/// in both; the caller writes it into `x`).
pub fn setitem_result(x: &Tensor, items: &[IndexItem], value: &Tensor) -> Result<Tensor> {
    // A 0-d float tensor through a mask is a Scalar to PyTorch (masked_fill_),
    // checked as one; basic indexing copies it with a plain cast.
    let advanced = items.iter().any(|i| matches!(i, IndexItem::Tensor(_)));
    let value_checked =
        advanced && value.ndim() == 0 && value.dtype().is_float() && !x.dtype().is_float();
    let leading_ones = value.shape().first() == Some(&1);
    if value_checked || leading_ones {
        // The indices are checked before the value, as in PyTorch; a value
        // with more dims than the indexing result loses its leading 1s.
        let target = getitem(&x.detach(), items)?;
        if value_checked && target.numel() > 0 {
            creation::check_fits_scalar(value.item_f64()?, true, x.dtype())?;
        }
        return setitem_result_checked(x, items, &drop_leading_ones(value, target.ndim())?);
    }
    setitem_result_checked(x, items, value)
}

fn setitem_result_checked(x: &Tensor, items: &[IndexItem], value: &Tensor) -> Result<Tensor> {
    let value = if value.dtype() != x.dtype() {
        super::unary::to_dtype(value, x.dtype())?
    } else {
        value.clone()
    };
    let (_, adv) = apply_basic(&x.detach(), items)?;
    if adv.is_empty() {
        let items2: Arc<Vec<IndexItem>> = Arc::new(items.to_vec());
        let view_fn: super::shape::ViewFn = Arc::new(move |t: &Tensor| getitem(t, &items2));
        let target_shape = getitem(&x.detach(), items)?.shape_vec();
        let value = drop_leading_ones(&value, target_shape.len())?;
        let v = super::shape::expand_to(&value, &target_shape)?;
        let full = super::shape::embed(&v, x.shape(), x.dtype(), view_fn.clone())?;
        let mask = creation::zeros(x.shape(), DType::Bool);
        crate::tensor::access::fill_(&view_fn(&mask)?, 1.0);
        return super::binary::where_(&mask, &full, x);
    }
    // Advanced: permute so the indexed dims lead, put, and permute back.
    let (v, adv) = apply_basic(x, items)?;
    let is_view_of_x = v.shape() != x.shape() || !v.same_tensor(x);
    if is_view_of_x
        && items.iter().any(|i| {
            !matches!(
                i,
                IndexItem::Tensor(_) | IndexItem::Ellipsis | IndexItem::Slice(None, None, 1)
            )
        })
    {
        return put_through_positions(x, items, &value);
    }
    let (perm, adjacent, first) = advanced_plan(v.ndim(), &adv);
    let vp = permute(&v, &perm)?;
    let idx: Vec<Tensor> = adv.into_iter().map(|(_, t)| t).collect();
    // values are given in the result layout of getitem; bring them to the
    // leading-dims layout used by index_put
    let value_lead = if adjacent && first > 0 {
        let res = getitem(&x.detach(), items)?;
        let nb = res.ndim() - (vp.ndim() - idx.len());
        let vfull = super::shape::expand_to(&value, res.shape())?;
        let mut order: Vec<i64> = (first..first + nb).map(|d| d as i64).collect();
        order.extend((0..first).map(|d| d as i64));
        order.extend((first + nb..res.ndim()).map(|d| d as i64));
        permute(&vfull, &order)?
    } else {
        value
    };
    let put = index_put(&vp, &idx, &value_lead, false)?;
    let mut inv = vec![0i64; perm.len()];
    for (i, &p) in perm.iter().enumerate() {
        inv[p as usize] = i as i64;
    }
    permute(&put, &inv)
}

/// `x[items] = value` for any mix of basic and advanced indices: the flat
/// positions `items` selects are those of an arange with `x`'s shape, so the
/// assignment is a put into flattened `x` at those positions (value
/// broadcast to what `x[items]` would return). Out of place and
/// differentiable in both, like the other paths.
fn put_through_positions(x: &Tensor, items: &[IndexItem], value: &Tensor) -> Result<Tensor> {
    use super::shape::{expand_to, reshape_to};
    let n = x.numel();
    let all = reshape_to(
        &creation::arange(0.0, n as f64, 1.0, DType::I64)?,
        x.shape(),
    )?;
    let positions = getitem(&all, items)?;
    let k = positions.numel();
    let expanded = expand_to(value, positions.shape())?;
    // PyTorch writes in TensorIterator's order over the result, which the
    // value's strides decide (a repeated position keeps the last write)
    let order = super::iter_order::iteration_order(
        positions.shape(),
        &[
            expanded.strides().to_vec(),
            crate::tensor::layout::contiguous_strides(positions.shape()).to_vec(),
        ],
    );
    let visit = super::iter_order::visit_positions(positions.shape(), &order);
    let mut values = reshape_to(&expanded, &[k])?;
    let mut positions = reshape_to(&positions, &[k])?;
    if visit.iter().enumerate().any(|(i, &p)| i != p) {
        let perm = Tensor::from_vec(visit.iter().map(|&p| p as i64).collect::<Vec<i64>>(), &[k]);
        values = index_leading(&values, std::slice::from_ref(&perm))?;
        positions = index_leading(&positions, &[perm])?;
    }
    let flat = reshape_to(x, &[n])?;
    let put = index_put(&flat, &[positions], &values, false)?;
    reshape_to(&put, x.shape())
}

/// Rows `lin` of a device tensor seen as (rows, inner), shaped `shape`; the
/// backward scatter-adds the gradient rows back (repeated rows accumulate).
fn index_rows_device(x: &Tensor, lin: &[usize], inner: usize, shape: &[usize]) -> Result<Tensor> {
    use super::shape::{expand_to, reshape_to};
    let rows = x.numel() / inner.max(1);
    let lin: Vec<i64> = lin.iter().map(|&r| r as i64).collect();
    let n = lin.len();
    let index = crate::ops::device::copy_raw(&Tensor::from_vec(lin, &[n, 1]), x.device())?;
    let index = expand_to(&index, &[n, inner])?;
    let x2 = reshape_to(&x.detach(), &[rows, inner])?;
    let out = reshape_to(&crate::gpu::index::gather(&x2, 0, &index)?, shape)?;
    let xshape = x.shape_vec();
    record("IndexBackward0", &[x], &[&out], move |g| {
        let Some(g) = &g[0] else {
            return Ok(vec![None]);
        };
        let z = creation::zeros_on(&[rows, inner], g.dtype(), g.device())?;
        let g2 = reshape_to(g, &[n, inner])?;
        let gx = super::index::scatter_add(&z, 0, &index, &g2)?;
        Ok(vec![Some(reshape_to(&gx, &xshape)?)])
    });
    Ok(out)
}
