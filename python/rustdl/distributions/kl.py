"""kl_divergence(p, q) = E_p[log p - log q], in closed form for registered pairs of types.

`register_kl(P, Q)` adds an implementation; the lookup picks the most specific registered
pair for the argument types (by their method resolution orders) and caches it."""

import math

import rustdl

from .bernoulli import Bernoulli
from .beta import Beta
from .binomial import Binomial
from .categorical import Categorical
from .cauchy import Cauchy
from .continuous_bernoulli import ContinuousBernoulli
from .dirichlet import Dirichlet
from .exp_family import ExponentialFamily, bregman_kl
from .exponential import Exponential
from .gamma import Gamma
from .geometric import Geometric
from .gumbel import _EULER_GAMMA, Gumbel
from .half_normal import HalfNormal
from .independent import Independent
from .laplace import Laplace
from .log_normal import LogNormal
from .lowrank_multivariate_normal import LowRankMultivariateNormal
from .multivariate_normal import MultivariateNormal, batch_mahalanobis
from .normal import Normal
from .one_hot_categorical import OneHotCategorical
from .pareto import Pareto
from .poisson import Poisson
from .transformed_distribution import TransformedDistribution
from .uniform import Uniform
from .utils import sum_rightmost

__all__ = ["kl_divergence", "register_kl"]

_KL_REGISTRY = {}
_KL_MEMOIZE = {}


def register_kl(type_p, type_q):
    """Decorator: `@register_kl(Normal, Normal) def kl(p, q): ...`."""
    if not isinstance(type_p, type) or not issubclass(type_p, object):
        raise TypeError(f"Expected type_p to be a Distribution subclass but got {type_p}")
    if not isinstance(type_q, type):
        raise TypeError(f"Expected type_q to be a Distribution subclass but got {type_q}")

    def decorator(fun):
        _KL_REGISTRY[type_p, type_q] = fun
        _KL_MEMOIZE.clear()
        return fun

    return decorator


def _dispatch_kl(type_p, type_q):
    matches = [(p, q) for p, q in _KL_REGISTRY if issubclass(type_p, p) and issubclass(type_q, q)]
    if not matches:
        return NotImplemented
    best = min(matches, key=lambda pq: (type_p.__mro__.index(pq[0]), type_q.__mro__.index(pq[1])))
    return _KL_REGISTRY[best]


def kl_divergence(p, q):
    try:
        fun = _KL_MEMOIZE[type(p), type(q)]
    except KeyError:
        fun = _dispatch_kl(type(p), type(q))
        _KL_MEMOIZE[type(p), type(q)] = fun
    if fun is NotImplemented:
        raise NotImplementedError(
            f"No KL(p || q) is implemented for p type {p.__class__.__name__} and q type {q.__class__.__name__}")
    return fun(p, q)


def _infinite_like(t):
    return rustdl.full_like(t, math.inf)


@register_kl(Normal, Normal)
def _kl_normal_normal(p, q):
    var_ratio = (p.scale / q.scale).pow(2)
    t1 = ((p.loc - q.loc) / q.scale).pow(2)
    return 0.5 * (var_ratio + t1 - 1 - var_ratio.log())


@register_kl(LogNormal, LogNormal)
def _kl_lognormal_lognormal(p, q):
    return _kl_normal_normal(p.base_dist, q.base_dist)


@register_kl(Bernoulli, Bernoulli)
def _kl_bernoulli_bernoulli(p, q):
    softplus = rustdl.nn.functional.softplus
    t1 = p.probs * (softplus(-q.logits) - softplus(-p.logits))
    t1 = rustdl.where(q.probs == 0, _infinite_like(t1), t1)
    t1 = rustdl.where(p.probs == 0, rustdl.zeros_like(t1), t1)
    t2 = (1 - p.probs) * (softplus(q.logits) - softplus(p.logits))
    t2 = rustdl.where(q.probs == 1, _infinite_like(t2), t2)
    t2 = rustdl.where(p.probs == 1, rustdl.zeros_like(t2), t2)
    return t1 + t2


@register_kl(Categorical, Categorical)
def _kl_categorical_categorical(p, q):
    t = p.probs * (p.logits - q.logits)
    t = rustdl.where((q.probs == 0).expand_as(t), _infinite_like(t), t)
    t = rustdl.where((p.probs == 0).expand_as(t), rustdl.zeros_like(t), t)
    return t.sum(-1)


@register_kl(OneHotCategorical, OneHotCategorical)
def _kl_onehotcategorical_onehotcategorical(p, q):
    return _kl_categorical_categorical(p._categorical, q._categorical)


@register_kl(Uniform, Uniform)
def _kl_uniform_uniform(p, q):
    result = ((q.high - q.low) / (p.high - p.low)).log()
    outside = (q.low > p.low) | (q.high < p.high)
    return rustdl.where(outside, _infinite_like(result), result)


@register_kl(Exponential, Exponential)
def _kl_exponential_exponential(p, q):
    rate_ratio = q.rate / p.rate
    return -rate_ratio.log() + rate_ratio - 1


@register_kl(Laplace, Laplace)
def _kl_laplace_laplace(p, q):
    scale_ratio = p.scale / q.scale
    loc_abs_diff = (p.loc - q.loc).abs()
    return -scale_ratio.log() + loc_abs_diff / q.scale + scale_ratio * (-loc_abs_diff / p.scale).exp() - 1


@register_kl(Cauchy, Cauchy)
def _kl_cauchy_cauchy(p, q):
    return (((p.scale + q.scale).pow(2) + (p.loc - q.loc).pow(2)) / (4 * p.scale * q.scale)).log()


@register_kl(Gamma, Gamma)
def _kl_gamma_gamma(p, q):
    t1 = q.concentration * (p.rate / q.rate).log()
    t2 = rustdl.lgamma(q.concentration) - rustdl.lgamma(p.concentration)
    t3 = (p.concentration - q.concentration) * rustdl.digamma(p.concentration)
    t4 = (q.rate - p.rate) * (p.concentration / p.rate)
    return t1 + t2 + t3 + t4


@register_kl(Dirichlet, Dirichlet)
def _kl_dirichlet_dirichlet(p, q):
    sum_p = p.concentration.sum(-1)
    sum_q = q.concentration.sum(-1)
    t1 = sum_p.lgamma() - sum_q.lgamma()
    t2 = (p.concentration.lgamma() - q.concentration.lgamma()).sum(-1)
    t3 = p.concentration - q.concentration
    t4 = p.concentration.digamma() - sum_p.digamma().unsqueeze(-1)
    return t1 - t2 + (t3 * t4).sum(-1)


@register_kl(Beta, Beta)
def _kl_beta_beta(p, q):
    return _kl_dirichlet_dirichlet(p._dirichlet, q._dirichlet)


@register_kl(Poisson, Poisson)
def _kl_poisson_poisson(p, q):
    return p.rate * (p.rate.log() - q.rate.log()) - (p.rate - q.rate)


@register_kl(Geometric, Geometric)
def _kl_geometric_geometric(p, q):
    return -p.entropy() - (-q.probs).log1p() / p.probs - q.logits


@register_kl(MultivariateNormal, MultivariateNormal)
def _kl_mvn_mvn(p, q):
    if p.event_shape != q.event_shape:
        raise ValueError("KL-divergence between two Multivariate Normals with different event shapes "
                         "cannot be computed")
    Lp, Lq = p._unbroadcasted_scale_tril, q._unbroadcasted_scale_tril
    half_term1 = Lq.diagonal(dim1=-2, dim2=-1).log().sum(-1) - Lp.diagonal(dim1=-2, dim2=-1).log().sum(-1)
    n = p.event_shape[0]
    batch = rustdl.broadcast_shapes(Lq.shape[:-2], Lp.shape[:-2])
    shape = tuple(batch) + (n, n)
    # tr(Sigma_q^-1 Sigma_p) = |Lq^-1 Lp|_F^2
    term2 = rustdl.linalg.solve_triangular(Lq.expand(shape), Lp.expand(shape), upper=False).pow(2).sum((-2, -1))
    term3 = batch_mahalanobis(Lq, q.loc - p.loc)
    return half_term1 + 0.5 * (term2 + term3 - n)


@register_kl(Independent, Independent)
def _kl_independent_independent(p, q):
    if p.reinterpreted_batch_ndims != q.reinterpreted_batch_ndims:
        raise NotImplementedError
    return sum_rightmost(kl_divergence(p.base_dist, q.base_dist), p.reinterpreted_batch_ndims)


@register_kl(HalfNormal, HalfNormal)
def _kl_halfnormal_halfnormal(p, q):
    # both folded at 0: the fold changes both densities by the same factor 2
    return _kl_normal_normal(p.base_dist, q.base_dist)


@register_kl(Gumbel, Gumbel)
def _kl_gumbel_gumbel(p, q):
    # E_p[(x - m_q)/s_q] and E_p[exp(-(x - m_q)/s_q)] in closed form (the latter via Gamma(1 + s_p/s_q))
    ratio = p.scale / q.scale
    shift = (p.loc - q.loc) / q.scale
    tail = (-shift + rustdl.lgamma(1 + ratio)).exp()
    return -ratio.log() + shift + ratio * _EULER_GAMMA + tail - (1 + _EULER_GAMMA)


@register_kl(Normal, Gumbel)
def _kl_normal_gumbel(p, q):
    shift = (p.loc - q.loc) / q.scale
    var_ratio = (p.scale / q.scale).pow(2)
    tail = (-shift + 0.5 * var_ratio).exp()
    return -0.5 * var_ratio.log() + shift + tail - 0.5 * (1 + math.log(2 * math.pi))


@register_kl(Gumbel, Normal)
def _kl_gumbel_normal(p, q):
    ratio = p.scale / q.scale
    mean_gap = (p.loc + p.scale * _EULER_GAMMA - q.loc) / q.scale
    return (-(ratio / math.sqrt(2 * math.pi)).log() + (math.pi * ratio * 0.5).pow(2) / 3
            + 0.5 * mean_gap.pow(2) - (_EULER_GAMMA + 1))


@register_kl(Exponential, Gumbel)
def _kl_exponential_gumbel(p, q):
    product = p.rate * q.scale
    loc_ratio = q.loc / q.scale
    return (product.log() - 1 - loc_ratio + loc_ratio.exp() * product / (product + 1)
            + product.reciprocal())


@register_kl(Uniform, Gumbel)
def _kl_uniform_gumbel(p, q):
    width_ratio = q.scale / (p.high - p.low)
    high_gap = (p.high - q.loc) / q.scale
    low_gap = (p.low - q.loc) / q.scale
    return (width_ratio.log() + 0.5 * (high_gap + low_gap)
            - width_ratio * ((-high_gap).exp() - (-low_gap).exp()))


@register_kl(Pareto, Pareto)
def _kl_pareto_pareto(p, q):
    scale_ratio = p.scale / q.scale
    alpha_ratio = q.alpha / p.alpha
    result = q.alpha * scale_ratio.log() - alpha_ratio.log() + alpha_ratio - 1
    # p puts mass below q's lower bound
    return result.masked_fill(p.scale < q.scale, math.inf)


@register_kl(Pareto, Exponential)
def _kl_pareto_exponential(p, q):
    product = p.scale * q.rate
    result = (p.alpha / product).log() - p.alpha.reciprocal() + p.alpha * product / (p.alpha - 1) - 1
    return result.masked_fill(p.alpha <= 1, math.inf)


@register_kl(ContinuousBernoulli, ContinuousBernoulli)
def _kl_continuous_bernoulli_continuous_bernoulli(p, q):
    # log density = x logit + log(1 - probs) + log C(probs), linear in x
    return (p.mean * (p.logits - q.logits) + p._log_normalizer() + rustdl.log1p(-p.probs)
            - q._log_normalizer() - rustdl.log1p(-q.probs))


def _dense(d):
    """A LowRankMultivariateNormal as the MultivariateNormal with its covariance."""
    if isinstance(d, MultivariateNormal):
        return d
    return MultivariateNormal(d.loc, scale_tril=d.scale_tril, validate_args=False)


def _kl_gaussian_dense(p, q):
    if p.event_shape != q.event_shape:
        raise ValueError("KL-divergence between two (Low Rank) Multivariate Normals with different event shapes "
                         "cannot be computed")
    return _kl_mvn_mvn(_dense(p), _dense(q))


register_kl(LowRankMultivariateNormal, LowRankMultivariateNormal)(_kl_gaussian_dense)
register_kl(LowRankMultivariateNormal, MultivariateNormal)(_kl_gaussian_dense)
register_kl(MultivariateNormal, LowRankMultivariateNormal)(_kl_gaussian_dense)


def _kl_support_not_covered(p, q):
    """p puts mass where q has none."""
    return _infinite_like(p.mean)


for _p, _q in [(Beta, Pareto), (Exponential, Pareto), (Gamma, Pareto), (Gumbel, Beta), (Gumbel, ContinuousBernoulli),
               (Gumbel, Exponential), (Gumbel, Gamma), (Gumbel, Pareto), (Gumbel, Uniform), (Laplace, ContinuousBernoulli),
               (Laplace, Pareto), (Normal, ContinuousBernoulli), (Normal, Pareto), (Pareto, Beta),
               (Pareto, ContinuousBernoulli), (Pareto, Uniform), (Exponential, ContinuousBernoulli),
               (Gamma, ContinuousBernoulli)]:
    register_kl(_p, _q)(_kl_support_not_covered)


def _cb_log_density_mean(q, mean_x):
    """E[log q(X)] for q ContinuousBernoulli, given E[X] (its log density is linear in x)."""
    return mean_x * q.logits + rustdl.log1p(-q.probs) + q._log_normalizer()


@register_kl(Beta, ContinuousBernoulli)
def _kl_beta_continuous_bernoulli(p, q):
    return -p.entropy() - _cb_log_density_mean(q, p.mean)


@register_kl(Uniform, ContinuousBernoulli)
def _kl_uniform_continuous_bernoulli(p, q):
    result = -(p.high - p.low).log() - _cb_log_density_mean(q, p.mean)
    # PyTorch's comparisons are inclusive: a uniform on exactly [0, 1] also gets inf
    outside = (p.low <= 0) | (p.high >= 1)
    return rustdl.where(outside, _infinite_like(result), result)


@register_kl(ContinuousBernoulli, Exponential)
def _kl_continuous_bernoulli_exponential(p, q):
    return -p.entropy() - q.rate.log() + q.rate * p.mean


@register_kl(ContinuousBernoulli, Normal)
def _kl_continuous_bernoulli_normal(p, q):
    second_moment = p.variance + (p.mean - q.loc).pow(2)
    return -p.entropy() + 0.5 * math.log(2 * math.pi) + q.scale.log() + second_moment / (2 * q.scale.pow(2))


@register_kl(ContinuousBernoulli, Uniform)
def _kl_continuous_bernoulli_uniform(p, q):
    result = -p.entropy() + (q.high - q.low).log()
    # inclusive as PyTorch's: q on exactly [0, 1] also gets inf
    outside = (q.low >= 0) | (q.high <= 1)
    return rustdl.where(outside, _infinite_like(result), result)


@register_kl(Gamma, Gumbel)
def _kl_gamma_gumbel(p, q):
    # E_p[exp(-x / s)] is the Gamma's Laplace transform (1 + 1 / (rate s))^-concentration
    laplace = (-p.concentration * rustdl.log1p((p.rate * q.scale).reciprocal())).exp()
    return (-p.entropy() + q.scale.log() + (p.mean - q.loc) / q.scale
            + (q.loc / q.scale).exp() * laplace)


@register_kl(Pareto, Normal)
def _kl_pareto_normal(p, q):
    # needs the second moment: finite for alpha > 2 only
    # a stand-in where infinite, keeping the gradient finite (where, not clamp: clamp's gradient
    # vanishes at its bound)
    alpha = rustdl.where(p.alpha > 2, p.alpha, rustdl.full_like(p.alpha, 3.0))
    mean = alpha * p.scale / (alpha - 1)
    variance = p.scale.pow(2) * alpha / ((alpha - 1).pow(2) * (alpha - 2))
    result = (-p.entropy() + 0.5 * math.log(2 * math.pi) + q.scale.log()
              + (variance + (mean - q.loc).pow(2)) / (2 * q.scale.pow(2)))
    return result.masked_fill(p.alpha <= 2, math.inf)


@register_kl(Pareto, Gamma)
def _kl_pareto_gamma(p, q):
    # E_p[log x] = log scale + 1/alpha; E_p[x] finite for alpha > 1
    alpha = rustdl.where(p.alpha > 1, p.alpha, rustdl.full_like(p.alpha, 2.0))
    mean = alpha * p.scale / (alpha - 1)
    log_mean = p.scale.log() + p.alpha.reciprocal()
    result = (-p.entropy() - q.concentration * q.rate.log() + rustdl.lgamma(q.concentration)
              - (q.concentration - 1) * log_mean + q.rate * mean)
    return result.masked_fill(p.alpha <= 1, math.inf)


@register_kl(Uniform, Pareto)
def _kl_uniform_pareto(p, q):
    # E_p[log x] over [a, b]: (b log b - a log a) / (b - a) - 1
    low = p.low.clamp(min=rustdl.finfo(p.low.dtype).tiny)
    log_mean = (p.high * p.high.log() - low * low.log()) / (p.high - low) - 1
    result = (-(p.high - p.low).log() - q.alpha.log() - q.alpha * q.scale.log() + (q.alpha + 1) * log_mean)
    return result.masked_fill(p.low < q.scale, math.inf)


# any two members of one exponential family (the specific pairs above are more specific and win)
register_kl(ExponentialFamily, ExponentialFamily)(bregman_kl)



# ---- cross-family pairs: KL = -H(p) - E_p[log q], E_p[log q] from p's moments ----

def _gaussian_cross_term(q, mean, variance):
    """-E_p[log q] for q Normal, from p's mean and variance."""
    return 0.5 * math.log(2 * math.pi) + q.scale.log() + (variance + (mean - q.loc).pow(2)) / (2 * q.scale.pow(2))


def _gamma_cross_term(q, mean, mean_log):
    """-E_p[log q] for q Gamma, from E_p[X] and E_p[log X]."""
    return -(q.concentration * q.rate.log() - rustdl.lgamma(q.concentration)
             + (q.concentration - 1) * mean_log - q.rate * mean)


def _exponential_cross_term(q, mean):
    return -q.rate.log() + q.rate * mean


def _beta_mean_log(p):
    return rustdl.digamma(p.concentration1) - rustdl.digamma(p.concentration1 + p.concentration0)


def _uniform_mean_log(p):
    """E[log X] for X uniform on [low, high], low >= 0 (0 log 0 = 0)."""
    return (rustdl.xlogy(p.high, p.high) - rustdl.xlogy(p.low, p.low)) / (p.high - p.low) - 1


@register_kl(Beta, Exponential)
def _kl_beta_exponential(p, q):
    return -p.entropy() + _exponential_cross_term(q, p.mean)


@register_kl(Beta, Gamma)
def _kl_beta_gamma(p, q):
    return -p.entropy() + _gamma_cross_term(q, p.mean, _beta_mean_log(p))


@register_kl(Beta, Normal)
def _kl_beta_normal(p, q):
    return -p.entropy() + _gaussian_cross_term(q, p.mean, p.variance)


@register_kl(Beta, Uniform)
def _kl_beta_uniform(p, q):
    result = -p.entropy() + (q.high - q.low).log()
    return rustdl.where((q.low > 0) | (q.high < 1), _infinite_like(result), result)


@register_kl(Exponential, Gamma)
def _kl_exponential_gamma(p, q):
    mean_log = -_EULER_GAMMA - p.rate.log()
    return -p.entropy() + _gamma_cross_term(q, p.mean, mean_log)


@register_kl(Exponential, Normal)
def _kl_exponential_normal(p, q):
    return -p.entropy() + _gaussian_cross_term(q, p.mean, p.variance)


@register_kl(Gamma, Exponential)
def _kl_gamma_exponential(p, q):
    return -p.entropy() + _exponential_cross_term(q, p.mean)


@register_kl(Gamma, Normal)
def _kl_gamma_normal(p, q):
    return -p.entropy() + _gaussian_cross_term(q, p.mean, p.variance)


@register_kl(Laplace, Normal)
def _kl_laplace_normal(p, q):
    return -p.entropy() + _gaussian_cross_term(q, p.loc, 2 * p.scale.pow(2))


@register_kl(Normal, Laplace)
def _kl_normal_laplace(p, q):
    # E|X - m| for X ~ N(mu, s^2): s sqrt(2/pi) exp(-d^2 / (2 s^2)) + d erf(d / (s sqrt 2)), d = mu - m
    gap = p.loc - q.loc
    mean_abs = (p.scale * math.sqrt(2 / math.pi) * (-gap.pow(2) / (2 * p.scale.pow(2))).exp()
                + gap * rustdl.erf(gap / (p.scale * math.sqrt(2))))
    return -p.entropy() + (2 * q.scale).log() + mean_abs / q.scale


@register_kl(Uniform, Normal)
def _kl_uniform_normal(p, q):
    return -p.entropy() + _gaussian_cross_term(q, p.mean, p.variance)


@register_kl(Uniform, Exponential)
def _kl_uniform_exponential(p, q):
    result = -p.entropy() + _exponential_cross_term(q, p.mean)
    return rustdl.where(p.low < 0, _infinite_like(result), result)


@register_kl(Uniform, Gamma)
def _kl_uniform_gamma(p, q):
    low = p.low.clamp(min=0)  # a stand-in where the result is inf anyway
    mean_log = (rustdl.xlogy(p.high, p.high) - rustdl.xlogy(low, low)) / (p.high - low) - 1
    result = -p.entropy() + _gamma_cross_term(q, p.mean, mean_log)
    return rustdl.where(p.low < 0, _infinite_like(result), result)


@register_kl(Uniform, Beta)
def _kl_uniform_beta(p, q):
    inside = (p.low >= 0) & (p.high <= 1)
    low = rustdl.where(inside, p.low, rustdl.zeros_like(p.low))
    high = rustdl.where(inside, p.high, rustdl.ones_like(p.high))
    width = high - low
    mean_log = (rustdl.xlogy(high, high) - rustdl.xlogy(low, low)) / width - 1
    mean_log1m = (rustdl.xlogy(1 - low, 1 - low) - rustdl.xlogy(1 - high, 1 - high)) / width - 1
    log_beta = (rustdl.lgamma(q.concentration1) + rustdl.lgamma(q.concentration0)
                - rustdl.lgamma(q.concentration1 + q.concentration0))
    result = (-p.entropy() - (q.concentration1 - 1) * mean_log - (q.concentration0 - 1) * mean_log1m + log_beta)
    return rustdl.where(inside, result, _infinite_like(result))


@register_kl(Bernoulli, Poisson)
def _kl_bernoulli_poisson(p, q):
    # log 0! = log 1! = 0
    return -p.entropy() + q.rate - p.probs * q.rate.log()


@register_kl(Binomial, Binomial)
def _kl_binomial_binomial(p, q):
    if bool((p.total_count < q.total_count).any()):
        raise NotImplementedError("KL between Binomials where q.total_count > p.total_count is not implemented")
    softplus = rustdl.nn.functional.softplus
    # per trial: probs (logit_p - logit_q) + log(1 - probs_p) - log(1 - probs_q)
    per_trial = p.probs * (p.logits - q.logits) + softplus(q.logits) - softplus(p.logits)
    result = p.total_count * per_trial
    return rustdl.where(p.total_count > q.total_count, _infinite_like(result), result)


@register_kl(TransformedDistribution, TransformedDistribution)
def _kl_transformed_transformed(p, q):
    # KL is invariant under a common bijection
    if p.transforms != q.transforms:
        raise NotImplementedError
    if p.event_shape != q.event_shape:
        raise NotImplementedError
    return kl_divergence(p.base_dist, q.base_dist)


for _p, _q in [(Exponential, Beta), (Exponential, Uniform), (Gamma, Beta), (Gamma, Uniform), (Laplace, Beta),
               (Laplace, Exponential), (Laplace, Gamma), (Laplace, Uniform), (Normal, Beta), (Normal, Exponential),
               (Normal, Gamma), (Normal, Uniform), (Poisson, Bernoulli), (Poisson, Binomial),
               (ContinuousBernoulli, Pareto)]:
    register_kl(_p, _q)(_kl_support_not_covered)
