//! Packing: copy a block of A or B into the order the micro-kernel reads it,
//! so the kernel's loads are sequential whatever the operands' strides
//! (transposed operands, as in every backward pass, cost nothing extra).
//! Panels past the matrix edge are zero-padded; the kernel always runs a
//! full MR x NR tile.

use super::{MR, NR};

/// A strided matrix block: element (i, j) at `ptr + i*rs + j*cs`.
#[derive(Clone, Copy)]
pub struct Block {
    pub ptr: *const f32,
    pub rs: isize,
    pub cs: isize,
}

impl Block {
    /// The block starting at element (i, j).
    pub fn at(self, i: usize, j: usize) -> Block {
        Block {
            // wrapping: only dereferenced for elements inside the matrix
            ptr: self
                .ptr
                .wrapping_offset(i as isize * self.rs + j as isize * self.cs),
            ..self
        }
    }
    /// The transposed view of the same elements.
    fn t(self) -> Block {
        Block {
            ptr: self.ptr,
            rs: self.cs,
            cs: self.rs,
        }
    }
}

/// Packs `rows` x `kc` of `a` into panels of MR rows: panel q stores, for each
/// p in 0..kc, the MR values a[q*MR + i][p]. `dst` holds ceil(rows/MR)*MR*kc.
///
/// # Safety
/// Every element (i < rows, p < kc) of `a` is readable.
pub unsafe fn pack_a(rows: usize, kc: usize, a: Block, dst: &mut [f32]) {
    pack_panels::<MR>(rows, kc, a, dst)
}

/// Packs `kc` x `cols` of `b` into panels of NR columns: panel q stores, for
/// each p in 0..kc, the NR values b[p][q*NR + j].
///
/// # Safety
/// Every element (p < kc, j < cols) of `b` is readable.
pub unsafe fn pack_b(kc: usize, cols: usize, b: Block, dst: &mut [f32]) {
    // B's columns play the role of A's rows.
    pack_panels::<NR>(cols, kc, b.t(), dst)
}

/// Panels of W "rows" of `src` (rows x kc), each stored p-major: W values per p.
unsafe fn pack_panels<const W: usize>(rows: usize, kc: usize, src: Block, dst: &mut [f32]) {
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
                out.copy_from_slice(std::slice::from_raw_parts(from, W));
            }
        } else if s.cs == 1 {
            // Each row is contiguous along p: read rows, write with stride W.
            for i in 0..live {
                let row = std::slice::from_raw_parts(s.ptr.offset(i as isize * s.rs), kc);
                for (p, &v) in row.iter().enumerate() {
                    *panel.get_unchecked_mut(p * W + i) = v;
                }
            }
            zero_tail::<W>(panel, live);
        } else {
            for (p, out) in panel.chunks_exact_mut(W).enumerate() {
                for (i, o) in out.iter_mut().take(live).enumerate() {
                    *o = *s.ptr.offset(i as isize * s.rs + p as isize * s.cs);
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
