//! A right operand packed once and reused by many products: the recurrent
//! layers multiply every time step by the same W_hh (`ops/rnn.rs`), and
//! re-packing its k x n panels at each step (a copy of the whole matrix per
//! step of m = batch rows) cost as much as a third of the kernel time.

use super::pack::{self, Block};
use super::{chunk, macro_kernel, micro_for_batch_rows, slice_len, split, Micro, Problem, BUFFERS};
use crate::parallel;
use crate::tensor::pool::Scratch;

/// B (k x n) in the panels of one kernel instance: for each depth slice s
/// (at most the instance's KC deep, balanced), the ceil(n/NR) panels of NR
/// columns, each slice_len x NR, zero-padded past column n.
pub struct PackedB {
    micro: Micro,
    k: usize,
    n: usize,
    /// Depth of every slice but possibly the last.
    kc: usize,
    /// n rounded up to whole panels.
    np: usize,
    /// (from the tensor buffer pool: one is packed per recurrent sequence)
    data: Scratch<f32>,
}

impl PackedB {
    /// Packs `b` (k x n, element (p, j) at `b.0 + p*b.1 + j*b.2`) for the
    /// kernel `isa::active()` picks, with the row tile that suits products
    /// of `rows` rows; None without a kernel (no AVX2).
    ///
    /// # Safety
    /// Every element of B is inside its allocation.
    pub unsafe fn new(
        k: usize,
        n: usize,
        b: (*const f32, isize, isize),
        rows: usize,
    ) -> Option<PackedB> {
        micro_for_batch_rows(rows).map(|m| Self::with(m, k, n, b))
    }

    /// `new` for the instance `micro` (tests run every instance the CPU has).
    ///
    /// # Safety
    /// As `new`.
    pub(crate) unsafe fn with(
        micro: Micro,
        k: usize,
        n: usize,
        b: (*const f32, isize, isize),
    ) -> PackedB {
        let nr = micro.nr;
        let kc = slice_len(k, micro.kc);
        let np = n.div_ceil(nr) * nr;
        let slices = k.div_ceil(kc);
        let mut data = Scratch::<f32>::zeroed(kc * np * slices);
        let src = Block {
            ptr: b.0,
            rs: b.1,
            cs: b.2,
        };
        for s in 0..slices {
            let pc = s * kc;
            let kcs = kc.min(k - pc);
            if n > 0 {
                pack::pack_b(
                    kcs,
                    n,
                    src.at(pc, 0),
                    nr,
                    &mut data[s * kc * np..][..kcs * np],
                );
            }
        }
        PackedB {
            micro,
            k,
            n,
            kc,
            np,
            data,
        }
    }

    pub fn k(&self) -> usize {
        self.k
    }

    pub fn n(&self) -> usize {
        self.n
    }
}

/// `C = A @ B` (or `C += A @ B`) for an m x k A and the packed B, on up to
/// `threads` threads (same slabs as `sgemm`, columns cut at panel edges).
///
/// # Safety
/// The CPU runs B's kernel (true while it was packed on this machine); every
/// element of A (m x k) and C (m x n) is inside its allocation; C does not
/// overlap A and no two C elements share an address.
pub unsafe fn sgemm_prepacked(
    m: usize,
    a: (*const f32, isize, isize),
    b: &PackedB,
    c: (*mut f32, isize, isize),
    accumulate: bool,
    threads: usize,
) {
    let (n, k) = (b.n, b.k);
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for i in 0..m {
                for j in 0..n {
                    *c.0.offset(i as isize * c.1 + j as isize * c.2) = 0.0;
                }
            }
        }
        return;
    }
    let (mr, nr) = (b.micro.mr, b.micro.nr);
    let p = Problem {
        micro: b.micro,
        k,
        a: Block {
            ptr: a.0,
            rs: a.1,
            cs: a.2,
        },
        // unused: B comes packed
        b: Block {
            ptr: std::ptr::null(),
            rs: 0,
            cs: 0,
        },
        c: c.0,
        crs: c.1,
        ccs: c.2,
        accumulate,
        epilogue: super::kernel::Epilogue::NONE,
    };
    let (tm, tn) = split(m, n, threads, mr, nr);
    if tm * tn == 1 {
        slab(&p, b, 0..m, 0..n);
        return;
    }
    let rows = chunk(m, tm, mr);
    let cols = chunk(n, tn, nr);
    parallel::for_each_task(tm * tn, |t| {
        let (i0, j0) = ((t / tn) * rows, (t % tn) * cols);
        if i0 < m && j0 < n {
            // SAFETY: slabs are disjoint and inside C (the caller's contract).
            unsafe { slab(&p, b, i0..(i0 + rows).min(m), j0..(j0 + cols).min(n)) }
        }
    });
}

/// Rows `ri` x columns `cj` of C (`cj.start` on a panel edge): per depth
/// slice, pack the A rows and run the kernel on B's panels in place.
unsafe fn slab(p: &Problem, b: &PackedB, ri: std::ops::Range<usize>, cj: std::ops::Range<usize>) {
    let Micro { mr, nr, mc, .. } = p.micro;
    let mc_max = mc.min(ri.len().div_ceil(mr) * mr);
    let width = cj.len().div_ceil(nr) * nr;
    BUFFERS.with(|bufs| {
        let (abuf, _) = &mut *bufs.borrow_mut();
        let apack = abuf.get(b.kc * mc_max);
        for (s, pc) in (0..b.k).step_by(b.kc).enumerate() {
            let kc = b.kc.min(b.k - pc);
            let bp = &b.data[s * b.kc * b.np + cj.start * kc..][..width * kc];
            let overwrite = s == 0 && !p.accumulate;
            for ic in ri.clone().step_by(mc) {
                let mc = mc.min(ri.end - ic);
                let ap = &mut apack[..kc * mc.div_ceil(mr) * mr];
                pack::pack_a(mc, kc, p.a.at(ic, pc), mr, ap);
                macro_kernel(
                    p,
                    (ic, mc),
                    (cj.start, cj.len()),
                    kc,
                    ap,
                    bp,
                    overwrite,
                    false,
                    |_| {},
                );
            }
        }
    });
}
