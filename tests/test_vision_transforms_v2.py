"""torchvision.transforms.v2 (the common case): v1 transforms called on whole
samples, ToImage / ToDtype / ToPureTensor."""

import numpy as np
import rustdl
from PIL import Image
from rustdl.vision.transforms import v2
from rustdl.vision.transforms.v2 import functional as F2


def pil_rgb():
    return Image.fromarray(np.random.default_rng(0).integers(0, 256, (20, 24, 3)).astype(np.uint8))


def test_pipeline_on_image_and_samples():
    rustdl.manual_seed(0)
    t = v2.Compose(
        [
            v2.RandomResizedCrop(16, antialias=True),
            v2.RandomHorizontalFlip(p=0.5),
            v2.ToImage(),
            v2.ToDtype(rustdl.float32, scale=True),
            v2.Normalize(mean=[0.5, 0.5, 0.5], std=[0.5, 0.5, 0.5]),
        ]
    )
    img = pil_rgb()
    x = t(img)
    assert x.shape == (3, 16, 16) and x.dtype == rustdl.float32
    x, label = t(img, 3)
    assert x.shape == (3, 16, 16) and label == 3
    x, label = t((img, 7))
    assert label == 7
    sample = t({"image": img, "label": 5, "name": "a"})
    assert sample["image"].shape == (3, 16, 16) and sample["label"] == 5 and sample["name"] == "a"


def test_to_image_and_to_dtype():
    img = pil_rgb()
    x = v2.ToImage()(img)
    assert x.dtype == rustdl.uint8 and x.shape == (3, 20, 24)
    np.testing.assert_array_equal(x.numpy(), np.array(img).transpose(2, 0, 1))
    assert F2.to_image(np.zeros((4, 5), np.uint8)).shape == (1, 4, 5)
    f = v2.ToDtype(rustdl.float32, scale=True)(x)
    np.testing.assert_allclose(f.numpy(), x.numpy() / 255, rtol=1e-6)
    raw = v2.ToDtype(rustdl.float32)(x)
    np.testing.assert_array_equal(raw.numpy(), x.numpy().astype(np.float32))
    d = v2.ToDtype({"image": rustdl.float32, "others": None}, scale=True)(x)
    assert d.dtype == rustdl.float32
    assert v2.ToPureTensor()(x) is x
    assert repr(v2.ToDtype(rustdl.float32, scale=True)) == "ToDtype(dtype=rustdl.float32, scale=True)"


def test_v2_classes_keep_v1_arguments():
    assert isinstance(v2.Resize(10), v2.Transform)
    assert v2.ColorJitter(0.5).brightness == (0.5, 1.5)
    assert v2.Lambda(lambda im: im.size)(pil_rgb()) == (24, 20)
    assert v2.RandomApply([v2.Grayscale()], p=1.0)(pil_rgb()).mode == "L"
