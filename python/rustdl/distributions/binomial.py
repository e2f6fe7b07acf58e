"""Binomial(total_count, probs | logits): successes in `total_count` independent trials."""

import rustdl

from . import constraints
from ._trial_counts import TrialCounts

__all__ = ["Binomial"]


class Binomial(TrialCounts):
    arg_constraints = {"total_count": constraints.nonnegative_integer, "probs": constraints.unit_interval,  # noqa: RUF012 (read-only, as PyTorch)
                       "logits": constraints.real}
    has_enumerate_support = True

    def __init__(self, total_count=1, probs=None, logits=None, validate_args=None):
        super().__init__(total_count, probs, logits, validate_args=validate_args)

    @constraints.dependent_property(is_discrete=True, event_dim=0)
    def support(self):
        return constraints.integer_interval(0, self.total_count)

    @property
    def mean(self):
        return self.total_count * self.probs

    @property
    def mode(self):
        return ((self.total_count + 1) * self.probs).floor().clamp(max=self.total_count)

    @property
    def variance(self):
        return self.total_count * self.probs * (1 - self.probs)

    def sample(self, sample_shape=()):
        """Each draw counts `total_count` Bernoulli trials (trials beyond an element's own count
        are masked off)."""
        shape = self._extended_shape(sample_shape)
        with rustdl.no_grad():
            counts = self.total_count.expand(shape)
            n_max = int(counts.max()) if counts.numel() else 0
            probs = self.probs.expand(shape)
            total = rustdl.zeros(shape, dtype=probs.dtype)
            for trial in range(n_max):
                hit = rustdl.rand(shape, dtype=probs.dtype) < probs
                total = total + (hit & (counts > trial)).to(probs.dtype)
            return total

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        n = self.total_count
        log_factorial_n = rustdl.lgamma(n + 1)
        log_factorial_k = rustdl.lgamma(value + 1)
        log_factorial_nmk = rustdl.lgamma(n - value + 1)
        # k*log(p) + (n-k)*log(1-p) written with logits so that p = 0 or 1 stays finite:
        # k*logit - n*log(1 + exp(logit)), the log1p(exp) taken stably
        logits = self.logits
        normalize = n * rustdl.clamp(logits, min=0) + n * rustdl.log1p(rustdl.exp(-logits.abs()))
        return value * logits - normalize + log_factorial_n - log_factorial_k - log_factorial_nmk

    def entropy(self):
        n = int(self.total_count.max())
        if not bool((self.total_count == n).all()):
            raise NotImplementedError("Inhomogeneous total count not supported by `entropy`.")
        log_prob = self.log_prob(self.enumerate_support(False))
        return -(rustdl.exp(log_prob) * log_prob).sum(0)

    def enumerate_support(self, expand=True):
        n = int(self.total_count.max())
        if not bool((self.total_count == n).all()):
            raise NotImplementedError("Inhomogeneous total count not supported by `enumerate_support`.")
        values = rustdl.arange(1 + n, dtype=self._param.dtype)
        values = values.view((-1,) + (1,) * len(self._batch_shape))
        if expand:
            values = values.expand((-1,) + tuple(self._batch_shape))
        return values
