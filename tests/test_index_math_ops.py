"""Inverse trigonometric / hyperbolic functions, erfinv, tensor_split,
index_copy, index_fill, scatter_reduce, nan_to_num and repeat_interleave
with tensor repeats: values against numpy / math, gradients against central
differences (first and second order). PyTorch's own results for the edge
cases are in tests/regression_cases.py."""

import math

import numpy as np
import pytest
import rustdl as torch
from rustdl.autograd import gradcheck


def _differentiable(t):
    """`t` itself when it requires grad (gradcheck's analytic pass), else a
    leaf that does (its numerical pass), for gradients of gradients."""
    return t if t.requires_grad else t.detach().requires_grad_()


# ---------------------------------------------------------------- unary math

NUMPY_OF = {
    "asin": np.arcsin,
    "acos": np.arccos,
    "atan": np.arctan,
    "sinh": np.sinh,
    "cosh": np.cosh,
    "asinh": np.arcsinh,
    "acosh": np.arccosh,
    "atanh": np.arctanh,
}
# inputs inside each domain, away from its edges
DOMAIN = {
    "asin": (-0.9, 0.9),
    "acos": (-0.9, 0.9),
    "atan": (-5.0, 5.0),
    "sinh": (-5.0, 5.0),
    "cosh": (-5.0, 5.0),
    "asinh": (-5.0, 5.0),
    "acosh": (1.1, 5.0),
    "atanh": (-0.9, 0.9),
    "erfinv": (-0.9, 0.9),
}


@pytest.mark.parametrize("name", sorted(NUMPY_OF))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_unary_values_match_numpy(name, dtype):
    x = np.concatenate([np.linspace(-3, 3, 301), [0.0, -0.0, 1.0, -1.0, 1e-30, np.inf, -np.inf, np.nan]])
    x = x.astype(dtype)
    with np.errstate(all="ignore"):
        want = NUMPY_OF[name](x)
    for got in (getattr(torch, name)(torch.tensor(x)), getattr(torch.tensor(x), name)()):
        assert got.dtype == getattr(torch, dtype)
        np.testing.assert_allclose(got.numpy(), want, rtol=2e-7 if dtype == "float32" else 1e-15, atol=0)


def test_unary_domain_edges():
    nan, inf = float("nan"), float("inf")
    assert math.isnan(torch.acos(torch.tensor(2.0)).item())
    assert math.isnan(torch.asin(torch.tensor(-1.5)).item())
    assert math.isnan(torch.acosh(torch.tensor(0.5)).item())
    assert torch.atanh(torch.tensor([1.0, -1.0])).tolist() == [inf, -inf]
    assert torch.erfinv(torch.tensor([1.0, -1.0])).tolist() == [inf, -inf]
    assert math.isnan(torch.erfinv(torch.tensor(1.5)).item())
    assert math.isnan(torch.erfinv(torch.tensor(nan)).item())
    # no overflow where std's formulas overflow (asinh / acosh of huge values)
    assert torch.asinh(torch.tensor(1e38)).item() == pytest.approx(88.1914, rel=1e-6)
    assert torch.acosh(torch.tensor(1e300, dtype=torch.float64)).item() == pytest.approx(691.4686750787736)
    assert torch.erfinv(torch.tensor([-0.0])).numpy().tobytes() == np.array([-0.0], np.float32).tobytes()


def test_erfinv_inverts_erf():
    y = np.concatenate([np.linspace(-0.999, 0.999, 999), 1 - np.logspace(-15, -2, 40), np.logspace(-300, -1, 30)])
    x = torch.erfinv(torch.tensor(y, dtype=torch.float64)).numpy()
    back = np.array([math.erf(v) for v in x])
    np.testing.assert_allclose(back, y, rtol=1e-15, atol=0)
    # near 1 through erfc (1 - y is exact there): relative error of x itself
    tail = y[(y > 0.5)]
    xt = torch.erfinv(torch.tensor(tail, dtype=torch.float64)).numpy()
    np.testing.assert_allclose([math.erfc(v) for v in xt], 1 - tail, rtol=1e-13)
    y32 = y[:999].astype(np.float32)
    f32 = torch.erfinv(torch.tensor(y32)).numpy()
    want = torch.erfinv(torch.tensor(y32.astype(np.float64), dtype=torch.float64)).numpy()
    np.testing.assert_allclose(f32, want.astype(np.float32), rtol=2e-7, atol=1e-30)


@pytest.mark.parametrize("name", sorted(DOMAIN))
def test_unary_integer_and_bool_inputs_are_float32(name):
    f = getattr(torch, name)
    for t in (torch.tensor([1, 2]), torch.tensor([True, False]), torch.tensor([1], dtype=torch.uint8)):
        out = f(t)
        assert out.dtype == torch.float32
        np.testing.assert_array_equal(out.numpy(), f(t.float()).numpy())
    assert f(torch.zeros(0, 3, dtype=torch.int64)).shape == (0, 3)
    assert f(torch.tensor(0.5, dtype=torch.float64)).dim() == 0


@pytest.mark.parametrize("name", sorted(DOMAIN))
def test_unary_gradcheck_first_and_second_order(name):
    lo, hi = DOMAIN[name]
    x = torch.tensor(np.linspace(lo, hi, 7), dtype=torch.float64, requires_grad=True)
    f = getattr(torch, name)
    assert gradcheck(f, (x,), eps=1e-6, atol=1e-5)

    def first(x):
        with torch.enable_grad():
            x = _differentiable(x)
            (g,) = torch.autograd.grad(f(x).sum(), x, create_graph=True)
        return g

    assert gradcheck(first, (x,), eps=1e-6, atol=1e-4)


@pytest.mark.parametrize("name", sorted(DOMAIN))
def test_unary_inplace_and_aliases(name):
    x = torch.tensor([0.25, -0.5]) if name != "acosh" else torch.tensor([1.5, 2.0])
    want = getattr(torch, name)(x)
    y = x.clone()
    assert getattr(y, name + "_")() is y
    np.testing.assert_array_equal(y.numpy(), want.numpy())
    with pytest.raises(RuntimeError, match="can't be cast"):
        getattr(torch.tensor([1, 2]), name + "_")()
    leaf = x.clone().requires_grad_()
    with pytest.raises(RuntimeError, match="leaf Variable"):
        getattr(leaf, name + "_")()
    alias = {"asin": "arcsin", "acos": "arccos", "atan": "arctan", "asinh": "arcsinh",
             "acosh": "arccosh", "atanh": "arctanh"}.get(name)
    if alias:
        np.testing.assert_array_equal(getattr(torch, alias)(x).numpy(), want.numpy())
        np.testing.assert_array_equal(getattr(x, alias)().numpy(), want.numpy())
        z = x.clone()
        getattr(z, alias + "_")()
        np.testing.assert_array_equal(z.numpy(), want.numpy())


def test_unary_inplace_in_graph():
    x = torch.tensor([0.25, 0.1], requires_grad=True)
    y = x * 2
    y.asin_()
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 / np.sqrt(1 - np.array([0.5, 0.2]) ** 2), rtol=1e-6)


def test_unary_gradient_edges():
    x = torch.tensor([1.0, -1.0, 2.0], requires_grad=True)
    torch.asin(x).sum().backward()
    g = x.grad.tolist()
    assert g[0] == math.inf and g[1] == math.inf and math.isnan(g[2])
    x = torch.tensor([1.0, 0.5], requires_grad=True)
    torch.erfinv(x).sum().backward()
    assert x.grad[0].item() == math.inf
    assert x.grad[1].item() == pytest.approx(math.sqrt(math.pi) / 2 * math.exp(0.4769362762044699**2), rel=1e-6)


# ---------------------------------------------------------------- tensor_split


def test_tensor_split_sections_and_indices():
    x = torch.arange(7.0)
    assert [p.tolist() for p in torch.tensor_split(x, 3)] == [[0, 1, 2], [3, 4], [5, 6]]
    assert [p.tolist() for p in x.tensor_split([1, 5])] == [[0], [1, 2, 3, 4], [5, 6]]
    assert [p.tolist() for p in x.tensor_split((3, 1))] == [[0, 1, 2], [], [1, 2, 3, 4, 5, 6]]
    assert [p.tolist() for p in x.tensor_split([-2, 10])] == [[0, 1, 2, 3, 4], [5, 6], []]
    assert [p.tolist() for p in x.tensor_split(torch.tensor(2))] == [[0, 1, 2, 3], [4, 5, 6]]
    assert [p.tolist() for p in x.tensor_split(torch.tensor([4]))] == [[0, 1, 2, 3], [4, 5, 6]]
    assert [p.shape for p in torch.zeros(2, 5).tensor_split(2, dim=-1)] == [(2, 3), (2, 2)]
    assert [p.shape for p in torch.zeros(0, 3).tensor_split(2)] == [(0, 3), (0, 3)]
    assert len(torch.arange(2).tensor_split(4)) == 4


def test_tensor_split_pieces_are_views_with_gradients():
    x = torch.arange(6.0)
    _, b = x.tensor_split(2)
    b[0] = 9.0
    assert x.tolist() == [0, 1, 2, 9, 4, 5]
    w = torch.arange(6.0, requires_grad=True)
    parts = torch.tensor_split(w, [1, 3])
    sum(p.sum() * (k + 1) for k, p in enumerate(parts)).backward()
    assert w.grad.tolist() == [1, 2, 2, 3, 3, 3]


@pytest.mark.parametrize(
    "args,exc",
    [
        ((torch.arange(3.0), 0), RuntimeError),
        ((torch.tensor(1.0), 2), RuntimeError),
        ((torch.arange(3.0), torch.tensor([1.0])), RuntimeError),
        ((torch.arange(3.0), torch.tensor([[1]])), RuntimeError),
        ((torch.arange(3.0), 1.5), TypeError),
        ((torch.arange(3.0), [True]), TypeError),
        ((torch.zeros(2, 3), 2, 2), IndexError),
    ],
)
def test_tensor_split_errors(args, exc):
    with pytest.raises(exc):
        torch.tensor_split(*args)


# ---------------------------------------------------------------- index_copy / index_fill


def test_index_copy_values_and_inplace():
    x = torch.zeros(3, 2)
    src = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert x.index_copy(0, torch.tensor([2, 0]), src).tolist() == [[3, 4], [0, 0], [1, 2]]
    assert x.tolist() == [[0, 0], [0, 0], [0, 0]]
    assert torch.index_copy(x, 1, torch.tensor([1]), torch.ones(3, 1)).tolist() == [[0, 1]] * 3
    assert x.index_copy_(0, torch.tensor(1), src[:1]) is x
    assert x.tolist() == [[0, 0], [1, 2], [0, 0]]
    assert torch.tensor(1.0).index_copy(0, torch.tensor([0]), torch.tensor([5.0])).item() == 5.0


@pytest.mark.parametrize(
    "index,source,exc",
    [
        (torch.tensor([3]), torch.ones(1, 2), IndexError),
        (torch.tensor([-1]), torch.ones(1, 2), IndexError),
        (torch.tensor([1], dtype=torch.int32), torch.ones(1, 2), RuntimeError),
        (torch.tensor([[1]]), torch.ones(1, 2), IndexError),
        (torch.tensor([1]), torch.ones(1, 3), RuntimeError),
        (torch.tensor([1, 2]), torch.ones(1, 2), IndexError),
        (torch.tensor([1]), torch.ones(1, 2, dtype=torch.int64), RuntimeError),
        (torch.tensor([1]), torch.ones(2), IndexError),
    ],
)
def test_index_copy_errors(index, source, exc):
    with pytest.raises(exc):
        torch.zeros(3, 2).index_copy(0, index, source)


def test_index_copy_gradcheck():
    x = torch.tensor(np.random.default_rng(0).normal(size=(4, 3)), requires_grad=True)
    s = torch.tensor(np.random.default_rng(1).normal(size=(4, 2)), requires_grad=True)
    idx = torch.tensor([2, 0])
    assert gradcheck(lambda x, s: x.index_copy(1, idx, s * s), (x, s))


def test_index_fill_values():
    x = torch.zeros(3, 2)
    assert x.index_fill(0, torch.tensor([2, -3]), 5).tolist() == [[5, 5], [0, 0], [5, 5]]
    assert x.index_fill(1, torch.tensor(1), torch.tensor(7.0)).tolist() == [[0, 7]] * 3
    assert torch.index_fill(torch.zeros(3, dtype=torch.int64), 0, torch.tensor([1]), 2.7).tolist() == [0, 2, 0]
    assert x.index_fill_(0, torch.tensor([0]), -1.0) is x and x.tolist() == [[-1, -1], [0, 0], [0, 0]]
    with pytest.raises(IndexError):
        x.index_fill(0, torch.tensor([3]), 1.0)
    with pytest.raises(IndexError):
        x.index_fill(0, torch.tensor([1], dtype=torch.int32), 1.0)
    with pytest.raises(RuntimeError):
        x.index_fill(0, torch.tensor([1]), torch.tensor([1.0]))
    with pytest.raises(RuntimeError):
        torch.zeros(2, dtype=torch.int64).index_fill(0, torch.tensor([1]), float("nan"))
    with pytest.raises(TypeError):
        x.index_fill(0, torch.tensor([1]), None)


def test_index_fill_gradients():
    x = torch.zeros(3, requires_grad=True)
    v = torch.tensor(2.0, requires_grad=True)
    x.index_fill(0, torch.tensor([2, 2, 0]), v).mul(torch.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert x.grad.tolist() == [0, 2, 0]
    assert v.grad.item() == 4.0  # each distinct index once
    xd = torch.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    vd = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    assert gradcheck(lambda x, v: x.index_fill(1, torch.tensor([0, 2]), v) ** 2, (xd, vd))


# ---------------------------------------------------------------- scatter_reduce


def _scatter_reduce_reference(x, dim, index, src, reduce, include_self):
    """Loops over numpy arrays (1-d or 2-d)."""
    out = x.astype(np.float64).copy()
    groups = {}
    for pos in np.ndindex(*index.shape):
        target = list(pos)
        target[dim] = index[pos]
        groups.setdefault(tuple(target), []).append(src[pos])
    for t, vals in groups.items():
        vals = ([x[t]] if include_self else []) + vals
        out[t] = {"sum": np.sum, "prod": np.prod, "mean": np.mean, "amax": np.max, "amin": np.min}[reduce](vals)
    return out


@pytest.mark.parametrize("reduce", ["sum", "prod", "mean", "amax", "amin"])
@pytest.mark.parametrize("include_self", [True, False])
def test_scatter_reduce_matches_reference(reduce, include_self):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(3, 4))
    index = rng.integers(0, 4, size=(3, 5))
    src = rng.normal(size=(3, 6))
    got = torch.tensor(x).scatter_reduce(1, torch.tensor(index), torch.tensor(src), reduce, include_self=include_self)
    want = _scatter_reduce_reference(x, 1, index, src, reduce, include_self)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12)


@pytest.mark.parametrize("reduce", ["sum", "prod", "mean", "amax", "amin"])
@pytest.mark.parametrize("include_self", [True, False])
def test_scatter_reduce_gradcheck(reduce, include_self):
    rng = np.random.default_rng(4)
    # distinct values (no ties for amax/amin) and no zeros (prod)
    x = torch.tensor(rng.permutation(12).reshape(3, 4) / 7 + 0.3, requires_grad=True)
    src = torch.tensor(rng.permutation(12).reshape(3, 4) / 5 + 0.1, requires_grad=True)
    index = torch.tensor([[0, 0, 2], [1, 3, 1]])

    def fn(x, s):
        return x.scatter_reduce(1, index, s, reduce, include_self=include_self)

    assert gradcheck(fn, (x, src))

    def first(x, s):
        with torch.enable_grad():
            x, s = _differentiable(x), _differentiable(s)
            gx, gs = torch.autograd.grad((fn(x, s) ** 2).sum(), (x, s), create_graph=True)
        return gx, gs

    assert gradcheck(first, (x, src), atol=1e-4)


def test_scatter_reduce_ties_split_the_gradient():
    x = torch.tensor([2.0, 1.0], requires_grad=True)
    s = torch.tensor([2.0, 2.0, 0.5], requires_grad=True)
    x.scatter_reduce(0, torch.tensor([0, 0, 1]), s, "amax").sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1 / 3, 1.0])
    np.testing.assert_allclose(s.grad.numpy(), [1 / 3, 1 / 3, 0.0])


def test_scatter_reduce_integer_mean_rounds_down_and_errors():
    r = torch.tensor([0, 0]).scatter_reduce(0, torch.tensor([0, 0, 1]), torch.tensor([-2, -3, -5]), "mean",
                                            include_self=False)
    assert r.tolist() == [-3, -5]
    with pytest.raises(NotImplementedError):
        torch.tensor([True]).scatter_reduce(0, torch.tensor([0]), torch.tensor([True]), "mean")
    with pytest.raises(RuntimeError, match="reduce argument"):
        torch.ones(2).scatter_reduce(0, torch.tensor([0]), torch.ones(1), "multiply")
    with pytest.raises(RuntimeError):
        torch.ones(2).scatter_reduce(0, torch.tensor([2]), torch.ones(1), "sum")
    with pytest.raises(RuntimeError):
        torch.ones(2).scatter_reduce(0, torch.tensor([0]), torch.ones(1, dtype=torch.float64), "sum")
    x = torch.ones(3)
    assert x.scatter_reduce_(0, torch.tensor([1, 1]), torch.tensor([2.0, 3.0]), "prod") is x
    assert x.tolist() == [1, 6, 1]


# ---------------------------------------------------------------- nan_to_num


def test_nan_to_num():
    nan, inf = float("nan"), float("inf")
    x = torch.tensor([nan, inf, -inf, 1.5])
    f32 = np.finfo(np.float32)
    assert x.nan_to_num().tolist() == [0.0, float(f32.max), float(f32.min), 1.5]
    assert torch.nan_to_num(x, nan=2.0, posinf=3.0, neginf=-4).tolist() == [2, 3, -4, 1.5]
    assert torch.nan_to_num(x, 2.0, 5.0, 6.0).tolist() == [2, 5, 6, 1.5]
    assert x.nan_to_num(posinf=1e300).tolist()[1] == inf  # cast to float32
    d = x.double().nan_to_num()
    assert d.tolist()[1:3] == [np.finfo(np.float64).max, np.finfo(np.float64).min]
    i = torch.tensor([1, 2])
    j = i.nan_to_num()
    j[0] = 7
    assert i.tolist() == [1, 2]  # a copy
    y = x.clone()
    assert y.nan_to_num_(nan=-1.0) is y and y.tolist()[0] == -1.0


def test_nan_to_num_gradient():
    nan, inf = float("nan"), float("inf")
    x = torch.tensor([nan, inf, -inf, 1.5], requires_grad=True)
    y = x.nan_to_num()
    assert y.requires_grad and y.grad_fn.name() == "NanToNumBackward0"
    y.backward(torch.tensor([2.0, 2.0, 2.0, 2.0]))
    assert x.grad.tolist() == [0, 0, 0, 2]
    x.grad = None
    x.nan_to_num().backward(torch.full((4,), nan))
    assert all(math.isnan(v) for v in x.grad.tolist())  # grad * isfinite(x)
    z = torch.tensor([nan, 2.0], requires_grad=True)
    (g,) = torch.autograd.grad(z.nan_to_num().pow(2).sum(), z, create_graph=True)
    g.sum().backward()
    assert g.tolist() == [0, 4] and z.grad.tolist() == [0, 2]


# ---------------------------------------------------------------- repeat_interleave


def test_repeat_interleave_tensor_repeats():
    x = torch.tensor([[1, 2], [3, 4]])
    assert torch.tensor([1, 2, 3]).repeat_interleave(torch.tensor([1, 0, 2])).tolist() == [1, 3, 3]
    assert x.repeat_interleave(torch.tensor([1, 2]), dim=0).tolist() == [[1, 2], [3, 4], [3, 4]]
    assert x.repeat_interleave(torch.tensor([2]), dim=1).tolist() == [[1, 1, 2, 2], [3, 3, 4, 4]]
    assert x.repeat_interleave(torch.tensor([1, 0, 0, 2])).tolist() == [1, 4, 4]
    assert torch.zeros(0, 2).repeat_interleave(torch.tensor([], dtype=torch.int64), dim=0).shape == (0, 2)
    assert torch.repeat_interleave(torch.tensor([1, 0, 2])).tolist() == [0, 2, 2]
    assert torch.repeat_interleave(torch.tensor([1, 2]), 2, output_size=4).tolist() == [1, 1, 2, 2]


@pytest.mark.parametrize(
    "repeats,exc",
    [
        (torch.tensor([1, 2]), RuntimeError),  # shorter
        (torch.tensor([1, 2, 3, 4]), RuntimeError),  # longer
        (torch.tensor([], dtype=torch.int64), RuntimeError),
        (torch.tensor([1, -1, 2]), RuntimeError),
        (torch.tensor([[1, 1, 1]]), RuntimeError),
        (torch.tensor([1.0, 1.0, 1.0]), NotImplementedError),
        (-1, RuntimeError),
        (2.0, TypeError),
    ],
)
def test_repeat_interleave_errors(repeats, exc):
    with pytest.raises(exc):
        torch.tensor([1, 2, 3]).repeat_interleave(repeats)


def test_repeat_interleave_negative_message_and_gradient():
    with pytest.raises(RuntimeError, match="Repeats must be non-negative"):
        torch.ones(2).repeat_interleave(-3)
    x = torch.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    assert gradcheck(lambda x: x.repeat_interleave(torch.tensor([2, 0, 1]), dim=1) ** 2, (x,))
