"""``torchvision.transforms.v2.functional``: the v1 functions plus ``to_image``
and ``to_dtype``."""

import numpy as np

import rustdl

from ..functional import *
from ..functional import __all__ as _v1_all
from ..functional import _is_pil, _is_tensor, convert_image_dtype, pil_to_tensor

__all__ = ["to_dtype", "to_image"]
__all__ += _v1_all  # noqa: PLE0605 (the v1 names)


def to_image(inpt):
    """PIL image, HxW[xC] numpy array or tensor -> CxHxW tensor (values unchanged)."""
    if _is_pil(inpt):
        return pil_to_tensor(inpt)
    if isinstance(inpt, np.ndarray):
        a = inpt[:, :, None] if inpt.ndim == 2 else inpt
        return rustdl.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)))
    if _is_tensor(inpt):
        return inpt
    raise TypeError(
        f"Input can either be a pure Tensor, a numpy array, or a PIL image, but got {type(inpt)} instead."
    )


def to_dtype(inpt, dtype=rustdl.float32, scale=False):
    """Cast a tensor image; with ``scale`` rescale the values between the dtypes'
    ranges (uint8 255 <-> float 1.0), as ``convert_image_dtype``."""
    if not _is_tensor(inpt):
        raise TypeError(f"Expected a tensor, got {type(inpt)}")
    if inpt.dtype == dtype:
        return inpt
    if not scale:
        return inpt.to(dtype)
    return convert_image_dtype(inpt, dtype)


# ------------------------------------------------------------- v2-only functions
def is_pure_tensor(inpt):
    """A tensor that is not a ``tv_tensors`` subclass: rustdl has none, so any tensor."""
    return isinstance(inpt, rustdl.Tensor)


def horizontal_flip(inpt):
    return hflip(inpt)


def vertical_flip(inpt):
    return vflip(inpt)


def elastic(inpt, displacement, interpolation=InterpolationMode.BILINEAR, fill=None):
    return elastic_transform(inpt, displacement, interpolation, fill)


def get_size(inpt):
    """``[height, width]`` of a PIL image or a ``(..., H, W)`` tensor."""
    if _is_pil(inpt):
        width, height = inpt.size
        return [height, width]
    hw = list(inpt.shape[-2:])
    if len(hw) != 2:
        raise TypeError(f"Input tensor should have at least two dimensions, but got {len(hw)}")
    return hw


def get_num_channels(inpt):
    if _is_pil(inpt):
        return get_image_num_channels(inpt)
    chw = inpt.shape[-3:]
    if len(chw) == 3:
        return chw[0]
    if len(chw) == 2:
        return 1
    raise TypeError(f"Input tensor should have at least two dimensions, but got {len(chw)}")


def get_num_frames(inpt):
    """Frames of a ``(..., T, C, H, W)`` video tensor."""
    return inpt.shape[-4]


def gaussian_noise(inpt, mean=0.0, sigma=0.1, clip=True):
    """Add ``N(mean, sigma)`` noise to a float image (clipped to [0, 1]) or a uint8
    one (noise scaled by 255 and truncated to int16 first, as torchvision)."""
    if sigma < 0:
        raise ValueError(f"sigma shouldn't be negative. Got {sigma}")
    if inpt.is_floating_point():
        out = inpt + (mean + rustdl.randn_like(inpt) * sigma)
        return rustdl.clamp(out, 0, 1) if clip else out
    if inpt.dtype == rustdl.uint8:
        noise = ((mean * 255) + rustdl.randn(*inpt.shape) * (sigma * 255)).to(rustdl.int16)
        out = inpt.to(rustdl.int16) + noise
        if clip:
            out = rustdl.clamp(out, 0, 255)
        return out.to(rustdl.uint8)
    raise ValueError(f"Input tensor is expected to be in uint8 or float dtype, got dtype={inpt.dtype}")


def permute_channels(inpt, permutation):
    """Reorder the channels of an image (``(..., C, H, W)`` tensor or PIL image)."""
    if _is_pil(inpt):
        return to_pil_image(permute_channels(pil_to_tensor(inpt), permutation))
    shape = tuple(inpt.shape)
    num_channels, height, width = shape[-3:]
    if len(permutation) != num_channels:
        raise ValueError(
            f"Length of permutation does not match number of channels: {len(permutation)} != {num_channels}"
        )
    if inpt.numel() == 0:
        return inpt
    image = inpt.reshape(-1, num_channels, height, width)
    return image[:, list(permutation), :, :].reshape(shape)


def grayscale_to_rgb(inpt):
    """1 channel -> 3 (copies); images with 3 channels come back unchanged."""
    if _is_pil(inpt):
        return inpt.convert(mode="RGB")
    if inpt.shape[-3] >= 3:
        return inpt
    return inpt.expand(*inpt.shape[:-3], 3, *inpt.shape[-2:]).clone()


def jpeg(image, quality):
    """JPEG-compress and decode (Pillow's codec for both PIL images and tensors)."""
    if _is_pil(image):
        import io

        from PIL import Image

        raw = io.BytesIO()
        image.save(raw, format="JPEG", quality=quality)
        return Image.open(raw)
    from ...io import decode_jpeg, encode_jpeg

    shape = tuple(image.shape)
    flat = image.reshape((-1, *shape[-3:]))
    if flat.shape[0] == 0:
        return image.clone()
    frames = [decode_jpeg(encode_jpeg(flat[i], quality=quality)) for i in range(flat.shape[0])]
    return rustdl.stack(frames, 0).reshape(shape)


def uniform_temporal_subsample(inpt, num_samples):
    """``num_samples`` evenly spaced frames of a ``(..., T, C, H, W)`` video."""
    t_max = inpt.shape[-4] - 1
    indices = rustdl.linspace(0, t_max, num_samples).long()
    return rustdl.index_select(inpt, -4, indices)


def register_kernel(functional, tv_tensor_cls):
    """rustdl has no ``tv_tensors`` classes to dispatch on: registration is refused."""
    raise TypeError(
        f"register_kernel({getattr(functional, '__name__', functional)!r}, {tv_tensor_cls!r}): rustdl.vision has "
        "no tv_tensors types to register kernels for"
    )


__all__ += [
    "elastic", "gaussian_noise", "get_num_channels", "get_num_frames", "get_size", "grayscale_to_rgb",
    "horizontal_flip", "is_pure_tensor", "jpeg", "permute_channels", "register_kernel", "uniform_temporal_subsample",
    "vertical_flip",
]

# The per-type kernels (``resize_image``, ``resize_video``, ...): rustdl has no
# tv_tensors, so an image and a video are plain tensors and each kernel is the
# function itself (which also takes PIL images).
_KERNEL_BASES = {
    "adjust_brightness": None, "adjust_contrast": None, "adjust_gamma": None, "adjust_hue": None,
    "adjust_saturation": None, "adjust_sharpness": None, "affine": None, "autocontrast": None,
    "center_crop": None, "crop": None, "elastic": None, "equalize": None, "erase": None, "five_crop": None,
    "gaussian_blur": None, "gaussian_noise": None, "get_dimensions": None, "get_num_channels": None,
    "get_size": None, "grayscale_to_rgb": ("image",), "horizontal_flip": None, "invert": None, "jpeg": None,
    "normalize": None, "pad": None, "permute_channels": None, "perspective": None, "posterize": None,
    "resize": None, "resized_crop": None, "rgb_to_grayscale": ("image",), "rotate": None, "solarize": None,
    "ten_crop": None, "to_dtype": None, "vertical_flip": None,
}
for _base, _kinds in _KERNEL_BASES.items():
    for _kind in _kinds or ("image", "video"):
        globals()[f"{_base}_{_kind}"] = globals()[_base]
        __all__.append(f"{_base}_{_kind}")
get_num_frames_video = get_num_frames
uniform_temporal_subsample_video = uniform_temporal_subsample
__all__ += ["get_num_frames_video", "uniform_temporal_subsample_video"]


# ---------------------------------------- kernels for boxes, keypoints and masks
from . import _box_kernels as _boxes
from ._mask_kernels import *
from ._mask_kernels import __all__ as _mask_all

_BOX_KERNELS = [
    "affine_bounding_boxes", "affine_keypoints", "center_crop_bounding_boxes", "center_crop_keypoints",
    "clamp_bounding_boxes", "clamp_keypoints", "convert_bounding_box_format", "crop_bounding_boxes",
    "crop_keypoints", "elastic_bounding_boxes", "elastic_keypoints", "get_size_bounding_boxes",
    "get_size_keypoints", "horizontal_flip_bounding_boxes", "horizontal_flip_keypoints", "pad_bounding_boxes",
    "pad_keypoints", "perspective_bounding_boxes", "perspective_keypoints", "resize_bounding_boxes",
    "resize_keypoints", "resized_crop_bounding_boxes", "resized_crop_keypoints", "rotate_bounding_boxes",
    "rotate_keypoints", "sanitize_bounding_boxes", "sanitize_keypoints", "vertical_flip_bounding_boxes",
    "vertical_flip_keypoints",
]
for _name in _BOX_KERNELS:
    globals()[_name] = getattr(_boxes, _name)
__all__ += _BOX_KERNELS + list(_mask_all)  # noqa: PLE0605


# ---------------------------------------- dispatch on tv_tensors (as torchvision's dispatchers)
from ...tv_tensors import BoundingBoxes as _Boxes
from ...tv_tensors import Image as _TVImage
from ...tv_tensors import KeyPoints as _KeyPoints
from ...tv_tensors import Mask as _Mask
from ...tv_tensors import TVTensor as _TVTensor
from ...tv_tensors import Video as _TVVideo
from ...tv_tensors import wrap as _wrap


def is_pure_tensor(inpt):  # noqa: F811 (now that tv_tensors exist)
    """A tensor that is not a ``tv_tensors`` subclass."""
    return isinstance(inpt, rustdl.Tensor) and not isinstance(inpt, _TVTensor)


def _typed(name, image_fn, boxes_fn, keypoints_fn, mask_fn):
    """A dispatcher: BoundingBoxes / KeyPoints / Mask through their kernels (metadata
    kept, canvas updated), Image / Video re-wrapped, anything else to ``image_fn``."""

    def dispatcher(inpt, *args, **kwargs):
        if isinstance(inpt, _Boxes):
            out = boxes_fn(rustdl.Tensor(inpt), inpt, *args, **kwargs)
            out, canvas = out if isinstance(out, tuple) else (out, inpt.canvas_size)
            return _wrap(out, like=inpt, canvas_size=canvas)
        if isinstance(inpt, _KeyPoints):
            out = keypoints_fn(rustdl.Tensor(inpt), inpt, *args, **kwargs)
            out, canvas = out if isinstance(out, tuple) else (out, inpt.canvas_size)
            return _wrap(out, like=inpt, canvas_size=canvas)
        if isinstance(inpt, _Mask):
            return _Mask(mask_fn(rustdl.Tensor(inpt), *args, **kwargs))
        if isinstance(inpt, (_TVImage, _TVVideo)):
            return type(inpt)(image_fn(rustdl.Tensor(inpt), *args, **kwargs))
        return image_fn(inpt, *args, **kwargs)

    dispatcher.__name__ = dispatcher.__qualname__ = name
    dispatcher.__doc__ = image_fn.__doc__
    return dispatcher


def _geometry(kw, *names):
    return {n: kw[n] for n in names if n in kw}


def _resize_boxes(b, like, size, interpolation=None, max_size=None, antialias=True):
    return resize_bounding_boxes(b, like.canvas_size, size, max_size=max_size, format=like.format,
                                 clamping_mode=like.clamping_mode)


def _resize_points(k, like, size, interpolation=None, max_size=None, antialias=True):
    return resize_keypoints(k, size, like.canvas_size, max_size=max_size)


def _affine_boxes(b, like, angle, translate, scale, shear, interpolation=None, fill=None, center=None):
    return affine_bounding_boxes(b, like.format, like.canvas_size, angle, translate, scale, shear,
                                 center=center, clamping_mode=like.clamping_mode)


def _affine_points(k, like, angle, translate, scale, shear, interpolation=None, fill=None, center=None):
    return affine_keypoints(k, like.canvas_size, angle, translate, scale, shear, center=center)


def _rotate_boxes(b, like, angle, interpolation=None, expand=False, center=None, fill=None):
    return rotate_bounding_boxes(b, like.format, like.canvas_size, angle, expand=expand, center=center,
                                 clamping_mode=like.clamping_mode)


def _rotate_points(k, like, angle, interpolation=None, expand=False, center=None, fill=None):
    return rotate_keypoints(k, like.canvas_size, angle, expand=expand, center=center)


_perspective_plain = perspective


def _perspective_image(img, startpoints, endpoints, interpolation=InterpolationMode.BILINEAR, fill=None,
                       coefficients=None):
    if coefficients is None:
        return _perspective_plain(img, startpoints, endpoints, interpolation=interpolation, fill=fill)
    from .._functional_pil import perspective as _pil_perspective
    from ..functional import _check_fill_for_tensor, _mode_name, _np_perspective, _on_hw

    mode = _mode_name(interpolation)
    if _is_pil(img):
        return _pil_perspective(img, list(coefficients), mode, fill)
    _check_fill_for_tensor(img, fill)
    return _on_hw(img, lambda a: _np_perspective(a, [float(c) for c in coefficients], mode, fill))


_plain = {n: globals()[n] for n in ("horizontal_flip", "vertical_flip", "resize", "crop", "center_crop", "pad",
                                    "resized_crop", "affine", "rotate", "elastic")}
horizontal_flip = _typed(  # noqa: F811 (the tv_tensor-aware dispatcher)
    "horizontal_flip", _plain["horizontal_flip"],
    lambda b, like: horizontal_flip_bounding_boxes(b, like.format, like.canvas_size),
    lambda k, like: horizontal_flip_keypoints(k, like.canvas_size), horizontal_flip_mask)
vertical_flip = _typed(  # noqa: F811
    "vertical_flip", _plain["vertical_flip"],
    lambda b, like: vertical_flip_bounding_boxes(b, like.format, like.canvas_size),
    lambda k, like: vertical_flip_keypoints(k, like.canvas_size), vertical_flip_mask)
resize = _typed(
    "resize", _plain["resize"], _resize_boxes, _resize_points,
    lambda m, size, interpolation=None, max_size=None, antialias=True: resize_mask(m, size, max_size=max_size))
crop = _typed(
    "crop", _plain["crop"],
    lambda b, like, top, left, height, width: crop_bounding_boxes(
        b, like.format, top, left, height, width, clamping_mode=like.clamping_mode),
    lambda k, like, top, left, height, width: crop_keypoints(k, top, left, height, width), crop_mask)
center_crop = _typed(
    "center_crop", _plain["center_crop"],
    lambda b, like, output_size: center_crop_bounding_boxes(
        b, like.format, like.canvas_size, output_size, clamping_mode=like.clamping_mode),
    lambda k, like, output_size: center_crop_keypoints(k, like.canvas_size, output_size), center_crop_mask)
pad = _typed(
    "pad", _plain["pad"],
    lambda b, like, padding, fill=None, padding_mode="constant": pad_bounding_boxes(
        b, like.format, like.canvas_size, padding, padding_mode=padding_mode, clamping_mode=like.clamping_mode),
    lambda k, like, padding, fill=None, padding_mode="constant": pad_keypoints(
        k, like.canvas_size, padding, padding_mode=padding_mode),
    pad_mask)
resized_crop = _typed(
    "resized_crop", _plain["resized_crop"],
    lambda b, like, top, left, height, width, size, interpolation=None, antialias=True: resized_crop_bounding_boxes(
        b, like.format, top, left, height, width, size, clamping_mode=like.clamping_mode),
    lambda k, like, top, left, height, width, size, interpolation=None, antialias=True: resized_crop_keypoints(
        k, top, left, height, width, size),
    lambda m, top, left, height, width, size, interpolation=None, antialias=True: resized_crop_mask(
        m, top, left, height, width, size))
affine = _typed(
    "affine", _plain["affine"], _affine_boxes, _affine_points,
    lambda m, angle, translate, scale, shear, interpolation=None, fill=None, center=None: affine_mask(
        m, angle, translate, scale, shear, fill=fill, center=center))
rotate = _typed(
    "rotate", _plain["rotate"], _rotate_boxes, _rotate_points,
    lambda m, angle, interpolation=None, expand=False, center=None, fill=None: rotate_mask(
        m, angle, expand=expand, center=center, fill=fill))
perspective = _typed(
    "perspective", _perspective_image,
    lambda b, like, startpoints, endpoints, interpolation=None, fill=None, coefficients=None:
        perspective_bounding_boxes(b, like.format, like.canvas_size, startpoints, endpoints,
                                   coefficients=coefficients, clamping_mode=like.clamping_mode),
    lambda k, like, startpoints, endpoints, interpolation=None, fill=None, coefficients=None:
        perspective_keypoints(k, like.canvas_size, startpoints, endpoints, coefficients=coefficients),
    lambda m, startpoints, endpoints, interpolation=None, fill=None, coefficients=None: perspective_mask(
        m, startpoints, endpoints, fill=fill, coefficients=coefficients))
elastic = _typed(  # noqa: F811
    "elastic", _plain["elastic"],
    lambda b, like, displacement, interpolation=None, fill=None: elastic_bounding_boxes(
        b, like.format, like.canvas_size, displacement, clamping_mode=like.clamping_mode),
    lambda k, like, displacement, interpolation=None, fill=None: elastic_keypoints(
        k, like.canvas_size, displacement),
    lambda m, displacement, interpolation=None, fill=None: elastic_mask(m, displacement, fill=fill))
_get_size_plain = get_size


def get_size(inpt):
    """``[height, width]`` of an image, a mask, or the canvas of boxes / keypoints."""
    if isinstance(inpt, (_Boxes, _KeyPoints)):
        return list(inpt.canvas_size)
    return _get_size_plain(inpt)
