"""``torchvision.tv_tensors``: tensors that say what they hold (``BoundingBoxes`` with a
``format`` and a ``canvas_size``, ``KeyPoints``, ``Mask``, ``Image``, ``Video``), so v2
transforms and kernels can treat each part of a sample as torchvision does.

They are ``rustdl.Tensor`` subclasses carrying their metadata as attributes; like
torchvision, operations on them return plain tensors (``wrap`` re-attaches metadata).
"""

import enum

import numpy as np

import rustdl

__all__ = [
    "BoundingBoxFormat", "BoundingBoxes", "Image", "KeyPoints", "Mask", "TVTensor", "Video",
    "is_rotated_bounding_format", "wrap",
]


class BoundingBoxFormat(enum.Enum):
    XYXY = "XYXY"
    XYWH = "XYWH"
    CXCYWH = "CXCYWH"
    XYWHR = "XYWHR"
    CXCYWHR = "CXCYWHR"
    XYXYXYXY = "XYXYXYXY"


def is_rotated_bounding_format(format):
    if isinstance(format, str):
        format = BoundingBoxFormat[format.upper()]
    return format in (BoundingBoxFormat.XYWHR, BoundingBoxFormat.CXCYWHR, BoundingBoxFormat.XYXYXYXY)


def _as_tensor(data, dtype=None, requires_grad=None):
    if isinstance(data, rustdl.Tensor):
        t = data if dtype is None else data.to(dtype)
    elif isinstance(data, np.ndarray):
        t = rustdl.from_numpy(np.ascontiguousarray(data))
        if dtype is not None:
            t = t.to(dtype)
    else:
        t = rustdl.tensor(data, dtype=dtype)
    if requires_grad is not None:
        t = t.detach().requires_grad_(requires_grad)
    return t


class TVTensor(rustdl.Tensor):
    """Base of the tv_tensors: a tensor of a known kind."""

    def __new__(cls, data, *, dtype=None, device=None, requires_grad=None):
        return super().__new__(cls, _as_tensor(data, dtype, requires_grad))

    def __init__(self, *args, **kwargs):
        pass

    def __repr__(self):
        return f"{type(self).__name__}({rustdl.Tensor.__repr__(rustdl.Tensor(self))})"


class Image(TVTensor):
    """``[..., C, H, W]`` image; a 2-d input gets a channel dimension, as torchvision."""

    def __new__(cls, data, *, dtype=None, device=None, requires_grad=None):
        t = _as_tensor(data, dtype, requires_grad)
        if t.dim() < 2:
            raise ValueError(f"Image needs at least 2 dimensions, got {t.dim()}")
        if t.dim() == 2:
            t = t.unsqueeze(0)
        return rustdl.Tensor.__new__(cls, t)


class Video(TVTensor):
    """``[..., T, C, H, W]`` video."""

    def __new__(cls, data, *, dtype=None, device=None, requires_grad=None):
        t = _as_tensor(data, dtype, requires_grad)
        if t.dim() < 4:
            raise ValueError(f"Video needs at least 4 dimensions, got {t.dim()}")
        return rustdl.Tensor.__new__(cls, t)


class Mask(TVTensor):
    """``[..., H, W]`` segmentation / detection mask."""


class BoundingBoxes(TVTensor):
    """``[N, K]`` boxes in ``format`` on an image of ``canvas_size`` (height, width)."""

    def __new__(cls, data, *, format, canvas_size, clamping_mode="soft", dtype=None, device=None,
                requires_grad=None):
        t = _as_tensor(data, dtype, requires_grad)
        if t.dim() == 0:
            raise ValueError("BoundingBoxes needs at least 1 dimension")
        if t.dim() == 1:
            t = t.unsqueeze(0)
        if isinstance(format, str):
            format = BoundingBoxFormat[format.upper()]
        out = rustdl.Tensor.__new__(cls, t)
        out.format = format
        out.canvas_size = tuple(canvas_size)
        out.clamping_mode = clamping_mode
        return out

    def __init__(self, *args, **kwargs):
        pass


class KeyPoints(TVTensor):
    """``[..., 2]`` (x, y) points on an image of ``canvas_size`` (height, width)."""

    def __new__(cls, data, *, canvas_size, dtype=None, device=None, requires_grad=None):
        t = _as_tensor(data, dtype, requires_grad)
        if t.dim() == 1:
            t = t.unsqueeze(0)
        if t.dim() == 0 or t.shape[-1] != 2:
            raise ValueError(f"Expected a tensor of shape (..., 2), not {list(t.shape)}")
        out = rustdl.Tensor.__new__(cls, t)
        out.canvas_size = tuple(canvas_size)
        return out

    def __init__(self, *args, **kwargs):
        pass


def wrap(wrappee, *, like, **kwargs):
    """``wrappee`` as a tv_tensor of ``like``'s type and metadata (``kwargs`` override)."""
    if isinstance(like, BoundingBoxes):
        return BoundingBoxes(wrappee, format=kwargs.get("format", like.format),
                             canvas_size=kwargs.get("canvas_size", like.canvas_size),
                             clamping_mode=kwargs.get("clamping_mode", like.clamping_mode))
    if isinstance(like, KeyPoints):
        return KeyPoints(wrappee, canvas_size=kwargs.get("canvas_size", like.canvas_size))
    return type(like)(wrappee)
