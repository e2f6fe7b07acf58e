"""Poisson(rate): counts of events at `rate` per unit."""

import numbers

import rustdl

from . import constraints
from .exp_family import ExponentialFamily
from .utils import broadcast_all

__all__ = ["Poisson"]

# below this rate draws are made by inversion (at most a few dozen steps); above it by
# Hormann's transformed rejection with squeeze (PTRS, 1993)
_INVERSION_LIMIT = 10.0


def _poisson_inversion(rate):
    """Sequential search of the CDF, all elements at once: count k up while u is above the
    CDF at k."""
    u = rustdl.rand(rate.shape, dtype=rate.dtype)
    k = rustdl.zeros_like(rate)
    pmf = rustdl.exp(-rate)
    cdf = pmf.clone()
    pending = u > cdf
    step = 0
    while bool(pending.any()):
        step += 1
        k = k + pending.to(rate.dtype)
        pmf = pmf * rate / step
        cdf = cdf + pmf
        pending = pending & (u > cdf) & (pmf > 0)
    return k


def _poisson_ptrs(rate):
    """Transformed rejection with squeeze for rate >= 10, retried per element until accepted."""
    slam = rate.sqrt()
    loglam = rate.log()
    b = 0.931 + 2.53 * slam
    a = -0.059 + 0.02483 * b
    inv_alpha = 1.1239 + 1.1328 / (b - 3.4)
    v_r = 0.9277 - 3.6224 / (b - 2)
    result = rustdl.zeros_like(rate)
    pending = rustdl.ones(rate.shape, dtype=rustdl.bool)
    while bool(pending.any()):
        u = rustdl.rand(rate.shape, dtype=rate.dtype) - 0.5
        v = rustdl.rand(rate.shape, dtype=rate.dtype)
        us = 0.5 - u.abs()
        k = ((2 * a / us + b) * u + rate + 0.43).floor()
        quick = (us >= 0.07) & (v <= v_r)
        rejected = (k < 0) | ((us < 0.013) & (v > us))
        log_ratio = (v.log() + inv_alpha.log() - (a / (us * us) + b).log())
        full = ~rejected & (log_ratio <= -rate + k * loglam - rustdl.lgamma(k + 1))
        accept = pending & (quick | full)
        result = rustdl.where(accept, k, result)
        pending = pending & ~accept
    return result


class Poisson(ExponentialFamily):
    arg_constraints = {"rate": constraints.nonnegative}  # noqa: RUF012 (read-only, as PyTorch)
    support = constraints.nonnegative_integer

    @property
    def _natural_params(self):
        return (self.rate.log(),)

    def _log_normalizer(self, x):
        return x.exp()

    def __init__(self, rate, validate_args=None):
        (self.rate,) = broadcast_all(rate)
        batch_shape = () if isinstance(rate, numbers.Number) else self.rate.size()
        super().__init__(batch_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expand_parameters(Poisson, batch_shape, ("rate",), _instance)

    @property
    def mean(self):
        return self.rate

    @property
    def mode(self):
        return self.rate.floor()

    @property
    def variance(self):
        return self.rate

    def sample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        with rustdl.no_grad():
            rate = self.rate.expand(shape).contiguous()
            small = rate < _INVERSION_LIMIT
            low = _poisson_inversion(rustdl.where(small, rate, rustdl.zeros_like(rate)))
            if not bool((~small).any()):
                return low
            high = _poisson_ptrs(rustdl.where(small, rustdl.full_like(rate, _INVERSION_LIMIT), rate))
            return rustdl.where(small, low, high)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        rate, value = broadcast_all(self.rate, value)
        return value.xlogy(rate) - rate - (value + 1).lgamma()
