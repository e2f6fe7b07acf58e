//! Autocast (`torch.autocast("cpu", dtype=...)`): one thread-local state,
//! consulted at the entry of the ops on PyTorch's CPU lists, that casts their
//! floating inputs before the op runs. Casting is `to_dtype`, which is
//! differentiable, so float32 parameters get float32 gradients.
//!
//! Policies (PyTorch's `autocast_mode.cpp`, CPU):
//! - `Lower`: matmul, mm, bmm, addmm, baddbmm, addbmm, linear, convolutions,
//!   prelu, scaled_dot_product_attention run in the autocast dtype;
//! - `Float32`: losses, prod, cdist, trace, inverse, ... run in float32;
//! - `Promote`: the widest input type (cat and stack promote on their own,
//!   so no op needs it yet; `_C._autocast_cast("promote", ...)` offers it).
//!
//! Eligible inputs are floating tensors other than float64 (PyTorch's
//! `is_autocast_eligible`). While a listed op runs, autocast is suspended
//! (PyTorch excludes its autocast dispatch key inside its wrappers), so the
//! ops it is made of are not cast again.
//! Python sets the state (`rustdl.autocast`); ops composed in Python (conv,
//! losses) mark their entry with the same `run` through `_C._autocast_cast`.

use crate::error::Result;
use crate::tensor::{DType, Tensor};
use std::cell::Cell;

/// Which cast an op's inputs get.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    Lower,
    Float32,
    Promote,
}

impl Policy {
    pub fn parse(s: &str) -> Option<Policy> {
        match s {
            "lower" => Some(Policy::Lower),
            "fp32" | "float32" => Some(Policy::Float32),
            "promote" => Some(Policy::Promote),
            _ => None,
        }
    }
}

/// The CPU autocast state of this thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct State {
    pub enabled: bool,
    /// The lower-precision type (bfloat16 by default on CPU).
    pub dtype: DType,
}

thread_local! {
    static STATE: Cell<State> = const { Cell::new(State { enabled: false, dtype: DType::BF16 }) };
    /// Inside a listed op: autocast suspended.
    static INSIDE: Cell<bool> = const { Cell::new(false) };
}

pub fn state() -> State {
    STATE.with(|s| s.get())
}

pub fn set_state(s: State) {
    STATE.with(|c| c.set(s));
}

/// Whether a listed op entered now casts its inputs.
#[inline]
pub fn active() -> bool {
    STATE.with(|s| s.get().enabled) && !INSIDE.with(|i| i.get())
}

/// Suspends autocast (for ops composed in Python: the Python side holds
/// it while the op's body runs); returns the previous flag to restore.
pub fn set_suspended(on: bool) -> bool {
    INSIDE.with(|i| i.replace(on))
}

fn eligible(t: &Tensor) -> bool {
    let d = t.dtype();
    d.is_float() && d != DType::F64 && !t.is_gpu()
}

/// The inputs cast for `policy` under the current state (as they are when
/// nothing needs a cast).
pub fn cast(policy: Policy, inputs: &[&Tensor]) -> Result<Vec<Tensor>> {
    let target = match policy {
        Policy::Lower => Some(state().dtype),
        Policy::Float32 => Some(DType::F32),
        Policy::Promote => {
            let floats: Vec<DType> = inputs
                .iter()
                .filter(|t| eligible(t))
                .map(|t| t.dtype())
                .collect();
            floats.iter().copied().reduce(DType::promote)
        }
    };
    inputs
        .iter()
        .map(|t| match target {
            Some(d) if eligible(t) && t.dtype() != d => super::unary::to_dtype(t, d),
            _ => Ok((*t).clone()),
        })
        .collect()
}

/// At a listed op's entry: `None` when autocast is off (the op runs as
/// called); else the op's `body` on the cast inputs, with autocast
/// suspended while it runs.
#[inline]
pub fn run<R>(
    policy: Policy,
    inputs: &[&Tensor],
    body: impl FnOnce(&[Tensor]) -> Result<R>,
) -> Option<Result<R>> {
    if !active() {
        return None;
    }
    Some(run_cast(policy, inputs, body))
}

#[cold]
fn run_cast<R>(
    policy: Policy,
    inputs: &[&Tensor],
    body: impl FnOnce(&[Tensor]) -> Result<R>,
) -> Result<R> {
    let cast = cast(policy, inputs)?;
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            set_suspended(self.0);
        }
    }
    let _restore = Restore(set_suspended(true));
    body(&cast)
}
