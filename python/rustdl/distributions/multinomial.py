"""Multinomial(total_count, probs | logits): the counts of `total_count` independent
Categorical draws."""

import rustdl

from . import constraints
from .categorical import Categorical
from .distribution import Distribution
from .utils import broadcast_all

__all__ = ["Multinomial"]


class Multinomial(Distribution):
    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}  # noqa: RUF012 (read-only, as PyTorch)

    def __init__(self, total_count=1, probs=None, logits=None, validate_args=None):
        if not isinstance(total_count, int):
            raise NotImplementedError("inhomogeneous total_count is not supported")
        self.total_count = total_count
        self._categorical = Categorical(probs=probs, logits=logits)
        param = self._categorical._param
        super().__init__(self._categorical.batch_shape, param.shape[-1:], validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Multinomial, _instance)
        new.total_count = self.total_count
        new._categorical = self._categorical.expand(batch_shape)
        Distribution.__init__(new, batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @constraints.dependent_property(is_discrete=True, event_dim=1)
    def support(self):
        return constraints.multinomial(self.total_count)

    @property
    def logits(self):
        return self._categorical.logits

    @property
    def probs(self):
        return self._categorical.probs

    @property
    def param_shape(self):
        return self._categorical.param_shape

    @property
    def mean(self):
        return self.probs * self.total_count

    @property
    def variance(self):
        return self.total_count * self.probs * (1 - self.probs)

    def sample(self, sample_shape=()):
        sample_shape = rustdl.Size(sample_shape)
        with rustdl.no_grad():
            draws = self._categorical.sample(rustdl.Size((self.total_count,)) + sample_shape)
            # (total_count, *sample, *batch) indices -> counts over the last dim
            one_hot = rustdl.nn.functional.one_hot(draws, self._categorical._num_events)
            return one_hot.sum(0).to(self.probs.dtype)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        log_multinomial_coefficient = rustdl.lgamma(value.sum(-1) + 1) - rustdl.lgamma(value + 1).sum(-1)
        # a count of 0 for an impossible outcome contributes 0, not 0 * -inf
        logits = logits.masked_fill((value == 0) & (logits == -float("inf")), 0)
        return log_multinomial_coefficient + (logits * value).sum(-1)
