//! Reverse-mode automatic differentiation, define-by-run as in PyTorch.

pub mod anomaly;
pub mod composite;
pub mod engine;
pub mod grad_mode;
pub mod node;

pub use engine::{backward, grad};
pub use grad_mode::{is_grad_enabled, set_grad_enabled, GradModeGuard};
pub use node::{record, Edge, Node, RunningNodeGuard, SavedTensor};
