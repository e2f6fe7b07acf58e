"""Cases shared by tools/differential/record_vision_tv_kernels.py (runs torchvision's
v2 box / keypoint / mask kernels) and tests/test_vision_tv_kernels.py (runs rustdl's).

A case is ``(kernel name, positional args, keyword args)``; ``("FMT", name)`` stands for
a ``BoundingBoxFormat`` member and numpy arrays for tensors, converted on each side.
"""

import numpy as np

_rng = np.random.default_rng(7)
BOXES = np.array([[2.0, 3.0, 10.0, 12.0], [0.5, 1.5, 4.0, 7.25], [15.0, 2.0, 19.0, 9.0]], np.float32)
BOXES_XYWH = np.array([[2.0, 3.0, 8.0, 9.0], [12.0, 1.0, 6.0, 5.0]], np.float32)
BOXES_INT = np.array([[2, 3, 10, 12], [1, 1, 4, 7], [5, 6, 9, 11]], np.int64)
ROTATED = np.array([[5.0, 6.0, 6.0, 3.0, 30.0], [10.0, 8.0, 4.0, 2.0, -15.0]], np.float32)
KEYPOINTS = np.array([[1.0, 2.0], [7.5, 3.25], [19.0, 11.0], [0.0, 0.0]], np.float32)
KP_GROUPS = np.array([[[1.0, 2.0], [3.0, 4.0]], [[-1.0, 2.0], [3.0, 4.0]], [[5.0, 5.0], [19.5, 11.0]]], np.float32)
CANVAS = (14, 20)
MASK = (_rng.random((14, 20)) * 4).astype(np.uint8)
MASK3 = (_rng.random((2, 14, 20)) * 3).astype(np.uint8)
DISPLACEMENT = (_rng.standard_normal((1, 14, 20, 2)) * 0.05).astype(np.float32)
START = [[0, 0], [19, 0], [19, 13], [0, 13]]
END = [[1, 2], [18, 0], [17, 13], [2, 12]]


def _fmt(name):
    return ("FMT", name)


CASES = []
for fmt, boxes in (("XYXY", BOXES), ("XYWH", BOXES_XYWH), ("CXCYWH", BOXES_XYWH)):
    f = _fmt(fmt)
    CASES += [
        ("horizontal_flip_bounding_boxes", (boxes,), {"format": f, "canvas_size": CANVAS}),
        ("vertical_flip_bounding_boxes", (boxes,), {"format": f, "canvas_size": CANVAS}),
        ("resize_bounding_boxes", (boxes,), {"canvas_size": CANVAS, "size": [28, 30], "format": f}),
        ("affine_bounding_boxes", (boxes,), {"format": f, "canvas_size": CANVAS, "angle": 20.0,
                                             "translate": [1.0, -2.0], "scale": 1.1, "shear": [5.0, 3.0]}),
        ("rotate_bounding_boxes", (boxes,), {"format": f, "canvas_size": CANVAS, "angle": 33.0, "expand": True}),
        ("pad_bounding_boxes", (boxes,), {"format": f, "canvas_size": CANVAS, "padding": [1, 2, 3, 4]}),
        ("crop_bounding_boxes", (boxes,), {"format": f, "top": 2, "left": 3, "height": 8, "width": 9}),
        ("center_crop_bounding_boxes", (boxes,), {"format": f, "canvas_size": CANVAS, "output_size": [9, 11]}),
        ("resized_crop_bounding_boxes", (boxes,), {"format": f, "top": 1, "left": 2, "height": 10, "width": 12,
                                                   "size": [20, 18]}),
        ("perspective_bounding_boxes", (boxes,), {"format": f, "canvas_size": CANVAS, "startpoints": START,
                                                  "endpoints": END}),
        ("elastic_bounding_boxes", (boxes,), {"format": f, "canvas_size": CANVAS, "displacement": DISPLACEMENT}),
        ("clamp_bounding_boxes", (boxes * 2 - 3,), {"format": f, "canvas_size": CANVAS, "clamping_mode": "soft"}),
        ("sanitize_bounding_boxes", (boxes,), {"format": f, "canvas_size": (10, 16), "min_size": 2.0}),
    ]
for old in ("XYXY", "XYWH", "CXCYWH"):
    for new in ("XYXY", "XYWH", "CXCYWH"):
        CASES.append(("convert_bounding_box_format", (BOXES,), {"old_format": _fmt(old), "new_format": _fmt(new)}))
        CASES.append(("convert_bounding_box_format", (BOXES_INT,), {"old_format": _fmt(old), "new_format": _fmt(new)}))
for old, new in (("XYWHR", "CXCYWHR"), ("XYWHR", "XYXYXYXY"), ("CXCYWHR", "XYXYXYXY"), ("CXCYWHR", "XYWHR")):
    CASES.append(("convert_bounding_box_format", (ROTATED,), {"old_format": _fmt(old), "new_format": _fmt(new)}))
CASES += [
    ("horizontal_flip_bounding_boxes", (ROTATED,), {"format": _fmt("XYWHR"), "canvas_size": CANVAS}),
    ("vertical_flip_bounding_boxes", (ROTATED,), {"format": _fmt("CXCYWHR"), "canvas_size": CANVAS}),
    ("vertical_flip_bounding_boxes", (ROTATED,), {"format": _fmt("XYWHR"), "canvas_size": CANVAS}),
    ("horizontal_flip_bounding_boxes", (ROTATED,), {"format": _fmt("CXCYWHR"), "canvas_size": CANVAS}),
    ("resize_bounding_boxes", (BOXES_INT,), {"canvas_size": CANVAS, "size": [21, 25]}),
    ("affine_bounding_boxes", (BOXES_INT,), {"format": _fmt("XYXY"), "canvas_size": CANVAS, "angle": -12.0,
                                             "translate": [2, 1], "scale": 0.9, "shear": 4.0}),
    ("rotate_bounding_boxes", (BOXES,), {"format": _fmt("XYXY"), "canvas_size": CANVAS, "angle": 45.0,
                                         "center": [3.0, 4.0], "clamping_mode": None}),
    ("horizontal_flip_keypoints", (KEYPOINTS,), {"canvas_size": CANVAS}),
    ("vertical_flip_keypoints", (KP_GROUPS,), {"canvas_size": CANVAS}),
    ("resize_keypoints", (KEYPOINTS,), {"size": [7], "canvas_size": CANVAS}),
    ("affine_keypoints", (KEYPOINTS,), {"canvas_size": CANVAS, "angle": 20.0, "translate": [1.0, -2.0],
                                        "scale": 1.1, "shear": [5.0, 3.0]}),
    ("rotate_keypoints", (KEYPOINTS,), {"canvas_size": CANVAS, "angle": 33.0, "expand": True}),
    ("pad_keypoints", (KEYPOINTS,), {"canvas_size": CANVAS, "padding": [2, 5]}),
    ("crop_keypoints", (KEYPOINTS,), {"top": 2, "left": 3, "height": 8, "width": 9}),
    ("center_crop_keypoints", (KEYPOINTS,), {"canvas_size": CANVAS, "output_size": [9, 11]}),
    ("resized_crop_keypoints", (KEYPOINTS,), {"top": 1, "left": 2, "height": 10, "width": 12, "size": [20, 18]}),
    ("perspective_keypoints", (KEYPOINTS,), {"canvas_size": CANVAS, "startpoints": START, "endpoints": END}),
    ("elastic_keypoints", (KEYPOINTS,), {"canvas_size": CANVAS, "displacement": DISPLACEMENT}),
    ("clamp_keypoints", (KEYPOINTS * 2 - 3,), {"canvas_size": CANVAS}),
    ("sanitize_keypoints", (KEYPOINTS,), {"canvas_size": (10, 16)}),
    ("sanitize_keypoints", (KP_GROUPS,), {"canvas_size": CANVAS}),
]
for mask in (MASK, MASK3):
    CASES += [
        ("horizontal_flip_mask", (mask,), {}),
        ("vertical_flip_mask", (mask,), {}),
        ("get_size_mask", (mask,), {}),
        ("resize_mask", (mask,), {"size": [9, 31]}),
        ("affine_mask", (mask,), {"angle": 20.0, "translate": [1, -2], "scale": 1.1, "shear": [5.0, 3.0]}),
        ("rotate_mask", (mask,), {"angle": 33.0, "expand": True}),
        ("pad_mask", (mask,), {"padding": [1, 2, 3, 4], "fill": 5}),
        ("crop_mask", (mask,), {"top": 2, "left": 3, "height": 8, "width": 9}),
        ("center_crop_mask", (mask,), {"output_size": [9, 11]}),
        ("resized_crop_mask", (mask,), {"top": 1, "left": 2, "height": 10, "width": 12, "size": [20, 18]}),
        ("perspective_mask", (mask,), {"startpoints": START, "endpoints": END}),
        ("elastic_mask", (mask,), {"displacement": DISPLACEMENT}),
    ]


def flatten_output(out):
    """A kernel's result as a list of arrays: tensors, canvas sizes, lists (each
    item is converted by ``to_array``, left to the caller's framework)."""
    if isinstance(out, tuple):
        return list(out)
    return [out]
