"""The shared shape of the location-scale families (Normal, Laplace, Cauchy): `loc` and
`scale` broadcast together, the batch shape theirs (empty for two Python numbers)."""

import numbers

from . import constraints
from .distribution import Distribution
from .utils import broadcast_all

__all__ = ["LocationScale"]


class LocationScale(Distribution):
    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}  # noqa: RUF012 (read-only, as PyTorch)
    support = constraints.real
    has_rsample = True

    def __init__(self, loc, scale, validate_args=None):
        self.loc, self.scale = broadcast_all(loc, scale)
        scalar = isinstance(loc, numbers.Number) and isinstance(scale, numbers.Number)
        super().__init__(() if scalar else self.loc.size(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expand_parameters(LocationScale, batch_shape, ("loc", "scale"), _instance)
