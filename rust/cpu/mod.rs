//! Kernels on plain slices: no autograd, no Python.

pub mod add_assign;
pub mod arith;
pub mod attention;
pub mod bf16_cast;
pub mod bf16_relu;
pub mod bgemm;
pub mod conv;
pub mod conv_bf16;
pub mod conv_bf16_direct;
pub mod conv_depthwise;
pub mod conv_forward_direct;
pub mod conv_implicit;
pub mod conv_input_grad_direct;
pub mod conv_weight_grad_direct;
pub mod conv_winograd;
#[cfg(target_arch = "x86_64")]
mod conv_winograd_narrow;
#[cfg(target_arch = "x86_64")]
mod conv_winograd_rows;
pub mod extrema;
pub mod gemm;
pub mod isa;
pub mod lanes;
pub mod linalg;
pub mod moments;
pub mod multiversion;
pub mod norm;
pub mod norm_bf16;

pub mod norm_simd;
pub mod normal;
pub mod peak;
pub mod planes;
pub mod pool;
pub mod pool2x2_relu;
pub mod rnn;
pub mod sgemm;
pub mod simd;
pub mod sort;
pub mod special;
pub mod stream;
pub mod sum;
#[cfg(test)]
pub mod test_values;
pub mod transpose8x8;
pub mod vmath;
