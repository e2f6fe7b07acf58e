//! Differentiable ops: forward and backward side by side, one family per file.

pub mod addmm;
pub mod attention;
pub mod binary;
pub mod conv;
pub mod conv_grad;
pub mod creation;
pub mod device;
pub mod fold;
pub mod fusion;
pub mod index;
pub mod indexing;
pub mod inplace;
pub mod linalg;
pub mod linear_map;
pub mod loss;
pub mod map;
pub mod matmul;
pub mod meta;
pub mod norm;
pub mod pool;
pub mod reduce;
pub mod scan;
pub mod shape;
pub mod shape_extra;
pub mod softmax;
pub mod unary;
