"""rustdl.vision.ops against torchvision.ops (recorded by
tools/differential/record_vision_ops.py into tests/golden/vision_ops.npz)."""

import os

import numpy as np
import pytest
import rustdl
from rustdl.vision import ops

GOLDEN = np.load(os.path.join(os.path.dirname(__file__), "golden", "vision_ops.npz"))


def inputs():
    """Must match ``inputs()`` in tools/differential/record_vision_ops.py."""
    rng = np.random.default_rng(3)
    xy = rng.uniform(0, 50, (40, 2))
    wh = rng.uniform(2, 30, (40, 2))
    boxes = np.concatenate([xy, xy + wh], axis=1).astype(np.float32)
    scores = rng.uniform(0, 1, 40).astype(np.float32)
    idxs = rng.integers(0, 3, 40)
    return boxes, scores, idxs


BOXES, SCORES, IDXS = (rustdl.from_numpy(a) for a in inputs())


def close(got, name):
    np.testing.assert_allclose(got.numpy(), GOLDEN[name], rtol=1e-5, atol=1e-5)


def test_box_geometry():
    close(ops.box_area(BOXES), "area")
    close(ops.box_iou(BOXES[:10], BOXES[5:20]), "iou")
    close(ops.generalized_box_iou(BOXES[:10], BOXES[5:20]), "giou")
    close(ops.box_convert(BOXES, "xyxy", "xywh"), "xywh")
    close(ops.box_convert(BOXES, "xyxy", "cxcywh"), "cxcywh")
    close(ops.box_convert(BOXES, "cxcywh", "xyxy"), "from_cxcywh")
    close(ops.box_convert(BOXES, "xywh", "cxcywh"), "from_xywh_to_cxcywh")
    close(ops.clip_boxes_to_image(BOXES, (40, 45)), "clip")
    np.testing.assert_array_equal(ops.remove_small_boxes(BOXES, 10.0).numpy(), GOLDEN["small"])
    with pytest.raises(ValueError, match="Unsupported Bounding Box Conversions"):
        ops.box_convert(BOXES, "xyxy", "yxyx")


@pytest.mark.parametrize("threshold", [0.1, 0.3, 0.5, 0.7])
def test_nms(threshold):
    keep = ops.nms(BOXES, SCORES, threshold)
    assert keep.dtype == rustdl.int64
    np.testing.assert_array_equal(keep.numpy(), GOLDEN[f"nms_{threshold}"])
    np.testing.assert_array_equal(
        ops.batched_nms(BOXES, SCORES, IDXS, threshold).numpy(), GOLDEN[f"batched_nms_{threshold}"]
    )


def test_iou_is_differentiable():
    b = BOXES[:4].clone().requires_grad_(True)
    ops.box_iou(b, BOXES[4:8]).sum().backward()
    assert b.grad is not None and b.grad.shape == (4, 4)
