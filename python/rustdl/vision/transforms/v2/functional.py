"""``torchvision.transforms.v2.functional``: the v1 functions plus ``to_image``
and ``to_dtype``."""

import numpy as np

import rustdl

from ..functional import *
from ..functional import __all__ as _v1_all
from ..functional import _is_pil, _is_tensor, convert_image_dtype, pil_to_tensor

__all__ = ["to_dtype", "to_image"]
__all__ += _v1_all  # noqa: PLE0605 (the v1 names)


def to_image(inpt):
    """PIL image, HxW[xC] numpy array or tensor -> CxHxW tensor (values unchanged)."""
    if _is_pil(inpt):
        return pil_to_tensor(inpt)
    if isinstance(inpt, np.ndarray):
        a = inpt[:, :, None] if inpt.ndim == 2 else inpt
        return rustdl.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)))
    if _is_tensor(inpt):
        return inpt
    raise TypeError(
        f"Input can either be a pure Tensor, a numpy array, or a PIL image, but got {type(inpt)} instead."
    )


def to_dtype(inpt, dtype=rustdl.float32, scale=False):
    """Cast a tensor image; with ``scale`` rescale the values between the dtypes'
    ranges (uint8 255 <-> float 1.0), as ``convert_image_dtype``."""
    if not _is_tensor(inpt):
        raise TypeError(f"Expected a tensor, got {type(inpt)}")
    if inpt.dtype == dtype:
        return inpt
    if not scale:
        return inpt.to(dtype)
    return convert_image_dtype(inpt, dtype)
