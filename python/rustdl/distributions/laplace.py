"""Laplace(loc, scale): the double exponential."""


import rustdl

from .location_scale import LocationScale

__all__ = ["Laplace"]


class Laplace(LocationScale):
    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        return 2 * self.scale.pow(2)

    @property
    def stddev(self):
        return (2**0.5) * self.scale

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        finfo = rustdl.finfo(self.loc.dtype)
        # u uniform on (-1, 1), kept off -1 so that log1p(-|u|) stays finite
        u = (rustdl.rand(shape, dtype=self.loc.dtype) * 2 - 1).clamp(min=finfo.eps - 1)
        return self.loc - self.scale * u.sign() * rustdl.log1p(-u.abs())

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return -rustdl.log(2 * self.scale) - (value - self.loc).abs() / self.scale

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return 0.5 - 0.5 * (value - self.loc).sign() * rustdl.expm1(-(value - self.loc).abs() / self.scale)

    def icdf(self, value):
        term = value - 0.5
        return self.loc - self.scale * term.sign() * rustdl.log1p(-2 * term.abs())

    def entropy(self):
        return 1 + rustdl.log(2 * self.scale)
