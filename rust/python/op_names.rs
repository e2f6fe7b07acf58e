//! PyTorch's operator name for a binding (`Tensor.__iadd__` -> `aten::add_`,
//! `conv_nd` -> `aten::convolution`): the profiler's row keys and the meta
//! device's "Could not run 'aten::...'" errors use it.

/// Bindings whose PyTorch name is not their own with `aten::` in front.
const RENAMED: &[(&str, &str)] = &[
    ("__getitem__", "index"),
    ("__setitem__", "index_put_"),
    ("__rsub__", "rsub"),
    ("__truediv__", "div"),
    ("__rtruediv__", "div"),
    ("__itruediv__", "div_"),
    ("__floordiv__", "floor_divide"),
    ("__rfloordiv__", "floor_divide"),
    ("__ifloordiv__", "floor_divide_"),
    ("__mod__", "remainder"),
    ("__rmod__", "remainder"),
    ("__imod__", "remainder_"),
    ("__and__", "bitwise_and"),
    ("__or__", "bitwise_or"),
    ("__xor__", "bitwise_xor"),
    ("__rand__", "bitwise_and"),
    ("__ror__", "bitwise_or"),
    ("__rxor__", "bitwise_xor"),
    ("__iand__", "bitwise_and_"),
    ("__ior__", "bitwise_or_"),
    ("__ixor__", "bitwise_xor_"),
    ("__invert__", "bitwise_not"),
    ("__lshift__", "bitwise_left_shift"),
    ("__rshift__", "bitwise_right_shift"),
    ("conv_nd", "convolution"),
    ("conv_transpose_nd", "convolution"),
    ("cross_entropy_fused", "cross_entropy_loss"),
    ("where_", "where"),
    ("as_tensor_", "as_tensor"),
    ("tensor", "lift_fresh"),
    ("_max_pool", "max_pool"),
    ("_avg_pool", "avg_pool"),
    ("_adaptive_avg_pool", "adaptive_avg_pool"),
    ("_adaptive_max_pool", "adaptive_max_pool"),
    ("_max_unpool", "max_unpool"),
    ("_unfold", "im2col"),
    ("_fold", "col2im"),
    ("_batch_norm", "batch_norm"),
    ("_instance_norm", "instance_norm"),
    ("_layer_norm", "layer_norm"),
    ("_group_norm", "group_norm"),
    ("_embedding", "embedding"),
];

/// The optimizer classes of the fused update bindings (`_optim_sgd`).
const OPTIMIZERS: &[(&str, &str)] = &[
    ("sgd", "SGD"),
    ("adam", "Adam"),
    ("adamax", "Adamax"),
    ("adagrad", "Adagrad"),
    ("adadelta", "Adadelta"),
    ("rmsprop", "RMSprop"),
    ("nadam", "NAdam"),
    ("radam", "RAdam"),
];

/// In-place dunders (`__iadd__`) whose op is the name between `__i` and
/// `__`, with a trailing underscore.
const INPLACE_DUNDERS: &[&str] = &["add", "sub", "mul", "pow", "matmul"];

/// `aten::<op>` for `binding` (a free function's name or `Tensor.<method>`).
pub fn aten_name(binding: &str) -> String {
    let name = binding.strip_prefix("Tensor.").unwrap_or(binding);
    if let Some((_, renamed)) = RENAMED.iter().find(|(b, _)| *b == name) {
        return format!("aten::{renamed}");
    }
    if let Some(inner) = name.strip_prefix("__").and_then(|n| n.strip_suffix("__")) {
        if let Some(op) = inner
            .strip_prefix('i')
            .filter(|op| INPLACE_DUNDERS.contains(op))
        {
            return format!("aten::{op}_");
        }
        // `__radd__` is add, `__neg__` is neg, `__lt__` is lt.
        let op = inner
            .strip_prefix('r')
            .filter(|op| INPLACE_DUNDERS.contains(op))
            .unwrap_or(inner);
        return format!("aten::{op}");
    }
    if let Some(optim) = name.strip_prefix("_optim_") {
        // PyTorch's range for an optimizer step: `Optimizer.step#SGD.step`.
        let class = OPTIMIZERS
            .iter()
            .find(|(n, _)| *n == optim)
            .map_or(optim, |(_, c)| c);
        return format!("Optimizer.step#{class}.step");
    }
    format!("aten::{}", name.trim_start_matches('_'))
}

#[cfg(test)]
mod tests {
    use super::aten_name;

    #[test]
    fn names() {
        assert_eq!(aten_name("Tensor.__iadd__"), "aten::add_");
        assert_eq!(aten_name("Tensor.__radd__"), "aten::add");
        assert_eq!(aten_name("Tensor.__matmul__"), "aten::matmul");
        assert_eq!(aten_name("Tensor.mm"), "aten::mm");
        assert_eq!(aten_name("conv_nd"), "aten::convolution");
        assert_eq!(aten_name("Tensor.__neg__"), "aten::neg");
        assert_eq!(aten_name("zeros"), "aten::zeros");
        assert_eq!(aten_name("_optim_sgd"), "Optimizer.step#SGD.step");
    }
}
