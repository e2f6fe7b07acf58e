"""Small classic datasets read from local files as torchvision reads them (no
downloads: ``download=True`` only checks the files are there): SEMEION, USPS,
FER2013, EuroSAT, MovingMNIST; and ``wrap_dataset_for_transforms_v2``."""

import bz2
import csv
import os
from typing import ClassVar

import numpy as np

import rustdl

from ..utils import _Image_fromarray
from .folder import ImageFolder, default_loader
from .vision import VisionDataset

__all__ = ["FER2013", "SEMEION", "USPS", "EuroSAT", "MovingMNIST", "wrap_dataset_for_transforms_v2"]


def _missing(path, what, source):
    return RuntimeError(
        f"Dataset not found: {what} needs {path}. rustdl does no network downloads; get it from {source} and "
        "place it there."
    )


def _verify_str_arg(value, arg, valid):
    if value not in valid:
        raise ValueError(
            f"Unknown value '{value}' for argument {arg}. Valid values are {{{', '.join(repr(v) for v in valid)}}}."
        )
    return value


class _PILGrayItems:
    """``(PIL 'L' image, int target)`` samples from ``self.data`` (N, H, W) uint8 and targets."""

    def _item(self, img, target):
        img = _Image_fromarray(img, mode="L")
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target


class SEMEION(_PILGrayItems, VisionDataset):
    """SEMEION handwritten digits: ``root/semeion.data`` (256 binary pixels then a
    one-hot label per line); 16x16 PIL images."""

    filename = "semeion.data"

    def __init__(self, root, transform=None, target_transform=None, download=True):
        super().__init__(root, transform=transform, target_transform=target_transform)
        fp = os.path.join(self.root, self.filename)
        if not os.path.isfile(fp):
            raise _missing(fp, "SEMEION", "http://archive.ics.uci.edu/ml/machine-learning-databases/semeion/")
        data = np.loadtxt(fp)
        self.data = (data[:, :256] * 255).astype("uint8").reshape(-1, 16, 16)
        self.labels = np.nonzero(data[:, 256:])[1]

    def __getitem__(self, index):
        return self._item(self.data[index], int(self.labels[index]))

    def __len__(self):
        return len(self.data)


class USPS(_PILGrayItems, VisionDataset):
    """USPS digits from LIBSVM's ``usps.bz2`` / ``usps.t.bz2`` in ``root``; values in
    [-1, 1] become uint8 ``(x + 1) / 2 * 255``, labels 1..10 become 0..9."""

    split_list: ClassVar[dict] = {"train": "usps.bz2", "test": "usps.t.bz2"}

    def __init__(self, root, train=True, transform=None, target_transform=None, download=False):
        super().__init__(root, transform=transform, target_transform=target_transform)
        full_path = os.path.join(self.root, self.split_list["train" if train else "test"])
        if not os.path.isfile(full_path):
            raise _missing(full_path, "USPS", "https://www.csie.ntu.edu.tw/~cjlin/libsvmtools/datasets/multiclass/")
        with bz2.open(full_path) as fp:
            raw = [line.decode().split() for line in fp.readlines()]
        values = [[x.split(":")[-1] for x in row[1:]] for row in raw]
        imgs = np.asarray(values, dtype=np.float32).reshape((-1, 16, 16))
        self.data = ((imgs + 1) / 2 * 255).astype(np.uint8)
        self.targets = [int(row[0]) - 1 for row in raw]

    def __getitem__(self, index):
        return self._item(self.data[index], int(self.targets[index]))

    def __len__(self):
        return len(self.data)


class FER2013(VisionDataset):
    """FER2013 faces (48x48 grey) from ``root/fer2013/{train,test}.csv`` (or the
    combined ``fer2013.csv`` / ``icml_face_data.csv``, split by their Usage column)."""

    def __init__(self, root, split="train", transform=None, target_transform=None):
        self._split = _verify_str_arg(split, "split", ("train", "test"))
        super().__init__(root, transform=transform, target_transform=target_transform)
        base = os.path.join(str(self.root), "fer2013")
        use_fer = os.path.exists(os.path.join(base, "fer2013.csv"))
        use_icml = not use_fer and os.path.exists(os.path.join(base, "icml_face_data.csv"))
        file_name = "fer2013.csv" if use_fer else "icml_face_data.csv" if use_icml else f"{split}.csv"
        data_file = os.path.join(base, file_name)
        if not os.path.isfile(data_file):
            raise RuntimeError(
                f"{file_name} not found in {base} or corrupted. You can download it from "
                "https://www.kaggle.com/c/challenges-in-representation-learning-facial-expression-recognition-challenge"
            )
        pixels_key = " pixels" if use_icml else "pixels"
        usage_key = " Usage" if use_icml else "Usage"
        with open(data_file, newline="") as f:
            rows = list(csv.DictReader(f))
        if use_fer or use_icml:
            valid = ("Training",) if split == "train" else ("PublicTest", "PrivateTest")
            rows = [r for r in rows if r[usage_key] in valid]
        labelled = use_fer or use_icml or split == "train"
        self._samples = [
            (np.array([int(v) for v in r[pixels_key].split()], dtype=np.uint8).reshape(48, 48),
             int(r["emotion"]) if labelled else None)
            for r in rows
        ]

    def __len__(self):
        return len(self._samples)

    def __getitem__(self, idx):
        pixels, target = self._samples[idx]
        image = _Image_fromarray(pixels, mode="L")
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target

    def extra_repr(self):
        return f"split={self._split}"


class EuroSAT(ImageFolder):
    """EuroSAT RGB: an ImageFolder over ``root/eurosat/2750/<class>/*.jpg``."""

    def __init__(self, root, transform=None, target_transform=None, download=False, loader=default_loader):
        self.root = os.path.expanduser(str(root))
        self._base_folder = os.path.join(self.root, "eurosat")
        self._data_folder = os.path.join(self._base_folder, "2750")
        if not os.path.exists(self._data_folder):
            raise RuntimeError("Dataset not found. You can use download=True to download it")
        super().__init__(self._data_folder, transform=transform, target_transform=target_transform, loader=loader)
        self.root = os.path.expanduser(str(root))

    def __len__(self):
        return len(self.samples)


class MovingMNIST(VisionDataset):
    """Moving MNIST: ``root/MovingMNIST/mnist_test_seq.npy`` (20 x 10000 x 64 x 64);
    item ``i`` is video ``i`` as a uint8 ``(T, 1, 64, 64)`` tensor (the first
    ``split_ratio`` frames for ``split="train"``, the rest for ``"test"``)."""

    _filename = "mnist_test_seq.npy"

    def __init__(self, root, split=None, split_ratio=10, download=False, transform=None):
        super().__init__(root, transform=transform)
        self._base_folder = os.path.join(str(self.root), self.__class__.__name__)
        if split is not None:
            _verify_str_arg(split, "split", ("train", "test"))
        self.split = split
        if not isinstance(split_ratio, int):
            raise TypeError(f"`split_ratio` should be an integer, but got {type(split_ratio)}")
        if not (1 <= split_ratio <= 19):
            raise ValueError(f"`split_ratio` should be `1 <= split_ratio <= 19`, but got {split_ratio} instead.")
        self.split_ratio = split_ratio
        path = os.path.join(self._base_folder, self._filename)
        if not os.path.isfile(path):
            raise RuntimeError("Dataset not found. You can use download=True to download it.")
        data = np.load(path)
        if split == "train":
            data = data[:split_ratio]
        elif split == "test":
            data = data[split_ratio:]
        self.data = rustdl.from_numpy(np.ascontiguousarray(data.transpose(1, 0, 2, 3)[:, :, None]))

    def __getitem__(self, idx):
        data = self.data[idx]
        return self.transform(data) if self.transform is not None else data

    def __len__(self):
        return len(self.data)


def wrap_dataset_for_transforms_v2(dataset, target_keys=None):
    """torchvision wraps a dataset so its samples carry ``tv_tensors`` (boxes, masks)
    for the v2 transforms. rustdl's v2 transforms take plain samples (PIL images,
    tensors, labels), so the dataset is returned as it is for the classification
    datasets here; ``target_keys`` (detection/segmentation targets) is refused."""
    if target_keys is not None:
        raise ValueError(
            "target_keys is for detection/segmentation datasets, which rustdl.vision does not provide "
            f"(got {target_keys!r})"
        )
    return dataset
