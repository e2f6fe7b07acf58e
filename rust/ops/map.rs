//! Elementwise kernels over strided, broadcast operands.
//!
//! One mechanism serves every elementwise op: operands are viewed with the
//! output's shape (broadcast dims get stride 0), adjacent dims are merged, and
//! the output is filled in contiguous chunks (in parallel when large), each
//! chunk walking its operands in innermost-dimension runs. Contiguous inputs
//! of the output's shape take a direct slice-to-slice path that vectorises.

use crate::cpu::multiversion::with_fma;
use crate::error::Result;
use crate::parallel;
use crate::tensor::layout::{broadcast_strides, coalesce, contiguous_strides, StridedRuns};
use crate::tensor::storage::BufferElem;
use crate::tensor::Tensor;

/// `out[i] = f(x[i])` with `out` of `x`'s shape.
pub fn map1<T: BufferElem, U: BufferElem>(x: &Tensor, f: impl Fn(T) -> U + Sync + Send) -> Tensor {
    let shape = x.shape().to_vec();
    if let Some(out) = Tensor::meta_result(&[x], &shape, U::DTYPE) {
        return out;
    }
    let mut out = crate::tensor::pool::uninit_vec::<U>(x.numel());
    if let Some(xs) = x.as_slice::<T>() {
        parallel::fill_chunks(&mut out, |start, c| {
            let len = c.len();
            apply(c, &xs[start..start + len], &f);
        });
    } else {
        let src = x.storage_slice::<T>();
        let (cs, cst) = coalesce(&shape, &[contiguous_strides(&shape), x.strides().into()]);
        let st = &cst[1];
        let inner = *st.last().unwrap_or(&1);
        parallel::fill_chunks(&mut out, |start, c| {
            let runs = StridedRuns {
                shape: &cs,
                strides: &[st],
                offsets: &[x.offset() as isize],
            };
            fill_runs(
                c,
                start,
                &runs,
                #[inline(always)]
                |dst, offs| {
                    for (i, d) in dst.iter_mut().enumerate() {
                        *d = f(src[(offs[0] + i as isize * inner) as usize]);
                    }
                },
            );
        });
    }
    Tensor::from_vec(out, &shape)
}

/// Fill `out` (the output's elements from `start` on) one innermost run of
/// the strided operands at a time: `body(dst, offsets)` writes the run
/// `dst`, whose operands start at `offsets`. Compiled for AVX2+FMA
/// (`with_fma`), with the run loop and `body` inlined into it.
#[inline(always)]
fn fill_runs<U>(
    out: &mut [U],
    start: usize,
    runs: &StridedRuns,
    mut body: impl FnMut(&mut [U], &[isize]),
) {
    with_fma(
        #[inline(always)]
        || {
            let mut pos = 0;
            runs.for_each_run(
                start,
                start + out.len(),
                #[inline(always)]
                |offs, len| {
                    body(&mut out[pos..pos + len], offs);
                    pos += len;
                },
            );
        },
    )
}

/// Multiversioned loops over contiguous operands: `out[i] = f(x[i])` (and
/// the two- and three-operand forms), compiled for AVX2 + FMA too when the
/// CPU has them. The closure is inlined into that copy, so a compute-bound
/// op (exp, tanh, erf, an activation's derivative) runs 8 lanes wide with
/// fused multiply-adds instead of the baseline's 4 lanes; and for AVX-512,
/// 16 lanes.
macro_rules! multiversion_apply {
    ($name:ident, $plain:ident, $avx2:ident, $avx512:ident, ($($x:ident: $t:ident),+)) => {
        #[inline]
        fn $name<$($t: Copy,)+ U>(out: &mut [U], $($x: &[$t],)+ f: &impl Fn($($t),+) -> U) {
            #[cfg(target_arch = "x86_64")]
            if $crate::cpu::isa::use_avx512() {
                // SAFETY: the CPU supports the enabled features.
                return unsafe { $avx512(out, $($x,)+ f) };
            }
            #[cfg(target_arch = "x86_64")]
            if $crate::cpu::isa::use_avx2() {
                // SAFETY: the CPU supports the enabled features.
                return unsafe { $avx2(out, $($x,)+ f) };
            }
            $plain(out, $($x,)+ f)
        }

        #[inline(always)]
        fn $plain<$($t: Copy,)+ U>(out: &mut [U], $($x: &[$t],)+ f: &impl Fn($($t),+) -> U) {
            let n = out.len();
            $(let $x = &$x[..n];)+
            for i in 0..n {
                out[i] = f($($x[i]),+);
            }
        }

        /// # Safety
        /// The CPU has AVX2 and FMA.
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2,fma")]
        unsafe fn $avx2<$($t: Copy,)+ U>(out: &mut [U], $($x: &[$t],)+ f: &impl Fn($($t),+) -> U) {
            $plain(out, $($x,)+ f)
        }

        /// # Safety
        /// The CPU has AVX-512 F/BW/VL/DQ.
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")]
        unsafe fn $avx512<$($t: Copy,)+ U>(out: &mut [U], $($x: &[$t],)+ f: &impl Fn($($t),+) -> U) {
            $plain(out, $($x,)+ f)
        }
    };
}

multiversion_apply!(apply, apply_plain, apply_avx2, apply_avx512, (x: T));
multiversion_apply!(apply2, apply2_plain, apply2_avx2, apply2_avx512, (a: A, b: B));
multiversion_apply!(apply3, apply3_plain, apply3_avx2, apply3_avx512, (a: A, b: B, c: C));

/// `out = f(a, b)` broadcast to `out_shape`.
pub fn map2<A: BufferElem, B: BufferElem, U: BufferElem>(
    a: &Tensor,
    b: &Tensor,
    out_shape: &[usize],
    f: impl Fn(A, B) -> U + Sync + Send,
) -> Result<Tensor> {
    if let Some(out) = Tensor::meta_result(&[a, b], out_shape, U::DTYPE) {
        return Ok(out);
    }
    let n: usize = out_shape.iter().product();
    let mut out = crate::tensor::pool::uninit_vec::<U>(n);
    let same = a.shape() == out_shape && b.shape() == out_shape;
    if let (true, Some(xa), Some(xb)) = (same, a.as_slice::<A>(), b.as_slice::<B>()) {
        parallel::fill_chunks(&mut out, |start, c| {
            let len = c.len();
            apply2(c, &xa[start..start + len], &xb[start..start + len], &f);
        });
        return Ok(Tensor::from_vec(out, out_shape));
    }
    if let (true, Some(xa)) = (b.numel() == 1 && a.shape() == out_shape, a.as_slice::<A>()) {
        let vb = b.data::<B>()[0];
        parallel::fill_chunks(&mut out, |start, c| {
            with_fma(
                #[inline(always)]
                || {
                    let len = c.len();
                    for (o, &va) in c.iter_mut().zip(&xa[start..start + len]) {
                        *o = f(va, vb);
                    }
                },
            )
        });
        return Ok(Tensor::from_vec(out, out_shape));
    }
    let sa = broadcast_strides(a.layout(), out_shape)?;
    let sb = broadcast_strides(b.layout(), out_shape)?;
    let (cs, cst) = coalesce(out_shape, &[contiguous_strides(out_shape), sa, sb]);
    let (pa, pb) = (a.storage_slice::<A>(), b.storage_slice::<B>());
    let (ia, ib) = (*cst[1].last().unwrap_or(&0), *cst[2].last().unwrap_or(&0));
    parallel::fill_chunks(&mut out, |start, c| {
        let runs = StridedRuns {
            shape: &cs,
            strides: &[&cst[1], &cst[2]],
            offsets: &[a.offset() as isize, b.offset() as isize],
        };
        fill_runs(
            c,
            start,
            &runs,
            #[inline(always)]
            |dst, offs| {
                let (oa, ob, len) = (offs[0], offs[1], dst.len());
                match (ia, ib) {
                    (1, 1) => {
                        let (ra, rb) = (
                            &pa[oa as usize..oa as usize + len],
                            &pb[ob as usize..ob as usize + len],
                        );
                        for i in 0..len {
                            dst[i] = f(ra[i], rb[i]);
                        }
                    }
                    (1, 0) => {
                        let (ra, vb) = (&pa[oa as usize..oa as usize + len], pb[ob as usize]);
                        for i in 0..len {
                            dst[i] = f(ra[i], vb);
                        }
                    }
                    (0, 1) => {
                        let (va, rb) = (pa[oa as usize], &pb[ob as usize..ob as usize + len]);
                        for i in 0..len {
                            dst[i] = f(va, rb[i]);
                        }
                    }
                    _ => {
                        for (i, d) in dst.iter_mut().enumerate() {
                            let i = i as isize;
                            *d = f(pa[(oa + i * ia) as usize], pb[(ob + i * ib) as usize]);
                        }
                    }
                }
            },
        );
    });
    Ok(Tensor::from_vec(out, out_shape))
}

/// `out = f(a, b, c)` broadcast to `out_shape` (used by `where`, `lerp`, `clamp`).
pub fn map3<A: BufferElem, B: BufferElem, C: BufferElem, U: BufferElem>(
    a: &Tensor,
    b: &Tensor,
    c: &Tensor,
    out_shape: &[usize],
    f: impl Fn(A, B, C) -> U + Sync + Send,
) -> Result<Tensor> {
    if let Some(out) = Tensor::meta_result(&[a, b, c], out_shape, U::DTYPE) {
        return Ok(out);
    }
    let n: usize = out_shape.iter().product();
    let mut out = crate::tensor::pool::uninit_vec::<U>(n);
    let same = a.shape() == out_shape && b.shape() == out_shape && c.shape() == out_shape;
    if let (true, Some(xa), Some(xb), Some(xc)) = (
        same,
        a.as_slice::<A>(),
        b.as_slice::<B>(),
        c.as_slice::<C>(),
    ) {
        parallel::fill_chunks(&mut out, |start, ch| {
            let r = start..start + ch.len();
            apply3(ch, &xa[r.clone()], &xb[r.clone()], &xc[r], &f);
        });
        return Ok(Tensor::from_vec(out, out_shape));
    }
    let sa = broadcast_strides(a.layout(), out_shape)?;
    let sb = broadcast_strides(b.layout(), out_shape)?;
    let sc = broadcast_strides(c.layout(), out_shape)?;
    let (cs, cst) = coalesce(out_shape, &[contiguous_strides(out_shape), sa, sb, sc]);
    let (pa, pb, pc) = (
        a.storage_slice::<A>(),
        b.storage_slice::<B>(),
        c.storage_slice::<C>(),
    );
    let inner: Vec<isize> = (1..4).map(|k| *cst[k].last().unwrap_or(&0)).collect();
    parallel::fill_chunks(&mut out, |start, ch| {
        let runs = StridedRuns {
            shape: &cs,
            strides: &[&cst[1], &cst[2], &cst[3]],
            offsets: &[
                a.offset() as isize,
                b.offset() as isize,
                c.offset() as isize,
            ],
        };
        fill_runs(
            ch,
            start,
            &runs,
            #[inline(always)]
            |dst, offs| {
                for (i, d) in dst.iter_mut().enumerate() {
                    let i = i as isize;
                    *d = f(
                        pa[(offs[0] + i * inner[0]) as usize],
                        pb[(offs[1] + i * inner[1]) as usize],
                        pc[(offs[2] + i * inner[2]) as usize],
                    );
                }
            },
        );
    });
    Ok(Tensor::from_vec(out, out_shape))
}
