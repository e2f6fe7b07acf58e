"""Record torchvision's box-moving v2 transforms on detection samples with scripted
random draws, for tests/test_vision_detection_transforms.py.

    /work/torchenv/bin/python tools/differential/record_vision_detection_transforms.py
"""

import os
import sys

import numpy as np
import torch
import torchvision.transforms.v2 as T
from torchvision import tv_tensors

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
sys.path.insert(0, os.path.join(ROOT, "tests"))
import vision_detection_cases as C

OUT = os.path.join(ROOT, "tests", "golden", "vision_detection_transforms.npz")


def main():
    out = {}
    real_rand, real_randint = torch.rand, torch.randint
    for i, (name, kwargs, start) in enumerate(C.CASES):
        script = C.Script(start)

        def rand(*args, _s=script, **kw):
            shape = C.parse_size(args)
            return torch.from_numpy(_s.rand_values(int(np.prod(shape))).reshape(shape))

        def randint(*args, _s=script, **kw):
            low, high, size = C.parse_randint(args, kw)
            return torch.from_numpy(_s.randint_values(low, high, int(np.prod(size))).reshape(size))

        torch.rand, torch.randint = rand, randint
        try:
            sample = (tv_tensors.Image(torch.from_numpy(C.IMAGE.copy())),
                      {"boxes": tv_tensors.BoundingBoxes(torch.from_numpy(C.BOXES.copy()), format="XYXY",
                                                         canvas_size=(24, 32)),
                       "masks": tv_tensors.Mask(torch.from_numpy(C.MASK.copy())),
                       "labels": torch.from_numpy(C.LABELS.copy())})
            img, target = getattr(T, name)(**kwargs)(sample)
        finally:
            torch.rand, torch.randint = real_rand, real_randint
        out[f"case{i}_image"] = img.numpy()
        out[f"case{i}_boxes"] = target["boxes"].numpy()
        out[f"case{i}_canvas"] = np.array(target["boxes"].canvas_size)
        out[f"case{i}_masks"] = target["masks"].numpy()
        out[f"case{i}_labels"] = target["labels"].numpy()
    np.savez_compressed(OUT, **out)
    print(len(C.CASES), "cases ->", OUT)


if __name__ == "__main__":
    main()
