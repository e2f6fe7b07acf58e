//! Anomaly mode (`torch.autograd.set_detect_anomaly`): while it is on, the engine checks every
//! gradient a backward function returns and stops at the first node that produced a NaN, naming
//! it, instead of letting the NaN spread silently to the parameters. Process-wide, as in PyTorch.

use std::sync::atomic::{AtomicBool, Ordering};

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
