"""F.interpolate cases shared by the recorder (tools/differential/record_interpolate.py, run with
PyTorch) and tests/test_interpolate_modes.py (run with rustdl): anti-aliasing, nearest-exact,
area and recompute_scale_factor, with a gradient of a fixed random weighting."""

import numpy as np

CASES = {
    "bilinear_aa_down": ((1, 2, 9, 11), {"size": (4, 5), "mode": "bilinear", "antialias": True}),
    "bicubic_aa_down": ((1, 2, 9, 11), {"size": (4, 5), "mode": "bicubic", "antialias": True}),
    "bilinear_aa_align_corners": ((1, 2, 9, 11), {"size": (4, 5), "mode": "bilinear", "antialias": True,
                                                      "align_corners": True}),
    "bilinear_aa_scale": ((1, 2, 9, 11), {"scale_factor": 0.37, "mode": "bilinear", "antialias": True}),
    "bicubic_aa_up_and_down": ((1, 2, 9, 11), {"size": (13, 5), "mode": "bicubic", "antialias": True}),
    "bilinear_aa_up": ((1, 2, 9, 11), {"size": (13, 17), "mode": "bilinear", "antialias": True}),
    "nearest_exact_1d": ((2, 3, 7), {"size": 4, "mode": "nearest-exact"}),
    "nearest_exact_scale": ((2, 3, 7), {"scale_factor": 1.7, "mode": "nearest-exact"}),
    "nearest_exact_2d": ((2, 3, 7, 5), {"size": (3, 8), "mode": "nearest-exact"}),
    "area_2d": ((2, 3, 7, 5), {"size": (3, 4), "mode": "area"}),
    "area_3d": ((2, 3, 7, 5, 4), {"size": (3, 4, 2), "mode": "area"}),
    "area_1d": ((2, 3, 7), {"size": 5, "mode": "area"}),
    "nearest_recompute": ((2, 3, 7), {"scale_factor": 1.7, "mode": "nearest", "recompute_scale_factor": True}),
    "linear_recompute": ((2, 3, 7), {"scale_factor": 1.7, "mode": "linear", "recompute_scale_factor": True}),
    "linear_scale": ((2, 3, 7), {"scale_factor": 1.7, "mode": "linear"}),
}

# Calls PyTorch rejects: (input shape, kwargs, exception class name, message fragment).
ERRORS = [
    ((1, 2, 5, 7), {"size": 3, "mode": "linear"}, "NotImplementedError", "Got 4D input, but linear mode needs 3D input"),
    ((1, 2, 5, 7), {"size": (3, 4), "mode": "nearest", "align_corners": True}, "ValueError",
     "align_corners option can only be set with the interpolating modes"),
    ((1, 2, 5, 7), {"size": (3,), "mode": "bilinear"}, "ValueError",
     "Input and output must have the same number of spatial dimensions"),
    ((1, 2, 5, 7), {"mode": "nearest"}, "ValueError", "either size or scale_factor should be defined"),
    ((1, 2, 5, 7), {"size": (3, 4), "scale_factor": 2}, "ValueError", "only one of size or scale_factor"),
    ((1, 2, 5, 7), {"size": (3, 4), "mode": "foo"}, "NotImplementedError", "Only 3D, 4D and 5D input Tensors"),
    ((1, 2, 5, 7), {"size": (3, 4), "mode": "area", "antialias": True}, "ValueError",
     "Anti-alias option is restricted to bilinear, bicubic"),
]


def run(lib, name):
    """Output and input gradient of one case, with the inputs drawn from numpy (same for both)."""
    shape, kwargs = CASES[name]
    rs = np.random.RandomState(sum(map(ord, name)))
    x = lib.tensor(rs.randn(*shape).astype(np.float32), requires_grad=True)
    y = lib.nn.functional.interpolate(x, **kwargs)
    weight = lib.tensor(rs.randn(*y.shape).astype(np.float32))
    (y * weight).sum().backward()
    return {"output": y.detach().numpy().tolist(), "grad": x.grad.numpy().tolist()}
