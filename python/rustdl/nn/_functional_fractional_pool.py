"""Fractional max pooling (Graham, "Fractional Max-Pooling"): windows of a fixed size whose
start positions follow a pseudo-random increasing sequence per (sample, channel), so the output
can shrink the input by a non-integer ratio. Given `_random_samples` (one u in [0, 1) per spatial
dim, per sample and channel) the windows are fixed: start_i = floor((i + u) * alpha) -
floor(u * alpha) with alpha = (input - kernel) / (output - 1), the last window ending at the input's
edge. The windows are gathered and reduced with max, so gradients reach each window's maximum."""

import rustdl as _t


def _starts(samples, input_size, kernel, output_size):
    """(N, C, output_size) window starts for one spatial dim from (N, C) samples."""
    if output_size == 1:
        return _t.full(tuple(samples.shape) + (1,), input_size - kernel, dtype=_t.int64)
    alpha = (input_size - kernel) / (output_size - 1)
    steps = _t.arange(output_size - 1, dtype=_t.float64)
    u = samples.to(_t.float64).unsqueeze(-1)
    starts = ((steps + u) * alpha).floor() - (u * alpha).floor()
    last = _t.full(tuple(samples.shape) + (1,), float(input_size - kernel), dtype=_t.float64)
    return _t.cat([starts, last], -1).to(_t.int64)


def _fractional_max_pool(input, kernel_size, output_size, output_ratio, return_indices, _random_samples, dims):
    def per_dim(v, name):
        values = tuple(v) if isinstance(v, (tuple, list)) else (v,) * dims
        if len(values) != dims:
            raise ValueError(f"{name} must be an int or a tuple of {dims} ints")
        return values

    if output_size is None and output_ratio is None:
        raise ValueError("fractional_max_pool requires specifying either an output_size or an output_ratio")
    unbatched = input.dim() == dims + 1
    x = input.unsqueeze(0) if unbatched else input
    if x.dim() != dims + 2:
        raise RuntimeError(f"fractional_max_pool{dims}d(): Expected {dims + 1}D or {dims + 2}D tensor, but got: "
                           f"{list(input.shape)}")
    kernel = per_dim(kernel_size, "kernel_size")
    spatial = tuple(x.shape[2:])
    if output_size is None:
        ratios = per_dim(output_ratio, "output_ratio")
        if not all(0 < r < 1 for r in ratios):
            raise ValueError(f"output_ratio must be between 0 and 1 (got {output_ratio})")
        output_size = tuple(int(s * r) for s, r in zip(spatial, ratios))
    out_size = per_dim(output_size, "output_size")
    for name, size, k, o in zip(("time", "height", "width")[3 - dims:], spatial, kernel, out_size):
        # (PyTorch's 3-D kernel also wants every window to have room to move; its 2-D one does not)
        if o + k - 1 > size or (dims == 3 and o + k - 1 == size):
            raise RuntimeError(f"fractional_max_pool{dims}d_out(): pool {name} {k} too large relative to input "
                               f"{name} {size}")
    n, c = x.shape[0], x.shape[1]
    samples = _random_samples if _random_samples is not None else _t.rand(n, c, dims, dtype=x.dtype)
    if unbatched and samples.dim() == 2:
        samples = samples.unsqueeze(0)
    # which sample moves which dim, as PyTorch's kernels read them: 2-D (width, height), 3-D (time,
    # height, width)
    sample_of = (1, 0) if dims == 2 else (0, 1, 2)
    starts = [_starts(samples[..., sample_of[d]], spatial[d], kernel[d], out_size[d]) for d in range(dims)]
    # flat input positions of every window element: (N, C, *out, *kernel)
    strides = [1] * dims
    for d in range(dims - 2, -1, -1):
        strides[d] = strides[d + 1] * spatial[d + 1]
    positions = _t.zeros((n, c) + out_size + kernel, dtype=_t.int64)
    for d in range(dims):
        shape = [n, c] + [1] * (2 * dims)
        shape[2 + d] = out_size[d]
        offset_shape = [1] * (2 + 2 * dims)
        offset_shape[2 + dims + d] = kernel[d]
        positions = positions + (starts[d].reshape(shape) + _t.arange(kernel[d]).reshape(offset_shape)) * strides[d]
    flat = positions.reshape(n, c, -1)
    values = x.reshape(n, c, -1).gather(2, flat).reshape((n, c) + out_size + (-1,))
    # the first maximum in scan order, unless the window holds NaN: then its last NaN (PyTorch's
    # kernels take any NaN they meet, and no number replaces a NaN)
    nan = values.isnan()
    best = values.argmax(-1, keepdim=True)
    window = nan.shape[-1]
    last_nan = window - 1 - nan.flip(-1).to(_t.int64).argmax(-1, keepdim=True)
    best = _t.where(nan.any(-1, keepdim=True), last_nan, best)
    out = values.gather(-1, best).squeeze(-1)
    indices = flat.reshape((n, c) + out_size + (-1,)).gather(-1, best).squeeze(-1)
    if unbatched:
        out, indices = out.squeeze(0), indices.squeeze(0)
    return (out, indices) if return_indices else out


def fractional_max_pool2d(input, kernel_size, output_size=None, output_ratio=None, return_indices=False,
                          _random_samples=None):
    return _fractional_max_pool(input, kernel_size, output_size, output_ratio, return_indices, _random_samples, 2)


def fractional_max_pool3d(input, kernel_size, output_size=None, output_ratio=None, return_indices=False,
                          _random_samples=None):
    return _fractional_max_pool(input, kernel_size, output_size, output_ratio, return_indices, _random_samples, 3)


def fractional_max_pool2d_with_indices(input, kernel_size, output_size=None, output_ratio=None,
                                       return_indices=False, _random_samples=None):
    return fractional_max_pool2d(input, kernel_size, output_size, output_ratio, True, _random_samples)


def fractional_max_pool3d_with_indices(input, kernel_size, output_size=None, output_ratio=None,
                                       return_indices=False, _random_samples=None):
    return fractional_max_pool3d(input, kernel_size, output_size, output_ratio, True, _random_samples)
