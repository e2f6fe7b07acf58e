"""Gamma(concentration, rate), and the standard-gamma sampler Beta and Dirichlet draw from."""

import numbers

import rustdl

from . import constraints
from .distribution import Distribution
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


class Gamma(Distribution):
    """Gradients do not flow through samples: `rsample` is not offered (PyTorch's implicit
    reparameterization of the gamma draw is not implemented here), so `has_rsample` is False."""

    arg_constraints = {"concentration": constraints.positive, "rate": constraints.positive}  # noqa: RUF012 (read-only, as PyTorch)
    support = constraints.nonnegative
    has_rsample = False

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

    def sample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        with rustdl.no_grad():
            value = standard_gamma(self.concentration, shape) / self.rate.expand(shape)
            return value.clamp(min=rustdl.finfo(value.dtype).tiny)

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
        raise NotImplementedError("Gamma.cdf needs the regularized incomplete gamma function, "
                                  "which rustdl does not have yet")
