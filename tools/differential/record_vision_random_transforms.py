"""Record torchvision's random transform classes on scripted random draws, for
tests/test_vision_random_transforms_parity.py.

    /work/torchenv/bin/python tools/differential/record_vision_random_transforms.py

The generators differ (rustdl's is not PyTorch's), so the draws are replaced on both
sides by the same script (``ScriptedRandom``: ``randint`` and ``rand`` answer from a
formula and a call counter) and the Dirichlet draws of AugMix by fixed weights; what is
then compared is everything else: which draws are made in which order and shape, the op
spaces, magnitudes and the image arithmetic. Results go to
tests/golden/vision_random_transforms.npz under ``<case>/<input>/<run>``.
"""

import json
import os
import sys

import numpy as np
import torch
import torchvision.transforms as T
from PIL import Image

sys.path.insert(0, os.path.dirname(__file__))
from record_vision_transforms import make_inputs

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "golden", "vision_random_transforms.npz")
RUNS = 6
INPUTS = ["pil_rgb", "pil_gray", "u8_rgb", "f32_rgb"]
DIRICHLET_M = [[0.35, 0.65]]
DIRICHLET_W = [[0.2, 0.5, 0.3]]

# name, class, kwargs, inputs it applies to
CASES = [
    ("perspective", "RandomPerspective", {"distortion_scale": 0.6, "p": 0.9}, INPUTS),
    ("perspective_fill", "RandomPerspective", {"distortion_scale": 0.4, "p": 0.9, "fill": 50,
                                               "interpolation": "nearest"}, INPUTS),
    ("elastic", "ElasticTransform", {"alpha": 30.0, "sigma": 2.0}, INPUTS),
    ("elastic_fill", "ElasticTransform", {"alpha": [20.0, 40.0], "sigma": [1.5, 2.5], "fill": 60.0,
                                          "interpolation": "nearest"}, INPUTS),
    ("augmix", "AugMix", {}, ["pil_rgb", "pil_gray", "u8_rgb"]),
    ("augmix_depth2", "AugMix", {"severity": 5, "chain_depth": 2, "all_ops": False}, ["pil_rgb", "u8_rgb"]),
    ("autoaugment", "AutoAugment", {}, ["pil_rgb", "u8_rgb"]),
    ("randaugment", "RandAugment", {"num_ops": 3, "magnitude": 7}, ["pil_rgb", "u8_rgb"]),
    ("trivialaugment", "TrivialAugmentWide", {}, ["pil_rgb", "u8_rgb"]),
]


class ScriptedRandom:
    """Deterministic stand-ins for ``randint``/``rand`` (same values on both sides)."""

    def __init__(self, start):
        self.count = start

    def _next(self, n):
        k = self.count + np.arange(n, dtype=np.int64)
        self.count += n
        return k

    def ints(self, low, high, n):
        k = self._next(n)
        return low + (k * 2654435761 // 97) % (high - low)

    def floats(self, n):
        k = self._next(n).astype(np.float64)
        return np.mod(k * 0.6180339887498949 + 0.137, 1.0).astype(np.float32)

    @staticmethod
    def parse_randint(args, kwargs):
        """(low, high, size) from randint's two signatures."""
        ints = [a for a in args if isinstance(a, int)]
        size = next((a for a in args if isinstance(a, (tuple, list))), kwargs.get("size"))
        low, high = (0, ints[0]) if len(ints) == 1 else (ints[0], ints[1]) if ints else (0, None)
        if "low" in kwargs:
            low = kwargs["low"]
        if "high" in kwargs:
            high = kwargs["high"]
        return low, high, tuple(size)

    @staticmethod
    def parse_size(args):
        if len(args) == 1 and isinstance(args[0], (tuple, list)):
            return tuple(args[0])
        return tuple(args)


def make_transform(cls_name, kwargs):
    kw = dict(kwargs)
    if "interpolation" in kw:
        kw["interpolation"] = T.InterpolationMode(kw["interpolation"])
    if cls_name == "AugMix":
        class FixedAugMix(T.AugMix):
            def _sample_dirichlet(self, params):
                return torch.tensor(DIRICHLET_M if params.shape[-1] == 2 else DIRICHLET_W)
        return FixedAugMix(**kw)
    return getattr(T, cls_name)(**kw)


def main():
    imgs = make_inputs(torch, Image)
    real_randint, real_rand = torch.randint, torch.rand
    out, meta = {}, {}
    try:
        for case, cls_name, kwargs, keys in CASES:
            for key in keys:
                for run in range(RUNS):
                    script = ScriptedRandom(run * 37)

                    def randint(*args, script=script, **kw):
                        low, high, size = ScriptedRandom.parse_randint(args, kw)
                        n = int(np.prod(size))
                        return real_randint(0, 1, size).new_tensor(script.ints(low, high, n).reshape(size))

                    def rand(*args, script=script, **kw):
                        size = ScriptedRandom.parse_size(args)
                        return torch.from_numpy(script.floats(int(np.prod(size))).reshape(size))

                    torch.randint, torch.rand = randint, rand
                    try:
                        res = make_transform(cls_name, kwargs)(imgs[key])
                    except Exception as e:  # noqa: BLE001  (record what torchvision refuses)
                        meta[f"{case}/{key}/{run}"] = type(e).__name__
                        continue
                    finally:
                        torch.randint, torch.rand = real_randint, real_rand
                    if isinstance(res, Image.Image):
                        meta[f"{case}/{key}/{run}"] = f"PIL:{res.mode}"
                        out[f"{case}/{key}/{run}"] = np.array(res)
                    else:
                        meta[f"{case}/{key}/{run}"] = f"tensor:{str(res.dtype).replace('torch.', '')}"
                        out[f"{case}/{key}/{run}"] = res.numpy()
    finally:
        torch.randint, torch.rand = real_randint, real_rand
    out["__meta__"] = np.array(json.dumps(meta))
    np.savez_compressed(OUT, **out)
    print("wrote", OUT, os.path.getsize(OUT), "bytes;", len(meta), "results")


if __name__ == "__main__":
    main()
