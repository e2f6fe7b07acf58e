"""``F.interpolate`` (nearest, linear/bilinear/trilinear, bicubic) composed
from differentiable gathers and weighted sums, one spatial dim at a time, so
gradients (and their gradients, to every order) need no special kernel."""

from .. import _C


def _out_sizes(input, size, scale_factor):
    n = input.dim() - 2
    if size is not None:
        sizes = list(size) if isinstance(size, (list, tuple)) else [size] * n
        scales = [None] * n
    elif scale_factor is not None:
        sf = list(scale_factor) if isinstance(scale_factor, (list, tuple)) else [scale_factor] * n
        sizes = [int(input.shape[2 + i] * sf[i]) for i in range(n)]
        scales = sf
    else:
        raise ValueError("either size or scale_factor should be defined")
    return sizes, scales


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    if input.dim() < 3:
        raise ValueError(f"Expected input with at least 3 dims (N, C, ...), got {input.dim()}D")
    sizes, scales = _out_sizes(input, size, scale_factor)
    out = input
    for i, (osz, sc) in enumerate(zip(sizes, scales)):
        dim = 2 + i
        isz = input.shape[dim]
        if mode == "nearest":
            scale = (1.0 / sc) if sc else isz / osz
            idx = [min(int(j * scale), isz - 1) for j in range(osz)]
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
        elif mode == "bicubic":
            out = _bicubic_dim(out, dim, isz, osz, sc, align_corners)
        else:
            raise NotImplementedError(f"interpolate mode '{mode}' is not supported yet")
    return out


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
