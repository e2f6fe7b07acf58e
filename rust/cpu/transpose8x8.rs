//! An 8 x 8 float32 block transposed in AVX registers (the channel-lane
//! layouts of the direct convolution kernels from and to channel rows).

/// `dst[j * stride + i] = src[i][at + j]` for i < 8 and j < `columns` (at most 8).
///
/// # Safety
/// The CPU has AVX; `src[i][at..at + 8]` is readable and `dst[j * stride..][..8]`
/// writable for j < `columns`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
pub unsafe fn transpose8(
    src: [*const f32; 8],
    at: usize,
    dst: *mut f32,
    stride: usize,
    columns: usize,
) {
    use std::arch::x86_64::*;
    unsafe {
        let r0 = _mm256_loadu_ps(src[0].add(at));
        let r1 = _mm256_loadu_ps(src[1].add(at));
        let r2 = _mm256_loadu_ps(src[2].add(at));
        let r3 = _mm256_loadu_ps(src[3].add(at));
        let r4 = _mm256_loadu_ps(src[4].add(at));
        let r5 = _mm256_loadu_ps(src[5].add(at));
        let r6 = _mm256_loadu_ps(src[6].add(at));
        let r7 = _mm256_loadu_ps(src[7].add(at));
        // pairs of rows interleaved, then quads, then the 128-bit halves
        let (t0, t1) = (_mm256_unpacklo_ps(r0, r1), _mm256_unpackhi_ps(r0, r1));
        let (t2, t3) = (_mm256_unpacklo_ps(r2, r3), _mm256_unpackhi_ps(r2, r3));
        let (t4, t5) = (_mm256_unpacklo_ps(r4, r5), _mm256_unpackhi_ps(r4, r5));
        let (t6, t7) = (_mm256_unpacklo_ps(r6, r7), _mm256_unpackhi_ps(r6, r7));
        let u0 = _mm256_shuffle_ps::<0x44>(t0, t2);
        let u1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
        let u2 = _mm256_shuffle_ps::<0x44>(t1, t3);
        let u3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
        let u4 = _mm256_shuffle_ps::<0x44>(t4, t6);
        let u5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
        let u6 = _mm256_shuffle_ps::<0x44>(t5, t7);
        let u7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
        let out = [
            _mm256_permute2f128_ps::<0x20>(u0, u4),
            _mm256_permute2f128_ps::<0x20>(u1, u5),
            _mm256_permute2f128_ps::<0x20>(u2, u6),
            _mm256_permute2f128_ps::<0x20>(u3, u7),
            _mm256_permute2f128_ps::<0x31>(u0, u4),
            _mm256_permute2f128_ps::<0x31>(u1, u5),
            _mm256_permute2f128_ps::<0x31>(u2, u6),
            _mm256_permute2f128_ps::<0x31>(u3, u7),
        ];
        for (j, v) in out.into_iter().enumerate().take(columns) {
            _mm256_storeu_ps(dst.add(j * stride), v);
        }
    }
}
