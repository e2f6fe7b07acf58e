"""Convolutions of ``rustdl.nn.functional``: conv1d/2d/3d and conv_transpose1d/2d/3d.

Arguments are normalized here (ints -> lists, string padding resolved); the
computation and the shape checks are one Rust call (``_C.conv_nd`` /
``_C.conv_transpose_nd``).
"""

from .. import _C
from ..amp.autocast_mode import _op as _autocast_op
from ._arg_checks import scalar_name

__all__ = [
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
]


# dtypes PyTorch's CPU convolution may hand to mkldnn
_MKLDNN_DTYPES = ("float32", "bfloat16", "float16")


def _ints(value):
    if isinstance(value, int):
        return [value]
    return [int(v) for v in value]


def _same_padding(input, weight, dilation, nd):
    """PyTorch's padding='same': total d*(k-1) per dim, split with the odd
    element at the end, which is padded explicitly before a symmetric conv."""
    kernel = list(weight.shape[2:])
    if len(kernel) != nd:
        return input, [0]  # wrong weight rank: the Rust call reports it
    dil = dilation * nd if len(dilation) == 1 else dilation
    left, extra = [], []
    for k, d in zip(kernel, dil):
        total = d * (k - 1)
        left.append(total // 2)
        extra.append(total - 2 * (total // 2))
    if any(extra):
        pad = []
        for e in reversed(extra):  # F.pad lists the last dim first
            pad += [0, e]
        input = _C.pad(input, pad, "constant", 0.0)
    return input, left


@_autocast_op("lower")
def _conv(input, weight, bias, stride, padding, dilation, groups, nd):
    stride, dilation = _ints(stride), _ints(dilation)
    loose_bias = None
    if isinstance(padding, str) and isinstance(bias, _C.Tensor) and isinstance(input, _C.Tensor) \
            and bias.dtype != input.dtype \
            and (input.numel() == 0 or str(input.dtype).split(".")[-1] not in _MKLDNN_DTYPES):
        # PyTorch checks the bias's dtype in conv{1,2,3}d with numeric padding
        # only; with a string padding its slow kernels convert the bias to the
        # output's dtype (an empty input's output adds it in place), while
        # its mkldnn kernel (float32, picked by batch, groups, sizes and
        # thread count) refuses it: rustdl refuses it there too.
        # (the cast bias is for the shape checks: an empty input's output
        # adds the bias itself below, so that it gets its zero gradient)
        loose_bias, bias = bias, bias.to(input.dtype)
        if input.numel() == 0:
            bias = bias.detach()
    if isinstance(padding, str):
        if padding == "valid":
            padding = [0]
        elif padding == "same":
            if any(s != 1 for s in stride):
                raise RuntimeError("padding='same' is not supported for strided convolutions")
            input, padding = _same_padding(input, weight, dilation, nd)
        else:
            raise RuntimeError(f"Invalid padding string: '{padding}'")
    else:
        padding = _ints(padding)
    if weight.dim() != nd + 2:
        raise RuntimeError(
            f"Expected {nd + 2}-dimensional weight for conv{nd}d, but got weight of size {list(weight.shape)}"
        )
    out = _C.conv_nd(input, weight, bias, stride, padding, dilation, groups)
    if loose_bias is not None and input.numel() == 0:
        if loose_bias.is_floating_point() and not out.is_floating_point():
            raise RuntimeError(f"result type {scalar_name(loose_bias)} can't be cast to the desired output type "
                               f"{scalar_name(out)}")
        channel_shape = [-1] + [1] * nd
        out = out + loose_bias.to(out.dtype).reshape(channel_shape)
    return out


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return _conv(input, weight, bias, stride, padding, dilation, groups, 1)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return _conv(input, weight, bias, stride, padding, dilation, groups, 2)


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return _conv(input, weight, bias, stride, padding, dilation, groups, 3)


@_autocast_op("lower")
def _conv_transpose(input, weight, bias, stride, padding, output_padding, groups, dilation, nd):
    if weight.dim() != nd + 2:
        raise RuntimeError(
            f"Expected {nd + 2}-dimensional weight for conv_transpose{nd}d, "
            f"but got weight of size {list(weight.shape)}"
        )
    if isinstance(input, _C.Tensor) and input.dim() in (nd + 1, nd + 2) and input.numel() == 0:
        # PyTorch's convolution takes an empty batch or no channels, but not an
        # empty spatial dim (shown as it sees the input: batched, 1-d as 2-d).
        shape = list(input.shape) if input.dim() == nd + 2 else [1, *input.shape]
        if nd == 1:
            shape = [*shape[:2], 1, *shape[2:]]
        if shape[0] != 0 and shape[1] != 0:
            raise RuntimeError(f"Only zero batch or zero channel inputs are supported, but got input shape: {shape}")
    return _C.conv_transpose_nd(
        input, weight, bias, _ints(stride), _ints(padding), _ints(output_padding), groups, _ints(dilation)
    )


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    return _conv_transpose(input, weight, bias, stride, padding, output_padding, groups, dilation, 1)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    return _conv_transpose(input, weight, bias, stride, padding, output_padding, groups, dilation, 2)


def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    return _conv_transpose(input, weight, bias, stride, padding, output_padding, groups, dilation, 3)
