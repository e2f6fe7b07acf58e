"""Beta(concentration1, concentration0): a Dirichlet over two outcomes, seen from the first."""

import numbers

import rustdl

from . import constraints
from .dirichlet import Dirichlet
from .distribution import Distribution
from .exp_family import ExponentialFamily
from .utils import broadcast_all

__all__ = ["Beta"]


class Beta(ExponentialFamily):
    arg_constraints = {"concentration1": constraints.positive, "concentration0": constraints.positive}  # noqa: RUF012 (read-only, as PyTorch)
    support = constraints.unit_interval
    has_rsample = True

    @property
    def _natural_params(self):
        return (self.concentration1, self.concentration0)

    def _log_normalizer(self, x, y):
        return rustdl.lgamma(x) + rustdl.lgamma(y) - rustdl.lgamma(x + y)

    @property
    def _mean_carrier_measure(self):
        # h(x) = 1 / (x (1 - x)) for natural parameters (c1, c0): -E[log X] - E[log(1 - X)]
        total = rustdl.digamma(self.concentration1 + self.concentration0)
        return -(rustdl.digamma(self.concentration1) + rustdl.digamma(self.concentration0) - 2 * total)

    def __init__(self, concentration1, concentration0, validate_args=None):
        if isinstance(concentration1, numbers.Real) and isinstance(concentration0, numbers.Real):
            pair = rustdl.tensor([float(concentration1), float(concentration0)])
        else:
            concentration1, concentration0 = broadcast_all(concentration1, concentration0)
            pair = rustdl.stack([concentration1, concentration0], -1)
        self._dirichlet = Dirichlet(pair, validate_args=validate_args)
        super().__init__(self._dirichlet._batch_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Beta, _instance)
        new._dirichlet = self._dirichlet.expand(batch_shape)
        Distribution.__init__(new, batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def concentration1(self):
        result = self._dirichlet.concentration[..., 0]
        return rustdl.tensor([float(result)]) if isinstance(result, numbers.Number) else result

    @property
    def concentration0(self):
        result = self._dirichlet.concentration[..., 1]
        return rustdl.tensor([float(result)]) if isinstance(result, numbers.Number) else result

    @property
    def mean(self):
        return self.concentration1 / (self.concentration1 + self.concentration0)

    @property
    def mode(self):
        return self._dirichlet.mode[..., 0]

    @property
    def variance(self):
        total = self.concentration1 + self.concentration0
        return self.concentration1 * self.concentration0 / (total.pow(2) * (total + 1))

    def rsample(self, sample_shape=()):
        return self._dirichlet.rsample(sample_shape).select(-1, 0)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        heads_tails = rustdl.stack([value, 1.0 - value], -1)
        return self._dirichlet.log_prob(heads_tails)

    def entropy(self):
        return self._dirichlet.entropy()

    def __repr__(self):
        c1, c0 = self.concentration1, self.concentration0
        return (f"Beta(concentration1: {c1 if c1.numel() == 1 else c1.size()}, "
                f"concentration0: {c0 if c0.numel() == 1 else c0.size()})")
