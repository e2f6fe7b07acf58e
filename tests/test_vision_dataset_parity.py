"""Dataset samples equal torchvision's (recorded by
tools/differential/record_vision_datasets.py): FakeData's pixels and targets (PyTorch's
CPU generator replayed in numpy), MNIST's PIL images through ToTensor / Resize."""

import gzip
import hashlib
import json
import os
import shutil

import numpy as np
import pytest
import rustdl
import rustdl.vision.transforms as T
from PIL import Image
from rustdl import nn
from rustdl.vision import datasets
from rustdl.vision.datasets._torch_random import TorchCPUGenerator

GOLDEN = np.load(os.path.join(os.path.dirname(__file__), "golden", "vision_datasets.npz"))
META = json.loads(str(GOLDEN["__meta__"]))
FMNIST = "/usr/share/datasets/fashion-mnist"
FAKE_CASES = [
    ("rgb8", {"size": 6, "image_size": (3, 8, 8)}),
    ("gray5x7", {"size": 3, "image_size": (1, 5, 7)}),
    ("rgb5x3", {"size": 3, "image_size": (3, 5, 3)}),
    ("tiny", {"size": 4, "image_size": (1, 3, 4)}),
    ("offset", {"size": 3, "image_size": (3, 6, 6), "random_offset": 1234, "num_classes": 7}),
]


@pytest.mark.parametrize(("name", "kw"), FAKE_CASES, ids=[c[0] for c in FAKE_CASES])
def test_fakedata_equals_torchvision(name, kw):
    ds = datasets.FakeData(**kw)
    for i in range(len(ds)):
        img, target = ds[i]
        facts = META[f"fake/{name}/{i}"]
        assert isinstance(img, Image.Image) and img.mode == facts["mode"]
        assert target == facts["target"] and isinstance(target, int)
        np.testing.assert_array_equal(np.array(img), GOLDEN[f"fake/{name}/{i}"])


def test_fakedata_dcgan_size_and_rng_untouched():
    ds = datasets.FakeData(size=3, image_size=(3, 64, 64), transform=T.ToTensor())
    rustdl.manual_seed(7)
    before = rustdl.rand(4)
    rustdl.manual_seed(7)
    for i in range(3):
        img, target = datasets.FakeData(size=3, image_size=(3, 64, 64))[i]
        facts = META[f"fake/dcgan/{i}"]
        assert target == facts["target"]
        assert hashlib.sha256(np.array(img).tobytes()).hexdigest() == facts["sha256"]
    assert rustdl.equal(rustdl.rand(4), before)  # FakeData does not draw from rustdl's RNG
    x, _ = ds[0]
    assert x.shape == (3, 64, 64) and x.dtype == rustdl.float32
    with pytest.raises(IndexError, match="FakeData index out of range"):
        ds[3]


def test_torch_generator_edge_sizes():
    g = TorchCPUGenerator(0)
    assert g.randn(0).shape == (0,)
    assert g.randn(2, 0, 3).shape == (2, 0, 3)
    with pytest.raises(RuntimeError, match="expects 'from' to be less than 'to'"):
        g.randint(3, 3)
    # the same seed gives the same values; the cached second normal of the scalar path
    a, b = TorchCPUGenerator(5), TorchCPUGenerator(5)
    np.testing.assert_array_equal(a.randn(3), b.randn(3))


needs_fmnist = pytest.mark.skipif(
    not os.path.isfile(os.path.join(FMNIST, "t10k-images-idx3-ubyte.gz")),
    reason="apt-get install dataset-fashion-mnist",
)


@pytest.fixture(scope="module")
def mnist_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("mnist")
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for f in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        with gzip.open(os.path.join(FMNIST, f + ".gz")) as src, open(raw / f, "wb") as dst:
            shutil.copyfileobj(src, dst)
    return str(root)


@needs_fmnist
def test_mnist_gives_pil_images_like_torchvision(mnist_root):
    ds = datasets.MNIST(mnist_root, train=False)
    img, target = ds[0]
    facts = META["mnist/0"]
    assert isinstance(img, Image.Image) and facts["is_pil"]
    assert img.mode == facts["mode"] and list(img.size) == facts["size"] and target == facts["target"]
    to_tensor = datasets.MNIST(mnist_root, train=False, transform=T.ToTensor())
    resize = datasets.MNIST(mnist_root, train=False, transform=T.Compose(
        [T.Resize(40), T.ToTensor(), T.Normalize((0.5,), (0.5,))]))
    for i in range(3):
        np.testing.assert_array_equal(to_tensor[i][0].numpy(), GOLDEN[f"mnist/to_tensor/{i}"])
        # the PIL resize is Pillow's on both sides: the same bytes, so the same floats
        np.testing.assert_allclose(resize[i][0].numpy(), GOLDEN[f"mnist/resize40/{i}"], atol=1e-6)


@needs_fmnist
def test_mnist_subclasses_give_pil(mnist_root):
    for cls in (datasets.KMNIST, datasets.FashionMNIST):
        os.makedirs(os.path.join(mnist_root, cls.__name__), exist_ok=True)
        ds = cls(os.path.join(mnist_root, "MNIST", "raw"), train=False)
        assert isinstance(ds[1][0], Image.Image) and ds[1][0].mode == "L"


@pytest.mark.parametrize("act", [
    lambda y: nn.functional.leaky_relu(y, 0.2, inplace=True),
    lambda y: nn.LeakyReLU(0.2, inplace=True)(y),
    lambda y: nn.functional.elu(y, inplace=True),
    lambda y: nn.functional.hardtanh(y, inplace=True),
    lambda y: nn.functional.threshold(y, 0.1, 0.0, inplace=True),
    lambda y: nn.functional.silu(y, inplace=True),
])
def test_inplace_activation_after_batchnorm_backward(act):
    # DCGAN's discriminator: BatchNorm2d then LeakyReLU(0.2, inplace=True)
    rustdl.manual_seed(0)
    bn = nn.BatchNorm2d(3)
    x = rustdl.randn(2, 3, 4, 4, requires_grad=True)
    y = bn(x)
    z = act(y)
    assert z is y or z.data_ptr() == y.data_ptr()
    z.sum().backward()
    x2 = x.detach().clone().requires_grad_(True)
    ref = act(bn(x2).clone())
    ref.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), x2.grad.numpy(), atol=1e-6)
