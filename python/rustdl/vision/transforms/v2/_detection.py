"""v2 transforms that see every part of a detection sample (``tv_tensors``): the image,
``BoundingBoxes``, ``KeyPoints`` and ``Mask`` of one sample get the same parameters and
each goes through its own kernel, as in torchvision. ``ClampBoundingBoxes``,
``ClampKeyPoints``, ``ConvertBoundingBoxFormat``, ``SetClampingMode``,
``SanitizeBoundingBoxes``, ``SanitizeKeyPoints``, ``RandomZoomOut``, ``RandomIoUCrop``,
``ScaleJitter``, ``RandomPhotometricDistort``, ``UniformTemporalSubsample``.

Random draws go through ``rustdl.rand`` / ``randint`` / ``randperm`` in torchvision's
order and shapes.
"""

import collections.abc

import numpy as np

import rustdl

from ... import tv_tensors
from ..functional import _get_perspective_coeffs, _is_pil
from . import functional as F
from ._box_kernels import _convert


def _leaves(obj, path=()):
    if isinstance(obj, (tuple, list)):
        for i, v in enumerate(obj):
            yield from _leaves(v, (*path, i))
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from _leaves(v, (*path, k))
    else:
        yield path, obj


def _rebuild(obj, values, path=()):
    if isinstance(obj, (tuple, list)):
        items = [_rebuild(v, values, (*path, i)) for i, v in enumerate(obj)]
        return type(obj)(items) if isinstance(obj, tuple) else items
    if isinstance(obj, dict):
        return {k: _rebuild(v, values, (*path, k)) for k, v in obj.items()}
    return values.get(path, obj)


def _is_pure_tensor(x):
    return isinstance(x, rustdl.Tensor) and not isinstance(x, tv_tensors.TVTensor)


def _needs_transform(flat, transformed_types):
    """torchvision's rule: tv_tensors and PIL images always; a pure tensor only if it is
    the first one and the sample has no Image, Video or PIL image."""
    has_image = any(isinstance(x, (tv_tensors.Image, tv_tensors.Video)) or _is_pil(x) for x in flat)
    out, first_pure = [], True
    for x in flat:
        if _is_pure_tensor(x):
            needs = first_pure and not has_image
            first_pure = False
        else:
            needs = isinstance(x, tv_tensors.TVTensor) or _is_pil(x)
        if needs and transformed_types is not None:
            needs = isinstance(x, transformed_types) or (_is_pure_tensor(x) and rustdl.Tensor in transformed_types)
        out.append(needs)
    return out


def query_size(flat):
    sizes = set()
    for x in flat:
        if isinstance(x, (tv_tensors.BoundingBoxes, tv_tensors.KeyPoints)):
            sizes.add(tuple(x.canvas_size))
        elif _is_pil(x) or isinstance(x, rustdl.Tensor):
            sizes.add(tuple(F.get_size(x)))
    if not sizes:
        raise TypeError("No image, video, mask, bounding box or keypoint was found in the sample")
    if len(sizes) > 1:
        raise ValueError(f"Found multiple HxW dimensions in the sample: {sorted(sizes)}")
    return sizes.pop()


def get_bounding_boxes(flat):
    for x in flat:
        if isinstance(x, tv_tensors.BoundingBoxes):
            return x
    raise ValueError("No bounding boxes were found in the sample")


def get_keypoints(flat):
    for x in flat:
        if isinstance(x, tv_tensors.KeyPoints):
            return x
    raise ValueError("No keypoints were found in the sample")


def _call_kernel(name, inpt, **params):
    """``name`` ("pad", "crop", "resize", or a colour op) applied to ``inpt`` by its type."""
    if isinstance(inpt, tv_tensors.BoundingBoxes):
        raw = rustdl.Tensor(inpt)
        if name == "pad":
            out, canvas = F.pad_bounding_boxes(raw, inpt.format, inpt.canvas_size, params["padding"],
                                               clamping_mode=inpt.clamping_mode)
        elif name == "crop":
            out, canvas = F.crop_bounding_boxes(raw, inpt.format, params["top"], params["left"], params["height"],
                                                params["width"], clamping_mode=inpt.clamping_mode)
        elif name == "resize":
            out, canvas = F.resize_bounding_boxes(raw, inpt.canvas_size, params["size"],
                                                  max_size=params.get("max_size"), format=inpt.format,
                                                  clamping_mode=inpt.clamping_mode)
        else:
            return inpt
        return tv_tensors.wrap(out, like=inpt, canvas_size=canvas)
    if isinstance(inpt, tv_tensors.KeyPoints):
        raw = rustdl.Tensor(inpt)
        if name == "pad":
            out, canvas = F.pad_keypoints(raw, inpt.canvas_size, params["padding"])
        elif name == "crop":
            out, canvas = F.crop_keypoints(raw, params["top"], params["left"], params["height"], params["width"])
        elif name == "resize":
            out, canvas = F.resize_keypoints(raw, params["size"], inpt.canvas_size, max_size=params.get("max_size"))
        else:
            return inpt
        return tv_tensors.wrap(out, like=inpt, canvas_size=canvas)
    if isinstance(inpt, tv_tensors.Mask):
        raw = rustdl.Tensor(inpt)
        if name == "pad":
            return tv_tensors.Mask(F.pad_mask(raw, params["padding"], fill=params.get("fill")))
        if name == "crop":
            return tv_tensors.Mask(F.crop_mask(raw, params["top"], params["left"], params["height"],
                                               params["width"]))
        if name == "resize":
            return tv_tensors.Mask(F.resize_mask(raw, params["size"], max_size=params.get("max_size")))
        return inpt
    wrap = type(inpt) if isinstance(inpt, (tv_tensors.Image, tv_tensors.Video)) else None
    raw = rustdl.Tensor(inpt) if wrap is not None else inpt
    if name == "pad":
        out = F.pad(raw, params["padding"], fill=params.get("fill") or 0)
    elif name == "crop":
        out = F.crop(raw, params["top"], params["left"], params["height"], params["width"])
    elif name == "resize":
        out = F.resize(raw, list(params["size"]), interpolation=params["interpolation"],
                       max_size=params.get("max_size"), antialias=params["antialias"])
    else:
        out = getattr(F, name)(raw, *params.get("args", ()))
    return wrap(out) if wrap is not None else out


class _SampleTransform:
    """Base: ``make_params`` once per sample, ``transform`` on each leaf that needs it."""

    _transformed_types = None

    def make_params(self, flat_inputs):
        return {}

    def check_inputs(self, flat_inputs):
        pass

    def transform(self, inpt, params):
        raise NotImplementedError

    def __call__(self, *inputs):
        sample = inputs if len(inputs) > 1 else inputs[0]
        leaves = list(_leaves(sample))
        flat = [v for _, v in leaves]
        self.check_inputs(flat)
        needs = _needs_transform(flat, self._transformed_types)
        params = self.make_params([v for v, n in zip(flat, needs) if n])
        values = {p: self.transform(v, params) for (p, v), n in zip(leaves, needs) if n}
        return _rebuild(sample, values)

    forward = __call__

    def __repr__(self):
        return f"{type(self).__name__}()"


def _make_detection_classes(Transform):
    class _Base(_SampleTransform, Transform):
        __call__ = _SampleTransform.__call__

    class ConvertBoundingBoxFormat(_Base):
        _transformed_types = (tv_tensors.BoundingBoxes,)

        def __init__(self, format):
            self.format = format

        def transform(self, inpt, params):
            return F.convert_bounding_box_format(inpt, new_format=self.format)

    class ClampBoundingBoxes(_Base):
        _transformed_types = (tv_tensors.BoundingBoxes,)

        def __init__(self, clamping_mode="auto"):
            self.clamping_mode = clamping_mode

        def transform(self, inpt, params):
            return F.clamp_bounding_boxes(inpt, clamping_mode=self.clamping_mode)

    class ClampKeyPoints(_Base):
        _transformed_types = (tv_tensors.KeyPoints,)

        def transform(self, inpt, params):
            return F.clamp_keypoints(inpt)

    class SetClampingMode(_Base):
        _transformed_types = (tv_tensors.BoundingBoxes,)

        def __init__(self, clamping_mode):
            self.clamping_mode = clamping_mode
            if self.clamping_mode not in (None, "soft", "hard"):
                raise ValueError(f"clamping_mode must be soft, hard or None, got {clamping_mode}")

        def transform(self, inpt, params):
            return tv_tensors.wrap(rustdl.Tensor(inpt).clone(), like=inpt, clamping_mode=self.clamping_mode)

    class UniformTemporalSubsample(_Base):
        _transformed_types = (rustdl.Tensor,)

        def __init__(self, num_samples):
            self.num_samples = num_samples

        def transform(self, inpt, params):
            if isinstance(inpt, (tv_tensors.BoundingBoxes, tv_tensors.KeyPoints, tv_tensors.Mask)) or _is_pil(inpt):
                return inpt
            out = F.uniform_temporal_subsample(rustdl.Tensor(inpt) if isinstance(inpt, tv_tensors.Video) else inpt,
                                               self.num_samples)
            return tv_tensors.Video(out) if isinstance(inpt, tv_tensors.Video) else out

    class RandomZoomOut(_Base):
        """With probability ``p``, place the sample on a canvas ``r`` times larger
        (``r`` drawn from ``side_range``) at a random offset, filled with ``fill``."""

        def __init__(self, fill=0, side_range=(1.0, 4.0), p=0.5):
            if not isinstance(side_range, (list, tuple)) or len(side_range) != 2:
                raise TypeError("side_range should be a sequence of length 2")
            if side_range[0] < 1.0 or side_range[0] > side_range[1]:
                raise ValueError(f"Invalid side range provided {side_range}.")
            self.fill, self.side_range, self.p = fill, side_range, p

        def __call__(self, *inputs):
            sample = inputs if len(inputs) > 1 else inputs[0]
            if float(rustdl.rand(1)) >= self.p:
                return sample
            return _SampleTransform.__call__(self, sample)

        def make_params(self, flat):
            orig_h, orig_w = query_size(flat)
            r = self.side_range[0] + float(rustdl.rand(1)) * (self.side_range[1] - self.side_range[0])
            canvas_w, canvas_h = int(orig_w * r), int(orig_h * r)
            r = rustdl.rand(2).tolist()
            left = int((canvas_w - orig_w) * r[0])
            top = int((canvas_h - orig_h) * r[1])
            return {"padding": [left, top, canvas_w - (left + orig_w), canvas_h - (top + orig_h)]}

        def transform(self, inpt, params):
            fill = self.fill if not isinstance(self.fill, dict) else None
            return _call_kernel("pad", inpt, padding=params["padding"], fill=fill)

    class ScaleJitter(_Base):
        """Resize so the sample fits ``target_size`` (w, h) times a scale drawn from ``scale_range``."""

        def __init__(self, target_size, scale_range=(0.1, 2.0), interpolation="bilinear", antialias=True):
            self.target_size, self.scale_range = target_size, scale_range
            self.interpolation, self.antialias = interpolation, antialias

        def make_params(self, flat):
            orig_h, orig_w = query_size(flat)
            scale = self.scale_range[0] + float(rustdl.rand(1)) * (self.scale_range[1] - self.scale_range[0])
            r = min(self.target_size[1] / orig_h, self.target_size[0] / orig_w) * scale
            return {"size": (int(orig_h * r), int(orig_w * r))}

        def transform(self, inpt, params):
            interpolation = self.interpolation
            if isinstance(interpolation, str):
                interpolation = F.InterpolationMode(interpolation)
            return _call_kernel("resize", inpt, size=params["size"], interpolation=interpolation,
                                antialias=self.antialias)

    class RandomIoUCrop(_Base):
        """SSD's crop: a random crop whose IoU with some box reaches a drawn threshold;
        boxes whose centre falls outside are zeroed (follow with ``SanitizeBoundingBoxes``)."""

        def __init__(self, min_scale=0.3, max_scale=1.0, min_aspect_ratio=0.5, max_aspect_ratio=2.0,
                     sampler_options=None, trials=40):
            self.min_scale, self.max_scale = min_scale, max_scale
            self.min_aspect_ratio, self.max_aspect_ratio = min_aspect_ratio, max_aspect_ratio
            self.options = [0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0] if sampler_options is None else sampler_options
            self.trials = trials

        def check_inputs(self, flat):
            has_boxes = any(isinstance(x, tv_tensors.BoundingBoxes) for x in flat)
            has_image = any(_is_pil(x) or isinstance(x, tv_tensors.Image) or _is_pure_tensor(x) for x in flat)
            if not (has_boxes and has_image):
                raise TypeError(
                    f"{type(self).__name__}() requires input sample to contain tensor or PIL images "
                    "and bounding boxes. Sample can also contain masks."
                )

        def make_params(self, flat):
            orig_h, orig_w = query_size(flat)
            bboxes = get_bounding_boxes(flat)
            xyxy_all = _convert(bboxes.detach().numpy(), bboxes.format, tv_tensors.BoundingBoxFormat.XYXY)
            while True:
                idx = int(rustdl.randint(0, len(self.options), (1,)))
                min_jaccard_overlap = self.options[idx]
                if min_jaccard_overlap >= 1.0:
                    return {}
                for _ in range(self.trials):
                    r = (self.min_scale + (self.max_scale - self.min_scale) * rustdl.rand(2)).tolist()
                    new_w, new_h = int(orig_w * r[0]), int(orig_h * r[1])
                    if new_h == 0 or not (self.min_aspect_ratio <= new_w / new_h <= self.max_aspect_ratio):
                        continue
                    r = rustdl.rand(2).tolist()
                    left, top = int((orig_w - new_w) * r[0]), int((orig_h - new_h) * r[1])
                    right, bottom = left + new_w, top + new_h
                    if left == right or top == bottom:
                        continue
                    cx = 0.5 * (xyxy_all[..., 0] + xyxy_all[..., 2])
                    cy = 0.5 * (xyxy_all[..., 1] + xyxy_all[..., 3])
                    within = (left < cx) & (cx < right) & (top < cy) & (cy < bottom)
                    if not within.any():
                        continue
                    xyxy = xyxy_all[within]
                    lt = np.maximum(xyxy[:, :2], [left, top])
                    rb = np.minimum(xyxy[:, 2:], [right, bottom])
                    inter = np.prod(np.clip(rb - lt, 0, None), axis=1)
                    area = (xyxy[:, 2] - xyxy[:, 0]) * (xyxy[:, 3] - xyxy[:, 1])
                    ious = inter / (area + new_w * new_h - inter)
                    if ious.max() < min_jaccard_overlap:
                        continue
                    return {"top": top, "left": left, "height": new_h, "width": new_w, "within": within}

        def transform(self, inpt, params):
            if not params:
                return inpt
            out = _call_kernel("crop", inpt, top=params["top"], left=params["left"], height=params["height"],
                               width=params["width"])
            if isinstance(out, tv_tensors.BoundingBoxes):
                a = out.detach().numpy().copy()
                a[~params["within"]] = 0
                out = tv_tensors.wrap(rustdl.from_numpy(a), like=out)
            return out

    class RandomPhotometricDistort(_Base):
        """SSD's colour distortion: brightness, contrast (before or after), saturation and
        hue each with probability ``p``, then a channel permutation with probability ``p``."""

        def __init__(self, brightness=(0.875, 1.125), contrast=(0.5, 1.5), saturation=(0.5, 1.5),
                     hue=(-0.05, 0.05), p=0.5):
            self.brightness, self.contrast, self.saturation, self.hue, self.p = brightness, contrast, saturation, hue, p

        def make_params(self, flat):
            chws = [F.get_dimensions(x) for x in flat
                    if not isinstance(x, (tv_tensors.BoundingBoxes, tv_tensors.KeyPoints, tv_tensors.Mask))]
            if not chws:
                raise TypeError("No image or video was found in the sample")
            num_channels = chws[0][0]
            params = {}
            for key, rng in (("brightness_factor", self.brightness), ("contrast_factor", self.contrast),
                             ("saturation_factor", self.saturation), ("hue_factor", self.hue)):
                params[key] = float(rustdl.empty(1).uniform_(rng[0], rng[1])) if float(rustdl.rand(1)) < self.p \
                    else None
            params["contrast_before"] = bool(float(rustdl.rand(())) < 0.5)
            params["channel_permutation"] = rustdl.randperm(num_channels).tolist() \
                if float(rustdl.rand(1)) < self.p else None
            return params

        def transform(self, inpt, params):
            if isinstance(inpt, (tv_tensors.BoundingBoxes, tv_tensors.KeyPoints, tv_tensors.Mask)):
                return inpt
            steps = [("adjust_brightness", params["brightness_factor"])]
            if params["contrast_before"]:
                steps.append(("adjust_contrast", params["contrast_factor"]))
            steps += [("adjust_saturation", params["saturation_factor"]), ("adjust_hue", params["hue_factor"])]
            if not params["contrast_before"]:
                steps.append(("adjust_contrast", params["contrast_factor"]))
            for name, factor in steps:
                if factor is not None:
                    inpt = _call_kernel(name, inpt, args=(factor,))
            if params["channel_permutation"] is not None:
                inpt = _call_kernel("permute_channels", inpt, args=(params["channel_permutation"],))
            return inpt

    class _Sanitize(_Base):
        def __init__(self, labels_getter):
            if not (labels_getter in ("default", None) or callable(labels_getter)):
                raise ValueError(
                    f"labels_getter should either be 'default', a callable, or None, but got {labels_getter}."
                )
            self.labels_getter = labels_getter

        def _labels(self, sample):
            getter = self.labels_getter
            if getter is None:
                return None
            if callable(getter):
                labels = getter(sample)
            else:
                inputs = sample[1] if isinstance(sample, (tuple, list)) else sample
                if _is_pure_tensor(inputs):
                    labels = inputs
                elif not isinstance(inputs, collections.abc.Mapping):
                    raise ValueError(
                        "When using the default labels_getter, the input passed to forward must be a dictionary or "
                        f"a two-tuple whose second item is a dictionary or a tensor, but got {inputs} instead."
                    )
                else:
                    key = next((k for k in inputs if k.lower() == "labels"), None)
                    if key is None:
                        key = next((k for k in inputs if "label" in k.lower()), None)
                    labels = inputs[key] if key is not None else None
            if labels is None:
                return None
            if isinstance(labels, rustdl.Tensor):
                return (labels,)
            msg = "The labels in the input to forward() must be a tensor or None, got {type} instead."
            if isinstance(labels, (tuple, list)):
                for entry in labels:
                    if not isinstance(entry, rustdl.Tensor):
                        raise ValueError(msg.format(type=type(entry)))  # noqa: TRY004
                return tuple(labels)
            raise ValueError(msg.format(type=type(labels)))

        def _apply(self, sample, target, valid, labels, kinds):
            leaves = list(_leaves(sample))
            values = {}
            valid_t = rustdl.from_numpy(valid)
            for p, v in leaves:
                is_label = labels is not None and any(v is lab for lab in labels)
                if not (is_label or isinstance(v, kinds)):
                    continue
                if not is_label and isinstance(v, tv_tensors.Mask) and v.shape[0] != len(valid):
                    continue  # torchvision leaves a mask it cannot index unchanged
                out = rustdl.Tensor(v)[valid_t]
                values[p] = out if is_label else tv_tensors.wrap(out, like=v)
            return _rebuild(sample, values)

    class SanitizeBoundingBoxes(_Sanitize):
        """Drop degenerate boxes (and their labels, masks) as ``sanitize_bounding_boxes``."""

        def __init__(self, min_size=1.0, min_area=1.0, labels_getter="default"):
            if min_size < 1:
                raise ValueError(f"min_size must be >= 1, got {min_size}.")
            if min_area < 1:
                raise ValueError(f"min_area must be >= 1, got {min_area}.")
            super().__init__(labels_getter)
            self.min_size, self.min_area = min_size, min_area

        def __call__(self, *inputs):
            sample = inputs if len(inputs) > 1 else inputs[0]
            labels = self._labels(sample)
            boxes = get_bounding_boxes([v for _, v in _leaves(sample)])
            for label in labels or ():
                if boxes.shape[0] != label.shape[0]:
                    raise ValueError(
                        f"Number of boxes (shape={boxes.shape}) and must match the number of labels."
                        f"Found labels with shape={label.shape})."
                    )
            _, valid = F.sanitize_bounding_boxes(boxes, min_size=self.min_size, min_area=self.min_area)
            return self._apply(sample, boxes, valid.numpy(), labels, (tv_tensors.BoundingBoxes, tv_tensors.Mask))

    class SanitizeKeyPoints(_Sanitize):
        """Drop keypoints (or groups) outside the canvas, and their labels."""

        def __init__(self, labels_getter=None):
            super().__init__(labels_getter)

        def __call__(self, *inputs):
            sample = inputs if len(inputs) > 1 else inputs[0]
            labels = self._labels(sample)
            points = get_keypoints([v for _, v in _leaves(sample)])
            for label in labels or ():
                if points.shape[0] != label.shape[0]:
                    raise ValueError(
                        f"Number of kepyoints (shape={points.shape}) must match the number of labels."
                        f"Found labels with shape={label.shape})."
                    )
            _, valid = F.sanitize_keypoints(points)
            return self._apply(sample, points, valid.numpy(), labels, (tv_tensors.KeyPoints,))

    return [ConvertBoundingBoxFormat, ClampBoundingBoxes, ClampKeyPoints, SetClampingMode, UniformTemporalSubsample,
            RandomZoomOut, ScaleJitter, RandomIoUCrop, RandomPhotometricDistort, SanitizeBoundingBoxes,
            SanitizeKeyPoints]


# ------------------------------------------------ the v1 geometric transforms on tv_tensors
_ANNOTATIONS = (tv_tensors.BoundingBoxes, tv_tensors.KeyPoints, tv_tensors.Mask)


def has_annotations(sample):
    return any(isinstance(v, _ANNOTATIONS) for _, v in _leaves(sample))


def _flip(inpt, vertical):
    if isinstance(inpt, tv_tensors.BoundingBoxes):
        kernel = F.vertical_flip_bounding_boxes if vertical else F.horizontal_flip_bounding_boxes
        return tv_tensors.wrap(kernel(rustdl.Tensor(inpt), inpt.format, inpt.canvas_size), like=inpt)
    if isinstance(inpt, tv_tensors.KeyPoints):
        kernel = F.vertical_flip_keypoints if vertical else F.horizontal_flip_keypoints
        return tv_tensors.wrap(kernel(rustdl.Tensor(inpt), inpt.canvas_size), like=inpt)
    wrap = type(inpt) if isinstance(inpt, (tv_tensors.Image, tv_tensors.Video, tv_tensors.Mask)) else None
    raw = rustdl.Tensor(inpt) if wrap is not None else inpt
    out = F.vflip(raw) if vertical else F.hflip(raw)
    return wrap(out) if wrap is not None else out


def _apply(sample, fn):
    leaves = list(_leaves(sample))
    needs = _needs_transform([v for _, v in leaves], None)
    return _rebuild(sample, {p: fn(v) for (p, v), n in zip(leaves, needs) if n})


def _flat_needed(sample):
    flat = [v for _, v in _leaves(sample)]
    return [v for v, n in zip(flat, _needs_transform(flat, None)) if n]


def typed_call(transform, name, sample):
    """v2's behaviour of the v1 geometric transform ``name`` on a sample holding
    ``BoundingBoxes``, ``KeyPoints`` or ``Mask``: one set of parameters, every part moved
    by its own kernel (torchvision's draws: ``rand(1)`` for flips, ``randint`` for crops)."""
    if name in ("RandomHorizontalFlip", "RandomVerticalFlip"):
        if float(rustdl.rand(1)) >= transform.p:
            return sample
        return _apply(sample, lambda v: _flip(v, name == "RandomVerticalFlip"))
    if name == "Resize":
        interpolation = transform.interpolation
        size = [transform.size] if isinstance(transform.size, int) else transform.size
        return _apply(sample, lambda v: _call_kernel("resize", v, size=size, interpolation=interpolation,
                                                      antialias=transform.antialias, max_size=transform.max_size))
    if name == "CenterCrop":
        h, w = query_size(_flat_needed(sample))
        ch, cw = transform.size
        top, left = round((h - ch) / 2.0), round((w - cw) / 2.0)
        if ch > h or cw > w:  # torchvision pads the image then crops: the same as cropping at a negative offset
            padding = [(cw - w) // 2 if cw > w else 0, (ch - h) // 2 if ch > h else 0,
                       (cw - w + 1) // 2 if cw > w else 0, (ch - h + 1) // 2 if ch > h else 0]
            sample = _apply(sample, lambda v: _call_kernel("pad", v, padding=padding, fill=0))
            h, w = query_size(_flat_needed(sample))
            top, left = round((h - ch) / 2.0), round((w - cw) / 2.0)
        return _apply(sample, lambda v: _call_kernel("crop", v, top=top, left=left, height=ch, width=cw))
    if name == "Pad":
        _check_constant(transform.padding_mode)
        return _apply(sample, lambda v: _call_kernel("pad", v, padding=transform.padding, fill=transform.fill))
    if name == "RandomCrop":
        if transform.padding is not None:
            _check_constant(transform.padding_mode)
            sample = _apply(sample, lambda v: _call_kernel("pad", v, padding=transform.padding, fill=transform.fill))
        h, w = query_size(_flat_needed(sample))
        th, tw = transform.size
        if transform.pad_if_needed and (w < tw or h < th):
            _check_constant(transform.padding_mode)
            extra = [max(tw - w, 0), max(th - h, 0)]
            sample = _apply(sample, lambda v: _call_kernel("pad", v, padding=[extra[0], extra[1], extra[0], extra[1]],
                                                           fill=transform.fill))
            h, w = query_size(_flat_needed(sample))
        if h < th or w < tw:
            raise ValueError(f"Required crop size {(th, tw)} is larger than input image size {(h, w)}")
        top = int(rustdl.randint(0, h - th + 1, ())) if h != th else 0
        left = int(rustdl.randint(0, w - tw + 1, ())) if w != tw else 0
        return _apply(sample, lambda v: _call_kernel("crop", v, top=top, left=left, height=th, width=tw))
    if name == "RandomResizedCrop":
        top, left, h, w = _resized_crop_params(query_size(_flat_needed(sample)), transform.scale, transform.ratio)
        size = list(transform.size)

        def crop_resize(v):
            v = _call_kernel("crop", v, top=top, left=left, height=h, width=w)
            return _call_kernel("resize", v, size=size, interpolation=transform.interpolation,
                                antialias=transform.antialias, max_size=None)

        return _apply(sample, crop_resize)
    if name == "RandomRotation":
        angle = float(rustdl.empty(1).uniform_(transform.degrees[0], transform.degrees[1]))
        return _apply(sample, lambda v: F.rotate(v, angle, interpolation=transform.interpolation,
                                                 expand=transform.expand, center=transform.center,
                                                 fill=transform.fill))
    if name == "RandomAffine":
        height, width = query_size(_flat_needed(sample))
        angle = float(rustdl.empty(1).uniform_(transform.degrees[0], transform.degrees[1]))
        translate = (0, 0)
        if transform.translate is not None:
            max_dx, max_dy = float(transform.translate[0] * width), float(transform.translate[1] * height)
            translate = (round(float(rustdl.empty(1).uniform_(-max_dx, max_dx))),
                         round(float(rustdl.empty(1).uniform_(-max_dy, max_dy))))
        scale = float(rustdl.empty(1).uniform_(*transform.scale)) if transform.scale is not None else 1.0
        shear = [0.0, 0.0]
        if transform.shear is not None:
            shear[0] = float(rustdl.empty(1).uniform_(transform.shear[0], transform.shear[1]))
            if len(transform.shear) == 4:
                shear[1] = float(rustdl.empty(1).uniform_(transform.shear[2], transform.shear[3]))
        return _apply(sample, lambda v: F.affine(v, angle, list(translate), scale, shear,
                                                 interpolation=transform.interpolation, fill=transform.fill,
                                                 center=transform.center))
    if name == "RandomPerspective":
        if float(rustdl.rand(1)) >= transform.p:
            return sample
        height, width = query_size(_flat_needed(sample))
        startpoints, endpoints = transform.get_params(width, height, transform.distortion_scale)
        coefficients = _get_perspective_coeffs(startpoints, endpoints)
        return _apply(sample, lambda v: F.perspective(v, None, None, interpolation=transform.interpolation,
                                                      fill=transform.fill, coefficients=coefficients))
    if name == "ElasticTransform":
        height, width = query_size(_flat_needed(sample))
        displacement = transform.get_params(transform.alpha, transform.sigma, [height, width])
        return _apply(sample, lambda v: F.elastic(v, displacement, interpolation=transform.interpolation,
                                                  fill=transform.fill))
    raise TypeError(
        f"{name} does not move BoundingBoxes, KeyPoints or Mask tv_tensors in rustdl yet; apply it to the image "
        "alone, or use the flips, Resize, CenterCrop, Pad, RandomCrop, RandomResizedCrop, RandomRotation, "
        "RandomAffine, RandomPerspective, ElasticTransform, RandomZoomOut, RandomIoUCrop or ScaleJitter"
    )


def _check_constant(padding_mode):
    if padding_mode != "constant":
        raise ValueError(f"Padding mode '{padding_mode}' is not supported with bounding boxes")


def _resized_crop_params(size, scale, ratio):
    """torchvision v2's ``RandomResizedCrop.make_params`` (``empty(1).uniform_`` draws)."""
    import math

    height, width = size
    area = height * width
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(10):
        target_area = area * float(rustdl.empty(1).uniform_(scale[0], scale[1]))
        aspect_ratio = float(rustdl.exp(rustdl.empty(1).uniform_(log_ratio[0], log_ratio[1])))
        w = round(math.sqrt(target_area * aspect_ratio))
        h = round(math.sqrt(target_area / aspect_ratio))
        if 0 < w <= width and 0 < h <= height:
            i = int(rustdl.randint(0, height - h + 1, (1,)))
            j = int(rustdl.randint(0, width - w + 1, (1,)))
            return i, j, h, w
    in_ratio = float(width) / float(height)
    if in_ratio < min(ratio):
        w, h = width, round(width / min(ratio))
    elif in_ratio > max(ratio):
        h, w = height, round(height * max(ratio))
    else:
        w, h = width, height
    return (height - h) // 2, (width - w) // 2, h, w
