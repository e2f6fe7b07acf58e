"""transforms.v2 additions: MixUp / CutMix on batches, the v2-only transforms and
functionals (formulas from torchvision's source), the per-type kernel aliases."""

import numpy as np
import pytest
import rustdl
from PIL import Image
from rustdl.vision.transforms import v2
from rustdl.vision.transforms.v2 import functional as F


class FixedLam:
    def __init__(self, lam):
        self.lam = lam

    def sample(self, shape=()):
        return rustdl.tensor(self.lam)


def test_mixup_formula_and_labels():
    x = rustdl.rand(4, 3, 5, 6)
    y = rustdl.tensor([0, 1, 2, 3])
    t = v2.MixUp(num_classes=5)
    t._dist = FixedLam(0.3)
    xm, ym = t(x, y)
    np.testing.assert_allclose(xm.numpy(), np.roll(x.numpy(), 1, 0) * 0.7 + x.numpy() * 0.3, rtol=1e-6)
    onehot = np.eye(5, dtype=np.float32)[[0, 1, 2, 3]]
    np.testing.assert_allclose(ym.numpy(), np.roll(onehot, 1, 0) * 0.7 + onehot * 0.3, rtol=1e-6)
    # a (images, labels) tuple and a dict sample; the labels' getter
    xm2, ym2 = t((x, y))
    assert xm2.shape == x.shape and ym2.shape == (4, 5)
    out = t({"image": x, "labels": y})
    assert set(out) == {"image", "labels"} and out["labels"].shape == (4, 5)


def test_mixup_cutmix_errors():
    x, y = rustdl.rand(4, 3, 5, 6), rustdl.tensor([0, 1, 2, 3])
    with pytest.raises(ValueError, match="num_classes must be passed"):
        v2.MixUp()(x, y)
    with pytest.raises(ValueError, match="Expected a batched input with 4 dims"):
        v2.CutMix(num_classes=4)(x[0], y)
    with pytest.raises(ValueError, match="does not support PIL images"):
        v2.MixUp(num_classes=4)(Image.new("RGB", (4, 4)), y)
    with pytest.raises(ValueError, match="does not match the batch size"):
        v2.MixUp(num_classes=4)(x[:3], y)


def test_cutmix_box(monkeypatch):
    x = rustdl.arange(4 * 1 * 6 * 8, dtype=rustdl.float32).reshape(4, 1, 6, 8)
    y = rustdl.tensor([0, 1, 2, 3])
    t = v2.CutMix(num_classes=4)
    t._dist = FixedLam(0.5)
    draws = iter([5, 2])  # r_x (width 8), r_y (height 6)
    monkeypatch.setattr(rustdl, "randint", lambda *a, **k: rustdl.tensor([next(draws)]))
    xm, ym = t(x, y)
    r = 0.5 * np.sqrt(0.5)
    rw, rh = int(r * 8), int(r * 6)
    x1, y1, x2, y2 = max(5 - rw, 0), max(2 - rh, 0), min(5 + rw, 8), min(2 + rh, 6)
    expect = x.numpy().copy()
    expect[..., y1:y2, x1:x2] = np.roll(x.numpy(), 1, 0)[..., y1:y2, x1:x2]
    np.testing.assert_array_equal(xm.numpy(), expect)
    lam = 1.0 - (x2 - x1) * (y2 - y1) / 48
    onehot = np.eye(4, dtype=np.float32)
    np.testing.assert_allclose(ym.numpy(), np.roll(onehot, 1, 0) * (1 - lam) + onehot * lam, rtol=1e-6)


def test_v2_functionals():
    x = rustdl.randint(0, 256, (2, 3, 5, 7)).to(rustdl.uint8)
    assert F.get_size(x) == [5, 7] and F.get_num_channels(x) == 3
    assert F.get_size(Image.new("L", (7, 5))) == [5, 7]
    np.testing.assert_array_equal(F.permute_channels(x, [2, 0, 1]).numpy(), x.numpy()[:, [2, 0, 1]])
    with pytest.raises(ValueError, match="Length of permutation does not match"):
        F.permute_channels(x, [0, 1])
    g = F.grayscale_to_rgb(x[:, :1])
    assert g.shape == (2, 3, 5, 7) and rustdl.equal(g[:, 2], x[:, 0])
    assert F.grayscale_to_rgb(x) is x
    np.testing.assert_array_equal(F.horizontal_flip(x).numpy(), x.numpy()[..., ::-1])
    np.testing.assert_array_equal(F.vertical_flip_image(x).numpy(), x.numpy()[..., ::-1, :])
    f = rustdl.rand(3, 5, 7)
    noisy = F.gaussian_noise(f, sigma=0.5)
    assert noisy.min().item() >= 0 and noisy.max().item() <= 1 and not rustdl.equal(noisy, f)
    assert F.gaussian_noise(x).dtype == rustdl.uint8
    with pytest.raises(ValueError, match="sigma shouldn't be negative"):
        F.gaussian_noise(f, sigma=-1)
    with pytest.raises(ValueError, match="uint8 or float dtype"):
        F.gaussian_noise(x.to(rustdl.int32))
    assert F.jpeg(x, 90).shape == x.shape and F.jpeg(x, 90).dtype == rustdl.uint8
    video = rustdl.arange(10.0).reshape(10, 1, 1, 1).expand(10, 3, 2, 2)
    sub = F.uniform_temporal_subsample(video, 4)
    assert sub[:, 0, 0, 0].tolist() == [0.0, 3.0, 6.0, 9.0] and F.get_num_frames(video) == 10
    # the per-type kernels are the plain functions; resize / rotate also dispatch on tv_tensors
    np.testing.assert_array_equal(F.resize_image(f, [3, 4]).numpy(), F.resize(f, [3, 4]).numpy())
    np.testing.assert_array_equal(F.rotate_video(f, 30.0).numpy(), F.rotate(f, 30.0).numpy())
    assert F.to_dtype_image is F.to_dtype
    assert F.is_pure_tensor(x) and not F.is_pure_tensor(np.zeros(3))


def test_v2_small_transforms():
    img = Image.fromarray(np.arange(48 * 49 * 3, dtype=np.uint8).reshape(48, 49, 3) % 200)
    assert v2.Identity()(img, 3) == (img, 3)
    assert v2.RGB()(img.convert("L")).mode == "RGB"
    rustdl.manual_seed(1)
    out = v2.RandomChannelPermutation()(img)
    assert sorted(np.asarray(out).reshape(-1, 3).sum(0).tolist()) == sorted(np.asarray(img).reshape(-1, 3).sum(0).tolist())
    assert v2.RandomResize(20, 22)(img).size[1] in (20, 21)
    assert min(v2.RandomShortestSize([24, 30], max_size=40)(img).size) in (24, 30, 39)
    with pytest.raises(ValueError, match="quality must be an integer from 1 to 100"):
        v2.JPEG(0)
    assert v2.JPEG([40, 60])(img).size == img.size
    for t in (v2.AugMix(), v2.AutoAugment(v2.AutoAugmentPolicy.CIFAR10), v2.RandAugment(), v2.TrivialAugmentWide(),
              v2.RandomPerspective(p=1.0), v2.ElasticTransform(alpha=10.0, sigma=2.0)):
        got, label = t(img, 7)
        assert isinstance(got, Image.Image) and got.size == img.size and label == 7
    assert v2.query_size([img, 3]) == (48, 49) and v2.query_chw([img]) == (3, 48, 49)
    with pytest.raises(ValueError, match="Found multiple HxW"):
        v2.query_size([img, Image.new("L", (3, 3))])
    assert v2.has_any([img, 3], int) and not v2.has_all([img], int)
