//! One team of threads for every kernel, and the rule for when work is split.
//!
//! Small work stays on the calling thread: even with the calling thread
//! taking part (`team`), starting a job costs a few microseconds, and waking
//! a sleeping worker 15-40 us on the shared 2-vCPU machine here (`x + y`,
//! `relu(x)` at 2 threads were 2-4x slower than at 1 up to ~256K floats).
//! So an elementwise op splits from `ELEMENTWISE_GRAIN` elements, and kernels
//! doing several operations per element from `GRAIN`.

mod team;

use parking_lot::RwLock;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use team::Team;

/// Below this many elements (or units of work of a few operations each) a
/// kernel runs on one thread.
pub const GRAIN: usize = 128 * 1024;
/// The same for a memory-bound elementwise op (one load, one store).
pub const ELEMENTWISE_GRAIN: usize = 512 * 1024;

static TEAM: OnceLock<RwLock<Arc<Team>>> = OnceLock::new();
/// The team's size, readable without touching the lock (checked on every op).
static THREADS: AtomicUsize = AtomicUsize::new(0);
/// A rayon pool of the same size, only for the `gemm` crate (float types
/// other than f32), built on first use.
static RAYON: OnceLock<RwLock<Option<Arc<rayon::ThreadPool>>>> = OnceLock::new();

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

fn team_lock() -> &'static RwLock<Arc<Team>> {
    TEAM.get_or_init(|| {
        // Only the forking thread survives `fork`: a child must not wait for
        // the parent's workers (PyTorch re-creates its pool the same way).
        #[cfg(unix)]
        // SAFETY: registers a handler that only stores to an atomic.
        unsafe {
            libc::pthread_atfork(None, None, Some(after_fork_in_child));
        }
        let n = default_threads();
        THREADS.store(n, Ordering::Relaxed);
        RwLock::new(Team::new(n))
    })
}

pub fn num_threads() -> usize {
    match THREADS.load(Ordering::Relaxed) {
        0 => {
            team_lock();
            THREADS.load(Ordering::Relaxed)
        }
        n => n,
    }
}

pub fn set_num_threads(n: usize) {
    let n = n.max(1);
    if n == num_threads() {
        // Keep the team (and its threads' packing buffers) as it is.
        return;
    }
    let old = std::mem::replace(&mut *team_lock().write(), Team::new(n));
    old.stop();
    if let Some(lock) = RAYON.get() {
        *lock.write() = None;
    }
    THREADS.store(n, Ordering::Relaxed);
}

/// Run `task(i)` for every `i < tasks`, spread over the team (the calling
/// thread included); tasks are claimed one at a time, so they may differ in
/// size. Serial with one thread or from inside another task.
pub fn for_each_task(tasks: usize, task: impl Fn(usize) + Sync) {
    if tasks <= 1 || num_threads() == 1 {
        return (0..tasks).for_each(task);
    }
    // (Read first: a swap would write the shared flag on every job.)
    if FORKED.load(Ordering::Relaxed) && FORKED.swap(false, Ordering::Relaxed) {
        // A child forked from a process that had started the team: its
        // workers (and maybe the state of its locks) stayed in the parent.
        // The old team is left alone, not stopped: stopping takes its locks.
        let fresh = Team::new(num_threads());
        std::mem::forget(std::mem::replace(&mut *team_lock().write(), fresh));
    }
    let team = Arc::clone(&team_lock().read());
    team.run(tasks, &task);
}

/// Set in a child process right after `fork` (see `team_lock`).
static FORKED: AtomicBool = AtomicBool::new(false);

extern "C" fn after_fork_in_child() {
    FORKED.store(true, Ordering::Relaxed);
}

/// `(0..tasks).map(f).collect()`, the tasks spread as by `for_each_task`.
pub fn map_tasks<R: Send>(tasks: usize, f: impl Fn(usize) -> R + Sync) -> Vec<R> {
    let mut out: Vec<Option<R>> = (0..tasks).map(|_| None).collect();
    let slots = SendPtr(out.as_mut_ptr());
    for_each_task(tasks, |i| {
        // SAFETY: task i writes slot i only; `out` outlives the tasks.
        unsafe { *{ slots }.0.add(i) = Some(f(i)) }
    });
    out.into_iter()
        .map(|r| r.expect("every task ran"))
        .collect()
}

/// Call `f(chunk_index, chunk)` on consecutive `chunk`-sized pieces of `out`
/// (the last may be shorter), spread as by `for_each_task`.
pub fn for_each_chunk_mut<T: Send>(
    out: &mut [T],
    chunk: usize,
    f: impl Fn(usize, &mut [T]) + Sync,
) {
    let chunks = Chunks::new(out, chunk);
    // SAFETY: each task takes its own chunk once.
    for_each_task(chunks.count, |i| f(i, unsafe { chunks.get(i) }));
}

/// `out.chunks_mut(chunk).enumerate().map(f).collect()`, spread as by
/// `for_each_task`.
pub fn map_chunks_mut<T: Send, R: Send>(
    out: &mut [T],
    chunk: usize,
    f: impl Fn(usize, &mut [T]) -> R + Sync,
) -> Vec<R> {
    let chunks = Chunks::new(out, chunk);
    // SAFETY: each task takes its own chunk once.
    map_tasks(chunks.count, |i| f(i, unsafe { chunks.get(i) }))
}

/// A mutable slice cut into `chunk`-sized pieces that tasks take by index.
struct Chunks<'a, T> {
    base: SendPtr<T>,
    len: usize,
    chunk: usize,
    count: usize,
    _borrow: std::marker::PhantomData<&'a mut [T]>,
}

// SAFETY: tasks on other threads each get a distinct piece (`get`'s
// contract), which needs `T: Send` only, as for `par_chunks_mut`.
unsafe impl<T: Send> Sync for Chunks<'_, T> {}

impl<'a, T> Chunks<'a, T> {
    fn new(out: &'a mut [T], chunk: usize) -> Self {
        let chunk = chunk.max(1);
        Chunks {
            base: SendPtr(out.as_mut_ptr()),
            len: out.len(),
            chunk,
            count: out.len().div_ceil(chunk),
            _borrow: std::marker::PhantomData,
        }
    }

    /// Piece `i`.
    ///
    /// # Safety
    /// `i < count`, and no two live references to the same piece.
    #[allow(clippy::mut_from_ref)]
    unsafe fn get(&self, i: usize) -> &'a mut [T] {
        let start = i * self.chunk;
        std::slice::from_raw_parts_mut(self.base.0.add(start), self.chunk.min(self.len - start))
    }
}

/// Run `f` inside a rayon pool of `num_threads()` threads (for the `gemm`
/// crate, which splits its work with rayon).
pub fn install<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    if num_threads() == 1 {
        return f();
    }
    let lock = RAYON.get_or_init(|| RwLock::new(None));
    let existing = lock.read().clone();
    let pool = match existing {
        Some(pool) => pool,
        None => {
            let built = rayon::ThreadPoolBuilder::new()
                .num_threads(num_threads())
                .thread_name(|i| format!("rustdl-gemm-{i}"))
                .build()
                .map(Arc::new);
            match built {
                Ok(pool) => {
                    *lock.write() = Some(Arc::clone(&pool));
                    pool
                }
                Err(_) => return f(),
            }
        }
    };
    pool.install(f)
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
    for_each_chunk_mut(out, chunk, |i, c| f(i * chunk, c));
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
pub struct SendPtr<T>(pub *mut T);
// (By hand: derive would require `T: Copy`.)
impl<T> Clone for SendPtr<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for SendPtr<T> {}
// SAFETY: users only write disjoint elements from different threads, and the
// buffer outlives the parallel region.
unsafe impl<T> Send for SendPtr<T> {}
unsafe impl<T> Sync for SendPtr<T> {}
