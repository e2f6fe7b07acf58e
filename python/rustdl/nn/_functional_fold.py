"""Sliding blocks and sub-pixel rearrangements of ``rustdl.nn.functional``:
``unfold`` (im2col), ``fold`` (col2im), ``pixel_shuffle``, ``pixel_unshuffle``.

``unfold`` and ``fold`` are one Rust call each (``_C._unfold`` / ``_C._fold``,
adjoint linear maps recorded as each other's backward, to every order); the
pixel shuffles are a reshape, a permute and a reshape, differentiable as such.
"""

from .. import _C

__all__ = ["fold", "pixel_shuffle", "pixel_unshuffle", "unfold"]


def _pair(value):
    """PyTorch's ``_pair``: an iterable as a tuple, anything else twice."""
    if isinstance(value, (list, tuple)):
        return [int(v) for v in value]
    return [int(value), int(value)]


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    return _C._unfold(input, _pair(kernel_size), _pair(dilation), _pair(padding), _pair(stride))


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    return _C._fold(input, _pair(output_size), _pair(kernel_size), _pair(dilation), _pair(padding), _pair(stride))


def _factor(fn, name, value):
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{fn}(): argument '{name}' (position 2) must be int, not {type(value).__name__}")
    return value


def _check_rank(fn, input):
    if input.dim() < 3:
        raise RuntimeError(
            f"{fn} expects input to have at least 3 dimensions, but got input with {input.dim()} dimension(s)"
        )


def pixel_shuffle(input, upscale_factor):
    r = _factor("pixel_shuffle", "upscale_factor", upscale_factor)
    _check_rank("pixel_shuffle", input)
    if r <= 0:
        raise RuntimeError(f"pixel_shuffle expects a positive upscale_factor, but got {r}")
    *batch, c, h, w = input.shape
    if c % (r * r) != 0:
        raise RuntimeError(
            "pixel_shuffle expects its input's 'channel' dimension to be divisible by the square of upscale_factor, "
            f"but input.size(-3)={c} is not divisible by {r * r}"
        )
    nb = len(batch)
    oc = c // (r * r)
    x = input.reshape(*batch, oc, r, r, h, w)
    # (*, oc, r1, r2, h, w) -> (*, oc, h, r1, w, r2)
    order = list(range(nb)) + [nb, nb + 3, nb + 1, nb + 4, nb + 2]
    return x.permute(*order).reshape(*batch, oc, h * r, w * r)


def pixel_unshuffle(input, downscale_factor):
    r = _factor("pixel_unshuffle", "downscale_factor", downscale_factor)
    _check_rank("pixel_unshuffle", input)
    if r <= 0:
        raise RuntimeError(f"pixel_unshuffle expects a positive downscale_factor, but got {r}")
    *batch, c, h, w = input.shape
    if h % r != 0:
        raise RuntimeError(
            "pixel_unshuffle expects height to be divisible by downscale_factor, "
            f"but input.size(-2)={h} is not divisible by {r}"
        )
    if w % r != 0:
        raise RuntimeError(
            "pixel_unshuffle expects width to be divisible by downscale_factor, "
            f"but input.size(-1)={w} is not divisible by {r}"
        )
    nb = len(batch)
    x = input.reshape(*batch, c, h // r, r, w // r, r)
    # (*, c, oh, r1, ow, r2) -> (*, c, r1, r2, oh, ow)
    order = list(range(nb)) + [nb, nb + 2, nb + 4, nb + 1, nb + 3]
    return x.permute(*order).reshape(*batch, c * r * r, h // r, w // r)
