"""Cauchy(loc, scale): the ratio of two independent standard normals, shifted and scaled."""

import math

import rustdl

from .location_scale import LocationScale

__all__ = ["Cauchy"]


class Cauchy(LocationScale):
    @property
    def mean(self):
        return rustdl.full(self._extended_shape(), math.nan, dtype=self.loc.dtype)

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        return rustdl.full(self._extended_shape(), math.inf, dtype=self.loc.dtype)

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        u = rustdl.rand(shape, dtype=self.loc.dtype)
        return self.loc + self.scale * rustdl.tan(math.pi * (u - 0.5))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return -math.log(math.pi) - self.scale.log() - (((value - self.loc) / self.scale) ** 2).log1p()

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return rustdl.atan((value - self.loc) / self.scale) / math.pi + 0.5

    def icdf(self, value):
        return rustdl.tan(math.pi * (value - 0.5)) * self.scale + self.loc

    def entropy(self):
        return math.log(4 * math.pi) + self.scale.log()
