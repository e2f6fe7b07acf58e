"""Record torchvision.ops box results for tests/test_vision_ops.py.

    /work/torchenv/bin/python tools/differential/record_vision_ops.py
"""

import os

import numpy as np
import torch
from torchvision import ops

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "golden", "vision_ops.npz")


def inputs():
    rng = np.random.default_rng(3)
    xy = rng.uniform(0, 50, (40, 2))
    wh = rng.uniform(2, 30, (40, 2))
    boxes = np.concatenate([xy, xy + wh], axis=1).astype(np.float32)
    scores = rng.uniform(0, 1, 40).astype(np.float32)
    idxs = rng.integers(0, 3, 40)
    return boxes, scores, idxs


def main():
    boxes, scores, idxs = inputs()
    b, s, i = torch.from_numpy(boxes), torch.from_numpy(scores), torch.from_numpy(idxs)
    out = {
        "area": ops.box_area(b).numpy(),
        "iou": ops.box_iou(b[:10], b[5:20]).numpy(),
        "giou": ops.generalized_box_iou(b[:10], b[5:20]).numpy(),
        "xywh": ops.box_convert(b, "xyxy", "xywh").numpy(),
        "cxcywh": ops.box_convert(b, "xyxy", "cxcywh").numpy(),
        "from_cxcywh": ops.box_convert(b, "cxcywh", "xyxy").numpy(),
        "from_xywh_to_cxcywh": ops.box_convert(b, "xywh", "cxcywh").numpy(),
        "clip": ops.clip_boxes_to_image(b, (40, 45)).numpy(),
        "small": ops.remove_small_boxes(b, 10.0).numpy(),
    }
    for t in (0.1, 0.3, 0.5, 0.7):
        out[f"nms_{t}"] = ops.nms(b, s, t).numpy()
        out[f"batched_nms_{t}"] = ops.batched_nms(b, s, i, t).numpy()
    np.savez_compressed(OUT, **out)
    print("wrote", OUT, os.path.getsize(OUT), "bytes")


if __name__ == "__main__":
    main()
