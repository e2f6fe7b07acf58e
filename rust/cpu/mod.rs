//! Kernels on plain slices: no autograd, no Python.

pub mod arith;
pub mod gemm;
pub mod norm;
pub mod planes;
pub mod pool;
pub mod special;
