"""MNIST-family datasets read from local IDX files (no network access).

Images are returned as PIL images of mode ``'L'`` (28x28), as torchvision
returns them, so transforms (``ToTensor``, ``Resize``, ...) compose the same;
``.data`` is the ``uint8`` tensor ``N x 28 x 28``.
"""

import gzip
import hashlib
import json
import os
import string
import threading
import warnings
import zlib
from typing import ClassVar

import numpy as np

import rustdl

from ..utils import _Image_fromarray
from .vision import VisionDataset

__all__ = ["EMNIST", "KMNIST", "MNIST", "FashionMNIST", "read_idx"]

_IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def _read_bytes(path):
    """The (decompressed, for ``.gz``) bytes of ``path``; RuntimeError naming it on failure."""
    try:
        if path.endswith(".gz"):
            with gzip.open(path, "rb") as f:
                return f.read()
        with open(path, "rb") as f:
            return f.read()
    except (EOFError, OSError, zlib.error) as e:
        raise RuntimeError(f"cannot read {path}: the file is truncated or corrupt ({e})") from e


def read_idx(path, expected_ndim=None, data=None):
    """Parse an IDX file (``.gz`` or not) into a numpy array.

    The header is big-endian: a magic number ``0x0000TTNN`` (``TT`` the element
    type, ``0x08`` = uint8; ``NN`` the number of dimensions), then ``NN`` u32
    sizes; the data follows. Raises RuntimeError naming ``path`` if the file is
    not an IDX file or its length does not match its header.
    """
    if data is None:
        data = _read_bytes(path)
    if len(data) < 4:
        raise RuntimeError(f"{path}: truncated IDX file ({len(data)} bytes, no header)")
    magic = int.from_bytes(data[0:4], "big")
    type_code, ndim = (magic >> 8) & 0xFF, magic & 0xFF
    if (magic >> 16) != 0 or type_code not in _IDX_DTYPES or ndim == 0:
        raise RuntimeError(f"{path}: not an IDX file (bad magic number 0x{magic:08x})")
    if expected_ndim is not None and ndim != expected_ndim:
        raise RuntimeError(
            f"{path}: expected an IDX file with {expected_ndim} dimension(s) "
            f"(magic 0x{0x800 + expected_ndim:08x}) but the magic number is 0x{magic:08x}"
        )
    header = 4 + 4 * ndim
    if len(data) < header:
        raise RuntimeError(f"{path}: truncated IDX file ({len(data)} bytes, header needs {header})")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = _IDX_DTYPES[type_code]
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "has trailing bytes"
        raise RuntimeError(
            f"{path}: IDX file {what}: the header announces shape {shape} ({expected} bytes) "
            f"but the data is {len(data)} bytes"
        )
    arr = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return arr.astype(dtype.newbyteorder("="), copy=False)


# ------------------------------------------------------------ verification cache
_verified = set()  # (realpath, size, mtime_ns, sha256) verified in this process
_cache_lock = threading.Lock()
_array_cache = {}  # (realpath, size, mtime_ns) -> numpy array (read-only)


def _file_key(path):
    st = os.stat(path)
    return os.path.realpath(path), st.st_size, st.st_mtime_ns


_SYSTEM_PREFIXES = ("/usr/", "/opt/", "/etc/", "/var/lib/", "/lib/", "/srv/")


def _marker_path(real):
    """Next to user files; in ``~/.cache/rustdl/verified`` for system (e.g. /usr/share) files."""
    d = os.path.dirname(real)
    if not real.startswith(_SYSTEM_PREFIXES) and os.access(d, os.W_OK):
        return os.path.join(d, "." + os.path.basename(real) + ".sha256-verified")
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    name = hashlib.sha1(real.encode("utf-8", "surrogateescape")).hexdigest() + ".json"
    return os.path.join(cache, "rustdl", "verified", name)


def _marker_ok(key, sha):
    real, size, mtime = key
    try:
        with open(_marker_path(real)) as f:
            m = json.load(f)
        return m.get("path") == real and m.get("size") == size and m.get("mtime_ns") == mtime and m.get("sha256") == sha
    except (OSError, ValueError, AttributeError):
        return False


def _write_marker(key, sha):
    real, size, mtime = key
    p = _marker_path(real)
    try:
        os.makedirs(os.path.dirname(p), exist_ok=True)
        tmp = f"{p}.{os.getpid()}.tmp"
        with open(tmp, "w") as f:
            json.dump({"path": real, "size": size, "mtime_ns": mtime, "sha256": sha}, f)
        os.replace(tmp, p)
    except OSError:
        pass  # the marker is only an optimisation


def _load_idx(path, expected_ndim, sha256=None):
    """Read + check an IDX file, with the SHA-256 of its decompressed bytes verified
    once per process (and remembered across processes by a small marker file
    keyed on the file's size and mtime). Decoded arrays are cached per process."""
    key = _file_key(path)
    with _cache_lock:
        arr = _array_cache.get(key)
    if arr is not None and (sha256 is None or (key + (sha256,)) in _verified):
        return arr
    data = _read_bytes(path)
    arr = read_idx(path, expected_ndim, data)
    if sha256 is not None and (key + (sha256,)) not in _verified:
        if not _marker_ok(key, sha256):
            digest = hashlib.sha256(data).hexdigest()
            if digest != sha256:
                raise RuntimeError(
                    f"{path}: SHA-256 of the decompressed data is {digest}, expected {sha256}: the "
                    "file is corrupt or not the expected dataset file"
                )
            _write_marker(key, sha256)
        _verified.add(key + (sha256,))
    arr = arr.copy() if not arr.flags.owndata else arr
    arr.flags.writeable = False
    with _cache_lock:
        if len(_array_cache) >= 8:
            _array_cache.pop(next(iter(_array_cache)))
        _array_cache[key] = arr
    return arr


# ------------------------------------------------------------------- datasets
class MNIST(VisionDataset):
    """`MNIST <http://yann.lecun.com/exdb/mnist/>`_ from local IDX files.

    Args:
        root: directory holding the files, torchvision layout
            ``root/MNIST/raw/train-images-idx3-ubyte[.gz]`` etc.; ``root/MNIST``
            and ``root`` itself are searched too.
        train: the 60,000-image training set (True) or the 10,000-image test set.
        transform: applied to the image, a PIL image of mode ``'L'``.
        target_transform: applied to the label (an int).
        download: no network access here: succeeds silently if the files are
            present, else raises RuntimeError saying where to put them.

    Attributes: ``data`` (uint8 tensor N x 28 x 28), ``targets`` (int64 tensor N),
    ``classes``, ``class_to_idx``.
    """

    resources: ClassVar[list] = [
        ("train-images-idx3-ubyte", None),
        ("train-labels-idx1-ubyte", None),
        ("t10k-images-idx3-ubyte", None),
        ("t10k-labels-idx1-ubyte", None),
    ]
    training_file = "training.pt"
    test_file = "test.pt"
    classes: ClassVar[list] = [
        "0 - zero",
        "1 - one",
        "2 - two",
        "3 - three",
        "4 - four",
        "5 - five",
        "6 - six",
        "7 - seven",
        "8 - eight",
        "9 - nine",
    ]
    _system_dirs = ()
    _install_hint = ""

    def __init__(self, root, train=True, transform=None, target_transform=None, download=False):
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.train = train
        prefix = self._file_prefix
        images = self._find(f"{prefix}-images-idx3-ubyte")
        labels = self._find(f"{prefix}-labels-idx1-ubyte")
        if images is None or labels is None:
            missing = [n for n, p in ((f"{prefix}-images-idx3-ubyte", images), (f"{prefix}-labels-idx1-ubyte", labels)) if p is None]
            raise RuntimeError(self._not_found_message(missing, download))
        shas = dict(self.resources)
        img = _load_idx(images, 3, shas.get(f"{prefix}-images-idx3-ubyte"))
        lab = _load_idx(labels, 1, shas.get(f"{prefix}-labels-idx1-ubyte"))
        if img.shape[0] != lab.shape[0]:
            raise RuntimeError(
                f"{images} has {img.shape[0]} images but {labels} has {lab.shape[0]} labels"
            )
        self.image_file, self.label_file = images, labels
        # a copy: from_numpy shares, and `img` is the per-process cache's (read-only) array
        self.data = rustdl.from_numpy(img.copy())
        self.targets = rustdl.from_numpy(lab.astype(np.int64))

    # .data / .targets are kept in sync with numpy views used by __getitem__
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
    def raw_folder(self):
        return os.path.join(self.root or "", self.__class__.__name__, "raw")

    @property
    def processed_folder(self):
        return os.path.join(self.root or "", self.__class__.__name__, "processed")

    @property
    def class_to_idx(self):
        return {_class: i for i, _class in enumerate(self.classes)}

    @property
    def train_labels(self):
        warnings.warn("train_labels has been renamed targets", stacklevel=2)
        return self.targets

    @property
    def test_labels(self):
        warnings.warn("test_labels has been renamed targets", stacklevel=2)
        return self.targets

    @property
    def train_data(self):
        warnings.warn("train_data has been renamed data", stacklevel=2)
        return self.data

    @property
    def test_data(self):
        warnings.warn("test_data has been renamed data", stacklevel=2)
        return self.data

    def _search_dirs(self):
        dirs = []
        if self.root is not None:
            name = self.__class__.__name__
            dirs += [os.path.join(self.root, name, "raw"), os.path.join(self.root, name), self.root]
        dirs += list(self._system_dirs)
        return dirs

    def _find(self, base):
        for d in self._search_dirs():
            for fname in (base, base + ".gz"):
                p = os.path.join(d, fname)
                if os.path.isfile(p):
                    return p
        return None

    @property
    def _file_prefix(self):
        return "train" if self.train else "t10k"

    def _check_exists(self):
        prefix = self._file_prefix
        return all(self._find(f"{prefix}-{k}") is not None for k in ("images-idx3-ubyte", "labels-idx1-ubyte"))

    def _not_found_message(self, missing, download):
        where = "\n  ".join(self._search_dirs())
        msg = (
            f"Dataset not found: {self.__class__.__name__} needs {', '.join(missing)} "
            "(optionally gzipped, .gz). Searched:\n  " + where + "\n"
        )
        if download:
            msg += (
                "download=True cannot fetch it: rustdl does no network downloads. "
            )
        msg += (
            f"Put the IDX files in {os.path.join(self.root or '<root>', self.__class__.__name__, 'raw')} "
            "(torchvision's layout) or directly in root."
        )
        if self._install_hint:
            msg += " " + self._install_hint
        return msg

    def __getitem__(self, index):
        """Returns ``(image, target)``: image a PIL image of mode ``'L'`` (28x28), as
        torchvision (after ``transform``), target an int (after ``target_transform``)."""
        if not isinstance(index, int):
            index = int(index)
        img = _Image_fromarray(self._data_np[index], mode="L")
        target = int(self._targets_np[index])
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def __len__(self):
        return len(self._data_np)

    def extra_repr(self):
        split = "Train" if self.train is True else "Test"
        return f"Split: {split}"


class FashionMNIST(MNIST):
    """`Fashion-MNIST <https://github.com/zalandoresearch/fashion-mnist>`_ from local
    IDX files: ``root/FashionMNIST/raw/`` (torchvision layout), ``root/FashionMNIST``,
    ``root``, then Debian's ``/usr/share/datasets/fashion-mnist/``
    (``apt-get install dataset-fashion-mnist``).

    The SHA-256 of each file's decompressed bytes is verified (once per
    process; a small marker file remembers it across processes). Images are
    PIL images (mode ``'L'``); see :class:`MNIST` for the arguments.
    """

    resources: ClassVar[list] = [
        ("train-images-idx3-ubyte", "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
        ("train-labels-idx1-ubyte", "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
        ("t10k-images-idx3-ubyte", "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
        ("t10k-labels-idx1-ubyte", "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
    ]
    classes: ClassVar[list] = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
    _system_dirs = ("/usr/share/datasets/fashion-mnist",)
    _install_hint = (
        "On Debian/Ubuntu, `apt-get install dataset-fashion-mnist` installs them in "
        "/usr/share/datasets/fashion-mnist/, which is searched automatically."
    )


class KMNIST(MNIST):
    """Kuzushiji-MNIST from local IDX files (same layout as :class:`MNIST`)."""

    classes: ClassVar[list] = ["o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"]


class EMNIST(MNIST):
    """`EMNIST <https://www.nist.gov/itl/products-and-services/emnist-dataset>`_ from
    local IDX files ``emnist-{split}-{train,test}-{images-idx3,labels-idx1}-ubyte[.gz]``
    (the files in NIST's ``gzip.zip``) in ``root/EMNIST/raw/``, ``root/EMNIST`` or ``root``.

    Args:
        split: ``byclass``, ``bymerge``, ``balanced``, ``letters``, ``digits`` or ``mnist``.
        Others as :class:`MNIST`. Images are stored as in the files (transposed
        relative to upright letters), as in torchvision.
    """

    splits = ("byclass", "bymerge", "balanced", "letters", "digits", "mnist")
    _merged_classes = frozenset("cijklmopsuvwxyz")
    _all_classes = frozenset(string.digits + string.ascii_letters)
    classes_split_dict: ClassVar[dict] = {
        "byclass": sorted(_all_classes),
        "bymerge": sorted(_all_classes - _merged_classes),
        "balanced": sorted(_all_classes - _merged_classes),
        "letters": ["N/A", *string.ascii_lowercase],
        "digits": list(string.digits),
        "mnist": list(string.digits),
    }

    def __init__(self, root, split, **kwargs):
        if split not in self.splits:
            raise ValueError(
                f"Unknown value '{split}' for argument split. Valid values are {{{', '.join(map(repr, self.splits))}}}."
            )
        self.split = split
        self.training_file = f"training_{split}.pt"
        self.test_file = f"test_{split}.pt"
        super().__init__(root, **kwargs)
        self.classes = self.classes_split_dict[self.split]

    @property
    def _file_prefix(self):
        return f"emnist-{self.split}-{'train' if self.train else 'test'}"
