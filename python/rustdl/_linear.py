"""Bridge to the Rust linear op (kept separate so nn.functional stays thin)."""

from . import _C


def linear(input, weight, bias=None):
    if isinstance(weight, _C.Tensor) and weight.dim() > 2:
        # PyTorch's linear transposes the weight first.
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {weight.dim()}D")
    if input.dtype in _HALF and weight.dtype == input.dtype and (bias is None or bias.dtype == input.dtype):
        # PyTorch's addmm adds the bias to the float32 products and rounds
        # once: computed in float32 between differentiable casts.
        b = None if bias is None else bias.float()
        return linear(input.float(), weight.float(), b).to(input.dtype)
    if _fused(input, bias):
        # PyTorch's addmm on the rows (AddmmBackward0, edges bias, input, weight.t()),
        # with addmm's checks (ranks, then dtypes).
        if weight.dim() != 2:
            raise RuntimeError(f"addmm: mat2 must be a matrix, got {weight.dim()}-D tensor")
        # (PyTorch 2.15 flattens an N-d input only where the bias broadcasts
        # to the flattened rows; a (rows, out) bias is added after the matmul)
        if bias.dim() <= 1 or input.dim() == 2 or (bias.dim() == 2 and bias.shape[0] == 1):
            rows = input if input.dim() == 2 else input.reshape(_prod(input.shape[:-1]), input.shape[-1])
            _check_bias(bias.shape, (rows.shape[0], weight.shape[0]))
            out = bias.addmm(rows, weight.t())
            return out if input.dim() == 2 else out.view(*input.shape[:-1], weight.shape[0])
    out = input @ weight.t() if weight.dim() == 2 else input @ weight
    if bias is None:
        return out
    _check_bias(bias.shape, out.shape)
    if out.dtype != bias.dtype and not _C.can_cast(_C.promote_types(out.dtype, bias.dtype), out.dtype):
        # PyTorch adds the bias in place (output.add_(bias)).
        raise RuntimeError(f"result type {_name(_C.promote_types(out.dtype, bias.dtype))} can't be cast "
                           f"to the desired output type {_name(out.dtype)}")
    return out + bias


def linear_relu(input, weight, bias=None):
    """``F.relu(linear(input, weight, bias))``: where linear is addmm on the
    rows, the activation clamps the product in its own buffer (same values
    and graph: AddmmBackward0, then ReluBackward0)."""
    if (isinstance(input, _C.Tensor) and isinstance(weight, _C.Tensor) and isinstance(bias, _C.Tensor)
            and input.dtype == _C.float32 and weight.dtype == input.dtype and bias.dtype == input.dtype
            and weight.dim() == 2 and bias.dim() == 1 and input.dim() >= 2 and _fused(input, bias)
            and input.shape[-1] == weight.shape[1] and bias.shape[0] == weight.shape[0]):
        rows = input if input.dim() == 2 else input.reshape(_prod(input.shape[:-1]), input.shape[-1])
        if input.dim() == 2:
            return bias._addmm_relu(rows, weight.t())
        return bias._addmm_relu(rows, weight.t(), [*input.shape[:-1], weight.shape[0]])
    return linear(input, weight, bias).relu()


def _fused(input, bias):
    """Where PyTorch's linear computes addmm(bias, input rows, weight.t())
    (Linear.cpp): a 2-D input, or a contiguous one (with a contiguous bias) that is
    3-D or has a 1-D bias."""
    if bias is None or input.dim() == 0:
        return False
    return input.dim() == 2 or (input.is_contiguous() and bias.is_contiguous()
                                and (input.dim() == 3 or bias.dim() == 1))


def _prod(sizes):
    n = 1
    for s in sizes:
        n *= s
    return n


def _name(dtype):
    return {"float32": "Float", "float64": "Double", "int64": "Long", "int32": "Int", "uint8": "Byte",
            "bool": "Bool", "int8": "Char", "int16": "Short", "float16": "Half",
            "bfloat16": "BFloat16"}.get(str(dtype).split(".")[-1], str(dtype))


# bfloat16 runs on the bf16 GEMM (addmm rounds once there); float16 here.
_HALF = (_C.float16,)


def _check_bias(bias_shape, out_shape):
    """The bias must broadcast to the output without changing its shape."""
    if len(bias_shape) > len(out_shape) or any(
        b != 1 and b != o for b, o in zip(reversed(bias_shape), reversed(out_shape))
    ):
        raise RuntimeError(
            f"linear: bias of shape {list(bias_shape)} does not broadcast to the output shape "
            f"{list(out_shape)}"
        )


__all__ = ["_C", "linear", "linear_relu"]
