//! Blocks of 8 values as fixed-size arrays: loops over them compile to whole
//! SIMD vectors where loops over short slices (image lines of 4-32 values)
//! ran scalar or called memcpy. Used by the Winograd transforms and im2col.

use crate::tensor::dtype::Float;

/// Values per block.
pub const LANES: usize = 8;

/// Values per block in the AVX-512 copies of kernels written for any block
/// width (`multiversion!`'s `+ avx512 lanes`): one 512-bit vector of f32.
pub const WIDE_LANES: usize = 16;

/// One block.
pub type Block<T> = [T; LANES];

#[inline(always)]
pub fn map2<T: Float>(a: Block<T>, b: Block<T>, f: impl Fn(T, T) -> T) -> Block<T> {
    // Plain loops rather than `array::from_fn`, which did not inline into
    // the AVX2 copies of the kernels.
    let mut r = a;
    for l in 0..LANES {
        r[l] = f(a[l], b[l]);
    }
    r
}

/// The block at `s[i..i + 8]`.
#[inline(always)]
pub fn load<T: Float>(s: &[T], i: usize) -> Block<T> {
    let mut b = [T::zero(); LANES];
    b.copy_from_slice(&s[i..i + LANES]);
    b
}

/// Store the first `n` (<= 8) values of `b` at `s[i..]`.
#[inline(always)]
pub fn store<T: Float>(s: &mut [T], i: usize, b: &Block<T>, n: usize) {
    if n == LANES {
        s[i..i + LANES].copy_from_slice(b);
    } else {
        // SAFETY: the slice bounds check covers the n values written.
        unsafe { copy_few(s[i..i + n].as_mut_ptr(), b.as_ptr(), n) };
    }
}

/// Whether the AVX2 shuffles below apply: `T` is f32 (the only 4-byte
/// Float) on a CPU with AVX2.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn f32_avx2<T>() -> bool {
    std::mem::size_of::<T>() == 4 && crate::cpu::isa::use_avx2()
}

/// Even and odd values of `s[2i..2i + 16]`: the first and second of each pair.
#[inline(always)]
pub fn deinterleave<T: Float>(s: &[T], i: usize) -> (Block<T>, Block<T>) {
    let pairs = &s[2 * i..2 * i + 2 * LANES];
    let (mut even, mut odd) = ([T::zero(); LANES], [T::zero(); LANES]);
    #[cfg(target_arch = "x86_64")]
    if f32_avx2::<T>() {
        // Two shuffles and two lane permutes; LLVM turned the plain loop
        // below into 16 scalar moves.
        use std::arch::x86_64::*;
        // SAFETY: the only 4-byte Float is f32; `pairs` holds 16 values and
        // each array 8; AVX2 is present (the inlined intrinsics need it).
        unsafe {
            let p = pairs.as_ptr() as *const f32;
            let (a, b) = (_mm256_loadu_ps(p), _mm256_loadu_ps(p.add(LANES)));
            let order =
                |v: __m256| _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(v), 0xD8));
            _mm256_storeu_ps(
                even.as_mut_ptr() as *mut f32,
                order(_mm256_shuffle_ps(a, b, 0x88)),
            );
            _mm256_storeu_ps(
                odd.as_mut_ptr() as *mut f32,
                order(_mm256_shuffle_ps(a, b, 0xDD)),
            );
        }
        return (even, odd);
    }
    for l in 0..LANES {
        even[l] = pairs[2 * l];
        odd[l] = pairs[2 * l + 1];
    }
    (even, odd)
}

/// `s[i..i + 16]` = even[0], odd[0], even[1], odd[1], ...
#[inline(always)]
pub fn store_interleaved<T: Float>(s: &mut [T], i: usize, even: &Block<T>, odd: &Block<T>) {
    let pairs = &mut s[i..i + 2 * LANES];
    #[cfg(target_arch = "x86_64")]
    if f32_avx2::<T>() {
        use std::arch::x86_64::*;
        // SAFETY: as in `deinterleave`.
        unsafe {
            let (e, o) = (
                _mm256_loadu_ps(even.as_ptr() as *const f32),
                _mm256_loadu_ps(odd.as_ptr() as *const f32),
            );
            // Pairs within 128-bit lanes, then the lanes put in order.
            let (lo, hi) = (_mm256_unpacklo_ps(e, o), _mm256_unpackhi_ps(e, o));
            let p = pairs.as_mut_ptr() as *mut f32;
            _mm256_storeu_ps(p, _mm256_permute2f128_ps(lo, hi, 0x20));
            _mm256_storeu_ps(p.add(LANES), _mm256_permute2f128_ps(lo, hi, 0x31));
        }
        return;
    }
    for l in 0..LANES {
        pairs[2 * l] = even[l];
        pairs[2 * l + 1] = odd[l];
    }
}

/// Copy `n` values of a short line (often 8-32) in fixed 8-value blocks, the
/// last one overlapping: register moves, where a plain loop or
/// `copy_from_slice` compiles to a `memmove` call per line (4% of a VGG step).
///
/// # Safety
/// `src` and `dst` are valid for `n` values and do not overlap.
#[inline(always)]
pub unsafe fn copy_few<T: Copy>(dst: *mut T, src: *const T, n: usize) {
    if n < 8 {
        if n >= 4 {
            // Two 4-value blocks, the second overlapping the first.
            let block = |i: usize| {
                (dst.add(i) as *mut [T; 4])
                    .write_unaligned((src.add(i) as *const [T; 4]).read_unaligned())
            };
            block(0);
            block(n - 4);
            return;
        }
        for j in 0..n {
            // volatile: a loop here would also become a memcpy call
            std::ptr::write_volatile(dst.add(j), *src.add(j));
        }
        return;
    }
    let block = |i: usize| {
        (dst.add(i) as *mut [T; 8]).write_unaligned((src.add(i) as *const [T; 8]).read_unaligned())
    };
    let mut i = 0;
    while i + 8 <= n {
        block(i);
        i += 8;
    }
    if i < n {
        block(n - 8);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interleave_round_trips() {
        let v: Vec<f32> = (0..20).map(|i| i as f32).collect();
        let (e, o) = deinterleave(&v, 1);
        assert_eq!(e, [2., 4., 6., 8., 10., 12., 14., 16.]);
        assert_eq!(o, [3., 5., 7., 9., 11., 13., 15., 17.]);
        let mut back = vec![0.0f32; 18];
        store_interleaved(&mut back, 2, &e, &o);
        assert_eq!(&back[2..], &v[2..18]);
        let vd: Vec<f64> = v.iter().map(|&x| x as f64).collect();
        let (ed, od) = deinterleave(&vd, 1);
        assert_eq!(ed.map(|x| x as f32), e);
        assert_eq!(od.map(|x| x as f32), o);
    }
}
