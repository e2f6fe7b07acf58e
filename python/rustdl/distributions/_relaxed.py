"""The relaxed (Concrete / Gumbel) distributions seen through their squashing
transform: RelaxedBernoulli is sigmoid of a LogitRelaxedBernoulli,
RelaxedOneHotCategorical is exp of an ExpRelaxedCategorical. Both read their
parameters off the base distribution."""

from .transformed_distribution import TransformedDistribution


class RelaxedThroughTransform(TransformedDistribution):
    has_rsample = True

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(type(self), _instance)
        return super().expand(batch_shape, _instance=new)

    @property
    def temperature(self):
        return self.base_dist.temperature

    @property
    def logits(self):
        return self.base_dist.logits

    @property
    def probs(self):
        return self.base_dist.probs
