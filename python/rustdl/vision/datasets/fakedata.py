"""``FakeData``: random images, the same for a given index (torchvision's API)."""

import rustdl

from .vision import VisionDataset

__all__ = ["FakeData"]


class FakeData(VisionDataset):
    """A fake dataset of random PIL images (as torchvision).

    Image ``i`` is ``randn(*image_size)`` drawn after ``manual_seed(i + random_offset)``
    (the global RNG state is restored afterwards), converted with ``ToPILImage``
    (so values wrap to uint8 as in torchvision); its target is a ``randint(0,
    num_classes)`` from the same seed. rustdl's generator is not PyTorch's, so the
    pixels differ from torchvision's, but each index always gives the same sample.

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
        rng_state = rustdl.get_rng_state()
        try:
            rustdl.manual_seed(index + self.random_offset)
            img = rustdl.randn(*self.image_size)
            target = rustdl.randint(0, self.num_classes, size=(1,), dtype=rustdl.long)[0]
        finally:
            rustdl.set_rng_state(rng_state)
        img = to_pil_image(img)
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target.item() if hasattr(target, "item") else target

    def __len__(self):
        return self.size
