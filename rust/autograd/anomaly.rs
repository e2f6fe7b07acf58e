//! Anomaly mode (`torch.autograd.set_detect_anomaly`): while it is on, the engine checks every
//! gradient a backward function returns and stops at the first node that produced a NaN, naming
//! it, instead of letting the NaN spread silently to the parameters. Process-wide, as in PyTorch.
//! Nodes recorded while it is on keep the forward call stack; when their backward fails, a
//! warning shows where the failing op was called (PyTorch's "Error detected in ...").

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use crate::error::{Error, Result};
use crate::ops;
use crate::tensor::{DType, Tensor};

static ENABLED: AtomicBool = AtomicBool::new(false);
static CHECK_NAN: AtomicBool = AtomicBool::new(true);

pub fn set_enabled(enabled: bool, check_nan: bool) {
    ENABLED.store(enabled, Ordering::Relaxed);
    CHECK_NAN.store(check_nan, Ordering::Relaxed);
}

pub fn is_enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

pub fn is_check_nan_enabled() -> bool {
    CHECK_NAN.load(Ordering::Relaxed)
}

/// What the front end provides: the current call stack as text (None when unavailable), and a
/// way to show a warning. Set once by the Python layer; autograd itself knows nothing of Python.
pub struct FrontEnd {
    pub call_stack: fn() -> Option<String>,
    pub warn: fn(&str),
}

static FRONT_END: OnceLock<FrontEnd> = OnceLock::new();

pub fn set_front_end(front_end: FrontEnd) {
    let _ = FRONT_END.set(front_end);
}

/// The forward call stack to keep on a node being recorded (only in anomaly mode).
pub fn forward_call_stack() -> Option<Arc<str>> {
    if !is_enabled() {
        return None;
    }
    (FRONT_END.get()?.call_stack)().map(Arc::from)
}

/// Called by the engine when `node_name`'s backward failed: in anomaly mode, warn with the
/// forward call that made the node, as PyTorch does (the error itself propagates unchanged).
pub fn report_failed_backward(node_name: &str, forward_stack: Option<&str>) {
    let Some(front_end) = FRONT_END.get().filter(|_| is_enabled()) else {
        return;
    };
    let message = match forward_stack {
        Some(stack) => format!(
            "Error detected in {node_name}. Traceback of forward call that caused the error:\n{stack}"
        ),
        None => format!(
            "Error detected in {node_name}. No forward pass information available. Enable detect anomaly during forward pass for more information."
        ),
    };
    (front_end.warn)(&message);
}

fn has_nan(g: &Tensor) -> Result<bool> {
    if !g.dtype().is_float() || g.numel() == 0 || g.is_meta() {
        return Ok(false);
    }
    let values = ops::unary::to_dtype(&ops::unary::isnan(g)?, DType::U8)?;
    Ok(values.to_vec::<u8>().iter().any(|&v| v != 0))
}

/// Called by the engine after `node_name`'s backward returned `grads` (a no-op unless anomaly
/// mode with NaN checks is on).
pub fn check_backward_outputs(node_name: &str, grads: &[Option<Tensor>]) -> Result<()> {
    if !is_enabled() || !is_check_nan_enabled() {
        return Ok(());
    }
    for (i, g) in grads.iter().enumerate() {
        if let Some(g) = g {
            if has_nan(g)? {
                return Err(Error::Runtime(format!(
                    "Function '{node_name}' returned nan values in its {i}th output."
                )));
            }
        }
    }
    Ok(())
}
