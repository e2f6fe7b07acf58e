"""Datasets shaped like ``torchvision.datasets`` (local files only, no downloads).

``FakeData``, ``CIFAR10``/``CIFAR100``, ``ImageFolder`` and the MNIST family give
PIL images as torchvision does (the transforms also accept numpy ``HxW[xC]`` arrays;
``Digits`` gives those).
"""

from .annotated import *
from .annotated import __all__ as _annotated_all
from .cifar import CIFAR10, CIFAR100
from .cityscapes_phototour import Cityscapes, PhotoTour
from .digits import Digits
from .fakedata import FakeData
from .folder import IMG_EXTENSIONS, DatasetFolder, ImageFolder, default_loader, pil_loader
from .image_classification import *
from .image_classification import __all__ as _classification_all
from .imagenet import ImageNet
from .mnist import EMNIST, KMNIST, MNIST, FashionMNIST
from .optical_flow import *
from .optical_flow import __all__ as _flow_all
from .people_and_species import *
from .people_and_species import __all__ as _people_all
from .qmnist import QMNIST
from .small_sets import FER2013, SEMEION, USPS, EuroSAT, MovingMNIST, wrap_dataset_for_transforms_v2
from .stereo_matching import *
from .stereo_matching import __all__ as _stereo_all
from .vision import StandardTransform, VisionDataset

__all__ = [
    "CIFAR10",
    "CIFAR100",
    "EMNIST",
    "FER2013",
    "IMG_EXTENSIONS",
    "KMNIST",
    "MNIST",
    "SEMEION",
    "USPS",
    "DatasetFolder",
    "Digits",
    "EuroSAT",
    "FakeData",
    "FashionMNIST",
    "ImageFolder",
    "MovingMNIST",
    "StandardTransform",
    "VisionDataset",
    "default_loader",
    "pil_loader",
    "wrap_dataset_for_transforms_v2",
]
__all__ += _classification_all + _annotated_all + _people_all + _flow_all + ["QMNIST"] + _stereo_all + ["Cityscapes", "ImageNet", "PhotoTour"]  # noqa: PLE0605
