"""``F.interpolate`` (nearest, linear/bilinear/trilinear) composed from
differentiable gathers, so gradients need no special kernel."""

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
        else:
            raise NotImplementedError(f"interpolate mode '{mode}' is not supported yet")
    return out
