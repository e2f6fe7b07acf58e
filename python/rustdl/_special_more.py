"""More of torch.special, evaluated in float64 NumPy and returned in the input's dtype:
modified Bessel functions i0, i0e, i1, i1e (power series up to |x| = 30, the asymptotic
expansion beyond, where its smallest term is below float64 rounding); ndtri (Newton's method on
log Phi from an asymptotic start, so the tails keep full precision); erfcx (exp(x^2) erfc(x), its
asymptotic series for x >= 25); the regularized incomplete gamma functions gammainc / gammaincc
(series below a + 1, Lentz's continued fraction above); the Hurwitz zeta function
(Euler-Maclaurin); and the classical orthogonal polynomials by their three-term recurrences.

Gradients are PyTorch's formulas, themselves made of these functions (so second derivatives
exist); where PyTorch has no derivative (gammainc in `a`, zeta, the polynomials) the backward
raises its error."""

import math

import numpy as np

import rustdl as _t

from ._elementwise_composites import _without_derivative
from ._out import write_out
from .autograd.function import Function
from .special import _unbroadcast

_SERIES_LIMIT = 30.0
_SQRT_PI = math.sqrt(math.pi)
_SQRT_2PI = math.sqrt(2 * math.pi)
_erfc = np.vectorize(math.erfc, otypes=[np.float64])
_lgamma = np.vectorize(math.lgamma, otypes=[np.float64])


def _float_input(x, op):
    if not isinstance(x, _t.Tensor):
        raise TypeError(f"special.{op}(): argument 'input' (position 1) must be Tensor, not {type(x).__name__}")
    return x if x.is_floating_point() else x.to(_t.get_default_dtype())


def _as_numpy(x):
    return x.detach().to(_t.float64).contiguous().numpy()


def _result(values, like):
    return _t.tensor(np.asarray(values, dtype=np.float64), dtype=like.dtype)


# --- modified Bessel functions of the first kind, orders 0 and 1 ---


def _bessel_i(x, order, scaled):
    """I_order(x) (times exp(-|x|) when scaled) for order 0 or 1."""
    a = np.abs(x)
    out = np.empty_like(a)
    small = a <= _SERIES_LIMIT
    t = (a[small] / 2) ** 2
    term = np.ones_like(t) if order == 0 else a[small] / 2
    total = term.copy()
    for k in range(1, 200):
        term = term * t / (k * (k + order))
        total = total + term
        if np.all(term <= 1e-17 * total):
            break
    out[small] = total * np.exp(-a[small]) if scaled else total
    big = a[~small]
    mu = 4.0 * order * order
    term = np.ones_like(big)
    total = term.copy()
    for k in range(1, 30):
        term = -term * (mu - (2 * k - 1) ** 2) / (8 * k * big)
        total = total + term
    scale = 1 / np.sqrt(2 * np.pi * big)
    with np.errstate(over="ignore"):
        out[~small] = total * scale if scaled else total * scale * np.exp(big)
    if order == 1:
        out = np.sign(x) * out
    return np.where(np.isnan(x), np.nan, out)


class _BesselI(Function):
    """d i0 = i1; d i1 = i0 - i1 / x (1/2 at 0); d i0e = i1e - sign(x) i0e;
    d i1e = i0e - i1e (sign(x) + 1 / x) (1/2 at 0)."""

    @staticmethod
    def forward(ctx, x, order, scaled):
        ctx.save_for_backward(x)
        ctx.order, ctx.scaled = order, scaled
        return _result(_bessel_i(_as_numpy(x), order, scaled), x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        f = _BesselI.apply
        if ctx.order == 0:
            d = f(x, 1, ctx.scaled) - (x.sign() * f(x, 0, True) if ctx.scaled else 0)
        else:
            safe = _t.where(x == 0, _t.ones_like(x), x)
            ratio = _t.where(x == 0, _t.full_like(x, 0.5), f(x, 1, ctx.scaled) / safe)
            d = f(x, 0, ctx.scaled) - ratio - (x.sign() * f(x, 1, True) if ctx.scaled else 0)
        return grad * d, None, None


def i0(input, *, out=None):
    return _write(_BesselI.apply(_float_input(input, "i0"), 0, False), out)


def i0e(input, *, out=None):
    return _write(_BesselI.apply(_float_input(input, "i0e"), 0, True), out)


def i1(input, *, out=None):
    return _write(_BesselI.apply(_float_input(input, "i1"), 1, False), out)


def i1e(input, *, out=None):
    return _write(_BesselI.apply(_float_input(input, "i1e"), 1, True), out)


# --- normal quantile, scaled complementary error function ---


def _log_ndtr(x):
    with np.errstate(divide="ignore"):
        return np.log(_erfc(-x / math.sqrt(2)) / 2)


def _ndtri(p):
    """x with Phi(x) = p: Newton steps on log Phi(x) = log p for the lower half (the upper half by
    symmetry), started from the tail asymptote -sqrt(-2 log p)."""
    p = np.asarray(p, dtype=np.float64)
    lower = np.minimum(p, 1 - p)
    out = np.full_like(p, np.nan)
    inside = (lower > 0) & (lower <= 0.5)
    q = lower[inside]
    with np.errstate(divide="ignore", invalid="ignore"):
        x = np.where(q < 0.3, -np.sqrt(-2 * np.log(q)) + 0.8, (q - 0.5) * _SQRT_2PI)
        for _ in range(60):
            log_cdf = _log_ndtr(x)
            log_pdf = -0.5 * x * x - math.log(_SQRT_2PI)
            step = (log_cdf - np.log(q)) * np.exp(log_cdf - log_pdf)
            x = x - step
            if np.all(np.abs(step) <= 1e-15 * np.maximum(np.abs(x), 1)):
                break
    out[inside] = np.where(p[inside] > 0.5, -x, x)
    out[p == 0] = -np.inf
    out[p == 1] = np.inf
    out[p == 0.5] = 0.0
    return out


class _Ndtri(Function):
    @staticmethod
    def forward(ctx, p):
        value = _result(_ndtri(_as_numpy(p)), p)
        ctx.save_for_backward(p)
        return value

    @staticmethod
    def backward(ctx, grad):
        (p,) = ctx.saved_tensors
        x = _Ndtri.apply(p)
        return grad * _SQRT_2PI * (x * x / 2).exp()


def ndtri(input, *, out=None):
    return _write(_Ndtri.apply(_float_input(input, "ndtri")), out)


def _erfcx(x):
    out = np.empty_like(x)
    large = x >= 25
    with np.errstate(over="ignore", invalid="ignore"):
        direct = np.exp(x[~large] ** 2) * _erfc(x[~large])
    out[~large] = np.where(np.isinf(direct) & (x[~large] < 0), np.inf, direct)
    big = x[large]
    inv = 1 / (2 * big * big)
    term = np.ones_like(big)
    total = term.copy()
    for k in range(1, 12):
        term = -term * (2 * k - 1) * inv
        total = total + term
    out[large] = total / (big * _SQRT_PI)
    return out


class _Erfcx(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return _result(_erfcx(_as_numpy(x)), x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * (2 * x * _Erfcx.apply(x) - 2 / _SQRT_PI)


def erfcx(input, *, out=None):
    return _write(_Erfcx.apply(_float_input(input, "erfcx")), out)


# --- regularized incomplete gamma functions ---


def _gammainc(a, x, upper):
    a, x = np.broadcast_arrays(np.asarray(a, np.float64), np.asarray(x, np.float64))
    out = np.full(a.shape, np.nan)
    valid = (a >= 0) & (x >= 0) & ~np.isnan(a) & ~np.isnan(x)
    zero_a = valid & (a == 0)
    out[zero_a & (x > 0)] = 0.0 if upper else 1.0
    out[zero_a & (x == 0)] = np.nan
    ordinary = valid & (a > 0)
    out[ordinary & (x == 0)] = 1.0 if upper else 0.0
    out[ordinary & np.isinf(x)] = 0.0 if upper else 1.0
    out[ordinary & np.isinf(a) & np.isfinite(x)] = 1.0 if upper else 0.0
    todo = ordinary & (x > 0) & np.isfinite(x) & np.isfinite(a)
    for index in zip(*np.nonzero(todo)):
        aa, xx = float(a[index]), float(x[index])
        log_front = aa * math.log(xx) - xx - math.lgamma(aa)
        if xx < aa + 1:  # series for the lower function
            term = total = 1.0 / aa
            n = aa
            for _ in range(10000):
                n += 1
                term *= xx / n
                total += term
                if abs(term) < abs(total) * 1e-17:
                    break
            lower = total * math.exp(log_front)
            out[index] = 1 - lower if upper else lower
        else:  # continued fraction for the upper function (modified Lentz)
            tiny = 1e-300
            b = xx + 1 - aa
            c = 1 / tiny
            d = 1 / b
            h = d
            for i in range(1, 10000):
                an = -i * (i - aa)
                b += 2
                d = an * d + b
                d = tiny if abs(d) < tiny else d
                c = b + an / c
                c = tiny if abs(c) < tiny else c
                d = 1 / d
                delta = d * c
                h *= delta
                if abs(delta - 1) < 1e-16:
                    break
            upper_value = math.exp(log_front) * h
            out[index] = upper_value if upper else 1 - upper_value
    return out


class _GammaInc(Function):
    @staticmethod
    def forward(ctx, a, x, upper):
        ctx.save_for_backward(a, x)
        ctx.upper = upper
        dtype = _t.promote_types(a.dtype, x.dtype)
        return _t.tensor(_gammainc(_as_numpy(a), _as_numpy(x), upper), dtype=dtype)

    @staticmethod
    def backward(ctx, grad):
        a, x = ctx.saved_tensors
        if ctx.needs_input_grad[0]:
            raise NotImplementedError(f"derivative for aten::{'igammac' if ctx.upper else 'igamma'} is not implemented "
                                      "for the first argument (a)")
        density = (-x + (a - 1) * x.log() - _t.lgamma(a)).exp()
        d = -density if ctx.upper else density
        return None, _unbroadcast(grad * d, x), None


def _gamma_pair(input, other, op):
    a = input if isinstance(input, _t.Tensor) else _t.tensor(input)
    x = other if isinstance(other, _t.Tensor) else _t.tensor(other)
    if not a.is_floating_point() or not x.is_floating_point():
        raise NotImplementedError(f"\"{op}_cpu\" not implemented for 'Long'")
    return a, x


def gammainc(input, other, *, out=None):
    a, x = _gamma_pair(input, other, "igamma")
    return _write(_GammaInc.apply(a, x, False), out)


def gammaincc(input, other, *, out=None):
    a, x = _gamma_pair(input, other, "igammac")
    return _write(_GammaInc.apply(a, x, True), out)


# --- Hurwitz zeta ---

# B_{2j} / (2j)! for j = 1..12 (Bernoulli numbers over factorials)
_B2J = [1 / 12, -1 / 720, 1 / 30240, -1 / 1209600, 1 / 47900160, -691 / 1307674368000, 1 / 74724249600,
        -3617 / 10670622842880000, 43867 / 5109094217170944000, -174611 / 802857662698291200000,
        77683 / 14101100039391805440000, -236364091 / 1580132580471901551518720000]


def _zeta(s, q):
    s, q = np.broadcast_arrays(np.asarray(s, np.float64), np.asarray(q, np.float64))
    out = np.full(s.shape, np.nan)
    for index in np.ndindex(s.shape):
        ss, qq = float(s[index]), float(q[index])
        if ss == 1:
            out[index] = np.inf
            continue
        if ss < 1 or math.isnan(ss) or math.isnan(qq):
            continue
        head = 0.0
        if qq <= 0:
            if qq == math.floor(qq):
                out[index] = np.inf
                continue
            if ss != math.floor(ss):
                continue  # (q + k)^-s is not real: NaN, as Cephes
            shift = math.ceil(-qq)  # zeta(s, q) = sum_{k < shift} (q + k)^-s + zeta(s, q + shift)
            head = sum((qq + k) ** -ss for k in range(shift))
            qq += shift
        n = 9
        total = head + sum((k + qq) ** -ss for k in range(n))
        w = n + qq
        total += w ** (1 - ss) / (ss - 1) + 0.5 * w ** -ss
        factor = ss * w ** (-ss - 1)
        for j, coefficient in enumerate(_B2J):
            term = coefficient * factor
            total += term
            if abs(term) < 1e-17 * abs(total):
                break
            factor *= (ss + 2 * j + 1) * (ss + 2 * j + 2) / (w * w)
        out[index] = total
    return out


def zeta(input, other, *, out=None):
    s = input if isinstance(input, _t.Tensor) else _t.tensor(input, dtype=_t.get_default_dtype())
    q = other if isinstance(other, _t.Tensor) else _t.tensor(other, dtype=_t.get_default_dtype())
    dtype = _t.promote_types(s.dtype, q.dtype)
    dtype = dtype if dtype.is_floating_point else _t.get_default_dtype()
    value = _t.tensor(_zeta(_as_numpy(s), _as_numpy(q)), dtype=dtype)
    return _write(_without_derivative(value, "zeta", s, q), out)


# --- orthogonal polynomials ---


def _polynomial(name, first, second, step):
    """p_n(x) from p_0 = first(x), p_1 = second(x), p_{k+1} = step(k, x, p_k, p_{k-1});
    0 for n < 0, as PyTorch."""

    def function(input, n, *, out=None):
        x = input if isinstance(input, _t.Tensor) else _t.tensor(input, dtype=_t.get_default_dtype())
        order = n if isinstance(n, _t.Tensor) else _t.tensor(n)
        dtype = _t.promote_types(x.dtype, order.dtype)
        dtype = dtype if dtype.is_floating_point else _t.get_default_dtype()
        xs, ns = np.broadcast_arrays(_as_numpy(x), _as_numpy(order))
        values = np.zeros(xs.shape)
        top = int(np.nanmax(ns)) if ns.size and np.isfinite(np.nanmax(ns)) else 0
        previous, current = first(xs), second(xs)
        values = np.where(ns == 0, previous, values)
        values = np.where(ns == 1, current, values)
        for k in range(1, top):
            previous, current = current, step(k, xs, current, previous)
            values = np.where(ns == k + 1, current, values)
        value = _t.tensor(values, dtype=dtype)
        return _write(_without_derivative(value, name, x), out)

    function.__name__ = name
    return function


def _ones(x):
    return np.ones_like(x)


chebyshev_polynomial_t = _polynomial("chebyshev_polynomial_t", _ones, lambda x: x,
                                     lambda k, x, p, q: 2 * x * p - q)
chebyshev_polynomial_u = _polynomial("chebyshev_polynomial_u", _ones, lambda x: 2 * x,
                                     lambda k, x, p, q: 2 * x * p - q)
chebyshev_polynomial_v = _polynomial("chebyshev_polynomial_v", _ones, lambda x: 2 * x - 1,
                                     lambda k, x, p, q: 2 * x * p - q)
chebyshev_polynomial_w = _polynomial("chebyshev_polynomial_w", _ones, lambda x: 2 * x + 1,
                                     lambda k, x, p, q: 2 * x * p - q)
shifted_chebyshev_polynomial_t = _polynomial("shifted_chebyshev_polynomial_t", _ones, lambda x: 2 * x - 1,
                                             lambda k, x, p, q: 2 * (2 * x - 1) * p - q)
shifted_chebyshev_polynomial_u = _polynomial("shifted_chebyshev_polynomial_u", _ones, lambda x: 4 * x - 2,
                                             lambda k, x, p, q: 2 * (2 * x - 1) * p - q)
shifted_chebyshev_polynomial_v = _polynomial("shifted_chebyshev_polynomial_v", _ones, lambda x: 4 * x - 3,
                                             lambda k, x, p, q: 2 * (2 * x - 1) * p - q)
shifted_chebyshev_polynomial_w = _polynomial("shifted_chebyshev_polynomial_w", _ones, lambda x: 4 * x - 1,
                                             lambda k, x, p, q: 2 * (2 * x - 1) * p - q)
hermite_polynomial_h = _polynomial("hermite_polynomial_h", _ones, lambda x: 2 * x,
                                   lambda k, x, p, q: 2 * x * p - 2 * k * q)
hermite_polynomial_he = _polynomial("hermite_polynomial_he", _ones, lambda x: x,
                                    lambda k, x, p, q: x * p - k * q)
laguerre_polynomial_l = _polynomial("laguerre_polynomial_l", _ones, lambda x: 1 - x,
                                    lambda k, x, p, q: ((2 * k + 1 - x) * p - k * q) / (k + 1))
legendre_polynomial_p = _polynomial("legendre_polynomial_p", _ones, lambda x: x,
                                    lambda k, x, p, q: ((2 * k + 1) * x * p - k * q) / (k + 1))


def _write(value, out):
    return write_out(out, value, "special")


SPECIAL = ["chebyshev_polynomial_t", "chebyshev_polynomial_u", "chebyshev_polynomial_v", "chebyshev_polynomial_w",
           "erfcx", "gammainc", "gammaincc", "hermite_polynomial_h", "hermite_polynomial_he", "i0", "i0e", "i1", "i1e",
           "laguerre_polynomial_l", "legendre_polynomial_p", "ndtri", "shifted_chebyshev_polynomial_t",
           "shifted_chebyshev_polynomial_u", "shifted_chebyshev_polynomial_v", "shifted_chebyshev_polynomial_w",
           "zeta"]
TORCH = {"i0": i0, "igamma": gammainc, "igammac": gammaincc}
