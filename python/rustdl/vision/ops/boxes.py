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
    "generalized_box_iou",
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
