"""Datasets shaped like ``torchvision.datasets`` (local files only, no downloads).

``FakeData``, ``CIFAR10``/``CIFAR100``, ``ImageFolder`` and the MNIST family give
PIL images as torchvision does (the transforms also accept numpy ``HxW[xC]`` arrays;
``Digits`` gives those).
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
