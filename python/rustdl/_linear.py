"""Bridge to the Rust linear op (kept separate so nn.functional stays thin)."""

from . import _C


def linear(input, weight, bias=None):
    if input.dtype in _HALF and weight.dtype == input.dtype and (bias is None or bias.dtype == input.dtype):
        # PyTorch's addmm adds the bias to the float32 products and rounds
        # once: computed in float32 between differentiable casts.
        b = None if bias is None else bias.float()
        return linear(input.float(), weight.float(), b).to(input.dtype)
    if bias is not None and input.dim() == 2 and weight.dim() != 2:
        raise RuntimeError(f"addmm: mat2 must be a matrix, got {weight.dim()}-D tensor")
    if bias is not None and weight.dim() == 2 and input.dim() >= 2 and bias.dim() <= 2:
        # PyTorch's addmm on the rows (AddmmBackward0, edges bias, input, weight.t()).
        rows = input if input.dim() == 2 else input.flatten(0, -2)
        _check_bias(bias.shape, (rows.shape[0], weight.shape[0]))
        out = bias.addmm(rows, weight.t())
        return out if input.dim() == 2 else out.view(*input.shape[:-1], weight.shape[0])
    out = input @ weight.t() if weight.dim() == 2 else input @ weight
    if bias is None:
        return out
    _check_bias(bias.shape, out.shape)
    return out + bias


_HALF = (_C.float16, _C.bfloat16)


def _check_bias(bias_shape, out_shape):
    """The bias must broadcast to the output without changing its shape."""
    if len(bias_shape) > len(out_shape) or any(
        b != 1 and b != o for b, o in zip(reversed(bias_shape), reversed(out_shape))
    ):
        raise RuntimeError(
            f"linear: bias of shape {list(bias_shape)} does not broadcast to the output shape "
            f"{list(out_shape)}"
        )


__all__ = ["_C", "linear"]
