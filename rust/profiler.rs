//! `torch.profiler`'s measurements: a span (name, start, duration, thread)
//! for every binding call, every backward node and every
//! `record_function` range while profiling is on.
//!
//! Off, the cost is one relaxed atomic load per binding call
//! (`python::panic_guard::run`). On, each span is pushed to a global list
//! under a mutex (the calls being recorded take microseconds; the lock
//! does not). Names are kept as given (binding names, node names); the
//! bindings map them to PyTorch's `aten::` names when the spans are read.

use parking_lot::Mutex;
use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Instant;

static ENABLED: AtomicBool = AtomicBool::new(false);
static SPANS: Mutex<Vec<Span>> = Mutex::new(Vec::new());
static NEXT_THREAD: AtomicU64 = AtomicU64::new(1);

/// What a span measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A call of a Python binding (its Rust name, e.g. `Tensor.add`).
    Binding,
    /// A backward node run by the autograd engine (`MmBackward0`).
    Backward,
    /// A user range (`record_function`).
    Range,
}

#[derive(Clone, Debug)]
pub struct Span {
    pub name: Cow<'static, str>,
    pub kind: Kind,
    /// Nanoseconds since the profiler's epoch.
    pub start_ns: u64,
    pub duration_ns: u64,
    pub thread: u64,
}

thread_local! {
    static THREAD: Cell<u64> = const { Cell::new(0) };
    /// Open `record_function` ranges of this thread (name, start).
    static RANGES: RefCell<Vec<(String, u64)>> = const { RefCell::new(Vec::new()) };
}

/// True while profiling (one relaxed load: the whole cost when off).
#[inline(always)]
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Nanoseconds since the first use of the profiler's clock.
pub fn now_ns() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

fn thread_id() -> u64 {
    THREAD.with(|t| {
        if t.get() == 0 {
            t.set(NEXT_THREAD.fetch_add(1, Ordering::Relaxed));
        }
        t.get()
    })
}

/// Starts a new recording (spans of an earlier one are dropped).
pub fn start() {
    now_ns();
    SPANS.lock().clear();
    ENABLED.store(true, Ordering::SeqCst);
}

/// Stops recording and returns the spans, in the order they ended.
pub fn stop() -> Vec<Span> {
    ENABLED.store(false, Ordering::SeqCst);
    std::mem::take(&mut *SPANS.lock())
}

pub fn record(name: Cow<'static, str>, kind: Kind, start_ns: u64, end_ns: u64) {
    let span = Span {
        name,
        kind,
        start_ns,
        duration_ns: end_ns.saturating_sub(start_ns),
        thread: thread_id(),
    };
    SPANS.lock().push(span);
}

/// Runs `f`, recorded as a span named `name` when profiling is on.
#[inline(always)]
pub fn measure<R>(name: &'static str, kind: Kind, f: impl FnOnce() -> R) -> R {
    if !enabled() {
        return f();
    }
    let start = now_ns();
    let r = f();
    record(Cow::Borrowed(name), kind, start, now_ns());
    r
}

/// Records the span of a binding started at `start` (if still profiling).
#[cold]
#[inline(never)]
pub fn span_end(binding: &'static str, start: u64) {
    if enabled() {
        record(Cow::Borrowed(binding), Kind::Binding, start, now_ns());
    }
}

/// Opens a `record_function` range on this thread.
pub fn range_begin(name: String) {
    let start = now_ns();
    RANGES.with(|r| r.borrow_mut().push((name, start)));
}

/// Closes this thread's innermost open range (recorded if profiling is on).
pub fn range_end() {
    let end = now_ns();
    if let Some((name, start)) = RANGES.with(|r| r.borrow_mut().pop()) {
        if enabled() {
            record(Cow::Owned(name), Kind::Range, start, end);
        }
    }
}

/// Each span's self time: its duration less that of the spans directly
/// inside it on the same thread (spans are properly nested per thread).
pub fn self_times(spans: &[Span]) -> Vec<u64> {
    let mut order: Vec<usize> = (0..spans.len()).collect();
    // Outer spans first: by start, the longer first on a tie.
    order.sort_by_key(|&i| {
        let s = &spans[i];
        (s.thread, s.start_ns, std::cmp::Reverse(s.duration_ns))
    });
    let mut own: Vec<u64> = spans.iter().map(|s| s.duration_ns).collect();
    let mut open: Vec<usize> = Vec::new();
    for &i in &order {
        let s = &spans[i];
        while let Some(&top) = open.last() {
            let t = &spans[top];
            let inside =
                t.thread == s.thread && s.start_ns + s.duration_ns <= t.start_ns + t.duration_ns;
            if inside {
                break;
            }
            open.pop();
        }
        if let Some(&parent) = open.last() {
            own[parent] = own[parent].saturating_sub(s.duration_ns);
        }
        open.push(i);
    }
    own
}
