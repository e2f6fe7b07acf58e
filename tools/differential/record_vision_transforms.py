"""Record torchvision.transforms.functional results for tests/test_vision_transforms_parity.py.

    /work/torchenv/bin/python tools/differential/record_vision_transforms.py

Every case of ``CASES`` (a functional name and its keyword arguments) runs on
the inputs of ``inputs()`` — PIL images (RGB and L), uint8 tensors and float
tensors — and the result (a PIL image as its numpy array, or a tensor) goes to
tests/golden/vision_transforms.npz under ``<case>/<input>``; a case torchvision
refuses for that input is recorded as the exception's type name.
"""

import json
import os

import numpy as np
import torch
import torchvision.transforms.functional as F
from PIL import Image
from torchvision.transforms import InterpolationMode

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "golden", "vision_transforms.npz")

CASES = [
    ("resize_short10", "resize", {"size": [10]}),
    ("resize_12x17", "resize", {"size": [12, 17]}),
    ("resize_up_40x50", "resize", {"size": [40, 50]}),
    ("resize_nearest", "resize", {"size": [11, 14], "interpolation": "nearest"}),
    ("resize_nearest_up", "resize", {"size": [40, 47], "interpolation": "nearest"}),
    ("resize_bicubic", "resize", {"size": [12, 15], "interpolation": "bicubic"}),
    ("resize_bicubic_up", "resize", {"size": [37, 45], "interpolation": "bicubic"}),
    ("resize_no_aa", "resize", {"size": [12, 15], "antialias": False}),
    ("resize_max_size", "resize", {"size": 12, "max_size": 15}),
    ("center_crop_10", "center_crop", {"output_size": 10}),
    ("center_crop_pad", "center_crop", {"output_size": [30, 40]}),
    ("crop_in", "crop", {"top": 2, "left": 3, "height": 10, "width": 12}),
    ("crop_out", "crop", {"top": -2, "left": 25, "height": 10, "width": 12}),
    ("pad_const", "pad", {"padding": 3, "fill": 7}),
    ("pad_edge", "pad", {"padding": [1, 2], "padding_mode": "edge"}),
    ("pad_reflect", "pad", {"padding": [1, 2, 3, 4], "padding_mode": "reflect"}),
    ("pad_symmetric", "pad", {"padding": 2, "padding_mode": "symmetric"}),
    ("hflip", "hflip", {}),
    ("vflip", "vflip", {}),
    ("rotate_30", "rotate", {"angle": 30.0}),
    ("rotate_45_bilinear", "rotate", {"angle": 45.0, "interpolation": "bilinear"}),
    ("rotate_expand", "rotate", {"angle": 30.0, "expand": True}),
    ("rotate_center", "rotate", {"angle": -20.0, "center": [5, 7]}),
    ("rotate_fill", "rotate", {"angle": 60.0, "fill": [10.0, 20.0, 30.0]}),
    ("rotate_90", "rotate", {"angle": 90.0}),
    ("blur_3", "gaussian_blur", {"kernel_size": 3, "sigma": 1.0}),
    ("blur_5x3", "gaussian_blur", {"kernel_size": [5, 3], "sigma": [1.5, 0.7]}),
    ("blur_default_sigma", "gaussian_blur", {"kernel_size": 7}),
    ("gray1", "rgb_to_grayscale", {"num_output_channels": 1}),
    ("gray3", "rgb_to_grayscale", {"num_output_channels": 3}),
    ("to_gray1", "to_grayscale", {"num_output_channels": 1}),
    ("to_gray3", "to_grayscale", {"num_output_channels": 3}),
    ("brightness", "adjust_brightness", {"brightness_factor": 1.3}),
    ("contrast_low", "adjust_contrast", {"contrast_factor": 0.6}),
    ("contrast_high", "adjust_contrast", {"contrast_factor": 1.5}),
    ("saturation_low", "adjust_saturation", {"saturation_factor": 0.3}),
    ("saturation_high", "adjust_saturation", {"saturation_factor": 1.7}),
    ("hue_pos", "adjust_hue", {"hue_factor": 0.2}),
    ("hue_neg", "adjust_hue", {"hue_factor": -0.35}),
    ("gamma", "adjust_gamma", {"gamma": 0.7, "gain": 1.1}),
    ("resized_crop", "resized_crop", {"top": 2, "left": 3, "height": 15, "width": 20, "size": [10, 12]}),
    ("pil_to_tensor", "pil_to_tensor", {}),
    ("to_tensor", "to_tensor", {}),
    ("to_pil_image", "to_pil_image", {}),
    ("convert_float", "convert_image_dtype", {"dtype": "float32"}),
    ("convert_uint8", "convert_image_dtype", {"dtype": "uint8"}),
    ("resize_bicubic_no_aa", "resize", {"size": [12, 15], "interpolation": "bicubic", "antialias": False}),
    ("resize_bicubic_up_no_aa", "resize", {"size": [37, 45], "interpolation": "bicubic", "antialias": False}),
    ("resize_up_no_aa", "resize", {"size": [40, 50], "antialias": False}),
    ("resize_down_4x", "resize", {"size": [6, 7]}),
    ("resize_nearest_exact", "resize", {"size": [11, 14], "interpolation": "nearest-exact"}),
    ("sharpness", "adjust_sharpness", {"sharpness_factor": 1.8}),
    ("invert", "invert", {}),
    ("posterize", "posterize", {"bits": 3}),
    ("solarize", "solarize", {"threshold": 128}),
    ("autocontrast", "autocontrast", {}),
    ("equalize", "equalize", {}),
    ("rotate_bilinear_expand", "rotate", {"angle": -37.0, "interpolation": "bilinear", "expand": True, "fill": 5.0}),
    ("blur_big", "gaussian_blur", {"kernel_size": [9, 9], "sigma": 3.0}),
    ("affine_rot_translate", "affine", {"angle": 25.0, "translate": [3, -2], "scale": 1.0, "shear": 0.0}),
    ("affine_scale_shear", "affine", {"angle": -10.0, "translate": [0, 0], "scale": 1.3, "shear": [12.0, 5.0]}),
    ("affine_bilinear_fill", "affine", {"angle": 40.0, "translate": [2, 1], "scale": 0.8, "shear": 8.0,
                                        "interpolation": "bilinear", "fill": 9.0}),
    ("affine_center", "affine", {"angle": 15.0, "translate": [1, 1], "scale": 1.1, "shear": [0.0, 10.0],
                                 "center": [6, 4]}),
    ("perspective", "perspective", {"startpoints": [[0, 0], [30, 0], [30, 22], [0, 22]],
                                    "endpoints": [[3, 2], [28, 1], [29, 20], [1, 21]]}),
    ("perspective_nearest_fill", "perspective", {"startpoints": [[0, 0], [30, 0], [30, 22], [0, 22]],
                                                 "endpoints": [[5, 0], [30, 4], [25, 22], [0, 18]],
                                                 "interpolation": "nearest", "fill": 9.0}),
    ("perspective_out", "perspective", {"startpoints": [[2, 1], [28, 3], [27, 20], [1, 22]],
                                        "endpoints": [[0, 0], [30, 0], [30, 22], [0, 22]], "fill": [40.0]}),
    ("elastic", "elastic_transform", {"displacement": "field"}),
    ("elastic_nearest_fill", "elastic_transform", {"displacement": "field", "interpolation": "nearest",
                                                   "fill": [30.0]}),
]


def inputs():
    """RGB and grayscale images with some structure (a gradient plus noise)."""
    rng = np.random.default_rng(11)
    yy, xx = np.mgrid[0:23, 0:31]
    base = np.stack([xx * 8, yy * 10, (xx + yy) * 4], axis=-1).astype(np.float64)
    rgb = np.clip(base + rng.normal(0, 25, base.shape), 0, 255).astype(np.uint8)  # H, W, 3
    gray = np.clip(xx * 7 + rng.normal(0, 20, xx.shape), 0, 255).astype(np.uint8)  # H, W
    return {"rgb": rgb, "gray": gray}


def make_inputs(torch_mod, pil_image):
    raw = inputs()
    out = {}
    out["pil_rgb"] = pil_image.fromarray(raw["rgb"])
    out["pil_gray"] = pil_image.fromarray(raw["gray"])
    out["u8_rgb"] = torch_mod.from_numpy(np.ascontiguousarray(raw["rgb"].transpose(2, 0, 1)))
    out["u8_gray"] = torch_mod.from_numpy(np.ascontiguousarray(raw["gray"][None]))
    out["f32_rgb"] = torch_mod.from_numpy(np.ascontiguousarray(raw["rgb"].transpose(2, 0, 1)).astype(np.float32) / 255)
    return out


def convert_kwargs(kwargs, torch_mod, interp):
    kw = dict(kwargs)
    if "interpolation" in kw:
        kw["interpolation"] = interp(kw["interpolation"])
    if "dtype" in kw:
        kw["dtype"] = getattr(torch_mod, kw["dtype"])
    if kw.get("displacement") == "field":
        kw["displacement"] = torch_mod.from_numpy(displacement_field())
    return kw


def displacement_field():
    """A smooth (1, 23, 31, 2) displacement in normalised coordinates (a formula, so
    both sides build the same float32 values)."""
    yy, xx = np.mgrid[0:23, 0:31].astype(np.float64)
    dx = 0.08 * np.sin(xx / 4.0) * np.cos(yy / 5.0)
    dy = 0.06 * np.cos(xx / 6.0 + yy / 3.0)
    return np.stack([dx, dy], axis=-1)[None].astype(np.float32)


def main():
    imgs = make_inputs(torch, Image)
    out, meta = {}, {}
    for case, fn, kwargs in CASES:
        for key, img in imgs.items():
            kw = convert_kwargs(kwargs, torch, InterpolationMode)
            try:
                res = getattr(F, fn)(img, **kw)
            except Exception as e:  # noqa: BLE001  (record what torchvision refuses)
                meta[f"{case}/{key}"] = type(e).__name__
                continue
            if isinstance(res, Image.Image):
                meta[f"{case}/{key}"] = f"PIL:{res.mode}"
                out[f"{case}/{key}"] = np.array(res)
            else:
                meta[f"{case}/{key}"] = f"tensor:{str(res.dtype).replace('torch.', '')}"
                out[f"{case}/{key}"] = res.numpy()
    out["__meta__"] = np.array(json.dumps(meta))
    np.savez_compressed(OUT, **out)
    print("wrote", OUT, os.path.getsize(OUT), "bytes;", len(meta), "results")


if __name__ == "__main__":
    main()
