"""SEMEION, USPS, FER2013, EuroSAT, MovingMNIST from small files written here in each
dataset's published format; items as torchvision gives them (PIL 'L' images, int labels)."""

import bz2

import numpy as np
import pytest
import rustdl
from PIL import Image
from rustdl.vision import datasets


def test_semeion(tmp_path):
    rows = []
    for k in range(3):
        pix = (np.arange(256) % (k + 2) == 0).astype(int)
        onehot = np.eye(10, dtype=int)[k + 4]
        rows.append(" ".join(f"{v}.0000" for v in pix) + " " + " ".join(map(str, onehot)))
    (tmp_path / "semeion.data").write_text("\n".join(rows) + "\n")
    ds = datasets.SEMEION(str(tmp_path))
    img, target = ds[1]
    assert len(ds) == 3 and target == 5 and isinstance(img, Image.Image) and img.mode == "L" and img.size == (16, 16)
    np.testing.assert_array_equal(np.asarray(img).ravel(), (np.arange(256) % 3 == 0) * 255)
    with pytest.raises(RuntimeError, match="no network downloads"):
        datasets.SEMEION(str(tmp_path / "none"))


def test_usps(tmp_path):
    lines = []
    for label in (3, 10):
        vals = np.linspace(-1, 1, 256)
        lines.append(f"{label} " + " ".join(f"{i + 1}:{v:.6f}" for i, v in enumerate(vals)))
    with bz2.open(tmp_path / "usps.t.bz2", "wt") as f:
        f.write("\n".join(lines) + "\n")
    ds = datasets.USPS(str(tmp_path), train=False)
    img, target = ds[1]
    assert len(ds) == 2 and target == 9 and img.mode == "L"
    written = np.array([float(f"{v:.6f}") for v in np.linspace(-1, 1, 256)], dtype=np.float32)
    expect = ((written + 1) / 2 * 255).astype(np.uint8)
    np.testing.assert_array_equal(np.asarray(img).ravel(), expect)


def test_fer2013(tmp_path):
    base = tmp_path / "fer2013"
    base.mkdir()
    pix = " ".join(str(i % 256) for i in range(48 * 48))
    (base / "fer2013.csv").write_text(
        "emotion,pixels,Usage\n" + f"3,{pix},Training\n" + f"5,{pix},PublicTest\n" + f"1,{pix},PrivateTest\n"
    )
    train = datasets.FER2013(str(tmp_path), split="train")
    test = datasets.FER2013(str(tmp_path), split="test")
    assert len(train) == 1 and len(test) == 2 and [t for _, t in test] == [5, 1]
    img, _ = train[0]
    assert img.size == (48, 48) and img.mode == "L" and np.asarray(img)[0, 5] == 5
    with pytest.raises(ValueError, match="Unknown value 'val' for argument split"):
        datasets.FER2013(str(tmp_path), split="val")


def test_eurosat_and_moving_mnist(tmp_path):
    for cls in ("Forest", "River"):
        d = tmp_path / "eurosat" / "2750" / cls
        d.mkdir(parents=True)
        Image.new("RGB", (8, 8), (10, 20, 30)).save(d / "a.jpg")
    ds = datasets.EuroSAT(str(tmp_path))
    assert len(ds) == 2 and ds.classes == ["Forest", "River"] and ds[1][1] == 1
    (tmp_path / "MovingMNIST").mkdir()
    seq = np.arange(20 * 3 * 4 * 4, dtype=np.uint8).reshape(20, 3, 4, 4)
    np.save(tmp_path / "MovingMNIST" / "mnist_test_seq.npy", seq)
    mm = datasets.MovingMNIST(str(tmp_path), split="train", split_ratio=10)
    assert len(mm) == 3 and mm[1].shape == (10, 1, 4, 4) and mm[1].dtype == rustdl.uint8
    np.testing.assert_array_equal(mm[1].numpy()[:, 0], seq[:10, 1])
    assert datasets.MovingMNIST(str(tmp_path), split="test")[0].shape == (10, 1, 4, 4)
    with pytest.raises(ValueError, match="split_ratio"):
        datasets.MovingMNIST(str(tmp_path), split_ratio=20)
    assert datasets.wrap_dataset_for_transforms_v2(ds) is ds
