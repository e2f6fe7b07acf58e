"""CIFAR-10 / CIFAR-100 from local files (no downloads).

Reads torchvision's layout, ``root/cifar-10-batches-py/data_batch_1`` ... (the
python-pickle batches), or else the binary version
``root/cifar-10-batches-bin/data_batch_1.bin`` ... (``cifar-100-binary/train.bin``).

The pickles are read by :class:`_ArrayOnlyUnpickler`, which constructs nothing
but the builtin containers and numpy arrays: a file whose pickle names any other
global (``os.system``, ...) is refused before anything runs.
"""

import io
import os
import pickle
from typing import ClassVar

import numpy as np

from .vision import VisionDataset

__all__ = ["CIFAR10", "CIFAR100"]

try:  # numpy >= 2
    from numpy._core.multiarray import _reconstruct
    from numpy._core.numeric import _frombuffer
except ImportError:  # numpy 1.x
    from numpy.core.multiarray import _reconstruct
    from numpy.core.numeric import _frombuffer


class _ArrayOnlyUnpickler(pickle.Unpickler):
    """Unpickler for CIFAR batches: only numpy arrays' reconstruction globals."""

    _ALLOWED: ClassVar[dict] = {
        ("numpy.core.multiarray", "_reconstruct"): lambda: _reconstruct,
        ("numpy._core.multiarray", "_reconstruct"): lambda: _reconstruct,
        # protocol 5 arrays: a copy of the buffer with a dtype and shape
        ("numpy.core.numeric", "_frombuffer"): lambda: _frombuffer,
        ("numpy._core.numeric", "_frombuffer"): lambda: _frombuffer,
        ("numpy", "ndarray"): lambda: np.ndarray,
        ("numpy", "dtype"): lambda: np.dtype,
        # how Python 3 pickles ``bytes`` at protocol 2 (a pure string function)
        ("_codecs", "encode"): lambda: __import__("codecs").encode,
    }

    def find_class(self, module, name):
        get = self._ALLOWED.get((module, name))
        if get is None:
            raise pickle.UnpicklingError(
                f"refusing to load global {module}.{name} from a CIFAR batch file: only numpy arrays and "
                "builtin containers are allowed (the file is not a CIFAR batch, or was crafted to run code)"
            )
        return get()

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("persistent ids are not allowed in a CIFAR batch file")


def _load_batch(path):
    with open(path, "rb") as f:
        data = f.read()
    try:
        entry = _ArrayOnlyUnpickler(io.BytesIO(data), encoding="latin1").load()
    except pickle.UnpicklingError as e:
        raise pickle.UnpicklingError(f"{path}: {e}") from None
    except (EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError) as e:
        raise RuntimeError(f"{path}: not a CIFAR python batch file ({type(e).__name__}: {e})") from e
    if not isinstance(entry, dict):
        raise RuntimeError(  # noqa: TRY004 (a bad file, not a bad argument)
            f"{path}: not a CIFAR python batch file (holds a {type(entry).__name__}, not a dict)"
        )
    # Python 2 pickles of CIFAR keep bytes keys only when read without latin1
    return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in entry.items()}


class CIFAR10(VisionDataset):
    """`CIFAR10 <https://www.cs.toronto.edu/~kriz/cifar.html>`_ from local files.

    Args:
        root: folder holding ``cifar-10-batches-py`` (or ``cifar-10-batches-bin``).
        train: the 50,000 training images (True) or the 10,000 test images.
        transform: applied to the PIL image (32x32 RGB).
        target_transform: applied to the label (an int).
        download: no network access here; raises if the files are missing.

    Attributes: ``data`` (numpy uint8, N x 32 x 32 x 3), ``targets`` (list of
    int), ``classes``, ``class_to_idx``.
    """

    base_folder = "cifar-10-batches-py"
    binary_folder = "cifar-10-batches-bin"
    url = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
    filename = "cifar-10-python.tar.gz"
    tgz_md5 = "c58f30108f718f92721af3b95e74349a"
    train_list: ClassVar[list] = [
        ["data_batch_1", "c99cafc152244af753f735de768cd75f"],
        ["data_batch_2", "d4bba439e000b95fd0a9bffe97cbabec"],
        ["data_batch_3", "54ebc095f3ab1f0389bbae665268c751"],
        ["data_batch_4", "634d18415352ddfa80567beed471001a"],
        ["data_batch_5", "482c414d41f54cd18b22e5b47cb7c3cb"],
    ]
    test_list: ClassVar[list] = [["test_batch", "40351d587109b95175f43aff81a1287e"]]
    meta: ClassVar[dict] = {
        "filename": "batches.meta",
        "key": "label_names",
        "md5": "5ff9c542aee3614f3951f8cda6e48888",
    }
    # binary version: file names, label bytes per record (the label used is the last)
    binary_train: ClassVar[list] = [f"data_batch_{i}.bin" for i in range(1, 6)]
    binary_test: ClassVar[list] = ["test_batch.bin"]
    binary_meta = "batches.meta.txt"
    binary_label_bytes = 1
    default_classes: ClassVar[list] = [
        "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
    ]

    def __init__(self, root, train=True, transform=None, target_transform=None, download=False):
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.train = train
        if self._has_python_files():
            self._load_python()
        elif self._has_binary_files():
            self._load_binary()
        else:
            msg = "Dataset not found or corrupted."
            if download:
                msg += " download=True cannot fetch it: rustdl does no network downloads."
            raise RuntimeError(
                f"{msg} {self.__class__.__name__} needs {self.filename} extracted into {self.root or '<root>'} "
                f"({os.path.join(self.root or '<root>', self.base_folder)}/ with "
                f"{', '.join(n for n, _ in self.train_list + self.test_list)} and {self.meta['filename']}), "
                f"or the binary version in {os.path.join(self.root or '<root>', self.binary_folder)}/."
            )

    # ----------------------------------------------------------- python pickles
    def _python_path(self, name):
        return os.path.join(self.root or "", self.base_folder, name)

    def _has_python_files(self):
        names = [n for n, _ in (self.train_list if self.train else self.test_list)]
        return all(os.path.isfile(self._python_path(n)) for n in names)

    def _load_python(self):
        data, targets = [], []
        for file_name, _ in self.train_list if self.train else self.test_list:
            entry = _load_batch(self._python_path(file_name))
            if "data" not in entry:
                raise RuntimeError(f"{self._python_path(file_name)}: no 'data' entry in the batch")
            data.append(np.asarray(entry["data"], dtype=np.uint8).reshape(-1, 3072))
            labels = entry.get("labels", entry.get("fine_labels"))
            if labels is None:
                raise RuntimeError(f"{self._python_path(file_name)}: no 'labels' or 'fine_labels' entry")
            targets.extend(int(v) for v in labels)
        self.data = np.vstack(data).reshape(-1, 3, 32, 32).transpose((0, 2, 3, 1))  # to HWC
        self.targets = targets
        if len(self.targets) != len(self.data):
            raise RuntimeError(f"{self.__class__.__name__}: {len(self.data)} images but {len(self.targets)} labels")
        meta_path = self._python_path(self.meta["filename"])
        if os.path.isfile(meta_path):
            self.classes = list(_load_batch(meta_path)[self.meta["key"]])
        else:
            self.classes = list(self.default_classes)
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}

    # ------------------------------------------------------------- binary files
    def _binary_path(self, name):
        return os.path.join(self.root or "", self.binary_folder, name)

    def _has_binary_files(self):
        names = self.binary_train if self.train else self.binary_test
        return all(os.path.isfile(self._binary_path(n)) for n in names)

    def _load_binary(self):
        record = self.binary_label_bytes + 3072
        data, targets = [], []
        for name in self.binary_train if self.train else self.binary_test:
            raw = np.fromfile(self._binary_path(name), dtype=np.uint8)
            if raw.size % record:
                raise RuntimeError(
                    f"{self._binary_path(name)}: {raw.size} bytes is not a whole number of {record}-byte records"
                )
            raw = raw.reshape(-1, record)
            targets.extend(raw[:, self.binary_label_bytes - 1].astype(int).tolist())
            data.append(raw[:, self.binary_label_bytes :])
        self.data = np.ascontiguousarray(np.vstack(data).reshape(-1, 3, 32, 32).transpose((0, 2, 3, 1)))
        self.targets = targets
        meta_path = self._binary_path(self.binary_meta)
        if os.path.isfile(meta_path):
            with open(meta_path) as f:
                self.classes = [line.strip() for line in f if line.strip()]
        else:
            self.classes = list(self.default_classes)
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}

    def __getitem__(self, index):
        from PIL import Image

        img, target = self.data[index], self.targets[index]
        img = Image.fromarray(np.ascontiguousarray(img))
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def __len__(self):
        return len(self.data)

    def _check_integrity(self):
        return self._has_python_files() or self._has_binary_files()

    def download(self):
        if not self._check_integrity():
            raise RuntimeError("rustdl does no network downloads: put the extracted files in root")

    def extra_repr(self):
        split = "Train" if self.train is True else "Test"
        return f"Split: {split}"


class CIFAR100(CIFAR10):
    """`CIFAR100 <https://www.cs.toronto.edu/~kriz/cifar.html>`_ (fine labels) from
    ``root/cifar-100-python/{train,test,meta}`` or ``root/cifar-100-binary/``."""

    base_folder = "cifar-100-python"
    binary_folder = "cifar-100-binary"
    url = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
    filename = "cifar-100-python.tar.gz"
    tgz_md5 = "eb9058c3a382ffc7106e4002c42a8d85"
    train_list: ClassVar[list] = [["train", "16019d7e3df5f24257cddd939b257f8d"]]
    test_list: ClassVar[list] = [["test", "f0ef6b0ae62326f3e7ffdfab6717acfc"]]
    meta: ClassVar[dict] = {
        "filename": "meta",
        "key": "fine_label_names",
        "md5": "7973b15100ade9c7d40fb424638fde48",
    }
    binary_train: ClassVar[list] = ["train.bin"]
    binary_test: ClassVar[list] = ["test.bin"]
    binary_meta = "fine_label_names.txt"
    binary_label_bytes = 2  # coarse label, fine label
    default_classes: ClassVar[list] = [str(i) for i in range(100)]
