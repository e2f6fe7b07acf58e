"""The half distributions: |X| for X symmetric about 0 (HalfCauchy, HalfNormal).

The density doubles on x >= 0, the cdf is 2 F(x) - 1, and the entropy drops by
log 2; each subclass names its base distribution and its own moments."""

import math

import rustdl

from . import constraints
from .transformed_distribution import TransformedDistribution
from .transforms import AbsTransform


class FoldedAtZero(TransformedDistribution):
    arg_constraints = {"scale": constraints.positive}  # noqa: RUF012 (read-only, as PyTorch)
    support = constraints.nonnegative
    has_rsample = True
    base_family = None  # the symmetric family, called as base_family(0, scale)

    def __init__(self, scale, validate_args=None):
        base = self.base_family(0, scale, validate_args=False)
        super().__init__(base, AbsTransform(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(type(self), _instance)
        return super().expand(batch_shape, _instance=new)

    @property
    def scale(self):
        return self.base_dist.scale

    @property
    def mode(self):
        return rustdl.zeros_like(self.scale)

    def log_prob(self, value):
        value = rustdl.as_tensor(value, dtype=self.scale.dtype)
        if self._validate_args:
            self._validate_sample(value)
        density = self.base_dist.log_prob(value) + math.log(2)
        return rustdl.where(value >= 0, density, rustdl.full_like(density, -math.inf))

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return 2 * self.base_dist.cdf(value) - 1

    def icdf(self, prob):
        return self.base_dist.icdf((prob + 1) / 2)

    def entropy(self):
        return self.base_dist.entropy() - math.log(2)
