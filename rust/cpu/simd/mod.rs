//! f32 SIMD vectors behind one trait, so a kernel is written once and
//! compiled for each vector width: `F32x8` (AVX2 + FMA, `__m256`) and
//! `F32x16` (AVX-512F, `__m512`).
//!
//! Every method is `#[inline(always)]` and carries no target features of its
//! own: a kernel generic over `V: Simd` is instantiated inside a function
//! with `#[target_feature(enable = ...)]` (`Avx2::run`-style wrappers in the
//! kernel's module), the methods inline into it and the intrinsics inline
//! after them. Calling a method outside such a function is the one misuse
//! (it would not inline and could fault on a CPU without the features):
//! hence `unsafe` everywhere.

#[cfg(target_arch = "x86_64")]
pub mod avx2;
#[cfg(target_arch = "x86_64")]
pub mod avx512;

#[cfg(target_arch = "x86_64")]
pub use avx2::F32x8;
#[cfg(target_arch = "x86_64")]
pub use avx512::F32x16;

/// A vector of `LANES` f32.
///
/// # Safety
/// Implementations may only be used where their instruction set is enabled
/// (inside a `#[target_feature]` function the CPU supports); that is every
/// method's contract, plus the pointer ranges each one names.
#[allow(clippy::missing_safety_doc)]
pub unsafe trait Simd: Copy {
    const LANES: usize;
    /// All lanes 0.
    unsafe fn zero() -> Self;
    /// All lanes `x`.
    unsafe fn splat(x: f32) -> Self;
    /// `LANES` floats at `p` (no alignment needed).
    unsafe fn load(p: *const f32) -> Self;
    /// LANES / 2 values from `lo`, then LANES / 2 from `hi`.
    unsafe fn load_halves(lo: *const f32, hi: *const f32) -> Self;
    /// Store all lanes at `p` (no alignment needed).
    unsafe fn store(self, p: *mut f32);
    /// The first `n` (< LANES) floats at `p`, zeros after; memory past
    /// `p + n` is not touched.
    unsafe fn load_first(p: *const f32, n: usize) -> Self;
    /// Store the first `n` (< LANES) lanes at `p`; memory past `p + n` is
    /// not touched.
    unsafe fn store_first(self, p: *mut f32, n: usize);
    /// `a * b + c`, one rounding.
    unsafe fn fmadd(a: Self, b: Self, c: Self) -> Self;
    unsafe fn add(self, b: Self) -> Self;
    unsafe fn sub(self, b: Self) -> Self;
    unsafe fn mul(self, b: Self) -> Self;
    /// The sign bit flipped (as Rust's `-x`: NaN and zeros included).
    unsafe fn neg(self) -> Self;
    /// Lanes `lo..hi` (`lo <= hi <= LANES`) from `p + lane`, zeros in the
    /// others; memory outside `p + lo .. p + hi` is not touched (`p` itself
    /// may point outside any allocation).
    unsafe fn load_range(p: *const f32, lo: usize, hi: usize) -> Self;
    /// The even and the odd lanes of the `2 * LANES` values `a` then `b`:
    /// (a0, a2, .., b0, b2, ..) and (a1, a3, .., b1, b3, ..).
    unsafe fn deinterleave(a: Self, b: Self) -> (Self, Self);
    /// The inverse: (e0, o0, e1, o1, ..) as two vectors.
    unsafe fn interleave(even: Self, odd: Self) -> (Self, Self);
    unsafe fn max(self, b: Self) -> Self;
    /// relu's element function: lanes below 0 become 0; NaN and -0.0 stay
    /// (unlike `max` with zero, which gives 0 for both).
    unsafe fn relu(self) -> Self;
    /// Sum of the lanes.
    unsafe fn hsum(self) -> f32;
}

/// Fetch the cache line at `p` into L1 (a hint: any address is allowed).
#[inline(always)]
pub fn prefetch(p: *const f32) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: prefetch never faults, SSE is baseline on x86-64.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(p as *const i8)
    }
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;
    use crate::cpu::isa;

    /// Every method of `V` on a few lanes patterns, compared with scalar code.
    #[inline(always)]
    unsafe fn exercise<V: Simd>() {
        let a: Vec<f32> = (0..V::LANES).map(|i| i as f32 - 3.5).collect();
        let b: Vec<f32> = (0..V::LANES).map(|i| 2.0 - i as f32 * 0.25).collect();
        let (va, vb) = (V::load(a.as_ptr()), V::load(b.as_ptr()));
        let mut out = vec![0f32; V::LANES];
        V::fmadd(va, vb, V::splat(1.0)).store(out.as_mut_ptr());
        for ((o, x), y) in out.iter().zip(&a).zip(&b) {
            assert_eq!(*o, x.mul_add(*y, 1.0));
        }
        va.add(vb)
            .mul(V::splat(2.0))
            .max(V::zero())
            .store(out.as_mut_ptr());
        for ((o, x), y) in out.iter().zip(&a).zip(&b) {
            assert_eq!(*o, ((x + y) * 2.0).max(0.0));
        }
        assert_eq!(va.hsum(), a.iter().sum::<f32>());
        va.sub(vb).store(out.as_mut_ptr());
        for ((o, x), y) in out.iter().zip(&a).zip(&b) {
            assert_eq!(*o, x - y);
        }
        let (even, odd) = V::deinterleave(va, vb);
        let both: Vec<f32> = a.iter().chain(&b).copied().collect();
        even.store(out.as_mut_ptr());
        assert!(out.iter().enumerate().all(|(i, &o)| o == both[2 * i]));
        odd.store(out.as_mut_ptr());
        assert!(out.iter().enumerate().all(|(i, &o)| o == both[2 * i + 1]));
        let (lo_half, hi_half) = V::interleave(even, odd);
        lo_half.store(out.as_mut_ptr());
        assert_eq!(&out[..], &both[..V::LANES]);
        hi_half.store(out.as_mut_ptr());
        assert_eq!(&out[..], &both[V::LANES..]);
        for lo in 0..=V::LANES {
            for hi in lo..=V::LANES {
                // only a[lo..hi] exists: the lanes outside must not be read
                let inside = a[lo..hi].to_vec();
                let p = inside.as_ptr().wrapping_sub(lo);
                V::load_range(p, lo, hi).store(out.as_mut_ptr());
                for (i, &o) in out.iter().enumerate() {
                    let want = if (lo..hi).contains(&i) { a[i] } else { 0.0 };
                    assert_eq!(
                        o.to_bits(),
                        want.to_bits(),
                        "load_range {lo}..{hi} lane {i}"
                    );
                }
            }
        }
        let edges: Vec<f32> = (0..V::LANES)
            .map(|i| [f32::NAN, -0.0, 0.0, -1.5, 2.5, f32::NEG_INFINITY][i % 6])
            .collect();
        V::load(edges.as_ptr()).neg().store(out.as_mut_ptr());
        for (o, x) in out.iter().zip(&edges) {
            assert_eq!(o.to_bits(), (-*x).to_bits(), "neg({x})");
        }
        V::load(edges.as_ptr()).relu().store(out.as_mut_ptr());
        for (o, x) in out.iter().zip(&edges) {
            let want = if *x < 0.0 { 0.0 } else { *x };
            assert_eq!(o.to_bits(), want.to_bits(), "relu({x})");
        }
        let half = V::LANES / 2;
        V::load_halves(a.as_ptr(), b.as_ptr().add(1)).store(out.as_mut_ptr());
        assert_eq!(&out[..half], &a[..half]);
        assert_eq!(&out[half..], &b[1..1 + half]);
        for n in 0..V::LANES {
            // guards on each side catch reads or writes past n
            let mut buf = vec![-7f32; V::LANES + 2];
            V::load_first(a.as_ptr(), n).store_first(buf.as_mut_ptr().add(1), n);
            assert_eq!(buf[0], -7.0);
            assert_eq!(&buf[1..1 + n], &a[..n]);
            assert!(buf[1 + n..].iter().all(|&v| v == -7.0));
            V::load_first(a.as_ptr(), n).store(out.as_mut_ptr());
            assert!(out[n..].iter().all(|&v| v == 0.0));
        }
    }

    #[test]
    fn avx2_matches_scalar() {
        #[target_feature(enable = "avx2,fma")]
        unsafe fn run() {
            exercise::<F32x8>()
        }
        if isa::features().avx2_fma {
            unsafe { run() }
        }
    }

    #[test]
    fn avx512_matches_scalar() {
        #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")]
        unsafe fn run() {
            exercise::<F32x16>()
        }
        if isa::features().avx512 {
            unsafe { run() }
        }
    }
}
