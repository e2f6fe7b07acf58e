"""``torch.special``: special functions. The gamma family (lgamma, digamma, polygamma) and erfc
are Rust kernels (``rust/cpu/special.rs``); the rest are compositions of differentiable ops,
written so an unselected branch never sees 0/0 (its zero gradient would turn into NaN), with
PyTorch's gradient formulas where an autograd Function states them (xlogy, xlog1py, entr)."""

import math

from . import _C
from .autograd.function import Function

__all__ = ["digamma", "entr", "erf", "erfc", "erfinv", "exp2", "expit", "expm1", "gammaln", "log1p", "log_ndtr",
           "log_softmax", "logit", "logsumexp", "multigammaln", "ndtr", "polygamma", "psi", "round", "sinc",
           "softmax", "xlog1py", "xlogy"]


def _tensor(x, like=None):
    if isinstance(x, _C.Tensor):
        return x
    dtype = like.dtype if isinstance(like, _C.Tensor) and like.is_floating_point() else None
    return _C.tensor(x, dtype=dtype)


def _float(x):
    return x if x.is_floating_point() else x.to(_C.get_default_dtype())


class _XLogY(Function):
    """x * log(y), 0 where x == 0 (unless y is NaN); gradients as PyTorch's:
    dx = xlogy(x != 0, y), dy = x / y."""

    @staticmethod
    def forward(ctx, x, y, log1p):
        ctx.save_for_backward(x, y)
        ctx.log1p = log1p
        return _xlogy_value(x, y, log1p)

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        # PyTorch: xlogy(grad, y) with 0 where x == 0 and y <= 0 (y <= -1 for xlog1py)
        edge = (x == 0) & (y <= (-1 if ctx.log1p else 0))
        gx = _xlogy_value(g, y, ctx.log1p)
        gx = _C.where(edge, _C.zeros_like(gx), gx)
        gy = g * x / (y + 1 if ctx.log1p else y)
        return _unbroadcast(gx, x), _unbroadcast(gy, y), None


def _xlogy_value(x, y, log1p):
    zero = (x == 0) & ~y.isnan()
    safe = _C.where(zero, _C.zeros_like(y) if log1p else _C.ones_like(y), y)
    return _C.where(zero, _C.zeros_like(x * safe), x * (safe.log1p() if log1p else safe.log()))


def _unbroadcast(g, like):
    while g.dim() > like.dim():
        g = g.sum(0)
    for i, n in enumerate(like.shape):
        if n == 1 and g.shape[i] != 1:
            g = g.sum(i, keepdim=True)
    return g


def _xlogy(x, y, log1p):
    x, y = _tensor(x, y), _tensor(y, x)
    dtype = _C.promote_types(x.dtype, y.dtype) if hasattr(_C, "promote_types") else (x + y).dtype
    if not (dtype.is_floating_point if hasattr(dtype, "is_floating_point") else True):
        dtype = _C.get_default_dtype()
    x, y = _float(x.to(dtype)), _float(y.to(dtype))
    return _XLogY.apply(x, y, log1p)


def xlogy(input, other):
    """``input * log(other)``, 0 where input == 0 (NaN where other is NaN)."""
    return _xlogy(input, other, False)


def xlog1py(input, other):
    """``input * log1p(other)``, 0 where input == 0 (NaN where other is NaN)."""
    return _xlogy(input, other, True)


class _Entr(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        positive = x > 0
        safe = _C.where(positive, x, _C.ones_like(x))
        rest = _C.where(x == 0, _C.zeros_like(x), _C.full_like(x, -math.inf))
        rest = _C.where(x.isnan(), x, rest)
        return _C.where(positive, -safe * safe.log(), rest)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * -(x.log() + 1)


def entr(input):
    """``-x ln x`` (0 at 0, -inf below 0)."""
    return _Entr.apply(_float(input))


class _Logit(Function):
    """Gradient as PyTorch's: grad / (x (1 - x)); outside [eps, 1 - eps] 0 (without eps:
    NaN outside [0, 1]); NaN stays NaN."""

    @staticmethod
    def forward(ctx, x, eps):
        ctx.save_for_backward(x)
        ctx.eps = eps
        z = x if eps is None else x.clamp(eps, 1 - eps)
        return (z / (1 - z)).log()

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        gx = g / (x * (1 - x))
        if ctx.eps is None:  # outside [0, 1] the gradient is NaN
            outside = (x < 0) | (x > 1)
            gx = _C.where(outside, _C.full_like(gx, math.nan), gx)
        else:
            outside = (x < ctx.eps) | (x > 1 - ctx.eps)
            gx = _C.where(outside, _C.zeros_like(gx), gx)
        return gx, None


def logit(input, eps=None):
    """``ln(p / (1 - p))``, with ``p`` clamped to ``[eps, 1 - eps]`` when ``eps`` is given."""
    return _Logit.apply(_float(input), eps)


class _Sinc(Function):
    """Gradient as PyTorch's: (pi x cos(pi x) - sin(pi x)) / (pi x^2), 0 at x = 0."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        zero = x == 0
        safe = _C.where(zero, _C.ones_like(x), x) * math.pi
        return _C.where(zero, _C.ones_like(x), safe.sin() / safe)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        px = x * math.pi
        d = (px * px.cos() - px.sin()) / (px * x)
        return g * _C.where(x == 0, _C.zeros_like(d), d)


def sinc(input):
    """``sin(pi x) / (pi x)``, 1 at 0."""
    return _Sinc.apply(_float(input))


def ndtr(input):
    """The standard normal CDF."""
    x = _float(input)
    return (x * (-1 / math.sqrt(2))).erfc() * 0.5


def log_ndtr(input):
    """``log(ndtr(x))`` without underflow in the lower tail: computed in float64, with the
    asymptotic series below -20."""
    x = _float(input)
    wide = x.double()
    tail = wide < -20
    far = _C.where(tail, wide, _C.full_like(wide, -20.0))
    inv2 = 1 / (far * far)
    series = (1 - inv2 + 3 * inv2 * inv2 - 15 * inv2 * inv2 * inv2).log()
    asymptotic = -far * far / 2 - (-far).log() - 0.5 * math.log(2 * math.pi) + series
    near = _C.where(tail, _C.zeros_like(wide), wide)
    direct = ((near * (-1 / math.sqrt(2))).erfc() * 0.5).log()
    return _C.where(tail, asymptotic, direct).to(x.dtype)


def multigammaln(input, p):
    """The multivariate log-gamma: ``sum_i lgamma(x - i / 2) + p (p - 1) / 4 ln(pi)``."""
    x = _float(input)
    if p < 1:
        raise RuntimeError("p has to be greater than or equal to 1")
    if bool(((x <= (p - 1) / 2)).any()):
        raise RuntimeError(f"All elements must be greater than (p-1)/2 = {(p - 1) / 2}")
    total = x.lgamma()
    for i in range(1, p):
        total = total + (x - i / 2).lgamma()
    return total + p * (p - 1) / 4 * math.log(math.pi)


def polygamma(n, input):
    return _float(input).polygamma(n)


def digamma(input):
    return _float(input).digamma()


psi = digamma


def gammaln(input):
    return _float(input).lgamma()


def erf(input):
    return input.erf()


def erfc(input):
    return input.erfc()


def erfinv(input):
    return input.erfinv()


def expit(input):
    return input.sigmoid()


def exp2(input):
    return input.exp2()


def expm1(input):
    return input.expm1()


def log1p(input):
    return input.log1p()


def round(input, decimals=0):
    return input.round(decimals=decimals)


def softmax(input, dim, *, dtype=None):
    return input.softmax(dim, dtype=dtype)


def log_softmax(input, dim, *, dtype=None):
    return input.log_softmax(dim, dtype=dtype)


def logsumexp(input, dim, keepdim=False):
    return input.logsumexp(dim, keepdim=keepdim)
