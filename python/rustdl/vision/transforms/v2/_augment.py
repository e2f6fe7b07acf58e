"""``MixUp`` and ``CutMix`` (torchvision.transforms.v2): on a batch of images
``(N, C, H, W)`` and its labels; sample pairs are consecutive in the batch (``roll``)."""

import math

import numpy as np

import rustdl

from ..functional import _is_pil


class _Beta:
    """``Beta(alpha, alpha).sample(())``: rustdl has no distributions module, so a
    numpy generator seeded from rustdl's RNG draws it (deterministic under
    ``rustdl.manual_seed``; not PyTorch's values)."""

    def __init__(self, alpha):
        self.alpha = float(alpha)

    def sample(self, shape=()):
        seed = int(rustdl.randint(0, 2**31 - 1, (1,)).item())
        return rustdl.tensor(np.random.default_rng(seed).beta(self.alpha, self.alpha, size=shape), dtype=rustdl.float32)


def _default_labels(inputs):
    """torchvision's default ``labels_getter``: the second item of a pair, or a
    ``labels``-like key of a dict."""
    if isinstance(inputs, (tuple, list)):
        inputs = inputs[1]
    if isinstance(inputs, rustdl.Tensor):
        return inputs
    if not isinstance(inputs, dict):
        raise ValueError(  # noqa: TRY004 - torchvision's type
            "When using the default labels_getter, the input passed to forward must be a dictionary or a two-tuple "
            f"whose second item is a dictionary or a tensor, but got {inputs} instead."
        )
    candidates = [k for k in inputs if str(k).lower() == "labels"] or [k for k in inputs if "label" in str(k).lower()]
    if not candidates:
        raise ValueError(
            "Could not infer where the labels are in the sample. Try passing a callable as the labels_getter "
            "parameter?If there are no labels in the sample by design, pass labels_getter=None.")
    return inputs[candidates[0]]


def _parse_labels_getter(labels_getter):
    if labels_getter == "default":
        return _default_labels
    if callable(labels_getter):
        return labels_getter
    if labels_getter is None:
        return lambda _: None
    raise ValueError(f"labels_getter should either be 'default', a callable, or None, but got {labels_getter}.")


def _flatten(obj):
    if isinstance(obj, (tuple, list)):
        out = []
        for v in obj:
            out += _flatten(v)
        return out
    if isinstance(obj, dict):
        out = []
        for v in obj.values():
            out += _flatten(v)
        return out
    return [obj]


def _rebuild(obj, it):
    if isinstance(obj, (tuple, list)):
        items = [_rebuild(v, it) for v in obj]
        return tuple(items) if isinstance(obj, tuple) else items
    if isinstance(obj, dict):
        return {k: _rebuild(v, it) for k, v in obj.items()}
    return next(it)


class _BaseMixUpCutMix:
    def __init__(self, *, alpha=1.0, num_classes=None, labels_getter="default"):
        self.alpha = float(alpha)
        self._dist = _Beta(alpha)
        self.num_classes = num_classes
        self._labels_getter = _parse_labels_getter(labels_getter)

    def __call__(self, *inputs):
        inputs = inputs if len(inputs) > 1 else inputs[0]
        flat = _flatten(inputs)
        if any(_is_pil(x) for x in flat):
            raise ValueError(f"{type(self).__name__}() does not support PIL images, bounding boxes, keypoints and masks.")
        labels = self._labels_getter(inputs)
        if not isinstance(labels, rustdl.Tensor):
            raise ValueError(f"The labels must be a tensor, but got {type(labels)} instead.")  # noqa: TRY004 - torchvision's type
        if labels.dim() not in (1, 2):
            raise ValueError(
                "labels should be index based with shape (batch_size,) or probability based with shape "
                f"(batch_size, num_classes), but got a tensor of shape {labels.shape} instead."
            )
        if labels.dim() == 2 and self.num_classes is not None and labels.shape[-1] != self.num_classes:
            raise ValueError(
                "When passing 2D labels, the number of elements in last dimension must match num_classes: "
                f"{labels.shape[-1]} != {self.num_classes}. You can Leave num_classes to None."
            )
        if labels.dim() == 1 and self.num_classes is None:
            raise ValueError("num_classes must be passed if the labels are index-based (1D)")
        # the images: the tensors before the labels (torchvision transforms the first
        # image-like leaves; the labels are found by identity)
        images = [x for x in flat if isinstance(x, rustdl.Tensor) and x is not labels]
        params = {"labels": labels, "batch_size": labels.shape[0], **self.make_params(images[:1])}
        out = []
        seen_image = False
        for x in flat:
            if x is labels:
                out.append(self._mixup_label(x, lam=params.get("lam_adjusted", params.get("lam"))))
            elif isinstance(x, rustdl.Tensor) and not seen_image:
                seen_image = True
                self._check_image(x, batch_size=params["batch_size"])
                out.append(self._transform_image(x, params))
            else:
                out.append(x)
        return _rebuild(inputs, iter(out))

    @staticmethod
    def _check_image(inpt, *, batch_size):
        if inpt.dim() != 4:
            raise ValueError(f"Expected a batched input with 4 dims, but got {inpt.dim()} dimensions instead.")
        if inpt.shape[0] != batch_size:
            raise ValueError(
                "The batch size of the image or video does not match the batch size of the labels: "
                f"{inpt.shape[0]} != {batch_size}."
            )

    def _mixup_label(self, label, *, lam):
        if label.dim() == 1:
            label = rustdl.nn.functional.one_hot(label, num_classes=self.num_classes)
        if not label.is_floating_point():
            label = label.float()
        return label.roll(1, 0) * (1.0 - lam) + label * lam

    def __repr__(self):
        return f"{type(self).__name__}(alpha={self.alpha}, num_classes={self.num_classes})"


class MixUp(_BaseMixUpCutMix):
    """``lam * x + (1 - lam) * x.roll(1, 0)`` for the images and the (one-hot) labels,
    ``lam ~ Beta(alpha, alpha)`` once per call."""

    def make_params(self, images):
        return {"lam": float(self._dist.sample(()))}

    def _transform_image(self, inpt, params):
        lam = params["lam"]
        return inpt.roll(1, 0) * (1.0 - lam) + inpt * lam


class CutMix(_BaseMixUpCutMix):
    """Paste a random box of the rolled batch into each image; the labels mix by the
    box's area."""

    def make_params(self, images):
        lam = float(self._dist.sample(()))
        height, width = images[0].shape[-2:]
        r_x = int(rustdl.randint(width, size=(1,)).item())
        r_y = int(rustdl.randint(height, size=(1,)).item())
        r = 0.5 * math.sqrt(1.0 - lam)
        r_w_half, r_h_half = int(r * width), int(r * height)
        x1, y1 = max(r_x - r_w_half, 0), max(r_y - r_h_half, 0)
        x2, y2 = min(r_x + r_w_half, width), min(r_y + r_h_half, height)
        lam_adjusted = float(1.0 - (x2 - x1) * (y2 - y1) / (width * height))
        return {"box": (x1, y1, x2, y2), "lam_adjusted": lam_adjusted}

    def _transform_image(self, inpt, params):
        x1, y1, x2, y2 = params["box"]
        rolled = inpt.roll(1, 0)
        output = inpt.clone()
        output[..., y1:y2, x1:x2] = rolled[..., y1:y2, x1:x2]
        return output
