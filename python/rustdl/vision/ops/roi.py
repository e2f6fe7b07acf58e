"""RoI pooling: ``roi_align``, ``roi_pool``, ``ps_roi_align``, ``ps_roi_pool`` and their
modules, with torchvision's CPU kernels' sampling rules.

The sampling positions and bilinear weights depend on the boxes only (torchvision gives
boxes no gradient), so they are computed in numpy; the values are then gathered from
the input with a differentiable index and combined with tensor ops, so gradients
(and double backward) flow to ``input`` as in torchvision.
"""

import numpy as np

import rustdl

from ... import nn

__all__ = ["PSRoIAlign", "PSRoIPool", "RoIAlign", "RoIPool", "ps_roi_align", "ps_roi_pool", "roi_align", "roi_pool"]


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def check_roi_boxes_shape(boxes):
    if isinstance(boxes, (list, tuple)):
        for t in boxes:
            if t.dim() != 2 or t.shape[1] != 4:
                raise AssertionError("The shape of the tensor in the boxes list is not correct as List[Tensor[L, 4]]")
    elif isinstance(boxes, rustdl.Tensor):
        if boxes.dim() != 2 or boxes.shape[1] != 5:
            raise AssertionError("The boxes tensor shape is not correct as Tensor[K, 5]")
    else:
        raise AssertionError("boxes is expected to be a Tensor[L, 5] or a List[Tensor[K, 4]]")  # noqa: TRY004


def convert_boxes_to_roi_format(boxes):
    """``[Tensor[L_i, 4]]`` -> ``Tensor[K, 5]`` with the batch index in column 0."""
    arrays = [b.detach().numpy() for b in boxes]
    ids = [np.full((len(a), 1), i, a.dtype) for i, a in enumerate(arrays)]
    return rustdl.from_numpy(np.concatenate([np.concatenate(ids), np.concatenate(arrays)], axis=1))


def _rois(boxes, input):
    check_roi_boxes_shape(boxes)
    rois = boxes if isinstance(boxes, rustdl.Tensor) else convert_boxes_to_roi_format(boxes)
    if input.dim() != 4:
        raise ValueError(f"input should be a 4-d tensor [N, C, H, W], got shape {list(input.shape)}")
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"RoI pooling needs a floating point input, got {input.dtype}")
    dtype = np.float64 if input.dtype == rustdl.float64 else np.float32
    return rois.detach().numpy().astype(dtype)


def _bilinear_corners(y, x, height, width):
    """torchvision's ``bilinear_interpolate`` for arrays of sample points: the four
    flat pixel positions and weights (zero weight outside ``[-1, H] x [-1, W]``)."""
    dtype = y.dtype.type
    inside = (y >= -1.0) & (y <= height) & (x >= -1.0) & (x <= width)
    y = np.where(y <= 0, dtype(0), y)
    x = np.where(x <= 0, dtype(0), x)
    y_low = np.nan_to_num(y).astype(np.int64)
    x_low = np.nan_to_num(x).astype(np.int64)
    top_y = y_low >= height - 1
    top_x = x_low >= width - 1
    y_low = np.where(top_y, height - 1, y_low)
    x_low = np.where(top_x, width - 1, x_low)
    y_high = np.where(top_y, height - 1, y_low + 1)
    x_high = np.where(top_x, width - 1, x_low + 1)
    y = np.where(top_y, y_low.astype(y.dtype), y)
    x = np.where(top_x, x_low.astype(x.dtype), x)
    ly, lx = y - y_low, x - x_low
    hy, hx = dtype(1.0) - ly, dtype(1.0) - lx
    pos = np.stack([y_low * width + x_low, y_low * width + x_high, y_high * width + x_low,
                    y_high * width + x_high], axis=-1)
    w = np.stack([hy * hx, hy * lx, ly * hx, ly * lx], axis=-1) * inside[..., None]
    return np.where(inside[..., None], pos, 0), w.astype(y.dtype)


def _sample_grid(rois, spatial_scale, ph_n, pw_n, sampling_ratio, aligned, clamp_small):
    """Per RoI and bin, the sample points ``(K, PH, PW, G)`` (padded to the largest
    adaptive grid; ``valid`` marks real samples) and the per-RoI sample count."""
    dtype = rois.dtype.type
    scale = dtype(spatial_scale)
    offset = dtype(0.5) if aligned else dtype(0.0)
    start_w = rois[:, 1] * scale - offset
    start_h = rois[:, 2] * scale - offset
    roi_w = rois[:, 3] * scale - offset - start_w
    roi_h = rois[:, 4] * scale - offset - start_h
    if clamp_small:
        roi_w, roi_h = np.maximum(roi_w, dtype(1.0)), np.maximum(roi_h, dtype(1.0))
    bin_h, bin_w = roi_h / dtype(ph_n), roi_w / dtype(pw_n)
    if sampling_ratio > 0:
        grid_h = np.full(len(rois), sampling_ratio, np.int64)
        grid_w = grid_h.copy()
    else:
        grid_h = np.ceil(roi_h / dtype(ph_n)).astype(np.int64)
        grid_w = np.ceil(roi_w / dtype(pw_n)).astype(np.int64)
    gh, gw = max(int(grid_h.max(initial=1)), 1), max(int(grid_w.max(initial=1)), 1)
    iy = np.arange(gh)
    ix = np.arange(gw)
    ph = np.arange(ph_n).astype(dtype)
    pw = np.arange(pw_n).astype(dtype)
    # y[k, ph, iy] = start_h + ph * bin_h + (iy + .5) * bin_h / grid_h, in the kernel's order
    y = (start_h[:, None, None] + ph[None, :, None] * bin_h[:, None, None]) + \
        (iy[None, None, :] + dtype(0.5)).astype(dtype) * bin_h[:, None, None] / grid_h[:, None, None].astype(dtype)
    x = (start_w[:, None, None] + pw[None, :, None] * bin_w[:, None, None]) + \
        (ix[None, None, :] + dtype(0.5)).astype(dtype) * bin_w[:, None, None] / grid_w[:, None, None].astype(dtype)
    valid_y = iy[None, :] < grid_h[:, None]
    valid_x = ix[None, :] < grid_w[:, None]
    # broadcast to (K, PH, PW, GH, GW)
    Y = np.broadcast_to(y[:, :, None, :, None], (len(rois), ph_n, pw_n, gh, gw))
    X = np.broadcast_to(x[:, None, :, None, :], (len(rois), ph_n, pw_n, gh, gw))
    valid = np.broadcast_to((valid_y[:, :, None] & valid_x[:, None, :])[:, None, None], Y.shape)
    return Y, X, valid, (grid_h * grid_w).astype(dtype)


def _bilinear_pool(input, rois, output_size, spatial_scale, sampling_ratio, aligned, position_sensitive):
    N, C, H, W = input.shape
    ph_n, pw_n = output_size
    K = len(rois)
    Y, X, valid, count = _sample_grid(rois, spatial_scale, ph_n, pw_n, sampling_ratio, aligned,
                                      clamp_small=not position_sensitive and not aligned)
    if not position_sensitive:
        count = np.maximum(count, 1)
    pos, w = _bilinear_corners(Y, X, H, W)  # (K, PH, PW, GH, GW, 4)
    w = w * valid[..., None]
    batch = rois[:, 0].astype(np.int64)
    if K == 0:
        c_out = C // (ph_n * pw_n) if position_sensitive else C
        return rustdl.zeros(0, c_out, ph_n, pw_n, dtype=input.dtype)
    w = (w / count[:, None, None, None, None, None]).reshape(K, ph_n, pw_n, -1)
    if not position_sensitive:
        flat = input.permute(0, 2, 3, 1).reshape(N * H * W, C)
        idx = (batch[:, None, None, None, None, None] * (H * W) + pos).reshape(-1)
        vals = flat[rustdl.from_numpy(idx)].reshape(K, ph_n, pw_n, -1, C)
        out = (vals * rustdl.from_numpy(w[..., None]).to(input.dtype)).sum(3)
        return out.permute(0, 3, 1, 2).contiguous()
    c_out = C // (ph_n * pw_n)
    # output channel c at bin (ph, pw) reads input channel (c * PH + ph) * PW + pw
    c_in = (np.arange(c_out)[:, None, None] * ph_n + np.arange(ph_n)[None, :, None]) * pw_n + \
        np.arange(pw_n)[None, None, :]
    base = (batch[:, None, None, None] * C + c_in[None]) * (H * W)  # (K, Cout, PH, PW)
    idx = base[..., None] + pos.reshape(K, 1, ph_n, pw_n, -1)
    vals = input.reshape(-1)[rustdl.from_numpy(idx.reshape(-1))].reshape(K, c_out, ph_n, pw_n, -1)
    return (vals * rustdl.from_numpy(w[:, None]).to(input.dtype)).sum(-1)


def roi_align(input, boxes, output_size, spatial_scale=1.0, sampling_ratio=-1, aligned=False):
    """RoIAlign (Mask R-CNN): average of bilinear samples per output bin."""
    rois = _rois(boxes, input)
    return _bilinear_pool(input, rois, _pair(output_size), spatial_scale, sampling_ratio, aligned, False)


def _check_ps_channels(input, output_size):
    ph_n, pw_n = output_size
    if input.shape[1] % (ph_n * pw_n) != 0:
        raise RuntimeError("input channels must be a multiple of pooling height * pooling width")


def ps_roi_align(input, boxes, output_size, spatial_scale=1.0, sampling_ratio=-1):
    """Position-sensitive RoIAlign (R-FCN): bin (i, j) of output channel c averages
    input channel ``(c * PH + i) * PW + j``."""
    output_size = _pair(output_size)
    rois = _rois(boxes, input)
    _check_ps_channels(input, output_size)
    return _bilinear_pool(input, rois, output_size, spatial_scale, sampling_ratio, True, True)


def _c_round(v):
    """C's ``round``: halves away from zero."""
    return (np.sign(v) * np.floor(np.abs(v) + 0.5)).astype(np.int64)


def _pool_bins(rois, spatial_scale, ph_n, pw_n, height, width, plus_one, clip_hi):
    """Integer bin ranges ``[hstart, hend) x [wstart, wend)`` of RoIPool / PSRoIPool."""
    dtype = rois.dtype.type
    scaled = rois[:, 1:] * dtype(spatial_scale)
    start_w, start_h, end_w, end_h = (_c_round(scaled[:, i]) for i in range(4))
    extra = 1 if plus_one else 0
    roi_w = np.maximum(end_w - start_w + extra, 1)
    roi_h = np.maximum(end_h - start_h + extra, 1)
    bin_h = roi_h.astype(dtype) / dtype(ph_n)
    bin_w = roi_w.astype(dtype) / dtype(pw_n)
    ph = np.arange(ph_n).astype(dtype)
    pw = np.arange(pw_n).astype(dtype)
    hstart = np.floor(ph[None] * bin_h[:, None]).astype(np.int64) + start_h[:, None]
    hend = np.ceil((ph[None] + 1) * bin_h[:, None]).astype(np.int64) + start_h[:, None]
    wstart = np.floor(pw[None] * bin_w[:, None]).astype(np.int64) + start_w[:, None]
    wend = np.ceil((pw[None] + 1) * bin_w[:, None]).astype(np.int64) + start_w[:, None]
    hstart, hend = np.clip(hstart, 0, height - clip_hi), np.clip(hend, 0, height - clip_hi)
    wstart, wend = np.clip(wstart, 0, width - clip_hi), np.clip(wend, 0, width - clip_hi)
    return hstart, hend, wstart, wend  # (K, PH) and (K, PW)


def _bin_pixels(hstart, hend, wstart, wend, width):
    """Flat pixel indices of every bin ``(K, PH, PW, S)`` padded to the largest bin,
    with the mask of real pixels."""
    K, ph_n = hstart.shape
    pw_n = wstart.shape[1]
    max_h = max(int((hend - hstart).max(initial=0)), 1)
    max_w = max(int((wend - wstart).max(initial=0)), 1)
    dh = np.arange(max_h)
    dw = np.arange(max_w)
    hh = hstart[:, :, None] + dh[None, None, :]  # (K, PH, MH)
    ww = wstart[:, :, None] + dw[None, None, :]  # (K, PW, MW)
    vh = hh < hend[:, :, None]
    vw = ww < wend[:, :, None]
    pos = hh[:, :, None, :, None] * width + ww[:, None, :, None, :]  # (K, PH, PW, MH, MW)
    valid = vh[:, :, None, :, None] & vw[:, None, :, None, :]
    pos = np.where(valid, pos, 0)
    return pos.reshape(K, ph_n, pw_n, -1), valid.reshape(K, ph_n, pw_n, -1)


def roi_pool(input, boxes, output_size, spatial_scale=1.0):
    """RoIPool (Fast R-CNN): the maximum over each bin of integer pixels (0 for an empty bin)."""
    ph_n, pw_n = _pair(output_size)
    rois = _rois(boxes, input)
    N, C, H, W = input.shape
    K = len(rois)
    if K == 0:
        return rustdl.zeros(0, C, ph_n, pw_n, dtype=input.dtype)
    hs, he, ws, we = _pool_bins(rois, spatial_scale, ph_n, pw_n, H, W, plus_one=True, clip_hi=0)
    pos, valid = _bin_pixels(hs, he, ws, we, W)
    batch = rois[:, 0].astype(np.int64)
    flat = input.permute(0, 2, 3, 1).reshape(N * H * W, C)
    idx = batch[:, None, None, None] * (H * W) + pos
    vals = flat[rustdl.from_numpy(idx.reshape(-1))].reshape(K, ph_n, pw_n, -1, C)
    pad = np.where(valid, 0.0, -np.inf).astype(rois.dtype)[..., None]
    out = (vals + rustdl.from_numpy(pad).to(input.dtype)).max(dim=3)[0]
    nonempty = valid.any(-1)[..., None]
    out = rustdl.where(rustdl.from_numpy(np.ascontiguousarray(np.broadcast_to(nonempty, out.shape))), out,
                       rustdl.zeros((), dtype=input.dtype))
    return out.permute(0, 3, 1, 2).contiguous()


def ps_roi_pool(input, boxes, output_size, spatial_scale=1.0):
    """Position-sensitive RoIPool (R-FCN): the average of each bin over its input channel."""
    output_size = _pair(output_size)
    ph_n, pw_n = output_size
    rois = _rois(boxes, input)
    _check_ps_channels(input, output_size)
    c_out = input.shape[1] // (ph_n * pw_n)
    if len(rois) == 0:
        return rustdl.zeros(0, c_out, ph_n, pw_n, dtype=input.dtype)
    # torchvision's CPU forward clips the bins to H - 1 / W - 1 but its backward to H / W:
    # the value is the first average, the gradient that of the second (as torchvision's)
    forward = _ps_pool_average(input, rois, ph_n, pw_n, spatial_scale, c_out, clip_hi=1)
    backward = _ps_pool_average(input, rois, ph_n, pw_n, spatial_scale, c_out, clip_hi=0)
    return forward.detach() + (backward - backward.detach())


def _ps_pool_average(input, rois, ph_n, pw_n, spatial_scale, c_out, clip_hi):
    _, C, H, W = input.shape
    K = len(rois)
    hs, he, ws, we = _pool_bins(rois, spatial_scale, ph_n, pw_n, H, W, plus_one=False, clip_hi=clip_hi)
    pos, valid = _bin_pixels(hs, he, ws, we, W)
    area = ((he - hs)[:, :, None] * (we - ws)[:, None, :]).astype(rois.dtype)
    empty = area <= 0
    weights = valid / np.where(empty, 1, area)[..., None]
    batch = rois[:, 0].astype(np.int64)
    c_in = (np.arange(c_out)[:, None, None] * ph_n + np.arange(ph_n)[None, :, None]) * pw_n + \
        np.arange(pw_n)[None, None, :]
    base = (batch[:, None, None, None] * C + c_in[None]) * (H * W)
    idx = base[..., None] + pos[:, None]
    vals = input.reshape(-1)[rustdl.from_numpy(idx.reshape(-1))].reshape(K, c_out, ph_n, pw_n, -1)
    return (vals * rustdl.from_numpy(weights[:, None].astype(rois.dtype)).to(input.dtype)).sum(-1)


class RoIAlign(nn.Module):
    def __init__(self, output_size, spatial_scale, sampling_ratio, aligned=False):
        super().__init__()
        self.output_size = output_size
        self.spatial_scale = spatial_scale
        self.sampling_ratio = sampling_ratio
        self.aligned = aligned

    def forward(self, input, rois):
        return roi_align(input, rois, self.output_size, self.spatial_scale, self.sampling_ratio, self.aligned)

    def __repr__(self):
        return (f"{self.__class__.__name__}(output_size={self.output_size}, spatial_scale={self.spatial_scale}, "
                f"sampling_ratio={self.sampling_ratio}, aligned={self.aligned})")


class RoIPool(nn.Module):
    def __init__(self, output_size, spatial_scale):
        super().__init__()
        self.output_size = output_size
        self.spatial_scale = spatial_scale

    def forward(self, input, rois):
        return roi_pool(input, rois, self.output_size, self.spatial_scale)

    def __repr__(self):
        return f"{self.__class__.__name__}(output_size={self.output_size}, spatial_scale={self.spatial_scale})"


class PSRoIAlign(nn.Module):
    def __init__(self, output_size, spatial_scale, sampling_ratio):
        super().__init__()
        self.output_size = output_size
        self.spatial_scale = spatial_scale
        self.sampling_ratio = sampling_ratio

    def forward(self, input, rois):
        return ps_roi_align(input, rois, self.output_size, self.spatial_scale, self.sampling_ratio)

    def __repr__(self):
        return (f"{self.__class__.__name__}(output_size={self.output_size}, spatial_scale={self.spatial_scale}, "
                f"sampling_ratio={self.sampling_ratio})")


class PSRoIPool(nn.Module):
    def __init__(self, output_size, spatial_scale):
        super().__init__()
        self.output_size = output_size
        self.spatial_scale = spatial_scale

    def forward(self, input, rois):
        return ps_roi_pool(input, rois, self.output_size, self.spatial_scale)

    def __repr__(self):
        return f"{self.__class__.__name__}(output_size={self.output_size}, spatial_scale={self.spatial_scale})"
