"""The success probability of a two-outcome parameter, given as ``probs`` or
``logits``: the other one is derived on first access (shared by Bernoulli,
the relaxed Bernoulli, Binomial and NegativeBinomial)."""

from .utils import lazy_property, logits_to_probs, probs_to_logits


class BinaryProbsLogits:
    """``probs`` and ``logits`` (each lazily from the other) and
    ``param_shape``; the class sets ``self._param`` to the one it was given."""

    @lazy_property
    def logits(self):
        return probs_to_logits(self.probs, is_binary=True)

    @lazy_property
    def probs(self):
        return logits_to_probs(self.logits, is_binary=True)

    @property
    def param_shape(self):
        return self._param.size()
