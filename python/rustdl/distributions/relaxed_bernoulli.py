"""RelaxedBernoulli(temperature, probs | logits): the binary Concrete / Gumbel-sigmoid
relaxation of a Bernoulli: sigmoid((logits + logistic noise) / temperature), reparameterized.
LogitRelaxedBernoulli is the same before the sigmoid."""

import numbers

import rustdl

from . import constraints
from ._binary_probs import BinaryProbsLogits
from ._relaxed import RelaxedThroughTransform
from .bernoulli import probs_or_logits
from .distribution import Distribution
from .transforms import SigmoidTransform
from .utils import broadcast_all, clamp_probs

__all__ = ["LogitRelaxedBernoulli", "RelaxedBernoulli"]


class LogitRelaxedBernoulli(BinaryProbsLogits, Distribution):
    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}  # noqa: RUF012 (read-only, as PyTorch)
    support = constraints.real
    has_rsample = True

    def __init__(self, temperature, probs=None, logits=None, validate_args=None):
        probs_or_logits(probs, logits)
        self.temperature = temperature
        given = probs if probs is not None else logits
        if probs is not None:
            (self.probs,) = broadcast_all(probs)
        else:
            (self.logits,) = broadcast_all(logits)
        self._param = self.probs if probs is not None else self.logits
        batch_shape = () if isinstance(given, numbers.Number) else self._param.size()
        super().__init__(batch_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._expand_parameters(LogitRelaxedBernoulli, batch_shape, ("probs", "logits"), _instance)
        new.temperature = self.temperature
        new._param = new.__dict__.get("probs", new.__dict__.get("logits"))
        return new

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        probs = clamp_probs(self.probs.expand(shape))
        u = clamp_probs(rustdl.rand(shape, dtype=probs.dtype))
        logistic_noise = u.log() - (-u).log1p()
        return (probs.log() - (-probs).log1p() + logistic_noise) / self.temperature

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        diff = logits - value * self.temperature
        return self.temperature.log() + diff - 2 * rustdl.nn.functional.softplus(diff)


class RelaxedBernoulli(RelaxedThroughTransform):
    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}  # noqa: RUF012 (read-only, as PyTorch)
    support = constraints.unit_interval

    def __init__(self, temperature, probs=None, logits=None, validate_args=None):
        base = LogitRelaxedBernoulli(temperature, probs, logits)
        super().__init__(base, SigmoidTransform(), validate_args=validate_args)
