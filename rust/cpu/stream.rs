//! Streaming (non-temporal) stores for large outputs.
//!
//! An ordinary store first reads the line it writes into cache (read for
//! ownership), so writing a buffer far larger than the caches costs a read
//! and a write of it. A non-temporal store writes the line without reading
//! it: `z = x + y` over 16M floats moves 3 buffers through memory instead
//! of 4. Only for outputs too large to still be in cache when read next.

/// Outputs of at least this many bytes are streamed.
pub const MIN_BYTES: usize = 16 << 20;

/// Whether an output of `bytes` is written with streaming stores.
pub fn worth_streaming(bytes: usize) -> bool {
    bytes >= MIN_BYTES && cfg!(target_arch = "x86_64") && super::isa::use_avx2()
}

/// `dst.copy_from_slice(src)` with streaming stores where `dst` is 32-byte
/// aligned (plain stores for the unaligned head and the tail). The caller
/// calls [`fence`] before another thread may read `dst`.
pub fn copy(dst: &mut [f32], src: &[f32]) {
    assert_eq!(dst.len(), src.len(), "stream::copy: lengths differ");
    #[cfg(target_arch = "x86_64")]
    if super::isa::use_avx2() {
        // SAFETY: AVX is available (AVX2 implies it); lengths checked above.
        unsafe { copy_avx(dst, src) };
        return;
    }
    dst.copy_from_slice(src);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn copy_avx(dst: &mut [f32], src: &[f32]) {
    use std::arch::x86_64::{_mm256_loadu_ps, _mm256_stream_ps};
    let n = dst.len();
    let (d, s) = (dst.as_mut_ptr(), src.as_ptr());
    let head = d.align_offset(32).min(n);
    for i in 0..head {
        *d.add(i) = *s.add(i);
    }
    let mut i = head;
    while i + 8 <= n {
        _mm256_stream_ps(d.add(i), _mm256_loadu_ps(s.add(i)));
        i += 8;
    }
    for j in i..n {
        *d.add(j) = *s.add(j);
    }
}

/// Writes `dst` through `f(i, out)`, which puts the values of
/// `dst[i..i + out.len()]` into `out`: whole 64-byte lines are computed into
/// a 16-value array (one or two vector registers once inlined) and written
/// with streaming stores, the unaligned head and the tail with plain ones.
/// Computing as it streams keeps the loads of the inputs going between the
/// stores. The caller calls [`fence`] before another thread may read `dst`.
#[inline(always)]
pub fn write_lines(dst: &mut [f32], mut f: impl FnMut(usize, &mut [f32])) {
    const LINE: usize = 16;
    let n = dst.len();
    let head = dst.as_ptr().align_offset(64).min(n);
    f(0, &mut dst[..head]);
    let mut i = head;
    #[cfg(target_arch = "x86_64")]
    if super::isa::use_avx2() {
        let mut line = [0f32; LINE];
        while i + LINE <= n {
            f(i, &mut line);
            // SAFETY: AVX is available (AVX2 implies it); `dst[i..i + 16]`
            // is in bounds (checked by the loop) and 64-byte aligned (i
            // starts at the aligned head and moves by whole lines).
            unsafe { stream_line(dst.as_mut_ptr().add(i), &line) };
            i += LINE;
        }
    }
    f(i, &mut dst[i..]);
}

/// One 64-byte line at `p` (32-byte aligned at least) with streaming stores.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx")]
unsafe fn stream_line(p: *mut f32, line: &[f32; 16]) {
    use std::arch::x86_64::{_mm256_loadu_ps, _mm256_stream_ps};
    _mm256_stream_ps(p, _mm256_loadu_ps(line.as_ptr()));
    _mm256_stream_ps(p.add(8), _mm256_loadu_ps(line.as_ptr().add(8)));
}

/// Order this thread's streaming stores before its later stores (and so
/// before the signal that its task is done).
pub fn fence() {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: sfence is part of SSE, which every x86_64 CPU has.
    unsafe {
        std::arch::x86_64::_mm_sfence()
    };
}

#[cfg(test)]
mod tests {
    #[test]
    fn writes_lines_at_every_length_and_alignment() {
        for start in 0..17 {
            for len in 0..70 {
                let mut dst = vec![-1f32; 100];
                super::write_lines(&mut dst[start..start + len], |i, out| {
                    for (j, o) in out.iter_mut().enumerate() {
                        *o = (i + j) as f32 * 0.5;
                    }
                });
                super::fence();
                let want: Vec<f32> = (0..len).map(|i| i as f32 * 0.5).collect();
                assert_eq!(&dst[start..start + len], &want[..]);
                assert!(dst[..start]
                    .iter()
                    .chain(&dst[start + len..])
                    .all(|&v| v == -1.0));
            }
        }
    }

    #[test]
    fn copies_every_length_and_alignment() {
        let src: Vec<f32> = (0..100).map(|i| i as f32 * 0.5).collect();
        for start in 0..9 {
            for len in 0..80 {
                let mut dst = vec![-1f32; 100];
                super::copy(&mut dst[start..start + len], &src[..len]);
                super::fence();
                assert_eq!(&dst[start..start + len], &src[..len]);
                assert!(dst[..start]
                    .iter()
                    .chain(&dst[start + len..])
                    .all(|&v| v == -1.0));
            }
        }
    }
}
