//! Matrix multiply `C = A @ B` (optionally `C += A @ B`) on strided operands.
//!
//! f32 on CPUs with AVX2+FMA goes to our own kernel (`cpu::sgemm`); other
//! float cases to the `gemm` crate (packed, cache-blocked, micro-kernels
//! picked at run time). Both take arbitrary row and column strides, so
//! transposed operands are never copied. Integer types use a plain triple
//! loop.

use crate::parallel;

/// Multiply-adds below which a product runs on one thread.
pub const PARALLEL_MACS: usize = 1 << 18;

/// Threads for one m x n x k product: all of them unless it is small.
pub fn threads_for(m: usize, n: usize, k: usize) -> usize {
    if m.saturating_mul(n).saturating_mul(k) >= PARALLEL_MACS {
        parallel::num_threads()
    } else {
        1
    }
}

/// Strided matrix view: element (i, j) is at `ptr[off + i*rs + j*cs]`.
#[derive(Clone, Copy, Debug)]
pub struct MatRef {
    pub off: usize,
    pub rs: isize,
    pub cs: isize,
}

impl MatRef {
    fn index(&self, i: usize, j: usize) -> usize {
        (self.off as isize + i as isize * self.rs + j as isize * self.cs) as usize
    }
}

pub trait GemmElem: Copy + Send + Sync + 'static + Default {
    /// The slice as f32 when the element type is f32 (for kernels written
    /// for f32 only, such as the implicit-GEMM convolution).
    fn as_f32(s: &[Self]) -> Option<&[f32]> {
        let _ = s;
        None
    }
    fn as_f32_mut(s: &mut [Self]) -> Option<&mut [f32]> {
        let _ = s;
        None
    }
    /// `C (+)= A @ B` for m x k A and k x n B, on up to `threads` threads.
    ///
    /// # Safety
    /// All views must stay inside their slices for the given sizes.
    #[allow(clippy::too_many_arguments)]
    unsafe fn gemm(
        m: usize,
        n: usize,
        k: usize,
        a: &[Self],
        av: MatRef,
        b: &[Self],
        bv: MatRef,
        c: &mut [Self],
        cv: MatRef,
        accumulate: bool,
        threads: usize,
    );
}

impl GemmElem for f32 {
    fn as_f32(s: &[f32]) -> Option<&[f32]> {
        Some(s)
    }
    fn as_f32_mut(s: &mut [f32]) -> Option<&mut [f32]> {
        Some(s)
    }
    unsafe fn gemm(
        m: usize,
        n: usize,
        k: usize,
        a: &[f32],
        av: MatRef,
        b: &[f32],
        bv: MatRef,
        c: &mut [f32],
        cv: MatRef,
        accumulate: bool,
        threads: usize,
    ) {
        if k == 0 || !crate::cpu::sgemm::is_supported() {
            return gemm_crate(m, n, k, a, av, b, bv, c, cv, accumulate, threads);
        }
        if n == 1 && av.cs == 1 && bv.rs == 1 {
            // Matrix @ vector: a dot product per row, reading A once (the
            // blocked GEMM packed all of A for one column: 5x PyTorch's time).
            return gemv_rows(
                m,
                k,
                (a, av),
                &b[bv.off..][..k],
                (c, cv),
                accumulate,
                threads,
            );
        }
        crate::cpu::sgemm::sgemm(
            m,
            n,
            k,
            (a.as_ptr().add(av.off), av.rs, av.cs),
            (b.as_ptr().add(bv.off), bv.rs, bv.cs),
            (c.as_mut_ptr().add(cv.off), cv.rs, cv.cs),
            accumulate,
            threads,
        )
    }
}

/// c[i] (+)= A[i, :] . x for the rows of a row-major A (`av.cs == 1`), split
/// over threads by rows when the matrix is large.
///
/// # Safety
/// As for `GemmElem::gemm` with n = 1.
unsafe fn gemv_rows(
    m: usize,
    k: usize,
    (a, av): (&[f32], MatRef),
    x: &[f32],
    (c, cv): (&mut [f32], MatRef),
    accumulate: bool,
    threads: usize,
) {
    let out = crate::parallel::SendPtr(c.as_mut_ptr().add(cv.off));
    let rows = |r: std::ops::Range<usize>| {
        for i in r {
            let row =
                std::slice::from_raw_parts(a.as_ptr().add(av.off).offset(i as isize * av.rs), k);
            let d = dot(row, x);
            let o = { out }.0.offset(i as isize * cv.rs);
            *o = if accumulate { *o + d } else { d };
        }
    };
    let tasks = if m * k >= 1 << 18 { threads.max(1) } else { 1 };
    if tasks == 1 {
        return rows(0..m);
    }
    let per = m.div_ceil(tasks);
    crate::parallel::for_each_task(tasks, |t| rows(t * per..((t + 1) * per).min(m)));
}

crate::multiversion! {
    /// Dot product of two equal-length slices, in 32 lanes.
    fn dot(a: &[T], b: &[T]) -> T => dot_impl
}

#[inline(always)]
fn dot_impl<T: crate::tensor::dtype::Float>(a: &[T], b: &[T]) -> T {
    const LANES: usize = 32;
    let mut acc = [T::zero(); LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (xa, xb) in ca.zip(cb) {
        for l in 0..LANES {
            acc[l] += xa[l] * xb[l];
        }
    }
    let mut s = T::zero();
    for (&p, &q) in ra.iter().zip(rb) {
        s += p * q;
    }
    acc.iter().fold(s, |t, &v| t + v)
}

impl GemmElem for f64 {
    unsafe fn gemm(
        m: usize,
        n: usize,
        k: usize,
        a: &[f64],
        av: MatRef,
        b: &[f64],
        bv: MatRef,
        c: &mut [f64],
        cv: MatRef,
        accumulate: bool,
        threads: usize,
    ) {
        gemm_crate(m, n, k, a, av, b, bv, c, cv, accumulate, threads)
    }
}

/// The product on the `gemm` crate (any float type it supports).
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_crate<T: GemmElem + crate::tensor::dtype::Elem>(
    m: usize,
    n: usize,
    k: usize,
    a: &[T],
    av: MatRef,
    b: &[T],
    bv: MatRef,
    c: &mut [T],
    cv: MatRef,
    accumulate: bool,
    threads: usize,
) {
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for i in 0..m {
                for j in 0..n {
                    c[cv.index(i, j)] = T::default();
                }
            }
        }
        return;
    }
    let par = if threads > 1 {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    };
    // Addresses as integers so the job is Send; they are only
    // dereferenced while this frame (and its borrows) is alive.
    let (cp, ap, bp) = (
        c.as_mut_ptr().add(cv.off) as usize,
        a.as_ptr().add(av.off) as usize,
        b.as_ptr().add(bv.off) as usize,
    );
    let run = move || {
        gemm::gemm(
            m,
            n,
            k,
            cp as *mut T,
            cv.cs,
            cv.rs,
            accumulate,
            ap as *const T,
            av.cs,
            av.rs,
            bp as *const T,
            bv.cs,
            bv.rs,
            T::one(),
            T::one(),
            false,
            false,
            false,
            par,
        )
    };
    if threads > 1 {
        parallel::install(run)
    } else {
        run()
    }
}

macro_rules! impl_int_gemm {
    ($t:ty) => {
        impl GemmElem for $t {
            unsafe fn gemm(
                m: usize,
                n: usize,
                k: usize,
                a: &[Self],
                av: MatRef,
                b: &[Self],
                bv: MatRef,
                c: &mut [Self],
                cv: MatRef,
                accumulate: bool,
                _threads: usize,
            ) {
                for i in 0..m {
                    for j in 0..n {
                        let mut s: $t = 0;
                        for p in 0..k {
                            s = s.wrapping_add(a[av.index(i, p)].wrapping_mul(b[bv.index(p, j)]));
                        }
                        let ci = cv.index(i, j);
                        c[ci] = if accumulate { c[ci].wrapping_add(s) } else { s };
                    }
                }
            }
        }
    };
}
impl_int_gemm!(i64);
impl_int_gemm!(i32);
impl_int_gemm!(u8);
impl_int_gemm!(i16);
impl_int_gemm!(i8);
