//! Fused elementwise chains: `relu(x * a + b)` in one pass over memory.
//!
//! Without a graph to record (no input requires grad, or grad mode is off),
//! an elementwise op on a large contiguous float32 tensor does not run: it
//! returns a tensor whose storage is *deferred* (`tensor::storage`), holding
//! a `Program`: the storages it reads (`leaves`) and the steps to apply. An
//! elementwise op on such a tensor extends a copy of its program instead of
//! running it. The program runs the first time the elements are read or
//! written, in cache-sized blocks: each block is loaded once, every step is
//! applied to it while it sits in L1, and it is stored once. Intermediate
//! results that are never read (the `x * a` and `+ b` above) are never
//! computed into memory at all.
//!
//! Each step applies the same element function as the eager op, so results
//! are bit-identical. A storage a program reads is protected from change:
//! writing to it first runs every pending program (`Storage::buffer_mut`),
//! and one lent to numpy is never read by a program.

use super::binary::BinOp;
use crate::cpu::arith::Arith;
use crate::cpu::multiversion::with_fma;
use crate::cpu::sum::{run_sum_of_blocks, RunValues, Terms};
use crate::parallel;
use crate::tensor::dtype::num_like::FloatOps;
use crate::tensor::storage::{Buffer, BufferElem, Deferred, Storage};
use crate::tensor::{DType, Layout, Tensor};
use std::any::Any;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Below this many elements an op runs at once: its operands fit in cache,
/// so fusing saves little, and deferring costs a few hundred nanoseconds.
/// `RUSTDL_FUSION_MIN_NUMEL` overrides it (the test suite runs once with 1,
/// so that every eligible op in it is fused).
const DEFAULT_MIN_NUMEL: usize = 1 << 16;
static MIN_NUMEL: AtomicUsize = AtomicUsize::new(usize::MAX);

/// Longest chain kept deferred, and most tensors one program reads.
const MAX_STEPS: usize = 32;
const MAX_LEAVES: usize = 8;
/// Elements per block: a block of the output and one of each operand stay in
/// L1 while the steps run over them.
const BLOCK: usize = 1024;

pub fn min_numel() -> usize {
    match MIN_NUMEL.load(Ordering::Relaxed) {
        usize::MAX => {
            let n = std::env::var("RUSTDL_FUSION_MIN_NUMEL")
                .ok()
                .and_then(|s| s.parse::<usize>().ok())
                .unwrap_or(DEFAULT_MIN_NUMEL)
                .min(usize::MAX - 1);
            MIN_NUMEL.store(n, Ordering::Relaxed);
            n
        }
        n => n,
    }
}

/// Set the smallest tensor that is fused (0 or 1: every one; a huge number:
/// none); returns the previous value.
pub fn set_min_numel(n: usize) -> usize {
    let old = min_numel();
    MIN_NUMEL.store(n.min(usize::MAX - 1), Ordering::Relaxed);
    old
}

/// The unary functions a program can apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unary {
    Relu,
    Neg,
    Abs,
    Exp,
    Log,
    Sqrt,
    Tanh,
    Sigmoid,
}

#[derive(Clone, Copy, Debug)]
enum Step {
    Unary(Unary),
    /// `acc op v`, or `v op acc` when reversed.
    Number {
        op: BinOp,
        v: f32,
        reversed: bool,
    },
    /// `acc op leaves[leaf]`, or `leaves[leaf] op acc` when reversed.
    Tensor {
        op: BinOp,
        leaf: usize,
        reversed: bool,
    },
}

impl Step {
    fn is_transcendental(&self) -> bool {
        use Unary::*;
        matches!(self, Step::Unary(Exp | Log | Sqrt | Tanh | Sigmoid))
    }
}

/// A storage a program reads, from `offset`; counted as a reader while held.
struct Leaf {
    storage: Arc<Storage>,
    offset: usize,
}

impl Leaf {
    fn new(storage: Arc<Storage>, offset: usize) -> Leaf {
        storage.count_reader(true);
        Leaf { storage, offset }
    }
}

impl Clone for Leaf {
    fn clone(&self) -> Leaf {
        Leaf::new(self.storage.clone(), self.offset)
    }
}

impl Drop for Leaf {
    fn drop(&mut self) {
        self.storage.count_reader(false);
    }
}

/// `numel` elements: `leaves[0]`, then each step applied in order.
#[derive(Clone)]
struct Program {
    numel: usize,
    leaves: Vec<Leaf>,
    steps: Vec<Step>,
}

impl Deferred for Program {
    fn run(&self) -> Buffer {
        Buffer::F32(self.evaluate())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn run_into_f32(&self, out: &mut [f32], writes: &Storage) -> bool {
        if out.len() != self.numel
            || self
                .leaves
                .iter()
                .any(|l| std::ptr::eq(&*l.storage, writes))
        {
            return false;
        }
        self.evaluate_into(out);
        true
    }
}

/// An operand a program may start from or read: large, contiguous, float32,
/// on the host. Tensors requiring grad are excluded by the callers.
fn eligible(x: &Tensor) -> bool {
    // (The size first: the cheap test that rules out tiny tensors.)
    x.numel() >= min_numel().max(1)
        && x.dtype() == DType::F32
        && !x.is_gpu()
        && !x.is_meta()
        && x.is_contiguous()
}

/// A copy of `x`'s pending program, if `x` is a deferred result viewed
/// whole and in order and the program passes `accept`.
fn pending_program(x: &Tensor, accept: impl FnOnce(&Program) -> bool) -> Option<Program> {
    let st = x.storage();
    if !st.is_deferred() {
        return None;
    }
    st.with_plan(|plan| {
        let p = plan?.as_any().downcast_ref::<Program>()?;
        (x.offset() == 0 && p.numel == x.numel() && accept(p)).then(|| p.clone())
    })
}

/// A program computing `x`'s elements: a copy of its pending program when `x`
/// is a deferred result (viewed whole, in order), else `x` as the only leaf.
///
/// A program with a transcendental step (exp, log, sqrt, tanh, sigmoid) is
/// not copied but run: `x` may have other consumers, and each copy would
/// compute the step again (`y * (1 - y)` with `y = sigmoid(x)` would take
/// two sigmoids per element, eager one). Arithmetic steps cost less than
/// the memory pass they save, so chains of them are copied.
fn source(x: &Tensor) -> Option<Program> {
    let pending = pending_program(x, |p| {
        p.steps.len() < MAX_STEPS && !p.steps.iter().any(Step::is_transcendental)
    });
    if pending.is_some() {
        return pending;
    }
    // Not pending, ran meanwhile, viewed in part, or costly to repeat: (run
    // it and) read it as a leaf.
    Some(Program {
        numel: x.numel(),
        leaves: vec![leaf(x)?],
        steps: Vec::new(),
    })
}

/// `x` as an operand read from memory (running it first if deferred). Not
/// a storage lent to numpy, nor a small part of a larger one (the program
/// would keep all of it alive).
fn leaf(x: &Tensor) -> Option<Leaf> {
    let st = x.storage();
    if st.len() > 2 * x.numel() {
        return None;
    }
    // Counted before the check: `Storage::export` counts its lease, then
    // looks for readers, so one of the two sees the other.
    let leaf = Leaf::new(st.clone(), x.offset());
    (!st.is_exported()).then_some(leaf)
}

impl Program {
    fn into_tensor(self, shape: &[usize]) -> Tensor {
        let reads: Vec<Arc<Storage>> = self.leaves.iter().map(|l| l.storage.clone()).collect();
        let reads: Vec<&Storage> = reads.iter().map(|s| &**s).collect();
        Tensor::from_parts(
            Storage::deferred(DType::F32, Box::new(self), &reads),
            Layout::contiguous(shape),
        )
    }

    /// The operands' elements, from each leaf's offset.
    fn sources(&self) -> Vec<&[f32]> {
        self.leaves
            .iter()
            .map(|l| {
                let all = f32::slice(l.storage.buffer()).expect("fused operands are float32");
                &all[l.offset..l.offset + self.numel]
            })
            .collect()
    }

    /// The elements from `start` on into `chunk`; with `stream`, the steps
    /// before the last run in L1 and the last writes `chunk` with streaming
    /// stores (`cpu::stream`) as it computes: staging each whole block in
    /// L1 and streaming it out after was 1.5-2x slower, the loads of the
    /// next block waiting behind a burst of stores.
    fn fill(&self, sources: &[&[f32]], start: usize, chunk: &mut [f32], stream: bool) {
        // Steps write alternately to the block and to `scratch`, never in
        // place: written in place, a select such as relu's became masked
        // stores, which are slow. The last step writes to the block.
        let mut scratch = [0f32; BLOCK];
        let mut staged = [0f32; BLOCK];
        let last = self.steps.len().saturating_sub(1);
        for (b, out_block) in chunk.chunks_mut(BLOCK).enumerate() {
            let at = start + b * BLOCK;
            let n = out_block.len();
            let source = &sources[0][at..at + n];
            if self.steps.is_empty() {
                if stream {
                    crate::cpu::stream::copy(out_block, source);
                } else {
                    out_block.copy_from_slice(source);
                }
                continue;
            }
            let tmp = &mut scratch[..n];
            let (block, steps): (&mut [f32], &[Step]) = if stream {
                (&mut staged[..n], &self.steps[..last])
            } else {
                (&mut *out_block, &self.steps)
            };
            for (i, &step) in steps.iter().enumerate() {
                let to_block = (last - i).is_multiple_of(2);
                match (i, to_block) {
                    (0, true) => apply(step, block, source, sources, at, false),
                    (0, false) => apply(step, tmp, source, sources, at, false),
                    (_, true) => apply(step, block, tmp, sources, at, false),
                    (_, false) => apply(step, tmp, block, sources, at, false),
                }
            }
            if stream {
                // The step before the last wrote `tmp`.
                let input: &[f32] = if last == 0 { source } else { tmp };
                apply(self.steps[last], out_block, input, sources, at, true);
            }
        }
        if stream {
            crate::cpu::stream::fence();
        }
    }

    fn evaluate(&self) -> Vec<f32> {
        let mut out = crate::tensor::pool::uninit_vec::<f32>(self.numel);
        self.evaluate_into(&mut out);
        out
    }

    fn evaluate_into(&self, out: &mut [f32]) {
        let sources = self.sources();
        // Each element costs about one elementwise op per step.
        let work = self.numel.saturating_mul(self.steps.len().max(1));
        let threads = parallel::num_threads();
        let stream = crate::cpu::stream::worth_streaming(4 * self.numel);
        if threads == 1 || work < parallel::ELEMENTWISE_GRAIN {
            self.fill(&sources, 0, out, stream);
        } else {
            let chunk = self.numel.div_ceil(threads * 4).next_multiple_of(BLOCK);
            parallel::for_each_chunk_mut(out, chunk, |i, c| {
                self.fill(&sources, i * chunk, c, stream)
            });
        }
    }
}

/// A pending program's values summed as they are computed (`cpu::sum`'s
/// run sums, without storing the values).
struct ProgramValues<'a> {
    program: &'a Program,
    sources: Vec<&'a [f32]>,
}

impl RunValues<f32> for ProgramValues<'_> {
    fn count(&self) -> usize {
        self.program.numel
    }
    fn run_sum(&self, start: usize, len: usize, terms: Terms) -> f64 {
        with_fma(
            #[inline(always)]
            || {
                run_sum_of_blocks(start, len, terms, |at, buf| {
                    self.program.fill(&self.sources, at, buf, false)
                })
            },
        )
    }
    fn sums_of_runs(&self, first: usize, len: usize, out: &mut [f32], terms: Terms) {
        for (i, o) in out.iter_mut().enumerate() {
            *o = self.run_sum((first + i) * len, len, terms) as f32;
        }
    }
}

/// If `x` is a pending result viewed whole: the sums of its `out.len()`
/// consecutive runs of `len` values (or of their squares) from the program,
/// the values never stored: `(a * b).sum()` reads a and b once. The same
/// additions as the sums over the stored values; `false` if `x` is not one.
pub fn run_sums(x: &Tensor, len: usize, out: &mut [f32], terms: Terms) -> bool {
    let Some(program) = pending_program(x, |_| true) else {
        return false;
    };
    let values = ProgramValues {
        sources: program.sources(),
        program: &program,
    };
    crate::cpu::sum::run_sums(&values, len, out, terms);
    true
}

/// `dst[i] = f(src[i])`; with `nt`, written with streaming stores.
#[inline(always)]
fn each(dst: &mut [f32], src: &[f32], nt: bool, f: impl Fn(f32) -> f32) {
    if nt {
        crate::cpu::stream::write_lines(dst, |i, out| {
            let x = &src[i..i + out.len()];
            for (d, &x) in out.iter_mut().zip(x) {
                *d = f(x);
            }
        });
        return;
    }
    for (d, &x) in dst.iter_mut().zip(src) {
        *d = f(x);
    }
}

/// `dst[i] = f(src[i], other[i])`; with `nt`, written with streaming stores.
#[inline(always)]
fn each2(dst: &mut [f32], src: &[f32], other: &[f32], nt: bool, f: impl Fn(f32, f32) -> f32) {
    if nt {
        crate::cpu::stream::write_lines(dst, |i, out| {
            let (x, y) = (&src[i..i + out.len()], &other[i..i + out.len()]);
            for ((d, &x), &y) in out.iter_mut().zip(x).zip(y) {
                *d = f(x, y);
            }
        });
        return;
    }
    for ((d, &x), &y) in dst.iter_mut().zip(src).zip(other) {
        *d = f(x, y);
    }
}

/// One step over one block, `dst = step(src)` (with `nt`, `dst` written
/// with streaming stores), compiled for AVX2+FMA or AVX-512 when the CPU
/// has them (as the eager maps are).
fn apply(step: Step, dst: &mut [f32], src: &[f32], sources: &[&[f32]], at: usize, nt: bool) {
    crate::cpu::multiversion::with_avx512(
        #[inline(always)]
        || apply_step(step, dst, src, sources, at, nt),
    )
}

/// The element functions are the eager ops' own (`unary`,
/// `binary::scalar_map`, `binary::compute`).
#[inline(always)]
fn apply_step(step: Step, dst: &mut [f32], src: &[f32], sources: &[&[f32]], at: usize, nt: bool) {
    match step {
        Step::Unary(u) => match u {
            Unary::Relu => each(dst, src, nt, |v| if v < 0.0 { 0.0 } else { v }),
            Unary::Neg => each(dst, src, nt, Arith::neg),
            Unary::Abs => each(dst, src, nt, Arith::abs),
            Unary::Exp => each(dst, src, nt, FloatOps::fast_exp),
            Unary::Log => each(dst, src, nt, FloatOps::fast_ln),
            Unary::Sqrt => each(dst, src, nt, f32::sqrt),
            Unary::Tanh => each(dst, src, nt, FloatOps::fast_tanh),
            Unary::Sigmoid => each(dst, src, nt, |v| 1.0 / (1.0 + (-v).fast_exp())),
        },
        Step::Number { op, v, reversed } => match (op, reversed) {
            (BinOp::Add, false) => each(dst, src, nt, |x| Arith::add(x, v)),
            (BinOp::Add, true) => each(dst, src, nt, |x| Arith::add(v, x)),
            (BinOp::Sub, false) => each(dst, src, nt, |x| Arith::sub(x, v)),
            (BinOp::Sub, true) => each(dst, src, nt, |x| Arith::sub(v, x)),
            (BinOp::Mul, false) => each(dst, src, nt, |x| Arith::mul(x, v)),
            (BinOp::Mul, true) => each(dst, src, nt, |x| Arith::mul(v, x)),
            (BinOp::Div, false) => each(dst, src, nt, |x| Arith::div(x, v)),
            _ => each(dst, src, nt, |x| Arith::div(v, x)),
        },
        Step::Tensor { op, leaf, reversed } => {
            let other = &sources[leaf][at..at + dst.len()];
            match (op, reversed) {
                (BinOp::Add, false) => each2(dst, src, other, nt, Arith::add),
                (BinOp::Add, true) => each2(dst, src, other, nt, |x, y| Arith::add(y, x)),
                (BinOp::Sub, false) => each2(dst, src, other, nt, Arith::sub),
                (BinOp::Sub, true) => each2(dst, src, other, nt, |x, y| Arith::sub(y, x)),
                (BinOp::Mul, false) => each2(dst, src, other, nt, Arith::mul),
                (BinOp::Mul, true) => each2(dst, src, other, nt, |x, y| Arith::mul(y, x)),
                (BinOp::Div, false) => each2(dst, src, other, nt, Arith::div),
                _ => each2(dst, src, other, nt, |x, y| Arith::div(y, x)),
            }
        }
    }
}

/// `f(x)` deferred, or `None` for the caller to compute it now.
pub fn unary(x: &Tensor, f: Unary) -> Option<Tensor> {
    if !eligible(x) || crate::autograd::node::needs_grad(&[x]) {
        return None;
    }
    let mut p = source(x)?;
    p.steps.push(Step::Unary(f));
    Some(p.into_tensor(x.shape()))
}

fn arithmetic(op: BinOp) -> bool {
    matches!(op, BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div)
}

/// `x op v` (or `v op x`) for a number `v` deferred, or `None`.
pub fn with_number(op: BinOp, x: &Tensor, v: f64, reversed: bool) -> Option<Tensor> {
    if !arithmetic(op) || !eligible(x) || crate::autograd::node::needs_grad(&[x]) {
        return None;
    }
    let mut p = source(x)?;
    p.steps.push(Step::Number {
        op,
        v: v as f32,
        reversed,
    });
    Some(p.into_tensor(x.shape()))
}

/// `a op b` for two tensors of one shape deferred, or `None`.
pub fn binary(op: BinOp, a: &Tensor, b: &Tensor) -> Option<Tensor> {
    if !arithmetic(op)
        || a.shape() != b.shape()
        || !eligible(a)
        || !eligible(b)
        || crate::autograd::node::needs_grad(&[a, b])
    {
        return None;
    }
    // Extend the pending side's program with the other as an operand (run
    // first if deferred too, which also covers `a` being `b`).
    let (first, other, reversed) = if b.storage().is_deferred() && !a.storage().is_deferred() {
        (b, a, true)
    } else {
        (a, b, false)
    };
    let operand = leaf(other)?;
    let mut p = source(first)?;
    if p.leaves.len() >= MAX_LEAVES {
        return None;
    }
    p.leaves.push(operand);
    let leaf = p.leaves.len() - 1;
    p.steps.push(Step::Tensor { op, leaf, reversed });
    Some(p.into_tensor(a.shape()))
}
