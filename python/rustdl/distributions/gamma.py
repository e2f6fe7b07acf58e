"""Gamma(concentration, rate), and the standard-gamma sampler Beta and Dirichlet draw from."""

import math
import numbers

import rustdl

from ..autograd.function import Function
from . import constraints
from .exp_family import ExponentialFamily
from .utils import broadcast_all

__all__ = ["Gamma"]


def standard_gamma(concentration, shape):
    """Draws of Gamma(concentration, 1) of `shape` (concentration broadcast to it), by Marsaglia
    and Tsang's squeeze-and-reject method, every element retried until accepted. For
    concentration < 1 a Gamma(concentration + 1) draw is scaled by U^(1/concentration)."""
    with rustdl.no_grad():
        alpha = concentration.expand(shape).contiguous()
        boosted = alpha < 1
        d = rustdl.where(boosted, alpha + 1, alpha) - 1.0 / 3.0
        c = (9 * d).rsqrt()
        result = rustdl.zeros(shape, dtype=alpha.dtype)
        pending = rustdl.ones(shape, dtype=rustdl.bool)
        while bool(pending.any()):
            x = rustdl.randn(shape, dtype=alpha.dtype)
            v = (1 + c * x) ** 3
            u = rustdl.rand(shape, dtype=alpha.dtype)
            safe_v = rustdl.where(v > 0, v, rustdl.ones_like(v))
            accept = (v > 0) & (u.log() < 0.5 * x * x + d - d * safe_v + d * safe_v.log())
            take = accept & pending
            result = rustdl.where(take, d * safe_v, result)
            pending = pending & ~accept
        u = rustdl.rand(shape, dtype=alpha.dtype)
        result = rustdl.where(boosted, result * u.pow(1 / alpha), result)
        return result.clamp(min=rustdl.finfo(alpha.dtype).tiny)


# from this concentration on, the Wilson-Hilferty normal approximation's derivative (relative error
# ~1e-5 there, smaller above) replaces the series, whose length grows with x ~ alpha
_SERIES_LIMIT = 500.0


def standard_gamma_grad(x, alpha):
    """d x / d alpha of a Gamma(alpha, 1) draw x held at a fixed CDF level u = P(alpha, x)
    (implicit reparameterization): -(dP/dalpha) / (dP/dx). dP/dalpha from the series
    P(a, x) = sum_n exp((a+n) log x - x - lgamma(a+n+1)), differentiated term by term
    (each term times log x - digamma(a+n+1)), summed in float64 until the terms are negligible;
    dP/dx is the density. Large alpha: x = alpha (1 - 1/(9 alpha) + z / (3 sqrt alpha))^3 at a
    fixed normal quantile z, differentiated."""
    with rustdl.no_grad():
        a64 = alpha.double().expand(x.shape)
        large = a64 >= _SERIES_LIMIT
        x64 = rustdl.where(large, rustdl.ones_like(a64), x.double()).clamp(min=1e-300)
        a_series = rustdl.where(large, rustdl.ones_like(a64), a64)
        log_x = x64.log()
        dP_da = rustdl.zeros_like(x64)
        x_max = float(x64.max()) if x64.numel() else 0.0
        limit = int(x_max) + 40 + 30 * int(math.sqrt(x_max))
        for n in range(limit + 1):
            term = ((a_series + n) * log_x - x64 - rustdl.lgamma(a_series + n + 1)).exp()
            dP_da = dP_da + term * (log_x - rustdl.digamma(a_series + n + 1))
            if n > 8 and bool((term <= 1e-17 * (1 + dP_da.abs())).all()):
                break
        density = ((a_series - 1) * log_x - x64 - rustdl.lgamma(a_series)).exp()
        grad = -dP_da / density
        if bool(large.any()):
            a_big = rustdl.where(large, a64, rustdl.full_like(a64, _SERIES_LIMIT))
            x_big = x.double().clamp(min=1e-300)
            z = ((x_big / a_big).pow(1 / 3) - 1 + 1 / (9 * a_big)) * (9 * a_big).sqrt()
            t = 1 - 1 / (9 * a_big) + z / (3 * a_big.sqrt())
            approx = t**3 + 3 * a_big * t * t * (1 / (9 * a_big * a_big) - z / (6 * a_big.pow(1.5)))
            grad = rustdl.where(large, approx, grad)
        return grad.to(x.dtype)


class _StandardGammaDraw(Function):
    """A Gamma(alpha, 1) draw whose gradient for alpha is the implicit one."""

    @staticmethod
    def forward(ctx, alpha, shape):
        x = standard_gamma(alpha.detach(), shape)
        ctx.save_for_backward(x, alpha)
        ctx.alpha_shape = alpha.shape
        return x

    @staticmethod
    def backward(ctx, grad):
        x, alpha = ctx.saved_tensors
        g = grad * standard_gamma_grad(x, alpha.detach().expand(x.shape))
        # sum over the sample dims that broadcast alpha to the draw's shape
        extra = g.dim() - len(ctx.alpha_shape)
        if extra:
            g = g.sum(tuple(range(extra)))
        dims = tuple(i for i, n in enumerate(ctx.alpha_shape) if n == 1 and g.shape[i] != 1)
        if dims:
            g = g.sum(dims, keepdim=True)
        return g, None


def rsample_standard_gamma(alpha, shape):
    """Gamma(alpha, 1) draws of `shape` that carry gradients to alpha."""
    return _StandardGammaDraw.apply(alpha, rustdl.Size(shape))


class Gamma(ExponentialFamily):
    """Draws are reparameterized by implicit differentiation of the gamma CDF (as PyTorch's):
    `rsample` carries gradients to concentration and rate."""

    arg_constraints = {"concentration": constraints.positive, "rate": constraints.positive}  # noqa: RUF012 (read-only, as PyTorch)
    support = constraints.nonnegative
    has_rsample = True

    @property
    def _natural_params(self):
        return (self.concentration - 1, -self.rate)

    def _log_normalizer(self, x, y):
        return rustdl.lgamma(x + 1) + (x + 1) * (-y).reciprocal().log()

    _mean_carrier_measure = 0

    def __init__(self, concentration, rate, validate_args=None):
        self.concentration, self.rate = broadcast_all(concentration, rate)
        scalar = isinstance(concentration, numbers.Number) and isinstance(rate, numbers.Number)
        super().__init__(() if scalar else self.rate.size(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expand_parameters(Gamma, batch_shape, ("concentration", "rate"), _instance)

    @property
    def mean(self):
        return self.concentration / self.rate

    @property
    def mode(self):
        return ((self.concentration - 1) / self.rate).clamp(min=0)

    @property
    def variance(self):
        return self.concentration / self.rate.pow(2)

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        value = rsample_standard_gamma(self.concentration, shape) / self.rate.expand(shape)
        tiny = rustdl.finfo(value.dtype).tiny
        return value + (value.detach().clamp(min=tiny) - value.detach())  # clamped, gradient kept

    def log_prob(self, value):
        value = rustdl.as_tensor(value, dtype=self.rate.dtype)
        if self._validate_args:
            self._validate_sample(value)
        return (rustdl.xlogy(self.concentration, self.rate) + rustdl.xlogy(self.concentration - 1, value)
                - self.rate * value - rustdl.lgamma(self.concentration))

    def entropy(self):
        return (self.concentration - rustdl.log(self.rate) + rustdl.lgamma(self.concentration)
                + (1.0 - self.concentration) * rustdl.digamma(self.concentration))

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return rustdl.special.gammainc(self.concentration, self.rate * value)
