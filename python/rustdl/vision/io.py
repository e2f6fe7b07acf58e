"""``torchvision.io`` for images, through Pillow: ``read_image``/``decode_image``
(PNG, JPEG, GIF, BMP, WEBP, ...) into uint8 CxHxW tensors, ``write_png``/
``write_jpeg``/``encode_*``, ``read_file``/``write_file``. (No video.)"""

import enum
import io as _io
import os

import numpy as np

import rustdl

__all__ = [
    "ImageReadMode",
    "decode_image",
    "decode_jpeg",
    "decode_png",
    "encode_jpeg",
    "encode_png",
    "read_file",
    "read_image",
    "write_file",
    "write_jpeg",
    "write_png",
]


class ImageReadMode(enum.Enum):
    """How ``decode_image`` converts the channels."""

    UNCHANGED = 0
    GRAY = 1
    GRAY_ALPHA = 2
    RGB = 3
    RGB_ALPHA = 4
    RGBA = RGB_ALPHA


_PIL_MODE = {ImageReadMode.GRAY: "L", ImageReadMode.GRAY_ALPHA: "LA", ImageReadMode.RGB: "RGB", ImageReadMode.RGB_ALPHA: "RGBA"}


def read_file(path):
    """The file's bytes as a 1-D uint8 tensor."""
    with open(path, "rb") as f:
        data = f.read()
    return rustdl.from_numpy(np.frombuffer(data, dtype=np.uint8).copy())


def write_file(filename, data):
    """Write a 1-D uint8 tensor's bytes to ``filename``."""
    with open(filename, "wb") as f:
        f.write(np.ascontiguousarray(data.numpy()).tobytes())


def _as_bytes(inpt):
    if isinstance(inpt, (bytes, bytearray)):
        return bytes(inpt)
    if isinstance(inpt, (str, os.PathLike)):
        with open(inpt, "rb") as f:
            return f.read()
    if isinstance(inpt, rustdl.Tensor):
        if inpt.dtype != rustdl.uint8 or inpt.dim() != 1:
            raise RuntimeError(f"Expected a 1-D uint8 tensor of encoded bytes, got {inpt.dtype} with shape {tuple(inpt.shape)}")
        return inpt.numpy().tobytes()
    raise TypeError(f"Expected a tensor of encoded bytes or a path, got {type(inpt)}")


def _mode(mode):
    if isinstance(mode, str):
        mode = ImageReadMode[mode.upper()]
    if not isinstance(mode, ImageReadMode):
        raise TypeError(f"mode should be an ImageReadMode, got {type(mode)}")
    return mode


def decode_image(input, mode=ImageReadMode.UNCHANGED, apply_exif_orientation=False):
    """Decode encoded image bytes (a 1-D uint8 tensor, or a path) into a uint8
    (C, H, W) tensor; ``mode`` converts to gray/RGB with or without alpha."""
    from PIL import Image, ImageOps

    mode = _mode(mode)
    img = Image.open(_io.BytesIO(_as_bytes(input)))
    img.load()
    if apply_exif_orientation:
        img = ImageOps.exif_transpose(img)
    if mode is ImageReadMode.UNCHANGED:
        if img.mode == "P":
            img = img.convert("RGBA" if "transparency" in img.info else "RGB")
        elif img.mode == "1":
            img = img.convert("L")
        elif img.mode not in ("L", "LA", "RGB", "RGBA", "I;16", "I"):
            img = img.convert("RGB")
    else:
        img = img.convert(_PIL_MODE[mode])
    a = np.array(img)
    if a.dtype != np.uint8:
        a = a.astype(np.int32)
    a = a[None] if a.ndim == 2 else a.transpose(2, 0, 1)
    return rustdl.from_numpy(np.ascontiguousarray(a))


def read_image(path, mode=ImageReadMode.UNCHANGED, apply_exif_orientation=False):
    """``decode_image(read_file(path), mode)``."""
    return decode_image(read_file(path), mode, apply_exif_orientation)


def decode_png(input, mode=ImageReadMode.UNCHANGED, apply_exif_orientation=False):
    return decode_image(input, mode, apply_exif_orientation)


def decode_jpeg(input, mode=ImageReadMode.UNCHANGED, device="cpu", apply_exif_orientation=False):
    if isinstance(input, list):
        return [decode_image(i, mode, apply_exif_orientation) for i in input]
    return decode_image(input, mode, apply_exif_orientation)


def _to_pil(image):
    from PIL import Image

    if not isinstance(image, rustdl.Tensor) or image.dtype != rustdl.uint8 or image.dim() != 3:
        raise RuntimeError("Input tensor must be a uint8 tensor of shape (C, H, W)")
    if image.shape[0] not in (1, 3):
        raise RuntimeError(f"The number of channels should be 1 or 3, got: {image.shape[0]}")
    a = image.numpy().transpose(1, 2, 0)
    return Image.fromarray(np.ascontiguousarray(a[:, :, 0] if a.shape[2] == 1 else a))


def _encode(image, fmt, **options):
    buf = _io.BytesIO()
    _to_pil(image).save(buf, format=fmt, **options)
    return rustdl.from_numpy(np.frombuffer(buf.getvalue(), dtype=np.uint8).copy())


def encode_png(input, compression_level=6):
    """(C, H, W) uint8 tensor -> PNG bytes as a 1-D uint8 tensor."""
    if not 0 <= compression_level <= 9:
        raise RuntimeError(f"Compression level should be between 0 and 9, got {compression_level}")
    return _encode(input, "PNG", compress_level=compression_level)


def write_png(input, filename, compression_level=6):
    write_file(filename, encode_png(input, compression_level))


def encode_jpeg(input, quality=75):
    """(C, H, W) uint8 tensor (or a list of them) -> JPEG bytes as 1-D uint8 tensor(s)."""
    if not 1 <= quality <= 100:
        raise ValueError("Image quality should be a positive number between 1 and 100")
    if isinstance(input, list):
        return [_encode(i, "JPEG", quality=quality) for i in input]
    return _encode(input, "JPEG", quality=quality)


def write_jpeg(input, filename, quality=75):
    write_file(filename, encode_jpeg(input, quality))


def decode_gif(input):
    """Decode a GIF into a uint8 RGB tensor: ``(3, H, W)`` for one frame, ``(N, 3, H, W)``
    for an animation (every frame composed onto the previous ones, as a browser shows it)."""
    from PIL import Image, ImageSequence

    img = Image.open(_io.BytesIO(_as_bytes(input)))
    frames = [np.array(frame.convert("RGB")).transpose(2, 0, 1) for frame in ImageSequence.Iterator(img)]
    out = np.ascontiguousarray(np.stack(frames) if len(frames) > 1 else frames[0])
    return rustdl.from_numpy(out)


def _decode_with_pillow(input, mode, fmt):
    from PIL import Image

    try:
        Image.open(_io.BytesIO(_as_bytes(input))).verify()
    except Exception as e:
        raise RuntimeError(f"decode_{fmt}: Pillow cannot decode this {fmt.upper()} data ({e})") from e
    return decode_image(input, mode)


def decode_webp(input, mode=ImageReadMode.UNCHANGED):
    """Decode WEBP bytes into a uint8 (C, H, W) tensor (Pillow's codec)."""
    return _decode_with_pillow(input, mode, "webp")


def decode_avif(input, mode=ImageReadMode.UNCHANGED):
    """Decode AVIF bytes (Pillow's AVIF plugin, Pillow >= 11.3 built with libavif)."""
    return _decode_with_pillow(input, mode, "avif")


def decode_heic(input, mode=ImageReadMode.UNCHANGED):
    """Decode HEIC bytes (needs a Pillow HEIF plugin such as pillow-heif registered)."""
    return _decode_with_pillow(input, mode, "heic")


__all__ += ["decode_avif", "decode_gif", "decode_heic", "decode_webp"]
