"""Small v2-only transforms (``Identity``, ``RGB``, ``GaussianNoise``,
``RandomChannelPermutation``, ``JPEG``, ``RandomResize``, ``RandomShortestSize``) and
the sample-query helpers (``query_size``, ``query_chw``, ``has_any``, ...)."""

from collections.abc import Sequence

import rustdl

from ..functional import InterpolationMode, _is_pil, _is_tensor
from . import functional as F


def _image_like(x):
    return _is_pil(x) or _is_tensor(x)


def query_chw(flat_inputs):
    """(C, H, W) shared by the images of a flattened sample (ValueError if they differ)."""
    chws = {tuple(F.get_dimensions(x)) for x in flat_inputs if _image_like(x)}
    if not chws:
        raise TypeError("No image or video was found in the sample")
    if len(chws) > 1:
        raise ValueError(f"Found multiple CxHxW dimensions in the sample: {sorted(chws)}")
    c, h, w = chws.pop()
    return c, h, w


def query_size(flat_inputs):
    """(H, W) shared by the images of a flattened sample."""
    sizes = {tuple(F.get_size(x)) for x in flat_inputs if _image_like(x)}
    if not sizes:
        raise TypeError("No image, video, mask, bounding box or keypoint was found in the sample")
    if len(sizes) > 1:
        raise ValueError(f"Found multiple HxW dimensions in the sample: {sorted(sizes)}")
    h, w = sizes.pop()
    return h, w


def check_type(obj, types_or_checks):
    for t in types_or_checks:
        if isinstance(obj, t) if isinstance(t, type) else t(obj):
            return True
    return False


def has_any(flat_inputs, *types_or_checks):
    return any(check_type(x, types_or_checks) for x in flat_inputs)


def has_all(flat_inputs, *types_or_checks):
    return all(any(check_type(x, (t,)) for x in flat_inputs) for t in types_or_checks)


def get_bounding_boxes(flat_inputs):
    raise ValueError("No bounding boxes were found in the sample")


def get_keypoints(flat_inputs):
    raise ValueError("No keypoints were found in the sample")


def _make_classes(Transform):
    """The classes, built on the package's ``Transform`` base (called on whole samples)."""

    class Identity(Transform):
        def _transform(self, inpt):
            return inpt

        def __repr__(self):
            return "Identity()"

    class RGB(Transform):
        """Grayscale images to 3 channels; RGB images unchanged."""

        def _transform(self, inpt):
            return F.grayscale_to_rgb(inpt)

        def __repr__(self):
            return "RGB()"

    class GaussianNoise(Transform):
        """Add ``N(mean, sigma)`` noise (float images clipped to [0, 1] if ``clip``)."""

        def __init__(self, mean=0.0, sigma=0.1, clip=True):
            self.mean, self.sigma, self.clip = mean, sigma, clip

        def _transform(self, inpt):
            return F.gaussian_noise(inpt, mean=self.mean, sigma=self.sigma, clip=self.clip)

        def __repr__(self):
            return f"GaussianNoise(mean={self.mean}, sigma={self.sigma}, clip={self.clip})"

    class RandomChannelPermutation(Transform):
        """Shuffle the channels (one ``randperm`` per call)."""

        def _transform(self, inpt):
            num_channels = F.get_num_channels(inpt)
            return F.permute_channels(inpt, rustdl.randperm(num_channels).tolist())

        def __repr__(self):
            return "RandomChannelPermutation()"

    class JPEG(Transform):
        """JPEG-compress and decode at a quality drawn from ``quality`` ([lo, hi] or one value)."""

        def __init__(self, quality):
            if isinstance(quality, int):
                if isinstance(quality, bool):
                    raise TypeError("quality can't be bool")
                quality = [quality, quality]
            elif not isinstance(quality, Sequence) or len(quality) != 2:
                raise ValueError("quality should be a sequence of length 2")
            if not (isinstance(quality[0], int) and isinstance(quality[1], int) and 1 <= quality[0] <= quality[1] <= 100):
                raise ValueError(f"quality must be an integer from 1 to 100, got quality ={quality}")
            self.quality = quality

        def _transform(self, inpt):
            q = int(rustdl.randint(self.quality[0], self.quality[1] + 1, ()).item())
            return F.jpeg(inpt, quality=q)

        def __repr__(self):
            return f"JPEG(quality={self.quality})"

    class RandomResize(Transform):
        """Resize the shorter side to a size drawn from ``[min_size, max_size)``."""

        def __init__(self, min_size, max_size, interpolation=InterpolationMode.BILINEAR, antialias=True):
            self.min_size, self.max_size = min_size, max_size
            self.interpolation, self.antialias = interpolation, antialias

        def _transform(self, inpt):
            size = int(rustdl.randint(self.min_size, self.max_size, ()).item())
            return F.resize(inpt, [size], interpolation=self.interpolation, antialias=self.antialias)

        def __repr__(self):
            return f"RandomResize(min_size={self.min_size}, max_size={self.max_size})"

    class RandomShortestSize(Transform):
        """Scale so the shorter side is one of ``min_size`` (drawn), the longer side at
        most ``max_size``."""

        def __init__(self, min_size, max_size=None, interpolation=InterpolationMode.BILINEAR, antialias=True):
            self.min_size = [min_size] if isinstance(min_size, int) else list(min_size)
            self.max_size = max_size
            self.interpolation, self.antialias = interpolation, antialias

        def _transform(self, inpt):
            orig_height, orig_width = F.get_size(inpt)
            min_size = self.min_size[int(rustdl.randint(len(self.min_size), ()).item())]
            r = min_size / min(orig_height, orig_width)
            if self.max_size is not None:
                r = min(r, self.max_size / max(orig_height, orig_width))
            size = (int(orig_height * r), int(orig_width * r))
            return F.resize(inpt, size, interpolation=self.interpolation, antialias=self.antialias)

        def __repr__(self):
            return f"RandomShortestSize(min_size={self.min_size}, max_size={self.max_size})"

    return [Identity, RGB, GaussianNoise, RandomChannelPermutation, JPEG, RandomResize, RandomShortestSize]
