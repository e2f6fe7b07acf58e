"""Datasets shaped like ``torchvision.datasets`` (local files only, no downloads).

``FakeData``, ``CIFAR10``/``CIFAR100`` and ``ImageFolder`` give PIL images as
torchvision does; the MNIST family gives numpy ``uint8`` arrays (``HxW``).
The transforms in ``rustdl.vision.transforms`` accept both.
"""

from .cifar import CIFAR10, CIFAR100
from .digits import Digits
from .fakedata import FakeData
from .folder import IMG_EXTENSIONS, DatasetFolder, ImageFolder, default_loader, pil_loader
from .mnist import EMNIST, KMNIST, MNIST, FashionMNIST
from .vision import StandardTransform, VisionDataset

__all__ = [
    "CIFAR10",
    "CIFAR100",
    "EMNIST",
    "IMG_EXTENSIONS",
    "KMNIST",
    "MNIST",
    "DatasetFolder",
    "Digits",
    "FakeData",
    "FashionMNIST",
    "ImageFolder",
    "StandardTransform",
    "VisionDataset",
    "default_loader",
    "pil_loader",
]
