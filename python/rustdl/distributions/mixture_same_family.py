"""MixtureSameFamily(mixture_distribution, component_distribution): a finite mixture whose
components are the rightmost batch dim of one distribution (a Gaussian mixture model: a
Categorical over K Normals with batch shape (..., K))."""

import rustdl

from . import constraints
from .categorical import Categorical
from .distribution import Distribution

__all__ = ["MixtureSameFamily"]


class MixtureSameFamily(Distribution):
    arg_constraints = {}  # noqa: RUF012 (read-only, as PyTorch)
    has_rsample = False

    def __init__(self, mixture_distribution, component_distribution, validate_args=None):
        self._mixture_distribution = mixture_distribution
        self._component_distribution = component_distribution
        if not isinstance(mixture_distribution, Categorical):
            raise ValueError(" The Mixture distribution needs to be an  instance of torch.distributions.Categorical")  # noqa: TRY004 (PyTorch)
        if not isinstance(component_distribution, Distribution):
            raise ValueError("The Component distribution need to be an instance of torch.distributions.Distribution")  # noqa: TRY004 (PyTorch)
        mixture_batch = mixture_distribution.batch_shape
        component_batch = component_distribution.batch_shape[:-1]
        for size_m, size_c in zip(reversed(mixture_batch), reversed(component_batch)):
            if size_m != 1 and size_c != 1 and size_m != size_c:
                raise ValueError(f"`mixture_distribution.batch_shape` ({mixture_batch}) is not compatible with "
                                 f"`component_distribution.batch_shape`({component_batch})")
        components = mixture_distribution.logits.shape[-1]
        if components != component_distribution.batch_shape[-1]:
            raise ValueError(f"`mixture_distribution component` ({components}) does not equal "
                             f"`component_distribution.batch_shape[-1]` ({component_distribution.batch_shape[-1]})")
        self._num_component = components
        self._event_ndims = len(component_distribution.event_shape)
        super().__init__(component_batch, component_distribution.event_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        batch_shape = rustdl.Size(batch_shape)
        new = self._get_checked_instance(MixtureSameFamily, _instance)
        new._component_distribution = self._component_distribution.expand(batch_shape + (self._num_component,))
        new._mixture_distribution = self._mixture_distribution.expand(batch_shape)
        new._num_component = self._num_component
        new._event_ndims = self._event_ndims
        Distribution.__init__(new, batch_shape, new._component_distribution.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @constraints.dependent_property
    def support(self):
        return constraints.MixtureSameFamilyConstraint(self._component_distribution.support)

    @property
    def mixture_distribution(self):
        return self._mixture_distribution

    @property
    def component_distribution(self):
        return self._component_distribution

    def _weights(self):
        """Mixture probabilities shaped to multiply component quantities (..., K, *event)."""
        probs = self._mixture_distribution.probs
        return probs.reshape(probs.shape + (1,) * self._event_ndims)

    @property
    def mean(self):
        return (self._weights() * self._component_distribution.mean).sum(-1 - self._event_ndims)

    @property
    def variance(self):
        # total variance = E[Var | component] + Var[E | component]
        weights = self._weights()
        axis = -1 - self._event_ndims
        within = (weights * self._component_distribution.variance).sum(axis)
        spread = (self._component_distribution.mean - self.mean.unsqueeze(axis)).pow(2)
        return within + (weights * spread).sum(axis)

    def cdf(self, x):
        x = self._pad(x)
        return (self._component_distribution.cdf(x) * self._mixture_distribution.probs).sum(-1)

    def log_prob(self, x):
        if self._validate_args:
            self._validate_sample(x)
        x = self._pad(x)
        component_log_prob = self._component_distribution.log_prob(x)
        log_weights = rustdl.log_softmax(self._mixture_distribution.logits, dim=-1)
        return rustdl.logsumexp(component_log_prob + log_weights, dim=-1)

    def sample(self, sample_shape=()):
        with rustdl.no_grad():
            sample_shape = rustdl.Size(sample_shape)
            which = self._mixture_distribution.sample(sample_shape)  # sample + batch
            draws = self._component_distribution.sample(sample_shape)  # sample + batch + (K,) + event
            index = which.reshape(which.shape + (1,) * (1 + self._event_ndims))
            index = index.expand(which.shape + (1,) + tuple(self.event_shape))
            return draws.gather(len(sample_shape) + len(self.batch_shape), index).squeeze(
                len(sample_shape) + len(self.batch_shape))

    def _pad(self, x):
        return x.unsqueeze(-1 - self._event_ndims)

    def __repr__(self):
        return (f"{type(self).__name__}(\n  {self._mixture_distribution},\n"
                f"  {self._component_distribution})")
