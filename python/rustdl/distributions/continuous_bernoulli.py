"""ContinuousBernoulli(probs | logits): the density on [0, 1] proportional to
probs^x (1 - probs)^(1 - x) (Loaiza-Ganem and Cunningham, 2019). Its normalizer, mean and
variance have removable singularities at probs = 1/2; within `lims` of it they are replaced by
their Taylor expansions."""

import math
import numbers

import rustdl

from . import constraints
from .bernoulli import probs_or_logits
from .exp_family import ExponentialFamily
from .utils import broadcast_all, clamp_probs, lazy_property, logits_to_probs, probs_to_logits

__all__ = ["ContinuousBernoulli"]

_F = rustdl.nn.functional


class ContinuousBernoulli(ExponentialFamily):
    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}  # noqa: RUF012 (read-only, as PyTorch)
    support = constraints.unit_interval
    has_rsample = True

    @property
    def _natural_params(self):
        return (self.logits,)

    def _log_normalizer(self, x):
        """log((e^x - 1) / x); near x = 0 its series x/2 + x^2/24 - x^4/2880."""
        small = x.abs() < 1e-2
        safe = rustdl.where(small, rustdl.ones_like(x), x)
        closed = safe.expm1().abs().log() - safe.abs().log()
        series = x / 2 + x.pow(2) / 24 - x.pow(4) / 2880
        return rustdl.where(small, series, closed)

    _mean_carrier_measure = 0

    def __init__(self, probs=None, logits=None, lims=(0.499, 0.501), validate_args=None):
        probs_or_logits(probs, logits)
        given = probs if probs is not None else logits
        if probs is not None:
            (self.probs,) = broadcast_all(probs)
            if validate_args is not None and not bool(self.arg_constraints["probs"].check(self.probs).all()):
                raise ValueError("The parameter probs has invalid values")
            self.probs = clamp_probs(self.probs)
        else:
            (self.logits,) = broadcast_all(logits)
        self._param = self.probs if probs is not None else self.logits
        self._lims = lims
        super().__init__(() if isinstance(given, numbers.Number) else self._param.size(),
                         validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._expand_parameters(ContinuousBernoulli, batch_shape, ("probs", "logits"), _instance)
        new._param = new.__dict__.get("probs", new.__dict__.get("logits"))
        new._lims = self._lims
        return new

    @lazy_property
    def logits(self):
        return probs_to_logits(self.probs, is_binary=True)

    @lazy_property
    def probs(self):
        return clamp_probs(logits_to_probs(self.logits, is_binary=True))

    @property
    def param_shape(self):
        return self._param.size()

    def _stable(self):
        """Where probs is far enough from 1/2 for the closed forms."""
        return (self.probs <= self._lims[0]) | (self.probs >= self._lims[1])

    def _cut_probs(self):
        """probs where stable, a harmless stand-in elsewhere (the closed forms are evaluated
        everywhere and discarded there; this keeps their gradients finite)."""
        return rustdl.where(self._stable(), self.probs, rustdl.full_like(self.probs, self._lims[0]))

    def _log_normalizer(self):
        """log C(p), C(p) = 2 atanh(1 - 2p) / (1 - 2p); near 1/2, log 2 + 4/3 x + 104/45 x^2
        with x = (p - 1/2)^2."""
        p = self._cut_probs()
        below = rustdl.where(p <= 0.5, p, rustdl.zeros_like(p))
        above = rustdl.where(p >= 0.5, p, rustdl.ones_like(p))
        log_gap = (rustdl.log1p(-p) - p.log()).abs().log()
        closed = log_gap - rustdl.where(p <= 0.5, rustdl.log1p(-2.0 * below), (2.0 * above - 1.0).log())
        x = (self.probs - 0.5).pow(2)
        taylor = math.log(2.0) + (4.0 / 3.0 + 104.0 / 45.0 * x) * x
        return rustdl.where(self._stable(), closed, taylor)

    @property
    def mean(self):
        p = self._cut_probs()
        closed = p / (2.0 * p - 1.0) + 1.0 / (rustdl.log1p(-p) - p.log())
        x = self.probs - 0.5
        taylor = 0.5 + (1.0 / 3.0 + 16.0 / 45.0 * x.pow(2)) * x
        return rustdl.where(self._stable(), closed, taylor)

    @property
    def stddev(self):
        return self.variance.sqrt()

    @property
    def variance(self):
        p = self._cut_probs()
        closed = p * (p - 1.0) / (1.0 - 2.0 * p).pow(2) + 1.0 / (rustdl.log1p(-p) - p.log()).pow(2)
        x = (self.probs - 0.5).pow(2)
        taylor = 1.0 / 12.0 - (1.0 / 15.0 - 128.0 / 945.0 * x) * x
        return rustdl.where(self._stable(), closed, taylor)

    def sample(self, sample_shape=()):
        with rustdl.no_grad():
            return self.rsample(sample_shape)

    def rsample(self, sample_shape=()):
        u = rustdl.rand(self._extended_shape(sample_shape), dtype=self.probs.dtype)
        return self.icdf(u)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        return -_F.binary_cross_entropy_with_logits(logits, value, reduction="none") + self._log_normalizer()

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        p = self._cut_probs()
        closed = (p.pow(value) * (1.0 - p).pow(1.0 - value) + p - 1.0) / (2.0 * p - 1.0)
        inside = rustdl.where(self._stable(), closed, value)
        return rustdl.where(value <= 0.0, rustdl.zeros_like(value),
                            rustdl.where(value >= 1.0, rustdl.ones_like(value), inside))

    def icdf(self, value):
        p = self._cut_probs()
        closed = ((-p + value * (2.0 * p - 1.0)).log1p() - (-p).log1p()) / (p.log() - (-p).log1p())
        return rustdl.where(self._stable(), closed, value)

    def entropy(self):
        log_q = rustdl.log1p(-self.probs)
        log_p = self.probs.log()
        return self.mean * (log_q - log_p) - self._log_normalizer() - log_q
