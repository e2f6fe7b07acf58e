"""Dirichlet(concentration): distributions over the probability simplex."""

import rustdl

from . import constraints
from .exp_family import ExponentialFamily
from .gamma import rsample_standard_gamma

__all__ = ["Dirichlet"]


class Dirichlet(ExponentialFamily):
    """Draws are normalized standard-gamma draws, reparameterized through them (see Gamma)."""

    arg_constraints = {"concentration": constraints.independent(constraints.positive, 1)}  # noqa: RUF012 (read-only, as PyTorch)
    support = constraints.simplex
    has_rsample = True

    @property
    def _natural_params(self):
        return (self.concentration,)

    def _log_normalizer(self, x):
        return rustdl.lgamma(x).sum(-1) - rustdl.lgamma(x.sum(-1))

    @property
    def _mean_carrier_measure(self):
        # h(x) = 1 / prod x_i for natural parameters alpha: -sum E[log X_i]
        a = self.concentration
        return -(rustdl.digamma(a) - rustdl.digamma(a.sum(-1, keepdim=True))).sum(-1)

    def __init__(self, concentration, validate_args=None):
        if concentration.dim() < 1:
            raise ValueError("`concentration` parameter must be at least one-dimensional.")
        self.concentration = concentration
        shape = concentration.shape
        super().__init__(shape[:-1], shape[-1:], validate_args=validate_args)

    def _param_event_dims(self, name):
        return 1

    def expand(self, batch_shape, _instance=None):
        return self._expand_parameters(Dirichlet, batch_shape, ("concentration",), _instance)

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        draws = rsample_standard_gamma(self.concentration, shape)
        value = draws / draws.sum(-1, keepdim=True)
        tiny = rustdl.finfo(value.dtype).tiny
        return value + (value.detach().clamp(min=tiny) - value.detach())  # clamped, gradient kept

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return (rustdl.xlogy(self.concentration - 1.0, value).sum(-1)
                + rustdl.lgamma(self.concentration.sum(-1)) - rustdl.lgamma(self.concentration).sum(-1))

    @property
    def mean(self):
        return self.concentration / self.concentration.sum(-1, keepdim=True)

    @property
    def mode(self):
        shifted = (self.concentration - 1).clamp(min=0.0)
        mode = shifted / shifted.sum(-1, keepdim=True)
        below_one = (self.concentration < 1).all(-1)
        # every concentration below 1: the density peaks at a vertex, the largest one's
        vertex = rustdl.nn.functional.one_hot(self.concentration.argmax(-1), self.concentration.shape[-1])
        return rustdl.where(below_one.unsqueeze(-1), vertex.to(mode.dtype), mode)

    @property
    def variance(self):
        con0 = self.concentration.sum(-1, keepdim=True)
        return self.concentration * (con0 - self.concentration) / (con0.pow(2) * (con0 + 1))

    def entropy(self):
        k = self.concentration.size(-1)
        a0 = self.concentration.sum(-1)
        return (rustdl.lgamma(self.concentration).sum(-1) - rustdl.lgamma(a0)
                - (k - a0) * rustdl.digamma(a0)
                - ((self.concentration - 1.0) * rustdl.digamma(self.concentration)).sum(-1))
