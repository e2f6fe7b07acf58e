"""Wishart(df, covariance_matrix | precision_matrix | scale_tril): the law of sum_k x_k x_k^T for
df draws x_k ~ N(0, covariance) (df may be real, > dim - 1). Reparameterized draws by Bartlett's
decomposition: S = L A A^T L^T with A lower-triangular, A_ii = sqrt(Chi2(df - i)), A_ij ~ N(0, 1)
below the diagonal."""

import math
import numbers

import rustdl

from . import constraints
from .chi2 import Chi2
from .distribution import Distribution
from .exp_family import ExponentialFamily
from .multivariate_normal import _precision_to_scale_tril
from .utils import lazy_property

__all__ = ["Wishart"]


def _multivariate_digamma(a, p):
    """psi_p(a) = sum_{i=0}^{p-1} digamma(a - i/2)."""
    steps = rustdl.arange(p, dtype=a.dtype) / 2
    return rustdl.digamma(a.unsqueeze(-1) - steps).sum(-1)


def _log_det_from_tril(scale_tril):
    return 2 * scale_tril.diagonal(dim1=-2, dim2=-1).log().sum(-1)


class Wishart(ExponentialFamily):
    support = constraints.positive_definite
    has_rsample = True

    def __init__(self, df, covariance_matrix=None, precision_matrix=None, scale_tril=None, validate_args=None):
        if (covariance_matrix is not None) + (scale_tril is not None) + (precision_matrix is not None) != 1:
            raise AssertionError("Exactly one of covariance_matrix or precision_matrix or scale_tril may be specified.")
        param = next(m for m in (covariance_matrix, precision_matrix, scale_tril) if m is not None)
        if param.dim() < 2:
            raise ValueError("scale_tril must be at least two-dimensional, with optional leading batch dimensions")
        if isinstance(df, numbers.Number):
            batch_shape = param.shape[:-2]
            df = rustdl.tensor(float(df), dtype=param.dtype)
        else:
            batch_shape = rustdl.broadcast_shapes(param.shape[:-2], df.shape)
        batch_shape = rustdl.Size(batch_shape)
        event_shape = param.shape[-2:]
        p = event_shape[-1]
        if bool(df.le(p - 1).any()):
            raise ValueError(f"Value of df={df} expected to be greater than ndim - 1 = {p - 1}.")
        full = batch_shape + (-1, -1)
        if scale_tril is not None:
            self.scale_tril = param.expand(full)
        elif covariance_matrix is not None:
            self.covariance_matrix = param.expand(full)
        else:
            self.precision_matrix = param.expand(full)
        self.df = df.expand(batch_shape)
        # validate first (as PyTorch), factorize after
        super().__init__(batch_shape, event_shape, validate_args=validate_args)
        if scale_tril is not None:
            self._unbroadcasted_scale_tril = scale_tril
        elif covariance_matrix is not None:
            self._unbroadcasted_scale_tril = rustdl.linalg.cholesky(covariance_matrix)
        else:
            self._unbroadcasted_scale_tril = _precision_to_scale_tril(precision_matrix)
        self._dist_chi2 = Chi2(self.df.unsqueeze(-1) - rustdl.arange(p, dtype=param.dtype), validate_args=False)

    @property
    def arg_constraints(self):
        return {"covariance_matrix": constraints.positive_definite, "precision_matrix": constraints.positive_definite,
                "scale_tril": constraints.lower_cholesky,
                "df": constraints.greater_than(self._event_shape[-1] - 1)}

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Wishart, _instance)
        batch_shape = rustdl.Size(batch_shape)
        full = batch_shape + self._event_shape
        new._unbroadcasted_scale_tril = self._unbroadcasted_scale_tril.expand(full)
        new.df = self.df.expand(batch_shape)
        for name in ("covariance_matrix", "scale_tril", "precision_matrix"):
            if name in self.__dict__:
                setattr(new, name, self.__dict__[name].expand(full))
        new._dist_chi2 = self._dist_chi2.expand(batch_shape + self._event_shape[-1:])
        Distribution.__init__(new, batch_shape, self._event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @lazy_property
    def scale_tril(self):
        return self._unbroadcasted_scale_tril.expand(self._batch_shape + self._event_shape)

    @lazy_property
    def covariance_matrix(self):
        L = self._unbroadcasted_scale_tril
        return (L @ L.mT).expand(self._batch_shape + self._event_shape)

    @lazy_property
    def precision_matrix(self):
        return rustdl.linalg.inv(self.covariance_matrix)

    def _df_matrix(self):
        return self.df.reshape(self._batch_shape + (1, 1))

    @property
    def mean(self):
        return self._df_matrix() * self.covariance_matrix

    @property
    def mode(self):
        factor = self.df - self._event_shape[-1] - 1
        factor = factor.masked_fill(factor <= 0, math.nan)
        return factor.reshape(self._batch_shape + (1, 1)) * self.covariance_matrix

    @property
    def variance(self):
        # Var(S_ij) = df (Sigma_ij^2 + Sigma_ii Sigma_jj)
        V = self.covariance_matrix
        diagonal = V.diagonal(dim1=-2, dim2=-1)
        return self._df_matrix() * (V.pow(2) + diagonal.unsqueeze(-1) * diagonal.unsqueeze(-2))

    def rsample(self, sample_shape=(), max_try_correction=None):
        # Bartlett draws are positive definite almost surely: no correction loop is needed
        sample_shape = rustdl.Size(sample_shape)
        shape = self._extended_shape(sample_shape)
        diagonal = self._dist_chi2.rsample(sample_shape).sqrt()
        lower = rustdl.randn(shape, dtype=diagonal.dtype).tril(-1)
        factor = self._unbroadcasted_scale_tril @ (lower + rustdl.diag_embed(diagonal))
        return factor @ factor.mT

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        nu = self.df
        p = self._event_shape[-1]
        L = self._unbroadcasted_scale_tril
        value_tril = rustdl.linalg.cholesky(value)
        # tr(Sigma^-1 X) through the full product L L^T (as PyTorch's cholesky_solve, the gradient
        # reaches every entry of L, not only its lower triangle)
        trace = rustdl.linalg.solve(L @ L.mT, value).diagonal(dim1=-2, dim2=-1).sum(-1)
        return (-0.5 * nu * p * math.log(2) - 0.5 * nu * _log_det_from_tril(L) - rustdl.mvlgamma(0.5 * nu, p)
                + 0.5 * (nu - p - 1) * _log_det_from_tril(value_tril) - 0.5 * trace)

    def entropy(self):
        nu = self.df
        p = self._event_shape[-1]
        log_det = _log_det_from_tril(self._unbroadcasted_scale_tril)
        return (0.5 * (p + 1) * log_det + 0.5 * p * (p + 1) * math.log(2) + rustdl.mvlgamma(0.5 * nu, p)
                - 0.5 * (nu - p - 1) * _multivariate_digamma(0.5 * nu, p) + 0.5 * nu * p)
