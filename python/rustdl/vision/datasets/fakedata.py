"""``FakeData``: random images, the same for a given index (torchvision's API)."""

import rustdl

from ._torch_random import TorchCPUGenerator
from .vision import VisionDataset

__all__ = ["FakeData"]


class FakeData(VisionDataset):
    """A fake dataset of random PIL images (as torchvision).

    Image ``i`` is ``torch.randn(*image_size)`` drawn after ``torch.manual_seed(i +
    random_offset)``, converted with ``ToPILImage`` (so values wrap to uint8 as in
    torchvision); its target is a ``randint(0, num_classes)`` from the same seed.
    rustdl's generator is not PyTorch's, so those draws replay PyTorch's CPU generator
    (MT19937 and its normal/randint algorithms, ``_torch_random.py``): the images
    and targets are torchvision's own, pixel for pixel, and rustdl's global RNG is
    not touched.

    Args:
        size: number of samples.
        image_size: (C, H, W) of the images.
        num_classes: number of classes.
        transform: applied to the PIL image.
        target_transform: applied to the target.
        random_offset: added to the index to seed each sample.
    """

    def __init__(
        self,
        size=1000,
        image_size=(3, 224, 224),
        num_classes=10,
        transform=None,
        target_transform=None,
        random_offset=0,
    ):
        super().__init__(transform=transform, target_transform=target_transform)
        self.size = size
        self.num_classes = num_classes
        self.image_size = image_size
        self.random_offset = random_offset

    def __getitem__(self, index):
        from ..transforms.functional import to_pil_image

        if index >= len(self):
            raise IndexError(f"{self.__class__.__name__} index out of range")
        generator = TorchCPUGenerator(index + self.random_offset)
        img = rustdl.from_numpy(generator.randn(*self.image_size))
        target = rustdl.tensor(generator.randint(0, self.num_classes), dtype=rustdl.long)
        img = to_pil_image(img)
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target.item() if hasattr(target, "item") else target

    def __len__(self):
        return self.size
