"""``torchvision.transforms.v2`` for the common case: the v1 transforms, called
v2-style on a whole sample (``t(img)``, ``t(img, label)``, ``t((img, label))``,
dicts): each PIL image in the sample — or, if there is none, the first tensor —
is transformed, everything else passes through unchanged. Plus ``ToImage``,
``ToDtype``, ``ToPureTensor``, the v2-only ``Identity``, ``RGB``, ``GaussianNoise``,
``RandomChannelPermutation``, ``JPEG``, ``RandomResize``, ``RandomShortestSize`` and the
batch transforms ``MixUp`` / ``CutMix`` (on ``(images, labels)``). (No ``tv_tensors`` box/mask types: a sample
with several images gets independent random parameters per image.)
"""

from .. import autoaugment as _autoaugment
from .. import transforms as _v1
from ..functional import _is_pil, _is_tensor
from . import _detection, functional
from .functional import to_dtype, to_image

__all__ = ["Transform", "functional"]


def _leaves(obj, path=()):
    if isinstance(obj, (tuple, list)):
        for i, v in enumerate(obj):
            yield from _leaves(v, (*path, i))
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from _leaves(v, (*path, k))
    else:
        yield path, obj


def _replace(obj, path, value):
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(obj, dict):
        out = dict(obj)
        out[head] = _replace(obj[head], rest, value)
        return out
    items = list(obj)
    items[head] = _replace(obj[head], rest, value)
    return type(obj)(items) if isinstance(obj, tuple) else items


class Transform:
    """Base of the v2 transforms: ``_transform(image)`` on the sample's images."""

    def _transform(self, inpt):
        raise NotImplementedError

    def __call__(self, *inputs):
        sample = inputs if len(inputs) > 1 else inputs[0]
        leaves = list(_leaves(sample))
        targets = [p for p, v in leaves if _is_pil(v)]
        if not targets:
            targets = [p for p, v in leaves if _is_tensor(v) or type(v).__module__ == "numpy"][:1]
        values = dict(leaves)
        for p in targets:
            sample = _replace(sample, p, self._transform(values[p]))
        return sample


def _wrap(v1_class):
    """A v2 class: ``v1_class``'s arguments and repr, called on a whole sample (a sample
    with BoundingBoxes / KeyPoints / Mask tv_tensors goes through ``typed_call``, which
    moves every part with the same parameters)."""

    def _transform(self, inpt):
        return v1_class.__call__(self, inpt)

    def __call__(self, *inputs):
        sample = inputs if len(inputs) > 1 else inputs[0]
        if _detection.has_annotations(sample):
            return _detection.typed_call(self, v1_class.__name__, sample)
        return Transform.__call__(self, *inputs)

    cls = type(v1_class.__name__, (Transform, v1_class), {"_transform": _transform, "__call__": __call__})
    cls.__module__ = __name__
    cls.__doc__ = v1_class.__doc__
    return cls


_WRAPPED = [
    "CenterCrop", "ColorJitter", "ConvertImageDtype", "FiveCrop", "GaussianBlur", "Grayscale", "Normalize",
    "PILToTensor", "Pad", "RandomAdjustSharpness", "RandomAffine", "RandomAutocontrast", "RandomCrop",
    "RandomEqualize", "RandomErasing", "RandomGrayscale", "RandomHorizontalFlip", "RandomInvert",
    "RandomPosterize", "RandomResizedCrop", "RandomRotation", "RandomSolarize", "RandomVerticalFlip", "Resize",
    "TenCrop", "ToPILImage", "ToTensor",
    "AugMix", "AutoAugment", "ElasticTransform", "LinearTransformation", "RandAugment", "RandomPerspective",
    "TrivialAugmentWide",
]
for _name in _WRAPPED:
    globals()[_name] = _wrap(getattr(_v1, _name, None) or getattr(_autoaugment, _name))
    __all__.append(_name)

InterpolationMode = _v1.InterpolationMode
AutoAugmentPolicy = _autoaugment.AutoAugmentPolicy

from ._augment import CutMix, MixUp
from ._misc import (
    _make_classes,
    check_type,
    get_bounding_boxes,
    get_keypoints,
    has_all,
    has_any,
    query_chw,
    query_size,
)

for _cls in _make_classes(Transform):
    _cls.__module__ = __name__
    globals()[_cls.__name__] = _cls
    __all__.append(_cls.__name__)
from ._detection import _make_detection_classes

for _cls in _make_detection_classes(Transform):
    _cls.__module__ = __name__
    globals()[_cls.__name__] = _cls
    __all__.append(_cls.__name__)
__all__ += [
    "AutoAugmentPolicy", "CutMix", "MixUp", "check_type", "get_bounding_boxes", "get_keypoints", "has_all",
    "has_any", "query_chw", "query_size",
]


class Compose:
    """Apply ``transforms`` in order to the whole sample."""

    def __init__(self, transforms):
        self.transforms = transforms

    def __call__(self, *inputs):
        sample = inputs if len(inputs) > 1 else inputs[0]
        for t in self.transforms:
            sample = t(sample)
        return sample

    def __repr__(self):
        return "\n".join(["Compose("] + [f"    {t}" for t in self.transforms] + [")"])


class RandomApply(Compose):
    """Apply ``transforms`` with probability ``p``."""

    def __init__(self, transforms, p=0.5):
        super().__init__(transforms)
        self.p = p

    def __call__(self, *inputs):
        sample = inputs if len(inputs) > 1 else inputs[0]
        if self.p < _v1._rand():
            return sample
        return super().__call__(sample)


class RandomChoice(_v1.RandomChoice):
    def __call__(self, *inputs):
        return super().__call__(inputs if len(inputs) > 1 else inputs[0])


class RandomOrder(_v1.RandomOrder):
    def __call__(self, *inputs):
        return super().__call__(inputs if len(inputs) > 1 else inputs[0])


class Lambda(Transform):
    """Apply ``lambd`` to the sample's image(s) (``types`` are ignored)."""

    def __init__(self, lambd, *types):
        if not callable(lambd):
            raise TypeError(f"Argument lambd should be callable, got {type(lambd).__name__!r}")
        self.lambd = lambd
        self.types = types

    def _transform(self, inpt):
        return self.lambd(inpt)

    def __repr__(self):
        return f"{self.__class__.__name__}()"


class ToImage(Transform):
    """PIL image / numpy array / tensor -> CxHxW tensor (values unchanged)."""

    def _transform(self, inpt):
        return to_image(inpt)

    def __repr__(self):
        return "ToImage()"


class ToPureTensor(Transform):
    def _transform(self, inpt):
        return inpt

    def __repr__(self):
        return "ToPureTensor()"


class ToDtype(Transform):
    """Cast the image to ``dtype`` (a dtype, or a dict whose entry for images —
    any key other than ``"others"`` — is used), rescaling values if ``scale``."""

    def __init__(self, dtype, scale=False):
        self.dtype = dtype
        self.scale = scale

    def _transform(self, inpt):
        dtype = self.dtype
        if isinstance(dtype, dict):
            image_dtypes = [v for k, v in dtype.items() if k != "others"]
            dtype = image_dtypes[0] if image_dtypes else dtype.get("others")
            if dtype is None:
                return inpt
        return to_dtype(inpt, dtype, scale=self.scale)

    def __repr__(self):
        return f"ToDtype(dtype={self.dtype}, scale={self.scale})"


__all__ += [
    "Compose", "InterpolationMode", "Lambda", "RandomApply", "RandomChoice", "RandomOrder", "ToDtype", "ToImage",
    "ToPureTensor",
]
