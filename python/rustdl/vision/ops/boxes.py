"""Box utilities of ``torchvision.ops`` (boxes are (N, 4) tensors, ``xyxy`` unless
stated): area, IoU, format conversion, clipping, and non-maximum suppression."""

import numpy as np

import rustdl

__all__ = [
    "batched_nms",
    "box_area",
    "box_convert",
    "box_iou",
    "clip_boxes_to_image",
    "complete_box_iou",
    "distance_box_iou",
    "generalized_box_iou",
    "masks_to_boxes",
    "nms",
    "remove_small_boxes",
]


def box_area(boxes):
    """Areas of (x1, y1, x2, y2) boxes."""
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def _box_inter_union(boxes1, boxes2):
    area1 = box_area(boxes1)
    area2 = box_area(boxes2)
    lt = rustdl.max(boxes1[:, None, :2], boxes2[:, :2])
    rb = rustdl.min(boxes1[:, None, 2:], boxes2[:, 2:])
    wh = (rb - lt).clamp(min=0)
    inter = wh[:, :, 0] * wh[:, :, 1]
    union = area1[:, None] + area2 - inter
    return inter, union


def box_iou(boxes1, boxes2):
    """(N, M) intersection over union of every pair."""
    inter, union = _box_inter_union(boxes1, boxes2)
    return inter / union


def generalized_box_iou(boxes1, boxes2):
    """(N, M) generalized IoU: IoU minus the empty part of the enclosing box."""
    inter, union = _box_inter_union(boxes1, boxes2)
    iou = inter / union
    lti = rustdl.min(boxes1[:, None, :2], boxes2[:, :2])
    rbi = rustdl.max(boxes1[:, None, 2:], boxes2[:, 2:])
    whi = (rbi - lti).clamp(min=0)
    areai = whi[:, :, 0] * whi[:, :, 1]
    return iou - (areai - union) / areai


def box_convert(boxes, in_fmt, out_fmt):
    """Convert between ``xyxy``, ``xywh`` (corner + size) and ``cxcywh`` (centre + size)."""
    allowed = ("xyxy", "xywh", "cxcywh")
    if in_fmt not in allowed or out_fmt not in allowed:
        raise ValueError("Unsupported Bounding Box Conversions for given in_fmt and out_fmt")
    if in_fmt == out_fmt:
        return boxes.clone()
    a, b, c, d = boxes.unbind(-1)
    if in_fmt == "xywh":
        c, d = a + c, b + d
    elif in_fmt == "cxcywh":
        a, b, c, d = a - 0.5 * c, b - 0.5 * d, a + 0.5 * c, b + 0.5 * d
    if out_fmt == "xywh":
        c, d = c - a, d - b
    elif out_fmt == "cxcywh":
        a, b, c, d = (a + c) / 2, (b + d) / 2, c - a, d - b
    return rustdl.stack((a, b, c, d), dim=-1)


def clip_boxes_to_image(boxes, size):
    """Clip the coordinates to an image of ``size`` (height, width)."""
    height, width = size
    x = boxes[..., 0::2].clamp(min=0, max=width)
    y = boxes[..., 1::2].clamp(min=0, max=height)
    return rustdl.stack((x, y), dim=-1).reshape(boxes.shape)


def remove_small_boxes(boxes, min_size):
    """Indices of the boxes whose sides are both at least ``min_size``."""
    ws, hs = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    keep = (ws >= min_size) & (hs >= min_size)
    return rustdl.where(keep)[0]


def nms(boxes, scores, iou_threshold):
    """Greedy non-maximum suppression: the indices (int64) of the kept boxes, by
    decreasing score; a box is dropped when its IoU with a kept one exceeds
    ``iou_threshold``."""
    b = boxes.detach().numpy().astype(np.float64)
    s = scores.detach().numpy()
    if b.ndim != 2 or b.shape[-1] != 4:
        raise RuntimeError(f"boxes should have shape (N, 4), got {tuple(boxes.shape)}")
    if s.shape != (b.shape[0],):
        raise RuntimeError(f"scores should have shape ({b.shape[0]},), got {tuple(scores.shape)}")
    order = np.argsort(-s, kind="stable")
    areas = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    suppressed = np.zeros(len(b), dtype=bool)
    keep = []
    for pos, i in enumerate(order):
        if suppressed[i]:
            continue
        keep.append(i)
        rest = order[pos + 1 :]
        xx1 = np.maximum(b[i, 0], b[rest, 0])
        yy1 = np.maximum(b[i, 1], b[rest, 1])
        xx2 = np.minimum(b[i, 2], b[rest, 2])
        yy2 = np.minimum(b[i, 3], b[rest, 3])
        inter = np.clip(xx2 - xx1, 0, None) * np.clip(yy2 - yy1, 0, None)
        iou = inter / (areas[i] + areas[rest] - inter)
        suppressed[rest[iou > iou_threshold]] = True
    return rustdl.from_numpy(np.asarray(keep, dtype=np.int64))


def batched_nms(boxes, scores, idxs, iou_threshold):
    """``nms`` within each category of ``idxs`` (boxes of different categories never
    suppress each other); kept indices by decreasing score."""
    if boxes.numel() == 0:
        return rustdl.empty((0,), dtype=rustdl.int64)
    b = boxes.detach().numpy().astype(np.float64)
    offsets = idxs.detach().numpy().astype(np.float64) * (b.max() + 1)
    shifted = rustdl.from_numpy(b + offsets[:, None])
    return nms(shifted, scores, iou_threshold)


def _upcast(t):
    if t.is_floating_point():
        return t if t.dtype in (rustdl.float32, rustdl.float64) else t.float()
    return t if t.dtype in (rustdl.int32, rustdl.int64) else t.int()


def _box_diou_iou(boxes1, boxes2, eps=1e-7):
    iou = box_iou(boxes1, boxes2)
    lti = rustdl.min(boxes1[..., None, :2], boxes2[..., None, :, :2])
    rbi = rustdl.max(boxes1[..., None, 2:], boxes2[..., None, :, 2:])
    whi = _upcast(rbi - lti).clamp(min=0)
    diagonal_distance_squared = (whi[..., 0] ** 2) + (whi[..., 1] ** 2) + eps
    x_p = (boxes1[..., 0] + boxes1[..., 2]) / 2
    y_p = (boxes1[..., 1] + boxes1[..., 3]) / 2
    x_g = (boxes2[..., 0] + boxes2[..., 2]) / 2
    y_g = (boxes2[..., 1] + boxes2[..., 3]) / 2
    centers_distance_squared = (_upcast(x_p[..., None] - x_g[..., None, :]) ** 2) + (
        _upcast(y_p[..., None] - y_g[..., None, :]) ** 2
    )
    return iou - (centers_distance_squared / diagonal_distance_squared), iou


def distance_box_iou(boxes1, boxes2, eps=1e-7):
    """(N, M) distance IoU: IoU less the squared centre distance over the squared
    diagonal of the enclosing box."""
    diou, _ = _box_diou_iou(_upcast(boxes1), _upcast(boxes2), eps=eps)
    return diou


def complete_box_iou(boxes1, boxes2, eps=1e-7):
    """(N, M) complete IoU: distance IoU less an aspect-ratio consistency term."""
    boxes1, boxes2 = _upcast(boxes1), _upcast(boxes2)
    diou, iou = _box_diou_iou(boxes1, boxes2, eps)
    w_pred = boxes1[..., None, 2] - boxes1[..., None, 0]
    h_pred = boxes1[..., None, 3] - boxes1[..., None, 1]
    w_gt = boxes2[..., None, :, 2] - boxes2[..., None, :, 0]
    h_gt = boxes2[..., None, :, 3] - boxes2[..., None, :, 1]
    v = (4 / (np.pi**2)) * rustdl.pow(rustdl.atan(w_pred / h_pred) - rustdl.atan(w_gt / h_gt), 2)
    with rustdl.no_grad():
        alpha = v / (1 - iou + v + eps)
    return diou - alpha * v


def masks_to_boxes(masks):
    """(N, 4) ``xyxy`` boxes around the non-zero pixels of (N, H, W) masks (zeros for
    empty masks)."""
    if masks.numel() == 0:
        return rustdl.zeros((0, 4), dtype=rustdl.float32)
    _, h, w = masks.shape
    masks_bool = masks.bool()
    non_zero_rows = rustdl.any(masks_bool, dim=2)
    non_zero_cols = rustdl.any(masks_bool, dim=1)
    empty = ~rustdl.any(non_zero_rows, dim=1)
    rows_f, cols_f = non_zero_rows.float(), non_zero_cols.float()
    y1 = rows_f.argmax(dim=1)
    x1 = cols_f.argmax(dim=1)
    y2 = (h - 1) - rows_f.flip([1]).argmax(dim=1)
    x2 = (w - 1) - cols_f.flip([1]).argmax(dim=1)
    boxes = rustdl.stack([x1, y1, x2, y2], dim=1).float()
    return rustdl.where(empty[:, None], rustdl.zeros_like(boxes), boxes)
