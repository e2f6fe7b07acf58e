"""Cases shared by tools/differential/record_vision_roi_ops.py (torchvision.ops) and
tests/test_vision_roi_ops.py (rustdl.vision.ops): RoI pooling and deformable
convolution, values and gradients.

A case is ``(op name, {argument: numpy array or value}, names of the arguments whose
gradient is recorded)``. The gradient is that of ``(out * upstream(out.shape)).sum()``.
"""

import numpy as np

_rng = np.random.default_rng(11)
X = _rng.standard_normal((2, 8, 10, 12)).astype(np.float32)
X64 = _rng.standard_normal((1, 4, 9, 7))
ROIS = np.array([
    [0, 1.0, 2.0, 7.0, 8.0],
    [1, 0.5, 0.0, 11.0, 9.5],
    [0, 3.3, 4.1, 3.9, 4.6],      # smaller than a pixel
    [1, -2.0, -1.5, 4.0, 3.0],    # partly outside
    [0, 9.0, 7.0, 14.0, 13.0],    # past the far edge
], np.float32)
ROIS_SCALED = (ROIS * np.array([1, 2, 2, 2, 2], np.float32)).astype(np.float32)
OFFSET = (_rng.standard_normal((2, 2 * 9, 10, 12)) * 1.5).astype(np.float32)
OFFSET_G2 = (_rng.standard_normal((2, 2 * 2 * 4, 5, 7)) * 1.2).astype(np.float32)
MASK = _rng.random((2, 9, 10, 12)).astype(np.float32)
WEIGHT = (_rng.standard_normal((6, 8, 3, 3)) * 0.2).astype(np.float32)
WEIGHT_G2 = (_rng.standard_normal((4, 4, 2, 2)) * 0.2).astype(np.float32)
BIAS = _rng.standard_normal(6).astype(np.float32)

CASES = [
    ("roi_align", {"input": X, "boxes": ROIS, "output_size": (3, 2)}, ["input"]),
    ("roi_align", {"input": X, "boxes": ROIS, "output_size": 4, "sampling_ratio": 2, "aligned": True}, ["input"]),
    ("roi_align", {"input": X, "boxes": ROIS_SCALED, "output_size": 3, "spatial_scale": 0.5}, ["input"]),
    ("roi_align", {"input": X64, "boxes": ROIS[:3, :].astype(np.float64) * [0, 1, 1, 1, 1], "output_size": 2,
                   "aligned": True}, ["input"]),
    ("roi_pool", {"input": X, "boxes": ROIS, "output_size": (3, 2)}, ["input"]),
    ("roi_pool", {"input": X, "boxes": ROIS_SCALED, "output_size": 2, "spatial_scale": 0.5}, ["input"]),
    ("ps_roi_align", {"input": X, "boxes": ROIS, "output_size": 2}, ["input"]),
    ("ps_roi_align", {"input": X, "boxes": ROIS, "output_size": (2, 1), "sampling_ratio": 2,
                      "spatial_scale": 0.7}, ["input"]),
    ("ps_roi_pool", {"input": X, "boxes": ROIS, "output_size": 2}, ["input"]),
    ("ps_roi_pool", {"input": X, "boxes": ROIS_SCALED, "output_size": (1, 2), "spatial_scale": 0.5}, ["input"]),
    ("deform_conv2d", {"input": X, "offset": OFFSET, "weight": WEIGHT, "bias": BIAS, "padding": 1},
     ["input", "offset", "weight", "bias"]),
    ("deform_conv2d", {"input": X, "offset": OFFSET, "weight": WEIGHT, "padding": (1, 1), "mask": MASK},
     ["input", "offset", "weight", "mask"]),
    ("deform_conv2d", {"input": X, "offset": OFFSET_G2, "weight": WEIGHT_G2, "stride": 2, "padding": 1,
                       "dilation": (2, 1)}, ["input", "offset", "weight"]),
]


def upstream(shape, seed=5):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


FPN_IN = [("feat0", _rng.standard_normal((1, 4, 16, 12)).astype(np.float32)),
          ("feat1", _rng.standard_normal((1, 8, 8, 6)).astype(np.float32)),
          ("feat2", _rng.standard_normal((1, 6, 4, 3)).astype(np.float32))]
MSROI_FEATS = [("p2", _rng.standard_normal((2, 3, 32, 32)).astype(np.float32)),
               ("p3", _rng.standard_normal((2, 3, 16, 16)).astype(np.float32)),
               ("p4", _rng.standard_normal((2, 3, 8, 8)).astype(np.float32))]
MSROI_BOXES = [np.array([[1.0, 2.0, 20.0, 30.0], [5.0, 5.0, 120.0, 100.0], [0.0, 0.0, 6.0, 7.0]], np.float32),
               np.array([[10.0, 12.0, 90.0, 127.0]], np.float32)]


def fpn_weights(keys_shapes):
    """Deterministic weights for the FPN's state_dict."""
    return {k: (np.random.default_rng(i).standard_normal(s) * 0.3).astype(np.float32)
            for i, (k, s) in enumerate(keys_shapes)}
