"""torchvision's v2 kernels for segmentation masks: the image kernels with
nearest-neighbour sampling, a 2-d ``(H, W)`` mask given a channel dimension for the
call and losing it after, as torchvision."""

import numpy as np

from .. import functional as _F
from ..functional import InterpolationMode
from ._box_kernels import _perspective_coefficients

__all__ = [
    "affine_mask", "center_crop_mask", "crop_mask", "elastic_mask", "get_size_mask", "horizontal_flip_mask",
    "pad_mask", "perspective_mask", "resize_mask", "resized_crop_mask", "rotate_mask", "vertical_flip_mask",
]


def _on_mask(mask, fn):
    squeeze = mask.ndim < 3
    out = fn(mask.unsqueeze(0) if squeeze else mask)
    return out.squeeze(0) if squeeze else out


def horizontal_flip_mask(mask):
    return mask.flip(-1)


def vertical_flip_mask(mask):
    return mask.flip(-2)


def get_size_mask(mask):
    hw = list(mask.shape[-2:])
    if len(hw) != 2:
        raise TypeError(f"Input tensor should have at least two dimensions, but got {len(hw)}")
    return hw


def resize_mask(mask, size, interpolation=InterpolationMode.BILINEAR, max_size=None):
    if interpolation not in (InterpolationMode.NEAREST, InterpolationMode.NEAREST_EXACT, "nearest", "nearest-exact"):
        interpolation = InterpolationMode.NEAREST  # masks are only ever resampled by nearest neighbour
    return _on_mask(mask, lambda m: _F.resize(m, size, interpolation=interpolation, max_size=max_size))


def affine_mask(mask, angle, translate, scale, shear, fill=None, center=None):
    return _on_mask(mask, lambda m: _F.affine(m, angle, translate, scale, shear, InterpolationMode.NEAREST,
                                              fill=fill, center=center))


def rotate_mask(mask, angle, expand=False, center=None, fill=None):
    return _on_mask(mask, lambda m: _F.rotate(m, angle, InterpolationMode.NEAREST, expand=expand, center=center,
                                              fill=fill))


def pad_mask(mask, padding, fill=None, padding_mode="constant"):
    if fill is None:
        fill = 0
    if isinstance(fill, (tuple, list)):
        raise ValueError("Non-scalar fill value is not supported")  # noqa: TRY004
    return _on_mask(mask, lambda m: _F.pad(m, padding, fill=fill, padding_mode=padding_mode))


def crop_mask(mask, top, left, height, width):
    return _on_mask(mask, lambda m: _F.crop(m, top, left, height, width))


def center_crop_mask(mask, output_size):
    return _on_mask(mask, lambda m: _F.center_crop(m, output_size))


def resized_crop_mask(mask, top, left, height, width, size):
    return resize_mask(crop_mask(mask, top, left, height, width), size)


def perspective_mask(mask, startpoints, endpoints, fill=None, coefficients=None):
    coeffs = _perspective_coefficients(startpoints, endpoints, coefficients)

    def warp(m):
        _F._check_fill_for_tensor(m, fill)
        return _F._on_hw(m, lambda a: _F._np_perspective(a, [float(np.float32(c)) for c in coeffs], "nearest", fill))

    return _on_mask(mask, warp)


def elastic_mask(mask, displacement, fill=None):
    return _on_mask(mask, lambda m: _F.elastic_transform(m, displacement, InterpolationMode.NEAREST, fill=fill))
