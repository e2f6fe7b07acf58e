"""ExponentialFamily: densities p(x) = h(x) exp(<eta, T(x)> - A(eta)). A subclass gives its
natural parameters eta (`_natural_params`), the log-normalizer A (`_log_normalizer`) and
E[log h(X)] (`_mean_carrier_measure`); the entropy A - <eta, grad A> - E[log h] and the KL
divergence between two members of the same family (the Bregman divergence of A) follow by
autograd."""

import rustdl

from .distribution import Distribution

__all__ = ["ExponentialFamily"]


class ExponentialFamily(Distribution):
    @property
    def _natural_params(self):
        raise NotImplementedError

    def _log_normalizer(self, *natural_params):
        raise NotImplementedError

    @property
    def _mean_carrier_measure(self):
        raise NotImplementedError

    def _flat_sum(self, value):
        """Sum over everything right of the batch dims."""
        return value.reshape(tuple(self._batch_shape) + (-1,)).sum(-1)

    def entropy(self):
        # E[-log p] = A(eta) - <eta, E[T(X)]> - E[log h(X)], with E[T(X)] = grad A(eta)
        eta = [p.detach().requires_grad_() for p in self._natural_params]
        log_normalizer = self._log_normalizer(*eta)
        mean_statistics = rustdl.autograd.grad(log_normalizer.sum(), eta, create_graph=True)
        result = log_normalizer - self._mean_carrier_measure
        for param, statistic in zip(eta, mean_statistics):
            result = result - self._flat_sum(param * statistic)
        return result


def bregman_kl(p, q):
    """KL(p || q) for p, q of one exponential family: A(eta_q) - A(eta_p) - <eta_q - eta_p, grad A(eta_p)>."""
    if type(p) is not type(q):
        raise NotImplementedError("The cross KL-divergence between different exponential families cannot "
                                  "be computed using Bregman divergences")
    p_eta = [param.detach().requires_grad_() for param in p._natural_params]
    q_eta = q._natural_params
    p_normalizer = p._log_normalizer(*p_eta)
    gradients = rustdl.autograd.grad(p_normalizer.sum(), p_eta, create_graph=True)
    result = q._log_normalizer(*q_eta) - p_normalizer
    for pe, qe, g in zip(p_eta, q_eta, gradients):
        result = result - p._flat_sum((qe - pe) * g)
    return result
