"""Autograd behaviour against PyTorch's documented semantics (numpy reference)."""

import time

import numpy as np
import pytest
import rustdl as torch
from rustdl.autograd import gradcheck


def leaf(a, dtype=torch.float64):
    return torch.tensor(np.asarray(a, dtype=np.float64), dtype=dtype, requires_grad=True)


def rnd(*shape, seed=0, low=-1.0, high=1.0):
    return np.random.default_rng(seed).uniform(low, high, size=shape)


# ---------------------------------------------------------------- basics

def test_requires_grad_flags():
    t = torch.ones(2)
    assert t.requires_grad is False
    assert t.requires_grad_() is t
    assert t.requires_grad is True
    t.requires_grad_(False)
    assert not t.requires_grad
    t.requires_grad = True
    assert t.requires_grad
    y = t * 2
    assert y.requires_grad and not y.is_leaf and t.is_leaf
    assert torch.zeros(2, requires_grad=True).requires_grad


def test_grad_accumulates_across_backward_calls():
    x = leaf([1.0, 2.0, 3.0])
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2, 4, 6])
    (3 * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [5, 7, 9])
    x.grad = None
    x.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1, 1, 1])
    assert x.grad.requires_grad is False


def test_grad_accumulates_in_place_as_pytorch():
    """Outside create_graph PyTorch adds into the existing .grad (a tensor
    held as `x.grad` sees the sum); under create_graph the sum is a new,
    differentiable tensor and the old one is left alone."""
    for dtype in (torch.float32, torch.float64):
        x = leaf(rnd(700, 1000), dtype)  # large: the parallel chunks
        (x * 2).sum().backward()
        held = x.grad
        (x * x).sum().backward()
        want = 2 + 2 * x.detach().numpy()
        np.testing.assert_allclose(held.numpy(), want, rtol=1e-6)
        np.testing.assert_allclose(x.grad.numpy(), want, rtol=1e-6)
    x = leaf([1.0, 2.0])
    (x * 2).sum().backward()
    held = x.grad
    (x * x).sum().backward(create_graph=True)
    np.testing.assert_allclose(held.numpy(), [2, 2])
    np.testing.assert_allclose(x.grad.detach().numpy(), [4, 6])
    assert x.grad.requires_grad


def test_grad_fn_names():
    x = leaf([1.0, 2.0])
    assert x.grad_fn is None
    assert (x + 1).grad_fn.name() == "AddBackward0"
    assert (x * x).grad_fn.name() == "MulBackward0"
    assert x.sum().grad_fn.name() == "SumBackward0"
    assert x.exp().grad_fn.name() == "ExpBackward0"
    assert x.mean().grad_fn.name() == "MeanBackward0"
    assert x.view(2, 1).grad_fn.name() == "ViewBackward0"
    assert x.unsqueeze(0).t().grad_fn.name() == "TBackward0"
    assert "Backward" in type(x.tanh().grad_fn).__name__ or x.tanh().grad_fn.name() == "TanhBackward0"
    nf = (x * 2).grad_fn.next_functions
    assert len(nf) == 2


def test_is_leaf_and_detach():
    x = leaf([1.0, 2.0])
    y = x * 2
    d = y.detach()
    assert d.is_leaf and not d.requires_grad and d.grad_fn is None
    d[0] = 100.0  # detach shares storage
    assert y[0].item() == 100.0
    assert torch.ones(2).is_leaf
    with torch.no_grad():
        z = x * 2
    assert z.is_leaf and not z.requires_grad


def test_retain_grad_non_leaf():
    x = leaf([1.0, 2.0])
    y = x * 3
    y.retain_grad()
    assert y.retains_grad
    z = (y * y).sum()
    z.backward()
    np.testing.assert_allclose(y.grad.numpy(), [6, 12])
    np.testing.assert_allclose(x.grad.numpy(), [18, 36])


def test_non_leaf_grad_is_none_without_retain():
    x = leaf([1.0])
    y = x * 2
    y.sum().backward()
    assert y.grad is None


def test_register_hook_leaf_modifies_gradient():
    x = leaf([1.0, 2.0])
    seen = []
    h = x.register_hook(lambda g: seen.append(g.numpy().copy()) or g * 10)
    (x * x).sum().backward()
    np.testing.assert_allclose(seen[0], [2, 4])
    np.testing.assert_allclose(x.grad.numpy(), [20, 40])
    h.remove()
    x.grad = None
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2, 4])


def test_register_hook_non_leaf_modifies_upstream():
    x = leaf([1.0, 2.0])
    y = x * 2
    y.register_hook(lambda g: g + 1)
    (y * 1).sum().backward()
    # dL/dy = 1 -> hook -> 2 -> dL/dx = 2 * 2
    np.testing.assert_allclose(x.grad.numpy(), [4, 4])


def test_hook_returning_none_keeps_gradient():
    x = leaf([1.0, 2.0])
    calls = []
    x.register_hook(lambda g: calls.append(1))
    x.sum().backward()
    assert calls == [1]
    np.testing.assert_allclose(x.grad.numpy(), [1, 1])


# ---------------------------------------------------------------- autograd.grad

def test_autograd_grad_basic_does_not_touch_dot_grad():
    x = leaf([1.0, 2.0])
    (g,) = torch.autograd.grad((x ** 2).sum(), x)
    np.testing.assert_allclose(g.numpy(), [2, 4])
    assert x.grad is None


def test_autograd_grad_second_derivative():
    x = leaf([1.0, 2.0, -3.0])
    y = (x ** 3).sum()
    (g,) = torch.autograd.grad(y, x, create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), 3 * np.array([1.0, 2.0, -3.0]) ** 2)
    assert g.requires_grad
    (g2,) = torch.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(g2.numpy(), 6 * np.array([1.0, 2.0, -3.0]))


def test_double_backward_into_dot_grad():
    x = leaf([0.5, 1.5])
    y = (x.sin() * x).sum()
    (g,) = torch.autograd.grad(y, x, create_graph=True)
    g.sum().backward()
    xv = np.array([0.5, 1.5])
    # d/dx (cos x * x + sin x) = -sin x * x + 2 cos x
    np.testing.assert_allclose(x.grad.numpy(), -np.sin(xv) * xv + 2 * np.cos(xv), rtol=1e-10)


def test_autograd_grad_allow_unused():
    x = leaf([1.0])
    z = leaf([2.0])
    y = (x * 2).sum()
    gx, gz = torch.autograd.grad(y, [x, z], allow_unused=True)
    np.testing.assert_allclose(gx.numpy(), [2])
    assert gz is None
    with pytest.raises(RuntimeError, match="not have been used in the graph"):
        torch.autograd.grad((x * 2).sum(), [x, z])


def test_autograd_grad_multiple_outputs_and_grad_outputs():
    x = leaf([1.0, 2.0])
    a, b = x * 2, x * x
    (g,) = torch.autograd.grad([a, b], [x], grad_outputs=[torch.ones(2, dtype=torch.float64),
                                                         torch.tensor([1.0, 0.5], dtype=torch.float64)])
    np.testing.assert_allclose(g.numpy(), [2 + 2, 2 + 2])


def test_autograd_grad_non_leaf_input():
    x = leaf([1.0, 2.0])
    y = x * 3
    z = (y ** 2).sum()
    (gy,) = torch.autograd.grad(z, y)
    np.testing.assert_allclose(gy.numpy(), [6, 12])


# ---------------------------------------------------------------- grad modes

def test_no_grad_context_and_decorator():
    x = leaf([1.0])
    with torch.no_grad():
        assert not torch.is_grad_enabled()
        y = x * 2
    assert torch.is_grad_enabled()
    assert not y.requires_grad

    @torch.no_grad()
    def f(t):
        return t * 2

    assert not f(x).requires_grad
    assert f.__name__ == "f"
    assert torch.is_grad_enabled()


def test_enable_grad_inside_no_grad():
    x = leaf([1.0])
    with torch.no_grad():
        with torch.enable_grad():
            y = x * 2
        z = x * 2
    assert y.requires_grad and not z.requires_grad

    @torch.enable_grad()
    def g(t):
        return t * 2

    with torch.no_grad():
        assert g(x).requires_grad


def test_set_grad_enabled_context_decorator_and_function():
    x = leaf([1.0])
    with torch.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert torch.is_grad_enabled()
    with torch.set_grad_enabled(True):
        assert (x * 2).requires_grad

    @torch.set_grad_enabled(False)
    def f(t):
        return t * 2

    assert torch.is_grad_enabled()
    assert not f(x).requires_grad
    torch.set_grad_enabled(False)
    try:
        assert not torch.is_grad_enabled()
    finally:
        torch.set_grad_enabled(True)
    assert torch.is_grad_enabled()


def test_grad_mode_restored_after_exception():
    with pytest.raises(ValueError), torch.no_grad():
        raise ValueError
    assert torch.is_grad_enabled()


def test_inference_mode():
    x = leaf([1.0])
    with torch.inference_mode():
        assert not (x * 2).requires_grad
    assert (x * 2).requires_grad


# ---------------------------------------------------------------- views

def test_grad_through_slices_and_transpose():
    a = rnd(3, 4)
    x = leaf(a)
    w = rnd(4, 2, seed=1)
    y = (x[1:, ::2].t() * torch.tensor(w[::2].T.T, dtype=torch.float64).t().t()).sum()
    # (x[1:, ::2].t())  has shape (2, 2); w[::2] has shape (2, 2)
    y.backward()
    expected = np.zeros((3, 4))
    expected[1:, ::2] = w[::2].T
    np.testing.assert_allclose(x.grad.numpy(), expected)


def test_grad_through_expand():
    x = leaf([[1.0], [2.0]])
    w = rnd(2, 3)
    (x.expand(2, 3) * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), w.sum(1, keepdims=True))


def test_grad_indexing_repeated_indices_accumulates():
    x = leaf([1.0, 2.0, 3.0])
    x[torch.tensor([0, 0, 2, 0])].sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3, 0, 1])
    x.grad = None
    x[[1, 1]].sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0, 2, 0])
    x.grad = None
    x[torch.tensor([True, False, True])].sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1, 0, 1])


def test_grad_through_view_reshape_permute():
    a = rnd(2, 3, 4)
    x = leaf(a)
    w = rnd(4, 2, 3, seed=3)
    (x.permute(2, 0, 1) * torch.tensor(w)).reshape(-1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), w.transpose(1, 2, 0))


# ---------------------------------------------------------------- in-place

def test_inplace_on_non_leaf_gradients():
    x = leaf([1.0, 2.0, 3.0])
    y = x * 2
    y.add_(1)
    y.mul_(3)
    y.pow_(2)
    y.sum().backward()
    xv = np.array([1.0, 2.0, 3.0])
    # y = (3 (2x + 1))^2 -> dy/dx = 2 * 3(2x+1) * 6
    np.testing.assert_allclose(x.grad.numpy(), 36 * (2 * xv + 1))


def test_inplace_through_view_of_non_leaf():
    x = leaf([1.0, 2.0, 3.0, 4.0])
    y = x * 1
    y[1:3].mul_(10)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1, 10, 10, 1])


def test_setitem_on_non_leaf_blocks_gradient():
    x = leaf([1.0, 2.0, 3.0])
    y = x * 2
    y[0] = 0.0
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0, 2, 2])


def test_setitem_with_tensor_value_gradient_flows_to_value():
    x = leaf([1.0, 2.0, 3.0])
    v = leaf([5.0])
    y = x * 1
    y[1:2] = v * 3
    (y * torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1, 0, 3])
    np.testing.assert_allclose(v.grad.numpy(), [6])


def test_inplace_on_view_of_leaf_is_error():
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match="a view of a leaf Variable that requires grad"):
        x[0:1].mul_(2)


def test_zero_on_non_leaf_gives_zero_gradient():
    x = leaf([1.0, 2.0, 3.0])
    y = x * 2
    y[1:].zero_()
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2, 0, 0])


def test_inplace_relu_and_sigmoid_on_non_leaf():
    x = leaf([-1.0, 0.5, 2.0])
    y = x * 1
    y.sigmoid_()
    y.sum().backward()
    s = 1 / (1 + np.exp(-np.array([-1.0, 0.5, 2.0])))
    np.testing.assert_allclose(x.grad.numpy(), s * (1 - s))


def test_leaf_inplace_allowed_under_no_grad():
    x = leaf([1.0, 2.0])
    with torch.no_grad():
        x.mul_(2)
    np.testing.assert_allclose(x.detach().numpy(), [2, 4])
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [4, 8])


# ---------------------------------------------------------------- graph control

def test_long_chain_no_stack_overflow_and_fast():
    x = torch.tensor([1.0], requires_grad=True)
    t0 = time.perf_counter()
    y = x
    for _ in range(100_000):
        y = y * 1.0000001
    y.sum().backward()
    del y
    elapsed = time.perf_counter() - t0
    # each factor is float32(1.0000001); products are rounded to float32 on the way
    np.testing.assert_allclose(x.grad.numpy(), [float(np.float32(1.0000001)) ** 100_000], rtol=1e-3)
    assert elapsed < 20, f"100k-op chain took {elapsed:.1f}s"


def test_long_chain_graph_dropped_without_backward():
    x = torch.tensor([1.0], requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y + 1.0
    del y  # dropping a deep graph must not overflow the stack either


def test_retain_graph_allows_second_backward():
    x = leaf([1.0, 2.0])
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    g1 = x.grad.numpy().copy()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * g1)
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()


def test_backward_with_explicit_gradient():
    x = leaf([1.0, 2.0, 3.0])
    y = x * x
    y.backward(torch.tensor([1.0, 0.1, 0.01], dtype=torch.float64))
    np.testing.assert_allclose(x.grad.numpy(), [2, 0.4, 0.06])


def test_backward_shared_subexpression():
    x = leaf([2.0])
    a = x * x
    y = a * a + a  # x^4 + x^2
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [4 * 8 + 4])


def test_autograd_backward_function():
    x = leaf([1.0, 2.0])
    torch.autograd.backward([(x * 2).sum(), (x * x).sum()])
    np.testing.assert_allclose(x.grad.numpy(), [4, 6])


def test_float32_gradient_dtype():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    assert x.grad.dtype == torch.float32


def test_mixed_dtype_gradient_dtypes():
    a = torch.tensor([1.0, 2.0], requires_grad=True)
    b = torch.tensor([3.0, 4.0], dtype=torch.float64, requires_grad=True)
    (a * b).sum().backward()
    assert a.grad.dtype == torch.float32 and b.grad.dtype == torch.float64
    np.testing.assert_allclose(a.grad.numpy(), [3, 4])
    np.testing.assert_allclose(b.grad.numpy(), [1, 2])


def test_detach_stops_gradient():
    x = leaf([1.0, 2.0])
    y = (x * x.detach()).sum()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [1, 2])


# ---------------------------------------------------------------- gradcheck

F = torch.nn.functional

GRADCHECK_CASES = {
    "exp": (lambda x: x.exp(), [(3, 2)]),
    "log": (lambda x: (x.abs() + 0.5).log(), [(3, 2)]),
    "sin": (lambda x: torch.sin(x), [(4,)]),
    "tanh": (lambda x: x.tanh(), [(2, 3)]),
    "sigmoid": (lambda x: torch.sigmoid(x), [(2, 3)]),
    "pow_scalar": (lambda x: (x.abs() + 0.5) ** 2.5, [(3,)]),
    "pow_tensor": (lambda x, y: (x.abs() + 0.5) ** y, [(3,), (3,)]),
    "div": (lambda x, y: x / (y.abs() + 0.5), [(2, 3), (3,)]),
    "matmul": (lambda a, b: a @ b, [(2, 3), (3, 4)]),
    "matmul_batched": (lambda a, b: torch.matmul(a, b), [(2, 2, 3), (3, 2)]),
    "sum_dims": (lambda x: x.sum(dim=(0, 2), keepdim=True), [(2, 3, 2)]),
    "mean_dim": (lambda x: x.mean(1), [(2, 3)]),
    "var": (lambda x: x.var(dim=1), [(2, 4)]),
    "std": (lambda x: x.std(), [(5,)]),
    "var_unbiased_false": (lambda x: torch.var(x, 0, unbiased=False), [(4, 2)]),
    "logsumexp": (lambda x: x.logsumexp(dim=1), [(2, 3)]),
    "softmax": (lambda x: torch.softmax(x, dim=1), [(2, 3)]),
    "log_softmax": (lambda x: F.log_softmax(x, dim=0), [(3, 2)]),
    "norm": (lambda x: x.norm(), [(2, 3)]),
    "norm_dim": (lambda x: torch.norm(x, dim=1), [(2, 3)]),
    "norm_dim0": (lambda x: torch.norm(x, dim=0), [(3, 2)]),
    "norm_of_view": (lambda x: x.t().norm(dim=1, keepdim=True), [(3, 4)]),
    "norm_squared_twice": (lambda x: x.norm() * x.norm(dim=-1).sum(), [(2, 40)]),
    "cumsum": (lambda x: x.cumsum(1), [(2, 3)]),
    "cumprod": (lambda x: x.cumprod(0), [(4,)]),
    "gather": (lambda x: x.gather(1, torch.tensor([[0, 0, 2], [1, 2, 1]])), [(2, 3)]),
    "index_select": (lambda x: x.index_select(0, torch.tensor([2, 0, 2])), [(3, 2)]),
    "indexing": (lambda x: x[torch.tensor([1, 1, 0]), 1:], [(2, 3)]),
    "cat": (lambda a, b: torch.cat([a, b * 2], dim=1), [(2, 2), (2, 3)]),
    "stack": (lambda a, b: torch.stack([a, b], dim=1), [(2, 3), (2, 3)]),
    "where": (lambda a, b: torch.where(a > 0, a, b), [(3, 3), (3, 3)]),
    "clamp": (lambda x: x.clamp(-0.5, 0.5), [(4, 3)]),
    "maximum": (lambda a, b: torch.maximum(a, b), [(3, 3), (3, 3)]),
    "gelu": (lambda x: F.gelu(x), [(5,)]),
    "elu": (lambda x: F.elu(x), [(5,)]),
    "softplus": (lambda x: F.softplus(x), [(5,)]),
    "silu": (lambda x: F.silu(x), [(5,)]),
    "prod": (lambda x: x.prod(1), [(2, 3)]),
    "amax": (lambda x: x.amax(1), [(2, 3)]),
    "sqrt_rsqrt": (lambda x: (x.abs() + 0.5).sqrt() + (x.abs() + 0.5).rsqrt(), [(4,)]),
    "broadcast_sub_mul": (lambda a, b: (a - b) * b, [(2, 1, 3), (4, 1)]),
    "transpose_contig": (lambda x: x.t().contiguous().view(-1) * torch.arange(6, dtype=torch.float64), [(2, 3)]),
    "expand_repeat": (lambda x: x.expand(3, 2).repeat(2, 1), [(1, 2)]),
}


@pytest.mark.parametrize("name", sorted(GRADCHECK_CASES))
def test_gradcheck(name):
    fn, shapes = GRADCHECK_CASES[name]
    rng = np.random.default_rng(abs(hash(name)) % 2**32)
    inputs = []
    for s in shapes:
        a = rng.uniform(-1, 1, size=s)
        # keep away from kinks (clamp/max/where ties)
        a = np.where(np.abs(a) < 0.05, 0.3, a)
        if name == "clamp":
            a = np.where(np.abs(np.abs(a) - 0.5) < 0.05, 0.2, a)
        inputs.append(torch.tensor(a, dtype=torch.float64, requires_grad=True))
    assert gradcheck(fn, tuple(inputs), eps=1e-6, atol=1e-5)


def test_norm_gradient_at_zero_and_node():
    # One node as PyTorch's; the gradient at a zero vector is defined as 0.
    x = torch.zeros(3, 5, requires_grad=True)
    n = x.norm(dim=1)
    assert n.grad_fn.name() == "LinalgVectorNormBackward0"
    n.sum().backward()
    assert x.grad.abs().sum().item() == 0.0
    y = torch.tensor([[3.0, 4.0], [0.0, 0.0]], requires_grad=True)
    y.norm(dim=1).sum().backward()
    np.testing.assert_allclose(y.grad.numpy(), [[0.6, 0.8], [0.0, 0.0]], rtol=1e-6)


def test_gradcheck_detects_wrong_gradient():
    class Bad(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 3

    x = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    with pytest.raises(RuntimeError):
        gradcheck(Bad.apply, (x,))
    assert gradcheck(Bad.apply, (x,), raise_exception=False) is False


def test_leaf_grad_never_aliases_a_visible_tensor():
    # the gradient passed in stays the caller's: .grad is a copy
    x = torch.ones(3, requires_grad=True)
    g = torch.tensor([1.0, 2.0, 3.0])
    x.backward(gradient=g)
    g.add_(10.0)
    assert x.grad.tolist() == [1.0, 2.0, 3.0]
    # a weight gradient computed transposed (a view) is stored as its own tensor
    lin = torch.nn.Linear(4, 3)
    lin(torch.ones(2, 4)).sum().backward()
    gw = lin.weight.grad
    assert gw.shape == (3, 4) and gw.is_contiguous()
    assert gw.tolist() == [[2.0] * 4] * 3
    gw.zero_()
    assert lin.weight.grad.tolist() == [[0.0] * 4] * 3


def test_inplace_relu_and_add_gradients_match_out_of_place():
    """relu_ and add_/sub_/+= compute from their target without copying it
    (their backward reads no input); gradients equal the out-of-place ones."""
    rng = np.random.default_rng(3)
    a0 = rng.standard_normal((4, 5)).astype(np.float32)
    b0 = rng.standard_normal((4, 5)).astype(np.float32)

    def run(inplace):
        a = torch.tensor(a0, requires_grad=True)
        b = torch.tensor(b0, requires_grad=True)
        h = a * 2
        if inplace:
            h.relu_()
            h += b
            h.sub_(b, alpha=0.5)
        else:
            h = torch.relu(h) + b - 0.5 * b
        (h * h).sum().backward()
        return h.detach().numpy(), a.grad.numpy(), b.grad.numpy()

    for got, want in zip(run(True), run(False)):
        np.testing.assert_allclose(got, want, rtol=1e-6)


def test_inplace_add_on_a_saved_input_is_detected():
    a = torch.randn(3, requires_grad=True)
    h = a * 1.0
    y = h * h  # saves h
    h.add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


@pytest.mark.parametrize("name", ["gelu", "silu", "mish", "elu", "softplus", "leaky_relu", "hardtanh", "relu"])
def test_activation_gradient_is_differentiable_in_the_incoming_gradient(name):
    """With create_graph, d(activation)/dx * g keeps its graph through g: the
    fused single-pass backward must not be used then (a gradient penalty or
    meta-learning step reads w.grad = f'(x) here)."""
    import rustdl.nn.functional as F

    f = getattr(F, name)
    x = torch.tensor([-1.5, -0.2, 0.3, 2.0], dtype=torch.float64, requires_grad=True)
    w = torch.tensor([0.5, -1.0, 2.0, 1.5], dtype=torch.float64, requires_grad=True)
    y = (f(x) * w).sum()
    (gx,) = torch.autograd.grad(y, x, create_graph=True)
    assert gx.grad_fn is not None
    gx.sum().backward()
    (fprime,) = torch.autograd.grad(f(x).sum(), x)
    np.testing.assert_allclose(w.grad.numpy(), fprime.numpy(), rtol=1e-12)


def test_next_functions_reach_accumulate_grad_nodes():
    # As PyTorch: a leaf's edge is an AccumulateGrad node whose .variable is
    # the leaf (same tensor: its .grad is the leaf's).
    x = torch.ones(2, requires_grad=True)
    w = torch.full((2,), 3.0, requires_grad=True)
    y = (x * w).sum()
    (mul, nr), = y.grad_fn.next_functions
    assert mul.name() == "MulBackward0" and nr == 0
    accs = [f for f, _ in mul.next_functions]
    assert [a.name() for a in accs] == ["AccumulateGrad", "AccumulateGrad"]
    assert type(accs[0]).__name__ == "AccumulateGrad" and accs[0].next_functions == ()
    y.backward()
    np.testing.assert_array_equal(accs[0].variable.grad.numpy(), x.grad.numpy())
    np.testing.assert_array_equal(accs[1].variable.grad.numpy(), [1.0, 1.0])
    assert "AccumulateGrad object at" in repr(accs[0])


def test_node_names_follow_pytorch_for_number_operands():
    # As PyTorch 2.x names them (checked against it): a number exponent or
    # base, rsub with a number, and max()/min() over all elements.
    x = torch.ones(3, requires_grad=True)
    names = {
        "PowBackward0": [x ** 2, x ** 0.5, x ** 3, x ** -1, x.pow(2.5)],
        "PowBackward1": [x ** torch.tensor(2.0)],
        "PowBackward2": [2 ** x],
        "RsubBackward1": [1 - x],
        "SubBackward0": [x - 1, torch.tensor(1.0) - x],
        "MaxBackward1": [x.max()],
        "MinBackward1": [x.min()],
        "AmaxBackward0": [x.amax()],
    }
    for name, outs in names.items():
        assert [o.grad_fn.name() for o in outs] == [name] * len(outs)
    (2 ** x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2 * np.log(2)] * 3, rtol=1e-6)


def test_embedding_node_and_gradient():
    # One EmbeddingBackward0 node (PyTorch's name); repeated rows add up,
    # rows looked up at padding_idx (negative: wrapped) get no gradient.
    F = torch.nn.functional
    w = torch.tensor(np.arange(12, dtype=np.float32).reshape(6, 2), requires_grad=True)
    idx = torch.tensor([[1, 5, 1], [0, 5, 2]])
    out = F.embedding(idx, w, padding_idx=-1)
    assert out.grad_fn.name() == "EmbeddingBackward0" and tuple(out.shape) == (2, 3, 2)
    np.testing.assert_array_equal(out.detach().numpy(), w.detach().numpy()[idx.numpy()])
    (out * torch.tensor([1.0, 10.0])).sum().backward()
    want = np.zeros((6, 2), dtype=np.float32)
    for i in idx.numpy().ravel():
        if i != 5:
            want[i] += [1.0, 10.0]
    np.testing.assert_array_equal(w.grad.numpy(), want)
    with pytest.raises(AssertionError, match="Padding_idx"):
        F.embedding(idx, w, padding_idx=6)
    emb = torch.nn.Embedding(6, 2, padding_idx=0)
    emb(idx).sum().backward()
    assert emb.weight.grad.numpy()[0].tolist() == [0.0, 0.0]


def test_grad_fn_class_is_named_after_the_node():
    # PyTorch: type(y.grad_fn) is <class 'MulBackward0'>, a torch.autograd.graph.Node
    a = torch.ones(2, requires_grad=True)
    b = a * 2
    c = b.exp().sum()
    assert type(b.grad_fn).__name__ == "MulBackward0"
    assert type(c.grad_fn).__name__ == "SumBackward0"
    assert type(c.grad_fn.next_functions[0][0]).__name__ == "ExpBackward0"
    assert isinstance(b.grad_fn, torch.autograd.graph.Node)
    assert type(b.grad_fn) is type((a * 3).grad_fn)
    assert b.grad_fn == b.grad_fn and b.grad_fn != c.grad_fn
    assert hash(b.grad_fn) == hash(b.grad_fn)
    assert b.grad_fn.name() == "MulBackward0"
    with pytest.raises(TypeError):
        torch.autograd.graph.Node()
