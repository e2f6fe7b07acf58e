"""``MultiScaleRoIAlign``: RoIAlign over the feature-pyramid level each box belongs to
(FPN paper eq. 1), as torchvision."""


import numpy as np

import rustdl

from ... import nn
from .boxes import box_area
from .roi import roi_align

__all__ = ["LevelMapper", "MultiScaleRoIAlign", "initLevelMapper"]


class LevelMapper:
    """Level ``floor(k0 + log2(sqrt(area) / s0) + eps)`` clamped to ``[k_min, k_max]``, minus ``k_min``."""

    def __init__(self, k_min, k_max, canonical_scale=224, canonical_level=4, eps=1e-6):
        self.k_min = k_min
        self.k_max = k_max
        self.s0 = canonical_scale
        self.lvl0 = canonical_level
        self.eps = eps

    def __call__(self, boxlists):
        s = rustdl.sqrt(rustdl.cat([box_area(b) for b in boxlists])).detach().numpy()
        lvls = np.floor(s.dtype.type(self.lvl0) + np.log2(s / s.dtype.type(self.s0)) + s.dtype.type(self.eps))
        lvls = np.clip(lvls, self.k_min, self.k_max)
        return rustdl.from_numpy((lvls.astype(np.int64) - self.k_min).astype(np.int64))


def initLevelMapper(k_min, k_max, canonical_scale=224, canonical_level=4, eps=1e-6):
    return LevelMapper(k_min, k_max, canonical_scale, canonical_level, eps)


def _convert_to_roi_format(boxes):
    concat = rustdl.cat(list(boxes), dim=0)
    ids = rustdl.cat([rustdl.full((b.shape[0], 1), float(i), dtype=concat.dtype) for i, b in enumerate(boxes)], dim=0)
    return rustdl.cat([ids, concat], dim=1)


def _infer_scale(feature, original_size):
    scales = []
    for s1, s2 in zip(feature.shape[-2:], original_size):
        approx = float(np.float32(float(s1) / float(s2)))
        scales.append(2 ** float(np.round(np.log2(np.float32(approx)))))
    return scales[0]


def _setup_scales(features, image_shapes, canonical_scale, canonical_level):
    if not image_shapes:
        raise ValueError("images list should not be empty")
    max_x = max(s[0] for s in image_shapes)
    max_y = max(s[1] for s in image_shapes)
    scales = [_infer_scale(f, (max_x, max_y)) for f in features]
    lvl_min = -float(np.log2(np.float32(scales[0])))
    lvl_max = -float(np.log2(np.float32(scales[-1])))
    return scales, initLevelMapper(int(lvl_min), int(lvl_max), canonical_scale=canonical_scale,
                                   canonical_level=canonical_level)


class MultiScaleRoIAlign(nn.Module):
    def __init__(self, featmap_names, output_size, sampling_ratio, *, canonical_scale=224, canonical_level=4):
        super().__init__()
        if isinstance(output_size, int):
            output_size = (output_size, output_size)
        self.featmap_names = featmap_names
        self.sampling_ratio = sampling_ratio
        self.output_size = tuple(output_size)
        self.scales = None
        self.map_levels = None
        self.canonical_scale = canonical_scale
        self.canonical_level = canonical_level

    def forward(self, x, boxes, image_shapes):
        x_filtered = [v for k, v in x.items() if k in self.featmap_names]
        if self.scales is None or self.map_levels is None:
            self.scales, self.map_levels = _setup_scales(x_filtered, image_shapes, self.canonical_scale,
                                                         self.canonical_level)
        rois = _convert_to_roi_format(boxes)
        if len(x_filtered) == 1:
            return roi_align(x_filtered[0], rois, output_size=self.output_size, spatial_scale=self.scales[0],
                             sampling_ratio=self.sampling_ratio)
        levels = self.map_levels(boxes).numpy()
        pieces, order = [], []
        for level, (feature, scale) in enumerate(zip(x_filtered, self.scales)):
            idx = np.nonzero(levels == level)[0]
            if len(idx) == 0:
                continue
            pieces.append(roi_align(feature, rois[rustdl.from_numpy(idx)], output_size=self.output_size,
                                    spatial_scale=scale, sampling_ratio=self.sampling_ratio))
            order.append(idx)
        if not pieces:
            return rustdl.zeros(0, x_filtered[0].shape[1], *self.output_size, dtype=x_filtered[0].dtype)
        # back to the boxes' order (a differentiable gather rather than an in-place scatter)
        inverse = np.argsort(np.concatenate(order), kind="stable")
        return rustdl.cat(pieces, dim=0)[rustdl.from_numpy(inverse)]

    def __repr__(self):
        return (f"{self.__class__.__name__}(featmap_names={self.featmap_names}, "
                f"output_size={self.output_size}, sampling_ratio={self.sampling_ratio})")


