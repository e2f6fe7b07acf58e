"""``F.interpolate`` (nearest, linear/bilinear/trilinear, bicubic) composed
from differentiable gathers and weighted sums, one spatial dim at a time, so
gradients (and their gradients, to every order) need no special kernel."""

from .. import _C

_MODES = ("nearest", "linear", "bilinear", "bicubic", "trilinear", "area", "nearest-exact")
_INTERPOLATING = ("linear", "bilinear", "bicubic", "trilinear")
_MODE_RANK = {"linear": 3, "bilinear": 4, "bicubic": 4, "trilinear": 5}


def _out_sizes(input, size, scale_factor, recompute_scale_factor):
    n = input.dim() - 2
    spatial = list(input.shape[2:])
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    if size is not None:
        sizes = list(size) if isinstance(size, (list, tuple)) else [size] * n
        if len(sizes) != n:
            raise ValueError(
                "Input and output must have the same number of spatial dimensions, but got input with spatial "
                f"dimensions of {spatial} and output size of {tuple(size) if isinstance(size, list) else size}. "
                "Please provide input tensor in (N, C, d1, d2, ...,dK) format and output size in (o1, o2, ...,oK) "
                "format.")
        return [int(s) for s in sizes], [None] * n
    if scale_factor is None:
        raise ValueError("either size or scale_factor should be defined")
    sf = list(scale_factor) if isinstance(scale_factor, (list, tuple)) else [scale_factor] * n
    if len(sf) != n:
        raise ValueError(
            "Input and scale_factor must have the same number of spatial dimensions, but got input with spatial "
            f"dimensions of {spatial} and scale_factor of shape {tuple(scale_factor)}. Please provide input tensor "
            "in (N, C, d1, d2, ...,dK) format and scale_factor in (s1, s2, ...,sK) format.")
    sizes = [int(input.shape[2 + i] * sf[i]) for i in range(n)]
    # recompute_scale_factor: the sizes decide the sampling, as if they had been given
    return sizes, ([None] * n if recompute_scale_factor else sf)


def _check(input, mode, align_corners, antialias):
    if mode not in _MODES or not 3 <= input.dim() <= 5:
        raise NotImplementedError(
            f"Input Error: Only 3D, 4D and 5D input Tensors supported (got {input.dim()}D) for the modes: "
            f"nearest | linear | bilinear | bicubic | trilinear | lanczos | area | nearest-exact (got {mode})")
    if align_corners is not None and mode not in _INTERPOLATING:
        raise ValueError("align_corners option can only be set with the interpolating modes: "
                         "linear | bilinear | bicubic | trilinear")
    if antialias and not (mode in ("bilinear", "bicubic") and input.dim() == 4):
        raise ValueError("Anti-alias option is restricted to bilinear, bicubic, and lanczos modes and requires a "
                         "4-D tensor as input")
    need = _MODE_RANK.get(mode)
    if need is not None and input.dim() != need:
        raise NotImplementedError(f"Got {input.dim()}D input, but {mode} mode needs {need}D input")


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None, recompute_scale_factor=None,
                antialias=False):
    if input.dim() < 3:
        raise ValueError(f"Expected input with at least 3 dims (N, C, ...), got {input.dim()}D")
    _check(input, mode, align_corners, antialias)
    sizes, scales = _out_sizes(input, size, scale_factor, recompute_scale_factor)
    if mode == "area":
        from . import functional as F

        pool = {1: F.adaptive_avg_pool1d, 2: F.adaptive_avg_pool2d, 3: F.adaptive_avg_pool3d}[len(sizes)]
        return pool(input, sizes)
    out = input
    for i, (osz, sc) in enumerate(zip(sizes, scales)):
        dim = 2 + i
        isz = input.shape[dim]
        if antialias:
            out = _antialias_dim(out, dim, isz, osz, sc, align_corners, mode)
        elif mode in ("nearest", "nearest-exact"):
            scale = (1.0 / sc) if sc else isz / osz
            offset = 0.5 if mode == "nearest-exact" else 0.0
            idx = [min(int((j + offset) * scale), isz - 1) for j in range(osz)]
            out = out.index_select(dim, _C.tensor(idx, dtype=_C.int64, device=out.device))
        elif mode in ("linear", "bilinear", "trilinear"):
            if align_corners:
                src = [j * (isz - 1) / (osz - 1) if osz > 1 else 0.0 for j in range(osz)]
            else:
                scale = (1.0 / sc) if sc else isz / osz
                src = [max((j + 0.5) * scale - 0.5, 0.0) for j in range(osz)]
            lo = [min(int(s), isz - 1) for s in src]
            hi = [min(i0 + 1, isz - 1) for i0 in lo]
            w = [s - i0 for s, i0 in zip(src, lo)]
            a = out.index_select(dim, _C.tensor(lo, dtype=_C.int64, device=out.device))
            b = out.index_select(dim, _C.tensor(hi, dtype=_C.int64, device=out.device))
            shape = [1] * out.dim()
            shape[dim] = osz
            wt = _C.tensor(w, dtype=out.dtype, device=out.device).reshape(tuple(shape))
            out = a + (b - a) * wt
        else:  # bicubic
            out = _bicubic_dim(out, dim, isz, osz, sc, align_corners)
    return out


def _aa_filter(mode):
    if mode == "bilinear":
        return 2, lambda x: max(0.0, 1.0 - abs(x))

    def cubic(x, a=-0.5):  # the anti-aliasing cubic uses a = -0.5 (PIL's), not -0.75
        x = abs(x)
        if x < 1.0:
            return ((a + 2) * x - (a + 3)) * x * x + 1
        if x < 2.0:
            return (((x - 5) * x + 8) * x - 4) * a
        return 0.0

    return 4, cubic


def _antialias_dim(out, dim, isz, osz, sc, align_corners, mode):
    """Downsampling with anti-aliasing along one dim (PIL's separable filter, as PyTorch's
    ``_upsample_*_aa``): each output averages the inputs under a filter stretched by the scale,
    weights normalised to 1; applied as a dense (osz x isz) matrix so it stays differentiable."""
    if align_corners:
        scale = (isz - 1) / (osz - 1) if osz > 1 else 0.0
    else:
        scale = (1.0 / sc) if sc else isz / osz
    interp_size, filt = _aa_filter(mode)
    support = interp_size * 0.5 * scale if scale >= 1.0 else interp_size * 0.5
    invscale = 1.0 / scale if scale >= 1.0 else 1.0
    rows = []
    for i in range(osz):
        center = scale * (i + 0.5)
        xmin = max(int(center - support + 0.5), 0)
        xmax = min(int(center + support + 0.5), isz)
        w = [filt((j + xmin - center + 0.5) * invscale) for j in range(xmax - xmin)]
        total = sum(w)
        row = [0.0] * isz
        for j, wj in enumerate(w):
            row[xmin + j] = wj / total if total != 0.0 else 0.0
        rows.append(row)
    weights = _C.tensor(rows, dtype=out.dtype, device=out.device)  # (osz, isz)
    moved = out.movedim(dim, -1)
    return (moved @ weights.t()).movedim(-1, dim)


_CUBIC_A = -0.75  # PyTorch's upsample_bicubic2d


def _cubic_weights(t):
    """Weights of taps -1, 0, 1, 2 at fraction ``t`` (PyTorch's
    get_cubic_upsample_coefficients)."""
    a = _CUBIC_A

    def near(x):  # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x):  # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    return [far(t + 1), near(t), near(1 - t), far(2 - t)]


def _bicubic_dim(out, dim, isz, osz, sc, align_corners):
    """Bicubic resampling along one dim: separable, as PyTorch's 4x4 sum is."""
    import math

    if align_corners:
        scale = (isz - 1) / (osz - 1) if osz > 1 else 0.0
        src = [j * scale for j in range(osz)]
    else:
        scale = (1.0 / sc) if sc else isz / osz
        src = [(j + 0.5) * scale - 0.5 for j in range(osz)]  # not clamped for cubic
    base = [math.floor(s) for s in src]
    weights = [_cubic_weights(s - b) for s, b in zip(src, base)]
    shape = [1] * out.dim()
    shape[dim] = osz
    total = None
    for k in range(4):
        idx = [min(max(b - 1 + k, 0), isz - 1) for b in base]
        taps = out.index_select(dim, _C.tensor(idx, dtype=_C.int64, device=out.device))
        wt = _C.tensor([w[k] for w in weights], dtype=out.dtype, device=out.device).reshape(tuple(shape))
        term = taps * wt
        total = term if total is None else total + term
    return total
