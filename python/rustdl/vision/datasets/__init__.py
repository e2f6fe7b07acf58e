"""Datasets shaped like ``torchvision.datasets`` (local files only, no downloads).

Images are numpy ``uint8`` arrays (``HxW``), not PIL images; the transforms in
``rustdl.vision.transforms`` accept them.
"""

from .digits import Digits
from .mnist import KMNIST, MNIST, FashionMNIST
from .vision import StandardTransform, VisionDataset

__all__ = ["KMNIST", "MNIST", "Digits", "FashionMNIST", "StandardTransform", "VisionDataset"]
