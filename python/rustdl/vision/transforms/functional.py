"""Functional image transforms (shaped like ``torchvision.transforms.functional``).

Images are either

* numpy arrays in PIL's layout, ``HxW`` or ``HxWxC`` (what rustdl's datasets
  return; PIL images are converted to such arrays on entry), or
* rustdl tensors in torchvision's layout, ``(..., C, H, W)``.

Each function returns the same kind it was given.
"""

import enum
import math
import numbers

import numpy as np

import rustdl

__all__ = [
    "InterpolationMode",
    "center_crop",
    "convert_image_dtype",
    "crop",
    "get_dimensions",
    "hflip",
    "normalize",
    "pad",
    "pil_to_tensor",
    "resize",
    "resized_crop",
    "rotate",
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
    img = _check_img(img)
    if _is_tensor(img):
        return img.flip(-1)
    return np.ascontiguousarray(img[:, ::-1])


def vflip(img):
    """Flip top-bottom."""
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
    if not isinstance(fill, (numbers.Number, tuple, list)) and fill is not None:
        raise TypeError("Got inappropriate fill arg")
    if padding_mode not in ("constant", "edge", "reflect", "symmetric"):
        raise ValueError("Padding mode should be either constant, edge, reflect or symmetric")
    left, top, right, bottom = _parse_padding(padding)
    return _on_hw(img, lambda a: _np_pad(a, left, top, right, bottom, fill, padding_mode))


def crop(img, top, left, height, width):
    """Crop ``[top:top+height, left:left+width]``; parts outside the image are zero."""
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
    _, h, w = get_dimensions(img)
    out_h, out_w = _compute_resized_output_size((h, w), size, max_size)
    return _on_hw(img, lambda a: _np_resize(a, out_h, out_w, mode, antialias))


def resized_crop(img, top, left, height, width, size, interpolation=InterpolationMode.BILINEAR, antialias=True):
    img = crop(img, top, left, height, width)
    return resize(img, size, interpolation, antialias=antialias)


# ------------------------------------------------------------------ rotate
def _np_rotate(a, angle, mode, expand, center, fill):
    h, w = a.shape[:2]
    theta = math.radians(angle)
    cos, sin = math.cos(theta), math.sin(theta)
    if center is None:
        cx, cy = (w - 1) * 0.5, (h - 1) * 0.5
    else:
        cx, cy = float(center[0]), float(center[1])
    if expand:
        corners = np.array([[-cx, -cy], [w - 1 - cx, -cy], [-cx, h - 1 - cy], [w - 1 - cx, h - 1 - cy]])
        xs = corners[:, 0] * cos + corners[:, 1] * sin
        ys = -corners[:, 0] * sin + corners[:, 1] * cos
        out_w = math.ceil(xs.max() - xs.min() - 1e-6) + 1
        out_h = math.ceil(ys.max() - ys.min() - 1e-6) + 1
        ocx, ocy = (out_w - 1) * 0.5, (out_h - 1) * 0.5
    else:
        out_w, out_h, ocx, ocy = w, h, cx, cy
    ys, xs = np.meshgrid(np.arange(out_h, dtype=np.float64), np.arange(out_w, dtype=np.float64), indexing="ij")
    dx, dy = xs - ocx, ys - ocy
    sx = dx * cos - dy * sin + cx  # inverse of a counter-clockwise rotation (y axis down)
    sy = dx * sin + dy * cos + cy
    if fill is None:
        fill = 0
    fill_arr = np.asarray(fill, dtype=np.float64)
    extra = a.shape[2:]
    if mode == "nearest":
        ix, iy = np.round(sx).astype(np.int64), np.round(sy).astype(np.int64)
        valid = (ix >= 0) & (ix < w) & (iy >= 0) & (iy < h)
        out = np.empty((out_h, out_w) + extra, dtype=a.dtype)
        out[...] = fill_arr.astype(a.dtype)
        out[valid] = a[iy[valid], ix[valid]]
        return out
    if mode != "bilinear":
        raise NotImplementedError(f"rotate: interpolation {mode!r} is not implemented (use nearest or bilinear)")
    x0, y0 = np.floor(sx).astype(np.int64), np.floor(sy).astype(np.int64)
    fx, fy = sx - x0, sy - y0
    acc = np.zeros((out_h, out_w) + extra, dtype=np.float64)
    for oy, ox, wgt in ((0, 0, (1 - fx) * (1 - fy)), (0, 1, fx * (1 - fy)), (1, 0, (1 - fx) * fy), (1, 1, fx * fy)):
        xx, yy = x0 + ox, y0 + oy
        inside = (xx >= 0) & (xx < w) & (yy >= 0) & (yy < h)
        vals = np.empty((out_h, out_w) + extra, dtype=np.float64)
        vals[...] = fill_arr
        vals[inside] = a[yy[inside], xx[inside]]
        acc += vals * (wgt.reshape(wgt.shape + (1,) * len(extra)))
    if np.issubdtype(a.dtype, np.integer):
        info = np.iinfo(a.dtype)
        acc = np.clip(np.round(acc), info.min, info.max)
    return acc.astype(a.dtype)


def rotate(img, angle, interpolation=InterpolationMode.NEAREST, expand=False, center=None, fill=None):
    """Rotate counter-clockwise by ``angle`` degrees about ``center`` ((x, y) pixel
    coordinates, default the image centre); uncovered pixels get ``fill``."""
    if not isinstance(angle, (int, float)):
        raise TypeError("Argument angle should be int or float")
    if center is not None and (not isinstance(center, (list, tuple)) or len(center) != 2):
        raise TypeError("Argument center should be a sequence of length 2")
    mode = _mode_name(interpolation)
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
