"""rustdl.vision: FashionMNIST / MNIST IDX reading, Digits, transforms."""

import gzip
import os
import shutil

import numpy as np
import pytest
import rustdl as torch
from rustdl.utils.data import DataLoader
from rustdl.vision import datasets
from rustdl.vision import transforms as T
from rustdl.vision.transforms import functional as TF

DEBIAN_DIR = "/usr/share/datasets/fashion-mnist"
FILES = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
needs_fmnist = pytest.mark.skipif(
    not all(os.path.isfile(os.path.join(DEBIAN_DIR, f + ".gz")) for f in FILES),
    reason=f"Fashion-MNIST not installed in {DEBIAN_DIR} (apt-get install dataset-fashion-mnist)",
)


def debian_bytes(name):
    with open(os.path.join(DEBIAN_DIR, name), "rb") as f:
        return f.read()


def gunzip(name):
    return gzip.decompress(debian_bytes(name))


def idx_images(a):
    a = np.asarray(a, dtype=np.uint8)
    n, r, c = a.shape
    return (0x803).to_bytes(4, "big") + n.to_bytes(4, "big") + r.to_bytes(4, "big") + c.to_bytes(4, "big") + a.tobytes()


def idx_labels(a):
    a = np.asarray(a, dtype=np.uint8)
    return (0x801).to_bytes(4, "big") + len(a).to_bytes(4, "big") + a.tobytes()


@pytest.fixture(scope="module")
def fmnist_train():
    return datasets.FashionMNIST("/nonexistent-root", train=True)


# ---------------------------------------------------------------- FashionMNIST
@needs_fmnist
def test_fashion_mnist_from_debian_files(fmnist_train):
    ds = fmnist_train
    assert len(ds) == 60000
    assert ds.data.shape == (60000, 28, 28) and ds.data.dtype == torch.uint8
    assert ds.targets.shape == (60000,) and ds.targets.dtype == torch.int64
    assert ds.targets[:10].tolist() == [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]
    assert np.bincount(ds.targets.numpy()).tolist() == [6000] * 10
    assert ds.classes[9] == "Ankle boot" and ds.class_to_idx["Trouser"] == 1
    img, target = ds[0]
    # a PIL image of mode 'L', as torchvision's MNIST family returns
    assert type(img).__name__ == "Image" and img.mode == "L" and img.size == (28, 28)
    assert target == 9 and isinstance(target, int)
    assert np.array_equal(np.asarray(img), ds.data[0].numpy())
    test = datasets.FashionMNIST("/nonexistent-root", train=False)
    assert len(test) == 10000 and np.bincount(test.targets.numpy()).tolist() == [1000] * 10
    assert "Split: Test" in repr(test)


@needs_fmnist
def test_fashion_mnist_transforms_and_loader(fmnist_train):
    ds = datasets.FashionMNIST(
        "/nonexistent-root",
        transform=T.Compose([T.ToTensor(), T.Normalize((0.5,), (0.5,))]),
        target_transform=lambda y: y + 100,
    )
    x, y = ds[1]
    assert x.shape == (1, 28, 28) and x.dtype == torch.float32 and y == 100
    expect = (fmnist_train.data[1].numpy().astype(np.float32) / 255 - 0.5) / 0.5
    assert np.allclose(x.numpy()[0], expect, atol=1e-6)
    xb, yb = next(iter(DataLoader(ds, batch_size=16)))
    assert xb.shape == (16, 1, 28, 28) and yb.tolist()[:3] == [109, 100, 100]


@needs_fmnist
def test_data_setter_keeps_getitem_in_sync(fmnist_train):
    ds = datasets.FashionMNIST("/nonexistent-root", train=False)
    ds.data, ds.targets = ds.data[:100], ds.targets[:100]
    assert len(ds) == 100 and ds[99][1] == int(ds.targets[99])


def _copy_decompressed(src_gz, dst):
    with gzip.open(src_gz, "rb") as f, open(dst, "wb") as g:
        shutil.copyfileobj(f, g)


@needs_fmnist
def test_torchvision_layout_gz_and_raw(tmp_path):
    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    # test split: images gzipped, labels decompressed
    shutil.copy(os.path.join(DEBIAN_DIR, "t10k-images-idx3-ubyte.gz"), raw)
    _copy_decompressed(os.path.join(DEBIAN_DIR, "t10k-labels-idx1-ubyte.gz"), raw / "t10k-labels-idx1-ubyte")
    ds = datasets.FashionMNIST(str(tmp_path), train=False, download=True)  # files present: no error
    assert ds.image_file == str(raw / "t10k-images-idx3-ubyte.gz")
    assert ds.label_file == str(raw / "t10k-labels-idx1-ubyte")
    assert len(ds) == 10000 and ds.targets[:5].tolist() == [9, 2, 1, 1, 6]
    # files directly in root work too
    flat = tmp_path / "flat"
    flat.mkdir()
    _copy_decompressed(os.path.join(DEBIAN_DIR, "t10k-images-idx3-ubyte.gz"), flat / "t10k-images-idx3-ubyte")
    shutil.copy(os.path.join(DEBIAN_DIR, "t10k-labels-idx1-ubyte.gz"), flat)
    ds2 = datasets.FashionMNIST(flat, train=False)
    assert ds2.image_file == str(flat / "t10k-images-idx3-ubyte")
    assert torch.equal(ds2.data, ds.data) if hasattr(torch, "equal") else (ds2.data == ds.data).all()


@needs_fmnist
def test_truncated_file_names_the_file(tmp_path):
    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    full = gunzip("t10k-images-idx3-ubyte.gz")
    (raw / "t10k-images-idx3-ubyte").write_bytes(full[: len(full) // 2])
    shutil.copy(os.path.join(DEBIAN_DIR, "t10k-labels-idx1-ubyte.gz"), raw)
    with pytest.raises(RuntimeError, match=r"t10k-images-idx3-ubyte.*truncated"):
        datasets.FashionMNIST(tmp_path, train=False)
    # a truncated .gz stream too
    os.remove(raw / "t10k-images-idx3-ubyte")
    gz = debian_bytes("t10k-images-idx3-ubyte.gz")
    (raw / "t10k-images-idx3-ubyte.gz").write_bytes(gz[: len(gz) // 2])
    with pytest.raises(RuntimeError, match=r"t10k-images-idx3-ubyte\.gz.*truncated or corrupt"):
        datasets.FashionMNIST(tmp_path, train=False)


@needs_fmnist
def test_corrupted_bytes_sha_mismatch(tmp_path):
    data = bytearray(gunzip("t10k-labels-idx1-ubyte.gz"))
    data[100] = (data[100] + 1) % 10  # still a valid IDX file, wrong content
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(bytes(data))
    shutil.copy(os.path.join(DEBIAN_DIR, "t10k-images-idx3-ubyte.gz"), tmp_path)
    with pytest.raises(RuntimeError, match=r"t10k-labels-idx1-ubyte: SHA-256 .* expected 0402a96d"):
        datasets.FashionMNIST(tmp_path, train=False)


def test_missing_files_and_download(tmp_path):
    class NoSystem(datasets.FashionMNIST):
        _system_dirs = ()

    with pytest.raises(RuntimeError, match="no network downloads.*apt-get install dataset-fashion-mnist"):
        NoSystem(tmp_path, download=True)
    with pytest.raises(RuntimeError, match="Dataset not found"):
        NoSystem(tmp_path)
    with pytest.raises(RuntimeError, match=r"MNIST/raw.*no network downloads|no network downloads"):
        datasets.MNIST(tmp_path, download=True)


def test_mnist_synthetic_idx_files(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    imgs = np.arange(3 * 28 * 28, dtype=np.int64).reshape(3, 28, 28) % 256
    (raw / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_images(imgs)))
    (raw / "t10k-labels-idx1-ubyte").write_bytes(idx_labels([7, 2, 1]))
    ds = datasets.MNIST(tmp_path, train=False)
    assert len(ds) == 3 and ds.targets.tolist() == [7, 2, 1]
    assert np.array_equal(ds[2][0], imgs[2].astype(np.uint8))
    assert ds.classes[7] == "7 - seven"
    # wrong magic (labels file where images are expected)
    (raw / "train-images-idx3-ubyte").write_bytes(idx_labels([1, 2]))
    (raw / "train-labels-idx1-ubyte").write_bytes(idx_labels([1, 2]))
    with pytest.raises(RuntimeError, match=r"train-images-idx3-ubyte: expected an IDX file with 3 dimension"):
        datasets.MNIST(tmp_path, train=True)
    # images/labels count mismatch
    (raw / "train-images-idx3-ubyte").write_bytes(idx_images(imgs))
    with pytest.raises(RuntimeError, match="has 3 images but .* has 2 labels"):
        datasets.MNIST(tmp_path, train=True)


# ----------------------------------------------------------------- Digits
def test_digits():
    ds = datasets.Digits()
    assert len(ds) == 1797
    assert ds.data.shape == (1797, 8, 8) and ds.data.dtype == torch.uint8
    assert sorted(set(ds.targets.tolist())) == list(range(10))
    assert int(ds.data.max()) == 16 and int(ds.data.min()) == 0
    img, y = ds[0]
    assert img.shape == (8, 8) and y == 0
    assert img[0].tolist() == [0, 0, 5, 13, 9, 1, 0, 0]  # sklearn's digits.images[0][0]
    assert len(datasets.Digits(train=True)) == 1437 and len(datasets.Digits(train=False)) == 360
    x, _ = datasets.Digits(transform=T.Compose([T.ToTensor()]))[0]
    assert x.shape == (1, 8, 8) and abs(float(x.max()) - 15 / 255) < 1e-6


# ------------------------------------------------------------- transforms
def test_to_tensor():
    a = np.array([[0, 255], [51, 102]], dtype=np.uint8)
    t = T.ToTensor()(a)
    assert t.shape == (1, 2, 2) and t.dtype == torch.float32
    assert np.allclose(t.numpy(), [[[0.0, 1.0], [0.2, 0.4]]])
    rgb = np.zeros((2, 3, 3), dtype=np.uint8)
    rgb[..., 1] = 255
    t = T.ToTensor()(rgb)
    assert t.shape == (3, 2, 3) and t[1].tolist() == [[1.0] * 3] * 2 and float(t[0].sum()) == 0
    f = T.ToTensor()(np.full((2, 2), 3.5, dtype=np.float32))
    assert f.dtype == torch.float32 and f.tolist() == [[[3.5, 3.5], [3.5, 3.5]]]  # floats keep their scale
    with pytest.raises(TypeError, match="pic should be PIL Image or ndarray"):
        T.ToTensor()(torch.zeros(1, 2, 2))
    with pytest.raises(TypeError, match="pic should be PIL Image or ndarray"):
        T.ToTensor()([1, 2])


def test_normalize():
    t = torch.tensor([[[1.0, 2.0]], [[3.0, 5.0]]])
    out = T.Normalize((1.0, 1.0), (1.0, 2.0))(t)
    assert out.tolist() == [[[0.0, 1.0]], [[1.0, 2.0]]]
    assert t.tolist() == [[[1.0, 2.0]], [[3.0, 5.0]]]  # not in place by default
    same = T.Normalize((1.0, 1.0), (1.0, 2.0), inplace=True)(t)
    assert t.tolist() == [[[0.0, 1.0]], [[1.0, 2.0]]] and same.tolist() == t.tolist()
    with pytest.raises(TypeError, match="Input tensor should be a float tensor"):
        T.Normalize((0.5,), (0.5,))(torch.zeros(1, 2, 2, dtype=torch.uint8))
    with pytest.raises(ValueError, match="std evaluated to zero"):
        T.Normalize((0.5,), (0.0,))(torch.zeros(1, 2, 2))
    with pytest.raises(ValueError, match=r"Expected tensor to be a tensor image of size \(..., C, H, W\)"):
        T.Normalize((0.5,), (0.5,))(torch.zeros(2, 2))


def test_compose_to_tensor_normalize_fused_is_identical():
    rng = np.random.RandomState(0)
    for shape, mean, std in [((28, 28), (0.2860,), (0.3530,)), ((5, 7, 3), (0.1, 0.2, 0.3), (0.5, 0.6, 0.7)), ((4, 4, 3), (0.5,), (0.25,))]:
        a = rng.randint(0, 256, shape).astype(np.uint8)
        fused = T.Compose([T.ToTensor(), T.Normalize(mean, std)])(a)
        ref = T.Normalize(mean, std)(T.ToTensor()(a))
        assert fused.shape == ref.shape and np.array_equal(fused.numpy(), ref.numpy())


def test_flips():
    a = np.array([[1, 2], [3, 4]], dtype=np.uint8)
    assert T.RandomHorizontalFlip(p=1.0)(a).tolist() == [[2, 1], [4, 3]]
    assert T.RandomVerticalFlip(p=1.0)(a).tolist() == [[3, 4], [1, 2]]
    assert T.RandomHorizontalFlip(p=0.0)(a).tolist() == a.tolist()
    t = torch.tensor([[[1.0, 2.0], [3.0, 4.0]]])
    assert T.RandomHorizontalFlip(p=1.0)(t).tolist() == [[[2.0, 1.0], [4.0, 3.0]]]
    assert T.RandomVerticalFlip(p=1.0)(t).tolist() == [[[3.0, 4.0], [1.0, 2.0]]]
    rgb = np.arange(12, dtype=np.uint8).reshape(2, 2, 3)
    assert np.array_equal(TF.hflip(rgb), rgb[:, ::-1])


def test_random_flip_reproducible_with_manual_seed():
    a = np.arange(6, dtype=np.uint8).reshape(2, 3)
    flip = T.RandomHorizontalFlip()

    def run():
        torch.manual_seed(123)
        return [flip(a)[0, 0] == 2 for _ in range(40)]

    r1, r2 = run(), run()
    assert r1 == r2 and 5 < sum(r1) < 35


def test_pad_and_random_crop():
    a = np.array([[1, 2], [3, 4]], dtype=np.uint8)
    assert TF.pad(a, 1).tolist() == [[0, 0, 0, 0], [0, 1, 2, 0], [0, 3, 4, 0], [0, 0, 0, 0]]
    assert TF.pad(a, (1, 0), padding_mode="edge").tolist() == [[1, 1, 2, 2], [3, 3, 4, 4]]
    assert TF.pad(a, [1, 0, 0, 0], padding_mode="reflect").tolist() == [[2, 1, 2], [4, 3, 4]]
    assert TF.pad(a, [0, 0, 1, 0], padding_mode="symmetric").tolist() == [[1, 2, 2], [3, 4, 4]]
    t = TF.pad(torch.tensor([[[1.0, 2.0]]]), [0, 1], fill=9)
    assert t.tolist() == [[[9.0, 9.0], [1.0, 2.0], [9.0, 9.0]]]
    with pytest.raises(ValueError, match="Padding mode should be either"):
        TF.pad(a, 1, padding_mode="wrap")
    with pytest.raises(ValueError, match="Padding must be an int or a 1, 2, or 4 element tuple"):
        T.Pad((1, 2, 3))
    img = np.arange(16, dtype=np.uint8).reshape(4, 4) + 1
    crop = T.RandomCrop(4, padding=2)
    torch.manual_seed(0)
    outs = [crop(img) for _ in range(30)]
    assert all(o.shape == (4, 4) for o in outs)
    # every crop is a window of the zero-padded 8x8 image
    padded = np.pad(img, 2)
    for o in outs:
        assert any(np.array_equal(o, padded[i : i + 4, j : j + 4]) for i in range(5) for j in range(5))
    assert len({o.tobytes() for o in outs}) > 3
    torch.manual_seed(0)
    assert all(np.array_equal(o, crop(img)) for o in outs)  # reproducible
    # tensor CHW input
    tc = T.RandomCrop((2, 3))(torch.arange(2 * 4 * 4.0).reshape(2, 4, 4))
    assert tc.shape == (2, 2, 3)
    assert T.RandomCrop(6, pad_if_needed=True)(img).shape == (6, 6)
    with pytest.raises(ValueError, match="Required crop size"):
        T.RandomCrop(5)(img)


def test_center_crop_lambda_resize():
    img = np.arange(36, dtype=np.uint8).reshape(6, 6)
    assert np.array_equal(T.CenterCrop(2)(img), img[2:4, 2:4])
    assert T.Lambda(lambda x: x * 2)(3) == 6
    with pytest.raises(TypeError, match="Argument lambd should be callable"):
        T.Lambda(3)
    up = T.Resize((4, 4), interpolation=T.InterpolationMode.NEAREST)(np.array([[1, 2], [3, 4]], dtype=np.uint8))
    assert up.tolist() == [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]]
    const = np.full((10, 20), 77, dtype=np.uint8)
    r = T.Resize(5)(const)  # smaller edge -> 5, aspect kept
    assert r.shape == (5, 10) and (r == 77).all()
    t = T.Resize((3, 3))(torch.ones(2, 6, 6))
    assert t.shape == (2, 3, 3) and np.allclose(t.numpy(), 1.0)
    # bilinear upsampling of a ramp stays monotonic and within range
    ramp = T.Resize((1, 8))(np.array([[0, 100, 200, 255]], dtype=np.uint8))
    assert ramp.shape == (1, 8) and (np.diff(ramp[0].astype(int)) >= 0).all()


def test_random_rotation_and_resized_crop():
    img = np.zeros((5, 5), dtype=np.uint8)
    img[0, 4] = 255  # top-right corner
    rot = TF.rotate(img, 90)  # counter-clockwise: top-right -> top-left
    assert rot[0, 0] == 255 and rot.sum() == 255
    assert np.array_equal(TF.rotate(img, 90), np.rot90(img))
    t = TF.rotate(torch.from_numpy(img[None].astype(np.float32)), 180)
    assert t.shape == (1, 5, 5) and t[0, 4, 0].item() == 255
    torch.manual_seed(1)
    out = T.RandomRotation(30)(np.full((8, 8), 9, dtype=np.uint8))
    assert out.shape == (8, 8) and out[4, 4] == 9
    out = T.RandomResizedCrop(6)(np.arange(100, dtype=np.uint8).reshape(10, 10))
    assert out.shape == (6, 6)
    assert T.RandomResizedCrop((3, 4))(torch.rand(3, 10, 10)).shape == (3, 3, 4)


def test_transform_reprs():
    c = T.Compose([T.ToTensor(), T.Normalize((0.5,), (0.5,))])
    assert repr(c) == "Compose(\n    ToTensor()\n    Normalize(mean=(0.5,), std=(0.5,))\n)"


def test_import_surface():
    import rustdl

    assert rustdl.cuda.is_available() is False and rustdl.cuda.device_count() == 0
    rustdl.cuda.manual_seed(0)
    rustdl.cuda.manual_seed_all(0)
    assert rustdl.backends.mps.is_available() is False
    rustdl.backends.cudnn.deterministic = True
    rustdl.backends.cudnn.benchmark = False
    assert rustdl.utils.data.DataLoader is DataLoader
    import rustdl.vision as torchvision

    assert torchvision.datasets.FashionMNIST and torchvision.transforms.ToTensor
