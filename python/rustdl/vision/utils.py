"""``torchvision.utils``: ``make_grid``, ``save_image``, ``draw_bounding_boxes``,
``draw_segmentation_masks`` (images through Pillow, as torchvision).

``make_grid`` is tensor ops only (differentiable like torchvision's);
``save_image`` rounds ``x * 255 + 0.5`` to uint8 exactly as torchvision, so the
files are byte-identical for PNG.
"""

import math
import pathlib
import warnings

import numpy as np

import rustdl

__all__ = ["draw_bounding_boxes", "draw_keypoints", "draw_segmentation_masks", "flow_to_image", "make_grid", "save_image"]


def make_grid(tensor, nrow=8, padding=2, normalize=False, value_range=None, scale_each=False, pad_value=0.0):
    """Make a grid of images.

    Args:
        tensor: 4D mini-batch (B x C x H x W) or a list of images of the same size.
        nrow: images per row of the grid (the grid is ``ceil(B / nrow) x nrow``).
        padding: pixels between images and around the grid.
        normalize: shift the images to (0, 1) by the min and max of ``value_range``
            (by default the tensor's own min and max).
        value_range: tuple (min, max) used by ``normalize``.
        scale_each: normalize each image by its own min and max.
        pad_value: value of the padding pixels.

    Returns: the (C x H' x W') grid tensor.
    """
    if not isinstance(tensor, rustdl.Tensor):
        if isinstance(tensor, list):
            for t in tensor:
                if not isinstance(t, rustdl.Tensor):
                    raise TypeError(f"tensor or list of tensors expected, got a list containing {type(t)}")
        else:
            raise TypeError(f"tensor or list of tensors expected, got {type(tensor)}")
    if isinstance(tensor, list):
        tensor = rustdl.stack(tensor, dim=0)

    if tensor.dim() == 2:  # single image H x W
        tensor = tensor.unsqueeze(0)
    if tensor.dim() == 3:  # single image
        if tensor.size(0) == 1:  # single-channel -> 3 channels
            tensor = rustdl.cat((tensor, tensor, tensor), 0)
        tensor = tensor.unsqueeze(0)
    if tensor.dim() == 4 and tensor.size(1) == 1:  # single-channel images
        tensor = rustdl.cat((tensor, tensor, tensor), 1)

    if normalize is True:
        tensor = tensor.clone()  # avoid modifying the caller's tensor in place
        if value_range is not None and not isinstance(value_range, tuple):
            raise TypeError("value_range has to be a tuple (min, max) if specified. min and max are numbers")

        def norm_ip(img, low, high):
            img.clamp_(min=low, max=high)
            img.sub_(low).div_(max(high - low, 1e-5))

        def norm_range(t, value_range):
            if value_range is not None:
                norm_ip(t, value_range[0], value_range[1])
            else:
                norm_ip(t, float(t.min()), float(t.max()))

        if scale_each is True:
            for t in tensor:  # each image of the mini-batch
                norm_range(t, value_range)
        else:
            norm_range(tensor, value_range)

    if tensor.size(0) == 1:
        return tensor.squeeze(0)

    nmaps = tensor.size(0)
    xmaps = min(nrow, nmaps)
    ymaps = math.ceil(nmaps / xmaps)
    height, width = int(tensor.size(2) + padding), int(tensor.size(3) + padding)
    num_channels = tensor.size(1)
    grid = tensor.new_full((num_channels, height * ymaps + padding, width * xmaps + padding), pad_value)
    k = 0
    for y in range(ymaps):
        for x in range(xmaps):
            if k >= nmaps:
                break
            grid.narrow(1, y * height + padding, height - padding).narrow(
                2, x * width + padding, width - padding
            ).copy_(tensor[k])
            k = k + 1
    return grid


def _pil_image():
    try:
        from PIL import Image
    except ImportError as e:  # pillow is a dependency; this only helps broken installs
        raise ImportError("rustdl.vision.utils needs Pillow for images: pip install pillow") from e
    return Image


def _Image_fromarray(obj, mode):
    """``PIL.Image.fromarray(obj, mode)`` without Pillow >= 11.3's deprecation warning
    for ``mode`` (torchvision's helper of the same name): a uint8 ``HxW`` array and
    mode ``'L'`` give the same image either way."""
    Image = _pil_image()
    try:
        version = tuple(int(x) for x in Image.__version__.split(".")[:2])
    except (AttributeError, ValueError):
        version = None
    if version is not None and version >= (11, 3):
        img = Image.fromarray(obj)
        return img if img.mode == mode else img.convert(mode)
    return Image.fromarray(obj, mode=mode)


def save_image(tensor, fp, format=None, **kwargs):
    """Save a tensor (an image, or a mini-batch saved as ``make_grid`` of it) to
    ``fp`` (a path or a binary file object; then give ``format``). Other keyword
    arguments go to :func:`make_grid`. Values in [0, 1] map to 0..255
    (``x * 255 + 0.5`` clamped and truncated, as torchvision)."""
    Image = _pil_image()
    with rustdl.no_grad():
        grid = make_grid(tensor, **kwargs)
        ndarr = grid.detach().mul(255).add_(0.5).clamp_(0, 255).permute(1, 2, 0).to(rustdl.uint8).numpy()
    im = Image.fromarray(np.ascontiguousarray(ndarr))
    if isinstance(fp, pathlib.Path):
        fp = str(fp)
    im.save(fp, format=format)


# ------------------------------------------------------------------ drawing
def _generate_color_palette(num_objects):
    palette = (2**25 - 1, 2**15 - 1, 2**21 - 1)
    return [tuple((i * p) % 255 for p in palette) for i in range(num_objects)]


def _parse_colors(colors, *, num_objects, floating=False):
    from PIL import ImageColor

    if colors is None:
        colors = _generate_color_palette(num_objects)
    elif isinstance(colors, list):
        if len(colors) < num_objects:
            raise ValueError(
                "Number of colors must be equal or larger than the number of objects, "
                f"but got {len(colors)} < {num_objects}."
            )
    elif not isinstance(colors, (tuple, str)):
        raise ValueError(f"colors must be a tuple or a string, or a list thereof, but got {colors}.")
    elif isinstance(colors, tuple) and len(colors) != 3:
        raise ValueError(f"If passed as tuple, colors should be an RGB triplet, but got {colors}.")
    else:  # one color for all objects
        colors = [colors] * num_objects
    colors = [ImageColor.getrgb(c) if isinstance(c, str) else tuple(int(v) for v in c) for c in colors]
    if floating:
        colors = [tuple(v / 255 for v in c) for c in colors]
    return colors


def _float_to_uint8(a):
    # torchvision's to_dtype(scale=True): multiply by 255 + 1 - 1e-3 and truncate
    return (a.astype(np.float32) * np.float32(255 + 1.0 - 1e-3)).astype(np.uint8)


def _image_check(image):
    if not isinstance(image, rustdl.Tensor):
        raise TypeError(f"Tensor expected, got {type(image)}")
    if not (image.dtype == rustdl.uint8 or image.is_floating_point()):
        raise ValueError(f"The image dtype must be uint8 or float, got {image.dtype}")
    if image.dim() != 3:
        raise ValueError("Pass individual images, not batches")


def _dashed_line(draw, xy, fill=None, width=0, dash_length=5, space_length=5):
    current_dash = True
    for i in range(1, len(xy)):
        x1, y1 = xy[i - 1]
        x2, y2 = xy[i]
        segment_length = ((x2 - x1) ** 2 + (y2 - y1) ** 2) ** 0.5
        while segment_length > 0:
            step = min(segment_length, dash_length if current_dash else space_length)
            angle = math.atan2(y2 - y1, x2 - x1)
            end_x = x1 + math.cos(angle) * step
            end_y = y1 + math.sin(angle) * step
            if current_dash:
                draw.line([(x1, y1), (end_x, end_y)], fill, width, None)
            segment_length -= step
            x1, y1 = end_x, end_y
            current_dash = not current_dash


def _oriented_rectangle(draw, xy, fill=None, outline=None, width=1):
    _dashed_line(draw, ((xy[0], xy[1]), (xy[2], xy[3])), width=width, fill=outline)
    for i in range(2, len(xy), 2):
        draw.line(((xy[i], xy[i + 1]), (xy[(i + 2) % len(xy)], xy[(i + 3) % len(xy)])), width=width, fill=outline)
    draw.polygon(xy, fill=fill, outline=None, width=0)


def draw_bounding_boxes(
    image,
    boxes,
    labels=None,
    colors=None,
    fill=False,
    width=1,
    font=None,
    font_size=None,
    label_colors=None,
    label_background_colors=None,
    fill_labels=False,
):
    """Draw boxes (N x 4 ``(xmin, ymin, xmax, ymax)`` or N x 8 corner points) on a
    (C, H, W) uint8 or float image with Pillow, as torchvision; returns a new
    image of the input's dtype."""
    from PIL import ImageDraw, ImageFont

    _image_check(image)
    if image.size(0) not in {1, 3}:
        raise ValueError("Only grayscale and RGB images are supported")
    box_np = boxes.detach().numpy() if isinstance(boxes, rustdl.Tensor) else np.asarray(boxes)
    if box_np.shape[-1] == 4 and ((box_np[:, 0] > box_np[:, 2]).any() or (box_np[:, 1] > box_np[:, 3]).any()):
        raise ValueError(
            "Boxes need to be in (xmin, ymin, xmax, ymax) format. Use torchvision.ops.box_convert to convert them"
        )
    num_boxes = box_np.shape[0]
    if num_boxes == 0:
        warnings.warn("boxes doesn't contain any box. No box was drawn", stacklevel=2)
        return image
    if labels is None:
        labels = [None] * num_boxes
    elif len(labels) != num_boxes:
        raise ValueError(
            f"Number of boxes ({num_boxes}) and labels ({len(labels)}) mismatch. Please specify labels for each box."
        )
    colors = _parse_colors(colors, num_objects=num_boxes)
    if label_colors or fill_labels:
        label_colors = _parse_colors(label_colors if label_colors else "black", num_objects=num_boxes)
    else:
        label_colors = list(colors)
    if fill_labels and label_background_colors:
        label_background_colors = _parse_colors(label_background_colors, num_objects=num_boxes)
    else:
        label_background_colors = list(colors)
    if font is None:
        if font_size is not None:
            warnings.warn("Argument 'font_size' will be ignored since 'font' is not set.", stacklevel=2)
        txt_font = ImageFont.load_default()
    else:
        txt_font = ImageFont.truetype(font=font, size=font_size or 10)

    original_dtype = image.dtype
    arr = image.detach().numpy()
    if arr.shape[0] == 1:
        arr = np.tile(arr, (3, 1, 1))
    if image.is_floating_point():
        arr = _float_to_uint8(arr)
    img_to_draw = _pil_image().fromarray(np.ascontiguousarray(arr.transpose(1, 2, 0)))
    img_boxes = box_np.astype(np.int64).tolist()
    draw = ImageDraw.Draw(img_to_draw, "RGBA") if fill else ImageDraw.Draw(img_to_draw)

    for bbox, color, label, label_color, label_bg_color in zip(
        img_boxes, colors, labels, label_colors, label_background_colors
    ):
        fill_color = color + (100,) if fill else None
        if len(bbox) > 4:
            _oriented_rectangle(draw, bbox, width=width, outline=color, fill=fill_color)
        else:
            draw.rectangle(bbox, width=width, outline=color, fill=fill_color)
        if label is not None:
            box_margin = 1
            margin = width + box_margin
            if fill_labels:
                left, top, right, bottom = draw.textbbox((bbox[0] + margin, bbox[1] + margin), label, font=txt_font)
                draw.rectangle(
                    (left - box_margin, top - box_margin, right + box_margin, bottom + box_margin),
                    fill=label_bg_color,
                )
            draw.text((bbox[0] + margin, bbox[1] + margin), label, fill=label_color, font=txt_font)

    out = rustdl.from_numpy(np.ascontiguousarray(np.array(img_to_draw).transpose(2, 0, 1)))
    if original_dtype != rustdl.uint8:
        out = out.to(original_dtype).mul_(1.0 / 255)
    return out


def draw_segmentation_masks(image, masks, alpha=0.8, colors=None):
    """Blend boolean masks (N x H x W or H x W) onto a (3, H, W) uint8 or float
    image: ``image * (1 - alpha) + colored_masks * alpha``, as torchvision."""
    _image_check(image)
    if image.size(0) != 3:
        raise ValueError("Pass an RGB image. Other Image formats are not supported")
    m = masks.detach().numpy() if isinstance(masks, rustdl.Tensor) else np.asarray(masks)
    if m.ndim == 2:
        m = m[None, :, :]
    if m.ndim != 3:
        raise ValueError("masks must be of shape (H, W) or (batch_size, H, W)")
    if m.dtype != np.bool_:
        raise ValueError(f"The masks must be of dtype bool. Got {masks.dtype}")
    if m.shape[-2:] != tuple(image.shape[-2:]):
        raise ValueError("The image and the masks must have the same height and width")
    num_masks = m.shape[0]
    if num_masks == 0:
        warnings.warn("masks doesn't contain any mask. No mask was drawn", stacklevel=2)
        return image
    floating = image.is_floating_point()
    colors = _parse_colors(colors, num_objects=num_masks, floating=floating)
    img = np.asarray(image.detach().numpy())
    dt = img.dtype
    out = img.copy()
    for mask, color in zip(m, colors):
        out[:, mask] = np.asarray(color, dtype=dt)[:, None]
    out[:, m.sum(axis=0) > 1] = 0  # overlapping masks are drawn black
    if floating:
        res = img * dt.type(1 - alpha) + out * dt.type(alpha)
        return rustdl.from_numpy(res.astype(dt))
    # torchvision computes in float32 then casts (truncation) back to uint8
    res = img.astype(np.float32) * np.float32(1 - alpha) + out.astype(np.float32) * np.float32(alpha)
    return rustdl.from_numpy(res.astype(np.uint8))


def _make_colorwheel():
    """The 55 x 3 optical-flow colour wheel (Baker et al.), as torchvision builds it."""
    ry, yg, gc, cb, bm, mr = 15, 6, 4, 11, 13, 6
    wheel = np.zeros((ry + yg + gc + cb + bm + mr, 3), np.float32)

    def ramp(n):
        return np.floor(np.float32(255) * np.arange(n, dtype=np.float32) / np.float32(n))

    col = 0
    wheel[0:ry, 0] = 255
    wheel[0:ry, 1] = ramp(ry)
    col += ry
    wheel[col:col + yg, 0] = 255 - ramp(yg)
    wheel[col:col + yg, 1] = 255
    col += yg
    wheel[col:col + gc, 1] = 255
    wheel[col:col + gc, 2] = ramp(gc)
    col += gc
    wheel[col:col + cb, 1] = 255 - ramp(cb)
    wheel[col:col + cb, 2] = 255
    col += cb
    wheel[col:col + bm, 2] = 255
    wheel[col:col + bm, 0] = ramp(bm)
    col += bm
    wheel[col:col + mr, 2] = 255 - ramp(mr)
    wheel[col:col + mr, 0] = 255
    return wheel


def flow_to_image(flow):
    """An optical flow ``(2, H, W)`` or ``(N, 2, H, W)`` float tensor as a uint8 RGB
    image (direction -> hue on the colour wheel, magnitude -> saturation), as torchvision."""
    if flow.dtype != rustdl.float32:
        raise ValueError(f"Flow should be of dtype torch.float, got {flow.dtype}.")
    orig_shape = tuple(flow.shape)
    f = flow.detach().numpy()
    if f.ndim == 3:
        f = f[None]
    if f.ndim != 4 or f.shape[1] != 2:
        raise ValueError(f"Input flow should have shape (2, H, W) or (N, 2, H, W), got {list(orig_shape)}.")
    f32 = np.float32
    max_norm = np.sqrt((f * f).sum(axis=1, dtype=f32)).max()
    flow_n = f / (max_norm + np.finfo(f32).eps)
    wheel = _make_colorwheel()
    num_cols = wheel.shape[0]
    norm = np.sqrt((flow_n * flow_n).sum(axis=1, dtype=f32))
    a = np.arctan2(-flow_n[:, 1], -flow_n[:, 0]) / f32(np.pi)
    fk = (a + 1) / 2 * f32(num_cols - 1)
    k0 = np.floor(fk).astype(np.int64)
    k1 = k0 + 1
    k1[k1 == num_cols] = 0
    frac = fk - k0
    out = np.zeros((f.shape[0], 3, *f.shape[2:]), np.uint8)
    for c in range(3):
        col = (1 - frac) * (wheel[k0, c] / f32(255.0)) + frac * (wheel[k1, c] / f32(255.0))
        col = 1 - norm * (1 - col)
        out[:, c] = np.floor(f32(255) * col).astype(np.uint8)
    img = rustdl.from_numpy(out)
    return img[0] if len(orig_shape) == 3 else img


def draw_keypoints(image, keypoints, connectivity=None, colors=None, radius=2, width=3, visibility=None):
    """Draw ``keypoints`` (``[num_instances, K, 2]``) on an RGB image as filled circles of
    ``radius``, joined by lines of ``width`` for each ``connectivity`` pair whose two
    points are visible; Pillow draws them as in torchvision."""
    if not isinstance(image, rustdl.Tensor):
        raise TypeError(f"The image must be a tensor, got {type(image)}")
    if not (image.dtype == rustdl.uint8 or image.is_floating_point()):
        raise ValueError(f"The image dtype must be uint8 or float, got {image.dtype}")
    if image.dim() != 3:
        raise ValueError("Pass individual images, not batches")
    if image.shape[0] != 3:
        raise ValueError("Pass an RGB image. Other Image formats are not supported")
    if keypoints.dim() != 3:
        raise ValueError("keypoints must be of shape (num_instances, K, 2)")
    vis = (np.ones(tuple(keypoints.shape[:-1]), bool) if visibility is None
           else np.asarray(visibility.detach().numpy() if isinstance(visibility, rustdl.Tensor) else visibility))
    if vis.ndim == 3:
        vis = vis.squeeze(-1)
    if vis.ndim != 2:
        raise ValueError(f"visibility must be of shape (num_instances, K). Got ndim={vis.ndim}")
    if vis.shape != tuple(keypoints.shape[:-1]):
        raise ValueError(
            "keypoints and visibility must have the same dimensionality for num_instances and K. "
            f"Got visibility.shape={list(vis.shape)} and keypoints.shape={list(keypoints.shape)}"
        )
    floating = image.is_floating_point()
    a = image.detach().numpy()
    ndarr = np.ascontiguousarray((_float_to_uint8(a) if floating else a).transpose(1, 2, 0))
    from PIL import ImageDraw

    img = _pil_image().fromarray(ndarr)
    draw = ImageDraw.Draw(img)
    kpts = keypoints.detach().numpy().astype(np.int64).tolist()
    vis = vis.astype(bool).tolist()
    for kpt_inst, vis_inst in zip(kpts, vis):
        for (x, y), seen in zip(kpt_inst, vis_inst):
            if seen:
                draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=colors, outline=None, width=0)
        for a_i, b_i in connectivity or ():
            if vis_inst[a_i] and vis_inst[b_i]:
                draw.line(((kpt_inst[a_i][0], kpt_inst[a_i][1]), (kpt_inst[b_i][0], kpt_inst[b_i][1])), width=width)
    out = rustdl.from_numpy(np.ascontiguousarray(np.array(img).transpose(2, 0, 1)))
    if floating:
        out = out.to(image.dtype) / 255.0
    return out
