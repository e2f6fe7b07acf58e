"""addmm, baddbmm, addbmm, addmv (and Linear through addmm): gradients of
first and second order by finite differences; values and errors are in the
PyTorch-recorded regression cases (tests/regression_cases.py)."""

import pytest
import rustdl as torch
from rustdl.autograd import gradcheck, gradgradcheck

D = torch.float64


def _inputs(*shapes):
    torch.manual_seed(0)
    return [torch.randn(*s, dtype=D, requires_grad=True) for s in shapes]


@pytest.mark.parametrize(
    "fn, shapes",
    [
        (lambda i, a, b: torch.addmm(i, a, b, beta=0.5, alpha=2), [(3,), (2, 4), (4, 3)]),
        (lambda i, a, b: torch.addmm(i, a, b.t()), [(2, 1), (2, 4), (3, 4)]),
        (lambda i, a, b: torch.baddbmm(i, a, b, beta=0.5, alpha=2), [(1, 3), (2, 2, 4), (2, 4, 3)]),
        (lambda i, a, b: torch.addbmm(i, a, b, beta=-1, alpha=2), [(3,), (2, 2, 4), (2, 4, 3)]),
        (lambda i, a, b: torch.addmv(i, a, b, beta=0.5, alpha=3), [(1,), (2, 4), (4,)]),
    ],
)
def test_gradients_of_every_order(fn, shapes):
    args = _inputs(*shapes)
    assert gradcheck(fn, args)
    assert gradgradcheck(fn, args)


def test_linear_is_addmm_with_the_same_gradients():
    lin = torch.nn.Linear(4, 3).double()
    x = torch.randn(5, 4, dtype=D, requires_grad=True)
    y = lin(x)
    assert y.grad_fn.name() == "AddmmBackward0"
    expected = x @ lin.weight.t() + lin.bias
    assert torch.allclose(y, expected)
    assert gradcheck(lambda x, w, b: torch.nn.functional.linear(x, w, b), [x, lin.weight, lin.bias])
    # batched input: rows folded, result viewed back
    x3 = torch.randn(2, 5, 4, dtype=D, requires_grad=True)
    assert gradcheck(lambda x, w, b: torch.nn.functional.linear(x, w, b), [x3, lin.weight, lin.bias])


def test_beta_zero_ignores_input_nan():
    out = torch.addmm(torch.full((2, 2), float("nan")), torch.eye(2), torch.eye(2), beta=0)
    assert out.tolist() == [[1.0, 0.0], [0.0, 1.0]]


def test_as_strided_overlapping_gradient():
    x = torch.arange(5.0, dtype=D, requires_grad=True)
    fn = lambda t: torch.as_strided(t, (3, 3), (1, 1)) * 2
    assert gradcheck(fn, [x])


def test_gradgradcheck_catches_a_wrong_second_derivative():
    class Square(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * 2 * x.detach()  # detached: the second derivative is lost

    x = torch.randn(3, dtype=D, requires_grad=True)
    assert gradcheck(Square.apply, [x])
    assert not gradgradcheck(Square.apply, [x], raise_exception=False)


def test_median_gradients():
    x = torch.tensor([3.0, 1.0, 2.0, 4.0, 2.5], dtype=D, requires_grad=True)
    assert gradcheck(lambda t: t.median() * t.sum(), [x])
    assert gradgradcheck(lambda t: t.median() * t.sum(), [x])
    assert gradcheck(lambda t: t.reshape(1, 5).median(1).values, [x])
