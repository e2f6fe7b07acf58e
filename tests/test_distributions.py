"""rustdl.distributions against PyTorch-recorded values and gradients
(tools/differential/record_distributions.py), PyTorch's errors for bad parameters and values,
and the moments of many draws (seeded, so deterministic) against the closed forms."""

import json
import math
from pathlib import Path

import distributions_cases as cases
import numpy as np
import pytest
import rustdl
import rustdl.distributions as D

GOLDEN = json.loads((Path(__file__).parent / "golden" / "distributions.json").read_text())


def _close(got, want, key, rtol=1e-9, atol=1e-10):
    if isinstance(want, dict):
        assert sorted(got) == sorted(want), key
        for k in want:
            _close(got[k], want[k], f"{key}.{k}", rtol, atol)
        return
    if want is None or got is None:
        assert got is None and want is None, f"{key}: {got} vs {want}"
        return
    if isinstance(want, list) and want and not isinstance(want[0], (float, int, str, type(None))):
        assert got == want, key
        return
    if isinstance(want, list):
        conv = [np.nan if v is None else float(v) for v in want]
        gconv = [np.nan if v is None else float(v) for v in got]
        assert len(gconv) == len(conv), f"{key}: {got} vs {want}"
        np.testing.assert_allclose(gconv, conv, rtol=rtol, atol=atol, equal_nan=True, err_msg=key)
        return
    assert got == want, f"{key}: {got} vs {want}"


@pytest.mark.parametrize("name", sorted(cases.CASES))
def test_distribution_matches_pytorch(name):
    got, want = cases.run(rustdl, name), GOLDEN["cases"][name]
    assert sorted(got) == sorted(want)
    tol = {} if cases.case_dtype(name) == "float64" else {"rtol": 2e-6, "atol": 1e-6}
    for key in want:
        if key.endswith(("_shape", "_dtype")) or key in ("batch_shape", "event_shape"):
            assert got[key] == want[key], f"{name} {key}"
        else:
            _close(got[key], want[key], f"{name} {key}", **tol)


# pairs where PyTorch's gradient at an infinite KL entry is NaN (a log of a value outside the
# support, masked only after); rustdl's is 0 there (the KL is the constant inf)
NAN_GRADIENT_AT_INFINITE_KL = {"kl_uniform_wide|gamma", "uniform|beta"}


@pytest.mark.parametrize("pair", sorted(GOLDEN["kl"]))
def test_kl_divergence_matches_pytorch(pair):
    p, q = pair.split("|")
    got, want = cases.run_kl(rustdl, p, q), GOLDEN["kl"][pair]
    assert got["shape"] == want["shape"]
    _close(got["kl"], want["kl"], pair)
    want_grads = want["grads"]
    if pair in NAN_GRADIENT_AT_INFINITE_KL:
        infinite = [v == "inf" for v in want["kl"]]
        want_grads = {k: None if g is None else [0.0 if (v is None and infinite[i]) else v for i, v in enumerate(g)]
                      for k, g in want_grads.items()}
    _close(got["grads"], want_grads, pair + " grads")


def _moments(draws):
    return draws.double().mean(0), draws.double().var(0)


# distribution, number of draws; the sample mean and variance must lie within 6 standard errors
# (the errors' own estimates from the fourth central moment of the same draws)
SAMPLED = {
    "normal": lambda: D.Normal(rustdl.tensor([0.0, 3.0]), rustdl.tensor([1.0, 0.5])),
    "laplace": lambda: D.Laplace(rustdl.tensor([1.0]), rustdl.tensor([2.0])),
    "exponential": lambda: D.Exponential(rustdl.tensor([0.5, 4.0])),
    "uniform": lambda: D.Uniform(rustdl.tensor([-1.0]), rustdl.tensor([3.0])),
    "lognormal": lambda: D.LogNormal(rustdl.tensor([0.0]), rustdl.tensor([0.5])),
    "gamma": lambda: D.Gamma(rustdl.tensor([0.3, 1.0, 7.5]), rustdl.tensor([1.0, 2.0, 0.5])),
    "beta": lambda: D.Beta(rustdl.tensor([0.5, 2.0]), rustdl.tensor([0.5, 5.0])),
    "dirichlet": lambda: D.Dirichlet(rustdl.tensor([0.7, 2.0, 3.0])),
    "bernoulli": lambda: D.Bernoulli(probs=rustdl.tensor([0.05, 0.5])),
    "poisson": lambda: D.Poisson(rustdl.tensor([0.0, 0.7, 9.5, 10.0, 250.0])),
    "geometric": lambda: D.Geometric(probs=rustdl.tensor([0.1, 0.8])),
    "binomial": lambda: D.Binomial(rustdl.tensor([5.0, 20.0]), probs=rustdl.tensor([0.3, 0.9])),
    "mvn": lambda: D.MultivariateNormal(rustdl.tensor([1.0, -1.0]), rustdl.tensor([[2.0, 0.6], [0.6, 1.0]])),
    "one_hot": lambda: D.OneHotCategorical(probs=rustdl.tensor([0.2, 0.3, 0.5])),
    "student_t": lambda: D.StudentT(rustdl.tensor([5.0, 30.0]), rustdl.tensor([1.0, -1.0]), rustdl.tensor([2.0, 0.5])),
    "gumbel": lambda: D.Gumbel(rustdl.tensor([0.0, 2.0]), rustdl.tensor([1.0, 0.3])),
    "half_normal": lambda: D.HalfNormal(rustdl.tensor([1.0, 3.0])),
    "pareto": lambda: D.Pareto(rustdl.tensor([1.0, 0.5]), rustdl.tensor([5.0, 9.0])),
    "weibull": lambda: D.Weibull(rustdl.tensor([1.0, 2.0]), rustdl.tensor([0.8, 3.0])),
    "chi2": lambda: D.Chi2(rustdl.tensor([0.7, 4.0])),
    "inverse_gamma": lambda: D.InverseGamma(rustdl.tensor([6.0, 9.0]), rustdl.tensor([1.0, 3.0])),
    "fisher_snedecor": lambda: D.FisherSnedecor(rustdl.tensor([4.0, 10.0]), rustdl.tensor([12.0, 20.0])),
    "kumaraswamy": lambda: D.Kumaraswamy(rustdl.tensor([0.5, 2.0]), rustdl.tensor([0.7, 3.0])),
    "generalized_pareto": lambda: D.GeneralizedPareto(rustdl.tensor([0.0, 1.0, 0.0]), rustdl.tensor([1.0, 2.0, 0.5]),
                                                      rustdl.tensor([0.2, -0.5, 0.0])),
    "mixture": lambda: D.MixtureSameFamily(D.Categorical(probs=rustdl.tensor([0.3, 0.7])),
                                           D.Normal(rustdl.tensor([-2.0, 1.0]), rustdl.tensor([0.5, 1.0]))),
    "mixture_2d": lambda: D.MixtureSameFamily(
        D.Categorical(logits=rustdl.tensor([[0.0, 1.0], [1.0, -1.0]])),
        D.Independent(D.Normal(rustdl.tensor([[[-2.0, 0.0], [1.0, 3.0]], [[0.0, 0.0], [5.0, 1.0]]]), 1.0), 1)),
    "multinomial": lambda: D.Multinomial(7, probs=rustdl.tensor([0.2, 0.3, 0.5])),
    "negative_binomial": lambda: D.NegativeBinomial(rustdl.tensor([2.0, 7.5]), probs=rustdl.tensor([0.3, 0.6])),
    "straight_through": lambda: D.OneHotCategoricalStraightThrough(probs=rustdl.tensor([0.2, 0.3, 0.5])),
    "continuous_bernoulli": lambda: D.ContinuousBernoulli(probs=rustdl.tensor([0.1, 0.4999, 0.8])),
    "wishart": lambda: D.Wishart(rustdl.tensor([2.5, 7.0]), rustdl.tensor([[2.0, 0.6], [0.6, 1.0]])),
    "lowrank_mvn": lambda: D.LowRankMultivariateNormal(rustdl.tensor([1.0, -1.0, 0.0]),
                                                       rustdl.tensor([[1.0, 0.5], [0.3, -0.2], [0.0, 2.0]]),
                                                       rustdl.tensor([0.5, 1.0, 0.1])),
}


@pytest.mark.parametrize("name", sorted(SAMPLED))
def test_draws_have_the_distributions_moments(name):
    rustdl.manual_seed(1234)
    d = SAMPLED[name]()
    n = 40_000
    draws = d.sample((n,))
    assert tuple(draws.shape) == (n,) + tuple(d.batch_shape) + tuple(d.event_shape)
    mean, var = _moments(draws)
    want_mean, want_var = d.mean.double(), d.variance.double()
    centred = draws.double() - mean
    m4 = (centred**4).mean(0)
    mean_err = 6 * (want_var / n).sqrt() + 1e-12
    # plus the estimator's O(1/n) bias, which is all that is left where m4 = var^2 (a fair coin)
    var_err = 6 * ((m4 - var**2).clamp(min=0) / n).sqrt() + 4 * want_var / n + 1e-12
    assert bool(((mean - want_mean).abs() <= mean_err).all()), (mean, want_mean)
    assert bool(((var - want_var).abs() <= var_err).all()), (var, want_var)
    assert bool(d.support.check(draws).all())


def test_von_mises_draws():
    # E[cos(X - loc)] = I1(kappa) / I0(kappa) = 1 - circular variance; E[sin(X - loc)] = 0
    rustdl.manual_seed(21)
    loc = rustdl.tensor([0.5, -3.0, 2.0, 0.0])
    d = D.VonMises(loc, rustdl.tensor([0.01, 1.0, 4.0, 50.0]))
    n = 40_000
    draws = d.sample((n,))
    assert tuple(draws.shape) == (n, 4) and draws.dtype == rustdl.float32
    assert bool(((draws >= -math.pi) & (draws < math.pi)).all())
    cos_mean = (draws.double() - loc.double()).cos().mean(0)
    sin_mean = (draws.double() - loc.double()).sin().mean(0)
    np.testing.assert_allclose(cos_mean.tolist(), (1 - d.variance.double()).tolist(), atol=6 / math.sqrt(n))
    np.testing.assert_allclose(sin_mean.tolist(), [0.0] * 4, atol=6 / math.sqrt(n))


def test_categorical_draws_follow_the_probabilities():
    rustdl.manual_seed(7)
    probs = rustdl.tensor([[0.1, 0.0, 0.6, 0.3], [0.25, 0.25, 0.25, 0.25]])
    draws = D.Categorical(probs=probs).sample((20_000,))
    assert draws.dtype == rustdl.int64 and tuple(draws.shape) == (20_000, 2)
    counts = np.stack([np.bincount(draws[:, i].numpy(), minlength=4) for i in range(2)]) / 20_000
    np.testing.assert_allclose(counts, probs.numpy(), atol=0.015)
    assert counts[0, 1] == 0


def test_rsample_carries_gradients_to_the_parameters():
    rustdl.manual_seed(3)
    loc = rustdl.tensor([0.5, -1.0], requires_grad=True)
    scale = rustdl.tensor([2.0, 0.3], requires_grad=True)
    x = D.Normal(loc, scale).rsample((5,))
    x.sum().backward()
    np.testing.assert_allclose(loc.grad.numpy(), [5.0, 5.0])
    eps = (x.detach() - loc.detach()) / scale.detach()
    np.testing.assert_allclose(scale.grad.numpy(), eps.sum(0).numpy(), rtol=1e-5)
    for dist in (D.Exponential(scale), D.Laplace(loc, scale), D.Uniform(loc, loc + scale),
                 D.LogNormal(loc, scale), D.Cauchy(loc, scale), D.Gamma(scale, 1.0), D.Gamma(2.0, scale),
                 D.Beta(scale, 2.0), D.Dirichlet(scale),
                 D.MultivariateNormal(loc, scale_tril=rustdl.diag(scale))):
        (g,) = rustdl.autograd.grad(dist.rsample((3,)).sum(), [scale])
        assert bool(g.isfinite().all()) and bool((g != 0).any()), type(dist).__name__
    assert not x.requires_grad or D.Normal(loc, scale).sample().requires_grad is False
    probs = rustdl.tensor([0.2, 0.8], requires_grad=True)
    for dist in (D.StudentT(scale + 2, loc, scale), D.Gumbel(loc, scale), D.HalfNormal(scale), D.HalfCauchy(scale),
                 D.Pareto(scale, 3.0), D.Weibull(scale, 1.5), D.Chi2(scale), D.InverseGamma(scale, 2.0),
                 D.FisherSnedecor(scale, 4.0), D.Kumaraswamy(scale, 2.0), D.LogisticNormal(loc, scale),
                 D.GeneralizedPareto(loc, scale, 0.3), D.RelaxedBernoulli(rustdl.tensor(0.5), probs=scale / 3),
                 D.Wishart(scale.sum() + 2, scale_tril=rustdl.diag(scale)),
                 D.RelaxedOneHotCategorical(rustdl.tensor(0.5), probs=scale / scale.sum())):
        assert dist.has_rsample, type(dist).__name__
        (g,) = rustdl.autograd.grad(dist.rsample((3,)).sum(), [scale])
        assert bool(g.isfinite().all()) and bool((g != 0).any()), type(dist).__name__
    draws = D.OneHotCategoricalStraightThrough(probs=probs).rsample((6,))
    # forward: one-hot draws; backward: the gradient of the 6 draws' expectation, 6 probs
    assert bool(((draws == 0) | (draws == 1)).all()) and draws.sum().item() == 6
    (g,) = rustdl.autograd.grad((draws * rustdl.tensor([1.0, 3.0])).sum(), [probs])
    # probs are normalized by their sum (1 here): d/dp_i = 6 (w_i - w.p)
    np.testing.assert_allclose(g.tolist(), [6 * (1 - 2.6), 6 * (3 - 2.6)], rtol=1e-6)


def test_parameter_and_value_errors_match_pytorch():
    with pytest.raises(ValueError, match=r"Expected parameter scale \(Tensor of shape \(2,\)\) of distribution "
                                         r"Normal\(loc: .*\) to satisfy the constraint GreaterThan\(lower_bound=0.0\)"):
        D.Normal(rustdl.zeros(2), rustdl.tensor([1.0, -1.0]))
    with pytest.raises(ValueError, match="Either `probs` or `logits` must be specified, but not both."):
        D.Bernoulli(probs=0.3, logits=0.1)
    with pytest.raises(ValueError, match="Either `probs` or `logits` must be specified"):
        D.Categorical()
    with pytest.raises(ValueError, match="Uniform is not defined when low>= high"):
        D.Uniform(1.0, 0.5)
    with pytest.raises(ValueError, match="Exactly one of covariance_matrix or precision_matrix or scale_tril"):
        D.MultivariateNormal(rustdl.zeros(2))
    with pytest.raises(ValueError, match="to satisfy the constraint PositiveDefinite"):
        D.MultivariateNormal(rustdl.zeros(2), rustdl.tensor([[1.0, 2.0], [2.0, 1.0]]))
    with pytest.raises(ValueError, match=r"Expected value argument \(Tensor of shape \(1,\)\) to be within the "
                                         r"support \(IntegerInterval\(lower_bound=0, upper_bound=2\)\)"):
        D.Categorical(logits=rustdl.zeros(3)).log_prob(rustdl.tensor([3]))
    with pytest.raises(ValueError, match="The value argument to log_prob must be a Tensor"):
        D.Normal(0.0, 1.0).log_prob(0.5)
    with pytest.raises(ValueError, match="The right-most size of value must match event_shape"):
        D.MultivariateNormal(rustdl.zeros(2), rustdl.eye(2)).log_prob(rustdl.zeros(3))
    with pytest.raises(ValueError, match="Value is not broadcastable with batch_shape\\+event_shape"):
        D.Normal(rustdl.zeros(3), 1.0).log_prob(rustdl.zeros(2))
    with pytest.raises(NotImplementedError, match="No KL\\(p \\|\\| q\\) is implemented for p type Laplace and q type "
                                                  "Bernoulli"):
        D.kl_divergence(D.Laplace(0.0, 1.0), D.Bernoulli(0.5))
    # two exponential families: PyTorch's (ExponentialFamily, ExponentialFamily) entry answers
    with pytest.raises(NotImplementedError, match="The cross KL-divergence between different exponential families"):
        D.kl_divergence(D.Normal(0.0, 1.0), D.Bernoulli(0.5))
    # validation off: the same calls go through
    assert math.isnan(float(D.Normal(0.0, 1.0, validate_args=False).log_prob(rustdl.tensor(math.nan))))


def test_expand_shares_parameters_and_keeps_the_type():
    d = D.Normal(rustdl.tensor([0.0, 1.0]), rustdl.tensor([1.0, 2.0])).expand((3, 2))
    assert type(d) is D.Normal and tuple(d.batch_shape) == (3, 2) and tuple(d.sample().shape) == (3, 2)
    c = D.Categorical(logits=rustdl.zeros(4)).expand((5,))
    assert tuple(c.batch_shape) == (5,) and tuple(c.sample((2,)).shape) == (2, 5)
    m = D.MultivariateNormal(rustdl.zeros(2), rustdl.eye(2)).expand((3,))
    assert tuple(m.log_prob(rustdl.zeros(3, 2)).shape) == (3,)
    i = D.Independent(D.Normal(rustdl.zeros(4), 1.0), 1).expand((2,))
    assert tuple(i.batch_shape) == (2,) and tuple(i.event_shape) == (4,)


def test_enumerate_support_and_register_kl():
    assert D.Bernoulli(rustdl.tensor([0.2, 0.7])).enumerate_support().tolist() == [[0.0, 0.0], [1.0, 1.0]]
    assert D.Categorical(logits=rustdl.zeros(2, 3)).enumerate_support(expand=False).tolist() == [[0], [1], [2]]

    class Shifted(D.Normal):
        pass

    @D.register_kl(Shifted, D.Normal)
    def _kl(p, q):
        return rustdl.tensor(42.0)

    assert float(D.kl_divergence(Shifted(0.0, 1.0), D.Normal(0.0, 1.0))) == 42.0
    assert float(D.kl_divergence(D.Normal(0.0, 1.0), Shifted(0.0, 1.0))) == 0.0


def test_transforms_cache_invert_and_compose():
    t = D.TanhTransform(cache_size=1)
    x = rustdl.tensor([30.0, -0.5])
    y = t(x)
    assert t.inv(y) is x  # the cached pair: atanh(tanh(30)) would be inf in float32
    assert D.TanhTransform().inv(y)[0].item() == math.inf
    assert t.inv.inv is t and t.sign == 1 and D.AffineTransform(0.0, -2.0).sign == -1
    assert D.ExpTransform() == D.ExpTransform() and D.ExpTransform() != D.TanhTransform()
    c = D.ComposeTransform([D.AffineTransform(1.0, 2.0), D.ExpTransform()])
    z = rustdl.tensor([0.1, 0.7])
    assert torch_allclose(c.inv(c(z)), z)
    assert torch_allclose(c.log_abs_det_jacobian(z, c(z)), math.log(2.0) + (1.0 + 2.0 * z))
    rustdl.manual_seed(0)
    loc = rustdl.tensor([0.2], requires_grad=True)
    d = D.TransformedDistribution(D.Normal(loc, 1.0), [D.TanhTransform(cache_size=1)])
    a = d.rsample((4,))
    assert bool((a.abs() < 1).all()) and d.has_rsample
    (g,) = rustdl.autograd.grad(d.log_prob(a).sum(), loc)
    assert bool(g.isfinite().all())
    with pytest.raises(ValueError, match="transforms must be a Transform or list"):
        D.TransformedDistribution(D.Normal(0.0, 1.0), "exp")


def torch_allclose(a, b):
    return bool(rustdl.allclose(a, b if isinstance(b, rustdl.Tensor) else rustdl.tensor(b), atol=1e-6))


# d x / d alpha of standard-gamma draws, recorded from PyTorch 2.15's torch._standard_gamma_grad
# (its approximations are good to ~1e-4; the finite differences of the CDF below are exact)
GAMMA_X = [0.01, 0.5, 1.0, 3.0, 10.0, 50.0, 0.2, 900.0]
GAMMA_ALPHA = [0.1, 0.5, 1.0, 2.5, 9.0, 60.0, 3.0, 1000.0]
GAMMA_GRAD_TORCH = [0.4228, 1.3374, 1.1736, 1.1692, 1.0733, 0.9141, 0.2019, 0.9485]


def _regularized_gamma(a, x, terms=4000):
    return sum(math.exp((a + n) * math.log(x) - x - math.lgamma(a + n + 1)) for n in range(terms))


def test_implicit_gamma_gradient():
    from rustdl.distributions.gamma import standard_gamma_grad

    got = standard_gamma_grad(rustdl.tensor(GAMMA_X, dtype=rustdl.float64),
                              rustdl.tensor(GAMMA_ALPHA, dtype=rustdl.float64)).tolist()
    np.testing.assert_allclose(got, GAMMA_GRAD_TORCH, rtol=3e-4, atol=1e-4)
    for a, x, g in zip(GAMMA_ALPHA, GAMMA_X, got):
        h = 1e-5 * a
        dP_da = (_regularized_gamma(a + h, x) - _regularized_gamma(a - h, x)) / (2 * h)
        density = math.exp((a - 1) * math.log(x) - x - math.lgamma(a))
        assert g == pytest.approx(-dP_da / density, rel=1e-5)
    # the pathwise gradient is unbiased: E[dx/dalpha] = dE[x]/dalpha = 1 for Gamma(alpha, 1)
    rustdl.manual_seed(11)
    alpha = rustdl.tensor([0.4, 3.0], requires_grad=True)
    x = D.Gamma(alpha, 1.0).rsample((20_000,))
    (g,) = rustdl.autograd.grad(x.sum() / 20_000, alpha)
    np.testing.assert_allclose(g.tolist(), [1.0, 1.0], atol=0.03)


def test_relaxed_draws_follow_the_relaxation():
    # RelaxedBernoulli: P(X > 1/2) = P(logistic noise > -logits) = probs, for any temperature
    rustdl.manual_seed(5)
    draws = D.RelaxedBernoulli(rustdl.tensor(0.3), probs=rustdl.tensor([0.2, 0.7])).sample((20_000,))
    assert bool(((draws > 0) & (draws < 1)).all())
    np.testing.assert_allclose((draws > 0.5).double().mean(0).tolist(), [0.2, 0.7], atol=0.015)
    # RelaxedOneHotCategorical: the argmax of the draw is Categorical(probs) (Gumbel-max)
    probs = rustdl.tensor([0.1, 0.6, 0.3])
    draws = D.RelaxedOneHotCategorical(rustdl.tensor(2.0), probs=probs).sample((20_000,))
    np.testing.assert_allclose(draws.sum(-1).tolist(), [1.0] * 20_000, rtol=1e-5)
    counts = np.bincount(draws.argmax(-1).numpy(), minlength=3) / 20_000
    np.testing.assert_allclose(counts, probs.numpy(), atol=0.015)


def test_new_families_validate_parameters_as_pytorch():
    def bad(param, constraint):
        return pytest.raises(ValueError, match=rf"Expected parameter {param} .* to satisfy the constraint {constraint}")

    with bad("df", r"GreaterThan\(lower_bound=0.0\)"):
        D.StudentT(rustdl.tensor([1.0, -1.0]))
    with bad("scale", "GreaterThan"):
        D.Gumbel(0.0, rustdl.tensor([-1.0]))
    with bad("scale", "GreaterThan"):
        D.HalfNormal(rustdl.tensor([0.0]))
    with bad("scale", "GreaterThan"):
        D.HalfCauchy(rustdl.tensor([-2.0]))
    with bad("concentration", "GreaterThan"):
        D.Weibull(1.0, rustdl.tensor([0.0]))
    with bad("df", "GreaterThan"):
        D.Chi2(rustdl.tensor([-2.0]))
    # the composed families fail in their base distribution's check first, as PyTorch's
    with pytest.raises(ValueError, match=r"Expected parameter rate \(Tensor of shape \(1,\)\) of distribution Gamma"):
        D.InverseGamma(1.0, rustdl.tensor([-2.0]))
    with pytest.raises(ValueError, match=r"Expected parameter concentration \(Tensor of shape \(1,\)\) of distribution "
                                         r"Gamma"):
        D.FisherSnedecor(1.0, rustdl.tensor([-2.0]))
    with pytest.raises(ValueError, match=r"Expected parameter rate \(Tensor of shape \(1,\)\) of distribution Exponential"):
        D.Pareto(1.0, rustdl.tensor([-2.0]))
    with pytest.raises(ValueError, match=r"Expected parameter scale \(Tensor of shape \(1,\)\) of distribution HalfNormal\(\)"):
        D.HalfNormal(rustdl.tensor([0.0]))
    with bad("concentration0", "GreaterThan"):
        D.Kumaraswamy(1.0, rustdl.tensor([-2.0]))
    with bad("scale", "GreaterThan"):
        D.GeneralizedPareto(0.0, rustdl.tensor([-2.0]), 0.1)
    with bad("probs", "Simplex"):
        D.Multinomial(3, probs=rustdl.tensor([0.5, -0.5]))
    with bad("total_count", "GreaterThanEq"):
        D.NegativeBinomial(rustdl.tensor([-1.0]), 0.5)
    with bad("probs", r"HalfOpenInterval\(lower_bound=0.0, upper_bound=1.0\)"):
        D.NegativeBinomial(3.0, rustdl.tensor([1.0]))
    with pytest.raises(ValueError, match="to be within the support"):
        D.Pareto(2.0, 1.0).log_prob(rustdl.tensor(1.5))
    with pytest.raises(ValueError, match="to be within the support"):
        D.Multinomial(3, probs=rustdl.tensor([0.5, 0.5])).log_prob(rustdl.tensor([3.0, 1.0]))
    with pytest.raises(ValueError, match="to be within the support"):
        D.HalfNormal(1.0).log_prob(rustdl.tensor(-1.0))
    with pytest.raises(ValueError, match="The Mixture distribution needs to be an  instance of"):
        D.MixtureSameFamily(D.Normal(0.0, 1.0), D.Normal(rustdl.zeros(2), 1.0))
    with pytest.raises(ValueError, match="does not equal `component_distribution.batch_shape\\[-1\\]`"):
        D.MixtureSameFamily(D.Categorical(logits=rustdl.zeros(3)), D.Normal(rustdl.zeros(2), 1.0))
    with pytest.raises(NotImplementedError, match="inhomogeneous total_count"):
        D.Multinomial(rustdl.tensor(3), probs=rustdl.tensor([0.5, 0.5]))
    with pytest.raises(ValueError, match="in_shape, out_shape have different numbers of elements"):
        D.ReshapeTransform((2, 3), (5,))
    with pytest.raises(NotImplementedError, match="Cannot transform _LowerCholesky constraints"):
        D.biject_to(D.constraints.lower_cholesky)
    # validation off: the out-of-support value goes through
    assert float(D.HalfNormal(1.0, validate_args=False).log_prob(rustdl.tensor(-1.0))) == -math.inf


def test_kumaraswamy_mode_maximizes_the_density():
    # PyTorch 2.15's Kumaraswamy.mode is NaN for every parameter (a log1p of -concentration0);
    # rustdl returns the actual mode ((a - 1) / (a b - 1))^(1/a), checked here on a grid
    a = rustdl.tensor([2.0, 5.0, 1.5], dtype=rustdl.float64)
    b = rustdl.tensor([3.0, 1.5, 1.2], dtype=rustdl.float64)
    d = D.Kumaraswamy(a, b)
    grid = rustdl.linspace(1e-4, 1 - 1e-4, 20_001, dtype=rustdl.float64).unsqueeze(-1)
    best = grid.squeeze(-1)[d.log_prob(grid).argmax(0)]
    np.testing.assert_allclose(d.mode.tolist(), best.tolist(), atol=1e-4)
    assert math.isnan(float(D.Kumaraswamy(0.5, 2.0).mode))


@pytest.mark.parametrize("name", sorted(GOLDEN["transforms"]))
def test_transform_matches_pytorch(name):
    got, want = cases.run_transform(rustdl, name), GOLDEN["transforms"][name]
    assert sorted(got) == sorted(want)
    for key in want:
        _close(got[key], want[key], f"{name} {key}", rtol=1e-9, atol=1e-12)


def test_reprs_match_pytorch():
    got, want = cases.run_reprs(rustdl), GOLDEN["reprs"]
    for key in want:
        assert got[key] == want[key], key


@pytest.mark.parametrize("name", sorted(GOLDEN["expand"]))
def test_expand_matches_pytorch(name):
    assert cases.run_expand(rustdl, name) == GOLDEN["expand"][name]


def test_lowrank_and_continuous_bernoulli_errors():
    with pytest.raises(ValueError, match="cov_factor must be a batch of matrices with shape 3 x m"):
        D.LowRankMultivariateNormal(rustdl.zeros(3), rustdl.zeros(2, 1), rustdl.ones(3))
    with pytest.raises(ValueError, match="cov_diag must be a batch of vectors with shape"):
        D.LowRankMultivariateNormal(rustdl.zeros(3), rustdl.zeros(3, 1), rustdl.ones(2))
    with pytest.raises(ValueError, match="cov_factor must be at least two-dimensional"):
        D.LowRankMultivariateNormal(rustdl.zeros(3), rustdl.zeros(3), rustdl.ones(3))
    with pytest.raises(ValueError, match="Incompatible batch shapes"):
        D.LowRankMultivariateNormal(rustdl.zeros(2, 3), rustdl.zeros(4, 3, 1), rustdl.ones(3))
    with pytest.raises(ValueError, match=r"Expected parameter cov_diag .* IndependentConstraint\(GreaterThan"):
        D.LowRankMultivariateNormal(rustdl.zeros(3), rustdl.ones(3, 1), rustdl.tensor([1.0, -1.0, 1.0]))
    with pytest.raises(rustdl.linalg.LinAlgError):  # as PyTorch: the capacitance factorization comes first
        D.LowRankMultivariateNormal(rustdl.zeros(3), rustdl.zeros(3, 1), rustdl.tensor([1.0, 0.0, 1.0]))
    with pytest.raises(ValueError, match="KL-divergence between two \\(Low Rank\\) Multivariate Normals"):
        D.kl_divergence(D.LowRankMultivariateNormal(rustdl.zeros(3), rustdl.zeros(3, 1), rustdl.ones(3)),
                        D.MultivariateNormal(rustdl.zeros(2), rustdl.eye(2)))
    with pytest.raises(ValueError, match="The parameter probs has invalid values"):
        D.ContinuousBernoulli(probs=rustdl.tensor([1.5]), validate_args=True)
    # as PyTorch: without an explicit validate_args, probs are clamped into (0, 1) before the check
    assert float(D.ContinuousBernoulli(probs=rustdl.tensor([1.5])).probs) < 1
    with pytest.raises(ValueError, match=r"Expected parameter concentration .* GreaterThan"):
        D.VonMises(0.0, rustdl.tensor([-1.0]))
    # a low-rank Normal is the dense one with covariance W W^T + D
    W, diag = rustdl.tensor([[1.0, 0.5], [0.3, -0.2], [0.0, 2.0]]), rustdl.tensor([0.5, 1.0, 0.1])
    low = D.LowRankMultivariateNormal(rustdl.zeros(3), W, diag)
    dense = D.MultivariateNormal(rustdl.zeros(3), W @ W.T + rustdl.diag(diag))
    x = rustdl.tensor([[0.3, -1.0, 2.0], [0.0, 0.0, 0.0]])
    np.testing.assert_allclose(low.log_prob(x).tolist(), dense.log_prob(x).tolist(), rtol=1e-5)
    assert float(D.kl_divergence(low, dense)) == pytest.approx(0.0, abs=1e-5)


# reparameterized draws are unbiased for the gradient: E[d x / d theta] = d E[x] / d theta
PATHWISE = {
    "gumbel": (lambda p: D.Gumbel(p[0], p[1]), [0.5, 2.0]),
    "half_normal": (lambda p: D.HalfNormal(p[0]), [1.5]),
    "pareto": (lambda p: D.Pareto(p[0], p[1]), [1.0, 6.0]),
    "weibull": (lambda p: D.Weibull(p[0], p[1]), [2.0, 1.5]),
    "chi2": (lambda p: D.Chi2(p[0]), [3.0]),
    "inverse_gamma": (lambda p: D.InverseGamma(p[0], p[1]), [5.0, 2.0]),
    "fisher_snedecor": (lambda p: D.FisherSnedecor(p[0], p[1]), [6.0, 12.0]),
    "kumaraswamy": (lambda p: D.Kumaraswamy(p[0], p[1]), [2.0, 3.0]),
    "generalized_pareto": (lambda p: D.GeneralizedPareto(p[0], p[1], p[2]), [0.5, 2.0, 0.1]),
    "continuous_bernoulli": (lambda p: D.ContinuousBernoulli(probs=p[0]), [0.2]),
    "student_t": (lambda p: D.StudentT(p[0], p[1], p[2]), [8.0, 1.0, 2.0]),
}


@pytest.mark.parametrize("name", sorted(PATHWISE))
def test_rsample_gradients_are_unbiased(name):
    rustdl.manual_seed(17)
    ctor, values = PATHWISE[name]
    params = [rustdl.tensor(v, dtype=rustdl.float64, requires_grad=True) for v in values]
    d = ctor(params)
    n = 40_000
    # (retain_graph: the parameters' derived forms, built once in the constructor, serve both)
    got = rustdl.autograd.grad(d.rsample((n,)).mean(), params, allow_unused=True, retain_graph=True)
    want = rustdl.autograd.grad(d.mean, params, allow_unused=True)
    for g, w in zip(got, want):
        g = 0.0 if g is None else float(g)
        w = 0.0 if w is None else float(w)
        assert g == pytest.approx(w, rel=0.05, abs=0.02), (name, got, want)


def test_lkj_cholesky_draws():
    # dim 2: the correlation L[1, 0] = r has density (1 - r^2)^(eta - 1): r = 2 Beta(eta, eta) - 1,
    # so E[r] = 0 and E[r^2] = 1 / (2 eta + 1)
    rustdl.manual_seed(8)
    eta = rustdl.tensor([0.5, 1.0, 6.0], dtype=rustdl.float64)
    n = 40_000
    draws = D.LKJCholesky(2, eta).sample((n,))
    assert tuple(draws.shape) == (n, 3, 2, 2)
    r = draws[..., 1, 0]
    second = 1 / (2 * eta + 1)
    np.testing.assert_allclose(r.mean(0).tolist(), [0.0] * 3, atol=6 * math.sqrt(0.5 / n))
    np.testing.assert_allclose(r.pow(2).mean(0).tolist(), second.tolist(), atol=6 * math.sqrt(0.4 / n))
    big = D.LKJCholesky(4, rustdl.tensor(2.0)).sample((200,))
    assert bool(D.constraints.corr_cholesky.check(big).all())
    # the density of a draw is finite, and the identity is the mode for concentration > 1
    d = D.LKJCholesky(4, 2.0)
    assert bool(d.log_prob(big).isfinite().all())
    assert bool((d.log_prob(rustdl.eye(4)) >= d.log_prob(big)).all())
    with pytest.raises(ValueError, match="Expected dim to be an integer greater than or equal to 2. Found dim=1."):
        D.LKJCholesky(1)


def test_wishart_errors():
    eye = rustdl.eye(2)
    with pytest.raises(ValueError, match="Value of df=0.5 expected to be greater than ndim - 1 = 1."):
        D.Wishart(rustdl.tensor(0.5), eye)
    with pytest.raises(AssertionError, match="Exactly one of covariance_matrix or precision_matrix or scale_tril"):
        D.Wishart(rustdl.tensor(3.0))
    with pytest.raises(ValueError, match="scale_tril must be at least two-dimensional"):
        D.Wishart(rustdl.tensor(3.0), eye[0])
    with pytest.raises(ValueError, match="to satisfy the constraint PositiveDefinite"):
        D.Wishart(rustdl.tensor(3.0), rustdl.tensor([[1.0, 2.0], [2.0, 1.0]]))
    with pytest.raises(ValueError, match="Expected parameter scale_tril .* LowerCholesky"):
        D.Wishart(rustdl.tensor(3.0), scale_tril=rustdl.tensor([[1.0, 0.0], [2.0, -1.0]]))
    assert tuple(D.Wishart(rustdl.tensor([3.0, 4.0]), eye).batch_shape) == (2,)


def test_exponential_family_entropy_and_bregman_kl():
    from rustdl.distributions.kl import bregman_kl

    t = lambda v: rustdl.tensor(v, dtype=rustdl.float64)
    members = [D.Normal(t([0.5, -1.0]), t([2.0, 0.3])), D.Exponential(t([0.5, 3.0])), D.Gamma(t([0.7, 4.0]), t([2.0, 0.5])),
               D.Bernoulli(logits=t([-1.0, 2.0])), D.Beta(t([0.5, 3.0]), t([2.0, 1.5])),
               D.Dirichlet(t([[1.0, 2.0, 0.5], [3.0, 1.0, 1.0]])), D.Chi2(t([1.5, 5.0]))]
    for d in members:
        assert isinstance(d, D.ExponentialFamily)
        np.testing.assert_allclose(D.ExponentialFamily.entropy(d).tolist(), d.entropy().tolist(), rtol=1e-10,
                                   err_msg=type(d).__name__)
    pairs = [(D.Normal(t([0.5]), t([2.0])), D.Normal(t([1.0]), t([0.7]))),
             (D.Gamma(t([0.7, 4.0]), t([2.0, 0.5])), D.Gamma(t([1.5, 2.0]), t([1.0, 1.0]))),
             (D.Beta(t([0.5]), t([2.0])), D.Beta(t([3.0]), t([1.5]))),
             (D.Poisson(t([2.0, 0.3])), D.Poisson(t([1.0, 4.0])))]
    for p, q in pairs:
        np.testing.assert_allclose(bregman_kl(p, q).tolist(), D.kl_divergence(p, q).tolist(), rtol=1e-10,
                                   err_msg=type(p).__name__)
    with pytest.raises(NotImplementedError, match="cross KL-divergence between different exponential families"):
        bregman_kl(D.Normal(0.0, 1.0), D.Exponential(1.0))
    assert not isinstance(D.StudentT(3.0), D.ExponentialFamily)
    support = D.MixtureSameFamily(D.Categorical(probs=t([0.5, 0.5])), D.Gamma(t([1.0, 2.0]), 1.0)).support
    assert support.check(t([0.5, -1.0, 2.0])).tolist() == [True, False, True]


def test_kl_refusals_and_transform_equality():
    with pytest.raises(NotImplementedError, match="KL between Binomials where q.total_count > p.total_count"):
        D.kl_divergence(D.Binomial(3, rustdl.tensor([0.5])), D.Binomial(5, rustdl.tensor([0.5])))
    base = D.Normal(rustdl.zeros(2), 1.0)
    with pytest.raises(NotImplementedError):
        D.kl_divergence(D.TransformedDistribution(base, [D.AffineTransform(1.0, 2.0)]),
                        D.TransformedDistribution(base, [D.AffineTransform(1.0, 3.0)]))
    assert D.AffineTransform(1.0, 2.0) == D.AffineTransform(1.0, 2.0)
    assert D.AffineTransform(rustdl.ones(2), 2.0) == D.AffineTransform(rustdl.ones(2), 2.0)
    assert D.AffineTransform(1.0, 2.0) == D.AffineTransform(rustdl.tensor(1.0), 2.0)  # by value, as PyTorch
    assert D.AffineTransform(1.0, 2.0) != D.AffineTransform(1.0, rustdl.tensor([2.0, 3.0]))
    assert D.PowerTransform(2.0) == D.PowerTransform(2.0) and D.PowerTransform(2.0) != D.PowerTransform(3.0)
    # the Binomial pair with p.total_count > q.total_count is infinite
    kl = D.kl_divergence(D.Binomial(rustdl.tensor([5.0, 3.0]), rustdl.tensor([0.5, 0.5])),
                         D.Binomial(rustdl.tensor([3.0, 3.0]), rustdl.tensor([0.4, 0.4])))
    assert kl[0].item() == math.inf and math.isfinite(kl[1].item())
