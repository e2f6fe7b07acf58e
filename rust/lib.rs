//! rustdl: tensors, autograd and CPU kernels, with a PyTorch-shaped Python API.
//!
//! Layers, top to bottom: `python` (bindings) -> `ops` (differentiable ops) ->
//! `autograd` (graph and engine) / `tensor` (storage, layout, dtype) -> `cpu`
//! (kernels on slices). See ARCHITECTURE.md.

// Generic kernels are instantiated for every dtype, bool included, where
// `a > b` on bools is what we mean; and the extension module must be named `_C`.
#![allow(clippy::bool_comparison)]
#![allow(non_snake_case)]

pub mod allocator;
pub mod autograd;
pub mod cpu;
pub mod error;
pub mod gpu;
pub mod ops;
pub mod optim;
pub mod parallel;
pub mod profiler;
pub mod tensor;

#[cfg(feature = "python")]
pub mod python;

#[global_allocator]
static GLOBAL: allocator::SmallFast = allocator::SmallFast;

pub use error::{Error, Result};
pub use tensor::{DType, Tensor};
