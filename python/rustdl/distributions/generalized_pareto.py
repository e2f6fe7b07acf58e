"""GeneralizedPareto(loc, scale, concentration): the law of exceedances over a high threshold.
concentration c > 0: heavy tail on [loc, inf); c = 0: exponential; c < 0: bounded on
[loc, loc - scale / c]."""

import math
import numbers

import rustdl

from . import constraints
from .distribution import Distribution
from .utils import broadcast_all

__all__ = ["GeneralizedPareto"]


class GeneralizedPareto(Distribution):
    arg_constraints = {"loc": constraints.real, "scale": constraints.positive, "concentration": constraints.real}  # noqa: RUF012 (read-only, as PyTorch)
    has_rsample = True

    def __init__(self, loc, scale, concentration, validate_args=None):
        self.loc, self.scale, self.concentration = broadcast_all(loc, scale, concentration)
        scalar = all(isinstance(v, numbers.Number) for v in (loc, scale, concentration))
        super().__init__(() if scalar else self.loc.size(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expand_parameters(GeneralizedPareto, batch_shape, ("loc", "scale", "concentration"), _instance)

    def _nonzero_concentration(self):
        """c with zeros replaced by 1 (the c = 0 branch is taken separately), so that no 1/c
        term produces NaN gradients."""
        c = self.concentration
        return rustdl.where(c == 0, rustdl.ones_like(c), c)

    def rsample(self, sample_shape=()):
        u = rustdl.rand(self._extended_shape(sample_shape), dtype=self.loc.dtype)
        return self.icdf(u)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        z = self._standardized(value)
        c = self._nonzero_concentration()
        heavy = -(1 + c.reciprocal()) * rustdl.log1p(c * z)
        log_density = rustdl.where(self.concentration == 0, -z, heavy) - self.scale.log()
        return rustdl.where(self._inside(z), log_density, rustdl.full_like(log_density, -math.inf))

    def _standardized(self, value):
        return (value - self.loc) / self.scale

    def _inside(self, z):
        c = self.concentration
        upper = rustdl.where(c < 0, -1 / self._nonzero_concentration(), rustdl.full_like(c, math.inf))
        return (z >= 0) & (z <= upper)

    def log_survival_function(self, value):
        z = self._standardized(value)
        c = self._nonzero_concentration()
        z = rustdl.where(self._inside(z), z, rustdl.where(z < 0, rustdl.zeros_like(z), -1 / c))
        return rustdl.where(self.concentration == 0, -z, -rustdl.log1p(c * z) / c)

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return -rustdl.expm1(self.log_survival_function(value))

    def icdf(self, value):
        c = self._nonzero_concentration()
        log_tail = rustdl.log1p(-value)
        z = rustdl.where(self.concentration == 0, -log_tail, rustdl.expm1(-c * log_tail) / c)
        return self.loc + self.scale * z

    @property
    def mean(self):
        c = self.concentration
        result = self.loc + self.scale / (1 - c)
        return rustdl.where(c < 1, result, rustdl.full_like(result, math.nan))  # NaN as PyTorch

    @property
    def variance(self):
        c = self.concentration
        result = self.scale.pow(2) / ((1 - c).pow(2) * (1 - 2 * c))
        return rustdl.where(c < 0.5, result, rustdl.full_like(result, math.nan))  # NaN as PyTorch

    @property
    def mode(self):
        return self.loc

    def entropy(self):
        return self.scale.log() + self.concentration + 1

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self):
        c = self.concentration
        upper = rustdl.where(c < 0, self.loc - self.scale / self._nonzero_concentration(),
                             rustdl.full_like(self.loc, math.inf))
        return constraints.interval(self.loc, upper)
