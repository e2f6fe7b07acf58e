//! Matrix products: matmul (1-D, 2-D, batched with broadcasting), mm, bmm,
//! dot, mv, outer, linear. Operands are passed to the GEMM with their strides,
//! so transposes (as in every backward) cost no copy.

use super::shape::{expand_to, reshape_to, squeeze, transpose, unsqueeze};
use crate::autograd::{record, SavedTensor};
use crate::cpu::gemm::{threads_for, GemmElem, MatRef, PARALLEL_MACS};
use crate::error::{Error, Result};
use crate::parallel;
use crate::tensor::layout::{broadcast_shapes, StridedRuns};
use crate::tensor::storage::BufferElem;
use crate::tensor::{DType, Tensor};

fn batched_gemm_typed<T: BufferElem + GemmElem>(
    a: &Tensor,
    b: &Tensor,
    batch: &[usize],
    m: usize,
    k: usize,
    n: usize,
) -> Tensor {
    let nb: usize = batch.iter().product();
    // every element is written by the GEMM (k > 0) or zeroed by it (k == 0)
    let mut out = crate::tensor::pool::uninit_vec::<T>(nb * m * n);
    let (pa, pb) = (a.storage_slice::<T>(), b.storage_slice::<T>());
    let nd = a.ndim();
    let (sa, sb) = (a.strides(), b.strides());
    let av = |off: usize| MatRef {
        off,
        rs: sa[nd - 2],
        cs: sa[nd - 1],
    };
    let bv = |off: usize| MatRef {
        off,
        rs: sb[nd - 2],
        cs: sb[nd - 1],
    };
    // batch offsets
    let mut offs = Vec::with_capacity(nb);
    let (ba, bb) = (&sa[..nd - 2], &sb[..nd - 2]);
    let runs = StridedRuns {
        shape: batch,
        strides: &[ba, bb],
        offsets: &[a.offset() as isize, b.offset() as isize],
    };
    let (ia, ib) = (
        ba.last().copied().unwrap_or(0),
        bb.last().copied().unwrap_or(0),
    );
    runs.for_each_run(0, nb, |o, len| {
        for i in 0..len as isize {
            offs.push(((o[0] + i * ia) as usize, (o[1] + i * ib) as usize));
        }
    });
    let cv = MatRef {
        off: 0,
        rs: n as isize,
        cs: 1,
    };
    let small = m * n * k < PARALLEL_MACS;
    if nb > 1 && small && parallel::num_threads() > 1 && nb * m * n * k >= (1 << 16) {
        // Many small products: one per task, each on one thread.
        parallel::for_each_chunk_mut(&mut out, m * n, |i, c| {
            let (oa, ob) = offs[i];
            // SAFETY: views stay inside the storages (shapes were checked).
            unsafe { T::gemm(m, n, k, pa, av(oa), pb, bv(ob), c, cv, false, 1) }
        });
    } else {
        let threads = threads_for(m, n, k);
        for (c, &(oa, ob)) in out.chunks_mut((m * n).max(1)).zip(offs.iter()) {
            // SAFETY: as above.
            unsafe { T::gemm(m, n, k, pa, av(oa), pb, bv(ob), c, cv, false, threads) }
        }
    }
    let mut shape = batch.to_vec();
    shape.extend([m, n]);
    Tensor::from_vec(out, &shape)
}

/// `a @ b + bias`, then relu where `relu`, for 2-D float32 CPU operands and
/// a unit-stride 1-D float32 bias of `b`'s width: the GEMM applies the bias
/// (and relu) as it stores its tiles, so the result is written once. The
/// values are those of the product followed by the two elementwise passes.
/// No graph is recorded. `None` where the kernel does not apply (the caller
/// runs the separate passes).
pub(super) fn mm_bias_fused(a: &Tensor, b: &Tensor, bias: &Tensor, relu: bool) -> Option<Tensor> {
    let all = [a, b, bias];
    if all
        .iter()
        .any(|t| t.dtype() != DType::F32 || t.is_gpu() || t.is_meta())
        || a.ndim() != 2
        || b.ndim() != 2
        || bias.ndim() != 1
        || !crate::cpu::sgemm::is_supported()
    {
        return None;
    }
    let (m, k, n) = (a.shape()[0], a.shape()[1], b.shape()[1]);
    // (k == 0: the GEMM writes nothing; n == 1 takes the matrix-vector path)
    if b.shape()[0] != k || bias.shape()[0] != n || k == 0 || n < 2 || bias.strides()[0] != 1 {
        return None;
    }
    let mut out = crate::tensor::pool::uninit_vec::<f32>(m * n);
    let (pa, pb, pbias) = (
        a.storage_slice::<f32>(),
        b.storage_slice::<f32>(),
        bias.storage_slice::<f32>(),
    );
    let (sa, sb) = (a.strides(), b.strides());
    // SAFETY: sgemm is supported (checked); the views lie inside their
    // storages (shapes and strides come from valid tensors), the bias has n
    // floats from its offset, and `out` is a fresh m x n buffer.
    unsafe {
        crate::cpu::sgemm::sgemm_bias(
            m,
            n,
            k,
            (pa.as_ptr().add(a.offset()), sa[0], sa[1]),
            (pb.as_ptr().add(b.offset()), sb[0], sb[1]),
            (out.as_mut_ptr(), n as isize, 1),
            pbias[bias.offset()..bias.offset() + n].as_ptr(),
            relu,
            threads_for(m, n, k),
        )
    };
    Some(Tensor::from_vec(out, &[m, n]))
}

/// `a @ b` for a: (*batch, m, k), b: (*batch, k, n), same batch dims (strided views).
fn bmm_core(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let nd = a.ndim();
    let (m, k, n) = (a.shape()[nd - 2], a.shape()[nd - 1], b.shape()[nd - 1]);
    let batch = a.shape()[..nd - 2].to_vec();
    let dtype = a.dtype();
    let out = match dtype {
        _ if a.is_meta() || b.is_meta() => {
            let mut shape = batch.clone();
            shape.extend([m, n]);
            Tensor::meta(&shape, dtype)
        }
        _ if a.is_gpu() || b.is_gpu() => {
            crate::gpu::kernels::check_same_device([a, b].into_iter())?;
            crate::gpu::matmul::bmm(a, b, &batch, m, k, n)?
        }
        DType::F32 => batched_gemm_typed::<f32>(a, b, &batch, m, k, n),
        DType::F64 => batched_gemm_typed::<f64>(a, b, &batch, m, k, n),
        DType::I64 => batched_gemm_typed::<i64>(a, b, &batch, m, k, n),
        DType::I32 => batched_gemm_typed::<i32>(a, b, &batch, m, k, n),
        DType::U8 => batched_gemm_typed::<u8>(a, b, &batch, m, k, n),
        DType::I16 => batched_gemm_typed::<i16>(a, b, &batch, m, k, n),
        DType::I8 => batched_gemm_typed::<i8>(a, b, &batch, m, k, n),
        // bf16 GEMM: float32 accumulation, rounded once (`cpu::bgemm`).
        DType::BF16 => super::matmul_bf16::batched_rounded(a, b, &batch, m, k, n),
        // Products accumulated in float32 and rounded once (`tensor::half`).
        DType::F16 => crate::tensor::half::narrow(
            batched_gemm_typed::<f32>(
                &crate::tensor::half::widen(a),
                &crate::tensor::half::widen(b),
                &batch,
                m,
                k,
                n,
            ),
            dtype,
        ),
        // An empty bool product is returned before any kernel is chosen.
        DType::Bool if batch.iter().product::<usize>() * m * n * k == 0 => {
            let mut shape = batch.clone();
            shape.extend([m, n]);
            Tensor::zeros(&shape, DType::Bool)
        }
        DType::Bool => return Err(Error::not_implemented("addmm_impl_cpu_", DType::Bool)),
    };
    if dtype.is_float() {
        let (sa, sb) = (SavedTensor::new(a), SavedTensor::new(b));
        let need = (a.requires_grad(), b.requires_grad());
        let column_major = (is_column_major(a), is_column_major(b));
        record(
            if nd == 2 {
                "MmBackward0"
            } else {
                "BmmBackward0"
            },
            &[a, b],
            &[&out],
            move |g| {
                let Some(g) = &g[0] else {
                    return Ok(vec![None, None]);
                };
                let (ga, gb) = product_grads(g, sa.get()?, sb.get()?, need, column_major)?;
                Ok(vec![ga, gb])
            },
        );
    }
    Ok(out)
}

/// The gradients of `a @ b` (2-D or batched 3-D) for an output gradient `g`,
/// each only where `need` says so. A column-major operand (a transposed
/// weight, as in Linear) gets its gradient computed transposed, so it comes
/// out in the operand's own layout and needs no copy downstream.
pub(super) fn product_grads(
    g: &Tensor,
    a: &Tensor,
    b: &Tensor,
    need: (bool, bool),
    column_major: (bool, bool),
) -> Result<(Option<Tensor>, Option<Tensor>)> {
    let ga = match need.0 {
        false => None,
        true if column_major.0 => Some(transpose(&bmm_core(b, &transpose(g, -2, -1)?)?, -2, -1)?),
        true => Some(bmm_core(g, &transpose(b, -2, -1)?)?),
    };
    let gb = match need.1 {
        false => None,
        true if column_major.1 => Some(transpose(&bmm_core(&transpose(g, -2, -1)?, a)?, -2, -1)?),
        true => Some(bmm_core(&transpose(a, -2, -1)?, g)?),
    };
    Ok((ga, gb))
}

/// Whether the last two dims are stored column-major (the transpose of a
/// contiguous matrix), with more than one row and column.
pub(super) fn is_column_major(t: &Tensor) -> bool {
    let nd = t.ndim();
    let (sh, st) = (t.shape(), t.strides());
    nd >= 2
        && sh[nd - 2] > 1
        && sh[nd - 1] > 1
        && st[nd - 2] == 1
        && st[nd - 1] == sh[nd - 2] as isize
}

fn promote_pair(a: &Tensor, b: &Tensor, _op: &str) -> Result<(Tensor, Tensor)> {
    if a.dtype() != b.dtype() {
        return Err(Error::Runtime(format!(
            "expected m1 and m2 to have the same dtype, but got: {} != {}",
            a.dtype().c_name(),
            b.dtype().c_name()
        )));
    }
    Ok((a.clone(), b.clone()))
}

/// `torch.mm` for 2-D operands.
pub fn mm(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    if let Some(r) = super::autocast::run(super::autocast::Policy::Lower, &[a, b], |t| {
        mm(&t[0], &t[1])
    }) {
        return r;
    }
    if a.ndim() != 2 || b.ndim() != 2 {
        return Err(Error::Runtime(format!(
            "self must be a matrix (mm: got {}-D and {}-D tensors)",
            a.ndim(),
            b.ndim()
        )));
    }
    if a.shape()[1] != b.shape()[0] {
        return Err(Error::Runtime(format!(
            "mat1 and mat2 shapes cannot be multiplied ({}x{} and {}x{})",
            a.shape()[0],
            a.shape()[1],
            b.shape()[0],
            b.shape()[1]
        )));
    }
    let (a, b) = promote_pair(a, b, "mm")?;
    bmm_core(&a, &b)
}

/// `torch.bmm` for 3-D operands with equal batch.
pub fn bmm(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    if let Some(r) = super::autocast::run(super::autocast::Policy::Lower, &[a, b], |t| {
        bmm(&t[0], &t[1])
    }) {
        return r;
    }
    if a.ndim() != 3 || b.ndim() != 3 {
        return Err(Error::Runtime(format!(
            "batch1 must be a 3D tensor (bmm: got {}-D and {}-D)",
            a.ndim(),
            b.ndim()
        )));
    }
    if a.shape()[0] != b.shape()[0] || a.shape()[2] != b.shape()[1] {
        return Err(Error::Runtime(format!(
            "Expected size for first two dimensions of batch2 tensor to be: [{}, {}] but got: [{}, {}].",
            a.shape()[0],
            a.shape()[2],
            b.shape()[0],
            b.shape()[1]
        )));
    }
    if a.dtype() == DType::Bool && b.dtype() != DType::Bool && a.numel() > 0 && b.numel() > 0 {
        // PyTorch's dispatch on self's dtype comes first.
        return Err(Error::not_implemented("bmm", DType::Bool));
    }
    let (a, b) = empty_bmm_operands(a, b)?;
    bmm_core(&a, &b)
}

/// PyTorch's bmm returns before its dtype check when an operand is empty: the
/// result is zeros of the second operand's dtype (`zeros(4,0,2).bmm(zeros(4,2,3,
/// dtype=float64))` is a float64 (4,0,3)). Otherwise the dtypes must agree.
fn empty_bmm_operands(a: &Tensor, b: &Tensor) -> Result<(Tensor, Tensor)> {
    if a.dtype() != b.dtype() && (a.numel() == 0 || b.numel() == 0) {
        if !b.dtype().is_float() && a.requires_grad() && crate::autograd::is_grad_enabled() {
            return Err(Error::Runtime(format!(
                "Autograd not support dtype: {}",
                b.dtype().scalar_name()
            )));
        }
        return Ok((super::unary::to_dtype(a, b.dtype())?, b.clone()));
    }
    promote_pair(a, b, "bmm")
}

pub fn dot(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    if a.ndim() != 1 || b.ndim() != 1 {
        return Err(Error::Runtime(format!(
            "1D tensors expected, but got {}D and {}D tensors",
            a.ndim(),
            b.ndim()
        )));
    }
    if a.shape()[0] != b.shape()[0] {
        return Err(Error::Runtime(format!(
            "inconsistent tensor size, expected tensor [{}] and src [{}] to have the same number of elements, but got {} and {} elements respectively",
            a.shape()[0],
            b.shape()[0],
            a.shape()[0],
            b.shape()[0]
        )));
    }
    let r = mm(&unsqueeze(a, 0)?, &unsqueeze(b, 1)?)?;
    reshape_to(&r, &[])
}

pub fn mv(a: &Tensor, v: &Tensor) -> Result<Tensor> {
    if a.ndim() != 2 || v.ndim() != 1 {
        return Err(Error::Runtime(format!(
            "vector + matrix @ vector expected, got {}, {}",
            a.ndim(),
            v.ndim()
        )));
    }
    if a.shape()[1] != v.shape()[0] {
        return Err(Error::Runtime(format!(
            "size mismatch, got input ({}), mat ({}x{}), vec ({})",
            a.shape()[0],
            a.shape()[0],
            a.shape()[1],
            v.shape()[0]
        )));
    }
    squeeze(&mm(a, &unsqueeze(v, 1)?)?, Some(&[1]))
}

pub fn outer(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    if a.ndim() != 1 || b.ndim() != 1 {
        return Err(Error::Runtime("outer: expected 1-D tensors".into()));
    }
    super::binary::mul(&unsqueeze(a, 1)?, &unsqueeze(b, 0)?)
}

/// `torch.matmul` with NumPy semantics for 1-D operands and batch broadcasting.
pub fn matmul(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    if let Some(r) = super::autocast::run(super::autocast::Policy::Lower, &[a, b], |t| {
        matmul(&t[0], &t[1])
    }) {
        return r;
    }
    let (da, db) = (a.ndim(), b.ndim());
    if da == 0 || db == 0 {
        return Err(Error::Runtime(format!(
            "both arguments to matmul need to be at least 1D, but they are {da}D and {db}D"
        )));
    }
    match (da, db) {
        (1, 1) => return dot(a, b),
        (2, 1) => return mv(a, b),
        (1, 2) => return squeeze(&mm(&unsqueeze(a, 0)?, b)?, Some(&[0])),
        (2, 2) => return mm(a, b),
        _ => {}
    }
    let a2 = if da == 1 { unsqueeze(a, 0)? } else { a.clone() };
    let b2 = if db == 1 { unsqueeze(b, 1)? } else { b.clone() };
    let (m, k) = (a2.shape()[a2.ndim() - 2], a2.shape()[a2.ndim() - 1]);
    let (k2, n) = (b2.shape()[b2.ndim() - 2], b2.shape()[b2.ndim() - 1]);
    if k != k2 {
        return Err(Error::Runtime(format!(
            "Expected size for first two dimensions of batch2 tensor to be: [{k}, {n}] but got: [{k2}, {n}]. (matmul: {:?} @ {:?})",
            a.shape(),
            b.shape()
        )));
    }
    let out = if b2.ndim() == 2 && a2.ndim() >= 3 {
        let (a2, b2) = promote_pair(&a2, &b2, "matmul")?;
        // Fold the batch into M: one big GEMM (the Linear layer's case).
        let lead = a2.shape()[..a2.ndim() - 2].to_vec();
        let flat = reshape_to(&a2, &[lead.iter().product::<usize>() * m, k])?;
        let r = mm(&flat, &b2)?;
        let mut shape = lead;
        shape.extend([m, n]);
        reshape_to(&r, &shape)?
    } else {
        let batch = broadcast_shapes(&a2.shape()[..a2.ndim() - 2], &b2.shape()[..b2.ndim() - 2])?;
        let mut sa = batch.to_vec();
        sa.extend([m, k]);
        let mut sb = batch.to_vec();
        sb.extend([k, n]);
        let (a3, b3) = if da == 1 {
            // PyTorch folds a vector times a batch into one mv: dtypes must agree.
            promote_pair(&expand_to(&a2, &sa)?, &expand_to(&b2, &sb)?, "matmul")?
        } else {
            empty_bmm_operands(&expand_to(&a2, &sa)?, &expand_to(&b2, &sb)?)?
        };
        bmm_core(&a3, &b3)?
    };
    let out = if da == 1 {
        squeeze(&out, Some(&[-2]))?
    } else {
        out
    };
    if db == 1 {
        squeeze(&out, Some(&[-1]))
    } else {
        Ok(out)
    }
}

/// `F.linear(x, weight, bias)` = x @ weight.T + bias.
pub fn linear(x: &Tensor, weight: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
    if super::autocast::active() {
        let mut inputs = vec![x, weight];
        inputs.extend(bias);
        if let Some(r) = super::autocast::run(super::autocast::Policy::Lower, &inputs, |t| {
            linear(&t[0], &t[1], t.get(2))
        }) {
            return r;
        }
    }
    if weight.ndim() != 2 && weight.ndim() != 1 {
        return Err(Error::Runtime(format!(
            "linear: weight must be 1-D or 2-D, got {}-D",
            weight.ndim()
        )));
    }
    let in_f = weight.shape()[weight.ndim() - 1];
    if x.ndim() == 0 || x.shape()[x.ndim() - 1] != in_f {
        let rows: usize = x.shape()[..x.ndim().saturating_sub(1)].iter().product();
        return Err(Error::Runtime(format!(
            "mat1 and mat2 shapes cannot be multiplied ({}x{} and {}x{})",
            rows,
            x.shape().last().copied().unwrap_or(0),
            in_f,
            weight.shape()[0]
        )));
    }
    // Half types: PyTorch's addmm adds the bias to the float32 products and
    // rounds once; so here, between differentiable casts (`tensor::half`).
    let dtype = x.dtype();
    if dtype == DType::BF16
        && weight.dtype() == dtype
        && weight.ndim() == 2
        && bias.is_none_or(|b| b.dtype() == dtype)
        && !(x.is_gpu() || x.is_meta() || weight.is_gpu() || weight.is_meta())
    {
        return linear_bf16(x, weight, bias);
    }
    if dtype.is_half() && weight.dtype() == dtype && bias.is_none_or(|b| b.dtype() == dtype) {
        let mut inputs = vec![x, weight];
        inputs.extend(bias);
        return super::unary::in_f32(&inputs, |t| linear(&t[0], &t[1], t.get(2)));
    }
    let wt = if weight.ndim() == 2 {
        transpose(weight, 0, 1)?
    } else {
        weight.clone()
    };
    let y = matmul(x, &wt)?;
    match bias {
        Some(b) => super::binary::add(&y, b),
        None => Ok(y),
    }
}

/// bf16 Linear: the products on the bf16 GEMM in float32, the bias added
/// there, one rounding to bf16 (PyTorch's addmm on bf16).
fn linear_bf16(x: &Tensor, weight: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
    let (in_f, out_f) = (weight.shape()[1], weight.shape()[0]);
    let lead = x.shape()[..x.ndim() - 1].to_vec();
    let rows = lead.iter().product::<usize>();
    let x2 = reshape_to(x, &[rows, in_f])?;
    let y = super::matmul_bf16::products_f32(&x2, &transpose(weight, 0, 1)?)?;
    let y = match bias {
        Some(b) => super::binary::add(&y, &super::unary::to_dtype(b, DType::F32)?)?,
        None => y,
    };
    let mut shape = lead;
    shape.push(out_f);
    reshape_to(&super::unary::to_dtype(&y, DType::BF16)?, &shape)
}

/// The bf16 product as float32 (not rounded), differentiable (`matmul_bf16`).
pub(super) fn products_f32(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    super::matmul_bf16::products_f32(a, b)
}
