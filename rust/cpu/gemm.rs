//! Matrix multiply `C = A @ B` (optionally `C += A @ B`) on strided operands.
//!
//! Float types go to the `gemm` crate (packed, cache-blocked, micro-kernels
//! picked at run time for AVX-512/AVX2/SSE), which takes arbitrary row and
//! column strides, so transposed operands are never copied. Integer types use
//! a plain triple loop.

use crate::parallel;

/// Multiply-adds below which the product runs on one thread.
const PARALLEL_FLOPS: usize = 1 << 18;

/// Strided matrix view: element (i, j) is at `ptr[off + i*rs + j*cs]`.
#[derive(Clone, Copy, Debug)]
pub struct MatRef {
    pub off: usize,
    pub rs: isize,
    pub cs: isize,
}

pub trait GemmElem: Copy + Send + Sync + 'static + Default {
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
    );
}

macro_rules! impl_float_gemm {
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
            ) {
                if m == 0 || n == 0 {
                    return;
                }
                if k == 0 {
                    if !accumulate {
                        for i in 0..m {
                            for j in 0..n {
                                c[(cv.off as isize + i as isize * cv.rs + j as isize * cv.cs)
                                    as usize] = 0.0;
                            }
                        }
                    }
                    return;
                }
                let threads = parallel::num_threads();
                let par = if m * n * k >= PARALLEL_FLOPS && threads > 1 {
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
                        cp as *mut $t,
                        cv.cs,
                        cv.rs,
                        accumulate,
                        ap as *const $t,
                        av.cs,
                        av.rs,
                        bp as *const $t,
                        bv.cs,
                        bv.rs,
                        1.0,
                        1.0,
                        false,
                        false,
                        false,
                        par,
                    )
                };
                if matches!(par, gemm::Parallelism::None) {
                    run()
                } else {
                    parallel::install(run)
                }
            }
        }
    };
}
impl_float_gemm!(f32);
impl_float_gemm!(f64);

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
            ) {
                for i in 0..m {
                    for j in 0..n {
                        let mut s: $t = 0;
                        for p in 0..k {
                            let x = a[(av.off as isize + i as isize * av.rs + p as isize * av.cs)
                                as usize];
                            let y = b[(bv.off as isize + p as isize * bv.rs + j as isize * bv.cs)
                                as usize];
                            s = s.wrapping_add(x.wrapping_mul(y));
                        }
                        let ci =
                            (cv.off as isize + i as isize * cv.rs + j as isize * cv.cs) as usize;
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
