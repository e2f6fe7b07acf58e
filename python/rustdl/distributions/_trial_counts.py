"""Counts over Bernoulli trials (Binomial, NegativeBinomial): a `total_count`
and a success probability given as either `probs` or `logits`; the other
form is derived on first use."""

from ._binary_probs import BinaryProbsLogits
from .bernoulli import probs_or_logits
from .distribution import Distribution
from .utils import broadcast_all


class TrialCounts(BinaryProbsLogits, Distribution):
    def __init__(self, total_count, probs=None, logits=None, validate_args=None):
        probs_or_logits(probs, logits)
        if probs is not None:
            self.total_count, self.probs = broadcast_all(total_count, probs)
            self.total_count = self.total_count.type_as(self.probs)
        else:
            self.total_count, self.logits = broadcast_all(total_count, logits)
            self.total_count = self.total_count.type_as(self.logits)
        self._param = self.probs if probs is not None else self.logits
        super().__init__(self._param.size(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._expand_parameters(type(self), batch_shape, ("total_count", "probs", "logits"), _instance)
        new._param = new.__dict__.get("probs", new.__dict__.get("logits"))
        return new
