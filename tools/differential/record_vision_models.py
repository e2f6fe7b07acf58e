"""Record torchvision's classification models for tests/test_vision_models.py.

Run with the comparison venv (PyTorch + torchvision):
    /work/torchenv/bin/python tools/differential/record_vision_models.py

Writes tests/golden/vision_models.json.gz (gzip-compressed JSON):
  * ``keys``: for every model builder, its state_dict as [name, shape, dtype]
    (torchvision's exact keys, so checkpoints load into rustdl's models);
  * ``outputs``: logits of a few models whose weights are *generated from a
    numpy formula* (``synthetic_weights``, copied in the test) instead of
    stored: no weight files, the same numbers on both sides.
"""

import collections
import gzip
import json
import os

import numpy as np
import torch
import torchvision.models as tvm

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "golden", "vision_models.json.gz")

KEY_MODELS = [
    "resnet18", "resnet34", "resnet50", "resnext50_32x4d", "wide_resnet50_2",
    "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn",
    "alexnet", "mobilenet_v2", "squeezenet1_0", "squeezenet1_1",
    "mobilenet_v3_small", "mobilenet_v3_large", "shufflenet_v2_x0_5", "shufflenet_v2_x1_0", "shufflenet_v2_x1_5",
    "shufflenet_v2_x2_0", "densenet121", "densenet161", "densenet169", "densenet201",
    "efficientnet_b0", "efficientnet_b1", "efficientnet_b2", "efficientnet_b3", "efficientnet_b4",
    "efficientnet_b5", "efficientnet_b6", "efficientnet_b7", "efficientnet_v2_s", "efficientnet_v2_m",
    "efficientnet_v2_l", "mnasnet0_5", "mnasnet0_75", "mnasnet1_0", "mnasnet1_3", "convnext_tiny",
    "convnext_small", "convnext_base", "convnext_large", "vit_b_16", "vit_b_32",
    "regnet_y_400mf", "regnet_y_800mf", "regnet_y_1_6gf", "regnet_y_3_2gf", "regnet_y_8gf", "regnet_y_16gf",
    "regnet_x_400mf", "regnet_x_800mf", "regnet_x_1_6gf", "regnet_x_3_2gf", "regnet_x_8gf", "regnet_x_16gf",
    "googlenet", "inception_v3", "swin_t", "swin_s", "swin_v2_t", "swin_v2_s", "maxvit_t",
]  # (vit_l_*, vit_h_14: the same code at 300M-630M parameters, too slow to build in the tests)

# (builder, kwargs, input shape, mode)
OUTPUT_CASES = [
    ("resnet18", {"num_classes": 10}, (2, 3, 64, 64), "eval"),
    ("resnet18", {"num_classes": 10}, (2, 3, 64, 64), "train"),
    ("resnet50", {"num_classes": 10}, (1, 3, 64, 64), "eval"),
    ("mobilenet_v2", {"num_classes": 10}, (1, 3, 64, 64), "eval"),
    ("squeezenet1_1", {"num_classes": 10}, (1, 3, 64, 64), "eval"),
    ("squeezenet1_0", {"num_classes": 10}, (1, 3, 64, 64), "eval"),
    ("alexnet", {"num_classes": 10}, (1, 3, 64, 64), "eval"),
    ("vgg11_bn", {"num_classes": 10}, (1, 3, 32, 32), "eval"),
    ("mobilenet_v3_small", {"num_classes": 10}, (1, 3, 64, 64), "eval"),
    ("mobilenet_v3_large", {"num_classes": 10}, (1, 3, 64, 64), "eval"),
    ("shufflenet_v2_x1_0", {"num_classes": 10}, (1, 3, 64, 64), "eval"),
    ("densenet121", {"num_classes": 10}, (1, 3, 64, 64), "eval"),
    ("efficientnet_b0", {"num_classes": 10}, (1, 3, 64, 64), "eval"),
    ("efficientnet_v2_s", {"num_classes": 10}, (1, 3, 64, 64), "eval"),
    ("mnasnet0_75", {"num_classes": 10}, (1, 3, 64, 64), "eval"),
    ("convnext_tiny", {"num_classes": 10}, (1, 3, 64, 64), "eval"),
    ("vit_b_32", {"num_classes": 10, "image_size": 64}, (2, 3, 64, 64), "eval"),
    ("regnet_y_400mf", {"num_classes": 10}, (1, 3, 64, 64), "eval"),
    ("regnet_x_400mf", {"num_classes": 10}, (1, 3, 64, 64), "eval"),
    ("googlenet", {"num_classes": 10, "init_weights": False}, (1, 3, 64, 64), "eval"),
    ("inception_v3", {"num_classes": 10, "init_weights": False}, (1, 3, 80, 80), "eval"),
    ("swin_t", {"num_classes": 10}, (2, 3, 64, 64), "eval"),
    ("swin_v2_t", {"num_classes": 10}, (1, 3, 64, 64), "eval"),
    ("MaxVit", {"num_classes": 10, "input_size": [64, 64], "stem_channels": 16, "partition_size": 2,
                "block_channels": [16, 32], "block_layers": [1, 2], "head_dim": 8, "stochastic_depth_prob": 0.2},
     (2, 3, 64, 64), "eval"),
]


def synthetic_weights(keys_shapes, seed=0):
    """The state_dict both sides use: a numpy array per key, from the key's
    position, its name and shape only. Convolution/linear weights get
    He-scaled normals (activations stay O(1) through deep nets); norm
    layers get weights near 1 and positive running variances."""
    out = {}
    for i, (name, shape, dtype) in enumerate(keys_shapes):
        rng = np.random.default_rng(seed * 100003 + i)
        shape = tuple(shape)
        leaf = name.rsplit(".", 1)[-1]
        if dtype == "int64":
            out[name] = np.full(shape, 7, dtype=np.int64)
        elif leaf == "running_var":
            out[name] = rng.uniform(0.5, 1.5, shape).astype(np.float32)
        elif leaf == "running_mean" or (leaf == "bias"):
            out[name] = (0.1 * rng.standard_normal(shape)).astype(np.float32)
        elif len(shape) == 1:  # norm weights
            out[name] = (1.0 + 0.1 * rng.standard_normal(shape)).astype(np.float32)
        else:
            fan_in = int(np.prod(shape[1:]))
            out[name] = (rng.standard_normal(shape, dtype=np.float32) * np.float32(np.sqrt(1.0 / fan_in)))
    return out


# buffers computed from the configuration (window geometry), kept as built on both sides
DERIVED_BUFFERS = ("relative_position_index", "relative_coords_table")


def keys_of(model):
    return [[k, list(v.shape), str(v.dtype).replace("torch.", "")] for k, v in model.state_dict().items()]


def main():
    torch.manual_seed(0)
    record = {"torchvision": __import__("torchvision").__version__, "keys": {}, "outputs": []}
    for name in KEY_MODELS:
        record["keys"][name] = keys_of(getattr(tvm, name)())
    for name, kwargs, shape, mode in OUTPUT_CASES:
        model = getattr(tvm, name)(**kwargs)
        ks = keys_of(model)
        weights = synthetic_weights(ks)
        for k in weights:
            if k.endswith(DERIVED_BUFFERS):
                weights[k] = model.state_dict()[k].numpy()
        state = collections.OrderedDict((k, torch.from_numpy(v)) for k, v in weights.items())
        state._metadata = model.state_dict()._metadata  # MNASNet checks its state_dict version
        model.load_state_dict(state)
        x = np.random.default_rng(1234).standard_normal(shape).astype(np.float32)
        model.train(mode == "train")
        with torch.no_grad():
            y = model(torch.from_numpy(x)).numpy()
        case = {"model": name, "kwargs": kwargs, "input_shape": list(shape), "mode": mode,
                "output": y.tolist()}
        if mode == "train":
            # running statistics after one training-mode forward
            sd = model.state_dict()
            case["after"] = {k: sd[k].numpy().tolist() for k in ("bn1.running_mean", "bn1.running_var",
                                                                 "bn1.num_batches_tracked")}
        record["outputs"].append(case)
        print(name, mode, y.shape, float(np.abs(y).max()))
    with gzip.open(OUT, "wt") as f:
        json.dump(record, f, separators=(",", ":"))
    print("wrote", OUT, os.path.getsize(OUT), "bytes")


if __name__ == "__main__":
    main()
