//! `scaled_dot_product_attention` as one fused op (kernel: `cpu::attention`):
//! the forward keeps only the output and the row logsumexp; the backward
//! recomputes the score tiles from them. Dropout and masks that need a
//! gradient take the composite path in Python, as PyTorch's math backend.

use crate::autograd::{record, SavedTensor};
use crate::cpu::attention::{self as kernel, Dest, Dims, Mask, Operand};
use crate::error::{Error, Result};
use crate::tensor::layout::broadcast_shapes;
use crate::tensor::{DType, Tensor};

fn check_inputs(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    mask: Option<&Tensor>,
    causal: bool,
) -> Result<()> {
    if mask.is_some() && causal {
        return Err(Error::Runtime(
            "_scaled_dot_product_attention: Explicit attn_mask should not be set when is_causal=True".into(),
        ));
    }
    if q.dtype() == k.dtype() && q.dtype() == v.dtype() && !q.dtype().is_float() {
        return Err(Error::Runtime(format!(
            "expected scalar type Float but found {}",
            q.dtype().scalar_name()
        )));
    }
    if q.dtype() != k.dtype() || q.dtype() != v.dtype() {
        return Err(Error::Runtime(format!(
            "Expected query, key, and value to have the same dtype, but got query.dtype: {} key.dtype: {} and value.dtype: {} instead.",
            DType::c_name(q.dtype()),
            DType::c_name(k.dtype()),
            DType::c_name(v.dtype())
        )));
    }
    if q.ndim() < 2 || k.ndim() < 2 || v.ndim() < 2 {
        return Err(Error::Runtime(format!(
            "Expected query, key, and value to all be  at least 2 dimensional, but got query.dim: {} key.dim: {} and value.dim: {} instead.",
            q.ndim(),
            k.ndim(),
            v.ndim()
        )));
    }
    if let Some(m) = mask {
        // bool, float32 ("float") or the query's own dtype
        if m.dtype() != DType::Bool && m.dtype() != DType::F32 && m.dtype() != q.dtype() {
            return Err(Error::Runtime(format!(
                "Expected attn_mask dtype to be bool or float or to match query dtype, but got attn_mask.dtype: {} and  query.dtype: {} instead.",
                DType::c_name(m.dtype()),
                DType::c_name(q.dtype())
            )));
        }
    }
    Ok(())
}

/// `x` (batch..., a, b) expanded to `batch` and flattened to (N, a, b),
/// contiguous; recorded, so broadcast inputs get their gradients summed.
fn flatten_batch(x: &Tensor, batch: &[usize]) -> Result<Tensor> {
    let nd = x.ndim();
    let (a, b) = (x.shape()[nd - 2], x.shape()[nd - 1]);
    let mut full: Vec<i64> = batch.iter().map(|&s| s as i64).collect();
    full.extend([a as i64, b as i64]);
    let x = if x.shape() == &full.iter().map(|&s| s as usize).collect::<Vec<_>>()[..] {
        x.clone()
    } else {
        crate::ops::shape::expand(x, &full)?
    };
    let n: usize = batch.iter().product();
    let x = crate::ops::shape::contiguous(&x)?;
    crate::ops::shape::reshape(&x, &[n as i64, a as i64, b as i64])
}

/// `x` (batch..., a, b) as the kernel reads it: `x` itself when it already
/// has the full batch shape and unit column stride (the heads of a
/// projection, read in place), else `flatten_batch`'s dense (N, a, b) copy.
fn operand_tensor(x: &Tensor, batch: &[usize]) -> Result<Tensor> {
    let nd = x.ndim();
    let st = &x.layout().strides;
    let in_place = x.shape()[..nd - 2] == batch[..]
        && (st[nd - 1] == 1 || x.shape()[nd - 1] <= 1)
        && st.iter().all(|&s| s >= 0);
    if in_place {
        Ok(x.clone())
    } else {
        flatten_batch(x, batch)
    }
}

/// The kernel's view of `x` (from `operand_tensor`, or a gradient of the
/// output's shape): each batch entry's offset in the storage, the row stride.
fn operand<'a, T: crate::tensor::dtype::Float>(
    x: &'a Tensor,
    rows: usize,
    cols: usize,
) -> Result<Operand<'a, T>> {
    let internal = || Error::Runtime("internal: attention operand layout".into());
    let data = <T as crate::tensor::storage::BufferElem>::slice(x.storage().buffer())
        .ok_or_else(internal)?;
    let nd = x.ndim();
    let shape = x.shape();
    let st = &x.layout().strides;
    let nb = nd - 2;
    let n: usize = shape[..nb].iter().product();
    let offsets = (0..n)
        .map(|mut idx| {
            let mut off = x.offset();
            for d in (0..nb).rev() {
                off += (idx % shape[d]) * st[d] as usize;
                idx /= shape[d];
            }
            off
        })
        .collect();
    let op = Operand {
        data,
        offsets,
        rs: st[nd - 2] as usize,
    };
    if st[nd - 1] != 1 && cols > 1 || !op.fits(rows, cols) {
        return Err(internal());
    }
    Ok(op)
}

/// The mask in the compute dtype (additive, -inf where a bool mask is
/// false), contiguous in its own shape, with the strides that broadcast it
/// over (batch..., l, s).
fn additive_mask<T: crate::tensor::dtype::Float>(
    m: &Tensor,
    batch: &[usize],
    l: usize,
    s: usize,
) -> Result<(Vec<T>, Vec<usize>, usize, usize)> {
    let mut target: Vec<usize> = batch.to_vec();
    target.extend([l, s]);
    let ms = m.shape().to_vec();
    // PyTorch adds the mask to the (batch..., l, s) scores: same message.
    let joined = broadcast_shapes(&target, &ms)?;
    if joined[..] != target[..] {
        return Err(Error::Runtime(format!(
            "attn_mask of shape {:?} does not broadcast to the attention scores of shape {:?}",
            ms, target
        )));
    }
    let data: Vec<T> = if m.dtype() == DType::Bool {
        let b = m.contiguous_raw();
        b.as_slice::<bool>()
            .ok_or_else(|| Error::Runtime("internal: bool mask storage".into()))?
            .iter()
            .map(|&keep| T::c(if keep { 0.0 } else { f64::NEG_INFINITY }))
            .collect()
    } else {
        m.cast_raw(T::DTYPE).contiguous_raw().to_vec::<T>()
    };
    // contiguous strides of the mask, aligned right against the target
    let mut strides = vec![0usize; target.len()];
    let mut acc = 1usize;
    for i in (0..ms.len()).rev() {
        let t = target.len() - ms.len() + i;
        strides[t] = if ms[i] == 1 { 0 } else { acc };
        acc *= ms[i];
    }
    let nb = batch.len();
    let n: usize = batch.iter().product();
    let offsets = (0..n)
        .map(|mut idx| {
            let mut off = 0;
            for d in (0..nb).rev() {
                off += (idx % batch[d]) * strides[d];
                idx /= batch[d];
            }
            off
        })
        .collect();
    Ok((data, offsets, strides[nb], strides[nb + 1]))
}

/// Fused attention of `q` (..., L, E), `k` (..., S, E), `v` (..., S, Ev)
/// with an optional bool/float mask broadcast to (..., L, S).
pub fn scaled_dot_product_attention(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    mask: Option<&Tensor>,
    causal: bool,
    scale: Option<f64>,
) -> Result<Tensor> {
    check_inputs(q, k, v, mask, causal)?;
    if q.is_gpu() || k.is_gpu() || v.is_gpu() {
        return Err(Error::NotImplemented(
            "scaled_dot_product_attention is not supported on wgpu; move the tensors to the CPU with .cpu() first".into(),
        ));
    }
    let (qn, kn, vn) = (q.ndim(), k.ndim(), v.ndim());
    let (l, e) = (q.shape()[qn - 2], q.shape()[qn - 1]);
    let (s, ek) = (k.shape()[kn - 2], k.shape()[kn - 1]);
    let (sv, ev) = (v.shape()[vn - 2], v.shape()[vn - 1]);
    let batch = broadcast_shapes(&q.shape()[..qn - 2], &k.shape()[..kn - 2])?;
    let batch = broadcast_shapes(&batch, &v.shape()[..vn - 2])?.to_vec();
    let n: usize = batch.iter().product();
    if ek != e {
        return Err(Error::Runtime(format!(
            "Expected size for first two dimensions of batch2 tensor to be: [{n}, {e}] but got: [{n}, {ek}]."
        )));
    }
    if sv != s {
        return Err(Error::Runtime(format!(
            "Expected size for first two dimensions of batch2 tensor to be: [{n}, {s}] but got: [{n}, {sv}]."
        )));
    }
    let scale = scale.unwrap_or(1.0 / (e as f64).sqrt());
    let (q3, k3, v3) = (
        operand_tensor(q, &batch)?,
        operand_tensor(k, &batch)?,
        operand_tensor(v, &batch)?,
    );
    let d = Dims { n, l, s, e, ev };
    let mut out_shape = batch.clone();
    out_shape.extend([l, ev]);
    let mask = mask.cloned();
    let (out, lse) = crate::dispatch_float!(q.dtype(), "scaled_dot_product_attention", T => {
        let mk = match &mask {
            Some(m) => {
                let (data, offsets, row_stride, col_stride) = additive_mask::<T>(m, &batch, l, s)?;
                Some((data, offsets, row_stride, col_stride))
            }
            None => None,
        };
        let mref = mk.as_ref().map(|(data, offsets, rs, cs)| Mask {
            data,
            offsets: offsets.clone(),
            row_stride: *rs,
            col_stride: *cs,
        });
        let mut out = crate::tensor::pool::uninit_vec::<T>(n * l * ev);
        let mut lse = crate::tensor::pool::uninit_vec::<T>(n * l);
        kernel::forward(
            &operand::<T>(&q3, l, e)?,
            &operand::<T>(&k3, s, e)?,
            &operand::<T>(&v3, s, ev)?,
            d,
            scale,
            mref.as_ref(),
            causal,
            &Dest::dense(&mut out, n, l, ev),
            &mut lse,
        );
        (Tensor::from_vec(out, &out_shape), Tensor::from_vec(lse, &[n, l]))
    });
    let saved = (
        SavedTensor::new(&q3),
        SavedTensor::new(&k3),
        SavedTensor::new(&v3),
        SavedTensor::output(&out),
    );
    let dtype = q.dtype();
    record(
        "ScaledDotProductFlashAttentionForCpuBackward0",
        &[&q3, &k3, &v3],
        &[&out],
        move |g| {
            let Some(g) = &g[0] else {
                return Ok(vec![None, None, None]);
            };
            let (q3, k3, v3, o) = (
                saved.0.get()?,
                saved.1.get()?,
                saved.2.get()?,
                saved.3.get()?,
            );
            if crate::autograd::is_grad_enabled() {
                // create_graph: the same gradients from differentiable ops,
                // so they can be differentiated again
                let add = dtype_additive(dtype, mask.as_ref(), &batch, l, s, causal)?;
                let flat = |t: &Tensor, a: usize, b: usize| {
                    crate::ops::shape::reshape(t, &[n as i64, a as i64, b as i64])
                };
                let grads = composite_backward(
                    &flat(q3, l, e)?,
                    &flat(k3, s, e)?,
                    &flat(v3, s, ev)?,
                    &flat(g, l, ev)?,
                    add.as_ref(),
                    &lse,
                    scale,
                )?;
                return grads
                    .iter()
                    .zip([q3, k3, v3])
                    .map(|(gr, x)| {
                        let shape: Vec<i64> = x.shape().iter().map(|&d| d as i64).collect();
                        crate::ops::shape::reshape(gr, &shape).map(Some)
                    })
                    .collect();
            }
            // the output gradient is read in place when its rows are
            // unit-stride (the transposed head merge's gradient is)
            let go = if g.ndim() >= 2 && g.shape() == &out_shape[..] {
                operand_tensor(g, &batch)?
            } else {
                crate::ops::shape::reshape(
                    &g.contiguous_raw(),
                    &out_shape.iter().map(|&d| d as i64).collect::<Vec<_>>(),
                )?
            };
            let (gq, gk, gv) = crate::dispatch_float!(dtype, "scaled_dot_product_attention_backward", T => {
                let mk = match &mask {
                    Some(m) => Some(additive_mask::<T>(m, &batch, l, s)?),
                    None => None,
                };
                let mref = mk.as_ref().map(|(data, offsets, rs, cs)| Mask {
                    data,
                    offsets: offsets.clone(),
                    row_stride: *rs,
                    col_stride: *cs,
                });
                let mut gq = crate::tensor::pool::uninit_vec::<T>(n * l * e);
                let mut gk = crate::tensor::pool::uninit_vec::<T>(n * s * e);
                let mut gv = crate::tensor::pool::uninit_vec::<T>(n * s * ev);
                let oc = o.contiguous_raw();
                let internal = || Error::Runtime("internal: attention backward layout".into());
                kernel::backward(
                    &operand::<T>(q3, l, e)?,
                    &operand::<T>(k3, s, e)?,
                    &operand::<T>(v3, s, ev)?,
                    &Operand::dense(oc.as_slice::<T>().ok_or_else(internal)?, n, l, ev),
                    lse.as_slice::<T>().ok_or_else(internal)?,
                    &operand::<T>(&go, l, ev)?,
                    d,
                    scale,
                    mref.as_ref(),
                    causal,
                    (
                        &Dest::dense(&mut gq, n, l, e),
                        &Dest::dense(&mut gk, n, s, e),
                        &Dest::dense(&mut gv, n, s, ev),
                    ),
                );
                (
                    Tensor::from_vec(gq, q3.shape()),
                    Tensor::from_vec(gk, k3.shape()),
                    Tensor::from_vec(gv, v3.shape()),
                )
            });
            Ok(vec![Some(gq), Some(gk), Some(gv)])
        },
    );
    Ok(out)
}

/// Self-attention on a packed projection `proj`, (B, T, 3E) when
/// `batch_first`, else (T, B, 3E): q, k and v are its three column blocks,
/// each cut into `heads` heads, read in place. The output has `proj`'s rows,
/// (B, T, E) or (T, B, E), each row the heads side by side: the values of
/// `scaled_dot_product_attention` on the (B, H, T, D) views of the blocks,
/// transposed back and merged. The kernel writes the output rows and the
/// gradient's q, k, v blocks straight into their places, so neither the
/// head merge nor the gradient assembly is a copy of its own.
pub fn packed_self_attention(
    proj: &Tensor,
    heads: usize,
    batch_first: bool,
    causal: bool,
) -> Result<Tensor> {
    let shape = proj.shape().to_vec();
    if proj.ndim() != 3 || heads == 0 || !shape[2].is_multiple_of(3 * heads) {
        return Err(Error::Runtime(format!(
            "packed self-attention expects a (B, T, 3E) projection with E divisible by {heads} heads, got {shape:?}"
        )));
    }
    if proj.is_gpu() || proj.is_meta() {
        return Err(Error::NotImplemented(
            "packed self-attention runs on the CPU only".into(),
        ));
    }
    let dtype = proj.dtype();
    if !matches!(dtype, DType::F32 | DType::F64) {
        return Err(Error::Runtime(format!(
            "expected scalar type Float but found {}",
            dtype.scalar_name()
        )));
    }
    let p = if proj.is_contiguous() {
        proj.clone()
    } else {
        crate::ops::shape::contiguous(proj)?
    };
    let layout = PackedLayout::new(&shape, heads, batch_first);
    let (n, t, hd, e) = (layout.n, layout.t, layout.hd, layout.e);
    let d = Dims {
        n,
        l: t,
        s: t,
        e: hd,
        ev: hd,
    };
    let scale = 1.0 / (hd as f64).sqrt();
    let out_shape = [shape[0], shape[1], e];
    let (out, lse) = crate::dispatch_float!(dtype, "scaled_dot_product_attention", T => {
        let internal = || Error::Runtime("internal: packed attention layout".into());
        let data = <T as crate::tensor::storage::BufferElem>::slice(p.storage().buffer()).ok_or_else(internal)?;
        let block = |i: usize| layout.operand(data, p.offset(), i);
        let (q, k, v) = (block(0), block(1), block(2));
        if ![&q, &k, &v].iter().all(|o| o.fits(t, hd)) {
            return Err(internal());
        }
        let mut out = crate::tensor::pool::uninit_vec::<T>(layout.rows * e);
        let mut lse = crate::tensor::pool::uninit_vec::<T>(n * t);
        // SAFETY: `out` is this call's own buffer, written only through `dest`.
        let dest = unsafe {
            Dest::strided(out.as_mut_ptr(), out.len(), layout.offsets(0, e), layout.row_stride(e), (t, hd))
        }
        .ok_or_else(internal)?;
        kernel::forward(&q, &k, &v, d, scale, None, causal, &dest, &mut lse);
        (Tensor::from_vec(out, &out_shape), Tensor::from_vec(lse, &[n, t]))
    });
    let saved = (SavedTensor::new(&p), SavedTensor::output(&out));
    record(
        "ScaledDotProductFlashAttentionForCpuBackward0",
        &[&p],
        &[&out],
        move |g| {
            let Some(g) = &g[0] else {
                return Ok(vec![None]);
            };
            let (p, o) = (saved.0.get()?, saved.1.get()?);
            if crate::autograd::is_grad_enabled() {
                // create_graph: differentiable ops on the head views
                return Ok(vec![Some(
                    layout.composite_gradient(p, g, &lse, causal, scale)?,
                )]);
            }
            let gc = g.contiguous_raw();
            let oc = o.contiguous_raw();
            let gp = crate::dispatch_float!(dtype, "scaled_dot_product_attention_backward", T => {
                let internal = || Error::Runtime("internal: packed attention backward layout".into());
                let data = tensor_slice::<T>(p)?;
                let block = |i: usize| layout.operand(data, p.offset(), i);
                let (go, out_rows) = (layout.rows_operand::<T>(&gc)?, layout.rows_operand::<T>(&oc)?);
                let mut gp = crate::tensor::pool::uninit_vec::<T>(layout.rows * 3 * e);
                let (ptr, len) = (gp.as_mut_ptr(), gp.len());
                // SAFETY: `gp` is this call's own buffer; the three blocks'
                // entries are disjoint column ranges of it.
                let dest = |i: usize| unsafe {
                    Dest::strided(ptr, len, layout.offsets(i, 3 * e), layout.row_stride(3 * e), (t, hd))
                        .ok_or_else(internal)
                };
                let (dq, dk, dv) = (dest(0)?, dest(1)?, dest(2)?);
                kernel::backward(
                    &block(0),
                    &block(1),
                    &block(2),
                    &out_rows,
                    lse.as_slice::<T>().ok_or_else(internal)?,
                    &go,
                    d,
                    scale,
                    None,
                    causal,
                    (&dq, &dk, &dv),
                );
                Tensor::from_vec(gp, p.shape())
            });
            Ok(vec![Some(gp)])
        },
    );
    Ok(out)
}

/// The elements of `x`'s storage (all of them: offsets index into it).
fn tensor_slice<T: crate::tensor::storage::BufferElem>(x: &Tensor) -> Result<&[T]> {
    T::slice(x.storage().buffer())
        .ok_or_else(|| Error::Runtime("internal: attention storage dtype".into()))
}

/// Where the heads of a packed projection lie: rows `rows` of (B, T, width)
/// or (T, B, width); batch entry `b * heads + h` is batch `b`'s head `h`.
#[derive(Clone, Copy)]
struct PackedLayout {
    batch_first: bool,
    bsz: usize,
    t: usize,
    heads: usize,
    /// head dim, embedding dim, batch entries, rows
    hd: usize,
    e: usize,
    n: usize,
    rows: usize,
}

impl PackedLayout {
    fn new(shape: &[usize], heads: usize, batch_first: bool) -> Self {
        let (bsz, t) = if batch_first {
            (shape[0], shape[1])
        } else {
            (shape[1], shape[0])
        };
        let e = shape[2] / 3;
        PackedLayout {
            batch_first,
            bsz,
            t,
            heads,
            hd: e / heads,
            e,
            n: bsz * heads,
            rows: bsz * t,
        }
    }

    /// Elements between consecutive positions of one sequence, in rows of `width`.
    fn row_stride(&self, width: usize) -> usize {
        if self.batch_first {
            width
        } else {
            self.bsz * width
        }
    }

    /// Each entry's first element in rows of `width`, in column block `block`
    /// (of `e` columns).
    fn offsets(&self, block: usize, width: usize) -> Vec<usize> {
        (0..self.n)
            .map(|i| {
                let (b, h) = (i / self.heads, i % self.heads);
                let first_row = if self.batch_first { b * self.t } else { b };
                first_row * width + block * self.e + h * self.hd
            })
            .collect()
    }

    /// Column block `block` (q, k, v) of a packed (rows, 3E) tensor's data.
    fn operand<'a, T>(&self, data: &'a [T], offset: usize, block: usize) -> Operand<'a, T> {
        Operand {
            data,
            offsets: self
                .offsets(block, 3 * self.e)
                .iter()
                .map(|o| o + offset)
                .collect(),
            rs: self.row_stride(3 * self.e),
        }
    }

    /// A contiguous (d0, d1, E) tensor's heads as kernel operands.
    fn rows_operand<'a, T: crate::tensor::storage::BufferElem>(
        &self,
        x: &'a Tensor,
    ) -> Result<Operand<'a, T>> {
        let op = Operand {
            data: tensor_slice::<T>(x)?,
            offsets: self
                .offsets(0, self.e)
                .iter()
                .map(|o| o + x.offset())
                .collect(),
            rs: self.row_stride(self.e),
        };
        if op.fits(self.t, self.hd) {
            Ok(op)
        } else {
            Err(Error::Runtime("internal: packed attention rows".into()))
        }
    }

    /// (d0, d1, E) rows as (B * H, T, D) heads: a differentiable copy.
    fn heads_of(&self, x: &Tensor) -> Result<Tensor> {
        use crate::ops::shape::{permute, reshape};
        let s = x.shape();
        let (d0, d1) = (s[0] as i64, s[1] as i64);
        let split = reshape(x, &[d0, d1, self.heads as i64, self.hd as i64])?;
        let perm: &[i64] = if self.batch_first {
            &[0, 2, 1, 3]
        } else {
            &[1, 2, 0, 3]
        };
        reshape(
            &permute(&split, perm)?,
            &[self.n as i64, self.t as i64, self.hd as i64],
        )
    }

    /// `heads_of`'s inverse: (B * H, T, D) back to (d0, d1, E) rows.
    fn rows_of(&self, x: &Tensor) -> Result<Tensor> {
        use crate::ops::shape::{permute, reshape};
        let (b, h, t, hd) = (
            self.bsz as i64,
            self.heads as i64,
            self.t as i64,
            self.hd as i64,
        );
        let x = reshape(x, &[b, h, t, hd])?;
        let (perm, d0, d1): (&[i64], i64, i64) = if self.batch_first {
            (&[0, 2, 1, 3], b, t)
        } else {
            (&[2, 0, 1, 3], t, b)
        };
        reshape(&permute(&x, perm)?, &[d0, d1, self.e as i64])
    }

    /// The gradient of the packed projection from differentiable ops
    /// (explicit scores: `composite_backward`), for double backward.
    fn composite_gradient(
        &self,
        p: &Tensor,
        g: &Tensor,
        lse: &Tensor,
        causal: bool,
        scale: f64,
    ) -> Result<Tensor> {
        use crate::ops::shape::{cat, narrow};
        let e = self.e as i64;
        let block = |i: i64| narrow(p, 2, i * e, e).and_then(|x| self.heads_of(&x));
        let add = dtype_additive(p.dtype(), None, &[self.n], self.t, self.t, causal)?;
        let grads = composite_backward(
            &block(0)?,
            &block(1)?,
            &block(2)?,
            &self.heads_of(g)?,
            add.as_ref(),
            lse,
            scale,
        )?;
        let rows = grads
            .iter()
            .map(|gr| self.rows_of(gr))
            .collect::<Result<Vec<_>>>()?;
        cat(&rows, 2)
    }
}

/// The mask (and the causal mask) as one additive (n, l, s) tensor in
/// `dtype`, or None when there is neither.
fn dtype_additive(
    dtype: DType,
    mask: Option<&Tensor>,
    batch: &[usize],
    l: usize,
    s: usize,
    causal: bool,
) -> Result<Option<Tensor>> {
    let n: usize = batch.iter().product();
    let (ni, li, si) = (n as i64, l as i64, s as i64);
    if causal {
        let mut v = vec![0.0f64; l * s];
        for i in 0..l {
            for x in &mut v[i * s + (i + 1).min(s)..(i + 1) * s] {
                *x = f64::NEG_INFINITY;
            }
        }
        return Ok(Some(Tensor::from_vec(v, &[l, s]).cast_raw(dtype)));
    }
    let Some(m) = mask else { return Ok(None) };
    let data: Tensor = crate::dispatch_float!(dtype, "scaled_dot_product_attention", T => {
        let (values, _, _, _) = additive_mask::<T>(m, batch, l, s)?;
        Tensor::from_vec(values, m.shape())
    });
    let mut full: Vec<i64> = batch.iter().map(|&b| b as i64).collect();
    full.extend([li, si]);
    let e = crate::ops::shape::expand(&data, &full)?;
    Ok(Some(crate::ops::shape::reshape(&e, &[ni, li, si])?))
}

/// dQ, dK, dV of attention written with differentiable ops (explicit
/// scores and probabilities), for double backward.
fn composite_backward(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    g: &Tensor,
    add: Option<&Tensor>,
    lse: &Tensor,
    scale: f64,
) -> Result<Vec<Tensor>> {
    use crate::ops::binary::{add as plus, eq, mul, sub};
    use crate::ops::matmul::matmul;
    use crate::ops::shape::{reshape, transpose};
    let sc = crate::ops::creation::scalar_like(scale, q);
    let mut scores = mul(&matmul(q, &transpose(k, 1, 2)?)?, &sc)?;
    if let Some(a) = add {
        scores = plus(&scores, a)?;
    }
    let p = crate::ops::softmax::softmax(&scores, -1, false)?;
    // fully masked rows (logsumexp +inf) have zero probabilities
    let inf = crate::ops::creation::scalar_like(f64::INFINITY, lse);
    let dead = eq(lse, &inf)?;
    let (n, l) = (lse.shape()[0] as i64, lse.shape()[1] as i64);
    let dead = reshape(&dead, &[n, l, 1])?;
    let p = crate::ops::index::masked_fill(
        &p,
        &dead,
        &crate::ops::creation::scalar_like(0.0, &p),
        false,
    )?;
    let dv = matmul(&transpose(&p, 1, 2)?, g)?;
    let dp = matmul(g, &transpose(v, 1, 2)?)?;
    let row = crate::ops::reduce::sum(&mul(&dp, &p)?, Some(&[-1]), true)?;
    let ds = mul(&mul(&p, &sub(&dp, &row)?)?, &sc)?;
    let dq = matmul(&ds, k)?;
    let dk = matmul(&transpose(&ds, 1, 2)?, q)?;
    Ok(vec![dq, dk, dv])
}
