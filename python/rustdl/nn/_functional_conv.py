"""Convolutions of ``rustdl.nn.functional``: conv1d/2d/3d and conv_transpose1d/2d/3d.

Arguments are normalized here (ints -> lists, string padding resolved); the
computation and the shape checks are one Rust call (``_C.conv_nd`` /
``_C.conv_transpose_nd``).
"""

from .. import _C
from ..amp.autocast_mode import _op as _autocast_op

__all__ = [
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
]


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
    return _C.conv_nd(input, weight, bias, stride, padding, dilation, groups)


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
