//! The register-blocked micro-kernel, written once over the vector type:
//! C[MR x NR] (+)= A-panel @ B-panel with NR = NV vectors.
//!
//! MR x NV accumulators hold the whole tile in registers; each step of `k`
//! loads one NR-wide row of the B panel (NV registers), broadcasts MR values
//! of the packed A panel and issues MR x NV FMAs. Instances:
//! - AVX2 + FMA, 6 x 16 (`kernel_6x16`): 12 of the 16 ymm registers;
//! - AVX-512, `AVX512_MR` x 32: 2 x MR of the 32 zmm registers, the
//!   broadcasts folded into the FMAs' memory operands.

use super::{MR, NR};
use crate::cpu::simd::{prefetch, Simd};

/// Where the tile goes: `rows` x `cols` (at most MR x NR) of C at `ptr`
/// with strides `rs`, `cs`; `overwrite` stores instead of accumulating;
/// `epilogue` is applied to the stored values.
#[derive(Clone, Copy)]
pub struct Tile {
    pub ptr: *mut f32,
    pub rs: isize,
    pub cs: isize,
    pub rows: usize,
    pub cols: usize,
    pub overwrite: bool,
    pub epilogue: Epilogue,
}

/// What happens to a tile's values on their way to C, after the products
/// are added to what C held (so on a product's last depth slice, the same
/// operations in the same order as separate passes over the finished C):
/// `+ bias[column]` where `bias` is not null, then relu's element function.
#[derive(Clone, Copy)]
pub struct Epilogue {
    /// The bias of the tile's first column (`cols` floats), or null.
    pub bias: *const f32,
    pub relu: bool,
}

impl Epilogue {
    /// Values stored as computed.
    pub const NONE: Epilogue = Epilogue {
        bias: std::ptr::null(),
        relu: false,
    };

    /// This epilogue for the tile whose first column is `j` columns on.
    ///
    /// # Safety
    /// `bias` (when not null) has at least `j` more floats.
    pub unsafe fn at_column(self, j: usize) -> Epilogue {
        Epilogue {
            bias: if self.bias.is_null() {
                self.bias
            } else {
                self.bias.add(j)
            },
            relu: self.relu,
        }
    }

    fn is_none(&self) -> bool {
        self.bias.is_null() && !self.relu
    }
}

/// Where the kernel finds row `p` (NR consecutive floats) of its B operand.
pub trait BRows: Copy {
    /// # Safety
    /// `p` is below the depth the kernel was called with.
    unsafe fn row(self, p: usize) -> *const f32;
    /// Vector `j` of row `p` (its LANES values from column j * LANES).
    ///
    /// # Safety
    /// As `row`; V's instruction set is enabled.
    #[inline(always)]
    unsafe fn load<V: Simd>(self, p: usize, j: usize) -> V {
        V::load(self.row(p).add(j * V::LANES))
    }
}

/// A packed B panel of the 6 x 16 kernel: rows NR (16) floats apart
/// (`Panel` is the same for any width; kept for the convolution code).
#[allow(dead_code)]
#[derive(Clone, Copy)]
pub struct Packed(pub *const f32);

impl BRows for Packed {
    #[inline(always)]
    unsafe fn row(self, p: usize) -> *const f32 {
        self.0.add(p * NR)
    }
}

/// A packed B panel of any kernel: rows `width` floats apart.
#[derive(Clone, Copy)]
pub struct Panel {
    pub ptr: *const f32,
    pub width: usize,
}

impl BRows for Panel {
    #[inline(always)]
    unsafe fn row(self, p: usize) -> *const f32 {
        self.ptr.add(p * self.width)
    }
}

/// Rows at `base + offsets[p]`: a convolution's input shifted by each kernel
/// tap (`rust/cpu/conv_implicit.rs`), read in place instead of packed.
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

/// Rows of 16 columns in two halves of 8 `gap` floats apart, each at
/// `base + offsets[p]` and `gap` further: two output rows of 8 of a
/// convolution (`rust/cpu/conv_implicit.rs`), whose padded input rows are
/// wider than 8, in one 16-column tile.
#[derive(Clone, Copy)]
pub struct SplitShifted {
    pub base: *const f32,
    pub offsets: *const usize,
    pub gap: usize,
}

impl BRows for SplitShifted {
    #[inline(always)]
    unsafe fn row(self, p: usize) -> *const f32 {
        self.base.add(*self.offsets.add(p))
    }
    #[inline(always)]
    unsafe fn load<V: Simd>(self, p: usize, j: usize) -> V {
        let r = self.row(p);
        if V::LANES == 8 {
            // (6 x 16 kernel: vector j is half j)
            V::load(r.add(j * self.gap))
        } else {
            V::load_halves(r, r.add(self.gap))
        }
    }
}

/// The 6 x 16 AVX2 kernel (also the implicit-GEMM convolutions' kernel).
///
/// # Safety
/// The CPU has AVX2 and FMA; `a` holds `kc * MR` floats and `b` `kc` rows
/// of NR readable floats; every element of `tile` is inside C's allocation.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
pub unsafe fn kernel_6x16<B: BRows>(kc: usize, a: *const f32, b: B, tile: Tile) {
    micro::<crate::cpu::simd::F32x8, MR, 2, B>(kc, a, b, tile)
}

/// The AVX2 kernels of fewer rows, `MR_` x 16 (5 or 4 rows: 10 or 8 of
/// the 16 ymm registers), for the small batch blocks of the recurrent
/// layers' steps that 6 rows pad (32 rows: 36 on the 6-row tile).
///
/// # Safety
/// As `kernel_6x16`, with MR_ rows.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
pub unsafe fn kernel_avx2_rows<const MR_: usize, B: BRows>(
    kc: usize,
    a: *const f32,
    b: B,
    tile: Tile,
) {
    micro::<crate::cpu::simd::F32x8, MR_, 2, B>(kc, a, b, tile)
}

/// Rows of the AVX-512 tile: 2 x 14 accumulators + 2 B vectors of the 32
/// zmm registers (measured against 12 x 32, 8 x 48 and 6 x 64: all within
/// the noise of this shared machine).
pub const AVX512_MR: usize = 14;
/// Columns of the AVX-512 tile (two zmm vectors).
pub const AVX512_NR: usize = 32;

/// The AVX-512 kernel, AVX512_MR x AVX512_NR.
///
/// # Safety
/// As `kernel_6x16`, with AVX-512 F/BW/VL/DQ, AVX512_MR and AVX512_NR.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")]
pub unsafe fn kernel_avx512<B: BRows>(kc: usize, a: *const f32, b: B, tile: Tile) {
    micro::<crate::cpu::simd::F32x16, AVX512_MR, 2, B>(kc, a, b, tile)
}

/// Rows of the short AVX-512 tile: 8 x 32 fits batches of 8k rows
/// exactly (a batch of 64 runs 5 x 14 = 70 rows on the tall tile).
pub const AVX512_SHORT_MR: usize = 8;

/// The AVX-512 kernel, AVX512_SHORT_MR x AVX512_NR.
///
/// # Safety
/// As `kernel_avx512`, with AVX512_SHORT_MR rows.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")]
pub unsafe fn kernel_avx512_short<B: BRows>(kc: usize, a: *const f32, b: B, tile: Tile) {
    micro::<crate::cpu::simd::F32x16, AVX512_SHORT_MR, 2, B>(kc, a, b, tile)
}

/// Rows of the mid AVX-512 tile: 10 x 32 fits the small batches of
/// recurrent layers exactly (20 rows, or 10 per thread of 2, ran 24 or 14
/// padded rows on the other tiles).
pub const AVX512_MID_MR: usize = 10;

/// The AVX-512 kernel, AVX512_MID_MR x AVX512_NR.
///
/// # Safety
/// As `kernel_avx512`, with AVX512_MID_MR rows.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")]
pub unsafe fn kernel_avx512_mid<B: BRows>(kc: usize, a: *const f32, b: B, tile: Tile) {
    micro::<crate::cpu::simd::F32x16, AVX512_MID_MR, 2, B>(kc, a, b, tile)
}

/// The AVX-512 kernels of the implicit-GEMM convolutions: `MR_` x 16 (one
/// zmm per row), whose 16 columns are 16 consecutive output positions as
/// in `kernel_6x16` (`rust/cpu/conv_implicit.rs`), with 16 or 8 output
/// channels per panel (64 channels: 4 panels of 16 instead of 11 of 6).
///
/// # Safety
/// As `kernel_avx512`, with MR_ rows and 16 columns.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")]
pub unsafe fn kernel_avx512_x16<const MR_: usize, B: BRows>(
    kc: usize,
    a: *const f32,
    b: B,
    tile: Tile,
) {
    micro::<crate::cpu::simd::F32x16, MR_, 1, B>(kc, a, b, tile)
}

/// The kernel for vectors `V`, MR_ rows and NV vectors per row (inlined
/// into the `#[target_feature]` instances above).
///
/// # Safety
/// `V`'s instruction set is enabled; `a` holds `kc * MR_` floats, `b` `kc`
/// rows of NV * LANES readable floats; `tile` is inside C.
#[inline(always)]
pub unsafe fn micro<V: Simd, const MR_: usize, const NV: usize, B: BRows>(
    kc: usize,
    a: *const f32,
    b: B,
    tile: Tile,
) {
    let nr = NV * V::LANES;
    let mut acc = [[V::zero(); NV]; MR_];
    // Fetch the tile of C now: its rows lie a row stride apart (a page apart
    // for wide matrices), and waiting for them after the loop stalled the
    // kernel on every tile, most at 2 threads where the cores share L3.
    if tile.cs == 1 {
        for i in 0..tile.rows {
            let p = tile.ptr.offset(i as isize * tile.rs);
            for line in (0..nr).step_by(16) {
                prefetch(p.wrapping_add(line));
            }
            prefetch(p.wrapping_add(nr - 1));
        }
    }
    let mut ap = a;
    // One step of k: an NR-wide row of B times MR_ values of A.
    macro_rules! step {
        ($p:expr) => {
            let mut bv = [V::zero(); NV];
            for (j, v) in bv.iter_mut().enumerate() {
                *v = b.load::<V>($p, j);
            }
            for (i, row) in acc.iter_mut().enumerate() {
                let x = V::splat(*ap.add(i));
                for (c, v) in row.iter_mut().zip(bv) {
                    *c = V::fmadd(x, v, *c);
                }
            }
            ap = ap.add(MR_);
        };
    }
    // Four steps per iteration (fewer loop-counter uops), with the A panel
    // fetched a few cache lines ahead.
    for p in (0..kc / 4).map(|q| 4 * q) {
        prefetch(ap.wrapping_add(8 * MR_));
        step!(p);
        step!(p + 1);
        step!(p + 2);
        step!(p + 3);
    }
    for p in kc / 4 * 4..kc {
        step!(p);
    }
    // Copy the accumulators out with constant indices only (a loop LLVM
    // unrolls fully), transposed so the copy cannot be folded away: the
    // stores below index rows at run time, and done on `acc` itself they
    // kept the 28 AVX-512 accumulators in memory (a load and a store around
    // every FMA).
    let mut out = [[V::zero(); MR_]; NV];
    #[allow(clippy::needless_range_loop)]
    for i in 0..MR_ {
        for j in 0..NV {
            out[j][i] = acc[i][j];
        }
    }
    if tile.cs == 1 {
        let full = tile.rows == MR_ && tile.cols == nr;
        if !tile.epilogue.is_none() {
            return store_with_epilogue::<V, MR_, NV>(&out, tile);
        }
        for i in 0..tile.rows {
            let p = tile.ptr.offset(i as isize * tile.rs);
            for (j, col) in out.iter().enumerate() {
                let (q, v) = (p.add(j * V::LANES), col[i]);
                let live = tile.cols.saturating_sub(j * V::LANES);
                if full || live >= V::LANES {
                    let v = if tile.overwrite { v } else { V::load(q).add(v) };
                    v.store(q);
                } else if live > 0 {
                    // Edge tile of a row-major C: masked loads and stores of
                    // the live columns (masked-off lanes are neither read
                    // nor written).
                    let v = if tile.overwrite {
                        v
                    } else {
                        V::load_first(q, live).add(v)
                    };
                    v.store_first(q, live);
                }
            }
        }
        return;
    }
    // Strided C: spill each register and write element by element.
    let mut tmp = [0f32; 16];
    let epi = tile.epilogue;
    for i in 0..tile.rows {
        for (j, col) in out.iter().enumerate() {
            col[i].store(tmp.as_mut_ptr());
            for (l, &t) in tmp.iter().enumerate().take(V::LANES) {
                let c = j * V::LANES + l;
                if c < tile.cols {
                    let p = tile.ptr.offset(i as isize * tile.rs + c as isize * tile.cs);
                    let mut v = if tile.overwrite { t } else { *p + t };
                    if !epi.bias.is_null() {
                        v += *epi.bias.add(c);
                    }
                    if epi.relu && v < 0.0 {
                        v = 0.0;
                    }
                    *p = v;
                }
            }
        }
    }
}

/// The row-major store of `micro` with an epilogue (kept out of the plain
/// store's loop, which stays as it was).
#[inline(always)]
unsafe fn store_with_epilogue<V: Simd, const MR_: usize, const NV: usize>(
    out: &[[V; MR_]; NV],
    tile: Tile,
) {
    let epi = tile.epilogue;
    // the bias vectors of the tile's columns, loaded once
    let mut bias = [V::zero(); NV];
    if !epi.bias.is_null() {
        for (j, b) in bias.iter_mut().enumerate() {
            let live = tile.cols.saturating_sub(j * V::LANES);
            if live >= V::LANES {
                *b = V::load(epi.bias.add(j * V::LANES));
            } else if live > 0 {
                *b = V::load_first(epi.bias.add(j * V::LANES), live);
            }
        }
    }
    for i in 0..tile.rows {
        let p = tile.ptr.offset(i as isize * tile.rs);
        for (j, col) in out.iter().enumerate() {
            let (q, v) = (p.add(j * V::LANES), col[i]);
            let live = tile.cols.saturating_sub(j * V::LANES);
            if live == 0 {
                continue;
            }
            let whole = live >= V::LANES;
            let mut v = match (tile.overwrite, whole) {
                (true, _) => v,
                (false, true) => V::load(q).add(v),
                (false, false) => V::load_first(q, live).add(v),
            };
            if !epi.bias.is_null() {
                v = v.add(bias[j]);
            }
            if epi.relu {
                v = v.relu();
            }
            if whole {
                v.store(q);
            } else {
                v.store_first(q, live);
            }
        }
    }
}
