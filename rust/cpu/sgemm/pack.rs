//! Packing: copy a block of A or B into the order the micro-kernel reads it,
//! so the kernel's loads are sequential whatever the operands' strides
//! (transposed operands, as in every backward pass, cost nothing extra).
//! Panels past the matrix edge are zero-padded; the kernel always runs a
//! full MR x NR tile. Operands are float32, or bfloat16 widened as they are
//! packed (`Elem`: the bf16 GEMM on CPUs without bf16 dot products).

use half::bf16;

/// An element type the packing reads, widened to f32 on the way.
pub trait Elem: Copy + 'static {
    fn to_f32(self) -> f32;
    /// `dst[i] = src[i]` widened (equal lengths).
    #[inline(always)]
    fn widen_into(src: &[Self], dst: &mut [f32]) {
        for (d, s) in dst.iter_mut().zip(src) {
            *d = s.to_f32();
        }
    }
    /// 8 consecutive values at `p`, widened.
    ///
    /// # Safety
    /// AVX2 is enabled where this inlines; 8 values at `p` are readable.
    #[cfg(target_arch = "x86_64")]
    unsafe fn load8(p: *const Self) -> std::arch::x86_64::__m256;
}

impl Elem for f32 {
    #[inline(always)]
    fn to_f32(self) -> f32 {
        self
    }
    #[inline(always)]
    fn widen_into(src: &[f32], dst: &mut [f32]) {
        dst.copy_from_slice(src)
    }
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    unsafe fn load8(p: *const f32) -> std::arch::x86_64::__m256 {
        std::arch::x86_64::_mm256_loadu_ps(p)
    }
}

/// bf16 widens exactly (the bits shifted into the high half of an f32; a
/// signalling NaN stays signalling here, and every multiply-add quiets it).
impl Elem for bf16 {
    #[inline(always)]
    fn to_f32(self) -> f32 {
        f32::from_bits((self.to_bits() as u32) << 16)
    }
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    unsafe fn load8(p: *const bf16) -> std::arch::x86_64::__m256 {
        use std::arch::x86_64::*;
        let h = _mm_loadu_si128(p as *const __m128i);
        _mm256_castsi256_ps(_mm256_slli_epi32::<16>(_mm256_cvtepu16_epi32(h)))
    }
}

/// A strided matrix block: element (i, j) at `ptr + i*rs + j*cs`.
pub struct Block<E = f32> {
    pub ptr: *const E,
    pub rs: isize,
    pub cs: isize,
}

impl<E> Clone for Block<E> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<E> Copy for Block<E> {}

impl<E> Block<E> {
    /// The block starting at element (i, j).
    pub fn at(self, i: usize, j: usize) -> Block<E> {
        Block {
            // wrapping: only dereferenced for elements inside the matrix
            ptr: self
                .ptr
                .wrapping_offset(i as isize * self.rs + j as isize * self.cs),
            ..self
        }
    }
    /// The transposed view of the same elements.
    fn t(self) -> Block<E> {
        Block {
            ptr: self.ptr,
            rs: self.cs,
            cs: self.rs,
        }
    }
}

/// Packs `rows` x `kc` of `a` into panels of `w` (a kernel's MR) rows:
/// panel q stores, for each p in 0..kc, the w values a[q*w + i][p]. `dst`
/// holds ceil(rows/w)*w*kc.
///
/// # Safety
/// Every element (i < rows, p < kc) of `a` is readable.
pub unsafe fn pack_a<E: Elem>(rows: usize, kc: usize, a: Block<E>, w: usize, dst: &mut [f32]) {
    pack_width(w, rows, kc, a, dst)
}

/// Packs `kc` x `cols` of `b` into panels of `w` (a kernel's NR) columns:
/// panel q stores, for each p in 0..kc, the w values b[p][q*w + j].
///
/// # Safety
/// Every element (p < kc, j < cols) of `b` is readable.
pub unsafe fn pack_b<E: Elem>(kc: usize, cols: usize, b: Block<E>, w: usize, dst: &mut [f32]) {
    if b.cs == 1 {
        match w {
            16 => return pack_rows_grouped::<16, E>(kc, cols, b, dst),
            32 => return pack_rows_grouped::<32, E>(kc, cols, b, dst),
            _ => {}
        }
    }
    // B's columns play the role of A's rows.
    pack_width(w, cols, kc, b.t(), dst)
}

/// Panels of B whose rows are contiguous, a few panels at a time and row by
/// row within them: each row of B is read as one run of `PANELS_PER_PASS`
/// panels' width, not one panel's (a panel alone reads 128 bytes per row,
/// each row a page apart for wide B; packing a 1024 x 1024 B took about
/// 10% less time this way).
unsafe fn pack_rows_grouped<const W: usize, E: Elem>(
    kc: usize,
    cols: usize,
    b: Block<E>,
    dst: &mut [f32],
) {
    const PANELS_PER_PASS: usize = 4;
    let panels = cols.div_ceil(W);
    for q0 in (0..panels).step_by(PANELS_PER_PASS) {
        let q1 = (q0 + PANELS_PER_PASS).min(panels);
        for p in 0..kc {
            let row = b.ptr.offset(p as isize * b.rs);
            for q in q0..q1 {
                let out = dst.get_unchecked_mut(q * W * kc + p * W..q * W * kc + p * W + W);
                let live = W.min(cols - q * W);
                if live == W {
                    // (a copy of constant length: vector moves, no call)
                    E::widen_into(std::slice::from_raw_parts(row.add(q * W), W), out);
                } else {
                    E::widen_into(
                        std::slice::from_raw_parts(row.add(q * W), live),
                        &mut out[..live],
                    );
                    out[live..].fill(0.0);
                }
            }
        }
    }
}

/// `pack_panels` compiled for each kernel's panel width (the copies of W
/// contiguous values then are a few vector moves, not a `memcpy` call).
unsafe fn pack_width<E: Elem>(w: usize, rows: usize, kc: usize, src: Block<E>, dst: &mut [f32]) {
    match w {
        4 => pack_panels::<4, E>(rows, kc, src, dst),
        5 => pack_panels::<5, E>(rows, kc, src, dst),
        6 => pack_panels::<6, E>(rows, kc, src, dst),
        8 => pack_panels::<8, E>(rows, kc, src, dst),
        10 => pack_panels::<10, E>(rows, kc, src, dst),
        14 => pack_panels::<14, E>(rows, kc, src, dst),
        16 => pack_panels::<16, E>(rows, kc, src, dst),
        32 => pack_panels::<32, E>(rows, kc, src, dst),
        _ => pack_panels_any(w, rows, kc, src, dst),
    }
}

/// `pack_panels` for any other width.
#[inline(never)]
unsafe fn pack_panels_any<E: Elem>(
    w: usize,
    rows: usize,
    kc: usize,
    src: Block<E>,
    dst: &mut [f32],
) {
    for (q, panel) in dst
        .chunks_exact_mut(w * kc)
        .take(rows.div_ceil(w))
        .enumerate()
    {
        let r0 = q * w;
        let s = src.at(r0, 0);
        for (p, out) in panel.chunks_exact_mut(w).enumerate() {
            for (i, o) in out.iter_mut().enumerate() {
                *o = if r0 + i < rows {
                    (*s.ptr.offset(i as isize * s.rs + p as isize * s.cs)).to_f32()
                } else {
                    0.0
                };
            }
        }
    }
}

/// Panels of W "rows" of `src` (rows x kc), each stored p-major: W values per p.
unsafe fn pack_panels<const W: usize, E: Elem>(
    rows: usize,
    kc: usize,
    src: Block<E>,
    dst: &mut [f32],
) {
    for (q, panel) in dst
        .chunks_exact_mut(W * kc)
        .take(rows.div_ceil(W))
        .enumerate()
    {
        let r0 = q * W;
        let live = W.min(rows - r0);
        let s = src.at(r0, 0);
        if live == W && s.rs == 1 {
            // The W values of one p are contiguous in memory.
            for (p, out) in panel.chunks_exact_mut(W).enumerate() {
                let from = s.ptr.offset(p as isize * s.cs);
                E::widen_into(std::slice::from_raw_parts(from, W), out);
            }
        } else if s.cs == 1 {
            // Each row is contiguous along p: a transpose.
            #[cfg(target_arch = "x86_64")]
            if live == W && super::is_supported() {
                transpose_rows_avx2::<W, E>(kc, s, panel);
                continue;
            }
            for i in 0..live {
                let row = std::slice::from_raw_parts(s.ptr.offset(i as isize * s.rs), kc);
                for (p, &v) in row.iter().enumerate() {
                    *panel.get_unchecked_mut(p * W + i) = v.to_f32();
                }
            }
            zero_tail::<W>(panel, live);
        } else {
            for (p, out) in panel.chunks_exact_mut(W).enumerate() {
                for (i, o) in out.iter_mut().take(live).enumerate() {
                    *o = (*s.ptr.offset(i as isize * s.rs + p as isize * s.cs)).to_f32();
                }
            }
            zero_tail::<W>(panel, live);
        }
    }
}

/// Zero rows `live..W` of every p of a panel (the padding past the edge).
fn zero_tail<const W: usize>(panel: &mut [f32], live: usize) {
    if live < W {
        for out in panel.chunks_exact_mut(W) {
            out[live..].fill(0.0);
        }
    }
}

/// Full panel of W rows that are contiguous along p, transposed in
/// 8x8 register blocks: about three times the speed of the scalar loop.
///
/// # Safety
/// AVX2 is available; rows 0..W and p in 0..kc of `s` are readable.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn transpose_rows_avx2<const W: usize, E: Elem>(kc: usize, s: Block<E>, panel: &mut [f32]) {
    use std::arch::x86_64::*;
    let row = |i: usize| s.ptr.offset(i as isize * s.rs);
    let dst = panel.as_mut_ptr();
    let full = kc / 8 * 8;
    for i0 in (0..W).step_by(8) {
        let rows = 8.min(W - i0);
        for p0 in (0..full).step_by(8) {
            let mut r = [_mm256_setzero_ps(); 8];
            for (j, v) in r.iter_mut().enumerate().take(rows) {
                *v = E::load8(row(i0 + j).add(p0));
            }
            let t0 = _mm256_unpacklo_ps(r[0], r[1]);
            let t1 = _mm256_unpackhi_ps(r[0], r[1]);
            let t2 = _mm256_unpacklo_ps(r[2], r[3]);
            let t3 = _mm256_unpackhi_ps(r[2], r[3]);
            let t4 = _mm256_unpacklo_ps(r[4], r[5]);
            let t5 = _mm256_unpackhi_ps(r[4], r[5]);
            let t6 = _mm256_unpacklo_ps(r[6], r[7]);
            let t7 = _mm256_unpackhi_ps(r[6], r[7]);
            let u0 = _mm256_shuffle_ps::<0x44>(t0, t2);
            let u1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
            let u2 = _mm256_shuffle_ps::<0x44>(t1, t3);
            let u3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
            let u4 = _mm256_shuffle_ps::<0x44>(t4, t6);
            let u5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
            let u6 = _mm256_shuffle_ps::<0x44>(t5, t7);
            let u7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
            // cols[q] = (row 0..8)[p0 + q]
            let cols = [
                _mm256_permute2f128_ps::<0x20>(u0, u4),
                _mm256_permute2f128_ps::<0x20>(u1, u5),
                _mm256_permute2f128_ps::<0x20>(u2, u6),
                _mm256_permute2f128_ps::<0x20>(u3, u7),
                _mm256_permute2f128_ps::<0x31>(u0, u4),
                _mm256_permute2f128_ps::<0x31>(u1, u5),
                _mm256_permute2f128_ps::<0x31>(u2, u6),
                _mm256_permute2f128_ps::<0x31>(u3, u7),
            ];
            for (q, c) in cols.iter().enumerate() {
                let d = dst.add((p0 + q) * W + i0);
                if rows == 8 {
                    _mm256_storeu_ps(d, *c);
                } else {
                    // the last rows % 8 rows of the panel
                    let live = _mm256_cmpgt_epi32(
                        _mm256_set1_epi32(rows as i32),
                        _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                    );
                    _mm256_maskstore_ps(d, live, *c);
                }
            }
        }
    }
    for p in full..kc {
        for i in 0..W {
            *dst.add(p * W + i) = (*row(i).add(p)).to_f32();
        }
    }
}
