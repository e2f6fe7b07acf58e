"""LKJCholesky(dim, concentration): Cholesky factors L of dim x dim correlation matrices with
density proportional to det(L L^T)^(concentration - 1) (Lewandowski, Kurowicka and Joe, 2009).
Drawn by the onion method: row i is sqrt(y_i) times a uniform direction in the first i
coordinates, y_i ~ Beta(i/2, concentration + (dim - 2)/2 - (i - 1)/2), the diagonal completing
the unit norm."""

import math

import rustdl

from . import constraints
from .beta import Beta
from .distribution import Distribution
from .utils import broadcast_all

__all__ = ["LKJCholesky"]


class LKJCholesky(Distribution):
    arg_constraints = {"concentration": constraints.positive}  # noqa: RUF012 (read-only, as PyTorch)
    support = constraints.corr_cholesky

    def __init__(self, dim, concentration=1.0, validate_args=None):
        if dim < 2:
            raise ValueError(f"Expected dim to be an integer greater than or equal to 2. Found dim={dim}.")
        self.dim = dim
        (self.concentration,) = broadcast_all(concentration)
        batch_shape = self.concentration.size()
        event_shape = rustdl.Size((dim, dim))
        self._beta = self._row_betas(self.concentration, dim)
        super().__init__(batch_shape, event_shape, validate_args=validate_args)

    @staticmethod
    def _row_betas(concentration, dim):
        # rows 1 .. dim-1 (row 0 is e_1); a first Beta for row 0 keeps the shapes simple and is unused
        dtype = concentration.dtype
        offset = rustdl.cat([rustdl.zeros(1, dtype=dtype), rustdl.arange(dim - 1, dtype=dtype)])
        marginal = concentration + 0.5 * (dim - 2)
        return Beta(offset + 0.5, marginal.unsqueeze(-1) - 0.5 * offset)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(LKJCholesky, _instance)
        batch_shape = rustdl.Size(batch_shape)
        new.dim = self.dim
        new.concentration = self.concentration.expand(batch_shape)
        new._beta = self._beta.expand(batch_shape + (self.dim,))
        Distribution.__init__(new, batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def sample(self, sample_shape=()):
        with rustdl.no_grad():
            shape = self._extended_shape(sample_shape)
            y = self._beta.sample(sample_shape).unsqueeze(-1)
            directions = rustdl.randn(shape, dtype=y.dtype).tril(-1)
            norms = directions.norm(dim=-1, keepdim=True)
            # row 0 has no off-diagonal entries (0 / 0): its direction is zero
            directions = directions / rustdl.where(norms > 0, norms, rustdl.ones_like(norms))
            w = y.sqrt() * directions
            diagonal = (1 - w.pow(2).sum(-1)).clamp(min=rustdl.finfo(w.dtype).tiny).sqrt()
            return w + rustdl.diag_embed(diagonal)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        # density in L: prod_{i>=1} L_ii^(dim - i - 1 + 2 (concentration - 1)) (i from 0)
        diagonal = value.diagonal(dim1=-2, dim2=-1)[..., 1:]
        powers = (2 * (self.concentration - 1).unsqueeze(-1) + self.dim
                  - rustdl.arange(2, self.dim + 1, dtype=value.dtype))
        unnormalized = (powers * diagonal.log()).sum(-1)
        dm1 = self.dim - 1
        alpha = self.concentration + 0.5 * dm1
        log_normalizer = (0.5 * dm1 * math.log(math.pi) + rustdl.mvlgamma(alpha - 0.5, dm1)
                          - rustdl.lgamma(alpha) * dm1)
        return unnormalized - log_normalizer
