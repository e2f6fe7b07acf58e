"""``rustdl.vision``: models, utils, datasets and transforms shaped like ``torchvision``.

``import rustdl.vision as torchvision`` (or ``import torchvision`` under
``python -m rustdl``) then ``torchvision.models.resnet18()``,
``torchvision.datasets.FakeData``, ``torchvision.utils.save_image``,
``torchvision.transforms.Compose([...])``. Differences from torchvision: no
network downloads (pretrained ``weights=`` raise, saying how to load a local
file). Datasets give PIL images, as torchvision's.
"""

from . import datasets, io, models, ops, transforms, tv_tensors, utils

__all__ = ["datasets", "io", "models", "ops", "transforms", "tv_tensors", "utils"]
__version__ = "0.1.0"
