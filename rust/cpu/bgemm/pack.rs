//! Packing for the bfloat16 kernels: both `vdpbf16ps` and AMX's `tdpbf16ps`
//! multiply *pairs* of bf16 values along k, so a packed panel stores, for
//! each pair of depths (2q, 2q+1), one 32-bit word per line (row of A or
//! column of B) holding the line's two values. Depths past k and lines past
//! the matrix edge are zero, so the kernels always run full tiles.

use half::bf16;

/// A strided operand seen as lines along the depth: element (line l,
/// depth p) at `ptr + l*ls + p*ds` (A: lines are rows; B: lines are columns).
#[derive(Clone, Copy)]
pub struct Lines {
    pub ptr: *const bf16,
    pub ls: isize,
    pub ds: isize,
}

impl Lines {
    /// The view starting at line `l`, depth `p`.
    pub fn at(self, l: usize, p: usize) -> Lines {
        Lines {
            // wrapping: only dereferenced for elements inside the matrix
            ptr: self
                .ptr
                .wrapping_offset(l as isize * self.ls + p as isize * self.ds),
            ..self
        }
    }

    #[inline(always)]
    unsafe fn get(self, l: usize, p: usize) -> u16 {
        (*self.ptr.offset(l as isize * self.ls + p as isize * self.ds)).to_bits()
    }
}

/// Two bf16 bit patterns as one word: `lo` (even depth) in the low half.
#[inline(always)]
fn pair(lo: u16, hi: u16) -> u32 {
    lo as u32 | (hi as u32) << 16
}

/// Packs `lines` x `kc` of `src` into one panel of `width` lines:
/// `dst[q * width + l]` = (src(l, 2q), src(l, 2q + 1)), for `pairs` pairs
/// (`pairs * 2 >= kc`; the rest zero).
///
/// # Safety
/// Every element (l < lines, p < kc) of `src` is readable; `dst` holds
/// `pairs * width` words.
pub unsafe fn pack_panel(
    src: Lines,
    lines: usize,
    kc: usize,
    width: usize,
    pairs: usize,
    dst: &mut [u32],
) {
    debug_assert!(lines <= width && pairs * 2 >= kc && dst.len() >= pairs * width);
    let full = kc / 2;
    #[cfg(target_arch = "x86_64")]
    if src.ls == 1 && lines == 32 && width == 32 && crate::cpu::isa::use_avx512() {
        // Lines contiguous (row-major B, column-major A): interleave two
        // 32-wide runs of depths 2q and 2q+1 with one permute each half.
        interleave_32(src, full, dst);
    } else {
        pack_scalar(src, lines, full, width, dst);
    }
    #[cfg(not(target_arch = "x86_64"))]
    pack_scalar(src, lines, full, width, dst);
    // Odd k: the last depth pairs with zero.
    if kc % 2 == 1 {
        let row = &mut dst[full * width..(full + 1) * width];
        for (l, w) in row.iter_mut().enumerate() {
            *w = if l < lines {
                pair(src.get(l, kc - 1), 0)
            } else {
                0
            };
        }
    }
    let done = kc.div_ceil(2);
    dst[done * width..pairs * width].fill(0);
}

unsafe fn pack_scalar(src: Lines, lines: usize, full: usize, width: usize, dst: &mut [u32]) {
    if src.ds == 1 {
        // A pair is one aligned-or-not 32-bit word in memory (row-major A,
        // column-major B such as Linear's weight.t()).
        for l in 0..lines {
            let base = src.ptr.offset(l as isize * src.ls) as *const u32;
            for q in 0..full {
                *dst.get_unchecked_mut(q * width + l) = (base as *const u16)
                    .add(2 * q)
                    .cast::<u32>()
                    .read_unaligned();
            }
        }
    } else {
        for q in 0..full {
            let row = &mut dst[q * width..q * width + lines];
            for (l, w) in row.iter_mut().enumerate() {
                *w = pair(src.get(l, 2 * q), src.get(l, 2 * q + 1));
            }
        }
    }
    if lines < width {
        for q in 0..full {
            dst[q * width + lines..(q + 1) * width].fill(0);
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw")]
unsafe fn interleave_32(src: Lines, full: usize, dst: &mut [u32]) {
    use std::arch::x86_64::*;
    // word l of the result: (even[l], odd[l]); 16-bit lanes 0..31 from the
    // first operand, 32..63 from the second.
    let mut lo_idx = [0u16; 32];
    let mut hi_idx = [0u16; 32];
    for l in 0..16 {
        lo_idx[2 * l] = l as u16;
        lo_idx[2 * l + 1] = 32 + l as u16;
        hi_idx[2 * l] = 16 + l as u16;
        hi_idx[2 * l + 1] = 48 + l as u16;
    }
    let lo = _mm512_loadu_si512(lo_idx.as_ptr() as *const _);
    let hi = _mm512_loadu_si512(hi_idx.as_ptr() as *const _);
    let out = dst.as_mut_ptr();
    for q in 0..full {
        let even = _mm512_loadu_si512(src.ptr.offset(2 * q as isize * src.ds) as *const _);
        let odd = _mm512_loadu_si512(src.ptr.offset((2 * q + 1) as isize * src.ds) as *const _);
        _mm512_storeu_si512(
            out.add(q * 32) as *mut _,
            _mm512_permutex2var_epi16(even, lo, odd),
        );
        _mm512_storeu_si512(
            out.add(q * 32 + 16) as *mut _,
            _mm512_permutex2var_epi16(even, hi, odd),
        );
    }
}

/// AMX's A tile wants each row's pairs contiguous: packs `rows` (<= 32) x
/// `kc` into `dst[(s * 32 + r) * 16 + j]` = pair (r, 32 s + 2 j), for
/// `steps` steps of 32 depths (zero past k and past the rows).
///
/// # Safety
/// As for `pack_panel`; `dst` holds `steps * 32 * 16` words.
pub unsafe fn pack_amx_a(src: Lines, rows: usize, kc: usize, steps: usize, dst: &mut [u32]) {
    let at = |r: usize, p: usize| if p < kc { src.get(r, p) } else { 0 };
    for s in 0..steps {
        for r in 0..32 {
            let row = &mut dst[(s * 32 + r) * 16..(s * 32 + r + 1) * 16];
            if r >= rows {
                row.fill(0);
                continue;
            }
            for (j, w) in row.iter_mut().enumerate() {
                let p = s * 32 + 2 * j;
                *w = pair(at(r, p), at(r, p + 1));
            }
        }
    }
}
