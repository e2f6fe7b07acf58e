"""Functional image transforms (shaped like ``torchvision.transforms.functional``).

Images are either

* numpy arrays in PIL's layout, ``HxW`` or ``HxWxC`` (what rustdl's datasets
  return; PIL images are converted to such arrays on entry), or
* rustdl tensors in torchvision's layout, ``(..., C, H, W)``.

Each function returns the same kind it was given. PIL images are
transformed by Pillow itself as torchvision does (``_functional_pil``), so
the results are identical; tensors are computed as torchvision's tensor
backend computes them (within one grey level).
"""

import enum
import math
import numbers

import numpy as np

import rustdl

from . import _functional_pil as F_pil

__all__ = [
    "InterpolationMode",
    "adjust_brightness",
    "adjust_contrast",
    "adjust_gamma",
    "adjust_hue",
    "adjust_saturation",
    "adjust_sharpness",
    "affine",
    "autocontrast",
    "center_crop",
    "convert_image_dtype",
    "crop",
    "elastic_transform",
    "equalize",
    "erase",
    "five_crop",
    "gaussian_blur",
    "get_dimensions",
    "get_image_num_channels",
    "get_image_size",
    "hflip",
    "invert",
    "normalize",
    "pad",
    "perspective",
    "pil_to_tensor",
    "posterize",
    "resize",
    "resized_crop",
    "rgb_to_grayscale",
    "rotate",
    "solarize",
    "ten_crop",
    "to_grayscale",
    "to_pil_image",
    "to_tensor",
    "vflip",
]


class InterpolationMode(enum.Enum):
    NEAREST = "nearest"
    NEAREST_EXACT = "nearest-exact"
    BILINEAR = "bilinear"
    BICUBIC = "bicubic"
    BOX = "box"
    HAMMING = "hamming"
    LANCZOS = "lanczos"


# ------------------------------------------------------------------ helpers
def _is_tensor(img):
    return isinstance(img, rustdl.Tensor)


def _is_pil(img):
    return type(img).__module__.startswith("PIL.")


def _to_array(img):
    """numpy view of an image (PIL images converted to HxW[xC] arrays)."""
    if isinstance(img, np.ndarray):
        return img
    if _is_pil(img):
        a = np.array(img)
        if img.mode == "1":
            a = a.astype(np.uint8) * 255
        return a
    raise TypeError(f"img should be a numpy array, PIL Image or rustdl Tensor. Got {type(img)}")


def _check_img(img):
    if _is_tensor(img):
        if img.dim() < 2:
            raise TypeError(f"Tensor is not a torch image: expected at least 2 dims, got {img.dim()}")
        return img
    a = _to_array(img)
    if a.ndim not in (2, 3):
        raise ValueError(f"pic should be 2/3 dimensional. Got {a.ndim} dimensions.")
    return a


def _tensor_from_array(a):
    if not a.flags.c_contiguous:
        a = np.ascontiguousarray(a)
    if a.dtype == np.float16:
        a = a.astype(np.float32)
    elif a.dtype in (np.uint16, np.int16, np.int8):
        a = a.astype(np.int32)
    elif a.dtype == np.uint32:
        a = a.astype(np.int64)
    return rustdl.from_numpy(a)


def _on_hw(img, fn):
    """Apply ``fn`` (numpy HxW[xC] -> HxW[xC]) to an image of either kind."""
    img = _check_img(img)
    if not _is_tensor(img):
        return fn(img)
    # tensor (..., C, H, W) or (H, W): move H, W to the front
    a = img.detach().numpy() if img.requires_grad else img.numpy()
    if a.ndim == 2:
        return _tensor_from_array(fn(a))
    lead = a.shape[:-2]
    hwc = np.moveaxis(a.reshape((-1,) + a.shape[-2:]), 0, -1)
    out = fn(hwc)
    out = np.moveaxis(out, -1, 0).reshape(lead + out.shape[:2])
    return _tensor_from_array(out).to(img.dtype)


def get_dimensions(img):
    """``[channels, height, width]``."""
    if _is_pil(img):
        return F_pil.get_dimensions(img)
    img = _check_img(img)
    if _is_tensor(img):
        s = tuple(img.shape)
        return [1 if len(s) == 2 else s[-3], s[-2], s[-1]]
    return [1 if img.ndim == 2 else img.shape[2], img.shape[0], img.shape[1]]


def get_image_size(img):
    """``[width, height]``."""
    _, h, w = get_dimensions(img)
    return [w, h]


def get_image_num_channels(img):
    return get_dimensions(img)[0]


def _setup_size(size, error_msg):
    if isinstance(size, numbers.Number):
        return int(size), int(size)
    if isinstance(size, (tuple, list)) and len(size) == 1:
        return size[0], size[0]
    if len(size) != 2:
        raise ValueError(error_msg)
    return size


# --------------------------------------------------------------- conversion
def to_tensor(pic):
    """HxW / HxWxC numpy array (or PIL image) -> CxHxW tensor. ``uint8`` is scaled
    to float32 in [0, 1]; other dtypes keep their values and dtype (as torchvision)."""
    if _is_tensor(pic):
        raise TypeError(f"pic should be PIL Image or ndarray. Got {type(pic)}")
    if not isinstance(pic, np.ndarray) and not _is_pil(pic):
        raise TypeError(f"pic should be PIL Image or ndarray. Got {type(pic)}")
    a = _to_array(pic)
    if a.ndim not in (2, 3):
        raise ValueError(f"pic should be 2/3 dimensional. Got {a.ndim} dimensions.")
    if a.ndim == 2:
        a = a[None, :, :]
    else:
        a = a.transpose(2, 0, 1)
    if a.dtype == np.uint8:
        a = a.astype(np.float32)
        a /= np.float32(255.0)
    return _tensor_from_array(np.ascontiguousarray(a))


_stats_cache = {}


def _mean_std(mean, std, np_dtype):
    """(mean, std) as (C, 1, 1) arrays of ``np_dtype``, checked and cached."""
    try:
        key = (tuple(mean), tuple(std), np_dtype)
    except TypeError:  # tensors or scalars
        key = None
    hit = _stats_cache.get(key) if key is not None else None
    if hit is not None:
        return hit
    m = np.asarray(mean.tolist() if _is_tensor(mean) else mean, dtype=np_dtype).reshape(-1, 1, 1)
    s = np.asarray(std.tolist() if _is_tensor(std) else std, dtype=np_dtype).reshape(-1, 1, 1)
    if (s == 0).any():
        raise ValueError(
            f"std evaluated to zero after conversion to {np.dtype(np_dtype).name}, leading to division by zero."
        )
    if key is not None:
        if len(_stats_cache) > 64:
            _stats_cache.clear()
        _stats_cache[key] = (m, s)
    return m, s


def _to_tensor_normalize_lut(mean, std):
    """(C, 256) float32 table: ``normalize(to_tensor(v))`` for every uint8 ``v``,
    computed with the same float32 operations (so results are identical)."""
    m, s = _mean_std(mean, std, np.float32)
    v = np.arange(256, dtype=np.float32)
    v /= np.float32(255.0)
    return (v[None, :] - m.reshape(-1, 1)) / s.reshape(-1, 1)


def _fused_to_tensor_normalize(pic, lut):
    """``normalize(to_tensor(pic), mean, std)`` for a uint8 HxW[xC] array via a lookup table;
    None if not applicable (the caller then runs the two steps)."""
    c = 1 if pic.ndim == 2 else pic.shape[2]
    if lut.shape[0] == 1:
        out = lut[0].take(pic)
        out = out[None] if pic.ndim == 2 else out.transpose(2, 0, 1)
    elif lut.shape[0] == c and pic.ndim == 3:
        out = lut[np.arange(c)[None, None, :], pic].transpose(2, 0, 1)
    else:
        return None
    return rustdl.from_numpy(np.ascontiguousarray(out))


def pil_to_tensor(pic):
    """HxW[xC] array or PIL image -> CxHxW tensor of the same dtype (no scaling)."""
    if _is_tensor(pic):
        raise TypeError(f"pic should be PIL Image. Got {type(pic)}")
    a = _to_array(pic)
    a = a[None] if a.ndim == 2 else a.transpose(2, 0, 1)
    return _tensor_from_array(np.ascontiguousarray(a))


_MAX_VALUE = {"uint8": 255, "int8": 127, "int16": 32767, "int32": 2**31 - 1, "int64": 2**63 - 1, "bool": 1}


def convert_image_dtype(image, dtype=rustdl.float32):
    """Convert a tensor image's dtype, scaling values (uint8 255 <-> float 1.0)."""
    if not _is_tensor(image):
        raise TypeError("Input img should be Tensor Image")
    if image.dtype == dtype:
        return image
    src_float = image.is_floating_point()
    dst_float = dtype in (rustdl.float32, rustdl.float64)
    if src_float and dst_float:
        return image.to(dtype)
    if src_float:
        eps = 1e-3
        max_val = _MAX_VALUE[str(dtype).split(".")[-1]]
        return image.mul(max_val + 1.0 - eps).to(dtype)
    max_in = _MAX_VALUE[str(image.dtype).split(".")[-1]]
    if dst_float:
        return image.to(dtype).div(max_in)
    max_out = _MAX_VALUE[str(dtype).split(".")[-1]]
    if max_in > max_out:
        factor = (max_in + 1) // (max_out + 1)
        return rustdl.div(image, factor, rounding_mode="floor").to(dtype)
    factor = (max_out + 1) // (max_in + 1)
    return image.to(dtype) * factor


# ------------------------------------------------------------- normalize
def normalize(tensor, mean, std, inplace=False):
    """``(tensor - mean[c]) / std[c]`` per channel of a float (..., C, H, W) tensor
    (a float numpy CxHxW array is accepted too and gives a numpy array)."""
    if isinstance(tensor, np.ndarray):
        if not np.issubdtype(tensor.dtype, np.floating):
            raise TypeError(f"Input tensor should be a float tensor. Got {tensor.dtype}.")
        if tensor.ndim < 3:
            raise ValueError(
                f"Expected tensor to be a tensor image of size (..., C, H, W). Got tensor.size() = {tensor.shape}"
            )
        m, s = _mean_std(mean, std, tensor.dtype.type)
        if inplace:
            tensor -= m
            tensor /= s
            return tensor
        return (tensor - m) / s
    if not _is_tensor(tensor):
        raise TypeError(f"img should be Tensor Image. Got {type(tensor)}")
    if not tensor.is_floating_point():
        raise TypeError(f"Input tensor should be a float tensor. Got {tensor.dtype}.")
    if tensor.dim() < 3:
        raise ValueError(
            "Expected tensor to be a tensor image of size (..., C, H, W). Got tensor.size() = "
            f"{tensor.size()}"
        )
    dtype = tensor.dtype
    np_dtype = np.float32 if dtype == rustdl.float32 else np.float64
    m, s = _mean_std(mean, std, np_dtype)
    if not tensor.requires_grad:
        # small per-sample images: one numpy pass beats several tiny tensor ops
        a = tensor.numpy()
        if inplace:
            a -= m
            a /= s
            return tensor
        return rustdl.from_numpy((a - m) / s)
    mt = rustdl.from_numpy(np.ascontiguousarray(m))
    st = rustdl.from_numpy(np.ascontiguousarray(s))
    if inplace:
        return tensor.sub_(mt).div_(st)
    return tensor.sub(mt).div(st)


# ----------------------------------------------------------------- geometry
def hflip(img):
    """Flip left-right."""
    if _is_pil(img):
        return F_pil.hflip(img)
    img = _check_img(img)
    if _is_tensor(img):
        return img.flip(-1)
    return np.ascontiguousarray(img[:, ::-1])


def vflip(img):
    """Flip top-bottom."""
    if _is_pil(img):
        return F_pil.vflip(img)
    img = _check_img(img)
    if _is_tensor(img):
        return img.flip(-2)
    return np.ascontiguousarray(img[::-1])


def _parse_padding(padding):
    if isinstance(padding, numbers.Number) and not isinstance(padding, bool):
        p = int(padding)
        return p, p, p, p
    if not isinstance(padding, (tuple, list)):
        raise TypeError("Got inappropriate padding arg")
    if len(padding) not in (1, 2, 4):
        raise ValueError(
            f"Padding must be an int or a 1, 2, or 4 element tuple, not a {len(padding)} element tuple"
        )
    if len(padding) == 1:
        p = int(padding[0])
        return p, p, p, p
    if len(padding) == 2:
        return int(padding[0]), int(padding[1]), int(padding[0]), int(padding[1])
    return tuple(int(v) for v in padding)


def _np_pad(a, left, top, right, bottom, fill, padding_mode):
    # negative padding crops
    if min(left, top, right, bottom) < 0:
        h, w = a.shape[:2]
        a = a[max(0, -top) : h - max(0, -bottom), max(0, -left) : w - max(0, -right)]
        left, top, right, bottom = max(0, left), max(0, top), max(0, right), max(0, bottom)
    widths = [(top, bottom), (left, right)] + [(0, 0)] * (a.ndim - 2)
    if padding_mode == "constant":
        if fill is None:
            fill = 0
        if isinstance(fill, (tuple, list)) and a.ndim == 3:
            out = np.pad(a, widths, mode="constant", constant_values=0)
            mask = np.ones(out.shape[:2], dtype=bool)
            mask[top : top + a.shape[0], left : left + a.shape[1]] = False
            for c in range(a.shape[2]):
                out[..., c][mask] = fill[c % len(fill)]
            return out
        if isinstance(fill, (tuple, list)):
            fill = fill[0]
        return np.pad(a, widths, mode="constant", constant_values=fill)
    return np.pad(a, widths, mode=padding_mode)


def pad(img, padding, fill=0, padding_mode="constant"):
    """Pad the borders. ``padding``: int (all sides), (left/right, top/bottom) or
    (left, top, right, bottom). ``padding_mode``: constant, edge, reflect, symmetric."""
    if _is_pil(img):
        return F_pil.pad(img, padding, fill, padding_mode)
    if not isinstance(fill, (numbers.Number, tuple, list)) and fill is not None:
        raise TypeError("Got inappropriate fill arg")
    if padding_mode not in ("constant", "edge", "reflect", "symmetric"):
        raise ValueError("Padding mode should be either constant, edge, reflect or symmetric")
    left, top, right, bottom = _parse_padding(padding)
    return _on_hw(img, lambda a: _np_pad(a, left, top, right, bottom, fill, padding_mode))


def crop(img, top, left, height, width):
    """Crop ``[top:top+height, left:left+width]``; parts outside the image are zero."""
    if _is_pil(img):
        return F_pil.crop(img, top, left, height, width)
    img = _check_img(img)
    _, h, w = get_dimensions(img)
    right, bottom = left + width, top + height
    if left < 0 or top < 0 or right > w or bottom > h:
        padding = [max(-left, 0), max(-top, 0), max(right - w, 0), max(bottom - h, 0)]
        img = pad(img, padding, fill=0)
        top, left = max(top, 0), max(left, 0)
    if _is_tensor(img):
        return img[..., top : top + height, left : left + width]
    return np.ascontiguousarray(img[top : top + height, left : left + width])


def center_crop(img, output_size):
    """Crop the centre ``output_size`` (int or (h, w)); pads with zeros if larger."""
    if isinstance(output_size, numbers.Number):
        output_size = (int(output_size), int(output_size))
    elif isinstance(output_size, (tuple, list)) and len(output_size) == 1:
        output_size = (output_size[0], output_size[0])
    _, image_height, image_width = get_dimensions(img)
    crop_height, crop_width = output_size
    if crop_width > image_width or crop_height > image_height:
        padding_ltrb = [
            (crop_width - image_width) // 2 if crop_width > image_width else 0,
            (crop_height - image_height) // 2 if crop_height > image_height else 0,
            (crop_width - image_width + 1) // 2 if crop_width > image_width else 0,
            (crop_height - image_height + 1) // 2 if crop_height > image_height else 0,
        ]
        img = pad(img, padding_ltrb, fill=0)
        _, image_height, image_width = get_dimensions(img)
        if crop_width == image_width and crop_height == image_height:
            return img
    crop_top = round((image_height - crop_height) / 2.0)
    crop_left = round((image_width - crop_width) / 2.0)
    return crop(img, crop_top, crop_left, crop_height, crop_width)


# ------------------------------------------------------------------ resize
def _compute_resized_output_size(image_size, size, max_size=None):
    h, w = image_size
    if isinstance(size, numbers.Number):
        size = [int(size)]
    if size is None or len(size) == 1:
        short, long = (w, h) if w <= h else (h, w)
        if size is None:
            new_short, new_long = int(max_size * short / long), max_size
        else:
            requested_new_short = size[0]
            new_short, new_long = requested_new_short, int(requested_new_short * long / short)
            if max_size is not None:
                if max_size <= requested_new_short:
                    raise ValueError(
                        f"max_size = {max_size} must be strictly greater than the requested size for "
                        f"the smaller edge size = {size}"
                    )
                if new_long > max_size:
                    new_short, new_long = int(max_size * new_short / new_long), max_size
        return [new_long, new_short] if w <= h else [new_short, new_long]
    return [int(size[0]), int(size[1])]


def _filter(name):
    if name == "bilinear":
        return 1.0, lambda x: np.clip(1.0 - np.abs(x), 0.0, None)
    if name == "bicubic":
        a = -0.5

        def cubic(x):
            x = np.abs(x)
            return np.where(
                x < 1,
                ((a + 2) * x - (a + 3)) * x * x + 1,
                np.where(x < 2, (((x - 5) * x + 8) * x - 4) * a, 0.0),
            )

        return 2.0, cubic
    if name == "box":
        return 0.5, lambda x: ((x >= -0.5) & (x < 0.5)).astype(np.float64)
    raise NotImplementedError(f"rustdl.vision: interpolation {name!r} is not implemented")


def _resample_matrix(n_in, n_out, mode, antialias):
    """(n_out, n_in) weights of a separable resampling (PIL's algorithm)."""
    scale = n_in / n_out
    if mode in ("nearest", "nearest-exact"):
        if mode == "nearest":
            src = np.minimum(np.floor(np.arange(n_out) * scale).astype(np.int64), n_in - 1)
        else:
            src = np.minimum(np.floor((np.arange(n_out) + 0.5) * scale).astype(np.int64), n_in - 1)
        m = np.zeros((n_out, n_in))
        m[np.arange(n_out), src] = 1.0
        return m
    if mode == "bicubic" and not antialias:
        # interpolate(mode="bicubic", align_corners=False): Keys' kernel with
        # a = -0.75 on the 4 nearest taps, indices clamped at the borders
        a = -0.75
        real = scale * (np.arange(n_out) + 0.5) - 0.5
        i0 = np.floor(real).astype(np.int64)
        t = real - i0

        def near(x):
            return ((a + 2) * x - (a + 3)) * x * x + 1

        def far(x):
            return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

        m = np.zeros((n_out, n_in))
        rows = np.arange(n_out)
        for k, wk in enumerate((far(t + 1), near(t), near(1 - t), far(2 - t))):
            np.add.at(m, (rows, np.clip(i0 - 1 + k, 0, n_in - 1)), wk)
        return m
    _, kernel = _filter(mode)
    fscale = max(scale, 1.0) if antialias else 1.0
    centers = (np.arange(n_out) + 0.5) * scale
    x = np.arange(n_in) + 0.5
    w = kernel((x[None, :] - centers[:, None]) / fscale)
    if not antialias or scale <= 1.0:
        # no antialias: clamp the taps at the borders (as align_corners=False interpolation)
        src = centers - 0.5
        if mode == "bilinear":
            src = np.clip(src, 0, n_in - 1)
            i0 = np.floor(src).astype(np.int64)
            i1 = np.minimum(i0 + 1, n_in - 1)
            frac = src - i0
            m = np.zeros((n_out, n_in))
            np.add.at(m, (np.arange(n_out), i0), 1 - frac)
            np.add.at(m, (np.arange(n_out), i1), frac)
            return m
    sums = w.sum(axis=1, keepdims=True)
    sums[sums == 0] = 1.0
    return w / sums


def _np_resize(a, out_h, out_w, mode, antialias):
    h, w = a.shape[:2]
    if (h, w) == (out_h, out_w):
        return a.copy()
    if mode in ("nearest", "nearest-exact"):
        rows = _resample_matrix(h, out_h, mode, False).argmax(axis=1)
        cols = _resample_matrix(w, out_w, mode, False).argmax(axis=1)
        return np.ascontiguousarray(a[rows][:, cols])
    mh = _resample_matrix(h, out_h, mode, antialias)
    mw = _resample_matrix(w, out_w, mode, antialias)
    x = a.astype(np.float64)
    out = np.tensordot(mh, x, axes=(1, 0))  # out_h, w, ...
    out = np.moveaxis(np.tensordot(mw, out, axes=(1, 1)), 0, 1)  # out_h, out_w, ...
    if np.issubdtype(a.dtype, np.integer):
        info = np.iinfo(a.dtype)
        out = np.clip(np.round(out), info.min, info.max)
    return out.astype(a.dtype)


def _mode_name(interpolation):
    if isinstance(interpolation, InterpolationMode):
        return interpolation.value
    if isinstance(interpolation, str):
        return InterpolationMode(interpolation).value
    if isinstance(interpolation, int):  # PIL constants
        return {0: "nearest", 2: "bilinear", 3: "bicubic", 4: "box"}[interpolation]
    raise TypeError("Argument interpolation should be a InterpolationMode or a corresponding Pillow integer constant")


def resize(img, size, interpolation=InterpolationMode.BILINEAR, max_size=None, antialias=True):
    """Resize to ``size`` ((h, w), or an int: the smaller edge, keeping the aspect
    ratio). Bilinear/bicubic use PIL's separable filters (antialiased when
    downscaling if ``antialias``)."""
    mode = _mode_name(interpolation)
    if isinstance(size, (list, tuple)):
        if len(size) not in [1, 2]:
            raise ValueError(
                f"Size must be an int or a 1 or 2 element tuple/list, not a {len(size)} element tuple/list"
            )
        if max_size is not None and len(size) != 1:
            raise ValueError(
                "max_size should only be passed if size specifies the length of the smaller edge, "
                "i.e. size should be an int or a sequence of length 1 in torchscript mode."
            )
    _, h, w = get_dimensions(img)
    out_h, out_w = _compute_resized_output_size((h, w), size, max_size)
    if [h, w] == [out_h, out_w]:
        return img
    if _is_pil(img):
        if antialias is False:
            import warnings

            warnings.warn(
                "Anti-alias option is always applied for PIL Image input. Argument antialias is ignored.",
                stacklevel=2,
            )
        return F_pil.resize(img, [out_h, out_w], mode)
    if mode not in ("bilinear", "bicubic"):
        antialias = False
    return _on_hw(img, lambda a: _np_resize(a, out_h, out_w, mode, antialias))


def resized_crop(img, top, left, height, width, size, interpolation=InterpolationMode.BILINEAR, antialias=True):
    img = crop(img, top, left, height, width)
    return resize(img, size, interpolation, antialias=antialias)


# ------------------------------------------------------------------ rotate
def _get_inverse_affine_matrix(center, angle, translate, scale, shear):
    """torchvision's inverse affine matrix (2x3, row-major) for output -> input
    coordinates relative to the image centre."""
    rot = math.radians(angle)
    sx, sy = math.radians(shear[0]), math.radians(shear[1])
    cx, cy = center
    tx, ty = translate
    a = math.cos(rot - sy) / math.cos(sy)
    b = -math.cos(rot - sy) * math.tan(sx) / math.cos(sy) - math.sin(rot)
    c = math.sin(rot - sy) / math.cos(sy)
    d = -math.sin(rot - sy) * math.tan(sx) / math.cos(sy) + math.cos(rot)
    matrix = [x / scale for x in (d, -b, 0.0, -c, a, 0.0)]
    matrix[2] += matrix[0] * (-cx - tx) + matrix[1] * (-cy - ty)
    matrix[5] += matrix[3] * (-cx - tx) + matrix[4] * (-cy - ty)
    matrix[2] += cx
    matrix[5] += cy
    return matrix


def _affine_output_size(matrix, w, h):
    """(width, height) that holds the whole transformed image (float32, as torchvision)."""
    f32 = np.float32
    pts = np.array([[-0.5 * w, -0.5 * h, 1.0], [-0.5 * w, 0.5 * h, 1.0], [0.5 * w, 0.5 * h, 1.0], [0.5 * w, -0.5 * h, 1.0]], f32)
    theta = np.array(matrix, f32).reshape(2, 3)
    new_pts = pts @ theta.T
    half = np.array([w * 0.5, h * 0.5], f32)
    min_vals, max_vals = new_pts.min(axis=0) + half, new_pts.max(axis=0) + half
    tol = f32(1e-4)
    cmax = np.ceil(np.trunc(max_vals / tol) * tol)
    cmin = np.floor(np.trunc(min_vals / tol) * tol)
    size = cmax - cmin
    return int(size[0]), int(size[1])


def _np_rotate(a, angle, mode, expand, center, fill):
    """torchvision's tensor rotation of an HxW[xC] array (see ``_np_affine``)."""
    h, w = a.shape[:2]
    center_f = [0.0, 0.0] if center is None else [1.0 * (c - s * 0.5) for c, s in zip(center, [w, h])]
    matrix = _get_inverse_affine_matrix(center_f, -angle, [0.0, 0.0], 1.0, [0.0, 0.0])
    ow, oh = _affine_output_size(matrix, w, h) if expand else (w, h)
    return _np_affine(a, matrix, mode, ow, oh, fill)


def _np_affine(a, matrix, mode, ow, oh, fill):
    """torchvision's tensor affine warp of an HxW[xC] array into (oh, ow): an affine
    grid at pixel centres (``matrix`` maps output to input coordinates relative to
    the centres), sampled like ``grid_sample(align_corners=False,
    padding_mode="zeros")`` in float32; with ``fill`` a sampled mask blends in the
    fill value."""
    f32 = np.float32
    h, w = a.shape[:2]
    theta = np.array(matrix, f32).reshape(2, 3)
    xs = np.linspace(-ow * 0.5 + 0.5, ow * 0.5 + 0.5 - 1, ow, dtype=f32)
    ys = np.linspace(-oh * 0.5 + 0.5, oh * 0.5 + 0.5 - 1, oh, dtype=f32)
    base = np.empty((oh, ow, 3), f32)
    base[..., 0] = xs[None, :]
    base[..., 1] = ys[:, None]
    base[..., 2] = 1
    rescaled = theta.T / np.array([0.5 * w, 0.5 * h], f32)
    grid = (base.reshape(-1, 3) @ rescaled).reshape(oh, ow, 2)
    return _np_grid_sample(a, grid, mode, fill)


def _np_grid_sample(a, grid, mode, fill):
    """Sample the HxW[xC] array ``a`` at ``grid`` ((oh, ow, 2) normalised (x, y) in
    [-1, 1], float32) like ``grid_sample(align_corners=False, padding_mode="zeros")``;
    with ``fill`` a sampled mask blends in the fill value, as torchvision's
    ``_apply_grid_transform``. Integer images are rounded back."""
    f32 = np.float32
    h, w = a.shape[:2]
    oh, ow = grid.shape[:2]
    ix = ((grid[..., 0] + 1) * f32(w) - 1) / 2
    iy = ((grid[..., 1] + 1) * f32(h) - 1) / 2
    extra = a.shape[2:]
    src = a.astype(f32) if a.dtype != np.float64 else a
    out_dtype = src.dtype
    if mode == "nearest":
        jx, jy = np.rint(ix).astype(np.int64), np.rint(iy).astype(np.int64)
        inside = (jx >= 0) & (jx < w) & (jy >= 0) & (jy < h)
        out = np.zeros((oh, ow, *extra), out_dtype)
        out[inside] = src[jy[inside], jx[inside]]
        mask = inside.astype(out_dtype)
    elif mode == "bilinear":
        x0, y0 = np.floor(ix), np.floor(iy)
        x1, y1 = x0 + 1, y0 + 1
        out = np.zeros((oh, ow, *extra), out_dtype)
        mask = np.zeros((oh, ow), out_dtype)
        for xx, yy, wgt in (
            (x0, y0, (x1 - ix) * (y1 - iy)),
            (x1, y0, (ix - x0) * (y1 - iy)),
            (x0, y1, (x1 - ix) * (iy - y0)),
            (x1, y1, (ix - x0) * (iy - y0)),
        ):
            xi, yi = xx.astype(np.int64), yy.astype(np.int64)
            inside = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
            wi = np.where(inside, wgt, 0).astype(out_dtype)
            vals = np.zeros((oh, ow, *extra), out_dtype)
            vals[inside] = src[yi[inside], xi[inside]]
            out += vals * wi.reshape(wi.shape + (1,) * len(extra))
            mask += wi
    else:
        raise ValueError(f"Interpolation mode '{mode}' is unsupported with Tensor input")
    if fill is not None:
        fill_arr = np.asarray(fill if isinstance(fill, (list, tuple)) else [fill], dtype=out_dtype)
        nch = int(np.prod(extra)) if extra else 1
        if fill_arr.size not in (1, nch) and nch % fill_arr.size == 0:
            fill_arr = np.tile(fill_arr, nch // fill_arr.size)  # one fill per channel of each image
        fill_img = np.broadcast_to(fill_arr.reshape(extra) if extra and fill_arr.size == nch else fill_arr[0], out.shape)
        m = mask.reshape(mask.shape + (1,) * len(extra))
        if mode == "nearest":
            out = np.where(np.broadcast_to(m < 0.5, out.shape), fill_img, out)
        else:
            out = out * m + (1.0 - m) * fill_img
    if np.issubdtype(a.dtype, np.integer):
        out = np.rint(out)
    return out.astype(a.dtype)


def rotate(img, angle, interpolation=InterpolationMode.NEAREST, expand=False, center=None, fill=None):
    """Rotate counter-clockwise by ``angle`` degrees about ``center`` ((x, y) pixel
    coordinates, default the image centre); uncovered pixels get ``fill``."""
    if not isinstance(angle, (int, float)):
        raise TypeError("Argument angle should be int or float")
    if center is not None and (not isinstance(center, (list, tuple)) or len(center) != 2):
        raise TypeError("Argument center should be a sequence of length 2")
    mode = _mode_name(interpolation)
    if _is_pil(img):
        return F_pil.rotate(img, angle, mode, expand, center, fill)
    if mode not in ("nearest", "bilinear"):
        raise ValueError(f"Interpolation mode '{mode}' is unsupported with Tensor input")
    if fill is not None:
        if not isinstance(fill, (int, float, tuple, list)):
            raise TypeError("Argument fill should be either int, float, tuple or list")
        num_channels = get_dimensions(img)[0]
        if isinstance(fill, (tuple, list)) and len(fill) > 1 and len(fill) != num_channels:
            raise ValueError(
                "The number of elements in 'fill' cannot broadcast to match the number of channels of the image "
                f"({len(fill)} != {num_channels})"
            )
    return _on_hw(img, lambda a: _np_rotate(a, float(angle), mode, expand, center, fill))


# ------------------------------------------------------------------ PIL images
def to_pil_image(pic, mode=None):
    """A CxHxW tensor or HxWxC numpy array -> PIL image (torchvision's rules: float
    data is ``(x * 255).astype(uint8)`` unless ``mode == "F"``; the mode follows
    from the channel count and dtype)."""
    import sys

    from PIL import Image

    if _is_tensor(pic):
        if pic.ndim == 3:
            pic = pic.permute((1, 2, 0))
        pic = pic.detach().numpy()
    elif not isinstance(pic, np.ndarray):
        raise TypeError(f"pic should be Tensor or ndarray. Got {type(pic)}.")
    if pic.ndim == 2:
        pic = np.expand_dims(pic, 2)
    if pic.ndim != 3:
        raise ValueError(f"pic should be 2/3 dimensional. Got {pic.ndim} dimensions.")
    if pic.shape[-1] > 4:
        raise ValueError(f"pic should not have > 4 channels. Got {pic.shape[-1]} channels.")
    npimg = pic
    if np.issubdtype(npimg.dtype, np.floating) and mode != "F":
        npimg = (npimg * 255).astype(np.uint8)
    if npimg.shape[2] == 1:
        expected_mode = None
        npimg = npimg[:, :, 0]
        if npimg.dtype == np.uint8:
            expected_mode = "L"
        elif npimg.dtype == np.int16:
            expected_mode = "I;16" if sys.byteorder == "little" else "I;16B"
        elif npimg.dtype == np.int32:
            expected_mode = "I"
        elif npimg.dtype == np.float32:
            expected_mode = "F"
        if mode is not None and mode != expected_mode:
            raise ValueError(f"Incorrect mode ({mode}) supplied for input type {np.dtype}. Should be {expected_mode}")
        mode = expected_mode
    elif npimg.shape[2] == 2:
        permitted = ["LA"]
        if mode is not None and mode not in permitted:
            raise ValueError(f"Only modes {permitted} are supported for 2D inputs")
        if mode is None and npimg.dtype == np.uint8:
            mode = "LA"
    elif npimg.shape[2] == 4:
        permitted = ["RGBA", "CMYK", "RGBX"]
        if mode is not None and mode not in permitted:
            raise ValueError(f"Only modes {permitted} are supported for 4D inputs")
        if mode is None and npimg.dtype == np.uint8:
            mode = "RGBA"
    else:
        permitted = ["RGB", "YCbCr", "HSV"]
        if mode is not None and mode not in permitted:
            raise ValueError(f"Only modes {permitted} are supported for 3D inputs")
        if mode is None and npimg.dtype == np.uint8:
            mode = "RGB"
    if mode is None:
        raise TypeError(f"Input type {npimg.dtype} is not supported")
    # frombuffer converts the raw data to ``mode`` (fromarray's ``mode`` is deprecated)
    npimg = np.ascontiguousarray(npimg)
    return Image.frombuffer(mode, (npimg.shape[1], npimg.shape[0]), npimg.tobytes(), "raw", mode, 0, 1)


# ------------------------------------------------------------------ colour
def _max_value(dtype):
    name = str(dtype).split(".")[-1]
    return {"uint8": 255, "int8": 127, "int16": 32767, "int32": 2**31 - 1, "int64": 2**63 - 1}.get(name, 1)


def _assert_image_tensor(img):
    if not _is_tensor(img) or img.dim() < 2:
        raise TypeError("Tensor is not a torch image.")


def _assert_channels(img, permitted):
    c = get_dimensions(img)[0]
    if c not in permitted:
        raise TypeError(f"Input image tensor permitted channel values are {permitted}, but found {c}")


def _check_pil_or_tensor(img):
    if not (_is_pil(img) or _is_tensor(img)):
        raise TypeError(f"img should be PIL Image or Tensor. Got {type(img)}")


def _blend(img1, img2, ratio):
    ratio = float(ratio)
    bound = _max_value(img1.dtype)
    return (ratio * img1 + (1.0 - ratio) * img2).clamp(0, bound).to(img1.dtype)


def rgb_to_grayscale(img, num_output_channels=1):
    """ITU-R 601-2 luma (``0.2989 R + 0.587 G + 0.114 B``); PIL images through Pillow."""
    if _is_pil(img):
        return F_pil.to_grayscale(img, num_output_channels)
    if not _is_tensor(img):
        raise TypeError(f"img should be PIL Image or Tensor. Got {type(img)}")
    if img.ndim < 3:
        raise TypeError(f"Input image tensor should have at least 3 dimensions, but found {img.ndim}")
    _assert_channels(img, [1, 3])
    if num_output_channels not in (1, 3):
        raise ValueError("num_output_channels should be either 1 or 3")
    if img.shape[-3] == 3:
        r, g, b = img.unbind(dim=-3)
        l_img = (0.2989 * r + 0.587 * g + 0.114 * b).to(img.dtype)
        l_img = l_img.unsqueeze(dim=-3)
    else:
        l_img = img.clone()
    if num_output_channels == 3:
        return l_img.expand(img.shape)
    return l_img


def to_grayscale(img, num_output_channels=1):
    """PIL image of any mode -> grayscale PIL image with 1 or 3 channels."""
    if _is_pil(img):
        return F_pil.to_grayscale(img, num_output_channels)
    raise TypeError("Input should be PIL Image")


def adjust_brightness(img, brightness_factor):
    """Multiply by ``brightness_factor`` (0 gives black), clamped to the range."""
    _check_pil_or_tensor(img)
    if _is_pil(img):
        return F_pil.adjust_brightness(img, brightness_factor)
    if brightness_factor < 0:
        raise ValueError(f"brightness_factor ({brightness_factor}) is not non-negative.")
    _assert_channels(img, [1, 3])
    return _blend(img, rustdl.zeros_like(img), brightness_factor)


def adjust_contrast(img, contrast_factor):
    """Blend with the mean grey level (0 gives a solid grey image)."""
    _check_pil_or_tensor(img)
    if _is_pil(img):
        return F_pil.adjust_contrast(img, contrast_factor)
    if contrast_factor < 0:
        raise ValueError(f"contrast_factor ({contrast_factor}) is not non-negative.")
    _assert_channels(img, [3, 1])
    c = get_dimensions(img)[0]
    dtype = img.dtype if img.is_floating_point() else rustdl.float32
    grey = rgb_to_grayscale(img) if c == 3 else img
    mean = grey.to(dtype).mean(dim=(-3, -2, -1), keepdim=True)
    return _blend(img, mean, contrast_factor)


def adjust_saturation(img, saturation_factor):
    """Blend with the grayscale image (0 gives black and white)."""
    _check_pil_or_tensor(img)
    if _is_pil(img):
        return F_pil.adjust_saturation(img, saturation_factor)
    if saturation_factor < 0:
        raise ValueError(f"saturation_factor ({saturation_factor}) is not non-negative.")
    _assert_channels(img, [1, 3])
    if get_dimensions(img)[0] == 1:  # as PIL
        return img
    return _blend(img, rgb_to_grayscale(img), saturation_factor)


def _rgb2hsv(img):
    r, g, b = img.unbind(dim=-3)
    maxc = rustdl.max(img, dim=-3).values
    minc = rustdl.min(img, dim=-3).values
    eqc = maxc == minc
    cr = maxc - minc
    ones = rustdl.ones_like(maxc)
    s = cr / rustdl.where(eqc, ones, maxc)
    cr_divisor = rustdl.where(eqc, ones, cr)
    rc = (maxc - r) / cr_divisor
    gc = (maxc - g) / cr_divisor
    bc = (maxc - b) / cr_divisor
    hr = (maxc == r) * (bc - gc)
    hg = ((maxc == g) & (maxc != r)) * (2.0 + rc - bc)
    hb = ((maxc != g) & (maxc != r)) * (4.0 + gc - rc)
    h = hr + hg + hb
    h = rustdl.fmod((h / 6.0 + 1.0), 1.0)
    return rustdl.stack((h, s, maxc), dim=-3)


def _hsv2rgb(img):
    h, s, v = img.unbind(dim=-3)
    i = rustdl.floor(h * 6.0)
    f = (h * 6.0) - i
    i = i.to(dtype=rustdl.int32)
    p = rustdl.clamp((v * (1.0 - s)), 0.0, 1.0)
    q = rustdl.clamp((v * (1.0 - s * f)), 0.0, 1.0)
    t = rustdl.clamp((v * (1.0 - s * (1.0 - f))), 0.0, 1.0)
    i = i % 6
    mask = i.unsqueeze(dim=-3) == rustdl.arange(6).view(-1, 1, 1)
    a1 = rustdl.stack((v, q, p, p, t, v), dim=-3)
    a2 = rustdl.stack((t, v, v, q, p, p), dim=-3)
    a3 = rustdl.stack((p, p, t, v, v, q), dim=-3)
    a4 = rustdl.stack((a1, a2, a3), dim=-4)
    # one of the six masks is set per pixel: a masked sum picks that row
    return (mask.to(dtype=img.dtype).unsqueeze(-4) * a4).sum(dim=-3)


def adjust_hue(img, hue_factor):
    """Shift the hue (HSV) cyclically by ``hue_factor`` in [-0.5, 0.5]."""
    _check_pil_or_tensor(img)
    if _is_pil(img):
        return F_pil.adjust_hue(img, hue_factor)
    if not (-0.5 <= hue_factor <= 0.5):
        raise ValueError(f"hue_factor ({hue_factor}) is not in [-0.5, 0.5].")
    _assert_channels(img, [1, 3])
    if get_dimensions(img)[0] == 1:  # as PIL
        return img
    orig_dtype = img.dtype
    img = convert_image_dtype(img, rustdl.float32)
    h, s, v = _rgb2hsv(img).unbind(dim=-3)
    h = (h + hue_factor) % 1.0
    img_hue_adj = _hsv2rgb(rustdl.stack((h, s, v), dim=-3))
    return convert_image_dtype(img_hue_adj, orig_dtype)


def adjust_gamma(img, gamma, gain=1.0):
    """``gain * img ** gamma`` on values scaled to [0, 1]."""
    _check_pil_or_tensor(img)
    if _is_pil(img):
        return F_pil.adjust_gamma(img, gamma, gain)
    if gamma < 0:
        raise ValueError("Gamma should be a non-negative real number")
    _assert_channels(img, [1, 3])
    result = img
    dtype = img.dtype
    if not img.is_floating_point():
        result = convert_image_dtype(result, rustdl.float32)
    result = (gain * result.pow(gamma)).clamp(0, 1)
    return convert_image_dtype(result, dtype)


def _cast_squeeze_in(img, req_dtypes):
    need_squeeze = False
    if img.ndim < 4:
        img = img.unsqueeze(dim=0)
        need_squeeze = True
    out_dtype = img.dtype
    need_cast = False
    if out_dtype not in req_dtypes:
        need_cast = True
        img = img.to(req_dtypes[0])
    return img, need_cast, need_squeeze, out_dtype


def _cast_squeeze_out(img, need_cast, need_squeeze, out_dtype):
    if need_squeeze:
        img = img.squeeze(dim=0)
    if need_cast:
        if not (out_dtype.is_floating_point if hasattr(out_dtype, "is_floating_point") else False):
            img = rustdl.round(img)
        img = img.to(out_dtype)
    return img


def _gaussian_kernel1d(kernel_size, sigma, dtype):
    ksize_half = (kernel_size - 1) * 0.5
    x = rustdl.linspace(-ksize_half, ksize_half, steps=kernel_size, dtype=dtype)
    pdf = rustdl.exp(-0.5 * (x / sigma).pow(2))
    return pdf / pdf.sum()


def _gaussian_blur_tensor(img, kernel_size, sigma):
    dtype = img.dtype if img.is_floating_point() else rustdl.float32
    kx = _gaussian_kernel1d(kernel_size[0], sigma[0], dtype)
    ky = _gaussian_kernel1d(kernel_size[1], sigma[1], dtype)
    kernel = rustdl.mm(ky[:, None], kx[None, :])
    kernel = kernel.expand(img.shape[-3], 1, kernel.shape[0], kernel.shape[1])
    img, need_cast, need_squeeze, out_dtype = _cast_squeeze_in(img, [kernel.dtype])
    padding = [kernel_size[0] // 2, kernel_size[0] // 2, kernel_size[1] // 2, kernel_size[1] // 2]
    img = rustdl.nn.functional.pad(img, padding, mode="reflect")
    img = rustdl.nn.functional.conv2d(img, kernel.contiguous(), groups=img.shape[-3])
    return _cast_squeeze_out(img, need_cast, need_squeeze, out_dtype)


def gaussian_blur(img, kernel_size, sigma=None):
    """Blur with a Gaussian kernel (reflection padding keeps the size); ``sigma``
    defaults to ``0.3 * ((k - 1) * 0.5 - 1) + 0.8`` per axis, as torchvision."""
    if not isinstance(kernel_size, (int, list, tuple)):
        raise TypeError(f"kernel_size should be int or a sequence of integers. Got {type(kernel_size)}")
    if isinstance(kernel_size, int):
        kernel_size = [kernel_size, kernel_size]
    if len(kernel_size) != 2:
        raise ValueError(f"If kernel_size is a sequence its length should be 2. Got {len(kernel_size)}")
    for ksize in kernel_size:
        if ksize % 2 == 0 or ksize < 0:
            raise ValueError(f"kernel_size should have odd and positive integers. Got {kernel_size}")
    if sigma is None:
        sigma = [ksize * 0.15 + 0.35 for ksize in kernel_size]
    if sigma is not None and not isinstance(sigma, (int, float, list, tuple)):
        raise TypeError(f"sigma should be either float or sequence of floats. Got {type(sigma)}")
    if isinstance(sigma, (int, float)):
        sigma = [float(sigma), float(sigma)]
    if isinstance(sigma, (list, tuple)) and len(sigma) == 1:
        sigma = [sigma[0], sigma[0]]
    if len(sigma) != 2:
        raise ValueError(f"If sigma is a sequence, its length should be 2. Got {len(sigma)}")
    for s in sigma:
        if s <= 0.0:
            raise ValueError(f"sigma should have positive values. Got {sigma}")
    if _is_pil(img):
        out = _gaussian_blur_tensor(pil_to_tensor(img), kernel_size, sigma)
        return to_pil_image(out, mode=img.mode)
    if isinstance(img, np.ndarray):
        a = img[..., None] if img.ndim == 2 else img
        out = _gaussian_blur_tensor(_tensor_from_array(np.ascontiguousarray(a.transpose(2, 0, 1))), kernel_size, sigma)
        out = out.numpy().transpose(1, 2, 0)
        return np.ascontiguousarray(out[..., 0] if img.ndim == 2 else out).astype(img.dtype)
    if not _is_tensor(img):
        raise TypeError(f"img should be PIL Image or Tensor. Got {type(img)}")
    return _gaussian_blur_tensor(img, kernel_size, sigma)


def invert(img):
    """``max - img`` (255 for uint8, 1.0 for floats)."""
    _check_pil_or_tensor(img)
    if _is_pil(img):
        return F_pil.invert(img)
    _assert_channels(img, [1, 3])
    if img.dtype == rustdl.uint8:
        return (255 - img.to(rustdl.int32)).to(rustdl.uint8)
    return _max_value(img.dtype) - img


def posterize(img, bits):
    """Keep the ``bits`` most significant bits of each uint8 value."""
    _check_pil_or_tensor(img)
    if not (0 <= bits <= 8):
        raise ValueError(f"The number if bits should be between 0 and 8. Got {bits}")
    if _is_pil(img):
        return F_pil.posterize(img, bits)
    if img.dtype != rustdl.uint8:
        raise TypeError(f"Only torch.uint8 image tensors are supported, but found {img.dtype}")
    _assert_channels(img, [1, 3])
    mask = -int(2 ** (8 - bits))
    return (img.to(rustdl.int32) & mask).to(rustdl.uint8)


def solarize(img, threshold):
    """Invert the values at or above ``threshold``."""
    _check_pil_or_tensor(img)
    if _is_pil(img):
        return F_pil.solarize(img, threshold)
    _assert_channels(img, [1, 3])
    if threshold > _max_value(img.dtype):
        raise TypeError("Threshold should be less than bound of img.")
    return rustdl.where(img >= threshold, invert(img), img)


def autocontrast(img):
    """Stretch each channel to the full range (min -> 0, max -> max value)."""
    _check_pil_or_tensor(img)
    if _is_pil(img):
        return F_pil.autocontrast(img)
    if img.ndim < 3:
        raise TypeError(f"Input image tensor should have at least 3 dimensions, but found {img.ndim}")
    _assert_channels(img, [1, 3])
    bound = _max_value(img.dtype)
    dtype = img.dtype if img.is_floating_point() else rustdl.float32
    minimum = img.amin(dim=(-2, -1), keepdim=True).to(dtype)
    maximum = img.amax(dim=(-2, -1), keepdim=True).to(dtype)
    scale = bound / (maximum - minimum)
    eq_idxs = rustdl.isfinite(scale).logical_not()
    minimum = rustdl.where(eq_idxs, rustdl.zeros_like(minimum), minimum)
    scale = rustdl.where(eq_idxs, rustdl.ones_like(scale), scale)
    return ((img - minimum) * scale).clamp(0, bound).to(img.dtype)


def equalize(img):
    """Histogram equalisation per channel (uint8), Pillow's algorithm (which
    torchvision's tensor version reproduces)."""
    _check_pil_or_tensor(img)
    if _is_pil(img):
        return F_pil.equalize(img)
    if img.dtype != rustdl.uint8:
        raise TypeError(f"Only torch.uint8 image tensors are supported, but found {img.dtype}")
    _assert_channels(img, [1, 3])
    from PIL import Image, ImageOps

    a = img.numpy()
    flat = a.reshape(-1, *a.shape[-2:])
    out = np.stack([np.array(ImageOps.equalize(Image.fromarray(np.ascontiguousarray(ch)))) for ch in flat])
    return rustdl.from_numpy(out.reshape(a.shape))


def adjust_sharpness(img, sharpness_factor):
    """Blend with a smoothed copy (0 blurs, 1 keeps, 2 sharpens); borders kept."""
    _check_pil_or_tensor(img)
    if _is_pil(img):
        return F_pil.adjust_sharpness(img, sharpness_factor)
    if sharpness_factor < 0:
        raise ValueError(f"sharpness_factor ({sharpness_factor}) is not non-negative.")
    _assert_channels(img, [1, 3])
    if img.size(-1) <= 2 or img.size(-2) <= 2:
        return img
    dtype = img.dtype if img.is_floating_point() else rustdl.float32
    kernel = rustdl.ones((3, 3), dtype=dtype)
    kernel[1, 1] = 5.0
    kernel = (kernel / kernel.sum()).expand(img.shape[-3], 1, 3, 3).contiguous()
    tmp, need_cast, need_squeeze, out_dtype = _cast_squeeze_in(img, [kernel.dtype])
    tmp = rustdl.nn.functional.conv2d(tmp, kernel, groups=tmp.shape[-3])
    tmp = _cast_squeeze_out(tmp, need_cast, need_squeeze, out_dtype)
    degenerate = img.clone()
    degenerate[..., 1:-1, 1:-1] = tmp
    return _blend(img, degenerate, sharpness_factor)


def _check_fill_for_tensor(img, fill):
    if fill is None:
        return
    if not isinstance(fill, (int, float, tuple, list)):
        raise TypeError("Argument fill should be either int, float, tuple or list")
    num_channels = get_dimensions(img)[0]
    if isinstance(fill, (tuple, list)) and len(fill) > 1 and len(fill) != num_channels:
        raise ValueError(
            "The number of elements in 'fill' cannot broadcast to match the number of channels of the image "
            f"({len(fill)} != {num_channels})"
        )


def affine(img, angle, translate, scale, shear, interpolation=InterpolationMode.NEAREST, fill=None, center=None):
    """Rotate by ``angle`` degrees, shift by ``translate`` (x, y) pixels, scale and
    shear (degrees, one value or (x, y)) about ``center`` (default the image centre),
    keeping the size; uncovered pixels get ``fill``."""
    mode = _mode_name(interpolation)
    if not isinstance(angle, (int, float)):
        raise TypeError("Argument angle should be int or float")
    if not isinstance(translate, (list, tuple)):
        raise TypeError("Argument translate should be a sequence")
    if len(translate) != 2:
        raise ValueError("Argument translate should be a sequence of length 2")
    if scale <= 0.0:
        raise ValueError("Argument scale should be positive")
    if not isinstance(shear, (numbers.Number, list, tuple)):
        raise TypeError("Shear should be either a single value or a sequence of two values")
    angle = float(angle)
    translate = list(translate)
    if isinstance(shear, numbers.Number):
        shear = [shear, 0.0]
    shear = list(shear)
    if len(shear) == 1:
        shear = [shear[0], shear[0]]
    if len(shear) != 2:
        raise ValueError(f"Shear should be a sequence containing two values. Got {shear}")
    if center is not None and not isinstance(center, (list, tuple)):
        raise TypeError("Argument center should be a sequence")
    _, height, width = get_dimensions(img)
    if _is_pil(img):
        # torchvision uses the centre without the half-pixel offset for PIL images
        if center is None:
            center = [width * 0.5, height * 0.5]
        matrix = _get_inverse_affine_matrix(center, angle, translate, scale, shear)
        return F_pil.affine(img, matrix, mode, fill)
    center_f = [0.0, 0.0]
    if center is not None:
        center_f = [1.0 * (c - s * 0.5) for c, s in zip(center, [width, height])]
    matrix = _get_inverse_affine_matrix(center_f, angle, [1.0 * t for t in translate], scale, shear)
    if mode not in ("nearest", "bilinear"):
        raise ValueError(f"Interpolation mode '{mode}' is unsupported with Tensor input")
    _check_fill_for_tensor(img, fill)
    return _on_hw(img, lambda a: _np_affine(a, matrix, mode, a.shape[1], a.shape[0], fill))


def _get_perspective_coeffs(startpoints, endpoints):
    """The (a, b, c, d, e, f, g, h) mapping output pixel (x, y) to input
    ((ax + by + c) / (gx + hy + 1), (dx + ey + f) / (gx + hy + 1)), solved by least
    squares in float64 and rounded to float32, as torchvision."""
    if len(startpoints) != 4 or len(endpoints) != 4:
        raise ValueError(
            f"Please provide exactly four corners, got {len(startpoints)} startpoints and {len(endpoints)} endpoints."
        )
    a_matrix = np.zeros((8, 8), np.float64)
    for i, (p1, p2) in enumerate(zip(endpoints, startpoints)):
        a_matrix[2 * i] = [p1[0], p1[1], 1, 0, 0, 0, -p2[0] * p1[0], -p2[0] * p1[1]]
        a_matrix[2 * i + 1] = [0, 0, 0, p1[0], p1[1], 1, -p2[1] * p1[0], -p2[1] * p1[1]]
    b_matrix = np.asarray(startpoints, np.float64).reshape(8)
    res = np.linalg.lstsq(a_matrix, b_matrix, rcond=None)[0].astype(np.float32)
    return [float(v) for v in res]


def _np_perspective(a, coeffs, mode, fill):
    """torchvision's tensor perspective warp of an HxW[xC] array (float32 grid)."""
    f32 = np.float32
    oh, ow = a.shape[:2]
    theta1 = np.array([[coeffs[0], coeffs[1], coeffs[2]], [coeffs[3], coeffs[4], coeffs[5]]], f32)
    theta2 = np.array([[coeffs[6], coeffs[7], 1.0], [coeffs[6], coeffs[7], 1.0]], f32)
    base = np.empty((oh, ow, 3), f32)
    base[..., 0] = np.linspace(0.5, ow - 0.5, ow, dtype=f32)[None, :]
    base[..., 1] = np.linspace(0.5, oh - 0.5, oh, dtype=f32)[:, None]
    base[..., 2] = 1
    flat = base.reshape(-1, 3)

    def matmul(m):  # float32 products summed in order, unfused: torch's bmm here, bit for bit
        return (flat[:, 0:1] * m[0] + flat[:, 1:2] * m[1]) + flat[:, 2:3] * m[2]

    grid1 = matmul(theta1.T / np.array([0.5 * ow, 0.5 * oh], f32))
    grid2 = matmul(theta2.T)
    grid = (grid1 / grid2 - f32(1.0)).reshape(oh, ow, 2)
    return _np_grid_sample(a, grid, mode, fill)


def perspective(img, startpoints, endpoints, interpolation=InterpolationMode.BILINEAR, fill=None):
    """Warp ``img`` so that the four ``startpoints`` ([top-left, top-right,
    bottom-right, bottom-left] (x, y) corners) land on ``endpoints``; uncovered
    pixels get ``fill``. PIL images go through Pillow's PERSPECTIVE transform,
    tensors through torchvision's sampling grid."""
    coeffs = _get_perspective_coeffs(startpoints, endpoints)
    if not isinstance(interpolation, (InterpolationMode, int)):
        raise TypeError("Argument interpolation should be a InterpolationMode or a corresponding Pillow integer constant")
    mode = _mode_name(interpolation)
    if _is_pil(img):
        return F_pil.perspective(img, coeffs, mode, fill)
    if mode not in ("nearest", "bilinear"):
        raise ValueError(f"Interpolation mode '{mode}' is unsupported with Tensor input")
    _check_fill_for_tensor(img, fill)
    return _on_hw(img, lambda a: _np_perspective(a, coeffs, mode, fill))


def _identity_grid(h, w):
    """torchvision's ``_create_identity_grid``: pixel centres in [-1, 1], (h, w, 2)."""
    f32 = np.float32
    xs = np.linspace((-w + 1) / w, (w - 1) / w, w, dtype=f32)
    ys = np.linspace((-h + 1) / h, (h - 1) / h, h, dtype=f32)
    grid = np.empty((h, w, 2), f32)
    grid[..., 0] = xs[None, :]
    grid[..., 1] = ys[:, None]
    return grid


def elastic_transform(img, displacement, interpolation=InterpolationMode.BILINEAR, fill=None):
    """Sample ``img`` at the identity grid plus ``displacement`` (a ``1 x H x W x 2``
    tensor of normalised (x, y) offsets, see ``ElasticTransform.get_params``); a PIL
    image goes through its tensor and comes back in its mode, as torchvision."""
    if not isinstance(displacement, rustdl.Tensor):
        raise TypeError("Argument displacement should be a Tensor")
    if isinstance(interpolation, int):
        interpolation = InterpolationMode(_mode_name(interpolation))
    t_img = img
    if not _is_tensor(img):
        if not _is_pil(img):
            raise TypeError(f"img should be PIL Image or Tensor. Got {type(img)}")
        t_img = pil_to_tensor(img)
    shape = (1, *tuple(t_img.shape[-2:]), 2)
    if shape != tuple(displacement.shape):
        raise ValueError(f"Argument displacement should be {list(shape)}, but given {list(displacement.shape)}")
    mode = _mode_name(interpolation)
    if mode not in ("nearest", "bilinear"):
        raise ValueError(f"Interpolation mode '{mode}' is unsupported with Tensor input")
    h, w = shape[1], shape[2]
    grid = _identity_grid(h, w) + displacement.detach().numpy().astype(np.float32)[0]
    output = _on_hw(t_img, lambda a: _np_grid_sample(a, grid, mode, fill))
    if not _is_tensor(img):
        output = to_pil_image(output, mode=img.mode)
    return output


def five_crop(img, size):
    """The four corner crops and the centre crop of ``size``."""
    if isinstance(size, numbers.Number):
        size = (int(size), int(size))
    elif isinstance(size, (tuple, list)) and len(size) == 1:
        size = (size[0], size[0])
    if len(size) != 2:
        raise ValueError("Please provide only two dimensions (h, w) for size.")
    _, image_height, image_width = get_dimensions(img)
    crop_height, crop_width = size
    if crop_width > image_width or crop_height > image_height:
        msg = "Requested crop size {} is bigger than input size {}"
        raise ValueError(msg.format(size, (image_height, image_width)))
    tl = crop(img, 0, 0, crop_height, crop_width)
    tr = crop(img, 0, image_width - crop_width, crop_height, crop_width)
    bl = crop(img, image_height - crop_height, 0, crop_height, crop_width)
    br = crop(img, image_height - crop_height, image_width - crop_width, crop_height, crop_width)
    center = center_crop(img, [crop_height, crop_width])
    return tl, tr, bl, br, center


def ten_crop(img, size, vertical_flip=False):
    """``five_crop`` of the image and of its flip (horizontal, or vertical)."""
    if isinstance(size, numbers.Number):
        size = (int(size), int(size))
    elif isinstance(size, (tuple, list)) and len(size) == 1:
        size = (size[0], size[0])
    if len(size) != 2:
        raise ValueError("Please provide only two dimensions (h, w) for size.")
    first_five = five_crop(img, size)
    img = vflip(img) if vertical_flip else hflip(img)
    return first_five + five_crop(img, size)


def erase(img, i, j, h, w, v, inplace=False):
    """Set ``img[..., i:i+h, j:j+w]`` to ``v`` (a copy unless ``inplace``)."""
    if not _is_tensor(img):
        raise TypeError(f"img should be Tensor Image. Got {type(img)}")
    if not inplace:
        img = img.clone()
    img[..., i : i + h, j : j + w] = v
    return img
