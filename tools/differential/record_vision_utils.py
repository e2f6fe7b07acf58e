"""Record torchvision.utils results for tests/test_vision_utils.py.

    /work/torchenv/bin/python tools/differential/record_vision_utils.py

Inputs come from numpy seeds (``inputs()``, copied in the test); the outputs go
to tests/golden/vision_utils.npz.
"""

import io
import os

import numpy as np
import torch
import torchvision.utils as vu
from PIL import Image

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "golden", "vision_utils.npz")

GRID_CASES = {
    "default": {},
    "nrow3_pad1": {"nrow": 3, "padding": 1},
    "pad0": {"padding": 0, "pad_value": 0.5},
    "normalize": {"normalize": True},
    "normalize_range": {"normalize": True, "value_range": (-1.0, 1.0)},
    "scale_each": {"normalize": True, "scale_each": True, "pad_value": 1.0},
    "nrow10": {"nrow": 10, "padding": 3, "pad_value": 0.25},
}


def inputs():
    rng = np.random.default_rng(7)
    return {
        "batch": rng.uniform(-1.5, 1.5, (5, 3, 6, 7)).astype(np.float32),
        "gray": rng.uniform(0, 1, (4, 1, 5, 5)).astype(np.float32),
        "single": rng.uniform(0, 1, (1, 8, 9)).astype(np.float32),
        "unit": rng.uniform(0, 1, (6, 3, 8, 8)).astype(np.float32),
        "img_u8": rng.integers(0, 256, (3, 40, 50)).astype(np.uint8),
        "img_f": rng.uniform(0, 1, (3, 40, 50)).astype(np.float32),
        "boxes": np.array([[2, 3, 20, 30], [10, 5, 45, 35], [0, 0, 49, 39]], dtype=np.float32),
        "masks": rng.uniform(0, 1, (2, 40, 50)) > 0.6,
    }


def main():
    x = inputs()
    out = {}
    t = {k: torch.from_numpy(v) for k, v in x.items()}
    for name, kw in GRID_CASES.items():
        out[f"grid_{name}"] = vu.make_grid(t["batch"], **kw).numpy()
    out["grid_gray"] = vu.make_grid(t["gray"], nrow=2).numpy()
    out["grid_single"] = vu.make_grid(t["single"]).numpy()
    out["grid_list"] = vu.make_grid(list(t["unit"][:3]), padding=1).numpy()
    for name, kw in {"png": {}, "png_norm": {"normalize": True, "nrow": 2}}.items():
        buf = io.BytesIO()
        vu.save_image(t["unit"] if name == "png" else t["batch"], buf, format="PNG", **kw)
        out[f"save_{name}"] = np.array(Image.open(io.BytesIO(buf.getvalue())))
    buf = io.BytesIO()
    vu.save_image(t["unit"], buf, format="JPEG")
    out["save_jpeg"] = np.array(Image.open(io.BytesIO(buf.getvalue())))
    boxes = t["boxes"]
    out["boxes_plain"] = vu.draw_bounding_boxes(t["img_u8"], boxes).numpy()
    out["boxes_styled"] = vu.draw_bounding_boxes(
        t["img_u8"], boxes, colors=["red", (0, 255, 0), "#0000ff"], width=2, fill=True
    ).numpy()
    out["boxes_labels"] = vu.draw_bounding_boxes(t["img_u8"], boxes, labels=["a", "bc", "dog"], colors="yellow").numpy()
    out["boxes_float"] = vu.draw_bounding_boxes(t["img_f"], boxes[:2]).numpy()
    out["boxes_gray"] = vu.draw_bounding_boxes(t["img_u8"][:1], boxes[:1]).numpy()
    out["boxes_rotated"] = vu.draw_bounding_boxes(
        t["img_u8"], torch.tensor([[5.0, 5, 30, 8, 27, 30, 3, 27]]), colors="white"
    ).numpy()
    out["masks_u8"] = vu.draw_segmentation_masks(t["img_u8"], t["masks"], alpha=0.6).numpy()
    out["masks_f"] = vu.draw_segmentation_masks(t["img_f"], t["masks"][0], colors="blue").numpy()
    kpts = torch.tensor([[[3.0, 4.0], [20.5, 10.2], [40.0, 30.0]], [[45.0, 2.0], [10.0, 35.0], [25.0, 20.0]]])
    vis = torch.tensor([[True, True, False], [True, True, True]])
    out["keypoints_plain"] = vu.draw_keypoints(t["img_u8"], kpts).numpy()
    out["keypoints_styled"] = vu.draw_keypoints(t["img_u8"], kpts, connectivity=[(0, 1), (1, 2)], colors="red",
                                                radius=3, width=2, visibility=vis).numpy()
    out["keypoints_float"] = vu.draw_keypoints(t["img_f"], kpts, connectivity=[(0, 2)], colors=(0, 0, 255)).numpy()
    np.savez_compressed(OUT, **out)
    print("wrote", OUT, os.path.getsize(OUT), "bytes")


if __name__ == "__main__":
    main()
