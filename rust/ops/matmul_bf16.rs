//! bfloat16 products on the bf16 GEMM (`cpu::bgemm`): bf16 operands,
//! float32 accumulation, one rounding of the result — PyTorch's CPU bf16
//! matmul does the same. `bmm_core` narrows `batched`'s float32 result;
//! `linear` adds its bias to the float32 products before the one rounding
//! (`products_f32`), as PyTorch's addmm does.

use super::matmul::product_grads;
use crate::autograd::{record, SavedTensor};
use crate::cpu::gemm::{threads_for, PARALLEL_MACS};
use crate::error::Result;
use crate::parallel;
use crate::tensor::layout::StridedRuns;
use crate::tensor::{DType, Tensor};
use half::bf16;

/// Where each product of a batch starts in `a`'s and `b`'s storages.
fn batch_offsets(a: &Tensor, b: &Tensor, batch: &[usize]) -> Vec<(usize, usize)> {
    let nb: usize = batch.iter().product();
    let mut offs = Vec::with_capacity(nb);
    let nd = a.ndim();
    let (sa, sb) = (a.strides(), b.strides());
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
    offs
}

/// Runs `one(c, offsets, threads)` for each m x n product of a batch into
/// its block of `out`: many small products one per task, others one after
/// another on the threads they are worth.
fn for_each_product<E: Send>(
    out: &mut [E],
    offs: &[(usize, usize)],
    (m, k, n): (usize, usize, usize),
    one: impl Fn(&mut [E], (usize, usize), usize) + Sync,
) {
    let nb = offs.len();
    if nb > 1
        && m * n * k < PARALLEL_MACS
        && parallel::num_threads() > 1
        && nb * m * n * k >= 1 << 16
    {
        parallel::for_each_chunk_mut(out, m * n, |i, c| one(c, offs[i], 1));
    } else {
        let threads = threads_for(m, n, k);
        for (c, &o) in out.chunks_mut((m * n).max(1)).zip(offs.iter()) {
            one(c, o, threads);
        }
    }
}

/// `a @ b` as float32 for bf16 a: (*batch, m, k), b: (*batch, k, n) (strided
/// views with the same batch dims); no autograd.
pub(super) fn batched(
    a: &Tensor,
    b: &Tensor,
    batch: &[usize],
    m: usize,
    k: usize,
    n: usize,
) -> Tensor {
    let nb: usize = batch.iter().product();
    // every element is written by the GEMM (k > 0 or k == 0)
    let mut out = crate::tensor::pool::uninit_vec::<f32>(nb * m * n);
    let (pa, pb) = (a.storage_slice::<bf16>(), b.storage_slice::<bf16>());
    let nd = a.ndim();
    let (sa, sb) = (a.strides(), b.strides());
    let offs = batch_offsets(a, b, batch);
    if k == 0 {
        out.fill(0.0);
    } else {
        for_each_product(&mut out, &offs, (m, k, n), |c, (oa, ob), threads| {
            // SAFETY: the views stay inside the storages (shapes were checked
            // by the callers) and C is this product's own contiguous block.
            unsafe {
                crate::cpu::bgemm::bgemm(
                    m,
                    n,
                    k,
                    (pa.as_ptr().add(oa), sa[nd - 2], sa[nd - 1]),
                    (pb.as_ptr().add(ob), sb[nd - 2], sb[nd - 1]),
                    (c.as_mut_ptr(), n as isize, 1),
                    false,
                    threads,
                )
            }
        });
    }
    let mut shape = batch.to_vec();
    shape.extend([m, n]);
    Tensor::from_vec(out, &shape)
}

/// `batched` rounded once to bf16 (matmul's result): on the `vdpbf16ps`
/// path the kernel rounds as it stores, without a float32 result to write
/// and read back; elsewhere `batched` narrowed.
pub(super) fn batched_rounded(
    a: &Tensor,
    b: &Tensor,
    batch: &[usize],
    m: usize,
    k: usize,
    n: usize,
) -> Tensor {
    if k == 0 || crate::cpu::bgemm::path() != crate::cpu::bgemm::Path::Avx512Bf16 {
        return crate::tensor::half::narrow(batched(a, b, batch, m, k, n), DType::BF16);
    }
    let nb: usize = batch.iter().product();
    // every element is written by the GEMM (k > 0)
    let mut out = crate::tensor::pool::uninit_vec::<bf16>(nb * m * n);
    let (pa, pb) = (a.storage_slice::<bf16>(), b.storage_slice::<bf16>());
    let nd = a.ndim();
    let (sa, sb) = (a.strides(), b.strides());
    let offs = batch_offsets(a, b, batch);
    for_each_product(&mut out, &offs, (m, k, n), |c, (oa, ob), threads| {
        // SAFETY: as in `batched`; `c` is this product's own m x n block.
        unsafe {
            crate::cpu::bgemm::bgemm_rounded(
                m,
                n,
                k,
                (pa.as_ptr().add(oa), sa[nd - 2], sa[nd - 1]),
                (pb.as_ptr().add(ob), sb[nd - 2], sb[nd - 1]),
                c.as_mut_ptr(),
                threads,
            )
        }
    });
    let mut shape = batch.to_vec();
    shape.extend([m, n]);
    Tensor::from_vec(out, &shape)
}

/// The product `a @ b` of two bf16 matrices (2-D, or 3-D with equal
/// batch) as float32, not rounded to bf16 (Linear, addmm and baddbmm add
/// their input first). Its gradient arrives as float32 and is
/// rounded to bf16 for the backward products, as PyTorch's bf16 addmm
/// backward computes in bf16.
pub(super) fn products_f32(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let nd = a.ndim();
    let (m, k, n) = (a.shape()[nd - 2], a.shape()[nd - 1], b.shape()[nd - 1]);
    let out = batched(a, b, &a.shape()[..nd - 2], m, k, n);
    let (sa, sb) = (SavedTensor::new(a), SavedTensor::new(b));
    let need = (a.requires_grad(), b.requires_grad());
    let column_major = (
        super::matmul::is_column_major(a),
        super::matmul::is_column_major(b),
    );
    record("MmBackward0", &[a, b], &[&out], move |g| {
        let Some(g) = &g[0] else {
            return Ok(vec![None, None]);
        };
        let g = super::unary::to_dtype(g, DType::BF16)?;
        let (ga, gb) = product_grads(&g, sa.get()?, sb.get()?, need, column_major)?;
        Ok(vec![ga, gb])
    });
    Ok(out)
}
