"""Bridge to the Rust linear op (kept separate so nn.functional stays thin)."""

from . import _C


def linear(input, weight, bias=None):
    if input.dtype in _HALF and weight.dtype == input.dtype and (bias is None or bias.dtype == input.dtype):
        # PyTorch's addmm adds the bias to the float32 products and rounds
        # once: computed in float32 between differentiable casts.
        b = None if bias is None else bias.float()
        return linear(input.float(), weight.float(), b).to(input.dtype)
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
