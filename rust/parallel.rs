//! One thread pool for every kernel, and the rule for when work is split.
//!
//! Small work stays on the calling thread. A fork/join hands work from the
//! Python thread to sleeping rayon workers and back; on the shared 2-vCPU
//! machine here that round trip measured 15-40 us (`x + y`, `relu(x)` at 2
//! threads were 2-4x slower than at 1 up to ~256K floats, and only won from
//! ~1M). So an elementwise op splits from `ELEMENTWISE_GRAIN` elements, and
//! kernels doing several operations per element from `GRAIN`.

use parking_lot::RwLock;
use rayon::prelude::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

/// Below this many elements (or units of work of a few operations each) a
/// kernel runs on one thread.
pub const GRAIN: usize = 128 * 1024;
/// The same for a memory-bound elementwise op (one load, one store).
pub const ELEMENTWISE_GRAIN: usize = 512 * 1024;

static POOL: OnceLock<RwLock<Arc<rayon::ThreadPool>>> = OnceLock::new();
/// The pool's size, readable without touching the lock (checked on every op).
static THREADS: AtomicUsize = AtomicUsize::new(0);

fn default_threads() -> usize {
    if let Some(n) = std::env::var("RUSTDL_NUM_THREADS")
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
    {
        return n.max(1);
    }
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

fn build(n: usize) -> Arc<rayon::ThreadPool> {
    Arc::new(
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .thread_name(|i| format!("rustdl-{i}"))
            .build()
            .expect("thread pool builds"),
    )
}

fn pool_lock() -> &'static RwLock<Arc<rayon::ThreadPool>> {
    POOL.get_or_init(|| {
        let n = default_threads();
        THREADS.store(n, Ordering::Relaxed);
        RwLock::new(build(n))
    })
}

pub fn pool() -> Arc<rayon::ThreadPool> {
    pool_lock().read().clone()
}

pub fn num_threads() -> usize {
    match THREADS.load(Ordering::Relaxed) {
        0 => pool_lock().read().current_num_threads(),
        n => n,
    }
}

pub fn set_num_threads(n: usize) {
    let n = n.max(1);
    if n == num_threads() {
        // Keep the pool (and its threads' packing buffers) as it is.
        return;
    }
    if n == num_threads() {
        // Keep the pool (and its threads' packing buffers) as it is.
        return;
    }
    *pool_lock().write() = build(n);
    THREADS.store(n, Ordering::Relaxed);
}

/// Run `f` inside the pool (so nested rayon calls use its threads).
pub fn install<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    if num_threads() == 1 {
        return f();
    }
    pool().install(f)
}

/// Split `out` into chunks and call `f(start_index, chunk)` on each, in
/// parallel when large.
pub fn fill_chunks<T: Send>(out: &mut [T], f: impl Fn(usize, &mut [T]) + Sync + Send) {
    let n = out.len();
    let threads = num_threads();
    if n < ELEMENTWISE_GRAIN || threads == 1 {
        f(0, out);
        return;
    }
    let chunk = n.div_ceil(threads * 4).max(ELEMENTWISE_GRAIN / 4);
    install(|| {
        out.par_chunks_mut(chunk)
            .enumerate()
            .for_each(|(i, c)| f(i * chunk, c));
    });
}

/// `src.iter().map(f).collect()`, in parallel when large.
pub fn map_slice<S: Sync + Copy, D: crate::tensor::storage::BufferElem>(
    src: &[S],
    f: impl Fn(S) -> D + Sync + Send,
) -> Vec<D> {
    let mut out = crate::tensor::pool::uninit_vec::<D>(src.len());
    fill_chunks(&mut out, |start, c| {
        let len = c.len();
        for (o, &s) in c.iter_mut().zip(&src[start..start + len]) {
            *o = f(s);
        }
    });
    out
}

/// A raw pointer handed to several threads that each write their own,
/// disjoint elements through it (the borrow checker cannot see the split).
#[derive(Clone, Copy)]
pub struct SendPtr<T>(pub *mut T);
// SAFETY: users only write disjoint elements from different threads, and the
// buffer outlives the parallel region.
unsafe impl<T> Send for SendPtr<T> {}
unsafe impl<T> Sync for SendPtr<T> {}
