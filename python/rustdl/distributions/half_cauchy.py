"""HalfCauchy(scale): |X| for X ~ Cauchy(0, scale)."""

import math

import rustdl

from ._folded import FoldedAtZero
from .cauchy import Cauchy

__all__ = ["HalfCauchy"]


class HalfCauchy(FoldedAtZero):
    base_family = Cauchy

    @property
    def mean(self):
        return rustdl.full(self._extended_shape(), math.inf, dtype=self.scale.dtype)

    @property
    def variance(self):
        return self.base_dist.variance
