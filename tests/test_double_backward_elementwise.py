"""Double (and third) backward of elementwise ops, activations, scans and
reductions (issue 23): gradgradcheck in float64 per op family, saved outputs
re-attached to their node under create_graph, and PyTorch-recorded
Hessian-vector products (tests/golden/double_backward_elementwise.json,
recorded by tools/differential/record_double_backward.py)."""

import json
import math
from pathlib import Path

import double_backward_cases as cases
import numpy as np
import pytest
import rustdl as torch
import rustdl.nn.functional as F
from rustdl.autograd import gradcheck, gradgradcheck

GOLDEN = json.loads((Path(__file__).parent / "golden" / "double_backward_elementwise.json").read_text())


def leaf(data, *shape):
    t = torch.tensor(data, dtype=torch.float64) if data is not None else torch.randn(*shape, dtype=torch.float64)
    return t.requires_grad_()


def away_from(t, points, margin=0.05):
    """Moves entries within `margin` of any kink in `points` out of reach."""
    with torch.no_grad():
        for p in points:
            near = (t - p).abs() < margin
            t[near] = p + 2 * margin
    return t


def rand(*shape, seed=0, scale=1.0):
    torch.manual_seed(seed)
    return (torch.randn(*shape, dtype=torch.float64) * scale).requires_grad_()


def noncontig(*shape, seed=0):
    """A transposed (non-contiguous) leaf."""
    torch.manual_seed(seed)
    base = torch.randn(*reversed(shape), dtype=torch.float64)
    return base.t().detach().requires_grad_() if len(shape) == 2 else base.requires_grad_()


def third_order(f, x, atol=1e-5):
    """gradgradcheck of x -> d/dx sum(f(x) * w) taken with create_graph: checks the third derivative."""
    shape = tuple(f(x).shape)
    w = torch.tensor(np.random.default_rng(7).standard_normal(shape), dtype=torch.float64)

    def first(x):
        (g,) = torch.autograd.grad((f(x) * w).sum(), x, create_graph=True)
        return g

    assert gradgradcheck(first, (x,), atol=atol)


# ---------------------------------------------------------------- mechanism


def test_saved_output_reattaches_under_create_graph():
    x = rand(5)
    y = x.tanh()
    (g,) = torch.autograd.grad(y.sum(), x, create_graph=True)
    # d/dx (1 - tanh^2) = -2 tanh (1 - tanh^2)
    (h,) = torch.autograd.grad(g.sum(), x)
    t = np.tanh(x.detach().numpy())
    np.testing.assert_allclose(h.numpy(), -2 * t * (1 - t**2), rtol=1e-12)


def test_first_order_gradient_is_detached_without_create_graph():
    x = rand(4)
    (g,) = torch.autograd.grad(F.softmax(x, 0)[0], x)
    assert not g.requires_grad and g.grad_fn is None


def test_saved_output_version_check_kept():
    x = rand(4)
    y = x.exp()
    z = y * 1.0
    y.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward()
    x2 = rand(4)
    y2 = x2.exp()
    y2.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        torch.autograd.grad(y2.sum(), x2, create_graph=True)


def test_reattached_output_backward_twice_raises():
    # the second backward reaches the (freed) node through the saved output
    x = rand(3)
    y = x.exp()
    (g,) = torch.autograd.grad(y.sum(), x, create_graph=True, retain_graph=False)
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        torch.autograd.grad(g.sum(), x)


# ---------------------------------------------------------------- unary math

UNARY = {
    "exp": lambda x: x.exp(),
    "tanh": lambda x: x.tanh(),
    "sigmoid": lambda x: x.sigmoid(),
    "sqrt": lambda x: (x.abs() + 0.5).sqrt(),
    "rsqrt": lambda x: (x.abs() + 0.5).rsqrt(),
    "relu": lambda x: F.relu(x) * x,
    "log": lambda x: (x.abs() + 0.5).log(),
    "erf": lambda x: x.erf(),
    "atan": lambda x: x.atan(),
    "asinh": lambda x: x.asinh(),
    "sin": lambda x: x.sin(),
    "expm1": lambda x: x.expm1(),
    "abs": lambda x: x.abs() * x,
}


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_gradgradcheck(name):
    x = away_from(rand(3, 4, seed=1), [0.0])
    assert gradgradcheck(UNARY[name], (x,))


@pytest.mark.parametrize("name", ["exp", "tanh", "sigmoid", "sqrt"])
def test_unary_third_order(name):
    third_order(UNARY[name], rand(5, seed=2))


# ---------------------------------------------------------------- activations

ACTIVATIONS = {
    "gelu": (lambda x: F.gelu(x), []),
    "gelu_tanh": (lambda x: F.gelu(x, approximate="tanh"), []),
    "silu": (lambda x: F.silu(x), []),
    "mish": (lambda x: F.mish(x), []),
    "softplus": (lambda x: F.softplus(x), []),
    "softplus_beta": (lambda x: F.softplus(x, beta=2.0, threshold=1.5), [0.75]),
    "elu": (lambda x: F.elu(x, alpha=0.8), [0.0]),
    "selu": (lambda x: F.selu(x), [0.0]),
    "celu": (lambda x: F.celu(x, alpha=0.6), [0.0]),
    "logsigmoid": (lambda x: F.logsigmoid(x), []),
    "softsign": (lambda x: F.softsign(x), [0.0]),
    "hardswish": (lambda x: F.hardswish(x * 3), [-1.0, 1.0]),
    "hardsigmoid": (lambda x: F.hardsigmoid(x * 3) * x, [-1.0, 1.0]),
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.2) * x, [0.0]),
    "hardtanh": (lambda x: F.hardtanh(x, -0.5, 0.7) * x, [-0.5, 0.7]),
    "relu6": (lambda x: F.relu6(x * 4) * x, [0.0, 1.5]),
    "softmin": (lambda x: F.softmin(x, 1), []),
}


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_gradgradcheck(name):
    f, kinks = ACTIVATIONS[name]
    x = away_from(rand(3, 5, seed=3, scale=2.0), kinks)
    assert gradgradcheck(f, (x,))


@pytest.mark.parametrize("name", ["gelu", "gelu_tanh", "silu", "mish", "elu", "softplus", "logsigmoid"])
def test_activation_third_order(name):
    f, kinks = ACTIVATIONS[name]
    third_order(f, away_from(rand(6, seed=4, scale=2.0), kinks))


@pytest.mark.parametrize("name", ["gelu", "silu", "mish", "celu"])
def test_activation_noncontiguous(name):
    f, kinks = ACTIVATIONS[name]
    x = noncontig(3, 4, seed=5)
    assert not x.is_contiguous()
    assert gradgradcheck(f, (away_from(x, kinks),))


def test_activation_gradient_values_unchanged_under_create_graph():
    # the differentiable formula gives the fused kernel's first derivative
    x = rand(5, 10, seed=6, scale=4.0)
    for name, (f, _) in ACTIVATIONS.items():
        (a,) = torch.autograd.grad(f(x).sum(), x)
        (b,) = torch.autograd.grad(f(x).sum(), x, create_graph=True)
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-12, atol=1e-14, err_msg=name)


def test_activation_float32_create_graph_values():
    x = torch.randn(20).requires_grad_()
    for name in ["gelu", "silu", "mish", "elu"]:
        f = ACTIVATIONS[name][0]
        (a,) = torch.autograd.grad(f(x).sum(), x)
        (b,) = torch.autograd.grad(f(x).sum(), x, create_graph=True)
        assert b.dtype == torch.float32 and b.requires_grad
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-5, atol=1e-6, err_msg=name)


# ---------------------------------------------------------------- softmax family


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax_log_softmax_gradgradcheck(dim):
    x = rand(3, 4, seed=8)
    assert gradgradcheck(lambda x: F.softmax(x, dim), (x,))
    assert gradgradcheck(lambda x: F.log_softmax(x, dim), (x,))


def test_softmax_third_order_and_noncontiguous():
    third_order(lambda x: F.softmax(x, 0), rand(4, seed=9))
    third_order(lambda x: F.log_softmax(x, 0), rand(4, seed=10))
    x = noncontig(3, 4, seed=11)
    assert gradgradcheck(lambda x: F.softmax(x, 1), (x,))


# ---------------------------------------------------------------- binary


def test_binary_gradgradcheck():
    a = away_from(rand(3, 4, seed=12), [0.0], 0.2)
    b = rand(3, 4, seed=13)
    assert gradgradcheck(lambda a, b: a.abs() ** b, (a, b))
    assert gradgradcheck(lambda a, b: torch.atan2(a, b), (a, b))
    assert gradgradcheck(lambda a, b: a / (b.abs() + 0.5), (a, b))
    assert gradgradcheck(lambda a, b: torch.fmod(a, b.abs() + 0.5), (a, b))
    assert gradgradcheck(lambda a, b: torch.remainder(a, b.abs() + 0.5), (a, b))
    assert gradgradcheck(lambda a, b: torch.maximum(a, b) * a, (a, b))
    assert gradgradcheck(lambda a, b: torch.minimum(a, b) * b, (a, b))
    assert gradgradcheck(lambda a, b: torch.where(a > 0, a * b, b.exp()), (a, b))
    assert gradgradcheck(lambda a, b: torch.clamp(a * b, min=b - 0.5, max=b + 0.5) * a, (a, b))
    assert gradgradcheck(lambda a, b: (a * b).masked_fill(a > 0.5, 0.0) * a, (a, b))
    assert gradgradcheck(lambda a: 2.0**a, (a,))
    assert gradgradcheck(lambda a: a.abs() ** 2.5, (a,))


def test_pow_third_order():
    b = rand(4, seed=14)
    third_order(lambda a: a.abs() ** b, away_from(rand(4, seed=15), [0.0], 0.2))


# ---------------------------------------------------------------- scans


def test_cumsum_cumprod_gradgradcheck():
    x = rand(3, 4, seed=16)
    assert gradgradcheck(lambda x: x.cumsum(1) * x, (x,))
    assert gradgradcheck(lambda x: x.cumprod(1), (x,))
    assert gradgradcheck(lambda x: x.cumprod(0), (noncontig(3, 4, seed=17),))


def test_cumprod_with_zeros_gradgradcheck():
    x = torch.tensor(cases.X_ZEROS, dtype=torch.float64, requires_grad=True)
    # finite differences around exact zeros: the function is a polynomial
    assert gradgradcheck(lambda x: x.cumprod(1), (x,))
    third_order(lambda x: x.cumprod(0), torch.tensor([2.0, 0.0, 3.0, 0.5], dtype=torch.float64, requires_grad=True),
                atol=1e-3)  # (finite differences of values ~10 round off at ~5e-4)


# ---------------------------------------------------------------- reductions

REDUCTIONS = {
    "sum": lambda x: (x.sum(1) ** 2),
    "mean": lambda x: (x.mean(0) ** 2),
    "prod": lambda x: x.prod(),
    "prod_dim": lambda x: x.prod(1),
    "prod_dim_keepdim": lambda x: x.prod(0, keepdim=True),
    "amax": lambda x: x.amax(1) * x.sum(1),
    "amin": lambda x: x.amin(0) * x.sum(0),
    "max": lambda x: x.max() * x.sum(),
    "max_dim": lambda x: x.max(1)[0] * x.sum(1),
    "min_dim": lambda x: x.min(0)[0] ** 2,
    "logsumexp": lambda x: x.logsumexp(1),
    "var": lambda x: x.var(),
    "var_dim": lambda x: x.var(1),
    "var_correction0": lambda x: x.var(0, correction=0),
    "std": lambda x: x.std(),
    "std_dim_keepdim": lambda x: x.std(1, keepdim=True),
    "var_mean": lambda x: torch.var_mean(x, 1)[0] * torch.var_mean(x, 1)[1],
    "std_mean": lambda x: torch.std_mean(x, 0)[0] + torch.std_mean(x, 0)[1] ** 2,
    "norm": lambda x: x.norm(),
    "norm_dim": lambda x: x.norm(dim=1),
    "norm_p1": lambda x: x.norm(p=1, dim=1) * x.sum(1),
    "norm_p3": lambda x: x.norm(p=3, dim=0),
    "norm_p1_5": lambda x: torch.linalg.vector_norm(x, 1.5),
    "norm_inf": lambda x: x.norm(p=float("inf"), dim=1) * x.sum(1),
    "norm_fro": lambda x: torch.norm(x, p="fro"),
    "normalize": lambda x: F.normalize(x, dim=1),
    "normalize_p3": lambda x: F.normalize(x, p=3.0, dim=0),
    "cosine_similarity": lambda x: F.cosine_similarity(x, x.flip(0) + 0.3, dim=1),
    "dist": lambda x: torch.dist(x, x.flip(1) * 0.5),
    "dist_p3": lambda x: torch.dist(x, x.flip(1) * 0.5, 3),
    "cdist": lambda x: torch.cdist(x, x.flip(0) + 0.1),
}


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
def test_reduction_gradgradcheck(name):
    x = rand(3, 4, seed=18)
    assert gradgradcheck(REDUCTIONS[name], (x,))


@pytest.mark.parametrize("name", ["prod", "prod_dim", "var_dim", "std", "norm", "normalize", "logsumexp"])
def test_reduction_noncontiguous(name):
    assert gradgradcheck(REDUCTIONS[name], (noncontig(3, 4, seed=19),))


@pytest.mark.parametrize("name", ["prod", "norm_dim", "std", "logsumexp", "norm_p3"])
def test_reduction_third_order(name):
    third_order(REDUCTIONS[name], rand(3, 3, seed=20))


def test_prod_with_zeros_gradgradcheck():
    x = torch.tensor(cases.X_ZEROS, dtype=torch.float64, requires_grad=True)
    assert gradgradcheck(lambda x: x.prod(1), (x,))
    assert gradgradcheck(lambda x: x.prod(0), (x,))
    assert gradgradcheck(lambda x: x[:2].prod(), (x,))
    third_order(lambda x: x.prod(), torch.tensor([2.0, 0.0, 3.0], dtype=torch.float64, requires_grad=True))


# ---------------------------------------------------------------- PyTorch-recorded


@pytest.mark.parametrize("name", sorted(cases.CASES))
def test_hessian_vector_products_match_pytorch(name):
    expr, data = cases.CASES[name]
    g, h = cases.grad_and_hvp(torch, expr, data)
    want = GOLDEN["hvp"][name]
    np.testing.assert_allclose(g, want["grad"], rtol=1e-9, atol=1e-11, err_msg=name)
    np.testing.assert_allclose(h, want["hvp"], rtol=1e-9, atol=1e-11, err_msg=name)


@pytest.mark.parametrize("name", sorted(cases.HESSIANS))
def test_hessians_match_pytorch(name):
    expr, data = cases.HESSIANS[name]
    got = cases.hessian(torch, expr, data)
    np.testing.assert_allclose(got, GOLDEN["hessians"][name], rtol=1e-12, atol=1e-12, err_msg=name)


def test_prod_hessian_row():
    # the example: Hessian of prod([2, 3, 4]) row 0 is [0, 4, 3]
    assert cases.hessian(torch, "x.prod()", [2.0, 3.0, 4.0])[0] == [0.0, 4.0, 3.0]


# ---------------------------------------------------------------- first-order sanity


def test_first_order_gradcheck_of_touched_ops():
    x = away_from(rand(3, 4, seed=21), [0.0])
    for f in [lambda x: x.var(1), lambda x: x.std(), lambda x: x.prod(1), lambda x: F.gelu(x), lambda x: F.elu(x)]:
        assert gradcheck(f, (x,))
    assert math.isfinite(float(x.var().item()))
