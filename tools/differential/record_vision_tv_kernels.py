"""Record torchvision's v2 kernels for bounding boxes, keypoints and masks.

    /work/torchenv/bin/python tools/differential/record_vision_tv_kernels.py

Runs every case of tests/vision_tv_kernel_cases.py through
``torchvision.transforms.v2.functional`` and writes the outputs to
tests/golden/vision_tv_kernels.npz (``case<i>_<j>`` for the j-th output of case i).
"""

import os
import sys

import numpy as np
import torch
import torchvision.transforms.v2.functional as TF
from torchvision import tv_tensors

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
sys.path.insert(0, os.path.join(ROOT, "tests"))
from vision_tv_kernel_cases import CASES, flatten_output

OUT = os.path.join(ROOT, "tests", "golden", "vision_tv_kernels.npz")


def to_torch(v):
    if isinstance(v, np.ndarray):
        return torch.from_numpy(v.copy())
    if isinstance(v, tuple) and len(v) == 2 and v[0] == "FMT":
        return tv_tensors.BoundingBoxFormat[v[1]]
    return v


def main():
    out = {}
    for i, (name, args, kwargs) in enumerate(CASES):
        res = getattr(TF, name)(*[to_torch(a) for a in args], **{k: to_torch(v) for k, v in kwargs.items()})
        for j, r in enumerate(flatten_output(res)):
            out[f"case{i}_{j}"] = r.numpy() if isinstance(r, torch.Tensor) else np.asarray(r)
    np.savez_compressed(OUT, **out)
    print(len(CASES), "cases ->", OUT)


if __name__ == "__main__":
    main()
