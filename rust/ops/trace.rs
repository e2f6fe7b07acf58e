//! The tracer's engine side (`rustdl.jit.trace`, ONNX export, `add_graph`).
//!
//! The Python tracer records the ops it knows (one graph node per `nn.functional` op,
//! tensor method or RNN module), bracketing each with [`enter`] / [`exit`]. Every binding
//! call passes through `python::panic_guard::run`, which, while a trace runs on this
//! thread and no recorded op is open, notes the binding here ([`note_binding`]): an engine
//! op that ran *outside* the recorded graph. Its result can only be a constant of the
//! trace, so the tracer warns naming it (a factory such as `zeros` is expected; an op on a
//! traced value, e.g. `Tensor.all` on a mask, makes the trace input-specific).
//!
//! A few bindings record themselves (`python::py_trace::record_call`, one line at their
//! end): functions often imported by value (`from torch import cat`), which the Python
//! tracer's swapped names never see. They call back into the Python recorder with their
//! arguments and result when [`recording_here`].
//!
//! Off, the cost is one relaxed atomic load per binding call; the state itself is
//! thread-local, so another thread's ops never land in a trace.

use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};

/// How many threads are tracing (so the check when none is: one relaxed load).
static TRACING_THREADS: AtomicUsize = AtomicUsize::new(0);

struct ThreadTrace {
    /// Recorded ops open on this thread (nested calls inside one are part of it).
    depth: usize,
    /// Bindings that ran outside every recorded op, in call order.
    outside: Vec<&'static str>,
}

thread_local! {
    static TRACE: RefCell<Option<ThreadTrace>> = const { RefCell::new(None) };
}

/// True when some thread traces (the binding guard then asks [`note_binding`]).
#[inline(always)]
pub fn active() -> bool {
    TRACING_THREADS.load(Ordering::Relaxed) != 0
}

/// Starts a trace on this thread; false if one already runs here.
pub fn start() -> bool {
    TRACE.with(|t| {
        let mut t = t.borrow_mut();
        if t.is_some() {
            return false;
        }
        *t = Some(ThreadTrace {
            depth: 0,
            outside: Vec::new(),
        });
        TRACING_THREADS.fetch_add(1, Ordering::SeqCst);
        true
    })
}

/// Ends this thread's trace; the bindings that ran outside recorded ops.
pub fn stop() -> Vec<&'static str> {
    TRACE.with(|t| match t.borrow_mut().take() {
        Some(trace) => {
            TRACING_THREADS.fetch_sub(1, Ordering::SeqCst);
            trace.outside
        }
        None => Vec::new(),
    })
}

/// A recorded op starts (its inner engine calls belong to it).
pub fn enter() {
    TRACE.with(|t| {
        if let Some(trace) = t.borrow_mut().as_mut() {
            trace.depth += 1;
        }
    });
}

/// A recorded op ends.
pub fn exit() {
    TRACE.with(|t| {
        if let Some(trace) = t.borrow_mut().as_mut() {
            trace.depth = trace.depth.saturating_sub(1);
        }
    });
}

/// True when this thread traces and no recorded op is open: a binding that records itself
/// (`python::py_trace::record_call`) is then a node of its own.
pub fn recording_here() -> bool {
    TRACE.with(|t| {
        t.try_borrow()
            .map(|t| t.as_ref().is_some_and(|trace| trace.depth == 0))
            .unwrap_or(false)
    })
}

/// Takes back the note of `binding` (its latest): it was recorded after all.
pub fn unnote(binding: &'static str) {
    TRACE.with(|t| {
        if let Ok(mut t) = t.try_borrow_mut() {
            if let Some(trace) = t.as_mut() {
                if let Some(i) = trace.outside.iter().rposition(|b| *b == binding) {
                    trace.outside.remove(i);
                }
            }
        }
    });
}

/// Called for every binding while [`active`]: notes it if this thread traces and no
/// recorded op is open. The tracer's own bindings (`_trace_*`) are not ops.
#[cold]
#[inline(never)]
pub fn note_binding(binding: &'static str) {
    if binding.starts_with("_trace") {
        return;
    }
    TRACE.with(|t| {
        if let Ok(mut t) = t.try_borrow_mut() {
            if let Some(trace) = t.as_mut() {
                if trace.depth == 0 {
                    trace.outside.push(binding);
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_only_outside_recorded_ops_on_the_tracing_thread() {
        assert!(start());
        assert!(!start());
        note_binding("Tensor.all");
        enter();
        note_binding("Tensor.add");
        exit();
        note_binding("_trace_enter");
        std::thread::spawn(|| note_binding("Tensor.mul"))
            .join()
            .unwrap();
        assert_eq!(stop(), vec!["Tensor.all"]);
        assert!(stop().is_empty());
    }
}
