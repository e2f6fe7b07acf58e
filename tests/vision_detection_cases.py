"""Cases shared by tools/differential/record_vision_detection_transforms.py
(torchvision.transforms.v2) and tests/test_vision_detection_transforms.py (rustdl):
detection samples (image, BoundingBoxes, Mask, labels) through the v2 transforms that
move boxes, with the random draws scripted (``Script``) identically on both sides."""

import numpy as np

_rng = np.random.default_rng(3)
IMAGE = (_rng.random((3, 24, 32)) * 255).astype(np.uint8)
BOXES = np.array([[1.0, 2.0, 10.0, 12.0], [5.0, 5.0, 5.5, 5.5], [0.0, 0.0, 32.0, 24.0], [20.0, 3.0, 31.0, 22.0]],
                 np.float32)
MASK = (_rng.random((4, 24, 32)) > 0.5).astype(np.uint8)
LABELS = np.array([1, 2, 3, 4], np.int64)

# (class name, kwargs, script start)
CASES = [
    ("RandomZoomOut", {"p": 1.0, "fill": 7}, 0),
    ("RandomZoomOut", {"p": 1.0, "side_range": (1.5, 2.5)}, 5),
    ("ScaleJitter", {"target_size": (40, 30)}, 0),
    ("ScaleJitter", {"target_size": (20, 20), "scale_range": (0.5, 1.5), "interpolation": "nearest"}, 3),
    ("RandomIoUCrop", {}, 0),
    ("RandomIoUCrop", {"sampler_options": [0.1, 0.3]}, 7),
    ("SanitizeBoundingBoxes", {"min_size": 2.0}, 0),
    ("ClampBoundingBoxes", {}, 0),
    ("ConvertBoundingBoxFormat", {"format": "CXCYWH"}, 0),
    ("RandomHorizontalFlip", {"p": 1.0}, 0),
    ("RandomVerticalFlip", {"p": 1.0}, 0),
    ("Resize", {"size": [12, 20]}, 0),
    ("Resize", {"size": 16, "max_size": 20, "interpolation": "nearest"}, 0),
    ("CenterCrop", {"size": 16}, 0),
    ("CenterCrop", {"size": [30, 20]}, 0),
    ("Pad", {"padding": [1, 2, 3, 4], "fill": 9}, 0),
    ("RandomCrop", {"size": 16, "padding": 2}, 3),
    ("RandomCrop", {"size": [30, 34], "pad_if_needed": True}, 4),
    ("RandomResizedCrop", {"size": [10, 12], "scale": (0.5, 0.5), "ratio": (1.0, 1.0)}, 2),
    ("RandomRotation", {"degrees": (30.0, 30.0)}, 0),
    ("RandomRotation", {"degrees": (-45.0, -45.0), "expand": True, "fill": 3}, 0),
    ("RandomAffine", {"degrees": (10.0, 10.0), "scale": (1.2, 1.2), "shear": (5.0, 5.0, -3.0, -3.0)}, 0),
    ("RandomPerspective", {"p": 1.0, "distortion_scale": 0.6}, 3),
    ("ElasticTransform", {"alpha": 20.0, "sigma": 2.0}, 1),
]


class Script:
    """``rand``/``randint`` answering from a formula and a call counter."""

    def __init__(self, start):
        self.count = start

    def _next(self, n):
        k = self.count + np.arange(n, dtype=np.int64)
        self.count += n
        return k

    def rand_values(self, n):
        return np.mod(self._next(n).astype(np.float64) * 0.6180339887498949 + 0.137, 1.0).astype(np.float32)

    def randint_values(self, low, high, n):
        return low + (self._next(n) * 2654435761 // 97) % (high - low)


def parse_randint(args, kwargs):
    ints = [a for a in args if isinstance(a, int)]
    size = next((a for a in args if isinstance(a, (tuple, list))), kwargs.get("size"))
    low, high = (0, ints[0]) if len(ints) == 1 else (ints[0], ints[1]) if ints else (0, None)
    low = kwargs.get("low", low)
    high = kwargs.get("high", high)
    return low, high, tuple(size)


def parse_size(args):
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        return tuple(args[0])
    return tuple(args)
