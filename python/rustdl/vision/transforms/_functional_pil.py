"""Transforms on PIL images, computed by Pillow itself exactly as torchvision's
``transforms._functional_pil`` does (so the results are identical)."""

import numbers

import numpy as np

__all__ = []

# InterpolationMode value -> Pillow resampling filter
PIL_MODES = {"nearest": 0, "nearest-exact": 0, "bilinear": 2, "bicubic": 3, "box": 4, "hamming": 5, "lanczos": 1}


def _image():
    from PIL import Image

    return Image


def is_pil_image(img):
    try:
        from PIL import Image
    except ImportError:
        return False
    return isinstance(img, Image.Image)


def get_dimensions(img):
    return [len(img.getbands()), img.size[1], img.size[0]]


def _fromarray(arr, mode):
    """``Image.fromarray(arr, mode)`` without Pillow's deprecated ``mode`` argument:
    ``frombuffer`` reads the raw bytes as ``mode``."""
    arr = np.ascontiguousarray(arr)
    return _image().frombuffer(mode, (arr.shape[1], arr.shape[0]), arr.tobytes(), "raw", mode, 0, 1)


def hflip(img):
    return img.transpose(_image().FLIP_LEFT_RIGHT)


def vflip(img):
    return img.transpose(_image().FLIP_TOP_BOTTOM)


def adjust_brightness(img, brightness_factor):
    from PIL import ImageEnhance

    return ImageEnhance.Brightness(img).enhance(brightness_factor)


def adjust_contrast(img, contrast_factor):
    from PIL import ImageEnhance

    return ImageEnhance.Contrast(img).enhance(contrast_factor)


def adjust_saturation(img, saturation_factor):
    from PIL import ImageEnhance

    return ImageEnhance.Color(img).enhance(saturation_factor)


def adjust_sharpness(img, sharpness_factor):
    from PIL import ImageEnhance

    return ImageEnhance.Sharpness(img).enhance(sharpness_factor)


def adjust_hue(img, hue_factor):
    if not (-0.5 <= hue_factor <= 0.5):
        raise ValueError(f"hue_factor ({hue_factor}) is not in [-0.5, 0.5].")
    input_mode = img.mode
    if input_mode in {"L", "1", "I", "F"}:
        return img
    h, s, v = img.convert("HSV").split()
    np_h = np.array(h, dtype=np.uint8)
    # uint8 addition wraps around: the hue is cyclic
    np_h += np.int32(hue_factor * 255).astype(np.uint8)
    h = _fromarray(np_h, "L")
    return _image().merge("HSV", (h, s, v)).convert(input_mode)


def adjust_gamma(img, gamma, gain=1.0):
    if gamma < 0:
        raise ValueError("Gamma should be a non-negative real number")
    input_mode = img.mode
    img = img.convert("RGB")
    gamma_map = [int((255 + 1 - 1e-3) * gain * pow(ele / 255.0, gamma)) for ele in range(256)] * 3
    img = img.point(gamma_map)
    return img.convert(input_mode)


def _parse_fill(fill, img, name="fillcolor"):
    num_channels = len(img.getbands())
    if fill is None:
        fill = 0
    if isinstance(fill, (int, float)) and num_channels > 1:
        fill = tuple([fill] * num_channels)
    if isinstance(fill, (list, tuple)):
        if len(fill) == 1:
            fill = fill * num_channels
        elif len(fill) != num_channels:
            msg = "The number of elements in 'fill' does not match the number of channels of the image ({} != {})"
            raise ValueError(msg.format(len(fill), num_channels))
        fill = tuple(fill)
    if img.mode != "F":
        fill = tuple(int(x) for x in fill) if isinstance(fill, (list, tuple)) else int(fill)
    return {name: fill}


def pad(img, padding, fill=0, padding_mode="constant"):
    from PIL import ImageOps

    if not isinstance(padding, (numbers.Number, tuple, list)):
        raise TypeError("Got inappropriate padding arg")
    if fill is not None and not isinstance(fill, (numbers.Number, tuple, list)):
        raise TypeError("Got inappropriate fill arg")
    if not isinstance(padding_mode, str):
        raise TypeError("Got inappropriate padding_mode arg")
    if isinstance(padding, list):
        padding = tuple(padding)
    if isinstance(padding, tuple) and len(padding) not in [1, 2, 4]:
        raise ValueError(f"Padding must be an int or a 1, 2, or 4 element tuple, not a {len(padding)} element tuple")
    if isinstance(padding, tuple) and len(padding) == 1:
        padding = padding[0]
    if padding_mode not in ["constant", "edge", "reflect", "symmetric"]:
        raise ValueError("Padding mode should be either constant, edge, reflect or symmetric")

    if padding_mode == "constant":
        opts = _parse_fill(fill, img, name="fill")
        if img.mode == "P":
            palette = img.getpalette()
            image = ImageOps.expand(img, border=padding, **opts)
            image.putpalette(palette)
            return image
        return ImageOps.expand(img, border=padding, **opts)

    if isinstance(padding, int):
        pad_left = pad_right = pad_top = pad_bottom = padding
    elif len(padding) == 2:
        pad_left = pad_right = padding[0]
        pad_top = pad_bottom = padding[1]
    else:
        pad_left, pad_top, pad_right, pad_bottom = padding
    p = [pad_left, pad_top, pad_right, pad_bottom]
    cropping = -np.minimum(p, 0)
    if cropping.any():
        crop_left, crop_top, crop_right, crop_bottom = cropping
        img = img.crop((crop_left, crop_top, img.width - crop_right, img.height - crop_bottom))
    pad_left, pad_top, pad_right, pad_bottom = np.maximum(p, 0)
    Image = _image()
    if img.mode == "P":
        palette = img.getpalette()
        arr = np.pad(np.asarray(img), ((pad_top, pad_bottom), (pad_left, pad_right)), mode=padding_mode)
        out = Image.fromarray(arr)
        out.putpalette(palette)
        return out
    arr = np.asarray(img)
    if arr.ndim == 3:
        arr = np.pad(arr, ((pad_top, pad_bottom), (pad_left, pad_right), (0, 0)), padding_mode)
    else:
        arr = np.pad(arr, ((pad_top, pad_bottom), (pad_left, pad_right)), padding_mode)
    return Image.fromarray(arr)


def crop(img, top, left, height, width):
    return img.crop((left, top, left + width, top + height))


def resize(img, size, interpolation="bilinear"):
    if not (isinstance(size, list) and len(size) == 2):
        raise TypeError(f"Got inappropriate size arg: {size}")
    return img.resize(tuple(size[::-1]), PIL_MODES[interpolation])


def affine(img, matrix, interpolation="nearest", fill=None):
    opts = _parse_fill(fill, img)
    return img.transform(img.size, _image().AFFINE, matrix, PIL_MODES[interpolation], **opts)


def perspective(img, coeffs, interpolation="bilinear", fill=None):
    opts = _parse_fill(fill, img)
    return img.transform(img.size, _image().PERSPECTIVE, coeffs, PIL_MODES[interpolation], **opts)


def rotate(img, angle, interpolation="nearest", expand=False, center=None, fill=None):
    opts = _parse_fill(fill, img)
    return img.rotate(angle, PIL_MODES[interpolation], expand, center, **opts)


def to_grayscale(img, num_output_channels):
    if num_output_channels == 1:
        return img.convert("L")
    if num_output_channels == 3:
        np_img = np.array(img.convert("L"), dtype=np.uint8)
        return _fromarray(np.dstack([np_img, np_img, np_img]), "RGB")
    raise ValueError("num_output_channels should be either 1 or 3")


def invert(img):
    from PIL import ImageOps

    return ImageOps.invert(img)


def posterize(img, bits):
    from PIL import ImageOps

    return ImageOps.posterize(img, bits)


def solarize(img, threshold):
    from PIL import ImageOps

    return ImageOps.solarize(img, threshold)


def autocontrast(img):
    from PIL import ImageOps

    return ImageOps.autocontrast(img)


def equalize(img):
    from PIL import ImageOps

    return ImageOps.equalize(img)
