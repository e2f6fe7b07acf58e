"""torch functions composed from differentiable rustdl ops (their gradients, of every order, come
from the ops they are made of), and the integer/index functions that have no gradient, computed
through NumPy: logaddexp(2), copysign, hypot, ldexp, diff, kron, diag_embed, diagflat,
tril/triu_indices, searchsorted, bucketize, bincount, histc, isin, take_along_dim, kthvalue,
quantile, nanquantile, nanmean, rot90, msort, trapezoid, vander, cov, corrcoef, combinations,
renorm."""

import itertools
import math

import numpy as np

import rustdl as _t

from .autograd.function import Function

_LONG = _t.int64


def _float(x):
    return x if x.is_floating_point() else x.to(_t.get_default_dtype())


def _as_tensor_like(value, like):
    if isinstance(value, _t.Tensor):
        return value
    return _t.tensor(value, dtype=like.dtype if like.is_floating_point() else _t.get_default_dtype())


class _LogAddExp(Function):
    """log(b^a + b^c) / log(b) for base b = e or 2, without overflow (equal infinite operands give
    that infinity); the gradient is PyTorch's, 1 / (1 + b^(c - a)) for a (NaN where both are the
    same infinity)."""

    @staticmethod
    def forward(ctx, a, c, base2):
        scale = math.log(2.0) if base2 else 1.0
        m = _t.maximum(a, c)
        d = _t.where(a == c, _t.zeros_like(m), a - c)  # 0 where a == c (also +-inf): no inf - inf
        ctx.save_for_backward(a, c)
        ctx.scale = scale
        return m + (-d.abs() * scale).exp().log1p() / scale

    @staticmethod
    def backward(ctx, grad):
        a, c = ctx.saved_tensors
        return (grad / (1 + ((c - a) * ctx.scale).exp()), grad / (1 + ((a - c) * ctx.scale).exp()), None)


def _broadcast_pair(input, other):
    a, c = _float(input), _float(_as_tensor_like(other, input))
    dtype = _t.promote_types(a.dtype, c.dtype)
    return a.to(dtype), c.to(dtype)


def logaddexp(input, other):
    a, c = _broadcast_pair(input, other)
    return _unbroadcast_apply(a, c, False)


def logaddexp2(input, other):
    a, c = _broadcast_pair(input, other)
    return _unbroadcast_apply(a, c, True)


def _unbroadcast_apply(a, c, base2):
    shape = _t.broadcast_shapes(a.shape, c.shape)
    return _LogAddExp.apply(a.expand(shape), c.expand(shape), base2)


def copysign(input, other):
    """|input| with the sign bit of `other` (-0.0 counts as negative)."""
    a = _float(input)
    other = _as_tensor_like(other, a)
    negative = _t.signbit(other) if other.is_floating_point() else other < 0
    magnitude = a.abs()
    return _t.where(negative, -magnitude, magnitude)


def hypot(input, other):
    """sqrt(a^2 + b^2) scaled by max(|a|, |b|) so that it neither overflows nor underflows."""
    a, b = input, _as_tensor_like(other, input)
    big = _t.maximum(a.abs(), b.abs())
    safe = _t.where(big == 0, _t.ones_like(big), big)
    scaled = big * ((a / safe).pow(2) + (b / safe).pow(2)).sqrt()
    return _t.where(big.isinf(), big, scaled)


def ldexp(input, other):
    return _float(input) * _t.pow(2.0, _float(_as_tensor_like(other, input)))


def diff(input, n=1, dim=-1, prepend=None, append=None):
    """n-th forward difference along dim (logical xor for bool tensors)."""
    if input.dim() == 0:
        raise RuntimeError("diff expects input to be at least one-dimensional")
    if n < 0:
        raise RuntimeError(f"order must be non-negative but got {n}")
    parts = [t for t in (prepend, input, append) if t is not None]
    x = _t.cat(parts, dim) if len(parts) > 1 else input
    for _ in range(n):
        length = x.shape[dim]
        if length == 0:
            break
        hi, lo = x.narrow(dim, 1, length - 1), x.narrow(dim, 0, length - 1)
        x = (hi != lo) if x.dtype == _t.bool else hi - lo
    return x


def kron(input, other):
    """The Kronecker product: block (i, j) of the result is input[i, j] * other."""
    nd = max(input.dim(), other.dim())
    a = input.reshape((1,) * (nd - input.dim()) + tuple(input.shape))
    b = other.reshape((1,) * (nd - other.dim()) + tuple(other.shape))
    a_shape = []
    b_shape = []
    for k in range(nd):
        a_shape += [a.shape[k], 1]
        b_shape += [1, b.shape[k]]
    out = a.reshape(a_shape) * b.reshape(b_shape)
    return out.reshape(tuple(a.shape[k] * b.shape[k] for k in range(nd)))


def diag_embed(input, offset=0, dim1=-2, dim2=-1):
    """A tensor whose (dim1, dim2) planes carry the last dim of `input` on diagonal `offset`."""
    n = input.shape[-1] + abs(offset)
    nd = input.dim() + 1
    d1, d2 = dim1 % nd, dim2 % nd
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    batch = list(input.shape[:-1])
    shape = []
    it = iter(batch)
    for k in range(nd):
        shape.append(n if k in (d1, d2) else next(it))
    out = _t.zeros(tuple(shape), dtype=input.dtype)
    # the diagonal view lists the kept dims in order, then the diagonal: input's own layout
    out = out + 0 * input.sum() if input.requires_grad else out
    out.diagonal(offset, d1, d2).copy_(input)
    return out


def diagflat(input, offset=0):
    return diag_embed(input.reshape(-1), offset)


def _triangle_indices(row, col, offset, lower, dtype):
    r, c = np.indices((row, col)) if row > 0 and col > 0 else (np.zeros((0,), int), np.zeros((0,), int))
    if row > 0 and col > 0:
        keep = (c - r <= offset) if lower else (c - r >= offset)
        r, c = r[keep], c[keep]
    return _t.tensor(np.stack([r.ravel(), c.ravel()]).astype(np.int64)).to(dtype)


def tril_indices(row, col, offset=0, *, dtype=_LONG, device=None, layout=None):
    return _triangle_indices(row, col, offset, True, dtype)


def triu_indices(row, col, offset=0, *, dtype=_LONG, device=None, layout=None):
    return _triangle_indices(row, col, offset, False, dtype)


def _numpy(t):
    return t.detach().cpu().numpy() if isinstance(t, _t.Tensor) else np.asarray(t)


def searchsorted(sorted_sequence, input, *, out_int32=False, right=False, side=None, sorter=None, out=None):
    """Insertion points keeping each row of sorted_sequence sorted (left, or right of equals)."""
    if side is not None:
        if side not in ("left", "right"):
            raise RuntimeError(f"torch.searchsorted(): side can only be 'left' or 'right' but got {side}")
        if right and side == "left":
            raise RuntimeError("torch.searchsorted(): side and right can't be set to opposites, got side of left "
                               "while right was True")
        right = side == "right"
    seq = _numpy(sorted_sequence)
    if sorter is not None:
        seq = np.take_along_axis(seq, _numpy(sorter), -1)
    scalar = not isinstance(input, _t.Tensor)
    values = np.asarray(input) if scalar else _numpy(input)
    how = "right" if right else "left"
    if seq.ndim == 1:
        result = np.searchsorted(seq, values, side=how)
    else:
        if values.shape[:-1] != seq.shape[:-1]:
            raise RuntimeError("torch.searchsorted(): boundaries tensor should be 1 dimension or the first N-1 "
                               "dimensions of boundaries tensor and input value tensor must match, but we got "
                               f"boundaries tensor {list(seq.shape)} and input value tensor {list(values.shape)}")
        rows_seq = seq.reshape(-1, seq.shape[-1])
        rows_val = values.reshape(-1, values.shape[-1])
        result = np.stack([np.searchsorted(s, v, side=how) for s, v in zip(rows_seq, rows_val)]).reshape(values.shape)
    result = _t.tensor(np.asarray(result, dtype=np.int32 if out_int32 else np.int64))
    return result if out is None else out.copy_(result)


def bucketize(input, boundaries, *, out_int32=False, right=False, out=None):
    if boundaries.dim() != 1:
        raise RuntimeError(f"boundaries tensor must be 1 dimension, but got dim({boundaries.dim()})")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right, out=out)


def bincount(input, weights=None, minlength=0):
    if input.dim() != 1:
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    if input.is_floating_point() or input.dtype == _t.bool:
        raise RuntimeError(f"\"bincount_cpu\" not implemented for '{_scalar(input.dtype)}'")
    values = _numpy(input)
    if values.size and values.min() < 0:
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    if minlength < 0:
        raise RuntimeError("minlength should be >= 0")
    if weights is None:
        return _t.tensor(np.bincount(values, minlength=minlength).astype(np.int64))
    counts = np.bincount(values, weights=_numpy(weights).astype(np.float64), minlength=minlength)
    dtype = weights.dtype if weights.dtype in (_t.float32, _t.float64) else _t.float64
    return _t.tensor(counts).to(dtype)


def _scalar(dtype):
    return {"int64": "Long", "int32": "Int", "float32": "Float", "float64": "Double", "bool": "Bool",
            "uint8": "Byte"}.get(str(dtype).rsplit(".", 1)[-1], str(dtype))


def histc(input, bins=100, min=0, max=0, *, out=None):
    """Counts in `bins` equal bins over [min, max] (the data's own range when min == max);
    values outside are ignored."""
    if not input.is_floating_point():
        raise RuntimeError(f"\"histogram_cpu\" not implemented for '{_scalar(input.dtype)}'")
    if bins <= 0:
        raise RuntimeError(f"torch.histc(): bins must be > 0, but got {bins} for dimension 0")
    values = _numpy(input).astype(np.float64).ravel()
    lo, hi = float(min), float(max)
    if lo == hi and values.size:
        lo, hi = float(values.min()), float(values.max())
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    if lo > hi:
        raise RuntimeError(f"torch.histc(): max must be larger than min, but got min {lo} max {hi}")
    counts, _ = np.histogram(values[(values >= lo) & (values <= hi)], bins=bins, range=(lo, hi))
    result = _t.tensor(counts.astype(np.float64)).to(input.dtype)
    return result if out is None else out.copy_(result)


def isin(elements, test_elements, *, assume_unique=False, invert=False):
    e = _numpy(elements) if isinstance(elements, _t.Tensor) else np.asarray(elements)
    t = _numpy(test_elements) if isinstance(test_elements, _t.Tensor) else np.asarray(test_elements)
    return _t.tensor(np.isin(e, t, invert=invert))


def take_along_dim(input, indices, dim=None, *, out=None):
    if dim is None:
        result = input.reshape(-1).gather(0, indices.reshape(-1))
    else:
        dim = dim % max(input.dim(), 1)
        shape_in, shape_ix = list(input.shape), list(indices.shape)
        if len(shape_in) != len(shape_ix):
            raise RuntimeError(f"torch.take_along_dim(): input and indices should have the same number of "
                               f"dimensions, but got {len(shape_in)} dimensions for input, and {len(shape_ix)} "
                               "dimensions for indices")
        common = [max(a, b) if k != dim else None for k, (a, b) in enumerate(zip(shape_in, shape_ix))]
        x = input.expand([c if c is not None else shape_in[k] for k, c in enumerate(common)])
        ix = indices.expand([c if c is not None else shape_ix[k] for k, c in enumerate(common)])
        result = x.gather(dim, ix)
    return result if out is None else out.copy_(result)


def kthvalue(input, k, dim=-1, keepdim=False, *, out=None):
    from . import _return_types

    if input.dim() == 0:
        dim_size = 1
        values, indices = input.reshape(1), _t.zeros(1, dtype=_LONG)
        dim_eff = 0
    else:
        dim_eff = dim % input.dim()
        dim_size = input.shape[dim_eff]
        values, indices = input.sort(dim_eff, stable=True)
    if not 1 <= k <= dim_size:
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {dim}")
    v = values.narrow(dim_eff, k - 1, 1)
    i = indices.narrow(dim_eff, k - 1, 1)
    if input.dim() == 0:
        v, i = v.reshape(()), i.reshape(())
    elif not keepdim:
        v, i = v.squeeze(dim_eff), i.squeeze(dim_eff)
    return _return_types.kthvalue(v, i)


def _quantile(input, q, dim, keepdim, interpolation, ignore_nan):
    name = "nanquantile" if ignore_nan else "quantile"
    if interpolation not in ("linear", "lower", "higher", "midpoint", "nearest"):
        raise RuntimeError(f"{name}() interpolation must be one of linear, lower, higher, midpoint or nearest. "
                           f"Got {interpolation}")
    if not input.is_floating_point():
        raise RuntimeError(f"{name}() input tensor must be either float or double dtype")
    scalar_q = not isinstance(q, _t.Tensor)
    qs = _t.tensor([float(q)], dtype=input.dtype) if scalar_q else q.to(input.dtype).reshape(-1)
    if not scalar_q and q.dim() > 1:
        raise RuntimeError(f"{name}() q must be a scalar or 1D tensor")
    if bool(((qs < 0) | (qs > 1)).any()):
        raise RuntimeError(f"{name}() q values must be in the range [0, 1]")
    if dim is None:
        x = input.reshape(-1)
        d = 0
    else:
        d = dim % max(input.dim(), 1)
        x = input if input.dim() else input.reshape(1)
    if x.shape[d] == 0:
        raise RuntimeError(f"{name}() input tensor must be non-empty")
    x = x.movedim(d, -1)
    sorted_x = x.sort(-1).values  # NaN sort last
    nan = sorted_x.isnan()
    n_valid = (~nan).sum(-1, keepdim=True).to(input.dtype) if ignore_nan else \
        _t.full(tuple(sorted_x.shape[:-1]) + (1,), float(sorted_x.shape[-1]), dtype=input.dtype)
    last = (n_valid - 1).clamp(min=0)
    outs = []
    for j in range(qs.shape[0]):
        pos = qs[j] * last
        lo = pos.floor()
        hi = pos.ceil()
        if interpolation == "lower":
            pos, hi = lo, lo
        elif interpolation == "higher":
            pos, lo = hi, hi
        elif interpolation == "nearest":
            pos = pos.round()
            lo = hi = pos
        v_lo = sorted_x.gather(-1, lo.long())
        v_hi = sorted_x.gather(-1, hi.long())
        if interpolation == "midpoint":
            value = v_lo + (v_hi - v_lo) * 0.5 * (hi != lo).to(input.dtype)
        else:
            value = v_lo + (v_hi - v_lo) * (pos - lo)
        if ignore_nan:
            value = _t.where(n_valid == 0, _t.full_like(value, math.nan), value)
        else:
            value = _t.where(nan.any(-1, keepdim=True), _t.full_like(value, math.nan), value)
        outs.append(value.squeeze(-1))
    result = _t.stack(outs, 0)
    if dim is not None and keepdim and input.dim():
        result = result.unsqueeze(d + 1)
    elif dim is None and keepdim:
        result = result.reshape((result.shape[0],) + (1,) * input.dim())
    return result[0] if scalar_q else result


def quantile(input, q, dim=None, keepdim=False, *, interpolation="linear", out=None):
    result = _quantile(input, q, dim, keepdim, interpolation, ignore_nan=False)
    return result if out is None else out.copy_(result)


def nanquantile(input, q, dim=None, keepdim=False, *, interpolation="linear", out=None):
    result = _quantile(input, q, dim, keepdim, interpolation, ignore_nan=True)
    return result if out is None else out.copy_(result)


def nanmean(input, dim=None, keepdim=False, *, dtype=None, out=None):
    if not input.is_floating_point():
        raise RuntimeError(f"nanmean(): expected input to have floating point or complex dtype but got "
                           f"{_scalar(input.dtype)}")
    x = input if dtype is None else input.to(dtype)
    valid = ~x.isnan()
    kw = {} if dim is None else {"dim": dim, "keepdim": keepdim}
    result = x.nansum(**kw) / valid.sum(**kw).to(x.dtype)
    return result if out is None else out.copy_(result)


def rot90(input, k=1, dims=(0, 1)):
    if len(dims) != 2:
        raise RuntimeError(f"expected total rotation dims == 2, but got dims = {len(dims)}")
    if input.dim() < 2:
        raise RuntimeError(f"expected total dims >= 2, but got total dims = {input.dim()}")
    d0, d1 = dims[0] % input.dim(), dims[1] % input.dim()
    if d0 == d1:
        raise RuntimeError(f"expected rotation dims to be different, but got dim0 = {d0} and dim1 = {d1}")
    k %= 4
    if k == 1:
        return input.flip(d1).transpose(d0, d1)
    if k == 2:
        return input.flip((d0, d1))
    if k == 3:
        return input.flip(d0).transpose(d0, d1)
    return input.clone()


def msort(input, *, out=None):
    result = input.sort(0).values
    return result if out is None else out.copy_(result)


def trapezoid(y, x=None, *, dx=None, dim=-1):
    """The trapezoid rule along dim, with sample points x or a constant spacing dx (default 1)."""
    n = y.shape[dim]
    if n == 0:
        return y.sum(dim)
    left, right = y.narrow(dim, 0, n - 1), y.narrow(dim, 1, n - 1)
    if x is None:
        return ((left + right) * ((1.0 if dx is None else dx) / 2)).sum(dim)
    spacing = diff(x, dim=dim if x.dim() == y.dim() else -1)
    if x.dim() == 1 and y.dim() > 1:
        shape = [1] * y.dim()
        shape[dim % y.dim()] = n - 1
        spacing = spacing.reshape(shape)
    return ((left + right) * spacing / 2).sum(dim)


def vander(x, N=None, increasing=False):
    if x.dim() != 1:
        raise RuntimeError("x must be a one-dimensional tensor.")
    n = x.shape[0] if N is None else N
    if n < 0:
        raise RuntimeError("N must be non-negative.")
    powers = _t.arange(n, dtype=_LONG)
    if not increasing:
        powers = powers.flip(0)
    base = x if x.dtype != _t.bool else x.long()
    base = base if base.is_floating_point() else base.long()
    return base.unsqueeze(-1).pow(powers) if n else _t.zeros(x.shape[0], 0, dtype=base.dtype)


def cov(input, *, correction=1, fweights=None, aweights=None):
    """Covariance of the rows (variables) of `input` over its columns (observations), with optional
    frequency and analytic weights (numpy.cov's definition)."""
    if input.dim() > 2:
        raise RuntimeError(f"cov(): expected input to have two or fewer dimensions but got an input with "
                           f"{input.dim()} dimensions")
    x = input.reshape(1, -1) if input.dim() < 2 else input
    x = _float(x)
    n_obs = x.shape[1]
    w = None
    if fweights is not None:
        w = fweights.to(x.dtype)
    if aweights is not None:
        w = aweights.to(x.dtype) if w is None else w * aweights.to(x.dtype)
    if w is None:
        w_sum = _t.tensor(float(n_obs), dtype=x.dtype)
        avg = x.mean(1, keepdim=True)
        norm = w_sum - correction
    else:
        w_sum = w.sum()
        avg = (x * w).sum(1, keepdim=True) / w_sum
        if correction == 0:
            norm = w_sum
        elif aweights is None:
            norm = w_sum - correction
        else:
            norm = w_sum - correction * (w * aweights.to(x.dtype)).sum() / w_sum
    norm = norm.clamp(min=0)
    centred = x - avg
    weighted = centred if w is None else centred * w
    result = (weighted @ centred.mT) / norm
    return result.squeeze() if input.dim() < 2 else result


def corrcoef(input):
    c = cov(input)
    if c.dim() == 0:
        return c / c
    d = c.diagonal()
    stddev = d.sqrt()
    c = c / stddev.unsqueeze(1) / stddev.unsqueeze(0)
    return c.clamp(-1, 1)


def combinations(input, r=2, with_replacement=False):
    if input.dim() != 1:
        raise RuntimeError(f"Expect a 1D vector, but got shape {list(input.shape)}")
    if r < 0:
        raise RuntimeError(f"Expect a non-negative number, but got {r}")
    if r == 0:
        return _t.zeros(0, dtype=input.dtype)
    pick = itertools.combinations_with_replacement if with_replacement else itertools.combinations
    idx = list(pick(range(input.shape[0]), r))
    if not idx:
        return _t.zeros(0, r, dtype=input.dtype)
    index = _t.tensor(idx, dtype=_LONG)
    return input[index.reshape(-1)].reshape(len(idx), r)


def renorm(input, p, dim, maxnorm):
    """Each slice along `dim` rescaled so that its p-norm is at most maxnorm."""
    if not input.is_floating_point():
        raise RuntimeError(f"renorm: expected a floating point input, got {_scalar(input.dtype)}")
    if maxnorm < 0:
        raise RuntimeError(f"renorm: expected maxnorm to be >= 0 but got {maxnorm}")
    d = dim % input.dim()
    other = tuple(k for k in range(input.dim()) if k != d)
    norms = input.abs().pow(p).sum(other, keepdim=True).pow(1.0 / p) if other else input.abs()
    factor = _t.where(norms > maxnorm, maxnorm / (norms + 1e-7), _t.ones_like(norms))
    return input * factor.detach() if not input.requires_grad else input * factor


def _cumulative_extreme(input, dim, take_max, name):
    """(values, indices) of the running max/min along dim: the index is the latest position holding
    the current extreme (NaN counts as the extreme from the first NaN on), values gathered there so
    the gradient flows to that element, as PyTorch's."""
    from . import _return_types

    if input.dim() == 0:
        return getattr(_return_types, name)(input.clone(), _t.zeros((), dtype=_LONG))
    d = dim % input.dim()
    x = _numpy(input)
    x = np.moveaxis(x, d, -1)
    running = (np.maximum if take_max else np.minimum).accumulate(x, axis=-1)
    nan_x = np.isnan(x) if x.dtype.kind == "f" else np.zeros(x.shape, bool)
    nan_run = np.isnan(running) if x.dtype.kind == "f" else np.zeros(x.shape, bool)
    holds = (x == running) | (nan_x & nan_run)
    positions = np.where(holds, np.arange(x.shape[-1]), -1)
    idx = np.maximum.accumulate(positions, axis=-1) if x.shape[-1] else positions
    indices = _t.tensor(np.ascontiguousarray(np.moveaxis(idx, -1, d)).astype(np.int64))
    return getattr(_return_types, name)(input.gather(d, indices), indices)


def cummax(input, dim, *, out=None):
    result = _cumulative_extreme(input, dim, True, "cummax")
    return result if out is None else tuple(o.copy_(r) for o, r in zip(out, result))


def cummin(input, dim, *, out=None):
    result = _cumulative_extreme(input, dim, False, "cummin")
    return result if out is None else tuple(o.copy_(r) for o, r in zip(out, result))


FUNCTIONS = ["bincount", "bucketize", "combinations", "copysign", "corrcoef", "cov", "cummax", "cummin",
             "diag_embed", "diagflat",
             "diff", "histc", "hypot", "isin", "kron", "kthvalue", "ldexp", "logaddexp", "logaddexp2", "msort",
             "nanmean", "nanquantile", "quantile", "renorm", "rot90", "searchsorted", "take_along_dim",
             "trapezoid", "tril_indices", "triu_indices", "vander"]
# also Tensor methods, as in PyTorch
METHODS = ["bincount", "copysign", "corrcoef", "cov", "cummax", "cummin", "diag_embed", "diagflat", "diff", "histc", "hypot", "kron",
           "kthvalue", "ldexp", "logaddexp", "logaddexp2", "msort", "nanmean", "nanquantile", "quantile", "renorm",
           "rot90", "take_along_dim"]
