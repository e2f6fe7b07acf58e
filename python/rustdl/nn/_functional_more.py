"""Functional forms composed from differentiable rustdl ops: rms_norm, channel_shuffle,
gumbel_softmax, affine_grid, grid_sample, pdist, triplet_margin_with_distance_loss. Gradients
(of every order) come from the ops they are made of."""

import rustdl as _t

from ..autograd.function import Function

__all__ = ["affine_grid", "channel_shuffle", "embedding_bag", "grid_sample", "gumbel_softmax", "pdist", "rms_norm",
           "triplet_margin_with_distance_loss"]


def rms_norm(input, normalized_shape, weight=None, eps=None):
    """x / sqrt(mean(x^2 over the trailing normalized_shape dims) + eps) * weight; eps defaults to
    the dtype's machine epsilon."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    n = len(shape)
    if tuple(input.shape[input.dim() - n:]) != shape or input.dim() < n:
        raise RuntimeError(f"Given normalized_shape={list(shape)}, expected input with shape "
                           f"[*{', '.join(str(s) for s in shape)}], but got input of size{list(input.shape)}")
    if eps is None:
        eps = _t.finfo(input.dtype).eps if input.is_floating_point() else _t.finfo(_t.float32).eps
    dims = tuple(range(-n, 0))
    out = input * (input.pow(2).mean(dims, keepdim=True) + eps).rsqrt()
    return out * weight if weight is not None else out


def channel_shuffle(input, groups):
    if input.dim() <= 2:
        raise RuntimeError(f"channel_shuffle expects input with > 2 dims, but got input with sizes {list(input.shape)}")
    c = input.shape[1]
    if groups <= 0:
        raise RuntimeError(f"Number of groups to divide channels in must be positive. Value of groups:{groups}")
    if c % groups:
        raise RuntimeError(f"Number of channels must be divisible by groups. Got {c} channels and {groups} groups.")
    n, rest = input.shape[0], tuple(input.shape[2:])
    return input.reshape((n, groups, c // groups) + rest).transpose(1, 2).reshape((n, c) + rest)


def gumbel_softmax(logits, tau=1.0, hard=False, eps=1e-10, dim=-1):
    """softmax((logits + Gumbel noise) / tau); `hard`: the one-hot argmax in the forward pass with
    the soft sample's gradient (straight-through)."""
    u = _t.rand(tuple(logits.shape), dtype=logits.dtype)
    gumbels = -(-u.clamp(min=_t.finfo(logits.dtype).tiny).log()).log()  # -log(Exponential(1))
    y_soft = ((logits + gumbels) / tau).softmax(dim)
    if not hard:
        return y_soft
    index = y_soft.argmax(dim, keepdim=True)
    y_hard = _t.zeros_like(logits).scatter_(dim, index, 1.0)
    return y_hard - y_soft.detach() + y_soft


def _base_coords(n, align_corners, dtype):
    """The normalized [-1, 1] coordinates of n pixel centres (or corners, align_corners)."""
    if n <= 1:
        return _t.zeros(n, dtype=dtype)
    coords = _t.linspace(-1.0, 1.0, n, dtype=dtype)
    return coords if align_corners else coords * ((n - 1) / n)


def affine_grid(theta, size, align_corners=None):
    """The sampling grid of an affine map: (N, H, W, 2) for 2-D size (N, C, H, W) with theta
    (N, 2, 3); (N, D, H, W, 3) for 3-D size with theta (N, 3, 4)."""
    align_corners = bool(align_corners)
    if not theta.is_floating_point():
        raise ValueError(f"Expected theta to have floating point type, but got {theta.dtype}")
    size = list(size)
    if len(size) == 4:
        if theta.dim() != 3 or tuple(theta.shape[-2:]) != (2, 3):
            raise ValueError("Expected a batch of 2D affine matrices of shape Nx2x3 for size "
                             f"{size}. Got {list(theta.shape)}.")
        n, _, h, w = size
        xs = _base_coords(w, align_corners, theta.dtype)
        ys = _base_coords(h, align_corners, theta.dtype)
        base = _t.stack([xs.view(1, w).expand(h, w), ys.view(h, 1).expand(h, w), _t.ones(h, w, dtype=theta.dtype)],
                        -1)
        grid = base.reshape(1, h * w, 3) @ theta.transpose(1, 2)
        return grid.reshape(n, h, w, 2)
    if len(size) == 5:
        if theta.dim() != 3 or tuple(theta.shape[-2:]) != (3, 4):
            raise ValueError("Expected a batch of 3D affine matrices of shape Nx3x4 for size "
                             f"{size}. Got {list(theta.shape)}.")
        n, _, d, h, w = size
        xs = _base_coords(w, align_corners, theta.dtype).view(1, 1, w).expand(d, h, w)
        ys = _base_coords(h, align_corners, theta.dtype).view(1, h, 1).expand(d, h, w)
        zs = _base_coords(d, align_corners, theta.dtype).view(d, 1, 1).expand(d, h, w)
        base = _t.stack([xs, ys, zs, _t.ones(d, h, w, dtype=theta.dtype)], -1)
        grid = base.reshape(1, d * h * w, 4) @ theta.transpose(1, 2)
        return grid.reshape(n, d, h, w, 3)
    raise NotImplementedError(f"affine_grid only supports 4D and 5D sizes, for 2D and 3D affine transforms, "
                              f"respectively. Got size {size}.")


def _unnormalize(coord, size, align_corners):
    if align_corners:
        return (coord + 1) / 2 * (size - 1)
    return ((coord + 1) * size - 1) / 2


def _reflect(coord, low, high):
    """Reflect coordinates into [low, high] (twice the span is the period)."""
    span = high - low
    if span <= 0:
        return _t.zeros_like(coord)
    shifted = (coord - low).abs()
    flips = (shifted / span).floor()
    extra = shifted - flips * span
    even = (flips.remainder(2) == 0)
    return _t.where(even, extra + low, span - extra + low)


def _source_index(coord, size, padding_mode, align_corners):
    x = _unnormalize(coord, size, align_corners)
    if padding_mode == "border":
        x = x.clamp(0, size - 1)
    elif padding_mode == "reflection":
        x = _reflect(x, 0, size - 1) if align_corners else _reflect(x, -0.5, size - 0.5)
        x = x.clamp(0, size - 1)
    return x


def grid_sample(input, grid, mode="bilinear", padding_mode="zeros", align_corners=None):
    """Sample the 4-D `input` (N, C, H, W) at the normalized (x, y) locations of `grid`
    (N, Ho, Wo, 2): bilinear or nearest, zeros/border/reflection padding. Gradients reach both
    the input (through the gathered values) and the grid (through the interpolation weights)."""
    if mode not in ("bilinear", "nearest", "bicubic"):
        raise ValueError(f"nn.functional.grid_sample(): expected mode to be 'bilinear', 'nearest' or 'bicubic', "
                         f"but got: '{mode}'")
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError("nn.functional.grid_sample(): expected padding_mode to be 'zeros', 'border', or "
                         f"'reflection', but got: '{padding_mode}'")
    if input.dim() == 5:
        raise NotImplementedError("rustdl: grid_sample of 5-D (volumetric) inputs is not implemented yet")
    if mode == "bicubic":
        raise NotImplementedError("rustdl: grid_sample with mode='bicubic' is not implemented yet")
    if input.dim() != 4 or grid.dim() != 4 or grid.shape[-1] != 2:
        raise RuntimeError(f"grid_sampler(): expected 4D input and grid with same number of dimensions, but got "
                           f"input with sizes {list(input.shape)} and grid with sizes {list(grid.shape)}")
    if input.shape[0] != grid.shape[0]:
        raise RuntimeError(f"grid_sampler(): expected grid and input to have same batch size, but got input with "
                           f"sizes {list(input.shape)} and grid with sizes {list(grid.shape)}")
    align_corners = bool(align_corners)
    n, c, h, w = input.shape
    ho, wo = grid.shape[1], grid.shape[2]
    x = _source_index(grid[..., 0], w, padding_mode, align_corners)
    y = _source_index(grid[..., 1], h, padding_mode, align_corners)
    flat = input.reshape(n, c, h * w)

    def gather(ix, iy):
        """input at integer (ix, iy) per grid point, 0 outside the image: (N, C, Ho, Wo)."""
        inside = (ix >= 0) & (ix <= w - 1) & (iy >= 0) & (iy <= h - 1)
        index = (iy.clamp(0, h - 1) * w + ix.clamp(0, w - 1)).long().reshape(n, 1, ho * wo).expand(n, c, ho * wo)
        values = flat.gather(2, index).reshape(n, c, ho, wo)
        return values * inside.to(input.dtype).unsqueeze(1)

    if mode == "nearest":
        # the nearest pixel does not move with the grid: its gradient is zeros, as in PyTorch
        return _ZeroGradientFor.apply(gather(x.detach().round(), y.detach().round()), grid)
    x0, y0 = x.detach().floor(), y.detach().floor()
    wx1, wy1 = (x - x0).unsqueeze(1), (y - y0).unsqueeze(1)
    wx0, wy0 = 1 - wx1, 1 - wy1
    return (gather(x0, y0) * wx0 * wy0 + gather(x0 + 1, y0) * wx1 * wy0
            + gather(x0, y0 + 1) * wx0 * wy1 + gather(x0 + 1, y0 + 1) * wx1 * wy1)


class _ZeroGradientFor(Function):
    """Passes `out` through; `other` joins the graph with a zero gradient."""

    @staticmethod
    def forward(ctx, out, other):
        ctx.other_shape, ctx.other_dtype = tuple(other.shape), other.dtype
        return out.view_as(out)

    @staticmethod
    def backward(ctx, grad):
        return grad, _t.zeros(ctx.other_shape, dtype=ctx.other_dtype)


def embedding_bag(input, weight, offsets=None, max_norm=None, norm_type=2, scale_grad_by_freq=False,
                  mode="mean", sparse=False, per_sample_weights=None, include_last_offset=False, padding_idx=None):
    """Sums, means or maxima of bags of embedding rows: each row of a 2-D `input` is a bag, or a
    1-D `input` is cut into bags at `offsets`. Indices equal to padding_idx are left out (an empty
    bag gives zeros)."""
    from .functional import embedding

    if mode not in ("sum", "mean", "max"):
        raise ValueError(f"mode has to be one of sum, mean or max, but got {mode}")
    if per_sample_weights is not None and mode != "sum":
        raise NotImplementedError(f"embedding_bag: per_sample_weights was not None. per_sample_weights is only "
                                  f"supported for mode='sum' (got mode='{mode}'). Please open a feature request on "
                                  "GitHub.")
    if input.dim() == 2:
        if offsets is not None:
            raise ValueError("if input is 2D, then offsets has to be None, as input is treated is a mini-batch of "
                             "fixed length sequences. However, found offsets of type Tensor")
        bags, length = input.shape
        bag_of = _t.arange(bags, dtype=_t.int64).repeat_interleave(length)
        flat = input.reshape(-1)
        psw = per_sample_weights.reshape(-1) if per_sample_weights is not None else None
    elif input.dim() == 1:
        if offsets is None:
            raise ValueError("offsets has to be a 1D Tensor but got None")
        if offsets.dim() != 1:
            raise ValueError("offsets has to be a 1D Tensor")
        starts = offsets[:-1] if include_last_offset else offsets
        bags = starts.shape[0]
        flat = input
        positions = _t.arange(flat.shape[0], dtype=_t.int64)
        bag_of = _t.searchsorted(starts, positions, right=True) - 1
        psw = per_sample_weights
    else:
        raise ValueError(f"input has to be 1D or 2D Tensor, but got Tensor of dimension {input.dim()}")
    if padding_idx is not None:
        padding_idx = padding_idx % weight.shape[0]
    keep = (flat != padding_idx) if padding_idx is not None else _t.ones(flat.shape, dtype=_t.bool)
    keep = keep & (bag_of >= 0)
    kept = keep.nonzero().reshape(-1)
    rows = embedding(flat[kept], weight, None, max_norm, norm_type, scale_grad_by_freq)
    bag_kept = bag_of[kept]
    if psw is not None:
        rows = rows * psw[kept].unsqueeze(-1)
    dim = weight.shape[1]
    if mode == "max":
        index = bag_kept.unsqueeze(-1).expand(bag_kept.shape[0], dim)
        return _t.zeros(bags, dim, dtype=weight.dtype).scatter_reduce(0, index, rows, "amax", include_self=False)
    out = _t.zeros(bags, dim, dtype=weight.dtype).index_add(0, bag_kept, rows)
    if mode == "mean":
        counts = _t.zeros(bags, dtype=weight.dtype).index_add(0, bag_kept, _t.ones(bag_kept.shape[0], dtype=weight.dtype))
        out = out / counts.clamp(min=1).unsqueeze(-1)
    return out


def pdist(input, p=2):
    """Distances between every pair of rows i < j of an (N, M) input, as an N(N-1)/2 vector."""
    if input.dim() != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {input.dim()}D")
    n = input.shape[0]
    if n < 2:
        return _t.zeros(0, dtype=input.dtype)
    i, j = _t.triu_indices(n, n, 1)
    return (input[i] - input[j]).norm(p=p, dim=1)


def triplet_margin_with_distance_loss(anchor, positive, negative, *, distance_function=None, margin=1.0,
                                      swap=False, reduction="mean"):
    from .functional import pairwise_distance

    if margin <= 0:
        raise ValueError(f"TripletMarginWithDistanceLoss: expected margin to be greater than 0, got {margin} instead")
    distance = distance_function if distance_function is not None else pairwise_distance
    d_pos = distance(anchor, positive)
    d_neg = distance(anchor, negative)
    if swap:
        d_neg = _t.minimum(d_neg, distance(positive, negative))
    loss = (d_pos - d_neg + margin).clamp(min=0)
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"{reduction} is not a valid value for reduction")
