"""Transforms over vectors and matrices and transforms built from other transforms: softmax and
stick-breaking onto the simplex, (correlation) Cholesky factors and positive-definite matrices,
reshapes, per-slice transforms (cat/stack), an Independent wrapper, and a distribution's CDF.
Re-exported from `transforms`."""

import math

import rustdl

from . import constraints
from .transforms import Transform
from .utils import sum_rightmost

__all__ = ["CatTransform", "CorrCholeskyTransform", "CumulativeDistributionTransform", "IndependentTransform",
           "LowerCholeskyTransform", "PositiveDefiniteTransform", "ReshapeTransform", "SoftmaxTransform",
           "StackTransform", "StickBreakingTransform"]

_F = rustdl.nn.functional


class _ParameterFree(Transform):
    def __eq__(self, other):
        return isinstance(other, type(self))

    __hash__ = object.__hash__


def _needs_dims(shape, n):
    if len(shape) < n:
        raise ValueError("Too few dimensions on input")


class SoftmaxTransform(_ParameterFree):
    """x -> softmax(x) over the last dim; not bijective (adding a constant changes nothing), so
    it has no Jacobian and the inverse is just log."""

    domain = constraints.real_vector
    codomain = constraints.simplex

    def _call(self, x):
        unnormalized = (x - x.max(-1, keepdim=True)[0]).exp()
        return unnormalized / unnormalized.sum(-1, keepdim=True)

    def _inverse(self, y):
        return y.log()

    def forward_shape(self, shape):
        _needs_dims(shape, 1)
        return shape

    def inverse_shape(self, shape):
        _needs_dims(shape, 1)
        return shape


class StickBreakingTransform(_ParameterFree):
    """A bijection from R^K to the interior of the K-simplex in R^(K+1): break a unit stick,
    each step keeping the fraction sigmoid(x_i - log(K - i)) of what is left (the shift makes
    x = 0 land on the uniform point); the last piece is what remains."""

    domain = constraints.real_vector
    codomain = constraints.simplex
    bijective = True

    @staticmethod
    def _log_offsets(n, like):
        # log(K - i) for i = 0 .. K-1
        return rustdl.arange(n, 0, -1, dtype=like.dtype).log()

    def _call(self, x):
        fractions = rustdl.sigmoid(x - self._log_offsets(x.shape[-1], x))
        remaining = (1 - fractions).cumprod(-1)
        ones = rustdl.ones(x.shape[:-1] + (1,), dtype=x.dtype)
        return rustdl.cat([fractions, ones], -1) * rustdl.cat([ones, remaining], -1)

    def _inverse(self, y):
        pieces = y[..., :-1]
        left_over = (1 - pieces.cumsum(-1)).clamp(min=rustdl.finfo(y.dtype).tiny)
        # the stick before piece i is left_over[i] + y_i; fraction = y_i / that
        return pieces.log() - left_over.log() + self._log_offsets(pieces.shape[-1], y)

    def log_abs_det_jacobian(self, x, y):
        # dy_i/dx_i = sigmoid'(shifted x_i) * stick length before i = y_i * (1 - sigmoid(shifted x_i))
        shifted = x - self._log_offsets(x.shape[-1], x)
        return (y[..., :-1].log() + _F.logsigmoid(-shifted)).sum(-1)

    def forward_shape(self, shape):
        _needs_dims(shape, 1)
        return tuple(shape[:-1]) + (shape[-1] + 1,)

    def inverse_shape(self, shape):
        _needs_dims(shape, 1)
        return tuple(shape[:-1]) + (shape[-1] - 1,)


def _diag_embed_like(diagonal):
    return rustdl.diag_embed(diagonal)


class LowerCholeskyTransform(_ParameterFree):
    """Square matrix -> lower-triangular with a positive diagonal: the strict lower triangle
    kept, the diagonal exponentiated, the upper triangle dropped."""

    domain = constraints.independent(constraints.real, 2)
    codomain = constraints.lower_cholesky

    def _call(self, x):
        return x.tril(-1) + _diag_embed_like(x.diagonal(dim1=-2, dim2=-1).exp())

    def _inverse(self, y):
        return y.tril(-1) + _diag_embed_like(y.diagonal(dim1=-2, dim2=-1).log())


class PositiveDefiniteTransform(_ParameterFree):
    """Square matrix -> L L^T with L its LowerCholeskyTransform image."""

    domain = constraints.independent(constraints.real, 2)
    codomain = constraints.positive_definite

    def _call(self, x):
        lower = LowerCholeskyTransform()(x)
        return lower @ lower.mT

    def _inverse(self, y):
        return LowerCholeskyTransform().inv(rustdl.linalg.cholesky(y))


def _tril_positions(n, diag):
    """Flat positions (row-major) of the n x n lower triangle below diagonal `diag`."""
    return [i * n + j for i in range(n) for j in range(n) if j - i <= diag]


def vec_to_tril_matrix(vec, n, diag=0):
    """Fill the lower triangle (below diagonal `diag`) of n x n matrices row by row from the
    last dim of `vec`; zeros elsewhere. Differentiable (a gather)."""
    positions = _tril_positions(n, diag)
    source = [len(positions)] * (n * n)  # the appended zero
    for k, p in enumerate(positions):
        source[p] = k
    padded = rustdl.cat([vec, rustdl.zeros(vec.shape[:-1] + (1,), dtype=vec.dtype)], -1)
    return padded.index_select(-1, rustdl.tensor(source, dtype=rustdl.long)).reshape(vec.shape[:-1] + (n, n))


def tril_matrix_to_vec(mat, diag=0):
    n = mat.shape[-1]
    flat = mat.reshape(mat.shape[:-2] + (n * n,))
    return flat.index_select(-1, rustdl.tensor(_tril_positions(n, diag), dtype=rustdl.long))


def _corr_size(vec_len):
    n = round((0.25 + 2 * vec_len) ** 0.5 + 0.5)
    if n * (n - 1) // 2 != vec_len:
        raise ValueError("Incorrect number of elements in the input vector")
    return n


class CorrCholeskyTransform(_ParameterFree):
    """R^(n(n-1)/2) -> Cholesky factors of n x n correlation matrices. tanh gives partial
    correlations z in (-1, 1); row i of the factor is (z_i0, z_i1 s_i1, z_i2 s_i2, ...,
    s_ii) with s_ij = prod_{k<j} sqrt(1 - z_ik^2), so each row has unit norm."""

    domain = constraints.real_vector
    codomain = constraints.corr_cholesky
    bijective = True

    def _call(self, x):
        eps = rustdl.finfo(x.dtype).eps
        z = x.tanh().clamp(min=-1 + eps, max=1 - eps)
        n = _corr_size(x.shape[-1])
        partial = vec_to_tril_matrix(z, n, diag=-1)
        # sqrt(1 - z^2) of the entries not yet placed (1 above the diagonal, so the diagonal gets s_ii)
        remaining = (1 - partial.pow(2)).sqrt().cumprod(-1)
        ones = rustdl.ones(partial.shape[:-1] + (1,), dtype=x.dtype)
        shifted = rustdl.cat([ones, remaining[..., :-1]], -1)
        return (partial + rustdl.eye(n, dtype=x.dtype)) * shifted

    def _inverse(self, y):
        left = 1 - (y * y).cumsum(-1)
        ones = rustdl.ones(y.shape[:-1] + (1,), dtype=y.dtype)
        before = rustdl.cat([ones, left[..., :-1]], -1)
        z = tril_matrix_to_vec(y, diag=-1) / tril_matrix_to_vec(before, diag=-1).sqrt()
        eps = rustdl.finfo(y.dtype).eps
        return rustdl.atanh(z.clamp(min=-1 + eps, max=1 - eps))

    def log_abs_det_jacobian(self, x, y, intermediates=None):
        # dy_ij/dz_ij = sqrt(1 - sum_{k<j} y_ik^2) for j >= 1 (1 for j = 0): entries two below the
        # diagonal of the cumulative sum; plus log(1 - tanh^2 x) for the tanh
        left = 1 - (y * y).cumsum(-1)
        # select before the log: the other entries (~0 on and right of the diagonal) would send
        # NaN gradients back through it
        stick = 0.5 * tril_matrix_to_vec(left, diag=-2).log().sum(-1)
        tanh_part = 2.0 * (math.log(2.0) - x - _F.softplus(-2.0 * x))
        return stick + tanh_part.sum(-1)

    def forward_shape(self, shape):
        _needs_dims(shape, 1)
        n = _corr_size(shape[-1])
        return tuple(shape[:-1]) + (n, n)

    def inverse_shape(self, shape):
        _needs_dims(shape, 2)
        n = shape[-1]
        if shape[-2] != n:
            raise ValueError("A matrix that isn't square can't be a Cholesky factor of a correlation matrix")
        return tuple(shape[:-2]) + (n * (n - 1) // 2,)


class ReshapeTransform(Transform):
    """Reshape the rightmost dims from `in_shape` to `out_shape` (same number of elements);
    volume-preserving."""

    bijective = True

    def __init__(self, in_shape, out_shape, cache_size=0):
        self.in_shape = rustdl.Size(in_shape)
        self.out_shape = rustdl.Size(out_shape)
        if self.in_shape.numel() != self.out_shape.numel():
            raise ValueError("in_shape, out_shape have different numbers of elements")
        super().__init__(cache_size=cache_size)

    @constraints.dependent_property
    def domain(self):
        return constraints.independent(constraints.real, len(self.in_shape))

    @constraints.dependent_property
    def codomain(self):
        return constraints.independent(constraints.real, len(self.out_shape))

    def with_cache(self, cache_size=1):
        if self._cache_size == cache_size:
            return self
        return ReshapeTransform(self.in_shape, self.out_shape, cache_size=cache_size)

    def _call(self, x):
        batch = x.shape[: x.dim() - len(self.in_shape)]
        return x.reshape(batch + self.out_shape)

    def _inverse(self, y):
        batch = y.shape[: y.dim() - len(self.out_shape)]
        return y.reshape(batch + self.in_shape)

    def log_abs_det_jacobian(self, x, y):
        batch = x.shape[: x.dim() - len(self.in_shape)]
        return rustdl.zeros(batch, dtype=x.dtype)

    def forward_shape(self, shape):
        return self._swap(shape, self.in_shape, self.out_shape)

    def inverse_shape(self, shape):
        return self._swap(shape, self.out_shape, self.in_shape)

    @staticmethod
    def _swap(shape, old, new):
        if len(shape) < len(old):
            raise ValueError("Too few dimensions on input")
        cut = len(shape) - len(old)
        if tuple(shape[cut:]) != tuple(old):
            raise ValueError(f"Shape mismatch: expected {tuple(shape[cut:])} but got {tuple(old)}")
        return tuple(shape[:cut]) + tuple(new)


class IndependentTransform(Transform):
    """`base_transform` with its `reinterpreted_batch_ndims` rightmost batch dims treated as
    event dims: its log-Jacobian summed over them."""

    def __init__(self, base_transform, reinterpreted_batch_ndims, cache_size=0):
        super().__init__(cache_size=cache_size)
        self.base_transform = base_transform.with_cache(cache_size)
        self.reinterpreted_batch_ndims = reinterpreted_batch_ndims

    def with_cache(self, cache_size=1):
        if self._cache_size == cache_size:
            return self
        return IndependentTransform(self.base_transform, self.reinterpreted_batch_ndims, cache_size=cache_size)

    @constraints.dependent_property(is_discrete=False)
    def domain(self):
        return constraints.independent(self.base_transform.domain, self.reinterpreted_batch_ndims)

    @constraints.dependent_property(is_discrete=False)
    def codomain(self):
        return constraints.independent(self.base_transform.codomain, self.reinterpreted_batch_ndims)

    @property
    def bijective(self):
        return self.base_transform.bijective

    @property
    def sign(self):
        return self.base_transform.sign

    def _call(self, x):
        if x.dim() < self.domain.event_dim:
            raise ValueError("Too few dimensions on input")
        return self.base_transform(x)

    def _inverse(self, y):
        if y.dim() < self.codomain.event_dim:
            raise ValueError("Too few dimensions on input")
        return self.base_transform.inv(y)

    def log_abs_det_jacobian(self, x, y):
        return sum_rightmost(self.base_transform.log_abs_det_jacobian(x, y), self.reinterpreted_batch_ndims)

    def __repr__(self):
        return f"{type(self).__name__}({self.base_transform!r}, {self.reinterpreted_batch_ndims})"

    def forward_shape(self, shape):
        return self.base_transform.forward_shape(shape)

    def inverse_shape(self, shape):
        return self.base_transform.inverse_shape(shape)


def _check_dim(dim, ndim):
    if not -ndim <= dim < ndim:
        raise ValueError(f"dim {dim} out of range for a tensor of {ndim} dimensions")


class CatTransform(Transform):
    """Transform i applied to the i-th slice (of `lengths[i]`, 1 by default) along `dim`."""

    def __init__(self, tseq, dim=0, lengths=None, cache_size=0):
        if not all(isinstance(t, Transform) for t in tseq):
            raise TypeError("tseq must be a sequence of Transforms")
        if cache_size:
            tseq = [t.with_cache(cache_size) for t in tseq]
        super().__init__(cache_size=cache_size)
        self.transforms = list(tseq)
        self.lengths = [1] * len(self.transforms) if lengths is None else list(lengths)
        if len(self.lengths) != len(self.transforms):
            raise ValueError("tseq and lengths must have the same length")
        self.dim = dim

    @property
    def event_dim(self):
        return max(t.event_dim for t in self.transforms)

    @property
    def length(self):
        return sum(self.lengths)

    def with_cache(self, cache_size=1):
        if self._cache_size == cache_size:
            return self
        return CatTransform(self.transforms, self.dim, self.lengths, cache_size)

    def _pieces(self, fn_name, x, y=None):
        _check_dim(self.dim, x.dim())
        if x.size(self.dim) != self.length:
            raise ValueError(f"expected size {self.length} along dim {self.dim}, got {x.size(self.dim)}")
        out, start = [], 0
        for t, n in zip(self.transforms, self.lengths):
            xs = x.narrow(self.dim, start, n)
            if fn_name == "call":
                out.append(t(xs))
            elif fn_name == "inverse":
                out.append(t.inv(xs))
            else:
                ladj = t.log_abs_det_jacobian(xs, y.narrow(self.dim, start, n))
                if t.event_dim < self.event_dim:
                    ladj = sum_rightmost(ladj, self.event_dim - t.event_dim)
                out.append(ladj)
            start += n
        return out

    def _call(self, x):
        return rustdl.cat(self._pieces("call", x), self.dim)

    def _inverse(self, y):
        return rustdl.cat(self._pieces("inverse", y), self.dim)

    def log_abs_det_jacobian(self, x, y):
        terms = self._pieces("ladj", x, y)
        dim = self.dim - x.dim() if self.dim >= 0 else self.dim
        dim += self.event_dim
        if dim < 0:  # a batch dim: the pieces' terms sit side by side
            return rustdl.cat(terms, dim)
        total = terms[0]
        for t in terms[1:]:
            total = total + t
        return total

    @property
    def bijective(self):
        return all(t.bijective for t in self.transforms)

    @constraints.dependent_property
    def domain(self):
        return constraints.cat([t.domain for t in self.transforms], self.dim, self.lengths)

    @constraints.dependent_property
    def codomain(self):
        return constraints.cat([t.codomain for t in self.transforms], self.dim, self.lengths)


class StackTransform(Transform):
    """Transform i applied to `x.select(dim, i)`, the results stacked back along `dim`."""

    def __init__(self, tseq, dim=0, cache_size=0):
        if not all(isinstance(t, Transform) for t in tseq):
            raise TypeError("tseq must be a sequence of Transforms")
        if cache_size:
            tseq = [t.with_cache(cache_size) for t in tseq]
        super().__init__(cache_size=cache_size)
        self.transforms = list(tseq)
        self.dim = dim

    def with_cache(self, cache_size=1):
        if self._cache_size == cache_size:
            return self
        return StackTransform(self.transforms, self.dim, cache_size)

    def _slices(self, z):
        _check_dim(self.dim, z.dim())
        if z.size(self.dim) != len(self.transforms):
            raise ValueError(f"expected size {len(self.transforms)} along dim {self.dim}, got {z.size(self.dim)}")
        return [z.select(self.dim, i) for i in range(z.size(self.dim))]

    def _call(self, x):
        return rustdl.stack([t(v) for v, t in zip(self._slices(x), self.transforms)], self.dim)

    def _inverse(self, y):
        return rustdl.stack([t.inv(v) for v, t in zip(self._slices(y), self.transforms)], self.dim)

    def log_abs_det_jacobian(self, x, y):
        terms = [t.log_abs_det_jacobian(xs, ys)
                 for t, xs, ys in zip(self.transforms, self._slices(x), self._slices(y))]
        return rustdl.stack(terms, self.dim)

    @property
    def bijective(self):
        return all(t.bijective for t in self.transforms)

    @constraints.dependent_property
    def domain(self):
        return constraints.stack([t.domain for t in self.transforms], self.dim)

    @constraints.dependent_property
    def codomain(self):
        return constraints.stack([t.codomain for t in self.transforms], self.dim)


class CumulativeDistributionTransform(Transform):
    """x -> F(x), the CDF of a univariate `distribution`: its support onto the unit interval;
    the log-Jacobian is the log-density."""

    bijective = True
    codomain = constraints.unit_interval
    sign = +1

    def __init__(self, distribution, cache_size=0):
        super().__init__(cache_size=cache_size)
        self.distribution = distribution

    @property
    def domain(self):
        return self.distribution.support

    def _call(self, x):
        return self.distribution.cdf(x)

    def _inverse(self, y):
        return self.distribution.icdf(y)

    def log_abs_det_jacobian(self, x, y):
        return self.distribution.log_prob(x)

    def with_cache(self, cache_size=1):
        if self._cache_size == cache_size:
            return self
        return CumulativeDistributionTransform(self.distribution, cache_size=cache_size)
