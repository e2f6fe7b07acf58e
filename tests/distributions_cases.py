"""torch.distributions cases shared by tools/differential/record_distributions.py (PyTorch) and
tests/test_distributions.py (rustdl): shapes, moments, densities, entropies, KL divergences and
the gradients of log_prob/entropy/KL for the parameters, plus the shape and dtype of draws."""

import numpy as np

INF = float("inf")

# name: (constructor(D, params), {param: values}, value for log_prob/cdf, quantities[, dtype])
# every parameter is a tensor of `dtype` (float64 unless a fifth entry says "float32": PyTorch's
# GeneralizedPareto refuses float64) that requires grad
CASES = {
    "normal": (lambda D, p: D.Normal(p["loc"], p["scale"]),
               {"loc": [0.0, 1.5, -2.0], "scale": [1.0, 0.5, 3.0]}, [0.3, 1.0, -7.0],
               ["mean", "mode", "variance", "stddev", "entropy", "log_prob", "cdf", "icdf"]),
    "normal_2d": (lambda D, p: D.Normal(p["loc"], p["scale"]),
                  {"loc": [[0.0], [1.0]], "scale": [0.5, 2.0, 1.0]}, [[0.1, 0.2, 0.3], [1.0, -1.0, 4.0]],
                  ["mean", "variance", "entropy", "log_prob", "cdf"]),
    "laplace": (lambda D, p: D.Laplace(p["loc"], p["scale"]),
                {"loc": [0.0, 1.0, -1.0], "scale": [1.0, 0.25, 2.0]}, [0.5, 1.0, -4.0],
                ["mean", "mode", "variance", "stddev", "entropy", "log_prob", "cdf", "icdf"]),
    "cauchy": (lambda D, p: D.Cauchy(p["loc"], p["scale"]),
               {"loc": [0.0, 2.0], "scale": [1.0, 0.5]}, [0.5, -3.0],
               ["mean", "mode", "variance", "entropy", "log_prob", "cdf", "icdf"]),
    "exponential": (lambda D, p: D.Exponential(p["rate"]),
                    {"rate": [0.5, 1.0, 4.0]}, [0.0, 1.3, 0.2],
                    ["mean", "mode", "variance", "stddev", "entropy", "log_prob", "cdf", "icdf"]),
    "uniform": (lambda D, p: D.Uniform(p["low"], p["high"]),
                {"low": [0.0, -1.0, 2.0], "high": [1.0, 3.0, 2.5]}, [0.5, 2.9, 2.0],
                ["mean", "variance", "stddev", "entropy", "log_prob", "cdf", "icdf"]),
    "lognormal": (lambda D, p: D.LogNormal(p["loc"], p["scale"]),
                  {"loc": [0.0, 1.0], "scale": [1.0, 0.3]}, [0.5, 3.0],
                  ["mean", "mode", "variance", "entropy", "log_prob", "cdf", "icdf"]),
    "gamma": (lambda D, p: D.Gamma(p["concentration"], p["rate"]),
              {"concentration": [0.5, 2.0, 9.0], "rate": [1.0, 0.5, 3.0]}, [0.2, 3.0, 2.5],
              ["mean", "mode", "variance", "entropy", "log_prob", "cdf"]),
    "beta": (lambda D, p: D.Beta(p["concentration1"], p["concentration0"]),
             {"concentration1": [0.5, 2.0, 5.0], "concentration0": [0.5, 3.0, 1.5]}, [0.3, 0.6, 0.9],
             ["mean", "mode", "variance", "entropy", "log_prob"]),
    "dirichlet": (lambda D, p: D.Dirichlet(p["concentration"]),
                  {"concentration": [[1.0, 2.0, 3.0], [0.5, 0.5, 4.0]]}, [[0.2, 0.3, 0.5], [0.1, 0.1, 0.8]],
                  ["mean", "mode", "variance", "entropy", "log_prob"]),
    "bernoulli_probs": (lambda D, p: D.Bernoulli(probs=p["probs"]),
                        {"probs": [0.1, 0.5, 0.9, 0.3]}, [0.0, 1.0, 1.0, 0.0],
                        ["mean", "mode", "variance", "entropy", "log_prob", "logits"]),
    "bernoulli_logits": (lambda D, p: D.Bernoulli(logits=p["logits"]),
                         {"logits": [-3.0, 0.0, 2.0]}, [1.0, 0.0, 1.0],
                         ["mean", "variance", "entropy", "log_prob", "probs"]),
    "categorical_probs": (lambda D, p: D.Categorical(probs=p["probs"]),
                          {"probs": [[0.1, 0.2, 0.7, 0.0], [1.0, 1.0, 1.0, 1.0]]}, [2, 3],
                          ["mode", "entropy", "log_prob", "logits", "probs"]),
    "categorical_logits": (lambda D, p: D.Categorical(logits=p["logits"]),
                           {"logits": [[1.0, 2.0, 3.0], [-1.0, 0.0, 5.0]]}, [[0, 2], [1, 1]],
                           ["mode", "entropy", "log_prob", "logits", "probs"]),
    "one_hot_categorical": (lambda D, p: D.OneHotCategorical(probs=p["probs"]),
                            {"probs": [[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]]}, [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]],
                            ["mean", "mode", "variance", "entropy", "log_prob"]),
    "poisson": (lambda D, p: D.Poisson(p["rate"]),
                {"rate": [0.5, 3.0, 40.0]}, [0.0, 2.0, 37.0], ["mean", "mode", "variance", "log_prob"]),
    "geometric_probs": (lambda D, p: D.Geometric(probs=p["probs"]),
                        {"probs": [0.2, 0.5, 1.0]}, [3.0, 0.0, 0.0],
                        ["mean", "variance", "entropy", "log_prob"]),
    "geometric_logits": (lambda D, p: D.Geometric(logits=p["logits"]),
                         {"logits": [-1.0, 2.0]}, [4.0, 1.0], ["mean", "variance", "entropy", "log_prob"]),
    "binomial": (lambda D, p: D.Binomial(10, probs=p["probs"]),
                 {"probs": [0.3, 0.6, 0.95]}, [3.0, 6.0, 10.0],
                 ["mean", "mode", "variance", "entropy", "log_prob"]),
    "mvn_cov": (lambda D, p: D.MultivariateNormal(p["loc"], covariance_matrix=p["cov"]),
                {"loc": [0.5, -1.0, 2.0], "cov": [[2.0, 0.3, 0.1], [0.3, 1.0, -0.2], [0.1, -0.2, 0.5]]},
                [[0.0, 0.0, 0.0], [1.0, -2.0, 2.5]],
                ["mean", "variance", "entropy", "log_prob", "scale_tril", "precision_matrix"]),
    "mvn_scale_tril": (lambda D, p: D.MultivariateNormal(p["loc"], scale_tril=p["L"]),
                       {"loc": [[0.0, 1.0], [2.0, -1.0]], "L": [[1.5, 0.0], [0.4, 0.7]]}, [0.3, 0.2],
                       ["variance", "entropy", "log_prob", "covariance_matrix"]),
    "mvn_precision": (lambda D, p: D.MultivariateNormal(p["loc"], precision_matrix=p["P"]),
                      {"loc": [1.0, 0.0], "P": [[2.0, -0.5], [-0.5, 1.0]]}, [0.0, 1.0],
                      ["variance", "entropy", "log_prob", "covariance_matrix"]),
    "independent_normal": (lambda D, p: D.Independent(D.Normal(p["loc"], p["scale"]), 1),
                           {"loc": [[0.0, 1.0], [2.0, 3.0]], "scale": [[1.0, 2.0], [0.5, 0.1]]},
                           [[0.0, 0.0], [2.0, 3.1]], ["mean", "variance", "entropy", "log_prob"]),
    "transformed_tanh": (lambda D, p: D.TransformedDistribution(D.Normal(p["loc"], p["scale"]),
                                                                [D.TanhTransform(cache_size=1)]),
                         {"loc": [0.3, -1.0], "scale": [1.0, 0.5]}, [0.2, -0.7], ["log_prob"]),
    "transformed_affine_exp": (lambda D, p: D.TransformedDistribution(
        D.Normal(p["loc"], p["scale"]), [D.AffineTransform(1.0, 2.0), D.ExpTransform()]),
        {"loc": [0.3, -1.0], "scale": [1.0, 0.5]}, [1.0, 3.0], ["log_prob", "cdf", "icdf"]),
    "transformed_sigmoid_inv": (lambda D, p: D.TransformedDistribution(
        D.Uniform(p["low"], p["high"]), [D.SigmoidTransform().inv, D.AffineTransform(0.0, -1.0)]),
        {"low": [0.0, 0.1], "high": [1.0, 0.9]}, [0.5, -2.0], ["log_prob", "cdf", "icdf"]),
    "transformed_event_dim": (lambda D, p: D.TransformedDistribution(
        D.Independent(D.Normal(p["loc"], p["scale"]), 1), [D.AffineTransform(0.5, p["scale"] * 0 + 3.0, event_dim=1),
                                                           D.PowerTransform(1.0)]),
        {"loc": [[0.0, 1.0, 2.0], [-1.0, 0.0, 1.0]], "scale": [[1.0, 2.0, 0.5], [1.0, 1.0, 1.0]]},
        [[0.1, 0.2, 0.3], [1.0, 2.0, 3.0]], ["log_prob"]),
    "student_t": (lambda D, p: D.StudentT(p["df"], p["loc"], p["scale"]),
                  {"df": [0.8, 1.5, 3.0, 30.0], "loc": [0.0, 1.0, -2.0, 0.5], "scale": [1.0, 2.0, 0.5, 1.5]},
                  [0.3, -1.0, 4.0, 0.5], ["mean", "mode", "variance", "entropy", "log_prob"]),
    "gumbel": (lambda D, p: D.Gumbel(p["loc"], p["scale"]),
               {"loc": [0.0, 1.0, -2.0], "scale": [1.0, 0.5, 3.0]}, [0.3, 2.0, -5.0],
               ["mean", "mode", "variance", "stddev", "entropy", "log_prob", "cdf", "icdf"]),
    "half_normal": (lambda D, p: D.HalfNormal(p["scale"]),
                    {"scale": [1.0, 0.5, 3.0]}, [0.3, 2.0, 0.0],
                    ["mean", "mode", "variance", "entropy", "log_prob", "cdf", "icdf"]),
    "half_cauchy": (lambda D, p: D.HalfCauchy(p["scale"]),
                    {"scale": [1.0, 0.5, 3.0]}, [0.3, 2.0, 0.0],
                    ["mean", "mode", "variance", "entropy", "log_prob", "cdf", "icdf"]),
    "pareto": (lambda D, p: D.Pareto(p["scale"], p["alpha"]),
               {"scale": [1.0, 0.5, 2.0], "alpha": [0.5, 1.5, 3.0]}, [1.5, 0.7, 2.0],
               ["mean", "mode", "variance", "entropy", "log_prob", "cdf", "icdf"]),
    "weibull": (lambda D, p: D.Weibull(p["scale"], p["concentration"]),
                {"scale": [1.0, 0.5, 2.0], "concentration": [0.5, 1.0, 3.0]}, [1.5, 0.7, 2.0],
                ["mean", "mode", "variance", "entropy", "log_prob", "cdf", "icdf"]),
    "chi2": (lambda D, p: D.Chi2(p["df"]), {"df": [0.5, 3.0, 12.0]}, [0.2, 2.5, 14.0],
             ["mean", "mode", "variance", "entropy", "log_prob", "df"]),
    "inverse_gamma": (lambda D, p: D.InverseGamma(p["concentration"], p["rate"]),
                      {"concentration": [0.5, 1.5, 4.0], "rate": [1.0, 2.0, 0.5]}, [0.2, 1.5, 0.3],
                      ["mean", "mode", "variance", "entropy", "log_prob"]),
    "fisher_snedecor": (lambda D, p: D.FisherSnedecor(p["df1"], p["df2"]),
                        {"df1": [1.0, 3.0, 10.0], "df2": [1.5, 5.0, 20.0]}, [0.4, 1.0, 2.5],
                        ["mean", "mode", "variance", "log_prob"]),
    "kumaraswamy": (lambda D, p: D.Kumaraswamy(p["concentration1"], p["concentration0"]),
                    {"concentration1": [0.5, 2.0, 5.0], "concentration0": [0.7, 3.0, 1.5]}, [0.3, 0.6, 0.9],
                    ["mean", "variance", "entropy", "log_prob", "cdf", "icdf"]),
    "logistic_normal": (lambda D, p: D.LogisticNormal(p["loc"], p["scale"]),
                        {"loc": [[0.0, 1.0, -0.5], [2.0, 0.0, 0.0]], "scale": [[1.0, 0.5, 2.0], [0.3, 1.0, 1.0]]},
                        [[0.1, 0.2, 0.3, 0.4], [0.7, 0.1, 0.1, 0.1]], ["log_prob"]),
    "generalized_pareto": (lambda D, p: D.GeneralizedPareto(p["loc"], p["scale"], p["concentration"]),
                           {"loc": [0.0, 1.0, -1.0, 0.5], "scale": [1.0, 2.0, 0.5, 1.5],
                            "concentration": [0.5, -0.25, 0.0, 1.5]}, [0.3, 2.0, 0.5, 4.0],
                           ["mean", "mode", "variance", "entropy", "log_prob", "cdf", "icdf"], "float32"),
    "mixture_normal": (lambda D, p: D.MixtureSameFamily(D.Categorical(logits=p["logits"]),
                                                        D.Normal(p["loc"], p["scale"])),
                       {"logits": [[0.0, 1.0, -1.0], [2.0, 0.0, 0.5]],
                        "loc": [[0.0, 2.0, -3.0], [1.0, 1.5, -1.0]], "scale": [[1.0, 0.5, 2.0], [0.3, 1.0, 2.0]]},
                       [0.5, -1.0], ["mean", "variance", "log_prob", "cdf"]),
    "mixture_mvn": (lambda D, p: D.MixtureSameFamily(D.Categorical(probs=p["probs"]),
                                                     D.Independent(D.Normal(p["loc"], p["scale"]), 1)),
                    {"probs": [0.2, 0.5, 0.3], "loc": [[0.0, 1.0], [2.0, -1.0], [0.5, 0.5]],
                     "scale": [[1.0, 0.5], [2.0, 1.0], [0.3, 0.7]]},
                    [[0.5, 0.0], [1.0, -2.0]], ["mean", "variance", "log_prob"]),
    "multinomial": (lambda D, p: D.Multinomial(6, probs=p["probs"]),
                    {"probs": [[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]]}, [[1.0, 2.0, 3.0], [6.0, 0.0, 0.0]],
                    ["mean", "variance", "log_prob"]),
    "multinomial_logits": (lambda D, p: D.Multinomial(4, logits=p["logits"]),
                           {"logits": [1.0, -2.0, 0.5, 0.0]}, [[1.0, 0.0, 2.0, 1.0]], ["mean", "variance", "log_prob"]),
    "negative_binomial": (lambda D, p: D.NegativeBinomial(p["total_count"], probs=p["probs"]),
                          {"total_count": [1.0, 3.5, 10.0], "probs": [0.2, 0.5, 0.9]}, [0.0, 4.0, 80.0],
                          ["mean", "mode", "variance", "log_prob", "logits"]),
    "negative_binomial_logits": (lambda D, p: D.NegativeBinomial(p["total_count"], logits=p["logits"]),
                                 {"total_count": [2.0, 0.5], "logits": [-1.0, 1.5]}, [3.0, 0.0],
                                 ["mean", "mode", "variance", "log_prob", "probs"]),
    "relaxed_bernoulli": (lambda D, p: D.RelaxedBernoulli(p["temperature"], probs=p["probs"]),
                          {"temperature": [0.5], "probs": [0.2, 0.5, 0.9]}, [0.3, 0.5, 0.99], ["log_prob"]),
    "relaxed_bernoulli_logits": (lambda D, p: D.RelaxedBernoulli(p["temperature"], logits=p["logits"]),
                                 {"temperature": [2.0], "logits": [-1.0, 0.0, 3.0]}, [0.3, 0.5, 0.99], ["log_prob"]),
    "relaxed_one_hot": (lambda D, p: D.RelaxedOneHotCategorical(p["temperature"], probs=p["probs"]),
                        {"temperature": [0.7], "probs": [[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]]},
                        [[0.1, 0.2, 0.7], [0.5, 0.25, 0.25]], ["log_prob"]),
    "one_hot_straight_through": (lambda D, p: D.OneHotCategoricalStraightThrough(logits=p["logits"]),
                                 {"logits": [[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]]}, [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]],
                                 ["mean", "mode", "variance", "entropy", "log_prob"]),
    "continuous_bernoulli": (lambda D, p: D.ContinuousBernoulli(probs=p["probs"]),
                             {"probs": [0.2, 0.4995, 0.9, 0.5, 0.02]}, [0.3, 0.6, 0.0, 1.0, 0.25],
                             ["mean", "variance", "stddev", "entropy", "log_prob", "cdf", "icdf", "logits"]),
    "continuous_bernoulli_logits": (lambda D, p: D.ContinuousBernoulli(logits=p["logits"]),
                                    {"logits": [-3.0, 0.001, 2.0]}, [0.3, 0.6, 0.95],
                                    ["mean", "variance", "entropy", "log_prob", "cdf", "icdf", "probs"]),
    "von_mises": (lambda D, p: D.VonMises(p["loc"], p["concentration"]),
                  {"loc": [0.0, 1.0, -2.0, 3.0], "concentration": [0.5, 2.0, 3.75, 10.0]}, [0.3, 1.2, 2.5, -3.0],
                  ["mean", "mode", "variance", "log_prob"]),
    "lowrank_mvn": (lambda D, p: D.LowRankMultivariateNormal(p["loc"], p["W"], p["cov_diag"]),
                    {"loc": [0.5, -1.0, 2.0], "W": [[1.0, 0.3], [0.2, -0.5], [0.0, 0.7]], "cov_diag": [0.5, 1.0, 2.0]},
                    [[0.0, 0.0, 0.0], [1.0, -2.0, 2.5]],
                    ["mean", "mode", "variance", "entropy", "log_prob", "covariance_matrix", "precision_matrix",
                     "scale_tril"]),
    "lowrank_mvn_batch": (lambda D, p: D.LowRankMultivariateNormal(p["loc"], p["W"], p["cov_diag"]),
                          {"loc": [[0.5, -1.0], [2.0, 0.0]], "W": [[1.0], [0.2]], "cov_diag": [0.5, 1.0]},
                          [0.3, 0.2], ["variance", "entropy", "log_prob", "covariance_matrix"]),
    "lkj_cholesky": (lambda D, p: D.LKJCholesky(3, p["concentration"]), {"concentration": [0.5, 1.0, 4.0]},
                     [[1.0, 0.0, 0.0], [0.6, 0.8, 0.0], [-0.3, 0.4, 0.8660254037844386]], ["log_prob"]),
    "lkj_cholesky_2": (lambda D, p: D.LKJCholesky(2, p["concentration"]), {"concentration": [2.0]},
                       [[1.0, 0.0], [0.28, 0.96]], ["log_prob"]),
    "wishart_cov": (lambda D, p: D.Wishart(p["df"], covariance_matrix=p["cov"]),
                    {"df": [3.5, 6.0], "cov": [[2.0, 0.3, 0.1], [0.3, 1.0, -0.2], [0.1, -0.2, 0.5]]},
                    [[1.0, 0.2, 0.0], [0.2, 2.0, 0.3], [0.0, 0.3, 0.7]],
                    ["mean", "mode", "variance", "entropy", "log_prob", "scale_tril", "precision_matrix"]),
    "wishart_tril": (lambda D, p: D.Wishart(p["df"], scale_tril=p["L"]),
                     {"df": [1.5], "L": [[1.5, 0.0], [0.4, 0.7]]}, [[2.0, 0.5], [0.5, 1.0]],
                     ["mean", "mode", "variance", "entropy", "log_prob", "covariance_matrix"]),
    "wishart_precision": (lambda D, p: D.Wishart(p["df"], precision_matrix=p["P"]),
                          {"df": [4.0], "P": [[2.0, -0.5], [-0.5, 1.0]]}, [[2.0, 0.5], [0.5, 1.0]],
                          ["mean", "variance", "entropy", "log_prob", "covariance_matrix"]),
    "kl_cb": (lambda D, p: D.ContinuousBernoulli(logits=p["logits"]), {"logits": [-1.4, 0.001, 2.2]},
              [0.3, 0.5, 0.9], ["entropy"]),
    "kl_bernoulli3": (lambda D, p: D.Bernoulli(probs=p["probs"]), {"probs": [0.1, 0.5, 0.9]}, [0.0, 1.0, 1.0],
                      ["entropy"]),
    "poisson3": (lambda D, p: D.Poisson(p["rate"]), {"rate": [0.5, 3.0, 40.0]}, [0.0, 2.0, 37.0], ["mean"]),
    "kl_uniform01": (lambda D, p: D.Uniform(p["low"], p["high"]),
                     {"low": [0.0, 0.2, 0.5], "high": [1.0, 0.7, 0.6]}, [0.5, 0.3, 0.55], ["entropy"]),
    "kl_uniform_wide": (lambda D, p: D.Uniform(p["low"], p["high"]),
                        {"low": [-1.0, 1.5, 0.25], "high": [1.0, 2.5, 4.0]}, [0.5, 2.0, 0.5], ["entropy"]),
    "kl_uniform_positive": (lambda D, p: D.Uniform(p["low"], p["high"]),
                            {"low": [0.5, 1.5, 3.0], "high": [1.0, 2.5, 4.0]}, [0.5, 2.0, 3.5], ["entropy"]),
    "transformed_stick_breaking": (lambda D, p: D.TransformedDistribution(
        D.Independent(D.Normal(p["loc"], p["scale"]), 1), [D.StickBreakingTransform()]),
        {"loc": [[0.0, 1.0], [-1.0, 0.5]], "scale": [[1.0, 0.5], [2.0, 1.0]]},
        [[0.2, 0.3, 0.5], [0.1, 0.1, 0.8]], ["log_prob"]),
    "transformed_cdf": (lambda D, p: D.TransformedDistribution(
        D.Normal(p["loc"], p["scale"]), [D.CumulativeDistributionTransform(D.Normal(0.0, 1.0))]),
        {"loc": [0.3, -1.0], "scale": [1.0, 0.5]}, [0.2, 0.7], ["log_prob", "cdf", "icdf"]),
    "transformed_reshape": (lambda D, p: D.TransformedDistribution(
        D.Independent(D.Normal(p["loc"], p["scale"]), 1), [D.ReshapeTransform((4,), (2, 2))]),
        {"loc": [0.0, 1.0, 2.0, 3.0], "scale": [1.0, 2.0, 0.5, 0.1]}, [[0.0, 0.5], [2.0, 3.1]], ["log_prob"]),
    "transformed_cat_stack": (lambda D, p: D.TransformedDistribution(
        D.Normal(p["loc"], p["scale"]),
        [D.CatTransform([D.ExpTransform(), D.AffineTransform(1.0, 2.0)], dim=-1, lengths=[2, 1]),
         D.StackTransform([D.AffineTransform(0.0, 3.0), D.ExpTransform()], dim=0)]),
        {"loc": [[0.0, 1.0, -1.0], [0.5, 0.0, 2.0]], "scale": [[1.0, 0.5, 2.0], [0.3, 1.0, 1.0]]},
        [[0.5, 2.0, 1.0], [1.5, 2.8, 4.0]], ["log_prob"]),
}

# KL(p || q): case names of p and q (q's parameters are p's shifted so they differ)
KL_PAIRS = [
    ("normal", "normal"), ("laplace", "laplace"), ("cauchy", "cauchy"), ("exponential", "exponential"),
    ("uniform", "uniform"), ("lognormal", "lognormal"), ("gamma", "gamma"), ("beta", "beta"),
    ("dirichlet", "dirichlet"), ("bernoulli_probs", "bernoulli_probs"),
    ("categorical_logits", "categorical_logits"), ("categorical_probs", "categorical_probs"),
    ("one_hot_categorical", "one_hot_categorical"),
    ("poisson", "poisson"), ("geometric_logits", "geometric_logits"), ("mvn_cov", "mvn_cov"),
    ("independent_normal", "independent_normal"),
    ("gumbel", "gumbel"), ("half_normal", "half_normal"), ("pareto", "pareto"), ("normal", "gumbel"),
    ("gumbel", "normal"), ("exponential", "gumbel"), ("uniform", "gumbel"), ("pareto", "exponential"),
    ("continuous_bernoulli", "continuous_bernoulli"), ("lowrank_mvn", "lowrank_mvn"), ("lowrank_mvn", "mvn_cov"),
    ("mvn_cov", "lowrank_mvn"), ("gumbel", "beta"), ("normal", "pareto"), ("exponential", "pareto"),
    ("beta", "kl_cb"), ("kl_uniform01", "kl_cb"), ("uniform", "kl_cb"),
    ("kl_cb", "exponential"), ("kl_cb", "normal"),
    ("kl_cb", "kl_uniform_wide"), ("kl_cb", "uniform"), ("gamma", "gumbel"),
    ("pareto", "normal"), ("pareto", "gamma"), ("kl_uniform_positive", "pareto"),
    ("beta", "exponential"), ("beta", "gamma"), ("beta", "normal"), ("beta", "kl_uniform_wide"), ("beta", "uniform"),
    ("exponential", "gamma"), ("exponential", "normal"), ("gamma", "exponential"), ("gamma", "normal"),
    ("laplace", "normal"), ("normal", "laplace"), ("uniform", "normal"), ("kl_uniform_wide", "exponential"),
    ("kl_uniform_wide", "gamma"), ("kl_uniform01", "beta"), ("uniform", "beta"), ("kl_bernoulli3", "poisson3"),
    ("binomial", "binomial"), ("exponential", "beta"), ("normal", "uniform"), ("laplace", "gamma"),
    ("poisson", "kl_bernoulli3"), ("transformed_affine_exp", "transformed_affine_exp"),
]


def _list(t):
    a = t.detach().to(dtype=t.dtype).numpy() if hasattr(t, "detach") else np.asarray(t)
    return [None if np.isnan(v) else (str(v) if np.isinf(v) else float(v))
            for v in np.asarray(a, dtype=np.float64).ravel()]


def case_dtype(name):
    return CASES[name][4] if len(CASES[name]) > 4 else "float64"


def _params(lib, values, shift=0.0, dtype="float64"):
    out = {}
    for name, v in values.items():
        a = np.array(v, dtype=np.float64)
        if shift and name not in ("cov", "P", "L", "W"):
            # keep probabilities in (0, 1) and positive parameters positive
            a = a * (1 - shift) + shift * 0.5 if name == "probs" else a + shift * (1 if a.min() > 0 else -1)
            if name == "high":
                a = a + 1.0
        out[name] = lib.tensor(a, dtype=getattr(lib, dtype), requires_grad=True)
    return out


def _value(lib, value, dtype="float64"):
    a = np.array(value)
    return lib.tensor(a) if a.dtype.kind == "i" else lib.tensor(a.astype(np.float64), dtype=getattr(lib, dtype))


def run(lib, name):
    D = lib.distributions
    ctor, values, value, quantities = CASES[name][:4]
    dtype = case_dtype(name)
    params = _params(lib, values, dtype=dtype)
    d = ctor(D, params)
    out = {"batch_shape": list(d.batch_shape), "event_shape": list(d.event_shape)}
    objective = 0
    for q in quantities:
        if q in ("log_prob", "cdf"):
            r = getattr(d, q)(_value(lib, value, dtype))
        elif q == "icdf":
            r = d.icdf(lib.tensor(np.linspace(0.1, 0.9, len(values[next(iter(values))])), dtype=getattr(lib, dtype)))
        elif q == "entropy":
            r = d.entropy()
        else:
            r = getattr(d, q)
        out[q] = _list(r)
        out[q + "_shape"] = list(r.shape)
        out[q + "_dtype"] = str(r.dtype).split(".")[-1]
        if q in ("log_prob", "entropy") and r.requires_grad:
            objective = objective + r.sum()
    if not isinstance(objective, int):
        names = sorted(params)
        grads = lib.autograd.grad(objective, [params[n] for n in names], allow_unused=True)
        out["grads"] = {n: (None if g is None else _list(g)) for n, g in zip(names, grads)}
    draws = d.sample((2,))
    out["sample_shape"] = list(draws.shape)
    out["sample_dtype"] = str(draws.dtype).split(".")[-1]
    return out


def run_kl(lib, p_name, q_name):
    D = lib.distributions
    p_ctor, p_values = CASES[p_name][:2]
    q_ctor, q_values = CASES[q_name][:2]
    p_params = _params(lib, p_values)
    q_params = _params(lib, q_values, shift=0.25)
    kl = D.kl_divergence(p_ctor(D, p_params), q_ctor(D, q_params))
    names = [("p", n) for n in sorted(p_params)] + [("q", n) for n in sorted(q_params)]
    tensors = [(p_params if side == "p" else q_params)[n] for side, n in names]
    finite = kl.masked_fill(kl.isinf(), 0)
    if finite.requires_grad:
        grads = lib.autograd.grad(finite.sum(), tensors, allow_unused=True)
    else:  # an infinite KL (disjoint supports) depends on no parameter
        grads = [None] * len(tensors)
    return {"kl": _list(kl), "shape": list(kl.shape),
            "grads": {f"{s}.{n}": (None if g is None else _list(g)) for (s, n), g in zip(names, grads)}}


# transforms: (constructor(D, lib), input x); recorded: y = t(x), t.inv(y), log|det J| where the
# transform is bijective, the shapes, and the gradient of sum(y) + sum(log|det J|) for x
TRANSFORMS = {
    "softmax": (lambda D, lib: D.SoftmaxTransform(), [[0.5, -1.0, 2.0], [0.0, 0.0, 0.0]]),
    "stick_breaking": (lambda D, lib: D.StickBreakingTransform(), [[0.5, -1.0, 2.0], [0.0, 0.0, 0.0]]),
    "lower_cholesky": (lambda D, lib: D.LowerCholeskyTransform(), [[[0.5, 7.0], [-1.0, 2.0]], [[0.0, 1.0], [3.0, -0.5]]]),
    "positive_definite": (lambda D, lib: D.PositiveDefiniteTransform(), [[0.5, 7.0], [-1.0, 2.0]]),
    "corr_cholesky": (lambda D, lib: D.CorrCholeskyTransform(), [[0.5, -1.0, 2.0, 0.1, -0.3, 0.7], [0.0] * 6]),
    "corr_cholesky_3": (lambda D, lib: D.CorrCholeskyTransform(), [0.3, -2.0, 1.1]),
    "reshape": (lambda D, lib: D.ReshapeTransform((2, 3), (3, 2)), [[[0.5, -1.0, 2.0], [0.0, 1.0, 3.0]]]),
    "independent_exp": (lambda D, lib: D.IndependentTransform(D.ExpTransform(), 1), [[0.5, -1.0, 2.0], [0.0, 1.0, 3.0]]),
    "cat": (lambda D, lib: D.CatTransform([D.ExpTransform(), D.AffineTransform(1.0, 3.0)], dim=0, lengths=[1, 2]),
            [[0.5, -1.0], [0.0, 1.0], [2.0, 3.0]]),
    "cat_event": (lambda D, lib: D.CatTransform([D.IndependentTransform(D.ExpTransform(), 1),
                                                 D.AffineTransform(0.0, 2.0, event_dim=1)], dim=-1, lengths=[2, 2]), [[0.5, -1.0, 0.0, 1.0]]),
    "stack": (lambda D, lib: D.StackTransform([D.ExpTransform(), D.SigmoidTransform()], dim=1),
              [[0.5, -1.0], [0.0, 1.0], [2.0, 3.0]]),
    "cumulative": (lambda D, lib: D.CumulativeDistributionTransform(
        D.Gumbel(lib.tensor(0.5, dtype=lib.float64), lib.tensor(2.0, dtype=lib.float64))), [0.5, -1.0, 2.0]),
    "biject_interval": (lambda D, lib: D.biject_to(D.constraints.interval(-1.0, 3.0)), [0.5, -1.0, 2.0]),
    "biject_greater_than": (lambda D, lib: D.biject_to(D.constraints.greater_than(2.0)), [0.5, -1.0, 2.0]),
    "biject_less_than": (lambda D, lib: D.biject_to(D.constraints.less_than(2.0)), [0.5, -1.0, 2.0]),
    "biject_simplex": (lambda D, lib: D.biject_to(D.constraints.simplex), [0.5, -1.0, 2.0]),
    "transform_to_simplex": (lambda D, lib: D.transform_to(D.constraints.simplex), [0.5, -1.0, 2.0]),
    "biject_independent": (lambda D, lib: D.biject_to(D.constraints.independent(D.constraints.positive, 1)),
                           [[0.5, -1.0], [2.0, 0.0]]),
    "biject_corr_cholesky": (lambda D, lib: D.biject_to(D.constraints.corr_cholesky), [0.5, -1.0, 2.0]),
    "transform_to_lower_cholesky": (lambda D, lib: D.transform_to(D.constraints.lower_cholesky),
                                    [[0.5, 7.0], [-1.0, 2.0]]),
    "biject_cat": (lambda D, lib: D.biject_to(D.constraints.cat([D.constraints.positive, D.constraints.real], 0, [2, 1])),
                   [0.5, -1.0, 2.0]),
}


def run_transform(lib, name):
    D = lib.distributions
    ctor, x = TRANSFORMS[name]
    t = ctor(D, lib)
    x = lib.tensor(np.array(x, dtype=np.float64), requires_grad=True)
    y = t(x)
    out = {"repr": str(t), "y": _list(y), "y_shape": list(y.shape), "x_back": _list(t.inv(y)),
           "forward_shape": list(t.forward_shape(x.shape)), "inverse_shape": list(t.inverse_shape(y.shape)),
           "bijective": bool(t.bijective), "domain_event_dim": t.domain.event_dim,
           "codomain_event_dim": t.codomain.event_dim, "in_codomain": bool(t.codomain.check(y).all())}
    objective = y.sum()
    if t.bijective:
        ladj = t.log_abs_det_jacobian(x, y)
        out["ladj"] = _list(ladj)
        out["ladj_shape"] = list(ladj.shape)
        objective = objective + ladj.sum()
    (g,) = lib.autograd.grad(objective, [x])
    out["grad"] = _list(g)
    return out


# repr of distributions (library prefix stripped) and of constraints
def _reprs(lib):
    D = lib.distributions
    C = D.constraints
    t = lib.tensor
    return {
        "student_t": D.StudentT(2.0), "student_t_batch": D.StudentT(t([2.0, 3.0]), 0.0, 1.0),
        "gumbel": D.Gumbel(0.5, 2.0), "half_normal": D.HalfNormal(1.0), "half_cauchy": D.HalfCauchy(t([1.0, 2.0])),
        "pareto": D.Pareto(1.0, 2.0), "weibull": D.Weibull(1.0, t([2.0, 3.0])), "chi2": D.Chi2(3.0),
        "inverse_gamma": D.InverseGamma(2.0, 3.0), "fisher_snedecor": D.FisherSnedecor(2.0, 3.0),
        "kumaraswamy": D.Kumaraswamy(2.0, 3.0), "logistic_normal": D.LogisticNormal(t([0.0, 1.0]), t([1.0, 1.0])),
        "generalized_pareto": D.GeneralizedPareto(0.0, 1.0, 0.5),
        "mixture": D.MixtureSameFamily(D.Categorical(probs=t([0.5, 0.5])), D.Normal(t([0.0, 1.0]), t([1.0, 2.0]))),
        "multinomial": D.Multinomial(3, probs=t([0.5, 0.5])),
        "negative_binomial": D.NegativeBinomial(3.0, 0.5),
        "relaxed_bernoulli": D.RelaxedBernoulli(t(0.5), probs=t([0.3, 0.4])),
        "relaxed_one_hot": D.RelaxedOneHotCategorical(t(0.5), probs=t([0.3, 0.7])),
        "straight_through": D.OneHotCategoricalStraightThrough(probs=t([0.3, 0.7])),
        "continuous_bernoulli": D.ContinuousBernoulli(0.3), "von_mises": D.VonMises(0.0, t([1.0, 2.0])),
        "lowrank": D.LowRankMultivariateNormal(t([0.0, 1.0]), t([[1.0], [0.5]]), t([1.0, 2.0])),
        "lkj": D.LKJCholesky(3, 0.5), "wishart": D.Wishart(t(3.0), t([[1.0, 0.0], [0.0, 1.0]])),
        "c_cat": C.cat([C.real, C.positive], 0, [1, 2]), "c_stack": C.stack([C.real], 0),
        "c_corr_cholesky": C.corr_cholesky, "c_mixture": C.MixtureSameFamilyConstraint(C.positive),
        "mixture_support": D.MixtureSameFamily(D.Categorical(probs=t([0.5, 0.5])), D.Normal(t([0.0, 1.0]), 1.0)).support, "c_multinomial": C.multinomial(3),
        "biject_positive": D.biject_to(C.positive), "biject_unit": D.biject_to(C.unit_interval),
        "biject_real_vector": D.biject_to(C.real_vector),
        "reshape": D.ReshapeTransform((2, 3), (6,)),
        "independent_transform": D.IndependentTransform(D.ExpTransform(), 2),
    }


def run_reprs(lib):
    return {k: repr(v).replace(lib.__name__ + ".", "") for k, v in _reprs(lib).items()}


# properties and shapes after expand: (constructor(D, lib), batch shape to expand to)
EXPANDS = {
    "student_t": (lambda D, t: D.StudentT(t([2.0, 3.0]), 0.0, t([1.0, 2.0])), (3, 2)),
    "gumbel": (lambda D, t: D.Gumbel(t([0.0, 1.0]), 2.0), (4, 2)),
    "half_normal": (lambda D, t: D.HalfNormal(t([1.0, 2.0])), (3, 2)),
    "pareto": (lambda D, t: D.Pareto(t([1.0]), t([2.0])), (3,)),
    "weibull": (lambda D, t: D.Weibull(t([1.0, 2.0]), t([2.0, 0.5])), (2, 2)),
    "chi2": (lambda D, t: D.Chi2(t([1.0, 2.0])), (3, 2)),
    "inverse_gamma": (lambda D, t: D.InverseGamma(t([3.0]), t([2.0])), (5,)),
    "fisher_snedecor": (lambda D, t: D.FisherSnedecor(t([3.0]), t([5.0])), (2,)),
    "kumaraswamy": (lambda D, t: D.Kumaraswamy(t([3.0]), t([5.0])), (2,)),
    "logistic_normal": (lambda D, t: D.LogisticNormal(t([0.0, 1.0]), t([1.0, 2.0])), (3,)),
    "generalized_pareto": (lambda D, t: D.GeneralizedPareto(t([0.0]), t([1.0]), t([0.2])), (3,)),
    "mixture": (lambda D, t: D.MixtureSameFamily(D.Categorical(logits=t([0.0, 1.0])),
                                                 D.Normal(t([0.0, 1.0]), t([1.0, 2.0]))), (3,)),
    "multinomial": (lambda D, t: D.Multinomial(3, probs=t([0.2, 0.8])), (4,)),
    "negative_binomial": (lambda D, t: D.NegativeBinomial(t([3.0]), logits=t([0.5])), (2,)),
    "relaxed_bernoulli": (lambda D, t: D.RelaxedBernoulli(t(0.5), probs=t([0.3])), (2,)),
    "relaxed_one_hot": (lambda D, t: D.RelaxedOneHotCategorical(t(0.5), probs=t([0.3, 0.7])), (2,)),
    "continuous_bernoulli": (lambda D, t: D.ContinuousBernoulli(logits=t([0.5, -1.0])), (3, 2)),
    "von_mises": (lambda D, t: D.VonMises(t([0.5]), t([2.0])), (3,)),
    "lowrank": (lambda D, t: D.LowRankMultivariateNormal(t([0.0, 1.0]), t([[1.0], [0.5]]), t([1.0, 2.0])), (3,)),
    "straight_through": (lambda D, t: D.OneHotCategoricalStraightThrough(logits=t([0.5, -1.0])), (3,)),
    "lkj": (lambda D, t: D.LKJCholesky(3, t([0.5])), (2,)),
    "wishart": (lambda D, t: D.Wishart(t([3.0]), t([[1.0, 0.2], [0.2, 1.0]])), (2,)),
}


def run_expand(lib, name):
    ctor, shape = EXPANDS[name]
    d = ctor(lib.distributions, lib.tensor).expand(shape)
    x = d.sample((2,))
    return {"type": type(d).__name__, "batch_shape": list(d.batch_shape), "event_shape": list(d.event_shape),
            "sample_shape": list(x.shape), "log_prob_shape": list(d.log_prob(x).shape)}
