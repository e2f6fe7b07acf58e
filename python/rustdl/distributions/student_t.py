"""StudentT(df, loc, scale): a Normal whose precision is itself Gamma-distributed; heavy tails
for small `df`. Draws are reparameterized through the Gamma's implicit gradient."""

import math
import numbers

import rustdl

from . import constraints
from .chi2 import Chi2
from .distribution import Distribution
from .utils import broadcast_all

__all__ = ["StudentT"]


class StudentT(Distribution):
    arg_constraints = {"df": constraints.positive, "loc": constraints.real, "scale": constraints.positive}  # noqa: RUF012 (read-only, as PyTorch)
    support = constraints.real
    has_rsample = True

    def __init__(self, df, loc=0.0, scale=1.0, validate_args=None):
        self.df, self.loc, self.scale = broadcast_all(df, loc, scale)
        self._chi2 = Chi2(self.df)
        scalar = all(isinstance(v, numbers.Number) for v in (df, loc, scale))
        super().__init__(() if scalar else self.df.size(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._expand_parameters(StudentT, batch_shape, ("df", "loc", "scale"), _instance)
        new._chi2 = self._chi2.expand(batch_shape)
        return new

    @property
    def mean(self):
        return self.loc.masked_fill(self.df <= 1, math.nan)

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        finite = self.scale.pow(2) * self.df / (self.df - 2)
        result = finite.masked_fill(self.df <= 2, math.inf)
        return result.masked_fill(self.df <= 1, math.nan)

    def rsample(self, sample_shape=()):
        # loc + scale * N(0, 1) / sqrt(Chi2(df) / df)
        shape = self._extended_shape(sample_shape)
        normal = rustdl.randn(shape, dtype=self.df.dtype)
        chi2 = self._chi2.rsample(sample_shape)
        return self.loc + self.scale * normal * (chi2 / self.df).rsqrt()

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        z = (value - self.loc) / self.scale
        half_df = 0.5 * self.df
        log_norm = (self.scale.log() + 0.5 * self.df.log() + 0.5 * math.log(math.pi)
                    + rustdl.lgamma(half_df) - rustdl.lgamma(half_df + 0.5))
        return -(half_df + 0.5) * rustdl.log1p(z * z / self.df) - log_norm

    def entropy(self):
        half_df = 0.5 * self.df
        log_beta = rustdl.lgamma(half_df) + math.lgamma(0.5) - rustdl.lgamma(half_df + 0.5)
        return (self.scale.log() + (half_df + 0.5) * (rustdl.digamma(half_df + 0.5) - rustdl.digamma(half_df))
                + 0.5 * self.df.log() + log_beta)
