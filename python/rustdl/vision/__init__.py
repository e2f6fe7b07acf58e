"""``rustdl.vision``: datasets and transforms shaped like ``torchvision``.

``import rustdl.vision as torchvision`` then ``torchvision.datasets.FashionMNIST``,
``torchvision.transforms.Compose([...])``. Differences from torchvision: no
network downloads; dataset images are numpy ``uint8`` arrays (not PIL images).
"""

from . import datasets, transforms

__all__ = ["datasets", "transforms"]
__version__ = "0.1.0"
