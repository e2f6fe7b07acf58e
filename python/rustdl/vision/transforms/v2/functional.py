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
