"""QMNIST from its local IDX files, as torchvision reads it."""

import os
from typing import ClassVar

import numpy as np

import rustdl

from ..utils import _Image_fromarray
from ._local import no_download, verify_str_arg
from .mnist import read_idx
from .vision import VisionDataset

__all__ = ["QMNIST"]


class QMNIST(VisionDataset):
    """``root/QMNIST/raw/qmnist-{train,test}-{images-idx3-ubyte,labels-idx2-int}[.gz]``
    (``xnist-*`` for ``what='nist'``). ``targets`` is the (N, 8) int64 table (class,
    NIST writer, ...); with ``compat`` an item's target is the class int, else the row."""

    subsets: ClassVar[dict] = {"train": "train", "test": "test", "test10k": "test", "test50k": "test",
                               "nist": "nist"}
    _files: ClassVar[dict] = {
        "train": ("qmnist-train-images-idx3-ubyte", "qmnist-train-labels-idx2-int"),
        "test": ("qmnist-test-images-idx3-ubyte", "qmnist-test-labels-idx2-int"),
        "nist": ("xnist-images-idx3-ubyte", "xnist-labels-idx2-int"),
    }
    classes: ClassVar[list] = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five", "6 - six",
                               "7 - seven", "8 - eight", "9 - nine"]

    def __init__(self, root, what=None, compat=True, train=True, transform=None, target_transform=None,
                 download=False):
        if what is None:
            what = "train" if train else "test"
        self.what = verify_str_arg(what, "what", tuple(self.subsets.keys()))
        self.compat = compat
        self.train = train
        super().__init__(root, transform=transform, target_transform=target_transform)
        images, labels = (self._find(n) for n in self._files[self.subsets[self.what]])
        data = read_idx(images, 3)
        if data.dtype != np.uint8:
            raise TypeError(f"data should be of dtype torch.uint8 instead of {data.dtype}")
        targets = read_idx(labels, 2).astype(np.int64)
        if self.what == "test10k":
            data, targets = data[0:10000], targets[0:10000]
        elif self.what == "test50k":
            data, targets = data[10000:], targets[10000:]
        self.data = rustdl.from_numpy(data.copy())
        self.targets = rustdl.from_numpy(targets.copy())
        self._data_np, self._targets_np = np.asarray(data), np.asarray(targets)

    @property
    def raw_folder(self):
        return os.path.join(self.root, self.__class__.__name__, "raw")

    @property
    def class_to_idx(self):
        return {c: i for i, c in enumerate(self.classes)}

    def _find(self, name):
        for candidate in (name, name + ".gz"):
            path = os.path.join(self.raw_folder, candidate)
            if os.path.isfile(path):
                return path
        raise no_download("QMNIST", os.path.join(self.raw_folder, name), "https://github.com/facebookresearch/qmnist")

    def __getitem__(self, index):
        img = _Image_fromarray(self._data_np[index], mode="L")
        target = self._targets_np[index]
        if self.transform is not None:
            img = self.transform(img)
        target = int(target[0]) if self.compat else rustdl.from_numpy(target.copy())
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def __len__(self):
        return len(self._data_np)

    def extra_repr(self):
        return f"Split: {self.what}"
