"""rustdl.vision.datasets: FakeData, ImageFolder/DatasetFolder, CIFAR10/100 (python
pickle batches through a restricted unpickler, and the binary version), EMNIST."""

import gzip
import os
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import rustdl
from PIL import Image
from rustdl.vision import datasets, transforms


# ------------------------------------------------------------------- FakeData
def test_fakedata_samples_are_pil_and_repeatable():
    ds = datasets.FakeData(size=6, image_size=(3, 12, 10), num_classes=4)
    assert len(ds) == 6
    img, target = ds[2]
    assert isinstance(img, Image.Image) and img.mode == "RGB" and img.size == (10, 12)
    assert isinstance(target, int) and 0 <= target < 4
    again, target2 = ds[2]
    assert again.tobytes() == img.tobytes() and target2 == target
    assert ds[3][0].tobytes() != img.tobytes()
    shifted = datasets.FakeData(size=6, image_size=(3, 12, 10), num_classes=4, random_offset=1)
    assert shifted[1][0].tobytes() == ds[2][0].tobytes()
    gray, _ = datasets.FakeData(size=1, image_size=(1, 5, 7))[0]
    assert gray.mode == "L" and gray.size == (7, 5)
    with pytest.raises(IndexError, match="FakeData index out of range"):
        ds[6]


def test_fakedata_leaves_global_rng_alone_and_transforms():
    rustdl.manual_seed(123)
    expected = rustdl.rand(3)
    rustdl.manual_seed(123)
    ds = datasets.FakeData(
        size=3, image_size=(3, 8, 8), transform=transforms.ToTensor(), target_transform=lambda t: t + 100
    )
    x, t = ds[0]
    np.testing.assert_array_equal(rustdl.rand(3).numpy(), expected.numpy())
    assert x.shape == (3, 8, 8) and x.dtype == rustdl.float32 and t >= 100
    # the pixels are ToPILImage of PyTorch's randn after manual_seed(index): (x * 255) wrapped to uint8
    from rustdl.vision.datasets._torch_random import TorchCPUGenerator

    raw = TorchCPUGenerator(0).randn(3, 8, 8)
    wrapped = (raw.transpose(1, 2, 0) * 255).astype(np.int32).astype(np.uint8)
    np.testing.assert_array_equal(np.array(datasets.FakeData(1, (3, 8, 8))[0][0]), wrapped)


def test_fakedata_through_dataloader():
    ds = datasets.FakeData(size=10, image_size=(3, 16, 16), transform=transforms.ToTensor())
    loader = rustdl.utils.data.DataLoader(ds, batch_size=4)
    x, y = next(iter(loader))
    assert x.shape == (4, 3, 16, 16) and y.shape == (4,) and y.dtype == rustdl.int64


# ---------------------------------------------------------------- ImageFolder
def _image_tree(root):
    rng = np.random.default_rng(0)
    files = {"cat": ["a.png", "b.JPG", "sub/c.bmp"], "dog": ["x.png"], "empty_ok": []}
    for cls, names in files.items():
        os.makedirs(root / cls, exist_ok=True)
        for n in names:
            path = root / cls / n
            os.makedirs(path.parent, exist_ok=True)
            arr = rng.integers(0, 256, (6, 5, 3)).astype(np.uint8)
            Image.fromarray(arr).convert("L" if n.startswith("x") else "RGB").save(path)
    (root / "cat" / "notes.txt").write_text("not an image")
    return files


def test_image_folder(tmp_path):
    _image_tree(tmp_path)
    with pytest.raises(FileNotFoundError, match="Found no valid file for the classes empty_ok"):
        datasets.ImageFolder(str(tmp_path))
    ds = datasets.ImageFolder(str(tmp_path), allow_empty=True)
    assert ds.classes == ["cat", "dog", "empty_ok"] and ds.class_to_idx == {"cat": 0, "dog": 1, "empty_ok": 2}
    assert [os.path.relpath(p, tmp_path) for p, _ in ds.samples] == [
        "cat/a.png", "cat/b.JPG", "cat/sub/c.bmp", "dog/x.png"
    ]
    assert ds.targets == [0, 0, 0, 1] and ds.imgs is ds.samples and len(ds) == 4
    img, target = ds[3]
    assert isinstance(img, Image.Image) and img.mode == "RGB" and img.size == (5, 6) and target == 1
    ds = datasets.ImageFolder(tmp_path, transform=transforms.ToTensor(), allow_empty=True)
    assert ds[0][0].shape == (3, 6, 5)


def test_dataset_folder_custom_loader(tmp_path):
    for cls in ("a", "b"):
        os.makedirs(tmp_path / cls)
        (tmp_path / cls / f"{cls}1.txt").write_text(cls * 3)
    ds = datasets.DatasetFolder(str(tmp_path), loader=lambda p: Path(p).read_text(), extensions=(".txt",))
    assert [ds[i] for i in range(len(ds))] == [("aaa", 0), ("bbb", 1)]
    with pytest.raises(ValueError, match="Both extensions and is_valid_file"):
        datasets.DatasetFolder(str(tmp_path), loader=open)
    with pytest.raises(FileNotFoundError, match="Couldn't find any class folder"):
        datasets.DatasetFolder(str(tmp_path / "a"), loader=open, extensions=".txt")


# ---------------------------------------------------------------------- CIFAR
def _py2_string(b):
    return (b"U" + bytes([len(b)]) + b) if len(b) < 256 else (b"T" + struct.pack("<I", len(b)) + b)


def _py2_int(v):
    return b"K" + bytes([v]) if v < 256 else b"M" + struct.pack("<H", v)


def _py2_pickle(entries):
    """The bytes Python 2's ``cPickle.dump(d, f, 2)`` writes for CIFAR's dicts of str
    keys -> uint8 2-d arrays / lists of small ints / lists of str (what the
    published CIFAR files are)."""
    out = b"\x80\x02}("
    for key, value in entries.items():
        out += _py2_string(key.encode())
        if isinstance(value, np.ndarray):
            n, m = value.shape
            out += b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n" + _py2_int(0) + b"\x85"
            out += _py2_string(b"b") + b"\x87R"
            dtype = b"cnumpy\ndtype\n" + _py2_string(b"u1") + _py2_int(0) + _py2_int(1) + b"\x87R"
            dtype += b"(" + _py2_int(3) + _py2_string(b"|") + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xff" + _py2_int(0)
            dtype += b"tb"
            out += b"(" + _py2_int(1) + _py2_int(n) + _py2_int(m) + b"\x86" + dtype + b"\x89"
            out += _py2_string(value.tobytes()) + b"tb"
        else:
            out += b"](" + b"".join(_py2_int(v) if isinstance(v, int) else _py2_string(v.encode()) for v in value)
            out += b"e"
    return out + b"u."


def _cifar_arrays(n, seed):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 3072)).astype(np.uint8), rng.integers(0, 10, n).tolist()


def test_cifar10_python_batches_py2_and_py3_pickles(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    batches = [_cifar_arrays(3, i) for i in range(6)]
    for i, (data, labels) in enumerate(batches[:5]):
        name = f"data_batch_{i + 1}"
        if i % 2 == 0:  # Python 2's format (the published files)
            (folder / name).write_bytes(_py2_pickle({"batch_label": "x", "data": data, "labels": labels}))
        else:  # a Python 3 pickle
            with open(folder / name, "wb") as f:
                pickle.dump({"data": data, "labels": labels, "filenames": ["a", "b", "c"]}, f, protocol=2 + i)
    (folder / "test_batch").write_bytes(_py2_pickle({"data": batches[5][0], "labels": batches[5][1]}))
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    (folder / "batches.meta").write_bytes(_py2_pickle({"label_names": names, "num_vis": [3072]}))

    train = datasets.CIFAR10(str(tmp_path))
    expected = np.vstack([d for d, _ in batches[:5]]).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    np.testing.assert_array_equal(train.data, expected)
    assert train.targets == [v for _, lab in batches[:5] for v in lab]
    assert train.classes == names and train.class_to_idx["cat"] == 3 and len(train) == 15
    img, target = train[4]
    assert isinstance(img, Image.Image) and img.size == (32, 32) and img.mode == "RGB"
    np.testing.assert_array_equal(np.array(img), expected[4])
    assert target == train.targets[4]
    test = datasets.CIFAR10(tmp_path, train=False, transform=transforms.ToTensor())
    assert len(test) == 3 and test[0][0].shape == (3, 32, 32)


class _RunsCode:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_cifar_pickle_that_runs_code_is_refused(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    marker = tmp_path / "pwned"
    with open(folder / "test_batch", "wb") as f:
        pickle.dump({"data": _RunsCode(str(marker)), "labels": [0]}, f)
    with pytest.raises(pickle.UnpicklingError, match=r"refusing to load global (builtins|io)\.open"):
        datasets.CIFAR10(str(tmp_path), train=False)
    assert not marker.exists()
    (folder / "test_batch").write_bytes(b"garbage")
    with pytest.raises((RuntimeError, pickle.UnpicklingError)):
        datasets.CIFAR10(str(tmp_path), train=False)


def test_cifar_missing_files_message(tmp_path):
    with pytest.raises(RuntimeError, match="Dataset not found.*no network downloads"):
        datasets.CIFAR10(str(tmp_path), download=True)


def test_cifar100_python_and_binary(tmp_path):
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    data, fine = _cifar_arrays(4, 9)
    (folder / "test").write_bytes(_py2_pickle({"data": data, "fine_labels": fine, "coarse_labels": [1, 2, 3, 4]}))
    (folder / "meta").write_bytes(_py2_pickle({"fine_label_names": [f"c{i}" for i in range(100)]}))
    ds = datasets.CIFAR100(str(tmp_path), train=False)
    assert ds.targets == fine and ds.classes[5] == "c5" and len(ds) == 4

    binroot = tmp_path / "bin"
    (binroot / "cifar-100-binary").mkdir(parents=True)
    records = np.concatenate([np.array([[1, f] for f in fine], np.uint8), data], axis=1)
    records.tofile(binroot / "cifar-100-binary" / "test.bin")
    dsb = datasets.CIFAR100(str(binroot), train=False)
    np.testing.assert_array_equal(dsb.data, ds.data)
    assert dsb.targets == fine


def test_cifar10_binary(tmp_path):
    folder = tmp_path / "cifar-10-batches-bin"
    folder.mkdir()
    data, labels = _cifar_arrays(5, 3)
    np.concatenate([np.array(labels, np.uint8)[:, None], data], axis=1).tofile(folder / "test_batch.bin")
    (folder / "batches.meta.txt").write_text("\n".join("abcdefghij") + "\n\n")
    ds = datasets.CIFAR10(str(tmp_path), train=False)
    assert ds.targets == labels and ds.classes == list("abcdefghij")
    np.testing.assert_array_equal(ds.data, data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
    (folder / "test_batch.bin").write_bytes(b"\x00" * 100)
    with pytest.raises(RuntimeError, match="whole number of 3073-byte records"):
        datasets.CIFAR10(str(tmp_path), train=False)


# ---------------------------------------------------------------------- EMNIST
def _idx(arr):
    code = {np.uint8: 0x08}[arr.dtype.type]
    head = struct.pack(">I", (code << 8) | arr.ndim) + b"".join(struct.pack(">I", s) for s in arr.shape)
    return head + arr.tobytes()


def test_emnist_split_files(tmp_path):
    raw = tmp_path / "EMNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(1)
    imgs = rng.integers(0, 256, (4, 28, 28)).astype(np.uint8)
    labels = np.array([1, 26, 3, 4], np.uint8)
    with gzip.open(raw / "emnist-letters-test-images-idx3-ubyte.gz", "wb") as f:
        f.write(_idx(imgs))
    (raw / "emnist-letters-test-labels-idx1-ubyte").write_bytes(_idx(labels))
    ds = datasets.EMNIST(str(tmp_path), split="letters", train=False)
    assert len(ds) == 4 and ds.classes[26] == "z" and ds.classes[0] == "N/A"
    img, target = ds[1]
    np.testing.assert_array_equal(np.asarray(img), imgs[1])
    assert target == 26
    with pytest.raises(RuntimeError, match="emnist-letters-train-images-idx3-ubyte"):
        datasets.EMNIST(str(tmp_path), split="letters")
    with pytest.raises(ValueError, match="Unknown value 'bogus' for argument split"):
        datasets.EMNIST(str(tmp_path), split="bogus")
    assert len(datasets.EMNIST.classes_split_dict["byclass"]) == 62
    assert len(datasets.EMNIST.classes_split_dict["balanced"]) == 47
