//! Differentiable ops: forward and backward side by side, one family per file.

pub mod binary;
pub mod creation;
pub mod index;
pub mod map;
pub mod matmul;
pub mod reduce;
pub mod shape;
pub mod unary;
