"""NegativeBinomial(total_count, probs | logits): the number of successes (each with
probability `probs`) before `total_count` failures; a Gamma-Poisson mixture."""

import rustdl

from . import constraints
from ._trial_counts import TrialCounts

__all__ = ["NegativeBinomial"]

_F = rustdl.nn.functional


class NegativeBinomial(TrialCounts):
    arg_constraints = {"total_count": constraints.greater_than_eq(0), "probs": constraints.half_open_interval(0.0, 1.0),  # noqa: RUF012 (read-only, as PyTorch)
                       "logits": constraints.real}
    support = constraints.nonnegative_integer

    def __init__(self, total_count, probs=None, logits=None, validate_args=None):
        super().__init__(total_count, probs, logits, validate_args=validate_args)

    @property
    def mean(self):
        return self.total_count * self.logits.exp()

    @property
    def mode(self):
        return ((self.total_count - 1) * self.logits.exp()).floor().clamp(min=0.0)

    @property
    def variance(self):
        return self.mean / rustdl.sigmoid(-self.logits)

    def sample(self, sample_shape=()):
        # Poisson(rate) with rate ~ Gamma(total_count, rate exp(-logits))
        from .gamma import Gamma

        with rustdl.no_grad():
            rate = Gamma(self.total_count, (-self.logits).exp(), validate_args=False).sample(sample_shape)
            return rustdl.poisson(rate)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        log_unnormalized = self.total_count * _F.logsigmoid(-self.logits) + value * _F.logsigmoid(self.logits)
        log_normalization = (-rustdl.lgamma(self.total_count + value) + rustdl.lgamma(1.0 + value)
                             + rustdl.lgamma(self.total_count))
        # total_count = value = 0 is a point mass at 0
        log_normalization = log_normalization.masked_fill(self.total_count + value == 0.0, 0.0)
        return log_unnormalized - log_normalization

