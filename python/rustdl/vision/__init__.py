"""``rustdl.vision``: models, utils, datasets and transforms shaped like ``torchvision``.

``import rustdl.vision as torchvision`` then ``torchvision.datasets.FashionMNIST``,
``torchvision.transforms.Compose([...])``. Differences from torchvision: no
network downloads; dataset images are numpy ``uint8`` arrays (not PIL images).
"""

from . import datasets, models, transforms, utils

__all__ = ["datasets", "models", "transforms", "utils"]
__version__ = "0.1.0"
