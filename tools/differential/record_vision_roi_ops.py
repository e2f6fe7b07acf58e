"""Record torchvision.ops' RoI pooling, deformable convolution, FeaturePyramidNetwork and
MultiScaleRoIAlign for tests/test_vision_roi_ops.py.

    /work/torchenv/bin/python tools/differential/record_vision_roi_ops.py
"""

import collections
import os
import sys

import numpy as np
import torch
import torchvision.ops as tvops

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
sys.path.insert(0, os.path.join(ROOT, "tests"))
import vision_roi_cases as C

OUT = os.path.join(ROOT, "tests", "golden", "vision_roi_ops.npz")


def main():
    out = {}
    for i, (name, args, grads) in enumerate(C.CASES):
        kwargs = {k: (torch.from_numpy(v.copy()).requires_grad_(k in grads) if isinstance(v, np.ndarray) else v)
                  for k, v in args.items()}
        y = getattr(tvops, name)(**kwargs)
        out[f"case{i}_out"] = y.detach().numpy()
        (y * torch.from_numpy(C.upstream(tuple(y.shape))).to(y.dtype)).sum().backward()
        for g in grads:
            out[f"case{i}_grad_{g}"] = kwargs[g].grad.numpy()
    torch.manual_seed(0)
    fpn = tvops.FeaturePyramidNetwork([4, 8, 6], 5, extra_blocks=tvops.feature_pyramid_network.LastLevelMaxPool())
    keys = [(k, tuple(v.shape)) for k, v in fpn.state_dict().items()]
    out["fpn_keys"] = np.array([k for k, _ in keys])
    fpn.load_state_dict({k: torch.from_numpy(v) for k, v in C.fpn_weights(keys).items()})
    res = fpn(collections.OrderedDict((k, torch.from_numpy(v)) for k, v in C.FPN_IN))
    out["fpn_names"] = np.array(list(res.keys()))
    for k, v in res.items():
        out[f"fpn_{k}"] = v.detach().numpy()
    m = tvops.MultiScaleRoIAlign(["p2", "p3", "p4"], 3, 2)
    feats = collections.OrderedDict((k, torch.from_numpy(v)) for k, v in C.MSROI_FEATS)
    out["msroi"] = m(feats, [torch.from_numpy(b) for b in C.MSROI_BOXES], [(128, 128), (120, 110)]).numpy()
    np.savez_compressed(OUT, **out)
    print(len(C.CASES), "cases ->", OUT)


if __name__ == "__main__":
    main()
