"""ImageNet 2012 from the official local archives, as torchvision reads it: the class
names come from ``root/meta.bin`` (``(wnid_to_classes, val_wnids)`` in PyTorch's format,
read with ``rustdl.load(weights_only=True)``), made from the devkit archive if missing
(that step reads the devkit's ``meta.mat`` with scipy, as torchvision); the ``train`` /
``val`` folders are extracted from the local image archives if missing. Nothing is
downloaded."""

import os
import shutil
import tarfile
import tempfile

import rustdl

from ._local import verify_str_arg
from .folder import ImageFolder

__all__ = ["ImageNet"]

ARCHIVE_META = {"train": "ILSVRC2012_img_train.tar", "val": "ILSVRC2012_img_val.tar",
                "devkit": "ILSVRC2012_devkit_t12.tar.gz"}
META_FILE = "meta.bin"


def _require_archive(root, file):
    path = os.path.join(root, file)
    if not os.path.isfile(path):
        raise RuntimeError(
            f"The archive {file} is not present in the root directory or is corrupted. You need to download it "
            f"externally and place it in {root}."
        )
    return path


def _extract(path, to):
    with tarfile.open(path) as tar:
        tar.extractall(to, filter="data")


def load_meta_file(root, file=None):
    file = os.path.join(root, file or META_FILE)
    if not os.path.isfile(file):
        raise RuntimeError(
            f"The meta file {file} is not present in the root directory or is corrupted. "
            "This file is automatically created by the ImageNet dataset."
        )
    wnid_to_classes, val_wnids = rustdl.load(file, weights_only=True)
    return dict(wnid_to_classes), list(val_wnids)


def parse_devkit_archive(root, file=None):
    """``meta.bin`` from the devkit archive (its ``meta.mat`` needs scipy, as in torchvision)."""
    import scipy.io as sio

    path = _require_archive(root, file or ARCHIVE_META["devkit"])
    tmp_dir = tempfile.mkdtemp()
    try:
        _extract(path, tmp_dir)
        devkit_root = os.path.join(tmp_dir, "ILSVRC2012_devkit_t12")
        meta = sio.loadmat(os.path.join(devkit_root, "data", "meta.mat"), squeeze_me=True)["synsets"]
        nums_children = list(zip(*meta))[4]
        meta = [meta[i] for i, n in enumerate(nums_children) if n == 0]
        idcs, wnids, classes = list(zip(*meta))[:3]
        idx_to_wnid = dict(zip(idcs, wnids))
        wnid_to_classes = {w: tuple(c.split(", ")) for w, c in zip(wnids, classes)}
        with open(os.path.join(devkit_root, "data", "ILSVRC2012_validation_ground_truth.txt")) as f:
            val_wnids = [idx_to_wnid[int(line)] for line in f]
    finally:
        shutil.rmtree(tmp_dir)
    rustdl.save((wnid_to_classes, val_wnids), os.path.join(root, META_FILE))


def parse_train_archive(root, file=None, folder="train"):
    """``train/<wnid>/`` from the train archive (a tar of per-class tars)."""
    path = _require_archive(root, file or ARCHIVE_META["train"])
    train_root = os.path.join(root, folder)
    _extract(path, train_root)
    for archive in sorted(os.listdir(train_root)):
        if archive.endswith(".tar"):
            inner = os.path.join(train_root, archive)
            _extract(inner, os.path.splitext(inner)[0])
            os.remove(inner)


def parse_val_archive(root, file=None, wnids=None, folder="val"):
    """``val/<wnid>/`` from the val archive, images assigned in sorted order to ``val_wnids``."""
    path = _require_archive(root, file or ARCHIVE_META["val"])
    if wnids is None:
        wnids = load_meta_file(root)[1]
    val_root = os.path.join(root, folder)
    _extract(path, val_root)
    images = sorted(os.path.join(val_root, image) for image in os.listdir(val_root))
    for wnid in set(wnids):
        os.mkdir(os.path.join(val_root, wnid))
    for wnid, img_file in zip(wnids, images):
        shutil.move(img_file, os.path.join(val_root, wnid, os.path.basename(img_file)))


class ImageNet(ImageFolder):
    """``root/{train,val}/<wnid>/*.JPEG``; ``classes`` are the synset names (tuples),
    ``wnids`` the folder names."""

    def __init__(self, root, split="train", **kwargs):
        root = self.root = os.path.expanduser(root)
        self.split = verify_str_arg(split, "split", ("train", "val"))
        self.parse_archives()
        wnid_to_classes = load_meta_file(self.root)[0]
        super().__init__(self.split_folder, **kwargs)
        self.root = root
        self.wnids = self.classes
        self.wnid_to_idx = self.class_to_idx
        self.classes = [wnid_to_classes[wnid] for wnid in self.wnids]
        self.class_to_idx = {cls: idx for idx, clss in enumerate(self.classes) for cls in clss}

    def parse_archives(self):
        if not os.path.isfile(os.path.join(self.root, META_FILE)):
            parse_devkit_archive(self.root)
        if not os.path.isdir(self.split_folder):
            if self.split == "train":
                parse_train_archive(self.root)
            else:
                parse_val_archive(self.root)

    @property
    def split_folder(self):
        return os.path.join(self.root, self.split)

    def extra_repr(self):
        return f"Split: {self.split}"
