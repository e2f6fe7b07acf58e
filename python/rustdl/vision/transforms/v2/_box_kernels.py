"""torchvision's v2 kernels for bounding boxes and keypoints, on plain tensors.

The arithmetic is torchvision's, done in numpy with the tensor's float dtype (integer
boxes are computed in float32 and truncated back, as torchvision). Geometric kernels
map the box corners and take their extent (axis-aligned formats) or refit a rotated
rectangle (``_parallelogram_to_bounding_boxes``). Clamping of *rotated* boxes (the
"soft"/"hard" polygon clipping) is not implemented: those kernels raise
NotImplementedError for a rotated format with a clamping mode; pass
``clamping_mode=None`` to skip clamping.
"""

import math
import numbers

import numpy as np

import rustdl

from ...tv_tensors import BoundingBoxes, BoundingBoxFormat, KeyPoints, is_rotated_bounding_format, wrap
from .. import functional as _F

F32 = np.float32


def _np(t):
    return t.detach().numpy() if isinstance(t, rustdl.Tensor) else np.asarray(t)


def _tensor(a, dtype):
    return rustdl.from_numpy(np.ascontiguousarray(a.astype(dtype, copy=False)))


def _fmt(format):
    if isinstance(format, str):
        return BoundingBoxFormat[format.upper()]
    return format


def _float(a):
    """The float array torchvision computes in: the array's own float dtype, else float32."""
    return a.astype(F32) if not np.issubdtype(a.dtype, np.floating) else a.copy()


def _cast_back(a, dtype):
    return a.astype(dtype) if not np.issubdtype(dtype, np.floating) else a.astype(dtype, copy=False)


# ----------------------------------------------------------------- format conversion
def _convert(b, old, new):
    """``b`` (float or int numpy array, ``[..., K]``) from ``old`` to ``new`` format."""
    if old == new:
        return b.copy()
    if is_rotated_bounding_format(old) ^ is_rotated_bounding_format(new):
        raise ValueError("Cannot convert between rotated and unrotated bounding boxes.")
    B = BoundingBoxFormat
    is_float = np.issubdtype(b.dtype, np.floating)
    if old == B.XYWH and new == B.CXCYWH:
        out = b.copy()
        out[..., :2] += out[..., 2:] / 2 if is_float else out[..., 2:] // 2
        return out
    if old == B.CXCYWH and new == B.XYWH:
        c = _float(b)
        c[..., :2] -= c[..., 2:] / 2
        if not is_float:
            x2y2 = (c[..., :2] + c[..., 2:]).astype(b.dtype)
            c = c.astype(b.dtype)
            c[..., 2:] = x2y2 - c[..., :2]
        return c
    out = b.copy()
    if old == B.XYWH:
        out[..., 2:] += out[..., :2]
    elif old == B.CXCYWH:
        c = _float(b)
        c[..., :2] -= c[..., 2:] / 2
        c[..., 2:] += c[..., :2]
        out = c.astype(b.dtype) if not is_float else c
    elif old == B.CXCYWHR:
        out = _cxcywhr_to_xywhr(out)
    elif old == B.XYXYXYXY:
        out = _xyxyxyxy_to_xywhr(out)
    if new == B.XYWH:
        out[..., 2:] -= out[..., :2]
    elif new == B.CXCYWH:
        out[..., 2:] -= out[..., :2]
        s = out[..., :2] * 2 + out[..., 2:]
        out[..., :2] = s / 2 if is_float else s // 2
    elif new == B.CXCYWHR:
        out = _xywhr_to_cxcywhr(out)
    elif new == B.XYXYXYXY:
        out = _xywhr_to_xyxyxyxy(out)
    return out


def _half_wh(b):
    return np.abs(b[..., 2:4] / -2) if np.issubdtype(b.dtype, np.floating) else np.abs(b[..., 2:4] // -2)


def _cxcywhr_to_xywhr(b):
    half = _half_wh(b)
    r = b[..., 4] * math.pi / 180.0
    cos, sin = np.cos(r), np.sin(r)
    b[..., 0] = b[..., 0] - half[..., 0] * cos - half[..., 1] * sin
    b[..., 1] = b[..., 1] + half[..., 0] * sin - half[..., 1] * cos
    return b


def _xywhr_to_cxcywhr(b):
    half = _half_wh(b)
    r = b[..., 4] * math.pi / 180.0
    cos, sin = np.cos(r), np.sin(r)
    b[..., 0] = b[..., 0] + half[..., 0] * cos + half[..., 1] * sin
    b[..., 1] = b[..., 1] - half[..., 0] * sin + half[..., 1] * cos
    return b


def _xywhr_to_xyxyxyxy(b):
    w, h = b[..., 2], b[..., 3]
    r = b[..., 4] * math.pi / 180.0
    cos, sin = np.cos(r), np.sin(r)
    out = np.tile(b[..., :2], (1,) * (b.ndim - 1) + (4,))
    out[..., 2] += w * cos
    out[..., 3] -= w * sin
    out[..., 4] += w * cos + h * sin
    out[..., 5] -= w * sin - h * cos
    out[..., 6] += h * sin
    out[..., 7] += h * cos
    return out


def _xyxyxyxy_to_xywhr(b):
    dtype = b.dtype
    c = b.astype(F32) if dtype not in (np.float32, np.float64) else b.copy()
    r = np.arctan2(c[..., 1] - c[..., 3], c[..., 2] - c[..., 0])
    c[..., 4:6] -= c[..., 2:4]
    c[..., 2:4] -= c[..., :2]
    c[..., 2] = np.sqrt(c[..., 2] ** 2 + c[..., 3] ** 2)
    c[..., 3] = np.sqrt(c[..., 4] ** 2 + c[..., 5] ** 2)
    c[..., 4] = r / math.pi * 180.0
    return c[..., :5].astype(dtype)


def convert_bounding_box_format(inpt, old_format=None, new_format=None, inplace=False):
    """Boxes from ``old_format`` to ``new_format`` (a ``BoundingBoxes`` carries its own format)."""
    if new_format is None:
        raise TypeError("convert_bounding_box_format() missing 1 required argument: 'new_format'")
    old_format = _fmt(old_format) if old_format is not None else None
    new_format = _fmt(new_format)
    if isinstance(inpt, BoundingBoxes):
        if old_format is not None:
            raise ValueError("For bounding box tv_tensor inputs, `old_format` must not be passed.")
        a = _np(inpt)
        return wrap(_tensor(_convert(a, inpt.format, new_format), a.dtype), like=inpt, format=new_format)
    if isinstance(inpt, rustdl.Tensor):
        if old_format is None:
            raise ValueError("For pure tensor inputs, `old_format` has to be passed.")
        a = _np(inpt)
        return _tensor(_convert(a, old_format, new_format), a.dtype)
    raise TypeError(f"Input can either be a plain tensor or a bounding box tv_tensor, but got {type(inpt)} instead.")


# ----------------------------------------------------------------- clamping
def _clamp(b, format, canvas_size, clamping_mode):
    """Clamp a numpy box array (any dtype) to the canvas, as ``_clamp_bounding_boxes``."""
    if clamping_mode is None:
        return b.copy()
    if is_rotated_bounding_format(format):
        raise NotImplementedError(
            f"clamping rotated bounding boxes ({format.name}) is not implemented in rustdl; pass clamping_mode=None"
        )
    xyxy = _convert(_float(b), format, BoundingBoxFormat.XYXY)
    xyxy[..., 0::2] = np.clip(xyxy[..., 0::2], 0, canvas_size[1])
    xyxy[..., 1::2] = np.clip(xyxy[..., 1::2], 0, canvas_size[0])
    return _cast_back(_convert(xyxy, BoundingBoxFormat.XYXY, format), b.dtype)


def clamp_bounding_boxes(inpt, format=None, canvas_size=None, clamping_mode="auto"):
    """Clip boxes to their canvas (``soft``/``hard`` are the same for axis-aligned boxes)."""
    if clamping_mode is not None and clamping_mode not in ("soft", "hard", "auto"):
        raise ValueError(f"clamping_mode must be soft, hard, auto or None, got {clamping_mode}")
    if isinstance(inpt, BoundingBoxes):
        if format is not None or canvas_size is not None:
            raise ValueError("For bounding box tv_tensor inputs, `format` and `canvas_size` must not be passed.")
        if clamping_mode == "auto":
            clamping_mode = inpt.clamping_mode
        a = _np(inpt)
        return wrap(_tensor(_clamp(a, inpt.format, inpt.canvas_size, clamping_mode), a.dtype), like=inpt)
    if isinstance(inpt, rustdl.Tensor):
        if format is None or canvas_size is None or clamping_mode == "auto":
            raise ValueError("For pure tensor inputs, `format`, `canvas_size` and `clamping_mode` have to be passed.")
        a = _np(inpt)
        return _tensor(_clamp(a, _fmt(format), canvas_size, clamping_mode), a.dtype)
    raise TypeError(f"Input can either be a plain tensor or a bounding box tv_tensor, but got {type(inpt)} instead.")


def clamp_keypoints(inpt, canvas_size=None):
    """Clip (x, y) to ``[0, W - 1] x [0, H - 1]``."""
    if isinstance(inpt, KeyPoints):
        if canvas_size is not None:
            raise ValueError("For keypoints tv_tensor inputs, `canvas_size` must not be passed.")
        return wrap(_clamp_keypoints_tensor(inpt, inpt.canvas_size), like=inpt)
    if isinstance(inpt, rustdl.Tensor):
        if canvas_size is None:
            raise ValueError("For pure tensor inputs, `canvas_size` has to be passed.")
        return _clamp_keypoints_tensor(inpt, canvas_size)
    raise TypeError(f"Input can either be a plain tensor or a keypoints tv_tensor, but got {type(inpt)} instead.")


def _clamp_keypoints_tensor(t, canvas_size):
    a = _np(t)
    k = _float(a)
    k[..., 0] = np.clip(k[..., 0], 0, canvas_size[1] - 1)
    k[..., 1] = np.clip(k[..., 1], 0, canvas_size[0] - 1)
    return _tensor(_cast_back(k, a.dtype), a.dtype)


# ----------------------------------------------------------------- size
def get_size_bounding_boxes(bounding_box):
    return list(bounding_box.canvas_size)


def get_size_keypoints(keypoints):
    return list(keypoints.canvas_size)


# ----------------------------------------------------------------- flips
def _width(format):
    return 8 if format == BoundingBoxFormat.XYXYXYXY else 5 if is_rotated_bounding_format(format) else 4


def horizontal_flip_keypoints(keypoints, canvas_size):
    a = _np(keypoints)
    k = a.reshape(-1, 2).copy()
    k[:, 0] = -(k[:, 0] - (canvas_size[1] - 1))
    return _tensor(k.reshape(a.shape), a.dtype)


def vertical_flip_keypoints(keypoints, canvas_size):
    a = _np(keypoints)
    k = a.reshape(-1, 2).copy()
    k[:, 1] = -(k[:, 1] - (canvas_size[0] - 1))
    return _tensor(k.reshape(a.shape), a.dtype)


def _flip_boxes(a, format, canvas_size, axis):
    """``axis`` 0 flips x (horizontal), 1 flips y (vertical)."""
    format = _fmt(format)
    b = a.reshape(-1, _width(format)).copy()
    size = canvas_size[1] if axis == 0 else canvas_size[0]
    lo, hi = (0, 2) if axis == 0 else (1, 3)
    B = BoundingBoxFormat
    if format == B.XYXY:
        b[:, [hi, lo]] = -(b[:, [lo, hi]] - size)
    elif format == B.XYWH:
        b[:, axis] = -(b[:, axis] + b[:, axis + 2] - size)
    elif format == B.CXCYWH:
        b[:, axis] = -(b[:, axis] - size)
    elif format == B.XYXYXYXY:
        b[:, axis::2] = -(b[:, axis::2] - size)
        b = b[:, [2, 3, 0, 1, 6, 7, 4, 5]]
    elif format == B.XYWHR:
        r = b[:, 4] * math.pi / 180
        if axis == 0:
            b[:, 0] = -(b[:, 0] + b[:, 2] * np.cos(r) - size)
            b[:, 1] = b[:, 1] - b[:, 2] * np.sin(r)
            b[:, 4] = -b[:, 4]
        else:
            b[:, 1] = -(b[:, 1] - b[:, 2] * np.sin(r) - size)
            b[:, 0] = b[:, 0] + b[:, 2] * np.cos(r)
            b[:, 4] = -b[:, 4] + 180
    else:  # CXCYWHR
        b[:, axis] = -(b[:, axis] - size)
        b[:, 4] = -b[:, 4] if axis == 0 else -b[:, 4] + 180
    return _tensor(b.reshape(a.shape), a.dtype)


def horizontal_flip_bounding_boxes(bounding_boxes, format, canvas_size):
    return _flip_boxes(_np(bounding_boxes), format, canvas_size, 0)


def vertical_flip_bounding_boxes(bounding_boxes, format, canvas_size):
    return _flip_boxes(_np(bounding_boxes), format, canvas_size, 1)


# ----------------------------------------------------------------- resize
def _resized_size(canvas_size, size, max_size):
    if isinstance(size, int):
        size = [size]
    elif max_size is not None and size is not None and len(size) != 1:
        raise ValueError(
            "max_size should only be passed if size is None or specifies the length of the smaller edge, "
            "i.e. size should be an int or a sequence of length 1 in torchscript mode."
        )
    if size is None:
        if max_size is None:
            raise ValueError("size can only be None if max_size is also set")
        h, w = canvas_size
        short, long = (w, h) if w <= h else (h, w)
        new_short, new_long = int(max_size * short / long), max_size
        return (new_long, new_short) if w <= h else (new_short, new_long)
    out = _F._compute_resized_output_size(tuple(canvas_size), list(size), max_size)
    return tuple(out)


def resize_keypoints(keypoints, size, canvas_size, max_size=None):
    new_h, new_w = _resized_size(canvas_size, size, max_size)
    if (new_h, new_w) == tuple(canvas_size):
        return keypoints, tuple(canvas_size)
    a = _np(keypoints)
    ratios = np.array([new_w / canvas_size[1], new_h / canvas_size[0]], F32)
    out = (_float(a) if not np.issubdtype(a.dtype, np.floating) else a) * ratios
    return _tensor(_cast_back(out, a.dtype), a.dtype), (new_h, new_w)


def _parallelogram_to_bounding_boxes(p):
    dtype = p.dtype
    q = p.astype(F32) if dtype not in (np.float32, np.float64) else p
    x1, y1, x2, y2, x3, y3, x4, y4 = (q[..., i] for i in range(8))
    cx, cy = (x1 + x3) / 2, (y1 + y3) / 2
    wp = np.sqrt((x2 - x1) ** 2 + (y2 - y1) ** 2)
    hp = np.sqrt((x4 - x1) ** 2 + (y4 - y1) ** 2)
    r12 = np.arctan2(y1 - y2, x2 - x1)
    r14 = np.arctan2(y1 - y4, x4 - x1)
    r = r12 - r14
    sign = np.where(r > math.pi / 2, -1, 1).astype(q.dtype)
    cos, sin = np.cos(r), np.sin(r)
    w = np.where(wp < hp, wp * sin, wp + hp * cos * sign)
    h = np.where(wp > hp, hp * sin, hp + wp * cos * sign)
    r = np.where(hp > wp, r14 + math.pi / 2, r12).astype(q.dtype)
    cos, sin = np.cos(r), np.sin(r)
    out = np.stack((cx - w / 2 * cos - h / 2 * sin, cy - h / 2 * cos + w / 2 * sin,
                    cx + w / 2 * cos - h / 2 * sin, cy - h / 2 * cos - w / 2 * sin,
                    cx + w / 2 * cos + h / 2 * sin, cy + h / 2 * cos - w / 2 * sin,
                    cx - w / 2 * cos + h / 2 * sin, cy + h / 2 * cos + w / 2 * sin), axis=-1)
    return out.astype(dtype)


def resize_bounding_boxes(bounding_boxes, canvas_size, size, max_size=None, format=BoundingBoxFormat.XYXY,
                          clamping_mode="soft"):
    format = _fmt(format)
    new_h, new_w = _resized_size(canvas_size, size, max_size)
    if (new_h, new_w) == tuple(canvas_size):
        return bounding_boxes, tuple(canvas_size)
    a = _np(bounding_boxes)
    wr, hr = new_w / canvas_size[1], new_h / canvas_size[0]
    if is_rotated_bounding_format(format):
        pts = _convert(a, format, BoundingBoxFormat.XYXYXYXY).reshape(-1, 8)
        pts = pts * np.array([wr, hr] * 4, F32)
        out = _parallelogram_to_bounding_boxes(pts)
        out = _clamp(out, BoundingBoxFormat.XYXYXYXY, (new_h, new_w), clamping_mode)
        out = _convert(out, BoundingBoxFormat.XYXYXYXY, format).reshape(a.shape)
        return _tensor(_cast_back(out, a.dtype), a.dtype), (new_h, new_w)
    base = a if np.issubdtype(a.dtype, np.floating) else a.astype(F32)
    out = base * np.array([wr, hr, wr, hr], F32)
    return _tensor(_cast_back(out, a.dtype), a.dtype), (new_h, new_w)


# ----------------------------------------------------------------- affine / rotate
def _affine_args(angle, translate, scale, shear, center):
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
    shear = [shear, 0.0] if isinstance(shear, numbers.Number) else list(shear)
    if len(shear) == 1:
        shear = [shear[0], shear[0]]
    if len(shear) != 2:
        raise ValueError(f"Shear should be a sequence containing two values. Got {shear}")
    if center is not None:
        if not isinstance(center, (list, tuple)):
            raise TypeError("Argument center should be a sequence")
        center = [float(c) for c in center]
    return float(angle), list(translate), shear, center


def _forward_affine_matrix(center, angle, translate, scale, shear):
    """torchvision's ``_get_inverse_affine_matrix(..., inverted=False)``."""
    rot, sx, sy = math.radians(angle), math.radians(shear[0]), math.radians(shear[1])
    cx, cy = center
    tx, ty = translate
    a = math.cos(rot - sy) / math.cos(sy)
    b = -(a * math.tan(sx) + math.sin(rot))
    c = math.sin(rot - sy) / math.cos(sy)
    d = math.cos(rot) - c * math.tan(sx)
    m = [a * scale, b * scale, 0.0, c * scale, d * scale, 0.0]
    m[2] += cx + tx - m[0] * cx - m[1] * cy
    m[5] += cy + ty - m[3] * cx - m[4] * cy
    return m


def _inverse_affine_matrix(center, angle, translate, scale, shear):
    rot, sx, sy = math.radians(angle), math.radians(shear[0]), math.radians(shear[1])
    cx, cy = center
    tx, ty = translate
    a = math.cos(rot - sy) / math.cos(sy)
    b = -(a * math.tan(sx) + math.sin(rot))
    c = math.sin(rot - sy) / math.cos(sy)
    d = math.cos(rot) - c * math.tan(sx)
    m = [d / scale, -b / scale, 0.0, -c / scale, a / scale, 0.0]
    m[2] += cx - m[0] * (cx + tx) - m[1] * (cy + ty)
    m[5] += cy - m[3] * (cx + tx) - m[4] * (cy + ty)
    return m


def _affine_output_size(matrix, w, h):
    """torchvision's ``_compute_affine_output_size_tensor`` (float32 corners, 1e-4 truncation)."""
    hw, hh = 0.5 * w, 0.5 * h
    pts = np.array([[-hw, -hh, 1.0], [-hw, hh, 1.0], [hw, hh, 1.0], [hw, -hh, 1.0]], F32)
    theta = np.array(matrix, F32).reshape(2, 3)
    new = pts @ theta.T
    mn, mx = new.min(0) + np.array([hw, hh], F32), new.max(0) + np.array([hw, hh], F32)
    tol, inv = F32(1e-4), F32(1.0 / 1e-4)
    cmax = np.ceil(np.trunc(mx * inv) * tol)
    cmin = np.floor(np.trunc(mn * inv) * tol)
    size = cmax - cmin
    return int(size[0]), int(size[1])


def _affine_points(points, canvas_size, angle, translate, scale, shear, center, expand, dtype):
    """``points`` ``(P, 2)`` through the forward affine map; with ``expand`` shifted into
    the enlarged canvas. Returns the points, the shift applied and the new canvas."""
    angle, translate, shear, center = _affine_args(angle, translate, scale, shear, center)
    height, width = canvas_size
    if center is None:
        center = [width * 0.5, height * 0.5]
    mt = np.array(_forward_affine_matrix(center, angle, translate, scale, shear), dtype).reshape(2, 3).T
    homog = np.concatenate([points, np.ones((points.shape[0], 1), dtype)], axis=-1)
    out = homog @ mt
    shift = None
    if expand:
        corners = np.array([[0.0, 0.0, 1.0], [0.0, float(height), 1.0], [float(width), float(height), 1.0],
                            [float(width), 0.0, 1.0]], dtype)
        shift = (corners @ mt).min(0, keepdims=True)
        new_w, new_h = _affine_output_size(_inverse_affine_matrix(center, angle, translate, scale, shear),
                                           width, height)
        canvas_size = (new_h, new_w)
    return out, shift, tuple(canvas_size)


def _affine_keypoints(keypoints, canvas_size, angle, translate, scale, shear, center, expand):
    a = _np(keypoints)
    if a.size == 0:
        return keypoints, tuple(canvas_size)
    k = _float(a).reshape(-1, 2)
    out, shift, canvas_size = _affine_points(k, canvas_size, angle, translate, scale, shear, center, expand,
                                             k.dtype)
    if shift is not None:
        out = out - shift
    return _tensor(_cast_back(out.reshape(a.shape), a.dtype), a.dtype), canvas_size


def affine_keypoints(keypoints, canvas_size, angle, translate, scale, shear, center=None):
    return _affine_keypoints(keypoints, canvas_size, angle, translate, scale, shear, center, False)


def rotate_keypoints(keypoints, canvas_size, angle, expand=False, center=None):
    return _affine_keypoints(keypoints, canvas_size, -angle, [0.0, 0.0], 1.0, [0.0, 0.0], center, expand)


_CORNERS = [[0, 1], [2, 1], [2, 3], [0, 3]]


def _boxes_from_points(pts, rotated):
    """Mapped corners ``(N*4, 2)`` -> XYXY extents or refit XYXYXYXY rectangles."""
    if rotated:
        return _parallelogram_to_bounding_boxes(pts.reshape(-1, 8))
    pts = pts.reshape(-1, 4, 2)
    return np.concatenate([pts.min(1), pts.max(1)], axis=1)


def _affine_boxes(bounding_boxes, format, canvas_size, angle, translate, scale, shear, center, expand,
                  clamping_mode):
    format = _fmt(format)
    a = _np(bounding_boxes)
    if a.size == 0:
        return bounding_boxes, tuple(canvas_size)
    rotated = is_rotated_bounding_format(format)
    inter = BoundingBoxFormat.XYXYXYXY if rotated else BoundingBoxFormat.XYXY
    b = _convert(_float(a), format, inter).reshape(-1, 8 if rotated else 4)
    pts = b.reshape(-1, 2) if rotated else b[:, _CORNERS].reshape(-1, 2)
    out, shift, canvas_size = _affine_points(pts, canvas_size, angle, translate, scale, shear, center, expand,
                                             b.dtype)
    boxes = _boxes_from_points(out, rotated)
    if shift is not None:
        boxes = boxes - np.tile(shift, (1, 4 if rotated else 2))
    boxes = _clamp(boxes, inter, canvas_size, clamping_mode)
    boxes = _convert(boxes, inter, format).reshape(a.shape)
    return _tensor(_cast_back(boxes, a.dtype), a.dtype), canvas_size


def affine_bounding_boxes(bounding_boxes, format, canvas_size, angle, translate, scale, shear, center=None,
                          clamping_mode="soft"):
    return _affine_boxes(bounding_boxes, format, canvas_size, angle, translate, scale, shear, center, False,
                         clamping_mode)[0]


def rotate_bounding_boxes(bounding_boxes, format, canvas_size, angle, expand=False, center=None,
                          clamping_mode="soft"):
    return _affine_boxes(bounding_boxes, format, canvas_size, -angle, [0.0, 0.0], 1.0, [0.0, 0.0], center, expand,
                         clamping_mode)


# ----------------------------------------------------------------- pad / crop
def _parse_pad(padding):
    if isinstance(padding, int):
        return [padding] * 4
    if isinstance(padding, (tuple, list)):
        if len(padding) == 1:
            return [padding[0]] * 4
        if len(padding) == 2:
            return [padding[0], padding[0], padding[1], padding[1]]
        if len(padding) == 4:
            return [padding[0], padding[2], padding[1], padding[3]]
        raise ValueError(f"Padding must be an int or a 1, 2, or 4 element tuple or list. Found {len(padding)}")
    raise TypeError(f"`padding` should be an integer or tuple or list of integers, but got {padding}")


def _offset(format, x, y):
    B = BoundingBoxFormat
    if format == B.XYXYXYXY:
        return [x, y] * 4
    if format in (B.XYWHR, B.CXCYWHR):
        return [x, y, 0, 0, 0]
    if format == B.XYXY:
        return [x, y, x, y]
    return [x, y, 0, 0]


def pad_keypoints(keypoints, canvas_size, padding, padding_mode="constant"):
    if padding_mode not in ["constant"]:
        raise ValueError(f"Padding mode '{padding_mode}' is not supported with KeyPoints"
                         " (supported modes are constant)")
    left, right, top, bottom = _parse_pad(padding)
    a = _np(keypoints)
    out = a + np.array([left, top], a.dtype)
    return _tensor(out, a.dtype), (canvas_size[0] + top + bottom, canvas_size[1] + left + right)


def pad_bounding_boxes(bounding_boxes, format, canvas_size, padding, padding_mode="constant",
                       clamping_mode="soft"):
    if padding_mode not in ["constant"]:
        raise ValueError(f"Padding mode '{padding_mode}' is not supported with bounding boxes")
    format = _fmt(format)
    left, right, top, bottom = _parse_pad(padding)
    a = _np(bounding_boxes)
    b = a + np.array(_offset(format, left, top), a.dtype)
    canvas_size = (canvas_size[0] + top + bottom, canvas_size[1] + left + right)
    return _tensor(_clamp(b, format, canvas_size, clamping_mode), a.dtype), canvas_size


def crop_keypoints(keypoints, top, left, height, width):
    a = _np(keypoints)
    return _tensor(a - np.array([left, top], a.dtype), a.dtype), (height, width)


def crop_bounding_boxes(bounding_boxes, format, top, left, height, width, clamping_mode="soft"):
    format = _fmt(format)
    a = _np(bounding_boxes)
    b = a - np.array(_offset(format, left, top), a.dtype)
    if format == BoundingBoxFormat.XYXYXYXY:
        b = _parallelogram_to_bounding_boxes(b)
    return _tensor(_clamp(b, format, (height, width), clamping_mode), a.dtype), (height, width)


def _center_crop_box(canvas_size, output_size):
    if isinstance(output_size, numbers.Number):
        ch = cw = int(output_size)
    elif isinstance(output_size, (tuple, list)) and len(output_size) == 1:
        ch = cw = output_size[0]
    else:
        ch, cw = output_size
    top = round((canvas_size[0] - ch) / 2.0)
    left = round((canvas_size[1] - cw) / 2.0)
    return top, left, ch, cw


def center_crop_keypoints(inpt, canvas_size, output_size):
    top, left, h, w = _center_crop_box(canvas_size, output_size)
    return crop_keypoints(inpt, top, left, h, w)


def center_crop_bounding_boxes(bounding_boxes, format, canvas_size, output_size, clamping_mode="soft"):
    top, left, h, w = _center_crop_box(canvas_size, output_size)
    return crop_bounding_boxes(bounding_boxes, format, top, left, h, w, clamping_mode=clamping_mode)


def resized_crop_keypoints(keypoints, top, left, height, width, size):
    keypoints, canvas_size = crop_keypoints(keypoints, top, left, height, width)
    return resize_keypoints(keypoints, size=size, canvas_size=canvas_size)


def resized_crop_bounding_boxes(bounding_boxes, format, top, left, height, width, size, clamping_mode="soft"):
    bounding_boxes, canvas_size = crop_bounding_boxes(bounding_boxes, format, top, left, height, width,
                                                      clamping_mode=clamping_mode)
    return resize_bounding_boxes(bounding_boxes, format=format, canvas_size=canvas_size, size=size,
                                 clamping_mode=clamping_mode)


# ----------------------------------------------------------------- perspective
def _perspective_coefficients(startpoints, endpoints, coefficients):
    if coefficients is not None:
        if startpoints is not None and endpoints is not None:
            raise ValueError("The startpoints/endpoints and the coefficients shouldn't be defined concurrently.")
        if len(coefficients) != 8:
            raise ValueError("Argument coefficients should have 8 float values")
        return list(coefficients)
    if startpoints is not None and endpoints is not None:
        return _F._get_perspective_coeffs(startpoints, endpoints)
    raise ValueError("Either the startpoints/endpoints or the coefficients must have non `None` values.")


def _perspective_points(points, coeffs, dtype, what):
    c = coeffs
    denom = c[0] * c[4] - c[1] * c[3]
    if denom == 0:
        raise RuntimeError(
            f"Provided perspective_coeffs {coeffs} can not be inverted to transform {what}. "
            f"Denominator is zero, denom={denom}"
        )
    inv = [
        (c[4] - c[5] * c[7]) / denom, (-c[1] + c[2] * c[7]) / denom, (c[1] * c[5] - c[2] * c[4]) / denom,
        (-c[3] + c[5] * c[6]) / denom, (c[0] - c[2] * c[6]) / denom, (-c[0] * c[5] + c[2] * c[3]) / denom,
        (-c[4] * c[6] + c[3] * c[7]) / denom, (-c[0] * c[7] + c[1] * c[6]) / denom,
    ]
    theta1 = np.array([[inv[0], inv[1], inv[2]], [inv[3], inv[4], inv[5]]], dtype)
    theta2 = np.array([[inv[6], inv[7], 1.0], [inv[6], inv[7], 1.0]], dtype)
    homog = np.concatenate([points, np.ones((points.shape[0], 1), dtype)], axis=-1)
    return (homog @ theta1.T) / (homog @ theta2.T)


def perspective_keypoints(keypoints, canvas_size, startpoints, endpoints, coefficients=None):
    a = _np(keypoints)
    if a.size == 0:
        return keypoints
    coeffs = _perspective_coefficients(startpoints, endpoints, coefficients)
    k = _float(a).reshape(-1, 2)
    out = _perspective_points(k, coeffs, k.dtype, "keypoints")
    return _tensor(_cast_back(out.reshape(a.shape), a.dtype), a.dtype)


def perspective_bounding_boxes(bounding_boxes, format, canvas_size, startpoints, endpoints, coefficients=None,
                               clamping_mode="soft"):
    a = _np(bounding_boxes)
    if a.size == 0:
        return bounding_boxes
    format = _fmt(format)
    coeffs = _perspective_coefficients(startpoints, endpoints, coefficients)
    rotated = is_rotated_bounding_format(format)
    inter = BoundingBoxFormat.XYXYXYXY if rotated else BoundingBoxFormat.XYXY
    b = _float(_convert(a, format, inter)).reshape(-1, 8 if rotated else 4)
    pts = b.reshape(-1, 2) if rotated else b[:, _CORNERS].reshape(-1, 2)
    out = _boxes_from_points(_perspective_points(pts, coeffs, b.dtype, "bounding boxes"), rotated)
    out = _clamp(out, inter, canvas_size, clamping_mode)
    out = _convert(out, inter, format).reshape(a.shape)
    return _tensor(_cast_back(out, a.dtype), a.dtype)


# ----------------------------------------------------------------- elastic
def _inverse_grid_lookup(points, canvas_size, displacement, dtype):
    disp = _np(displacement).astype(dtype)
    grid = _F._identity_grid(canvas_size[0], canvas_size[1]).astype(dtype) - disp[0]
    idx = points.astype(np.int64)
    ix = np.clip(idx[:, 0], 0, grid.shape[1] - 1)
    iy = np.clip(idx[:, 1], 0, grid.shape[0] - 1)
    t_size = np.array(canvas_size[::-1], dtype)
    return (grid[iy, ix, :] + 1) * (dtype(0.5) * t_size) - dtype(0.5)


def _check_displacement(displacement, canvas_size):
    expected = (1, canvas_size[0], canvas_size[1], 2)
    if not isinstance(displacement, rustdl.Tensor):
        raise TypeError("Argument displacement should be a Tensor")
    if tuple(displacement.shape) != expected:
        raise ValueError(f"Argument displacement shape should be {expected}, but given {displacement.shape}")


def elastic_keypoints(keypoints, canvas_size, displacement):
    _check_displacement(displacement, canvas_size)
    a = _np(keypoints)
    if a.size == 0:
        return keypoints
    dtype = a.dtype.type if np.issubdtype(a.dtype, np.floating) else F32
    out = _inverse_grid_lookup(a.reshape(-1, 2), canvas_size, displacement, dtype)
    return _tensor(_cast_back(out.reshape(a.shape), a.dtype), a.dtype)


def elastic_bounding_boxes(bounding_boxes, format, canvas_size, displacement, clamping_mode="soft"):
    _check_displacement(displacement, canvas_size)
    a = _np(bounding_boxes)
    if a.size == 0:
        return bounding_boxes
    format = _fmt(format)
    dtype = a.dtype.type if np.issubdtype(a.dtype, np.floating) else F32
    rotated = is_rotated_bounding_format(format)
    inter = BoundingBoxFormat.CXCYWHR if rotated else BoundingBoxFormat.XYXY
    b = _convert(a, format, inter).reshape(-1, 5 if rotated else 4)
    pts = (b[:, :2] if rotated else b[:, _CORNERS]).reshape(-1, 2)
    if np.issubdtype(pts.dtype, np.floating):
        pts = np.ceil(pts)
    moved = _inverse_grid_lookup(pts, canvas_size, displacement, dtype)
    if rotated:
        out = np.concatenate([moved.reshape(-1, 2), b[:, 2:]], axis=1).astype(b.dtype)
    else:
        moved = moved.reshape(-1, 4, 2)
        out = np.concatenate([moved.min(1), moved.max(1)], axis=1).astype(b.dtype)
    out = _clamp(out, inter, canvas_size, clamping_mode)
    return _tensor(_convert(out, inter, format).reshape(a.shape), a.dtype)


# ----------------------------------------------------------------- sanitize
def _sanitize_boxes_mask(a, format, canvas_size, min_size, min_area):
    rotated = is_rotated_bounding_format(format)
    b = _convert(a, format, BoundingBoxFormat.XYXYXYXY if rotated else BoundingBoxFormat.XYXY)
    if rotated:
        ws = np.sqrt((b[..., 0] - b[..., 2]) ** 2 + (b[..., 1] - b[..., 3]) ** 2)
        hs = np.sqrt((b[..., 3] - b[..., 5]) ** 2 + (b[..., 4] - b[..., 6]) ** 2)
    else:
        ws, hs = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
    valid = (ws >= min_size) & (hs >= min_size) & (b >= 0).all(axis=-1) & (ws * hs >= min_area)
    image_h, image_w = canvas_size
    valid &= (b[:, 0] <= image_w) & (b[:, 2] <= image_w)
    valid &= (b[:, 1] <= image_h) & (b[:, 3] <= image_h)
    if rotated:
        valid &= (b[..., 4] <= image_w) & (b[..., 5] <= image_h)
        valid &= (b[..., 6] <= image_w) & (b[..., 7] <= image_h)
    return valid


def sanitize_bounding_boxes(bounding_boxes, format=None, canvas_size=None, min_size=1.0, min_area=1.0):
    """The boxes at least ``min_size`` wide and high, of area ``min_area``, inside the
    canvas; and the boolean mask that selected them (to subset labels alike)."""
    if isinstance(bounding_boxes, BoundingBoxes):
        if format is not None or canvas_size is not None:
            raise ValueError(
                "format and canvas_size must be None when bounding_boxes is a tv_tensors.BoundingBoxes instance. "
                f"Got format={format} and canvas_size={canvas_size}. "
                "Leave those to None or pass bounding_boxes as a pure tensor."
            )
        a = _np(bounding_boxes)
        valid = _sanitize_boxes_mask(a, bounding_boxes.format, bounding_boxes.canvas_size, min_size, min_area)
        return wrap(_tensor(a[valid], a.dtype), like=bounding_boxes), rustdl.from_numpy(valid)
    if not isinstance(bounding_boxes, rustdl.Tensor):
        raise ValueError("bounding_boxes must be a tv_tensors.BoundingBoxes instance or a pure tensor.")  # noqa: TRY004
    if format is None or canvas_size is None:
        raise ValueError(
            "format and canvas_size cannot be None if bounding_boxes is a pure tensor. "
            f"Got format={format} and canvas_size={canvas_size}."
            "Set those to appropriate values or pass bounding_boxes as a tv_tensors.BoundingBoxes object."
        )
    a = _np(bounding_boxes)
    valid = _sanitize_boxes_mask(a, _fmt(format), canvas_size, min_size, min_area)
    return _tensor(a[valid], a.dtype), rustdl.from_numpy(valid)


def _sanitize_keypoints_mask(a, canvas_size):
    h, w = canvas_size
    x, y = a[..., 0], a[..., 1]
    valid = (x >= 0) & (x < w) & (y >= 0) & (y < h)
    return valid.reshape(valid.shape[0], -1).all(axis=1) if valid.ndim > 1 else valid


def sanitize_keypoints(key_points, canvas_size=None):
    """The keypoints (or whole groups ``[N, ..., 2]``) inside the canvas, and their mask."""
    if isinstance(key_points, KeyPoints):
        if canvas_size is not None:
            raise ValueError(
                "canvas_size must be None when key_points is a tv_tensors.KeyPoints instance. "
                f"Got canvas_size={canvas_size}. Leave it to None or pass key_points as a pure tensor."
            )
        a = _np(key_points)
        valid = _sanitize_keypoints_mask(a, key_points.canvas_size)
        return wrap(_tensor(a[valid], a.dtype), like=key_points), rustdl.from_numpy(valid)
    if not isinstance(key_points, rustdl.Tensor):
        raise ValueError("key_points must be a tv_tensors.KeyPoints instance or a pure tensor.")  # noqa: TRY004
    if canvas_size is None:
        raise ValueError(
            "canvas_size cannot be None if key_points is a pure tensor. "
            "Set it to an appropriate value or pass key_points as a tv_tensors.KeyPoints object."
        )
    a = _np(key_points)
    valid = _sanitize_keypoints_mask(a, canvas_size)
    return _tensor(a[valid], a.dtype), rustdl.from_numpy(valid)
