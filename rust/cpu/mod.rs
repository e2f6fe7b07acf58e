//! Kernels on plain slices: no autograd, no Python.

pub mod arith;
pub mod gemm;
pub mod special;
pub mod norm;
pub mod planes;
pub mod pool;
