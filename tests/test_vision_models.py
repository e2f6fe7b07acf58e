"""rustdl.vision.models against torchvision (recorded by
tools/differential/record_vision_models.py into tests/golden/vision_models.json.gz).

* every builder's state_dict has torchvision's keys, shapes and dtypes, in order;
* with the same weights (generated from a numpy formula on both sides, so no
  weight files are committed) the logits equal torchvision's;
* pretrained ``weights=`` are refused with a message saying how to load a file.
"""

import gzip
import json
import math
import os
import warnings

import numpy as np
import pytest
import rustdl
from rustdl.vision import models

GOLDEN = os.path.join(os.path.dirname(__file__), "golden", "vision_models.json.gz")
with gzip.open(GOLDEN, "rt") as _f:
    RECORD = json.load(_f)


def synthetic_weights(keys_shapes, seed=0):
    """Must match ``synthetic_weights`` in tools/differential/record_vision_models.py."""
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
        elif len(shape) == 1:
            out[name] = (1.0 + 0.1 * rng.standard_normal(shape)).astype(np.float32)
        else:
            fan_in = int(np.prod(shape[1:]))
            out[name] = rng.standard_normal(shape, dtype=np.float32) * np.float32(np.sqrt(1.0 / fan_in))
    return out


def keys_of(model):
    return [[k, list(v.shape), str(v.dtype).replace("rustdl.", "")] for k, v in model.state_dict().items()]


@pytest.mark.parametrize("name", sorted(RECORD["keys"]))
def test_state_dict_keys_match_torchvision(name):
    assert keys_of(getattr(models, name)()) == RECORD["keys"][name]


@pytest.mark.parametrize(
    "case", RECORD["outputs"], ids=[f"{c['model']}-{c['mode']}" for c in RECORD["outputs"]]
)
def test_outputs_match_torchvision(case):
    model = getattr(models, case["model"])(**case["kwargs"])
    weights = synthetic_weights(keys_of(model))
    for k in weights:  # buffers computed from the window geometry stay as built (as in the recorder)
        if k.endswith(("relative_position_index", "relative_coords_table")):
            weights[k] = model.state_dict()[k].numpy()
    missing = model.load_state_dict({k: rustdl.from_numpy(v) for k, v in weights.items()})
    assert not missing.missing_keys and not missing.unexpected_keys
    x = np.random.default_rng(1234).standard_normal(case["input_shape"]).astype(np.float32)
    model.train(case["mode"] == "train")
    with rustdl.no_grad():
        y = model(rustdl.from_numpy(x)).numpy()
    expected = np.array(case["output"], dtype=np.float32)
    scale = float(np.abs(expected).max())
    np.testing.assert_allclose(y, expected, rtol=1e-3, atol=2e-4 * scale)
    for key, value in case.get("after", {}).items():
        np.testing.assert_allclose(model.state_dict()[key].numpy(), np.array(value), rtol=1e-4, atol=1e-5)


def test_outputs_have_grad_through_resnet18():
    model = models.resnet18(num_classes=3)
    out = model(rustdl.randn(2, 3, 32, 32))
    out.sum().backward()
    assert model.conv1.weight.grad is not None and model.fc.bias.grad.shape == (3,)


# ---------------------------------------------------------------- initialisation
def test_resnet_init_is_kaiming_fan_out():
    rustdl.manual_seed(0)
    m = models.resnet18()
    w = m.conv1.weight  # 64 x 3 x 7 x 7: fan_out = 64 * 49
    assert abs(float(w.std()) - math.sqrt(2.0 / (64 * 49))) < 0.05 * math.sqrt(2.0 / (64 * 49))
    assert float(m.bn1.weight.min()) == 1.0 and float(m.bn1.bias.abs().max()) == 0.0
    z = models.resnet18(zero_init_residual=True)
    assert float(z.layer1[0].bn2.weight.abs().max()) == 0.0


def test_vgg_and_mobilenet_linear_init():
    rustdl.manual_seed(0)
    m = models.mobilenet_v2()
    lin = m.classifier[1]
    assert abs(float(lin.weight.std()) - 0.01) < 0.001 and float(lin.bias.abs().max()) == 0.0
    sq = models.squeezenet1_1()
    assert abs(float(sq.classifier[1].weight.std()) - 0.01) < 0.002


# ---------------------------------------------------------------- weights
@pytest.mark.parametrize(
    "weights", [models.ResNet18_Weights.DEFAULT, models.ResNet18_Weights.IMAGENET1K_V1, "IMAGENET1K_V1", "DEFAULT"]
)
def test_pretrained_weights_refused_with_instructions(weights):
    with pytest.raises(RuntimeError) as err:
        models.resnet18(weights=weights)
    msg = str(err.value)
    assert "does not download" in msg and "load_state_dict(rustdl.load(" in msg
    assert isinstance(err.value, models.PretrainedWeightsUnavailable)


def test_weights_enums_api():
    assert models.ResNet50_Weights.DEFAULT is models.ResNet50_Weights.IMAGENET1K_V2
    assert repr(models.VGG16_Weights.IMAGENET1K_V1) == "VGG16_Weights.IMAGENET1K_V1"
    assert models.get_weight("MobileNet_V2_Weights.IMAGENET1K_V1") is models.MobileNet_V2_Weights.IMAGENET1K_V1
    assert models.get_model_weights("resnet18") is models.ResNet18_Weights
    assert models.ResNet18_Weights.IMAGENET1K_V1.meta["num_params"] == 11689512
    for name in ("AlexNet_Weights", "SqueezeNet1_1_Weights", "VGG11_BN_Weights", "VGG13_Weights", "ResNet34_Weights"):
        assert hasattr(models, name)
    with pytest.raises(ValueError):
        models.resnet18(weights="IMAGENET9K")
    with pytest.raises(TypeError):
        models.resnet18(weights=models.VGG11_Weights.DEFAULT)
    assert "resnet18" in models.list_models() and isinstance(models.get_model("squeezenet1_1"), models.SqueezeNet)


def test_legacy_pretrained_flag():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert isinstance(models.alexnet(pretrained=False), models.AlexNet)
        with pytest.raises(models.PretrainedWeightsUnavailable):
            models.alexnet(pretrained=True)
