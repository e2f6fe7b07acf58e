//! The 6x16 AVX2+FMA micro-kernel: C[6x16] (+)= A-panel @ B-panel.
//!
//! Twelve 8-lane accumulators hold the whole tile in registers; each step
//! of `k` loads one 16-wide row of the packed B panel (two registers),
//! broadcasts six values of the packed A panel and issues twelve FMAs — the
//! two FMA pipes of a Zen or Intel core stay busy with no other traffic.

use super::{MR, NR};
#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// Where the tile goes: `rows` x `cols` (at most MR x NR) of C at `ptr`
/// with strides `rs`, `cs`; `overwrite` stores instead of accumulating.
#[derive(Clone, Copy)]
pub struct Tile {
    pub ptr: *mut f32,
    pub rs: isize,
    pub cs: isize,
    pub rows: usize,
    pub cols: usize,
    pub overwrite: bool,
}

/// Where the kernel finds row `p` (NR consecutive floats) of its B operand.
pub trait BRows: Copy {
    /// # Safety
    /// `p` is below the depth the kernel was called with.
    unsafe fn row(self, p: usize) -> *const f32;
}

/// A packed B panel: rows NR floats apart.
#[derive(Clone, Copy)]
pub struct Packed(pub *const f32);

impl BRows for Packed {
    #[inline(always)]
    unsafe fn row(self, p: usize) -> *const f32 {
        self.0.add(p * NR)
    }
}

/// Rows at `base + offsets[p]`: a convolution's input shifted by each kernel
/// tap (`rust/cpu/conv_direct.rs`), read in place instead of packed.
#[derive(Clone, Copy)]
pub struct Shifted {
    pub base: *const f32,
    pub offsets: *const usize,
}

impl BRows for Shifted {
    #[inline(always)]
    unsafe fn row(self, p: usize) -> *const f32 {
        self.base.add(*self.offsets.add(p))
    }
}

/// # Safety
/// The CPU has AVX2 and FMA; `a` holds `kc * MR` floats and `b` `kc` rows
/// of NR readable floats; every element of `tile` is inside C's allocation.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
pub unsafe fn kernel_6x16<B: BRows>(kc: usize, a: *const f32, b: B, tile: Tile) {
    let mut c00 = _mm256_setzero_ps();
    let mut c01 = _mm256_setzero_ps();
    let mut c10 = _mm256_setzero_ps();
    let mut c11 = _mm256_setzero_ps();
    let mut c20 = _mm256_setzero_ps();
    let mut c21 = _mm256_setzero_ps();
    let mut c30 = _mm256_setzero_ps();
    let mut c31 = _mm256_setzero_ps();
    let mut c40 = _mm256_setzero_ps();
    let mut c41 = _mm256_setzero_ps();
    let mut c50 = _mm256_setzero_ps();
    let mut c51 = _mm256_setzero_ps();
    // Fetch the tile of C now: its rows lie a row stride apart (a page apart
    // for wide matrices), and waiting for them after the loop stalled the
    // kernel on every tile, most at 2 threads where the cores share L3.
    if tile.cs == 1 {
        for i in 0..tile.rows {
            let p = tile.ptr.offset(i as isize * tile.rs) as *const i8;
            _mm_prefetch::<_MM_HINT_T0>(p);
            _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(4 * NR - 1));
        }
    }
    let mut ap = a;
    // One step of k: a 16-wide row of B times six values of A.
    macro_rules! step {
        ($p:expr) => {
            let bp = b.row($p);
            let b0 = _mm256_loadu_ps(bp);
            let b1 = _mm256_loadu_ps(bp.add(8));
            let x = _mm256_broadcast_ss(&*ap);
            c00 = _mm256_fmadd_ps(x, b0, c00);
            c01 = _mm256_fmadd_ps(x, b1, c01);
            let x = _mm256_broadcast_ss(&*ap.add(1));
            c10 = _mm256_fmadd_ps(x, b0, c10);
            c11 = _mm256_fmadd_ps(x, b1, c11);
            let x = _mm256_broadcast_ss(&*ap.add(2));
            c20 = _mm256_fmadd_ps(x, b0, c20);
            c21 = _mm256_fmadd_ps(x, b1, c21);
            let x = _mm256_broadcast_ss(&*ap.add(3));
            c30 = _mm256_fmadd_ps(x, b0, c30);
            c31 = _mm256_fmadd_ps(x, b1, c31);
            let x = _mm256_broadcast_ss(&*ap.add(4));
            c40 = _mm256_fmadd_ps(x, b0, c40);
            c41 = _mm256_fmadd_ps(x, b1, c41);
            let x = _mm256_broadcast_ss(&*ap.add(5));
            c50 = _mm256_fmadd_ps(x, b0, c50);
            c51 = _mm256_fmadd_ps(x, b1, c51);
            ap = ap.add(MR);
        };
    }
    // Four steps per iteration (fewer loop-counter uops), with the A panel
    // fetched a few cache lines ahead.
    for p in (0..kc / 4).map(|q| 4 * q) {
        _mm_prefetch::<_MM_HINT_T0>(ap.wrapping_add(8 * MR) as *const i8);
        step!(p);
        step!(p + 1);
        step!(p + 2);
        step!(p + 3);
    }
    for p in kc / 4 * 4..kc {
        step!(p);
    }
    let acc = [
        [c00, c01],
        [c10, c11],
        [c20, c21],
        [c30, c31],
        [c40, c41],
        [c50, c51],
    ];
    if tile.rows == MR && tile.cols == NR && tile.cs == 1 {
        for (i, row) in acc.iter().enumerate() {
            let p = tile.ptr.offset(i as isize * tile.rs);
            if tile.overwrite {
                _mm256_storeu_ps(p, row[0]);
                _mm256_storeu_ps(p.add(8), row[1]);
            } else {
                _mm256_storeu_ps(p, _mm256_add_ps(_mm256_loadu_ps(p), row[0]));
                _mm256_storeu_ps(p.add(8), _mm256_add_ps(_mm256_loadu_ps(p.add(8)), row[1]));
            }
        }
        return;
    }
    if tile.cs == 1 {
        // Edge tile of a row-major C: masked loads and stores of the live
        // columns (masked-off lanes are neither read nor written).
        let lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        let live = |from: i32| _mm256_cmpgt_epi32(_mm256_set1_epi32(tile.cols as i32 - from), lane);
        let (m0, m1) = (live(0), live(8));
        for (i, row) in acc.iter().enumerate().take(tile.rows) {
            let p = tile.ptr.offset(i as isize * tile.rs);
            let (mut v0, mut v1) = (row[0], row[1]);
            if !tile.overwrite {
                v0 = _mm256_add_ps(_mm256_maskload_ps(p, m0), v0);
                v1 = _mm256_add_ps(_mm256_maskload_ps(p.add(8), m1), v1);
            }
            _mm256_maskstore_ps(p, m0, v0);
            _mm256_maskstore_ps(p.add(8), m1, v1);
        }
        return;
    }
    // Strided C: spill the registers and write element by element.
    let mut tmp = [0f32; MR * NR];
    for (i, row) in acc.iter().enumerate() {
        _mm256_storeu_ps(tmp.as_mut_ptr().add(i * NR), row[0]);
        _mm256_storeu_ps(tmp.as_mut_ptr().add(i * NR + 8), row[1]);
    }
    for i in 0..tile.rows {
        for j in 0..tile.cols {
            let p = tile.ptr.offset(i as isize * tile.rs + j as isize * tile.cs);
            let v = tmp[i * NR + j];
            *p = if tile.overwrite { v } else { *p + v };
        }
    }
}
