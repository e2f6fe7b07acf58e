"""scikit-learn's 8x8 handwritten digits (1,797 images), bundled with rustdl."""

import gzip
import os
from typing import ClassVar

import numpy as np

import rustdl

from .vision import VisionDataset

__all__ = ["Digits"]

_BUNDLED = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "data", "digits.csv.gz")
_N_TRAIN = 1437  # a fixed, unshuffled 80/20 split (the sizes of train_test_split(test_size=0.2))


class Digits(VisionDataset):
    """The UCI "Optical Recognition of Handwritten Digits" test set as shipped by
    scikit-learn (``sklearn.datasets.load_digits``): 1,797 grey images of 8x8
    pixels with values 0..16, labels 0..9. Data CC BY 4.0 (Alpaydin & Kaynak);
    see ``rustdl/data/README.md``.

    Args:
        root: a directory holding ``digits.csv.gz`` (or ``digits.csv``); ``None``
            uses the copy bundled with rustdl.
        train: ``None`` -> all 1,797 samples; ``True`` -> the first 1,437 (80%);
            ``False`` -> the last 360 (a fixed, unshuffled split).
        transform: applied to the image, a numpy ``uint8`` array (8, 8) with
            values **0..16** (not 0..255: ``ToTensor`` would give values in
            [0, 0.063]; use e.g. ``Lambda(lambda a: rustdl.tensor(a / 16.0))``).
        target_transform: applied to the label (an int).

    Attributes: ``data`` (uint8 tensor N x 8 x 8), ``targets`` (int64), ``classes``.
    """

    classes: ClassVar[list] = [str(i) for i in range(10)]

    def __init__(self, root=None, train=None, transform=None, target_transform=None):
        super().__init__(root, transform=transform, target_transform=target_transform)
        path = _BUNDLED
        if root is not None:
            for name in ("digits.csv.gz", "digits.csv"):
                p = os.path.join(self.root, name)
                if os.path.isfile(p):
                    path = p
                    break
            else:
                raise RuntimeError(f"Dataset not found: no digits.csv.gz or digits.csv in {self.root}")
        try:
            opener = gzip.open if path.endswith(".gz") else open
            with opener(path, "rt") as f:
                table = np.loadtxt(f, delimiter=",", dtype=np.int64, ndmin=2)
        except (OSError, EOFError, ValueError) as e:
            raise RuntimeError(f"cannot read {path}: {e}") from e
        if table.shape[1] != 65:
            raise RuntimeError(f"{path}: expected 65 comma-separated columns, got {table.shape[1]}")
        images = table[:, :64].reshape(-1, 8, 8).astype(np.uint8)
        labels = table[:, 64]
        if train is True:
            images, labels = images[:_N_TRAIN], labels[:_N_TRAIN]
        elif train is False:
            images, labels = images[_N_TRAIN:], labels[_N_TRAIN:]
        self.train = train
        self.file = path
        self.data = rustdl.from_numpy(np.ascontiguousarray(images))
        self.targets = rustdl.from_numpy(np.ascontiguousarray(labels))

    @property
    def data(self):
        return self._data

    @data.setter
    def data(self, value):
        self._data = value
        self._data_np = value.numpy() if isinstance(value, rustdl.Tensor) else np.asarray(value)

    @property
    def targets(self):
        return self._targets

    @targets.setter
    def targets(self, value):
        self._targets = value
        self._targets_np = value.numpy() if isinstance(value, rustdl.Tensor) else np.asarray(value)

    @property
    def class_to_idx(self):
        return {c: i for i, c in enumerate(self.classes)}

    def __getitem__(self, index):
        if not isinstance(index, int):
            index = int(index)
        img = self._data_np[index].copy()
        target = int(self._targets_np[index])
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def __len__(self):
        return len(self._data_np)

    def extra_repr(self):
        split = {None: "All", True: "Train", False: "Test"}[self.train]
        return f"Split: {split}"
