//! Fused scaled dot-product attention, FlashAttention-style: for each
//! (batch*head) and tile of query rows, the key/value tiles stream past with
//! an online softmax (running row max and sum), so the L x S score matrix is
//! never stored; only the row logsumexp is kept for the backward, which
//! recomputes each score tile from it.
//!
//! Tile products go through `GemmElem::gemm` on one thread (the tasks are
//! already spread over the team). Fully masked rows give 0 output and 0
//! gradient, as PyTorch's CPU flash kernel.

use crate::cpu::gemm::{GemmElem, MatRef};
use crate::tensor::dtype::Float;

/// Query rows per tile.
const BR: usize = 64;
/// Key rows per tile: up to 256 at once (short sequences in one tile, so
/// the tile products are wide and few; a 64 x 256 score tile is 64 KiB).
const BC: usize = 256;
/// Key rows per task of the backward's key pass (single long sequences).
const KEY_TASK: usize = 64;

/// Additive mask (already in the compute dtype, -inf where a position
/// takes no part), read through strides: batch `n` starts at `offsets[n]`.
pub struct Mask<'a, T> {
    pub data: &'a [T],
    pub offsets: Vec<usize>,
    pub row_stride: usize,
    pub col_stride: usize,
}

/// An operand read through strides: batch entry `b`'s matrix starts at
/// `offsets[b]`, its rows `rs` apart, its columns adjacent (so the heads of
/// a (B, T, H, D) projection are read in place, not copied).
pub struct Operand<'a, T> {
    pub data: &'a [T],
    pub offsets: Vec<usize>,
    pub rs: usize,
}

impl<'a, T> Operand<'a, T> {
    /// `n` dense matrices of `rows` x `cols`, one after another.
    pub fn dense(data: &'a [T], n: usize, rows: usize, cols: usize) -> Self {
        Operand {
            data,
            offsets: (0..n).map(|b| b * rows * cols).collect(),
            rs: cols,
        }
    }

    /// Whether every entry's `rows` x `cols` matrix lies inside `data`.
    pub fn fits(&self, rows: usize, cols: usize) -> bool {
        rows == 0
            || cols == 0
            || self
                .offsets
                .iter()
                .all(|&o| o + (rows - 1) * self.rs + cols <= self.data.len())
    }

    fn entry(&self, b: usize) -> View<'a, T> {
        View {
            data: self.data,
            off: self.offsets[b],
            rs: self.rs,
        }
    }
}

/// Where a result goes: batch entry `b`'s matrix starts at `offsets[b]` of
/// the buffer at `ptr`, its rows `rs` apart, its columns adjacent (dense
/// (n, rows, cols) results, or the heads of a packed (B, T, 3E) gradient).
/// Tasks compute into their own dense scratch and copy their rows out here.
pub struct Dest<T> {
    ptr: crate::parallel::SendPtr<T>,
    len: usize,
    offsets: Vec<usize>,
    rs: usize,
}

impl<T: Copy> Dest<T> {
    /// `n` dense matrices of `rows` x `cols`, one after another, in `buf`.
    pub fn dense(buf: &mut [T], n: usize, rows: usize, cols: usize) -> Self {
        Dest {
            ptr: crate::parallel::SendPtr(buf.as_mut_ptr()),
            len: buf.len(),
            offsets: (0..n).map(|b| b * rows * cols).collect(),
            rs: cols,
        }
    }

    /// Entries at `offsets` of the `len` elements at `ptr`, rows `rs` apart;
    /// `None` unless every entry's `rows` x `cols` matrix lies inside them.
    /// (Several `Dest`s may share one buffer, as the q, k and v column
    /// blocks of a packed gradient do, when their entries are disjoint.)
    ///
    /// # Safety
    /// `ptr` is valid for writes of `len` elements while the `Dest` is
    /// used, and nothing else reads or writes the entries' elements then.
    pub unsafe fn strided(
        ptr: *mut T,
        len: usize,
        offsets: Vec<usize>,
        rs: usize,
        (rows, cols): (usize, usize),
    ) -> Option<Self> {
        let fits =
            rows == 0 || cols == 0 || offsets.iter().all(|&o| o + (rows - 1) * rs + cols <= len);
        fits.then_some(Dest {
            ptr: crate::parallel::SendPtr(ptr),
            len,
            offsets,
            rs,
        })
    }

    /// Rows `r0..r0 + rows` of entry `b` from the dense `src` (`cols` wide).
    ///
    /// # Safety
    /// No other thread writes these rows meanwhile, and they lie inside the
    /// buffer (`dense`/`strided` checked the whole matrices; `r0 + rows` is
    /// within them).
    unsafe fn write_rows(&self, b: usize, r0: usize, src: &[T], rows: usize, cols: usize) {
        for r in 0..rows {
            let at = self.offsets[b] + (r0 + r) * self.rs;
            debug_assert!(at + cols <= self.len);
            std::ptr::copy_nonoverlapping(src.as_ptr().add(r * cols), { self.ptr }.0.add(at), cols);
        }
    }
}

/// One batch entry of an `Operand`: row `r` starts at `off + r * rs`.
#[derive(Clone, Copy)]
struct View<'a, T> {
    data: &'a [T],
    off: usize,
    rs: usize,
}

impl<'a, T> View<'a, T> {
    /// The matrix from row `r` on, as a GEMM operand (transposed: its
    /// columns are the rows).
    fn rows(&self, r: usize, transposed: bool) -> MatRef {
        if transposed {
            mat(self.off + r * self.rs, 1, self.rs)
        } else {
            mat(self.off + r * self.rs, self.rs, 1)
        }
    }

    fn row(&self, r: usize, len: usize) -> &'a [T] {
        &self.data[self.off + r * self.rs..self.off + r * self.rs + len]
    }
}

/// Problem sizes: `n` batches of `l` queries and `s` keys, head dims `e`
/// (query/key) and `ev` (value).
#[derive(Clone, Copy)]
pub struct Dims {
    pub n: usize,
    pub l: usize,
    pub s: usize,
    pub e: usize,
    pub ev: usize,
}

/// Multiply-adds below which a call stays on the calling thread (waking the
/// team costs more than it saves).
const PARALLEL_MACS: usize = 1 << 17;

/// `task(i)` for `i < tasks`: spread over the team unless the whole call
/// is small.
fn run_tasks(tasks: usize, d: Dims, task: impl Fn(usize) + Sync) {
    if d.n * d.l * d.s * (d.e + d.ev) < PARALLEL_MACS {
        (0..tasks).for_each(task);
    } else {
        crate::parallel::for_each_task(tasks, task);
    }
}

fn mat(off: usize, rs: usize, cs: usize) -> MatRef {
    MatRef {
        off,
        rs: rs as isize,
        cs: cs as isize,
    }
}

/// `c = a @ b` (or `+=`) on one thread.
#[allow(clippy::too_many_arguments)]
fn gemm<T: GemmElem>(
    (m, n, k): (usize, usize, usize),
    a: &[T],
    av: MatRef,
    b: &[T],
    bv: MatRef,
    c: &mut [T],
    cv: MatRef,
    accumulate: bool,
) {
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for i in 0..m {
                for j in 0..n {
                    c[cv.off + i * cv.rs as usize + j * cv.cs as usize] = T::default();
                }
            }
        }
        return;
    }
    // SAFETY: callers pass views inside their slices (tile bounds are
    // clipped to the problem sizes) and c never aliases a or b.
    unsafe { T::gemm(m, n, k, a, av, b, bv, c, cv, accumulate, 1) }
}

/// Scaled, masked scores of query rows `r0..r1` against keys `c0..c1`
/// into `sc` (row stride `bc`): -inf where masked.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn scores<T: Float>(
    q: View<T>,
    k: View<T>,
    d: Dims,
    (r0, r1, c0, c1): (usize, usize, usize, usize),
    scale: T,
    mask: Option<(&Mask<T>, usize)>,
    causal: bool,
    sc: &mut [T],
) {
    let (br, bc) = (r1 - r0, c1 - c0);
    gemm(
        (br, bc, d.e),
        q.data,
        q.rows(r0, false),
        k.data,
        k.rows(c0, true),
        sc,
        mat(0, bc, 1),
        false,
    );
    let ninf = T::c(f64::NEG_INFINITY);
    for r in 0..br {
        let row = &mut sc[r * bc..(r + 1) * bc];
        for x in row.iter_mut() {
            *x = *x * scale;
        }
        if let Some((m, base)) = mask {
            let mrow = base + (r0 + r) * m.row_stride + c0 * m.col_stride;
            for (c, x) in row.iter_mut().enumerate() {
                *x += m.data[mrow + c * m.col_stride];
            }
        }
        if causal {
            // top-left aligned: query i sees keys j <= i
            let first_masked = (r0 + r + 1).saturating_sub(c0);
            for x in row.iter_mut().skip(first_masked) {
                *x = ninf;
            }
        }
    }
}

/// Forward: `out` (n, l, ev) and the row logsumexp `lse` (n, l), +inf for
/// fully masked rows (so the backward's exp(s - lse) is 0 there).
#[allow(clippy::too_many_arguments)]
pub fn forward<T: Float>(
    q: &Operand<T>,
    k: &Operand<T>,
    v: &Operand<T>,
    d: Dims,
    scale: f64,
    mask: Option<&Mask<T>>,
    causal: bool,
    out: &Dest<T>,
    lse: &mut [T],
) {
    let qtiles = d.l.div_ceil(BR);
    if d.l == 0 || d.n == 0 {
        return;
    }
    let lsep = crate::parallel::SendPtr(lse.as_mut_ptr());
    run_tasks(d.n * qtiles, d, |task| {
        let (b, t) = (task / qtiles, task % qtiles);
        let (r0, r1) = (t * BR, ((t + 1) * BR).min(d.l));
        let br = r1 - r0;
        let mut o = vec![T::c(0.0); br * d.ev];
        // SAFETY: each task writes rows r0..r1 of batch b only.
        let ls = unsafe { std::slice::from_raw_parts_mut({ lsep }.0.add(b * d.l + r0), br) };
        let (qb, kb, vb) = (q.entry(b), k.entry(b), v.entry(b));
        let mb = mask.map(|m| (m, m.offsets[b]));
        // compiled for AVX2+FMA where available, so the row loops vectorise
        crate::cpu::multiversion::with_fma(
            #[inline(always)]
            || forward_tile(qb, kb, vb, d, (r0, r1), T::c(scale), mb, causal, &mut o, ls),
        );
        // SAFETY: as above (rows r0..r1 of entry b).
        unsafe { out.write_rows(b, r0, &o, br, d.ev) };
    });
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn forward_tile<T: Float>(
    q: View<T>,
    k: View<T>,
    v: View<T>,
    d: Dims,
    (r0, r1): (usize, usize),
    scale: T,
    mask: Option<(&Mask<T>, usize)>,
    causal: bool,
    o: &mut [T],
    lse: &mut [T],
) {
    let br = r1 - r0;
    let ninf = T::c(f64::NEG_INFINITY);
    let zero = T::c(0.0);
    let mut m = vec![ninf; br];
    let mut l = vec![zero; br];
    o.iter_mut().for_each(|x| *x = zero);
    let mut sc = vec![zero; br * BC];
    // causal: keys past the last row's position take no part
    let s_end = if causal { d.s.min(r1) } else { d.s };
    let mut c0 = 0;
    while c0 < s_end {
        let c1 = (c0 + BC).min(s_end);
        let bc = c1 - c0;
        scores(q, k, d, (r0, r1, c0, c1), scale, mask, causal, &mut sc);
        for r in 0..br {
            let row = &mut sc[r * bc..(r + 1) * bc];
            let tile_max = crate::cpu::vmath::max_lanes(row);
            let mx = if tile_max > m[r] || tile_max.is_nan() {
                tile_max
            } else {
                m[r]
            };
            if mx == ninf {
                row.iter_mut().for_each(|x| *x = zero);
                continue;
            }
            let alpha = if m[r] == ninf {
                zero
            } else {
                (m[r] - mx).fast_exp_nonpositive()
            };
            for x in row.iter_mut() {
                *x = (*x - mx).fast_exp_nonpositive();
            }
            let sum = crate::cpu::vmath::sum_lanes(row);
            l[r] = l[r] * alpha + T::c(sum);
            m[r] = mx;
            if alpha != T::c(1.0) {
                for x in &mut o[r * d.ev..(r + 1) * d.ev] {
                    *x = *x * alpha;
                }
            }
        }
        gemm(
            (br, d.ev, bc),
            &sc,
            mat(0, bc, 1),
            v.data,
            v.rows(c0, false),
            o,
            mat(0, d.ev, 1),
            true,
        );
        c0 = c1;
    }
    for r in 0..br {
        if l[r] == zero {
            lse[r] = T::c(f64::INFINITY);
            o[r * d.ev..(r + 1) * d.ev]
                .iter_mut()
                .for_each(|x| *x = zero);
        } else {
            let inv = T::c(1.0) / l[r];
            for x in &mut o[r * d.ev..(r + 1) * d.ev] {
                *x = *x * inv;
            }
            lse[r] = m[r] + l[r].ln();
        }
    }
}

/// Backward: gradients `gq` (n, l, e), `gk` (n, s, e), `gv` (n, s, ev)
/// from the output gradient `go`, the output and its row logsumexp.
/// With enough batch entries, one task per entry (it owns that entry's
/// slices of all three). With few (a single long sequence), two passes
/// instead, so every thread has work: tasks per key tile make dK, dV, then
/// tasks per query tile make dQ (the score tiles computed twice).
#[allow(clippy::too_many_arguments)]
pub fn backward<T: Float>(
    q: &Operand<T>,
    k: &Operand<T>,
    v: &Operand<T>,
    out: &Operand<T>,
    lse: &[T],
    go: &Operand<T>,
    d: Dims,
    scale: f64,
    mask: Option<&Mask<T>>,
    causal: bool,
    (gq, gk, gv): (&Dest<T>, &Dest<T>, &Dest<T>),
) {
    let zero = T::c(0.0);
    // D_r = rowsum(dO * O), rows split over the team (one thread made it
    // a serial stretch of every backward)
    let mut dsum = vec![zero; d.n * d.l];
    let row_sums = |first: usize, sums: &mut [T]| {
        for (i, s) in sums.iter_mut().enumerate() {
            let r = first + i;
            let g = go.entry(r / d.l).row(r % d.l, d.ev);
            let o = out.entry(r / d.l).row(r % d.l, d.ev);
            *s = dot_lanes(g, o);
        }
    };
    const DSUM_ROWS: usize = 256;
    if d.n * d.l * d.ev < (1 << 16) {
        row_sums(0, &mut dsum);
    } else {
        crate::parallel::for_each_chunk_mut(&mut dsum, DSUM_ROWS, |i, c| {
            row_sums(i * DSUM_ROWS, c)
        });
    }
    let scale = T::c(scale);
    let inputs = |b: usize| Inputs {
        q: q.entry(b),
        k: k.entry(b),
        v: v.entry(b),
        lse: &lse[b * d.l..(b + 1) * d.l],
        dsum: &dsum[b * d.l..(b + 1) * d.l],
        go: go.entry(b),
        mask: mask.map(|m| (m, m.offsets[b])),
    };
    let threads = crate::parallel::num_threads();
    if d.n >= 2 * threads || threads == 1 {
        run_tasks(d.n, d, |b| {
            let mut gqb = vec![zero; d.l * d.e];
            let mut gkb = vec![zero; d.s * d.e];
            let mut gvb = vec![zero; d.s * d.ev];
            let x = inputs(b);
            crate::cpu::multiversion::with_fma(
                #[inline(always)]
                || {
                    backward_block(
                        &x,
                        d,
                        scale,
                        causal,
                        ((0, d.l), (0, d.s)),
                        (Some(&mut gqb), Some(&mut gkb), Some(&mut gvb)),
                    )
                },
            );
            // SAFETY: batch entry b's gradients belong to this task alone.
            unsafe {
                gq.write_rows(b, 0, &gqb, d.l, d.e);
                gk.write_rows(b, 0, &gkb, d.s, d.e);
                gv.write_rows(b, 0, &gvb, d.s, d.ev);
            }
        });
        return;
    }
    let ktiles = d.s.div_ceil(KEY_TASK);
    run_tasks(d.n * ktiles, d, |task| {
        let (b, j) = (task / ktiles, task % ktiles);
        let (c0, c1) = (j * KEY_TASK, ((j + 1) * KEY_TASK).min(d.s));
        let mut gkt = vec![zero; (c1 - c0) * d.e];
        let mut gvt = vec![zero; (c1 - c0) * d.ev];
        let x = inputs(b);
        crate::cpu::multiversion::with_fma(
            #[inline(always)]
            || {
                backward_block(
                    &x,
                    d,
                    scale,
                    causal,
                    ((0, d.l), (c0, c1)),
                    (None, Some(&mut gkt), Some(&mut gvt)),
                )
            },
        );
        // SAFETY: rows c0..c1 of entry b's dK and dV belong to this task.
        unsafe {
            gk.write_rows(b, c0, &gkt, c1 - c0, d.e);
            gv.write_rows(b, c0, &gvt, c1 - c0, d.ev);
        }
    });
    let qtiles = d.l.div_ceil(BR);
    run_tasks(d.n * qtiles, d, |task| {
        let (b, i) = (task / qtiles, task % qtiles);
        let (r0, r1) = (i * BR, ((i + 1) * BR).min(d.l));
        let mut gqt = vec![zero; (r1 - r0) * d.e];
        let x = inputs(b);
        crate::cpu::multiversion::with_fma(
            #[inline(always)]
            || {
                backward_block(
                    &x,
                    d,
                    scale,
                    causal,
                    ((r0, r1), (0, d.s)),
                    (Some(&mut gqt), None, None),
                )
            },
        );
        // SAFETY: rows r0..r1 of entry b's dQ belong to this task.
        unsafe { gq.write_rows(b, r0, &gqt, r1 - r0, d.e) };
    });
}

/// `sum(a * b)` in 8 interleaved partial sums (one chain of dependent
/// additions made each row a serial stretch of latency: 6% of a backward).
#[inline(always)]
fn dot_lanes<T: Float>(a: &[T], b: &[T]) -> T {
    let mut acc = [T::c(0.0); 8];
    let (ac, bc) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ar, br) = (ac.remainder(), bc.remainder());
    for (x, y) in ac.zip(bc) {
        for ((s, &xv), &yv) in acc.iter_mut().zip(x).zip(y) {
            *s += xv * yv;
        }
    }
    let mut s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (&x, &y) in ar.iter().zip(br) {
        s += x * y;
    }
    s
}

/// The gradient slices a backward block writes (dQ, dK, dV), where given.
type Outputs<'a, T> = (
    Option<&'a mut [T]>,
    Option<&'a mut [T]>,
    Option<&'a mut [T]>,
);

/// One batch entry's inputs to the backward.
struct Inputs<'a, T> {
    q: View<'a, T>,
    k: View<'a, T>,
    v: View<'a, T>,
    lse: &'a [T],
    dsum: &'a [T],
    go: View<'a, T>,
    mask: Option<(&'a Mask<'a, T>, usize)>,
}

/// Gradient contributions of query rows `rows` against keys `cols` of one
/// batch entry, tile by tile: into `gq` (rows `rows`, indexed from its
/// start), `gk` and `gv` (rows `cols`, likewise), whichever are given.
#[inline(always)]
fn backward_block<T: Float>(
    x: &Inputs<T>,
    d: Dims,
    scale: T,
    causal: bool,
    (rows, cols): ((usize, usize), (usize, usize)),
    (mut gq, mut gk, mut gv): Outputs<'_, T>,
) {
    let zero = T::c(0.0);
    let mut p = vec![zero; BR * BC];
    let mut dp = vec![zero; BR * BC];
    let mut c0 = cols.0;
    while c0 < cols.1 {
        let c1 = (c0 + BC).min(cols.1);
        // causal: query rows before c0 see none of these keys
        let mut r0 = if causal {
            rows.0.max(c0 / BR * BR)
        } else {
            rows.0
        };
        while r0 < rows.1 {
            let r1 = (r0 + BR).min(rows.1);
            let br = r1 - r0;
            // causal: keys past the last row's position take no part (c0 < r1
            // as r0 >= c0, all tile bounds being multiples of 64)
            let c1 = if causal { c1.min(r1) } else { c1 };
            let bc = c1 - c0;
            scores(x.q, x.k, d, (r0, r1, c0, c1), scale, x.mask, causal, &mut p);
            for r in 0..br {
                let ls = x.lse[r0 + r];
                let row = &mut p[r * bc..(r + 1) * bc];
                if ls == T::c(f64::INFINITY) {
                    row.iter_mut().for_each(|x| *x = zero);
                } else {
                    for x in row.iter_mut() {
                        *x = (*x - ls).fast_exp_nonpositive();
                    }
                }
            }
            if let Some(gv) = gv.as_deref_mut() {
                // dV_j += P^T dO_i
                gemm(
                    (bc, d.ev, br),
                    &p,
                    mat(0, 1, bc),
                    x.go.data,
                    x.go.rows(r0, false),
                    gv,
                    mat((c0 - cols.0) * d.ev, d.ev, 1),
                    true,
                );
            }
            // dP = dO_i V_j^T
            gemm(
                (br, bc, d.ev),
                x.go.data,
                x.go.rows(r0, false),
                x.v.data,
                x.v.rows(c0, true),
                &mut dp,
                mat(0, bc, 1),
                false,
            );
            // dS = P * (dP - D) * scale (gradient of the unscaled q.k)
            for r in 0..br {
                let dr = x.dsum[r0 + r];
                for c in 0..bc {
                    let i = r * bc + c;
                    dp[i] = p[i] * (dp[i] - dr) * scale;
                }
            }
            if let Some(gq) = gq.as_deref_mut() {
                // dQ_i += dS K_j
                gemm(
                    (br, d.e, bc),
                    &dp,
                    mat(0, bc, 1),
                    x.k.data,
                    x.k.rows(c0, false),
                    gq,
                    mat((r0 - rows.0) * d.e, d.e, 1),
                    true,
                );
            }
            if let Some(gk) = gk.as_deref_mut() {
                // dK_j += dS^T Q_i
                gemm(
                    (bc, d.e, br),
                    &dp,
                    mat(0, 1, bc),
                    x.q.data,
                    x.q.rows(r0, false),
                    gk,
                    mat((c0 - cols.0) * d.e, d.e, 1),
                    true,
                );
            }
            r0 = r1;
        }
        c0 = c1;
    }
}
