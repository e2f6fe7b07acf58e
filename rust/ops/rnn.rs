//! Fused recurrent layer: one direction of one layer of RNN (tanh/relu),
//! LSTM or GRU over a whole sequence as one differentiable op.
//!
//! Forward: one GEMM projects the whole input sequence (`x @ W_ih^T + b`),
//! then per time step one GEMM `h_{t-1} @ W_hh^T` and one pass of the
//! pointwise kernel (`cpu::rnn`), which keeps what backward needs (activated
//! gates, cell states). The LSTM instead runs one GEMM per step over the
//! stacked operand `[x_t | h_{t-1} | 1] @ [W_ih^T ; W_hh^T]`, whose rows it
//! keeps for the weight gradients. Backward runs the steps in reverse: per step one
//! pointwise pass giving the gate gradients and one GEMM `dgates @ W_hh` for
//! `dh_{t-1}`; the weight and input gradients are then big GEMMs over all
//! steps at once. Under `create_graph` the backward differentiates the same
//! layer written with differentiable ops instead (`autograd::composite`), so
//! higher derivatives are exact.

use crate::autograd::{composite, record, SavedTensor};
use crate::bail;
use crate::cpu::gemm::{threads_for, MatRef};
use crate::cpu::rnn as k;
use crate::error::Result;
use crate::parallel::SendPtr;
use crate::tensor::dtype::Float;
use crate::tensor::pool::Scratch;
use crate::tensor::storage::BufferElem;
use crate::tensor::{DType, Tensor};
use std::ops::Range;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    RnnTanh,
    RnnRelu,
    Lstm,
    Gru,
}

impl Mode {
    /// PyTorch's mode names (`RNNBase.mode`).
    pub fn parse(s: &str) -> Result<Mode> {
        Ok(match s {
            "RNN_TANH" => Mode::RnnTanh,
            "RNN_RELU" => Mode::RnnRelu,
            "LSTM" => Mode::Lstm,
            "GRU" => Mode::Gru,
            _ => bail!(Value, "Unknown mode '{s}'"),
        })
    }
    fn gates(self) -> usize {
        match self {
            Mode::Lstm => 4,
            Mode::Gru => 3,
            _ => 1,
        }
    }
}

/// Sizes: sequence length, batch, input and hidden size.
#[derive(Clone, Copy, Debug)]
struct Dims {
    t: usize,
    b: usize,
    i: usize,
    h: usize,
}

fn row_major(off: usize, ld: usize) -> MatRef {
    MatRef {
        off,
        rs: ld as isize,
        cs: 1,
    }
}

/// The transpose of a row-major matrix with leading dimension `ld`.
fn transposed(off: usize, ld: usize) -> MatRef {
    MatRef {
        off,
        rs: 1,
        cs: ld as isize,
    }
}

/// `C (+)= A @ B` (m x k times k x n) with every view inside its slice.
#[allow(clippy::too_many_arguments)]
fn mm<T: Float>(
    (m, n, kd): (usize, usize, usize),
    a: &[T],
    av: MatRef,
    b: &[T],
    bv: MatRef,
    c: &mut [T],
    cv: MatRef,
    accumulate: bool,
) {
    let threads = threads_for(m, n, kd);
    mm_on((m, n, kd), a, av, b, bv, c, cv, accumulate, threads)
}

/// `mm` on at most `threads` threads.
#[allow(clippy::too_many_arguments)]
fn mm_on<T: Float>(
    (m, n, kd): (usize, usize, usize),
    a: &[T],
    av: MatRef,
    b: &[T],
    bv: MatRef,
    c: &mut [T],
    cv: MatRef,
    accumulate: bool,
    threads: usize,
) {
    if m == 0 || n == 0 {
        return;
    }
    if kd == 0 {
        if !accumulate {
            for i in 0..m {
                for j in 0..n {
                    c[(cv.off as isize + i as isize * cv.rs + j as isize * cv.cs) as usize] =
                        T::c(0.0);
                }
            }
        }
        return;
    }
    // SAFETY: the callers build the views from the sizes of their slices
    // (row-major buffers of exactly these shapes), and C never aliases A or B.
    unsafe { T::gemm(m, n, kd, a, av, b, bv, c, cv, accumulate, threads) }
}

/// The recurrent weight as the right operand (k x n) of every step's GEMM:
/// for f32 on the sgemm kernels packed once per sequence (`sgemm::PackedB`),
/// not once per step; otherwise a strided view for `mm`.
enum StepWeight<'a, T> {
    Packed(crate::cpu::sgemm::PackedB),
    Plain(&'a [T], MatRef, usize, usize),
}

impl<'a, T: Float> StepWeight<'a, T> {
    /// `w` (k x n through `view`) for products of `m` rows.
    fn new(w: &'a [T], view: MatRef, k: usize, n: usize, m: usize) -> Self {
        if let Some(wf) = T::as_f32(w) {
            if k > 0 && n > 0 {
                assert!(
                    wf.len() >= view.off + k * n,
                    "RNN weight smaller than {k}x{n}"
                );
                // SAFETY: the views the callers pass cover exactly the k x n
                // elements of `w` (checked above).
                let packed = unsafe {
                    crate::cpu::sgemm::PackedB::new(
                        k,
                        n,
                        (wf.as_ptr().add(view.off), view.rs, view.cs),
                        m,
                    )
                };
                if let Some(p) = packed {
                    return StepWeight::Packed(p);
                }
            }
        }
        StepWeight::Plain(w, view, k, n)
    }

    /// `c (+)= a @ W` for row-major `a` (m x k) and `c` (m x n), on several
    /// threads only when `par` (not inside a task of `for_row_blocks`).
    fn mm(&self, m: usize, a: &[T], c: &mut [T], accumulate: bool, par: bool) {
        let k = match self {
            StepWeight::Packed(p) => p.k(),
            StepWeight::Plain(_, _, k, _) => *k,
        };
        self.mm_ld(m, (a, k), c, accumulate, par)
    }

    /// `mm` for `a` with rows `lda` apart.
    fn mm_ld(&self, m: usize, (a, lda): (&[T], usize), c: &mut [T], accumulate: bool, par: bool) {
        let threads = |n: usize, k: usize| if par { threads_for(m, n, k) } else { 1 };
        match self {
            StepWeight::Plain(w, view, k, n) => mm_on(
                (m, *n, *k),
                a,
                row_major(0, lda),
                w,
                *view,
                c,
                row_major(0, *n),
                accumulate,
                threads(*n, *k),
            ),
            StepWeight::Packed(p) => {
                let (k, n) = (p.k(), p.n());
                let a = T::as_f32(a).expect("packed weights are f32");
                let c = T::as_f32_mut(c).expect("packed weights are f32");
                assert!(
                    lda >= k && (m == 0 || a.len() >= (m - 1) * lda + k) && c.len() >= m * n,
                    "RNN step buffers too small"
                );
                // SAFETY: m x k (rows lda apart) and row-major m x n inside
                // their slices (checked), C does not alias A (distinct
                // buffers), packed on this CPU.
                unsafe {
                    crate::cpu::sgemm::sgemm_prepacked(
                        m,
                        (a.as_ptr(), lda as isize, 1),
                        p,
                        (c.as_mut_ptr(), n as isize, 1),
                        accumulate,
                        threads(n, k),
                    )
                }
            }
        }
    }
}

/// A buffer every element of which the caller overwrites (recycled from
/// the tensor buffer pool when one of that size is free: no zeroing, no page
/// faults).
fn uninit<T: Float>(n: usize) -> Vec<T> {
    crate::tensor::pool::uninit_vec::<T>(n)
}

/// `uninit` for a buffer that lives only inside the op (saved for backward
/// or a temporary): given back to the pool when dropped, so the next call
/// reuses it instead of faulting in fresh zeroed pages.
fn scratch<T: Float>(n: usize) -> Scratch<T> {
    Scratch::uninit(n)
}

/// Fewest batch rows per thread for `for_row_blocks` to split the batch:
/// one row tile of the AVX-512 step GEMM.
const MIN_ROWS_PER_TASK: usize = 8;

/// Threads for the time loops of a batch of `b` rows (see `for_row_blocks`).
fn row_tasks(b: usize) -> usize {
    crate::parallel::num_threads()
        .min(b / MIN_ROWS_PER_TASK)
        .max(1)
}

/// Run the time loop `f(rows, par)` over the batch: the batch rows of a
/// recurrent layer never mix (each row's h_t depends only on that row's
/// h_{t-1}, forward and backward), so with enough rows each thread runs
/// every step on its own block of rows: one fork/join per sequence instead
/// of two per step (at batch 64 hidden 128 a step is ~30 us, and every
/// join waits for the slower thread; on a shared machine for a descheduled
/// one). With one block, `par` lets the step's GEMM and gate pass split
/// themselves as before.
fn for_row_blocks(b: usize, f: impl Fn(Range<usize>, bool) + Sync) {
    let tasks = row_tasks(b);
    if tasks <= 1 {
        return f(0..b, true);
    }
    let per = b.div_ceil(tasks);
    crate::parallel::for_each_task(tasks, |i| {
        let r = i * per..((i + 1) * per).min(b);
        if !r.is_empty() {
            f(r, false)
        }
    });
}

/// Run a pointwise step kernel over the rows `0..b` of its slices, split
/// over the threads when `par` and the step is big enough to pay for a
/// fork/join (with the GEMMs parallel, a serial gate pass was a quarter of a
/// 2-thread step).
fn for_rows(b: usize, hs: usize, par: bool, f: impl Fn(Range<usize>) + Sync) {
    let tasks = if par && b * hs >= 2048 {
        crate::parallel::num_threads().min(b)
    } else {
        1
    };
    if tasks <= 1 {
        return f(0..b);
    }
    let per = b.div_ceil(tasks);
    crate::parallel::for_each_task(tasks, |i| {
        let r = i * per..((i + 1) * per).min(b);
        if !r.is_empty() {
            f(r)
        }
    });
}

/// A buffer of rows of `width` written by several threads, each its own rows.
#[derive(Clone, Copy)]
struct Rows<T> {
    p: SendPtr<T>,
    width: usize,
}

impl<T> Rows<T> {
    fn new(s: &mut [T], width: usize) -> Self {
        Rows {
            p: SendPtr(s.as_mut_ptr()),
            width,
        }
    }
    /// # Safety
    /// The rows exist in the buffer, the buffer outlives the use, and
    /// concurrent callers take disjoint ranges.
    #[allow(clippy::mut_from_ref)]
    unsafe fn get<'a>(&self, r: &Range<usize>) -> &'a mut [T] {
        std::slice::from_raw_parts_mut(self.p.0.add(r.start * self.width), r.len() * self.width)
    }
}

/// A sequence buffer (steps x `b` rows of `width`) shared by the row-block
/// tasks: rows `r` of step `t`.
#[derive(Clone, Copy)]
struct Seq<T> {
    p: SendPtr<T>,
    len: usize,
    b: usize,
    width: usize,
}

impl<T> Seq<T> {
    fn new(s: &mut [T], b: usize, width: usize) -> Self {
        Seq {
            p: SendPtr(s.as_mut_ptr()),
            len: s.len(),
            b,
            width,
        }
    }
    /// # Safety
    /// The buffer outlives the use; no other reference to these rows of this
    /// step is live while the returned one is (tasks take disjoint rows, and
    /// a task reads one step while writing another).
    #[allow(clippy::mut_from_ref)]
    unsafe fn at<'a>(&self, t: usize, r: &Range<usize>) -> &'a mut [T] {
        let (off, n) = ((t * self.b + r.start) * self.width, r.len() * self.width);
        assert!(off + n <= self.len, "RNN sequence rows out of range");
        std::slice::from_raw_parts_mut(self.p.0.add(off), n)
    }
}

fn rows_of<'a, T>(s: &'a [T], r: &Range<usize>, width: usize) -> &'a [T] {
    &s[r.start * width..r.end * width]
}

/// Rows `r` of step `t` of a sequence (steps x `b` rows of `width`).
fn step_rows<'a, T>(s: &'a [T], t: usize, b: usize, width: usize, r: &Range<usize>) -> &'a [T] {
    &s[(t * b + r.start) * width..][..r.len() * width]
}

/// Time steps in processing order.
fn order(t: usize, reverse: bool) -> Vec<usize> {
    if reverse {
        (0..t).rev().collect()
    } else {
        (0..t).collect()
    }
}

/// What the forward keeps for backward (besides the output sequence).
struct Saved<T: Float> {
    /// LSTM: activated gates [i f g o]; GRU: [r z n hn]; RNN: unused.
    gates: Scratch<T>,
    /// LSTM cell states and their tanh.
    cells: Scratch<T>,
    tanh_c: Scratch<T>,
    /// LSTM: every step's GEMM operand `[x_t | h_{t-1} | 1]` (the 1 when the
    /// layer has biases), rows of `xh_width`: the right operand of the
    /// weight gradients' GEMM.
    xh: Scratch<T>,
    xh_width: usize,
}

struct Weights<'a, T> {
    w_ih: &'a [T],
    w_hh: &'a [T],
    b_ih: Option<&'a [T]>,
    b_hh: Option<&'a [T]>,
}

#[allow(clippy::type_complexity)]
fn forward_t<T: Float>(
    mode: Mode,
    d: Dims,
    x: &[T],
    h0: &[T],
    c0: Option<&[T]>,
    w: &Weights<T>,
    reverse: bool,
) -> (Vec<T>, Vec<T>, Option<Vec<T>>, Saved<T>) {
    let Dims {
        t: tt,
        b,
        i: ni,
        h: hs,
    } = d;
    let g = mode.gates() * hs;
    let (row, hrow) = (b * g, b * hs);
    let zero = T::c(0.0);
    let rnn = matches!(mode, Mode::RnnTanh | Mode::RnnRelu);

    // Input projection of the whole sequence, biases folded in (GRU keeps
    // b_hh apart: its n gate scales W_hn h + b_hn by r). The plain RNN
    // projects straight into its output.
    let mut xg_vec = if rnn {
        uninit::<T>(tt * row)
    } else {
        Vec::new()
    };
    let mut xg_scratch = if rnn {
        scratch::<T>(0)
    } else {
        scratch::<T>(tt * row)
    };
    let xg: &mut [T] = if rnn { &mut xg_vec } else { &mut xg_scratch };
    let mut bias = vec![zero; g];
    let mut has_bias = false;
    for (bv, take) in [(w.b_ih, true), (w.b_hh, mode != Mode::Gru)] {
        if let (Some(bv), true) = (bv, take) {
            has_bias = true;
            for (s, v) in bias.iter_mut().zip(bv) {
                *s += *v;
            }
        }
    }
    // LSTM and GRU add the bias in their gate kernels; the plain RNN starts
    // its projection from it.
    let lstm = mode == Mode::Lstm;
    let fill = rnn && has_bias;
    if fill {
        for r in xg.chunks_exact_mut(g.max(1)) {
            r.copy_from_slice(&bias);
        }
    }
    // The LSTM projects each step's input inside its step GEMM (below).
    if !lstm {
        mm(
            (tt * b, g, ni),
            x,
            row_major(0, ni),
            w.w_ih,
            transposed(0, ni),
            xg,
            row_major(0, g),
            fill,
        );
    }

    let steps = order(tt, reverse);
    let mut out = if rnn {
        std::mem::take(&mut xg_vec)
    } else {
        uninit::<T>(tt * hrow)
    };
    let mut saved = Saved {
        gates: scratch::<T>(match mode {
            Mode::Gru => tt * b * 4 * hs,
            _ => 0,
        }),
        cells: scratch::<T>(if lstm { tt * hrow } else { 0 }),
        tanh_c: scratch::<T>(if lstm { tt * hrow } else { 0 }),
        xh: scratch::<T>(0),
        xh_width: 0,
    };
    // LSTM: one GEMM per step, [x_t | h_{t-1} | 1] @ [W_ih^T ; W_hh^T],
    // instead of a projection GEMM over the whole sequence whose result
    // every step read back and added to: each step's gates are written
    // once, and the operand rows are what the weight gradients need. The
    // stacked weight is built row by row ([W_ih | W_hh] rows, g x (i + h))
    // and read transposed.
    let kx = ni + hs;
    let ones = has_bias;
    let wd = kx + usize::from(ones);
    let wcat = if lstm {
        let mut v = uninit::<T>(g * kx);
        for (j, r) in v.chunks_exact_mut(kx.max(1)).enumerate().take(g) {
            r[..ni].copy_from_slice(&w.w_ih[j * ni..][..ni]);
            r[ni..].copy_from_slice(&w.w_hh[j * hs..][..hs]);
        }
        saved.xh = scratch::<T>(tt * b * wd);
        saved.xh_width = wd;
        v
    } else {
        Vec::new()
    };
    let mut hp = scratch::<T>(if mode == Mode::Gru { row } else { 0 });
    let zeros;
    let b_hh = match w.b_hh {
        Some(v) => v,
        None => {
            zeros = vec![zero; g];
            &zeros
        }
    };
    let c0 = c0.unwrap_or(&[]);
    // W_hh^T (hs x g), packed once for all the steps, for the row tile that
    // suits one task's block of rows.
    let w_hh_t = if lstm {
        StepWeight::new(&wcat, transposed(0, kx), kx, g, b.div_ceil(row_tasks(b)))
    } else {
        StepWeight::new(w.w_hh, transposed(0, hs), hs, g, b.div_ceil(row_tasks(b)))
    };
    let xhs = Seq::new(&mut saved.xh, b, wd);
    let outs = Seq::new(&mut out, b, hs);
    let xgs = Seq::new(&mut xg_scratch, b, g);
    let cells = Seq::new(&mut saved.cells, b, hs);
    let tanhs = Seq::new(&mut saved.tanh_c, b, hs);
    let gsv = Seq::new(&mut saved.gates, b, 4 * hs);
    let hps = Seq::new(&mut hp, b, g);
    // SAFETY (every `at` below): each task takes its own rows of every
    // buffer, and reads the step before the one it writes.
    for_row_blocks(b, |r, par| unsafe {
        let m = r.len();
        for (s, &t) in steps.iter().enumerate() {
            let h_prev: &[T] = if s == 0 {
                rows_of(h0, &r, hs)
            } else {
                outs.at(steps[s - 1], &r)
            };
            let h = outs.at(t, &r);
            match mode {
                Mode::RnnTanh | Mode::RnnRelu => {
                    w_hh_t.mm(m, h_prev, h, true, par);
                    k::rnn_forward(h, mode == Mode::RnnRelu);
                }
                Mode::Lstm => {
                    // This step's operand rows: x_t, the 1 for the bias
                    // gradient, and h0 at the first step (later steps get
                    // h_{t-1} from the step before).
                    let a = xhs.at(t, &r);
                    let xt = step_rows(x, t, b, ni, &r);
                    for (q, row) in a.chunks_exact_mut(wd).enumerate() {
                        row[..ni].copy_from_slice(&xt[q * ni..][..ni]);
                        if s == 0 {
                            row[ni..kx].copy_from_slice(&h_prev[q * hs..][..hs]);
                        }
                        if ones {
                            row[kx] = T::c(1.0);
                        }
                    }
                    let gates = xgs.at(t, &r);
                    w_hh_t.mm_ld(m, (a, wd), gates, false, par);
                    let c_prev: &[T] = if s == 0 {
                        rows_of(c0, &r, hs)
                    } else {
                        cells.at(steps[s - 1], &r)
                    };
                    let (gp, cp) = (Rows::new(gates, 4 * hs), Rows::new(cells.at(t, &r), hs));
                    let (tp, op) = (Rows::new(tanhs.at(t, &r), hs), Rows::new(h, hs));
                    for_rows(m, hs, par, |q| {
                        k::lstm_forward(
                            gp.get(&q),
                            &bias,
                            rows_of(c_prev, &q, hs),
                            cp.get(&q),
                            tp.get(&q),
                            op.get(&q),
                            hs,
                        )
                    });
                    if let Some(&next) = steps.get(s + 1) {
                        let h: &[T] = h;
                        for (q, row) in xhs.at(next, &r).chunks_exact_mut(wd).enumerate() {
                            row[ni..kx].copy_from_slice(&h[q * hs..][..hs]);
                        }
                    }
                }
                Mode::Gru => {
                    let hpr = hps.at(0, &r);
                    w_hh_t.mm(m, h_prev, hpr, false, par);
                    let (xp, hpr): (&[T], &[T]) = (xgs.at(t, &r), hpr);
                    let (hp_, sp) = (Rows::new(h, hs), Rows::new(gsv.at(t, &r), 4 * hs));
                    for_rows(m, hs, par, |q| {
                        k::gru_forward(
                            rows_of(xp, &q, g),
                            &bias,
                            rows_of(hpr, &q, g),
                            b_hh,
                            rows_of(h_prev, &q, hs),
                            hp_.get(&q),
                            sp.get(&q),
                            hs,
                        )
                    });
                }
            }
        }
    });
    if lstm {
        saved.gates = xg_scratch;
    }
    let last = steps.last().copied();
    let h_n = match last {
        Some(t) => out[t * hrow..][..hrow].to_vec(),
        None => h0.to_vec(),
    };
    let c_n = lstm.then(|| match last {
        Some(t) => saved.cells[t * hrow..][..hrow].to_vec(),
        None => c0.to_vec(),
    });
    (out, h_n, c_n, saved)
}

/// Which gradients backward must produce.
#[derive(Clone, Copy)]
struct Needs {
    x: bool,
    h0: bool,
    c0: bool,
    w_ih: bool,
    w_hh: bool,
    b_ih: bool,
    b_hh: bool,
}

struct Grads<T> {
    dx: Option<Vec<T>>,
    dh0: Option<Vec<T>>,
    dc0: Option<Vec<T>>,
    dw_ih: Option<Vec<T>>,
    dw_hh: Option<Vec<T>>,
    db_ih: Option<Vec<T>>,
    db_hh: Option<Vec<T>>,
}

fn column_sums<T: Float>(m: &[T], cols: usize) -> Vec<T> {
    let mut s = vec![T::c(0.0); cols];
    for r in m.chunks_exact(cols.max(1)) {
        for (a, v) in s.iter_mut().zip(r) {
            *a += *v;
        }
    }
    s
}

#[allow(clippy::too_many_arguments, clippy::type_complexity)]
fn backward_t<T: Float>(
    mode: Mode,
    d: Dims,
    saved: &Saved<T>,
    (x, h0, c0, out): (&[T], &[T], Option<&[T]>, &[T]),
    w: &Weights<T>,
    (g_out, g_hn, g_cn): (Option<&[T]>, Option<&[T]>, Option<&[T]>),
    reverse: bool,
    need: Needs,
) -> Grads<T> {
    let Dims {
        t: tt,
        b,
        i: ni,
        h: hs,
    } = d;
    let g = mode.gates() * hs;
    let (row, hrow) = (b * g, b * hs);
    let zero = T::c(0.0);
    let steps = order(tt, reverse);
    let gru = mode == Mode::Gru;

    // dh for the step being processed and for the one before it, in turn:
    // step s reads half `s % 2` of `dhs` (after adding the output's
    // gradient) and writes dh_{t-1} into the other half.
    let mut dhs = uninit::<T>(2 * hrow);
    match g_hn {
        Some(v) => dhs[..hrow].copy_from_slice(&v[..hrow]),
        None => dhs[..hrow].fill(zero),
    }
    let lstm = mode == Mode::Lstm;
    let mut dc = if lstm {
        g_cn.map_or_else(|| vec![zero; hrow], |v| v.to_vec())
    } else {
        Vec::new()
    };
    let mut dgx = scratch::<T>(tt * row);
    let mut dgh = scratch::<T>(if gru { tt * row } else { 0 });
    // W_hh (g x hs), packed once when some step needs dh_{t-1}.
    let w_hh = (tt > 1 || need.h0)
        .then(|| StepWeight::new(w.w_hh, row_major(0, hs), g, hs, b.div_ceil(row_tasks(b))));
    // LSTM and RNN take both weight gradients from the same dgates: one GEMM
    // dgates^T @ [x_t | h_{t-1} | 1] packs dgates^T (T*B x G, the biggest
    // operand) once instead of twice, h0's step included; the column of
    // ones gives the bias gradient (the column sums of dgates) in the
    // padding of the GEMM's last column panel instead of a serial pass.
    // Each task fills its own rows of that right operand.
    // The LSTM's forward kept those rows (with the 1 when it has biases).
    let joint = !gru && need.w_ih && need.w_hh;
    let ones = joint && (need.b_ih || need.b_hh);
    let ncols = ni + hs + usize::from(ones);
    let kept = joint && !saved.xh.is_empty();
    let wd = if kept { saved.xh_width } else { ncols };
    let build = joint && !kept;
    let mut xh = scratch::<T>(if build { tt * b * wd } else { 0 });
    let xhs = Seq::new(&mut xh[..], b, wd);
    let (dhp, dcp) = (Seq::new(&mut dhs[..], b, hs), Seq::new(&mut dc[..], b, hs));
    let (dgxs, dghs) = (Seq::new(&mut dgx[..], b, g), Seq::new(&mut dgh[..], b, g));
    let c0 = c0.unwrap_or(&[]);
    // SAFETY (every `at` below): each task takes its own rows of every
    // buffer; the two halves of `dhs` are distinct steps of `dhp`.
    for_row_blocks(b, |r, par| unsafe {
        let m = r.len();
        if build {
            for (s, &t) in steps.iter().enumerate() {
                let h_prev = if s == 0 {
                    rows_of(h0, &r, hs)
                } else {
                    step_rows(out, steps[s - 1], b, hs, &r)
                };
                let xt = step_rows(x, t, b, ni, &r);
                let dst = xhs.at(t, &r);
                for (q, d) in dst.chunks_exact_mut(wd).enumerate() {
                    d[..ni].copy_from_slice(&xt[q * ni..][..ni]);
                    d[ni..ni + hs].copy_from_slice(&h_prev[q * hs..][..hs]);
                    if ones {
                        d[ni + hs] = T::c(1.0);
                    }
                }
            }
        }
        for s in (0..tt).rev() {
            let t = steps[s];
            let (cur, next) = ((tt - 1 - s) % 2, (tt - s) % 2);
            let dh = dhp.at(cur, &r);
            if let Some(go) = g_out {
                for (a, v) in dh.iter_mut().zip(step_rows(go, t, b, hs, &r)) {
                    *a += *v;
                }
            }
            let dh: &[T] = dh;
            let dh_next = dhp.at(next, &r);
            let h_prev: &[T] = if s == 0 {
                rows_of(h0, &r, hs)
            } else {
                step_rows(out, steps[s - 1], b, hs, &r)
            };
            let dg = dgxs.at(t, &r);
            let want_dh = s > 0 || need.h0;
            match mode {
                Mode::Lstm => {
                    let c_prev: &[T] = if s == 0 {
                        rows_of(c0, &r, hs)
                    } else {
                        step_rows(&saved.cells, steps[s - 1], b, hs, &r)
                    };
                    let gates = step_rows(&saved.gates, t, b, g, &r);
                    let tanh_c = step_rows(&saved.tanh_c, t, b, hs, &r);
                    let (dcq, dgq) = (Rows::new(dcp.at(0, &r), hs), Rows::new(dg, g));
                    for_rows(m, hs, par, |q| {
                        k::lstm_backward(
                            rows_of(gates, &q, g),
                            rows_of(c_prev, &q, hs),
                            rows_of(tanh_c, &q, hs),
                            rows_of(dh, &q, hs),
                            dcq.get(&q),
                            dgq.get(&q),
                            hs,
                        )
                    });
                    if let (true, Some(w_hh)) = (want_dh, &w_hh) {
                        w_hh.mm(m, dg, dh_next, false, par);
                    }
                }
                Mode::RnnTanh | Mode::RnnRelu => {
                    let h = step_rows(out, t, b, hs, &r);
                    k::rnn_backward(h, dh, dg, mode == Mode::RnnRelu);
                    if let (true, Some(w_hh)) = (want_dh, &w_hh) {
                        w_hh.mm(m, dg, dh_next, false, par);
                    }
                }
                Mode::Gru => {
                    let sg = step_rows(&saved.gates, t, b, 4 * hs, &r);
                    let dgh_t = dghs.at(t, &r);
                    let (dgq, dghq) = (Rows::new(dg, g), Rows::new(dgh_t, g));
                    let dnq = Rows::new(dh_next, hs);
                    for_rows(m, hs, par, |q| {
                        k::gru_backward(
                            rows_of(sg, &q, 4 * hs),
                            rows_of(h_prev, &q, hs),
                            rows_of(dh, &q, hs),
                            dgq.get(&q),
                            dghq.get(&q),
                            dnq.get(&q),
                            hs,
                        )
                    });
                    if let (true, Some(w_hh)) = (want_dh, &w_hh) {
                        w_hh.mm(m, dgh_t, dh_next, true, par);
                    }
                }
            }
        }
    });
    // After the last processed step, dh_{-1} (dh0) is in the half it wrote.
    let dh0_half = tt % 2;

    let dgh_all: &[T] = if gru { &dgh } else { &dgx };
    let (dw_ih, dw_hh, db) = if joint {
        let mut dw = scratch::<T>(g * ncols);
        mm(
            (g, ncols, tt * b),
            &dgx,
            transposed(0, g),
            if kept { &saved.xh } else { &xh },
            row_major(0, wd),
            &mut dw,
            row_major(0, ncols),
            false,
        );
        let (mut dw_ih, mut dw_hh) = (uninit::<T>(g * ni), uninit::<T>(g * hs));
        for (i, r) in dw.chunks_exact(ncols).enumerate() {
            dw_ih[i * ni..][..ni].copy_from_slice(&r[..ni]);
            dw_hh[i * hs..][..hs].copy_from_slice(&r[ni..ni + hs]);
        }
        let db = ones.then(|| {
            dw.chunks_exact(ncols)
                .map(|r| r[ni + hs])
                .collect::<Vec<T>>()
        });
        (Some(dw_ih), Some(dw_hh), db)
    } else {
        let (dw_ih, dw_hh) = separate_weight_grads(d, g, &dgx, dgh_all, x, h0, out, reverse, need);
        (dw_ih, dw_hh, None)
    };
    let dx = need.x.then(|| {
        let mut dx = uninit::<T>(tt * b * ni);
        mm(
            (tt * b, ni, g),
            &dgx,
            row_major(0, g),
            w.w_ih,
            row_major(0, ni),
            &mut dx,
            row_major(0, ni),
            false,
        );
        dx
    });
    let db_ih = need
        .b_ih
        .then(|| db.clone().unwrap_or_else(|| column_sums(&dgx, g)));
    // Without GRU's split both biases enter the same sum: one gradient.
    let db_hh = need.b_hh.then(|| match (&db_ih, gru) {
        (Some(d), false) => d.clone(),
        _ => db.clone().unwrap_or_else(|| column_sums(dgh_all, g)),
    });
    Grads {
        dx,
        dh0: need.h0.then(|| dhs[dh0_half * hrow..][..hrow].to_vec()),
        dc0: (need.c0 && lstm).then_some(dc),
        dw_ih,
        dw_hh,
        db_ih,
        db_hh,
    }
}

/// dW_ih = dgx^T @ x and dW_hh = dgh^T @ h_{t-1} as separate GEMMs (GRU,
/// whose two gate gradients differ, or when only one is wanted).
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
fn separate_weight_grads<T: Float>(
    d: Dims,
    g: usize,
    dgx: &[T],
    dgh_all: &[T],
    x: &[T],
    h0: &[T],
    out: &[T],
    reverse: bool,
    need: Needs,
) -> (Option<Vec<T>>, Option<Vec<T>>) {
    let Dims {
        t: tt,
        b,
        i: ni,
        h: hs,
    } = d;
    let (row, hrow) = (b * g, b * hs);
    let dw_ih = need.w_ih.then(|| {
        let mut dw = uninit::<T>(g * ni);
        mm(
            (g, ni, tt * b),
            dgx,
            transposed(0, g),
            x,
            row_major(0, ni),
            &mut dw,
            row_major(0, ni),
            false,
        );
        dw
    });
    let dw_hh = need.w_hh.then(|| {
        // dW_hh = sum_t dgates_t^T h_{t-1}: the earlier outputs in one GEMM,
        // the first processed step (whose h_{t-1} is h0) in another.
        let mut dw = uninit::<T>(g * hs);
        let later = (tt.saturating_sub(1)) * b;
        let (dg_off, out_off, first_off) = if reverse {
            (0, hrow, (tt - 1) * row)
        } else {
            (row, 0, 0)
        };
        mm(
            (g, hs, later),
            dgh_all,
            transposed(dg_off, g),
            out,
            row_major(out_off, hs),
            &mut dw,
            row_major(0, hs),
            false,
        );
        mm(
            (g, hs, b),
            dgh_all,
            transposed(first_off, g),
            h0,
            row_major(0, hs),
            &mut dw,
            row_major(0, hs),
            true,
        );
        dw
    });
    (dw_ih, dw_hh)
}

/// The same layer written with differentiable ops (the create_graph path):
/// `ins` = [x, h0, (c0), w_ih, w_hh, (b_ih, b_hh)]; gives [out, h_n, (c_n)].
fn composite_layer(
    mode: Mode,
    ins: &[&Tensor],
    has_bias: bool,
    reverse: bool,
) -> Result<Vec<Tensor>> {
    use crate::ops::binary::{add, mul, sub};
    use crate::ops::matmul::linear;
    use crate::ops::shape::{chunk, select, stack};
    use crate::ops::unary::{relu, sigmoid, tanh};
    let lstm = mode == Mode::Lstm;
    let (x, mut h) = (ins[0], ins[1].clone());
    let mut c = lstm.then(|| ins[2].clone());
    let w = if lstm { &ins[3..] } else { &ins[2..] };
    let (w_ih, w_hh) = (w[0], w[1]);
    let (b_ih, b_hh) = if has_bias {
        (Some(w[2]), Some(w[3]))
    } else {
        (None, None)
    };
    let tt = x.shape()[0];
    let xp = linear(x, w_ih, b_ih)?;
    let mut hs: Vec<Option<Tensor>> = vec![None; tt];
    for t in order(tt, reverse) {
        let xt = select(&xp, 0, t as i64)?;
        let hp = linear(&h, w_hh, b_hh)?;
        h = match mode {
            Mode::RnnTanh => tanh(&add(&xt, &hp)?)?,
            Mode::RnnRelu => relu(&add(&xt, &hp)?)?,
            Mode::Lstm => {
                let gates = chunk(&add(&xt, &hp)?, 4, -1)?;
                let (i, f) = (sigmoid(&gates[0])?, sigmoid(&gates[1])?);
                let (g, o) = (tanh(&gates[2])?, sigmoid(&gates[3])?);
                let cn = add(&mul(&f, c.as_ref().expect("LSTM"))?, &mul(&i, &g)?)?;
                let hn = mul(&o, &tanh(&cn)?)?;
                c = Some(cn);
                hn
            }
            Mode::Gru => {
                let (xc, hc) = (chunk(&xt, 3, -1)?, chunk(&hp, 3, -1)?);
                let r = sigmoid(&add(&xc[0], &hc[0])?)?;
                let z = sigmoid(&add(&xc[1], &hc[1])?)?;
                let n = tanh(&add(&xc[2], &mul(&r, &hc[2])?)?)?;
                add(&n, &mul(&z, &sub(&h, &n)?)?)?
            }
        };
        hs[t] = Some(h.clone());
    }
    let hs: Vec<Tensor> = hs.into_iter().flatten().collect();
    let mut outs = vec![stack(&hs, 0)?, h];
    outs.extend(c);
    Ok(outs)
}

/// One direction of one recurrent layer over a whole sequence:
/// `x` (T, B, I), `h0` (B, H), `c0` (B, H) for LSTM only; weights as
/// PyTorch's `weight_ih_l{k}` (G·H, I), `weight_hh_l{k}` (G·H, H) and biases
/// (G·H). `reverse` runs from the last step to the first (the backward
/// direction of a bidirectional layer; its outputs stay in time order).
/// Gives (output (T, B, H), h_n (B, H), c_n for LSTM).
#[allow(clippy::too_many_arguments)]
pub fn rnn_layer(
    mode: Mode,
    x: &Tensor,
    h0: &Tensor,
    c0: Option<&Tensor>,
    w_ih: &Tensor,
    w_hh: &Tensor,
    b_ih: Option<&Tensor>,
    b_hh: Option<&Tensor>,
    reverse: bool,
) -> Result<(Tensor, Tensor, Option<Tensor>)> {
    let dtype = x.dtype();
    if dtype != DType::F32 && dtype != DType::F64 {
        bail!(
            Runtime,
            "fused rnn layer: expected float32 or float64 input, got {}",
            dtype.scalar_name()
        );
    }
    let mut all = vec![
        ("input", x),
        ("hx", h0),
        ("weight_ih", w_ih),
        ("weight_hh", w_hh),
    ];
    all.extend(c0.map(|c| ("cx", c)));
    all.extend(b_ih.map(|b| ("bias_ih", b)));
    all.extend(b_hh.map(|b| ("bias_hh", b)));
    for (name, t) in &all {
        if t.dtype() != dtype {
            bail!(
                Runtime,
                "fused rnn layer: {name} has dtype {} but input has dtype {}",
                t.dtype().scalar_name(),
                dtype.scalar_name()
            );
        }
        if t.is_gpu() || t.is_meta() {
            bail!(Runtime, "fused rnn layer: {name} is not on the CPU");
        }
    }
    if x.ndim() != 3 {
        bail!(
            Runtime,
            "fused rnn layer: input must be (T, B, I), got {:?}",
            x.shape()
        );
    }
    let (tt, b, ni) = (x.shape()[0], x.shape()[1], x.shape()[2]);
    if tt == 0 {
        bail!(
            Runtime,
            "Expected sequence length to be larger than 0 in RNN"
        );
    }
    if h0.ndim() != 2 || h0.shape()[0] != b {
        bail!(
            Runtime,
            "fused rnn layer: hx must be (batch={b}, hidden), got {:?}",
            h0.shape()
        );
    }
    let hs = h0.shape()[1];
    let g = mode.gates() * hs;
    let check = |name: &str, t: &Tensor, want: &[usize]| -> Result<()> {
        if t.shape() != want {
            bail!(
                Runtime,
                "fused rnn layer: {name} must have shape {want:?}, got {:?}",
                t.shape()
            );
        }
        Ok(())
    };
    check("weight_ih", w_ih, &[g, ni])?;
    check("weight_hh", w_hh, &[g, hs])?;
    for b in b_ih.iter().chain(b_hh.iter()) {
        check("bias", b, &[g])?;
    }
    if b_ih.is_some() != b_hh.is_some() {
        bail!(Runtime, "fused rnn layer: give both biases or neither");
    }
    match (mode, c0) {
        (Mode::Lstm, Some(c)) => check("cx", c, &[b, hs])?,
        (Mode::Lstm, None) => bail!(Runtime, "fused rnn layer: LSTM needs cx"),
        (_, Some(_)) => bail!(Runtime, "fused rnn layer: only LSTM takes cx"),
        _ => {}
    }
    let d = Dims {
        t: tt,
        b,
        i: ni,
        h: hs,
    };
    crate::dispatch_float!(dtype, "rnn_layer", T => run::<T>(mode, d, x, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse))
}

#[allow(clippy::too_many_arguments)]
fn run<T: Float + BufferElem>(
    mode: Mode,
    d: Dims,
    x: &Tensor,
    h0: &Tensor,
    c0: Option<&Tensor>,
    w_ih: &Tensor,
    w_hh: &Tensor,
    b_ih: Option<&Tensor>,
    b_hh: Option<&Tensor>,
    reverse: bool,
) -> Result<(Tensor, Tensor, Option<Tensor>)> {
    let c = |t: &Tensor| t.contiguous_raw();
    let (xc, h0c, wic, whc) = (c(x), c(h0), c(w_ih), c(w_hh));
    let c0c = c0.map(c);
    let (bic, bhc) = (b_ih.map(c), b_hh.map(c));
    let weights = Weights {
        w_ih: wic.as_slice::<T>().expect("contiguous"),
        w_hh: whc.as_slice::<T>().expect("contiguous"),
        b_ih: bic.as_ref().map(|t| t.as_slice::<T>().expect("contiguous")),
        b_hh: bhc.as_ref().map(|t| t.as_slice::<T>().expect("contiguous")),
    };
    let (out, h_n, c_n, saved) = forward_t::<T>(
        mode,
        d,
        xc.as_slice::<T>().expect("contiguous"),
        h0c.as_slice::<T>().expect("contiguous"),
        c0c.as_ref().map(|t| t.as_slice::<T>().expect("contiguous")),
        &weights,
        reverse,
    );
    let out = Tensor::from_vec(out, &[d.t, d.b, d.h]);
    let h_n = Tensor::from_vec(h_n, &[d.b, d.h]);
    let c_n = c_n.map(|v| Tensor::from_vec(v, &[d.b, d.h]));

    let mut inputs: Vec<&Tensor> = vec![x, h0];
    inputs.extend(c0);
    inputs.extend([w_ih, w_hh]);
    inputs.extend(b_ih);
    inputs.extend(b_hh);
    let mut outputs: Vec<&Tensor> = vec![&out, &h_n];
    outputs.extend(c_n.as_ref());
    let need = Needs {
        x: x.requires_grad(),
        h0: h0.requires_grad(),
        c0: c0.is_some_and(|t| t.requires_grad()),
        w_ih: w_ih.requires_grad(),
        w_hh: w_hh.requires_grad(),
        b_ih: b_ih.is_some_and(|t| t.requires_grad()),
        b_hh: b_hh.is_some_and(|t| t.requires_grad()),
    };
    let saved_inputs: Vec<SavedTensor> = inputs.iter().map(|t| SavedTensor::new(t)).collect();
    let saved_out = SavedTensor::output(&out);
    let (has_c, has_bias) = (c0.is_some(), b_ih.is_some());
    let n_in = inputs.len();
    record("RnnLayerBackward0", &inputs, &outputs, move |grads| {
        let ins: Vec<&Tensor> = saved_inputs
            .iter()
            .map(|s| s.get())
            .collect::<Result<_>>()?;
        let present: Vec<&Tensor> = grads.iter().flatten().collect();
        if present.is_empty() {
            return Ok(vec![None; n_in]);
        }
        if present.iter().any(|g| composite::wants_graph(g, &ins)) {
            return composite::vjp(&ins, grads, |ins| {
                composite_layer(mode, ins, has_bias, reverse)
            });
        }
        let gc = |i: usize| {
            grads
                .get(i)
                .and_then(|g| g.as_ref())
                .map(|g| g.cast_raw(T::DTYPE).contiguous_raw())
        };
        let (g_out, g_hn, g_cn) = (gc(0), gc(1), if has_c { gc(2) } else { None });
        let ins_c: Vec<Tensor> = ins.iter().map(|t| t.contiguous_raw()).collect();
        let v = |i: usize| ins_c[i].as_slice::<T>().expect("contiguous");
        let wo = if has_c { 3 } else { 2 };
        let weights = Weights {
            w_ih: v(wo),
            w_hh: v(wo + 1),
            b_ih: None,
            b_hh: None,
        };
        let out = saved_out.get()?.contiguous_raw();
        fn gs<T: BufferElem>(t: &Option<Tensor>) -> Option<&[T]> {
            t.as_ref().map(|t| t.as_slice::<T>().expect("contiguous"))
        }
        let r = backward_t::<T>(
            mode,
            d,
            &saved,
            (
                v(0),
                v(1),
                has_c.then(|| v(2)),
                out.as_slice::<T>().expect("contiguous"),
            ),
            &weights,
            (gs::<T>(&g_out), gs::<T>(&g_hn), gs::<T>(&g_cn)),
            reverse,
            need,
        );
        let mk = |v: Option<Vec<T>>, shape: &[usize]| v.map(|v| Tensor::from_vec(v, shape));
        let g = mode.gates() * d.h;
        let mut res = vec![mk(r.dx, &[d.t, d.b, d.i]), mk(r.dh0, &[d.b, d.h])];
        if has_c {
            res.push(mk(r.dc0, &[d.b, d.h]));
        }
        res.push(mk(r.dw_ih, &[g, d.i]));
        res.push(mk(r.dw_hh, &[g, d.h]));
        if has_bias {
            res.push(mk(r.db_ih, &[g]));
            res.push(mk(r.db_hh, &[g]));
        }
        Ok(res)
    });
    Ok((out, h_n, c_n))
}
